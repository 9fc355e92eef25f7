//! 统一社会信用代码: unified social credit code, GB 32100-2015.
//!
//! 18 characters from [`USCC_ALPHABET`] (digits and upper-case letters without I, O, Z, S, V),
//! each worth its index 0..=30:
//!
//! | positions | content |
//! | --- | --- |
//! | 1 | 登记管理部门代码: registering department (1 机构编制, 5 民政, 9 工商/市场监管, Y 其他, …) |
//! | 2 | 机构类别代码: organisation type within that department |
//! | 3–8 | 登记管理机关行政区划码: GB/T 2260 region code |
//! | 9–17 | 主体标识码: organisation code (组织机构代码, GB 11714) |
//! | 18 | 校验码: check character |
//!
//! The check: weights `3^(i-1) mod 31` over positions 1–17, and `C18 = 31 − (Σ mod 31)` with 31
//! written as 0, so the weighted sum over all 18 positions (the check with weight 1) is
//! `0 mod 31`. Consequences:
//!
//! * every single-character substitution is detected (31 is prime and values differ by < 31);
//! * every swap of two characters is detected **except swapping position 1 with position 18**:
//!   the first position's weight `3^0 = 1` equals the check character's weight, e.g.
//!   `91350100M000100Y43` and `31350100M000100Y49` are both valid. The other weights are
//!   pairwise different because 3 has order 30 mod 31.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::lenient::{self, look_alike_digit};
use crate::resident_id::IdFix;

/// 代码字符集: the 31 characters a USCC may contain; a character's value is its index.
pub const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// 代码长度: characters in a USCC.
pub const LENGTH: usize = 18;

/// 加权因子: weight of position `i` (1-based) is `3^(i-1) mod 31`.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

const MODULUS: u32 = 31;

/// 统一社会信用代码: a valid unified social credit code (GB 32100-2015), in canonical upper case.
///
/// Only [`Uscc::parse`], [`Uscc::parse_lenient`] and [`Uscc::from_first17`] construct one, so
/// every value has 18 characters from [`USCC_ALPHABET`] and a matching check character.
/// Ordering is that of the string. Serialises as the string; deserialisation is strict.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uscc([u8; LENGTH]);

/// Why a string is not a valid USCC. Positions are 1-based and count characters; for
/// [`Uscc::parse_lenient`] they count within the trimmed input.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum UsccError {
    /// 代码为空.
    #[error("unified social credit code is empty")]
    Empty,

    /// 长度错误.
    #[error("unified social credit code has {length} characters; GB 32100 requires 18")]
    WrongLength { length: usize },

    /// 非法字符: not in [`USCC_ALPHABET`].
    #[error(
        "invalid character {character:?} at position {position}: GB 32100 allows only digits \
         and upper-case letters other than I, O, S, V and Z"
    )]
    InvalidCharacter { position: usize, character: char },

    /// The input to [`check_char`] or [`Uscc::from_first17`] is not 17 characters long.
    #[error("the GB 32100 check character is computed from exactly 17 characters, got {length}")]
    CheckInputLength { length: usize },

    /// 校验码错误.
    #[error(
        "check character mismatch: GB 32100 computes {expected:?} from the first 17 \
         characters, but the code ends in {found:?}"
    )]
    CheckMismatch { expected: char, found: char },
}

impl UsccError {
    /// Stable machine code (snake_case), e.g. `"uscc_check_mismatch"`.
    pub fn code(&self) -> &'static str {
        match self {
            UsccError::Empty => "uscc_empty",
            UsccError::WrongLength { .. } => "uscc_wrong_length",
            UsccError::InvalidCharacter { .. } => "uscc_invalid_character",
            UsccError::CheckInputLength { .. } => "uscc_check_input_length",
            UsccError::CheckMismatch { .. } => "uscc_check_mismatch",
        }
    }

    /// 中文原因, e.g. `"校验码错误：按 GB 32100 应为 3，实际为 4"`.
    pub fn reason_zh(&self) -> String {
        match self {
            UsccError::Empty => "统一社会信用代码为空".to_owned(),
            UsccError::WrongLength { length } => {
                format!("长度错误：统一社会信用代码应为 18 位，实际为 {length} 位")
            }
            UsccError::InvalidCharacter {
                position,
                character,
            } => format!(
                "第 {position} 位字符“{character}”无效：只允许数字和大写字母（不含 I、O、Z、S、V）"
            ),
            UsccError::CheckInputLength { length } => {
                format!("计算校验码需要前 17 位，实际为 {length} 位")
            }
            UsccError::CheckMismatch { expected, found } => {
                format!("校验码错误：按 GB 32100 应为 {expected}，实际为 {found}")
            }
        }
    }
}

/// The value 0..=30 of a USCC character, `None` outside [`USCC_ALPHABET`].
fn value_of(c: char) -> Option<u32> {
    USCC_ALPHABET
        .chars()
        .position(|a| a == c)
        .and_then(|index| u32::try_from(index).ok())
}

/// The character of a value 0..=30.
fn char_of(value: u32) -> Option<char> {
    USCC_ALPHABET.chars().nth(usize::try_from(value).ok()?)
}

/// Weighted sum of 17 characters, validating each one.
fn weighted_sum(first17: impl Iterator<Item = char>) -> Result<u32, UsccError> {
    let mut sum = 0;
    for (index, (character, weight)) in first17.zip(WEIGHTS).enumerate() {
        let value = value_of(character).ok_or(UsccError::InvalidCharacter {
            position: index + 1,
            character,
        })?;
        sum += value * weight;
    }
    Ok(sum)
}

fn check_for_sum(sum: u32) -> char {
    // (31 − r) mod 31 is in 0..=30, always a valid index; '0' only keeps this panic-free.
    char_of((MODULUS - sum % MODULUS) % MODULUS).unwrap_or('0')
}

/// 校验码: the GB 32100 check character for the first 17 characters.
pub fn check_char(first17: &str) -> Result<char, UsccError> {
    let length = first17.chars().count();
    if length != LENGTH - 1 {
        return Err(UsccError::CheckInputLength { length });
    }
    weighted_sum(first17.chars()).map(check_for_sum)
}

impl Uscc {
    /// Strict parse: exactly 18 characters from [`USCC_ALPHABET`] (so upper case only) and a
    /// matching check character.
    ///
    /// The position-1 and position-2 codes are not checked against the departments' code lists,
    /// which GB 32100 leaves to each department and which grow over time.
    pub fn parse(s: &str) -> Result<Uscc, UsccError> {
        if s.is_empty() {
            return Err(UsccError::Empty);
        }
        let length = s.chars().count();
        if length != LENGTH {
            return Err(UsccError::WrongLength { length });
        }
        let expected = check_for_sum(weighted_sum(s.chars())?);
        let found = s.chars().last().unwrap_or_default();
        if value_of(found).is_none() {
            return Err(UsccError::InvalidCharacter {
                position: LENGTH,
                character: found,
            });
        }
        if found != expected {
            return Err(UsccError::CheckMismatch { expected, found });
        }
        Ok(Uscc(ascii_array(s)))
    }

    /// Lenient parse for source data: [`Uscc::parse_lenient_with_fixes`] without the list of
    /// repairs.
    pub fn parse_lenient(s: &str) -> Result<Uscc, UsccError> {
        Self::parse_lenient_with_fixes(s).map(|(code, _)| code)
    }

    /// Lenient parse for source data: trims whitespace, converts full-width characters,
    /// removes separators (spaces, hyphens, dots), upper-cases, and reads `I`, `O`, `Z` and `S`
    /// — letters GB 32100 leaves out of its alphabet precisely because they look like digits —
    /// as 1, 0, 2 and 5; then parses strictly. Returns the repairs in the order applied.
    ///
    /// Other look-alikes (`B` for 8, `L` for 1) are letters of the alphabet and are not
    /// repaired: the unit may have meant them.
    pub fn parse_lenient_with_fixes(s: &str) -> Result<(Uscc, Vec<IdFix>), UsccError> {
        let mut fixes = Vec::new();
        let written = lenient::read(s);
        if written.trimmed {
            fixes.push(IdFix::TrimmedWhitespace);
        }
        let (mut lower, mut look_alike) = (false, false);
        let normalised: String = written
            .chars
            .iter()
            .map(|&(_, half)| {
                let upper = half.to_ascii_uppercase();
                lower |= upper != half;
                match upper {
                    'I' | 'O' | 'Z' | 'S' => {
                        look_alike = true;
                        look_alike_digit(upper).unwrap_or(upper)
                    }
                    other => other,
                }
            })
            .collect();
        for (applied, fix) in [
            (written.full_width, IdFix::FullWidth),
            (!written.separators.is_empty(), IdFix::SeparatorsRemoved),
            (lower, IdFix::Uppercased),
            (look_alike, IdFix::LookAlikeLetters),
        ] {
            if applied {
                fixes.push(fix);
            }
        }
        Self::parse(&normalised).map(|code| (code, fixes))
    }

    /// Builds a USCC from its first 17 characters, computing the 18th.
    pub fn from_first17(first17: &str) -> Result<Uscc, UsccError> {
        let check = check_char(first17)?;
        let mut bytes = [0u8; LENGTH];
        for (slot, c) in bytes.iter_mut().zip(first17.chars().chain([check])) {
            *slot = u8::try_from(c).unwrap_or(b'0');
        }
        Ok(Uscc(bytes))
    }

    /// 代码: the 18-character string.
    pub fn as_str(&self) -> &str {
        // Every constructor stores characters of USCC_ALPHABET only, which are ASCII.
        std::str::from_utf8(&self.0).expect("Uscc holds ASCII by construction")
    }

    /// 登记管理部门代码 (position 1), e.g. `'9'` for 市场监管.
    pub fn registering_department(&self) -> char {
        char::from(self.0[0])
    }

    /// 机构类别代码 (position 2).
    pub fn organisation_type(&self) -> char {
        char::from(self.0[1])
    }

    /// 登记管理机关行政区划码 (positions 3–8): the GB/T 2260 region code.
    pub fn region_code(&self) -> &str {
        &self.as_str()[2..8]
    }

    /// 主体标识码 (positions 9–17): the organisation code (组织机构代码).
    pub fn organisation_code(&self) -> &str {
        &self.as_str()[8..17]
    }

    /// 校验码 (position 18).
    pub fn check(&self) -> char {
        char::from(self.0[17])
    }

    /// Whether the organisation code (positions 9–17) passes its own GB 11714 check: the
    /// ninth character is [`organisation_code_check`] of the first eight. GB 32100 does not
    /// require it of every code (old registrations carry other numbers), so [`Uscc::parse`]
    /// does not check it; codes the platform issues always pass it.
    pub fn organisation_code_is_valid(&self) -> bool {
        let code = self.organisation_code();
        organisation_code_check(&code[..8]).is_some_and(|c| code.ends_with(c))
    }
}

/// GB 11714 weights of the eight body characters of an organisation code.
const ORG_CODE_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// 组织机构代码校验码 (GB 11714): of an eight-character body of digits and upper-case letters
/// (A = 10 … Z = 35), `C9 = 11 − (Σ weight·value mod 11)`, written `X` for 10 and `0` for 11.
/// `None` when the body is not eight such characters.
pub fn organisation_code_check(body: &str) -> Option<char> {
    if body.len() != 8 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in body.chars().zip(ORG_CODE_WEIGHTS) {
        let value = match c {
            '0'..='9' => u32::from(c) - u32::from('0'),
            'A'..='Z' => u32::from(c) - u32::from('A') + 10,
            _ => return None,
        };
        sum += value * w;
    }
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        n => char::from_digit(n, 10)?,
    })
}

/// The bytes of an 18-character string already checked to be in [`USCC_ALPHABET`].
fn ascii_array(s: &str) -> [u8; LENGTH] {
    let mut bytes = [0u8; LENGTH];
    for (slot, byte) in bytes.iter_mut().zip(s.bytes()) {
        *slot = byte;
    }
    bytes
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Uscc").field(&self.as_str()).finish()
    }
}

impl FromStr for Uscc {
    type Err = UsccError;

    /// Strict, like [`Uscc::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uscc::parse(s)
    }
}

impl AsRef<str> for Uscc {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Serialize for Uscc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Uscc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Uscc::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn organisation_code_check_matches_published_examples() {
        // GB 11714's example D2143569-X, and the organisation code inside GB 32100's example
        // code 91350100M000100Y43.
        assert_eq!(super::organisation_code_check("D2143569"), Some('X'));
        assert_eq!(super::organisation_code_check("M000100Y"), Some('4'));
        assert!(
            super::Uscc::parse("91350100M000100Y43")
                .unwrap()
                .organisation_code_is_valid()
        );
        assert_eq!(super::organisation_code_check("m000100y"), None);
        assert_eq!(super::organisation_code_check("M000100"), None);
    }

    use super::*;

    #[test]
    fn alphabet_and_weights() {
        assert_eq!(USCC_ALPHABET.len(), 31);
        for excluded in ['I', 'O', 'Z', 'S', 'V'] {
            assert!(!USCC_ALPHABET.contains(excluded));
        }
        let mut weight = 1;
        for w in WEIGHTS {
            assert_eq!(w, weight);
            weight = weight * 3 % MODULUS;
        }
    }

    #[test]
    fn standard_vector_is_valid() {
        // Values: 9 1 3 5 0 1 0 0 M=21 0 0 0 1 0 0 Y=30 4; weighted by
        // 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28:
        // 9+3+27+135+0+26+0+0+420+0+0+0+8+0+0+900+112 = 1640; 1640 mod 31 = 28; 31−28 = 3.
        assert_eq!(check_char("91350100M000100Y4"), Ok('3'));
        let code = Uscc::parse("91350100M000100Y43").unwrap();
        assert_eq!(code.as_str(), "91350100M000100Y43");
        assert_eq!(code.registering_department(), '9');
        assert_eq!(code.organisation_type(), '1');
        assert_eq!(code.region_code(), "350100");
        assert_eq!(code.organisation_code(), "M000100Y4");
        assert_eq!(code.check(), '3');
        assert_eq!(Uscc::from_first17("91350100M000100Y4"), Ok(code));
    }

    #[test]
    fn check_value_31_is_written_0() {
        // "00000000000000000" sums to 0, so C18 = 31 − 0 = 31, written as 0.
        assert_eq!(check_char("00000000000000000"), Ok('0'));
        // One more at position 1 (weight 1) makes the sum 1: C18 = 30 = 'Y'.
        assert_eq!(check_char("10000000000000000"), Ok('Y'));
    }

    #[test]
    fn every_error_variant_is_reached() {
        use UsccError::*;
        let cases = [
            ("", Empty),
            ("91350100M000100Y4", WrongLength { length: 17 }),
            (
                "91350100M000100I43",
                InvalidCharacter {
                    position: 16,
                    character: 'I',
                },
            ),
            (
                "91350100m000100Y43",
                InvalidCharacter {
                    position: 9,
                    character: 'm',
                },
            ),
            (
                "91350100M000100Y4S",
                InvalidCharacter {
                    position: 18,
                    character: 'S',
                },
            ),
            (
                "91350100M000100Y44",
                CheckMismatch {
                    expected: '3',
                    found: '4',
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Uscc::parse(input), Err(expected), "{input:?}");
        }
        assert_eq!(check_char("123"), Err(CheckInputLength { length: 3 }));
        assert_eq!(
            Uscc::from_first17("91350100M000100Y43"),
            Err(CheckInputLength { length: 18 })
        );
        assert_eq!(
            Uscc::from_first17("91350100M0001O0Y4"),
            Err(InvalidCharacter {
                position: 14,
                character: 'O'
            })
        );
    }

    #[test]
    fn errors_explain_themselves() {
        let err = Uscc::parse("91350100M000100Y44").unwrap_err();
        assert_eq!(err.code(), "uscc_check_mismatch");
        assert_eq!(err.reason_zh(), "校验码错误：按 GB 32100 应为 3，实际为 4");
        assert_eq!(
            err.to_string(),
            "check character mismatch: GB 32100 computes '3' from the first 17 characters, \
             but the code ends in '4'"
        );
        let err = Uscc::parse("91350100M000100I43").unwrap_err();
        assert_eq!(err.code(), "uscc_invalid_character");
        assert!(err.to_string().contains("'I' at position 16"), "{err}");
        assert_eq!(
            err.reason_zh(),
            "第 16 位字符“I”无效：只允许数字和大写字母（不含 I、O、Z、S、V）"
        );
        assert_eq!(UsccError::Empty.code(), "uscc_empty");
        assert_eq!(
            UsccError::WrongLength { length: 3 }.reason_zh(),
            "长度错误：统一社会信用代码应为 18 位，实际为 3 位"
        );
    }

    #[test]
    fn lenient_normalises_case_width_and_whitespace() {
        let expected = Uscc::parse("91350100M000100Y43").unwrap();
        for input in [
            "91350100m000100y43",
            "  91350100M000100Y43\t",
            "\u{3000}９１３５０１００Ｍ０００１００Ｙ４３",
            "９１３５０１００ｍ０００１００ｙ４３",
        ] {
            assert_eq!(Uscc::parse_lenient(input), Ok(expected), "{input:?}");
        }
        assert_eq!(Uscc::parse_lenient("   "), Err(UsccError::Empty));
    }

    #[test]
    fn lenient_removes_separators_and_reads_letters_outside_the_alphabet() {
        let expected = Uscc::parse("91350100M000100Y43").unwrap();
        assert_eq!(
            Uscc::parse_lenient_with_fixes("91350100M0001OOY43"),
            Ok((expected, vec![IdFix::LookAlikeLetters])),
            "O is outside the alphabet: it can only be 0"
        );
        assert_eq!(
            Uscc::parse_lenient_with_fixes(" 9135 0100 M000 100Y 43"),
            Ok((
                expected,
                vec![IdFix::TrimmedWhitespace, IdFix::SeparatorsRemoved]
            ))
        );
        assert_eq!(
            Uscc::parse_lenient_with_fixes("91350100-m000100y4-3"),
            Ok((expected, vec![IdFix::SeparatorsRemoved, IdFix::Uppercased]))
        );
        // B and L are letters of the alphabet: never rewritten, so the check decides.
        assert!(matches!(
            Uscc::parse_lenient("9135O1OOMOOO1OOY4B"),
            Err(UsccError::CheckMismatch { .. })
        ));
    }

    #[test]
    fn swapping_first_and_last_is_undetected() {
        // Position 1 and the check character both have weight 1 (see the module docs).
        assert!(Uscc::parse("31350100M000100Y49").is_ok());
    }

    #[test]
    fn display_debug_fromstr_deserialize() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};

        let code: Uscc = "91350100M000100Y43".parse().unwrap();
        assert_eq!(code.to_string(), "91350100M000100Y43");
        assert_eq!(format!("{code:?}"), "Uscc(\"91350100M000100Y43\")");
        let de: StrDeserializer<'_, Error> = "91350100M000100Y43".into_deserializer();
        assert_eq!(Uscc::deserialize(de), Ok(code));
        let de: StrDeserializer<'_, Error> = "91350100m000100Y43".into_deserializer();
        assert!(Uscc::deserialize(de).is_err());
    }
}

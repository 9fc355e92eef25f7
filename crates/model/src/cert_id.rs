//! 电子证照标识: electronic certificate identifier (GB/T 36901–36905, as used in practice).
//!
//! Format: `1.2.156.3005.2.{证照类型代码}.{颁发机构代码}.{流水号}.{版本号}.{校验位}`, where the
//! version has 3 digits and the check character is ISO 7064 MOD 37,36 over everything before
//! it with the dots removed (so the fixed prefix contributes `1215630052`).
//!
//! MOD 37,36 is an ISO 7064 *hybrid* system over the 36 characters `0-9A-Z` (values 0..=35,
//! read case-insensitively). Starting from `p = 36`, each character `a` does
//! `s = (p + a) mod 36` (0 read as 36) and `p = 2s mod 37`; the check character `c` is the one
//! that makes `(p + c) mod 36 = 1`, i.e. `c = (37 − p) mod 36`. Its error detection, proved in
//! the tests:
//!
//! * every single-character substitution is detected: each step is a bijection of the state;
//! * an adjacent transposition `ab → ba` is **not always** detected: it goes unnoticed exactly
//!   when `{(p + a) mod 36, (p + b) mod 36} = {18, 19}` for the state `p` before the pair, i.e.
//!   for one unordered pair of values out of 630 at each position (about 0.16 % of random
//!   transpositions). Example: `IJ` and `JI` at the start of the data have the same check.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// 固定前缀: the fixed object-identifier prefix of every electronic certificate identifier.
pub const PREFIX: &str = "1.2.156.3005.2";

const PREFIX_PARTS: [&str; 5] = ["1", "2", "156", "3005", "2"];

/// `M` of MOD M+1,M: the number of characters (`0-9A-Z`).
const RADIX: u32 = 36;

/// `M + 1`, the prime modulus of the doubling step.
const PRIME: u32 = 37;

/// Largest version that fits the 3-digit version part.
pub const MAX_VERSION: u16 = 999;

/// 组成部分: a part of a certificate identifier, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertPart {
    /// 证照类型代码
    TypeCode,
    /// 颁发机构代码
    IssuerCode,
    /// 流水号
    Serial,
    /// 版本号
    Version,
    /// 校验位
    Check,
    /// The input of [`mod37_36_check`] / [`mod37_36_valid`].
    Data,
}

impl CertPart {
    /// snake_case name, matching the [`CertificateId`] field where there is one.
    pub fn name(self) -> &'static str {
        match self {
            CertPart::TypeCode => "type_code",
            CertPart::IssuerCode => "issuer_code",
            CertPart::Serial => "serial",
            CertPart::Version => "version",
            CertPart::Check => "check",
            CertPart::Data => "data",
        }
    }

    /// 中文名称.
    pub fn label_zh(self) -> &'static str {
        match self {
            CertPart::TypeCode => "证照类型代码",
            CertPart::IssuerCode => "颁发机构代码",
            CertPart::Serial => "流水号",
            CertPart::Version => "版本号",
            CertPart::Check => "校验位",
            CertPart::Data => "校验数据",
        }
    }
}

impl fmt::Display for CertPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a string or a set of parts is not a valid certificate identifier. Positions are 1-based
/// and count characters within the named part.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum CertIdError {
    /// 标识为空.
    #[error("certificate identifier is empty")]
    Empty,

    /// 前缀错误: the first five parts are not `1.2.156.3005.2`.
    #[error("certificate identifier must start with {PREFIX}, but starts with {found:?}")]
    WrongPrefix { found: String },

    /// 分段数错误.
    #[error(
        "certificate identifier has {count} dot-separated parts; expected 10 \
         ({PREFIX}.type.issuer.serial.version.check)"
    )]
    WrongPartCount { count: usize },

    /// A part is empty.
    #[error("the {part} part is empty")]
    EmptyPart { part: CertPart },

    /// 非法字符: only ASCII letters and digits may appear in a part.
    #[error(
        "invalid character {character:?} at position {position} of the {part} part: \
         only ASCII letters and digits are allowed"
    )]
    InvalidCharacter {
        part: CertPart,
        position: usize,
        character: char,
    },

    /// 版本号无效: the version part is not exactly 3 digits.
    #[error("version {found:?} is not exactly 3 digits")]
    InvalidVersion { found: String },

    /// 版本号超出范围: a version above 999 given to [`CertificateId::new`].
    #[error("version {version} does not fit in 3 digits (0-999)")]
    VersionOutOfRange { version: u16 },

    /// 校验位无效: the check part is not a single letter or digit.
    #[error("check part {found:?} is not a single letter or digit")]
    InvalidCheckPart { found: String },

    /// 校验位错误.
    #[error(
        "check character mismatch: ISO 7064 MOD 37,36 computes {expected:?} from the other \
         parts, but the identifier ends in {found:?}"
    )]
    CheckMismatch { expected: char, found: char },
}

impl CertIdError {
    /// Stable machine code (snake_case), e.g. `"cert_check_mismatch"`.
    pub fn code(&self) -> &'static str {
        match self {
            CertIdError::Empty => "cert_empty",
            CertIdError::WrongPrefix { .. } => "cert_wrong_prefix",
            CertIdError::WrongPartCount { .. } => "cert_wrong_part_count",
            CertIdError::EmptyPart { .. } => "cert_empty_part",
            CertIdError::InvalidCharacter { .. } => "cert_invalid_character",
            CertIdError::InvalidVersion { .. } => "cert_invalid_version",
            CertIdError::VersionOutOfRange { .. } => "cert_version_out_of_range",
            CertIdError::InvalidCheckPart { .. } => "cert_invalid_check_part",
            CertIdError::CheckMismatch { .. } => "cert_check_mismatch",
        }
    }

    /// 中文原因, e.g. `"校验位错误：按 ISO 7064 MOD 37,36 应为 L，实际为 K"`.
    pub fn reason_zh(&self) -> String {
        match self {
            CertIdError::Empty => "电子证照标识为空".to_owned(),
            CertIdError::WrongPrefix { found } => {
                format!("前缀错误：电子证照标识应以 {PREFIX} 开头，实际为 {found}")
            }
            CertIdError::WrongPartCount { count } => {
                format!("分段数错误：应为 10 段（以“.”分隔），实际为 {count} 段")
            }
            CertIdError::EmptyPart { part } => format!("{}为空", part.label_zh()),
            CertIdError::InvalidCharacter {
                part,
                position,
                character,
            } => format!(
                "{}第 {position} 位字符“{character}”无效：只允许字母和数字",
                part.label_zh()
            ),
            CertIdError::InvalidVersion { found } => {
                format!("版本号 {found} 无效：应为 3 位数字")
            }
            CertIdError::VersionOutOfRange { version } => {
                format!("版本号 {version} 超出范围：应为 000–999")
            }
            CertIdError::InvalidCheckPart { found } => {
                format!("校验位 {found} 无效：应为一位字母或数字")
            }
            CertIdError::CheckMismatch { expected, found } => {
                format!("校验位错误：按 ISO 7064 MOD 37,36 应为 {expected}，实际为 {found}")
            }
        }
    }
}

/// The value 0..=35 of `0-9`, `A-Z` or `a-z`.
fn value_of(c: char) -> Option<u32> {
    if c.is_ascii_alphanumeric() {
        c.to_digit(RADIX)
    } else {
        None
    }
}

/// The upper-case character of a value 0..=35.
fn char_of(value: u32) -> Option<char> {
    char::from_digit(value, RADIX).map(|c| c.to_ascii_uppercase())
}

/// Starting state `p₀ = M`.
const INITIAL_STATE: u32 = RADIX;

/// One step of the hybrid system: `s = (p + a) mod M` with 0 read as `M`, then `2s mod (M+1)`.
/// Reading 0 as `M` keeps `s` invertible mod the prime `M+1`, which is what makes every
/// substitution detectable.
fn step(state: u32, value: u32) -> u32 {
    let s = match (state + value) % RADIX {
        0 => RADIX,
        s => s,
    };
    2 * s % PRIME
}

/// Runs the system over `data` from the initial state and returns the final state.
fn run(data: &str) -> Result<u32, CertIdError> {
    let mut state = INITIAL_STATE;
    for (index, character) in data.chars().enumerate() {
        let value = value_of(character).ok_or(CertIdError::InvalidCharacter {
            part: CertPart::Data,
            position: index + 1,
            character,
        })?;
        state = step(state, value);
    }
    Ok(state)
}

fn check_for_state(state: u32) -> char {
    // (37 − p) mod 36 is in 0..=35, always a character; '?' only keeps this panic-free.
    char_of((PRIME - state) % RADIX).unwrap_or('?')
}

/// ISO 7064 MOD 37,36 check character for `data` (`0-9A-Za-z`, case-insensitive), upper case.
///
/// Empty data is allowed and has the check character `'1'`, as the algorithm defines.
pub fn mod37_36_check(data: &str) -> Result<char, CertIdError> {
    run(data).map(check_for_state)
}

/// Whether `data_with_check` (data followed by its check character, case-insensitive) passes
/// ISO 7064 MOD 37,36. False for an empty string or any character outside `0-9A-Za-z`.
pub fn mod37_36_valid(data_with_check: &str) -> bool {
    let mut chars = data_with_check.chars();
    let Some(check) = chars.next_back().and_then(value_of) else {
        return false;
    };
    run(chars.as_str()).is_ok_and(|state| (state + check) % RADIX == 1)
}

/// 电子证照标识: an electronic certificate identifier, without its check character (which is
/// derived).
///
/// [`CertificateId::new`] and [`CertificateId::parse`] validate the parts and store them in
/// upper case. The fields are public for reading and pattern matching; a value assembled or
/// changed by hand is not validated, and if [`CertificateId::validate`] rejects it,
/// [`CertificateId::check_char`] returns `'?'`, so its string form never parses.
///
/// Serialises as the full identifier string; deserialisation parses it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateId {
    /// 证照类型代码: certificate type code.
    pub type_code: String,
    /// 颁发机构代码: issuing authority code (often its USCC).
    pub issuer_code: String,
    /// 流水号: serial number within type and issuer.
    pub serial: String,
    /// 版本号: version, 0..=999, written with 3 digits.
    pub version: u16,
}

fn checked_part(value: &str, part: CertPart) -> Result<String, CertIdError> {
    if value.is_empty() {
        return Err(CertIdError::EmptyPart { part });
    }
    if let Some((index, character)) = value
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_alphanumeric())
    {
        return Err(CertIdError::InvalidCharacter {
            part,
            position: index + 1,
            character,
        });
    }
    Ok(value.to_ascii_uppercase())
}

impl CertificateId {
    /// Validates the parts (non-empty ASCII letters and digits; version at most 999) and stores
    /// them in upper case, because the check is case-insensitive and one identifier must have
    /// one representation.
    pub fn new(
        type_code: &str,
        issuer_code: &str,
        serial: &str,
        version: u16,
    ) -> Result<CertificateId, CertIdError> {
        let type_code = checked_part(type_code, CertPart::TypeCode)?;
        let issuer_code = checked_part(issuer_code, CertPart::IssuerCode)?;
        let serial = checked_part(serial, CertPart::Serial)?;
        if version > MAX_VERSION {
            return Err(CertIdError::VersionOutOfRange { version });
        }
        Ok(CertificateId {
            type_code,
            issuer_code,
            serial,
            version,
        })
    }

    /// Checks the public fields as [`CertificateId::new`] would (case aside), for values built
    /// or changed by hand.
    pub fn validate(&self) -> Result<(), CertIdError> {
        checked_part(&self.type_code, CertPart::TypeCode)?;
        checked_part(&self.issuer_code, CertPart::IssuerCode)?;
        checked_part(&self.serial, CertPart::Serial)?;
        if self.version > MAX_VERSION {
            return Err(CertIdError::VersionOutOfRange {
                version: self.version,
            });
        }
        Ok(())
    }

    /// The characters the check covers: the identifier before the check part, without dots.
    fn check_data(&self) -> String {
        format!(
            "{}{}{}{}{:03}",
            PREFIX.replace('.', ""),
            self.type_code,
            self.issuer_code,
            self.serial,
            self.version
        )
    }

    /// 校验位: the ISO 7064 MOD 37,36 check character, upper case; `'?'` if
    /// [`CertificateId::validate`] fails.
    pub fn check_char(&self) -> char {
        if self.validate().is_err() {
            return '?';
        }
        mod37_36_check(&self.check_data()).unwrap_or('?')
    }

    /// The full identifier in upper case, e.g.
    /// `1.2.156.3005.2.11100000000013338W.114403040075424871.000123.001.L`. Same as `Display`.
    pub fn to_string_with_check(&self) -> String {
        format!(
            "{PREFIX}.{}.{}.{}.{:03}.{}",
            self.type_code,
            self.issuer_code,
            self.serial,
            self.version,
            self.check_char()
        )
        .to_ascii_uppercase()
    }

    /// Parses a full identifier, case-insensitively: the prefix, ten parts, letters and digits
    /// in the type, issuer and serial, a 3-digit version and a matching check character.
    pub fn parse(s: &str) -> Result<CertificateId, CertIdError> {
        if s.is_empty() {
            return Err(CertIdError::Empty);
        }
        let parts: Vec<&str> = s.split('.').collect();
        let prefix = parts.get(..PREFIX_PARTS.len()).unwrap_or(parts.as_slice());
        if prefix != PREFIX_PARTS {
            return Err(CertIdError::WrongPrefix {
                found: prefix.join("."),
            });
        }
        let rest = parts.get(PREFIX_PARTS.len()..).unwrap_or_default();
        let [type_code, issuer_code, serial, version, check] = rest else {
            return Err(CertIdError::WrongPartCount { count: parts.len() });
        };

        let type_code = checked_part(type_code, CertPart::TypeCode)?;
        let issuer_code = checked_part(issuer_code, CertPart::IssuerCode)?;
        let serial = checked_part(serial, CertPart::Serial)?;
        let version = parse_version(version)?;
        let found = parse_check(check)?;
        let id = CertificateId {
            type_code,
            issuer_code,
            serial,
            version,
        };
        let expected = id.check_char();
        if found != expected {
            return Err(CertIdError::CheckMismatch { expected, found });
        }
        Ok(id)
    }
}

fn parse_version(version: &str) -> Result<u16, CertIdError> {
    if version.is_empty() {
        return Err(CertIdError::EmptyPart {
            part: CertPart::Version,
        });
    }
    let invalid = || CertIdError::InvalidVersion {
        found: version.to_owned(),
    };
    if version.len() != 3 || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    version.parse().map_err(|_| invalid())
}

/// The check part as an upper-case character.
fn parse_check(check: &str) -> Result<char, CertIdError> {
    let mut chars = check.chars();
    match (chars.next(), chars.next()) {
        (None, _) => Err(CertIdError::EmptyPart {
            part: CertPart::Check,
        }),
        (Some(c), None) if c.is_ascii_alphanumeric() => Ok(c.to_ascii_uppercase()),
        _ => Err(CertIdError::InvalidCheckPart {
            found: check.to_owned(),
        }),
    }
}

impl fmt::Display for CertificateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_with_check())
    }
}

impl FromStr for CertificateId {
    type Err = CertIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CertificateId::parse(s)
    }
}

impl Serialize for CertificateId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string_with_check())
    }
}

impl<'de> Deserialize<'de> for CertificateId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        CertificateId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "1.2.156.3005.2.11100000000013338W.114403040075424871.000123.001.L";

    #[test]
    fn mod37_36_by_hand() {
        // Data "A1B2", values 10 1 11 2. p starts at 36.
        //   'A' 10: s = (36+10) mod 36 = 10; p = 20 mod 37 = 20
        //   '1'  1: s = (20+1)  mod 36 = 21; p = 42 mod 37 = 5
        //   'B' 11: s = (5+11)  mod 36 = 16; p = 32 mod 37 = 32
        //   '2'  2: s = (32+2)  mod 36 = 34; p = 68 mod 37 = 31
        // Check c with (31 + c) mod 36 = 1: c = 6 → '6'.
        // Verify "A1B26": the final s = (31 + 6) mod 36 = 1.
        assert_eq!(mod37_36_check("A1B2"), Ok('6'));
        assert_eq!(mod37_36_check("a1b2"), Ok('6'), "case-insensitive");
        assert!(mod37_36_valid("A1B26"));
        assert!(mod37_36_valid("a1b26"));
        assert!(!mod37_36_valid("A1B25"));

        // Where 0 is read as 36: "0" gives s = (36+0) mod 36 = 0 → 36; p = 72 mod 37 = 35;
        // c = (37 − 35) mod 36 = 2.
        assert_eq!(mod37_36_check("0"), Ok('2'));
        // Empty data: p = 36, c = (37 − 36) mod 36 = 1.
        assert_eq!(mod37_36_check(""), Ok('1'));
        assert!(mod37_36_valid("1"));
    }

    #[test]
    fn mod37_36_published_example() {
        // The ISO 7064 MOD 37,36 example that common implementations (e.g. python-stdnum)
        // document: A12425GABC1234002 → M.
        assert_eq!(mod37_36_check("A12425GABC1234002"), Ok('M'));
        assert!(mod37_36_valid("A12425GABC1234002M"));
    }

    #[test]
    fn mod37_36_rejects_other_characters() {
        assert_eq!(
            mod37_36_check("AB-1"),
            Err(CertIdError::InvalidCharacter {
                part: CertPart::Data,
                position: 3,
                character: '-'
            })
        );
        assert_eq!(
            mod37_36_check("１"),
            Err(CertIdError::InvalidCharacter {
                part: CertPart::Data,
                position: 1,
                character: '１'
            }),
            "full-width digits are not ASCII"
        );
        assert!(!mod37_36_valid(""));
        assert!(!mod37_36_valid("A1B2*"));
        assert!(!mod37_36_valid("A.1B26"));
    }

    #[test]
    fn adjacent_transposition_can_go_undetected() {
        // At the start p = 36, so {(36+a), (36+b)} mod 36 = {18, 19} means a = 18 ('I'),
        // b = 19 ('J').
        assert_eq!(mod37_36_check("IJ"), mod37_36_check("JI"));
        assert_eq!(mod37_36_check("IJ"), Ok('0'));
        // The neighbouring pair is caught.
        assert_ne!(mod37_36_check("HI"), mod37_36_check("IH"));
    }

    #[test]
    fn builds_and_parses_the_example() {
        let id =
            CertificateId::new("11100000000013338W", "114403040075424871", "000123", 1).unwrap();
        assert_eq!(id.check_char(), 'L');
        assert_eq!(id.to_string_with_check(), EXAMPLE);
        assert_eq!(id.to_string(), EXAMPLE);
        assert_eq!(CertificateId::parse(EXAMPLE), Ok(id.clone()));
        assert_eq!(EXAMPLE.parse::<CertificateId>(), Ok(id.clone()));
        assert!(mod37_36_valid(&EXAMPLE.replace('.', "")));

        let lower = EXAMPLE.to_ascii_lowercase();
        assert_eq!(
            CertificateId::parse(&lower),
            Ok(id),
            "case-insensitive input"
        );
    }

    #[test]
    fn new_normalises_to_upper_case() {
        let id = CertificateId::new("abc", "x1", "s9", 0).unwrap();
        assert_eq!(id.type_code, "ABC");
        assert_eq!(id.issuer_code, "X1");
        assert_eq!(id.serial, "S9");
        assert!(
            id.to_string_with_check()
                .starts_with("1.2.156.3005.2.ABC.X1.S9.000.")
        );
    }

    #[test]
    fn undetected_transposition_in_a_serial() {
        // Before the serial's third character of this identifier the state is p = 34, so the
        // values {18−34, 19−34} mod 36 = {20, 21} = {'K', 'L'} swap unnoticed there.
        let a =
            CertificateId::new("11100000000013338W", "114403040075424871", "00KL23", 1).unwrap();
        let b =
            CertificateId::new("11100000000013338W", "114403040075424871", "00LK23", 1).unwrap();
        assert_eq!(a.check_char(), 'M');
        assert_eq!(b.check_char(), 'M');
    }

    #[test]
    fn every_error_variant_is_reached() {
        use CertIdError::*;
        let with = |type_code: &str, version: &str, check: &str| {
            format!("1.2.156.3005.2.{type_code}.114403040075424871.000123.{version}.{check}")
        };
        let cases = [
            ("".to_owned(), Empty),
            (
                "1.2.156.3005.3.A.B.C.001.X".to_owned(),
                WrongPrefix {
                    found: "1.2.156.3005.3".into(),
                },
            ),
            (
                "CERT-1".to_owned(),
                WrongPrefix {
                    found: "CERT-1".into(),
                },
            ),
            ("1.2.156.3005.2".to_owned(), WrongPartCount { count: 5 }),
            (
                "1.2.156.3005.2.A.B.C.001".to_owned(),
                WrongPartCount { count: 9 },
            ),
            (format!("{EXAMPLE}.X"), WrongPartCount { count: 11 }),
            (
                with("", "001", "L"),
                EmptyPart {
                    part: CertPart::TypeCode,
                },
            ),
            (
                with("111-0", "001", "L"),
                InvalidCharacter {
                    part: CertPart::TypeCode,
                    position: 4,
                    character: '-',
                },
            ),
            (
                with("11100000000013338W", "01", "L"),
                InvalidVersion { found: "01".into() },
            ),
            (
                with("11100000000013338W", "1a1", "L"),
                InvalidVersion {
                    found: "1a1".into(),
                },
            ),
            (
                with("11100000000013338W", "", "L"),
                EmptyPart {
                    part: CertPart::Version,
                },
            ),
            (
                with("11100000000013338W", "001", ""),
                EmptyPart {
                    part: CertPart::Check,
                },
            ),
            (
                with("11100000000013338W", "001", "LL"),
                InvalidCheckPart { found: "LL".into() },
            ),
            (
                with("11100000000013338W", "001", "*"),
                InvalidCheckPart { found: "*".into() },
            ),
            (
                with("11100000000013338W", "001", "k"),
                CheckMismatch {
                    expected: 'L',
                    found: 'K',
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(CertificateId::parse(&input), Err(expected), "{input:?}");
        }
        assert_eq!(
            CertificateId::new("A", "B", "C", 1000),
            Err(VersionOutOfRange { version: 1000 })
        );
        assert_eq!(
            CertificateId::new("A", "", "C", 1),
            Err(EmptyPart {
                part: CertPart::IssuerCode
            })
        );
        assert_eq!(
            CertificateId::new("A", "B", "流水", 1),
            Err(InvalidCharacter {
                part: CertPart::Serial,
                position: 1,
                character: '流'
            })
        );
    }

    #[test]
    fn errors_explain_themselves() {
        let err = CertificateId::parse(&EXAMPLE.replace(".L", ".K")).unwrap_err();
        assert_eq!(err.code(), "cert_check_mismatch");
        assert_eq!(
            err.reason_zh(),
            "校验位错误：按 ISO 7064 MOD 37,36 应为 L，实际为 K"
        );
        assert_eq!(
            err.to_string(),
            "check character mismatch: ISO 7064 MOD 37,36 computes 'L' from the other parts, \
             but the identifier ends in 'K'"
        );
        let err = CertificateId::new("A", "B", "C-1", 1).unwrap_err();
        assert_eq!(err.code(), "cert_invalid_character");
        assert_eq!(
            err.to_string(),
            "invalid character '-' at position 2 of the serial part: only ASCII letters and \
             digits are allowed"
        );
        assert_eq!(
            err.reason_zh(),
            "流水号第 2 位字符“-”无效：只允许字母和数字"
        );
        let err = CertIdError::WrongPrefix {
            found: "2.16".into(),
        };
        assert_eq!(err.code(), "cert_wrong_prefix");
        assert_eq!(
            err.reason_zh(),
            "前缀错误：电子证照标识应以 1.2.156.3005.2 开头，实际为 2.16"
        );
        for (err, code) in [
            (CertIdError::Empty, "cert_empty"),
            (
                CertIdError::WrongPartCount { count: 3 },
                "cert_wrong_part_count",
            ),
            (
                CertIdError::EmptyPart {
                    part: CertPart::Serial,
                },
                "cert_empty_part",
            ),
            (
                CertIdError::InvalidVersion { found: "1".into() },
                "cert_invalid_version",
            ),
            (
                CertIdError::VersionOutOfRange { version: 1000 },
                "cert_version_out_of_range",
            ),
            (
                CertIdError::InvalidCheckPart { found: "".into() },
                "cert_invalid_check_part",
            ),
        ] {
            assert_eq!(err.code(), code);
            assert!(!err.reason_zh().is_empty());
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn hand_built_invalid_values_never_round_trip() {
        let mut id = CertificateId::new("A", "B", "C", 1).unwrap();
        id.version = 1000;
        assert_eq!(id.check_char(), '?');
        assert!(CertificateId::parse(&id.to_string()).is_err());
        let id = CertificateId {
            type_code: "A.B".into(),
            issuer_code: "C".into(),
            serial: "D".into(),
            version: 1,
        };
        assert!(id.validate().is_err());
        assert_eq!(id.check_char(), '?');
        assert!(CertificateId::parse(&id.to_string()).is_err());
    }

    #[test]
    fn deserialises_from_the_string() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};

        let de: StrDeserializer<'_, Error> = EXAMPLE.into_deserializer();
        assert_eq!(
            CertificateId::deserialize(de).map(|id| id.to_string()),
            Ok(EXAMPLE.to_owned())
        );
    }
}

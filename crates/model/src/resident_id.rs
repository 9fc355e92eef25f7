//! 公民身份号码: resident identity number, GB 11643-1999.
//!
//! Layout of the 18 characters (positions 1-based, as the standard counts them):
//!
//! | positions | content |
//! | --- | --- |
//! | 1–6 | 地址码: GB/T 2260 code of the region of first registration |
//! | 7–14 | 出生日期码: birth date `YYYYMMDD` |
//! | 15–17 | 顺序码: sequence; the 17th digit is odd for men, even for women |
//! | 18 | 校验码: ISO 7064 MOD 11-2 check character, `0`–`9` or `X` |
//!
//! Numbers issued before 1999 had 15 digits (area, `YYMMDD` with an implied `19`, sequence)
//! and no check character.
//!
//! The check is ISO 7064 MOD 11-2: weight `2^(18-i) mod 11` at position `i`, and the weighted sum
//! over all 18 positions (X counting 10) is `1 mod 11`. Consequences worth knowing:
//!
//! * every single-character substitution is detected (weights are non-zero mod the prime 11,
//!   and two different characters differ by less than 11);
//! * every swap of two adjacent characters is detected (neighbouring weights differ);
//! * a swap of two characters **10 positions apart** is never detected, because `2^10 ≡ 1 mod 11`
//!   gives those positions equal weights (1↔11, 2↔12, …, 7↔17, 8↔18); all other swaps are.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::lenient::{self, look_alike_digit};
use crate::region;
use crate::sex::Sex;

/// 号码长度: characters in a resident ID number.
pub const LENGTH: usize = 18;

/// 15 位旧号码长度: characters in a legacy (pre-1999) number.
pub const LEGACY_LENGTH: usize = 15;

/// Earliest birth year accepted.
///
/// GB 11643 sets no bound, and real records (of the long-deceased, e.g. the standard's own
/// example born 1880) go back far; 1800 still rejects the typical garbage dates `00000000`,
/// `11111111` or a mistyped `1088`.
pub const MIN_BIRTH_YEAR: i32 = 1800;

/// 加权因子: weight of position `i` (1-based) is `2^(18-i) mod 11`.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// 校验码对照: the check character for a weighted sum `S`, indexed by `S mod 11`.
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// 公民身份号码: a valid resident identity number (GB 11643-1999), always held in its canonical
/// 18-character form with an upper-case `X`.
///
/// Construction goes through [`ResidentId::parse`], [`ResidentId::parse_lenient`] or
/// [`ResidentId::from_parts`], so every value has a province-level region, a real birth date on
/// or after [`MIN_BIRTH_YEAR`] and a matching check character. Ordering is that of the string.
/// Serialises as the 18-character string; deserialisation is strict.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResidentId([u8; LENGTH]);

/// 修正项: a repair that lenient identifier parsing ([`ResidentId::parse_lenient`],
/// [`crate::Uscc::parse_lenient_with_fixes`], [`crate::OrgCode::parse_lenient`]) applied to
/// source data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdFix {
    /// 去除首尾空白: leading or trailing whitespace (including U+3000) was removed.
    #[serde(rename = "trimmed_whitespace")]
    TrimmedWhitespace,
    /// 小写 x: a lower-case `x` check character was upper-cased.
    #[serde(rename = "lowercase_x")]
    LowercaseX,
    /// 全角字符: full-width digits or `Ｘ`/`ｘ` were converted to ASCII.
    #[serde(rename = "full_width")]
    FullWidth,
    /// 15 位升 18 位: a legacy 15-digit number was upgraded (`19` inserted before the year, check
    /// character appended).
    #[serde(rename = "upgraded_from_15")]
    UpgradedFrom15,
    /// 去除分隔符: spaces, hyphens or dots inside the number were removed
    /// (`440304 19850312 0012`, `440304-19850312-0012`).
    #[serde(rename = "separators_removed")]
    SeparatorsRemoved,
    /// 形近字母: a letter standing where only digits are allowed was read as the digit it looks
    /// like (`O`→0, `I`/`l`→1, `Z`→2, `S`→5, `B`→8); the check character then confirmed it.
    #[serde(rename = "look_alike_letters")]
    LookAlikeLetters,
    /// 小写字母: lower-case letters were upper-cased (credit and organisation codes).
    #[serde(rename = "uppercased")]
    Uppercased,
}

impl IdFix {
    /// Stable machine code, equal to the serde name, e.g. `"upgraded_from_15"`.
    pub fn code(&self) -> &'static str {
        match self {
            IdFix::TrimmedWhitespace => "trimmed_whitespace",
            IdFix::LowercaseX => "lowercase_x",
            IdFix::FullWidth => "full_width",
            IdFix::UpgradedFrom15 => "upgraded_from_15",
            IdFix::SeparatorsRemoved => "separators_removed",
            IdFix::LookAlikeLetters => "look_alike_letters",
            IdFix::Uppercased => "uppercased",
        }
    }

    /// 中文说明 of the repair, for data-quality reports.
    pub fn label_zh(&self) -> &'static str {
        match self {
            IdFix::TrimmedWhitespace => "去除首尾空白",
            IdFix::LowercaseX => "小写 x 改为大写 X",
            IdFix::FullWidth => "全角字符转为半角",
            IdFix::UpgradedFrom15 => "15 位旧号码升级为 18 位",
            IdFix::SeparatorsRemoved => "去除号码中的空格、连字符等分隔符",
            IdFix::LookAlikeLetters => "号码中形近字母改为数字（O→0、I/l→1、Z→2、S→5、B→8）",
            IdFix::Uppercased => "小写字母改为大写",
        }
    }
}

/// The result of [`ResidentId::parse_lenient`]: the canonical ID and the repairs it needed, in
/// the order they were applied (whitespace, full width, separators, lower-case x, look-alike
/// letters, 15→18 upgrade).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ParsedResidentId {
    /// 规范号码: the canonical 18-character ID.
    pub id: ResidentId,
    /// 修正项: the repairs applied; empty when the input was already canonical.
    pub fixes: Vec<IdFix>,
}

impl ParsedResidentId {
    /// Whether the input was already the canonical form.
    pub fn is_canonical(&self) -> bool {
        self.fixes.is_empty()
    }
}

/// Why a string is not a valid resident ID number.
///
/// Positions are 1-based and count characters (not bytes), as GB 11643 numbers its positions.
/// For [`ResidentId::parse_lenient`] they count within the input after trimming whitespace and
/// removing separators.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ResidentIdError {
    /// 号码为空.
    #[error("resident ID number is empty")]
    Empty,

    /// 长度错误: neither 18 characters nor (when parsing leniently) 15.
    #[error(
        "resident ID number has {length} characters; GB 11643 requires 18 \
         (or 15 for a legacy number, accepted only by lenient parsing)"
    )]
    WrongLength { length: usize },

    /// 非法字符: a character that may not stand at this position.
    #[error(
        "invalid character {character:?} at position {position}: expected {}",
        expected_at(.position)
    )]
    InvalidCharacter { position: usize, character: char },

    /// The input to [`check_char`] is not 17 characters long.
    #[error("the GB 11643 check character is computed from exactly 17 digits, got {length}")]
    CheckInputLength { length: usize },

    /// 地址码无效: the first two digits are not a province-level code (or, for
    /// [`ResidentId::from_parts`], the code is not 6 digits).
    #[error("address code {region_code} {}", region_problem(.region_code).en())]
    InvalidRegion { region_code: String },

    /// 出生日期无效: not a calendar date, or before [`MIN_BIRTH_YEAR`]. `digits` is the date as
    /// `YYYYMMDD` (a legacy number's `YYMMDD` is read as `19YYMMDD`).
    #[error("birth date {digits} {}", date_problem(.digits).en())]
    InvalidBirthDate { digits: String },

    /// 顺序码超出范围 (only from [`ResidentId::from_parts`]): the sequence has 3 digits.
    #[error("sequence number {sequence} is out of range: it has 3 digits, 0-999")]
    InvalidSequence { sequence: u16 },

    /// 校验码错误: the 18th character does not match the first 17 digits.
    #[error(
        "check character mismatch: GB 11643 computes {expected:?} from the first 17 digits, \
         but the number ends in {found:?}"
    )]
    CheckMismatch { expected: char, found: char },
}

impl ResidentIdError {
    /// Stable machine code (snake_case), e.g. `"id_check_mismatch"`.
    pub fn code(&self) -> &'static str {
        match self {
            ResidentIdError::Empty => "id_empty",
            ResidentIdError::WrongLength { .. } => "id_wrong_length",
            ResidentIdError::InvalidCharacter { .. } => "id_invalid_character",
            ResidentIdError::CheckInputLength { .. } => "id_check_input_length",
            ResidentIdError::InvalidRegion { .. } => "id_invalid_region",
            ResidentIdError::InvalidBirthDate { .. } => "id_invalid_birth_date",
            ResidentIdError::InvalidSequence { .. } => "id_invalid_sequence",
            ResidentIdError::CheckMismatch { .. } => "id_check_mismatch",
        }
    }

    /// 中文原因, e.g. `"校验码错误：按 GB 11643 应为 X，实际为 5"`.
    pub fn reason_zh(&self) -> String {
        match self {
            ResidentIdError::Empty => "身份证号为空".to_owned(),
            ResidentIdError::WrongLength { length } => {
                format!("长度错误：公民身份号码应为 18 位（旧号码 15 位），实际为 {length} 位")
            }
            ResidentIdError::InvalidCharacter {
                position,
                character,
            } => {
                let expected = if *position == LENGTH {
                    "数字或大写 X"
                } else {
                    "数字"
                };
                format!("第 {position} 位字符“{character}”无效：此处应为{expected}")
            }
            ResidentIdError::CheckInputLength { length } => {
                format!("计算校验码需要前 17 位数字，实际为 {length} 位")
            }
            ResidentIdError::InvalidRegion { region_code } => {
                format!(
                    "地址码 {region_code} 无效：{}",
                    region_problem(region_code).zh()
                )
            }
            ResidentIdError::InvalidBirthDate { digits } => {
                format!("出生日期 {digits} 无效：{}", date_problem(digits).zh())
            }
            ResidentIdError::InvalidSequence { sequence } => {
                format!("顺序码 {sequence} 超出范围：应为 000–999")
            }
            ResidentIdError::CheckMismatch { expected, found } => {
                format!("校验码错误：按 GB 11643 应为 {expected}，实际为 {found}")
            }
        }
    }
}

fn expected_at(position: &usize) -> &'static str {
    if *position == LENGTH {
        "a digit or upper-case X"
    } else {
        "a digit 0-9"
    }
}

enum RegionProblem {
    NotSixDigits,
    NoSuchProvince,
}

impl RegionProblem {
    fn en(&self) -> &'static str {
        match self {
            RegionProblem::NotSixDigits => "is not a 6-digit code",
            RegionProblem::NoSuchProvince => {
                "does not start with a province-level code of GB/T 2260"
            }
        }
    }

    fn zh(&self) -> &'static str {
        match self {
            RegionProblem::NotSixDigits => "应为 6 位数字",
            RegionProblem::NoSuchProvince => "前两位不是省级行政区划代码（GB/T 2260）",
        }
    }
}

fn region_problem(region_code: &str) -> RegionProblem {
    if region_code.len() == 6 && region_code.bytes().all(|b| b.is_ascii_digit()) {
        RegionProblem::NoSuchProvince
    } else {
        RegionProblem::NotSixDigits
    }
}

enum DateProblem {
    NotACalendarDate,
    TooEarly,
    OutOfRange,
}

impl DateProblem {
    fn en(&self) -> &'static str {
        match self {
            DateProblem::NotACalendarDate => "is not a calendar date (YYYYMMDD)",
            DateProblem::TooEarly => "is before the year 1800",
            DateProblem::OutOfRange => "is outside the years 1800-9999",
        }
    }

    fn zh(&self) -> &'static str {
        match self {
            DateProblem::NotACalendarDate => "不是有效的日历日期（YYYYMMDD）",
            DateProblem::TooEarly => "早于 1800 年",
            DateProblem::OutOfRange => "超出 1800–9999 年的范围",
        }
    }
}

fn date_problem(digits: &str) -> DateProblem {
    let bytes = digits.as_bytes();
    if bytes.len() != 8 || !bytes.iter().all(u8::is_ascii_digit) {
        return DateProblem::OutOfRange;
    }
    match calendar_date(bytes) {
        Some(date) if date.year() < MIN_BIRTH_YEAR => DateProblem::TooEarly,
        Some(_) => DateProblem::OutOfRange,
        None => DateProblem::NotACalendarDate,
    }
}

/// The value of a run of ASCII digits. Callers check the bytes first; `wrapping_sub` only keeps
/// a misuse from panicking.
fn digits_value(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0, |acc, b| acc * 10 + u32::from(b.wrapping_sub(b'0')))
}

/// Writes `value` as exactly `out.len()` decimal digits, most significant first.
fn put_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The date of 8 ASCII digits `YYYYMMDD`, if it is one, whatever the year.
fn calendar_date(yyyymmdd: &[u8]) -> Option<NaiveDate> {
    let year = i32::try_from(digits_value(yyyymmdd.get(0..4)?)).ok()?;
    let month = digits_value(yyyymmdd.get(4..6)?);
    let day = digits_value(yyyymmdd.get(6..8)?);
    NaiveDate::from_ymd_opt(year, month, day)
}

/// A birth date acceptable in an ID: a calendar date from [`MIN_BIRTH_YEAR`] on.
fn birth_date_from_digits(yyyymmdd: &[u8]) -> Option<NaiveDate> {
    calendar_date(yyyymmdd).filter(|date| date.year() >= MIN_BIRTH_YEAR)
}

fn ascii_string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// 校验码: the GB 11643 check character for the first 17 digits (ASCII `b'0'..=b'9'`).
///
/// Returns `b'0'..=b'9'` or `b'X'`. Positions in an [`ResidentIdError::InvalidCharacter`] are
/// 1-based; a non-ASCII byte is reported as the Latin-1 character of the same value.
pub fn check_char(first17: &[u8]) -> Result<u8, ResidentIdError> {
    if first17.len() != LENGTH - 1 {
        return Err(ResidentIdError::CheckInputLength {
            length: first17.len(),
        });
    }
    let mut sum = 0;
    for (index, (&byte, weight)) in first17.iter().zip(WEIGHTS).enumerate() {
        if !byte.is_ascii_digit() {
            return Err(ResidentIdError::InvalidCharacter {
                position: index + 1,
                character: char::from(byte),
            });
        }
        sum += u32::from(byte - b'0') * weight;
    }
    // `sum % 11` is below 11 by construction, so the index is always in range.
    Ok(CHECK_CHARS[(sum % 11) as usize])
}

/// 周岁: age in completed years on the date `on`; 0 if `on` is before `birth`.
///
/// The birthday itself counts: someone born 2000-05-10 is 20 on 2020-05-10 and still 19 on
/// 2020-05-09. Someone born on 29 February has their birthday on **28 February** in non-leap
/// years (so is 1 on 2001-02-28).
///
/// This is the everyday rule and the one for eligibility checks such as "满 18 周岁". Note that
/// criminal law counts a 周岁 as reached only from the day *after* the birthday (最高人民法院
/// 关于审理未成年人刑事案件具体应用法律若干问题的解释, 第二条); a caller applying that rule
/// should pass `on - 1 day`.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> u32 {
    if on < birth {
        return 0;
    }
    let birthday_this_year = if birth.month() == 2 && birth.day() == 29 && !on.leap_year() {
        (2, 28)
    } else {
        (birth.month(), birth.day())
    };
    let before_birthday = (on.month(), on.day()) < birthday_this_year;
    let years = on.year() - birth.year() - i32::from(before_birthday);
    u32::try_from(years).unwrap_or(0)
}

/// One character of input: as written, and after lenient normalisation.
#[derive(Clone, Copy)]
struct InputChar {
    original: char,
    normalised: char,
}

impl ResidentId {
    /// Strict parse: exactly 18 characters, digits and a final check character (`0`–`9` or
    /// upper-case `X`), a province-level region, a valid birth date from [`MIN_BIRTH_YEAR`] on,
    /// and a matching check character.
    ///
    /// Errors are reported in that order, so the first problem found is the one named.
    pub fn parse(s: &str) -> Result<ResidentId, ResidentIdError> {
        if s.is_empty() {
            return Err(ResidentIdError::Empty);
        }
        let length = s.chars().count();
        if length != LENGTH {
            return Err(ResidentIdError::WrongLength { length });
        }
        let chars: Vec<InputChar> = s
            .chars()
            .map(|c| InputChar {
                original: c,
                normalised: c,
            })
            .collect();
        Self::from_18(&chars)
    }

    /// Lenient parse for source data: trims whitespace (including the ideographic space U+3000),
    /// converts full-width characters, removes separators inside the number (spaces, hyphens,
    /// dots: the 6-8-4 grouping of printed cards), upper-cases a lower-case `x`, reads a
    /// look-alike letter where only a digit may stand as that digit (`O`→0, `I`/`l`→1, `Z`→2,
    /// `S`→5, `B`→8), and upgrades a 15-digit legacy number, reporting each repair in
    /// [`ParsedResidentId::fixes`].
    ///
    /// These repairs cannot merge two people: a separator carries nothing, a look-alike letter
    /// can mean one digit only, and the check character is verified afterwards. Anything else
    /// — other letters, a wrong check character — is an error, because guessing there could.
    pub fn parse_lenient(s: &str) -> Result<ParsedResidentId, ResidentIdError> {
        let mut fixes = Vec::new();
        let written = lenient::read(s);
        if written.trimmed {
            fixes.push(IdFix::TrimmedWhitespace);
        }
        let mut chars: Vec<InputChar> = written
            .chars
            .iter()
            .map(|&(original, normalised)| InputChar {
                original,
                normalised,
            })
            .collect();
        let length = chars.len();
        if length == 0 {
            return Err(ResidentIdError::Empty);
        }
        if length != LENGTH && length != LEGACY_LENGTH {
            return Err(ResidentIdError::WrongLength { length });
        }
        let mut lowercase_x = false;
        let mut look_alike = false;
        for (index, c) in chars.iter_mut().enumerate() {
            if length == LENGTH && index == LENGTH - 1 && c.normalised == 'x' {
                lowercase_x = true;
                c.normalised = 'X';
            } else if let Some(digit) = look_alike_digit(c.normalised) {
                look_alike = true;
                c.normalised = digit;
            }
        }
        if written.full_width {
            fixes.push(IdFix::FullWidth);
        }
        if !written.separators.is_empty() {
            fixes.push(IdFix::SeparatorsRemoved);
        }
        if lowercase_x {
            fixes.push(IdFix::LowercaseX);
        }
        if look_alike {
            fixes.push(IdFix::LookAlikeLetters);
        }

        let id = if length == LENGTH {
            Self::from_18(&chars)?
        } else {
            fixes.push(IdFix::UpgradedFrom15);
            Self::from_15(&chars)?
        };
        Ok(ParsedResidentId { id, fixes })
    }

    /// Builds a valid ID from its parts, computing the check character.
    ///
    /// `region_code` is a 6-digit GB/T 2260 code (100000..=999999) whose first two digits are a
    /// province-level code; `birth_date` lies in the years [`MIN_BIRTH_YEAR`]..=9999; `seq` is
    /// the 3-digit sequence 0..=999, odd for men and even for women. These are exactly the
    /// conditions [`ResidentId::parse`] checks, so the result always parses back.
    pub fn from_parts(
        region_code: u32,
        birth_date: NaiveDate,
        seq: u16,
    ) -> Result<ResidentId, ResidentIdError> {
        if !(100_000..=999_999).contains(&region_code)
            || !region::is_province_code(region_code / 10_000)
        {
            return Err(ResidentIdError::InvalidRegion {
                region_code: region_code.to_string(),
            });
        }
        let year = birth_date.year();
        if !(MIN_BIRTH_YEAR..=9999).contains(&year) {
            return Err(ResidentIdError::InvalidBirthDate {
                digits: birth_date.format("%Y%m%d").to_string(),
            });
        }
        if seq > 999 {
            return Err(ResidentIdError::InvalidSequence { sequence: seq });
        }

        let mut bytes = [0u8; LENGTH];
        put_digits(&mut bytes[0..6], region_code);
        put_digits(&mut bytes[6..10], year.unsigned_abs());
        put_digits(&mut bytes[10..12], birth_date.month());
        put_digits(&mut bytes[12..14], birth_date.day());
        put_digits(&mut bytes[14..17], u32::from(seq));
        bytes[17] = check_char(&bytes[..17])?;
        Ok(ResidentId(bytes))
    }

    /// An 18-character input: every character allowed at its position, then the fields, then
    /// the check character.
    fn from_18(chars: &[InputChar]) -> Result<ResidentId, ResidentIdError> {
        let mut bytes = [0u8; LENGTH];
        for (index, (slot, c)) in bytes.iter_mut().zip(chars).enumerate() {
            let allowed =
                c.normalised.is_ascii_digit() || (index == LENGTH - 1 && c.normalised == 'X');
            *slot = u8::try_from(c.normalised).ok().filter(|_| allowed).ok_or(
                ResidentIdError::InvalidCharacter {
                    position: index + 1,
                    character: c.original,
                },
            )?;
        }
        check_fields(&bytes)?;
        let expected = check_char(&bytes[..17])?;
        if bytes[17] != expected {
            let found = chars.get(17).map_or(char::from(bytes[17]), |c| c.original);
            return Err(ResidentIdError::CheckMismatch {
                expected: char::from(expected),
                found,
            });
        }
        Ok(ResidentId(bytes))
    }

    /// A 15-digit legacy input: area, `YYMMDD` in the 1900s, sequence; no check character.
    fn from_15(chars: &[InputChar]) -> Result<ResidentId, ResidentIdError> {
        let mut legacy = [0u8; LEGACY_LENGTH];
        for (index, (slot, c)) in legacy.iter_mut().zip(chars).enumerate() {
            *slot = u8::try_from(c.normalised)
                .ok()
                .filter(u8::is_ascii_digit)
                .ok_or(ResidentIdError::InvalidCharacter {
                    position: index + 1,
                    character: c.original,
                })?;
        }
        let mut bytes = [0u8; LENGTH];
        bytes[0..6].copy_from_slice(&legacy[0..6]);
        bytes[6..8].copy_from_slice(b"19");
        bytes[8..17].copy_from_slice(&legacy[6..15]);
        check_fields(&bytes)?;
        bytes[17] = check_char(&bytes[..17])?;
        Ok(ResidentId(bytes))
    }

    /// 号码: the canonical 18-character string.
    pub fn as_str(&self) -> &str {
        // Every constructor stores ASCII digits and `X` only.
        std::str::from_utf8(&self.0).expect("ResidentId holds ASCII by construction")
    }

    /// 地址码: the 6-digit region code (positions 1–6).
    pub fn region_code(&self) -> &str {
        &self.as_str()[0..6]
    }

    /// 出生日期: the birth date (positions 7–14).
    pub fn birth_date(&self) -> NaiveDate {
        // Every constructor has checked that these digits are a date.
        birth_date_from_digits(&self.0[6..14])
            .expect("ResidentId holds a valid birth date by construction")
    }

    /// 性别: from the 17th digit, odd for men and even for women.
    pub fn sex(&self) -> Sex {
        if (self.0[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// 顺序码: the 3-digit sequence (positions 15–17), 0..=999.
    pub fn sequence(&self) -> u16 {
        // Three digits are at most 999, which fits.
        u16::try_from(digits_value(&self.0[14..17])).unwrap_or(u16::MAX)
    }

    /// 校验码: the check character, `'0'`–`'9'` or `'X'`.
    pub fn check(&self) -> char {
        char::from(self.0[17])
    }

    /// 15 位旧号码: the legacy form (area, `YYMMDD`, sequence), for someone born 1900–1999.
    ///
    /// `None` for other birth years, which the legacy form cannot express.
    pub fn to_legacy_15(&self) -> Option<String> {
        if &self.0[6..8] != b"19" {
            return None;
        }
        let mut legacy = Vec::with_capacity(LEGACY_LENGTH);
        legacy.extend_from_slice(&self.0[0..6]);
        legacy.extend_from_slice(&self.0[8..17]);
        Some(ascii_string(&legacy))
    }

    /// 周岁 on the date `on`; see the free function [`age_on`] for the rule.
    pub fn age_on(&self, on: NaiveDate) -> u32 {
        age_on(self.birth_date(), on)
    }

    /// 脱敏: the masked form for display, keeping the region code and the last 4 characters,
    /// e.g. `440304********0123`.
    pub fn masked(&self) -> String {
        let s = self.as_str();
        format!("{}********{}", &s[0..6], &s[14..18])
    }
}

/// Region, then birth date; the check character is the caller's last step.
fn check_fields(bytes: &[u8; LENGTH]) -> Result<(), ResidentIdError> {
    if !region::is_province_code(digits_value(&bytes[0..2])) {
        return Err(ResidentIdError::InvalidRegion {
            region_code: ascii_string(&bytes[0..6]),
        });
    }
    if birth_date_from_digits(&bytes[6..14]).is_none() {
        return Err(ResidentIdError::InvalidBirthDate {
            digits: ascii_string(&bytes[6..14]),
        });
    }
    Ok(())
}

impl fmt::Display for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResidentId").field(&self.as_str()).finish()
    }
}

impl FromStr for ResidentId {
    type Err = ResidentIdError;

    /// Strict, like [`ResidentId::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResidentId::parse(s)
    }
}

impl AsRef<str> for ResidentId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Serialize for ResidentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResidentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        ResidentId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn standard_vectors_are_valid() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.region_code(), "110105");
        assert_eq!(id.birth_date(), date(1949, 12, 31));
        assert_eq!(id.sequence(), 2);
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.check(), 'X');

        let id = ResidentId::parse("440524188001010014").unwrap();
        assert_eq!(id.region_code(), "440524");
        assert_eq!(id.birth_date(), date(1880, 1, 1));
        assert_eq!(id.sequence(), 1);
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.to_legacy_15(), None, "born in the 1800s");
    }

    #[test]
    fn check_char_by_hand() {
        // 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2 with weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2:
        // 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2 → 'X'.
        assert_eq!(check_char(b"11010519491231002"), Ok(b'X'));
        // 4 4 0 5 2 4 1 8 8 0 0 1 0 1 0 0 1:
        // 28+36+0+25+16+16+2+8+48+0+0+9+0+5+0+0+2 = 195; 195 mod 11 = 8 → '4'.
        assert_eq!(check_char(b"44052418800101001"), Ok(b'4'));
        assert_eq!(
            check_char(b"1101051949123100"),
            Err(ResidentIdError::CheckInputLength { length: 16 })
        );
        assert_eq!(
            check_char(b"11010519491231A02"),
            Err(ResidentIdError::InvalidCharacter {
                position: 15,
                character: 'A'
            })
        );
    }

    #[test]
    fn every_error_variant_is_reached() {
        use ResidentIdError::*;
        let cases: [(&str, ResidentIdError); 9] = [
            ("", Empty),
            ("11010519491231002", WrongLength { length: 17 }),
            ("11010519491231002XX", WrongLength { length: 19 }),
            (
                "1101051949123100-X",
                InvalidCharacter {
                    position: 17,
                    character: '-',
                },
            ),
            (
                "11010519491231002x",
                InvalidCharacter {
                    position: 18,
                    character: 'x',
                },
            ),
            (
                "99010519491231002X",
                InvalidRegion {
                    region_code: "990105".into(),
                },
            ),
            (
                "11010519490231002X",
                InvalidBirthDate {
                    digits: "19490231".into(),
                },
            ),
            (
                "110105179912310028",
                InvalidBirthDate {
                    digits: "17991231".into(),
                },
            ),
            (
                "110105194912310025",
                CheckMismatch {
                    expected: 'X',
                    found: '5',
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(ResidentId::parse(input), Err(expected), "{input:?}");
        }
        assert_eq!(
            ResidentId::from_parts(110105, date(1949, 12, 31), 1000),
            Err(InvalidSequence { sequence: 1000 })
        );
        assert_eq!(
            check_char(b"1"),
            Err(CheckInputLength { length: 1 }),
            "the one variant only check_char reaches"
        );
    }

    #[test]
    fn errors_explain_themselves() {
        let err = ResidentId::parse("110105194912310025").unwrap_err();
        assert_eq!(err.code(), "id_check_mismatch");
        assert_eq!(err.reason_zh(), "校验码错误：按 GB 11643 应为 X，实际为 5");
        assert_eq!(
            err.to_string(),
            "check character mismatch: GB 11643 computes 'X' from the first 17 digits, \
             but the number ends in '5'"
        );

        let err = ResidentId::parse("11010519491231002x").unwrap_err();
        assert_eq!(err.code(), "id_invalid_character");
        assert_eq!(
            err.to_string(),
            "invalid character 'x' at position 18: expected a digit or upper-case X"
        );
        assert_eq!(err.reason_zh(), "第 18 位字符“x”无效：此处应为数字或大写 X");

        let err = ResidentId::parse("1101051949123100-X").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid character '-' at position 17: expected a digit 0-9"
        );

        let err = ResidentId::parse("99010519491231002X").unwrap_err();
        assert_eq!(err.code(), "id_invalid_region");
        assert_eq!(
            err.to_string(),
            "address code 990105 does not start with a province-level code of GB/T 2260"
        );
        assert_eq!(
            err.reason_zh(),
            "地址码 990105 无效：前两位不是省级行政区划代码（GB/T 2260）"
        );

        let err = ResidentId::parse("11010519490231002X").unwrap_err();
        assert_eq!(err.code(), "id_invalid_birth_date");
        assert_eq!(
            err.to_string(),
            "birth date 19490231 is not a calendar date (YYYYMMDD)"
        );
        assert_eq!(
            err.reason_zh(),
            "出生日期 19490231 无效：不是有效的日历日期（YYYYMMDD）"
        );

        let err = ResidentId::parse("110105179912310028").unwrap_err();
        assert_eq!(
            err.to_string(),
            "birth date 17991231 is before the year 1800"
        );
        assert_eq!(err.reason_zh(), "出生日期 17991231 无效：早于 1800 年");

        let err = ResidentId::parse("123").unwrap_err();
        assert_eq!(err.code(), "id_wrong_length");
        assert!(err.to_string().contains("has 3 characters"), "{err}");
        assert_eq!(
            err.reason_zh(),
            "长度错误：公民身份号码应为 18 位（旧号码 15 位），实际为 3 位"
        );

        assert_eq!(ResidentIdError::Empty.code(), "id_empty");
        assert_eq!(ResidentIdError::Empty.reason_zh(), "身份证号为空");
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(
            ResidentId::parse("１１０１０５１９４９１２３１００２Ｘ"),
            Err(ResidentIdError::InvalidCharacter {
                position: 1,
                character: '１'
            }),
            "strict parse refuses full width, but measures it in characters"
        );
    }

    #[test]
    fn lenient_accepts_lower_case_x() {
        let parsed = ResidentId::parse_lenient("11010519491231002x").unwrap();
        assert_eq!(parsed.id.as_str(), "11010519491231002X");
        assert_eq!(parsed.fixes, vec![IdFix::LowercaseX]);
        assert!(!parsed.is_canonical());
    }

    #[test]
    fn lenient_accepts_full_width_and_whitespace() {
        let parsed =
            ResidentId::parse_lenient("\u{3000}１１０１０５１９４９１２３１００２ｘ ").unwrap();
        assert_eq!(parsed.id.as_str(), "11010519491231002X");
        assert_eq!(
            parsed.fixes,
            vec![
                IdFix::TrimmedWhitespace,
                IdFix::FullWidth,
                IdFix::LowercaseX
            ]
        );

        let parsed = ResidentId::parse_lenient("44052418800101001４").unwrap();
        assert_eq!(parsed.id.as_str(), "440524188001010014");
        assert_eq!(parsed.fixes, vec![IdFix::FullWidth]);

        let parsed = ResidentId::parse_lenient("11010519491231002Ｘ").unwrap();
        assert_eq!(parsed.fixes, vec![IdFix::FullWidth]);
    }

    #[test]
    fn lenient_on_canonical_input_reports_no_fixes() {
        let parsed = ResidentId::parse_lenient("440524188001010014").unwrap();
        assert!(parsed.is_canonical());
    }

    #[test]
    fn lenient_errors_name_the_original_character() {
        assert_eq!(
            ResidentId::parse_lenient(" 1101051949123100x2 "),
            Err(ResidentIdError::InvalidCharacter {
                position: 17,
                character: 'x'
            }),
            "x is only a check character; position counts after trimming"
        );
        assert_eq!(
            ResidentId::parse_lenient("11010519491231002５"),
            Err(ResidentIdError::CheckMismatch {
                expected: 'X',
                found: '５'
            })
        );
        assert_eq!(
            ResidentId::parse_lenient(" \t\u{3000}"),
            Err(ResidentIdError::Empty)
        );
        assert_eq!(
            ResidentId::parse_lenient("110105 19491231 002X 1"),
            Err(ResidentIdError::WrongLength { length: 19 }),
            "length counts after removing separators"
        );
    }

    #[test]
    fn lenient_removes_separators_inside_the_number() {
        // GB 11643's example 11010519491231002X written as printed cards group it, and with
        // stray spaces and full-width hyphens.
        for written in [
            "110105 19491231 002X",
            "110105-19491231-002X",
            "1101 0519 4912 3100 2X",
            "110105－19491231－002X",
            "11010519491231 002 X",
        ] {
            let parsed = ResidentId::parse_lenient(written).unwrap();
            assert_eq!(parsed.id.as_str(), "11010519491231002X", "{written}");
            assert!(
                parsed.fixes.contains(&IdFix::SeparatorsRemoved),
                "{written}"
            );
        }
        assert_eq!(
            ResidentId::parse_lenient("440304 800229 123")
                .unwrap()
                .fixes,
            vec![IdFix::SeparatorsRemoved, IdFix::UpgradedFrom15]
        );
    }

    #[test]
    fn lenient_reads_look_alike_letters_as_digits() {
        for written in [
            "11O10519491231002X",
            "110105l9491231002X",
            "11010519491Z31002X",
            "1101O5I949I23IOOZX",
        ] {
            let parsed = ResidentId::parse_lenient(written).unwrap();
            assert_eq!(parsed.id.as_str(), "11010519491231002X", "{written}");
            assert_eq!(parsed.fixes, vec![IdFix::LookAlikeLetters], "{written}");
        }
        // 440524188001010014: S for 5 and B for 8.
        let parsed = ResidentId::parse_lenient("44OS24lBBOOlOlOOl4").unwrap();
        assert_eq!(parsed.id.as_str(), "440524188001010014");
        // The check character still decides: a look-alike that does not check is an error.
        assert_eq!(
            ResidentId::parse_lenient("11O10519491231003X"),
            Err(ResidentIdError::CheckMismatch {
                expected: '8',
                found: 'X'
            })
        );
        // Letters that look like no digit stay errors.
        assert_eq!(
            ResidentId::parse_lenient("11A10519491231002X"),
            Err(ResidentIdError::InvalidCharacter {
                position: 3,
                character: 'A'
            })
        );
    }

    #[test]
    fn upgrades_legacy_15_digit_numbers() {
        // 15-digit 440304 800229 123 (born 1980-02-29, sequence 123): the 18-digit form is
        // 44030419800229123 + check. Weighted sum of 4 4 0 3 0 4 1 9 8 0 0 2 2 9 1 2 3:
        // 28+36+0+15+0+16+2+9+48+0+0+18+20+45+8+8+6 = 259; 259 mod 11 = 6 → '6'.
        let parsed = ResidentId::parse_lenient("440304800229123").unwrap();
        assert_eq!(parsed.id.as_str(), "440304198002291236");
        assert_eq!(parsed.fixes, vec![IdFix::UpgradedFrom15]);
        assert_eq!(parsed.id.birth_date(), date(1980, 2, 29));
        assert_eq!(parsed.id.sex(), Sex::Male);
        assert_eq!(parsed.id.to_legacy_15().as_deref(), Some("440304800229123"));
        assert_eq!(ResidentId::parse("440304198002291236"), Ok(parsed.id));

        let parsed = ResidentId::parse_lenient(" ４４０３０４８００２２９１２３").unwrap();
        assert_eq!(parsed.id.as_str(), "440304198002291236");
        assert_eq!(
            parsed.fixes,
            vec![
                IdFix::TrimmedWhitespace,
                IdFix::FullWidth,
                IdFix::UpgradedFrom15
            ]
        );
    }

    #[test]
    fn legacy_numbers_are_checked_too() {
        assert_eq!(
            ResidentId::parse_lenient("44030481022912X"),
            Err(ResidentIdError::InvalidCharacter {
                position: 15,
                character: 'X'
            })
        );
        assert_eq!(
            ResidentId::parse_lenient("440304810229123"),
            Err(ResidentIdError::InvalidBirthDate {
                digits: "19810229".into()
            }),
            "1981 is not a leap year"
        );
        assert_eq!(
            ResidentId::parse_lenient("000304800229123"),
            Err(ResidentIdError::InvalidRegion {
                region_code: "000304".into()
            })
        );
        assert_eq!(
            ResidentId::parse("440304800229123"),
            Err(ResidentIdError::WrongLength { length: 15 }),
            "strict parse does not upgrade"
        );
    }

    #[test]
    fn from_parts_builds_valid_ids() {
        let id = ResidentId::from_parts(110105, date(1949, 12, 31), 2).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        let id = ResidentId::from_parts(440304, date(2001, 2, 3), 999).unwrap();
        assert_eq!(id.sequence(), 999);
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(ResidentId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn from_parts_rejects_what_parse_would() {
        use ResidentIdError::*;
        let d = date(1990, 1, 1);
        for bad in [0, 99_999, 1_000_000, 990_000, 100_000] {
            assert_eq!(
                ResidentId::from_parts(bad, d, 1),
                Err(InvalidRegion {
                    region_code: bad.to_string()
                }),
                "{bad}"
            );
        }
        assert_eq!(
            ResidentId::from_parts(12345, d, 1).unwrap_err().to_string(),
            "address code 12345 is not a 6-digit code"
        );
        assert_eq!(
            ResidentId::from_parts(110105, date(1799, 12, 31), 1),
            Err(InvalidBirthDate {
                digits: "17991231".into()
            })
        );
        let far = date(10_000, 1, 1);
        let err = ResidentId::from_parts(110105, far, 1).unwrap_err();
        assert_eq!(err.code(), "id_invalid_birth_date");
        assert!(
            err.to_string().contains("outside the years 1800-9999"),
            "{err}"
        );
        assert!(ResidentId::from_parts(110105, date(9999, 12, 31), 0).is_ok());
        assert!(ResidentId::from_parts(110105, date(1800, 1, 1), 0).is_ok());
    }

    #[test]
    fn legacy_form_only_for_the_1900s() {
        let id = ResidentId::from_parts(440304, date(1999, 12, 31), 10).unwrap();
        assert_eq!(id.to_legacy_15().as_deref(), Some("440304991231010"));
        let id = ResidentId::from_parts(440304, date(2000, 1, 1), 10).unwrap();
        assert_eq!(id.to_legacy_15(), None);
        let id = ResidentId::from_parts(440304, date(1900, 1, 1), 10).unwrap();
        assert_eq!(id.to_legacy_15().as_deref(), Some("440304000101010"));
    }

    #[test]
    fn age_counts_the_birthday_itself() {
        let birth = date(2000, 5, 10);
        assert_eq!(
            age_on(birth, date(2020, 5, 9)),
            19,
            "the day before the birthday"
        );
        assert_eq!(age_on(birth, date(2020, 5, 10)), 20, "the birthday itself");
        assert_eq!(age_on(birth, date(2020, 5, 11)), 20);
        assert_eq!(age_on(birth, birth), 0);
        assert_eq!(age_on(birth, date(2000, 5, 9)), 0, "before birth");
        assert_eq!(age_on(birth, date(1900, 1, 1)), 0, "long before birth");
    }

    #[test]
    fn age_for_29_february() {
        let birth = date(2000, 2, 29);
        assert_eq!(age_on(birth, date(2001, 2, 27)), 0);
        assert_eq!(
            age_on(birth, date(2001, 2, 28)),
            1,
            "28 Feb in a non-leap year"
        );
        assert_eq!(age_on(birth, date(2001, 3, 1)), 1);
        assert_eq!(age_on(birth, date(2004, 2, 28)), 3, "leap year: not yet");
        assert_eq!(age_on(birth, date(2004, 2, 29)), 4);
        assert_eq!(
            age_on(birth, date(2100, 2, 28)),
            100,
            "2100 is not a leap year"
        );
        assert_eq!(age_on(birth, date(2100, 2, 27)), 99);
    }

    #[test]
    fn age_for_28_february_is_unaffected() {
        let birth = date(2003, 2, 28);
        assert_eq!(age_on(birth, date(2004, 2, 28)), 1);
        assert_eq!(age_on(birth, date(2004, 2, 27)), 0);
        assert_eq!(age_on(birth, date(2004, 2, 29)), 1);
    }

    #[test]
    fn age_through_the_id() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        assert_eq!(id.age_on(date(2024, 12, 30)), 74);
        assert_eq!(id.age_on(date(2024, 12, 31)), 75);
    }

    #[test]
    fn masking_keeps_region_and_last_four() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        assert_eq!(id.masked(), "110105********002X");
    }

    #[test]
    fn display_debug_fromstr() {
        let id: ResidentId = "11010519491231002X".parse().unwrap();
        assert_eq!(id.to_string(), "11010519491231002X");
        assert_eq!(format!("{id:?}"), "ResidentId(\"11010519491231002X\")");
        assert!("11010519491231002x".parse::<ResidentId>().is_err());
    }

    #[test]
    fn ordering_is_string_ordering() {
        let a = ResidentId::parse("11010519491231002X").unwrap();
        let b = ResidentId::parse("440524188001010014").unwrap();
        assert!(a < b);
        assert_eq!(a.cmp(&b), a.as_str().cmp(b.as_str()));
    }

    #[test]
    fn deserialises_strictly_from_a_string() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};

        let de: StrDeserializer<'_, Error> = "11010519491231002X".into_deserializer();
        assert_eq!(
            ResidentId::deserialize(de).unwrap().as_str(),
            "11010519491231002X"
        );
        let de: StrDeserializer<'_, Error> = "11010519491231002x".into_deserializer();
        let err = ResidentId::deserialize(de).unwrap_err();
        assert!(err.to_string().contains("position 18"), "{err}");
    }

    #[test]
    fn fix_codes_and_labels() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};

        for fix in [
            IdFix::TrimmedWhitespace,
            IdFix::LowercaseX,
            IdFix::FullWidth,
            IdFix::UpgradedFrom15,
            IdFix::SeparatorsRemoved,
            IdFix::LookAlikeLetters,
            IdFix::Uppercased,
        ] {
            assert!(!fix.label_zh().is_empty());
            // The serde name is the code, so reports and JSON agree.
            let de: StrDeserializer<'_, Error> = fix.code().into_deserializer();
            assert_eq!(IdFix::deserialize(de), Ok(fix));
        }
        assert_eq!(IdFix::UpgradedFrom15.code(), "upgraded_from_15");
    }
}

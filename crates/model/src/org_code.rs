//! 组织机构代码: organisation code, GB 11714-1997, the national identifier of organisations
//! before the unified social credit code (GB 32100-2015) replaced it from 2016.
//!
//! Eight body characters (digits and upper-case letters, `A` = 10 … `Z` = 35), a hyphen, and a
//! check character ([`organisation_code_check`]): `D2143569-X`. A credit code keeps the
//! organisation code as its positions 9–17 ([`crate::Uscc::organisation_code`]), so an old
//! record that still carries it can be joined to the organisation's credit code.

use std::fmt;

use crate::lenient;
use crate::resident_id::IdFix;
use crate::uscc::organisation_code_check;

/// Characters of the body.
pub const BODY_LENGTH: usize = 8;

/// 组织机构代码: a valid organisation code, held as its nine characters without the hyphen.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgCode([u8; BODY_LENGTH + 1]);

/// Why a text is not a valid organisation code.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum OrgCodeError {
    #[error("organisation code is empty")]
    Empty,
    /// Not eight body characters and a check character (the hyphen aside).
    #[error("organisation code has {length} characters besides the hyphen; GB 11714 requires 9")]
    WrongLength { length: usize },
    /// A body character that is not a digit or letter, or a check character that is not a digit
    /// or `X`. The position counts the nine characters (hyphen removed), from 1.
    #[error("invalid character {character:?} at position {position} of the organisation code")]
    InvalidCharacter { position: usize, character: char },
    #[error(
        "check character mismatch: GB 11714 computes {expected:?}, but the code ends in {found:?}"
    )]
    CheckMismatch { expected: char, found: char },
}

impl OrgCodeError {
    /// Stable machine code, e.g. `"org_code_check_mismatch"`.
    pub fn code(&self) -> &'static str {
        match self {
            OrgCodeError::Empty => "org_code_empty",
            OrgCodeError::WrongLength { .. } => "org_code_wrong_length",
            OrgCodeError::InvalidCharacter { .. } => "org_code_invalid_character",
            OrgCodeError::CheckMismatch { .. } => "org_code_check_mismatch",
        }
    }

    /// 中文原因.
    pub fn reason_zh(&self) -> String {
        match self {
            OrgCodeError::Empty => "组织机构代码为空".to_owned(),
            OrgCodeError::WrongLength { length } => {
                format!("长度错误：组织机构代码应为 8 位本体代码加 1 位校验码，实际为 {length} 位")
            }
            OrgCodeError::InvalidCharacter {
                position,
                character,
            } => format!(
                "第 {position} 位字符“{character}”无效：本体代码只允许数字和大写字母，校验码为数字或 X"
            ),
            OrgCodeError::CheckMismatch { expected, found } => {
                format!("校验码错误：按 GB 11714 应为 {expected}，实际为 {found}")
            }
        }
    }
}

impl OrgCode {
    /// Strict parse of the canonical form `XXXXXXXX-X`.
    pub fn parse(s: &str) -> Result<OrgCode, OrgCodeError> {
        let bytes = s.as_bytes();
        if bytes.len() != BODY_LENGTH + 2 || bytes[BODY_LENGTH] != b'-' {
            return Err(OrgCodeError::WrongLength {
                length: s.chars().filter(|c| *c != '-').count(),
            });
        }
        Self::from_nine(s.chars().filter(|c| *c != '-'))
    }

    /// Lenient parse for source data: whitespace, full width, lower case and the hyphen
    /// (present, absent or another dash) are repaired and reported.
    pub fn parse_lenient(s: &str) -> Result<(OrgCode, Vec<IdFix>), OrgCodeError> {
        let mut fixes = Vec::new();
        let written = lenient::read(s);
        if written.trimmed {
            fixes.push(IdFix::TrimmedWhitespace);
        }
        if written.chars.is_empty() {
            return Err(OrgCodeError::Empty);
        }
        let mut lower = false;
        let nine: String = written
            .chars
            .iter()
            .map(|&(_, half)| {
                let upper = half.to_ascii_uppercase();
                lower |= upper != half;
                upper
            })
            .collect();
        let separators = written.separators;
        // The canonical form has exactly one hyphen, before the check character.
        if separators != [(BODY_LENGTH, '-')] {
            fixes.push(IdFix::SeparatorsRemoved);
        }
        if written.full_width {
            fixes.push(IdFix::FullWidth);
        }
        if lower {
            fixes.push(IdFix::Uppercased);
        }
        Self::from_nine(nine.chars()).map(|code| (code, fixes))
    }

    fn from_nine(chars: impl Iterator<Item = char>) -> Result<OrgCode, OrgCodeError> {
        let chars: Vec<char> = chars.collect();
        if chars.is_empty() {
            return Err(OrgCodeError::Empty);
        }
        if chars.len() != BODY_LENGTH + 1 {
            return Err(OrgCodeError::WrongLength {
                length: chars.len(),
            });
        }
        let mut bytes = [0u8; BODY_LENGTH + 1];
        for (index, (slot, &c)) in bytes.iter_mut().zip(&chars).enumerate() {
            let allowed = if index < BODY_LENGTH {
                c.is_ascii_digit() || c.is_ascii_uppercase()
            } else {
                c.is_ascii_digit() || c == 'X'
            };
            if !allowed {
                return Err(OrgCodeError::InvalidCharacter {
                    position: index + 1,
                    character: c,
                });
            }
            *slot = c as u8;
        }
        let body = std::str::from_utf8(&bytes[..BODY_LENGTH]).unwrap_or_default();
        let expected = organisation_code_check(body).unwrap_or('?');
        let found = char::from(bytes[BODY_LENGTH]);
        if expected != found {
            return Err(OrgCodeError::CheckMismatch { expected, found });
        }
        Ok(OrgCode(bytes))
    }

    /// The nine characters without the hyphen, as they stand in a credit code's positions 9–17.
    pub fn compact(&self) -> &str {
        // Constructors store ASCII digits and letters only.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// 规范写法: `XXXXXXXX-X`.
    pub fn canonical(&self) -> String {
        let compact = self.compact();
        format!("{}-{}", &compact[..BODY_LENGTH], &compact[BODY_LENGTH..])
    }
}

impl fmt::Display for OrgCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl fmt::Debug for OrgCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgCode({:?})", self.canonical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Uscc;

    #[test]
    fn the_standards_example_parses() {
        // GB 11714's own example.
        let code = OrgCode::parse("D2143569-X").unwrap();
        assert_eq!(code.compact(), "D2143569X");
        assert_eq!(code.to_string(), "D2143569-X");
        assert_eq!(
            OrgCode::parse("D2143569-5"),
            Err(OrgCodeError::CheckMismatch {
                expected: 'X',
                found: '5'
            })
        );
        assert!(
            OrgCode::parse("D2143569X").is_err(),
            "strict needs the hyphen"
        );
    }

    #[test]
    fn it_is_the_middle_of_the_credit_code() {
        // GB 32100's example embeds M000100Y-4.
        let uscc = Uscc::parse("91350100M000100Y43").unwrap();
        let (code, fixes) = OrgCode::parse_lenient("m000100y4").unwrap();
        assert_eq!(code.compact(), uscc.organisation_code());
        assert_eq!(fixes, vec![IdFix::SeparatorsRemoved, IdFix::Uppercased]);
    }

    #[test]
    fn lenient_repairs_are_reported() {
        let (code, fixes) = OrgCode::parse_lenient(" Ｄ2143569－X").unwrap();
        assert_eq!(code.to_string(), "D2143569-X");
        assert_eq!(fixes, vec![IdFix::TrimmedWhitespace, IdFix::FullWidth]);
        assert_eq!(
            OrgCode::parse_lenient("D2143569-X").unwrap().1,
            Vec::<IdFix>::new()
        );
        assert_eq!(
            OrgCode::parse_lenient("D214356-X"),
            Err(OrgCodeError::WrongLength { length: 8 })
        );
        assert_eq!(
            OrgCode::parse_lenient("D2143569-Y"),
            Err(OrgCodeError::InvalidCharacter {
                position: 9,
                character: 'Y'
            })
        );
        assert_eq!(OrgCode::parse_lenient(" "), Err(OrgCodeError::Empty));
        for e in [
            OrgCodeError::Empty,
            OrgCodeError::WrongLength { length: 3 },
            OrgCodeError::CheckMismatch {
                expected: 'X',
                found: '1',
            },
        ] {
            assert!(e.code().starts_with("org_code_"));
            assert!(!e.reason_zh().is_empty());
        }
    }
}

//! 性别: sex, coded per GB/T 2261.1-2003 (人的性别代码).

/// 性别: sex of a natural person.
///
/// GB/T 2261.1 also has `0` 未知的性别 (unknown) and `9` 未说明的性别 (not stated). They are
/// deliberately not variants: a person's sex is either known or absent, and callers model
/// absence with `Option<Sex>` rather than a sentinel that every `match` would have to handle.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Sex {
    /// 男
    Male,
    /// 女
    Female,
}

impl Sex {
    /// 性别代码: the GB/T 2261.1 code, `"1"` for 男 and `"2"` for 女.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
        }
    }

    /// 中文名称: `"男"` or `"女"`.
    pub fn label_zh(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }

    /// Reads the spellings found in department source data: the GB/T 2261.1 codes `"1"`/`"2"`,
    /// `"男"`/`"女"`, `"男性"`/`"女性"` and `"M"`/`"F"` (either case). Surrounding whitespace is
    /// ignored because spreadsheet exports often pad cells.
    ///
    /// Returns `None` for anything else, including the codes `"0"` (未知) and `"9"` (未说明),
    /// which state that the sex is not known.
    pub fn from_code_or_label(s: &str) -> Option<Sex> {
        match s.trim() {
            "1" | "男" | "男性" | "M" | "m" => Some(Sex::Male),
            "2" | "女" | "女性" | "F" | "f" => Some(Sex::Female),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_labels() {
        assert_eq!(Sex::Male.code(), "1");
        assert_eq!(Sex::Female.code(), "2");
        assert_eq!(Sex::Male.label_zh(), "男");
        assert_eq!(Sex::Female.label_zh(), "女");
    }

    #[test]
    fn reads_source_spellings() {
        for s in ["1", "男", "男性", "M", "m", " 男 "] {
            assert_eq!(Sex::from_code_or_label(s), Some(Sex::Male), "{s:?}");
        }
        for s in ["2", "女", "女性", "F", "f", "\t2"] {
            assert_eq!(Sex::from_code_or_label(s), Some(Sex::Female), "{s:?}");
        }
        for s in ["", "0", "9", "3", "X", "Male", "男女"] {
            assert_eq!(Sex::from_code_or_label(s), None, "{s:?}");
        }
    }

    #[test]
    fn round_trips_through_code_and_label() {
        for sex in [Sex::Male, Sex::Female] {
            assert_eq!(Sex::from_code_or_label(sex.code()), Some(sex));
            assert_eq!(Sex::from_code_or_label(sex.label_zh()), Some(sex));
        }
    }
}

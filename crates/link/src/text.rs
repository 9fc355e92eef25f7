//! Value normalisation shared by comparisons and blocking keys: pinyin, Soundex, dates and
//! resident IDs.

use chrono::NaiveDate;
use miaopi_model::{ResidentId, Sex};
use pinyin::ToPinyin;

/// 姓名 cleaned for comparison: whitespace and the interpuncts of transliterated names
/// (`·`, `•`, `．`) removed, so that `阿卜杜·热合曼` and `阿卜杜热合曼` agree.
pub(crate) fn clean_name_zh(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '•' | '．' | '.' | '・'))
        .collect()
}

/// Whether `b` is `a` with its family and given name swapped (`张伟` / `伟张`, `欧阳晓明` /
/// `晓明欧阳`, as forms written in Western order have it): a rotation of the same characters,
/// at least two of them, and not the same text.
pub fn order_swapped(a: &str, b: &str) -> bool {
    let (x, y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    x.len() == y.len()
        && x.len() >= 2
        && x != y
        && (1..x.len()).any(|k| x[k..].iter().chain(&x[..k]).eq(y.iter()))
}

/// Whether `b` is `a` with one character dropped, or `a` is `b` with one dropped (`欧娜` for
/// `欧阳娜`, a compound surname truncated; `张明` for `张晓明`), the shorter at least two long.
pub fn one_character_dropped(a: &str, b: &str) -> bool {
    let (x, y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (long, short) = if x.len() > y.len() { (x, y) } else { (y, x) };
    long.len() == short.len() + 1
        && short.len() >= 2
        && (0..long.len()).any(|skip| {
            long.iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, c)| c)
                .eq(short.iter())
        })
}

/// Toneless pinyin syllables: one per 汉字; a run of other letters or digits is kept,
/// lower-cased, as one syllable.
pub(crate) fn pinyin_syllables(text: &str) -> Vec<String> {
    let mut syllables = Vec::new();
    let mut latin = String::new();
    for c in text.chars() {
        if let Some(p) = c.to_pinyin() {
            if !latin.is_empty() {
                syllables.push(std::mem::take(&mut latin));
            }
            syllables.push(p.plain().to_owned());
        } else if c.is_alphanumeric() {
            latin.extend(c.to_lowercase());
        } else if !latin.is_empty() {
            syllables.push(std::mem::take(&mut latin));
        }
    }
    if !latin.is_empty() {
        syllables.push(latin);
    }
    syllables
}

/// Toneless pinyin of the whole text, syllables joined without separators.
pub(crate) fn pinyin_joined(text: &str) -> String {
    pinyin_syllables(text).concat()
}

/// First letter of each pinyin syllable, e.g. 张晓明 → `zxm`.
pub(crate) fn pinyin_initials(text: &str) -> String {
    pinyin_syllables(text)
        .iter()
        .filter_map(|s| s.chars().next())
        .collect()
}

/// Toneless pinyin of the first character, the surname (姓). Compound surnames (欧阳) share their
/// first syllable's key, which only widens the block.
pub(crate) fn surname_pinyin(text: &str) -> Option<String> {
    let first = clean_name_zh(text).chars().next()?;
    pinyin_syllables(&first.to_string()).into_iter().next()
}

/// American Soundex (letter + 3 digits) of a Latin name; hanzi are romanised first. `None` when
/// the value has no letter.
pub(crate) fn soundex(text: &str) -> Option<String> {
    fn code(c: char) -> Option<char> {
        match c {
            'b' | 'f' | 'p' | 'v' => Some('1'),
            'c' | 'g' | 'j' | 'k' | 'q' | 's' | 'x' | 'z' => Some('2'),
            'd' | 't' => Some('3'),
            'l' => Some('4'),
            'm' | 'n' => Some('5'),
            'r' => Some('6'),
            _ => None,
        }
    }
    let romanised = pinyin_joined(text);
    let mut letters = romanised.chars().filter(char::is_ascii_alphabetic);
    let first = letters.next()?;
    let mut key = String::with_capacity(4);
    key.push(first.to_ascii_uppercase());
    let mut last = code(first);
    for c in letters {
        let digit = code(c);
        if let Some(d) = digit
            && digit != last
        {
            key.push(d);
            if key.len() == 4 {
                break;
            }
        }
        // `h` and `w` do not separate equal codes; vowels do.
        if !matches!(c, 'h' | 'w') {
            last = digit;
        }
    }
    while key.len() < 4 {
        key.push('0');
    }
    Some(key)
}

/// The 8 digits `YYYYMMDD` of a date written `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD`,
/// `YYYYMMDD` or `YYYY年MM月DD日`; single-digit months and days are padded when separated.
/// `None` when the value has no such shape (a typo'd digit still yields digits).
pub(crate) fn date_digits(text: &str) -> Option<[u8; 8]> {
    let text = text.trim();
    let groups: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    let mut out = [b'0'; 8];
    match groups.as_slice() {
        [all] if all.len() == 8 => out.copy_from_slice(all.as_bytes()),
        [y, m, d] if y.len() == 4 && (1..=2).contains(&m.len()) && (1..=2).contains(&d.len()) => {
            out[0..4].copy_from_slice(y.as_bytes());
            out[6 - m.len()..6].copy_from_slice(m.as_bytes());
            out[8 - d.len()..8].copy_from_slice(d.as_bytes());
        }
        _ => return None,
    }
    Some(out)
}

/// The calendar date of 8 ASCII digits, if they are one.
pub(crate) fn date_of_digits(digits: &[u8]) -> Option<NaiveDate> {
    let text = std::str::from_utf8(digits).ok()?;
    if text.len() != 8 {
        return None;
    }
    let year = text.get(0..4)?.parse().ok()?;
    let month = text.get(4..6)?.parse().ok()?;
    let day = text.get(6..8)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// A resident ID as far as it can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdReading {
    /// Normalised characters: trimmed, half width, upper-case `X`; an upgraded 15-digit number
    /// when it could be parsed.
    pub text: String,
    /// Whether the number passed GB 11643 (lenient parse).
    pub valid: bool,
    /// 出生日期 carried by the number: from the parse, else from digits 7–14.
    pub birth_date: Option<NaiveDate>,
    /// 性别 carried by the number: from the parse, else from digit 17.
    pub sex: Option<Sex>,
}

fn half_width(c: char) -> char {
    match c {
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
        'Ｘ' | 'ｘ' | 'x' => 'X',
        _ => c,
    }
}

/// Reads a resident ID leniently. A number failing its check is still read (that is what a
/// typo looks like), taking birth date and sex from the digits where they make sense.
pub(crate) fn read_resident_id(text: &str) -> Option<IdReading> {
    if let Ok(parsed) = ResidentId::parse_lenient(text) {
        let id = parsed.id;
        return Some(IdReading {
            text: id.as_str().to_owned(),
            valid: true,
            birth_date: Some(id.birth_date()),
            sex: Some(id.sex()),
        });
    }
    let normalised: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(half_width)
        .collect();
    if normalised.is_empty() {
        return None;
    }
    let bytes = normalised.as_bytes();
    let (birth_digits, sex_digit): (Option<Vec<u8>>, Option<u8>) = match bytes.len() {
        18 => (bytes.get(6..14).map(<[u8]>::to_vec), bytes.get(16).copied()),
        15 => (
            bytes.get(6..12).map(|d| [b"19".as_slice(), d].concat()),
            bytes.get(14).copied(),
        ),
        _ => (None, None),
    };
    let birth_date = birth_digits.as_deref().and_then(date_of_digits);
    let sex = sex_digit.filter(u8::is_ascii_digit).map(|d| {
        if (d - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    });
    Some(IdReading {
        text: normalised,
        valid: false,
        birth_date,
        sex,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_variants() {
        assert!(order_swapped("张伟", "伟张"));
        assert!(order_swapped("欧阳晓明", "晓明欧阳"));
        assert!(!order_swapped("张伟", "张伟"));
        assert!(!order_swapped("张伟", "李伟"));
        assert!(!order_swapped("张", "张"));
        assert!(one_character_dropped("欧阳娜", "欧娜"));
        assert!(one_character_dropped("张明", "张晓明"));
        assert!(!one_character_dropped("张晓明", "张晓明"));
        assert!(
            !one_character_dropped("张伟", "张"),
            "one character is not a name"
        );
        assert!(!one_character_dropped("张晓明", "李明"));
    }

    #[test]
    fn pinyin_of_names() {
        assert_eq!(pinyin_syllables("张伟"), vec!["zhang", "wei"]);
        assert_eq!(pinyin_joined("张威"), pinyin_joined("张伟"));
        assert_ne!(pinyin_joined("张伟"), pinyin_joined("章为明"));
        assert_eq!(pinyin_initials("张晓明"), "zxm");
        assert_eq!(surname_pinyin(" 王芳"), Some("wang".into()));
        assert_eq!(pinyin_syllables("Li Na"), vec!["li", "na"]);
    }

    #[test]
    fn soundex_follows_the_classic_rules() {
        assert_eq!(soundex("Robert").as_deref(), Some("R163"));
        assert_eq!(soundex("Rupert").as_deref(), Some("R163"));
        assert_eq!(soundex("Ashcraft").as_deref(), Some("A261"));
        assert_eq!(soundex("Tymczak").as_deref(), Some("T522"));
        assert_eq!(soundex("Pfister").as_deref(), Some("P236"));
        assert_eq!(soundex("Lee").as_deref(), Some("L000"));
        assert_eq!(soundex("1234"), None);
    }

    #[test]
    fn dates_in_several_spellings() {
        assert_eq!(date_digits("1990-03-07"), Some(*b"19900307"));
        assert_eq!(date_digits("1990/3/7"), Some(*b"19900307"));
        assert_eq!(date_digits("1990年3月7日"), Some(*b"19900307"));
        assert_eq!(date_digits("19900307"), Some(*b"19900307"));
        assert_eq!(date_digits("1990-03"), None);
        assert_eq!(date_digits("199003071"), None);
        assert!(date_of_digits(b"19900230").is_none());
        assert!(date_of_digits(b"19900228").is_some());
    }

    #[test]
    fn ids_read_even_when_invalid() {
        let valid = read_resident_id("11010519491231002x").unwrap();
        assert!(valid.valid);
        assert_eq!(valid.text, "11010519491231002X");
        assert_eq!(valid.sex, Some(Sex::Female));

        // Check character wrong: still read, birth date and sex from the digits.
        let typo = read_resident_id("110105194912310025").unwrap();
        assert!(!typo.valid);
        assert_eq!(typo.birth_date, NaiveDate::from_ymd_opt(1949, 12, 31));
        assert_eq!(typo.sex, Some(Sex::Female));

        let legacy = read_resident_id("440304800229123").unwrap();
        assert!(legacy.valid);
        assert_eq!(legacy.text, "440304198002291236");
        assert_eq!(read_resident_id("  "), None);
    }
}

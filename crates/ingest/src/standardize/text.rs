//! 文本清洗: the character-level repairs shared by every text field — trimming, full-width to
//! half-width, whitespace in names, traditional to simplified characters.
//!
//! Every function returns `Cow::Borrowed` when it changed nothing, so clean values (the vast
//! majority) pass through without allocating.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;

/// Whitespace as clerks type it: ASCII and Unicode whitespace, which includes the ideographic
/// space U+3000 that a Chinese IME inserts in full-width mode.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// 去除首尾空白.
pub(crate) fn trim(s: &str) -> &str {
    // Nearly every value has no surrounding whitespace: look at the two ends only.
    match (s.chars().next(), s.chars().next_back()) {
        (Some(first), Some(last)) if !is_space(first) && !is_space(last) => s,
        _ => s.trim_matches(is_space),
    }
}

/// The ASCII counterpart of a full-width form (U+FF01..=U+FF5E) and a space for the ideographic
/// space U+3000; `None` for every other character.
pub(crate) fn half_width_of(c: char) -> Option<char> {
    match c {
        '\u{3000}' => Some(' '),
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0),
        _ => None,
    }
}

/// Which full-width characters to convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HalfWidth {
    /// Every full-width ASCII form: for identifiers, codes, numbers and dates, where a Chinese
    /// IME's `１２３` or `－` can only mean the ASCII character.
    All,
    /// Digits, Latin letters and the ideographic space only: in free Chinese text the
    /// full-width punctuation `（）`, `，` or `：` is the correct typography (an enterprise is
    /// registered as `某某有限公司（深圳）`), so converting it would corrupt the value.
    Alphanumeric,
}

impl HalfWidth {
    fn converts(self, c: char) -> Option<char> {
        let half = half_width_of(c)?;
        match self {
            HalfWidth::All => Some(half),
            HalfWidth::Alphanumeric => {
                (half.is_ascii_alphanumeric() || half == ' ').then_some(half)
            }
        }
    }
}

/// 全角转半角.
pub(crate) fn half_width(s: &str, mode: HalfWidth) -> Cow<'_, str> {
    // Full-width forms are 3 bytes in UTF-8 and all ASCII is 1 byte, so an ASCII-only string
    // (most codes, numbers and dates) is skipped with one byte scan.
    if s.is_ascii() || !s.chars().any(|c| mode.converts(c).is_some()) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(|c| mode.converts(c).unwrap_or(c)).collect())
}

/// Removes every whitespace character (inner spaces in a Chinese name are always noise).
pub(crate) fn remove_spaces(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_space) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().filter(|&c| !is_space(c)).collect())
}

/// A CJK ideograph (the unified blocks, extension A, compatibility ideographs and the
/// supplementary planes' extensions), or the interpunct `·` of transliterated minority and
/// foreign names (`买买提·艾力`).
pub(crate) fn is_cjk_name_char(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3134F}'
        | '·' | '•' | '\u{30FB}')
}

/// Whether the value is a Chinese personal name once spaces are ignored: only ideographs and
/// the interpunct. Used where a field may hold a person's or an organisation's name (`权利人名称`):
/// spaces are removed only from the former, because `Shenzhen ABC Ltd` needs them.
pub(crate) fn is_all_cjk(s: &str) -> bool {
    let mut any = false;
    for c in s.chars() {
        if is_space(c) {
            continue;
        }
        if !is_cjk_name_char(c) {
            return false;
        }
        any = true;
    }
    any
}

/// 繁体转简体: OpenCC's traditional → simplified conversion (`t2s`), with a precomputed table of
/// the characters it changes so that a name with none of them (nearly all) is not converted.
pub(crate) struct T2s {
    opencc: OpenCC,
    /// One bit per BMP code point: does `t2s` change this character on its own?
    changes: Vec<u64>,
}

impl std::fmt::Debug for T2s {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("T2s")
    }
}

/// The BMP ranges where traditional characters live (CJK radicals and symbols through the
/// unified ideographs, and the compatibility ideographs).
const T2S_RANGES: [(u32, u32); 2] = [(0x2E80, 0x9FFF), (0xF900, 0xFAFF)];

impl T2s {
    /// The process-wide converter: loading OpenCC's dictionaries and building the table takes
    /// tens of milliseconds, so every [`Standardizer`](super::Standardizer) shares one.
    pub(crate) fn shared() -> Result<Arc<T2s>, String> {
        static SHARED: OnceLock<Result<Arc<T2s>, String>> = OnceLock::new();
        SHARED.get_or_init(|| T2s::load().map(Arc::new)).clone()
    }

    fn load() -> Result<T2s, String> {
        let opencc = OpenCC::from_config(BuiltinConfig::T2s).map_err(|e| e.to_string())?;
        // Convert every candidate character at once, one per line: phrases never span a newline,
        // so each line is the character's own conversion.
        let mut all = String::with_capacity(0x8000 * 4);
        let mut order = Vec::with_capacity(0x8000);
        for (lo, hi) in T2S_RANGES {
            for cp in lo..=hi {
                if let Some(c) = char::from_u32(cp) {
                    all.push(c);
                    all.push('\n');
                    order.push(c);
                }
            }
        }
        let converted = opencc.convert(&all);
        let mut changes = vec![0u64; 0x10000 / 64];
        let lines: Vec<&str> = converted.split('\n').collect();
        // `split` yields one empty piece after the final newline.
        if lines.len() == order.len() + 1 {
            for (c, line) in order.iter().zip(&lines) {
                let mut buf = [0u8; 4];
                if *line != c.encode_utf8(&mut buf) {
                    set_bit(&mut changes, *c);
                }
            }
        } else {
            // A dictionary that maps a character to several lines (never seen) would misalign
            // the lines; fall back to one conversion per character.
            for c in order {
                let mut buf = [0u8; 4];
                let s = c.encode_utf8(&mut buf);
                if opencc.convert(s) != *s {
                    set_bit(&mut changes, c);
                }
            }
        }
        Ok(T2s { opencc, changes })
    }

    fn may_change(&self, c: char) -> bool {
        let cp = u32::from(c) as usize;
        if cp > 0xFFFF {
            // Supplementary-plane ideographs are rare; let OpenCC decide.
            return true;
        }
        self.changes
            .get(cp / 64)
            .is_some_and(|word| word & (1u64 << (cp % 64)) != 0)
    }

    /// The simplified form of `s`.
    pub(crate) fn convert<'s>(&self, s: &'s str) -> Cow<'s, str> {
        if s.is_ascii() || !s.chars().any(|c| self.may_change(c)) {
            return Cow::Borrowed(s);
        }
        let converted = self.opencc.convert(s);
        if converted == s {
            Cow::Borrowed(s)
        } else {
            Cow::Owned(converted)
        }
    }
}

fn set_bit(bits: &mut [u64], c: char) {
    let cp = u32::from(c) as usize;
    if let Some(word) = bits.get_mut(cp / 64) {
        *word |= 1u64 << (cp % 64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_ideographic_space() {
        assert_eq!(trim("\u{3000} 张三\t"), "张三");
    }

    #[test]
    fn half_width_modes() {
        assert_eq!(half_width("ＡＢ１２", HalfWidth::All), "AB12");
        assert_eq!(
            half_width("某公司（深圳）１号", HalfWidth::Alphanumeric),
            "某公司（深圳）1号"
        );
        assert_eq!(half_width("（深圳）", HalfWidth::All), "(深圳)");
        assert!(matches!(
            half_width("abc", HalfWidth::All),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            half_width("（）", HalfWidth::Alphanumeric),
            Cow::Borrowed(_)
        ));
        assert_eq!(half_width("张\u{3000}三", HalfWidth::Alphanumeric), "张 三");
    }

    #[test]
    fn spaces_and_cjk() {
        assert_eq!(remove_spaces(" 张 三 "), "张三");
        assert!(is_all_cjk("张 三"));
        assert!(is_all_cjk("买买提·艾力"));
        assert!(!is_all_cjk("Shenzhen ABC"));
        assert!(!is_all_cjk("深圳市某某有限公司（深圳）"));
        assert!(!is_all_cjk("  "));
    }

    #[test]
    fn traditional_to_simplified() {
        let t2s = T2s::shared().unwrap();
        assert_eq!(t2s.convert("陳國華"), "陈国华");
        assert_eq!(t2s.convert("歐陽曉鳳"), "欧阳晓凤");
        assert_eq!(t2s.convert("鍾偉"), "钟伟");
        assert!(matches!(t2s.convert("张三"), Cow::Borrowed(_)));
        assert!(matches!(t2s.convert("abc"), Cow::Borrowed(_)));
    }
}

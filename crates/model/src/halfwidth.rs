//! 全角转半角: full-width to half-width conversion for identifiers typed with a Chinese IME.

/// Maps a full-width ASCII variant (U+FF01..=U+FF5E, e.g. `０`, `Ｘ`, `ａ`) to its ASCII
/// counterpart and the ideographic space U+3000 to a space; returns every other character
/// unchanged.
///
/// Chinese input methods in full-width mode produce these forms, and they look identical to
/// ASCII in most fonts, so a clerk cannot see the difference on screen.
pub(crate) fn to_half_width(c: char) -> char {
    const FULL_WIDTH_OFFSET: u32 = 0xFEE0;
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - FULL_WIDTH_OFFSET).unwrap_or(c),
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::to_half_width;

    #[test]
    fn converts_full_width_ascii() {
        assert_eq!(to_half_width('０'), '0');
        assert_eq!(to_half_width('９'), '9');
        assert_eq!(to_half_width('Ｘ'), 'X');
        assert_eq!(to_half_width('ｘ'), 'x');
        assert_eq!(to_half_width('Ａ'), 'A');
        assert_eq!(to_half_width('ｚ'), 'z');
        assert_eq!(to_half_width('！'), '!');
        assert_eq!(to_half_width('～'), '~');
        assert_eq!(to_half_width('\u{3000}'), ' ');
    }

    #[test]
    fn leaves_other_characters_alone() {
        for c in ['0', 'x', '男', '\u{FF00}', '\u{FF5F}', '｡'] {
            assert_eq!(to_half_width(c), c);
        }
    }
}

//! 宽松解析的共用规则: what lenient identifier parsing may repair without guessing.
//!
//! Both repairs here are safe only because the identifier carries a check character that is
//! verified afterwards: a separator carries no information, and a look-alike letter stands where
//! the standard allows digits only, so the digit it replaces is the only one it can mean.

use crate::halfwidth::to_half_width;

/// An identifier as lenient parsing first reads it, the same for every code type: trimmed,
/// each character in half width, separators taken out (and where they stood remembered).
pub(crate) struct Written {
    /// Leading or trailing whitespace was removed.
    pub trimmed: bool,
    /// Some character was full width.
    pub full_width: bool,
    /// Each separator removed: (the number of kept characters before it, the separator).
    pub separators: Vec<(usize, char)>,
    /// Each kept character: (as written, in half width).
    pub chars: Vec<(char, char)>,
}

/// Reads `s` as [`Written`].
pub(crate) fn read(s: &str) -> Written {
    let trimmed = s.trim();
    let mut w = Written {
        trimmed: trimmed.len() != s.len(),
        full_width: false,
        separators: Vec::new(),
        chars: Vec::with_capacity(trimmed.len()),
    };
    for original in trimmed.chars() {
        let half = to_half_width(original);
        w.full_width |= half != original;
        if is_separator(half) {
            w.separators.push((w.chars.len(), half));
        } else {
            w.chars.push((original, half));
        }
    }
    w
}

/// Separators units put inside identifiers: spaces (also U+3000 after half-width conversion),
/// hyphens and dashes (`440304-19850312-0012`, the 6-8-4 grouping of printed cards), dots.
pub fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '-'
            | '\u{2010}'
            | '\u{2011}'
            | '\u{2012}'
            | '\u{2013}'
            | '\u{2014}'
            | '.'
            | '\u{00B7}'
    )
}

/// The digit an OCR or typing look-alike letter stands for: `O`/`o` for 0, `I`/`l`/`i` for 1,
/// `Z`/`z` for 2, `S`/`s` for 5, `B` for 8. `None` for every other character.
pub fn look_alike_digit(c: char) -> Option<char> {
    match c {
        'O' | 'o' => Some('0'),
        'I' | 'l' | 'i' => Some('1'),
        'Z' | 'z' => Some('2'),
        'S' | 's' => Some('5'),
        'B' => Some('8'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_map_to_one_digit_each() {
        for (letter, digit) in [
            ('O', '0'),
            ('o', '0'),
            ('I', '1'),
            ('l', '1'),
            ('Z', '2'),
            ('S', '5'),
            ('B', '8'),
        ] {
            assert_eq!(look_alike_digit(letter), Some(digit));
        }
        for other in ['X', 'x', 'A', '0', '9', '男'] {
            assert_eq!(look_alike_digit(other), None);
        }
    }

    #[test]
    fn read_trims_converts_and_takes_out_separators() {
        let w = read(" ４４-03 ");
        assert!(w.trimmed && w.full_width);
        assert_eq!(w.separators, [(2, '-')]);
        assert_eq!(w.chars, [('４', '4'), ('４', '4'), ('0', '0'), ('3', '3')]);
    }

    #[test]
    fn separators() {
        for c in [' ', '-', '\u{2014}', '.'] {
            assert!(is_separator(c));
        }
        for c in ['0', 'X', '/', '_'] {
            assert!(!is_separator(c));
        }
    }
}

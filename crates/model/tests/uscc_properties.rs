//! Properties of GB 32100 unified social credit codes and their mod 31 check.

use miaopi_model::uscc::{USCC_ALPHABET, check_char};
use miaopi_model::{Uscc, UsccError};
use proptest::prelude::*;

fn alphabet() -> Vec<char> {
    USCC_ALPHABET.chars().collect()
}

fn first17() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(alphabet()), 17)
        .prop_map(|chars| chars.into_iter().collect())
}

fn valid_uscc() -> impl Strategy<Value = Uscc> {
    first17().prop_map(|s| Uscc::from_first17(&s).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// (1) Built codes validate and round-trip through `parse`.
    #[test]
    fn from_first17_round_trips(first in first17()) {
        let code = Uscc::from_first17(&first).unwrap();
        prop_assert_eq!(&code.as_str()[..17], first.as_str());
        prop_assert_eq!(code.check(), check_char(&first).unwrap());
        prop_assert_eq!(Uscc::parse(code.as_str()), Ok(code));
        prop_assert_eq!(Uscc::parse_lenient(&code.as_str().to_ascii_lowercase()), Ok(code));
        prop_assert_eq!(code.region_code(), &first[2..8]);
        prop_assert_eq!(code.organisation_code(), &first[8..17]);
    }

    /// (2) Any single substitution by another alphabet character is detected.
    #[test]
    fn single_substitution_is_always_detected(
        code in valid_uscc(),
        position in 0usize..18,
        shift in 1usize..31,
    ) {
        let alphabet = alphabet();
        let mut chars: Vec<char> = code.as_str().chars().collect();
        let index = alphabet.iter().position(|&c| c == chars[position]).unwrap();
        chars[position] = alphabet[(index + shift) % alphabet.len()];
        let changed: String = chars.into_iter().collect();
        prop_assert!(
            matches!(Uscc::parse(&changed), Err(UsccError::CheckMismatch { .. })),
            "{} should fail the check", changed
        );
    }

    /// (3) A swap of two different characters is detected unless it swaps the first character
    /// with the check character, which share weight 1.
    #[test]
    fn transposition_detected_unless_first_and_last(
        code in valid_uscc(),
        i in 0usize..18,
        j in 0usize..18,
    ) {
        let (i, j) = (i.min(j), i.max(j));
        let mut bytes = code.as_str().as_bytes().to_vec();
        bytes.swap(i, j);
        prop_assume!(bytes[i] != bytes[j]);
        let swapped = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(Uscc::parse(&swapped).is_ok(), (i, j) == (0, 17), "{}", swapped);
    }

    #[test]
    fn adjacent_transposition_is_always_detected(code in valid_uscc(), i in 0usize..17) {
        let mut bytes = code.as_str().as_bytes().to_vec();
        bytes.swap(i, i + 1);
        prop_assume!(bytes[i] != bytes[i + 1]);
        prop_assert!(Uscc::parse(std::str::from_utf8(&bytes).unwrap()).is_err());
    }

    /// (5) Parsing never panics, on anything.
    #[test]
    fn parsing_never_panics(s in any::<String>()) {
        let _ = Uscc::parse(&s);
        let _ = Uscc::parse_lenient(&s);
        let _ = Uscc::from_first17(&s);
        let _ = check_char(&s);
    }

    #[test]
    fn lenient_never_panics_on_code_like_strings(s in "[0-9A-Za-zＡ-Ｚａ-ｚ０-９ \u{3000}]{0,20}") {
        if let Ok(code) = Uscc::parse_lenient(&s) {
            prop_assert_eq!(Uscc::parse(code.as_str()), Ok(code));
        }
    }
}

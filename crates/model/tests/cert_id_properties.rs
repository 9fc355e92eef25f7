//! Properties of electronic certificate identifiers and ISO 7064 MOD 37,36.

use miaopi_model::CertificateId;
use miaopi_model::cert_id::{mod37_36_check, mod37_36_valid};
use proptest::prelude::*;

const ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn value(c: char) -> u32 {
    c.to_digit(36).unwrap()
}

/// Reference model of the hybrid system's running state, as ISO 7064 defines it: start at
/// M = 36; per character, s = (p + a) mod 36 with 0 read as 36, then p = 2s mod 37.
fn state_after(data: &str) -> u32 {
    data.chars().fold(36, |p, c| {
        let s = match (p + value(c)) % 36 {
            0 => 36,
            s => s,
        };
        2 * s % 37
    })
}

fn data() -> impl Strategy<Value = String> {
    "[0-9A-Za-z]{0,40}"
}

fn part() -> impl Strategy<Value = String> {
    "[0-9A-Za-z]{1,20}"
}

/// Data (upper case) followed by its check character.
fn valid_string() -> impl Strategy<Value = String> {
    "[0-9A-Z]{1,40}".prop_map(|d| {
        let check = mod37_36_check(&d).unwrap();
        format!("{d}{check}")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The check character is the one that makes the reference model end in s = 1.
    #[test]
    fn check_matches_the_reference_model(d in data()) {
        let check = mod37_36_check(&d).unwrap();
        prop_assert!(check.is_ascii_digit() || check.is_ascii_uppercase());
        prop_assert_eq!((state_after(&d) + value(check)) % 36, 1);
        let with_check = format!("{d}{check}");
        prop_assert!(mod37_36_valid(&with_check));
        let with_lower_check = format!("{d}{}", check.to_ascii_lowercase());
        prop_assert!(mod37_36_valid(&with_lower_check));
        prop_assert_eq!(mod37_36_check(&d.to_ascii_lowercase()), Ok(check));
    }

    /// (1) Built identifiers validate and round-trip through `parse`.
    #[test]
    fn certificate_round_trips(t in part(), i in part(), s in part(), version in 0u16..=999) {
        let id = CertificateId::new(&t, &i, &s, version).unwrap();
        let text = id.to_string_with_check();
        prop_assert_eq!(CertificateId::parse(&text), Ok(id.clone()));
        prop_assert_eq!(CertificateId::parse(&text.to_ascii_lowercase()), Ok(id.clone()));
        prop_assert!(mod37_36_valid(&text.replace('.', "")));
        prop_assert_eq!(id.type_code, t.to_ascii_uppercase());
        prop_assert_eq!(id.version, version);
    }

    /// (2) Changing any one character, check included, to another character is detected:
    /// every step of the hybrid system is a bijection of the state.
    #[test]
    fn single_substitution_is_always_detected(
        v in valid_string(),
        position in any::<prop::sample::Index>(),
        shift in 1usize..36,
    ) {
        let mut chars: Vec<char> = v.chars().collect();
        let position = position.index(chars.len());
        let index = ALPHABET.find(chars[position]).unwrap();
        chars[position] = ALPHABET.as_bytes()[(index + shift) % 36] as char;
        let changed: String = chars.into_iter().collect();
        prop_assert!(!mod37_36_valid(&changed), "{} should fail", changed);
    }

    /// (2) …also inside a full certificate identifier.
    #[test]
    fn certificate_substitution_is_detected(
        t in part(),
        s in part(),
        version in 0u16..=999,
        position in any::<prop::sample::Index>(),
        shift in 1usize..36,
    ) {
        let id = CertificateId::new(&t, "114403040075424871", &s, version).unwrap();
        let text = id.to_string_with_check();
        // Byte offsets of the changeable characters: all but the fixed prefix's ten.
        let alnum: Vec<usize> = text
            .char_indices()
            .filter(|(_, c)| c.is_ascii_alphanumeric())
            .map(|(i, _)| i)
            .skip(10)
            .collect();
        let at = alnum[position.index(alnum.len())];
        let mut bytes = text.into_bytes();
        let index = ALPHABET.find(char::from(bytes[at])).unwrap();
        bytes[at] = ALPHABET.as_bytes()[(index + shift) % 36];
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(CertificateId::parse(&changed).is_err(), "{} should fail", changed);
    }

    /// (3) Adjacent transposition of two different characters is NOT always detected. It goes
    /// unnoticed exactly when, with p the state before the pair, {(p+a) mod 36, (p+b) mod 36}
    /// = {18, 19}: there 2s mod 37 wraps for one order and not the other, and the wrap (−37)
    /// cancels the difference mod 36. Holds for the last data character and the check too.
    #[test]
    fn adjacent_transposition_detected_unless_18_19(
        v in valid_string(),
        k in any::<prop::sample::Index>(),
    ) {
        let chars: Vec<char> = v.chars().collect();
        let k = k.index(chars.len() - 1);
        let (a, b) = (value(chars[k]), value(chars[k + 1]));
        prop_assume!(a != b);
        let p = state_after(&chars[..k].iter().collect::<String>());
        let mut pair = [(p + a) % 36, (p + b) % 36];
        pair.sort_unstable();
        let undetectable = pair == [18, 19];

        let mut swapped = chars.clone();
        swapped.swap(k, k + 1);
        let swapped: String = swapped.into_iter().collect();
        prop_assert_eq!(mod37_36_valid(&swapped), undetectable, "{} → {}", v, swapped);
    }

    /// The undetectable pair, aimed at directly: for any prefix, the pair of values
    /// 18−p and 19−p (mod 36) can be swapped without changing the check.
    #[test]
    fn the_18_19_pair_is_never_detected(prefix in "[0-9A-Z]{0,20}", suffix in "[0-9A-Z]{0,20}") {
        let p = state_after(&prefix);
        let a = ALPHABET.as_bytes()[((18 + 36 - p % 36) % 36) as usize] as char;
        let b = ALPHABET.as_bytes()[((19 + 36 - p % 36) % 36) as usize] as char;
        let one = format!("{prefix}{a}{b}{suffix}");
        let other = format!("{prefix}{b}{a}{suffix}");
        prop_assert_eq!(mod37_36_check(&one), mod37_36_check(&other));
    }

    /// (5) Nothing panics on arbitrary input.
    #[test]
    fn never_panics(s in any::<String>()) {
        let _ = CertificateId::parse(&s);
        let _ = mod37_36_check(&s);
        let _ = mod37_36_valid(&s);
    }

    #[test]
    fn never_panics_on_identifier_like_strings(
        s in "1\\.2\\.156\\.3005\\.2(\\.[0-9A-Za-z.]{0,6}){0,7}",
    ) {
        if let Ok(id) = CertificateId::parse(&s) {
            prop_assert_eq!(CertificateId::parse(&id.to_string()), Ok(id));
        }
    }
}

/// Exhaustively: at every one of the 36 states, exactly one of the 630 unordered pairs of
/// different characters survives an adjacent transposition. One-character prefixes reach all
/// 36 states, because s runs over 1..=36 and doubling mod 37 is a bijection.
#[test]
fn exactly_one_pair_in_630_is_undetected_per_state() {
    let mut states_seen = std::collections::BTreeSet::new();
    let mut undetected_total = 0;
    for x in ALPHABET.chars() {
        let prefix = x.to_string();
        states_seen.insert(state_after(&prefix));
        let mut undetected = 0;
        for (i, a) in ALPHABET.chars().enumerate() {
            for b in ALPHABET.chars().skip(i + 1) {
                if mod37_36_check(&format!("{prefix}{a}{b}"))
                    == mod37_36_check(&format!("{prefix}{b}{a}"))
                {
                    undetected += 1;
                }
            }
        }
        assert_eq!(undetected, 1, "state after {prefix:?}");
        undetected_total += undetected;
    }
    assert_eq!(states_seen.len(), 36);
    assert_eq!(
        undetected_total, 36,
        "36 of 36 × 630 = 22 680 transpositions: 1 in 630"
    );
}

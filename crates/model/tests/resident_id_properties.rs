//! Properties of GB 11643 resident ID numbers and their ISO 7064 MOD 11-2 check.

use chrono::{Datelike, Days, NaiveDate};
use miaopi_model::resident_id::check_char;
use miaopi_model::{IdFix, ResidentId, ResidentIdError, Sex, age_on, region};
use proptest::prelude::*;

fn province() -> impl Strategy<Value = u32> {
    proptest::sample::select(
        region::PROVINCES
            .iter()
            .map(|(code, _)| *code)
            .collect::<Vec<_>>(),
    )
}

fn region_code() -> impl Strategy<Value = u32> {
    (province(), 0u32..10_000).prop_map(|(province, rest)| province * 10_000 + rest)
}

fn days_from_ce(y: i32, m: u32, d: u32) -> i32 {
    NaiveDate::from_ymd_opt(y, m, d).unwrap().num_days_from_ce()
}

fn date_between(from: (i32, u32, u32), to: (i32, u32, u32)) -> impl Strategy<Value = NaiveDate> {
    (days_from_ce(from.0, from.1, from.2)..=days_from_ce(to.0, to.1, to.2))
        .prop_map(|days| NaiveDate::from_num_days_from_ce_opt(days).unwrap())
}

/// Any date an ID can hold, weighted towards the years real records have.
fn birth_date() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        3 => date_between((1900, 1, 1), (2030, 12, 31)),
        1 => date_between((1800, 1, 1), (9999, 12, 31)),
    ]
}

fn valid_id() -> impl Strategy<Value = ResidentId> {
    (region_code(), birth_date(), 0u16..=999)
        .prop_map(|(region, birth, seq)| ResidentId::from_parts(region, birth, seq).unwrap())
}

fn swapped(id: &ResidentId, i: usize, j: usize) -> Vec<u8> {
    let mut bytes = id.as_str().as_bytes().to_vec();
    bytes.swap(i, j);
    bytes
}

/// Whether the 18 characters pass the check alone (region and date aside); `None` when a
/// character that is not a digit sits in the first 17 positions, where the check is undefined.
fn checksum_passes(bytes: &[u8]) -> Option<bool> {
    match check_char(&bytes[..17]) {
        Ok(check) => Some(check == bytes[17]),
        Err(ResidentIdError::InvalidCharacter { .. }) => None,
        Err(other) => panic!("unexpected {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// (1) Built IDs validate, round-trip through `parse`, and carry their parts.
    #[test]
    fn from_parts_round_trips(region in region_code(), birth in birth_date(), seq in 0u16..=999) {
        let id = ResidentId::from_parts(region, birth, seq).unwrap();
        prop_assert_eq!(ResidentId::parse(id.as_str()), Ok(id));
        let lenient = ResidentId::parse_lenient(id.as_str()).map(|p| (p.id, p.fixes));
        prop_assert_eq!(lenient, Ok((id, vec![])));
        prop_assert_eq!(id.region_code(), format!("{region:06}"));
        prop_assert_eq!(id.birth_date(), birth);
        prop_assert_eq!(id.sequence(), seq);
        prop_assert_eq!(id.sex(), if seq % 2 == 1 { Sex::Male } else { Sex::Female });
        prop_assert_eq!(id.as_str().len(), 18);
    }

    /// (2) Changing any one character to another character allowed at that position breaks
    /// the check: MOD 11-2 detects every single substitution.
    #[test]
    fn single_substitution_is_always_detected(
        id in valid_id(),
        position in 0usize..18,
        shift in 0usize..10,
    ) {
        const ALLOWED: &[u8] = b"0123456789X";
        let allowed = if position == 17 { ALLOWED } else { &ALLOWED[..10] };
        let mut bytes = id.as_str().as_bytes().to_vec();
        let index = allowed.iter().position(|&c| c == bytes[position]).unwrap();
        // A step of 1..len-1 always lands on a different allowed character.
        let step = 1 + shift % (allowed.len() - 1);
        bytes[position] = allowed[(index + step) % allowed.len()];

        prop_assert_eq!(checksum_passes(&bytes), Some(false));
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(ResidentId::parse(&changed).is_err());
        prop_assert!(ResidentId::parse_lenient(&changed).is_err());
    }

    /// (3a) Swapping two different adjacent characters is always detected: neighbouring
    /// weights differ (w_i = 2·w_{i+1} mod 11).
    #[test]
    fn adjacent_transposition_is_always_detected(id in valid_id(), i in 0usize..17) {
        let bytes = swapped(&id, i, i + 1);
        prop_assume!(bytes[i] != bytes[i + 1]);
        prop_assert_ne!(checksum_passes(&bytes), Some(true));
        prop_assert!(ResidentId::parse(std::str::from_utf8(&bytes).unwrap()).is_err());
    }

    /// (3b) For any two positions, a swap of different characters passes the check exactly
    /// when they are 10 apart (2^10 ≡ 1 mod 11 gives them equal weights).
    #[test]
    fn transposition_passes_the_check_iff_10_apart(
        id in valid_id(),
        i in 0usize..18,
        j in 0usize..18,
    ) {
        let (i, j) = (i.min(j), i.max(j));
        let bytes = swapped(&id, i, j);
        prop_assume!(bytes[i] != bytes[j]);
        match checksum_passes(&bytes) {
            Some(passes) => prop_assert_eq!(passes, j - i == 10),
            // An X moved off the last position can never be valid.
            None => prop_assert!(ResidentId::parse(std::str::from_utf8(&bytes).unwrap()).is_err()),
        }
        if j - i != 10 {
            prop_assert!(ResidentId::parse(std::str::from_utf8(&bytes).unwrap()).is_err());
        }
    }

    /// (3c) The undetected case, aimed at directly: every swap 10 apart keeps the check, so the
    /// number is still accepted whenever region and date survive the swap.
    #[test]
    fn transposition_10_apart_is_never_detected(id in valid_id(), i in 0usize..8) {
        let bytes = swapped(&id, i, i + 10);
        prop_assume!(bytes[i] != b'X'); // position 8 cannot hold the X from position 18
        prop_assert_eq!(checksum_passes(&bytes), Some(true));
    }

    /// (4) The legacy 15-digit form of a 19xx birth upgrades back to the same ID.
    #[test]
    fn legacy_form_round_trips(
        region in region_code(),
        birth in date_between((1900, 1, 1), (1999, 12, 31)),
        seq in 0u16..=999,
    ) {
        let id = ResidentId::from_parts(region, birth, seq).unwrap();
        let legacy = id.to_legacy_15().unwrap();
        prop_assert_eq!(legacy.len(), 15);
        let parsed = ResidentId::parse_lenient(&legacy).unwrap();
        prop_assert_eq!(parsed.id, id);
        prop_assert_eq!(parsed.fixes, vec![IdFix::UpgradedFrom15]);
    }

    #[test]
    fn no_legacy_form_outside_the_1900s(id in valid_id()) {
        let in_1900s = (1900..=1999).contains(&id.birth_date().year());
        prop_assert_eq!(id.to_legacy_15().is_some(), in_1900s);
    }

    /// Messy renderings of a valid ID come back to it, with the fixes named.
    #[test]
    fn lenient_undoes_source_noise(
        id in valid_id(),
        lower in any::<bool>(),
        wide in any::<bool>(),
        pad in any::<bool>(),
    ) {
        let mut text: String = id
            .as_str()
            .chars()
            .map(|c| if lower && c == 'X' { 'x' } else { c })
            .map(|c| if wide { char::from_u32(u32::from(c) + 0xFEE0).unwrap() } else { c })
            .collect();
        if pad {
            text = format!(" \u{3000}{text}\t");
        }
        let mut expected = Vec::new();
        if pad {
            expected.push(IdFix::TrimmedWhitespace);
        }
        if wide {
            expected.push(IdFix::FullWidth);
        }
        if lower && id.check() == 'X' {
            expected.push(IdFix::LowercaseX);
        }
        let parsed = ResidentId::parse_lenient(&text).unwrap();
        prop_assert_eq!(parsed.id, id);
        prop_assert_eq!(parsed.fixes, expected);
    }

    /// (5) Lenient parsing never panics, on anything.
    #[test]
    fn lenient_never_panics_on_any_string(s in any::<String>()) {
        let _ = ResidentId::parse_lenient(&s);
        let _ = ResidentId::parse(&s);
    }

    /// (5) …nor on strings built from the characters IDs are made of, which reach deeper.
    #[test]
    fn lenient_never_panics_on_id_like_strings(s in "[0-9０-９xXｘＸ \u{3000}\t]{0,20}") {
        if let Ok(parsed) = ResidentId::parse_lenient(&s) {
            // Whatever it accepts is a real ID.
            prop_assert_eq!(ResidentId::parse(parsed.id.as_str()), Ok(parsed.id));
            if parsed.fixes.is_empty() {
                prop_assert_eq!(parsed.id.as_str(), s.as_str());
            }
        }
    }

    #[test]
    fn check_char_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..20)) {
        if let Ok(c) = check_char(&bytes) {
            prop_assert!(c.is_ascii_digit() || c == b'X');
        }
    }

    #[test]
    fn from_parts_never_panics(region in any::<u32>(), days in any::<i32>(), seq in any::<u16>()) {
        if let Some(birth) = NaiveDate::from_num_days_from_ce_opt(days)
            && let Ok(id) = ResidentId::from_parts(region, birth, seq)
        {
            prop_assert_eq!(ResidentId::parse(id.as_str()), Ok(id));
        }
    }

    /// Age rises by exactly one on each birthday and never otherwise.
    #[test]
    fn age_steps_by_one_on_birthdays(birth in birth_date(), offset_days in 0u64..40_000) {
        let Some(on) = birth.checked_add_days(Days::new(offset_days)) else { return Ok(()) };
        let Some(next) = on.succ_opt() else { return Ok(()) };
        let (today, tomorrow) = (age_on(birth, on), age_on(birth, next));
        let feb29 = birth.month() == 2 && birth.day() == 29;
        let is_birthday = if feb29 && !next.leap_year() {
            (next.month(), next.day()) == (2, 28)
        } else {
            (next.month(), next.day()) == (birth.month(), birth.day())
        };
        prop_assert_eq!(tomorrow, today + u32::from(is_birthday));
    }

    #[test]
    fn age_is_zero_before_birth(birth in birth_date(), days_before in 1u64..100_000) {
        if let Some(on) = birth.checked_sub_days(Days::new(days_before)) {
            prop_assert_eq!(age_on(birth, on), 0);
        }
    }
}

#[test]
fn a_swap_10_apart_yields_another_valid_id() {
    // 440304198002291236 with positions 5 and 15 swapped ('0' ↔ '1'): a different person,
    // same check character, region 440314 still in Guangdong.
    let original = ResidentId::parse("440304198002291236").unwrap();
    let swapped = ResidentId::parse("440314198002290236").unwrap();
    assert_ne!(original, swapped);
    assert_eq!(original.check(), swapped.check());
    // Adjacent swap of positions 15 and 16 ('1' ↔ '2') is caught.
    assert!(matches!(
        ResidentId::parse("440304198002292136"),
        Err(ResidentIdError::CheckMismatch { .. })
    ));
}

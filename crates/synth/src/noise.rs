//! The mess of real department data (SOURCES.md, "How the mess must look"), applied to source
//! records at configurable rates. Every applied noise is recorded in the truth, so intake and
//! linking can be scored against exactly what was done.

use chrono::{Datelike, NaiveDate};
use miaopi_model::ResidentId;
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::names;

/// One kind of mess. `code()` is the stable name used in truth files and the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseKind {
    /// The check character of a resident ID is wrong.
    IdWrongCheck,
    /// Two digits of the ID's first 17 swapped: adjacent ones (the check fails) or ones ten
    /// positions apart (the check still passes).
    IdTransposed,
    /// The legacy 15-digit ID (people born 1900–1999 only).
    IdLegacy15,
    /// A final `X` written as lower-case `x`.
    IdLowercaseX,
    /// The ID left empty: name, birth date and address must carry the link.
    IdMissing,
    /// A name in traditional characters.
    NameTraditional,
    /// Stray spaces around or inside a name.
    NameSpaces,
    /// A full-width (ideographic) space inside a name.
    NameFullWidth,
    /// One given-name character replaced by another with the same pinyin.
    NameHomophone,
    /// A date written in another of the formats the units use.
    DateFormat,
    /// An address written with/without prefixes, 号/栋/座 variants, full-width digits.
    AddressVariant,
    /// The record sent twice.
    Duplicate,
    /// An older version of the record (an earlier address) sent besides the current one.
    StaleVersion,
    /// A phone number that disagrees with other units' (an old number).
    PhoneConflict,
    /// A row with the wrong number of columns.
    BrokenColumns,
    /// A row whose bytes are not valid in the file's encoding.
    BrokenEncoding,
    /// A date that cannot exist (30 February, month 13).
    BrokenDate,
    /// A JSON line cut short.
    BrokenJson,
    /// A resident ID written with separators: 6-8-4 hyphen groups, spaces between the groups,
    /// or one stray space.
    IdSeparators,
    /// Digits of a resident ID read by OCR as look-alike letters (O for 0, l or I for 1, Z for
    /// 2, S for 5, B for 8), one or two of them.
    IdLookAlike,
    /// One character of a name dropped: a compound surname truncated (欧阳娜 → 欧娜) or a
    /// given-name character left out (张晓明 → 张明).
    NameDroppedCharacter,
    /// Family and given name in the other order (伟张, as forms in Western order have it).
    NameSwappedOrder,
    /// An employer's pre-2016 organisation code (GB 11714, `XXXXXXXX-X`, positions 9–17 of its
    /// credit code) in place of the credit code.
    OrganisationCode,
    /// Sex written in Latin letters (`M`/`F`) instead of the code or the Chinese label.
    SexLatin,
    /// A quantity written with its unit: an area `89.50㎡` / `89.50平方米`, a registered capital
    /// `人民币50.00万元` or in 元 (`500000元`).
    ValueWithUnit,
}

impl NoiseKind {
    pub const ALL: [NoiseKind; 25] = [
        NoiseKind::IdWrongCheck,
        NoiseKind::IdTransposed,
        NoiseKind::IdLegacy15,
        NoiseKind::IdLowercaseX,
        NoiseKind::IdMissing,
        NoiseKind::NameTraditional,
        NoiseKind::NameSpaces,
        NoiseKind::NameFullWidth,
        NoiseKind::NameHomophone,
        NoiseKind::DateFormat,
        NoiseKind::AddressVariant,
        NoiseKind::Duplicate,
        NoiseKind::StaleVersion,
        NoiseKind::PhoneConflict,
        NoiseKind::BrokenColumns,
        NoiseKind::BrokenEncoding,
        NoiseKind::BrokenDate,
        NoiseKind::BrokenJson,
        NoiseKind::IdSeparators,
        NoiseKind::IdLookAlike,
        NoiseKind::NameDroppedCharacter,
        NoiseKind::NameSwappedOrder,
        NoiseKind::OrganisationCode,
        NoiseKind::SexLatin,
        NoiseKind::ValueWithUnit,
    ];

    pub fn code(self) -> &'static str {
        match self {
            NoiseKind::IdWrongCheck => "id_wrong_check",
            NoiseKind::IdTransposed => "id_transposed",
            NoiseKind::IdLegacy15 => "id_legacy15",
            NoiseKind::IdLowercaseX => "id_lowercase_x",
            NoiseKind::IdMissing => "id_missing",
            NoiseKind::NameTraditional => "name_traditional",
            NoiseKind::NameSpaces => "name_spaces",
            NoiseKind::NameFullWidth => "name_full_width",
            NoiseKind::NameHomophone => "name_homophone",
            NoiseKind::DateFormat => "date_format",
            NoiseKind::AddressVariant => "address_variant",
            NoiseKind::Duplicate => "duplicate",
            NoiseKind::StaleVersion => "stale_version",
            NoiseKind::PhoneConflict => "phone_conflict",
            NoiseKind::BrokenColumns => "broken_columns",
            NoiseKind::BrokenEncoding => "broken_encoding",
            NoiseKind::BrokenDate => "broken_date",
            NoiseKind::BrokenJson => "broken_json",
            NoiseKind::IdSeparators => "id_separators",
            NoiseKind::IdLookAlike => "id_look_alike",
            NoiseKind::NameDroppedCharacter => "name_dropped_character",
            NoiseKind::NameSwappedOrder => "name_swapped_order",
            NoiseKind::OrganisationCode => "organisation_code",
            NoiseKind::SexLatin => "sex_latin",
            NoiseKind::ValueWithUnit => "value_with_unit",
        }
    }

    pub fn from_code(code: &str) -> Option<NoiseKind> {
        NoiseKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether a row with this noise is broken beyond repair (intake must quarantine it).
    pub fn is_unfixable(self) -> bool {
        matches!(
            self,
            NoiseKind::BrokenColumns
                | NoiseKind::BrokenEncoding
                | NoiseKind::BrokenDate
                | NoiseKind::BrokenJson
        )
    }
}

/// Noise rates, each the probability that an eligible value or record gets that mess.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoiseConfig {
    pub id_wrong_check: f64,
    pub id_transposed: f64,
    pub id_legacy15: f64,
    /// Among IDs ending in X.
    pub id_lowercase_x: f64,
    pub id_missing: f64,
    pub name_traditional: f64,
    pub name_spaces: f64,
    pub name_full_width: f64,
    pub name_homophone: f64,
    pub date_format: f64,
    pub address_variant: f64,
    pub duplicate: f64,
    pub stale_version: f64,
    pub phone_conflict: f64,
    /// Rows broken beyond repair, split evenly among the kinds a format allows.
    pub broken: f64,
    pub id_separators: f64,
    pub id_look_alike: f64,
    /// Among names of three characters or more.
    pub name_dropped_character: f64,
    pub name_swapped_order: f64,
    /// Among employers' credit codes in social-insurance records.
    pub organisation_code: f64,
    pub sex_latin: f64,
    /// Among registered capitals and property areas.
    pub value_with_unit: f64,
}

impl Default for NoiseConfig {
    fn default() -> Self {
        NoiseConfig {
            id_wrong_check: 0.004,
            id_transposed: 0.003,
            id_legacy15: 0.004,
            id_lowercase_x: 0.3,
            id_missing: 0.01,
            name_traditional: 0.01,
            name_spaces: 0.01,
            name_full_width: 0.005,
            name_homophone: 0.005,
            date_format: 0.05,
            address_variant: 0.3,
            duplicate: 0.005,
            stale_version: 0.03,
            phone_conflict: 0.03,
            broken: 0.002,
            id_separators: 0.004,
            id_look_alike: 0.002,
            name_dropped_character: 0.002,
            name_swapped_order: 0.001,
            organisation_code: 0.01,
            sex_latin: 0.005,
            value_with_unit: 0.02,
        }
    }
}

impl NoiseConfig {
    /// No mess at all: sources equal the truth.
    pub fn clean() -> Self {
        NoiseConfig {
            id_wrong_check: 0.0,
            id_transposed: 0.0,
            id_legacy15: 0.0,
            id_lowercase_x: 0.0,
            id_missing: 0.0,
            name_traditional: 0.0,
            name_spaces: 0.0,
            name_full_width: 0.0,
            name_homophone: 0.0,
            date_format: 0.0,
            address_variant: 0.0,
            duplicate: 0.0,
            stale_version: 0.0,
            phone_conflict: 0.0,
            broken: 0.0,
            id_separators: 0.0,
            id_look_alike: 0.0,
            name_dropped_character: 0.0,
            name_swapped_order: 0.0,
            organisation_code: 0.0,
            sex_latin: 0.0,
            value_with_unit: 0.0,
        }
    }

    /// Multiplies every rate by `factor` (capped at 1).
    pub fn scaled(&self, factor: f64) -> Self {
        let s = |r: f64| (r * factor).clamp(0.0, 1.0);
        NoiseConfig {
            id_wrong_check: s(self.id_wrong_check),
            id_transposed: s(self.id_transposed),
            id_legacy15: s(self.id_legacy15),
            id_lowercase_x: s(self.id_lowercase_x),
            id_missing: s(self.id_missing),
            name_traditional: s(self.name_traditional),
            name_spaces: s(self.name_spaces),
            name_full_width: s(self.name_full_width),
            name_homophone: s(self.name_homophone),
            date_format: s(self.date_format),
            address_variant: s(self.address_variant),
            duplicate: s(self.duplicate),
            stale_version: s(self.stale_version),
            phone_conflict: s(self.phone_conflict),
            broken: s(self.broken),
            id_separators: s(self.id_separators),
            id_look_alike: s(self.id_look_alike),
            name_dropped_character: s(self.name_dropped_character),
            name_swapped_order: s(self.name_swapped_order),
            organisation_code: s(self.organisation_code),
            sex_latin: s(self.sex_latin),
            value_with_unit: s(self.value_with_unit),
        }
    }

    /// Sets one rate by its key (`id_missing=0.02`), as given on the command line.
    pub fn set(&mut self, key: &str, rate: f64) -> Result<(), String> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(format!("noise rate {key}={rate} is outside 0..=1"));
        }
        let slot = match key {
            "id_wrong_check" => &mut self.id_wrong_check,
            "id_transposed" => &mut self.id_transposed,
            "id_legacy15" => &mut self.id_legacy15,
            "id_lowercase_x" => &mut self.id_lowercase_x,
            "id_missing" => &mut self.id_missing,
            "name_traditional" => &mut self.name_traditional,
            "name_spaces" => &mut self.name_spaces,
            "name_full_width" => &mut self.name_full_width,
            "name_homophone" => &mut self.name_homophone,
            "date_format" => &mut self.date_format,
            "address_variant" => &mut self.address_variant,
            "duplicate" => &mut self.duplicate,
            "stale_version" => &mut self.stale_version,
            "phone_conflict" => &mut self.phone_conflict,
            "broken" => &mut self.broken,
            "id_separators" => &mut self.id_separators,
            "id_look_alike" => &mut self.id_look_alike,
            "name_dropped_character" => &mut self.name_dropped_character,
            "name_swapped_order" => &mut self.name_swapped_order,
            "organisation_code" => &mut self.organisation_code,
            "sex_latin" => &mut self.sex_latin,
            "value_with_unit" => &mut self.value_with_unit,
            _ => return Err(format!("unknown noise key {key:?}")),
        };
        *slot = rate;
        Ok(())
    }

    /// The configured rate of a kind; broken kinds share `broken`.
    pub fn rate(&self, kind: NoiseKind) -> f64 {
        match kind {
            NoiseKind::IdWrongCheck => self.id_wrong_check,
            NoiseKind::IdTransposed => self.id_transposed,
            NoiseKind::IdLegacy15 => self.id_legacy15,
            NoiseKind::IdLowercaseX => self.id_lowercase_x,
            NoiseKind::IdMissing => self.id_missing,
            NoiseKind::NameTraditional => self.name_traditional,
            NoiseKind::NameSpaces => self.name_spaces,
            NoiseKind::NameFullWidth => self.name_full_width,
            NoiseKind::NameHomophone => self.name_homophone,
            NoiseKind::DateFormat => self.date_format,
            NoiseKind::AddressVariant => self.address_variant,
            NoiseKind::Duplicate => self.duplicate,
            NoiseKind::StaleVersion => self.stale_version,
            NoiseKind::PhoneConflict => self.phone_conflict,
            NoiseKind::BrokenColumns
            | NoiseKind::BrokenEncoding
            | NoiseKind::BrokenDate
            | NoiseKind::BrokenJson => self.broken,
            NoiseKind::IdSeparators => self.id_separators,
            NoiseKind::IdLookAlike => self.id_look_alike,
            NoiseKind::NameDroppedCharacter => self.name_dropped_character,
            NoiseKind::NameSwappedOrder => self.name_swapped_order,
            NoiseKind::OrganisationCode => self.organisation_code,
            NoiseKind::SexLatin => self.sex_latin,
            NoiseKind::ValueWithUnit => self.value_with_unit,
        }
    }
}

/// The written forms of a date seen across units (SOURCES.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// `2020-01-02`
    Iso,
    /// `2020/1/2`
    Slash,
    /// `20200102`
    Compact,
    /// `2020年1月2日`
    Chinese,
    /// `25/3/2020`, day first (written only where the day is above 12, so that one reading
    /// exists; no unit's house style)
    DayFirst,
    /// `二〇二〇年一月二日`, in Chinese numerals (hand-written forms; no unit's house style)
    ChineseNumerals,
}

impl DateStyle {
    /// The styles units use as their house style.
    pub const ALL: [DateStyle; 4] = [
        DateStyle::Iso,
        DateStyle::Slash,
        DateStyle::Compact,
        DateStyle::Chinese,
    ];

    pub fn format(self, d: NaiveDate) -> String {
        let (y, m, day) = (d.year(), d.month(), d.day());
        match self {
            DateStyle::Iso => format!("{y:04}-{m:02}-{day:02}"),
            DateStyle::Slash => format!("{y}/{m}/{day}"),
            DateStyle::Compact => format!("{y:04}{m:02}{day:02}"),
            DateStyle::Chinese => format!("{y}年{m}月{day}日"),
            DateStyle::DayFirst => format!("{day}/{m}/{y}"),
            DateStyle::ChineseNumerals => {
                const DIGITS: [char; 10] =
                    ['〇', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
                let year: String = y
                    .to_string()
                    .bytes()
                    .map(|b| DIGITS[usize::from(b - b'0')])
                    .collect();
                let small = |n: u32| {
                    let (tens, ones) = (n / 10, n % 10);
                    let mut t = String::new();
                    if tens > 1 {
                        t.push(DIGITS[tens as usize]);
                    }
                    if tens > 0 {
                        t.push('十');
                    }
                    if ones > 0 {
                        t.push(DIGITS[ones as usize]);
                    }
                    t
                };
                format!("{year}年{}月{}日", small(m), small(day))
            }
        }
    }
}

/// Result of ID noise: the written value and the noise applied (if any).
pub struct NoisyValue {
    pub text: String,
    pub noise: Option<NoiseKind>,
}

/// Writes a person's ID as a unit would, with at most one ID noise. `allow_missing` is false
/// where a record without its ID would be meaningless (the bulk social-insurance rows).
pub fn person_id<R: Rng + ?Sized>(
    rng: &mut R,
    cfg: &NoiseConfig,
    id: &ResidentId,
    allow_missing: bool,
    plant_contradiction: bool,
    counts: &mut Tally,
) -> NoisyValue {
    let s = id.as_str();
    counts.eligible(NoiseKind::IdWrongCheck);
    counts.eligible(NoiseKind::IdTransposed);
    counts.eligible(NoiseKind::IdSeparators);
    counts.eligible(NoiseKind::IdLookAlike);
    if allow_missing {
        counts.eligible(NoiseKind::IdMissing);
    }
    let legacy_possible = (1900..=1999).contains(&id.birth_date().year());
    if legacy_possible {
        counts.eligible(NoiseKind::IdLegacy15);
    }
    let ends_x = s.ends_with('X');
    if ends_x {
        counts.eligible(NoiseKind::IdLowercaseX);
    }
    // One draw decides which (if any) ID noise applies, so rates stay independent of order.
    let x: f64 = rng.random();
    let mut acc = 0.0;
    let mut pick = |rate: f64, ok: bool| {
        if !ok {
            return false;
        }
        let hit = x >= acc && x < acc + rate;
        acc += rate;
        hit
    };
    if plant_contradiction && let Some(text) = birth_changing_swap(id) {
        counts.applied(NoiseKind::IdTransposed);
        return NoisyValue {
            text,
            noise: Some(NoiseKind::IdTransposed),
        };
    }
    let kind = if pick(cfg.id_wrong_check, true) {
        Some(NoiseKind::IdWrongCheck)
    } else if pick(cfg.id_transposed, true) {
        Some(NoiseKind::IdTransposed)
    } else if pick(cfg.id_missing, allow_missing) {
        Some(NoiseKind::IdMissing)
    } else if pick(cfg.id_legacy15, legacy_possible) {
        Some(NoiseKind::IdLegacy15)
    } else if pick(cfg.id_separators, true) {
        Some(NoiseKind::IdSeparators)
    } else if pick(cfg.id_look_alike, true) {
        Some(NoiseKind::IdLookAlike)
    } else if ends_x && rng.random_bool(cfg.id_lowercase_x) {
        Some(NoiseKind::IdLowercaseX)
    } else {
        None
    };
    let text = match kind {
        None => s.to_string(),
        Some(NoiseKind::IdWrongCheck) => {
            let mut b = s.as_bytes().to_vec();
            const CHECKS: &[u8] = b"0123456789X";
            let mut c = CHECKS[rng.random_range(0..CHECKS.len())];
            if c == b[17] {
                c = CHECKS[(CHECKS.iter().position(|&x| x == c).unwrap_or(0) + 1) % CHECKS.len()];
            }
            b[17] = c;
            String::from_utf8_lossy(&b).into_owned()
        }
        Some(NoiseKind::IdTransposed) => {
            let mut b = s.as_bytes().to_vec();
            // GB 11643 catches every swap of two different adjacent digits, but positions ten
            // apart carry equal weights: swapping those keeps the check valid and yields another
            // well-formed ID (often with a different birth date or sex). A third of the swaps are
            // of that kind, so only name, birth date and sex can tell the truth.
            let (span, last) = if rng.random_bool(1.0 / 3.0) {
                (10, 7)
            } else {
                (1, 16)
            };
            let mut swapped = false;
            for _ in 0..16 {
                let i = rng.random_range(0..last);
                if b[i] != b[i + span] {
                    b.swap(i, i + span);
                    swapped = true;
                    break;
                }
            }
            if !swapped {
                // A run of equal digits everywhere we looked: swap the first differing pair.
                if let Some(i) = (0..16).find(|&i| b[i] != b[i + 1]) {
                    b.swap(i, i + 1);
                }
            }
            String::from_utf8_lossy(&b).into_owned()
        }
        Some(NoiseKind::IdMissing) => String::new(),
        Some(NoiseKind::IdLegacy15) => id.to_legacy_15().unwrap_or_else(|| s.to_string()),
        Some(NoiseKind::IdLowercaseX) => s.replace('X', "x"),
        Some(NoiseKind::IdSeparators) => match rng.random_range(0..3) {
            0 => format!("{}-{}-{}", &s[..6], &s[6..14], &s[14..]),
            1 => format!("{} {} {}", &s[..6], &s[6..14], &s[14..]),
            _ => {
                let at = rng.random_range(1..18);
                format!("{} {}", &s[..at], &s[at..])
            }
        },
        Some(NoiseKind::IdLookAlike) => look_alike(rng, s),
        Some(_) => s.to_string(),
    };

    if let Some(k) = kind {
        counts.applied(k);
    }
    NoisyValue { text, noise: kind }
}

/// One or two of the first 17 digits that OCR confuses with letters, replaced by them. Every
/// ID has one: its region code starts with 1–6 and its birth year with 1 or 2.
fn look_alike<R: Rng + ?Sized>(rng: &mut R, s: &str) -> String {
    let mut b: Vec<char> = s.chars().collect();
    let letter = |rng: &mut R, d: char| match d {
        '0' => Some('O'),
        '1' => Some(if rng.random_bool(0.5) { 'l' } else { 'I' }),
        '2' => Some('Z'),
        '5' => Some('S'),
        '8' => Some('B'),
        _ => None,
    };
    let positions: Vec<usize> = (0..17)
        .filter(|&i| matches!(b[i], '0' | '1' | '2' | '5' | '8'))
        .collect();
    let n = if positions.len() >= 2 && rng.random_bool(0.3) {
        2
    } else {
        1
    };
    let mut chosen: Vec<usize> = Vec::new();
    while chosen.len() < n.min(positions.len()) {
        let i = positions[rng.random_range(0..positions.len())];
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    for i in chosen {
        if let Some(l) = letter(rng, b[i]) {
            b[i] = l;
        }
    }
    b.into_iter().collect()
}

/// A credit code written as the employer's pre-2016 organisation code (positions 9–17,
/// `XXXXXXXX-X`) at the configured rate.
pub fn credit_code<R: Rng + ?Sized>(
    rng: &mut R,
    cfg: &NoiseConfig,
    code: &str,
    counts: &mut Tally,
) -> NoisyValue {
    counts.eligible(NoiseKind::OrganisationCode);
    if code.len() == 18 && code.is_ascii() && rng.random_bool(cfg.organisation_code) {
        counts.applied(NoiseKind::OrganisationCode);
        return NoisyValue {
            text: format!("{}-{}", &code[8..16], &code[16..17]),
            noise: Some(NoiseKind::OrganisationCode),
        };
    }
    NoisyValue {
        text: code.to_string(),
        noise: None,
    }
}

/// `id` with two digits ten apart swapped (the transposition GB 11643 cannot see) so that the
/// result is another well-formed ID with a different birth date or sex; `None` when no such
/// swap exists.
pub fn birth_changing_swap(id: &ResidentId) -> Option<String> {
    let b = id.as_str().as_bytes();
    // Positions 0–3 swap with month and day (10–13); 6 swaps a year digit with the sex digit.
    [0usize, 1, 2, 3, 6].into_iter().find_map(|i| {
        if b[i] == b[i + 10] {
            return None;
        }
        let mut w = b.to_vec();
        w.swap(i, i + 10);
        let text = String::from_utf8(w).ok()?;
        let other = ResidentId::parse(&text).ok()?;
        (other.birth_date() != id.birth_date() || other.sex() != id.sex()).then_some(text)
    })
}

/// Writes a person's name with at most one name noise.
pub fn person_name<R: Rng + ?Sized>(
    rng: &mut R,
    cfg: &NoiseConfig,
    name: &str,
    counts: &mut Tally,
) -> NoisyValue {
    let traditional = names::to_traditional(name);
    if traditional.is_some() {
        counts.eligible(NoiseKind::NameTraditional);
    }
    counts.eligible(NoiseKind::NameSpaces);
    counts.eligible(NoiseKind::NameFullWidth);
    // Only names with a given-name character that has a same-pinyin twin can be misspelt so.
    if names::has_homophone(name) {
        counts.eligible(NoiseKind::NameHomophone);
    }
    let chars: Vec<char> = name.chars().collect();
    let droppable = chars.len() >= 3;
    if droppable {
        counts.eligible(NoiseKind::NameDroppedCharacter);
    }
    let split = names::surname_len(name);
    let swappable = chars.len() > split;
    if swappable {
        counts.eligible(NoiseKind::NameSwappedOrder);
    }
    let after_homophone =
        cfg.name_traditional + cfg.name_spaces + cfg.name_full_width + cfg.name_homophone;
    let x: f64 = rng.random();
    let r = cfg;
    let (text, kind) = if traditional.is_some() && x < r.name_traditional {
        (
            traditional.unwrap_or_default(),
            Some(NoiseKind::NameTraditional),
        )
    } else if x >= r.name_traditional && x < r.name_traditional + r.name_spaces {
        let t = match rng.random_range(0..3) {
            0 => format!(" {name}"),
            1 => format!("{name} "),
            _ => {
                let split = names::surname_len(name);
                let (a, b): (String, String) = {
                    let cs: Vec<char> = name.chars().collect();
                    (cs[..split].iter().collect(), cs[split..].iter().collect())
                };
                format!("{a} {b}")
            }
        };
        (t, Some(NoiseKind::NameSpaces))
    } else if x >= r.name_traditional + r.name_spaces
        && x < r.name_traditional + r.name_spaces + r.name_full_width
    {
        let split = names::surname_len(name);
        let cs: Vec<char> = name.chars().collect();
        let a: String = cs[..split].iter().collect();
        let b: String = cs[split..].iter().collect();
        (format!("{a}\u{3000}{b}"), Some(NoiseKind::NameFullWidth))
    } else if x >= r.name_traditional + r.name_spaces + r.name_full_width
        && x < r.name_traditional + r.name_spaces + r.name_full_width + r.name_homophone
    {
        match names::homophone(rng, name) {
            Some(t) => (t, Some(NoiseKind::NameHomophone)),
            None => (name.to_string(), None),
        }
    } else if x >= after_homophone && x < after_homophone + r.name_dropped_character && droppable {
        // A compound surname loses its second character; otherwise a given-name character
        // goes.
        let drop = if split == 2 {
            1
        } else {
            rng.random_range(split..chars.len())
        };
        let t: String = chars
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != drop)
            .map(|(_, c)| c)
            .collect();
        (t, Some(NoiseKind::NameDroppedCharacter))
    } else if x >= after_homophone + r.name_dropped_character
        && x < after_homophone + r.name_dropped_character + r.name_swapped_order
        && swappable
    {
        let t: String = chars[split..].iter().chain(&chars[..split]).collect();
        (t, Some(NoiseKind::NameSwappedOrder))
    } else {
        (name.to_string(), None)
    };
    if let Some(k) = kind {
        counts.applied(k);
    }
    NoisyValue { text, noise: kind }
}

/// Writes a date in the unit's house style, or (at the configured rate) in another style.
pub fn date<R: Rng + ?Sized>(
    rng: &mut R,
    cfg: &NoiseConfig,
    d: NaiveDate,
    house: DateStyle,
    counts: &mut Tally,
) -> NoisyValue {
    counts.eligible(NoiseKind::DateFormat);
    if rng.random_bool(cfg.date_format) {
        // Another unit's house style, Chinese numerals, or day first where that is unambiguous.
        let mut others: Vec<DateStyle> =
            DateStyle::ALL.into_iter().filter(|&s| s != house).collect();
        others.push(DateStyle::ChineseNumerals);
        if d.day() > 12 {
            others.push(DateStyle::DayFirst);
        }
        let style = others[rng.random_range(0..others.len())];
        counts.applied(NoiseKind::DateFormat);
        NoisyValue {
            text: style.format(d),
            noise: Some(NoiseKind::DateFormat),
        }
    } else {
        NoisyValue {
            text: house.format(d),
            noise: None,
        }
    }
}

/// Writes a free-text address (`深圳市福田区…`) as a clerk might.
pub fn address<R: Rng + ?Sized>(
    rng: &mut R,
    cfg: &NoiseConfig,
    standard: &str,
    counts: &mut Tally,
) -> NoisyValue {
    counts.eligible(NoiseKind::AddressVariant);
    if !rng.random_bool(cfg.address_variant) {
        return NoisyValue {
            text: standard.to_string(),
            noise: None,
        };
    }
    let mut t = standard.to_string();
    match rng.random_range(0..4) {
        0 => t = t.replacen("深圳市", "", 1),
        1 => t = t.replacen("深圳市福田区", "", 1),
        2 => t = t.replacen('栋', if rng.random_bool(0.5) { "座" } else { "幢" }, 1),
        _ => {}
    }
    if rng.random_bool(0.4) {
        t = t
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    char::from_u32(c as u32 - 0x30 + 0xFF10).unwrap_or(c)
                } else {
                    c
                }
            })
            .collect();
    }
    if t == standard {
        // The chosen variant did not apply to this address; prefix removal always does.
        t = standard.replacen("深圳市", "", 1);
    }
    counts.applied(NoiseKind::AddressVariant);
    NoisyValue {
        text: t,
        noise: Some(NoiseKind::AddressVariant),
    }
}

const SLOTS: usize = NoiseKind::ALL.len() + 1;
const BROKEN_SLOT: usize = NoiseKind::ALL.len();

/// Hot-path counters while writing one file: one slot per kind, plus one for broken rows of
/// any kind. Converted to [`NoiseCounts`] (named maps) once per file.
#[derive(Debug, Clone)]
pub struct Tally {
    eligible: [u64; SLOTS],
    applied: [u64; SLOTS],
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            eligible: [0; SLOTS],
            applied: [0; SLOTS],
        }
    }
}

impl Tally {
    pub fn eligible(&mut self, kind: NoiseKind) {
        self.eligible[kind as usize] += 1;
    }

    pub fn applied(&mut self, kind: NoiseKind) {
        self.applied[kind as usize] += 1;
    }

    /// A record that could have been broken (any broken kind).
    pub fn eligible_broken(&mut self) {
        self.eligible[BROKEN_SLOT] += 1;
    }

    pub fn applied_broken(&mut self) {
        self.applied[BROKEN_SLOT] += 1;
    }

    pub fn to_counts(&self) -> NoiseCounts {
        let mut c = NoiseCounts::default();
        let name = |i: usize| {
            NoiseKind::ALL
                .get(i)
                .map_or(NoiseCounts::BROKEN_KEY, |k| k.code())
                .to_string()
        };
        for i in 0..SLOTS {
            if self.eligible[i] > 0 {
                c.eligible.insert(name(i), self.eligible[i]);
            }
            if self.applied[i] > 0 {
                c.applied.insert(name(i), self.applied[i]);
            }
        }
        c
    }
}

/// How often each noise kind was possible and applied, for the manifest and the rate tests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NoiseCounts {
    pub eligible: std::collections::BTreeMap<String, u64>,
    pub applied: std::collections::BTreeMap<String, u64>,
}

impl NoiseCounts {
    /// The key under which rows broken by any broken kind are counted.
    pub const BROKEN_KEY: &'static str = "broken";

    pub fn merge(&mut self, other: &NoiseCounts) {
        for (k, v) in &other.eligible {
            *self.eligible.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.applied {
            *self.applied.entry(k.clone()).or_default() += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn codes_round_trip() {
        for k in NoiseKind::ALL {
            assert_eq!(NoiseKind::from_code(k.code()), Some(k));
        }
    }

    #[test]
    fn date_styles() {
        let d = NaiveDate::from_ymd_opt(2020, 1, 2).unwrap();
        let f: Vec<String> = DateStyle::ALL.iter().map(|s| s.format(d)).collect();
        assert_eq!(f, ["2020-01-02", "2020/1/2", "20200102", "2020年1月2日"]);
        let d = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        assert_eq!(DateStyle::DayFirst.format(d), "25/10/2026");
        assert_eq!(
            DateStyle::ChineseNumerals.format(d),
            "二〇二六年十月二十五日"
        );
        let d = NaiveDate::from_ymd_opt(2020, 1, 2).unwrap();
        assert_eq!(DateStyle::ChineseNumerals.format(d), "二〇二〇年一月二日");
    }

    #[test]
    fn wrong_check_always_fails_validation() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        let mut cfg = NoiseConfig::clean();
        cfg.id_wrong_check = 1.0;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut counts = Tally::default();
        for _ in 0..200 {
            let v = person_id(&mut rng, &cfg, &id, true, false, &mut counts);
            assert_eq!(v.noise, Some(NoiseKind::IdWrongCheck));
            assert!(ResidentId::parse(&v.text).is_err(), "{}", v.text);
        }
    }

    #[test]
    fn a_planted_contradiction_is_a_valid_id_with_another_birth_date_or_sex() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let v = person_id(
            &mut rng,
            &NoiseConfig::default(),
            &id,
            false,
            true,
            &mut Tally::default(),
        );
        assert_eq!(v.noise, Some(NoiseKind::IdTransposed));
        let written = ResidentId::parse(&v.text).expect("the check digit cannot see the swap");
        assert!(written.birth_date() != id.birth_date() || written.sex() != id.sex());
        let differing: Vec<usize> = (0..18)
            .filter(|&i| v.text.as_bytes()[i] != id.as_str().as_bytes()[i])
            .collect();
        assert_eq!(differing.len(), 2);
        assert_eq!(differing[1] - differing[0], 10, "{}", v.text);
    }

    #[test]
    fn legacy_form_upgrades_back() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        let mut cfg = NoiseConfig::clean();
        cfg.id_legacy15 = 1.0;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let v = person_id(&mut rng, &cfg, &id, true, false, &mut Tally::default());
        assert_eq!(v.text.len(), 15);
        assert_eq!(ResidentId::parse_lenient(&v.text).unwrap().id, id);
    }
}

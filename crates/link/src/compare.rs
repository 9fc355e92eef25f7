//! Comparisons: each record's values are prepared once (pinyin, parsed dates and IDs), then a
//! pair of prepared values is turned into a discrete level.

use std::collections::HashMap;

use chrono::NaiveDate;
use miaopi_model::Sex;
use rayon::prelude::*;

use crate::data::Dataset;
use crate::error::LinkError;
use crate::similarity::{self, Pattern};
use crate::spec::{ComparisonSpec, Method};
use crate::text::{self, IdReading};

/// The level of a pair with a value missing on either side: it contributes nothing.
pub(crate) const NULL_LEVEL: u8 = u8::MAX;

/// A value prepared for comparison.
#[derive(Debug, Clone)]
pub(crate) enum Feature {
    Text(TextValue),
    Number(f64),
    Date {
        digits: [u8; 8],
        date: Option<NaiveDate>,
    },
    Name {
        text: String,
        /// Syllables joined with spaces, so that `xi an` and `xian` stay apart.
        pinyin_spaced: String,
        pinyin: String,
    },
    Id(IdReading),
    Sex(Sex),
    IdBirthSex {
        id_birth: Option<NaiveDate>,
        id_sex: Option<Sex>,
        birth: Option<NaiveDate>,
        sex: Option<Sex>,
    },
}

impl Feature {
    /// The value whose frequency a term-frequency adjustment uses.
    fn tf_key(&self) -> Option<String> {
        match self {
            Feature::Text(t) => Some(t.text.clone()),
            Feature::Name { text, .. } => Some(text.clone()),
            Feature::Date { digits, .. } => Some(String::from_utf8_lossy(digits).into_owned()),
            _ => None,
        }
    }
}

/// A trimmed text value with what makes comparing it cheap: a hash, so that unequal values
/// rarely touch their bytes, and for ASCII a count signature of its bytes, which bounds the
/// Jaro–Winkler similarity from above without computing it.
#[derive(Debug, Clone)]
pub(crate) struct TextValue {
    pub text: String,
    hash: u64,
    /// `counts[k]` has bit `b & 63` set when byte class `b & 63` occurs more than `k` times;
    /// `None` for non-ASCII text, whose similarity counts characters, not bytes.
    counts: Option<[u64; 4]>,
}

impl TextValue {
    pub fn new(text: &str) -> Self {
        // FNV-1a: fast on short strings and stable across runs.
        let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        let counts = text.is_ascii().then(|| {
            let mut counts = [0u64; 4];
            for b in text.bytes() {
                let bit = 1u64 << (b & 63);
                // Raise the first level that does not have this class yet.
                if let Some(level) = counts.iter_mut().find(|c| **c & bit == 0) {
                    *level |= bit;
                }
            }
            counts
        });
        TextValue {
            text: text.to_owned(),
            hash,
            counts,
        }
    }

    fn same(&self, other: &TextValue) -> bool {
        self.hash == other.hash && self.text == other.text
    }

    /// Σ min of the byte-class counts of both values, when the signatures determine it.
    fn common_bytes(&self, other: &TextValue) -> Option<u32> {
        let (x, y) = (self.counts?, other.counts?);
        if x[3] & y[3] != 0 {
            // A class four or more times in both: the signature no longer bounds it.
            return None;
        }
        Some((0..3).map(|k| (x[k] & y[k]).count_ones()).sum())
    }

    /// Whether the Levenshtein distance certainly exceeds `bound`: every byte of the longer
    /// value not in the common multiset needs its own edit.
    fn levenshtein_above(&self, other: &TextValue, bound: usize) -> bool {
        self.common_bytes(other)
            .is_some_and(|common| self.text.len().max(other.text.len()) - (common as usize) > bound)
    }

    /// Whether Jaro–Winkler is certainly below `threshold`. Matched characters are at most
    /// the common multiset of bytes (Σ min of counts, from the signatures), which bounds Jaro;
    /// Winkler's prefix boost adds at most 0.4 of the remaining gap.
    fn jaro_winkler_below(&self, other: &TextValue, threshold: f64) -> bool {
        let (x_len, y_len) = (self.text.len(), other.text.len());
        if x_len == 0 || y_len == 0 {
            return false;
        }
        let Some(common) = self.common_bytes(other) else {
            return false;
        };
        let matches = f64::from(common);
        let jaro = (matches / x_len as f64 + matches / y_len as f64 + 1.0) / 3.0;
        let bound = if jaro > 0.7 {
            jaro + 0.4 * (1.0 - jaro)
        } else {
            jaro
        };
        bound < threshold
    }
}

/// A comparison bound to the column positions of both datasets.
#[derive(Debug, Clone)]
pub(crate) struct Comparison {
    pub name: String,
    pub method: Method,
    pub labels: Vec<String>,
    pub tf_adjustment: bool,
    columns_a: Vec<usize>,
    columns_b: Vec<usize>,
}

fn resolve(
    dataset: &Dataset,
    side: &'static str,
    columns: &[String],
    needed_by: &str,
) -> Result<Vec<usize>, LinkError> {
    columns
        .iter()
        .map(|c| {
            dataset
                .column_index(c)
                .ok_or_else(|| LinkError::MissingColumn {
                    dataset: side,
                    column: c.clone(),
                    needed_by: needed_by.to_owned(),
                })
        })
        .collect()
}

impl Comparison {
    pub fn bind(spec: &ComparisonSpec, a: &Dataset, b: &Dataset) -> Result<Self, LinkError> {
        let needed_by = format!("comparison {}", spec.name);
        Ok(Comparison {
            name: spec.name.clone(),
            method: spec.method.clone(),
            labels: spec.method.level_labels(),
            tf_adjustment: spec.tf_adjustment,
            columns_a: resolve(a, "a", &spec.columns, &needed_by)?,
            columns_b: resolve(b, "b", &spec.columns, &needed_by)?,
        })
    }

    /// Number of non-null levels.
    pub fn level_count(&self) -> usize {
        self.labels.len()
    }

    fn prepare_row(&self, dataset: &Dataset, columns: &[usize], row: usize) -> Option<Feature> {
        let value = |i: usize| columns.get(i).and_then(|&c| dataset.value(row, c));
        match &self.method {
            Method::Exact | Method::JaroWinkler { .. } | Method::Levenshtein { .. } => {
                Some(Feature::Text(TextValue::new(value(0)?.trim())))
            }
            Method::NumericExact => {
                let number: f64 = value(0)?.trim().parse().ok()?;
                number.is_finite().then_some(Feature::Number(number))
            }
            Method::Date { .. } => {
                let digits = text::date_digits(value(0)?)?;
                Some(Feature::Date {
                    digits,
                    date: text::date_of_digits(&digits),
                })
            }
            Method::NameZh { .. } => {
                let cleaned = text::clean_name_zh(value(0)?);
                if cleaned.is_empty() {
                    return None;
                }
                let syllables = text::pinyin_syllables(&cleaned);
                Some(Feature::Name {
                    pinyin_spaced: syllables.join(" "),
                    pinyin: syllables.concat(),
                    text: cleaned,
                })
            }
            Method::IdNumber => text::read_resident_id(value(0)?).map(Feature::Id),
            Method::Sex => Sex::from_code_or_label(value(0)?).map(Feature::Sex),
            Method::IdBirthSex => {
                let id = value(0).and_then(text::read_resident_id);
                let birth = value(1)
                    .and_then(text::date_digits)
                    .and_then(|d| text::date_of_digits(&d));
                let sex = value(2).and_then(Sex::from_code_or_label);
                Some(Feature::IdBirthSex {
                    id_birth: id.as_ref().and_then(|i| i.birth_date),
                    id_sex: id.as_ref().and_then(|i| i.sex),
                    birth,
                    sex,
                })
            }
        }
    }

    /// The prepared values of one side, one per record.
    pub fn prepare(&self, dataset: &Dataset, side_b: bool) -> Vec<Option<Feature>> {
        let columns = if side_b {
            &self.columns_b
        } else {
            &self.columns_a
        };
        (0..dataset.len())
            .into_par_iter()
            .map(|row| self.prepare_row(dataset, columns, row))
            .collect()
    }

    /// The level of a pair of prepared values.
    #[cfg(test)]
    pub fn level(&self, a: Option<&Feature>, b: Option<&Feature>) -> u8 {
        self.level_with(a, b, None)
    }

    /// [`Comparison::level`], reusing `pattern` for B's value when it already holds the value
    /// of `owner` (comparison, B row): pairs sorted by B row compare one B value many times.
    pub fn level_with(
        &self,
        a: Option<&Feature>,
        b: Option<&Feature>,
        pattern: Option<(&mut Pattern, (usize, usize))>,
    ) -> u8 {
        let (Some(a), Some(b)) = (a, b) else {
            return NULL_LEVEL;
        };
        let level = match (&self.method, a, b) {
            (Method::Exact, Feature::Text(x), Feature::Text(y)) => usize::from(!x.same(y)),
            (Method::JaroWinkler { thresholds }, Feature::Text(x), Feature::Text(y)) => {
                if x.same(y) {
                    0
                } else if x.jaro_winkler_below(y, thresholds.last().copied().unwrap_or(0.0)) {
                    thresholds.len() + 1
                } else {
                    let score = match pattern {
                        Some((pattern, owner)) => {
                            if pattern.load(owner, &y.text) {
                                pattern.jaro_winkler(&x.text)
                            } else {
                                similarity::jaro_winkler(&x.text, &y.text)
                            }
                        }
                        None => similarity::jaro_winkler(&x.text, &y.text),
                    };
                    jaro_winkler_level(score, thresholds)
                }
            }
            (Method::Levenshtein { max_distances }, Feature::Text(x), Feature::Text(y)) => {
                if x.same(y) {
                    0
                } else if x.levenshtein_above(y, max_distances.last().copied().unwrap_or(0)) {
                    max_distances.len() + 1
                } else {
                    levenshtein_level(&x.text, &y.text, max_distances)
                }
            }
            (Method::NumericExact, Feature::Number(x), Feature::Number(y)) => usize::from(x != y),
            (
                Method::Date { within_days },
                Feature::Date {
                    digits: x,
                    date: dx,
                },
                Feature::Date {
                    digits: y,
                    date: dy,
                },
            ) => date_level(x, *dx, y, *dy, *within_days),
            (
                Method::NameZh { pinyin_threshold },
                Feature::Name {
                    text: tx,
                    pinyin_spaced: sx,
                    pinyin: px,
                },
                Feature::Name {
                    text: ty,
                    pinyin_spaced: sy,
                    pinyin: py,
                },
            ) => {
                if tx == ty {
                    0
                } else if sx == sy {
                    1
                } else if similarity::levenshtein(tx, ty) <= 1 || text::order_swapped(tx, ty) {
                    2
                } else if similarity::jaro_winkler(px, py) >= *pinyin_threshold {
                    3
                } else {
                    4
                }
            }
            (Method::IdNumber, Feature::Id(x), Feature::Id(y)) => id_level(&x.text, &y.text),
            (Method::Sex, Feature::Sex(x), Feature::Sex(y)) => usize::from(x != y),
            (
                Method::IdBirthSex,
                Feature::IdBirthSex {
                    id_birth: ib_a,
                    id_sex: is_a,
                    birth: b_a,
                    sex: s_a,
                },
                Feature::IdBirthSex {
                    id_birth: ib_b,
                    id_sex: is_b,
                    birth: b_b,
                    sex: s_b,
                },
            ) => {
                let a_to_b = carries(*ib_a, *is_a, *b_b, *s_b);
                let b_to_a = carries(*ib_b, *is_b, *b_a, *s_a);
                match (a_to_b, b_to_a) {
                    (Some(false), _) | (_, Some(false)) => 2,
                    (Some(true), Some(true)) => 0,
                    (Some(true), None) | (None, Some(true)) => 1,
                    (None, None) => return NULL_LEVEL,
                }
            }
            // Features always match their method; anything else is treated as missing.
            _ => return NULL_LEVEL,
        };
        u8::try_from(level).unwrap_or(NULL_LEVEL)
    }
}

/// Whether an ID's birth date (and sex, when both are known) agree with a record's statement;
/// `None` when either birth date is unknown.
fn carries(
    id_birth: Option<NaiveDate>,
    id_sex: Option<Sex>,
    birth: Option<NaiveDate>,
    sex: Option<Sex>,
) -> Option<bool> {
    let (id_birth, birth) = (id_birth?, birth?);
    let sex_agrees = match (id_sex, sex) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    Some(id_birth == birth && sex_agrees)
}

/// The level of a Jaro–Winkler score below exact.
fn jaro_winkler_level(score: f64, thresholds: &[f64]) -> usize {
    thresholds
        .iter()
        .position(|t| score >= *t)
        .map_or(thresholds.len() + 1, |i| i + 1)
}

/// The level of two values known to differ.
fn levenshtein_level(x: &str, y: &str, max_distances: &[usize]) -> usize {
    let widest = max_distances.last().copied().unwrap_or(0);
    // The length difference bounds the distance from below: skip the quadratic work.
    let char_len = |s: &str| {
        if s.is_ascii() {
            s.len()
        } else {
            s.chars().count()
        }
    };
    if char_len(x).abs_diff(char_len(y)) > widest {
        return max_distances.len() + 1;
    }
    let distance = similarity::levenshtein(x, y);
    max_distances
        .iter()
        .position(|d| distance <= *d)
        .map_or(max_distances.len() + 1, |i| i + 1)
}

fn date_level(
    x: &[u8; 8],
    dx: Option<NaiveDate>,
    y: &[u8; 8],
    dy: Option<NaiveDate>,
    within_days: Option<u32>,
) -> usize {
    if x == y {
        return 0;
    }
    // As integers, YYYY | MM | DD are bit fields: no slice comparisons on the hot path.
    let (xv, yv) = (u64::from_be_bytes(*x), u64::from_be_bytes(*y));
    let (month, day) = (|v: u64| (v >> 16) & 0xFFFF, |v: u64| v & 0xFFFF);
    let day_month_swap = xv >> 32 == yv >> 32 && month(xv) == day(yv) && day(xv) == month(yv);
    if one_substitution_or_swap(x, y) || day_month_swap {
        return 1;
    }
    match (within_days, dx, dy) {
        (Some(days), Some(dx), Some(dy)) => {
            if (dx - dy).num_days().unsigned_abs() <= u64::from(days) {
                2
            } else {
                3
            }
        }
        (Some(_), _, _) => 3,
        (None, _, _) => 2,
    }
}

/// Equal length and either one position different, or two positions whose characters are
/// swapped (any distance apart: GB 11643's check misses swaps 10 apart).
fn one_substitution_or_swap(x: &[u8], y: &[u8]) -> bool {
    if x.len() != y.len() {
        return false;
    }
    let mut diffs = x.iter().zip(y).enumerate().filter(|(_, (p, q))| p != q);
    match (diffs.next(), diffs.next(), diffs.next()) {
        (Some(_), None, None) => true,
        (Some((i, _)), Some((j, _)), None) => x[i] == y[j] && x[j] == y[i],
        _ => false,
    }
}

fn id_level(x: &str, y: &str) -> usize {
    if x == y {
        0
    } else if one_substitution_or_swap(x.as_bytes(), y.as_bytes()) {
        1
    } else {
        2
    }
}

/// Relative frequency of each record's value among both datasets' values, for comparisons with
/// a term-frequency adjustment.
pub(crate) fn term_frequencies(
    a: &[Option<Feature>],
    b: Option<&[Option<Feature>]>,
) -> (Vec<f64>, Vec<f64>) {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut total = 0u64;
    let sides: Vec<&[Option<Feature>]> = match b {
        Some(b) => vec![a, b],
        None => vec![a],
    };
    for side in &sides {
        for key in side.iter().flatten().filter_map(Feature::tf_key) {
            *counts.entry(key).or_default() += 1;
            total += 1;
        }
    }
    let frequency = |f: &Option<Feature>| {
        f.as_ref()
            .and_then(Feature::tf_key)
            .and_then(|k| counts.get(&k))
            .map_or(0.0, |&c| c as f64 / total.max(1) as f64)
    };
    let tf_a = a.iter().map(frequency).collect();
    let tf_b = b.map_or_else(Vec::new, |b| b.iter().map(frequency).collect());
    (tf_a, tf_b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ComparisonSpec;

    fn comparison(method: Method, columns: &[&str]) -> Comparison {
        let spec = ComparisonSpec {
            name: "c".into(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            method,
            tf_adjustment: false,
        };
        let ds = Dataset::new(columns.iter().copied());
        Comparison::bind(&spec, &ds, &ds).unwrap()
    }

    fn levels(c: &Comparison, pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut ds = Dataset::new(["v"]);
        for (i, (x, y)) in pairs.iter().enumerate() {
            ds.push(2 * i as u64, vec![Some((*x).into())]).unwrap();
            ds.push(2 * i as u64 + 1, vec![Some((*y).into())]).unwrap();
        }
        let f = c.prepare(&ds, false);
        (0..pairs.len())
            .map(|i| c.level(f[2 * i].as_ref(), f[2 * i + 1].as_ref()))
            .collect()
    }

    #[test]
    fn jaro_winkler_bound_never_changes_a_level() {
        let mut rng = crate::model::SplitMix64::new(3);
        let alphabet: Vec<char> = "aeinrst".chars().collect();
        let word = |rng: &mut crate::model::SplitMix64| -> String {
            let len = 1 + rng.below(10) as usize;
            (0..len)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect()
        };
        let mut skipped = 0;
        for _ in 0..20_000 {
            let (x, y) = (word(&mut rng), word(&mut rng));
            let (tx, ty) = (TextValue::new(&x), TextValue::new(&y));
            for threshold in [0.95, 0.8, 0.7, 0.5] {
                if tx.jaro_winkler_below(&ty, threshold) {
                    skipped += 1;
                    assert!(strsim::jaro_winkler(&x, &y) < threshold, "{x} {y}");
                }
            }
        }
        assert!(
            skipped > 1000,
            "the bound should prune often, pruned {skipped}"
        );
        let mut pruned = 0;
        for _ in 0..20_000 {
            let (x, y) = (word(&mut rng), word(&mut rng));
            let (tx, ty) = (TextValue::new(&x), TextValue::new(&y));
            for bound in [1, 2, 3] {
                if tx.levenshtein_above(&ty, bound) {
                    pruned += 1;
                    assert!(strsim::levenshtein(&x, &y) > bound, "{x} {y}");
                }
            }
        }
        assert!(pruned > 1000, "pruned {pruned}");
    }

    #[test]
    fn name_zh_levels() {
        let c = comparison(
            Method::NameZh {
                pinyin_threshold: 0.9,
            },
            &["v"],
        );
        let got = levels(
            &c,
            &[
                ("张伟", "张 伟"),
                ("张伟", "张威"),
                ("张伟明", "张伟敏"),
                ("张晓明", "张小铭"),
                ("欧阳晓明", "欧阳小明"),
                ("张伟", "李娜"),
            ],
        );
        // 张伟明/张伟敏: ming vs min differ, one character; 张晓明/张小铭 is a homophone; 欧阳晓明/
        // 欧阳小明 too.
        assert_eq!(got, vec![0, 1, 2, 1, 1, 4]);
        // A dropped character (a compound surname truncated: 欧阳娜 → 欧娜) and family and given
        // name swapped lower the weight like a typo, not like another person's name.
        let got = levels(
            &c,
            &[
                ("欧阳娜", "欧娜"),
                ("张伟", "伟张"),
                ("欧阳晓明", "晓明欧阳"),
            ],
        );
        assert_eq!(got, vec![2, 2, 2]);
        let got = levels(&c, &[("王晓东", "王小冬东")]);
        assert_eq!(got, vec![3], "pinyin close, two characters off");
    }

    #[test]
    fn id_levels() {
        let c = comparison(Method::IdNumber, &["v"]);
        let got = levels(
            &c,
            &[
                ("11010519491231002X", "11010519491231002x"),
                ("11010519491231002X", "11010519491213002X"),
                ("11010519491231002X", "110105194912310025"),
                ("440304800229123", "440304198002291236"),
                ("11010519491231002X", "440524188001010014"),
                ("11010519491231002X", "２１０１０５１９４９１２３１００２Ｘ"),
            ],
        );
        assert_eq!(got, vec![0, 1, 1, 0, 2, 1]);
    }

    #[test]
    fn date_levels() {
        let c = comparison(
            Method::Date {
                within_days: Some(30),
            },
            &["v"],
        );
        let got = levels(
            &c,
            &[
                ("1990-03-07", "19900307"),
                ("1990-03-07", "1990-03-08"),
                ("1990-03-07", "1990-07-03"),
                ("1990-03-07", "1990-03-70"),
                ("1990-03-07", "1990-03-29"),
                ("1990-03-07", "1991-05-07"),
            ],
        );
        assert_eq!(got, vec![0, 1, 1, 1, 2, 3]);
        assert_eq!(levels(&c, &[("1990-03-07", "unknown")]), vec![NULL_LEVEL]);
    }

    #[test]
    fn string_levels() {
        let jw = comparison(
            Method::JaroWinkler {
                thresholds: vec![0.92, 0.8],
            },
            &["v"],
        );
        assert_eq!(
            levels(
                &jw,
                &[
                    ("martha", "martha"),
                    ("martha", "marhta"),
                    ("dixon", "dicksonx"),
                    ("abc", "xyz")
                ]
            ),
            vec![0, 1, 2, 3]
        );
        let lev = comparison(
            Method::Levenshtein {
                max_distances: vec![1, 2],
            },
            &["v"],
        );
        assert_eq!(
            levels(
                &lev,
                &[
                    ("1234567", "1234567"),
                    ("1234567", "1234576"),
                    ("1234567", "1234"),
                ]
            ),
            vec![0, 2, 3]
        );
        let num = comparison(Method::NumericExact, &["v"]);
        assert_eq!(
            levels(&num, &[("12", "12.0"), ("12", "13"), ("12", "x")]),
            vec![0, 1, NULL_LEVEL]
        );
        let sex = comparison(Method::Sex, &["v"]);
        assert_eq!(
            levels(&sex, &[("1", "男"), ("女", "M"), ("9", "1")]),
            vec![0, 1, NULL_LEVEL]
        );
    }

    #[test]
    fn id_birth_sex_levels() {
        let c = comparison(Method::IdBirthSex, &["id", "birth", "sex"]);
        let mut ds = Dataset::new(["id", "birth", "sex"]);
        let row = |id: Option<&str>, birth: &str, sex: &str| {
            vec![id.map(Into::into), Some(birth.into()), Some(sex.into())]
        };
        ds.push(0, row(Some("11010519491231002X"), "1949-12-31", "2"))
            .unwrap();
        ds.push(1, row(Some("11010519491231002X"), "1949-12-31", "女"))
            .unwrap();
        // Two date digits swapped in the ID: it now carries 1949-12-13.
        ds.push(2, row(Some("11010519491213002X"), "1949-12-31", "2"))
            .unwrap();
        ds.push(3, row(None, "1949-12-31", "2")).unwrap();
        ds.push(4, row(Some("11010519491231002X"), "1949-12-31", "1"))
            .unwrap();
        let f = c.prepare(&ds, false);
        let level = |i: usize, j: usize| c.level(f[i].as_ref(), f[j].as_ref());
        assert_eq!(level(0, 1), 0);
        assert_eq!(level(0, 2), 2, "record 2's ID carries another birth date");
        assert_eq!(level(0, 3), 1, "record 3 has no ID: one direction only");
        assert_eq!(level(0, 4), 2, "record 4 states another sex");
        let mut none = Dataset::new(["id", "birth", "sex"]);
        none.push(0, vec![None, None, None]).unwrap();
        let g = c.prepare(&none, false);
        assert_eq!(c.level(g[0].as_ref(), g[0].as_ref()), NULL_LEVEL);
    }
}

//! The link spec: which columns identify records, how pairs are compared, how candidates are
//! blocked, how the model is trained and where the decision thresholds lie. Loadable from TOML;
//! see `docs/linking.md` for the format.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{LinkError, invalid};

/// A complete description of one linkage job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Id columns of the inputs; only file-based runs read them (in memory, each record carries
    /// its own reference).
    #[serde(default)]
    pub ids: IdColumns,
    /// The comparisons, in the order their levels are reported.
    #[serde(rename = "comparison")]
    pub comparisons: Vec<ComparisonSpec>,
    /// Blocking rules: the candidate pairs are the union of the pairs each rule produces.
    #[serde(rename = "blocking", default)]
    pub blocking: Vec<BlockingRule>,
    /// Deterministic rules: a candidate pair agreeing on every key of one of them is a link
    /// whatever its probability (e.g. the same valid 身份证号). Each also blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deterministic: Vec<BlockingRule>,
    /// Where links and reviews begin.
    #[serde(default)]
    pub decision: DecisionThresholds,
    /// Parameters of u sampling and EM.
    #[serde(default)]
    pub training: Training,
}

/// Names of the id column of each file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdColumns {
    /// Id column of dataset A (and of the one dataset when deduplicating).
    #[serde(default = "default_id_column")]
    pub a: String,
    /// Id column of dataset B.
    #[serde(default = "default_id_column")]
    pub b: String,
}

fn default_id_column() -> String {
    "id".to_owned()
}

impl Default for IdColumns {
    fn default() -> Self {
        IdColumns {
            a: default_id_column(),
            b: default_id_column(),
        }
    }
}

/// Probability thresholds of the three outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionThresholds {
    /// At or above: a link.
    #[serde(default = "default_accept")]
    pub accept_probability: f64,
    /// At or above (and below accept): routed to a person for review (转人工).
    #[serde(default = "default_review")]
    pub review_probability: f64,
}

fn default_accept() -> f64 {
    0.99
}

fn default_review() -> f64 {
    0.5
}

impl Default for DecisionThresholds {
    fn default() -> Self {
        DecisionThresholds {
            accept_probability: default_accept(),
            review_probability: default_review(),
        }
    }
}

/// Training parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Training {
    /// Random (unblocked) pairs compared to estimate u.
    #[serde(default = "default_u_sample_pairs")]
    pub u_sample_pairs: usize,
    /// Seed of the pair sampler, so that a run is reproducible.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Upper bound on EM iterations.
    #[serde(default = "default_em_max_iterations")]
    pub em_max_iterations: usize,
    /// EM stops when no m-probability and no prior moves by more than this.
    #[serde(default = "default_em_tolerance")]
    pub em_tolerance: f64,
    /// A block whose pair count exceeds this is skipped (and counted as skipped).
    #[serde(default = "default_max_block_pairs")]
    pub max_block_pairs: u64,
    /// EM's starting prior, as the expected share of records of the smaller input that have a
    /// match (link) or of records that are duplicates (dedupe).
    #[serde(default = "default_initial_match_share")]
    pub initial_match_share: f64,
}

fn default_u_sample_pairs() -> usize {
    500_000
}

fn default_seed() -> u64 {
    42
}

fn default_em_max_iterations() -> usize {
    100
}

fn default_em_tolerance() -> f64 {
    1e-5
}

fn default_max_block_pairs() -> u64 {
    1_000_000
}

fn default_initial_match_share() -> f64 {
    0.3
}

impl Default for Training {
    fn default() -> Self {
        Training {
            u_sample_pairs: default_u_sample_pairs(),
            seed: default_seed(),
            em_max_iterations: default_em_max_iterations(),
            em_tolerance: default_em_tolerance(),
            max_block_pairs: default_max_block_pairs(),
            initial_match_share: default_initial_match_share(),
        }
    }
}

/// One comparison: the columns it reads and how it turns a pair of values into a level.
///
/// Levels are numbered from 0 (the strongest agreement, usually "exact") to the last ("else");
/// a missing value on either side gives the null level, which contributes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawComparison", into = "RawComparison")]
pub struct ComparisonSpec {
    /// Name used in reports and explanations.
    pub name: String,
    /// Columns read; one for every method but [`Method::IdBirthSex`].
    pub columns: Vec<String>,
    /// How levels are assigned.
    pub method: Method,
    /// Term-frequency adjustment of the exact level: agreeing on a rare value counts more than
    /// agreeing on a common one.
    pub tf_adjustment: bool,
}

/// How a comparison assigns levels.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// exact / else (values trimmed).
    Exact,
    /// exact / Jaro–Winkler ≥ each threshold (descending) / else.
    JaroWinkler { thresholds: Vec<f64> },
    /// exact / Levenshtein distance ≤ each bound (ascending) / else.
    Levenshtein { max_distances: Vec<usize> },
    /// exact / one digit typo or day–month swap / within N days (when set) / else.
    Date { within_days: Option<u32> },
    /// exact numeric value / else; a value that is not a number is null.
    NumericExact,
    /// 姓名: exact characters / same toneless pinyin (同音字) / one character different /
    /// Jaro–Winkler on pinyin ≥ threshold / else. Names are expected in simplified Chinese.
    NameZh { pinyin_threshold: f64 },
    /// 身份证号 (GB 11643): exact / one transposition of two characters or one wrong
    /// character / else. Lower-case `x`, full width and 15-digit numbers are normalised.
    IdNumber,
    /// 性别: exact / else, reading codes and labels (`1`/`2`, `男`/`女`, `M`/`F`).
    Sex,
    /// 身份证号与出生日期、性别一致: whether each record's resident ID carries the other
    /// record's stated birth date (and sex). Columns: ID, birth date, and optionally sex.
    /// Levels: both directions agree / one agrees, the other unknown / a direction disagrees.
    IdBirthSex,
}

impl Method {
    /// The labels of the non-null levels, strongest first.
    pub fn level_labels(&self) -> Vec<String> {
        match self {
            Method::Exact | Method::NumericExact | Method::Sex => {
                vec!["exact".into(), "else".into()]
            }
            Method::JaroWinkler { thresholds } => {
                let mut labels = vec!["exact".to_owned()];
                labels.extend(thresholds.iter().map(|t| format!("jaro_winkler>={t}")));
                labels.push("else".into());
                labels
            }
            Method::Levenshtein { max_distances } => {
                let mut labels = vec!["exact".to_owned()];
                labels.extend(max_distances.iter().map(|d| format!("levenshtein<={d}")));
                labels.push("else".into());
                labels
            }
            Method::Date { within_days } => {
                let mut labels = vec!["exact".to_owned(), "typo_or_day_month_swap".to_owned()];
                if let Some(days) = within_days {
                    labels.push(format!("within_{days}_days"));
                }
                labels.push("else".into());
                labels
            }
            Method::NameZh { pinyin_threshold } => vec![
                "exact".into(),
                "same_pinyin".into(),
                "one_character_different_or_order_swapped".into(),
                format!("pinyin_jaro_winkler>={pinyin_threshold}"),
                "else".into(),
            ],
            Method::IdNumber => vec![
                "exact".into(),
                "transposition_or_one_character".into(),
                "else".into(),
            ],
            Method::IdBirthSex => vec!["both_agree".into(), "one_agrees".into(), "disagree".into()],
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Method::Exact => "exact",
            Method::JaroWinkler { .. } => "jaro_winkler",
            Method::Levenshtein { .. } => "levenshtein",
            Method::Date { .. } => "date",
            Method::NumericExact => "numeric_exact",
            Method::NameZh { .. } => "name_zh",
            Method::IdNumber => "id_number",
            Method::Sex => "sex",
            Method::IdBirthSex => "id_birth_sex",
        }
    }
}

/// The TOML shape of a comparison: the method's options sit beside `method`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComparison {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    columns: Option<Vec<String>>,
    method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thresholds: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_distances: Option<Vec<usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    within_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pinyin_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    tf_adjustment: bool,
}

impl TryFrom<RawComparison> for ComparisonSpec {
    type Error = String;

    fn try_from(raw: RawComparison) -> Result<Self, String> {
        let name = raw.name;
        let columns = match (raw.column, raw.columns) {
            (Some(column), None) => vec![column],
            (None, Some(columns)) => columns,
            (Some(_), Some(_)) => {
                return Err(format!(
                    "comparison {name:?}: give either `column` or `columns`, not both"
                ));
            }
            (None, None) => return Err(format!("comparison {name:?}: no `column` given")),
        };
        let mut unused = Vec::new();
        let mut take_thresholds = true;
        let mut take_distances = true;
        let mut take_days = true;
        let mut take_pinyin = true;
        let method = match raw.method.as_str() {
            "exact" => Method::Exact,
            "jaro_winkler" => {
                take_thresholds = false;
                Method::JaroWinkler {
                    thresholds: raw.thresholds.clone().unwrap_or_else(|| vec![0.92, 0.8]),
                }
            }
            "levenshtein" => {
                take_distances = false;
                Method::Levenshtein {
                    max_distances: raw.max_distances.clone().unwrap_or_else(|| vec![1, 2]),
                }
            }
            "date" => {
                take_days = false;
                Method::Date {
                    within_days: raw.within_days,
                }
            }
            "numeric_exact" => Method::NumericExact,
            "name_zh" => {
                take_pinyin = false;
                Method::NameZh {
                    pinyin_threshold: raw.pinyin_threshold.unwrap_or(0.9),
                }
            }
            "id_number" => Method::IdNumber,
            "sex" => Method::Sex,
            "id_birth_sex" => Method::IdBirthSex,
            other => {
                return Err(format!(
                    "comparison {name:?}: unknown method {other:?} (known: exact, jaro_winkler, \
                     levenshtein, date, numeric_exact, name_zh, id_number, sex, id_birth_sex)"
                ));
            }
        };
        if take_thresholds && raw.thresholds.is_some() {
            unused.push("thresholds");
        }
        if take_distances && raw.max_distances.is_some() {
            unused.push("max_distances");
        }
        if take_days && raw.within_days.is_some() {
            unused.push("within_days");
        }
        if take_pinyin && raw.pinyin_threshold.is_some() {
            unused.push("pinyin_threshold");
        }
        if !unused.is_empty() {
            return Err(format!(
                "comparison {name:?}: method {} takes no {}",
                method.name(),
                unused.join(", ")
            ));
        }
        Ok(ComparisonSpec {
            name,
            columns,
            method,
            tf_adjustment: raw.tf_adjustment,
        })
    }
}

impl From<ComparisonSpec> for RawComparison {
    fn from(spec: ComparisonSpec) -> Self {
        let (column, columns) = if spec.columns.len() == 1 {
            (spec.columns.into_iter().next(), None)
        } else {
            (None, Some(spec.columns))
        };
        let mut raw = RawComparison {
            name: spec.name,
            column,
            columns,
            method: spec.method.name().to_owned(),
            thresholds: None,
            max_distances: None,
            within_days: None,
            pinyin_threshold: None,
            tf_adjustment: spec.tf_adjustment,
        };
        match spec.method {
            Method::JaroWinkler { thresholds } => raw.thresholds = Some(thresholds),
            Method::Levenshtein { max_distances } => raw.max_distances = Some(max_distances),
            Method::Date { within_days } => raw.within_days = within_days,
            Method::NameZh { pinyin_threshold } => raw.pinyin_threshold = Some(pinyin_threshold),
            Method::Exact
            | Method::NumericExact
            | Method::IdNumber
            | Method::Sex
            | Method::IdBirthSex => {}
        }
        raw
    }
}

/// A blocking (or deterministic) rule: two records form a candidate pair when every key part
/// is present on both and equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawBlockingRule")]
pub struct BlockingRule {
    /// Name in reports; defaults to the key parts joined with `+`.
    pub name: String,
    /// The key parts, all of which must agree.
    pub keys: Vec<KeyPart>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlockingRule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    keys: Vec<KeyPart>,
}

impl TryFrom<RawBlockingRule> for BlockingRule {
    type Error = String;

    fn try_from(raw: RawBlockingRule) -> Result<Self, String> {
        let mut keys: Vec<KeyPart> = raw.columns.into_iter().map(KeyPart::value).collect();
        keys.extend(raw.keys);
        if keys.is_empty() {
            return Err(format!(
                "blocking rule {:?} has neither `columns` nor `keys`",
                raw.name.unwrap_or_default()
            ));
        }
        Ok(BlockingRule::new(raw.name, keys))
    }
}

impl BlockingRule {
    /// A rule named `name`, or after its key parts when `None`.
    pub fn new(name: Option<String>, keys: Vec<KeyPart>) -> Self {
        let name = name.unwrap_or_else(|| {
            keys.iter()
                .map(KeyPart::describe)
                .collect::<Vec<_>>()
                .join("+")
        });
        BlockingRule { name, keys }
    }

    /// A rule on the plain values of `columns`.
    pub fn on_columns(columns: &[&str]) -> Self {
        Self::new(
            None,
            columns
                .iter()
                .map(|c| KeyPart::value((*c).into()))
                .collect(),
        )
    }
}

/// One part of a blocking key: a column and how its value is turned into the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPart {
    /// The column read.
    pub column: String,
    /// The derivation.
    #[serde(default)]
    pub transform: Transform,
    /// Characters kept by [`Transform::Prefix`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<usize>,
}

impl KeyPart {
    /// The trimmed value itself.
    pub fn value(column: String) -> Self {
        KeyPart {
            column,
            transform: Transform::Value,
            length: None,
        }
    }

    /// The value passed through `transform`.
    pub fn derived(column: &str, transform: Transform) -> Self {
        KeyPart {
            column: column.to_owned(),
            transform,
            length: None,
        }
    }

    fn describe(&self) -> String {
        match (self.transform, self.length) {
            (Transform::Value, _) => self.column.clone(),
            (Transform::Prefix, Some(n)) => format!("{}[..{n}]", self.column),
            (t, _) => format!("{}({})", t.name(), self.column),
        }
    }
}

/// How a blocking key part is derived from a value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// The trimmed value.
    #[default]
    Value,
    /// The first `length` characters.
    Prefix,
    /// Toneless pinyin of the whole value (汉字 → pinyin; other characters lower-cased).
    Pinyin,
    /// Pinyin initials of every character, e.g. 张晓明 → `zxm`.
    PinyinInitials,
    /// Toneless pinyin of the surname (姓, the first character).
    SurnamePinyin,
    /// The year of a date (`YYYY-MM-DD`, `YYYYMMDD`, …).
    Year,
    /// American Soundex of a Latin name (hanzi are romanised first).
    Soundex,
    /// The canonical 18-character resident ID, only for a number that passes GB 11643.
    ResidentId,
    /// The digits of the value.
    Digits,
}

impl Transform {
    fn name(self) -> &'static str {
        match self {
            Transform::Value => "value",
            Transform::Prefix => "prefix",
            Transform::Pinyin => "pinyin",
            Transform::PinyinInitials => "pinyin_initials",
            Transform::SurnamePinyin => "surname_pinyin",
            Transform::Year => "year",
            Transform::Soundex => "soundex",
            Transform::ResidentId => "resident_id",
            Transform::Digits => "digits",
        }
    }
}

/// In (0, 1]; false for NaN.
fn in_unit_interval(x: f64) -> bool {
    x > 0.0 && x <= 1.0
}

impl LinkSpec {
    /// Parses and validates a spec from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, LinkError> {
        let spec: LinkSpec = toml::from_str(text).map_err(|e| LinkError::SpecParse {
            message: e.to_string(),
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// Reads, parses and validates a spec file.
    pub fn load(path: &Path) -> Result<Self, LinkError> {
        let text = std::fs::read_to_string(path).map_err(|source| LinkError::SpecIo {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// The spec as TOML text, which [`LinkSpec::from_toml_str`] reads back.
    pub fn to_toml_string(&self) -> Result<String, LinkError> {
        toml::to_string(self).map_err(|e| LinkError::SpecParse {
            message: e.to_string(),
        })
    }

    /// Checks everything serde cannot: non-empty lists, ordered thresholds, probabilities in
    /// range, unique names.
    pub fn validate(&self) -> Result<(), LinkError> {
        if self.comparisons.is_empty() {
            return Err(invalid("at least one [[comparison]] is needed"));
        }
        let mut names = std::collections::HashSet::new();
        for comparison in &self.comparisons {
            let name = &comparison.name;
            if !names.insert(name.as_str()) {
                return Err(invalid(format!("comparison name {name:?} is used twice")));
            }
            let wanted = match comparison.method {
                Method::IdBirthSex => 2..=3,
                _ => 1..=1,
            };
            if !wanted.contains(&comparison.columns.len()) {
                return Err(invalid(format!(
                    "comparison {name:?} reads {} columns; its method needs {}",
                    comparison.columns.len(),
                    if wanted.start() == wanted.end() {
                        "exactly 1".to_owned()
                    } else {
                        "2 or 3 (ID, birth date, optional sex)".to_owned()
                    }
                )));
            }
            let problem = match &comparison.method {
                Method::JaroWinkler { thresholds }
                    if thresholds.is_empty()
                        || !thresholds.iter().all(|t| in_unit_interval(*t))
                        || thresholds.windows(2).any(|w| w[0] <= w[1]) =>
                {
                    Some("thresholds must be non-empty, in (0, 1] and strictly decreasing")
                }
                Method::Levenshtein { max_distances }
                    if max_distances.first().is_none_or(|d| *d == 0)
                        || max_distances.windows(2).any(|w| w[0] >= w[1]) =>
                {
                    Some("max_distances must be non-empty, at least 1 and strictly increasing")
                }
                Method::NameZh { pinyin_threshold } if !in_unit_interval(*pinyin_threshold) => {
                    Some("pinyin_threshold must be in (0, 1]")
                }
                _ => None,
            };
            if let Some(problem) = problem {
                return Err(invalid(format!("comparison {name:?}: {problem}")));
            }
            let tf_capable = matches!(
                comparison.method,
                Method::Exact
                    | Method::JaroWinkler { .. }
                    | Method::Levenshtein { .. }
                    | Method::NameZh { .. }
                    | Method::Date { .. }
            );
            if comparison.tf_adjustment && !tf_capable {
                return Err(invalid(format!(
                    "comparison {name:?}: tf_adjustment applies to exact, jaro_winkler, \
                     levenshtein, date and name_zh only"
                )));
            }
        }
        if self.blocking.is_empty() && self.deterministic.is_empty() {
            return Err(invalid(
                "at least one [[blocking]] rule is needed: comparing every pair does not scale",
            ));
        }
        for rule in self.blocking.iter().chain(&self.deterministic) {
            for key in &rule.keys {
                match (key.transform, key.length) {
                    (Transform::Prefix, Some(n)) if n > 0 => {}
                    (Transform::Prefix, _) => {
                        return Err(invalid(format!(
                            "rule {:?}: transform prefix needs length >= 1",
                            rule.name
                        )));
                    }
                    (_, Some(_)) => {
                        return Err(invalid(format!(
                            "rule {:?}: length applies to transform prefix only",
                            rule.name
                        )));
                    }
                    _ => {}
                }
            }
        }
        let d = self.decision;
        if !(in_unit_interval(d.review_probability)
            && in_unit_interval(d.accept_probability)
            && d.review_probability <= d.accept_probability)
        {
            return Err(invalid(
                "decision: need 0 < review_probability <= accept_probability <= 1",
            ));
        }
        let t = &self.training;
        if t.u_sample_pairs == 0 {
            return Err(invalid("training.u_sample_pairs must be at least 1"));
        }
        if t.em_max_iterations == 0 || !t.em_tolerance.is_finite() || t.em_tolerance <= 0.0 {
            return Err(invalid(
                "training: em_max_iterations >= 1 and em_tolerance > 0 are needed",
            ));
        }
        if t.max_block_pairs == 0 {
            return Err(invalid("training.max_block_pairs must be at least 1"));
        }
        if !(in_unit_interval(t.initial_match_share) && t.initial_match_share < 1.0) {
            return Err(invalid("training.initial_match_share must be in (0, 1)"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[[comparison]]
name = "surname"
column = "surname"
method = "jaro_winkler"

[[blocking]]
columns = ["surname"]
"#;

    fn error_of(text: &str) -> String {
        LinkSpec::from_toml_str(text).unwrap_err().to_string()
    }

    #[test]
    fn defaults_fill_what_is_not_said() {
        let spec = LinkSpec::from_toml_str(MINIMAL).unwrap();
        assert_eq!(
            spec.comparisons[0].method,
            Method::JaroWinkler {
                thresholds: vec![0.92, 0.8]
            }
        );
        assert_eq!(spec.decision.accept_probability, 0.99);
        assert_eq!(spec.decision.review_probability, 0.5);
        assert_eq!(spec.ids.a, "id");
        assert_eq!(spec.blocking[0].name, "surname");
        assert_eq!(
            spec.comparisons[0].method.level_labels(),
            vec!["exact", "jaro_winkler>=0.92", "jaro_winkler>=0.8", "else"]
        );
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (
                MINIMAL.replace("jaro_winkler\"", "soundalike\""),
                "unknown method",
            ),
            (
                MINIMAL.replace(
                    "method = \"jaro_winkler\"",
                    "method = \"exact\"\nthresholds = [0.9]",
                ),
                "takes no thresholds",
            ),
            (
                MINIMAL.replace(
                    "method = \"jaro_winkler\"",
                    "method = \"jaro_winkler\"\nthresholds = [0.8, 0.9]",
                ),
                "strictly decreasing",
            ),
            (
                MINIMAL.replace(
                    "method = \"jaro_winkler\"",
                    "method = \"levenshtein\"\nmax_distances = [0, 1]",
                ),
                "max_distances",
            ),
            (
                MINIMAL.replace(
                    "column = \"surname\"\nmethod",
                    "columns = [\"a\", \"b\"]\nmethod",
                ),
                "reads 2 columns",
            ),
            (
                MINIMAL.replace(
                    "column = \"surname\"\nmethod",
                    "colum = \"surname\"\nmethod",
                ),
                "unknown field",
            ),
            (
                MINIMAL.replace("[[blocking]]\ncolumns = [\"surname\"]", ""),
                "[[blocking]]",
            ),
            (
                MINIMAL.replace(
                    "columns = [\"surname\"]",
                    "keys = [{ column = \"surname\", transform = \"prefix\" }]",
                ),
                "prefix needs length",
            ),
            (
                format!("{MINIMAL}\n[decision]\naccept_probability = 0.4\n"),
                "review_probability <= accept_probability",
            ),
            (
                format!("{MINIMAL}\n[training]\nu_sample_pairs = 0\n"),
                "u_sample_pairs",
            ),
            (
                MINIMAL.replace(
                    "method = \"jaro_winkler\"",
                    "method = \"sex\"\ntf_adjustment = true",
                ),
                "tf_adjustment applies",
            ),
            (
                format!("{MINIMAL}{MINIMAL}").replace(
                    "[[blocking]]\ncolumns = [\"surname\"]\n[[comparison]]",
                    "[[comparison]]",
                ),
                "used twice",
            ),
        ];
        for (text, expected) in cases {
            let message = error_of(&text);
            assert!(
                message.contains(expected),
                "{expected:?} not in {message:?}"
            );
        }
    }

    #[test]
    fn blocking_keys_parse_with_transforms() {
        let text = MINIMAL.replace(
            "columns = [\"surname\"]",
            "name = \"pinyin+year\"\nkeys = [{ column = \"name\", transform = \"pinyin\" }, \
             { column = \"birth\", transform = \"year\" }, \
             { column = \"name\", transform = \"prefix\", length = 2 }]",
        );
        let spec = LinkSpec::from_toml_str(&text).unwrap();
        let rule = &spec.blocking[0];
        assert_eq!(rule.name, "pinyin+year");
        assert_eq!(rule.keys[0].transform, Transform::Pinyin);
        assert_eq!(rule.keys[1].transform, Transform::Year);
        assert_eq!(rule.keys[2].length, Some(2));
        let unnamed = BlockingRule::new(None, rule.keys.clone());
        assert_eq!(unnamed.name, "pinyin(name)+year(birth)+name[..2]");
    }
}

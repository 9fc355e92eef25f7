//! Blocking: candidate pairs are the records that agree on the key of at least one rule. Each
//! pair is produced once (by the first rule that finds it); a block larger than the cap is
//! skipped and counted, never dropped silently.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;

use crate::data::Dataset;
use crate::error::LinkError;
use crate::spec::{BlockingRule, Transform};
use crate::text;

/// Separates key parts so that (`ab`, `c`) and (`a`, `bc`) differ.
const PART_SEPARATOR: char = '\u{1f}';

/// What one rule contributed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleReport {
    /// The rule's name.
    pub name: String,
    /// Whether it is a deterministic rule (its agreements are links).
    pub deterministic: bool,
    /// Distinct keys shared by at least two records (two sides when linking).
    pub blocks: u64,
    /// Pairs this rule found that no earlier rule had.
    pub pairs_new: u64,
    /// Pairs this rule found that an earlier rule had already produced.
    pub pairs_already_found: u64,
    /// Blocks over `max_block_pairs`, skipped.
    pub blocks_skipped: u64,
    /// Pairs in the skipped blocks (some may still come from other rules).
    pub pairs_skipped: u64,
}

#[derive(Debug, Clone)]
struct Part {
    column_a: usize,
    column_b: usize,
    transform: Transform,
    length: Option<usize>,
}

/// A rule bound to column positions.
#[derive(Debug, Clone)]
pub(crate) struct BoundRule {
    name: String,
    deterministic: bool,
    parts: Vec<Part>,
}

impl BoundRule {
    pub fn bind(
        rule: &BlockingRule,
        deterministic: bool,
        a: &Dataset,
        b: &Dataset,
    ) -> Result<Self, LinkError> {
        let kind = if deterministic {
            "deterministic rule"
        } else {
            "blocking rule"
        };
        let parts = rule
            .keys
            .iter()
            .map(|k| {
                let missing = |side| LinkError::MissingColumn {
                    dataset: side,
                    column: k.column.clone(),
                    needed_by: format!("{kind} {}", rule.name),
                };
                Ok(Part {
                    column_a: a.column_index(&k.column).ok_or_else(|| missing("a"))?,
                    column_b: b.column_index(&k.column).ok_or_else(|| missing("b"))?,
                    transform: k.transform,
                    length: k.length,
                })
            })
            .collect::<Result<_, LinkError>>()?;
        Ok(BoundRule {
            name: rule.name.clone(),
            deterministic,
            parts,
        })
    }

    pub fn is_deterministic(&self) -> bool {
        self.deterministic
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn key(&self, dataset: &Dataset, row: usize, side_b: bool) -> Option<String> {
        let mut key = String::new();
        for (i, part) in self.parts.iter().enumerate() {
            let column = if side_b { part.column_b } else { part.column_a };
            let value = dataset.value(row, column)?;
            let derived = derive(value, part.transform, part.length)?;
            if i > 0 {
                key.push(PART_SEPARATOR);
            }
            key.push_str(&derived);
        }
        Some(key)
    }

    pub fn keys(&self, dataset: &Dataset, side_b: bool) -> Vec<Option<String>> {
        (0..dataset.len())
            .into_par_iter()
            .map(|row| self.key(dataset, row, side_b))
            .collect()
    }
}

/// The key part of one value, `None` when the value yields nothing to block on.
pub(crate) fn derive(value: &str, transform: Transform, length: Option<usize>) -> Option<String> {
    let value = value.trim();
    let derived = match transform {
        Transform::Value => value.to_owned(),
        Transform::Prefix => value.chars().take(length.unwrap_or(1)).collect(),
        Transform::Pinyin => text::pinyin_joined(&text::clean_name_zh(value)),
        Transform::PinyinInitials => text::pinyin_initials(&text::clean_name_zh(value)),
        Transform::SurnamePinyin => text::surname_pinyin(value)?,
        Transform::Year => {
            let digits = text::date_digits(value)?;
            String::from_utf8_lossy(&digits[0..4]).into_owned()
        }
        Transform::Soundex => text::soundex(value)?,
        Transform::ResidentId => text::read_resident_id(value).filter(|r| r.valid)?.text,
        Transform::Digits => value.chars().filter(char::is_ascii_digit).collect(),
    };
    (!derived.is_empty()).then_some(derived)
}

/// Every rule's key of every record, per side.
pub(crate) struct Keys {
    pub a: Vec<Vec<Option<String>>>,
    pub b: Vec<Vec<Option<String>>>,
}

impl Keys {
    pub fn compute(rules: &[BoundRule], a: &Dataset, b: Option<&Dataset>) -> Self {
        let keys_a: Vec<_> = rules.iter().map(|r| r.keys(a, false)).collect();
        let keys_b = match b {
            Some(b) => rules.iter().map(|r| r.keys(b, true)).collect(),
            None => Vec::new(),
        };
        Keys {
            a: keys_a,
            b: keys_b,
        }
    }

    fn side_b(&self) -> &[Vec<Option<String>>] {
        if self.b.is_empty() { &self.a } else { &self.b }
    }

    /// Whether rule `r` puts rows `i` (side A) and `j` (side B) in one block.
    pub fn agree(&self, r: usize, i: usize, j: usize) -> bool {
        let x = self
            .a
            .get(r)
            .and_then(|k| k.get(i))
            .and_then(Option::as_ref);
        let y = self
            .side_b()
            .get(r)
            .and_then(|k| k.get(j))
            .and_then(Option::as_ref);
        matches!((x, y), (Some(x), Some(y)) if x == y)
    }
}

/// Candidate pairs, sorted, each once, with what each rule contributed.
pub(crate) struct Candidates {
    pub pairs: Vec<(u32, u32)>,
    pub rules: Vec<RuleReport>,
}

fn groups(keys: &[Option<String>]) -> HashMap<&str, Vec<u32>> {
    let mut groups: HashMap<&str, Vec<u32>> = HashMap::new();
    for (row, key) in keys.iter().enumerate() {
        if let (Some(key), Ok(row)) = (key, u32::try_from(row)) {
            groups.entry(key.as_str()).or_default().push(row);
        }
    }
    groups
}

/// Generates the candidate pairs: `(row in A, row in B)` when linking, `(i, j)` with `i < j`
/// when deduplicating (`linking == false`, keys of one side only).
pub(crate) fn candidates(
    rules: &[BoundRule],
    keys: &Keys,
    linking: bool,
    max_block_pairs: u64,
) -> Candidates {
    let mut pairs = Vec::new();
    let mut reports = Vec::with_capacity(rules.len());
    let mut skipped_keys: Vec<HashSet<String>> = Vec::with_capacity(rules.len());
    for (r, rule) in rules.iter().enumerate() {
        let mut report = RuleReport {
            name: rule.name.clone(),
            deterministic: rule.deterministic,
            blocks: 0,
            pairs_new: 0,
            pairs_already_found: 0,
            blocks_skipped: 0,
            pairs_skipped: 0,
        };
        let mut skipped = HashSet::new();
        let groups_a = groups(&keys.a[r]);
        let groups_b = if linking {
            groups(&keys.side_b()[r])
        } else {
            HashMap::new()
        };
        let mut block_keys: Vec<&str> = groups_a.keys().copied().collect();
        block_keys.sort_unstable();
        for key in block_keys {
            let rows_a = &groups_a[key];
            let rows_b: &[u32] = if linking {
                match groups_b.get(key) {
                    Some(rows) => rows,
                    None => continue,
                }
            } else {
                rows_a
            };
            let n_a = rows_a.len() as u64;
            let n_b = rows_b.len() as u64;
            let block_pairs = if linking {
                n_a * n_b
            } else {
                n_a * n_a.saturating_sub(1) / 2
            };
            if block_pairs == 0 {
                continue;
            }
            report.blocks += 1;
            if block_pairs > max_block_pairs {
                report.blocks_skipped += 1;
                report.pairs_skipped += block_pairs;
                skipped.insert(key.to_owned());
                continue;
            }
            for (x, &i) in rows_a.iter().enumerate() {
                let partners = if linking { rows_b } else { &rows_b[x + 1..] };
                for &j in partners {
                    let earlier = (0..r).any(|q| {
                        keys.agree(q, i as usize, j as usize)
                            && keys.a[q][i as usize]
                                .as_ref()
                                .is_some_and(|k| !skipped_keys[q].contains(k))
                    });
                    if earlier {
                        report.pairs_already_found += 1;
                    } else {
                        report.pairs_new += 1;
                        pairs.push((i, j));
                    }
                }
            }
        }
        skipped_keys.push(skipped);
        reports.push(report);
    }
    pairs.sort_unstable();
    Candidates {
        pairs,
        rules: reports,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::KeyPart;

    fn dataset(rows: &[(&str, &str)]) -> Dataset {
        let mut ds = Dataset::new(["name", "birth"]);
        for (i, (n, b)) in rows.iter().enumerate() {
            ds.push(i as u64, vec![Some((*n).into()), Some((*b).into())])
                .unwrap();
        }
        ds
    }

    #[test]
    fn union_of_rules_without_duplicates_and_capped_blocks_reported() {
        let ds = dataset(&[
            ("张伟", "1990-01-01"),
            ("张威", "1990-01-01"),
            ("李娜", "1990-01-01"),
            ("张伟", "1985-05-05"),
            ("王芳", "1970-07-07"),
        ]);
        let rules = vec![
            BoundRule::bind(&BlockingRule::on_columns(&["birth"]), false, &ds, &ds).unwrap(),
            BoundRule::bind(
                &BlockingRule::new(None, vec![KeyPart::derived("name", Transform::Pinyin)]),
                false,
                &ds,
                &ds,
            )
            .unwrap(),
        ];
        let keys = Keys::compute(&rules, &ds, None);
        let c = candidates(&rules, &keys, false, 100);
        // Birth: (0,1) (0,2) (1,2); pinyin zhangwei: (0,1) again, (0,3) (1,3) new.
        assert_eq!(c.pairs, vec![(0, 1), (0, 2), (0, 3), (1, 2), (1, 3)]);
        assert_eq!(c.rules[0].pairs_new, 3);
        assert_eq!(c.rules[1].pairs_new, 2);
        assert_eq!(c.rules[1].pairs_already_found, 1);
        assert_eq!(c.rules[1].name, "pinyin(name)");

        // Cap 2: the birth block (3 pairs) is skipped, so pinyin's (0,1) is new again.
        let c = candidates(&rules, &keys, false, 2);
        assert_eq!(c.rules[0].blocks_skipped, 1);
        assert_eq!(c.rules[0].pairs_skipped, 3);
        assert_eq!(c.rules[1].blocks_skipped, 1, "zhangwei has 3 records too");
        assert!(c.pairs.is_empty());
        let c = candidates(&rules, &keys, false, 3);
        assert_eq!(c.pairs.len(), 5);
    }

    #[test]
    fn linking_pairs_cross_sides_only() {
        let a = dataset(&[("张伟", "1990-01-01"), ("李娜", "1990-01-01")]);
        let b = dataset(&[("张伟", "1990-01-01"), ("王芳", "1970-07-07")]);
        let rules =
            vec![BoundRule::bind(&BlockingRule::on_columns(&["birth"]), false, &a, &b).unwrap()];
        let keys = Keys::compute(&rules, &a, Some(&b));
        let c = candidates(&rules, &keys, true, 100);
        assert_eq!(c.pairs, vec![(0, 0), (1, 0)]);
    }

    #[test]
    fn derived_keys() {
        assert_eq!(
            derive("张晓明", Transform::PinyinInitials, None).as_deref(),
            Some("zxm")
        );
        assert_eq!(
            derive("1990-01-02", Transform::Year, None).as_deref(),
            Some("1990")
        );
        assert_eq!(
            derive("Thompson", Transform::Prefix, Some(3)).as_deref(),
            Some("Tho")
        );
        assert_eq!(
            derive("11010519491231002x", Transform::ResidentId, None).as_deref(),
            Some("11010519491231002X")
        );
        assert_eq!(
            derive("110105194912310025", Transform::ResidentId, None),
            None,
            "an invalid ID blocks nothing"
        );
        assert_eq!(derive("n/a", Transform::Digits, None), None);
    }
}

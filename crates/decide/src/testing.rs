//! A package's own tests (`tests.toml`) and the runner behind `miaopi matter test`.
//!
//! Each case gives an application and the facts by name; the runner decides it with
//! [`FixedFacts`], compares outcome, failing/unknown conditions and details, checks that the
//! receipt replays to itself, optionally rechecks a 告知承诺 approval against later facts, and
//! records which rule rows matched. Coverage: every row of every decision table, and every
//! outcome the matter can reach, must be hit by at least one case.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::dates;
use crate::datum::{Datum, DatumType};
use crate::decide::{self, Application, FactMode, OutcomeKind, Receipt, Trace};
use crate::engine::LogicDescription;
use crate::error::PackageError;
use crate::facts::{Conflict, ConflictingValue, FactValue, FixedFacts, Provenance, SubjectKey};
use crate::manifest::{FormType, Manifest, PartyKind};
use crate::package::{Package, RULES_FILE, ResolvedFact, TESTS_FILE};

/// One case of `tests.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    /// 用例名称.
    pub name: String,
    /// The application.
    pub application: Application,
    /// Facts by name, as the source would answer.
    pub facts: BTreeMap<String, FactValue>,
    /// Expected result.
    pub expect: Expectation,
    /// Later facts for a recheck of a 告知承诺 approval, and whether they revoke it.
    pub recheck: Option<(BTreeMap<String, FactValue>, bool)>,
}

/// What a case expects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// Outcome kind.
    pub outcome: OutcomeKind,
    /// Failing condition codes (rejections).
    pub failing: Vec<String>,
    /// Unknown condition codes.
    pub unknown: Vec<String>,
    /// Expected details (only those listed are compared).
    pub details: BTreeMap<String, Datum>,
    /// Text every reason list must contain somewhere (checks explanations).
    pub reason_contains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(rename = "case", default)]
    cases: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    application_date: toml::Value,
    applicant: String,
    #[serde(default)]
    applicant_kind: Option<PartyKind>,
    #[serde(default)]
    parties: BTreeMap<String, String>,
    #[serde(default)]
    form: toml::Table,
    #[serde(default)]
    commitments: Vec<String>,
    #[serde(default)]
    accept_pending_materials: bool,
    #[serde(default)]
    prior_false_commitment: bool,
    #[serde(default)]
    facts: toml::Table,
    #[serde(default)]
    stale: Vec<String>,
    #[serde(default)]
    conflict: Vec<String>,
    expect: RawExpect,
    #[serde(default)]
    recheck: Option<RawRecheck>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    outcome: String,
    #[serde(default)]
    failing: Vec<String>,
    #[serde(default)]
    unknown: Vec<String>,
    #[serde(default)]
    details: toml::Table,
    #[serde(default)]
    reason_contains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecheck {
    facts: toml::Table,
    revoked: bool,
}

/// The decision time of test cases: 09:00 Asia/Shanghai on the application date.
pub fn test_time(date: NaiveDate) -> DateTime<FixedOffset> {
    let local = date.and_time(chrono::NaiveTime::MIN) + chrono::Duration::hours(9);
    // 09:00 at UTC+8 is 01:00 UTC the same day.
    DateTime::from_naive_utc_and_offset(local - chrono::Duration::hours(8), dates::shanghai())
}

fn test_provenance(f: &ResolvedFact, case: &str, at: DateTime<FixedOffset>) -> Vec<Provenance> {
    match f.binding() {
        Some(b) => vec![Provenance {
            unit: b.unit.clone(),
            resource: b.resource.clone(),
            batch_id: "test".into(),
            ingested_at: at,
            record: format!("{TESTS_FILE}: {case}"),
        }],
        None => Vec::new(),
    }
}

fn typed_facts(
    table: &toml::Table,
    facts: &[ResolvedFact],
    declared: &BTreeSet<String>,
    case: &str,
    at: DateTime<FixedOffset>,
) -> Result<BTreeMap<String, FactValue>, String> {
    let mut out = BTreeMap::new();
    for (name, raw) in table {
        let Some(f) = facts.iter().find(|f| &f.name == name) else {
            if declared.contains(name) {
                // Declared but unresolvable: reported on matter.toml already.
                continue;
            }
            return Err(format!("unknown fact {name:?}"));
        };
        let value =
            Datum::from_toml(raw, &f.value_type).map_err(|e| format!("fact {name}: {e}"))?;
        out.insert(
            name.clone(),
            FactValue::known(value, test_provenance(f, case, at)),
        );
    }
    Ok(out)
}

/// Parses `tests.toml` against the manifest; errors as (item, message).
pub(crate) fn parse_tests(
    text: &str,
    m: &Manifest,
    facts: &[ResolvedFact],
) -> Result<Vec<TestCase>, Vec<(Option<String>, String)>> {
    let raw: RawFile =
        toml::from_str(text).map_err(|e| vec![(None, e.to_string().trim_end().to_owned())])?;
    let mut errors = Vec::new();
    let mut cases = Vec::new();
    let mut names = BTreeSet::new();
    let declared: BTreeSet<String> = m.facts.iter().map(|f| f.name.clone()).collect();
    for c in raw.cases {
        let item = Some(format!("case {:?}", c.name));
        let mut fail = |msg: String| errors.push((item.clone(), msg));
        if !names.insert(c.name.clone()) {
            fail("case name used twice".into());
        }
        let date = match Datum::from_toml(&c.application_date, &DatumType::Date) {
            Ok(Datum::Date(d)) => d,
            Ok(_) | Err(_) => {
                fail("application_date must be a date".into());
                continue;
            }
        };
        let at = test_time(date);
        let kind = c.applicant_kind.unwrap_or(PartyKind::Person);
        let Some(applicant) = SubjectKey::parse(kind, &c.applicant) else {
            fail(format!(
                "applicant {:?} is not a valid {kind:?} key",
                c.applicant
            ));
            continue;
        };
        let mut parties = BTreeMap::new();
        for (role, key) in &c.parties {
            match m.parties.iter().find(|p| &p.role == role) {
                None => fail(format!("unknown party {role:?}")),
                Some(p) => match SubjectKey::parse(p.kind, key) {
                    Some(k) => {
                        parties.insert(role.clone(), k);
                    }
                    None => fail(format!("party {role}: {key:?} is not a valid key")),
                },
            }
        }
        let mut form = BTreeMap::new();
        for (name, raw) in &c.form {
            let Some(spec) = m.form.iter().find(|f| &f.name == name) else {
                fail(format!("unknown form input {name:?}"));
                continue;
            };
            let t = match spec.form_type {
                FormType::Text => DatumType::Text,
                FormType::Date => DatumType::Date,
                FormType::Int => DatumType::Int,
                FormType::Bool => DatumType::Bool,
            };
            match Datum::from_toml(raw, &t) {
                Ok(d) => {
                    form.insert(name.clone(), d);
                }
                Err(e) => fail(format!("form {name}: {e}")),
            }
        }
        let mut case_facts = match typed_facts(&c.facts, facts, &declared, &c.name, at) {
            Ok(f) => f,
            Err(e) => {
                fail(e);
                BTreeMap::new()
            }
        };
        for name in &c.stale {
            match case_facts.get_mut(name) {
                Some(v) => v.stale = true,
                None => fail(format!("stale: fact {name:?} has no value in this case")),
            }
        }
        for name in &c.conflict {
            match case_facts.get_mut(name) {
                Some(v) => {
                    let value = v.value.clone().unwrap_or(Datum::Bool(false));
                    v.conflict = Some(Conflict {
                        values: vec![
                            ConflictingValue {
                                value: value.clone(),
                                provenance: v.provenance.first().cloned(),
                            },
                            ConflictingValue {
                                value: Datum::Text("（另一来源的不同取值）".into()),
                                provenance: None,
                            },
                        ],
                        note: "测试：两个来源取值不一致".into(),
                    });
                }
                None => fail(format!("conflict: fact {name:?} has no value in this case")),
            }
        }
        let Some(outcome) = OutcomeKind::parse(&c.expect.outcome) else {
            fail(format!("unknown outcome {:?}", c.expect.outcome));
            continue;
        };
        for code in c.expect.failing.iter().chain(&c.expect.unknown) {
            // `party:<role>`: the engine's check of a party that must be one of others.
            let party_check = code
                .strip_prefix(crate::decide::PARTY_CHECK_PREFIX)
                .is_some_and(|role| {
                    m.parties
                        .iter()
                        .any(|p| p.role == role && !p.must_be.is_empty())
                });
            if !party_check && !m.conditions.iter().any(|x| &x.code == code) {
                fail(format!("unknown condition {code:?}"));
            }
        }
        let mut details = BTreeMap::new();
        for (name, raw) in &c.expect.details {
            match Datum::infer_toml(raw) {
                Ok(d) if m.details.iter().any(|x| &x.name == name) => {
                    details.insert(name.clone(), d);
                }
                Ok(_) => fail(format!("unknown detail {name:?}")),
                Err(e) => fail(format!("detail {name}: {e}")),
            }
        }
        let recheck = match &c.recheck {
            None => None,
            Some(r) => match typed_facts(&r.facts, facts, &declared, &c.name, at) {
                Ok(f) => Some((f, r.revoked)),
                Err(e) => {
                    fail(format!("recheck: {e}"));
                    None
                }
            },
        };
        cases.push(TestCase {
            name: c.name,
            application: Application {
                matter: m.code.clone(),
                application_date: date,
                applicant,
                parties,
                form,
                commitments: c.commitments,
                accept_pending_materials: c.accept_pending_materials,
                prior_false_commitment: c.prior_false_commitment,
                backdated: None,
            },
            facts: case_facts,
            expect: Expectation {
                outcome,
                failing: c.expect.failing,
                unknown: c.expect.unknown,
                details,
                reason_contains: c.expect.reason_contains,
            },
            recheck,
        });
    }
    if cases.is_empty() && errors.is_empty() {
        errors.push((None, "no test case".into()));
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

/// One case's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    /// 用例名称.
    pub name: String,
    /// Whether everything matched.
    pub passed: bool,
    /// What differed (empty when passed).
    pub problems: Vec<String>,
    /// The receipt produced (none if the decision itself failed).
    #[serde(skip)]
    pub receipt: Option<Receipt>,
}

/// Coverage of one decision table row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowCoverage {
    /// Decision.
    pub decision: String,
    /// 1-based row.
    pub row: usize,
    /// Row label.
    pub label: String,
    /// Cases that matched it.
    pub hits: usize,
}

/// 测试报告.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestReport {
    /// 事项 code.
    pub matter: String,
    /// Version.
    pub version: String,
    /// Each case.
    pub cases: Vec<CaseResult>,
    /// Each rule row with its hits.
    pub rows: Vec<RowCoverage>,
    /// Outcomes the matter can reach.
    pub reachable_outcomes: Vec<OutcomeKind>,
    /// Outcomes some passing case expects.
    pub covered_outcomes: Vec<OutcomeKind>,
}

impl TestReport {
    /// Cases passed.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed).count()
    }

    /// Cases failed.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }

    /// Rows no case matched.
    pub fn uncovered_rows(&self) -> Vec<&RowCoverage> {
        self.rows.iter().filter(|r| r.hits == 0).collect()
    }

    /// Reachable outcomes no passing case expects.
    pub fn uncovered_outcomes(&self) -> Vec<OutcomeKind> {
        self.reachable_outcomes
            .iter()
            .filter(|o| !self.covered_outcomes.contains(o))
            .copied()
            .collect()
    }

    /// True when all cases pass and everything is covered.
    pub fn ok(&self) -> bool {
        self.failed() == 0
            && self.uncovered_rows().is_empty()
            && self.uncovered_outcomes().is_empty()
    }

    /// The report as package errors (what loading refuses the package for).
    pub fn errors(&self, package: &Package) -> Vec<PackageError> {
        let tests = package.file(TESTS_FILE);
        let rules = package.file(RULES_FILE);
        let mut out = Vec::new();
        for c in self.cases.iter().filter(|c| !c.passed) {
            out.push(PackageError {
                file: tests.clone(),
                item: Some(format!("case {:?}", c.name)),
                message: c.problems.join("; "),
            });
        }
        for r in self.uncovered_rows() {
            out.push(PackageError {
                file: rules.clone(),
                item: Some(format!(
                    "decision {} row {} ({})",
                    r.decision, r.row, r.label
                )),
                message: "no test case matches this rule row".into(),
            });
        }
        for o in self.uncovered_outcomes() {
            out.push(PackageError {
                file: tests.clone(),
                item: Some(format!("outcome {}", o.as_str())),
                message: "the matter can reach this outcome but no test case expects it".into(),
            });
        }
        out
    }

    /// A short text summary (for the command line).
    pub fn summary(&self) -> String {
        let rows_hit = self.rows.iter().filter(|r| r.hits > 0).count();
        format!(
            "{} {}: {} passed, {} failed; rule rows covered {}/{}; outcomes covered {}/{}",
            self.matter,
            self.version,
            self.passed(),
            self.failed(),
            rows_hit,
            self.rows.len(),
            self.covered_outcomes.len(),
            self.reachable_outcomes.len()
        )
    }
}

/// Runs a package's tests and measures rule-row and outcome coverage.
pub fn run_package_tests(package: &Package) -> TestReport {
    let m = &package.manifest;
    let mut trace = Trace::default();
    let mut results = Vec::new();
    let mut covered = BTreeSet::new();
    let packages = ReplayScope(package);
    for case in &package.tests {
        let mut problems = Vec::new();
        let at = test_time(case.application.application_date);
        let facts = FixedFacts(case.facts.clone());
        let receipt = match decide::evaluate(
            package,
            &case.application,
            FactMode::Live(&facts),
            at,
            Some(&mut trace),
        ) {
            Ok(r) => Some(r),
            Err(e) => {
                problems.push(format!("decision failed: {e}"));
                None
            }
        };
        if let Some(r) = &receipt {
            check_case(case, r, &mut problems);
            match packages.replay(r) {
                Ok(again) if again == *r => {}
                Ok(_) => problems.push("replaying the receipt gave a different receipt".into()),
                Err(e) => problems.push(format!("replay failed: {e}")),
            }
            if let Some((later, revoked)) = &case.recheck {
                let mut facts_now = case.facts.clone();
                facts_now.extend(later.clone());
                match packages.recheck(r, &FixedFacts(facts_now), at) {
                    Ok(rev) if rev.is_some() == *revoked => {}
                    Ok(rev) => problems.push(format!(
                        "recheck: expected revoked = {revoked}, got {}",
                        rev.is_some()
                    )),
                    Err(e) => problems.push(format!("recheck failed: {e}")),
                }
            }
        }
        if problems.is_empty() {
            covered.insert(case.expect.outcome);
        }
        results.push(CaseResult {
            name: case.name.clone(),
            passed: problems.is_empty(),
            problems,
            receipt,
        });
    }
    let mut rows = Vec::new();
    for d in &package.model().decisions {
        if let LogicDescription::Table { rules, .. } = &d.logic {
            for r in rules {
                let label = r.label.clone().unwrap_or_default();
                let hits = usize::from(trace.rows.contains(&(d.name.clone(), label.clone())));
                rows.push(RowCoverage {
                    decision: d.name.clone(),
                    row: r.row,
                    label,
                    hits,
                });
            }
        }
    }
    let mut reachable = vec![
        OutcomeKind::Approved,
        OutcomeKind::Rejected,
        OutcomeKind::ManualReview,
    ];
    if m.tolerance.is_some() {
        reachable.push(OutcomeKind::ApprovedPendingMaterials);
    }
    if m.commitment.is_some() {
        reachable.push(OutcomeKind::ApprovedOnCommitment);
    }
    TestReport {
        matter: m.code.clone(),
        version: m.version.clone(),
        cases: results,
        rows,
        reachable_outcomes: reachable,
        covered_outcomes: covered.into_iter().collect(),
    }
}

/// Replay and recheck within one package, without a registry.
struct ReplayScope<'a>(&'a Package);

impl ReplayScope<'_> {
    fn replay(&self, r: &Receipt) -> Result<Receipt, crate::error::DecideError> {
        decide::evaluate(
            self.0,
            &r.application,
            FactMode::Recorded {
                parties: &r.parties,
                facts: &r.facts,
            },
            r.decided_at,
            None,
        )
    }

    fn recheck(
        &self,
        r: &Receipt,
        facts: &FixedFacts,
        at: DateTime<FixedOffset>,
    ) -> Result<Option<crate::decide::Revocation>, crate::error::DecideError> {
        crate::decide::recheck_with(r, self.0, facts, at)
    }
}

fn check_case(case: &TestCase, r: &Receipt, problems: &mut Vec<String>) {
    let e = &case.expect;
    let kind = r.outcome.kind();
    if kind != e.outcome {
        problems.push(format!(
            "expected {}, got {} ({})",
            e.outcome.as_str(),
            kind.as_str(),
            r.reasons.last().cloned().unwrap_or_default()
        ));
    }
    let of = |status: crate::decide::Tri| -> Vec<String> {
        r.conditions
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.code.clone())
            .collect()
    };
    let sorted = |v: &[String]| -> BTreeSet<String> { v.iter().cloned().collect() };
    let failing = of(crate::decide::Tri::Fails);
    if sorted(&failing) != sorted(&e.failing) {
        problems.push(format!(
            "failing conditions: expected {:?}, got {failing:?}",
            e.failing
        ));
    }
    let unknown = of(crate::decide::Tri::Unknown);
    if sorted(&unknown) != sorted(&e.unknown) {
        problems.push(format!(
            "unknown conditions: expected {:?}, got {unknown:?}",
            e.unknown
        ));
    }
    let details = r.outcome.details();
    for (name, want) in &e.details {
        let got = details.and_then(|d| d.get(name));
        let same = match (got, want) {
            (Some(Datum::Int(a)), Datum::Int(b)) => a == b,
            (Some(Datum::Decimal(a)), Datum::Int(b)) => a.parse::<f64>().ok() == Some(*b as f64),
            (Some(a), b) => a == b,
            (None, _) => false,
        };
        if !same {
            problems.push(format!("detail {name}: expected {want:?}, got {got:?}"));
        }
    }
    let all = r.reasons.join("\n");
    for text in &e.reason_contains {
        if !all.contains(text.as_str()) {
            problems.push(format!("no reason contains {text:?}; reasons:\n{all}"));
        }
    }
    if !r.id_is_valid() {
        problems.push("receipt id does not match its content".into());
    }
}

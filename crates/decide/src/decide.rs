//! Deciding an application: parties → facts → derived facts → conditions (three-valued) →
//! outcome → 告知承诺 / 容缺 paths → reasons → receipt. Replay and recheck reuse the same path
//! with recorded or fresh facts.
//!
//! Principles enforced here, whatever the rules say:
//! * a conflicting or stale fact reaches the rules as null, and a condition that fails while
//!   depending on such a fact counts as unknown (转人工), never as failing;
//! * the outcome table's verdict must agree with the conditions: "rejected" needs a failing
//!   condition and "approved" needs every condition to hold, or the application goes to a
//!   person;
//! * an approval whose details (amounts) cannot be computed goes to a person.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use sm3::{Digest, Sm3};

use crate::dates;
use crate::datum::{Datum, DatumType};
use crate::engine::{EngineInfo, EvalValue, Inputs};
use crate::error::DecideError;
use crate::facts::{
    ApprovalInForce, Conflict, ConflictingValue, EffectOf, FactSource, FactValue, FedBinding,
    Provenance, Subject, SubjectKey,
};
use crate::manifest::{
    Aggregate, CrossCheck, DerivedKind, FormType, KeyAttribute, KeySource, PartyKind,
};
use crate::package::{
    APPLICATION_DATE, FactOrigin, OUTCOME_OUTPUT, Package, Packages, ResolvedFact, hex,
};

/// 申请: what the applicant (or the portal on their behalf) submits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// 事项 code.
    pub matter: String,
    /// 申请日期 (Asia/Shanghai): chooses the version in force and is the date ages are counted to.
    pub application_date: NaiveDate,
    /// 申请人.
    pub applicant: SubjectKey,
    /// Parties whose key is `supplied` (role → key), e.g. resolved from the entity index.
    #[serde(default)]
    pub parties: BTreeMap<String, SubjectKey>,
    /// 表单 inputs.
    #[serde(default)]
    pub form: BTreeMap<String, Datum>,
    /// 告知承诺: condition codes the applicant commits to.
    #[serde(default)]
    pub commitments: Vec<String>,
    /// 容缺: the applicant signs to bring missing materials by the deadline.
    #[serde(default)]
    pub accept_pending_materials: bool,
    /// A past false commitment (from the decision store's revocations): excludes 告知承诺.
    #[serde(default)]
    pub prior_false_commitment: bool,
    /// 窗口补录: an officer recorded this application at a counter with an earlier date than
    /// the day of the decision. Without it the application date must be the decision's day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backdated: Option<Backdating>,
}

/// Who dated an application before the day it was decided, and why (窗口补录).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backdating {
    /// The officer (console account) who recorded the earlier date.
    pub officer: String,
    /// 补录理由, e.g. "申请人 11 月 20 日到窗口递交纸质申请，系统故障未能当日录入".
    pub reason: String,
}

/// The period an application falls in under its package's [`PeriodSpec`]: `lifetime`,
/// `year:2026`, or `event:<the form input's value>`. `None` for an event period whose form
/// input was left empty (nothing says which event it is, so no earlier decision is its own).
///
/// [`PeriodSpec`]: crate::manifest::PeriodSpec
pub fn period_of(package: &Package, app: &Application) -> Option<String> {
    use crate::manifest::PeriodSpec;
    match &package.manifest.period {
        PeriodSpec::Lifetime => Some("lifetime".to_owned()),
        PeriodSpec::Year => Some(format!("year:{}", app.application_date.format("%Y"))),
        PeriodSpec::Event { form } => {
            let value = app.form.get(form)?.display_zh();
            let value = value.trim();
            (!value.is_empty()).then(|| format!("event:{value}"))
        }
    }
}

/// Whether two receipts of the same applicant and matter decide alike on the same facts: the
/// same outcome (with its details), the same parties, the same fact values and conditions.
/// Times, provenance and receipt ids may differ. A repeat application that decides alike gets
/// the decision already in force.
pub fn decides_alike(a: &Receipt, b: &Receipt) -> bool {
    let values = |r: &Receipt| -> Vec<(String, Option<Datum>, bool)> {
        r.facts
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone(), v.conflict.is_some() || v.stale))
            .collect()
    };
    let statuses = |r: &Receipt| -> Vec<(String, Tri)> {
        r.conditions
            .iter()
            .map(|c| (c.code.clone(), c.status))
            .collect()
    };
    a.matter.code == b.matter.code
        && a.matter.package_hash == b.matter.package_hash
        && a.application.applicant == b.application.applicant
        && a.outcome == b.outcome
        && a.parties == b.parties
        && values(a) == values(b)
        && statuses(a) == statuses(b)
}

/// The code of the condition checking a party's relation (`party:applicant`).
pub const PARTY_CHECK_PREFIX: &str = "party:";

/// 当事人关系核验: for each party that must be one of other parties (`must_be`), whether its
/// key is the key of one of them as resolved from the source records. Holds when it is;
/// fails when every one of them is established and none is it; unknown otherwise (a party
/// that the records do not establish cannot be ruled out).
fn party_checks(
    package: &Package,
    parties: &BTreeMap<String, Option<SubjectKey>>,
) -> Vec<ConditionResult> {
    let m = &package.manifest;
    let label_of = |role: &str| {
        m.parties
            .iter()
            .find(|p| p.role == role)
            .map_or(role.to_owned(), |p| p.label.clone())
    };
    let defining_fact = |role: &str| {
        m.parties
            .iter()
            .find(|p| p.role == role)
            .and_then(|p| match &p.key {
                KeySource::Fact(f) | KeySource::Form(f) => Some(f.clone()),
                _ => None,
            })
    };
    let mut out = Vec::new();
    for p in m.parties.iter().filter(|p| !p.must_be.is_empty()) {
        let others: Vec<String> = p.must_be.iter().map(|r| label_of(r)).collect();
        let label = format!("{}须为{}之一", p.label, others.join("或"));
        let key = parties.get(&p.role).cloned().flatten();
        let candidates: Vec<(&String, Option<&SubjectKey>)> = p
            .must_be
            .iter()
            .map(|r| (r, parties.get(r).and_then(Option::as_ref)))
            .collect();
        let matched = key.as_ref().and_then(|k| {
            candidates
                .iter()
                .find(|(_, c)| *c == Some(k))
                .map(|(r, _)| label_of(r))
        });
        let unresolved: Vec<String> = candidates
            .iter()
            .filter(|(_, c)| c.is_none())
            .map(|(r, _)| label_of(r))
            .collect();
        let (status, explained) = match (&key, matched) {
            (_, Some(who)) => (Tri::Holds, format!("{}即记录中的{who}", p.label)),
            (Some(_), None) if unresolved.is_empty() => (
                Tri::Fails,
                format!("{}不是记录中的{}中的任何一人", p.label, others.join("、")),
            ),
            (Some(_), None) => (
                Tri::Unknown,
                format!(
                    "{}不是已确定的当事人；{}未能从记录中确定，无法排除",
                    p.label,
                    unresolved.join("、")
                ),
            ),
            (None, None) => (Tri::Unknown, format!("{}未能确定", p.label)),
        };
        let facts: Vec<String> = p.must_be.iter().filter_map(|r| defining_fact(r)).collect();
        let missing_facts: Vec<String> = p
            .must_be
            .iter()
            .filter(|r| parties.get(*r).is_none_or(Option::is_none))
            .filter_map(|r| defining_fact(r))
            .collect();
        out.push(ConditionResult {
            code: format!("{PARTY_CHECK_PREFIX}{}", p.role),
            label: label.clone(),
            decision: String::new(),
            computed: match status {
                Tri::Holds => Some(true),
                Tri::Fails => Some(false),
                Tri::Unknown => None,
            },
            status,
            facts,
            missing_facts,
            tainted_facts: Vec::new(),
            reason: format!("{label}：{explained}：{}", status.label_zh()),
        });
    }
    out
}

/// The longest 补录理由 accepted, in characters.
pub const BACKDATE_REASON_MAX_CHARS: usize = 500;

/// Checks the application date against the day of the decision (Asia/Shanghai): never in the
/// future; earlier only when an officer recorded it with a reason, and within the matter's
/// window. Live decisions only: a replay or a recheck re-evaluates an application accepted then.
pub fn check_application_date(
    package: &Package,
    app: &Application,
    decided_at: DateTime<FixedOffset>,
) -> Result<(), DecideError> {
    let today = decided_at.with_timezone(&dates::shanghai()).date_naive();
    let date = app.application_date;
    if date > today {
        return Err(DecideError::FutureApplicationDate { date, today });
    }
    if let Some(b) = &app.backdated {
        let reason = b.reason.trim();
        if reason.is_empty() || b.officer.trim().is_empty() {
            return Err(DecideError::BackdateReasonRequired);
        }
        if reason.chars().count() > BACKDATE_REASON_MAX_CHARS {
            return Err(DecideError::InvalidApplication(format!(
                "the backdating reason is longer than {BACKDATE_REASON_MAX_CHARS} characters"
            )));
        }
    }
    if date == today {
        return Ok(());
    }
    if app.backdated.is_none() {
        return Err(DecideError::PastApplicationDate { date, today });
    }
    let window_days = package.manifest.backdate_window_days;
    let earliest = today
        .checked_sub_days(chrono::Days::new(u64::from(window_days)))
        .unwrap_or(NaiveDate::MIN);
    if date < earliest {
        return Err(DecideError::BackdateBeyondWindow {
            date,
            earliest,
            window_days,
        });
    }
    Ok(())
}

/// 条件判断: holds, fails, or unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tri {
    /// 满足.
    Holds,
    /// 不满足.
    Fails,
    /// 无法判断.
    Unknown,
}

impl Tri {
    /// 中文.
    pub fn label_zh(self) -> &'static str {
        match self {
            Tri::Holds => "满足",
            Tri::Fails => "不满足",
            Tri::Unknown => "无法判断",
        }
    }
}

/// One condition's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionResult {
    /// Condition code.
    pub code: String,
    /// 条件说明.
    pub label: String,
    /// The DMN decision.
    pub decision: String,
    /// What the rules computed (`None` = null).
    pub computed: Option<bool>,
    /// The judgement after the engine's safeguards.
    pub status: Tri,
    /// Facts behind it (through derived facts).
    pub facts: Vec<String>,
    /// Facts behind it that were missing.
    pub missing_facts: Vec<String>,
    /// Facts behind it that were conflicting or stale.
    pub tainted_facts: Vec<String>,
    /// 理由 (Chinese).
    pub reason: String,
}

/// 容缺 material to bring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingMaterial {
    /// The missing fact.
    pub fact: String,
    /// 需补交的材料.
    pub material: String,
}

/// 核查任务 of a 告知承诺 approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationTask {
    /// The condition codes committed to.
    pub conditions: Vec<String>,
    /// The facts to re-read.
    pub facts: Vec<String>,
    /// 核查期限.
    pub due: NaiveDate,
}

/// 办理结果.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// 批准.
    Approved {
        /// 核定结果 (amounts, subsidies).
        details: BTreeMap<String, Datum>,
    },
    /// 不予批准, naming the failing conditions.
    Rejected {
        /// Failing condition codes.
        failing: Vec<String>,
    },
    /// 转人工.
    ManualReview {
        /// Condition codes that could not be decided.
        unknown: Vec<String>,
        /// Why (Chinese).
        causes: Vec<String>,
    },
    /// 容缺受理: approved, materials to follow by the deadline.
    ApprovedPendingMaterials {
        /// 核定结果.
        details: BTreeMap<String, Datum>,
        /// What to bring.
        missing: Vec<PendingMaterial>,
        /// 补正期限.
        deadline: NaiveDate,
    },
    /// 告知承诺: approved on the applicant's commitment, verified later.
    ApprovedOnCommitment {
        /// 核定结果.
        details: BTreeMap<String, Datum>,
        /// 核查任务.
        task: VerificationTask,
    },
}

/// The kind of an [`Outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// 批准.
    Approved,
    /// 不予批准.
    Rejected,
    /// 转人工.
    ManualReview,
    /// 容缺受理.
    ApprovedPendingMaterials,
    /// 告知承诺.
    ApprovedOnCommitment,
}

impl OutcomeKind {
    /// Every kind.
    pub const ALL: [OutcomeKind; 5] = [
        OutcomeKind::Approved,
        OutcomeKind::Rejected,
        OutcomeKind::ManualReview,
        OutcomeKind::ApprovedPendingMaterials,
        OutcomeKind::ApprovedOnCommitment,
    ];

    /// snake_case key.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Approved => "approved",
            OutcomeKind::Rejected => "rejected",
            OutcomeKind::ManualReview => "manual_review",
            OutcomeKind::ApprovedPendingMaterials => "approved_pending_materials",
            OutcomeKind::ApprovedOnCommitment => "approved_on_commitment",
        }
    }

    /// Parses the key.
    pub fn parse(s: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// 中文.
    pub fn label_zh(self) -> &'static str {
        match self {
            OutcomeKind::Approved => "批准",
            OutcomeKind::Rejected => "不予批准",
            OutcomeKind::ManualReview => "转人工审核",
            OutcomeKind::ApprovedPendingMaterials => "容缺受理（批准，待补交材料）",
            OutcomeKind::ApprovedOnCommitment => "告知承诺批准（待核查）",
        }
    }
}

impl Outcome {
    /// Its kind.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Approved { .. } => OutcomeKind::Approved,
            Outcome::Rejected { .. } => OutcomeKind::Rejected,
            Outcome::ManualReview { .. } => OutcomeKind::ManualReview,
            Outcome::ApprovedPendingMaterials { .. } => OutcomeKind::ApprovedPendingMaterials,
            Outcome::ApprovedOnCommitment { .. } => OutcomeKind::ApprovedOnCommitment,
        }
    }

    /// Whether the applicant gets the service (and a certificate).
    pub fn is_approval(&self) -> bool {
        matches!(
            self,
            Outcome::Approved { .. }
                | Outcome::ApprovedPendingMaterials { .. }
                | Outcome::ApprovedOnCommitment { .. }
        )
    }

    /// 核定结果 of an approval.
    pub fn details(&self) -> Option<&BTreeMap<String, Datum>> {
        match self {
            Outcome::Approved { details }
            | Outcome::ApprovedPendingMaterials { details, .. }
            | Outcome::ApprovedOnCommitment { details, .. } => Some(details),
            _ => None,
        }
    }
}

/// The package a receipt was decided under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatterRef {
    /// 事项 code.
    pub code: String,
    /// 事项名称.
    pub name: String,
    /// Package version.
    pub version: String,
    /// Package SM3 hash.
    pub package_hash: String,
}

/// A rule row that matched.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MatchedRule {
    /// Decision name.
    pub decision: String,
    /// Row label.
    pub label: String,
}

/// 决定回执: everything needed to explain and replay a decision, years later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// SM3 (hex) of the receipt's canonical JSON with this field empty.
    pub receipt_id: String,
    /// Package.
    pub matter: MatterRef,
    /// Engine.
    pub engine: EngineInfo,
    /// The application (form inputs included).
    pub application: Application,
    /// Parties as resolved (role → key; `None` = could not be established).
    pub parties: BTreeMap<String, Option<SubjectKey>>,
    /// Every fact used, with provenance, as fetched (tainted ones included).
    pub facts: BTreeMap<String, FactValue>,
    /// Derived facts (`None` = could not be derived or derived from a tainted fact).
    pub derived: BTreeMap<String, Option<Datum>>,
    /// Parameters in force.
    pub parameters: BTreeMap<String, Datum>,
    /// Each condition's result and reason.
    pub conditions: Vec<ConditionResult>,
    /// 办理结果.
    pub outcome: Outcome,
    /// 理由 (Chinese), conditions first, then the conclusion.
    pub reasons: Vec<String>,
    /// Rule rows that matched.
    pub matched_rules: Vec<MatchedRule>,
    /// 决定时间 (Asia/Shanghai).
    pub decided_at: DateTime<FixedOffset>,
}

impl Receipt {
    /// Canonical JSON (struct fields in declaration order, maps sorted).
    pub fn to_json(&self) -> String {
        // Serialising these plain types cannot fail; an empty string is the formal fallback.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Recomputes the id from the content.
    pub fn compute_id(&self) -> String {
        let mut copy = self.clone();
        copy.receipt_id = String::new();
        hex(&Sm3::digest(copy.to_json().as_bytes()))
    }

    /// Whether the id matches the content.
    pub fn id_is_valid(&self) -> bool {
        self.receipt_id == self.compute_id()
    }
}

/// 撤销: a 告知承诺 approval revoked because a later fact contradicts the commitment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The revoked receipt.
    pub receipt_id: String,
    /// 事项 code.
    pub matter: String,
    /// The committed conditions now failing.
    pub conditions: Vec<String>,
    /// 理由 (Chinese).
    pub reasons: Vec<String>,
    /// The facts read at the recheck.
    pub facts: BTreeMap<String, FactValue>,
    /// 核查时间.
    pub checked_at: DateTime<FixedOffset>,
}

/// Where facts come from for one evaluation.
pub(crate) enum FactMode<'a> {
    /// Fetched now.
    Live(&'a dyn FactSource),
    /// Taken verbatim from a receipt (replay).
    Recorded {
        parties: &'a BTreeMap<String, Option<SubjectKey>>,
        facts: &'a BTreeMap<String, FactValue>,
    },
}

/// Rule rows seen during an evaluation (package tests).
#[derive(Debug, Default)]
pub(crate) struct Trace {
    pub rows: BTreeSet<(String, String)>,
}

/// 秒批: decides an application with the version of its matter in force on the application date.
pub fn decide(
    packages: &Packages,
    application: &Application,
    facts: &dyn FactSource,
    decided_at: DateTime<FixedOffset>,
) -> Result<Receipt, DecideError> {
    let package = packages.in_force(&application.matter, application.application_date)?;
    decide_with(package, application, facts, decided_at)
}

/// Decides an application under one given package.
pub fn decide_with(
    package: &Package,
    application: &Application,
    facts: &dyn FactSource,
    decided_at: DateTime<FixedOffset>,
) -> Result<Receipt, DecideError> {
    check_application_date(package, application, decided_at)?;
    evaluate(
        package,
        application,
        FactMode::Live(facts),
        decided_at,
        None,
    )
}

/// Re-evaluates a receipt from its own content (recorded parties and facts, same package
/// version and hash, same decision time) and returns the full recomputed receipt.
pub fn replay_receipt(receipt: &Receipt, packages: &Packages) -> Result<Receipt, DecideError> {
    let m = &receipt.matter;
    let package =
        packages
            .get(&m.code, &m.version)
            .ok_or_else(|| DecideError::PackageNotFound {
                code: m.code.clone(),
                version: m.version.clone(),
            })?;
    if package.hash != m.package_hash {
        return Err(DecideError::HashMismatch {
            code: m.code.clone(),
            version: m.version.clone(),
            expected: m.package_hash.clone(),
            found: package.hash.clone(),
        });
    }
    evaluate(
        package,
        &receipt.application,
        FactMode::Recorded {
            parties: &receipt.parties,
            facts: &receipt.facts,
        },
        receipt.decided_at,
        None,
    )
}

/// 重放: the outcome a receipt's own content gives today.
pub fn replay(receipt: &Receipt, packages: &Packages) -> Result<Outcome, DecideError> {
    replay_receipt(receipt, packages).map(|r| r.outcome)
}

/// 核查: re-reads the facts of a 告知承诺 approval; a committed condition that now fails
/// revokes it. `None`: nothing contradicts the commitment (yet).
pub fn recheck(
    receipt: &Receipt,
    packages: &Packages,
    facts: &dyn FactSource,
    at: DateTime<FixedOffset>,
) -> Result<Option<Revocation>, DecideError> {
    let m = &receipt.matter;
    let package =
        packages
            .get(&m.code, &m.version)
            .ok_or_else(|| DecideError::PackageNotFound {
                code: m.code.clone(),
                version: m.version.clone(),
            })?;
    recheck_with(receipt, package, facts, at)
}

/// [`recheck`] under a given package.
pub fn recheck_with(
    receipt: &Receipt,
    package: &Package,
    facts: &dyn FactSource,
    at: DateTime<FixedOffset>,
) -> Result<Option<Revocation>, DecideError> {
    let Outcome::ApprovedOnCommitment { task, .. } = &receipt.outcome else {
        return Err(DecideError::NotOnCommitment(receipt.receipt_id.clone()));
    };
    let m = &receipt.matter;
    let fresh = evaluate(
        package,
        &receipt.application,
        FactMode::Live(facts),
        at,
        None,
    )?;
    let failing: Vec<&ConditionResult> = fresh
        .conditions
        .iter()
        .filter(|c| task.conditions.contains(&c.code) && c.status == Tri::Fails)
        .collect();
    if failing.is_empty() {
        return Ok(None);
    }
    let mut reasons: Vec<String> = failing.iter().map(|c| c.reason.clone()).collect();
    reasons.push(format!(
        "核查发现申请人承诺的条件不成立，撤销{}（回执 {}）",
        OutcomeKind::ApprovedOnCommitment.label_zh(),
        receipt.receipt_id
    ));
    Ok(Some(Revocation {
        receipt_id: receipt.receipt_id.clone(),
        matter: m.code.clone(),
        conditions: failing.iter().map(|c| c.code.clone()).collect(),
        reasons,
        facts: task
            .facts
            .iter()
            .filter_map(|f| fresh.facts.get(f).map(|v| (f.clone(), v.clone())))
            .collect(),
        checked_at: at,
    }))
}

struct Eval<'a> {
    package: &'a Package,
    app: &'a Application,
    mode: FactMode<'a>,
    at: DateTime<FixedOffset>,
    parties: BTreeMap<String, Option<SubjectKey>>,
    facts: BTreeMap<String, FactValue>,
    resolving: BTreeSet<String>,
}

impl Eval<'_> {
    fn party(&mut self, role: &str) -> Result<Option<Subject>, DecideError> {
        let Some(spec) = self
            .package
            .manifest
            .parties
            .iter()
            .find(|p| p.role == role)
        else {
            return Ok(None);
        };
        let key = if let Some(k) = self.parties.get(role) {
            k.clone()
        } else {
            if !self.resolving.insert(role.to_owned()) {
                return Err(DecideError::Cycle(role.to_owned()));
            }
            let key = match &self.mode {
                FactMode::Recorded { parties, .. } => parties.get(role).cloned().flatten(),
                FactMode::Live(_) => match &spec.key {
                    KeySource::Applicant => {
                        let fits = matches!(
                            (&self.app.applicant, spec.kind),
                            (SubjectKey::Person(_), PartyKind::Person)
                                | (SubjectKey::Enterprise(_), PartyKind::Enterprise)
                        );
                        fits.then(|| self.app.applicant.clone())
                    }
                    KeySource::Form(n) => self
                        .app
                        .form
                        .get(n)
                        .and_then(Datum::as_text)
                        .and_then(|s| SubjectKey::parse(spec.kind, s)),
                    KeySource::Fact(n) => {
                        let n = n.clone();
                        let v = self.fact(&n)?;
                        v.usable()
                            .and_then(Datum::as_text)
                            .and_then(|s| SubjectKey::parse(spec.kind, s))
                    }
                    KeySource::Supplied => self.app.parties.get(role).cloned(),
                },
            };
            self.resolving.remove(role);
            self.parties.insert(role.to_owned(), key.clone());
            key
        };
        Ok(key.map(|key| Subject {
            role: role.to_owned(),
            kind: spec.kind,
            key,
        }))
    }

    fn fact(&mut self, name: &str) -> Result<FactValue, DecideError> {
        if let Some(v) = self.facts.get(name) {
            return Ok(v.clone());
        }
        let Some(f) = self.package.fact(name) else {
            return Ok(FactValue::missing());
        };
        let value = match &self.mode {
            FactMode::Recorded { facts, .. } => {
                facts.get(name).cloned().unwrap_or_else(FactValue::missing)
            }
            FactMode::Live(source) => {
                let source = *source;
                let subject = self.party(&f.party)?;
                let fed = match f.binding().and_then(|b| b.fed_by.as_ref()) {
                    Some(fed) => Some(self.approvals_feeding(fed, source)?),
                    None => None,
                };
                let own = fed.as_ref().and_then(|(own, _)| own.clone());
                let mut value = match subject {
                    None => FactValue::missing(),
                    Some(subject) => {
                        let mut v = fetch(f, &subject, source, self.at, own)?;
                        cross_check(f, &subject, &mut v);
                        v
                    }
                };
                if let Some((_, others)) = fed {
                    count_approvals(&mut value, f, &others);
                }
                value
            }
        };
        self.facts.insert(name.to_owned(), value.clone());
        Ok(value)
    }

    /// The platform's approvals in force that feed a fact: the one this application re-decides
    /// (whose effects are left out), and the others (each one more record).
    fn approvals_feeding(
        &mut self,
        fed: &FedBinding,
        source: &dyn FactSource,
    ) -> Result<(Option<EffectOf>, Vec<ApprovalInForce>), DecideError> {
        let Some(party) = self.party(&fed.party)? else {
            return Ok((None, Vec::new()));
        };
        let mut approvals = source.approvals_in_force(&fed.matter, &fed.party, &party.key);
        let period = period_of(self.package, self.app);
        let own = approvals.iter().position(|a| {
            a.is_redecided_by(
                &self.package.manifest.code,
                &self.app.applicant,
                period.as_ref(),
            )
        });
        let own = own.map(|i| approvals.remove(i)).map(|a| EffectOf {
            receipt_id: a.receipt_id,
            decided_at: a.decided_at,
            application_date: a.application_date,
            since: fed.since.clone(),
        });
        Ok((own, approvals))
    }
}

/// Adds the platform's approvals to a fed fact: one more record each. A known "has" wins over
/// a register that was never delivered or is late; a count over an unknown register stays
/// unknown.
fn count_approvals(value: &mut FactValue, f: &ResolvedFact, approvals: &[ApprovalInForce]) {
    if approvals.is_empty() {
        return;
    }
    match (&f.value_type, &value.value) {
        (DatumType::Bool, _) => {
            value.value = Some(Datum::Bool(true));
            value.stale = false;
        }
        (DatumType::Int, Some(Datum::Int(n))) => {
            value.value = Some(Datum::Int(n + approvals.len() as i64));
        }
        _ => return,
    }
    value
        .provenance
        .extend(approvals.iter().map(ApprovalInForce::provenance));
}

fn fetch(
    f: &ResolvedFact,
    subject: &Subject,
    source: &dyn FactSource,
    at: DateTime<FixedOffset>,
    effect_of: Option<EffectOf>,
) -> Result<FactValue, DecideError> {
    match &f.origin {
        FactOrigin::KeyAttribute { attribute } => {
            let SubjectKey::Person(id) = &subject.key else {
                return Ok(FactValue::missing());
            };
            let value = match attribute {
                KeyAttribute::BirthDate => Datum::Date(id.birth_date()),
                KeyAttribute::Sex => Datum::Text(
                    match id.sex() {
                        miaopi_model::Sex::Male => "1",
                        miaopi_model::Sex::Female => "2",
                    }
                    .into(),
                ),
                KeyAttribute::Id => Datum::Text(id.as_str().to_owned()),
            };
            Ok(FactValue::known(value, Vec::new()))
        }
        FactOrigin::Resource(binding) => {
            let v = match effect_of {
                None => source.fetch(subject, binding, at)?,
                Some(effect_of) => {
                    let mut binding = (**binding).clone();
                    binding.effect_of = Some(effect_of);
                    source.fetch(subject, &binding, at)?
                }
            };
            if let Some(d) = &v.value
                && !d.has_type(&f.value_type)
            {
                return Err(DecideError::FactType {
                    fact: f.name.clone(),
                    expected: f.value_type.to_string(),
                    found: format!("{d:?}"),
                });
            }
            Ok(v)
        }
    }
}

fn cross_check(f: &ResolvedFact, subject: &Subject, v: &mut FactValue) {
    if f.cross_check != Some(CrossCheck::IdBirthDate) || v.conflict.is_some() {
        return;
    }
    if let (SubjectKey::Person(id), Some(Datum::Date(d))) = (&subject.key, &v.value)
        && *d != id.birth_date()
    {
        v.conflict = Some(Conflict {
            values: vec![
                ConflictingValue {
                    value: Datum::Date(*d),
                    provenance: v.provenance.first().cloned(),
                },
                ConflictingValue {
                    value: Datum::Date(id.birth_date()),
                    provenance: None,
                },
            ],
            note: format!(
                "登记的出生日期 {d} 与公民身份号码中的出生日期 {} 不一致",
                id.birth_date()
            ),
        });
    }
}

/// 缺失 facts: no value, and no fact of the same party and resource has one either, so the
/// party's records of that resource could not be read (resource never delivered, party key
/// unknown). A `None` beside a known sibling (`有户籍记录 = false` next to `户籍状态`) is
/// *absent* instead: the records were read and hold no such value, which rules may rely on.
fn missing_facts(package: &Package, facts: &BTreeMap<String, FactValue>) -> BTreeSet<String> {
    let has_value = |name: &str| facts.get(name).is_some_and(|v| v.value.is_some());
    package
        .facts
        .iter()
        .filter(|f| !has_value(&f.name))
        .filter(|f| match f.binding() {
            None => true,
            Some(b) => !package.facts.iter().any(|g| {
                g.party == f.party
                    && g.binding().is_some_and(|gb| gb.resource == b.resource)
                    && has_value(&g.name)
            }),
        })
        .map(|f| f.name.clone())
        .collect()
}

fn check_application(package: &Package, app: &Application) -> Result<(), DecideError> {
    let m = &package.manifest;
    if app.matter != m.code {
        return Err(DecideError::InvalidApplication(format!(
            "application for {} decided under package {}",
            app.matter, m.code
        )));
    }
    for (name, value) in &app.form {
        let Some(spec) = m.form.iter().find(|f| &f.name == name) else {
            return Err(DecideError::InvalidApplication(format!(
                "form input {name} is not declared by the matter"
            )));
        };
        let t = match spec.form_type {
            FormType::Text => DatumType::Text,
            FormType::Date => DatumType::Date,
            FormType::Int => DatumType::Int,
            FormType::Bool => DatumType::Bool,
        };
        if !value.has_type(&t) {
            return Err(DecideError::InvalidApplication(format!(
                "form input {name} must be {t}"
            )));
        }
    }
    for spec in m.form.iter().filter(|f| f.required) {
        if !app.form.contains_key(&spec.name) {
            return Err(DecideError::InvalidApplication(format!(
                "required form input {} ({}) is missing",
                spec.name, spec.label
            )));
        }
    }
    for c in &app.commitments {
        let allowed = m
            .commitment
            .as_ref()
            .is_some_and(|spec| spec.conditions.contains(c));
        if !allowed {
            return Err(DecideError::InvalidApplication(format!(
                "the matter allows no 告知承诺 for condition {c}"
            )));
        }
    }
    if app.accept_pending_materials && m.tolerance.is_none() {
        return Err(DecideError::InvalidApplication(
            "the matter offers no 容缺受理".into(),
        ));
    }
    Ok(())
}

fn derive(kind: DerivedKind, from: &Datum, on: NaiveDate) -> Option<Datum> {
    let n = match (kind, from) {
        (DerivedKind::Years, Datum::Date(d)) => i64::from(dates::years_between(*d, on)),
        (DerivedKind::Days, Datum::Date(d)) => dates::days_between(*d, on),
        (DerivedKind::Months, Datum::Date(d)) => i64::from(dates::months_between(*d, on)),
        (DerivedKind::Months, Datum::Month(m)) => dates::months_between_months(*m, on),
        _ => return None,
    };
    Some(Datum::Int(n))
}

/// How a fact reads in a reason.
fn fact_display(f: &ResolvedFact, v: &FactValue) -> String {
    let shown = match (&v.value, f.binding().map(|b| b.aggregate)) {
        (None, _) => "无数据".to_owned(),
        (Some(Datum::Bool(true)), Some(Aggregate::Exists)) => "有记录".to_owned(),
        (Some(Datum::Bool(false)), Some(Aggregate::Exists)) => "无记录".to_owned(),
        (Some(d), _) => d.display_zh(),
    };
    match (&v.conflict, v.stale) {
        (Some(c), _) => format!("{shown}（数据冲突：{}）", c.note),
        (None, true) => format!("{shown}（数据已过期）"),
        (None, false) => shown,
    }
}

fn source_text(f: &ResolvedFact, v: &FactValue) -> String {
    if f.binding().is_none() {
        return format!("{}：{}", f.name, f.source_label);
    }
    if v.provenance.is_empty() {
        let state = if v.value.is_some() {
            "无记录"
        } else {
            "无数据"
        };
        return format!("{}：{}（{state}）", f.name, f.source_label);
    }
    // The platform's own approvals that a fed fact counted, named by receipt.
    let (ours, theirs): (Vec<&Provenance>, Vec<&Provenance>) = v
        .provenance
        .iter()
        .partition(|p| p.resource == crate::facts::PLATFORM_DECISIONS);
    let ours: Vec<&str> = ours.iter().map(|p| p.record.as_str()).collect();
    if theirs.is_empty() {
        return format!("{}：{}", f.name, ours.join("、"));
    }
    let ours = if ours.is_empty() {
        String::new()
    } else {
        format!("；{}", ours.join("、"))
    };
    let mut batches: Vec<&str> = theirs.iter().map(|p| p.batch_id.as_str()).collect();
    batches.dedup();
    let more = if batches.len() > 3 {
        format!(" 等 {} 批", batches.len())
    } else {
        String::new()
    };
    batches.truncate(3);
    format!(
        "{}：{}，批次 {}{more}{ours}",
        f.name,
        f.source_label,
        batches.join("、")
    )
}

pub(crate) fn evaluate(
    package: &Package,
    app: &Application,
    mode: FactMode<'_>,
    at: DateTime<FixedOffset>,
    mut trace: Option<&mut Trace>,
) -> Result<Receipt, DecideError> {
    check_application(package, app)?;
    let m = &package.manifest;
    let on = app.application_date;
    let mut ev = Eval {
        package,
        app,
        mode,
        at,
        parties: BTreeMap::new(),
        facts: BTreeMap::new(),
        resolving: BTreeSet::new(),
    };
    for p in &m.parties {
        ev.party(&p.role)?;
    }
    for f in &package.facts {
        ev.fact(&f.name)?;
    }
    let Eval { parties, facts, .. } = ev;
    let missing = missing_facts(package, &facts);

    let mut derived: BTreeMap<String, Option<Datum>> = BTreeMap::new();
    for d in &m.derived {
        let value = facts
            .get(&d.from)
            .and_then(FactValue::usable)
            .and_then(|v| derive(d.kind, v, on));
        derived.insert(d.name.clone(), value);
    }

    let mut inputs = Inputs::new();
    inputs.insert(APPLICATION_DATE.into(), EvalValue::Date(on));
    for (name, v) in &facts {
        inputs.insert(name.clone(), EvalValue::from_datum(v.usable()));
    }
    for (name, v) in &derived {
        inputs.insert(name.clone(), EvalValue::from_datum(v.as_ref()));
    }
    for (name, v) in &package.parameters {
        inputs.insert(name.clone(), EvalValue::from_datum(Some(v)));
    }
    for f in &m.form {
        inputs.insert(f.name.clone(), EvalValue::from_datum(app.form.get(&f.name)));
    }

    let model = package.model.description();
    let mut session = package.model.session(&inputs);
    let mut matched: BTreeSet<MatchedRule> = BTreeSet::new();
    let mut note = |decision: &str, v: &EvalValue, trace: &mut Option<&mut Trace>| {
        for label in v.matched_rules() {
            if let Some(t) = trace.as_deref_mut() {
                t.rows.insert((decision.to_owned(), label.clone()));
            }
            matched.insert(MatchedRule {
                decision: decision.to_owned(),
                label,
            });
        }
    };
    if trace.is_some() {
        // Tests cover helper tables too: evaluate every table other than the outcome.
        for d in &model.decisions {
            if d.name != m.outcome_decision
                && matches!(d.logic, crate::engine::LogicDescription::Table { .. })
            {
                let v = session.evaluate(&d.name);
                for label in v.matched_rules() {
                    if let Some(t) = trace.as_deref_mut() {
                        t.rows.insert((d.name.clone(), label));
                    }
                }
            }
        }
    }

    // Which facts each DMN input stands on (a derived fact stands on its source).
    let fact_of_input = |input: &str| -> Option<String> {
        if facts.contains_key(input) {
            return Some(input.to_owned());
        }
        m.derived
            .iter()
            .find(|d| d.name == input)
            .map(|d| d.from.clone())
    };

    let mut conditions = Vec::new();
    for c in &m.conditions {
        let v = session.evaluate(&c.decision);
        note(&c.decision, &v, &mut trace);
        let computed = match v.without_rule_column(None) {
            EvalValue::Bool(b) => Some(b),
            _ => None,
        };
        let mut behind: Vec<String> = Vec::new();
        for input in model.inputs_of(&c.decision) {
            if let Some(f) = fact_of_input(&input)
                && !behind.contains(&f)
            {
                behind.push(f);
            }
        }
        behind.sort_by_key(|f| package.facts.iter().position(|x| &x.name == f));
        let missing_facts: Vec<String> = behind
            .iter()
            .filter(|f| missing.contains(*f))
            .cloned()
            .collect();
        let tainted_facts: Vec<String> = behind
            .iter()
            .filter(|f| facts.get(*f).is_some_and(FactValue::tainted))
            .cloned()
            .collect();
        let status = match computed {
            Some(true) => Tri::Holds,
            // Missing or tainted data never decides against the applicant.
            Some(false) if !tainted_facts.is_empty() || !missing_facts.is_empty() => Tri::Unknown,
            Some(false) => Tri::Fails,
            None => Tri::Unknown,
        };
        // A failed condition is explained by what is true, not by the comparison that held not.
        let template = match (status, &c.explain_fails) {
            (Tri::Fails, Some(text)) => text,
            _ => &c.explain,
        };
        let mut explained = template.clone();
        for p in crate::package::placeholders(template) {
            let shown = if let Some(f) = package.fact(&p) {
                facts
                    .get(&p)
                    .map(|v| fact_display(f, v))
                    .unwrap_or_else(|| "无数据".into())
            } else if let Some(d) = derived.get(&p) {
                d.as_ref()
                    .map(Datum::display_zh)
                    .unwrap_or_else(|| "无法计算".into())
            } else if let Some(d) = package.parameters.get(&p) {
                d.display_zh()
            } else if let Some(d) = app.form.get(&p) {
                d.display_zh()
            } else {
                "（未填写）".into()
            };
            explained = explained.replace(&format!("{{{p}}}"), &shown);
        }
        let sources: Vec<String> = behind
            .iter()
            .filter_map(|name| {
                let f = package.fact(name)?;
                facts.get(name).map(|v| source_text(f, v))
            })
            .collect();
        let why = match (status, computed) {
            (Tri::Unknown, Some(false)) if !tainted_facts.is_empty() => format!(
                "（依据的数据冲突或已过期：{}，不据此否定，转人工核实）",
                tainted_facts.join("、")
            ),
            (Tri::Unknown, Some(false)) => format!(
                "（缺少数据：{}，不据此否定，转人工核实）",
                missing_facts.join("、")
            ),
            (Tri::Unknown, _) if !tainted_facts.is_empty() => {
                format!("（数据冲突或已过期：{}）", tainted_facts.join("、"))
            }
            (Tri::Unknown, _) if !missing_facts.is_empty() => {
                format!("（缺少数据：{}）", missing_facts.join("、"))
            }
            (Tri::Unknown, _) => "（现有数据不足以判断）".to_owned(),
            _ => String::new(),
        };
        let source_part = if sources.is_empty() {
            String::new()
        } else {
            format!("（来源：{}）", sources.join("；"))
        };
        let reason = format!(
            "{}：{explained}{source_part}：{}{why}",
            c.label,
            status.label_zh()
        );
        conditions.push(ConditionResult {
            code: c.code.clone(),
            label: c.label.clone(),
            decision: c.decision.clone(),
            computed,
            status,
            facts: behind.clone(),
            missing_facts,
            tainted_facts,
            reason,
        });
    }

    for c in &conditions {
        let v = match c.status {
            Tri::Holds => EvalValue::Bool(true),
            Tri::Fails => EvalValue::Bool(false),
            Tri::Unknown => EvalValue::Null(None),
        };
        session.set(&c.decision, &v);
    }
    let verdict_value = session.evaluate(&m.outcome_decision);
    note(&m.outcome_decision, &verdict_value, &mut trace);
    let verdict = match verdict_value.field(OUTCOME_OUTPUT) {
        Some(EvalValue::Text(s)) => Some(s.clone()),
        _ => None,
    };

    let statuses = |conditions: &[ConditionResult], status: Tri| -> Vec<String> {
        conditions
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.code.clone())
            .collect()
    };
    let mut causes: Vec<String> = Vec::new();
    // The rules' verdict is checked against the conditions the rules judged...
    let consistent = {
        let (failing, unknown) = (
            statuses(&conditions, Tri::Fails),
            statuses(&conditions, Tri::Unknown),
        );
        match verdict.as_deref() {
            Some("rejected") => !failing.is_empty(),
            Some("approved") => failing.is_empty() && unknown.is_empty(),
            Some("manual_review") => failing.is_empty() && !unknown.is_empty(),
            _ => false,
        }
    };
    // ...then the engine's own checks of the parties' relations join them: a failed one
    // refuses, an undecided one keeps the application from approval.
    conditions.extend(party_checks(package, &parties));
    let failing = statuses(&conditions, Tri::Fails);
    let unknown = statuses(&conditions, Tri::Unknown);
    if !consistent {
        causes.push(format!(
            "规则结论（{}）与各条件判断不一致，转人工核实",
            verdict.as_deref().unwrap_or("无结论")
        ));
    }
    for c in conditions.iter().filter(|c| c.status == Tri::Unknown) {
        if !c.tainted_facts.is_empty() {
            causes.push(format!(
                "{}：数据冲突或已过期（{}）",
                c.label,
                c.tainted_facts.join("、")
            ));
        } else if !c.missing_facts.is_empty() {
            causes.push(format!(
                "{}：缺少数据（{}）",
                c.label,
                c.missing_facts.join("、")
            ));
        } else {
            causes.push(format!("{}：现有数据不足以判断", c.label));
        }
    }

    let mut details = || -> Option<BTreeMap<String, Datum>> {
        let mut out = BTreeMap::new();
        for d in &m.details {
            let v = session.evaluate(&d.decision);
            note(&d.decision, &v, &mut trace);
            let datum = v.without_rule_column(d.output.as_deref()).to_datum()?;
            out.insert(d.name.clone(), datum);
        }
        Some(out)
    };

    let credit_clear = m.credit_fact.as_ref().is_some_and(|c| {
        facts
            .get(c)
            .and_then(FactValue::usable)
            .is_some_and(|v| *v == Datum::Bool(false))
    });

    let manual =
        |unknown: Vec<String>, causes: Vec<String>| Outcome::ManualReview { unknown, causes };
    let outcome = if !consistent {
        manual(unknown.clone(), causes.clone())
    } else if !failing.is_empty() {
        Outcome::Rejected {
            failing: failing.clone(),
        }
    } else if unknown.is_empty() {
        match details() {
            Some(details) => Outcome::Approved { details },
            None => {
                causes.push("核定结果（金额等）无法计算".into());
                manual(unknown.clone(), causes.clone())
            }
        }
    } else if !app.commitments.is_empty() {
        let covered = unknown.iter().all(|u| app.commitments.contains(u));
        if !covered {
            causes.push("申请人的承诺未涵盖全部无法判断的条件，不适用告知承诺".into());
            manual(unknown.clone(), causes.clone())
        } else if !credit_clear || app.prior_false_commitment {
            causes.push(
                "申请人在失信被执行人名单、信用状况无法核实或曾有虚假承诺，不适用告知承诺".into(),
            );
            manual(unknown.clone(), causes.clone())
        } else if let (Some(spec), Some(details)) = (&m.commitment, details()) {
            let facts_to_check: Vec<String> = conditions
                .iter()
                .filter(|c| unknown.contains(&c.code))
                .flat_map(|c| {
                    model
                        .inputs_of(&c.decision)
                        .into_iter()
                        .filter_map(|i| fact_of_input(&i))
                        .collect::<Vec<_>>()
                })
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            match dates::add_days(on, spec.verify_within_days) {
                Some(due) => Outcome::ApprovedOnCommitment {
                    details,
                    task: VerificationTask {
                        conditions: unknown.clone(),
                        facts: facts_to_check,
                        due,
                    },
                },
                None => manual(unknown.clone(), causes.clone()),
            }
        } else {
            causes.push("核定结果（金额等）无法计算".into());
            manual(unknown.clone(), causes.clone())
        }
    } else if app.accept_pending_materials {
        let spec = m.tolerance.as_ref();
        let tolerable = |f: &String| spec.is_some_and(|s| s.items.iter().any(|i| &i.fact == f));
        // An undecided condition is tolerable when it rests on a tolerated fact, every other
        // fact behind it is present, and none is conflicting or stale: the uncertainty is then
        // exactly what the material will settle.
        let all_tolerable = conditions
            .iter()
            .filter(|c| c.status == Tri::Unknown)
            .all(|c| {
                c.tainted_facts.is_empty()
                    && c.facts.iter().any(tolerable)
                    && c.missing_facts.iter().all(tolerable)
            });
        if !all_tolerable {
            causes.push("无法判断的条件涉及非容缺事项或冲突、过期数据，不适用容缺受理".into());
            manual(unknown.clone(), causes.clone())
        } else if !credit_clear {
            causes.push("申请人在失信被执行人名单或信用状况无法核实，不适用容缺受理".into());
            manual(unknown.clone(), causes.clone())
        } else if let (Some(spec), Some(details)) = (spec, details()) {
            let mut missing: Vec<PendingMaterial> = Vec::new();
            for c in conditions.iter().filter(|c| c.status == Tri::Unknown) {
                for f in &c.facts {
                    if let Some(item) = spec.items.iter().find(|i| &i.fact == f)
                        && !missing.iter().any(|p| p.material == item.material)
                    {
                        missing.push(PendingMaterial {
                            fact: f.clone(),
                            material: item.material.clone(),
                        });
                    }
                }
            }
            match dates::add_days(on, spec.deadline_days) {
                Some(deadline) => Outcome::ApprovedPendingMaterials {
                    details,
                    missing,
                    deadline,
                },
                None => manual(unknown.clone(), causes.clone()),
            }
        } else {
            causes.push("核定结果（金额等）无法计算".into());
            manual(unknown.clone(), causes.clone())
        }
    } else {
        manual(unknown.clone(), causes.clone())
    };

    let mut reasons: Vec<String> = conditions.iter().map(|c| c.reason.clone()).collect();
    reasons.push(conclusion(package, &outcome, &conditions));
    let mut receipt = Receipt {
        receipt_id: String::new(),
        matter: crate::decide::MatterRef {
            code: m.code.clone(),
            name: m.name.clone(),
            version: m.version.clone(),
            package_hash: package.hash.clone(),
        },
        engine: package.engine.clone(),
        application: app.clone(),
        parties,
        facts,
        derived,
        parameters: package.parameters.clone(),
        conditions,
        outcome,
        reasons,
        matched_rules: matched.into_iter().collect(),
        decided_at: at,
    };
    receipt.receipt_id = receipt.compute_id();
    Ok(receipt)
}

fn label_of(conditions: &[ConditionResult], code: &str) -> String {
    conditions
        .iter()
        .find(|c| c.code == code)
        .map(|c| c.label.clone())
        .unwrap_or_else(|| code.to_owned())
}

fn conclusion(package: &Package, outcome: &Outcome, conditions: &[ConditionResult]) -> String {
    let m = &package.manifest;
    let details_text = |details: &BTreeMap<String, Datum>| {
        if details.is_empty() {
            return String::new();
        }
        let parts: Vec<String> = m
            .details
            .iter()
            .filter_map(|d| {
                details.get(&d.name).map(|v| {
                    format!(
                        "{} {}{}",
                        d.name,
                        v.display_zh(),
                        d.unit.as_deref().unwrap_or("")
                    )
                })
            })
            .collect();
        format!("，核定：{}", parts.join("，"))
    };
    match outcome {
        Outcome::Approved { details } => format!(
            "结论：{}。全部 {} 项条件均满足{}",
            OutcomeKind::Approved.label_zh(),
            conditions.len(),
            details_text(details)
        ),
        Outcome::Rejected { failing } => format!(
            "结论：{}。不满足的条件：{}",
            OutcomeKind::Rejected.label_zh(),
            failing
                .iter()
                .map(|c| label_of(conditions, c))
                .collect::<Vec<_>>()
                .join("；")
        ),
        Outcome::ManualReview { causes, .. } => format!(
            "结论：{}（缺失、冲突或过期的数据不作否定依据）。{}",
            OutcomeKind::ManualReview.label_zh(),
            causes.join("；")
        ),
        Outcome::ApprovedPendingMaterials {
            details,
            missing,
            deadline,
        } => format!(
            "结论：{}{}。请于 {deadline} 前补交：{}",
            OutcomeKind::ApprovedPendingMaterials.label_zh(),
            details_text(details),
            missing
                .iter()
                .map(|p| p.material.clone())
                .collect::<Vec<_>>()
                .join("、")
        ),
        Outcome::ApprovedOnCommitment { details, task } => format!(
            "结论：{}{}。申请人承诺：{}；将于 {} 前核查，承诺不实的撤销批准",
            OutcomeKind::ApprovedOnCommitment.label_zh(),
            details_text(details),
            task.conditions
                .iter()
                .map(|c| label_of(conditions, c))
                .collect::<Vec<_>>()
                .join("；"),
            task.due
        ),
    }
}

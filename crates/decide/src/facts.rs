//! Where facts come from: the [`FactSource`] trait, the resolved [`FactBinding`] it is asked
//! about, and [`aggregate`], the shared rules that turn a party's records into one value.
//!
//! The engine does not know where facts live. The entity index (later) implements
//! [`FactSource`] — directly, or by collecting a [`RecordSet`] and calling [`aggregate`] so that
//! filters, ordering, conflicts and staleness mean the same everywhere. [`InMemoryFacts`] does
//! exactly that over records held in memory (tests, benchmarks).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate};
use miaopi_model::{ResidentId, Uscc};
use serde::{Deserialize, Serialize};

use crate::datum::{Datum, DatumType};
use crate::manifest::{Aggregate, PartyKind};

/// 数据来源: where one value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// 提供方 code (`police`).
    pub unit: String,
    /// 信息资源 code (`hukou_residents`).
    pub resource: String,
    /// 批次 id (content hash of the delivered file).
    pub batch_id: String,
    /// 入湖时间.
    pub ingested_at: DateTime<FixedOffset>,
    /// Record locator within the batch (file and line, or record key).
    pub record: String,
}

/// One of several values that sources disagree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictingValue {
    /// The value.
    pub value: Datum,
    /// Who said so; `None` for a value read from the party's resident ID.
    pub provenance: Option<Provenance>,
}

/// 数据冲突: sources disagree about the value; the decision goes to a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The disagreeing values.
    pub values: Vec<ConflictingValue>,
    /// 冲突说明 (Chinese).
    pub note: String,
}

/// 事实值: what a [`FactSource`] answers for one binding and one party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactValue {
    /// The value; `None` = 缺失 (no value could be established). For `exists`/`count`, "no
    /// record" is a known `false`/`0`, while `None` means the resource could not be consulted.
    pub value: Option<Datum>,
    /// The records behind the value.
    pub provenance: Vec<Provenance>,
    /// Disagreement between sources.
    pub conflict: Option<Conflict>,
    /// 数据过期: the resource was last refreshed longer ago than its update cycle allows.
    pub stale: bool,
}

impl FactValue {
    /// 缺失: no value, no provenance.
    pub fn missing() -> FactValue {
        FactValue {
            value: None,
            provenance: Vec::new(),
            conflict: None,
            stale: false,
        }
    }

    /// A value with its provenance.
    pub fn known(value: Datum, provenance: Vec<Provenance>) -> FactValue {
        FactValue {
            value: Some(value),
            provenance,
            conflict: None,
            stale: false,
        }
    }

    /// Conflicting or stale: the value must not decide against the applicant.
    pub fn tainted(&self) -> bool {
        self.conflict.is_some() || self.stale
    }

    /// The value the rules see: `None` when missing or tainted.
    pub fn usable(&self) -> Option<&Datum> {
        if self.tainted() {
            None
        } else {
            self.value.as_ref()
        }
    }
}

/// 当事人标识: the key a party is looked up by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "key", rename_all = "snake_case")]
pub enum SubjectKey {
    /// 公民身份号码.
    Person(ResidentId),
    /// 统一社会信用代码.
    Enterprise(Uscc),
    /// An address code, building code or other record key, verbatim.
    Code(String),
}

impl SubjectKey {
    /// The key as text, as it appears in the resource's key field.
    pub fn as_str(&self) -> &str {
        match self {
            SubjectKey::Person(id) => id.as_str(),
            SubjectKey::Enterprise(c) => c.as_str(),
            SubjectKey::Code(s) => s,
        }
    }

    /// Parses `s` as a key of `kind`: resident IDs leniently (lower-case `x`, 15 digits),
    /// credit codes leniently, other kinds trimmed and verbatim. `None` if it is not one.
    pub fn parse(kind: PartyKind, s: &str) -> Option<SubjectKey> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        match kind {
            PartyKind::Person => ResidentId::parse_lenient(s)
                .ok()
                .map(|p| SubjectKey::Person(p.id)),
            PartyKind::Enterprise => Uscc::parse_lenient(s).ok().map(SubjectKey::Enterprise),
            PartyKind::Address | PartyKind::Building | PartyKind::Code => {
                Some(SubjectKey::Code(s.to_owned()))
            }
        }
    }
}

/// 当事人: a party of one application with its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Role in the matter (`applicant`, `mother`, `premises`).
    pub role: String,
    /// What the key identifies.
    pub kind: PartyKind,
    /// The key.
    pub key: SubjectKey,
}

/// 事实绑定 (resolved against the catalogue): what a [`FactSource`] is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactBinding {
    /// Fact name (the DMN input).
    pub name: String,
    /// Party role whose key is looked up.
    pub party: String,
    /// 提供方 code of the resource.
    pub unit: String,
    /// 信息资源 code.
    pub resource: String,
    /// 信息项 read (none for `exists`/`count`).
    pub field: Option<String>,
    /// The resource field matched against the party's key.
    pub key_field: String,
    /// 聚合方式.
    pub aggregate: Aggregate,
    /// 筛选: field → accepted codes.
    pub filter: BTreeMap<String, Vec<String>>,
    /// Ordering field for latest/earliest/last_n.
    pub order_by: Option<String>,
    /// Only the last N records by `order_by`.
    pub last_n: Option<u32>,
    /// Type of the resulting value.
    pub value_type: DatumType,
    /// 最长时效 (天) of the resource's update cycle.
    pub max_age_days: u32,
    /// The platform's own approvals that this fact also records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fed_by: Option<FedBinding>,
    /// Set while re-deciding one of those approvals: the records it caused, left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect_of: Option<EffectOf>,
}

/// 本平台决定计入事实, resolved ([`crate::manifest::FedBy`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FedBinding {
    /// The matter whose approvals in force count.
    pub matter: String,
    /// The party role (in both packages) whose keys must agree.
    pub party: String,
    /// The date or month field at which a record caused by an approval starts.
    pub since: Option<String>,
}

/// An approval being re-decided: the register rows it caused are not evidence against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectOf {
    /// Its receipt.
    pub receipt_id: String,
    /// When it was decided: without `since`, rows that arrived later are its effect.
    pub decided_at: DateTime<FixedOffset>,
    /// Its application date: rows starting on or after it (or in its month) are its effect.
    pub application_date: NaiveDate,
    /// The binding's `since` field.
    pub since: Option<String>,
}

impl EffectOf {
    /// Whether `r` is (taken as) caused by the approval.
    pub fn caused(&self, r: &Record) -> bool {
        let start = self.since.as_ref().and_then(|f| r.fields.get(f));
        match start {
            Some(Datum::Date(d)) => *d >= self.application_date,
            Some(Datum::Month(m)) => {
                let month_start = self.application_date.with_day(1);
                m.first_day().zip(month_start).is_some_and(|(a, b)| a >= b)
            }
            _ => r.provenance.ingested_at > self.decided_at,
        }
    }
}

/// 本平台在效批准: one approval of the platform in force, as a fact fed by its matter sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalInForce {
    /// Its receipt.
    pub receipt_id: String,
    /// The matter.
    pub matter: String,
    /// The deciding department (提供方 of the fact it feeds).
    pub unit: String,
    /// Its applicant.
    pub applicant: SubjectKey,
    /// Its period ([`crate::period_of`]); `None` when it names none.
    pub period: Option<String>,
    /// When it was decided.
    pub decided_at: DateTime<FixedOffset>,
    /// Its application date.
    pub application_date: NaiveDate,
}

/// The resource code that provenance of a platform approval names.
pub const PLATFORM_DECISIONS: &str = "platform_decisions";

impl ApprovalInForce {
    /// Whether this is the decision in force that an application of `matter` by `applicant`
    /// in `period` re-decides (so neither it nor its effects count for that application).
    pub fn is_redecided_by(
        &self,
        matter: &str,
        applicant: &SubjectKey,
        period: Option<&String>,
    ) -> bool {
        period.is_some()
            && self.matter == matter
            && &self.applicant == applicant
            && self.period.as_ref() == period
    }

    /// The approval as a fact's provenance.
    pub fn provenance(&self) -> Provenance {
        Provenance {
            unit: self.unit.clone(),
            resource: PLATFORM_DECISIONS.to_owned(),
            batch_id: self.receipt_id.clone(),
            ingested_at: self.decided_at,
            record: format!(
                "本平台{}批准（回执 {}…）",
                self.decided_at.format("%Y-%m-%d"),
                &self.receipt_id[..16.min(self.receipt_id.len())]
            ),
        }
    }
}

/// Why a source could not answer. The decision is not made (the caller may retry); it is never
/// turned into a rejection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactSourceError {
    /// The resource cannot be read now.
    #[error("resource {resource} unavailable: {message}")]
    Unavailable {
        /// 信息资源 code.
        resource: String,
        /// What went wrong.
        message: String,
    },
}

/// 事实来源: answers a fact binding for one party.
///
/// `at` is the decision time, against which staleness is judged.
pub trait FactSource {
    /// The value of `binding` for `subject`.
    fn fetch(
        &self,
        subject: &Subject,
        binding: &FactBinding,
        at: DateTime<FixedOffset>,
    ) -> Result<FactValue, FactSourceError>;

    /// The platform's approvals in force of `matter` whose party `role` has `key` (facts with
    /// [`FactBinding::fed_by`]). None by default: a source of department data only.
    fn approvals_in_force(
        &self,
        matter: &str,
        role: &str,
        key: &SubjectKey,
    ) -> Vec<ApprovalInForce> {
        let _ = (matter, role, key);
        Vec::new()
    }
}

/// A record of a resource as a source holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Field → typed value; absent fields are empty.
    pub fields: BTreeMap<String, Datum>,
    /// Where the record came from.
    pub provenance: Provenance,
    /// Field → values other sources hold for it (from linking's survivorship).
    #[serde(default)]
    pub conflicts: BTreeMap<String, Vec<ConflictingValue>>,
    /// The record contradicts itself (a register row whose resident ID disagrees with the
    /// row's own birth date or sex): every fact read from it is conflicting, with this note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_conflict: Option<Conflict>,
}

/// A party's records of one resource, and when the resource was last refreshed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordSet {
    /// The party's records (any order).
    pub records: Vec<Record>,
    /// Latest ingestion of the resource as a whole; `None` = never delivered, so even "no
    /// record" proves nothing.
    pub last_ingested_at: Option<DateTime<FixedOffset>>,
}

fn filter_matches(binding: &FactBinding, r: &Record) -> bool {
    if binding.effect_of.as_ref().is_some_and(|e| e.caused(r)) {
        return false;
    }
    binding.filter.iter().all(|(field, accepted)| {
        r.fields.get(field).is_some_and(|v| match v {
            Datum::Text(s) => accepted.iter().any(|a| a == s),
            other => accepted.iter().any(|a| *a == other.display_zh()),
        })
    })
}

/// Total order within one type; mixed types order by type so sorting never panics.
pub(crate) fn cmp_datum(a: &Datum, b: &Datum) -> Ordering {
    fn rank(d: &Datum) -> u8 {
        match d {
            Datum::Bool(_) => 0,
            Datum::Int(_) | Datum::Decimal(_) => 1,
            Datum::Text(_) => 2,
            Datum::Date(_) => 3,
            Datum::Month(_) => 4,
            Datum::List(_) => 5,
        }
    }
    fn num(d: &Datum) -> f64 {
        match d {
            Datum::Int(i) => *i as f64,
            Datum::Decimal(s) => s.parse().unwrap_or(0.0),
            _ => 0.0,
        }
    }
    match (a, b) {
        (Datum::Bool(x), Datum::Bool(y)) => x.cmp(y),
        (Datum::Int(x), Datum::Int(y)) => x.cmp(y),
        (Datum::Int(_) | Datum::Decimal(_), Datum::Int(_) | Datum::Decimal(_)) => {
            num(a).total_cmp(&num(b))
        }
        (Datum::Text(x), Datum::Text(y)) => x.cmp(y),
        (Datum::Date(x), Datum::Date(y)) => x.cmp(y),
        (Datum::Month(x), Datum::Month(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// 聚合: turns a party's records into the binding's value, the same way for every source.
///
/// * Records not passing the filter are ignored.
/// * Order: by `order_by` (records without it first), ties by ingestion time; `last_n` keeps
///   the last N.
/// * `latest`/`earliest`: if several records share the deciding order key but disagree on the
///   field, or a record carries other sources' values for it, the fact is conflicting.
/// * A resource never delivered gives a missing value (unknown, never "no record"). A resource
///   last refreshed more than its update cycle's maximum age before `at` is stale.
pub fn aggregate(binding: &FactBinding, set: &RecordSet, at: DateTime<FixedOffset>) -> FactValue {
    let Some(last) = set.last_ingested_at else {
        return FactValue::missing();
    };
    let stale = at - last > Duration::days(i64::from(binding.max_age_days));
    let mut rows: Vec<&Record> = set
        .records
        .iter()
        .filter(|r| filter_matches(binding, r))
        .collect();
    let order_key = |r: &Record| {
        binding
            .order_by
            .as_ref()
            .and_then(|f| r.fields.get(f))
            .cloned()
    };
    rows.sort_by(|a, b| {
        let ka = order_key(a);
        let kb = order_key(b);
        let by_key = match (&ka, &kb) {
            (Some(x), Some(y)) => cmp_datum(x, y),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_key.then(a.provenance.ingested_at.cmp(&b.provenance.ingested_at))
    });
    if let Some(n) = binding.last_n {
        let n = n as usize;
        if rows.len() > n {
            rows.drain(..rows.len() - n);
        }
    }
    let field_of = |r: &Record| {
        binding
            .field
            .as_ref()
            .and_then(|f| r.fields.get(f))
            .cloned()
    };
    let mut out = FactValue {
        value: None,
        provenance: Vec::new(),
        conflict: None,
        stale,
    };
    match binding.aggregate {
        Aggregate::Exists => {
            out.value = Some(Datum::Bool(!rows.is_empty()));
            out.provenance = rows.iter().map(|r| r.provenance.clone()).collect();
        }
        Aggregate::Count => {
            out.value = Some(Datum::Int(rows.len() as i64));
            out.provenance = rows.iter().map(|r| r.provenance.clone()).collect();
        }
        Aggregate::List => {
            out.value = Some(Datum::List(
                rows.iter().filter_map(|r| field_of(r)).collect(),
            ));
            out.provenance = rows.iter().map(|r| r.provenance.clone()).collect();
        }
        Aggregate::Latest | Aggregate::Earliest => {
            let chosen = if binding.aggregate == Aggregate::Latest {
                rows.last()
            } else {
                rows.first()
            };
            if let Some(chosen) = chosen {
                let key = order_key(chosen);
                let ties: Vec<&&Record> = rows
                    .iter()
                    .filter(|r| binding.order_by.is_none() || order_key(r) == key)
                    .collect();
                out.value = field_of(chosen);
                out.provenance = vec![chosen.provenance.clone()];
                let mut values: Vec<ConflictingValue> = Vec::new();
                // Without an ordering field, only the chosen record speaks; with one, every
                // record on the same key is an equal witness.
                let witnesses: Vec<&Record> = if binding.order_by.is_some() {
                    ties.iter().map(|r| **r).collect()
                } else {
                    vec![*chosen]
                };
                for r in witnesses {
                    if let Some(v) = field_of(r)
                        && !values.iter().any(|c| c.value == v)
                    {
                        values.push(ConflictingValue {
                            value: v,
                            provenance: Some(r.provenance.clone()),
                        });
                    }
                    if let Some(f) = &binding.field
                        && let Some(others) = r.conflicts.get(f)
                    {
                        for o in others {
                            if !values.iter().any(|c| c.value == o.value) {
                                values.push(o.clone());
                            }
                        }
                    }
                }
                if values.len() > 1 {
                    out.conflict = Some(Conflict {
                        note: "多个来源或多条同期记录的取值不一致".into(),
                        values,
                    });
                }
            }
        }
        Aggregate::Min | Aggregate::Max => {
            let mut best: Option<(Datum, &Record)> = None;
            for r in &rows {
                let Some(v) = field_of(r) else { continue };
                let better = match &best {
                    None => true,
                    Some((b, _)) => {
                        let o = cmp_datum(&v, b);
                        if binding.aggregate == Aggregate::Min {
                            o == Ordering::Less
                        } else {
                            o == Ordering::Greater
                        }
                    }
                };
                if better {
                    best = Some((v, r));
                }
            }
            // No value at all stays unknown: a minimum of nothing is not zero.
            if let Some((v, r)) = best {
                out.value = Some(v);
                out.provenance = vec![r.provenance.clone()];
            }
        }
    }
    // A self-contradicting record taints whatever it contributed to, whatever the aggregate:
    // that it exists, how many there are, and the values read from it.
    if out.conflict.is_none()
        && let Some(c) = rows
            .iter()
            .filter(|r| out.provenance.contains(&r.provenance))
            .find_map(|r| r.self_conflict.as_ref())
    {
        out.conflict = Some(c.clone());
    }
    out
}

/// Records held in memory, answered through [`aggregate`]: for tests and benchmarks, and the
/// reference for what the entity index must answer.
#[derive(Debug, Clone, Default)]
pub struct InMemoryFacts {
    records: HashMap<(String, String, String), Vec<Record>>,
    last_ingested: HashMap<String, DateTime<FixedOffset>>,
}

impl InMemoryFacts {
    /// Empty: every resource counts as never delivered.
    pub fn new() -> InMemoryFacts {
        InMemoryFacts::default()
    }

    /// Records that `resource` was last refreshed at `at`.
    pub fn delivered(&mut self, resource: &str, at: DateTime<FixedOffset>) -> &mut Self {
        self.last_ingested.insert(resource.to_owned(), at);
        self
    }

    /// Adds a record of `resource` found under `key` in `key_field`, and marks the resource
    /// delivered at least as recently as the record.
    pub fn add(&mut self, resource: &str, key_field: &str, key: &str, record: Record) -> &mut Self {
        let at = record.provenance.ingested_at;
        let last = self.last_ingested.entry(resource.to_owned()).or_insert(at);
        if *last < at {
            *last = at;
        }
        self.records
            .entry((resource.to_owned(), key_field.to_owned(), key.to_owned()))
            .or_default()
            .push(record);
        self
    }
}

impl FactSource for InMemoryFacts {
    fn fetch(
        &self,
        subject: &Subject,
        binding: &FactBinding,
        at: DateTime<FixedOffset>,
    ) -> Result<FactValue, FactSourceError> {
        let key = (
            binding.resource.clone(),
            binding.key_field.clone(),
            subject.key.as_str().to_owned(),
        );
        let set = RecordSet {
            records: self.records.get(&key).cloned().unwrap_or_default(),
            last_ingested_at: self.last_ingested.get(&binding.resource).copied(),
        };
        Ok(aggregate(binding, &set, at))
    }
}

/// Facts given by name (package tests, hand-made cases): every binding answers its entry, or
/// missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedFacts(pub BTreeMap<String, FactValue>);

impl FactSource for FixedFacts {
    fn fetch(
        &self,
        _subject: &Subject,
        binding: &FactBinding,
        _at: DateTime<FixedOffset>,
    ) -> Result<FactValue, FactSourceError> {
        Ok(self
            .0
            .get(&binding.name)
            .cloned()
            .unwrap_or_else(FactValue::missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn at(y: i32, m: u32, d: u32) -> DateTime<FixedOffset> {
        crate::dates::shanghai()
            .with_ymd_and_hms(y, m, d, 9, 0, 0)
            .single()
            .unwrap()
    }

    fn prov(batch: &str, day: u32) -> Provenance {
        Provenance {
            unit: "police".into(),
            resource: "hukou_residents".into(),
            batch_id: batch.into(),
            ingested_at: at(2026, 10, day),
            record: format!("line {day}"),
        }
    }

    fn binding(aggregate: Aggregate, field: Option<&str>) -> FactBinding {
        FactBinding {
            name: "f".into(),
            party: "applicant".into(),
            unit: "police".into(),
            resource: "hukou_residents".into(),
            field: field.map(Into::into),
            key_field: "resident_id".into(),
            aggregate,
            filter: BTreeMap::new(),
            order_by: None,
            last_n: None,
            value_type: DatumType::Text,
            max_age_days: 2,
            fed_by: None,
            effect_of: None,
        }
    }

    fn rec(status: &str, day: u32, date: Option<NaiveDate>) -> Record {
        let mut fields = BTreeMap::new();
        fields.insert("status".to_owned(), Datum::Text(status.into()));
        if let Some(d) = date {
            fields.insert("moved_in_on".to_owned(), Datum::Date(d));
        }
        Record {
            fields,
            provenance: prov(&format!("b{day}"), day),
            conflicts: BTreeMap::new(),
            self_conflict: None,
        }
    }

    #[test]
    fn never_delivered_is_missing_not_absent() {
        let set = RecordSet::default();
        let v = aggregate(&binding(Aggregate::Exists, None), &set, at(2026, 10, 31));
        assert_eq!(v.value, None);
        let set = RecordSet {
            records: vec![],
            last_ingested_at: Some(at(2026, 10, 30)),
        };
        let v = aggregate(&binding(Aggregate::Exists, None), &set, at(2026, 10, 31));
        assert_eq!(v.value, Some(Datum::Bool(false)));
        assert!(!v.stale);
        let v = aggregate(
            &binding(Aggregate::Max, Some("status")),
            &set,
            at(2026, 10, 31),
        );
        assert_eq!(v.value, None, "max of nothing is unknown");
    }

    #[test]
    fn staleness_follows_the_update_cycle() {
        let set = RecordSet {
            records: vec![rec("1", 20, None)],
            last_ingested_at: Some(at(2026, 10, 20)),
        };
        let b = binding(Aggregate::Latest, Some("status"));
        assert!(!aggregate(&b, &set, at(2026, 10, 22)).stale);
        assert!(aggregate(&b, &set, at(2026, 10, 23)).stale);
    }

    #[test]
    fn latest_orders_and_detects_ties() {
        let d = |m| NaiveDate::from_ymd_opt(2020, m, 1);
        let mut b = binding(Aggregate::Latest, Some("status"));
        b.order_by = Some("moved_in_on".into());
        let set = RecordSet {
            records: vec![rec("2", 3, d(5)), rec("1", 1, d(1))],
            last_ingested_at: Some(at(2026, 10, 30)),
        };
        let v = aggregate(&b, &set, at(2026, 10, 31));
        assert_eq!(v.value, Some(Datum::Text("2".into())));
        assert_eq!(v.provenance[0].batch_id, "b3");
        assert!(v.conflict.is_none());
        b.aggregate = Aggregate::Earliest;
        assert_eq!(
            aggregate(&b, &set, at(2026, 10, 31)).value,
            Some(Datum::Text("1".into()))
        );
        b.aggregate = Aggregate::Latest;
        let tie = RecordSet {
            records: vec![rec("2", 3, d(5)), rec("1", 4, d(5))],
            last_ingested_at: Some(at(2026, 10, 30)),
        };
        let v = aggregate(&b, &tie, at(2026, 10, 31));
        assert_eq!(v.conflict.map(|c| c.values.len()), Some(2));
    }

    #[test]
    fn filters_counts_lists_and_last_n() {
        let mut b = binding(Aggregate::Count, None);
        b.filter.insert("status".into(), vec!["1".into()]);
        let set = RecordSet {
            records: vec![rec("1", 1, None), rec("2", 2, None), rec("1", 3, None)],
            last_ingested_at: Some(at(2026, 10, 30)),
        };
        assert_eq!(
            aggregate(&b, &set, at(2026, 10, 31)).value,
            Some(Datum::Int(2))
        );
        let mut l = binding(Aggregate::List, Some("status"));
        l.last_n = Some(2);
        assert_eq!(
            aggregate(&l, &set, at(2026, 10, 31)).value,
            Some(Datum::List(vec![
                Datum::Text("2".into()),
                Datum::Text("1".into())
            ]))
        );
    }

    #[test]
    fn record_conflicts_surface() {
        let mut r = rec("1", 1, None);
        r.conflicts.insert(
            "status".into(),
            vec![ConflictingValue {
                value: Datum::Text("2".into()),
                provenance: Some(prov("other", 2)),
            }],
        );
        let set = RecordSet {
            records: vec![r],
            last_ingested_at: Some(at(2026, 10, 30)),
        };
        let v = aggregate(
            &binding(Aggregate::Latest, Some("status")),
            &set,
            at(2026, 10, 31),
        );
        assert!(v.tainted());
        assert_eq!(v.usable(), None);
    }
}

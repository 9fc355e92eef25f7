//! Facts for 秒批 from the platform: [`IndexFacts`] answers the decision engine's
//! [`FactSource`] from the entity index, through the engine's own [`aggregate`], so filters,
//! ordering, conflicts and staleness mean exactly what they mean in the package tests.
//!
//! * **Entity parties** (a person, an enterprise, a standard address) are looked up in the
//!   entity index by their key (`Key::person`, `Key::credit_code`, `Key::address_code`). The
//!   linker has already tied every source record to its entity — through damaged IDs too — so
//!   the profile holds the party's records; facts of one record share (resource, batch,
//!   record) and are regrouped into records here.
//! * **A record belongs to the party through the binding's key field**: a marriage record is
//!   in both spouses' profiles, but "the mother's marriages as wife" are those whose `wife_id`
//!   is her. See [`belongs`] for records whose key the linker repaired.
//! * **Plain record keys** (a birth-certificate number, a building code, a trade name) are not
//!   entity keys and the index has no entry for them; their registers are read once from the
//!   lake's `dwd` tables into memory when the facts are opened ([`Registers`]).
//! * **Delivery**: a resource counts as delivered when the meta store has a committed batch of
//!   it (its latest commit is the resource's last refresh). A party with no record of a
//!   delivered resource has none (`exists = false`); an undelivered resource gives no value.
//! * **Conflicts**: a record whose field won the linker's survivorship carries the values other
//!   sources hold for that field, which makes `latest`/`earliest` facts conflicting (转人工).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use miaopi_catalog::{DataType, EntityRole, Pack};
use miaopi_decide::datum::{Datum, YearMonth};
use miaopi_decide::facts::ConflictingValue;
use miaopi_decide::{
    FactBinding, FactSource, FactSourceError, FactValue, Package, PartyKind, Provenance, Record,
    RecordSet, Subject, aggregate,
};
use miaopi_index::{EntityId, EntityIndex, IndexReader, Key, KeyKind, ProfileView, StoredProfile};
use miaopi_lake::arrow::array::{Array, StringArray};
use miaopi_lake::arrow::compute::cast;
use miaopi_lake::arrow::datatypes::DataType as ArrowType;
use miaopi_lake::{AsOf, Lake};
use miaopi_meta::{BatchState, MetaStore};

use crate::ApplyError;
use crate::contradiction::{REGISTER_KEY_CONFLICT, register_row_conflict};

/// What the facts need to know of a resource's fields: type and key role.
#[derive(Debug, Clone)]
struct FieldInfo {
    data_type: DataType,
    role: Option<EntityRole>,
}

#[derive(Debug, Clone)]
struct ResourceInfo {
    /// Field name → type and role, in catalogue order.
    fields: Vec<(String, FieldInfo)>,
}

impl ResourceInfo {
    fn field(&self, name: &str) -> Option<&FieldInfo> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }
}

/// A source record as stored: raw text per field, with its provenance.
#[derive(Debug, Clone)]
struct RawRecord {
    provenance: Provenance,
    fields: BTreeMap<String, String>,
}

/// Records of a register by a plain key (certificate number, building code, trade name):
/// (resource, key field) → key → records.
pub type Registers = HashMap<(String, String), HashMap<String, Vec<Record>>>;

/// Whether a field with `role` can hold the key of a party of `kind` (as the decision engine
/// chooses default key fields).
fn fits(kind: PartyKind, role: Option<EntityRole>) -> bool {
    matches!(
        (kind, role),
        (
            PartyKind::Person,
            Some(EntityRole::PersonId | EntityRole::PartyId)
        ) | (
            PartyKind::Enterprise,
            Some(EntityRole::CreditCode | EntityRole::PartyId)
        ) | (PartyKind::Address, Some(EntityRole::AddressCode))
            | (PartyKind::Building, Some(EntityRole::BuildingCode))
    )
}

/// The index key kind of a party kind; `None` for parties the index has no key for.
fn key_kind(kind: PartyKind) -> Option<KeyKind> {
    match kind {
        PartyKind::Person => Some(KeyKind::PersonId),
        PartyKind::Enterprise => Some(KeyKind::CreditCode),
        PartyKind::Address => Some(KeyKind::AddressCode),
        PartyKind::Building | PartyKind::Code => None,
    }
}

/// A stored value as the catalogue types it. `None` for text that is not a value of the type
/// (the field then counts as empty, as the lake's typed layer would hold it).
pub fn typed(data_type: DataType, text: &str) -> Option<Datum> {
    match data_type {
        DataType::String => Some(Datum::Text(text.to_owned())),
        DataType::Integer => text.parse().ok().map(Datum::Int),
        DataType::Decimal => {
            let t = text.trim();
            let (int, frac) = t
                .strip_prefix('-')
                .unwrap_or(t)
                .split_once('.')
                .unwrap_or((t.strip_prefix('-').unwrap_or(t), "0"));
            let ok = !int.is_empty()
                && !frac.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit());
            ok.then(|| Datum::Decimal(t.to_owned()))
        }
        DataType::Date => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(Datum::Date),
        DataType::Month => text.parse::<YearMonth>().ok().map(Datum::Month),
        DataType::Boolean => match text {
            "true" | "1" => Some(Datum::Bool(true)),
            "false" | "0" => Some(Datum::Bool(false)),
            _ => None,
        },
    }
}

/// Microseconds since the epoch as a Shanghai time.
fn shanghai_time(us: i64) -> DateTime<FixedOffset> {
    let tz = miaopi_decide::dates::shanghai();
    tz.timestamp_micros(us)
        .single()
        .unwrap_or_else(|| tz.from_utc_datetime(&DateTime::UNIX_EPOCH.naive_utc()))
}

/// How many positions two equally long keys differ in (`usize::MAX` for other lengths).
fn differing_positions(a: &str, b: &str) -> usize {
    if a.len() != b.len() {
        return usize::MAX;
    }
    a.bytes().zip(b.bytes()).filter(|(x, y)| x != y).count()
}

/// Whether `record` is the party's through `key_field`.
///
/// The linker put the record in the profile because one of its key fields names the party;
/// which one decides the record's meaning (husband or wife, landlord or tenant).
///
/// 1. The key field holds one of the party's keys → yes; another key field does → no.
/// 2. Otherwise the link went through a damaged or missing key. If the resource has a single
///    field that can name such a party, that is the one (the linker's decision stands). Else the
///    one field whose value is within two characters of a party key (a wrong check digit, two
///    digits swapped) is it; failing that, the one such field that is empty (an ID the unit left
///    out, linked by name and birth date). Ambiguous cases belong nowhere: a fact then reads
///    "no record", and the conditions resting on it are worded so that this cannot reject.
fn belongs(
    record: &RawRecord,
    key_field: &str,
    kind: PartyKind,
    info: &ResourceInfo,
    party_keys: &[String],
) -> bool {
    let norm = |v: &str| match key_kind(kind) {
        Some(k) => Key::new(k, v).value().to_owned(),
        None => v.trim().to_owned(),
    };
    let is_party = |field: &str| {
        record
            .fields
            .get(field)
            .is_some_and(|v| party_keys.contains(&norm(v)))
    };
    if is_party(key_field) {
        return true;
    }
    let candidates: Vec<&str> = info
        .fields
        .iter()
        .filter(|(_, f)| fits(kind, f.role))
        .map(|(n, _)| n.as_str())
        .collect();
    if candidates.iter().any(|f| is_party(f)) {
        return false;
    }
    if candidates == [key_field] {
        return true;
    }
    let close: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|f| {
            record.fields.get(*f).is_some_and(|v| {
                let v = norm(v);
                party_keys.iter().any(|k| differing_positions(&v, k) <= 2)
            })
        })
        .collect();
    if !close.is_empty() {
        return close == [key_field];
    }
    let empty: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|f| record.fields.get(*f).is_none_or(|v| v.trim().is_empty()))
        .collect();
    empty == [key_field]
}

/// The facts side of the platform: the entity index, the resources' deliveries and the
/// registers read by plain keys. Cheap to share between threads; each decision opens a
/// [`FactSession`].
pub struct IndexFacts {
    index: Arc<EntityIndex>,
    resources: HashMap<String, ResourceInfo>,
    delivered: HashMap<String, DateTime<FixedOffset>>,
    registers: Registers,
}

impl std::fmt::Debug for IndexFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexFacts")
            .field("delivered", &self.delivered.len())
            .field("registers", &self.registers.len())
            .finish_non_exhaustive()
    }
}

/// A register read by a plain key: which resource, which key field, and the fields the
/// bindings read (their field, filters and ordering).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterSpec {
    /// 信息资源 code.
    pub resource: String,
    /// The field holding the key.
    pub key_field: String,
    /// Fields to keep (the key field included).
    pub fields: BTreeSet<String>,
}

/// The registers the packages read by a plain key (parties of kind `code` or `building`).
pub fn register_bindings<'p>(packages: impl IntoIterator<Item = &'p Package>) -> Vec<RegisterSpec> {
    let mut out: Vec<RegisterSpec> = Vec::new();
    for p in packages {
        for f in &p.facts {
            let Some(b) = f.binding() else { continue };
            let kind = p
                .manifest
                .parties
                .iter()
                .find(|x| x.role == f.party)
                .map(|x| x.kind);
            if kind.is_none_or(|k| key_kind(k).is_some()) {
                continue;
            }
            let i = match out
                .iter()
                .position(|r| r.resource == b.resource && r.key_field == b.key_field)
            {
                Some(i) => i,
                None => {
                    out.push(RegisterSpec {
                        resource: b.resource.clone(),
                        key_field: b.key_field.clone(),
                        fields: BTreeSet::from([b.key_field.clone()]),
                    });
                    out.len() - 1
                }
            };
            let fields = &mut out[i].fields;
            fields.extend(b.field.iter().cloned());
            fields.extend(b.order_by.iter().cloned());
            fields.extend(b.filter.keys().cloned());
        }
    }
    out
}

impl IndexFacts {
    /// Facts over parts already opened: the index, the catalogue, when each resource was last
    /// delivered, and the registers by plain key.
    pub fn new(
        index: Arc<EntityIndex>,
        pack: &Pack,
        delivered: HashMap<String, DateTime<FixedOffset>>,
        registers: Registers,
    ) -> IndexFacts {
        let resources = pack
            .resources
            .iter()
            .map(|r| {
                (
                    r.code.clone(),
                    ResourceInfo {
                        fields: r
                            .fields
                            .iter()
                            .map(|f| {
                                (
                                    f.name.clone(),
                                    FieldInfo {
                                        data_type: f.data_type,
                                        role: f.role,
                                    },
                                )
                            })
                            .collect(),
                    },
                )
            })
            .collect();
        IndexFacts {
            index,
            resources,
            delivered,
            registers,
        }
    }

    /// Opens the facts of a state directory for the given packages: the entity index
    /// (`index.redb`), deliveries from the meta store, and the registers the packages read by
    /// plain keys, from the lake.
    pub async fn open<'p>(
        home: &Path,
        pack: &Pack,
        meta: &impl MetaStore,
        packages: impl IntoIterator<Item = &'p Package>,
    ) -> Result<IndexFacts, ApplyError> {
        let path = home.join("index.redb");
        if !path.exists() {
            return Err(ApplyError::NoIndex(path));
        }
        let index = Arc::new(EntityIndex::open(&path)?);
        let delivered = deliveries(meta).await?;
        let lake = Lake::open(&home.join("lake"))?;
        let registers = load_registers(&lake, pack, &register_bindings(packages)).await?;
        Ok(IndexFacts::new(index, pack, delivered, registers))
    }

    /// The entity index.
    pub fn index(&self) -> &EntityIndex {
        &self.index
    }

    /// When each resource was last delivered.
    pub fn delivered(&self) -> &HashMap<String, DateTime<FixedOffset>> {
        &self.delivered
    }

    /// A session for one decision: one read snapshot of the index, profiles read once.
    pub fn session(&self) -> Result<FactSession<'_>, ApplyError> {
        Ok(FactSession {
            facts: self,
            reader: self.index.reader()?,
            profiles: RefCell::new(HashMap::new()),
            sets: RefCell::new(HashMap::new()),
        })
    }
}

/// Last delivery of each resource: the latest commit of any of its batches.
pub async fn deliveries(
    meta: &impl MetaStore,
) -> Result<HashMap<String, DateTime<FixedOffset>>, ApplyError> {
    let mut out: HashMap<String, DateTime<FixedOffset>> = HashMap::new();
    for b in meta.batches().await? {
        if b.state != BatchState::Committed {
            continue;
        }
        let Some(at) = b
            .finished_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        else {
            continue;
        };
        let e = out.entry(b.resource).or_insert(at);
        if *e < at {
            *e = at;
        }
    }
    Ok(out)
}

/// Reads the registers looked up by plain keys from `dwd.<resource>`: every row, the fields the
/// bindings read, typed, with its lineage as provenance.
pub async fn load_registers(
    lake: &Lake,
    pack: &Pack,
    specs: &[RegisterSpec],
) -> Result<Registers, ApplyError> {
    let tables: HashSet<String> = lake
        .tables()?
        .into_iter()
        .filter(|(l, _)| *l == miaopi_lake::Layer::Dwd)
        .map(|(_, t)| t)
        .collect();
    let mut out: Registers = HashMap::new();
    for spec in specs {
        let (resource_code, key_field) = (&spec.resource, &spec.key_field);
        let map = out
            .entry((resource_code.clone(), key_field.clone()))
            .or_default();
        let Some(resource) = pack.resource(resource_code) else {
            continue;
        };
        let kept: Vec<&miaopi_catalog::Field> = resource
            .fields
            .iter()
            .filter(|f| spec.fields.contains(&f.name))
            .collect();
        if !tables.contains(resource_code) {
            continue;
        }
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let fields: Vec<String> = kept
            .iter()
            .enumerate()
            .map(|(i, f)| format!("CAST({} AS VARCHAR) AS f{i}", quote(&f.name)))
            .collect();
        // Aliases: a field may share a lineage column's name.
        let sql = format!(
            "SELECT batch_id AS l_batch, source_unit AS l_unit, CAST(ingested_at AS BIGINT) AS l_at, CAST(record AS BIGINT) AS l_record, {} FROM dwd.{} ORDER BY l_at, l_record",
            fields.join(", "),
            quote(resource_code)
        );
        let Some(key_pos) = kept.iter().position(|f| &f.name == key_field) else {
            continue;
        };
        for batch in lake.query(&sql, &AsOf::Latest).await? {
            let columns: Vec<StringArray> = batch
                .columns()
                .iter()
                .map(|c| {
                    cast(c, &ArrowType::Utf8)
                        .ok()
                        .and_then(|a| a.as_any().downcast_ref::<StringArray>().cloned())
                        .ok_or_else(|| {
                            miaopi_lake::LakeError::Sql(format!(
                                "dwd.{resource_code}: a column does not read as text"
                            ))
                        })
                })
                .collect::<Result<_, _>>()?;
            let get = |c: usize, i: usize| -> Option<&str> {
                let col = columns.get(c)?;
                (!col.is_null(i)).then(|| col.value(i))
            };
            for i in 0..batch.num_rows() {
                let Some(key) = get(4 + key_pos, i).map(str::trim).filter(|k| !k.is_empty()) else {
                    continue;
                };
                let mut fields = BTreeMap::new();
                for (j, f) in kept.iter().enumerate() {
                    if let Some(d) = get(4 + j, i)
                        .filter(|v| !v.is_empty())
                        .and_then(|v| typed(f.data_type, v))
                    {
                        fields.insert(f.name.clone(), d);
                    }
                }
                let provenance = Provenance {
                    unit: get(1, i).unwrap_or(&resource.unit).to_owned(),
                    resource: resource_code.clone(),
                    batch_id: get(0, i).unwrap_or_default().to_owned(),
                    ingested_at: shanghai_time(get(2, i).and_then(|t| t.parse().ok()).unwrap_or(0)),
                    record: get(3, i).unwrap_or_default().to_owned(),
                };
                map.entry(key.to_owned()).or_default().push(Record {
                    fields,
                    provenance,
                    conflicts: BTreeMap::new(),
                    self_conflict: None,
                });
            }
        }
    }
    Ok(out)
}

/// A party's records of one resource through one key field, typed, from its stored profile.
///
/// Only the facts of that resource are regrouped (a person's profile also holds months of
/// social-insurance rows that most matters never read); a record whose field won the linker's
/// survivorship carries the other sources' values for it.
fn party_records(
    view: &ProfileView<'_>,
    binding: &FactBinding,
    kind: PartyKind,
    info: &ResourceInfo,
) -> Vec<Record> {
    let keys: Vec<String> = view.keys().map(|(_, v)| v.to_owned()).collect();
    let mut grouped: Vec<((&str, u64), RawRecord)> = Vec::new();
    let mut at: HashMap<(&str, u64), usize> = HashMap::new();
    for f in view.facts().filter(|f| f.resource == binding.resource) {
        let slot = *at.entry((f.batch_id, f.record)).or_insert_with(|| {
            grouped.push((
                (f.batch_id, f.record),
                RawRecord {
                    provenance: Provenance {
                        unit: f.unit.to_owned(),
                        resource: f.resource.to_owned(),
                        batch_id: f.batch_id.to_owned(),
                        ingested_at: shanghai_time(f.ingested_at_us),
                        record: f.record.to_string(),
                    },
                    fields: BTreeMap::new(),
                },
            ));
            grouped.len() - 1
        });
        grouped[slot]
            .1
            .fields
            .insert(f.field.to_owned(), f.value.to_owned());
    }
    // Ingestion order, then record order: `aggregate` breaks ties on the order key by it.
    grouped.sort_by(|(a, ra), (b, rb)| {
        ra.provenance
            .ingested_at
            .cmp(&rb.provenance.ingested_at)
            .then(a.1.cmp(&b.1))
    });
    // (field, chosen value) → the other sources' values, for golden values this resource won.
    let mut conflicts: HashMap<(&str, &str), Vec<ConflictingValue>> = HashMap::new();
    for g in view
        .golden_values()
        .filter(|g| g.resource == binding.resource && g.conflicts().len() > 0)
    {
        let Some(field) = info.field(g.field) else {
            continue;
        };
        let others: Vec<ConflictingValue> = g
            .conflicts()
            .filter_map(|(value, resource)| {
                let datum = typed(field.data_type, value)?;
                // Where the other value was stated, when the profile holds that record.
                let provenance = view
                    .facts()
                    .find(|f| f.resource == resource && f.field == g.field && f.value == value)
                    .map(|f| Provenance {
                        unit: f.unit.to_owned(),
                        resource: f.resource.to_owned(),
                        batch_id: f.batch_id.to_owned(),
                        ingested_at: shanghai_time(f.ingested_at_us),
                        record: f.record.to_string(),
                    });
                Some(ConflictingValue {
                    value: datum,
                    provenance,
                })
            })
            .collect();
        if !others.is_empty() {
            conflicts.insert((g.field, g.value), others);
        }
    }
    // Register rows that contradict their own ID (linking kept them, flagged by method).
    let contradicting: HashSet<(&str, u64)> = view
        .links()
        .filter(|l| l.resource == binding.resource && l.method == REGISTER_KEY_CONFLICT)
        .map(|l| (l.batch_id, l.record))
        .collect();
    grouped
        .into_iter()
        .map(|((batch, record), r)| (contradicting.contains(&(batch, record)), r))
        .filter(|(_, r)| belongs(r, &binding.key_field, kind, info, &keys))
        .map(|(contradicts, r)| {
            let mut fields = BTreeMap::new();
            let mut carried = BTreeMap::new();
            for (name, text) in &r.fields {
                let Some(f) = info.field(name) else { continue };
                let Some(d) = typed(f.data_type, text) else {
                    continue;
                };
                if let Some(others) = conflicts.get(&(name.as_str(), text.as_str())) {
                    carried.insert(name.clone(), others.clone());
                }
                fields.insert(name.clone(), d);
            }
            let self_conflict = contradicts
                .then(|| register_row_conflict(&fields, &binding.key_field, &r.provenance));
            Record {
                fields,
                provenance: r.provenance,
                conflicts: carried,
                self_conflict,
            }
        })
        .collect()
}

/// The facts of one decision: one snapshot of the index; each party's profile is read once,
/// and its records of a resource regrouped once, however many facts bind to them.
pub struct FactSession<'a> {
    facts: &'a IndexFacts,
    reader: IndexReader,
    profiles: RefCell<HashMap<Key, Option<Rc<StoredProfile>>>>,
    sets: RefCell<HashMap<(Key, String, String), Rc<RecordSet>>>,
}

fn unavailable(e: &dyn std::fmt::Display) -> FactSourceError {
    FactSourceError::Unavailable {
        resource: "entity_index".into(),
        message: e.to_string(),
    }
}

impl FactSession<'_> {
    fn profile(&self, key: &Key) -> Result<Option<Rc<StoredProfile>>, FactSourceError> {
        if let Some(p) = self.profiles.borrow().get(key) {
            return Ok(p.clone());
        }
        let stored = self
            .reader
            .stored_by_key(key)
            .map_err(|e| unavailable(&e))?
            .map(Rc::new);
        self.profiles
            .borrow_mut()
            .insert(key.clone(), stored.clone());
        Ok(stored)
    }

    fn records(
        &self,
        key: &Key,
        binding: &FactBinding,
        kind: PartyKind,
        info: &ResourceInfo,
    ) -> Result<Rc<RecordSet>, FactSourceError> {
        let k = (
            key.clone(),
            binding.resource.clone(),
            binding.key_field.clone(),
        );
        if let Some(set) = self.sets.borrow().get(&k) {
            return Ok(set.clone());
        }
        let records = match self.profile(key)? {
            // Not in the index: no source names this key.
            None => Vec::new(),
            Some(stored) => {
                let view = stored.view().map_err(|e| unavailable(&e))?;
                party_records(&view, binding, kind, info)
            }
        };
        let set = Rc::new(RecordSet {
            records,
            last_ingested_at: self.facts.delivered.get(&binding.resource).copied(),
        });
        self.sets.borrow_mut().insert(k, set.clone());
        Ok(set)
    }

    /// The person keys of an entity (its resident IDs).
    pub fn person_keys_of(&self, entity: &str) -> Result<Vec<String>, ApplyError> {
        let Some(stored) = self.reader.stored(&EntityId::new(entity))? else {
            return Ok(Vec::new());
        };
        let view = stored
            .view()
            .map_err(|e| miaopi_index::IndexError::Decode {
                entity_id: entity.to_owned(),
                source: e,
            })?;
        Ok(view
            .keys()
            .filter(|(k, _)| *k == KeyKind::PersonId)
            .map(|(_, v)| v.to_owned())
            .collect())
    }

    /// The graph edges of a person: (relation, other entity id, to_date).
    pub fn edges_of_person(
        &self,
        id: &str,
    ) -> Result<Vec<(String, String, Option<String>)>, ApplyError> {
        let Some(stored) = self.reader.stored_by_key(&Key::person(id))? else {
            return Ok(Vec::new());
        };
        let view = stored
            .view()
            .map_err(|e| miaopi_index::IndexError::Decode {
                entity_id: id.to_owned(),
                source: e,
            })?;
        Ok(view
            .edges()
            .map(|e| {
                (
                    e.relation.to_owned(),
                    e.to.to_owned(),
                    e.to_date.map(str::to_owned),
                )
            })
            .collect())
    }
}

impl FactSource for FactSession<'_> {
    fn fetch(
        &self,
        subject: &Subject,
        binding: &FactBinding,
        at: DateTime<FixedOffset>,
    ) -> Result<FactValue, FactSourceError> {
        let last_ingested_at = self.facts.delivered.get(&binding.resource).copied();
        let Some(info) = self.facts.resources.get(&binding.resource) else {
            return Err(FactSourceError::Unavailable {
                resource: binding.resource.clone(),
                message: "not in the catalogue".into(),
            });
        };
        if let Some(kind) = key_kind(subject.kind) {
            let key = Key::new(kind, subject.key.as_str());
            let set = self.records(&key, binding, subject.kind, info)?;
            return Ok(aggregate(binding, &set, at));
        }
        let records = self
            .facts
            .registers
            .get(&(binding.resource.clone(), binding.key_field.clone()))
            .and_then(|m| m.get(subject.key.as_str().trim()))
            .cloned()
            .unwrap_or_default();
        Ok(aggregate(
            binding,
            &RecordSet {
                records,
                last_ingested_at,
            },
            at,
        ))
    }
}

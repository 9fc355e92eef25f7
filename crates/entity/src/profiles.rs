//! Golden records (survivorship), the six base databases (`base.*`) and the entity index.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use miaopi_catalog::{BaseClass, Pack, Sensitivity};
use miaopi_index::{
    Conflict, Edge, EntityId, EntityIndex, EntityKind, Fact, GoldenValue, IndexError, IndexWriter,
    Key, Link, Profile, PutOutcome, SourceLink,
};
use miaopi_lake::{AsOf, Lake, Layer};

use crate::EntityError;
use crate::graph::{EdgeRow, Graph, inverse};
use crate::ids::EntityIds;
use crate::resolve::{Kind, Method};
use crate::run::Resolved;
use crate::scan::{TextBatches, for_each_row, ident, select_fields_as_text};

/// Attributes kept in a person's golden record (人口库), where a record states them.
pub const PERSON_ATTRIBUTES: [&str; 7] = [
    "name",
    "sex",
    "birth_date",
    "ethnicity",
    "household_no",
    "phone",
    "address_code",
];
/// Attributes kept in a legal person's golden record (法人库).
pub const LEGAL_PERSON_ATTRIBUTES: [&str; 7] = [
    "name",
    "kind",
    "address_code",
    "established_on",
    "industry",
    "status",
    "registered_capital",
];

/// Every golden-record attribute, persons' and legal persons': a slot's `attr` indexes this.
const ATTRIBUTES: [&str; 12] = [
    "name",
    "sex",
    "birth_date",
    "ethnicity",
    "household_no",
    "phone",
    "address_code",
    "kind",
    "established_on",
    "industry",
    "status",
    "registered_capital",
];

/// An entity known only from edges or other records (house, address, …): id, kind, key,
/// and its compact facts.
type OtherEntity = (String, (EntityKind, String, Vec<u8>));

fn attribute_index(name: &str) -> u8 {
    let i = ATTRIBUTES.iter().position(|a| *a == name);
    assert!(i.is_some(), "{name} is a golden attribute");
    i.unwrap_or(0) as u8
}

/// One attribute's surviving value; resources and units are the roles'.
#[derive(Debug, Clone)]
pub struct GoldenSlot {
    pub attr: u8,
    /// The role (and so resource and unit) the value came from.
    pub role: u16,
    pub value: Box<str>,
    /// Other values of the attribute with the role each came from (distinct by value and
    /// resource), in survivorship order.
    pub conflicts: Vec<(u16, Box<str>)>,
}

/// Golden values of every entity, by entity index: slots with role indexes instead of the
/// owned strings of [`GoldenValue`] (a third of the memory at district scale).
#[derive(Debug, Default)]
pub struct Golden {
    by_entity: Vec<Vec<GoldenSlot>>,
}

impl Golden {
    pub fn of(&self, e: u32) -> &[GoldenSlot] {
        self.by_entity.get(e as usize).map_or(&[], Vec::as_slice)
    }

    /// The surviving value of attribute `attr` of entity `e`.
    pub fn value(&self, e: u32, attr: &str) -> Option<&str> {
        self.of(e)
            .iter()
            .find(|g| ATTRIBUTES[g.attr as usize] == attr)
            .map(|g| &*g.value)
    }

    /// An entity's golden values as the index stores them.
    pub fn to_map(&self, e: u32, r: &Resolved) -> BTreeMap<String, GoldenValue> {
        self.of(e)
            .iter()
            .map(|g| {
                let role = &r.roles[g.role as usize];
                (
                    ATTRIBUTES[g.attr as usize].to_string(),
                    GoldenValue {
                        value: g.value.to_string(),
                        resource: role.resource.clone(),
                        unit: role.unit.clone(),
                        conflicts: g
                            .conflicts
                            .iter()
                            .map(|(c, v)| Conflict {
                                value: v.to_string(),
                                resource: r.roles[*c as usize].resource.clone(),
                            })
                            .collect(),
                    },
                )
            })
            .collect()
    }
}

/// A value seen for an entity's attribute, with its survivorship rank.
struct Candidate {
    attr: u8,
    role: u16,
    authority: usize,
    ingested_at_us: i64,
    record: u64,
    value: Box<str>,
}

impl Candidate {
    /// Survivorship order: the most authoritative source, then the most recent batch, then
    /// the latest record; value and resource break the remaining ties, so the choice does not
    /// depend on the order the lake returns rows in.
    fn cmp_rank(&self, other: &Candidate, r: &Resolved) -> std::cmp::Ordering {
        self.authority
            .cmp(&other.authority)
            .then(other.ingested_at_us.cmp(&self.ingested_at_us))
            .then(other.record.cmp(&self.record))
            .then(self.value.cmp(&other.value))
            .then(
                r.roles[self.role as usize]
                    .resource
                    .cmp(&r.roles[other.role as usize].resource),
            )
    }
}

fn sensitivity_level(s: Sensitivity) -> u8 {
    match s {
        Sensitivity::L1 => 1,
        Sensitivity::L2 => 2,
        Sensitivity::L3 => 3,
        Sensitivity::L4 => 4,
    }
}

/// Chooses each attribute's value: the most authoritative source (registers of the entity's
/// base database first, in catalogue order), then the most recent batch, then the latest
/// record; every other distinct value (by value and resource) is kept as a conflict.
///
/// Streams `dwd` once per role, keeping per entity only the distinct (attribute, value,
/// resource) candidates with their best rank, not every mention's value.
async fn golden_records(lake: &Lake, r: &Resolved) -> Result<Golden, EntityError> {
    let session = lake.session(&AsOf::Latest).await?;
    let batch_index = r.batch_index();
    let mut candidates: Vec<Vec<Candidate>> = Vec::new();
    candidates.resize_with(r.entities.len(), Vec::new);
    for (ri, role) in r.roles.iter().enumerate() {
        let subject = role.key_field == "resident_id" || role.key_field == "uscc";
        let wanted: &[&'static str] = if role.key_field == "uscc" {
            &LEGAL_PERSON_ATTRIBUTES
        } else {
            &PERSON_ATTRIBUTES
        };
        // (attribute, column)
        let mut columns: Vec<(u8, String)> = Vec::new();
        if let Some(n) = &role.name_field {
            columns.push((attribute_index("name"), n.clone()));
        }
        if subject {
            for attr in wanted.iter().filter(|a| **a != "name") {
                if role.resource_has(attr) {
                    columns.push((attribute_index(attr), (*attr).to_string()));
                }
            }
        }
        if columns.is_empty() {
            continue;
        }
        let select: Vec<String> = columns
            .iter()
            .map(|(_, c)| format!("CAST({} AS VARCHAR)", ident(c)))
            .collect();
        let sql = format!(
            "SELECT batch_id, record, {} FROM dwd.{}",
            select.join(", "),
            ident(&role.resource)
        );
        for_each_row(&session, &sql, |row| {
            let (Some(batch_id), Some(record)) = (row[0], row[1].and_then(|t| t.parse().ok()))
            else {
                return;
            };
            let Some(&b) = batch_index.get(batch_id) else {
                return;
            };
            let Some(e) = r.links.get(ri as u16, b, record) else {
                return;
            };
            let seen = &mut candidates[e as usize];
            for (j, (attr, _)) in columns.iter().enumerate() {
                let Some(v) = row[2 + j].filter(|v| !v.is_empty()) else {
                    continue;
                };
                let c = Candidate {
                    attr: *attr,
                    role: ri as u16,
                    authority: role.authority,
                    ingested_at_us: r.batches[b as usize].ingested_at_us,
                    record,
                    value: v.into(),
                };
                let same = seen.iter_mut().find(|x| {
                    x.attr == c.attr
                        && x.value == c.value
                        && r.roles[x.role as usize].resource == role.resource
                });
                match same {
                    Some(x) => {
                        if c.cmp_rank(x, r).is_lt() {
                            *x = c;
                        }
                    }
                    None => seen.push(c),
                }
            }
        })
        .await?;
    }
    let mut golden = Golden::default();
    golden.by_entity.reserve_exact(candidates.len());
    for mut cands in candidates {
        cands.sort_by(|a, b| a.attr.cmp(&b.attr).then_with(|| a.cmp_rank(b, r)));
        let mut slots: Vec<GoldenSlot> = Vec::new();
        for c in cands {
            match slots.last_mut() {
                Some(chosen) if chosen.attr == c.attr => {
                    if c.value != chosen.value {
                        chosen.conflicts.push((c.role, c.value));
                    }
                }
                _ => slots.push(GoldenSlot {
                    attr: c.attr,
                    role: c.role,
                    value: c.value,
                    conflicts: Vec::new(),
                }),
            }
        }
        slots.shrink_to_fit();
        golden.by_entity.push(slots);
    }
    Ok(golden)
}

fn text_schema(columns: &[&str]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

async fn write_text_table(
    lake: &Lake,
    table: &str,
    columns: &[&str],
    rows: impl Iterator<Item = Vec<Option<String>>>,
    run_id: &str,
) -> Result<u64, EntityError> {
    let schema = text_schema(columns);
    let mut appender = lake
        .begin_replace(Layer::Base, table, schema.clone(), run_id)
        .await?;
    let mut builders: Vec<StringBuilder> = columns.iter().map(|_| StringBuilder::new()).collect();
    let (mut pending, mut total) = (0usize, 0u64);
    let flush = |builders: &mut Vec<StringBuilder>| -> Result<RecordBatch, EntityError> {
        let cols: Vec<ArrayRef> = builders
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        RecordBatch::try_new(schema.clone(), cols).map_err(|e| EntityError::Arrow(e.to_string()))
    };
    for row in rows {
        for (b, v) in builders.iter_mut().zip(row) {
            b.append_option(v);
        }
        pending += 1;
        total += 1;
        if pending == 65_536 {
            appender.write(flush(&mut builders)?).await?;
            pending = 0;
        }
    }
    if pending > 0 {
        appender.write(flush(&mut builders)?).await?;
    }
    appender.commit().await?;
    Ok(total)
}

/// Copies a `dwd` table into `base`, with entity-id columns computed in SQL, every column as
/// text (derived tables are for reading and sharing, not arithmetic); batch by batch, as the
/// query streams.
async fn copy_table(lake: &Lake, table: &str, sql: &str, run_id: &str) -> Result<u64, EntityError> {
    let session = lake.session(&AsOf::Latest).await?;
    let df = session.sql(sql).await.map_err(crate::run::sql_error)?;
    let columns: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let schema = text_schema(&names);
    let mut appender = lake
        .begin_replace(Layer::Base, table, schema.clone(), run_id)
        .await?;
    let mut batches = TextBatches::open(&session, sql).await?;
    let mut total = 0u64;
    while let Some(batch) = batches.next().await? {
        total += batch.rows as u64;
        let cols: Vec<ArrayRef> = batch
            .columns
            .into_iter()
            .map(|c| Arc::new(c) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), cols)
            .map_err(|e| EntityError::Arrow(e.to_string()))?;
        appender.write(batch).await?;
    }
    appender.commit().await?;
    Ok(total)
}

/// The columns of `base.certificates`.
const CERTIFICATE_COLUMNS: [&str; 7] = [
    "certificate_type",
    "certificate_name",
    "holder_entity_id",
    "holder_field",
    "batch_id",
    "record",
    "fields",
];

/// Writes the six base databases and the attribute conflicts; returns the golden records.
pub async fn write_base(
    pack: &Pack,
    lake: &Lake,
    r: &Resolved,
    run_id: &str,
) -> Result<Golden, EntityError> {
    let golden = golden_records(lake, r).await?;
    let mut sources: Vec<u64> = vec![0; r.entities.len()];
    for e in r.links.entities() {
        sources[e as usize] += 1;
    }
    let attr = |e: u32, a: &str| golden.value(e, a).map(str::to_string);
    // 人口库
    let mut cols = vec!["entity_id", "resident_id", "registered"];
    cols.extend(PERSON_ATTRIBUTES);
    cols.extend(["source_records", "conflicting_attributes"]);
    let people = (0..r.entities.len() as u32)
        .filter(|&e| {
            r.entities[e as usize].kind == Kind::Person
                && r.entities[e as usize].merged_into.is_none()
        })
        .map(|e| {
            let ent = &r.entities[e as usize];
            let mut row = vec![
                Some(r.entity_ids[e as usize].clone()),
                Some(ent.key.clone()),
                Some(ent.registered.to_string()),
            ];
            row.extend(PERSON_ATTRIBUTES.iter().map(|a| attr(e, a)));
            row.push(Some(sources[e as usize].to_string()));
            let conflicting = golden
                .of(e)
                .iter()
                .filter(|g| !g.conflicts.is_empty())
                .count();
            row.push(Some(conflicting.to_string()));
            row
        });
    write_text_table(lake, "population", &cols, people, run_id).await?;
    // 法人库
    let mut cols = vec!["entity_id", "uscc", "registered"];
    cols.extend(LEGAL_PERSON_ATTRIBUTES);
    cols.push("source_records");
    let legal = (0..r.entities.len() as u32)
        .filter(|&e| {
            r.entities[e as usize].kind == Kind::LegalPerson
                && r.entities[e as usize].merged_into.is_none()
        })
        .map(|e| {
            let ent = &r.entities[e as usize];
            let mut row = vec![
                Some(r.entity_ids[e as usize].clone()),
                Some(ent.key.clone()),
                Some(ent.registered.to_string()),
            ];
            row.extend(LEGAL_PERSON_ATTRIBUTES.iter().map(|a| attr(e, a)));
            row.push(Some(sources[e as usize].to_string()));
            row
        });
    write_text_table(lake, "legal_persons", &cols, legal, run_id).await?;
    // Conflicts between sources, queryable.
    let conflicts = (0..r.entities.len() as u32).flat_map(|e| {
        golden.of(e).iter().flat_map(move |g| {
            g.conflicts.iter().map(move |(c, v)| {
                vec![
                    Some(r.entity_ids[e as usize].clone()),
                    Some(ATTRIBUTES[g.attr as usize].to_string()),
                    Some(g.value.to_string()),
                    Some(r.roles[g.role as usize].resource.clone()),
                    Some(v.to_string()),
                    Some(r.roles[*c as usize].resource.clone()),
                ]
            })
        })
    });
    write_text_table(
        lake,
        "attribute_conflicts",
        &[
            "entity_id",
            "attribute",
            "chosen_value",
            "chosen_resource",
            "other_value",
            "other_resource",
        ],
        conflicts,
        run_id,
    )
    .await?;
    let tables = crate::run::dwd_tables(lake)?;
    let has = |t: &str| tables.iter().any(|x| x == t);
    // 标准地址库, 楼栋房屋库, 城市部件库: the registers with their entity ids.
    if has("standard_addresses") {
        copy_table(lake, "standard_addresses", "SELECT 'A' || address_code AS entity_id, 'C' || substr(address_code, 1, 12) AS community_id, 'S' || substr(address_code, 1, 9) AS street_id, * FROM dwd.standard_addresses", run_id).await?;
    }
    if has("property_registrations") {
        copy_table(lake, "houses", "SELECT 'H' || property_unit_no AS entity_id, 'A' || address_code AS address_entity_id, * FROM dwd.property_registrations", run_id).await?;
    }
    if has("city_components") {
        copy_table(
            lake,
            "city_components",
            "SELECT 'A' || address_code AS address_entity_id, * FROM dwd.city_components",
            run_id,
        )
        .await?;
    }
    // 证照库: every certificate-class resource, with its holder's entity id, written batch by
    // batch as the resources stream.
    let batch_index = r.batch_index();
    let session = lake.session(&AsOf::Latest).await?;
    let schema = text_schema(&CERTIFICATE_COLUMNS);
    let mut certs = lake
        .begin_replace(Layer::Base, "certificates", schema.clone(), run_id)
        .await?;
    for resource in pack
        .resources
        .iter()
        .filter(|x| x.base_class == Some(BaseClass::Certificate) && has(&x.code))
    {
        let Some(ri) = r.roles.iter().position(|x| x.resource == resource.code) else {
            continue;
        };
        let sql = select_fields_as_text(resource, &["batch_id", "record"]);
        let mut batches = TextBatches::open(&session, &sql).await?;
        while let Some(batch) = batches.next().await? {
            let mut b: Vec<StringBuilder> = CERTIFICATE_COLUMNS
                .iter()
                .map(|_| StringBuilder::new())
                .collect();
            let mut row: Vec<Option<&str>> = Vec::with_capacity(batch.columns.len());
            for i in 0..batch.rows {
                batch.row(i, &mut row);
                let (Some(batch_id), Some(record)) =
                    (row[0], row[1].and_then(|t| t.parse::<u64>().ok()))
                else {
                    continue;
                };
                let holder = batch_index
                    .get(batch_id)
                    .and_then(|b| r.links.get(ri as u16, *b, record))
                    .map(|e| r.entity_ids[e as usize].as_str());
                let json: serde_json::Map<String, serde_json::Value> = resource
                    .fields
                    .iter()
                    .zip(&row[2..])
                    .filter_map(|(f, v)| v.map(|v| (f.name.clone(), serde_json::Value::from(v))))
                    .collect();
                b[0].append_value(&resource.code);
                b[1].append_value(&resource.name);
                b[2].append_option(holder);
                b[3].append_value(&r.roles[ri].key_field);
                b[4].append_value(batch_id);
                b[5].append_value(record.to_string());
                b[6].append_value(serde_json::Value::Object(json).to_string());
            }
            let cols: Vec<ArrayRef> = b
                .iter_mut()
                .map(|x| Arc::new(x.finish()) as ArrayRef)
                .collect();
            let batch = RecordBatch::try_new(schema.clone(), cols)
                .map_err(|e| EntityError::Arrow(e.to_string()))?;
            certs.write(batch).await?;
        }
    }
    certs.commit().await?;
    Ok(golden)
}

/// What a fill of the entity index did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexFill {
    /// Profiles written: new, or their encoded bytes changed.
    pub written: u64,
    /// Profiles built byte-identical to the stored ones and left untouched.
    pub unchanged: u64,
    /// Entities taken out: merged into another, or no longer in the lake.
    pub removed: u64,
    /// Passes over `dwd` (each builds the profiles of one shard of the entities).
    pub shards: u64,
    /// Whether the index was emptied first (a rebuild) rather than updated in place.
    pub rebuilt: bool,
}

/// The facts of the entities of one shard, held compactly until their profiles are built:
/// per record `resource u16 | lineage u32 | record u64 | n u16` (little-endian), then per
/// non-empty field `field varint | length varint | UTF-8 bytes`. About 80 bytes for a
/// social-insurance row where owned [`Fact`]s take about 1,500.
const RECORD_HEAD_BYTES: usize = 16;

/// Bytes of compact facts one pass over `dwd` may gather, by the estimate of
/// [`estimate_fact_bytes`]; more makes more passes. Vectors grow by doubling, so the resident
/// size is up to twice this. (At 2 GiB the full district's fill peaked at 8.0 GiB resident.)
pub const DEFAULT_PASS_BYTES: u64 = 1 << 30;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// One compact record's header, parsed.
struct RecordRef {
    resource: u16,
    lineage: u32,
    record: u64,
    /// Where its values start and how many there are.
    values_at: usize,
    values: u16,
}

fn le<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at + N)?.try_into().ok()
}

/// Splits an entity's compact facts into records; `None` if the bytes are not what
/// [`append_record`] wrote (a bug, never input).
fn parse_records(bytes: &[u8]) -> Option<Vec<RecordRef>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let resource = u16::from_le_bytes(le(bytes, at)?);
        let lineage = u32::from_le_bytes(le(bytes, at + 2)?);
        let record = u64::from_le_bytes(le(bytes, at + 6)?);
        let values = u16::from_le_bytes(le(bytes, at + 14)?);
        at += RECORD_HEAD_BYTES;
        let values_at = at;
        for _ in 0..values {
            get_varint(bytes, &mut at)?;
            let len = usize::try_from(get_varint(bytes, &mut at)?).ok()?;
            at = at.checked_add(len)?;
        }
        if at > bytes.len() {
            return None;
        }
        out.push(RecordRef {
            resource,
            lineage,
            record,
            values_at,
            values,
        });
    }
    Some(out)
}

/// Appends one record's non-empty values (fields in catalogue order) to `out`.
fn append_record(
    out: &mut Vec<u8>,
    resource: u16,
    lineage: u32,
    record: u64,
    values: &[Option<&str>],
) {
    out.extend_from_slice(&resource.to_le_bytes());
    out.extend_from_slice(&lineage.to_le_bytes());
    out.extend_from_slice(&record.to_le_bytes());
    let count_at = out.len();
    out.extend_from_slice(&[0, 0]);
    let mut n = 0u16;
    for (field, v) in values.iter().enumerate() {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            put_varint(out, field as u64);
            put_varint(out, v.len() as u64);
            out.extend_from_slice(v.as_bytes());
            n += 1;
        }
    }
    out[count_at..count_at + 2].copy_from_slice(&n.to_le_bytes());
}

/// Where a batch's facts came from: (batch id, source unit, ingested at).
type Lineage = (String, String, i64);

/// A stable shard of an id that is not an entity index (addresses, houses, graph-only nodes).
fn shard_of_id(id: &str, shards: usize) -> usize {
    // FNV-1a: the same shard for an id on every pass and every run.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % shards as u64) as usize
}

/// Estimated compact bytes of every linked record's facts: per linked mention, a record head
/// and ~14 bytes a field; plus the address and house registers' own rows.
fn estimate_fact_bytes(pack: &Pack, r: &Resolved, register_rows: u64) -> u64 {
    let per_role = r.links.per_role();
    let mut total = register_rows * (RECORD_HEAD_BYTES as u64 + 16 * 14);
    for (role, linked) in per_role {
        if !r.roles[role as usize].profile_facts {
            continue;
        }
        let fields = pack
            .resource(&r.roles[role as usize].resource)
            .map_or(16, |x| x.fields.len() as u64);
        total += linked * (RECORD_HEAD_BYTES as u64 + fields * 14);
    }
    total
}

/// Fills the entity index (`$HOME/index.redb`) from the lake: one profile per person, legal
/// person, address and house, with every fact of every record linked to it, the golden
/// values, both directions of its edges, and its keys.
///
/// Incremental: a profile whose encoding equals the stored one is not written, so an update
/// after an ingest rewrites only the profiles the new batches (or a changed link) touched;
/// entities that vanished are removed with their keys, and a key that moved (a merge) is
/// freed from its old owner first. `rebuild` (or a missing index) writes a fresh file, renamed
/// over the old index once committed.
/// One write transaction either way: readers see the old index or the new, never a mix.
///
/// Memory: facts are gathered compactly, for one shard of the entities per pass over `dwd`,
/// as many passes as `pass_bytes` (0: [`DEFAULT_PASS_BYTES`]) needs for the estimated total.
#[allow(clippy::too_many_arguments)]
pub async fn fill_index(
    pack: &Pack,
    home: &Path,
    lake: &Lake,
    r: &Resolved,
    golden: &Golden,
    graph: &Graph,
    rebuild: bool,
    pass_bytes: u64,
) -> Result<IndexFill, EntityError> {
    let path = home.join("index.redb");
    let rebuilt = rebuild || !path.exists();
    // A rebuild writes a fresh file and renames it over the old one: emptying the old file
    // inside the fill's one transaction would keep every freed page until the commit, so the
    // file would need the old and the new index's size at once.
    let target = if rebuilt && path.exists() {
        home.join("index.redb.rebuild")
    } else {
        path.clone()
    };
    if target != path && target.exists() {
        std::fs::remove_file(&target).map_err(|source| EntityError::Io {
            path: target.clone(),
            source,
        })?;
    }
    let index = EntityIndex::create(&target)?;
    let batch_index = r.batch_index();
    let session = lake.session(&AsOf::Latest).await?;
    let tables = crate::run::dwd_tables(lake)?;
    let (edge_start, edge_list) = graph.adjacency();
    let degree = |node: u32| {
        let n = node as usize;
        edge_start[n + 1] - edge_start[n]
    };
    // A merged entity's key still finds the person it turned out to be.
    let mut extra_keys: HashMap<u32, Vec<&str>> = HashMap::new();
    for (i, e) in r.entities.iter().enumerate() {
        if e.merged_into.is_some() {
            extra_keys
                .entry(r.survivor(i as u32))
                .or_default()
                .push(e.key.as_str());
        }
    }
    for keys in extra_keys.values_mut() {
        keys.sort_unstable();
    }
    // Resources whose rows are profiles of their own (address and house registers).
    let own_key = |code: &str| match code {
        "standard_addresses" => Some(("address_code", EntityKind::Address)),
        "property_registrations" => Some(("property_unit_no", EntityKind::House)),
        _ => None,
    };
    let mut register_rows = 0u64;
    for code in ["standard_addresses", "property_registrations"] {
        if tables.iter().any(|t| t == code) {
            let sql = format!("SELECT count(*) FROM dwd.{}", ident(code));
            for_each_row(&session, &sql, |row| {
                register_rows += row[0].and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
            })
            .await?;
        }
    }
    let pass_bytes = if pass_bytes == 0 {
        DEFAULT_PASS_BYTES
    } else {
        pass_bytes
    };
    let estimate = estimate_fact_bytes(pack, r, register_rows);
    let shards = usize::try_from(estimate.div_ceil(pass_bytes))
        .unwrap_or(usize::MAX)
        .clamp(1, 4096);
    let resources: Vec<&miaopi_catalog::Resource> = pack
        .resources
        .iter()
        .filter(|x| tables.contains(&x.code))
        .collect();

    let mut writer = index.writer()?;
    let mut fill = IndexFill {
        shards: shards as u64,
        rebuilt,
        ..IndexFill::default()
    };
    // Every id this run produced (entity indexes and graph nodes by id; others by name), to
    // tell a vanished entity from one written in this run.
    let mut produced_node = vec![false; graph.names.len()];
    let mut produced_other: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut evicted: Vec<String> = Vec::new();
    let mut lineages: Vec<Lineage> = Vec::new();
    let mut lineage_index: HashMap<Lineage, u32> = HashMap::new();
    for shard in 0..shards {
        let mut facts: HashMap<u32, Vec<u8>> = HashMap::new();
        // Link evidence of the records not linked by their key as written (repairs,
        // probabilistic links, self-contradicting register rows): a few per thousand.
        let mut evidence: HashMap<u32, Vec<SourceLink>> = HashMap::new();
        let mut other: HashMap<String, (EntityKind, String, Vec<u8>)> = HashMap::new();
        for (res_i, resource) in resources.iter().enumerate() {
            let roles: Vec<u16> = r
                .roles
                .iter()
                .enumerate()
                .filter(|(_, x)| x.resource == resource.code && x.profile_facts)
                .map(|(i, _)| i as u16)
                .collect();
            let own = own_key(&resource.code).and_then(|(field, kind)| {
                resource
                    .fields
                    .iter()
                    .position(|f| f.name == field)
                    .map(|pos| (pos, kind))
            });
            if roles.is_empty() && own.is_none() {
                continue;
            }
            let res_i = u16::try_from(res_i).unwrap_or(u16::MAX);
            let sql = select_fields_as_text(
                resource,
                &[
                    "batch_id",
                    "source_unit",
                    "CAST(ingested_at AS BIGINT)",
                    "record",
                ],
            );
            let mut last: Option<(Lineage, u32)> = None;
            let mut record_bytes: Vec<u8> = Vec::new();
            let mut added: Vec<u32> = Vec::with_capacity(roles.len());
            for_each_row(&session, &sql, |row| {
                let (Some(batch_id), Some(record)) =
                    (row[0], row[3].and_then(|t| t.parse::<u64>().ok()))
                else {
                    return;
                };
                let unit = row[1].unwrap_or_default();
                let at_us: i64 = row[2].and_then(|t| t.parse().ok()).unwrap_or(0);
                // Rows of one batch come together: one look-up per run of rows.
                let lineage = match &last {
                    Some(((b, u, t), i)) if b == batch_id && u == unit && *t == at_us => *i,
                    _ => {
                        let key: Lineage = (batch_id.to_string(), unit.to_string(), at_us);
                        let i = *lineage_index.entry(key.clone()).or_insert_with(|| {
                            lineages.push(key.clone());
                            (lineages.len() - 1) as u32
                        });
                        last = Some((key, i));
                        i
                    }
                };
                record_bytes.clear();
                let values = &row[4..];
                if let Some(b) = batch_index.get(batch_id) {
                    // One record may name the same entity in two roles: its facts go in once.
                    added.clear();
                    for &ri in &roles {
                        let Some(e) = r.links.get(ri, *b, record) else {
                            continue;
                        };
                        if (e as usize) % shards != shard || added.contains(&e) {
                            continue;
                        }
                        added.push(e);
                        if record_bytes.is_empty() {
                            append_record(&mut record_bytes, res_i, lineage, record, values);
                        }
                        facts.entry(e).or_default().extend_from_slice(&record_bytes);
                        if let Some((method, score)) = r.links.method(ri, *b, record)
                            && !matches!(method, Method::KeyExact | Method::KeyOutsider)
                        {
                            evidence.entry(e).or_default().push(SourceLink {
                                resource: resource.code.clone(),
                                batch_id: batch_id.to_string(),
                                record,
                                link: Link {
                                    method: method.code().to_string(),
                                    score,
                                },
                            });
                        }
                    }
                }
                if let Some((pos, kind)) = own
                    && let Some(value) = values.get(pos).copied().flatten()
                {
                    let (id, key) = match kind {
                        EntityKind::House => (EntityIds::house(value), value),
                        _ => (EntityIds::address(value), value),
                    };
                    if shard_of_id(&id, shards) == shard {
                        if record_bytes.is_empty() {
                            append_record(&mut record_bytes, res_i, lineage, record, values);
                        }
                        other
                            .entry(id)
                            .or_insert_with(|| (kind, key.to_string(), Vec::new()))
                            .2
                            .extend_from_slice(&record_bytes);
                    }
                }
            })
            .await?;
        }

        // Build, compare and write this shard's profiles, in id order (B-tree friendly).
        let mut people: Vec<(u32, Vec<u8>)> = facts.into_iter().collect();
        people.sort_unstable_by(|a, b| r.entity_ids[a.0 as usize].cmp(&r.entity_ids[b.0 as usize]));
        for (e, bytes) in people {
            let ent = &r.entities[e as usize];
            let id = &r.entity_ids[e as usize];
            let (kind, key) = match ent.kind {
                Kind::Person => (EntityKind::Person, Key::person(&ent.key)),
                Kind::LegalPerson => (EntityKind::LegalPerson, Key::credit_code(&ent.key)),
            };
            let mut p = Profile::new(EntityId::new(id.clone()), kind);
            p.facts = decode_facts(&bytes, &resources, &lineages)?;
            drop(bytes);
            p.keys = vec![key];
            for k in extra_keys.get(&e).into_iter().flatten() {
                p.keys.push(match ent.kind {
                    Kind::Person => Key::person(k),
                    Kind::LegalPerson => Key::credit_code(k),
                });
            }
            p.golden = golden.to_map(e, r);
            p.edges = edges_of(graph, &edge_start, &edge_list, e);
            p.links = evidence.remove(&e).unwrap_or_default();
            // Batches are scanned in no fixed order: sorted like the facts, so that the same
            // lake always gives the same bytes (an incremental run compares them).
            p.links.sort_by(|a, b| {
                (&a.resource, &a.batch_id, a.record).cmp(&(&b.resource, &b.batch_id, b.record))
            });
            put(&mut writer, &p, &mut fill, &mut evicted, |owner| {
                is_produced(owner, graph, &produced_node, &produced_other)
            })?;
            produced_node[e as usize] = true;
        }
        let mut others: Vec<OtherEntity> = other.into_iter().collect();
        others.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut shard_others: std::collections::HashSet<u32> = std::collections::HashSet::new();
        for (id, (kind, key, bytes)) in others {
            let mut p = Profile::new(EntityId::new(id.clone()), kind);
            p.facts = decode_facts(&bytes, &resources, &lineages)?;
            drop(bytes);
            p.keys = vec![match kind {
                EntityKind::House => Key::house(&key),
                _ => Key::address_code(&key),
            }];
            let node = graph.names.find(&id);
            if let Some(node) = node {
                p.edges = edges_of(graph, &edge_start, &edge_list, node);
            }
            put(&mut writer, &p, &mut fill, &mut evicted, |owner| {
                is_produced(owner, graph, &produced_node, &produced_other)
            })?;
            match node {
                Some(node) => {
                    produced_node[node as usize] = true;
                    shard_others.insert(node);
                }
                None => {
                    produced_other.insert(id);
                }
            }
        }
        // Nodes that only edges name (communities, streets, addresses without a register
        // row): a profile of their edges, so graph walks pass through them.
        let mut edge_only: Vec<u32> = (r.entities.len() as u32..graph.names.len() as u32)
            .filter(|&n| degree(n) > 0 && !shard_others.contains(&n))
            .filter(|&n| shard_of_id(graph.names.name(n), shards) == shard)
            .collect();
        edge_only.sort_unstable_by(|a, b| graph.names.name(*a).cmp(graph.names.name(*b)));
        for node in edge_only {
            let id = graph.names.name(node);
            let kind = match id.as_bytes().first() {
                Some(b'H') => EntityKind::House,
                _ => EntityKind::Address,
            };
            let mut p = Profile::new(EntityId::new(id.to_string()), kind);
            p.edges = edges_of(graph, &edge_start, &edge_list, node);
            put(&mut writer, &p, &mut fill, &mut evicted, |owner| {
                is_produced(owner, graph, &produced_node, &produced_other)
            })?;
            produced_node[node as usize] = true;
        }
    }
    let produced = |id: &str| is_produced(id, graph, &produced_node, &produced_other);
    fill.removed = writer.retain_entities(produced)?;
    // Owners evicted to free a key, and never produced again: they vanished too.
    evicted.sort_unstable();
    evicted.dedup();
    fill.removed += evicted.iter().filter(|id| !produced(id)).count() as u64;
    writer.commit()?;
    drop(index);
    if target != path {
        std::fs::rename(&target, &path).map_err(|source| EntityError::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(fill)
}

fn is_produced(
    id: &str,
    graph: &Graph,
    produced_node: &[bool],
    produced_other: &std::collections::HashSet<String>,
) -> bool {
    match graph.names.find(id) {
        Some(n) => produced_node.get(n as usize).copied().unwrap_or(false),
        None => produced_other.contains(id),
    }
}

/// Writes a profile unless unchanged. A key still held by another entity that this run has
/// not produced (merged away, or about to be rewritten without it) is freed by removing that
/// entity, which is written again later if it still exists; a key held by an entity this run
/// already wrote is a real conflict, and an error.
fn put(
    writer: &mut IndexWriter,
    p: &Profile,
    fill: &mut IndexFill,
    evicted: &mut Vec<String>,
    produced: impl Fn(&str) -> bool,
) -> Result<(), EntityError> {
    // Each eviction frees at least one key of `p`, so this ends within `keys + 1` rounds.
    for _ in 0..=p.keys.len() {
        match writer.put_profile_if_changed(p) {
            Ok(PutOutcome::Written) => {
                fill.written += 1;
                return Ok(());
            }
            Ok(PutOutcome::Unchanged) => {
                fill.unchanged += 1;
                return Ok(());
            }
            Err(IndexError::KeyOwnedByOther { owner, .. }) if !produced(owner.as_str()) => {
                let existed = writer.remove_entity(&owner)?;
                assert!(existed, "a key's owner has a profile");
                evicted.push(owner.0);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(EntityError::Index(IndexError::InvalidProfile {
        entity_id: p.entity_id.clone(),
        reason: "its keys could not be freed from their old owners".into(),
    }))
}

/// A node's edges, both directions, in a fixed order (the lake returns rows in no fixed
/// order, and an unchanged profile must encode to the same bytes).
fn edges_of(graph: &Graph, start: &[u32], list: &[u32], node: u32) -> Vec<Edge> {
    let n = node as usize;
    let (Some(&from), Some(&to)) = (start.get(n), start.get(n + 1)) else {
        return Vec::new();
    };
    let names = &graph.names;
    let mut edges: Vec<Edge> = list[from as usize..to as usize]
        .iter()
        .map(|&x| {
            let e: &EdgeRow = &graph.edges[(x >> 1) as usize];
            let backward = x & 1 == 1;
            Edge {
                relation: if backward {
                    inverse(e.relation)
                } else {
                    e.relation.to_string()
                },
                to: EntityId::new(names.name(if backward { e.src } else { e.dst })),
                from_date: names.opt(e.valid_from).map(str::to_string),
                to_date: names.opt(e.valid_to).map(str::to_string),
                resource: e.resource.to_string(),
                batch_id: names.name(e.batch).to_string(),
            }
        })
        .collect();
    edges.sort_by(|a, b| {
        (
            &a.relation,
            &a.to,
            &a.from_date,
            &a.to_date,
            &a.resource,
            &a.batch_id,
        )
            .cmp(&(
                &b.relation,
                &b.to,
                &b.from_date,
                &b.to_date,
                &b.resource,
                &b.batch_id,
            ))
    });
    edges
}

/// An entity's compact facts as [`Fact`]s, records ordered by (resource, batch, record) and
/// fields in catalogue order within a record.
fn decode_facts(
    bytes: &[u8],
    resources: &[&miaopi_catalog::Resource],
    lineages: &[Lineage],
) -> Result<Vec<Fact>, EntityError> {
    let corrupt = || EntityError::Arrow("compact facts of the index fill are corrupt".into());
    let mut records = parse_records(bytes).ok_or_else(corrupt)?;
    records.sort_by(|a, b| {
        let ra = resources.get(a.resource as usize).map(|x| x.code.as_str());
        let rb = resources.get(b.resource as usize).map(|x| x.code.as_str());
        let ba = lineages.get(a.lineage as usize).map(|l| l.0.as_str());
        let bb = lineages.get(b.lineage as usize).map(|l| l.0.as_str());
        (ra, ba, a.record).cmp(&(rb, bb, b.record))
    });
    let mut facts = Vec::new();
    for rec in &records {
        let resource = resources.get(rec.resource as usize).ok_or_else(corrupt)?;
        let (batch_id, unit, at_us) = lineages.get(rec.lineage as usize).ok_or_else(corrupt)?;
        let mut at = rec.values_at;
        for _ in 0..rec.values {
            let field = get_varint(bytes, &mut at).ok_or_else(corrupt)?;
            let len = get_varint(bytes, &mut at).ok_or_else(corrupt)? as usize;
            let value = bytes.get(at..at + len).ok_or_else(corrupt)?;
            at += len;
            let f = resource.fields.get(field as usize).ok_or_else(corrupt)?;
            facts.push(Fact {
                resource: resource.code.clone(),
                field: f.name.clone(),
                value: std::str::from_utf8(value)
                    .map_err(|_| corrupt())?
                    .to_string(),
                unit: unit.clone(),
                batch_id: batch_id.clone(),
                ingested_at_us: *at_us,
                record: rec.record,
                valid_from: None,
                valid_to: None,
                sensitivity: sensitivity_level(f.sensitivity),
            });
        }
    }
    Ok(facts)
}

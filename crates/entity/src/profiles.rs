//! Golden records (survivorship), the six base databases (`base.*`) and the entity index.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use miaopi_catalog::{BaseClass, Pack, Sensitivity};
use miaopi_index::{
    Conflict, Edge, EntityId, EntityIndex, EntityKind, Fact, GoldenValue, Key, Profile,
};
use miaopi_lake::{AsOf, Lake, Layer};

use crate::EntityError;
use crate::graph::{EdgeRow, inverse};
use crate::ids::EntityIds;
use crate::resolve::Kind;
use crate::run::Resolved;
use crate::scan::{for_each_row, ident, select_fields_as_text};

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

/// Golden values per entity index.
pub type Golden = HashMap<u32, BTreeMap<String, GoldenValue>>;

struct Candidate {
    authority: usize,
    ingested_at_us: i64,
    record: u64,
    value: String,
    resource: String,
    unit: String,
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
/// record; every other distinct value is kept as a conflict.
async fn golden_records(lake: &Lake, r: &Resolved) -> Result<Golden, EntityError> {
    let session = lake.session(&AsOf::Latest).await?;
    let links = r.link_map();
    let batch_index = r.batch_index();
    let mut candidates: HashMap<(u32, &'static str), Vec<Candidate>> = HashMap::new();
    for (ri, role) in r.roles.iter().enumerate() {
        let subject = role.key_field == "resident_id" || role.key_field == "uscc";
        let wanted: &[&'static str] = if role.key_field == "uscc" {
            &LEGAL_PERSON_ATTRIBUTES
        } else {
            &PERSON_ATTRIBUTES
        };
        // (attribute, column)
        let mut columns: Vec<(&'static str, String)> = Vec::new();
        if let Some(n) = &role.name_field {
            columns.push(("name", n.clone()));
        }
        if subject {
            for attr in wanted.iter().filter(|a| **a != "name") {
                let present = role.resource_has(attr);
                if present {
                    columns.push((attr, (*attr).to_string()));
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
            let Some(e) = links.get(ri as u16, b, record) else {
                return;
            };
            for (j, (attr, _)) in columns.iter().enumerate() {
                if let Some(v) = row[2 + j].filter(|v| !v.is_empty()) {
                    candidates.entry((e, attr)).or_default().push(Candidate {
                        authority: role.authority,
                        ingested_at_us: r.batches[b as usize].ingested_at_us,
                        record,
                        value: v.to_string(),
                        resource: role.resource.clone(),
                        unit: role.unit.clone(),
                    });
                }
            }
        })
        .await?;
    }
    let mut golden: Golden = HashMap::new();
    for ((e, attr), mut cands) in candidates {
        cands.sort_by(|a, b| {
            a.authority
                .cmp(&b.authority)
                .then(b.ingested_at_us.cmp(&a.ingested_at_us))
                .then(b.record.cmp(&a.record))
        });
        let Some(chosen) = cands.first() else {
            continue;
        };
        let mut conflicts: Vec<Conflict> = Vec::new();
        for c in &cands[1..] {
            if c.value != chosen.value
                && !conflicts
                    .iter()
                    .any(|x| x.value == c.value && x.resource == c.resource)
            {
                conflicts.push(Conflict {
                    value: c.value.clone(),
                    resource: c.resource.clone(),
                });
            }
        }
        golden.entry(e).or_default().insert(
            attr.to_string(),
            GoldenValue {
                value: chosen.value.clone(),
                resource: chosen.resource.clone(),
                unit: chosen.unit.clone(),
                conflicts,
            },
        );
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
/// text (derived tables are for reading and sharing, not arithmetic).
async fn copy_table(lake: &Lake, table: &str, sql: &str, run_id: &str) -> Result<u64, EntityError> {
    let session = lake.session(&AsOf::Latest).await?;
    let df = session.sql(sql).await.map_err(crate::run::sql_error)?;
    let columns: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    for_each_row(&session, sql, |row| {
        rows.push(row.iter().map(|v| v.map(str::to_string)).collect());
    })
    .await?;
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    write_text_table(lake, table, &names, rows.into_iter(), run_id).await
}

/// Writes the six base databases and the attribute conflicts; returns the golden records.
pub async fn write_base(
    pack: &Pack,
    lake: &Lake,
    r: &Resolved,
    run_id: &str,
) -> Result<Golden, EntityError> {
    let golden = golden_records(lake, r).await?;
    let mut sources: HashMap<u32, u64> = HashMap::new();
    for e in r.link_map().entities() {
        *sources.entry(e).or_default() += 1;
    }
    let attr = |e: u32, a: &str| {
        golden
            .get(&e)
            .and_then(|g| g.get(a))
            .map(|v| v.value.clone())
    };
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
            row.push(Some(sources.get(&e).copied().unwrap_or(0).to_string()));
            let conflicting = golden.get(&e).map_or(0, |g| {
                g.values().filter(|v| !v.conflicts.is_empty()).count()
            });
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
            row.push(Some(sources.get(&e).copied().unwrap_or(0).to_string()));
            row
        });
    write_text_table(lake, "legal_persons", &cols, legal, run_id).await?;
    // Conflicts between sources, queryable.
    let conflicts = golden.iter().flat_map(|(e, attrs)| {
        attrs.iter().flat_map(move |(a, g)| {
            g.conflicts.iter().map(move |c| {
                vec![
                    Some(r.entity_ids[*e as usize].clone()),
                    Some(a.clone()),
                    Some(g.value.clone()),
                    Some(g.resource.clone()),
                    Some(c.value.clone()),
                    Some(c.resource.clone()),
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
    // 证照库: every certificate-class resource, with its holder's entity id.
    let links = r.link_map();
    let batch_index = r.batch_index();
    let session = lake.session(&AsOf::Latest).await?;
    let mut certs: Vec<Vec<Option<String>>> = Vec::new();
    for resource in pack
        .resources
        .iter()
        .filter(|x| x.base_class == Some(BaseClass::Certificate) && has(&x.code))
    {
        let Some(ri) = r.roles.iter().position(|x| x.resource == resource.code) else {
            continue;
        };
        let sql = select_fields_as_text(resource, &["batch_id", "record"]);
        for_each_row(&session, &sql, |row| {
            let (Some(batch_id), Some(record)) =
                (row[0], row[1].and_then(|t| t.parse::<u64>().ok()))
            else {
                return;
            };
            let holder = batch_index
                .get(batch_id)
                .and_then(|b| links.get(ri as u16, *b, record))
                .map(|e| r.entity_ids[e as usize].clone());
            let json: serde_json::Map<String, serde_json::Value> = resource
                .fields
                .iter()
                .zip(&row[2..])
                .filter_map(|(f, v)| v.map(|v| (f.name.clone(), serde_json::Value::from(v))))
                .collect();
            certs.push(vec![
                Some(resource.code.clone()),
                Some(resource.name.clone()),
                holder,
                Some(r.roles[ri].key_field.clone()),
                Some(batch_id.to_string()),
                Some(record.to_string()),
                Some(serde_json::Value::Object(json).to_string()),
            ]);
        })
        .await?;
    }
    write_text_table(
        lake,
        "certificates",
        &[
            "certificate_type",
            "certificate_name",
            "holder_entity_id",
            "holder_field",
            "batch_id",
            "record",
            "fields",
        ],
        certs.into_iter(),
        run_id,
    )
    .await?;
    Ok(golden)
}

/// Mentions per shard of the index fill: bounds the facts held in memory at once.
const MENTIONS_PER_SHARD: usize = 4_000_000;

/// Rebuilds the entity index (`$HOME/index.redb`) from the lake: one profile per person,
/// legal person, address and house, with every fact of every record linked to it, the golden
/// values, both directions of its edges, and its keys. Returns the profiles written.
pub async fn fill_index(
    pack: &Pack,
    home: &Path,
    lake: &Lake,
    r: &Resolved,
    golden: &Golden,
    edges: &[EdgeRow],
) -> Result<u64, EntityError> {
    let index = EntityIndex::create(home.join("index.redb"))?;
    let links = r.link_map();
    let batch_index = r.batch_index();
    let session = lake.session(&AsOf::Latest).await?;
    let tables = crate::run::dwd_tables(lake)?;
    // Edges by node, both directions.
    let mut edges_of: HashMap<&str, Vec<Edge>> = HashMap::new();
    for e in edges {
        let forward = Edge {
            relation: e.relation.to_string(),
            to: EntityId::new(e.dst.clone()),
            from_date: e.valid_from.clone(),
            to_date: e.valid_to.clone(),
            resource: e.resource.clone(),
            batch_id: e.batch_id.clone(),
        };
        let backward = Edge {
            relation: inverse(e.relation),
            to: EntityId::new(e.src.clone()),
            ..forward.clone()
        };
        edges_of.entry(e.src.as_str()).or_default().push(forward);
        edges_of.entry(e.dst.as_str()).or_default().push(backward);
    }
    // A merged entity's key still finds the person it turned out to be.
    let mut extra_keys: HashMap<u32, Vec<String>> = HashMap::new();
    for e in &r.entities {
        if let Some(mut to) = e.merged_into {
            while let Some(next) = r.entities[to as usize].merged_into {
                to = next;
            }
            extra_keys.entry(to).or_default().push(e.key.clone());
        }
    }
    let shards = links.len().div_ceil(MENTIONS_PER_SHARD).max(1);
    let mut writer = index.writer()?;
    let mut written = 0u64;
    let mut first = true;
    for shard in 0..shards {
        let mut facts: HashMap<u32, Vec<Fact>> = HashMap::new();
        let mut other: BTreeMap<String, (EntityKind, Key, Vec<Fact>)> = BTreeMap::new();
        for resource in pack.resources.iter().filter(|x| tables.contains(&x.code)) {
            let roles: Vec<u16> = r
                .roles
                .iter()
                .enumerate()
                .filter(|(_, x)| x.resource == resource.code)
                .map(|(i, _)| i as u16)
                .collect();
            // Address and house profiles come from their own registers, in the first shard.
            let own_key: Option<(&str, EntityKind)> = match resource.code.as_str() {
                "standard_addresses" if shard == 0 => Some(("address_code", EntityKind::Address)),
                "property_registrations" if shard == 0 => {
                    Some(("property_unit_no", EntityKind::House))
                }
                _ => None,
            };
            if roles.is_empty() && own_key.is_none() {
                continue;
            }
            let sql = select_fields_as_text(
                resource,
                &[
                    "batch_id",
                    "source_unit",
                    "CAST(ingested_at AS BIGINT)",
                    "record",
                ],
            );
            for_each_row(&session, &sql, |row| {
                let (Some(batch_id), Some(record)) =
                    (row[0], row[3].and_then(|t| t.parse::<u64>().ok()))
                else {
                    return;
                };
                let make = |values: &[Option<&str>]| -> Vec<Fact> {
                    resource
                        .fields
                        .iter()
                        .zip(values)
                        .filter_map(|(f, v)| {
                            v.filter(|v| !v.is_empty()).map(|v| Fact {
                                resource: resource.code.clone(),
                                field: f.name.clone(),
                                value: v.to_string(),
                                unit: row[1].unwrap_or_default().to_string(),
                                batch_id: batch_id.to_string(),
                                ingested_at_us: row[2].and_then(|t| t.parse().ok()).unwrap_or(0),
                                record,
                                valid_from: None,
                                valid_to: None,
                                sensitivity: sensitivity_level(f.sensitivity),
                            })
                        })
                        .collect()
                };
                if let Some(b) = batch_index.get(batch_id) {
                    // One record may name the same entity in two roles: its facts go in once.
                    let mut added: Vec<u32> = Vec::new();
                    for &ri in &roles {
                        if let Some(e) = links.get(ri, *b, record)
                            && (e as usize) % shards == shard
                            && !added.contains(&e)
                        {
                            added.push(e);
                            facts.entry(e).or_default().extend(make(&row[4..]));
                        }
                    }
                }
                if let Some((field, kind)) = own_key
                    && let Some(pos) = resource.fields.iter().position(|f| f.name == field)
                    && let Some(value) = row[4 + pos]
                {
                    let (id, key) = match kind {
                        EntityKind::House => (EntityIds::house(value), Key::house(value)),
                        _ => (EntityIds::address(value), Key::address_code(value)),
                    };
                    other
                        .entry(id)
                        .or_insert_with(|| (kind, key, Vec::new()))
                        .2
                        .extend(make(&row[4..]));
                }
            })
            .await?;
        }
        let mut profiles: Vec<Profile> = Vec::new();
        for (e, facts) in facts {
            let ent = &r.entities[e as usize];
            let id = &r.entity_ids[e as usize];
            let (kind, key) = match ent.kind {
                Kind::Person => (EntityKind::Person, Key::person(&ent.key)),
                Kind::LegalPerson => (EntityKind::LegalPerson, Key::credit_code(&ent.key)),
            };
            let mut p = Profile::new(EntityId::new(id.clone()), kind);
            p.facts = facts;
            p.keys = vec![key];
            for k in extra_keys.get(&e).into_iter().flatten() {
                p.keys.push(match ent.kind {
                    Kind::Person => Key::person(k),
                    Kind::LegalPerson => Key::credit_code(k),
                });
            }
            p.golden = golden.get(&e).cloned().unwrap_or_default();
            p.edges = edges_of.get(id.as_str()).cloned().unwrap_or_default();
            profiles.push(p);
        }
        for (id, (kind, key, facts)) in other {
            let mut p = Profile::new(EntityId::new(id.clone()), kind);
            p.facts = facts;
            p.keys = vec![key];
            p.edges = edges_of.get(id.as_str()).cloned().unwrap_or_default();
            profiles.push(p);
        }
        if shard == 0 {
            // Nodes that only edges name (communities, streets, addresses without a register
            // row): a profile of their edges, so graph walks pass through them.
            let have: std::collections::HashSet<String> = profiles
                .iter()
                .map(|p| p.entity_id.as_str().to_string())
                .chain(r.entity_ids.iter().cloned())
                .collect();
            for (id, edges) in &edges_of {
                if have.contains(*id) {
                    continue;
                }
                let kind = match id.as_bytes().first() {
                    Some(b'H') => EntityKind::House,
                    _ => EntityKind::Address,
                };
                let mut p = Profile::new(EntityId::new((*id).to_string()), kind);
                p.edges = edges.clone();
                profiles.push(p);
            }
        }
        written += profiles.len() as u64;
        if first {
            writer.rebuild(&profiles)?;
            first = false;
        } else {
            writer.put_profiles(&profiles)?;
        }
    }
    writer.commit()?;
    Ok(written)
}

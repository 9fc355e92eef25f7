//! `miaopi link`: resolution over the lake, then the derived tables and the index.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use miaopi_catalog::Pack;
use miaopi_lake::{AsOf, Lake, Layer};

use crate::EntityError;
use crate::ids::EntityIds;
pub use crate::resolve::LinkIndex;
use crate::resolve::{
    Decided, Entity, KeyState, Kind, Mention, Resolution, ResolveCounts, Resolver,
};
use crate::roles::{PartyRole, roles_of};
use crate::scan::{for_each_row, ident};

/// Options of a linking run.
#[derive(Debug, Clone, Default)]
pub struct LinkOptions {
    /// Skip the entity index (linking and the lake tables only).
    pub skip_index: bool,
    /// Rebuild the entity index from the lake instead of updating it in place.
    pub rebuild_index: bool,
    /// Compact fact bytes one pass of the index fill may hold (0: the default, 1 GiB); the
    /// fill makes as many passes over `dwd` as the estimated total needs.
    pub index_pass_bytes: u64,
}

/// What a linking run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkReport {
    pub run_id: String,
    pub counts: ResolveCounts,
    pub links_written: u64,
    pub reviews_written: u64,
    pub edges_written: u64,
    /// Index profiles written (new, or their encoded bytes changed).
    pub profiles_written: u64,
    /// Index profiles the run produced byte-identical to the stored ones, left untouched.
    pub profiles_unchanged: u64,
    /// Entities taken out of the index: merged into another or gone from the lake.
    pub profiles_removed: u64,
    /// Whether the index was rebuilt from scratch (`--rebuild`, or no index yet).
    pub index_rebuilt: bool,
    /// Passes over `dwd` the index fill took (its memory bound; see `profiles::fill_index`).
    pub index_shards: u64,
    pub read_ms: u64,
    pub resolve_ms: u64,
    pub write_ms: u64,
    pub index_ms: u64,
}

/// One intake batch as the run refers to it.
#[derive(Debug, Clone)]
pub struct BatchRef {
    pub batch_id: String,
    pub source_file: String,
    pub ingested_at_us: i64,
}

/// The run's shared state, for the derived-table builders.
pub struct Resolved {
    pub roles: Vec<PartyRole>,
    pub batches: Vec<BatchRef>,
    pub entities: Vec<Entity>,
    pub entity_ids: Vec<String>,
    /// Every linked mention's entity and method.
    pub links: LinkIndex,
    /// Every mention sent to review.
    pub reviews: Vec<Decided>,
}

impl Resolved {
    /// Batch id → the run's batch index.
    pub fn batch_index(&self) -> HashMap<&str, u32> {
        self.batches
            .iter()
            .enumerate()
            .map(|(i, b)| (b.batch_id.as_str(), i as u32))
            .collect()
    }

    /// The entity an entity index ends at after merges.
    pub fn survivor(&self, mut e: u32) -> u32 {
        while let Some(next) = self.entities.get(e as usize).and_then(|x| x.merged_into) {
            e = next;
        }
        e
    }
}

/// The `dwd` tables that exist.
pub(crate) fn dwd_tables(lake: &Lake) -> Result<Vec<String>, EntityError> {
    Ok(lake
        .tables()?
        .into_iter()
        .filter(|(l, _)| *l == Layer::Dwd)
        .map(|(_, t)| t)
        .collect())
}

pub(crate) fn sql_error(e: impl std::fmt::Display) -> EntityError {
    EntityError::Sql(e.to_string())
}

/// Links everything in the home's lake and writes `link.links`, `link.review`, the base
/// databases, `graph.edges` and the entity index (updated in place: only profiles whose bytes
/// change are written; `rebuild_index` or a missing index rebuilds it).
pub async fn link_home(
    pack: &Pack,
    home: &Path,
    lake: &Lake,
    options: &LinkOptions,
) -> Result<LinkReport, EntityError> {
    let run_id = chrono::Utc::now().format("%Y%m%dT%H%M%S%6fZ").to_string();
    let ids = EntityIds::open(home)?;
    let read_started = Instant::now();
    let resolved = resolve_lake(pack, lake).await?;
    let read_ms = read_started.elapsed().as_millis() as u64;
    let (mut resolved, counts, resolve_ms) = resolved;
    resolved.entity_ids = resolved
        .entities
        .iter()
        .map(|e| match e.kind {
            Kind::Person => ids.person(&e.key),
            Kind::LegalPerson => EntityIds::legal_person(&e.key),
        })
        .collect();
    let write_started = Instant::now();
    let (links_written, reviews_written) = write_links(lake, &resolved, &run_id).await?;
    write_merges(lake, &resolved, &run_id).await?;
    let graph = crate::graph::build_edges(pack, lake, &resolved).await?;
    let edges_written = crate::graph::write_edges(lake, &graph, &run_id).await?;
    let golden = crate::profiles::write_base(pack, lake, &resolved, &run_id).await?;
    let write_ms = write_started.elapsed().as_millis() as u64;
    let index_started = Instant::now();
    let fill = if options.skip_index {
        crate::profiles::IndexFill::default()
    } else {
        crate::profiles::fill_index(
            pack,
            home,
            lake,
            &resolved,
            &golden,
            &graph,
            options.rebuild_index,
            options.index_pass_bytes,
        )
        .await?
    };
    Ok(LinkReport {
        run_id,
        counts,
        links_written,
        reviews_written,
        edges_written,
        profiles_written: fill.written,
        profiles_unchanged: fill.unchanged,
        profiles_removed: fill.removed,
        index_rebuilt: fill.rebuilt,
        index_shards: fill.shards,
        read_ms: read_ms.saturating_sub(resolve_ms),
        resolve_ms,
        write_ms,
        index_ms: index_started.elapsed().as_millis() as u64,
    })
}

/// Reads every party mention from `dwd` and resolves them.
async fn resolve_lake(
    pack: &Pack,
    lake: &Lake,
) -> Result<(Resolved, ResolveCounts, u64), EntityError> {
    let tables = dwd_tables(lake)?;
    let roles: Vec<PartyRole> = roles_of(pack)
        .into_iter()
        .filter(|r| tables.contains(&r.resource))
        .collect();
    if !roles.iter().any(|r| r.register) {
        return Err(EntityError::NoRegister(
            "hukou_residents, residence_registrations, enterprise_registrations".into(),
        ));
    }
    let ctx = lake.session(&AsOf::Latest).await?;
    let mut batches: Vec<BatchRef> = Vec::new();
    let mut batch_index: HashMap<String, u32> = HashMap::new();
    // Batches are numbered in (role table, batch id) order before any mention is read, so
    // the resolver sees the same numbers — and so orders its pending mentions the same way —
    // whatever order the lake streams rows in.
    let mut listed: Vec<&str> = Vec::new();
    for role in &roles {
        if listed.contains(&role.resource.as_str()) {
            continue;
        }
        listed.push(&role.resource);
        let sql = format!(
            "SELECT batch_id, min(source_file), min(CAST(ingested_at AS BIGINT)) FROM dwd.{} GROUP BY batch_id ORDER BY batch_id",
            ident(&role.resource)
        );
        for_each_row(&ctx, &sql, |row| {
            let batch_id = row[0].unwrap_or_default();
            if batch_index.contains_key(batch_id) {
                return;
            }
            batch_index.insert(batch_id.to_string(), batches.len() as u32);
            batches.push(BatchRef {
                batch_id: batch_id.to_string(),
                source_file: row[1].unwrap_or_default().to_string(),
                ingested_at_us: row[2].and_then(|t| t.parse().ok()).unwrap_or(0),
            });
        })
        .await?;
    }
    let mut resolver = Resolver::new(&roles);
    for (i, role) in roles.iter().enumerate() {
        let opt = |f: &Option<String>| f.as_deref().map_or("NULL".to_string(), ident);
        let sql = format!(
            "SELECT batch_id, source_file, CAST(ingested_at AS BIGINT), record, {key}, {status}, CAST({name} AS VARCHAR) AS m_name, CAST({sex} AS VARCHAR) AS m_sex, CAST({birth} AS VARCHAR) AS m_birth, CAST({address} AS VARCHAR) AS m_address FROM dwd.{table}",
            key = ident(&role.key_field),
            status = ident(&format!("{}_key_status", role.key_field)),
            name = opt(&role.name_field),
            sex = opt(&role.sex_field),
            birth = opt(&role.birth_field),
            address = opt(&role.address_field),
            table = ident(&role.resource),
        );
        for_each_row(&ctx, &sql, |row| {
            let text = |j: usize| row.get(j).copied().flatten();
            let batch_id = text(0).unwrap_or_default();
            let batch = match batch_index.get(batch_id) {
                Some(&b) => b,
                None => {
                    let b = batches.len() as u32;
                    batches.push(BatchRef {
                        batch_id: batch_id.to_string(),
                        source_file: text(1).unwrap_or_default().to_string(),
                        ingested_at_us: text(2).and_then(|t| t.parse().ok()).unwrap_or(0),
                    });
                    batch_index.insert(batch_id.to_string(), b);
                    b
                }
            };
            let owned = |j: usize| text(j).filter(|s| !s.is_empty()).map(str::to_string);
            // An optional party the record does not have (no father on a birth certificate):
            // no key and no name is no mention.
            if owned(4).is_none() && owned(6).is_none() {
                return;
            }
            resolver.add(Mention {
                role: i as u16,
                batch,
                record: text(3).and_then(|t| t.parse().ok()).unwrap_or(0),
                key: owned(4),
                key_state: KeyState::from_status(text(5)),
                name: owned(6),
                sex: owned(7),
                birth: owned(8),
                address: owned(9),
            });
        })
        .await?;
    }
    let started = Instant::now();
    let resolver = resolver.finish()?;
    let resolve_ms = started.elapsed().as_millis() as u64;
    let counts = resolver.counts.clone();
    let mut entities = resolver.entities;
    // The identifying attributes served resolution; nothing downstream reads them (golden
    // records come from `dwd`), so their memory (~250 MB at district scale) goes now.
    for e in &mut entities {
        (e.name, e.sex, e.birth, e.address) = (None, None, None, None);
    }
    Ok((
        Resolved {
            roles,
            batches,
            entities,
            entity_ids: Vec::new(),
            links: resolver.links,
            reviews: resolver.reviews,
        },
        counts,
        resolve_ms,
    ))
}

fn kind_code(kind: Kind) -> &'static str {
    match kind {
        Kind::Person => "person",
        Kind::LegalPerson => "legal_person",
    }
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

/// `link.links`: one row per linked mention.
pub fn links_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("entity_kind", false),
        utf8("entity_id", false),
        utf8("resource", false),
        utf8("field", false),
        utf8("batch_id", false),
        utf8("source_file", false),
        Field::new("record", DataType::Int64, false),
        utf8("method", false),
        Field::new("score", DataType::Float64, false),
    ]))
}

/// `link.review`: one row per mention routed to a person (转人工) instead of being linked.
pub fn review_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("entity_kind", false),
        utf8("resource", false),
        utf8("field", false),
        utf8("batch_id", false),
        utf8("source_file", false),
        Field::new("record", DataType::Int64, false),
        utf8("reason_code", false),
        utf8("reason_zh", false),
        utf8("candidate_entity_id", true),
        Field::new("probability", DataType::Float64, false),
    ]))
}

const CHUNK_ROWS: usize = 65_536;

/// Column builders of one chunk of `link.links`.
struct LinkRows {
    text: Vec<StringBuilder>,
    record: Int64Builder,
    method: StringBuilder,
    score: Float64Builder,
    rows: usize,
}

impl LinkRows {
    fn new() -> LinkRows {
        LinkRows {
            text: (0..6).map(|_| StringBuilder::new()).collect(),
            record: Int64Builder::new(),
            method: StringBuilder::new(),
            score: Float64Builder::new(),
            rows: 0,
        }
    }

    fn finish(&mut self) -> Result<RecordBatch, EntityError> {
        let mut cols: Vec<ArrayRef> = self
            .text
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        cols.push(Arc::new(self.record.finish()));
        cols.push(Arc::new(self.method.finish()));
        cols.push(Arc::new(self.score.finish()));
        self.rows = 0;
        RecordBatch::try_new(links_schema(), cols).map_err(|e| EntityError::Arrow(e.to_string()))
    }
}

async fn write_links(lake: &Lake, r: &Resolved, run_id: &str) -> Result<(u64, u64), EntityError> {
    let arrow = |e: arrow_schema::ArrowError| EntityError::Arrow(e.to_string());
    let mut links = lake
        .begin_replace(Layer::Link, "links", links_schema(), run_id)
        .await?;
    // Streamed from the link index in chunks: only one chunk's builders are ever held,
    // whatever the district's size.
    let mut rows = LinkRows::new();
    let mut n_links = 0u64;
    for (role_i, batch_i) in r.links.groups() {
        let role = &r.roles[role_i as usize];
        let batch = &r.batches[batch_i as usize];
        let mut chunk: Option<RecordBatch> = None;
        for (record, entity, method, score) in r.links.group(role_i, batch_i) {
            if let Some(full) = chunk.take() {
                links.write(full).await?;
            }
            let e = entity as usize;
            n_links += 1;
            rows.text[0].append_value(kind_code(r.entities[e].kind));
            rows.text[1].append_value(&r.entity_ids[e]);
            rows.text[2].append_value(&role.resource);
            rows.text[3].append_value(&role.key_field);
            rows.text[4].append_value(&batch.batch_id);
            rows.text[5].append_value(&batch.source_file);
            rows.record.append_value(record as i64);
            rows.method.append_value(method.code());
            rows.score.append_value(score);
            rows.rows += 1;
            if rows.rows == CHUNK_ROWS {
                chunk = Some(rows.finish()?);
            }
        }
        if let Some(full) = chunk {
            links.write(full).await?;
        }
    }
    if rows.rows > 0 {
        links.write(rows.finish()?).await?;
    }
    assert_eq!(n_links, r.links.len(), "every linked mention written once");
    links.commit().await?;

    let mut review = lake
        .begin_replace(Layer::Link, "review", review_schema(), run_id)
        .await?;
    let mut n_review = 0u64;
    for chunk in r.reviews.chunks(CHUNK_ROWS) {
        let mut v: Vec<StringBuilder> = (0..5).map(|_| StringBuilder::new()).collect();
        let mut v_record = Int64Builder::new();
        let mut v_reason = StringBuilder::new();
        let mut v_zh = StringBuilder::new();
        let mut v_cand = StringBuilder::new();
        let mut v_p = Float64Builder::new();
        for d in chunk {
            let role = &r.roles[d.role as usize];
            let batch = &r.batches[d.batch as usize];
            let Resolution::Review {
                reason,
                candidate,
                probability,
            } = &d.resolution
            else {
                continue;
            };
            n_review += 1;
            v[0].append_value(kind_code(d.kind));
            v[1].append_value(&role.resource);
            v[2].append_value(&role.key_field);
            v[3].append_value(&batch.batch_id);
            v[4].append_value(&batch.source_file);
            v_record.append_value(d.record as i64);
            v_reason.append_value(reason.code());
            v_zh.append_value(reason.message_zh());
            match candidate {
                Some(c) => v_cand.append_value(&r.entity_ids[*c as usize]),
                None => v_cand.append_null(),
            }
            v_p.append_value(*probability);
        }
        let mut cols: Vec<ArrayRef> = v
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        cols.push(Arc::new(v_record.finish()));
        cols.push(Arc::new(v_reason.finish()));
        cols.push(Arc::new(v_zh.finish()));
        cols.push(Arc::new(v_cand.finish()));
        cols.push(Arc::new(v_p.finish()));
        review
            .write(RecordBatch::try_new(review_schema(), cols).map_err(arrow)?)
            .await?;
    }
    review.commit().await?;
    Ok((n_links, n_review))
}

/// `link.merged_entities`: entities found to be another under a mistyped key, so that an id
/// handed out earlier can be followed to the entity it now belongs to.
async fn write_merges(lake: &Lake, r: &Resolved, run_id: &str) -> Result<(), EntityError> {
    let schema = Arc::new(Schema::new(vec![
        utf8("old_entity_id", false),
        utf8("new_entity_id", false),
        utf8("reason", false),
    ]));
    let mut old = StringBuilder::new();
    let mut new = StringBuilder::new();
    let mut reason = StringBuilder::new();
    for (i, e) in r.entities.iter().enumerate() {
        if let Some(mut to) = e.merged_into {
            while let Some(next) = r.entities[to as usize].merged_into {
                to = next;
            }
            old.append_value(&r.entity_ids[i]);
            new.append_value(&r.entity_ids[to as usize]);
            reason.append_value("swapped_id");
        }
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(old.finish()),
        Arc::new(new.finish()),
        Arc::new(reason.finish()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols)
        .map_err(|e| EntityError::Arrow(e.to_string()))?;
    let mut table = lake
        .begin_replace(Layer::Link, "merged_entities", schema, run_id)
        .await?;
    table.write(batch).await?;
    table.commit().await?;
    Ok(())
}

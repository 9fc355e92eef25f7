//! The knowledge graph (知识图谱): relations between entities, each with the record that
//! states it and the dates it holds for, written to `graph.edges`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use miaopi_catalog::Pack;
use miaopi_index::relation;
use miaopi_lake::{AsOf, Lake, Layer};

use crate::EntityError;
use crate::ids::EntityIds;
use crate::run::Resolved;
use crate::scan::for_each_row;

/// (date, kind, batch, record) of one marriage registration of a couple.
type MarriageEvent = (String, String, String, u64);

/// One directed edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeRow {
    pub src: String,
    pub relation: &'static str,
    pub dst: String,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    pub resource: String,
    pub batch_id: String,
    pub record: u64,
}

/// The name of an edge read backwards, for a neighbour list from the other end.
pub fn inverse(relation: &str) -> String {
    match relation {
        relation::PARENT_OF => "child_of".into(),
        relation::SPOUSE_OF => relation::SPOUSE_OF.into(),
        relation::HOUSEHOLD_MEMBER => "household_head_of".into(),
        relation::RESIDES_AT => "residence_of".into(),
        relation::OWNS => "owned_by".into(),
        relation::RENTS => "rented_by".into(),
        relation::EMPLOYED_BY => "employs".into(),
        relation::LEGAL_REP_OF => "has_legal_rep".into(),
        relation::LOCATED_AT => "location_of".into(),
        relation::IN_COMMUNITY => "community_of".into(),
        relation::IN_STREET => "street_of".into(),
        other => format!("inverse_of_{other}"),
    }
}

/// 关系名称 for people reading the graph.
pub fn relation_zh(relation: &str) -> &'static str {
    match relation {
        relation::PARENT_OF => "父母→子女",
        "child_of" => "子女→父母",
        relation::SPOUSE_OF => "配偶",
        relation::HOUSEHOLD_MEMBER => "同户成员→户主",
        "household_head_of" => "户主→同户成员",
        relation::RESIDES_AT => "居住于",
        "residence_of" => "居住人",
        relation::OWNS => "拥有",
        "owned_by" => "权利人",
        relation::RENTS => "承租",
        "rented_by" => "承租人",
        relation::EMPLOYED_BY => "受雇于",
        "employs" => "雇用",
        relation::LEGAL_REP_OF => "法定代表人",
        "has_legal_rep" => "法定代表人为",
        relation::LOCATED_AT => "位于",
        "location_of" => "所在地",
        relation::IN_COMMUNITY => "属于社区",
        "community_of" => "社区包含",
        relation::IN_STREET => "属于街道",
        "street_of" => "街道包含",
        _ => "关系",
    }
}

pub fn edges_schema() -> SchemaRef {
    let s = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    Arc::new(Schema::new(vec![
        s("src", false),
        s("relation", false),
        s("dst", false),
        s("valid_from", true),
        s("valid_to", true),
        s("resource", false),
        s("batch_id", false),
        Field::new("record", DataType::Int64, false),
    ]))
}

struct Ctx<'a> {
    r: &'a Resolved,
    links: crate::run::LinkIndex,
    batch_index: HashMap<&'a str, u32>,
}

impl Ctx<'_> {
    fn role(&self, resource: &str, field: &str) -> Option<u16> {
        self.r
            .roles
            .iter()
            .position(|x| x.resource == resource && x.key_field == field)
            .map(|i| i as u16)
    }

    /// The entity id a record's key field was linked to.
    fn entity(&self, role: Option<u16>, batch_id: &str, record: u64) -> Option<String> {
        let b = *self.batch_index.get(batch_id)?;
        let e = self.links.get(role?, b, record)?;
        self.r.entity_ids.get(e as usize).cloned()
    }
}

fn address_edges(
    code: &str,
    out: &mut Vec<EdgeRow>,
    seen: &mut std::collections::HashSet<String>,
    resource: &str,
    batch: &str,
    record: u64,
) {
    // 地址编码: district (6) + street (3) + community (3) + sequence.
    if code.len() < 12 || !code.is_ascii() || !seen.insert(code.to_string()) {
        return;
    }
    let community = &code[..12];
    let street = &code[..9];
    let mk = |src: String, rel: &'static str, dst: String| EdgeRow {
        src,
        relation: rel,
        dst,
        valid_from: None,
        valid_to: None,
        resource: resource.to_string(),
        batch_id: batch.to_string(),
        record,
    };
    out.push(mk(
        EntityIds::address(code),
        relation::IN_COMMUNITY,
        EntityIds::community(community),
    ));
    if seen.insert(community.to_string()) {
        out.push(mk(
            EntityIds::community(community),
            relation::IN_STREET,
            EntityIds::street(street),
        ));
    }
}

/// Builds every edge the lake states and writes `graph.edges`. Returns the edges.
pub async fn build_edges(
    pack: &Pack,
    lake: &Lake,
    r: &Resolved,
) -> Result<Vec<EdgeRow>, EntityError> {
    let _ = pack;
    let tables = crate::run::dwd_tables(lake)?;
    let has = |t: &str| tables.iter().any(|x| x == t);
    let ctx = Ctx {
        r,
        links: r.link_map(),
        batch_index: r.batch_index(),
    };
    let session = lake.session(&AsOf::Latest).await?;
    let mut out: Vec<EdgeRow> = Vec::new();
    let mut seen_addresses = std::collections::HashSet::new();
    let edge = |src: String,
                rel: &'static str,
                dst: String,
                from: Option<&str>,
                to: Option<&str>,
                resource: &str,
                batch: &str,
                record: u64| EdgeRow {
        src,
        relation: rel,
        dst,
        valid_from: from.map(str::to_string),
        valid_to: to.map(str::to_string),
        resource: resource.to_string(),
        batch_id: batch.to_string(),
        record,
    };
    let num = |s: Option<&str>| s.and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);

    if has("hukou_residents") {
        let role = ctx.role("hukou_residents", "resident_id");
        // household_no → (entity, relation code, batch, record)
        let mut households: HashMap<String, Vec<(String, String, String, u64)>> = HashMap::new();
        for_each_row(&session, "SELECT batch_id, record, address_code, CAST(moved_in_on AS VARCHAR), household_no, relation_to_head FROM dwd.hukou_residents", |row| {
            let (Some(batch), record) = (row[0], num(row[1])) else { return };
            let Some(person) = ctx.entity(role, batch, record) else { return };
            if let Some(addr) = row[2] {
                out.push(edge(person.clone(), relation::RESIDES_AT, EntityIds::address(addr), row[3], None, "hukou_residents", batch, record));
                address_edges(addr, &mut out, &mut seen_addresses, "hukou_residents", batch, record);
            }
            if let (Some(h), Some(rel)) = (row[4], row[5]) {
                households.entry(h.to_string()).or_default().push((person, rel.to_string(), batch.to_string(), record));
            }
        }).await?;
        for members in households.values() {
            let Some(head) = members.iter().find(|m| m.1 == "02") else {
                continue;
            };
            for (p, rel, batch, record) in members {
                if p == &head.0 {
                    continue;
                }
                out.push(edge(
                    p.clone(),
                    relation::HOUSEHOLD_MEMBER,
                    head.0.clone(),
                    None,
                    None,
                    "hukou_residents",
                    batch,
                    *record,
                ));
                match rel.as_str() {
                    "10" => out.push(edge(
                        head.0.clone(),
                        relation::SPOUSE_OF,
                        p.clone(),
                        None,
                        None,
                        "hukou_residents",
                        batch,
                        *record,
                    )),
                    "20" | "30" => out.push(edge(
                        head.0.clone(),
                        relation::PARENT_OF,
                        p.clone(),
                        None,
                        None,
                        "hukou_residents",
                        batch,
                        *record,
                    )),
                    "50" => out.push(edge(
                        p.clone(),
                        relation::PARENT_OF,
                        head.0.clone(),
                        None,
                        None,
                        "hukou_residents",
                        batch,
                        *record,
                    )),
                    _ => {}
                }
            }
        }
    }
    if has("residence_registrations") {
        let role = ctx.role("residence_registrations", "resident_id");
        for_each_row(&session, "SELECT batch_id, record, address_code, CAST(registered_on AS VARCHAR), CAST(permit_valid_until AS VARCHAR) FROM dwd.residence_registrations", |row| {
            let (Some(batch), record) = (row[0], num(row[1])) else { return };
            let (Some(person), Some(addr)) = (ctx.entity(role, batch, record), row[2]) else { return };
            out.push(edge(person, relation::RESIDES_AT, EntityIds::address(addr), row[3], row[4], "residence_registrations", batch, record));
            address_edges(addr, &mut out, &mut seen_addresses, "residence_registrations", batch, record);
        }).await?;
    }
    if has("marriage_registrations") {
        let (h, w) = (
            ctx.role("marriage_registrations", "husband_id"),
            ctx.role("marriage_registrations", "wife_id"),
        );
        // A marriage holds from its 结婚登记 until a 离婚登记 of the same couple.
        let mut couples: HashMap<(String, String), Vec<MarriageEvent>> = HashMap::new();
        for_each_row(&session, "SELECT batch_id, record, kind, CAST(registered_on AS VARCHAR) FROM dwd.marriage_registrations", |row| {
            let (Some(batch), record) = (row[0], num(row[1])) else { return };
            let (Some(a), Some(b)) = (ctx.entity(h, batch, record), ctx.entity(w, batch, record)) else { return };
            couples.entry((a, b)).or_default().push((row[3].unwrap_or_default().to_string(), row[2].unwrap_or_default().to_string(), batch.to_string(), record));
        }).await?;
        for ((a, b), mut events) in couples {
            events.sort();
            let mut open: Option<(String, String, u64)> = None;
            for (date, kind, batch, record) in events {
                if kind == "IA" {
                    open = Some((date, batch, record));
                } else if let Some((from, batch0, record0)) = open.take() {
                    out.push(edge(
                        a.clone(),
                        relation::SPOUSE_OF,
                        b.clone(),
                        Some(&from),
                        Some(&date),
                        "marriage_registrations",
                        &batch0,
                        record0,
                    ));
                }
            }
            if let Some((from, batch0, record0)) = open {
                out.push(edge(
                    a.clone(),
                    relation::SPOUSE_OF,
                    b.clone(),
                    Some(&from),
                    None,
                    "marriage_registrations",
                    &batch0,
                    record0,
                ));
            }
        }
    }
    if has("property_registrations") {
        let role = ctx.role("property_registrations", "owner_id");
        for_each_row(&session, "SELECT batch_id, record, property_unit_no, address_code, CAST(registered_on AS VARCHAR) FROM dwd.property_registrations", |row| {
            let (Some(batch), record) = (row[0], num(row[1])) else { return };
            let Some(house) = row[2] else { return };
            if let Some(owner) = ctx.entity(role, batch, record) {
                out.push(edge(owner, relation::OWNS, EntityIds::house(house), row[4], None, "property_registrations", batch, record));
            }
            if let Some(addr) = row[3] {
                out.push(edge(EntityIds::house(house), relation::LOCATED_AT, EntityIds::address(addr), None, None, "property_registrations", batch, record));
                address_edges(addr, &mut out, &mut seen_addresses, "property_registrations", batch, record);
            }
        }).await?;
    }
    if has("rental_registrations") {
        let role = ctx.role("rental_registrations", "tenant_id");
        for_each_row(&session, "SELECT batch_id, record, address_code, CAST(start_date AS VARCHAR), CAST(end_date AS VARCHAR) FROM dwd.rental_registrations", |row| {
            let (Some(batch), record) = (row[0], num(row[1])) else { return };
            let (Some(tenant), Some(addr)) = (ctx.entity(role, batch, record), row[2]) else { return };
            out.push(edge(tenant, relation::RENTS, EntityIds::address(addr), row[3], row[4], "rental_registrations", batch, record));
        }).await?;
    }
    if has("enterprise_registrations") {
        let (rep, ent) = (
            ctx.role("enterprise_registrations", "legal_rep_id"),
            ctx.role("enterprise_registrations", "uscc"),
        );
        for_each_row(&session, "SELECT batch_id, record, address_code, CAST(established_on AS VARCHAR) FROM dwd.enterprise_registrations", |row| {
            let (Some(batch), record) = (row[0], num(row[1])) else { return };
            let Some(e) = ctx.entity(ent, batch, record) else { return };
            if let Some(p) = ctx.entity(rep, batch, record) {
                out.push(edge(p, relation::LEGAL_REP_OF, e.clone(), row[3], None, "enterprise_registrations", batch, record));
            }
            if let Some(addr) = row[2] {
                out.push(edge(e, relation::LOCATED_AT, EntityIds::address(addr), row[3], None, "enterprise_registrations", batch, record));
                address_edges(addr, &mut out, &mut seen_addresses, "enterprise_registrations", batch, record);
            }
        }).await?;
    }
    if has("social_insurance_contributions") {
        let (p, e) = (
            ctx.role("social_insurance_contributions", "resident_id"),
            ctx.role("social_insurance_contributions", "employer_uscc"),
        );
        // One edge per (person, employer): the first and last month contributed.
        let mut spans: HashMap<(String, String), (String, String, String, u64)> = HashMap::new();
        for_each_row(
            &session,
            "SELECT batch_id, record, contribution_month FROM dwd.social_insurance_contributions",
            |row| {
                let (Some(batch), record) = (row[0], num(row[1])) else {
                    return;
                };
                let (Some(person), Some(employer), Some(month)) = (
                    ctx.entity(p, batch, record),
                    ctx.entity(e, batch, record),
                    row[2],
                ) else {
                    return;
                };
                let span = spans.entry((person, employer)).or_insert_with(|| {
                    (
                        month.to_string(),
                        month.to_string(),
                        batch.to_string(),
                        record,
                    )
                });
                if month < span.0.as_str() {
                    span.0 = month.to_string();
                }
                if month > span.1.as_str() {
                    span.1 = month.to_string();
                }
            },
        )
        .await?;
        for ((person, employer), (from, to, batch, record)) in spans {
            out.push(edge(
                person,
                relation::EMPLOYED_BY,
                employer,
                Some(&from),
                Some(&to),
                "social_insurance_contributions",
                &batch,
                record,
            ));
        }
    }
    if has("standard_addresses") {
        for_each_row(
            &session,
            "SELECT batch_id, record, address_code FROM dwd.standard_addresses",
            |row| {
                let (Some(batch), record, Some(addr)) = (row[0], num(row[1]), row[2]) else {
                    return;
                };
                address_edges(
                    addr,
                    &mut out,
                    &mut seen_addresses,
                    "standard_addresses",
                    batch,
                    record,
                );
            },
        )
        .await?;
    }
    Ok(out)
}

/// Writes `graph.edges` (replacing the previous run's).
pub async fn write_edges(lake: &Lake, edges: &[EdgeRow], run_id: &str) -> Result<u64, EntityError> {
    let arrow = |e: arrow_schema::ArrowError| EntityError::Arrow(e.to_string());
    let mut table = lake
        .begin_replace(Layer::Graph, "edges", edges_schema(), run_id)
        .await?;
    for chunk in edges.chunks(65_536) {
        let mut s: Vec<StringBuilder> = (0..7).map(|_| StringBuilder::new()).collect();
        let mut rec = Int64Builder::new();
        for e in chunk {
            s[0].append_value(&e.src);
            s[1].append_value(e.relation);
            s[2].append_value(&e.dst);
            s[3].append_option(e.valid_from.as_deref());
            s[4].append_option(e.valid_to.as_deref());
            s[5].append_value(&e.resource);
            s[6].append_value(&e.batch_id);
            rec.append_value(e.record as i64);
        }
        let mut cols: Vec<ArrayRef> = s
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        cols.push(Arc::new(rec.finish()));
        table
            .write(RecordBatch::try_new(edges_schema(), cols).map_err(arrow)?)
            .await?;
    }
    table.commit().await?;
    Ok(edges.len() as u64)
}

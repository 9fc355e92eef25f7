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
type MarriageEvent = (String, String, u32, u64);

/// "No value" in an [`EdgeRow`]'s optional name fields.
pub const NO_NAME: u32 = u32::MAX;

/// Strings stored once, named by a dense `u32`: the graph's node ids, batch ids and dates.
///
/// Ids `0..entities` are the resolved entities' ids in entity order, so a linked mention's
/// entity index is its node id without a look-up.
#[derive(Debug, Default)]
pub struct Names {
    ids: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Names {
    /// The id of `name`, added if new.
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(NO_NAME);
        assert_ne!(id, NO_NAME, "more than 2^32 - 1 graph names");
        let name: Arc<str> = Arc::from(name);
        self.ids.insert(name.clone(), id);
        self.names.push(name);
        id
    }

    /// The id of `name` if it was ever added.
    pub fn find(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name of an id ("" for [`NO_NAME`] or an id never handed out).
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }

    /// The name of an optional id.
    pub fn opt(&self, id: u32) -> Option<&str> {
        (id != NO_NAME).then(|| self.name(id))
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// One directed edge; node ids, dates and the batch are [`Names`] ids (`NO_NAME` for no
/// date): 48 bytes an edge instead of seven owned strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeRow {
    pub src: u32,
    pub dst: u32,
    pub valid_from: u32,
    pub valid_to: u32,
    pub batch: u32,
    pub record: u64,
    pub relation: &'static str,
    pub resource: &'static str,
}

/// The knowledge graph of a run: its edges, and the names they refer to.
#[derive(Debug, Default)]
pub struct Graph {
    pub names: Names,
    pub edges: Vec<EdgeRow>,
}

impl Graph {
    /// Edge indexes by node, both directions: `(start, list)`, where node `n`'s edges are
    /// `list[start[n]..start[n + 1]]`, each `edge << 1 | backward`. Compressed rows: eight bytes
    /// per edge instead of a map of owned edge lists.
    pub fn adjacency(&self) -> (Vec<u32>, Vec<u32>) {
        let nodes = self.names.len();
        let mut start = vec![0u32; nodes + 1];
        for e in &self.edges {
            start[e.src as usize + 1] += 1;
            start[e.dst as usize + 1] += 1;
        }
        for i in 0..nodes {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut list = vec![0u32; self.edges.len() * 2];
        for (i, e) in self.edges.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX >> 1);
            for (node, backward) in [(e.src, 0), (e.dst, 1)] {
                let at = &mut fill[node as usize];
                list[*at as usize] = i << 1 | backward;
                *at += 1;
            }
        }
        assert_eq!(
            start[nodes] as usize,
            list.len(),
            "every edge listed at both ends"
        );
        (start, list)
    }
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

    /// The entity (= its node id) a record's key field was linked to.
    fn entity(&self, role: Option<u16>, batch_id: &str, record: u64) -> Option<u32> {
        let b = *self.batch_index.get(batch_id)?;
        self.r.links.get(role?, b, record)
    }
}

/// Builds edges; every string goes through the graph's names.
struct Builder {
    graph: Graph,
    /// Address or community node → its place edge (address → community, community → street).
    placed: HashMap<u32, usize>,
}

impl Builder {
    #[allow(clippy::too_many_arguments)]
    fn edge(
        &mut self,
        src: u32,
        relation: &'static str,
        dst: u32,
        from: Option<&str>,
        to: Option<&str>,
        resource: &'static str,
        batch: &str,
        record: u64,
    ) {
        let names = &mut self.graph.names;
        let from = from.map_or(NO_NAME, |d| names.id(d));
        let to = to.map_or(NO_NAME, |d| names.id(d));
        let batch = names.id(batch);
        self.graph.edges.push(EdgeRow {
            src,
            dst,
            valid_from: from,
            valid_to: to,
            batch,
            record,
            relation,
            resource,
        });
    }

    fn node(&mut self, id: &str) -> u32 {
        self.graph.names.id(id)
    }

    /// An address's place: address → community → street, once per address and community.
    /// The edge names the first resource (in build order) that states the address and, within
    /// it, the least (batch, record): the same provenance whatever order rows arrive in, so an
    /// unchanged address keeps byte-identical index profiles.
    fn address_edges(&mut self, code: &str, resource: &'static str, batch: &str, record: u64) {
        // 地址编码: district (6) + street (3) + community (3) + sequence.
        if code.len() < 12 || !code.is_ascii() {
            return;
        }
        let address = self.node(&EntityIds::address(code));
        let community = self.node(&EntityIds::community(&code[..12]));
        for (node, relation, to) in [
            (address, relation::IN_COMMUNITY, community),
            (community, relation::IN_STREET, u32::MAX),
        ] {
            match self.placed.get(&node) {
                Some(&i) => {
                    let names = &self.graph.names;
                    let e = &self.graph.edges[i];
                    if e.resource == resource && (batch, record) < (names.name(e.batch), e.record) {
                        let batch = self.graph.names.id(batch);
                        let e = &mut self.graph.edges[i];
                        (e.batch, e.record) = (batch, record);
                    }
                }
                None => {
                    let to = if to == u32::MAX {
                        self.node(&EntityIds::street(&code[..9]))
                    } else {
                        to
                    };
                    self.placed.insert(node, self.graph.edges.len());
                    self.edge(node, relation, to, None, None, resource, batch, record);
                }
            }
        }
    }
}

/// Builds every edge the lake states.
pub async fn build_edges(pack: &Pack, lake: &Lake, r: &Resolved) -> Result<Graph, EntityError> {
    let _ = pack;
    let tables = crate::run::dwd_tables(lake)?;
    let has = |t: &str| tables.iter().any(|x| x == t);
    let ctx = Ctx {
        r,
        batch_index: r.batch_index(),
    };
    let mut b = Builder {
        graph: Graph::default(),
        placed: HashMap::new(),
    };
    for (e, id) in r.entity_ids.iter().enumerate() {
        let node = b.node(id);
        assert_eq!(node as usize, e, "entity ids are distinct");
    }
    let session = lake.session(&AsOf::Latest).await?;
    let num = |s: Option<&str>| s.and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);

    if has("hukou_residents") {
        let role = ctx.role("hukou_residents", "resident_id");
        // household_no → (person, relation code, batch, record)
        let mut households: HashMap<String, Vec<(u32, String, u32, u64)>> = HashMap::new();
        for_each_row(&session, "SELECT batch_id, record, address_code, CAST(moved_in_on AS VARCHAR), household_no, relation_to_head FROM dwd.hukou_residents", |row| {
            let (Some(batch), record) = (row[0], num(row[1])) else { return };
            let Some(person) = ctx.entity(role, batch, record) else { return };
            if let Some(addr) = row[2] {
                let a = b.node(&EntityIds::address(addr));
                b.edge(person, relation::RESIDES_AT, a, row[3], None, "hukou_residents", batch, record);
                b.address_edges(addr, "hukou_residents", batch, record);
            }
            if let (Some(h), Some(rel)) = (row[4], row[5]) {
                let batch = b.node(batch);
                households.entry(h.to_string()).or_default().push((person, rel.to_string(), batch, record));
            }
        }).await?;
        let mut households: Vec<_> = households.into_iter().collect();
        households.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (_, mut members) in households {
            // Rows in a fixed order (batch, record), so the head and the edges' provenance
            // do not depend on the order the lake returned them in.
            let names = &b.graph.names;
            members.sort_by(|x, y| (names.name(x.2), x.3).cmp(&(names.name(y.2), y.3)));
            let Some(head) = members.iter().find(|m| m.1 == "02") else {
                continue;
            };
            let head = head.0;
            for (p, rel, batch, record) in &members {
                if *p == head {
                    continue;
                }
                let batch = b.graph.names.name(*batch).to_string();
                let mut edge = |src: u32, relation: &'static str, dst: u32| {
                    b.edge(
                        src,
                        relation,
                        dst,
                        None,
                        None,
                        "hukou_residents",
                        &batch,
                        *record,
                    )
                };
                edge(*p, relation::HOUSEHOLD_MEMBER, head);
                match rel.as_str() {
                    "10" => edge(head, relation::SPOUSE_OF, *p),
                    "20" | "30" => edge(head, relation::PARENT_OF, *p),
                    "50" => edge(*p, relation::PARENT_OF, head),
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
            let a = b.node(&EntityIds::address(addr));
            b.edge(person, relation::RESIDES_AT, a, row[3], row[4], "residence_registrations", batch, record);
            b.address_edges(addr, "residence_registrations", batch, record);
        }).await?;
    }
    if has("marriage_registrations") {
        let (h, w) = (
            ctx.role("marriage_registrations", "husband_id"),
            ctx.role("marriage_registrations", "wife_id"),
        );
        // A marriage holds from its 结婚登记 until a 离婚登记 of the same couple.
        let mut couples: HashMap<(u32, u32), Vec<MarriageEvent>> = HashMap::new();
        for_each_row(&session, "SELECT batch_id, record, kind, CAST(registered_on AS VARCHAR) FROM dwd.marriage_registrations", |row| {
            let (Some(batch), record) = (row[0], num(row[1])) else { return };
            let (Some(x), Some(y)) = (ctx.entity(h, batch, record), ctx.entity(w, batch, record)) else { return };
            let batch = b.node(batch);
            couples.entry((x, y)).or_default().push((row[3].unwrap_or_default().to_string(), row[2].unwrap_or_default().to_string(), batch, record));
        }).await?;
        let mut couples: Vec<_> = couples.into_iter().collect();
        couples.sort_unstable_by_key(|(k, _)| *k);
        for ((x, y), mut events) in couples {
            let names = &b.graph.names;
            events.sort_by(|p, q| {
                (&p.0, &p.1, names.name(p.2), p.3).cmp(&(&q.0, &q.1, names.name(q.2), q.3))
            });
            let mut open: Option<(String, u32, u64)> = None;
            let mut spans: Vec<(String, Option<String>, u32, u64)> = Vec::new();
            for (date, kind, batch, record) in events {
                if kind == "IA" {
                    open = Some((date, batch, record));
                } else if let Some((from, batch0, record0)) = open.take() {
                    spans.push((from, Some(date), batch0, record0));
                }
            }
            if let Some((from, batch0, record0)) = open {
                spans.push((from, None, batch0, record0));
            }
            for (from, to, batch, record) in spans {
                let batch = b.graph.names.name(batch).to_string();
                b.edge(
                    x,
                    relation::SPOUSE_OF,
                    y,
                    Some(&from),
                    to.as_deref(),
                    "marriage_registrations",
                    &batch,
                    record,
                );
            }
        }
    }
    if has("property_registrations") {
        let role = ctx.role("property_registrations", "owner_id");
        for_each_row(&session, "SELECT batch_id, record, property_unit_no, address_code, CAST(registered_on AS VARCHAR) FROM dwd.property_registrations", |row| {
            let (Some(batch), record) = (row[0], num(row[1])) else { return };
            let Some(house) = row[2] else { return };
            let house = b.node(&EntityIds::house(house));
            if let Some(owner) = ctx.entity(role, batch, record) {
                b.edge(owner, relation::OWNS, house, row[4], None, "property_registrations", batch, record);
            }
            if let Some(addr) = row[3] {
                let a = b.node(&EntityIds::address(addr));
                b.edge(house, relation::LOCATED_AT, a, None, None, "property_registrations", batch, record);
                b.address_edges(addr, "property_registrations", batch, record);
            }
        }).await?;
    }
    if has("rental_registrations") {
        let role = ctx.role("rental_registrations", "tenant_id");
        for_each_row(&session, "SELECT batch_id, record, address_code, CAST(start_date AS VARCHAR), CAST(end_date AS VARCHAR) FROM dwd.rental_registrations", |row| {
            let (Some(batch), record) = (row[0], num(row[1])) else { return };
            let (Some(tenant), Some(addr)) = (ctx.entity(role, batch, record), row[2]) else { return };
            let a = b.node(&EntityIds::address(addr));
            b.edge(tenant, relation::RENTS, a, row[3], row[4], "rental_registrations", batch, record);
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
                b.edge(p, relation::LEGAL_REP_OF, e, row[3], None, "enterprise_registrations", batch, record);
            }
            if let Some(addr) = row[2] {
                let a = b.node(&EntityIds::address(addr));
                b.edge(e, relation::LOCATED_AT, a, row[3], None, "enterprise_registrations", batch, record);
                b.address_edges(addr, "enterprise_registrations", batch, record);
            }
        }).await?;
    }
    if has("social_insurance_contributions") {
        let (p, e) = (
            ctx.role("social_insurance_contributions", "resident_id"),
            ctx.role("social_insurance_contributions", "employer_uscc"),
        );
        // One edge per (person, employer): the first and last month contributed (months are
        // `YYYY-MM` text, so names compare as the months do).
        let mut spans: HashMap<(u32, u32), (u32, u32, u32, u64)> = HashMap::new();
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
                let month_id = b.node(month);
                let batch_id = b.node(batch);
                let names = &b.graph.names;
                match spans.get_mut(&(person, employer)) {
                    None => {
                        spans.insert((person, employer), (month_id, month_id, batch_id, record));
                    }
                    Some(span) => {
                        // The edge's provenance is the first month's row (least batch and
                        // record among equals): fixed whatever order rows arrive in.
                        let first = (names.name(span.0), names.name(span.2), span.3);
                        if (month, batch, record) < first {
                            (span.0, span.2, span.3) = (month_id, batch_id, record);
                        }
                        if month > names.name(span.1) {
                            span.1 = month_id;
                        }
                    }
                }
            },
        )
        .await?;
        let mut spans: Vec<_> = spans.into_iter().collect();
        spans.sort_unstable_by_key(|(k, _)| *k);
        for ((person, employer), (from, to, batch, record)) in spans {
            let names = &b.graph.names;
            let (from, to, batch) = (
                names.name(from).to_string(),
                names.name(to).to_string(),
                names.name(batch).to_string(),
            );
            b.edge(
                person,
                relation::EMPLOYED_BY,
                employer,
                Some(&from),
                Some(&to),
                "social_insurance_contributions",
                &batch,
                record,
            );
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
                b.address_edges(addr, "standard_addresses", batch, record);
            },
        )
        .await?;
    }
    Ok(b.graph)
}

/// Writes `graph.edges` (replacing the previous run's).
pub async fn write_edges(lake: &Lake, graph: &Graph, run_id: &str) -> Result<u64, EntityError> {
    let arrow = |e: arrow_schema::ArrowError| EntityError::Arrow(e.to_string());
    let names = &graph.names;
    let mut table = lake
        .begin_replace(Layer::Graph, "edges", edges_schema(), run_id)
        .await?;
    for chunk in graph.edges.chunks(65_536) {
        let mut s: Vec<StringBuilder> = (0..7).map(|_| StringBuilder::new()).collect();
        let mut rec = Int64Builder::new();
        for e in chunk {
            s[0].append_value(names.name(e.src));
            s[1].append_value(e.relation);
            s[2].append_value(names.name(e.dst));
            s[3].append_option(names.opt(e.valid_from));
            s[4].append_option(names.opt(e.valid_to));
            s[5].append_value(e.resource);
            s[6].append_value(names.name(e.batch));
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
    Ok(graph.edges.len() as u64)
}

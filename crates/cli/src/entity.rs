//! `miaopi link`, `person`, `enterprise`, `graph`, `link-files`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use miaopi_catalog::Pack;
use miaopi_entity::{LinkOptions, link_home};
use miaopi_index::{EntityId, EntityIndex, Key, Profile};
use miaopi_lake::Lake;

/// `miaopi link`: `skip_index` leaves the entity index alone, `rebuild` rebuilds it from the
/// lake instead of updating it in place.
pub async fn link(
    pack: &Pack,
    home_dir: &Path,
    skip_index: bool,
    rebuild: bool,
    json: bool,
) -> Result<ExitCode> {
    let lake = Lake::open(&home_dir.join("lake"))
        .with_context(|| format!("opening the lake in {}", home_dir.display()))?;
    eprintln!("关联融合 linking every record in {} …", home_dir.display());
    let options = LinkOptions {
        skip_index,
        rebuild_index: rebuild,
        ..LinkOptions::default()
    };
    let report = link_home(pack, home_dir, &lake, &options)
        .await
        .context("linking")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let c = &report.counts;
    println!(
        "mentions {}: persons {} ({} registered, {} known from other units only), legal persons {} ({} registered)",
        c.mentions,
        c.persons,
        c.persons_registered,
        c.persons - c.persons_registered,
        c.legal_persons,
        c.legal_persons_registered
    );
    let methods: Vec<String> = c
        .by_method
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let reviews: Vec<String> = c
        .review_by_reason
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    println!(
        "links {} by method: {}",
        report.links_written,
        methods.join(" ")
    );
    println!(
        "review (转人工) {}: {}",
        report.reviews_written,
        if reviews.is_empty() {
            "-".to_string()
        } else {
            reviews.join(" ")
        }
    );
    println!(
        "probabilistic stage: {} candidate keys, {} pairs scored, {} EM iterations",
        c.probabilistic_candidates, c.probabilistic_pairs_scored, c.em_iterations
    );
    if skip_index {
        println!(
            "graph edges {}; entity index not touched (--skip-index)",
            report.edges_written
        );
    } else {
        println!(
            "graph edges {}; entity index {}: {} profiles written, {} unchanged, {} removed ({} pass(es) over dwd)",
            report.edges_written,
            if report.index_rebuilt {
                "rebuilt"
            } else {
                "updated in place"
            },
            report.profiles_written,
            report.profiles_unchanged,
            report.profiles_removed,
            report.index_shards
        );
    }
    println!(
        "read {} ms, resolve {} ms, write {} ms, index {} ms",
        report.read_ms, report.resolve_ms, report.write_ms, report.index_ms
    );
    println!(
        "tables: link.links, link.review, base.population, base.legal_persons, base.attribute_conflicts, base.standard_addresses, base.houses, base.certificates, base.city_components, graph.edges"
    );
    Ok(ExitCode::SUCCESS)
}

fn open_index(home_dir: &Path) -> Result<EntityIndex> {
    let path = home_dir.join("index.redb");
    if !path.exists() {
        bail!(
            "no entity index at {} — run `miaopi link` after `miaopi ingest`",
            path.display()
        );
    }
    EntityIndex::open(&path).with_context(|| format!("opening {}", path.display()))
}

/// Finds a profile by resident ID, credit code, address code, house id or entity id.
fn find(index: &EntityIndex, query: &str) -> Result<Option<Profile>> {
    let q = query.trim();
    for key in [
        Key::person(q),
        Key::credit_code(q),
        Key::address_code(q),
        Key::house(q),
    ] {
        if let Some(p) = index.get_by_key(&key)? {
            return Ok(Some(p));
        }
    }
    Ok(index.get(&EntityId::new(q.to_string()))?)
}

fn print_profile(p: &Profile, pack: &Pack) {
    println!("实体 {} ({})", p.entity_id.as_str(), p.kind.label_zh());
    for k in &p.keys {
        println!("  键 key: {k}");
    }
    if !p.golden.is_empty() {
        println!("黄金记录 golden record:");
        for (field, g) in &p.golden {
            let conflicts: Vec<String> = g
                .conflicts
                .iter()
                .map(|c| format!("{}（{}）", c.value, c.resource))
                .collect();
            println!(
                "  {field:<16} {}  ← {}{}",
                g.value,
                g.resource,
                if conflicts.is_empty() {
                    String::new()
                } else {
                    format!("；其他来源不一致：{}", conflicts.join("，"))
                }
            );
        }
    }
    // Facts grouped by record, with provenance.
    let mut records: BTreeMap<(String, String, u64), Vec<&miaopi_index::Fact>> = BTreeMap::new();
    for f in &p.facts {
        records
            .entry((f.resource.clone(), f.batch_id.clone(), f.record))
            .or_default()
            .push(f);
    }
    println!(
        "事实 facts: {} from {} records",
        p.facts.len(),
        records.len()
    );
    for ((resource, batch, record), facts) in &records {
        let name = pack
            .resource(resource)
            .map_or(resource.as_str(), |r| r.name.as_str());
        let unit = facts.first().map_or("", |f| f.unit.as_str());
        let at = facts
            .first()
            .and_then(|f| chrono::DateTime::from_timestamp_micros(f.ingested_at_us))
            .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        let values: Vec<String> = facts
            .iter()
            .map(|f| format!("{}={}", f.field, f.value))
            .collect();
        println!(
            "  [{name} · {unit} · 批次 {} · 记录 {record} · 入湖 {at}] {}",
            &batch[..batch.len().min(12)],
            values.join(" ")
        );
    }
    if !p.edges.is_empty() {
        println!("关系 edges: {}", p.edges.len());
        for e in p.edges.iter().take(50) {
            println!(
                "  {} → {}{}",
                miaopi_entity::graph::relation_zh(&e.relation),
                e.to.as_str(),
                match (&e.from_date, &e.to_date) {
                    (None, None) => String::new(),
                    (f, t) => format!(
                        " [{} ~ {}]",
                        f.as_deref().unwrap_or(""),
                        t.as_deref().unwrap_or("")
                    ),
                }
            );
        }
        if p.edges.len() > 50 {
            println!("  … {} more", p.edges.len() - 50);
        }
    }
}

/// `miaopi person` / `miaopi enterprise`: the whole profile (一证通办), masked unless asked.
pub fn profile(
    pack: &Pack,
    home_dir: &Path,
    query: &str,
    json: bool,
    unmasked: bool,
    want_person: bool,
) -> Result<ExitCode> {
    let index = open_index(home_dir)?;
    let Some(profile) = find(&index, query)? else {
        eprintln!("未找到：{query}（index has no such key）");
        return Ok(ExitCode::FAILURE);
    };
    let is_person = profile.kind == miaopi_index::EntityKind::Person;
    if is_person != want_person {
        eprintln!(
            "{query} 是{}，请用 `miaopi {}`",
            profile.kind.label_zh(),
            if is_person { "person" } else { "enterprise" }
        );
        return Ok(ExitCode::FAILURE);
    }
    let shown = if unmasked { profile } else { profile.masked() };
    if json {
        println!("{}", serde_json::to_string_pretty(&shown)?);
    } else {
        if !unmasked {
            println!("（已按 STANDARDS.md 脱敏显示；--unmasked 显示原值）");
        }
        print_profile(&shown, pack);
    }
    Ok(ExitCode::SUCCESS)
}

/// `miaopi graph`: the neighbourhood of an entity, breadth first, up to `depth` hops.
pub fn graph(
    home_dir: &Path,
    query: &str,
    depth: usize,
    to: Option<&str>,
    json: bool,
) -> Result<ExitCode> {
    if !(1..=3).contains(&depth) {
        bail!("--depth must be 1, 2 or 3");
    }
    let index = open_index(home_dir)?;
    let Some(start) = find(&index, query)? else {
        eprintln!("未找到：{query}");
        return Ok(ExitCode::FAILURE);
    };
    let label = |p: &Profile| -> String {
        let m = p.masked();
        let name = m.golden.get("name").map(|g| g.value.clone());
        match name {
            Some(n) => format!("{} {} ({})", p.entity_id.as_str(), n, p.kind.label_zh()),
            None => format!("{} ({})", p.entity_id.as_str(), p.kind.label_zh()),
        }
    };
    if let Some(target) = to {
        return path(&index, start, target, depth, json);
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    seen.insert(start.entity_id.as_str().to_string());
    let mut queue: VecDeque<(Profile, usize)> = VecDeque::new();
    let mut out: Vec<serde_json::Value> = Vec::new();
    println!("{}", label(&start));
    queue.push_back((start, 0));
    while let Some((p, d)) = queue.pop_front() {
        if d >= depth {
            continue;
        }
        for e in &p.edges {
            let to = e.to.as_str().to_string();
            let next = index.get(&e.to)?;
            let shown = next.as_ref().map_or(to.clone(), &label);
            if json {
                out.push(serde_json::json!({"from": p.entity_id.as_str(), "relation": e.relation, "to": to, "depth": d + 1, "from_date": e.from_date, "to_date": e.to_date, "resource": e.resource}));
            } else {
                println!(
                    "{}{} {} → {}",
                    "  ".repeat(d + 1),
                    p.entity_id.as_str(),
                    miaopi_entity::graph::relation_zh(&e.relation),
                    shown
                );
            }
            if seen.insert(to.clone())
                && let Some(n) = next
            {
                queue.push_back((n, d + 1));
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// The shortest chain of relations from `start` to `target` within `depth` hops.
fn path(
    index: &EntityIndex,
    start: Profile,
    target: &str,
    depth: usize,
    json: bool,
) -> Result<ExitCode> {
    let Some(goal) = find(index, target)? else {
        eprintln!("未找到：{target}");
        return Ok(ExitCode::FAILURE);
    };
    let goal_id = goal.entity_id.as_str().to_string();
    // entity → (previous entity, relation)
    let mut came_from: BTreeMap<String, (String, String)> = BTreeMap::new();
    let start_id = start.entity_id.as_str().to_string();
    let mut frontier = vec![start];
    let mut seen: BTreeSet<String> = BTreeSet::from([start_id.clone()]);
    'search: for _ in 0..depth {
        let mut next = Vec::new();
        for p in &frontier {
            for e in &p.edges {
                let to = e.to.as_str().to_string();
                if !seen.insert(to.clone()) {
                    continue;
                }
                came_from.insert(
                    to.clone(),
                    (p.entity_id.as_str().to_string(), e.relation.clone()),
                );
                if to == goal_id {
                    break 'search;
                }
                if let Some(n) = index.get(&e.to)? {
                    next.push(n);
                }
            }
        }
        frontier = next;
    }
    if !came_from.contains_key(&goal_id) && goal_id != start_id {
        println!("{depth} 步之内没有路径 (no path within {depth} hops)");
        return Ok(ExitCode::FAILURE);
    }
    let mut hops: Vec<(String, String, String)> = Vec::new();
    let mut at = goal_id.clone();
    while let Some((prev, rel)) = came_from.get(&at) {
        hops.push((prev.clone(), rel.clone(), at.clone()));
        at = prev.clone();
    }
    hops.reverse();
    if json {
        let v: Vec<_> = hops
            .iter()
            .map(|(a, r, b)| serde_json::json!({"from": a, "relation": r, "to": b}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for (a, r, b) in &hops {
            println!("{a} {} → {b}", miaopi_entity::graph::relation_zh(r));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `miaopi link-files`: the generic linker on two CSV files.
pub fn link_files(spec: &Path, a: &Path, b: &Path, out: &Path) -> Result<ExitCode> {
    let summary = miaopi_link::generic::run(spec, a, b, out).context("linking the files")?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(ExitCode::SUCCESS)
}

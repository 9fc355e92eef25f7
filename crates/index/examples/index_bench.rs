//! Benchmark of the entity index: build N realistic person profiles in one transaction, then
//! time look-ups by key against the same encoded profiles in in-memory hash maps.
//!
//! ```sh
//! cargo run --release -p miaopi-index --example index_bench -- \
//!     [--people N] [--lookups M] [--dir DIR] [--cache-mib MIB]
//! ```
//!
//! Profiles are generated, not read from a lake: ~42 facts from five resources (户籍人口,
//! 居住登记, 社保参保缴费 ×2 months, 驾驶证, 学历学位), 12 golden values (a tenth with a
//! conflicting value), 3 edges, a link per source record, and 3 keys (resident ID, driving
//! licence 档案编号, degree certificate number). Batch ids are 32-hex hashes shared by many
//! people, as real batches are. Generation is deterministic per person, so the baseline
//! regenerates the same profiles instead of holding them all.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use miaopi_index::{
    Conflict, Edge, EntityId, EntityIndex, EntityKind, Fact, GoldenValue, IndexOptions, Key,
    KeyKind, Link, Profile, ProfileView, SourceLink, decode_profile, encode_profile, relation,
};
use miaopi_model::ResidentId;

type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    people: u64,
    cache_mib: usize,
    lookups: usize,
    dir: PathBuf,
}

fn parse_args() -> BenchResult<Args> {
    let mut args = Args {
        people: 1_000_000,
        cache_mib: 1024,
        lookups: 1_000_000,
        dir: PathBuf::from("/tmp/miaopi-index-bench"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--people" => args.people = value.replace('_', "").parse()?,
            "--lookups" => args.lookups = value.replace('_', "").parse()?,
            "--dir" => args.dir = PathBuf::from(value),
            "--cache-mib" => args.cache_mib = value.parse()?,
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    Ok(args)
}

/// SplitMix64: small, fast and good enough to pick synthetic values.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "欧阳", "司马",
];
const GIVEN: [&str; 16] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超",
];
const COMMUNITIES: [&str; 6] = ["南华", "福华", "岗厦", "景田", "莲花北", "香蜜"];
const STREETS: [&str; 6] = ["南园", "福田", "福田", "莲花", "莲花", "香蜜湖"];
const ROADS: [&str; 5] = ["深南大道", "福华路", "红荔路", "彩田路", "新洲路"];

/// The 32-hex batch id (as `miaopi-batch` names batches) of a resource's file of one day (shared by everyone in that file).
fn batch_id(resource: &str, day: u64) -> String {
    let mut r = Rng::new(
        day.wrapping_mul(31) ^ resource.len() as u64 ^ u64::from(resource.as_bytes()[0]) << 40,
    );
    (0..2).map(|_| format!("{:016x}", r.next())).collect()
}

fn resident_id(i: u64) -> String {
    // Distinct people get distinct (region, birth date, sequence) triples.
    let region = 440301 + (i % 7) as u32;
    let day = (i / 7) % 25_000;
    let seq = ((i / 7 / 25_000) % 1000) as u16;
    let birth = chrono_date(day);
    ResidentId::from_parts(region, birth, seq)
        .map(|id| id.as_str().to_string())
        .unwrap_or_else(|_| format!("{region}{i:012}"))
}

fn chrono_date(day: u64) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(1940, 1, 1)
        .and_then(|d| d.checked_add_days(chrono::Days::new(day)))
        .unwrap_or_default()
}

fn keys_of(i: u64) -> [Key; 3] {
    [
        Key::person(&resident_id(i)),
        Key::new(KeyKind::CertificateNo, &format!("4403{:08}", i)),
        Key::new(KeyKind::CertificateNo, &format!("10590{:013}", i * 7 + 3)),
    ]
}

struct Gen {
    facts: Vec<Fact>,
    links: Vec<SourceLink>,
    ingested_at_us: i64,
}

impl Gen {
    fn record(
        &mut self,
        rng: &mut Rng,
        unit: &str,
        resource: &str,
        day: u64,
        fields: &[(&str, String, u8)],
    ) {
        let batch = batch_id(resource, day);
        let record = rng.below(400_000) + 1;
        self.ingested_at_us = 1_735_689_600_000_000 + day as i64 * 86_400_000_000;
        for (field, value, sensitivity) in fields {
            self.facts.push(Fact {
                resource: resource.to_string(),
                field: (*field).to_string(),
                value: value.clone(),
                unit: unit.to_string(),
                batch_id: batch.clone(),
                ingested_at_us: self.ingested_at_us,
                record,
                valid_from: None,
                valid_to: None,
                sensitivity: *sensitivity,
            });
        }
        self.links.push(SourceLink {
            resource: resource.to_string(),
            batch_id: batch,
            record,
            link: Link {
                method: "deterministic:person_id".to_string(),
                score: 1.0,
            },
        });
    }
}

fn profile(i: u64) -> Profile {
    let mut rng = Rng::new(i);
    let id = resident_id(i);
    let keys = keys_of(i);
    let name = format!(
        "{}{}{}",
        rng.pick(&SURNAMES),
        rng.pick(&GIVEN),
        rng.pick(&GIVEN)
    );
    let sex = if (id.as_bytes()[16] - b'0') % 2 == 1 {
        "1"
    } else {
        "2"
    };
    let birth = format!("{}-{}-{}", &id[6..10], &id[10..12], &id[12..14]);
    let c = rng.below(COMMUNITIES.len() as u64) as usize;
    let address_code = format!(
        "4403040{:02}0{:02}{:07}",
        c + 1,
        c + 1,
        rng.below(9_000_000)
    );
    let address = format!(
        "深圳市福田区{}街道{}社区{}{}号{}栋{}单元{}",
        STREETS[c],
        COMMUNITIES[c],
        rng.pick(&ROADS),
        1 + 2 * rng.below(600),
        1 + rng.below(9),
        1 + rng.below(3),
        101 + rng.below(3000)
    );
    let phone = format!("13{}{:08}", rng.below(10), rng.below(100_000_000));
    let uscc = "91440300MA5DC6QX7F".to_string();
    let day = rng.below(365);
    let mut g = Gen {
        facts: Vec::with_capacity(44),
        links: Vec::with_capacity(6),
        ingested_at_us: 0,
    };
    let s = |v: &str| v.to_string();
    g.record(
        &mut rng,
        "police",
        "hukou_residents",
        day,
        &[
            ("resident_id", id.clone(), 4),
            ("name", name.clone(), 3),
            ("sex", s(sex), 2),
            ("ethnicity", s("01"), 3),
            ("birth_date", birth.clone(), 3),
            ("household_no", format!("{:09}", i / 3), 3),
            ("relation_to_head", s("02"), 2),
            ("address_code", address_code.clone(), 3),
            ("moved_in_on", s("2012-06-01"), 2),
            ("status", s("1"), 2),
        ],
    );
    g.record(
        &mut rng,
        "police",
        "residence_registrations",
        (day + 17) % 365,
        &[
            ("resident_id", id.clone(), 4),
            ("name", name.clone(), 3),
            ("sex", s(sex), 2),
            ("birth_date", birth.clone(), 3),
            ("phone", phone.clone(), 3),
            ("address_code", address_code.clone(), 3),
            ("address", address.clone(), 3),
            ("registered_on", s("2019-03-15"), 2),
            ("permit_valid_until", s("2027-03-14"), 2),
        ],
    );
    for month in 0..2u64 {
        let base = 5000 + rng.below(30_000);
        g.record(
            &mut rng,
            "human_resources",
            "social_insurance_contributions",
            300 + month * 30,
            &[
                ("resident_id", id.clone(), 4),
                ("employer_uscc", uscc.clone(), 1),
                ("insurance_type", s("110"), 2),
                ("contribution_month", format!("2025-{:02}", 10 + month), 2),
                ("contribution_base", format!("{base}.00"), 4),
            ],
        );
    }
    g.record(
        &mut rng,
        "traffic_police",
        "driving_licences",
        (day + 40) % 365,
        &[
            ("licence_no", keys[1].value().to_string(), 3),
            ("resident_id", id.clone(), 4),
            ("name", name.clone(), 3),
            ("vehicle_class", s("C1"), 2),
            ("first_issued_on", s("2010-08-20"), 2),
            ("valid_until", s("2030-08-20"), 2),
            ("status", s("A"), 2),
        ],
    );
    g.record(
        &mut rng,
        "education",
        "education_degrees",
        200,
        &[
            ("certificate_no", keys[2].value().to_string(), 2),
            ("resident_id", id.clone(), 4),
            ("name", name.clone(), 3),
            ("education_level", s("21"), 2),
            ("institution", s("深圳大学"), 1),
            ("graduated_on", s("2012-07-01"), 2),
        ],
    );

    let mut golden = std::collections::BTreeMap::new();
    let mut gv = |field: &str, value: &str, resource: &str, unit: &str| {
        golden.insert(
            field.to_string(),
            GoldenValue {
                value: value.to_string(),
                resource: resource.to_string(),
                unit: unit.to_string(),
                conflicts: Vec::new(),
            },
        );
    };
    gv("name", &name, "hukou_residents", "police");
    gv("sex", sex, "hukou_residents", "police");
    gv("ethnicity", "01", "hukou_residents", "police");
    gv("birth_date", &birth, "hukou_residents", "police");
    gv(
        "household_no",
        &format!("{:09}", i / 3),
        "hukou_residents",
        "police",
    );
    gv("address_code", &address_code, "hukou_residents", "police");
    gv("address", &address, "residence_registrations", "police");
    gv("phone", &phone, "residence_registrations", "police");
    gv("status", "1", "hukou_residents", "police");
    gv(
        "employer_uscc",
        &uscc,
        "social_insurance_contributions",
        "human_resources",
    );
    gv("vehicle_class", "C1", "driving_licences", "traffic_police");
    gv("education_level", "21", "education_degrees", "education");
    if rng.below(10) == 0
        && let Some(p) = golden.get_mut("phone")
    {
        p.conflicts.push(Conflict {
            value: format!("13{:09}", rng.below(1_000_000_000)),
            resource: "disability_certificates".to_string(),
        });
    }

    let edge = |relation: &str, to: String, resource: &str| Edge {
        relation: relation.to_string(),
        to: EntityId(to),
        from_date: Some("2012-06-01".to_string()),
        to_date: None,
        resource: resource.to_string(),
        batch_id: batch_id(resource, day),
    };
    let edges = vec![
        edge(
            relation::RESIDES_AT,
            format!("A-{:07}", i / 2),
            "hukou_residents",
        ),
        edge(
            relation::HOUSEHOLD_MEMBER,
            format!("H-{:07}", i / 3),
            "hukou_residents",
        ),
        edge(
            relation::EMPLOYED_BY,
            "L-0000042".to_string(),
            "social_insurance_contributions",
        ),
    ];

    Profile {
        entity_id: EntityId(format!("P-{i:07}")),
        kind: EntityKind::Person,
        golden,
        facts: g.facts,
        edges,
        keys: keys.to_vec(),
        links: g.links,
    }
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn gib(kib: u64) -> f64 {
    kib as f64 / 1024.0 / 1024.0
}

struct Latency {
    sorted_ns: Vec<u64>,
}

impl Latency {
    fn new(mut ns: Vec<u64>) -> Latency {
        ns.sort_unstable();
        Latency { sorted_ns: ns }
    }
    fn pct(&self, q: f64) -> u64 {
        let n = self.sorted_ns.len();
        if n == 0 {
            return 0;
        }
        self.sorted_ns[((q * n as f64) as usize).min(n - 1)]
    }
    fn mean(&self) -> f64 {
        self.sorted_ns.iter().sum::<u64>() as f64 / self.sorted_ns.len().max(1) as f64
    }
    fn line(&self, label: &str) -> String {
        format!(
            "{label:<44} p50 {:>7} ns  p99 {:>7} ns  p999 {:>8} ns  mean {:>8.0} ns  max {:>9} ns",
            self.pct(0.50),
            self.pct(0.99),
            self.pct(0.999),
            self.mean(),
            self.sorted_ns.last().copied().unwrap_or(0)
        )
    }
}

fn time_lookups(
    keys: &[Key],
    mut look: impl FnMut(&Key) -> BenchResult<bool>,
) -> BenchResult<(Latency, usize)> {
    let mut ns = Vec::with_capacity(keys.len());
    let mut found = 0;
    for k in keys {
        let t = Instant::now();
        let hit = look(k)?;
        ns.push(t.elapsed().as_nanos() as u64);
        found += usize::from(hit);
    }
    Ok((Latency::new(ns), found))
}

fn main() -> BenchResult {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.dir)?;
    let path = args.dir.join("entities.redb");
    if path.exists() {
        std::fs::remove_file(&path)?;
    }
    println!(
        "entity index bench: {} people, {} look-ups, redb cache {} MiB, file {}",
        args.people,
        args.lookups,
        args.cache_mib,
        path.display()
    );

    let sample = profile(0);
    let sample_bytes = encode_profile(&sample).len();
    let json_bytes = serde_json_len(&sample);
    println!(
        "profile: {} facts, {} golden, {} edges, {} keys; encoded {} B (JSON would be {} B)",
        sample.facts.len(),
        sample.golden.len(),
        sample.edges.len(),
        sample.keys.len(),
        sample_bytes,
        json_bytes
    );

    // Build: one rebuild transaction. Time spent generating profiles is measured apart and
    // taken out, so the rate is the index's.
    let options = IndexOptions {
        cache_bytes: args.cache_mib << 20,
    };
    let index = EntityIndex::create_with(&path, &options)?;
    let mut generate = Duration::ZERO;
    let t = Instant::now();
    let mut w = index.writer()?;
    let report = w.rebuild((0..args.people).map(|i| {
        let g = Instant::now();
        let p = profile(i);
        generate += g.elapsed();
        p
    }))?;
    let before_commit = t.elapsed();
    w.commit()?;
    let total = t.elapsed();
    let build = total.saturating_sub(generate);
    let stats = index.stats()?;
    println!(
        "build: {:.1} s ({:.1} s generating excluded; commit {:.1} s), {:.0} profiles/s; \
         {} entities, {} keys",
        build.as_secs_f64(),
        generate.as_secs_f64(),
        (total - before_commit).as_secs_f64(),
        report.entities as f64 / build.as_secs_f64(),
        stats.entities,
        stats.keys
    );
    println!(
        "size: file {:.2} GiB, profiles {:.2} GiB encoded ({:.0} B/profile), file/encoded {:.2}",
        stats.file_bytes as f64 / (1u64 << 30) as f64,
        stats.profile_bytes as f64 / (1u64 << 30) as f64,
        stats.profile_bytes as f64 / stats.entities.max(1) as f64,
        stats.file_bytes as f64 / stats.profile_bytes.max(1) as f64
    );
    println!("peak RSS after build: {:.2} GiB", gib(vm_hwm_kib()));

    // Look-up keys: uniform over the people's 3 keys, plus 1% absent (people never indexed).
    let mut rng = Rng::new(0xBEEF);
    let lookups: Vec<Key> = (0..args.lookups)
        .map(|_| {
            if rng.below(100) == 0 {
                Key::person(&resident_id(args.people + rng.below(args.people.max(1))))
            } else {
                let i = rng.below(args.people.max(1));
                let slot = rng.below(3) as usize;
                keys_of(i)[slot].clone()
            }
        })
        .collect();

    // One untimed pass warms the OS and redb caches, so that every variant below meets them
    // in the same state (the first would otherwise pay for the others).
    let reader = index.reader()?;
    for k in &lookups {
        black_box(reader.stored_by_key(k)?.map(|s| s.bytes().len()));
    }
    drop(reader);

    // What a request does: a read transaction per look-up, the whole profile decoded.
    let (fresh, found) = time_lookups(&lookups, |k| Ok(black_box(index.get_by_key(k)?).is_some()))?;
    // The hot path of a decision: a read transaction per look-up, the profile viewed in
    // place and a few values read.
    let (fresh_view, _) = time_lookups(&lookups, |k| {
        let reader = index.reader()?;
        let Some(stored) = reader.stored_by_key(k)? else {
            return Ok(false);
        };
        let v = stored.view()?;
        Ok(black_box(v.golden("name").map(|g| g.value.len())).is_some() && v.facts().len() > 0)
    })?;
    // Many look-ups in one snapshot (a batch of decisions).
    let reader = index.reader()?;
    let (snap, found_snap) =
        time_lookups(&lookups, |k| Ok(black_box(reader.get_by_key(k)?).is_some()))?;
    let (snap_view, _) = time_lookups(&lookups, |k| {
        let Some(stored) = reader.stored_by_key(k)? else {
            return Ok(false);
        };
        let v = stored.view()?;
        Ok(black_box(v.golden("name").map(|g| g.value.len())).is_some() && v.facts().len() > 0)
    })?;
    drop(reader);
    if found_snap != found {
        return Err(format!("snapshot found {found_snap}, per-look-up found {found}").into());
    }
    println!(
        "look-ups: {} found, {} absent",
        found,
        lookups.len() - found
    );
    println!("peak RSS after redb look-ups: {:.2} GiB", gib(vm_hwm_kib()));

    // Baseline: the same encoded profiles in memory, the same two hops (key → id → bytes),
    // then the same decode.
    let t = Instant::now();
    let mut key_map: HashMap<String, String> = HashMap::with_capacity(args.people as usize * 3);
    let mut profile_map: HashMap<String, Vec<u8>> = HashMap::with_capacity(args.people as usize);
    for i in 0..args.people {
        let p = profile(i);
        for k in &p.keys {
            key_map.insert(map_key(k), p.entity_id.0.clone());
        }
        profile_map.insert(p.entity_id.0.clone(), encode_profile(&p));
    }
    println!("baseline maps filled in {:.1} s", t.elapsed().as_secs_f64());
    let (base, found_base) = time_lookups(&lookups, |k| {
        let Some(id) = key_map.get(&map_key(k)) else {
            return Ok(false);
        };
        let bytes = profile_map.get(id).ok_or("baseline lost a profile")?;
        Ok(!black_box(decode_profile(bytes)?).entity_id.0.is_empty())
    })?;
    if found_base != found {
        return Err(format!("baseline found {found_base}, index found {found}").into());
    }
    let (base_view, _) = time_lookups(&lookups, |k| {
        let Some(id) = key_map.get(&map_key(k)) else {
            return Ok(false);
        };
        let bytes = profile_map.get(id).ok_or("baseline lost a profile")?;
        let v = ProfileView::parse(bytes)?;
        Ok(black_box(v.golden("name").map(|g| g.value.len())).is_some() && v.facts().len() > 0)
    })?;
    // The decode alone, to show where the time goes.
    let one = encode_profile(&profile(1));
    let sample_keys = &lookups[..lookups.len().min(100_000)];
    let (decode_only, _) = time_lookups(sample_keys, |_| {
        Ok(!black_box(decode_profile(black_box(&one))?).facts.is_empty())
    })?;
    let (view_only, _) = time_lookups(sample_keys, |_| {
        Ok(black_box(ProfileView::parse(black_box(&one))?)
            .facts()
            .len()
            > 0)
    })?;

    println!();
    println!(
        "latency per look-up (Instant around each; {} look-ups):",
        lookups.len()
    );
    println!("{}", fresh.line("redb get_by_key: txn + owned decode"));
    println!("{}", fresh_view.line("redb txn + stored_by_key + view"));
    println!("{}", snap.line("redb one snapshot: owned decode"));
    println!("{}", snap_view.line("redb one snapshot: view"));
    println!("{}", base.line("HashMap key→id→bytes + owned decode"));
    println!("{}", base_view.line("HashMap key→id→bytes + view"));
    println!("{}", decode_only.line("owned decode alone (one profile)"));
    println!("{}", view_only.line("view parse alone (one profile)"));
    let ratio = |a: &Latency, b: &Latency, q: f64| a.pct(q) as f64 / b.pct(q).max(1) as f64;
    println!(
        "ratio redb/HashMap, owned decode: p50 {:.2}x p99 {:.2}x; view: p50 {:.2}x p99 {:.2}x",
        ratio(&fresh, &base, 0.5),
        ratio(&fresh, &base, 0.99),
        ratio(&fresh_view, &base_view, 0.5),
        ratio(&fresh_view, &base_view, 0.99),
    );
    let verdict = |l: &Latency| {
        if l.pct(0.99) < 50_000 {
            "met"
        } else {
            "NOT met"
        }
    };
    println!(
        "goal p99 < 50 µs, txn per look-up: view {} (p99 {} ns); owned decode {} (p99 {} ns)",
        verdict(&fresh_view),
        fresh_view.pct(0.99),
        verdict(&fresh),
        fresh.pct(0.99)
    );
    println!(
        "peak RSS (VmHWM, whole run incl. baseline maps): {:.2} GiB",
        gib(vm_hwm_kib())
    );
    Ok(())
}

fn map_key(k: &Key) -> String {
    format!("{}:{}", k.kind(), k.value())
}

fn serde_json_len(p: &Profile) -> usize {
    serde_json::to_vec(p).map_or(0, |v| v.len())
}

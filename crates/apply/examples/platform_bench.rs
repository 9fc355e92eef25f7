//! Benchmark: in-process 秒批 decisions on a linked state directory — fact binding from the
//! entity index, rules, receipt construction (canonical JSON + SM3 id) — and receipt storage in
//! the meta store.
//!
//! ```sh
//! target/release/examples/platform_bench --home HOME --district DIR [--per-matter N] [--threads T]
//! ```
//!
//! Applicants: for the matters that need only a person (senior allowance, talent subsidy,
//! disability subsidies, ride-hailing licence), residents drawn uniformly from `base.population`
//! with a fixed seed; for newborn registration and individual business, which need a form (a
//! birth-certificate number, premises and a trade name), the generator's scenario applicants
//! (`scenarios.json`), cycled. Each decision is timed with `Instant` from the application to the
//! finished receipt and its meta-store row; storing is timed apart, in group commits of 256
//! receipts (one SQLite transaction each, WAL, synchronous=FULL) and one at a time. Goal
//! (DESIGN.md): p99 < 1 ms per decision including fact binding and receipt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate};
use miaopi_apply::{Platform, decision_record};
use miaopi_catalog::Pack;
use miaopi_decide::datum::Datum;
use miaopi_decide::testing::test_time;
use miaopi_decide::{Application, DsntkEngine, Packages, PartyKind, SubjectKey};
use miaopi_lake::arrow::array::{Array, StringArray};
use miaopi_lake::{AsOf, Lake};
use miaopi_meta::{DecisionRecord, MetaStore};

type Error = Box<dyn std::error::Error>;

struct Args {
    home: PathBuf,
    district: PathBuf,
    per_matter: usize,
    threads: usize,
}

fn args() -> Result<Args, Error> {
    let mut a = Args {
        home: PathBuf::new(),
        district: PathBuf::new(),
        per_matter: 20_000,
        threads: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        match k.as_str() {
            "--home" => a.home = v.into(),
            "--district" => a.district = v.into(),
            "--per-matter" => a.per_matter = v.parse()?,
            "--threads" => a.threads = v.parse()?,
            _ => return Err(format!("unknown argument {k}").into()),
        }
    }
    if a.home.as_os_str().is_empty() || a.district.as_os_str().is_empty() {
        return Err(
            "usage: platform_bench --home HOME --district DIR [--per-matter N] [--threads T]"
                .into(),
        );
    }
    Ok(a)
}

fn now() -> DateTime<FixedOffset> {
    chrono::Utc::now().with_timezone(&miaopi_decide::dates::shanghai())
}

/// splitmix64: a fixed-seed sample without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn application(
    matter: &str,
    applicant: &str,
    date: NaiveDate,
    form: BTreeMap<String, Datum>,
) -> Option<Application> {
    Some(Application {
        matter: matter.to_owned(),
        application_date: date,
        applicant: SubjectKey::parse(PartyKind::Person, applicant)?,
        parties: BTreeMap::new(),
        form,
        commitments: Vec::new(),
        accept_pending_materials: false,
        prior_false_commitment: false,
        backdated: None,
    })
}

/// The generator's form keys → the packages' form inputs.
fn form_input(key: &str) -> Option<&'static str> {
    Some(match key {
        "birth_certificate_no" => "出生医学证明编号",
        "child_name" => "新生儿姓名",
        "child_id" => "新生儿身份证号",
        "name" => "拟用名称",
        "premises_address_code" => "经营场所地址编码",
        "industry" => "行业门类",
        _ => return None,
    })
}

fn scenario_applications(district: &Path) -> Result<BTreeMap<String, Vec<Application>>, Error> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(district.join("scenarios.json"))?)?;
    let mut out: BTreeMap<String, Vec<Application>> = BTreeMap::new();
    for m in v["matters"]
        .as_array()
        .ok_or("scenarios.json: no matters")?
    {
        let matter = m["matter"].as_str().ok_or("matter code")?;
        for s in m["scenarios"].as_array().ok_or("scenarios")? {
            let date: NaiveDate = s["application_date"].as_str().ok_or("date")?.parse()?;
            let mut form = BTreeMap::new();
            if let Some(f) = s["form"].as_object() {
                for (k, v) in f {
                    if let (Some(name), Some(text)) = (form_input(k), v.as_str()) {
                        form.insert(name.to_owned(), Datum::Text(text.to_owned()));
                    }
                }
            }
            if let Some(a) = application(matter, s["applicant"].as_str().unwrap_or(""), date, form)
            {
                out.entry(matter.to_owned()).or_default().push(a);
            }
        }
    }
    Ok(out)
}

async fn residents(home: &Path) -> Result<Vec<String>, Error> {
    let lake = Lake::open(&home.join("lake"))?;
    let mut out = Vec::new();
    for b in lake
        .query(
            "SELECT resident_id FROM base.population WHERE registered = 'true'",
            &AsOf::Latest,
        )
        .await?
    {
        let col = miaopi_lake::arrow::compute::cast(
            b.column(0),
            &miaopi_lake::arrow::datatypes::DataType::Utf8,
        )?;
        let col = col
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or("resident_id is not text")?;
        for i in 0..col.len() {
            if !col.is_null(i) {
                out.push(col.value(i).to_owned());
            }
        }
    }
    Ok(out)
}

fn main() -> Result<(), Error> {
    let a = args()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let pack_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packs/futian");
    let pack = Pack::load(&pack_dir).map_err(|e| format!("pack: {e}"))?;
    let t = Instant::now();
    let packages = Packages::load(&pack_dir.join("matters"), &pack, &DsntkEngine)
        .map_err(|e| format!("packages: {e}"))?;
    let t_packages = t.elapsed();
    let t = Instant::now();
    let platform = rt.block_on(Platform::open(&a.home, &pack, packages, &[]))?;
    let t_open = t.elapsed();
    let t = Instant::now();
    let people = rt.block_on(residents(&a.home))?;
    let scenarios = scenario_applications(&a.district)?;
    println!(
        "packages loaded and tested in {:.0} ms; platform opened in {:.0} ms (registers read from the lake); {} registered residents listed in {:.0} ms",
        t_packages.as_secs_f64() * 1e3,
        t_open.as_secs_f64() * 1e3,
        people.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    if people.is_empty() {
        return Err("no registered residents in base.population".into());
    }
    let today = now().date_naive();
    let mut rng = Rng(20_200_821);
    let mut apps: BTreeMap<String, Vec<Application>> = BTreeMap::new();
    for matter in [
        "senior_allowance",
        "talent_subsidy",
        "disability_subsidies",
        "ride_hailing_licence",
    ] {
        let v = (0..a.per_matter)
            .filter_map(|_| {
                let id = &people[(rng.next() % people.len() as u64) as usize];
                application(matter, id, today, BTreeMap::new())
            })
            .collect();
        apps.insert(matter.to_owned(), v);
    }
    for matter in ["newborn_hukou", "individual_business"] {
        let pool = scenarios.get(matter).cloned().unwrap_or_default();
        if pool.is_empty() {
            continue;
        }
        let v = (0..a.per_matter)
            .map(|i| pool[i % pool.len()].clone())
            .collect();
        apps.insert(matter.to_owned(), v);
    }

    // Warm-up (untimed): page cache, allocator, the engine's first evaluations.
    for v in apps.values() {
        for app in v.iter().take(200) {
            platform.decide(app.clone(), test_time(app.application_date))?;
        }
    }

    println!(
        "\n== one thread: decision latency (bind facts from the index + rules + receipt + its row), then storage"
    );
    println!(
        "{:<22} {:>7} {:>8} {:>8} {:>8} {:>9} {:>10} {:>12}  outcomes",
        "matter", "n", "p50 µs", "p99 µs", "p999 µs", "max µs", "decisions/s", "store µs/dec"
    );
    let mut all: Vec<Duration> = Vec::new();
    let mut stored_total = Duration::ZERO;
    let mut stored_n = 0usize;
    for (matter, v) in &apps {
        let mut lat = Vec::with_capacity(v.len());
        let mut rows: Vec<DecisionRecord> = Vec::with_capacity(v.len());
        let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
        let started = Instant::now();
        for app in v {
            let t = Instant::now();
            let r = platform.decide(app.clone(), test_time(app.application_date))?;
            let row = decision_record(&r);
            lat.push(t.elapsed());
            *outcomes.entry(r.outcome.kind().as_str()).or_default() += 1;
            rows.push(row);
        }
        let wall = started.elapsed();
        let t = Instant::now();
        for chunk in rows.chunks(256) {
            rt.block_on(platform.meta.store_decisions(chunk))?;
        }
        let store = t.elapsed();
        stored_total += store;
        stored_n += rows.len();
        lat.sort();
        println!(
            "{:<22} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>10.0} {:>12.1}  {}",
            matter,
            lat.len(),
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            pct(&lat, 0.999),
            pct(&lat, 1.0),
            lat.len() as f64 / wall.as_secs_f64(),
            store.as_secs_f64() * 1e6 / rows.len().max(1) as f64,
            outcomes
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        all.extend(lat);
    }
    all.sort();
    let store_per = stored_total.as_secs_f64() * 1e6 / stored_n.max(1) as f64;
    println!(
        "{:<22} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>10} {:>12.1}",
        "all matters",
        all.len(),
        pct(&all, 0.5),
        pct(&all, 0.99),
        pct(&all, 0.999),
        pct(&all, 1.0),
        "",
        store_per
    );

    // Storing one receipt per transaction: what a decision waits for when each is made durable
    // on its own.
    let mut single = Vec::new();
    if let Some(v) = apps.get("senior_allowance") {
        for app in v.iter().take(500) {
            let row =
                decision_record(&platform.decide(app.clone(), test_time(app.application_date))?);
            let t = Instant::now();
            rt.block_on(platform.meta.store_decisions(std::slice::from_ref(&row)))?;
            single.push(t.elapsed());
        }
    }
    single.sort();
    println!(
        "\nstoring one receipt per transaction (fsync each): p50 {:.0} µs, p99 {:.0} µs over {}; in group commits of 256: {:.1} µs per receipt",
        pct(&single, 0.5),
        pct(&single, 0.99),
        single.len(),
        store_per
    );

    // Throughput: T threads deciding, one writer storing in group commits; wall clock until
    // every receipt is stored.
    let mixed: Vec<Application> = {
        let mut m = Vec::new();
        let longest = apps.values().map(Vec::len).max().unwrap_or(0);
        for i in 0..longest {
            for v in apps.values() {
                if let Some(app) = v.get(i) {
                    m.push(app.clone());
                }
            }
        }
        m
    };
    let (tx, rx) = mpsc::sync_channel::<DecisionRecord>(4096);
    let started = Instant::now();
    let threads = a.threads.max(1);
    let stored = std::thread::scope(|s| -> Result<usize, String> {
        let chunks: Vec<&[Application]> =
            mixed.chunks(mixed.len().div_ceil(threads).max(1)).collect();
        for chunk in chunks {
            let tx = tx.clone();
            let platform = &platform;
            s.spawn(move || {
                for app in chunk {
                    if let Ok(r) = platform.decide(app.clone(), test_time(app.application_date))
                        && tx.send(decision_record(&r)).is_err()
                    {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut batch = Vec::with_capacity(256);
        let mut n = 0usize;
        for row in rx {
            batch.push(row);
            if batch.len() == 256 {
                rt.block_on(platform.meta.store_decisions(&batch))
                    .map_err(|e| e.to_string())?;
                n += batch.len();
                batch.clear();
            }
        }
        rt.block_on(platform.meta.store_decisions(&batch))
            .map_err(|e| e.to_string())?;
        Ok(n + batch.len())
    })?;
    let wall = started.elapsed();
    println!(
        "\n== {threads} deciding threads + 1 writer: {stored} decisions decided and stored in {:.2} s = {:.0} decisions/s ({} cores)",
        wall.as_secs_f64(),
        stored as f64 / wall.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "\ngoal (DESIGN.md): p99 < 1 ms per decision including fact binding and receipt → {} (p99 {:.0} µs over all matters)",
        if pct(&all, 0.99) < 1000.0 {
            "met"
        } else {
            "NOT met"
        },
        pct(&all, 0.99)
    );
    Ok(())
}

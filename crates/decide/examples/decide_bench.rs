//! Micro-benchmark: in-process 秒批 decisions per second and p50/p99 latency per matter, with
//! facts in memory, receipt construction (SM3 id over the canonical JSON) included.
//!
//! ```sh
//! cargo run --release -p miaopi-decide --example decide_bench [-- ITERATIONS]
//! ```
//!
//! Each matter decides the application of its first approved test case, with the case's facts
//! answered by `FixedFacts`; `senior_allowance (records)` answers from `InMemoryFacts` records
//! through the shared aggregation instead. Goal: p99 < 1 ms.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use chrono::{NaiveDate, TimeZone};
use miaopi_catalog::Pack;
use miaopi_decide::dates::shanghai;
use miaopi_decide::datum::Datum;
use miaopi_decide::testing::test_time;
use miaopi_decide::{
    Application, DsntkEngine, FactSource, FixedFacts, InMemoryFacts, OutcomeKind, Package,
    Packages, PartyKind, Provenance, Record, SubjectKey, decide_with,
};

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packs/futian");
    let pack = match Pack::load(&root) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pack: {e:?}");
            std::process::exit(1);
        }
    };
    let t = Instant::now();
    let packages = match Packages::load(&root.join("matters"), &pack, &DsntkEngine) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    println!(
        "loaded, validated and tested {} packages in {:.0} ms",
        packages.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>12}",
        "matter", "p50 µs", "p99 µs", "max µs", "decisions/s"
    );
    for package in packages.iter() {
        let Some(case) = package
            .tests
            .iter()
            .find(|c| c.expect.outcome == OutcomeKind::Approved)
        else {
            continue;
        };
        let facts = FixedFacts(case.facts.clone());
        let at = test_time(case.application.application_date);
        bench(
            &package.manifest.code,
            package,
            &case.application,
            &facts,
            at,
            iterations,
        );
    }
    let senior = packages
        .iter()
        .find(|p| p.manifest.code == "senior_allowance");
    if let Some(senior) = senior {
        let (app, world) = senior_records();
        let at = test_time(app.application_date);
        bench(
            "senior_allowance (records)",
            senior,
            &app,
            &world,
            at,
            iterations,
        );
    }
}

fn bench(
    name: &str,
    package: &Package,
    app: &Application,
    facts: &dyn FactSource,
    at: chrono::DateTime<chrono::FixedOffset>,
    iterations: usize,
) {
    // Warm up (and check the decision is what the test expects: an approval).
    for _ in 0..200 {
        match decide_with(package, app, facts, at) {
            Ok(r) if r.outcome.is_approval() => {}
            Ok(r) => {
                eprintln!("{name}: not approved: {:?}", r.outcome);
                return;
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                return;
            }
        }
    }
    let mut nanos: Vec<u128> = Vec::with_capacity(iterations);
    let start = Instant::now();
    for _ in 0..iterations {
        let t = Instant::now();
        let r = decide_with(package, app, facts, at);
        nanos.push(t.elapsed().as_nanos());
        std::hint::black_box(r.ok());
    }
    let total = start.elapsed().as_secs_f64();
    nanos.sort_unstable();
    let pct = |p: f64| nanos[((nanos.len() as f64 * p) as usize).min(nanos.len() - 1)] as f64 / 1e3;
    println!(
        "{:<28} {:>10.1} {:>10.1} {:>10.1} {:>12.0}",
        name,
        pct(0.50),
        pct(0.99),
        pct(1.0),
        iterations as f64 / total
    );
}

/// A Futian 户籍 senior with records in every resource the matter reads.
fn senior_records() -> (Application, InMemoryFacts) {
    let id = "440304194105101230";
    let at = shanghai()
        .with_ymd_and_hms(2026, 10, 30, 2, 0, 0)
        .single()
        .unwrap_or_else(|| test_time(NaiveDate::MIN));
    let record = |resource: &str, fields: Vec<(&str, Datum)>| Record {
        fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        provenance: Provenance {
            unit: "police".into(),
            resource: resource.into(),
            batch_id: format!("bench-{resource}"),
            ingested_at: at,
            record: "1".into(),
        },
        conflicts: BTreeMap::new(),
        self_conflict: None,
    };
    let mut world = InMemoryFacts::new();
    world.add(
        "hukou_residents",
        "resident_id",
        id,
        record(
            "hukou_residents",
            vec![
                (
                    "birth_date",
                    Datum::Date(NaiveDate::from_ymd_opt(1941, 5, 10).unwrap_or_default()),
                ),
                ("status", Datum::Text("1".into())),
            ],
        ),
    );
    for r in [
        "residence_registrations",
        "death_registrations",
        "senior_allowance_roster",
        "dishonest_debtors",
    ] {
        world.delivered(r, at);
    }
    let app = Application {
        matter: "senior_allowance".into(),
        application_date: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap_or_default(),
        applicant: SubjectKey::parse(PartyKind::Person, id).unwrap_or(SubjectKey::Code(id.into())),
        parties: BTreeMap::new(),
        form: BTreeMap::new(),
        commitments: Vec::new(),
        accept_pending_materials: false,
        prior_false_commitment: false,
        backdated: None,
    };
    (app, world)
}

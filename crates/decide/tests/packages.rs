//! The Futian matter packages: they load (validated, tested, fully covered), every decision of
//! their tests replays from its receipt alone, their guides name every condition, and their
//! parameters equal the generator's.

mod common;

use std::collections::BTreeSet;

use miaopi_decide::datum::Datum;
use miaopi_decide::engine::LogicDescription;
use miaopi_decide::{
    OutcomeKind, Receipt, render_guide, replay, replay_receipt, run_package_tests,
};

const MATTERS: [&str; 6] = [
    "senior_allowance",
    "newborn_hukou",
    "talent_subsidy",
    "individual_business",
    "disability_subsidies",
    "ride_hailing_licence",
];

#[test]
fn all_six_matters_load_with_full_coverage() {
    let packages = common::packages();
    let codes: BTreeSet<&str> = packages.iter().map(|p| p.manifest.code.as_str()).collect();
    assert_eq!(codes, MATTERS.into_iter().collect());
    for package in packages.iter() {
        let report = run_package_tests(package);
        let problems: Vec<String> = report
            .errors(package)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(report.ok(), "{}\n{}", report.summary(), problems.join("\n"));
        assert!(!report.rows.is_empty());
        assert!(report.rows.iter().all(|r| r.hits > 0));
        // Every matter reaches at least approve, reject and 转人工.
        for kind in [
            OutcomeKind::Approved,
            OutcomeKind::Rejected,
            OutcomeKind::ManualReview,
        ] {
            assert!(
                report.covered_outcomes.contains(&kind),
                "{}",
                report.summary()
            );
        }
        assert_eq!(package.hash.len(), 64);
    }
}

#[test]
fn each_condition_is_its_own_decision_and_the_outcome_table_requires_them_all() {
    for package in common::packages().iter() {
        let model = package.model();
        let outcome = model.decision(&package.manifest.outcome_decision).unwrap();
        let conditions: BTreeSet<&str> = package
            .manifest
            .conditions
            .iter()
            .map(|c| c.decision.as_str())
            .collect();
        let required: BTreeSet<&str> = outcome
            .required_decisions
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(required, conditions, "{}", package.manifest.code);
        assert!(matches!(outcome.logic, LogicDescription::Table { .. }));
    }
}

/// Every decision the package tests make, as receipts that went through JSON.
fn all_receipts() -> Vec<Receipt> {
    let mut out = Vec::new();
    for package in common::packages().iter() {
        for case in run_package_tests(package).cases {
            let receipt = case.receipt.expect("every case decides");
            let json = receipt.to_json();
            let back: Receipt = serde_json::from_str(&json).unwrap();
            assert_eq!(back, receipt, "a receipt survives JSON");
            out.push(back);
        }
    }
    out
}

#[test]
fn every_decision_replays_from_its_receipt() {
    let packages = common::packages();
    let receipts = all_receipts();
    assert!(receipts.len() > 80, "{} receipts", receipts.len());
    let mut kinds = BTreeSet::new();
    for r in &receipts {
        assert!(r.id_is_valid());
        assert_eq!(replay(r, packages).unwrap(), r.outcome);
        assert_eq!(
            &replay_receipt(r, packages).unwrap(),
            r,
            "{}",
            r.matter.code
        );
        kinds.insert(r.outcome.kind());
    }
    assert_eq!(
        kinds.len(),
        OutcomeKind::ALL.len(),
        "every outcome kind replayed"
    );
}

#[test]
fn replay_refuses_a_receipt_whose_package_changed() {
    let packages = common::packages();
    let mut r = all_receipts().remove(0);
    r.matter.package_hash = "0".repeat(64);
    assert!(matches!(
        replay(&r, packages),
        Err(miaopi_decide::DecideError::HashMismatch { .. })
    ));
    r.matter.version = "1999.1".into();
    assert!(matches!(
        replay(&r, packages),
        Err(miaopi_decide::DecideError::PackageNotFound { .. })
    ));
}

#[test]
fn rejections_name_their_failing_conditions_and_never_rest_on_missing_data() {
    for r in all_receipts() {
        match r.outcome.kind() {
            OutcomeKind::Rejected => {
                let last = r.reasons.last().unwrap();
                for c in r
                    .conditions
                    .iter()
                    .filter(|c| c.status == miaopi_decide::Tri::Fails)
                {
                    assert!(last.contains(&c.label), "{last} names {}", c.label);
                    assert!(c.missing_facts.is_empty() && c.tainted_facts.is_empty());
                }
            }
            _ => assert!(
                r.conditions
                    .iter()
                    .all(|c| c.status != miaopi_decide::Tri::Fails)
            ),
        }
        assert_eq!(r.reasons.len(), r.conditions.len() + 1);
    }
}

#[test]
fn the_guide_names_every_condition_and_what_to_bring() {
    for package in common::packages().iter() {
        let guide = render_guide(package, common::pack());
        let m = &package.manifest;
        assert!(guide.starts_with(&format!("# {} 办事指南", m.name)));
        for c in &m.conditions {
            assert!(
                guide.contains(&format!("`{}`", c.decision)),
                "{}: {}",
                m.code,
                c.decision
            );
            assert!(guide.contains(&c.label), "{}: {}", m.code, c.label);
        }
        for f in &m.form {
            assert!(guide.contains(&f.label), "{}: form {}", m.code, f.name);
        }
        if let Some(t) = &m.tolerance {
            for i in &t.items {
                assert!(guide.contains(&i.material), "{}: {}", m.code, i.material);
            }
        }
        if let Some(c) = &m.commitment {
            assert!(guide.contains(&c.text));
        }
        // Units are named from the catalogue, not from the package.
        let unit = common::pack().unit(&m.implementing_unit).unwrap();
        assert!(guide.contains(&unit.name), "{}", m.code);
        assert!(guide.contains(&package.hash));
    }
}

fn synth_source(file: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../synth/src")
            .join(file),
    )
    .unwrap()
}

/// The number in `pub const NAME: T = N;` of a generator source file.
fn synth_const(file: &str, name: &str) -> String {
    let src = synth_source(file);
    let line = src
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("pub const {name}:")))
        .unwrap_or_else(|| panic!("{name} not in {file}"));
    line.split('=')
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches(';')
        .to_owned()
}

fn param(code: &str, name: &str) -> Datum {
    common::package(code)
        .parameters
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("{code}: no parameter {name}"))
}

fn int(v: &str) -> Datum {
    Datum::Int(v.replace('_', "").parse().unwrap())
}

#[test]
fn parameters_equal_the_generators() {
    assert_eq!(
        param("senior_allowance", "高龄年龄"),
        int(&synth_const("world.rs", "SENIOR_AGE"))
    );
    assert_eq!(
        param("newborn_hukou", "申报期限天数"),
        int(&synth_const("scenarios.rs", "NEWBORN_DEADLINE_DAYS"))
    );
    assert_eq!(
        param("talent_subsidy", "落户期限天数"),
        int(&synth_const("world.rs", "TALENT_WINDOW_DAYS"))
    );
    let limits = synth_const("scenarios.rs", "TALENT_AGE_LIMITS");
    let limits: Vec<&str> = limits
        .trim_matches(['[', ']'])
        .split(',')
        .map(str::trim)
        .collect();
    for (name, limit) in ["本科年龄上限", "硕士年龄上限", "博士年龄上限"]
        .iter()
        .zip(limits)
    {
        assert_eq!(param("talent_subsidy", name), int(limit));
    }
    // senior_amount's bands: `0..=89 => 200`, `90..=99 => 400`, `_ => 1_000`.
    let world = synth_source("world.rs");
    let body = world.split("pub fn senior_amount").nth(1).unwrap();
    let arms: Vec<(String, String)> = body
        .lines()
        .take_while(|l| !l.starts_with('}'))
        .filter_map(|l| l.split_once("=>"))
        .map(|(a, b)| {
            (
                a.trim().to_owned(),
                b.trim().trim_end_matches(',').to_owned(),
            )
        })
        .collect();
    assert_eq!(arms.len(), 3);
    assert_eq!(arms[0].0, "0..=89");
    assert_eq!(param("senior_allowance", "九十岁年龄"), Datum::Int(90));
    assert_eq!(arms[1].0, "90..=99");
    assert_eq!(param("senior_allowance", "百岁年龄"), Datum::Int(100));
    assert_eq!(
        param("senior_allowance", "八十至八十九岁月津贴"),
        int(&arms[0].1)
    );
    assert_eq!(
        param("senior_allowance", "九十至九十九岁月津贴"),
        int(&arms[1].1)
    );
    assert_eq!(
        param("senior_allowance", "百岁及以上月津贴"),
        int(&arms[2].1)
    );
    // Talent amounts by degree level: `Some(3) => 30_000`, `Some(2) => 25_000`, `_ => 15_000`.
    let scenarios = synth_source("scenarios.rs");
    let amount = |pattern: &str| -> Datum {
        let line = scenarios
            .lines()
            .find(|l| l.trim_start().starts_with(pattern) && l.contains("_000"))
            .unwrap_or_else(|| panic!("{pattern}"));
        int(line
            .split("=>")
            .nth(1)
            .unwrap()
            .trim()
            .trim_end_matches(','))
    };
    assert_eq!(param("talent_subsidy", "博士补贴"), amount("Some(3) =>"));
    assert_eq!(param("talent_subsidy", "硕士补贴"), amount("Some(2) =>"));
    assert_eq!(param("talent_subsidy", "本科补贴"), amount("_ =>"));
    // Business premises: the generator's commercial, office and mixed building uses.
    let uses: Vec<Datum> = ["USE_COMMERCIAL", "USE_OFFICE", "USE_MIXED"]
        .iter()
        .map(|c| Datum::Text(synth_const("world.rs", c)))
        .collect();
    assert_eq!(
        param("individual_business", "允许经营的楼栋用途"),
        Datum::List(uses)
    );
    // Disqualifying crime categories of the ride-hailing licence.
    assert!(scenarios.contains(r#"matches!(*c, "01" | "02" | "03" | "04" | "05")"#));
    let ride = common::package("ride_hailing_licence");
    let record = ride.fact("有禁止性记录").unwrap().binding().unwrap();
    assert_eq!(record.filter["category"], ["01", "02", "03", "04", "05"]);
    assert_eq!(param("ride_hailing_licence", "最低驾龄年数"), Datum::Int(3));
}

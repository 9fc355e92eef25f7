//! 秒批 scenarios: structure, outcome rules and a few semantics against the entity truth.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use miaopi_model::resident_id::age_on;
use serde_json::Value;

use crate::common::Failures;
use crate::{Loaded, main_district};

const MATTERS: [&str; 6] = [
    "senior_allowance",
    "newborn_hukou",
    "talent_subsidy",
    "individual_business",
    "disability_subsidies",
    "ride_hailing_licence",
];

fn scenarios(l: &Loaded) -> Value {
    let text = std::fs::read(l.generated.out.join("scenarios.json")).expect("scenarios.json");
    serde_json::from_slice(&text).expect("scenarios.json parses")
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")))
        .collect()
}

#[test]
fn scenarios_are_well_formed_and_cover_every_outcome() {
    let l = main_district();
    let s = scenarios(l);
    let as_of = l.generated.cfg.as_of;
    assert_eq!(s["as_of"].as_str(), Some(as_of.to_string().as_str()));
    let matters = s["matters"].as_array().expect("matters");
    let names: Vec<&str> = matters
        .iter()
        .map(|m| m["matter"].as_str().expect("matter code"))
        .collect();
    assert_eq!(
        names.iter().copied().collect::<BTreeSet<_>>(),
        MATTERS.into_iter().collect::<BTreeSet<_>>(),
        "matters"
    );
    assert_eq!(
        names.len(),
        MATTERS.len(),
        "a matter appears twice: {names:?}"
    );

    let mut f = Failures::default();
    let e = &l.entities;
    let mut tally: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for m in matters {
        let matter = m["matter"].as_str().unwrap();
        let conditions: BTreeSet<&str> = m["conditions"]
            .as_object()
            .unwrap_or_else(|| panic!("{matter}: conditions"))
            .keys()
            .map(String::as_str)
            .collect();
        f.check(!conditions.is_empty(), || {
            format!("{matter}: no conditions")
        });
        let mut outcomes = BTreeSet::new();
        for sc in m["scenarios"]
            .as_array()
            .unwrap_or_else(|| panic!("{matter}: scenarios"))
        {
            let applicant = sc["applicant"].as_str().unwrap_or("");
            let expected = sc["expected"].as_str().unwrap_or("");
            let failing = strings(&sc["failing"]);
            let unknown = strings(&sc["unknown"]);
            let at = || {
                format!("{matter} {applicant} {expected} failing={failing:?} unknown={unknown:?}")
            };
            outcomes.insert(expected.to_string());
            let bucket = match expected {
                "rejected" => format!("rejected/{}", failing.first().copied().unwrap_or("")),
                "manual_review" => {
                    format!("manual_review/{}", unknown.join("+"))
                }
                other => other.to_string(),
            };
            *tally
                .entry(matter.into())
                .or_default()
                .entry(bucket)
                .or_default() += 1;
            let shape = match expected {
                "approved" => failing.is_empty() && unknown.is_empty(),
                "rejected" => !failing.is_empty(),
                "manual_review" => failing.is_empty() && !unknown.is_empty(),
                _ => false,
            };
            f.check(shape, || {
                format!("{}: outcome does not follow failing/unknown", at())
            });
            for c in failing.iter().chain(&unknown) {
                f.check(conditions.contains(c), || {
                    format!("{}: {c} is not a condition of the matter", at())
                });
            }
            f.check(e.people_by_id.contains_key(applicant), || {
                format!("{}: applicant not in people.csv", at())
            });
            let date = sc["application_date"]
                .as_str()
                .and_then(|d| d.parse::<NaiveDate>().ok());
            f.check(date.is_some_and(|d| d <= as_of), || {
                format!("{}: application date {date:?}", at())
            });
        }
        for outcome in ["approved", "rejected", "manual_review"] {
            f.check(outcomes.contains(outcome), || {
                format!(
                    "{matter}: no {outcome} scenario at {} people (the simulation is too thin)",
                    l.generated.cfg.people
                )
            });
        }
    }
    f.assert_none("scenarios");
    // The manifest's tally is the one scenarios.json implies.
    assert_eq!(
        serde_json::to_value(&l.generated.manifest.scenarios).unwrap(),
        serde_json::to_value(&tally).unwrap()
    );
}

#[test]
fn senior_allowance_outcomes_agree_with_the_people_truth() {
    let l = main_district();
    let s = scenarios(l);
    let e = &l.entities;
    let as_of = l.generated.cfg.as_of;
    let m = s["matters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["matter"] == "senior_allowance")
        .expect("senior_allowance");
    let mut f = Failures::default();
    let (mut approved, mut too_young) = (0, 0);
    for sc in m["scenarios"].as_array().unwrap() {
        let id = sc["applicant"].as_str().unwrap();
        let expected = sc["expected"].as_str().unwrap();
        let failing = strings(&sc["failing"]);
        let unknown = strings(&sc["unknown"]);
        let Some(birth) = e
            .person(id, "birth_date")
            .and_then(|b| b.parse::<NaiveDate>().ok())
        else {
            f.push(format!("{id}: no birth date in people.csv"));
            continue;
        };
        let age = age_on(birth, as_of);
        let p = |c: &str| e.person(id, c).unwrap_or("?");
        if expected == "approved" {
            approved += 1;
            f.check(
                p("death_date").is_empty()
                    && p("hukou") == "1"
                    && p("hukou_status") == "1"
                    && age >= 80,
                || {
                    format!(
                        "{id} approved but death={:?} hukou={} status={} age={age}",
                        p("death_date"),
                        p("hukou"),
                        p("hukou_status")
                    )
                },
            );
        }
        if expected == "rejected" && failing.contains(&"age") {
            too_young += 1;
            f.check(age < 80, || format!("{id} rejected on age but is {age}"));
        }
        if failing.contains(&"alive") {
            f.check(!p("death_date").is_empty(), || {
                format!("{id} rejected as dead but has no death date")
            });
        }
        // Unknown (a 户籍 row contradicting its own ID gives no age) says nothing either way.
        if !failing.contains(&"age") && !unknown.contains(&"age") {
            f.check(age >= 80, || {
                format!("{id} ({expected}, failing {failing:?}) is {age}, under 80, yet age holds")
            });
        }
    }
    f.assert_none("senior_allowance against people.csv");
    assert!(
        approved > 0 && too_young > 0,
        "{approved} approved, {too_young} rejected on age"
    );
}

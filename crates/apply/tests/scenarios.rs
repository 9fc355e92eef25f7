//! 秒批 acceptance on a generated district (10,000 people): generate → ingest → link, then
//! every scenario of the generator's `scenarios.json` is decided with facts from the entity
//! index and must get the outcome (and failing / unknown conditions, and amounts) the truth
//! expects. Also: a missing, stale or conflicting fact never rejects; every receipt replays to
//! itself, from memory and from the meta store; a certificate with any one byte changed fails
//! verification.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset, NaiveDate};
use miaopi_apply::{FactSession, Platform, decision_record, parse_receipt};
use miaopi_decide::datum::Datum;
use miaopi_decide::{
    Application, FactBinding, FactSource, FactSourceError, FactValue, OutcomeKind, Receipt,
    Subject, SubjectKey, Tri, decide_with, load_public_key, replay_receipt, verify_certificate,
};
use miaopi_meta::MetaStore;
use miaopi_synth::SynthConfig;
use serde::Deserialize;

use miaopi_testkit::{generate, ingest_and_link, pack, packages, runtime, small_district};

struct District {
    out: tempfile::TempDir,
    home: tempfile::TempDir,
    /// One runtime for the meta store's pool, shared by the tests.
    rt: tokio::runtime::Runtime,
    /// One platform: redb opens an index file once per process.
    platform: Platform,
}

/// Generates, ingests and links the district once for all tests of this file.
fn district() -> &'static District {
    static D: OnceLock<District> = OnceLock::new();
    D.get_or_init(|| {
        let out = generate(&small_district(10_000));
        let home = tempfile::tempdir().unwrap();
        runtime().block_on(ingest_and_link(home.path(), &out.path().join("sources")));
        let rt = runtime();
        let platform = rt
            .block_on(Platform::open(home.path(), pack(), packages(), &[]))
            .unwrap();
        District {
            out,
            home,
            rt,
            platform,
        }
    })
}

#[derive(Debug, Deserialize)]
struct ScenarioSet {
    matters: Vec<MatterScenarios>,
}

#[derive(Debug, Deserialize)]
struct MatterScenarios {
    matter: String,
    scenarios: Vec<Scenario>,
}

#[derive(Debug, Clone, Deserialize)]
struct Scenario {
    applicant: String,
    application_date: NaiveDate,
    form: serde_json::Map<String, serde_json::Value>,
    expected: String,
    failing: Vec<String>,
    unknown: Vec<String>,
    detail: serde_json::Value,
}

fn scenarios() -> ScenarioSet {
    let text = std::fs::read_to_string(district().out.path().join("scenarios.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The generator's form keys → the packages' form inputs (the generator does not know the
/// packages' Chinese names; this test is where the two meet).
fn form_input(matter: &str, key: &str) -> &'static str {
    match (matter, key) {
        ("newborn_hukou", "birth_certificate_no") => "出生医学证明编号",
        ("newborn_hukou", "child_name") => "新生儿姓名",
        ("newborn_hukou", "child_id") => "新生儿身份证号",
        ("individual_business", "name") => "拟用名称",
        ("individual_business", "premises_address_code") => "经营场所地址编码",
        ("individual_business", "industry") => "行业门类",
        _ => panic!("{matter}: the generator's form key {key:?} has no form input here"),
    }
}

fn application(matter: &str, s: &Scenario) -> Application {
    let applicant = SubjectKey::parse(miaopi_decide::PartyKind::Person, &s.applicant)
        .unwrap_or_else(|| panic!("applicant {} is not a resident ID", s.applicant));
    let form = s
        .form
        .iter()
        .map(|(k, v)| {
            let text = v.as_str().unwrap_or_else(|| panic!("{k}: {v} is not text"));
            (
                form_input(matter, k).to_owned(),
                Datum::Text(text.to_owned()),
            )
        })
        .collect();
    Application {
        matter: matter.to_owned(),
        application_date: s.application_date,
        applicant,
        parties: BTreeMap::new(),
        form,
        commitments: Vec::new(),
        accept_pending_materials: false,
        prior_false_commitment: false,
        backdated: None,
    }
}

/// Decisions are made on the district's as-of day, the day its scenarios are dated (the engine
/// refuses an application dated another day than its decision). The data were ingested later,
/// in real time, so none of it is stale on that day.
fn now() -> DateTime<FixedOffset> {
    miaopi_decide::testing::test_time(SynthConfig::default().as_of)
}

fn number(d: &Datum) -> Option<f64> {
    match d {
        Datum::Int(i) => Some(*i as f64),
        Datum::Decimal(s) => s.parse().ok(),
        _ => None,
    }
}

/// The amounts and subsidies the truth expects, against the receipt's details.
fn detail_mismatch(matter: &str, expected: &serde_json::Value, r: &Receipt) -> Option<String> {
    let details = r.outcome.details()?;
    let want_number = |name: &str, key: &str| -> Option<String> {
        let want = expected.get(key).and_then(serde_json::Value::as_f64);
        let got = details.get(name).and_then(number);
        (want != got).then(|| format!("{name}: expected {want:?}, got {got:?}"))
    };
    match matter {
        "senior_allowance" => want_number("月津贴", "monthly_amount"),
        "talent_subsidy" => want_number("补贴金额", "amount"),
        "disability_subsidies" => {
            let mut want = BTreeSet::new();
            if expected.get("living_subsidy") == Some(&serde_json::Value::Bool(true)) {
                want.insert("生活补贴".to_owned());
            }
            if expected.get("nursing_subsidy") == Some(&serde_json::Value::Bool(true)) {
                want.insert("护理补贴".to_owned());
            }
            let got: BTreeSet<String> = match details.get("补贴项目") {
                Some(Datum::List(items)) => items
                    .iter()
                    .filter_map(|d| d.as_text().map(str::to_owned))
                    .collect(),
                _ => BTreeSet::new(),
            };
            (want != got).then(|| format!("补贴项目: expected {want:?}, got {got:?}"))
        }
        _ => None,
    }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

#[test]
fn every_scenario_gets_the_expected_outcome_and_replays() {
    let d = district();
    let set = scenarios();
    let (rt, platform) = (&d.rt, &d.platform);
    let at = now();
    let mut mismatches: Vec<String> = Vec::new();
    let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut receipts: Vec<Receipt> = Vec::new();
    let mut outcomes_seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &set.matters {
        for s in &m.scenarios {
            let r = platform
                .decide(application(&m.matter, s), at)
                .unwrap_or_else(|e| panic!("{} {}: {e}", m.matter, s.applicant));
            let kind = r.outcome.kind().as_str().to_owned();
            let (failing, unknown): (Vec<String>, Vec<String>) = (
                r.conditions
                    .iter()
                    .filter(|c| c.status == Tri::Fails)
                    .map(|c| c.code.clone())
                    .collect(),
                r.conditions
                    .iter()
                    .filter(|c| c.status == Tri::Unknown)
                    .map(|c| c.code.clone())
                    .collect(),
            );
            let mut problems = Vec::new();
            if kind != s.expected {
                problems.push(format!("outcome {kind}, expected {}", s.expected));
            }
            if sorted(&failing) != sorted(&s.failing) {
                problems.push(format!("failing {failing:?}, expected {:?}", s.failing));
            }
            // Unknown conditions only matter where nothing fails (a rejection is decided by
            // what fails; what else is undecidable does not change it).
            if s.expected != "rejected" && sorted(&unknown) != sorted(&s.unknown) {
                problems.push(format!("unknown {unknown:?}, expected {:?}", s.unknown));
            }
            if s.expected == "approved"
                && let Some(p) = detail_mismatch(&m.matter, &s.detail, &r)
            {
                problems.push(p);
            }
            let e = tally.entry(m.matter.clone()).or_default();
            e.0 += 1;
            if problems.is_empty() {
                e.1 += 1;
            } else {
                mismatches.push(format!(
                    "{} {} {:?}: {}\n    {}",
                    m.matter,
                    s.applicant,
                    s.form,
                    problems.join("; "),
                    r.reasons.join("\n    ")
                ));
            }
            outcomes_seen
                .entry(m.matter.clone())
                .or_default()
                .insert(kind);
            receipts.push(r);
        }
    }
    for (matter, (n, ok)) in &tally {
        eprintln!("{matter:<24} {ok}/{n} scenarios as the truth expects");
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} scenarios differ from the truth:\n{}",
        mismatches.len(),
        receipts.len(),
        mismatches.join("\n")
    );
    // The run means something: every matter has scenarios, and together they reach every
    // base outcome.
    assert_eq!(tally.len(), 6, "{tally:?}");
    for (matter, seen) in &outcomes_seen {
        for o in ["approved", "rejected", "manual_review"] {
            assert!(seen.contains(o), "{matter}: no scenario {o}: {seen:?}");
        }
    }

    // Replay from the receipt alone, for every decision.
    let packages = &platform.packages;
    for r in &receipts {
        let again = replay_receipt(r, packages).unwrap();
        assert_eq!(&again, r, "replay of {} differs", r.receipt_id);
    }
    // Stored in the meta store and read back: the same receipt, replaying to the same outcome.
    rt.block_on(async {
        let rows: Vec<_> = receipts.iter().map(decision_record).collect();
        let new = platform.meta.store_decisions(&rows).await.unwrap();
        let distinct: BTreeSet<&str> = receipts.iter().map(|r| r.receipt_id.as_str()).collect();
        // Decisions are dated on the as-of day, so the certificate test (same binary) may have
        // stored some of these very receipts already: those are not new, and every one must be
        // there afterwards (checked below).
        assert!(new as usize <= distinct.len(), "{new} > {}", distinct.len());
        for r in &receipts {
            let stored = platform.receipt(&r.receipt_id).await.unwrap().unwrap();
            assert_eq!(&stored, r);
            let row = platform
                .meta
                .decision(&r.receipt_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.outcome, r.outcome.kind().as_str());
            assert!(
                !row.applicant_masked
                    .contains(&r.application.applicant.as_str()[6..14])
            );
            let again =
                replay_receipt(&parse_receipt(&row.receipt_json, None).unwrap(), packages).unwrap();
            assert_eq!(again.outcome, r.outcome);
        }
    });
}

/// Answers like the index, except that one (party, resource) group of facts is missing,
/// stale or conflicting.
struct Damaged<'a> {
    inner: &'a FactSession<'a>,
    party: String,
    resource: String,
    damage: Damage,
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    Missing,
    Stale,
    Conflicting,
}

impl FactSource for Damaged<'_> {
    fn fetch(
        &self,
        subject: &Subject,
        binding: &FactBinding,
        at: DateTime<FixedOffset>,
    ) -> Result<FactValue, FactSourceError> {
        let mut v = self.inner.fetch(subject, binding, at)?;
        if binding.party == self.party && binding.resource == self.resource {
            match self.damage {
                Damage::Missing => v = FactValue::missing(),
                Damage::Stale => v.stale = true,
                Damage::Conflicting => {
                    v.conflict = Some(miaopi_decide::Conflict {
                        values: Vec::new(),
                        note: "测试：来源不一致".into(),
                    })
                }
            }
        }
        Ok(v)
    }
}

#[test]
fn a_missing_stale_or_conflicting_fact_never_rejects() {
    let d = district();
    let set = scenarios();
    let platform = &d.platform;
    let at = now();
    let mut checked = 0usize;
    let mut changed = 0usize;
    for m in &set.matters {
        for s in &m.scenarios {
            let app = application(&m.matter, s);
            let package = platform
                .packages
                .in_force(&app.matter, app.application_date)
                .unwrap();
            let groups: BTreeSet<(String, String)> = package
                .facts
                .iter()
                .filter_map(|f| f.binding().map(|b| (b.party.clone(), b.resource.clone())))
                .collect();
            let session = platform.facts.session().unwrap();
            let original = decide_with(package, &app, &session, at).unwrap();
            for (party, resource) in &groups {
                for damage in [Damage::Missing, Damage::Stale, Damage::Conflicting] {
                    let source = Damaged {
                        inner: &session,
                        party: party.clone(),
                        resource: resource.clone(),
                        damage,
                    };
                    let r = decide_with(package, &app, &source, at).unwrap();
                    checked += 1;
                    if r.outcome != original.outcome {
                        changed += 1;
                    }
                    let damaged: BTreeSet<&str> = package
                        .facts
                        .iter()
                        .filter(|f| {
                            f.binding()
                                .is_some_and(|b| &b.party == party && &b.resource == resource)
                        })
                        .map(|f| f.name.as_str())
                        .collect();
                    for c in r.conditions.iter().filter(|c| c.status == Tri::Fails) {
                        assert!(
                            !c.facts.iter().any(|f| damaged.contains(f.as_str())),
                            "{} {}: {damage:?} {party}/{resource} made condition {} fail:\n{}",
                            m.matter,
                            s.applicant,
                            c.code,
                            r.reasons.join("\n")
                        );
                    }
                    if r.outcome.kind() == OutcomeKind::Rejected {
                        assert!(
                            r.conditions.iter().any(|c| c.status == Tri::Fails),
                            "rejected without a failing condition"
                        );
                    }
                }
            }
        }
    }
    eprintln!(
        "{checked} damaged decisions, {changed} changed their outcome, none rejected on damaged data"
    );
    assert!(checked > 1000, "{checked}");
    assert!(changed > 100, "damage must matter somewhere: {changed}");
}

#[test]
fn certificates_verify_and_any_changed_byte_fails() {
    let d = district();
    let set = scenarios();
    let (rt, platform) = (&d.rt, &d.platform);
    let key = load_public_key(&miaopi_apply::keys_dir(d.home.path())).unwrap();
    let at = now();
    let mut issued = 0;
    for m in &set.matters {
        let Some(s) = m.scenarios.iter().find(|s| s.expected == "approved") else {
            continue;
        };
        let decided = rt
            .block_on(platform.apply(application(&m.matter, s), at))
            .unwrap();
        let cert = decided
            .certificate
            .unwrap_or_else(|| panic!("{}: an approval without a certificate", m.matter));
        let bytes = std::fs::read(&cert.path).unwrap();
        assert_eq!(bytes, cert.certificate.bytes);
        let read = verify_certificate(&bytes, &key).unwrap();
        assert_eq!(read.receipt_id, decided.receipt.receipt_id);
        assert_eq!(read.holder.id, s.applicant.to_uppercase());
        let stored = rt
            .block_on(platform.meta.certificates_of(&decided.receipt.receipt_id))
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].certificate_id, read.id);
        // Recording the same decision again returns the same certificate, not a second one.
        let again = rt
            .block_on(platform.record(&decided.receipt, at))
            .unwrap()
            .certificate
            .unwrap();
        assert_eq!(again.certificate.certificate.id, read.id);
        assert_eq!(again.certificate.bytes, bytes);
        assert_eq!(
            rt.block_on(platform.meta.certificates_of(&decided.receipt.receipt_id))
                .unwrap()
                .len(),
            1
        );
        for i in 0..bytes.len() {
            for delta in [1u8, 0x80] {
                let mut changed = bytes.clone();
                changed[i] ^= delta;
                assert!(
                    verify_certificate(&changed, &key).is_err(),
                    "{}: byte {i} ^ {delta:#x} still verifies",
                    m.matter
                );
            }
        }
        issued += 1;
    }
    assert!(issued >= 5, "certificates issued for {issued} matters");
    // Serials are running numbers per certificate type: a second approval takes the next one.
    let senior = set
        .matters
        .iter()
        .find(|m| m.matter == "senior_allowance")
        .unwrap();
    let approved: Vec<&Scenario> = senior
        .scenarios
        .iter()
        .filter(|s| s.expected == "approved")
        .take(2)
        .collect();
    let ids: Vec<String> = approved
        .iter()
        .map(|s| {
            let decided = rt
                .block_on(platform.apply(application("senior_allowance", s), now()))
                .unwrap();
            decided.certificate.unwrap().certificate.certificate.id
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
}

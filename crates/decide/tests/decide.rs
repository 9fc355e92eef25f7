//! Deciding with facts from records (the aggregation the entity index will share): provenance
//! in reasons, staleness and conflicts routed to a person, parties found through forms and
//! facts, 告知承诺 revoked by a later record, and malformed applications refused.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use miaopi_decide::dates::shanghai;
use miaopi_decide::datum::Datum;
use miaopi_decide::{
    Application, Backdating, DecideError, FactBinding, FactSource, FactSourceError, FactValue,
    InMemoryFacts, Outcome, OutcomeKind, Provenance, Record, Subject, SubjectKey, Tri, decide,
    recheck, replay,
};

const SENIOR: &str = "440304194105101230"; // born 1941-05-10

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<FixedOffset> {
    shanghai()
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn record(unit: &str, resource: &str, batch: &str, day: u32, fields: &[(&str, Datum)]) -> Record {
    Record {
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        provenance: Provenance {
            unit: unit.into(),
            resource: resource.into(),
            batch_id: batch.into(),
            ingested_at: at(2026, 10, day, 2),
            record: format!("{resource}.csv:{day}"),
        },
        conflicts: BTreeMap::new(),
        self_conflict: None,
    }
}

fn text(s: &str) -> Datum {
    Datum::Text(s.into())
}

/// A Futian 户籍 senior, alive, not on the roster; every resource delivered on 30 October.
fn senior_world() -> InMemoryFacts {
    let mut f = InMemoryFacts::new();
    f.add(
        "hukou_residents",
        "resident_id",
        SENIOR,
        record(
            "police",
            "hukou_residents",
            "b-hukou-1030",
            30,
            &[
                ("resident_id", text(SENIOR)),
                ("birth_date", Datum::Date(date(1941, 5, 10))),
                ("status", text("1")),
            ],
        ),
    );
    for r in [
        "residence_registrations",
        "death_registrations",
        "dishonest_debtors",
        "senior_allowance_roster",
    ] {
        f.delivered(r, at(2026, 10, 30, 2));
    }
    f
}

fn senior_application() -> Application {
    Application {
        matter: "senior_allowance".into(),
        application_date: date(2026, 10, 31),
        applicant: SubjectKey::parse(miaopi_decide::PartyKind::Person, SENIOR).unwrap(),
        parties: BTreeMap::new(),
        form: BTreeMap::new(),
        commitments: Vec::new(),
        accept_pending_materials: false,
        prior_false_commitment: false,
        backdated: None,
    }
}

#[test]
fn approval_explains_each_condition_with_its_sources() {
    let r = decide(
        common::packages(),
        &senior_application(),
        &senior_world(),
        at(2026, 10, 31, 10),
    )
    .unwrap();
    assert_eq!(
        r.outcome,
        Outcome::Approved {
            details: [("月津贴".to_owned(), Datum::Int(200))].into()
        }
    );
    let age = r.conditions.iter().find(|c| c.code == "age").unwrap();
    assert_eq!(
        age.reason,
        "申请之日年满80周岁：年龄 85 岁（出生日期 1941-05-10）≥ 80 岁；无户籍记录的按身份证号计 85 岁\
         （来源：有户籍记录：公安分局 户籍人口，批次 b-hukou-1030；出生日期：公安分局 户籍人口，批次 b-hukou-1030；身份证出生日期：公民身份号码）：满足"
    );
    let alive = r.conditions.iter().find(|c| c.code == "alive").unwrap();
    assert!(
        alive
            .reason
            .contains("死亡登记 无记录（来源：有死亡登记：民政局 死亡登记（无记录））"),
        "{}",
        alive.reason
    );
    assert_eq!(
        r.reasons.last().unwrap(),
        "结论：批准。全部 4 项条件均满足，核定：月津贴 200元/月"
    );
    // The receipt carries every fact with provenance, the parameters and the engine.
    let birth = &r.facts["出生日期"];
    assert_eq!(birth.provenance[0].batch_id, "b-hukou-1030");
    assert_eq!(r.parameters["高龄年龄"], Datum::Int(80));
    assert_eq!(r.engine.name, "dsntk");
    assert_eq!(r.derived["年龄"], Some(Datum::Int(85)));
    assert!(
        r.to_json()
            .contains("\"decided_at\":\"2026-10-31T10:00:00+08:00\"")
    );
    assert_eq!(replay(&r, common::packages()).unwrap(), r.outcome);
}

#[test]
fn a_stale_death_register_never_rejects() {
    let mut world = senior_world();
    // A death record, but the register (daily) was last refreshed ten days ago.
    world.add(
        "death_registrations",
        "resident_id",
        SENIOR,
        record(
            "civil_affairs",
            "death_registrations",
            "b-death-1020",
            20,
            &[("resident_id", text(SENIOR))],
        ),
    );
    world.delivered("death_registrations", at(2026, 10, 20, 2));
    let r = decide(
        common::packages(),
        &senior_application(),
        &world,
        at(2026, 10, 31, 10),
    )
    .unwrap();
    assert_eq!(r.outcome.kind(), OutcomeKind::ManualReview);
    let alive = r.conditions.iter().find(|c| c.code == "alive").unwrap();
    // The stale fact reaches the rules as null, so the rule itself cannot decide.
    assert_eq!(alive.computed, None);
    assert_eq!(alive.status, Tri::Unknown);
    assert_eq!(alive.tainted_facts, ["有死亡登记"]);
    assert!(r.facts["有死亡登记"].stale);

    // Refreshed: the same record now decides.
    world.delivered("death_registrations", at(2026, 10, 30, 2));
    let r = decide(
        common::packages(),
        &senior_application(),
        &world,
        at(2026, 10, 31, 10),
    )
    .unwrap();
    assert_eq!(
        r.outcome,
        Outcome::Rejected {
            failing: vec!["alive".into()]
        }
    );
}

#[test]
fn disagreeing_sources_and_a_birth_date_against_the_id_go_to_a_person() {
    let mut world = InMemoryFacts::new();
    let mut hukou = record(
        "police",
        "hukou_residents",
        "b-hukou-1030",
        30,
        &[
            ("birth_date", Datum::Date(date(1951, 5, 10))),
            ("status", text("1")),
        ],
    );
    hukou.conflicts.insert(
        "status".into(),
        vec![miaopi_decide::facts::ConflictingValue {
            value: text("2"),
            provenance: None,
        }],
    );
    world.add("hukou_residents", "resident_id", SENIOR, hukou);
    for r in [
        "residence_registrations",
        "death_registrations",
        "dishonest_debtors",
        "senior_allowance_roster",
    ] {
        world.delivered(r, at(2026, 10, 30, 2));
    }
    let r = decide(
        common::packages(),
        &senior_application(),
        &world,
        at(2026, 10, 31, 10),
    )
    .unwrap();
    let Outcome::ManualReview { unknown, causes } = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(unknown, &["hukou", "age"]);
    assert!(causes.iter().any(|c| c.contains("户籍状态")), "{causes:?}");
    let birth = r.facts["出生日期"].conflict.as_ref().unwrap();
    assert!(birth.note.contains("1951-05-10") && birth.note.contains("1941-05-10"));
}

#[test]
fn birthday_today_counts() {
    // Born 1946-10-31: 80 on 2026-10-31, 79 the day before.
    let id = "440304194610311239";
    let mut world = senior_world();
    world.add(
        "hukou_residents",
        "resident_id",
        id,
        record(
            "police",
            "hukou_residents",
            "b2",
            30,
            &[
                ("birth_date", Datum::Date(date(1946, 10, 31))),
                ("status", text("1")),
            ],
        ),
    );
    let mut app = senior_application();
    app.applicant = SubjectKey::parse(miaopi_decide::PartyKind::Person, id).unwrap();
    let r = decide(common::packages(), &app, &world, at(2026, 10, 31, 0)).unwrap();
    assert_eq!(r.outcome.kind(), OutcomeKind::Approved);
    app.application_date = date(2026, 10, 30);
    let r = decide(common::packages(), &app, &world, at(2026, 10, 30, 23)).unwrap();
    assert_eq!(
        r.outcome,
        Outcome::Rejected {
            failing: vec!["age".into()]
        }
    );
    // The reason says what is true: 79, not yet 80 — not "79 ≥ 80 … 不满足".
    let age = r.conditions.iter().find(|c| c.code == "age").unwrap();
    assert!(
        age.reason
            .starts_with("申请之日年满80周岁：年龄 79 岁（出生日期 1946-10-31），未满 80 周岁；"),
        "{}",
        age.reason
    );
    assert!(age.reason.ends_with("：不满足"), "{}", age.reason);
    assert!(!age.reason.contains('≥'), "{}", age.reason);
}

#[test]
fn a_commitment_is_revoked_by_a_later_roster_record() {
    // The roster has not been delivered at all: 未领取 cannot be checked.
    let mut world = InMemoryFacts::new();
    world.add(
        "hukou_residents",
        "resident_id",
        SENIOR,
        record(
            "police",
            "hukou_residents",
            "b-hukou-1030",
            30,
            &[
                ("birth_date", Datum::Date(date(1941, 5, 10))),
                ("status", text("1")),
            ],
        ),
    );
    for r in [
        "residence_registrations",
        "death_registrations",
        "dishonest_debtors",
    ] {
        world.delivered(r, at(2026, 10, 30, 2));
    }
    let mut app = senior_application();
    app.commitments = vec!["not_receiving".into()];
    let r = decide(common::packages(), &app, &world, at(2026, 10, 31, 10)).unwrap();
    let Outcome::ApprovedOnCommitment { task, .. } = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(task.conditions, ["not_receiving"]);
    assert_eq!(task.facts, ["在发放名册"]);
    assert_eq!(task.due, date(2026, 11, 30));

    // Still nothing on the roster: nothing to revoke.
    world.delivered("senior_allowance_roster", at(2026, 11, 15, 2));
    assert_eq!(
        recheck(&r, common::packages(), &world, at(2026, 11, 20, 9)).unwrap(),
        None
    );
    // The roster shows the applicant paid elsewhere: revoked.
    world.add(
        "senior_allowance_roster",
        "resident_id",
        SENIOR,
        record(
            "civil_affairs",
            "senior_allowance_roster",
            "b-roster-11",
            15,
            &[],
        ),
    );
    let revocation = recheck(&r, common::packages(), &world, at(2026, 11, 20, 9))
        .unwrap()
        .unwrap();
    assert_eq!(revocation.conditions, ["not_receiving"]);
    assert_eq!(revocation.receipt_id, r.receipt_id);
    assert!(revocation.reasons.last().unwrap().contains("撤销"));
    assert_eq!(
        revocation.facts["在发放名册"].value,
        Some(Datum::Bool(true))
    );

    // Only commitments can be rechecked.
    let plain_world = senior_world();
    let plain = decide(
        common::packages(),
        &senior_application(),
        &plain_world,
        at(2026, 10, 31, 10),
    )
    .unwrap();
    assert!(matches!(
        recheck(
            &plain,
            common::packages(),
            &plain_world,
            at(2026, 11, 20, 9)
        ),
        Err(DecideError::NotOnCommitment(_))
    ));
}

#[test]
fn parties_are_found_through_the_form_and_the_certificate() {
    let mother = "44030419950308124X";
    let father = "440304199307211131";
    let child = "440304202609151212";
    let mut world = InMemoryFacts::new();
    world.add(
        "birth_certificates",
        "certificate_no",
        "O440304261234",
        record(
            "health",
            "birth_certificates",
            "b-birth",
            30,
            &[
                ("certificate_no", text("O440304261234")),
                ("birth_date", Datum::Date(date(2026, 9, 15))),
                ("mother_id", text(mother)),
                // Lower-case x and all: party keys from facts are parsed leniently.
                ("father_id", text(father)),
            ],
        ),
    );
    world.add(
        "hukou_residents",
        "resident_id",
        mother,
        record(
            "police",
            "hukou_residents",
            "b-hukou",
            30,
            &[("status", text("1"))],
        ),
    );
    world.add(
        "marriage_registrations",
        "wife_id",
        mother,
        record(
            "civil_affairs",
            "marriage_registrations",
            "b-marriage",
            30,
            &[("husband_id", text(father)), ("kind", text("IA"))],
        ),
    );
    for r in ["residence_registrations", "dishonest_debtors"] {
        world.delivered(r, at(2026, 10, 30, 2));
    }
    let app = Application {
        matter: "newborn_hukou".into(),
        application_date: date(2026, 10, 31),
        applicant: SubjectKey::parse(miaopi_decide::PartyKind::Person, mother).unwrap(),
        parties: BTreeMap::new(),
        form: [
            ("出生医学证明编号".to_owned(), text("O440304261234")),
            ("新生儿姓名".to_owned(), text("张小明")),
            ("新生儿身份证号".to_owned(), text(child)),
        ]
        .into(),
        commitments: Vec::new(),
        accept_pending_materials: false,
        prior_false_commitment: false,
        backdated: None,
    };
    let r = decide(common::packages(), &app, &world, at(2026, 10, 31, 10)).unwrap();
    assert_eq!(r.outcome.kind(), OutcomeKind::Approved, "{:#?}", r.reasons);
    assert_eq!(r.parties["father"].as_ref().unwrap().as_str(), father);
    assert_eq!(
        r.parties["certificate"].as_ref().unwrap().as_str(),
        "O440304261234"
    );
    assert_eq!(r.facts["父亲身份证号"].value, Some(text(father)));
    // The father has neither a hukou nor a residence record: known absent, not missing.
    assert_eq!(r.facts["父亲有户籍记录"].value, Some(Datum::Bool(false)));
}

struct WrongType;

impl FactSource for WrongType {
    fn fetch(
        &self,
        _: &Subject,
        binding: &FactBinding,
        _: DateTime<FixedOffset>,
    ) -> Result<FactValue, FactSourceError> {
        if binding.resource == "death_registrations" {
            return Err(FactSourceError::Unavailable {
                resource: binding.resource.clone(),
                message: "timeout".into(),
            });
        }
        Ok(FactValue::known(text("not what was bound"), vec![]))
    }
}

#[test]
fn source_failures_and_bad_values_are_errors_not_rejections() {
    let e = decide(
        common::packages(),
        &senior_application(),
        &WrongType,
        at(2026, 10, 31, 10),
    )
    .unwrap_err();
    assert!(
        matches!(e, DecideError::FactType { .. } | DecideError::FactSource(_)),
        "{e}"
    );
}

#[test]
fn malformed_applications_are_refused() {
    let world = senior_world();
    let mut app = senior_application();
    app.form.insert("备注".into(), text("x"));
    assert!(matches!(
        decide(common::packages(), &app, &world, at(2026, 10, 31, 10)),
        Err(DecideError::InvalidApplication(_))
    ));
    let mut app = senior_application();
    app.commitments = vec!["age".into()];
    assert!(matches!(
        decide(common::packages(), &app, &world, at(2026, 10, 31, 10)),
        Err(DecideError::InvalidApplication(_))
    ));
    let mut app = senior_application();
    app.accept_pending_materials = true;
    assert!(matches!(
        decide(common::packages(), &app, &world, at(2026, 10, 31, 10)),
        Err(DecideError::InvalidApplication(_))
    ));
    let mut app = senior_application();
    app.application_date = date(2023, 12, 31);
    assert!(matches!(
        decide(common::packages(), &app, &world, at(2026, 10, 31, 10)),
        Err(DecideError::NoVersionInForce { .. })
    ));
}

#[test]
fn application_dates_are_today_or_an_officers_backdating_within_the_window() {
    let world = senior_world();
    let decided = at(2026, 10, 31, 10);
    // The day after the decision (and a decade after): never.
    for future in [date(2026, 11, 1), date(2036, 1, 1)] {
        let mut app = senior_application();
        app.application_date = future;
        let e = decide(common::packages(), &app, &world, decided).unwrap_err();
        assert!(
            matches!(e, DecideError::FutureApplicationDate { date: asked, today }
                if asked == future && today == date(2026, 10, 31)),
            "{e:?}"
        );
        assert_eq!(e.client_code(), Some("future_application_date"));
    }
    // 00:30 on 1 November in Shanghai is still 31 October in UTC: the Shanghai day counts.
    let mut app = senior_application();
    app.application_date = date(2026, 11, 1);
    let early_morning = shanghai()
        .with_ymd_and_hms(2026, 11, 1, 0, 30, 0)
        .single()
        .unwrap();
    assert!(decide(common::packages(), &app, &world, early_morning).is_ok());

    // A day earlier: only an officer's backdating with a reason.
    let mut app = senior_application();
    app.application_date = date(2026, 10, 30);
    let e = decide(common::packages(), &app, &world, decided).unwrap_err();
    assert_eq!(e.client_code(), Some("backdate_counter_only"), "{e}");
    app.backdated = Some(Backdating {
        officer: "window-07".into(),
        reason: "  ".into(),
    });
    let e = decide(common::packages(), &app, &world, decided).unwrap_err();
    assert_eq!(e, DecideError::BackdateReasonRequired);
    let reason = "申请人 10 月 30 日到窗口递交纸质申请，系统维护未能当日录入";
    app.backdated = Some(Backdating {
        officer: "window-07".into(),
        reason: reason.into(),
    });
    let r = decide(common::packages(), &app, &world, decided).unwrap();
    assert_eq!(r.application.backdated.as_ref().unwrap().reason, reason);
    assert!(r.id_is_valid(), "the backdating is part of the receipt");

    // The window is the package's (30 days unless it says otherwise): 1 October is the
    // earliest date on 31 October, 30 September is too early.
    let window = common::package("senior_allowance")
        .manifest
        .backdate_window_days;
    assert_eq!(
        window,
        miaopi_decide::manifest::DEFAULT_BACKDATE_WINDOW_DAYS
    );
    app.application_date = date(2026, 10, 1);
    assert!(decide(common::packages(), &app, &world, decided).is_ok());
    app.application_date = date(2026, 9, 30);
    let e = decide(common::packages(), &app, &world, decided).unwrap_err();
    assert!(
        matches!(e, DecideError::BackdateBeyondWindow { earliest, window_days: 30, .. }
            if earliest == date(2026, 10, 1)),
        "{e:?}"
    );
    // A reason is bounded.
    app.application_date = date(2026, 10, 30);
    app.backdated = Some(Backdating {
        officer: "window-07".into(),
        reason: "理".repeat(miaopi_decide::decide::BACKDATE_REASON_MAX_CHARS + 1),
    });
    assert!(matches!(
        decide(common::packages(), &app, &world, decided),
        Err(DecideError::InvalidApplication(_))
    ));
}

#[test]
fn the_dsntk_version_recorded_is_the_one_built() {
    let lock = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"),
    )
    .unwrap();
    let block = lock
        .split("[[package]]")
        .find(|b| b.contains("name = \"dsntk-model-evaluator\""))
        .unwrap();
    assert!(
        block.contains(&format!(
            "version = \"{}\"",
            miaopi_decide::engine::DSNTK_VERSION
        )),
        "{block}"
    );
}

#[test]
fn each_matter_declares_its_period_and_repeats_are_told_apart_from_changes() {
    use miaopi_decide::{decides_alike, period_of};
    let senior = senior_application();
    assert_eq!(
        period_of(common::package("senior_allowance"), &senior).as_deref(),
        Some("lifetime")
    );
    let mut disability = senior.clone();
    disability.matter = "disability_subsidies".into();
    assert_eq!(
        period_of(common::package("disability_subsidies"), &disability).as_deref(),
        Some("year:2026")
    );
    let mut newborn = senior.clone();
    newborn.matter = "newborn_hukou".into();
    let package = common::package("newborn_hukou");
    assert_eq!(
        period_of(package, &newborn),
        None,
        "no certificate number, no event"
    );
    newborn
        .form
        .insert("出生医学证明编号".into(), text("O440304261234"));
    assert_eq!(
        period_of(package, &newborn).as_deref(),
        Some("event:O440304261234")
    );

    // The same facts an hour later decide alike; a changed fact does not.
    let world = senior_world();
    let first = decide(common::packages(), &senior, &world, at(2026, 10, 31, 9)).unwrap();
    let again = decide(common::packages(), &senior, &world, at(2026, 10, 31, 10)).unwrap();
    assert_ne!(first.receipt_id, again.receipt_id);
    assert!(decides_alike(&first, &again));
    let mut changed = again.clone();
    changed.facts.get_mut("有死亡登记").unwrap().value = Some(Datum::Bool(true));
    assert!(!decides_alike(&first, &changed));
}

/// The platform's approvals in force, next to department records (what the platform's fact
/// source adds): here, approvals of the senior allowance, filed under their applicant.
struct WithApprovals<'a> {
    facts: &'a InMemoryFacts,
    approvals: Vec<miaopi_decide::ApprovalInForce>,
}

impl FactSource for WithApprovals<'_> {
    fn fetch(
        &self,
        subject: &Subject,
        binding: &FactBinding,
        at: DateTime<FixedOffset>,
    ) -> Result<FactValue, FactSourceError> {
        self.facts.fetch(subject, binding, at)
    }

    fn approvals_in_force(
        &self,
        matter: &str,
        role: &str,
        key: &SubjectKey,
    ) -> Vec<miaopi_decide::ApprovalInForce> {
        self.approvals
            .iter()
            .filter(|a| a.matter == matter && role == "applicant" && &a.applicant == key)
            .cloned()
            .collect()
    }
}

/// The senior world a month on: every resource delivered again on 24 November, the roster
/// listing the senior from `start` (a row that arrived on the 20th).
fn senior_world_with_roster_from(start: miaopi_decide::YearMonth) -> InMemoryFacts {
    let mut f = senior_world();
    let mut row = record(
        "civil_affairs",
        "senior_allowance_roster",
        "b-roster-1120",
        1,
        &[
            ("resident_id", text(SENIOR)),
            ("start_month", Datum::Month(start)),
            ("amount", Datum::Decimal("200".into())),
        ],
    );
    row.provenance.ingested_at = at(2026, 11, 20, 2);
    f.add("senior_allowance_roster", "resident_id", SENIOR, row);
    for r in [
        "hukou_residents",
        "residence_registrations",
        "death_registrations",
        "dishonest_debtors",
    ] {
        f.delivered(r, at(2026, 11, 24, 2));
    }
    f
}

/// 本平台决定计入 (`fed_by`): the roster row that an approval made here caused does not undo it
/// when the senior applies again; a row that started before the approval still says "already
/// receiving".
#[test]
fn an_approval_in_force_is_not_undone_by_the_roster_row_it_caused() {
    let packages = common::packages();
    let first = decide(
        packages,
        &senior_application(),
        &senior_world(),
        at(2026, 10, 31, 10),
    )
    .unwrap();
    assert_eq!(first.outcome.kind(), OutcomeKind::Approved);
    let own = miaopi_decide::ApprovalInForce {
        receipt_id: first.receipt_id.clone(),
        matter: "senior_allowance".into(),
        unit: "civil_affairs".into(),
        applicant: first.application.applicant.clone(),
        period: Some("lifetime".into()),
        decided_at: first.decided_at,
        application_date: first.application.application_date,
    };
    let again = Application {
        application_date: date(2026, 11, 25),
        ..senior_application()
    };
    let later = at(2026, 11, 25, 10);
    let from_november = senior_world_with_roster_from(miaopi_decide::YearMonth {
        year: 2026,
        month: 11,
    });

    // Department data alone: the roster row caused by the approval reads as "already
    // receiving" — a re-decision would revoke the platform's own approval.
    let blind = decide(packages, &again, &from_november, later).unwrap();
    assert_eq!(
        blind.outcome.kind(),
        OutcomeKind::Rejected,
        "{:?}",
        blind.reasons
    );

    // Knowing the approval in force: the row is its effect, and the decision stands.
    let seeing = WithApprovals {
        facts: &from_november,
        approvals: vec![own.clone()],
    };
    let r = decide(packages, &again, &seeing, later).unwrap();
    assert_eq!(r.outcome.kind(), OutcomeKind::Approved, "{:?}", r.reasons);
    assert!(miaopi_decide::decides_alike(&first, &r));

    // A roster row that started in September was not caused by an October approval.
    let from_september = senior_world_with_roster_from(miaopi_decide::YearMonth {
        year: 2026,
        month: 9,
    });
    let seeing = WithApprovals {
        facts: &from_september,
        approvals: vec![own.clone()],
    };
    let r = decide(packages, &again, &seeing, later).unwrap();
    assert_eq!(r.outcome.kind(), OutcomeKind::Rejected, "{:?}", r.reasons);

    // Another applicant's approval is no effect of this one: for someone else the senior's
    // approval (were it filed under them) counts, and names the receipt.
    let mut other = own;
    other.receipt_id = "f".repeat(64);
    other.period = None;
    let seeing = WithApprovals {
        facts: &senior_world(),
        approvals: vec![other],
    };
    let r = decide(
        packages,
        &senior_application(),
        &seeing,
        at(2026, 10, 31, 10),
    )
    .unwrap();
    assert_eq!(r.outcome.kind(), OutcomeKind::Rejected, "{:?}", r.reasons);
    let receiving = r
        .conditions
        .iter()
        .find(|c| c.code == "not_receiving")
        .unwrap();
    assert!(
        receiving
            .reason
            .contains("本平台2026-10-31批准（回执 ffffffffffffffff…）"),
        "{}",
        receiving.reason
    );
}

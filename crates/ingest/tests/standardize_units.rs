//! The standardiser's rules, one by one, on hand-made records of the Futian pack's resources:
//! every accepted spelling of dates, months, numbers, booleans, codes, IDs, names and
//! addresses, and every rejection with its code and Chinese message.

use std::path::Path;
use std::sync::OnceLock;

use chrono::NaiveDate;
use miaopi_catalog::{Pack, Resource};
use miaopi_ingest::standardize::{format_decimal, reason};
use miaopi_ingest::{
    AddressNormaliser, FixKind, KeyStatus, Outcome, RawRecord, RawValue, Standardizer, Value,
    normalise_address,
};
use miaopi_model::{ResidentId, Uscc};

fn pack() -> &'static Pack {
    static PACK: OnceLock<Pack> = OnceLock::new();
    PACK.get_or_init(|| {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../packs/futian"));
        Pack::load(dir).unwrap_or_else(|e| panic!("pack: {e:?}"))
    })
}

fn resource(code: &str) -> &'static Resource {
    pack()
        .resource(code)
        .unwrap_or_else(|| panic!("no resource {code}"))
}

fn standardizer(code: &str) -> Standardizer {
    Standardizer::new(pack(), resource(code)).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A valid ID born on `birth`, male when `male`.
fn id(birth: NaiveDate, male: bool) -> ResidentId {
    let seq = if male { 101 } else { 102 };
    ResidentId::from_parts(440304, birth, seq).unwrap()
}

/// A valid ID ending in X.
fn id_ending_x() -> ResidentId {
    // Odd sequences: a man, as the default record says.
    (100..999)
        .filter(|seq| seq % 2 == 1)
        .filter_map(|seq| ResidentId::from_parts(440304, date(1985, 6, 15), seq).ok())
        .find(|id| id.as_str().ends_with('X'))
        .unwrap()
}

fn text(s: &str) -> RawValue {
    RawValue::Text(s.to_string())
}

/// A record of `resource` with the given values by field name, the others null.
fn record(resource: &Resource, values: &[(&str, RawValue)]) -> RawRecord {
    for (name, _) in values {
        assert!(
            resource.field(name).is_some(),
            "{} has no field {name}",
            resource.code
        );
    }
    RawRecord {
        line: 2,
        record: 1,
        values: resource
            .fields
            .iter()
            .map(|f| {
                values
                    .iter()
                    .find(|(n, _)| *n == f.name)
                    .map_or(RawValue::Null, |(_, v)| v.clone())
            })
            .collect(),
        raw: String::new(),
    }
}

/// A clean 户籍人口 record of a man born 1990-01-02, with `overrides`.
fn hukou(overrides: &[(&str, RawValue)]) -> RawRecord {
    let person = id(date(1990, 1, 2), true);
    let mut values = vec![
        ("resident_id", text(person.as_str())),
        ("name", text("张伟")),
        ("sex", text("1")),
        ("ethnicity", text("01")),
        ("birth_date", text("1990-01-02")),
        ("household_no", text("H0001")),
        ("relation_to_head", text("02")),
        ("address_code", text("4403040010010000001")),
        ("moved_in_on", RawValue::Null),
        ("status", text("1")),
    ];
    for (name, v) in overrides {
        match values.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = v.clone(),
            None => values.push((name, v.clone())),
        }
    }
    record(resource("hukou_residents"), &values)
}

struct Accepted {
    values: Vec<Value>,
    fixes: Vec<(String, FixKind)>,
    keys: Vec<(String, KeyStatus)>,
    resource: &'static Resource,
}

impl Accepted {
    fn value(&self, field: &str) -> &Value {
        let i = self
            .resource
            .fields
            .iter()
            .position(|f| f.name == field)
            .unwrap();
        &self.values[i]
    }

    fn key(&self, field: &str) -> &KeyStatus {
        &self.keys.iter().find(|(n, _)| n == field).unwrap().1
    }

    fn fixes_of(&self, field: &str) -> Vec<FixKind> {
        self.fixes
            .iter()
            .filter(|(f, _)| f == field)
            .map(|(_, k)| *k)
            .collect()
    }
}

fn accept(code: &str, rec: &RawRecord) -> Accepted {
    match standardizer(code).standardize(rec) {
        Outcome::Accepted {
            values,
            fixes,
            keys,
        } => Accepted {
            values,
            fixes: fixes
                .into_iter()
                .map(|f| (f.field.to_string(), f.kind))
                .collect(),
            keys: keys.into_iter().map(|(n, k)| (n.to_string(), k)).collect(),
            resource: resource(code),
        },
        Outcome::Rejected { reasons } => panic!("rejected: {reasons:?}"),
    }
}

/// (field, code, message) of every reason.
fn reject(code: &str, rec: &RawRecord) -> Vec<(String, &'static str, String)> {
    match standardizer(code).standardize(rec) {
        Outcome::Rejected { reasons } => reasons
            .into_iter()
            .map(|r| {
                (
                    r.field.map(|f| f.to_string()).unwrap_or_default(),
                    r.code,
                    r.message_zh,
                )
            })
            .collect(),
        Outcome::Accepted { values, .. } => panic!("accepted: {values:?}"),
    }
}

// ------------------------------------------------------------------------------ records

#[test]
fn a_clean_record_is_accepted_unchanged() {
    let a = accept("hukou_residents", &hukou(&[]));
    assert!(a.fixes.is_empty(), "{:?}", a.fixes);
    assert_eq!(a.value("name"), &Value::Str("张伟".into()));
    assert_eq!(a.value("birth_date"), &Value::Date(date(1990, 1, 2)));
    assert_eq!(a.value("moved_in_on"), &Value::Null);
    assert_eq!(a.key("resident_id"), &KeyStatus::Valid);
    assert_eq!(a.key("address_code"), &KeyStatus::Valid);
    assert_eq!(a.keys.len(), 2);
}

#[test]
fn owned_values_give_the_same_outcome() {
    let s = standardizer("hukou_residents");
    for rec in [
        hukou(&[]),
        hukou(&[("name", text(" 陳 偉 ")), ("sex", text("男"))]),
        hukou(&[("birth_date", text("2023-02-30"))]),
    ] {
        assert_eq!(
            s.standardize(&rec),
            s.standardize_values(rec.values.clone())
        );
    }
}

#[test]
fn every_reason_is_reported() {
    let reasons = reject(
        "hukou_residents",
        &hukou(&[
            ("name", text("   ")),
            ("sex", text("X")),
            ("birth_date", text("2023-02-30")),
            ("moved_in_on", text("1800-01-01")),
            ("ethnicity", RawValue::Null),
        ]),
    );
    let codes: Vec<(&str, &str)> = reasons.iter().map(|(f, c, _)| (f.as_str(), *c)).collect();
    assert_eq!(
        codes,
        [
            ("name", reason::MISSING_REQUIRED),
            ("sex", reason::UNKNOWN_CODE),
            ("ethnicity", reason::MISSING_REQUIRED),
            ("birth_date", reason::INVALID_DATE),
            ("moved_in_on", reason::DATE_OUT_OF_RANGE),
        ]
    );
    let messages: Vec<&str> = reasons.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(messages[0], "姓名为必填项，但值为空");
    assert_eq!(messages[1], "性别「X」不在代码表 性别 中");
    assert_eq!(messages[3], "出生日期「2023-02-30」不是有效日期");
    assert_eq!(messages[4], "迁入日期「1800-01-01」超出 1900–2100 年的范围");
}

#[test]
fn a_wrong_number_of_values_is_rejected() {
    let mut rec = hukou(&[]);
    rec.values.pop();
    let reasons = reject("hukou_residents", &rec);
    assert_eq!(reasons[0].1, reason::WRONG_FIELD_COUNT);
    assert_eq!(reasons[0].0, "");
}

#[test]
fn too_long_values_are_rejected() {
    let mut r = resource("hukou_residents").clone();
    r.fields
        .iter_mut()
        .find(|f| f.name == "household_no")
        .unwrap()
        .max_length = Some(4);
    let s = Standardizer::new(pack(), &r).unwrap();
    let Outcome::Rejected { reasons } = s.standardize(&hukou(&[("household_no", text("H00001"))]))
    else {
        panic!("accepted")
    };
    assert_eq!(reasons[0].code, reason::TOO_LONG);
    assert_eq!(reasons[0].message_zh, "户号「H00001」长度为 6，超过上限 4");
    // Within the limit after trimming: accepted.
    assert!(
        s.standardize(&hukou(&[("household_no", text(" H001 "))]))
            .is_accepted()
    );
}

// ------------------------------------------------------------------------------ dates

#[test]
fn dates_in_every_style() {
    let want = Value::Date(date(1990, 1, 2));
    for (raw, fixed) in [
        (text("1990-01-02"), false),
        (text(" 1990-01-02 "), true),
        (text("1990/1/2"), true),
        (text("1990.1.2"), true),
        (text("19900102"), true),
        (text("1990年1月2日"), true),
        (text("１９９０－０１－０２"), true),
        (text("1990-01-02 08:30:00"), true),
        (text("1990-01-02T08:30:00"), true),
        (RawValue::Date(date(1990, 1, 2)), false),
        // Excel serial days (epoch 1899-12-30), with and without a time of day.
        (RawValue::Int(32875), true),
        (RawValue::Float(32875.5), true),
        // A YYYYMMDD number typed into a numeric cell.
        (RawValue::Int(19900102), true),
    ] {
        let a = accept("hukou_residents", &hukou(&[("birth_date", raw.clone())]));
        assert_eq!(a.value("birth_date"), &want, "{raw:?}");
        assert_eq!(
            !a.fixes_of("birth_date").is_empty(),
            fixed,
            "{raw:?}: {:?}",
            a.fixes
        );
    }
    let a = accept(
        "hukou_residents",
        &hukou(&[("birth_date", RawValue::Int(32875))]),
    );
    assert_eq!(a.fixes_of("birth_date"), [FixKind::ExcelSerialDate]);
    let a = accept(
        "hukou_residents",
        &hukou(&[("birth_date", text("1990/1/2"))]),
    );
    assert_eq!(a.fixes_of("birth_date"), [FixKind::DateFormat]);
}

#[test]
fn impossible_dates_are_rejected() {
    for bad in [
        "2023-02-30",
        "2021-13-01",
        "0000-00-00",
        "2019-04-31",
        "明天",
        "1990-1-2x",
    ] {
        let reasons = reject("hukou_residents", &hukou(&[("moved_in_on", text(bad))]));
        assert_eq!(reasons.len(), 1, "{bad}");
        assert_eq!(reasons[0].1, reason::INVALID_DATE, "{bad}");
        assert_eq!(reasons[0].2, format!("迁入日期「{bad}」不是有效日期"));
    }
    for bad in [
        RawValue::Bool(true),
        RawValue::Int(0),
        RawValue::Float(-3.0),
    ] {
        let reasons = reject("hukou_residents", &hukou(&[("moved_in_on", bad.clone())]));
        assert_eq!(reasons[0].1, reason::INVALID_DATE, "{bad:?}");
    }
    for bad in [
        text("1899-12-31"),
        text("2101-01-01"),
        RawValue::Date(date(1066, 10, 14)),
        RawValue::Int(1),
    ] {
        let reasons = reject("hukou_residents", &hukou(&[("moved_in_on", bad.clone())]));
        assert_eq!(reasons[0].1, reason::DATE_OUT_OF_RANGE, "{bad:?}");
    }
}

// ------------------------------------------------------------------------------ months, numbers, booleans

fn allowance(start_month: RawValue, amount: RawValue) -> RawRecord {
    record(
        resource("minimum_living_allowance"),
        &[
            ("family_no", text("DB0001")),
            ("resident_id", text(id(date(1960, 3, 4), false).as_str())),
            ("name", text("李芳")),
            ("start_month", start_month),
            ("amount", amount),
        ],
    )
}

#[test]
fn months_in_every_style() {
    for (raw, fixed) in [
        (text("2024-05"), false),
        (text("2024/5"), true),
        (text("202405"), true),
        (text("2024年5月"), true),
        (text("2024-05-01"), true),
        (text("2024.05"), true),
        (RawValue::Date(date(2024, 5, 1)), true),
        (RawValue::Int(202405), true),
    ] {
        let a = accept(
            "minimum_living_allowance",
            &allowance(raw.clone(), text("1200.00")),
        );
        assert_eq!(
            a.value("start_month"),
            &Value::Month("2024-05".into()),
            "{raw:?}"
        );
        let fixes = a.fixes_of("start_month");
        assert_eq!(fixes == [FixKind::MonthFormat], fixed, "{raw:?}: {fixes:?}");
    }
    for bad in ["2024-13", "2024", "五月", "2024-05-32"] {
        let reasons = reject("minimum_living_allowance", &allowance(text(bad), text("1")));
        assert_eq!(reasons[0].1, reason::INVALID_MONTH, "{bad}");
        assert_eq!(
            reasons[0].2,
            format!("开始月份「{bad}」不是有效年月（应为 YYYY-MM）")
        );
    }
}

#[test]
fn decimals_are_exact() {
    for (raw, fixed) in [
        (text("1234.50"), false),
        (text("1234.5"), false),
        (text("1,234.50"), true),
        (text("１２３４.５"), true),
        (RawValue::Float(1234.5), false),
        (
            RawValue::Decimal {
                value: 123_450,
                scale: 2,
            },
            false,
        ),
        (
            RawValue::Decimal {
                value: 1_234_500_000_000,
                scale: 9,
            },
            false,
        ),
    ] {
        let a = accept(
            "minimum_living_allowance",
            &allowance(text("2024-05"), raw.clone()),
        );
        assert_eq!(a.value("amount"), &Value::Decimal(1_234_500_000), "{raw:?}");
        assert_eq!(
            a.fixes_of("amount") == [FixKind::NumberFormat],
            fixed,
            "{raw:?}"
        );
    }
    let a = accept(
        "minimum_living_allowance",
        &allowance(text("2024-05"), RawValue::Int(800)),
    );
    assert_eq!(a.value("amount"), &Value::Decimal(800_000_000));
    // 0.1 + 0.2 as a spreadsheet computes it is still 0.3.
    let a = accept(
        "minimum_living_allowance",
        &allowance(text("2024-05"), RawValue::Float(0.1 + 0.2)),
    );
    assert_eq!(a.value("amount"), &Value::Decimal(300_000));
    assert_eq!(format_decimal(1_234_500_000), "1234.5");
    assert_eq!(format_decimal(-500_000), "-0.5");
    assert_eq!(format_decimal(7_000_000), "7");
    for bad in [
        text("abc"),
        text("1.0000001"),
        RawValue::Bool(true),
        RawValue::Float(f64::NAN),
    ] {
        let reasons = reject(
            "minimum_living_allowance",
            &allowance(text("2024-05"), bad.clone()),
        );
        assert_eq!(reasons[0].1, reason::INVALID_DECIMAL, "{bad:?}");
    }
    let reasons = reject(
        "minimum_living_allowance",
        &allowance(text("2024-05"), text("abc")),
    );
    assert_eq!(reasons[0].2, "月保障金额「abc」不是有效数值");
    // The field is in 元 (`unit = "yuan"`): a unit written with the amount is read and
    // converted; an area unit is not money.
    let a = accept(
        "minimum_living_allowance",
        &allowance(text("2024-05"), text("人民币0.12万元")),
    );
    assert_eq!(a.value("amount"), &Value::Decimal(1_200_000_000));
    assert_eq!(a.fixes_of("amount"), [FixKind::UnitConverted]);
    let reasons = reject(
        "minimum_living_allowance",
        &allowance(text("2024-05"), text("12㎡")),
    );
    assert_eq!(reasons[0].1, reason::WRONG_UNIT);
    assert_eq!(reasons[0].2, "月保障金额「12㎡」的单位「㎡」无法换算为元");
}

#[test]
fn integers() {
    let rec = |points: RawValue| {
        record(
            resource("driving_score_cycles"),
            &[
                ("resident_id", text(id(date(1980, 1, 1), true).as_str())),
                ("cycle_start", text("2025/5/20")),
                ("cycle_end", text("2026/5/19")),
                ("points", points),
            ],
        )
    };
    for (raw, fixed) in [
        (text("12"), false),
        (text("１２"), true),
        (text("12.0"), true),
        (RawValue::Int(12), false),
        (RawValue::Float(12.0), false),
        (
            RawValue::Decimal {
                value: 1200,
                scale: 2,
            },
            false,
        ),
    ] {
        let a = accept("driving_score_cycles", &rec(raw.clone()));
        assert_eq!(a.value("points"), &Value::Int(12), "{raw:?}");
        assert_eq!(
            a.fixes_of("points") == [FixKind::NumberFormat],
            fixed,
            "{raw:?}"
        );
    }
    for bad in [
        text("12.5"),
        text("十二"),
        RawValue::Float(12.5),
        text("99999999999999999999"),
    ] {
        let reasons = reject("driving_score_cycles", &rec(bad.clone()));
        assert_eq!(reasons[0].1, reason::INVALID_INTEGER, "{bad:?}");
    }
    let reasons = reject("driving_score_cycles", &rec(text("十二")));
    assert_eq!(reasons[0].2, "累积记分「十二」不是有效整数");
}

#[test]
fn booleans() {
    let rec = |full_time: RawValue| {
        record(
            resource("education_degrees"),
            &[
                ("certificate_no", text("1055812020000123")),
                ("resident_id", text(id(date(1998, 9, 1), false).as_str())),
                ("name", text("王静")),
                ("education_level", text("21")),
                ("institution", text("深圳大学")),
                ("graduated_on", RawValue::Date(date(2020, 6, 30))),
                ("full_time", full_time),
            ],
        )
    };
    for (raw, want) in [
        (RawValue::Bool(true), true),
        (text("是"), true),
        (text("否"), false),
        (text("true"), true),
        (text("FALSE"), false),
        (text("Y"), true),
        (text("n"), false),
        (text("1"), true),
        (RawValue::Int(0), false),
    ] {
        let a = accept("education_degrees", &rec(raw.clone()));
        assert_eq!(a.value("full_time"), &Value::Bool(want), "{raw:?}");
    }
    for bad in [text("maybe"), text("2"), RawValue::Int(2)] {
        let reasons = reject("education_degrees", &rec(bad.clone()));
        assert_eq!(reasons[0].1, reason::INVALID_BOOLEAN, "{bad:?}");
    }
    let reasons = reject("education_degrees", &rec(text("maybe")));
    assert_eq!(reasons[0].2, "全日制「maybe」不是有效的是/否值");
}

// ------------------------------------------------------------------------------ code tables

#[test]
fn code_tables_accept_codes_labels_and_aliases() {
    for (raw, want, fixed) in [
        ("1", "1", false),
        (" 1 ", "1", true),
        ("男", "1", true),
        ("男性", "1", true),
        ("１", "1", true),
    ] {
        let a = accept("hukou_residents", &hukou(&[("sex", text(raw))]));
        assert_eq!(a.value("sex"), &Value::Str(want.into()), "{raw}");
        assert_eq!(!a.fixes_of("sex").is_empty(), fixed, "{raw}");
    }
    let a = accept("hukou_residents", &hukou(&[("sex", text("男"))]));
    assert_eq!(a.fixes_of("sex"), [FixKind::CodeLabelToCode]);
    let a = accept(
        "hukou_residents",
        &hukou(&[
            ("ethnicity", text("汉族")),
            ("relation_to_head", text("户主")),
        ]),
    );
    assert_eq!(a.value("ethnicity"), &Value::Str("01".into()));
    assert_eq!(a.value("relation_to_head"), &Value::Str("02".into()));
}

#[test]
fn full_width_brackets_in_labels_match() {
    let rec = |level: &str| {
        record(
            resource("education_degrees"),
            &[
                ("certificate_no", text("1")),
                ("name", text("王静")),
                ("education_level", text(level)),
                ("institution", text("哈尔滨工业大学（深圳）")),
                ("graduated_on", RawValue::Date(date(2020, 6, 30))),
                ("full_time", RawValue::Bool(true)),
            ],
        )
    };
    for level in ["研究生(博士)", "研究生（博士）", "博士研究生", "11"] {
        let a = accept("education_degrees", &rec(level));
        assert_eq!(
            a.value("education_level"),
            &Value::Str("11".into()),
            "{level}"
        );
        // The institution's full-width brackets are correct Chinese typography: kept.
        assert_eq!(
            a.value("institution"),
            &Value::Str("哈尔滨工业大学（深圳）".into())
        );
    }
}

#[test]
fn street_and_community_tables_come_from_the_regions() {
    let rec = |street: &str, community: &str| {
        record(
            resource("standard_addresses"),
            &[
                ("address_code", text("4403040010010000001")),
                ("street_code", text(street)),
                ("community_code", text(community)),
                ("road", text("深南路")),
                ("house_number", text("1号")),
                (
                    "full_address",
                    text("深圳市福田区南园街道南华社区深南路1号"),
                ),
                ("longitude", text("114.050000")),
                ("latitude", text("22.540000")),
            ],
        )
    };
    for (street, community) in [
        ("440304001", "440304001001"),
        ("南园街道", "南华社区"),
        ("南园", "南华"),
    ] {
        let a = accept("standard_addresses", &rec(street, community));
        assert_eq!(a.value("street_code"), &Value::Str("440304001".into()));
        assert_eq!(
            a.value("community_code"),
            &Value::Str("440304001001".into())
        );
        assert_eq!(a.value("longitude"), &Value::Decimal(114_050_000));
        assert_eq!(a.key("building_code"), &KeyStatus::Missing);
    }
    let reasons = reject("standard_addresses", &rec("440304999", "440304001001"));
    assert_eq!(reasons[0].1, reason::UNKNOWN_CODE);
    assert_eq!(reasons[0].2, "街道「440304999」不在代码表 街道 中");
}

// ------------------------------------------------------------------------------ IDs

#[test]
fn lenient_ids_are_repaired() {
    let x = id_ending_x();
    let lower = x.as_str().replace('X', "x");
    let a = accept(
        "hukou_residents",
        &hukou(&[
            ("resident_id", text(&lower)),
            ("birth_date", text("1985-06-15")),
        ]),
    );
    assert_eq!(a.value("resident_id"), &Value::Str(x.to_string()));
    assert_eq!(a.fixes_of("resident_id"), [FixKind::IdLowercaseX]);
    assert_eq!(a.key("resident_id"), &KeyStatus::Valid);

    let person = id(date(1990, 1, 2), true);
    let legacy = person.to_legacy_15().unwrap();
    let a = accept("hukou_residents", &hukou(&[("resident_id", text(&legacy))]));
    assert_eq!(a.value("resident_id"), &Value::Str(person.to_string()));
    assert_eq!(a.fixes_of("resident_id"), [FixKind::IdUpgraded15]);

    let full: String = person
        .as_str()
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
        .collect();
    let a = accept(
        "hukou_residents",
        &hukou(&[("resident_id", text(&format!(" {full} ")))]),
    );
    assert_eq!(a.value("resident_id"), &Value::Str(person.to_string()));
    assert_eq!(
        a.fixes_of("resident_id"),
        [FixKind::Trimmed, FixKind::IdFullWidth]
    );
}

#[test]
fn invalid_ids_are_accepted_with_an_invalid_key() {
    let person = id(date(1990, 1, 2), true);
    let mut wrong = person.to_string();
    let last = if wrong.ends_with('0') { "1" } else { "0" };
    wrong.replace_range(17.., last);
    let a = accept(
        "hukou_residents",
        &hukou(&[("resident_id", text(&format!("{wrong} ")))]),
    );
    assert_eq!(a.value("resident_id"), &Value::Str(wrong.clone()));
    let KeyStatus::Invalid { code, message_zh } = a.key("resident_id") else {
        panic!("{:?}", a.key("resident_id"))
    };
    assert_eq!(*code, "id_check_mismatch");
    assert!(
        message_zh.starts_with("身份证号：校验码错误"),
        "{message_zh}"
    );

    // Adjacent digits swapped: the check fails.
    let mut swapped = person.as_str().as_bytes().to_vec();
    let i = (0..16).find(|&i| swapped[i] != swapped[i + 1]).unwrap();
    swapped.swap(i, i + 1);
    let swapped = String::from_utf8(swapped).unwrap();
    let a = accept(
        "hukou_residents",
        &hukou(&[("resident_id", text(&swapped))]),
    );
    assert!(matches!(a.key("resident_id"), KeyStatus::Invalid { .. }));

    for (bad, code) in [
        ("12345", "id_wrong_length"),
        ("44030419900102101A", "id_invalid_character"),
    ] {
        let a = accept("hukou_residents", &hukou(&[("resident_id", text(bad))]));
        assert_eq!(a.key("resident_id").code(), code, "{bad}");
    }
}

#[test]
fn missing_ids() {
    // 居住登记 may come without an ID: accepted, the key missing.
    let rec = record(
        resource("residence_registrations"),
        &[
            ("name", text("张伟")),
            ("sex", text("1")),
            ("birth_date", text("19900102")),
            ("address_code", text("4403040010010000001")),
            ("registered_on", text("20240101")),
        ],
    );
    let a = accept("residence_registrations", &rec);
    assert_eq!(a.key("resident_id"), &KeyStatus::Missing);
    assert_eq!(a.value("resident_id"), &Value::Null);
    // 户籍人口 requires it: rejected.
    let reasons = reject("hukou_residents", &hukou(&[("resident_id", text("  "))]));
    assert_eq!(reasons[0].0, "resident_id");
    assert_eq!(reasons[0].1, reason::MISSING_REQUIRED);
    assert_eq!(reasons[0].2, "身份证号为必填项，但值为空");
}

/// Two digits ten positions apart have equal GB 11643 weights: swapping them yields another
/// valid ID. The record's own birth date and sex expose it.
#[test]
fn valid_ids_that_contradict_the_record_are_invalid() {
    let person = id(date(1990, 1, 12), true);
    // Swap positions 3 and 13 (1-based): region digit ↔ first day digit.
    let mut b = person.as_str().as_bytes().to_vec();
    assert_ne!(b[2], b[12]);
    b.swap(2, 12);
    let swapped = String::from_utf8(b).unwrap();
    let parsed = ResidentId::parse(&swapped).expect("a ten-apart swap keeps the check valid");
    assert_ne!(parsed.birth_date(), date(1990, 1, 12));
    let a = accept(
        "hukou_residents",
        &hukou(&[
            ("resident_id", text(&swapped)),
            ("birth_date", text("1990-01-12")),
        ]),
    );
    let KeyStatus::Invalid { code, message_zh } = a.key("resident_id") else {
        panic!("{:?}", a.key("resident_id"))
    };
    assert_eq!(*code, reason::ID_CONFLICTS_WITH_RECORD);
    assert!(message_zh.contains("出生日期"), "{message_zh}");

    // The sex digit disagrees with the record's sex.
    let a = accept("hukou_residents", &hukou(&[("sex", text("女"))]));
    assert_eq!(
        a.key("resident_id").code(),
        reason::ID_CONFLICTS_WITH_RECORD
    );

    // A birth year beyond 2100 (the year's first digit swapped with the sex digit).
    let future = id(date(2990, 1, 2), true);
    let a = accept(
        "hukou_residents",
        &hukou(&[("resident_id", text(future.as_str()))]),
    );
    assert_eq!(
        a.key("resident_id").code(),
        reason::ID_BIRTH_DATE_OUT_OF_RANGE
    );
}

#[test]
fn role_names_imply_sex() {
    let husband = id(date(1988, 2, 3), true);
    let wife = id(date(1990, 4, 5), false);
    let rec = |h: &ResidentId, w: &ResidentId| {
        record(
            resource("marriage_registrations"),
            &[
                ("registration_no", text("J440304-2024-000001")),
                ("husband_id", text(h.as_str())),
                ("husband_name", text("张伟")),
                ("wife_id", text(w.as_str())),
                ("wife_name", text("李芳")),
                ("kind", text("结婚登记")),
                ("registered_on", RawValue::Date(date(2024, 5, 20))),
                ("office", text("福田区民政局婚姻登记处")),
            ],
        )
    };
    let a = accept("marriage_registrations", &rec(&husband, &wife));
    assert_eq!(a.key("husband_id"), &KeyStatus::Valid);
    assert_eq!(a.key("wife_id"), &KeyStatus::Valid);
    assert_eq!(a.value("kind"), &Value::Str("IA".into()));
    let a = accept("marriage_registrations", &rec(&wife, &husband));
    assert_eq!(a.key("husband_id").code(), reason::ID_CONFLICTS_WITH_RECORD);
    assert_eq!(a.key("wife_id").code(), reason::ID_CONFLICTS_WITH_RECORD);
}

#[test]
fn credit_codes_and_parties() {
    let uscc = Uscc::from_first17("91440304MA5F0000X").unwrap();
    let rec = |employer: &str| {
        record(
            resource("social_insurance_contributions"),
            &[
                ("resident_id", text(id(date(1990, 1, 2), true).as_str())),
                ("employer_uscc", text(employer)),
                ("insurance_type", text("110")),
                ("contribution_month", text("2024-05")),
                ("contribution_base", text("8000.00")),
            ],
        )
    };
    let a = accept("social_insurance_contributions", &rec(uscc.as_str()));
    assert_eq!(a.key("employer_uscc"), &KeyStatus::Valid);
    assert!(a.fixes.is_empty());
    let a = accept(
        "social_insurance_contributions",
        &rec(&uscc.as_str().to_lowercase()),
    );
    assert_eq!(a.value("employer_uscc"), &Value::Str(uscc.to_string()));
    assert_eq!(a.fixes_of("employer_uscc"), [FixKind::Uppercased]);
    let mut wrong = uscc.to_string();
    wrong.replace_range(17.., if wrong.ends_with('1') { "2" } else { "1" });
    let a = accept("social_insurance_contributions", &rec(&wrong));
    assert_eq!(a.key("employer_uscc").code(), "uscc_check_mismatch");

    let owner = |party: &str| {
        record(
            resource("property_registrations"),
            &[
                ("property_unit_no", text("440304001001GB00001F00010001")),
                ("owner_id", text(party)),
                ("owner_name", text("某某")),
                ("address_code", text("4403040010010000001")),
                ("area_m2", text("89.50")),
                ("use", text("住宅")),
                ("registered_on", text("2020-01-02")),
                ("co_ownership", text("单独所有")),
            ],
        )
    };
    let person = id(date(1970, 7, 7), false);
    for party in [person.as_str(), uscc.as_str()] {
        let a = accept("property_registrations", &owner(party));
        assert_eq!(a.key("owner_id"), &KeyStatus::Valid, "{party}");
        assert_eq!(a.value("owner_id"), &Value::Str(party.into()));
        assert_eq!(a.value("area_m2"), &Value::Decimal(89_500_000));
    }
    // A resident ID with a wrong check character that happens to pass the credit code's check
    // is still a broken resident ID, not an organisation.
    let collision = (0..10_000u32)
        .find_map(|n| {
            let first17 = format!(
                "4403041990{:02}{:02}{:03}",
                1 + n % 12,
                1 + n % 28,
                n % 1000
            );
            let id_check = miaopi_model::resident_id::check_char(first17.as_bytes()).ok()?;
            let uscc_check = miaopi_model::uscc::check_char(&first17).ok()?;
            (uscc_check.is_ascii_digit() && uscc_check as u8 != id_check)
                .then(|| format!("{first17}{uscc_check}"))
        })
        .filter(|s| ResidentId::parse(s).is_err() && Uscc::parse(s).is_ok());
    assert!(
        collision.is_some(),
        "no resident ID/credit code collision found"
    );
    if let Some(collision) = collision {
        let a = accept("property_registrations", &owner(&collision));
        assert_eq!(a.key("owner_id").code(), "id_check_mismatch", "{collision}");
    }
    let a = accept("property_registrations", &owner("ABC"));
    assert_eq!(a.key("owner_id").code(), "uscc_wrong_length");
}

// ------------------------------------------------------------------------------ names

#[test]
fn person_names_are_cleaned() {
    for (raw, fixes) in [
        ("张伟", vec![]),
        ("陳偉", vec![FixKind::TraditionalToSimplified]),
        (" 张伟", vec![FixKind::Trimmed]),
        ("张 伟", vec![FixKind::SpacesRemoved]),
        (
            "张\u{3000}伟",
            vec![FixKind::FullWidth, FixKind::SpacesRemoved],
        ),
        (
            "歐陽 偉 ",
            vec![
                FixKind::Trimmed,
                FixKind::SpacesRemoved,
                FixKind::TraditionalToSimplified,
            ],
        ),
    ] {
        let a = accept("hukou_residents", &hukou(&[("name", text(raw))]));
        let want = if raw.contains('歐') {
            "欧阳伟"
        } else if raw.contains('陳') {
            "陈伟"
        } else {
            "张伟"
        };
        assert_eq!(a.value("name"), &Value::Str(want.into()), "{raw:?}");
        assert_eq!(a.fixes_of("name"), fixes, "{raw:?}");
    }
    // A same-pinyin character cannot be told from a real name: left alone.
    let a = accept("hukou_residents", &hukou(&[("name", text("张玮"))]));
    assert_eq!(a.value("name"), &Value::Str("张玮".into()));
}

#[test]
fn organisation_names_keep_their_spaces() {
    let owner = |name: &str| {
        record(
            resource("property_registrations"),
            &[
                ("property_unit_no", text("440304001001GB00001F00010001")),
                ("owner_id", text(id(date(1970, 7, 7), false).as_str())),
                ("owner_name", text(name)),
                ("address_code", text("4403040010010000001")),
                ("area_m2", text("89.50")),
                ("use", text("10")),
                ("registered_on", text("2020-01-02")),
                ("co_ownership", text("0")),
            ],
        )
    };
    let a = accept("property_registrations", &owner("陳 大文"));
    assert_eq!(a.value("owner_name"), &Value::Str("陈大文".into()));
    let a = accept("property_registrations", &owner("Shenzhen ABC Trading Ltd"));
    assert_eq!(
        a.value("owner_name"),
        &Value::Str("Shenzhen ABC Trading Ltd".into())
    );
    let a = accept("property_registrations", &owner("深圳市 ABC 科技有限公司"));
    assert_eq!(
        a.value("owner_name"),
        &Value::Str("深圳市 ABC 科技有限公司".into())
    );

    // 企业登记's `name` is the enterprise's: never treated as a person's name.
    let rec = record(
        resource("enterprise_registrations"),
        &[
            (
                "uscc",
                text(Uscc::from_first17("91440304MA5F0000X").unwrap().as_str()),
            ),
            ("name", text("深圳市 福田 貿易有限公司（深圳）")),
            ("kind", text("1100")),
            ("legal_rep_id", text(id(date(1970, 7, 7), true).as_str())),
            ("legal_rep_name", text("张 伟")),
            ("established_on", text("2010-01-01")),
            ("address_code", text("4403040010010000001")),
            ("address", text("福田区南园街道南华社区深南路1号")),
            ("industry", text("F")),
            ("status", text("1")),
        ],
    );
    let a = accept("enterprise_registrations", &rec);
    assert_eq!(
        a.value("name"),
        &Value::Str("深圳市 福田 貿易有限公司（深圳）".into())
    );
    assert_eq!(a.value("legal_rep_name"), &Value::Str("张伟".into()));
    assert_eq!(
        a.value("address"),
        &Value::Str("深圳市福田区南园街道南华社区深南路1号".into())
    );
    assert_eq!(a.fixes_of("address"), [FixKind::AddressNormalised]);
}

// ------------------------------------------------------------------------------ addresses

#[test]
fn address_variants_normalise_to_the_standard() {
    let standard = "深圳市福田区南园街道南华社区深南路123号深南花园3栋2单元1501";
    for variant in [
        standard,
        "福田区南园街道南华社区深南路123号深南花园3栋2单元1501",
        "南园街道南华社区深南路123号深南花园3栋2单元1501",
        "深圳市福田区南园街道南华社区深南路123号深南花园3座2单元1501",
        "深圳市福田区南园街道南华社区深南路123号深南花园3幢2单元1501",
        "深圳市福田区南园街道南华社区深南路123号深南花园3号楼2单元1501",
        "深圳市福田区南园街道南华社区深南路１２３号深南花园３栋２单元１５０１",
        "南园街道南华社区深南路１２３号深南花园３座２单元１５０１室",
        " 深圳市 福田区 南园街道南华社区深南路123号深南花园3栋2单元1501 ",
        // The community names its street.
        "南华社区深南路123号深南花园3栋2单元1501",
        "南园南华社区深南路123号深南花园3栋2单元1501",
    ] {
        let p = normalise_address(variant, pack());
        assert_eq!(p.standard, standard, "{variant}");
        assert_eq!(p.street.as_deref(), Some("南园街道"), "{variant}");
        assert_eq!(p.street_code.as_deref(), Some("440304001"));
        assert_eq!(p.community.as_deref(), Some("南华社区"));
        assert_eq!(p.community_code.as_deref(), Some("440304001001"));
        assert_eq!(p.road.as_deref(), Some("深南路"));
        assert_eq!(p.number.as_deref(), Some("123"));
        assert_eq!(p.building.as_deref(), Some("深南花园3栋"));
        assert_eq!(p.unit.as_deref(), Some("2"));
        assert_eq!(p.room.as_deref(), Some("1501"));
    }
}

#[test]
fn address_parts_that_are_absent_stay_none() {
    let n = AddressNormaliser::new(pack());
    // A door without building, unit or room.
    let p = n.normalise("福田区福田街道福田社区福田路8号");
    assert_eq!(p.street.as_deref(), Some("福田街道"));
    assert_eq!(p.road.as_deref(), Some("福田路"));
    assert_eq!(p.number.as_deref(), Some("8"));
    assert_eq!((p.building, p.unit, p.room), (None, None, None));
    assert_eq!(p.standard, "深圳市福田区福田街道福田社区福田路8号");
    // A commercial building with a unit and no 栋.
    let p = n.normalise("深圳市福田区南园街道南华社区深南大道12号深南大厦1单元301");
    assert_eq!(p.road.as_deref(), Some("深南大道"));
    assert_eq!(p.building.as_deref(), Some("深南大厦"));
    assert_eq!(p.unit.as_deref(), Some("1"));
    // Unparseable: kept as written behind the prefix, never rejected.
    let p = n.normalise("某某小区门口");
    assert_eq!(p.standard, "深圳市福田区某某小区门口");
    assert_eq!(
        (p.street, p.community, p.road, p.number),
        (None, None, None, None)
    );
    let p = n.normalise("");
    assert_eq!(p.standard, "深圳市福田区");
    // Spaces survive only between Latin words, one at a time.
    let p = n.normalise("深圳市 福田区 南园街道南华社区深南路1号 Coco  Park  A座");
    assert_eq!(p.building.as_deref(), Some("Coco Park A栋"));
    // 座 inside a name is not a building number.
    let p = n.normalise("南园街道南华社区深南路1号星座大厦");
    assert_eq!(p.building.as_deref(), Some("星座大厦"));
}

#[test]
fn every_community_is_recognised() {
    let n = AddressNormaliser::new(pack());
    for (street, community) in pack().communities() {
        let p = n.normalise(&format!("{}{}某路1号", street.name, community.name));
        assert_eq!(p.community_code.as_deref(), Some(community.code.as_str()));
        assert_eq!(p.street_code.as_deref(), Some(street.code.as_str()));
        let p = n.normalise(&format!("{}某路1号", community.name));
        assert_eq!(
            p.street_code.as_deref(),
            Some(street.code.as_str()),
            "{}",
            community.name
        );
    }
}

#[test]
fn fix_kinds_have_stable_codes_and_chinese_labels() {
    let codes: Vec<&str> = FixKind::ALL.iter().map(|k| k.code()).collect();
    let mut unique = codes.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), codes.len());
    for k in FixKind::ALL {
        assert!(!k.label_zh().is_empty());
        assert!(
            k.code()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
        );
    }
    assert!(codes.contains(&"traditional_to_simplified"));
    assert!(codes.contains(&"id_upgraded_15"));
}

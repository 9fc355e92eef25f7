//! The Futian pack loads cleanly and matches docs/futian-fields.txt, the contract with the data
//! generator: it writes exactly these columns, in this order, with these labels.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use miaopi_catalog::{
    BaseClass, DataType, EntityRole, FileFormat, Grade, OpenType, Pack, Sensitivity, ShareType,
    TextEncoding, UpdateCycle,
};

fn pack_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../packs/futian"))
}

fn fields_txt() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/futian-fields.txt");
    std::fs::read_to_string(path).unwrap()
}

fn load() -> Pack {
    match Pack::load(&pack_dir()) {
        Ok(pack) => pack,
        Err(errors) => panic!("{errors}"),
    }
}

/// Parses a `key` of the contract file into the catalogue enum with the same TOML key.
fn key<T: serde::de::DeserializeOwned>(key: &str) -> T {
    #[derive(serde::Deserialize)]
    struct One<T> {
        v: T,
    }
    toml::from_str::<One<T>>(&format!("v = \"{key}\""))
        .unwrap_or_else(|e| panic!("{key}: {e}"))
        .v
}

fn opt<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    match s.trim() {
        "" | "-" => None,
        s => Some(key(s)),
    }
}

struct ContractResource {
    unit: String,
    code: String,
    name: String,
    format: FileFormat,
    encoding: Option<TextEncoding>,
    update_cycle: UpdateCycle,
    share_type: ShareType,
    open_type: OpenType,
    grade: Grade,
    base_class: Option<BaseClass>,
    fields: Vec<ContractField>,
}

#[derive(Debug, PartialEq)]
struct ContractField {
    name: String,
    label: String,
    data_type: DataType,
    required: bool,
    sensitivity: Sensitivity,
    role: Option<EntityRole>,
    code_table: Option<String>,
}

fn contract() -> Vec<ContractResource> {
    let mut out: Vec<ContractResource> = Vec::new();
    for line in fields_txt().lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix("== ") {
            let p: Vec<&str> = header.split('|').map(str::trim).collect();
            assert_eq!(p.len(), 9, "{line}");
            let (unit, code) = p[0].split_once('/').unwrap();
            out.push(ContractResource {
                unit: unit.into(),
                code: code.into(),
                name: p[1].into(),
                format: key(p[2]),
                encoding: opt(p[3]),
                update_cycle: key(p[4]),
                share_type: key(p[5]),
                open_type: key(p[6]),
                grade: key(p[7]),
                base_class: opt(p[8]),
                fields: Vec::new(),
            });
            continue;
        }
        let p: Vec<&str> = line.split('|').collect();
        assert_eq!(p.len(), 7, "{line}");
        let required = match p[3] {
            "y" => true,
            "n" => false,
            other => panic!("required {other:?} in {line}"),
        };
        out.last_mut().unwrap().fields.push(ContractField {
            name: p[0].into(),
            label: p[1].into(),
            data_type: key(p[2]),
            required,
            sensitivity: key(p[4]),
            role: opt(p[5]),
            code_table: (!p[6].is_empty()).then(|| p[6].to_owned()),
        });
    }
    out
}

#[test]
fn futian_pack_loads() {
    let pack = load();
    assert_eq!(pack.meta.name, "futian");
    assert_eq!(pack.meta.region_code, "440304");
    assert_eq!(pack.units.len(), 14);
    assert_eq!(pack.resources.len(), 25);
    assert_eq!(pack.regions.streets.len(), 10);
    assert!(pack.communities().count() >= 90);
    assert!(pack.unit("police").is_some());
    assert!(pack.resource("hukou_residents").is_some());
    assert!(pack.resource("nope").is_none());
}

#[test]
fn resources_match_the_generator_contract() {
    let pack = load();
    let contract = contract();
    assert_eq!(contract.len(), 25);
    let in_pack: BTreeSet<&str> = pack.resources.iter().map(|r| r.code.as_str()).collect();
    let in_contract: BTreeSet<&str> = contract.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(in_pack, in_contract);
    for c in &contract {
        let r = pack.resource(&c.code).unwrap();
        let ctx = &c.code;
        assert_eq!(r.unit, c.unit, "{ctx}");
        assert_eq!(r.name, c.name, "{ctx}");
        assert_eq!(r.format, c.format, "{ctx}");
        assert_eq!(r.encoding, c.encoding, "{ctx}");
        assert_eq!(r.update_cycle, c.update_cycle, "{ctx}");
        assert_eq!(r.share_type, c.share_type, "{ctx}");
        assert_eq!(r.open_type, c.open_type, "{ctx}");
        assert_eq!(r.grade, c.grade, "{ctx}");
        assert_eq!(r.base_class, c.base_class, "{ctx}");
        let fields: Vec<ContractField> = r
            .fields
            .iter()
            .map(|f| ContractField {
                name: f.name.clone(),
                label: f.label.clone(),
                data_type: f.data_type,
                required: f.required,
                sensitivity: f.sensitivity,
                role: f.role,
                code_table: f.code_table.clone(),
            })
            .collect();
        assert_eq!(fields, c.fields, "{ctx}");
        let labels: Vec<&str> = c.fields.iter().map(|f| f.label.as_str()).collect();
        assert_eq!(r.labels(), labels, "{ctx}");
        let expected = pack_dir()
            .join("resources")
            .join(&c.unit)
            .join(format!("{}.toml", c.code));
        assert_eq!(r.source_file, expected, "{ctx}");
    }
}

#[test]
fn code_tables_match_the_generator_contract() {
    let pack = load();
    let txt = fields_txt();
    let mut tables = 0;
    for line in txt.lines() {
        let Some(rest) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((name, values)) = rest.split_once(": ") else {
            continue;
        };
        if !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            continue;
        }
        tables += 1;
        let table = pack
            .code_table(name)
            .unwrap_or_else(|| panic!("code table {name} missing"));
        // `code=label` pairs spelled out in the contract must be in the table as such.
        for token in values.split_whitespace() {
            // Tokens come out of prose: `(01=汉族`, `C1=小型汽车)`, but `11=研究生(博士)`.
            let mut token = token.trim_start_matches('(').trim_end_matches(',');
            if token.matches(')').count() > token.matches('(').count() {
                token = token.strip_suffix(')').unwrap_or(token);
            }
            let Some((code, label)) = token.split_once('=') else {
                continue;
            };
            if code.is_empty() || label.is_empty() || code.contains("..") {
                continue;
            }
            let entry = table
                .entry(code)
                .unwrap_or_else(|| panic!("{name}: code {code} missing"));
            assert_eq!(entry.label, label, "{name} {code}");
        }
    }
    assert_eq!(tables, 29, "code tables listed in futian-fields.txt");

    let used: BTreeSet<&str> = pack
        .resources
        .iter()
        .flat_map(|r| &r.fields)
        .filter_map(|f| f.code_table.as_deref())
        .collect();
    for name in used {
        assert!(pack.code_table(name).is_some(), "{name}");
    }

    let grades = pack.code_table("school_grade").unwrap();
    let codes: Vec<&str> = grades.entries.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(
        codes,
        ["11", "12", "13", "14", "15", "16", "21", "22", "23"]
    );
    assert_eq!(grades.lookup("初一").unwrap().code, "21");
}

#[test]
fn ethnicity_is_gb_3304() {
    let pack = load();
    let t = pack.code_table("ethnicity").unwrap();
    assert_eq!(t.entries.len(), 58);
    for (i, e) in t.entries.iter().take(56).enumerate() {
        assert_eq!(e.code, format!("{:02}", i + 1));
        assert!(e.label.ends_with('族'), "{}", e.label);
    }
    let at = |code: &str| t.entry(code).unwrap().label.as_str();
    assert_eq!(at("01"), "汉族");
    assert_eq!(at("05"), "维吾尔族");
    assert_eq!(at("15"), "土家族");
    assert_eq!(at("30"), "土族");
    assert_eq!(at("46"), "德昂族");
    assert_eq!(at("56"), "基诺族");
    assert_eq!(at("97"), "其他");
    assert_eq!(at("98"), "外国血统中国籍人士");
    assert_eq!(t.lookup("汉").unwrap().code, "01");
    assert_eq!(t.lookup("崩龙族").unwrap().code, "46");
}

#[test]
fn lookups_accept_codes_labels_and_aliases() {
    let pack = load();
    let sex = pack.code_table("sex").unwrap();
    assert_eq!(sex.lookup("1").unwrap().label, "男");
    assert_eq!(sex.lookup("男").unwrap().code, "1");
    assert_eq!(sex.lookup(" 女性 ").unwrap().code, "2");
    // GB/T 2261.1's codes, labels and the Latin letters units write (M/F).
    assert_eq!(sex.lookup("M").unwrap().code, "1");
    assert_eq!(sex.lookup("f").unwrap().code, "2");
    assert!(sex.lookup("X").is_none());
    let index = sex.index();
    assert_eq!(index["男性"].code, "1");
    let status = pack.code_table("hukou_status").unwrap();
    assert_eq!(status.lookup("死亡").unwrap().label, "死亡注销");
    let vc = pack.code_table("vehicle_class").unwrap();
    assert_eq!(vc.lookup("C1").unwrap().label, "小型汽车");
    assert_eq!(vc.lookup("C1小型汽车").unwrap().code, "C1");
}

#[test]
fn streets_and_communities_come_from_regions() {
    let pack = load();
    let streets = pack.code_table("street").unwrap();
    assert_eq!(streets.entries.len(), 10);
    assert_eq!(streets.lookup("南园街道").unwrap().code, "440304001");
    assert_eq!(streets.lookup("华强北").unwrap().code, "440304011");
    let communities = pack.code_table("community").unwrap();
    assert_eq!(communities.entries.len(), pack.communities().count());
    for (street, community) in pack.communities() {
        assert_eq!(community.code.len(), 12);
        assert!(community.code.starts_with(&street.code));
        assert!(community.name.ends_with("社区"));
        assert_eq!(
            communities.lookup(&community.name).unwrap().code,
            community.code
        );
    }
    for s in miaopi_model::region::FUTIAN_STREETS {
        let code = s.code.to_string();
        let street = pack
            .regions
            .streets
            .iter()
            .find(|x| x.code == code)
            .unwrap();
        assert_eq!(street.name, s.name);
        assert!(!street.communities.is_empty(), "{}", s.name);
    }
}

#[test]
fn units_are_sound() {
    let pack = load();
    let mut ranks = BTreeSet::new();
    for u in &pack.units {
        assert!(u.org_code.starts_with("11440304"), "{}", u.code);
        assert!(miaopi_model::Uscc::parse(&u.org_code).is_ok(), "{}", u.code);
        assert!(ranks.insert(u.authority), "authority ranks are distinct");
    }
    let police = pack.unit("police").unwrap();
    assert_eq!(police.name, "深圳市公安局福田分局");
    assert!(pack.units.iter().all(|u| u.authority >= police.authority));
    // Every unit provides at least one resource.
    for u in &pack.units {
        assert!(pack.resources_of(&u.code).next().is_some(), "{}", u.code);
    }
}

#[test]
fn resource_metadata_is_complete() {
    let pack = load();
    for r in &pack.resources {
        assert!(r.catalog_code.contains("/440304-"), "{}", r.code);
        assert!(!r.summary.is_empty());
        if r.share_type == ShareType::Conditional {
            assert!(r.share_condition.is_some(), "{}", r.code);
        }
        for f in r.fields_with_role(EntityRole::PersonId) {
            assert_eq!(f.max_length, Some(18), "{}.{}", r.code, f.name);
            assert_eq!(f.sensitivity, Sensitivity::L4, "{}.{}", r.code, f.name);
        }
        let ext = r.format.as_str();
        assert_eq!(r.files, format!("{}*.{ext}", r.code));
    }
    let hukou = pack.resource("hukou_residents").unwrap();
    assert_eq!(
        hukou.field("sex").unwrap().code_table.as_deref(),
        Some("sex")
    );
    assert!(hukou.field("nope").is_none());
}

#[test]
fn summary_counts_and_lists() {
    let pack = load();
    let s = pack.summary();
    assert_eq!(s.units, 14);
    assert_eq!(s.resources, 25);
    assert_eq!(s.code_tables, 29);
    assert_eq!(s.streets, 10);
    assert_eq!(s.communities, pack.communities().count());
    assert_eq!(
        s.fields,
        contract().iter().map(|r| r.fields.len()).sum::<usize>()
    );
    let police = s.per_unit.iter().find(|u| u.code == "police").unwrap();
    assert_eq!(
        police.resources,
        [
            "criminal_records",
            "hukou_residents",
            "residence_registrations"
        ]
    );
    let text = s.to_string();
    assert!(
        text.starts_with("目录包 pack futian (深圳市福田区)\n"),
        "{text}"
    );
    assert!(text.contains("信息资源"), "{text}");
    assert!(text.contains("resources"), "{text}");
    assert!(
        text.contains("公安分局 (3): criminal_records, hukou_residents, residence_registrations"),
        "{text}"
    );
}

#[test]
fn relative_pack_path_is_shown_as_given() {
    // Tests run in the crate directory, so this is the pack as a user would name it.
    let pack = Pack::load(Path::new("../../packs/futian")).unwrap();
    assert_eq!(pack.root, Path::new("../../packs/futian"));
}

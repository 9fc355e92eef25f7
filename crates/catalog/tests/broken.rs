//! Broken packs: copy the Futian pack, break one thing, and check that loading reports exactly
//! that, naming the file, line, resource and field.

use std::fs;
use std::path::{Path, PathBuf};

use miaopi_catalog::Pack;
use tempfile::TempDir;

const HUKOU: &str = "resources/police/hukou_residents.toml";

/// A copy of the Futian pack in `<tmp>/futian`, so paths show as `futian/...`.
struct Broken {
    _tmp: TempDir,
    dir: PathBuf,
}

impl Broken {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("futian");
        copy_dir(
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../packs/futian")),
            &dir,
        );
        Broken { _tmp: tmp, dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// Replaces the one occurrence of `from` in a file.
    fn edit(&self, rel: &str, from: &str, to: &str) -> &Self {
        let text = self.read(rel);
        assert_eq!(text.matches(from).count(), 1, "{from:?} in {rel}");
        self.write(rel, &text.replacen(from, to, 1));
        self
    }

    /// 1-based line of the one occurrence of `needle` in a file (after editing).
    fn line(&self, rel: &str, needle: &str) -> usize {
        let text = self.read(rel);
        assert_eq!(text.matches(needle).count(), 1, "{needle:?} in {rel}");
        let at = text.find(needle).unwrap();
        text[..at].matches('\n').count() + 1
    }

    /// Line of `key` inside the `[[field]]` block whose name is `field`.
    fn field_line(&self, rel: &str, field: &str, key: &str) -> usize {
        let text = self.read(rel);
        let start = text.find(&format!("name = \"{field}\"")).unwrap();
        let at = start + text[start..].find(&format!("{key} =")).unwrap();
        text[..at].matches('\n').count() + 1
    }

    fn errors(&self) -> Vec<String> {
        match Pack::load(&self.dir) {
            Ok(_) => panic!("pack loaded although broken"),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    /// The pack fails with exactly these errors, in this order.
    fn assert_errors(&self, expected: &[String]) {
        assert_eq!(self.errors(), expected);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_copy_itself_loads() {
    let b = Broken::new();
    Pack::load(&b.dir).unwrap();
}

#[test]
fn missing_pack_directory() {
    let b = Broken::new();
    let errors = match Pack::load(&b.dir.with_file_name("nowhere")) {
        Err(e) => e,
        Ok(_) => panic!("loaded"),
    };
    assert_eq!(
        errors.to_string(),
        "1 error in pack\nnowhere: pack directory not found"
    );
}

#[test]
fn missing_pack_toml() {
    let b = Broken::new();
    fs::remove_file(b.path("pack.toml")).unwrap();
    b.assert_errors(&["futian/pack.toml: missing file".into()]);
}

#[test]
fn missing_codes_directory_does_not_cascade() {
    let b = Broken::new();
    fs::remove_dir_all(b.path("codes")).unwrap();
    b.assert_errors(&["futian/codes: missing directory".into()]);
}

#[test]
fn toml_syntax_error_names_line_resource_and_field() {
    let b = Broken::new();
    b.edit(HUKOU, "code_table = \"sex\"", "code_table = sex");
    let line = b.line(HUKOU, "code_table = sex");
    b.assert_errors(&[format!(
        "futian/{HUKOU}:{line}: resource hukou_residents, field sex: invalid TOML: string values \
         must be quoted, expected literal string"
    )]);
}

#[test]
fn unknown_share_type() {
    let b = Broken::new();
    b.edit(
        HUKOU,
        "share_type = \"conditional\"",
        "share_type = \"conditionl\"",
    );
    let line = b.line(HUKOU, "conditionl");
    b.assert_errors(&[format!(
        "futian/{HUKOU}:{line}: resource hukou_residents: share_type: unknown variant \
         `conditionl`, expected one of `unconditional`, `conditional`, `none`"
    )]);
}

#[test]
fn unknown_sensitivity_names_the_field() {
    let b = Broken::new();
    let rel = "resources/health/birth_certificates.toml";
    let text = b.read(rel);
    let at = text.find("name = \"hospital\"").unwrap();
    let fixed = format!(
        "{}{}",
        &text[..at],
        text[at..].replacen("sensitivity = \"L1\"", "sensitivity = \"L5\"", 1)
    );
    b.write(rel, &fixed);
    let line = b.line(rel, "\"L5\"");
    b.assert_errors(&[format!(
        "futian/{rel}:{line}: resource birth_certificates, field hospital: sensitivity: unknown \
         variant `L5`, expected one of `L1`, `L2`, `L3`, `L4`"
    )]);
}

#[test]
fn misspelt_key_is_rejected() {
    let b = Broken::new();
    b.edit(
        HUKOU,
        "code_table = \"household_relation\"",
        "code_tabel = \"household_relation\"",
    );
    let line = b.line(HUKOU, "code_tabel");
    let errors = b.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!(
            "futian/{HUKOU}:{line}: resource hukou_residents, field relation_to_head: unknown \
             field `code_tabel`, expected one of"
        )),
        "{errors:?}"
    );
}

#[test]
fn date_must_be_a_toml_date() {
    let b = Broken::new();
    b.edit(
        HUKOU,
        "published_on = 2019-06-30",
        "published_on = \"2019-06-30\"",
    );
    let line = b.line(HUKOU, "published_on");
    let errors = b.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!(
            "futian/{HUKOU}:{line}: resource hukou_residents: published_on: "
        )),
        "{errors:?}"
    );
}

#[test]
fn duplicate_resource_code_and_catalog_code() {
    let b = Broken::new();
    b.write("resources/police/hukou_copy.toml", &b.read(HUKOU));
    let copy = "futian/resources/police/hukou_copy.toml";
    b.assert_errors(&[
        format!(
            "{copy}:1: resource hukou_residents: file name \"hukou_copy.toml\" differs from the \
             resource code \"hukou_residents\""
        ),
        format!(
            "futian/{HUKOU}:1: resource hukou_residents: duplicate resource code \
             \"hukou_residents\" (also in {copy})"
        ),
        format!(
            "futian/{HUKOU}:2: resource hukou_residents: duplicate catalog_code \
             \"A01/440304-police-0001\" (also in {copy})"
        ),
    ]);
}

#[test]
fn file_stem_must_equal_code() {
    let b = Broken::new();
    fs::rename(b.path(HUKOU), b.path("resources/police/hukou.toml")).unwrap();
    b.assert_errors(&[
        "futian/resources/police/hukou.toml:1: resource hukou_residents: file \
                       name \"hukou.toml\" differs from the resource code \"hukou_residents\""
            .into(),
    ]);
}

#[test]
fn directory_must_equal_unit() {
    let b = Broken::new();
    let rel = "resources/police/death_registrations.toml";
    fs::rename(
        b.path("resources/civil_affairs/death_registrations.toml"),
        b.path(rel),
    )
    .unwrap();
    let line = b.line(rel, "unit = ");
    b.assert_errors(&[format!(
        "futian/{rel}:{line}: resource death_registrations: unit \"civil_affairs\" differs from \
         the directory \"resources/police\""
    )]);
}

#[test]
fn unknown_unit() {
    let b = Broken::new();
    let rel = "resources/polise/hukou_residents.toml";
    b.edit(HUKOU, "unit = \"police\"", "unit = \"polise\"");
    fs::create_dir(b.path("resources/polise")).unwrap();
    fs::rename(b.path(HUKOU), b.path(rel)).unwrap();
    let line = b.line(rel, "unit = ");
    b.assert_errors(&[format!(
        "futian/{rel}:{line}: resource hukou_residents: unknown unit \"polise\" (not in units.toml)"
    )]);
}

#[test]
fn duplicate_catalog_code() {
    let b = Broken::new();
    let rel = "resources/police/residence_registrations.toml";
    b.edit(
        rel,
        "\"A01/440304-police-0002\"",
        "\"A01/440304-police-0001\"",
    );
    b.assert_errors(&[format!(
        "futian/{rel}:2: resource residence_registrations: duplicate catalog_code \
         \"A01/440304-police-0001\" (also in futian/{HUKOU})"
    )]);
}

#[test]
fn duplicate_field_name() {
    let b = Broken::new();
    b.edit(HUKOU, "name = \"sex\"", "name = \"ethnicity\"");
    let line = b.line(HUKOU, "name = \"ethnicity\"\nlabel = \"民族\"");
    b.assert_errors(&[format!(
        "futian/{HUKOU}:{line}: resource hukou_residents, field ethnicity: duplicate field name \
         (also field 3)"
    )]);
}

#[test]
fn duplicate_field_label() {
    let b = Broken::new();
    b.edit(HUKOU, "label = \"迁入日期\"", "label = \"出生日期\"");
    let line = b.field_line(HUKOU, "moved_in_on", "label");
    b.assert_errors(&[format!(
        "futian/{HUKOU}:{line}: resource hukou_residents, field moved_in_on: duplicate label \
         \"出生日期\" (also field birth_date)"
    )]);
}

#[test]
fn field_name_must_be_snake_case() {
    let b = Broken::new();
    b.edit(HUKOU, "name = \"birth_date\"", "name = \"birthDate\"");
    let line = b.line(HUKOU, "birthDate");
    b.assert_errors(&[format!(
        "futian/{HUKOU}:{line}: resource hukou_residents, field birthDate: field name must be \
         snake_case ASCII"
    )]);
}

#[test]
fn unknown_code_table() {
    let b = Broken::new();
    b.edit(HUKOU, "code_table = \"sex\"", "code_table = \"sexx\"");
    let line = b.line(HUKOU, "sexx");
    b.assert_errors(&[format!(
        "futian/{HUKOU}:{line}: resource hukou_residents, field sex: unknown code table \"sexx\""
    )]);
}

#[test]
fn role_needs_a_string_field() {
    let b = Broken::new();
    b.edit(
        HUKOU,
        "name = \"address_code\"\nlabel = \"户籍地址编码\"\ntype = \"string\"",
        "name = \"address_code\"\nlabel = \"户籍地址编码\"\ntype = \"integer\"",
    );
    let line = b.field_line(HUKOU, "address_code", "role");
    b.assert_errors(&[format!(
        "futian/{HUKOU}:{line}: resource hukou_residents, field address_code: role address_code \
         needs type string, not integer"
    )]);
}

#[test]
fn csv_needs_an_encoding() {
    let b = Broken::new();
    b.edit(HUKOU, "encoding = \"gbk\"\n", "");
    let line = b.line(HUKOU, "format = ");
    b.assert_errors(&[format!(
        "futian/{HUKOU}:{line}: resource hukou_residents: format csv needs an encoding (utf8, \
         utf8_bom or gbk)"
    )]);
}

#[test]
fn encoding_only_for_csv() {
    let b = Broken::new();
    let rel = "resources/police/criminal_records.toml";
    b.edit(
        rel,
        "format = \"jsonl\"\n",
        "format = \"jsonl\"\nencoding = \"utf8\"\n",
    );
    let line = b.line(rel, "encoding");
    b.assert_errors(&[format!(
        "futian/{rel}:{line}: resource criminal_records: encoding utf8 is only for csv, not jsonl"
    )]);
}

#[test]
fn conditional_sharing_needs_a_condition() {
    let b = Broken::new();
    let text = b.read(HUKOU);
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("share_condition"))
        .collect();
    b.write(HUKOU, &(kept.join("\n") + "\n"));
    let line = b.line(HUKOU, "share_type");
    b.assert_errors(&[format!(
        "futian/{HUKOU}:{line}: resource hukou_residents: share_type conditional (有条件共享) needs \
         a share_condition"
    )]);
}

#[test]
fn not_sharing_needs_a_legal_basis() {
    let b = Broken::new();
    let rel = "resources/traffic_police/driving_licences.toml";
    b.edit(
        rel,
        "share_type = \"unconditional\"",
        "share_type = \"none\"",
    );
    let line = b.line(rel, "share_type");
    b.assert_errors(&[format!(
        "futian/{rel}:{line}: resource driving_licences: share_type none (不予共享) needs its legal \
         basis in share_condition"
    )]);
}

#[test]
fn related_resource_must_exist() {
    let b = Broken::new();
    b.edit(HUKOU, "\"standard_addresses\"]", "\"standard_address\"]");
    let line = b.line(HUKOU, "related");
    b.assert_errors(&[format!(
        "futian/{HUKOU}:{line}: resource hukou_residents: unknown related resource \
         \"standard_address\""
    )]);
}

#[test]
fn resource_without_fields() {
    let b = Broken::new();
    let text = b.read(HUKOU);
    let head = &text[..text.find("[[field]]").unwrap()];
    b.write(HUKOU, head);
    b.assert_errors(&[format!(
        "futian/{HUKOU}: resource hukou_residents: no [[field]] defined"
    )]);
}

#[test]
fn unit_org_code_must_pass_gb_32100() {
    let b = Broken::new();
    b.edit(
        "units.toml",
        "\"11440304007545513J\"",
        "\"11440304007545513K\"",
    );
    let line = b.line("units.toml", "11440304007545513K");
    let errors = b.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!(
            "futian/units.toml:{line}: unit police: org_code \"11440304007545513K\" is not a \
             valid unified social credit code (GB 32100): "
        )),
        "{errors:?}"
    );
}

#[test]
fn duplicate_unit_code() {
    let b = Broken::new();
    let first = b.line("units.toml", "code = \"police\"");
    b.edit(
        "units.toml",
        "code = \"traffic_police\"",
        "code = \"police\"",
    );
    let line = b.line("units.toml", "name = \"深圳市公安局交通警察支队福田大队\"") - 1;
    // The traffic police's resources now name a unit that is gone.
    let mut expected = vec![format!(
        "futian/units.toml:{line}: duplicate unit code \"police\" (first defined on line {first})"
    )];
    for r in ["driving_licences", "driving_score_cycles"] {
        let rel = format!("resources/traffic_police/{r}.toml");
        let line = b.line(&rel, "unit = ");
        expected.push(format!(
            "futian/{rel}:{line}: resource {r}: unknown unit \"traffic_police\" (not in units.toml)"
        ));
    }
    b.assert_errors(&expected);
}

#[test]
fn street_must_be_a_futian_street() {
    let b = Broken::new();
    let mut text = b.read("regions.toml");
    text.push_str(
        "\n[[street]]\ncode = \"440304012\"\nname = \"新街道\"\n  [[street.community]]\n  code = \
         \"440304012001\"\n  name = \"新社区\"\n",
    );
    b.write("regions.toml", &text);
    let line = b.line("regions.toml", "\"440304012\"");
    b.assert_errors(&[format!(
        "futian/regions.toml:{line}: street 440304012: not a Futian street (统计用区划代码)"
    )]);
}

#[test]
fn community_code_must_extend_its_street() {
    let b = Broken::new();
    b.edit("regions.toml", "\"440304001002\"", "\"440304009102\"");
    b.edit("regions.toml", "\"440304001003\"", "\"44030400103\"");
    let l1 = b.line("regions.toml", "440304009102");
    let l2 = b.line("regions.toml", "44030400103\"");
    b.assert_errors(&[
        format!(
            "futian/regions.toml:{l1}: community 440304009102 (巴登社区): code must be 12 digits \
             extending its street's code 440304001"
        ),
        format!(
            "futian/regions.toml:{l2}: community 44030400103 (南园社区): code must be 12 digits \
             extending its street's code 440304001"
        ),
    ]);
}

#[test]
fn duplicate_community_code() {
    let b = Broken::new();
    b.edit("regions.toml", "\"440304001002\"", "\"440304001001\"");
    let text = b.read("regions.toml");
    let second = text.rfind("\"440304001001\"").unwrap();
    let line = text[..second].matches('\n').count() + 1;
    b.assert_errors(&[format!(
        "futian/regions.toml:{line}: duplicate community code 440304001001 (also under street \
         440304001)"
    )]);
}

#[test]
fn duplicate_community_name_makes_lookup_ambiguous() {
    let b = Broken::new();
    b.edit("regions.toml", "\"巴登社区\"", "\"南华社区\"");
    b.assert_errors(&[
        "futian/regions.toml: code table community: \"南华社区\" names both 440304001001 (南华社区) \
         and 440304001002 (南华社区)"
            .into(),
        "futian/regions.toml: code table community: \"南华\" names both 440304001001 (南华社区) and \
         440304001002 (南华社区)"
            .into(),
    ]);
}

#[test]
fn district_must_match_pack() {
    let b = Broken::new();
    b.edit(
        "pack.toml",
        "region_code = \"440304\"",
        "region_code = \"440305\"",
    );
    let line = b.line("regions.toml", "code = \"440304\"");
    b.assert_errors(&[format!(
        "futian/regions.toml:{line}: district code \"440304\" differs from pack.toml's \
         region_code \"440305\""
    )]);
}

#[test]
fn code_table_name_must_equal_file_stem() {
    let b = Broken::new();
    b.edit("codes/sex.toml", "name = \"sex\"", "name = \"gender\"");
    let line = b.line("codes/sex.toml", "gender");
    b.assert_errors(&[format!(
        "futian/codes/sex.toml:{line}: code table name \"gender\" differs from the file name \
         \"sex.toml\""
    )]);
}

#[test]
fn empty_code_table() {
    let b = Broken::new();
    b.write(
        "codes/sex.toml",
        "name = \"sex\"\nlabel = \"性别\"\nstandard = \"GB/T 2261.1-2003\"\n",
    );
    b.assert_errors(&["futian/codes/sex.toml: code table sex: no [[entry]] defined".into()]);
}

#[test]
fn duplicate_code_in_table() {
    let b = Broken::new();
    b.edit("codes/sex.toml", "code = \"2\"", "code = \"1\"");
    let line = b.line("codes/sex.toml", "label = \"女\"") - 2;
    b.assert_errors(&[format!(
        "futian/codes/sex.toml:{line}: code table sex: duplicate code \"1\""
    )]);
}

#[test]
fn ambiguous_alias_in_table() {
    let b = Broken::new();
    b.edit(
        "codes/sex.toml",
        "aliases = [\"女性\", \"F\", \"f\", \"Female\", \"female\"]",
        "aliases = [\"男性\", \"F\", \"f\", \"Female\", \"female\"]",
    );
    let line = b.line("codes/sex.toml", "label = \"女\"") - 2;
    b.assert_errors(&[format!(
        "futian/codes/sex.toml:{line}: code table sex: \"男性\" names both 1 (男) and 2 (女)"
    )]);
}

#[test]
fn derived_tables_are_reserved() {
    let b = Broken::new();
    b.write(
        "codes/street.toml",
        "name = \"street\"\nlabel = \"街道\"\n[[entry]]\ncode = \"440304001\"\nlabel = \"南园街道\"\n",
    );
    b.assert_errors(&[
        "futian/codes/street.toml: code table \"street\" is reserved: it is \
                       derived from regions.toml, delete this file"
            .into(),
    ]);
}

#[test]
fn base_resource_needs_base_class() {
    let b = Broken::new();
    b.edit(HUKOU, "base_class = \"population\"\n", "");
    let line = b.line(HUKOU, "classification");
    b.assert_errors(&[format!(
        "futian/{HUKOU}:{line}: resource hukou_residents: a base resource (基础信息资源) needs a \
         base_class"
    )]);
}

#[test]
fn all_errors_are_collected() {
    let b = Broken::new();
    b.edit(HUKOU, "code_table = \"sex\"", "code_table = \"sexx\"");
    b.edit("codes/sex.toml", "code = \"2\"", "code = \"1\"");
    b.edit(
        "units.toml",
        "\"11440304007545513J\"",
        "\"11440304007545513K\"",
    );
    b.edit(
        "resources/court/dishonest_debtors.toml",
        "open_type = \"open\"",
        "open_type = \"opne\"",
    );
    let errors = b.errors();
    assert_eq!(errors.len(), 4, "{errors:#?}");
    // Files come in load order: units, codes, resources (by directory and name).
    assert!(errors[0].starts_with("futian/units.toml:"), "{errors:#?}");
    assert!(
        errors[1].starts_with("futian/codes/sex.toml:"),
        "{errors:#?}"
    );
    assert!(
        errors[2].starts_with("futian/resources/court/dishonest_debtors.toml:"),
        "{errors:#?}"
    );
    assert!(
        errors[2].contains("open_type: unknown variant `opne`"),
        "{errors:#?}"
    );
    assert!(
        errors[3].ends_with("field sex: unknown code table \"sexx\""),
        "{errors:#?}"
    );
}

#[test]
fn every_broken_item_in_a_file_is_reported() {
    let b = Broken::new();
    b.edit(
        HUKOU,
        "type = \"date\"\nrequired = true",
        "type = \"datum\"\nrequired = true",
    );
    b.edit(
        HUKOU,
        "sensitivity = \"L2\"\ncode_table = \"hukou_status\"",
        "sensitivity = \"l2\"\ncode_table = \"hukou_status\"",
    );
    b.edit(HUKOU, "grade = \"important\"", "grade = \"importent\"");
    let grade = b.line(HUKOU, "importent");
    let birth = b.line(HUKOU, "datum");
    let status = b.line(HUKOU, "\"l2\"");
    b.assert_errors(&[
        format!(
            "futian/{HUKOU}:{grade}: resource hukou_residents: grade: unknown variant \
             `importent`, expected one of `core`, `important`, `general`"
        ),
        format!(
            "futian/{HUKOU}:{birth}: resource hukou_residents, field birth_date: type: unknown \
             variant `datum`, expected one of `string`, `integer`, `decimal`, `date`, `month`, \
             `boolean`"
        ),
        format!(
            "futian/{HUKOU}:{status}: resource hukou_residents, field status: sensitivity: \
             unknown variant `l2`, expected one of `L1`, `L2`, `L3`, `L4`"
        ),
    ]);
}

#[test]
fn missing_key_names_the_item() {
    let b = Broken::new();
    b.edit(HUKOU, "label = \"性别\"\n", "");
    let errors = b.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].ends_with("resource hukou_residents, field sex: missing field `label`"),
        "{errors:?}"
    );
}

#[test]
fn pack_path_that_is_a_file() {
    let b = Broken::new();
    let errors = match Pack::load(&b.path("pack.toml")) {
        Err(e) => e,
        Ok(_) => panic!("loaded"),
    };
    assert_eq!(
        errors.0[0].to_string(),
        // The pack's parent is then `futian/` itself.
        "pack.toml: pack path is not a directory"
    );
}

#[test]
fn record_key_must_name_fields_once() {
    let b = Broken::new();
    b.edit(
        HUKOU,
        "key = [\"resident_id\"]",
        "key = [\"resident_idd\", \"name\", \"name\"]",
    );
    let line = b.line(HUKOU, "key = ");
    b.assert_errors(&[
        format!("futian/{HUKOU}:{line}: resource hukou_residents: key field \"resident_idd\" is not a field of the resource"),
        format!("futian/{HUKOU}:{line}: resource hukou_residents: key lists a field twice"),
    ]);
}

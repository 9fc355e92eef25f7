//! Broken packages are refused with errors naming the file and the item: an uncovered rule row
//! (the fixture under tests/fixtures/uncovered_row), and one defect at a time in copies of it.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use miaopi_decide::{
    DecideError, DsntkEngine, Package, PackageErrors, Packages, run_package_tests,
};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/uncovered_row/mini_allowance/1.0")
}

const COVERING_CASE: &str = r#"
[[case]]
name = "95岁：批准"
application_date = 2026-10-31
applicant = "440304193105101236"
facts = { "出生日期" = 1931-05-10 }
expect = { outcome = "approved", details = { "津贴" = 200 } }
"#;

/// A copy of the fixture under `<tmp>/mini_allowance/<version>`, made whole by a case that
/// covers the missing row.
struct Copy {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dir: PathBuf,
}

impl Copy {
    fn new(version: &str) -> Copy {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("mini_allowance");
        let c = Copy {
            dir: root.join(version),
            root,
            _tmp: tmp,
        };
        c.add_version(version, "2024-01-01", None);
        c
    }

    fn add_version(&self, version: &str, from: &str, to: Option<&str>) -> PathBuf {
        let dir = self.root.join(version);
        fs::create_dir_all(&dir).unwrap();
        for f in ["matter.toml", "rules.dmn", "tests.toml"] {
            fs::copy(fixture().join(f), dir.join(f)).unwrap();
        }
        let tests = fs::read_to_string(dir.join("tests.toml")).unwrap() + COVERING_CASE;
        fs::write(dir.join("tests.toml"), tests).unwrap();
        let mut manifest = fs::read_to_string(dir.join("matter.toml"))
            .unwrap()
            .replace("version = \"1.0\"", &format!("version = \"{version}\""))
            .replace("valid_from = 2024-01-01", &format!("valid_from = {from}"));
        if let Some(to) = to {
            manifest = manifest.replace(
                &format!("valid_from = {from}"),
                &format!("valid_from = {from}\nvalid_to = {to}"),
            );
        }
        fs::write(dir.join("matter.toml"), manifest).unwrap();
        dir
    }

    fn edit(&self, file: &str, from: &str, to: &str) -> &Copy {
        let path = self.dir.join(file);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(from).count(), 1, "{from:?} in {file}");
        fs::write(&path, text.replacen(from, to, 1)).unwrap();
        self
    }

    fn load(&self) -> Result<Package, PackageErrors> {
        Package::load(&self.dir, common::pack(), &DsntkEngine)
    }

    /// Loading fails with exactly one error, in `file`, whose item and message contain the
    /// given texts.
    fn refused(&self, file: &str, item: &str, message: &str) {
        let errors = match self.load() {
            Ok(_) => panic!("loaded although broken ({item}: {message})"),
            Err(e) => e,
        };
        assert_eq!(errors.len(), 1, "{errors}");
        let e = &errors.0[0];
        assert_eq!(e.file, self.dir.join(file), "{e}");
        assert!(e.item.as_deref().unwrap_or("").contains(item), "{e}");
        assert!(e.message.contains(message), "{e}");
    }
}

#[test]
fn the_fixture_with_an_uncovered_row_is_refused() {
    let errors = Package::load(&fixture(), common::pack(), &DsntkEngine).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    let e = &errors.0[0];
    assert_eq!(e.file, fixture().join("rules.dmn"));
    assert_eq!(e.item.as_deref(), Some("decision 津贴 row 2 (九十岁以上)"));
    assert_eq!(e.message, "no test case matches this rule row");
    assert!(e.to_string().ends_with(
        "rules.dmn: decision 津贴 row 2 (九十岁以上): no test case matches this rule row"
    ));

    // Its tests themselves pass: the refusal is about coverage alone.
    let package = Package::load_unchecked(&fixture(), common::pack(), &DsntkEngine).unwrap();
    let report = run_package_tests(&package);
    assert_eq!((report.passed(), report.failed()), (3, 0));
    assert_eq!(report.uncovered_rows().len(), 1);
    assert!(!report.ok());
}

#[test]
fn covering_the_row_makes_it_load() {
    let c = Copy::new("1.0");
    let package = c.load().unwrap();
    assert!(run_package_tests(&package).ok());
}

#[test]
fn an_unknown_resource_or_field_is_named() {
    Copy::new("1.0")
        .edit(
            "matter.toml",
            "resource = \"hukou_residents\"",
            "resource = \"hukou\"",
        )
        .refused("matter.toml", "fact 出生日期", "unknown resource \"hukou\"");
    Copy::new("1.0")
        .edit(
            "matter.toml",
            "field = \"birth_date\"",
            "field = \"birthday\"",
        )
        .refused("matter.toml", "fact 出生日期", "has no field \"birthday\"");
}

#[test]
fn a_filter_value_must_be_a_code_of_the_fields_table() {
    Copy::new("1.0")
        .edit(
            "matter.toml",
            "aggregate = \"latest\"",
            "aggregate = \"latest\"\nfilter = { status = [\"9\"] }",
        )
        .refused(
            "matter.toml",
            "fact 出生日期",
            "\"9\" is not a code of table hukou_status",
        );
}

#[test]
fn a_dmn_input_bound_to_nothing_is_named() {
    Copy::new("1.0")
        .edit(
            "rules.dmn",
            "<inputData name=\"最低年龄\"",
            "<inputData name=\"未绑定\" id=\"_in9\"><variable typeRef=\"number\" name=\"未绑定\"/></inputData>\n  <inputData name=\"最低年龄\"",
        )
        .refused("rules.dmn", "input 未绑定", "not bound to a fact");
}

#[test]
fn an_input_type_must_match_its_binding() {
    Copy::new("1.0")
        .edit(
            "rules.dmn",
            "<variable typeRef=\"number\" name=\"年龄\"/>",
            "<variable typeRef=\"string\" name=\"年龄\"/>",
        )
        .refused(
            "rules.dmn",
            "input 年龄",
            "declared string, but bound to a int value",
        );
}

#[test]
fn a_table_without_rule_labels_is_refused() {
    Copy::new("1.0")
        .edit(
            "rules.dmn",
            "<outputEntry><text>\"九十岁以上\"</text></outputEntry>",
            "<outputEntry><text>\"九十岁以下\"</text></outputEntry>",
        )
        .refused("rules.dmn", "decision 津贴 row 2", "used twice");
}

#[test]
fn an_explanation_may_only_name_known_values() {
    Copy::new("1.0")
        .edit("matter.toml", "≥ {最低年龄} 岁", "≥ {最低岁数} 岁")
        .refused("matter.toml", "condition age", "{最低岁数} is not a fact");
}

#[test]
fn a_comparison_needs_a_true_text_for_when_it_fails() {
    Copy::new("1.0")
        .edit(
            "matter.toml",
            "explain_fails = \"年龄 {年龄} 岁，未满 {最低年龄} 周岁\"\n",
            "",
        )
        .refused("matter.toml", "age", "add explain_fails");
    Copy::new("1.0")
        .edit(
            "matter.toml",
            "explain_fails = \"年龄 {年龄} 岁，未满 {最低年龄} 周岁\"",
            "explain_fails = \"年龄 {年龄} 岁 < {最低年龄} 岁\"",
        )
        .refused("matter.toml", "age", "without a comparison sign");
}

#[test]
fn a_failing_test_case_is_refused() {
    Copy::new("1.0")
        .edit("tests.toml", "\"津贴\" = 100", "\"津贴\" = 150")
        .refused(
            "tests.toml",
            "case \"85岁：批准\"",
            "detail 津贴: expected Int(150)",
        );
}

#[test]
fn test_facts_are_checked_against_the_bindings() {
    Copy::new("1.0")
        .edit(
            "tests.toml",
            "facts = { \"出生日期\" = 1941-05-10 }",
            "facts = { \"生日\" = 1941-05-10 }",
        )
        .refused("tests.toml", "case \"85岁：批准\"", "unknown fact \"生日\"");
    Copy::new("1.0")
        .edit(
            "tests.toml",
            "facts = { \"出生日期\" = 1941-05-10 }",
            "facts = { \"出生日期\" = \"昨天\" }",
        )
        .refused("tests.toml", "case \"85岁：批准\"", "not a date");
}

#[test]
fn the_directory_names_the_code_and_version() {
    Copy::new("1.0")
        .edit("matter.toml", "version = \"1.0\"", "version = \"1.1\"")
        .refused(
            "matter.toml",
            "version",
            "differs from the directory name \"1.0\"",
        );
}

#[test]
fn overlapping_versions_are_refused_and_adjacent_ones_chosen_by_date() {
    let c = Copy::new("1.0");
    c.add_version("2.0", "2025-01-01", None);
    let errors =
        Packages::load(c.root.parent().unwrap(), common::pack(), &DsntkEngine).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    assert!(errors.0[0].file.ends_with("2.0/matter.toml"), "{errors}");
    assert!(
        errors.0[0].message.contains("overlaps version 1.0"),
        "{errors}"
    );

    let c = Copy::new("1.0");
    c.edit(
        "matter.toml",
        "valid_from = 2024-01-01",
        "valid_from = 2024-01-01\nvalid_to = 2024-12-31",
    );
    c.add_version("2.0", "2025-01-01", None);
    let packages = Packages::load(c.root.parent().unwrap(), common::pack(), &DsntkEngine).unwrap();
    let on = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let version = |date| {
        packages
            .in_force("mini_allowance", date)
            .map(|p| p.manifest.version.clone())
    };
    assert_eq!(version(on(2024, 12, 31)).unwrap(), "1.0");
    assert_eq!(version(on(2025, 1, 1)).unwrap(), "2.0");
    assert!(matches!(
        version(on(2023, 12, 31)),
        Err(DecideError::NoVersionInForce { .. })
    ));
    assert!(matches!(
        packages.in_force("no_such_matter", on(2025, 1, 1)),
        Err(DecideError::UnknownMatter(_))
    ));
    assert_ne!(
        packages.get("mini_allowance", "1.0").unwrap().hash,
        packages.get("mini_allowance", "2.0").unwrap().hash,
        "the version is part of the content"
    );
}

#[test]
fn a_malformed_dmn_is_reported_on_the_rules_file() {
    Copy::new("1.0")
        .edit("rules.dmn", "年龄 &gt;= 最低年龄", "年龄 &gt;=")
        .refused("rules.dmn", "", "DMN build");
}

/// `fed_by` (the platform's approvals counted as records): only on an `exists`/`count` fact,
/// with a party of the package and a date or month `since`; the fed matter must be loaded and
/// have that party.
#[test]
fn a_fact_fed_by_approvals_is_checked() {
    let latest = "aggregate = \"latest\"";
    Copy::new("1.0")
        .edit(
            "matter.toml",
            latest,
            &format!("{latest}\nfed_by = {{ matter = \"mini_allowance\" }}"),
        )
        .refused("matter.toml", "fact 出生日期", "must be exists or count");
    // The same fact as `exists` would not feed the DMN input (a date), so a second fact is
    // added for each of the remaining checks (it also draws "used by no DMN input").
    let extra = |fed: &str| {
        format!(
            "{latest}\n\n[[fact]]\nname = \"已在册\"\nparty = \"applicant\"\n\
             resource = \"senior_allowance_roster\"\naggregate = \"exists\"\nfed_by = {fed}"
        )
    };
    let refused_with = |fed: &str, message: &str| {
        let c = Copy::new("1.0");
        c.edit("matter.toml", latest, &extra(fed));
        let errors = c.load().expect_err("refused");
        assert!(
            errors
                .0
                .iter()
                .any(|e| e.item.as_deref() == Some("fact 已在册") && e.message.contains(message)),
            "{errors}"
        );
    };
    refused_with(
        "{ matter = \"mini_allowance\", party = \"spouse\" }",
        "unknown party \"spouse\"",
    );
    refused_with(
        "{ matter = \"mini_allowance\", since = \"name\" }",
        "not a date or month field",
    );
    // The fed matter is checked across packages: the senior allowance fed by a matter that is
    // not loaded.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("senior_allowance/2024.1");
    fs::create_dir_all(&dir).unwrap();
    let real = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../packs/futian/matters/senior_allowance/2024.1");
    for f in ["matter.toml", "rules.dmn", "tests.toml"] {
        fs::copy(real.join(f), dir.join(f)).unwrap();
    }
    let manifest = fs::read_to_string(dir.join("matter.toml")).unwrap();
    let fed = "fed_by = { matter = \"senior_allowance\"";
    assert_eq!(manifest.matches(fed).count(), 1);
    let manifest = manifest.replace(fed, "fed_by = { matter = \"no_such_matter\"");
    fs::write(dir.join("matter.toml"), manifest).unwrap();
    let package = Package::load(&dir, common::pack(), &DsntkEngine).expect("valid on its own");
    let errors = Packages::from_packages(vec![package]).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    assert!(
        errors.0[0]
            .message
            .contains("no matter \"no_such_matter\" is loaded"),
        "{errors}"
    );
}

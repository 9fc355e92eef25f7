//! The `miaopi` binary end to end: exit codes and what a person reads.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn miaopi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_miaopi"))
        .args(args)
        .output()
        .expect("the miaopi binary runs")
}

fn pack_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packs/futian")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn catalog_check_accepts_the_futian_pack() {
    let out = miaopi(&["catalog", "check", pack_dir().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("OK"), "{text}");
    assert!(
        text.contains("hukou_residents") || text.contains("户籍人口"),
        "{text}"
    );
}

#[test]
fn catalog_check_names_file_resource_and_field_of_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = tmp.path().join("futian");
    copy_dir(&pack_dir(), &pack);
    let file = pack.join("resources/police/hukou_residents.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = text.replacen("code_table = \"sex\"", "code_table = \"sexx\"", 1);
    assert_ne!(text, broken, "the fixture must change the file");
    std::fs::write(&file, broken).unwrap();

    let out = miaopi(&["catalog", "check", pack.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report = stdout(&out);
    let line = report
        .lines()
        .find(|l| l.contains("sexx"))
        .unwrap_or_else(|| panic!("no line names the bad code table:\n{report}"));
    assert!(line.contains("hukou_residents.toml"), "{line}");
    assert!(line.contains("resource hukou_residents"), "{line}");
    assert!(line.contains("field sex"), "{line}");
    assert!(report.contains("FAILED: 1 error"), "{report}");
}

#[test]
fn catalog_check_of_a_missing_directory_fails_clearly() {
    let out = miaopi(&["catalog", "check", "/nonexistent/pack"]);
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("/nonexistent/pack"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn synth_rejects_bad_arguments_without_panicking() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("d");
    let pack = pack_dir();
    for args in [
        vec!["--people", "0"],
        vec!["--as-of", "2026-13-01"],
        vec!["--noise", "id_missing=2"],
        vec!["--noise", "no_such_noise=0.1"],
        vec!["--noise", "id_missing"],
    ] {
        let mut all = vec![
            "synth",
            "--out",
            out_dir.to_str().unwrap(),
            "--pack",
            pack.to_str().unwrap(),
        ];
        all.extend(args.iter().copied());
        let out = miaopi(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn demo_generates_a_district_and_prints_every_resource() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("demo");
    let out = miaopi(&[
        "demo",
        "--out",
        out_dir.to_str().unwrap(),
        "--people",
        "2000",
        "--pack",
        pack_dir().to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for resource in [
        "hukou_residents",
        "social_insurance_contributions",
        "marriage_registrations",
        "education_degrees",
    ] {
        assert!(text.contains(resource), "summary lacks {resource}:\n{text}");
    }
    assert!(text.contains("senior_allowance"), "{text}");
    assert!(out_dir.join("manifest.json").is_file());
    assert!(out_dir.join("sources/police/hukou_residents.csv").is_file());
}

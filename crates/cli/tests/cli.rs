//! The `miaopi` binary end to end: exit codes and what a person reads.

use std::io::BufRead;
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
fn demo_generates_and_ingests_a_district() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("demo");
    let out = miaopi(&[
        "demo",
        "--out",
        out_dir.to_str().unwrap(),
        "--people",
        "2000",
        "--no-serve",
        "--pack",
        pack_dir().to_str().unwrap(),
        "--home",
        tmp.path().join("home").to_str().unwrap(),
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
    // The demo ingests what it generated: every file a new batch, nothing failed.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array().unwrap().len();
    let expected =
        format!("{files} new batch(es), 0 resumed, 0 already ingested (unchanged), 0 failed");
    assert!(
        text.contains(&expected),
        "expected {expected:?} in:\n{text}"
    );
    assert!(
        tmp.path()
            .join("home/lake/dwd/hukou_residents/_delta_log")
            .is_dir()
    );
    assert!(out_dir.join("manifest.json").is_file());
    assert!(out_dir.join("sources/police/hukou_residents.csv").is_file());

    // The demo links: the whole profile by ID (一证通办), masked by default.
    let home = tmp.path().join("home");
    assert!(text.contains("关联融合"), "{text}");
    let ids = table_csv(
        &home,
        // A registered person with a 户籍 record (the facts below name that source).
        "SELECT p.resident_id FROM base.population p JOIN dwd.hukou_residents h ON h.resident_id = p.resident_id \
         WHERE p.registered = 'true' AND h.resident_id_key_status = 'valid' ORDER BY p.resident_id LIMIT 1",
    );
    let id = ids.lines().nth(1).unwrap().trim().to_string();
    assert_eq!(id.len(), 18, "{ids}");
    let h = home.to_str().unwrap();
    let masked = miaopi(&["person", "--home", h, &id]);
    let shown = stdout(&masked);
    assert!(masked.status.success(), "{shown}");
    assert!(
        !shown.contains(&id),
        "the full ID is shown without --unmasked:\n{shown}"
    );
    assert!(
        shown.contains(&format!("{}********{}", &id[..6], &id[14..])),
        "{shown}"
    );
    assert!(
        shown.contains("户籍人口"),
        "facts name their source:\n{shown}"
    );
    let unmasked = stdout(&miaopi(&["person", "--home", h, "--unmasked", &id]));
    assert!(unmasked.contains(&id), "{unmasked}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&miaopi(&["person", "--home", h, "--json", &id]))).unwrap();
    for fact in json["facts"].as_array().unwrap() {
        assert!(fact["batch_id"].as_str().unwrap().len() == 32, "{fact}");
        assert!(!fact["unit"].as_str().unwrap().is_empty(), "{fact}");
    }
    let graph = miaopi(&["graph", "--home", h, "--depth", "2", &id]);
    assert!(graph.status.success());
    assert!(stdout(&graph).contains("居住于"), "{}", stdout(&graph));
    // A path: the person to their street, through address and community (3 hops).
    let street = table_csv(
        &home,
        &format!(
            "SELECT street_id FROM base.standard_addresses sa JOIN base.population p ON sa.address_code = p.address_code WHERE p.resident_id = '{id}'"
        ),
    );
    let street = street.lines().nth(1).unwrap().trim().to_string();
    let path = miaopi(&["graph", "--home", h, "--depth", "3", "--to", &street, &id]);
    let path_text = stdout(&path);
    assert!(path.status.success(), "{path_text}");
    assert!(
        path_text.contains("属于街道") && path_text.lines().count() == 3,
        "{path_text}"
    );
    let uscc = table_csv(
        &home,
        "SELECT uscc FROM base.legal_persons WHERE registered = 'true' LIMIT 1",
    );
    let uscc = uscc.lines().nth(1).unwrap().trim().to_string();
    let ent = miaopi(&["enterprise", "--home", h, &uscc]);
    assert!(
        ent.status.success() && stdout(&ent).contains("企业登记"),
        "{}",
        stdout(&ent)
    );
    let wrong_kind = miaopi(&["person", "--home", h, &uscc]);
    assert!(!wrong_kind.status.success());
    assert!(String::from_utf8_lossy(&wrong_kind.stderr).contains("enterprise"));
    let unknown = miaopi(&["person", "--home", h, "11010519491231002X"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("未找到"));

    // The platform online: `miaopi serve` answers, refuses personal data without
    // credentials, and the reads it audits leave a chain that `miaopi audit verify` accepts.
    let mut server = Command::new(env!("CARGO_BIN_EXE_miaopi"))
        .args([
            "serve",
            "--demo",
            "--home",
            h,
            "--addr",
            "127.0.0.1:0",
            "--pack",
        ])
        .arg(pack_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(rest) = line.split("http://").nth(1)
            && line.contains("/console")
        {
            break rest.trim_end_matches("/console").to_string();
        }
    };
    let (status, body) = http_get(&addr, "/api/health");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"ok\""), "{body}");
    let (status, body) = http_get(&addr, &format!("/api/v1/persons/{id}?purpose=duty:x"));
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains(&id));
    server.kill().unwrap();
    let _ = server.wait();
    let credentials = home.join("demo-credentials.json");
    assert!(
        credentials.is_file(),
        "serve --demo wrote the demo credentials"
    );
    let verify = miaopi(&["audit", "verify", "--home", h]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    assert!(
        stdout(&verify).contains("审计链完好"),
        "{}",
        stdout(&verify)
    );
}

/// A GET over a plain TCP connection (HTTP/1.1, connection closed after the answer): the
/// status code and the body.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Rows of a lake table as CSV text, for comparing two state directories.
fn table_csv(home: &Path, sql: &str) -> String {
    let out = miaopi(&[
        "sql",
        "--home",
        home.to_str().unwrap(),
        "--format",
        "csv",
        sql,
    ]);
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

#[test]
fn ingest_killed_with_sigkill_then_rerun_equals_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let district = tmp.path().join("district");
    let pack = pack_dir();
    let out = miaopi(&[
        "synth",
        "--out",
        district.to_str().unwrap(),
        "--people",
        "3000",
        "--insurance-months",
        "6",
        "--pack",
        pack.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sources = district.join("sources");
    let ingest = |home: &Path| {
        Command::new(env!("CARGO_BIN_EXE_miaopi"))
            .args([
                "ingest",
                "--home",
                home.to_str().unwrap(),
                "--pack",
                pack.to_str().unwrap(),
            ])
            .arg(&sources)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };

    let reference = tmp.path().join("reference");
    assert!(ingest(&reference).wait().unwrap().success());

    // Kill the ingest at growing delays, so the kills land at different points: inside a
    // batch, between a batch's tables, between batches.
    let crashed = tmp.path().join("crashed");
    let mut killed = 0;
    for delay_ms in [300u64, 700, 1200, 1800, 2600, 3500] {
        let mut child = ingest(&crashed);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL on Unix
            killed += 1;
        }
        child.wait().unwrap();
    }
    assert!(
        killed > 0,
        "no run was interrupted; the test proves nothing"
    );
    assert!(
        ingest(&crashed).wait().unwrap().success(),
        "the run after the kills must finish"
    );

    for (table, key) in [
        (
            "ods.social_insurance_contributions",
            "resident_id, employer_uscc, insurance_type, contribution_month",
        ),
        (
            "dwd.social_insurance_contributions",
            "resident_id, employer_uscc, insurance_type, contribution_month, contribution_base, resident_id_key_status",
        ),
        (
            "quarantine.social_insurance_contributions",
            "reason_codes, raw",
        ),
        (
            "dwd.hukou_residents",
            "resident_id, name, birth_date, fixes",
        ),
        (
            "dwd.marriage_registrations",
            "registration_no, husband_id, wife_id, registered_on",
        ),
        ("quarantine.residence_registrations", "reason_codes, raw"),
    ] {
        let sql = format!(
            "SELECT batch_id, source_file, line, record, {key} FROM {table} ORDER BY batch_id, record"
        );
        let a = table_csv(&reference, &sql);
        let b = table_csv(&crashed, &sql);
        assert_eq!(
            a.lines().count(),
            b.lines().count(),
            "{table}: row counts differ after the kills"
        );
        assert!(a == b, "{table}: rows differ after the kills");
    }
    let dupes = table_csv(
        &crashed,
        "SELECT count(*) - count(DISTINCT batch_id || ':' || CAST(record AS VARCHAR)) FROM ods.social_insurance_contributions",
    );
    assert_eq!(
        dupes.lines().nth(1),
        Some("0"),
        "duplicated rows after the kills"
    );
}

//! The 秒批 commands end to end: `matter list|test|guide`, the demo's decision, `decide`,
//! `replay` and `cert verify`, with their exit codes.

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

fn both(o: &Output) -> String {
    format!("{}\n{}", stdout(o), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn matter_list_test_and_guide() {
    let pack = pack_dir();
    let p = pack.to_str().unwrap();
    let list = miaopi(&["matter", "list", "--pack", p]);
    assert!(list.status.success(), "{}", both(&list));
    let text = stdout(&list);
    for code in [
        "senior_allowance",
        "newborn_hukou",
        "talent_subsidy",
        "individual_business",
        "disability_subsidies",
        "ride_hailing_licence",
    ] {
        assert!(text.contains(code), "{text}");
    }
    let test = miaopi(&["matter", "test", "--pack", p]);
    assert!(test.status.success(), "{}", both(&test));
    assert!(
        stdout(&test).contains("全部通过：6 个事项包"),
        "{}",
        stdout(&test)
    );
    let one = miaopi(&["matter", "test", "--pack", p, "senior_allowance"]);
    assert!(one.status.success(), "{}", both(&one));
    assert!(
        stdout(&one).contains("全部通过：1 个事项包"),
        "{}",
        stdout(&one)
    );
    let none = miaopi(&["matter", "test", "--pack", p, "no_such_matter"]);
    assert!(!none.status.success());

    // A package whose test case fails makes `matter test` fail.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("futian");
    copy_dir(&pack, &copy);
    let tests = copy.join("matters/senior_allowance/2024.1/tests.toml");
    let text = std::fs::read_to_string(&tests).unwrap();
    let broken = text.replacen("\"月津贴\" = 200", "\"月津贴\" = 201", 1);
    assert_ne!(text, broken);
    std::fs::write(&tests, broken).unwrap();
    let failing = miaopi(&[
        "matter",
        "test",
        "--pack",
        copy.to_str().unwrap(),
        "senior_allowance",
    ]);
    assert_eq!(failing.status.code(), Some(1), "{}", both(&failing));
    assert!(
        stdout(&failing).contains("用例失败"),
        "{}",
        stdout(&failing)
    );

    let guide = miaopi(&["matter", "guide", "--pack", p, "senior_allowance"]);
    assert!(guide.status.success(), "{}", both(&guide));
    let g = stdout(&guide);
    assert!(g.contains("高龄老人津贴 办事指南"), "{g}");
    assert!(
        g.contains("户籍人口"),
        "the guide names the resource proving a condition: {g}"
    );
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

fn field<'a>(text: &'a str, label: &str) -> &'a str {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no line {label:?} in:\n{text}"));
    line.trim_start()
        .trim_start_matches(label)
        .trim_start()
        .split(['（', ' '])
        .next()
        .unwrap()
        .trim()
}

#[test]
fn the_demo_decides_and_its_receipt_replays_and_certificate_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let h = home.to_str().unwrap();
    let pack = pack_dir();
    let p = pack.to_str().unwrap();
    let demo = miaopi(&[
        "demo",
        "--out",
        tmp.path().join("demo").to_str().unwrap(),
        "--people",
        "3000",
        "--no-serve",
        "--pack",
        p,
        "--home",
        h,
    ]);
    let text = stdout(&demo);
    assert!(demo.status.success(), "{}", both(&demo));
    assert!(text.contains("6/7 秒批"), "{text}");
    assert!(text.contains("高龄老人津贴"), "{text}");
    assert!(
        text.contains("申请之日年满80周岁"),
        "each condition with its reason: {text}"
    );
    let receipt = field(&text, "回执编号 receipt:").to_owned();
    assert_eq!(receipt.len(), 64, "{text}");

    let replay = miaopi(&["replay", "--home", h, "--pack", p, &receipt]);
    assert!(replay.status.success(), "{}", both(&replay));
    assert!(stdout(&replay).contains("完全一致"), "{}", stdout(&replay));
    let unknown = miaopi(&["replay", "--home", h, "--pack", p, "deadbeef"]);
    assert!(!unknown.status.success());

    // The demo's applicant again, as JSON; the receipt file replays; an altered one does not.
    let id_line = text
        .lines()
        .find(|l| l.starts_with("申请人 "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        id_line.contains("********"),
        "the applicant is shown masked: {id_line}"
    );
    let applicant = sql_first(
        h,
        p,
        "SELECT resident_id FROM dwd.hukou_residents WHERE status = '1' ORDER BY birth_date LIMIT 1",
    );
    let decided = miaopi(&[
        "decide",
        "--home",
        h,
        "--pack",
        p,
        "--matter",
        "senior_allowance",
        "--applicant",
        &applicant,
        "--json",
    ]);
    assert!(decided.status.success(), "{}", both(&decided));
    let json: serde_json::Value = serde_json::from_str(&stdout(&decided)).unwrap();
    let file = tmp.path().join("receipt.json");
    std::fs::write(&file, stdout(&decided)).unwrap();
    let replay_file = miaopi(&["replay", "--home", h, "--pack", p, file.to_str().unwrap()]);
    assert!(replay_file.status.success(), "{}", both(&replay_file));
    let mut altered = json["receipt"].clone();
    altered["outcome"] = serde_json::json!({"kind": "rejected", "failing": ["age"]});
    let altered_file = tmp.path().join("altered.json");
    std::fs::write(&altered_file, altered.to_string()).unwrap();
    let replay_altered = miaopi(&[
        "replay",
        "--home",
        h,
        "--pack",
        p,
        altered_file.to_str().unwrap(),
    ]);
    assert!(
        !replay_altered.status.success(),
        "{}",
        both(&replay_altered)
    );

    // An unknown matter or a malformed applicant is refused, not decided.
    let bad = miaopi(&[
        "decide",
        "--home",
        h,
        "--pack",
        p,
        "--matter",
        "senior_allowance",
        "--applicant",
        "123",
    ]);
    assert!(!bad.status.success());
    assert!(
        both(&bad).contains("不是有效的公民身份号码"),
        "{}",
        both(&bad)
    );

    // Certificates: the demo's approval (if it was one) or the JSON one.
    let cert = [text.as_str(), &stdout(&decided)]
        .iter()
        .find_map(|t| {
            t.lines()
                .find_map(|l| l.trim().strip_prefix("文件: ").map(str::to_owned))
        })
        .or_else(|| json["certificate"]["path"].as_str().map(str::to_owned));
    let Some(cert) = cert else {
        panic!(
            "neither decision was an approval:\n{text}\n{}",
            stdout(&decided)
        );
    };
    let ok = miaopi(&["cert", "verify", "--home", h, &cert]);
    assert!(ok.status.success(), "{}", both(&ok));
    assert!(stdout(&ok).contains("验证通过"), "{}", stdout(&ok));
    let mut bytes = std::fs::read(&cert).unwrap();
    let i = bytes.iter().position(|b| *b == b':').unwrap() + 2;
    bytes[i] ^= 1;
    let tampered = tmp.path().join("tampered.cert");
    std::fs::write(&tampered, bytes).unwrap();
    let bad = miaopi(&["cert", "verify", "--home", h, tampered.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1), "{}", both(&bad));
    assert!(stdout(&bad).contains("验证失败"), "{}", stdout(&bad));
}

fn sql_first(home: &str, pack: &str, sql: &str) -> String {
    let out = miaopi(&[
        "sql", "--home", home, "--pack", pack, "--format", "csv", sql,
    ]);
    assert!(out.status.success(), "{}", both(&out));
    stdout(&out).lines().nth(1).unwrap().trim().to_owned()
}

//! `miaopi serve` as an operator starts it (issue 12): a plain start creates no demo state,
//! `miaopi admin` creates the first account (its password printed once), the demo's one-time
//! codes go to the SMS outbox and never to the log, request lines mask identifiers in paths,
//! and `--demo` brings the demo's accounts back.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_miaopi")
}

fn miaopi(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("the miaopi binary runs")
}

fn both(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn pack_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packs/futian")
}

/// A running `miaopi serve`, killed on drop; its log goes to a file.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(home: &Path, log: PathBuf, extra: &[&str]) -> Server {
        let mut child = Command::new(bin())
            .args(["serve", "--addr", "127.0.0.1:0", "--home"])
            .arg(home)
            .arg("--pack")
            .arg(pack_dir())
            .args(extra)
            // The default log level is under test: nothing from the environment changes it.
            .env_remove("RUST_LOG")
            .env_remove("MIAOPI_LOG")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| {
                    panic!("serve ended: {}", std::fs::read_to_string(&log).unwrap())
                })
                .unwrap();
            if let Some(url) = line
                .strip_prefix("控制台 console: ")
                .and_then(|u| u.strip_suffix("/console"))
            {
                break url.trim().to_owned();
            }
        };
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base, log }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The log written so far.
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

/// The target of a text log line (`TIME LEVEL span{…}:span{…}: target: message`): what follows
/// the spans, up to the first `: `.
fn log_target(line: &str) -> String {
    let mut rest = line
        .split_whitespace()
        .skip(2)
        .collect::<Vec<_>>()
        .join(" ");
    // Leading spans: a name, its fields in braces (which may hold colons and spaces), a colon.
    while let Some(open) = rest.find('{')
        && !rest[..open].contains([' ', ':'])
    {
        let mut depth = 0usize;
        let mut end = None;
        for (k, c) in rest.char_indices().skip(open) {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(k);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        rest = rest[end + 1..]
            .trim_start_matches(':')
            .trim_start()
            .to_owned();
    }
    rest.split(": ").next().unwrap_or("").to_owned()
}

async fn post(url: String, body: Value, token: Option<&str>) -> (u16, Value) {
    let mut r = reqwest::Client::new().post(url).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn first_resident(home: &Path) -> String {
    let out = miaopi(&[
        "sql",
        "--home",
        home.to_str().unwrap(),
        "--pack",
        pack_dir().to_str().unwrap(),
        "--format",
        "csv",
        "SELECT resident_id FROM dwd.hukou_residents WHERE status = '1' AND resident_id_key_status = 'valid' ORDER BY resident_id LIMIT 1",
    ]);
    assert!(out.status.success(), "{}", both(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .to_owned()
}

/// (action, detail) of every audit entry of a home, read through the governance API.
fn audit_actions(home: &Path) -> Vec<(String, String)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let meta = miaopi_meta::SqliteMeta::open(&home.join("meta.db"))
            .await
            .unwrap();
        let gov = miaopi_govern::Governance::open(&meta).await.unwrap();
        gov.audit_entries(&miaopi_govern::AuditFilter {
            limit: Some(1000),
            ..miaopi_govern::AuditFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.entry.action, r.entry.detail))
        .collect()
    })
}

#[test]
fn a_plain_serve_has_no_demo_state_and_logs_no_code_or_identifier() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let h = home.to_str().unwrap();
    let p = pack_dir();
    let demo = miaopi(&[
        "demo",
        "--out",
        tmp.path().join("district").to_str().unwrap(),
        "--people",
        "1500",
        "--no-serve",
        "--pack",
        p.to_str().unwrap(),
        "--home",
        h,
    ]);
    assert!(demo.status.success(), "{}", both(&demo));
    let resident = first_resident(&home);
    let rt = tokio::runtime::Runtime::new().unwrap();

    let server = Server::start(&home, tmp.path().join("serve.log"), &[]);
    assert!(
        !home.join("demo-credentials.json").exists(),
        "a plain serve writes no demo credentials"
    );
    rt.block_on(async {
        // No demo account exists, whatever password is tried.
        let (s, _) = post(
            server.url("/api/v1/session"),
            json!({"username": "admin", "password": "miaopi-demo"}),
            None,
        )
        .await;
        assert_eq!(s, 401);
    });

    // The operator creates the first administrator; the password is printed once.
    let created = miaopi(&[
        "admin",
        "--home",
        h,
        "account",
        "create",
        "--username",
        "ops",
        "--role",
        "administrator",
    ]);
    assert!(created.status.success(), "{}", both(&created));
    let text = String::from_utf8_lossy(&created.stdout).into_owned();
    let password = text
        .lines()
        .find_map(|l| {
            l.split_once("密码（只显示这一次）: ")
                .map(|(_, p)| p.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("{text}"));
    let listed = miaopi(&["admin", "--home", h, "account", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("ops"));
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&password));
    // The command is on the audit chain, without the password.
    let actions = audit_actions(&home);
    assert!(
        actions
            .iter()
            .any(|(a, d)| a == "admin_account_create" && d.starts_with("ops ")),
        "{actions:?}"
    );
    assert!(actions.iter().all(|(_, d)| !d.contains(&password)));
    let bad_role = miaopi(&[
        "admin",
        "--home",
        h,
        "account",
        "create",
        "--username",
        "x1",
        "--role",
        "root",
    ]);
    assert!(!bad_role.status.success());

    let code = rt.block_on(async {
        let (s, body) = post(
            server.url("/api/v1/session"),
            json!({"username": "ops", "password": password}),
            None,
        )
        .await;
        assert_eq!(s, 200, "{body}");
        let token = body["token"].as_str().unwrap().to_owned();
        // A read of a person by full ID in the path.
        let r = reqwest::Client::new()
            .get(server.url(&format!("/api/v1/persons/{resident}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(r.status().as_u16() < 500);

        // A citizen's one-time code: to the outbox, not the log.
        let (s, body) = post(
            server.url("/api/v1/citizen/code"),
            json!({"resident_id": resident}),
            None,
        )
        .await;
        assert_eq!(s, 202, "{body}");
        let outbox = std::fs::read_to_string(home.join("demo-sms-outbox.txt")).unwrap();
        let line = outbox.lines().last().unwrap().to_owned();
        let code: String = line
            .split("验证码 ")
            .nth(1)
            .unwrap()
            .chars()
            .take(6)
            .collect();
        assert!(code.chars().all(|c| c.is_ascii_digit()), "{line}");
        assert!(!line.contains(&resident), "the outbox masks the ID: {line}");
        let (s, body) = post(
            server.url("/api/v1/citizen/session"),
            json!({"resident_id": resident, "code": code}),
            None,
        )
        .await;
        assert_eq!(s, 200, "the outbox's code logs in: {body}");
        code
    });
    let log = server.log_text();
    drop(server);
    assert!(log.contains("answered"), "request lines are logged: {log}");
    // Quiet by default (issue 13): our lines at info, no dependency's below warn.
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let level = line.split_whitespace().nth(1).unwrap_or("");
        let target = log_target(line);
        assert!(
            target.starts_with("miaopi") || matches!(level, "WARN" | "ERROR"),
            "a dependency's {level} line ({target}) at the default level: {line}"
        );
    }
    assert!(
        !log.contains(&resident),
        "no full resident ID in the log:\n{log}"
    );
    let masked_path = format!("/api/v1/persons/{}", &resident[..6]);
    assert!(
        log.contains(&masked_path),
        "the path is logged masked:\n{log}"
    );
    assert!(
        !log.contains(&format!("={code}")) && !log.contains(&format!(" {code} ")),
        "no one-time code in the log:\n{log}"
    );
    assert!(!log.contains("one_time_code"), "{log}");

    // The audit chain's checkpoints, exported signed and verified against; a changed file
    // is refused.
    let anchors = tmp.path().join("anchors.jsonl");
    let export = miaopi(&[
        "audit",
        "export-checkpoints",
        "--home",
        h,
        "--out",
        anchors.to_str().unwrap(),
    ]);
    assert!(export.status.success(), "{}", both(&export));
    let verify = miaopi(&[
        "audit",
        "verify",
        "--home",
        h,
        "--checkpoints",
        anchors.to_str().unwrap(),
    ]);
    assert!(verify.status.success(), "{}", both(&verify));
    assert!(both(&verify).contains("与导出的"), "{}", both(&verify));
    let text = std::fs::read_to_string(&anchors).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let hash = last["entry_hash"].as_str().unwrap();
    let forged_hash: String = hash
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    std::fs::write(&anchors, text.replace(hash, &forged_hash)).unwrap();
    let forged = miaopi(&[
        "audit",
        "verify",
        "--home",
        h,
        "--checkpoints",
        anchors.to_str().unwrap(),
    ]);
    assert!(!forged.status.success(), "{}", both(&forged));
    assert!(
        both(&forged).contains("检查点签名无效"),
        "{}",
        both(&forged)
    );

    // `--demo` creates the demo's identities and prints where their credentials are.
    let server = Server::start(&home, tmp.path().join("demo.log"), &["--demo"]);
    assert!(home.join("demo-credentials.json").exists());
    let credentials: Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("demo-credentials.json")).unwrap())
            .unwrap();
    let admin_password = credentials["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "admin")
        .and_then(|a| a["password"].as_str())
        .unwrap()
        .to_owned();
    rt.block_on(async {
        let (s, body) = post(
            server.url("/api/v1/session"),
            json!({"username": "admin", "password": admin_password}),
            None,
        )
        .await;
        assert_eq!(s, 200, "{body}");
    });
}

//! The console in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`)
//! driven over WebDriver, against the server running in-process on loopback over a generated
//! district. Four journeys, one screenshot per step in `target/screenshots/`:
//!
//! 1. an administrator logs in and sees the dashboard with its SVG charts;
//! 2. a citizen logs in with a one-time code, applies for 高龄老人津贴 as an applicant the
//!    generator says qualifies, and sees 批准 with each condition's reason and a certificate;
//! 3. an administrator looks that person up and sees them masked (the full ID is nowhere on the
//!    page), the read is on the audit chain, and the chain verifies;
//! 4. the police reviewer approves the pending 户籍人口 share request and it leaves the queue.
//!
//! Without chromium or chromedriver this test fails (it never skips): CI must install them.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use miaopi_govern::AuditFilter;
use serde_json::json;

use common::Env;

const INSTALL_HINT: &str = "the browser tests need Debian's chromium and chromedriver: \
     apt-get install chromium chromium-driver";

/// How long any one page may take to show what a step waits for.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

fn find_program(env_var: &str, candidates: &[&str]) -> PathBuf {
    if let Ok(p) = std::env::var(env_var) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "{env_var}={} does not exist; {INSTALL_HINT}",
            p.display()
        );
        return p;
    }
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("none of {candidates:?} exists; {INSTALL_HINT}"))
}

/// chromedriver as a child process on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(chromedriver: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}; {INSTALL_HINT}", chromedriver.display()));
        let mut driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("chromedriver exited at start ({status}); {INSTALL_HINT}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not listen on port {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/screenshots/` under the workspace root.
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).expect("creating target/screenshots");
    dir
}

struct Browser {
    client: Client,
    shots: PathBuf,
    taken: Vec<PathBuf>,
}

impl Browser {
    async fn open(driver: &Driver, chromium: &Path) -> Browser {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--window-size=1366,1000",
                    "--lang=zh-CN",
                ],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("starting a chromium session: {e}; {INSTALL_HINT}"));
        Browser {
            client,
            shots: screenshot_dir(),
            taken: Vec::new(),
        }
    }

    async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(STEP_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(err) => {
                let page = self.source().await;
                panic!("{css} did not appear: {err}\npage:\n{page}");
            }
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.unwrap();
    }

    async fn text(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.unwrap()
    }

    async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// Saves a PNG of the page as `target/screenshots/<name>.png`.
    async fn screenshot(&mut self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        self.taken.push(path);
    }

    async fn console_login(&self, e: &Env, username: &str) {
        self.goto(&e.url("/console/login")).await;
        self.type_into("#username", username).await;
        self.type_into("#password", &e.password(username)).await;
        self.click("#login-submit").await;
        self.wait_for("#logout").await;
    }

    async fn logout(&self) {
        self.click("#logout").await;
        self.wait_for("#login-form").await;
    }
}

/// `440304********0123`: region, eight stars, last four — STANDARDS.md's masking.
fn masked(id: &str) -> String {
    format!("{}********{}", &id[..6], &id[14..])
}

fn has_chinese(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[test]
fn the_console_in_a_browser() {
    let chromium = find_program(
        "MIAOPI_CHROMIUM",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
    );
    let chromedriver = find_program("MIAOPI_CHROMEDRIVER", &["/usr/bin/chromedriver"]);
    let e = Env::start();
    let driver = Driver::start(&chromedriver);
    e.rt.block_on(async {
        let mut b = Browser::open(&driver, &chromium).await;
        let senior = e.scenario("senior_allowance", "approved");
        let id = senior.applicant.clone();

        // 1. Not logged in: the console sends you to the login page, which comes back to where
        // you were going; an administrator sees the dashboard's charts.
        b.goto(&e.url("/console/audit")).await;
        b.wait_for("#login-form").await;
        assert_eq!(b.path().await, "/console/login");
        b.type_into("#username", "admin").await;
        b.type_into("#password", "wrong password").await;
        b.click("#login-submit").await;
        assert_eq!(b.text("#login-error").await, "用户名或密码错误");
        b.type_into("#username", "admin").await;
        b.type_into("#password", &e.password("admin")).await;
        b.screenshot("01-admin-login").await;
        b.click("#login-submit").await;
        b.wait_for("#audit-entries").await;
        assert_eq!(
            b.path().await,
            "/console/audit",
            "back where the admin was going"
        );
        b.goto(&e.url("/console")).await;
        b.wait_for("#intake").await;
        let charts = b.count("svg.chart").await;
        assert!(charts >= 7, "the dashboard draws its charts: {charts}");
        assert!(b.count("svg.chart rect.bar").await > 0, "intake bars");
        let page = b.source().await;
        for title in [
            "各单位汇聚行数",
            "各资源隔离率",
            "各资源字段完整率",
            "每日办件量",
        ] {
            assert!(page.contains(title), "chart {title} missing");
        }
        let police = e.state.pack.unit("police").unwrap().short_name.clone();
        assert!(page.contains(&police), "units are labelled: {police}");
        b.screenshot("02-dashboard").await;
        b.logout().await;

        // 2. A citizen logs in with a one-time code, applies and sees the decision.
        b.goto(&e.url("/console/citizen")).await;
        b.type_into("#resident_id", &id).await;
        b.screenshot("03-citizen-login").await;
        b.click("#send-code").await;
        let sent = b.text("#code-sent").await;
        assert!(sent.contains(&masked(&id)), "{sent}");
        assert!(
            !b.source().await.contains(&e.code_for(&id).unwrap()),
            "the code is never on the page"
        );
        let code = e.code_for(&id).expect("a code was sent");
        let wrong = if code == "000000" { "111111" } else { "000000" };
        b.type_into("#code", wrong).await;
        b.click("#citizen-submit").await;
        assert_eq!(b.text("#citizen-error").await, "验证码错误或已过期");
        b.type_into("#code", &code).await;
        b.click("#citizen-submit").await;
        b.wait_for("#apply-senior_allowance").await;
        assert_eq!(b.path().await, "/console/apply");
        b.screenshot("04-citizen-matters").await;
        b.click("#apply-senior_allowance").await;
        b.wait_for("#apply-form").await;
        // A date input's typing format depends on the browser's locale; set its value directly.
        b.client
            .execute(
                "document.getElementById('application_date').value = arguments[0];",
                vec![json!(senior.application_date.to_string())],
            )
            .await
            .unwrap();
        b.screenshot("05-application-form").await;
        let submitted = Instant::now();
        b.click("#apply-submit").await;
        let outcome = b.text("#outcome").await;
        let waited = submitted.elapsed();
        assert_eq!(outcome, "批准", "{}", b.source().await);
        assert!(
            waited < Duration::from_secs(10),
            "decided in seconds: {waited:?}"
        );
        let conditions = b
            .client
            .find_all(Locator::Css("#conditions tbody tr"))
            .await
            .unwrap();
        assert!(!conditions.is_empty());
        for row in &conditions {
            let status = row
                .find(Locator::Css("td:nth-child(2)"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let reason = row
                .find(Locator::Css("td:nth-child(3)"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(status, "满足", "every condition holds: {reason}");
            assert!(has_chinese(&reason), "a Chinese reason: {reason}");
        }
        assert!(b.count("#reasons li").await > 0, "reasons listed");
        let certificate = b.text("#certificate-id").await;
        assert!(certificate.starts_with("1.2.156.3005.2."), "{certificate}");
        b.screenshot("06-decision-approved").await;
        // Citizens have no business in the audit viewer; they have their own page.
        b.goto(&e.url("/console/audit")).await;
        assert!(b.text("#error").await.contains("403"));
        b.goto(&e.url("/console/my-data")).await;
        let accesses = b.text("#my-accesses").await;
        assert!(accesses.contains("秒批办理"), "{accesses}");
        assert!(accesses.contains("办理事项 senior_allowance"), "{accesses}");
        b.screenshot("07-who-used-my-data").await;
        b.logout().await;

        // 3. An administrator looks the person up: masked, audited; the chain verifies.
        b.console_login(&e, "admin").await;
        b.goto(&e.url("/console/lookup")).await;
        b.type_into("#key", &id).await;
        b.type_into("#duty", "窗口核验").await;
        b.click("#lookup-submit").await;
        b.wait_for("#profile").await;
        let page = b.source().await;
        assert!(
            !page.contains(&id),
            "the full resident ID is not on the page"
        );
        assert!(page.contains(&masked(&id)), "the ID is shown masked");
        assert!(
            b.count("#facts tbody tr").await > 0,
            "the person's facts are listed"
        );
        b.screenshot("08-lookup-masked").await;
        let reads = e
            .state
            .gov
            .audit_entries(&AuditFilter {
                subject: Some(id.clone()),
                action: Some("read_profile".into()),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert!(
            reads
                .iter()
                .any(|r| r.entry.actor_id == "admin" && r.entry.purpose == "duty:窗口核验"),
            "the console lookup is on the audit chain"
        );
        b.goto(&e.url("/console/audit")).await;
        b.click("#verify-chain").await;
        let verdict = b.text("#verify-result").await;
        assert!(verdict.starts_with("审计链完整"), "{verdict}");
        b.screenshot("09-audit-verified").await;
        b.logout().await;

        // 4. The police reviewer approves the pending 户籍人口 request.
        b.console_login(&e, "reviewer-police").await;
        b.goto(&e.url("/console/requests")).await;
        b.wait_for("#request-hukou_residents").await;
        b.screenshot("10-share-queue").await;
        b.click("#approve-hukou_residents").await;
        let notice = b.text("#review-notice").await;
        assert!(notice.contains("户籍人口"), "{notice}");
        assert_eq!(
            b.count("#request-hukou_residents").await,
            0,
            "the approved request left the queue"
        );
        b.screenshot("11-share-approved").await;
        let hr = &e
            .credentials
            .granted_consumer()
            .unwrap()
            .consumer
            .consumer_id;
        let grants = e.state.gov.grants_of(hr).await.unwrap();
        assert!(
            grants
                .iter()
                .any(|g| g.resource == "hukou_residents" && g.is_valid_at(chrono::Utc::now())),
            "approval created the grant"
        );
        // A reviewer is not an auditor.
        b.goto(&e.url("/console/audit")).await;
        assert!(b.text("#error").await.contains("403"));

        let taken = b.taken.clone();
        b.client.close().await.unwrap();
        assert_eq!(taken.len(), 11);
        for shot in taken {
            let meta =
                std::fs::metadata(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
            assert!(meta.len() > 1000, "{} is not an image", shot.display());
            let head = std::fs::read(&shot).unwrap();
            assert_eq!(
                &head[..8],
                b"\x89PNG\r\n\x1a\n",
                "{} is a PNG",
                shot.display()
            );
        }
    });
    drop(driver);
}

//! Shared by the server's integration tests (`api.rs`, `browser.rs`): a generated district
//! (3,000 people) ingested and linked into a fresh state directory, the demo identities, and
//! the server running in-process on a loopback port.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use miaopi_govern::{
    CitizenChallenge, CitizenIdentityProvider, CodeBoxFuture, DemoCredentials, OneTimeCodeProvider,
};
use miaopi_server::{AppState, ServeOptions};
use miaopi_synth::SynthConfig;

pub use miaopi_testkit::{pack, pack_dir};

/// The demo identity provider, remembering the codes it "sends" so the test can type them in
/// (the server only writes them to its log).
pub struct RecordingCodes {
    inner: OneTimeCodeProvider,
    sent: Arc<Mutex<HashMap<String, String>>>,
}

impl CitizenIdentityProvider for RecordingCodes {
    fn start<'a>(
        &'a self,
        resident_id: &'a str,
        now: DateTime<Utc>,
    ) -> CodeBoxFuture<'a, CitizenChallenge> {
        Box::pin(async move {
            let challenge = self.inner.start(resident_id, now).await?;
            if let Some(code) = &challenge.demo_code {
                self.sent
                    .lock()
                    .unwrap()
                    .insert(challenge.resident_id.clone(), code.clone());
            }
            Ok(challenge)
        })
    }

    fn finish<'a>(
        &'a self,
        resident_id: &'a str,
        code: &'a str,
        now: DateTime<Utc>,
    ) -> CodeBoxFuture<'a, bool> {
        self.inner.finish(resident_id, code, now)
    }
}

pub struct Env {
    pub out: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
    pub base: String,
    pub state: AppState,
    pub credentials: DemoCredentials,
    pub codes: Arc<Mutex<HashMap<String, String>>>,
}

impl Env {
    /// Generates, ingests and links the district, bootstraps the demo identities and starts
    /// the server. Each test binary calls this once (behind a `OnceLock`).
    pub fn start() -> Env {
        Env::start_with(|_| {})
    }

    /// Like [`Env::start`], with the server's options changed by `configure`.
    pub fn start_with(configure: impl FnOnce(&mut ServeOptions)) -> Env {
        let out = miaopi_testkit::generate(&SynthConfig {
            // Applications are dated today (the engine refuses other dates without a counter
            // officer's reason), so the district is generated as of today.
            as_of: miaopi_decide::dates::now_shanghai().date_naive(),
            ..miaopi_testkit::small_district(3_000)
        });
        let home = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let codes = Arc::new(Mutex::new(HashMap::new()));
        let (state, credentials, base) = rt.block_on(async {
            miaopi_testkit::ingest_and_link(home.path(), &out.path().join("sources")).await;
            let meta = miaopi_meta::SqliteMeta::open(&home.path().join("meta.db"))
                .await
                .unwrap();
            let gov = miaopi_govern::Governance::open(&meta).await.unwrap();
            let credentials = gov.bootstrap_demo(pack(), Utc::now()).await.unwrap();
            let provider = RecordingCodes {
                inner: gov.one_time_codes(),
                sent: codes.clone(),
            };
            let mut options = ServeOptions::new(home.path(), &pack_dir());
            configure(&mut options);
            let state = AppState::open_with(options, Some(Box::new(provider)))
                .await
                .unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(miaopi_server::serve(
                state.clone(),
                listener,
                std::future::pending(),
            ));
            (state, credentials, base)
        });
        Env {
            out,
            home,
            rt,
            base,
            state,
            credentials,
            codes,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn hr_key(&self) -> &str {
        &self.credentials.granted_consumer().unwrap().api_key
    }

    pub fn ungranted_key(&self) -> &str {
        &self.credentials.ungranted_consumer().unwrap().api_key
    }

    pub fn password(&self, username: &str) -> String {
        self.credentials
            .account(username)
            .and_then(|a| a.password.clone())
            .unwrap_or_else(|| panic!("no password for {username}"))
    }

    /// The one-time code last "sent" to a resident ID.
    pub fn code_for(&self, resident_id: &str) -> Option<String> {
        self.codes.lock().unwrap().get(resident_id).cloned()
    }

    /// The generator's scenarios (ground truth the platform never reads).
    pub fn scenarios(&self) -> ScenarioSet {
        serde_json::from_str(
            &std::fs::read_to_string(self.out.path().join("scenarios.json")).unwrap(),
        )
        .unwrap()
    }

    /// A scenario of `matter` that the generator says ends `expected`.
    pub fn scenario(&self, matter: &str, expected: &str) -> Scenario {
        self.scenarios()
            .matters
            .into_iter()
            .find(|m| m.matter == matter)
            .unwrap_or_else(|| panic!("no scenarios for {matter}"))
            .scenarios
            .into_iter()
            .find(|s| s.expected == expected)
            .unwrap_or_else(|| panic!("no {expected} scenario for {matter}"))
    }
}

#[derive(serde::Deserialize)]
pub struct ScenarioSet {
    pub matters: Vec<MatterScenarios>,
}

#[derive(serde::Deserialize)]
pub struct MatterScenarios {
    pub matter: String,
    pub scenarios: Vec<Scenario>,
}

#[derive(serde::Deserialize, Clone)]
pub struct Scenario {
    pub applicant: String,
    pub application_date: NaiveDate,
    pub expected: String,
    /// Conditions the data cannot decide (for `manual_review`).
    #[serde(default)]
    pub unknown: Vec<String>,
    /// The generator's form values (its own keys; see [`form_input`]).
    #[serde(default)]
    pub form: serde_json::Map<String, serde_json::Value>,
}

/// The matter's form input for a generator form key.
pub fn form_input(matter: &str, key: &str) -> &'static str {
    match (matter, key) {
        ("newborn_hukou", "birth_certificate_no") => "出生医学证明编号",
        ("newborn_hukou", "child_name") => "新生儿姓名",
        ("newborn_hukou", "child_id") => "新生儿身份证号",
        ("individual_business", "name") => "拟用名称",
        ("individual_business", "premises_address_code") => "经营场所地址编码",
        ("individual_business", "industry") => "行业门类",
        _ => panic!("{matter}: the generator's form key {key:?} has no form input here"),
    }
}

impl Scenario {
    /// The scenario's form as the API takes it (form input → value).
    pub fn api_form(&self, matter: &str) -> serde_json::Value {
        serde_json::Value::Object(
            self.form
                .iter()
                .map(|(k, v)| (form_input(matter, k).to_owned(), v.clone()))
                .collect(),
        )
    }
}

//! The governed API over a real server on loopback, on a generated district (3,000 people,
//! ingested and linked): credentials and grants decide every personal-data answer (401 / 403 /
//! masked by default), a conditional share is refused until its provider approves, SQL is for
//! administrators and read-only, pushed intake reconciles exactly like file intake, the audit
//! chain records reads and catches an altered entry, and a citizen logs in, applies, gets the
//! decision with reasons, and sees who used their data.

mod common;

use std::sync::{Arc, OnceLock};

use miaopi_batch::{Home, ingest_file};
use miaopi_catalog::{FileFormat, TextEncoding};
use miaopi_ingest::{ReadOptions, Standardizer};
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{Env, pack};

/// The district and server, built once for all tests of this file.
fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(Env::start)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

impl Env {
    /// A console session token.
    async fn login(&self, username: &str) -> String {
        let r = client()
            .post(self.url("/api/v1/session"))
            .json(&json!({"username": username, "password": self.password(username)}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "login {username}");
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        let body: Value = r.json().await.unwrap();
        body["token"].as_str().unwrap().to_string()
    }

    /// One column of the first rows of a lake query.
    async fn sql_column(&self, sql: &str, column: &str) -> Vec<String> {
        let batches = self
            .state
            .lake
            .query(sql, &miaopi_lake::AsOf::Latest)
            .await
            .unwrap();
        let rows = miaopi_server::governed::rows::batches_to_json(&batches).unwrap();
        rows.iter()
            .filter_map(|r| r.get(column).and_then(|v| v.as_str()).map(str::to_string))
            .collect()
    }
}

async fn status_and_body(r: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = r.send().await.unwrap();
    let status = r.status();
    let id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(!id.is_empty(), "every answer carries a request id");
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if !status.is_success() {
        assert_eq!(
            body["error"]["request_id"].as_str(),
            Some(id.as_str()),
            "an error body names its request: {body}"
        );
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    (status, body)
}

/// A person who has an education-degree record (a resource the HR consumer is granted).
async fn person_with_degree(e: &Env) -> String {
    let ids = e
        .sql_column(
            "SELECT resident_id FROM dwd.education_degrees WHERE resident_id_key_status = 'valid' LIMIT 20",
            "resident_id",
        )
        .await;
    for id in ids {
        let key = miaopi_index::Key::person(&id);
        if e.state
            .platform
            .facts
            .index()
            .get_by_key(&key)
            .unwrap()
            .is_some()
        {
            return id;
        }
    }
    panic!("no linked person with a degree");
}

#[test]
fn personal_data_needs_credentials_a_grant_and_is_masked_by_default() {
    let e = env();
    e.rt.block_on(async {
        let id = person_with_degree(e).await;
        let uscc = e
            .sql_column(
                "SELECT CAST(uscc AS VARCHAR) AS uscc FROM base.legal_persons LIMIT 1",
                "uscc",
            )
            .await
            .pop()
            .expect("a legal person");
        let purpose = "purpose=matter:talent_subsidy";
        let personal = [
            format!("/api/v1/persons/{id}?{purpose}"),
            format!("/api/v1/enterprises/{uscc}?{purpose}"),
            format!("/api/v1/resources/education_degrees/records?{purpose}"),
        ];
        for path in &personal {
            let (s, body) = status_and_body(client().get(e.url(path))).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}: {body}");
            assert_eq!(body["error"]["code"], "unauthenticated");
            let (s, body) = status_and_body(
                client()
                    .get(e.url(path))
                    .header("x-api-key", e.ungranted_key()),
            )
            .await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {body}");
            assert_eq!(body["error"]["code"], "not_granted");
            let (s, body) =
                status_and_body(client().get(e.url(path)).header("x-api-key", "mpk_nobody_00"))
                    .await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}: {body}");
        }

        // The granted consumer sees only its granted resources, masked.
        let (s, body) = status_and_body(
            client()
                .get(e.url(&personal[0]))
                .header("x-api-key", e.hr_key()),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let facts = body["profile"]["facts"].as_array().unwrap();
        assert!(!facts.is_empty());
        let granted = ["education_degrees", "dishonest_debtors", "enterprise_registrations"];
        for f in facts {
            let resource = f["resource"].as_str().unwrap();
            assert!(granted.contains(&resource), "ungranted {resource} leaked");
            assert!(f["unit"].is_string() && f["batch_id"].is_string(), "provenance: {f}");
        }
        let ids_shown: Vec<&str> = facts
            .iter()
            .filter(|f| f["field"] == "resident_id")
            .map(|f| f["value"].as_str().unwrap())
            .collect();
        assert!(!ids_shown.is_empty());
        for shown in ids_shown {
            assert_ne!(shown, id, "the resident ID is masked by default");
            assert!(shown.contains("********"), "{shown}");
        }
        let names: Vec<&str> = facts
            .iter()
            .filter(|f| f["field"] == "name")
            .map(|f| f["value"].as_str().unwrap())
            .collect();
        assert!(names.iter().all(|n| n.contains('*')), "{names:?}");
        assert!(
            !body.to_string().contains(&id),
            "the full ID appears nowhere in the answer"
        );

        // Granted for one matter is not granted for another purpose; a purpose is required.
        let (s, _) = status_and_body(
            client()
                .get(e.url(&format!("/api/v1/persons/{id}?purpose=duty:随便看看")))
                .header("x-api-key", e.hr_key()),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, body) = status_and_body(
            client()
                .get(e.url(&format!("/api/v1/persons/{id}")))
                .header("x-api-key", e.hr_key()),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "purpose_required");
        // A malformed ID is a 400, not a lookup.
        let (s, body) = status_and_body(
            client()
                .get(e.url(&format!("/api/v1/persons/12345?{purpose}")))
                .header("x-api-key", e.hr_key()),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");

        // Records: only granted fields, IDs masked, and the read is on the audit chain.
        let (s, body) = status_and_body(
            client()
                .get(e.url(&format!(
                    "/api/v1/resources/education_degrees/records?{purpose}&field=resident_id&value={id}"
                )))
                .header("x-api-key", e.hr_key()),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let records = body["records"].as_array().unwrap();
        assert!(!records.is_empty());
        for r in records {
            let shown = r["resident_id"].as_str().unwrap();
            assert!(shown.contains('*') && shown != id, "{shown}");
        }
        let hr = &e.credentials.granted_consumer().unwrap().consumer.consumer_id;
        let entries = e
            .state
            .gov
            .audit_entries(&miaopi_govern::AuditFilter {
                subject: Some(id.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            entries
                .iter()
                .any(|r| &r.entry.actor_id == hr && r.entry.action == "read_records"),
            "the records read is audited"
        );
        assert!(
            entries
                .iter()
                .any(|r| &r.entry.actor_id == hr && r.entry.action == "read_profile"),
            "the profile read is audited"
        );
    });
}

#[test]
fn a_conditional_share_is_refused_until_its_provider_approves() {
    let e = env();
    e.rt.block_on(async {
        let path =
            "/api/v1/resources/hukou_residents/records?purpose=matter:talent_subsidy&limit=5";
        let (s, body) =
            status_and_body(client().get(e.url(path)).header("x-api-key", e.hr_key())).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "pending is not granted: {body}");

        let queue_of = |token: String| {
            client()
                .get(e.url("/api/v1/grant-requests"))
                .bearer_auth(token)
        };
        let police = e.login("reviewer-police").await;
        let (s, queue) = status_and_body(queue_of(police.clone())).await;
        assert_eq!(s, StatusCode::OK, "{queue}");
        let request = queue
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "hukou_residents")
            .expect("the HR request waits in the police queue")
            .clone();
        let request_id = request["request_id"].as_str().unwrap();

        // The health reviewer may not decide for the police; a consumer may not review at all.
        let health = e.login("reviewer-health").await;
        let review = |token: &str, approve: bool| {
            client()
                .post(e.url(&format!("/api/v1/grant-requests/{request_id}/review")))
                .bearer_auth(token)
                .json(&json!({"approve": approve, "note": "测试"}))
        };
        let (s, body) = status_and_body(review(&health, true)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
        let (s, _) = status_and_body(
            client()
                .post(e.url(&format!("/api/v1/grant-requests/{request_id}/review")))
                .header("x-api-key", e.hr_key())
                .json(&json!({"approve": true})),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) =
            status_and_body(client().get(e.url(path)).header("x-api-key", e.hr_key())).await;
        assert_eq!(
            s,
            StatusCode::FORBIDDEN,
            "still refused after a refused review"
        );

        let (s, body) = status_and_body(review(&police, true)).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let (s, body) =
            status_and_body(client().get(e.url(path)).header("x-api-key", e.hr_key())).await;
        assert_eq!(s, StatusCode::OK, "approved: {body}");
        let records = body["records"].as_array().unwrap();
        assert_eq!(records.len(), 5);
        for r in records {
            let id = r["resident_id"].as_str().unwrap();
            assert!(id.contains('*'), "masked: {id}");
        }
        // Reviewed once is reviewed.
        let (s, _) = status_and_body(review(&police, false)).await;
        assert_eq!(s, StatusCode::CONFLICT);
    });
}

#[test]
fn sql_is_for_administrators_and_read_only() {
    let e = env();
    e.rt.block_on(async {
        let admin = e.login("admin").await;
        let auditor = e.login("auditor").await;
        let sql = |token: Option<&str>, text: &str| {
            let r = client()
                .post(e.url("/api/v1/sql"))
                .json(&json!({ "sql": text }));
            match token {
                Some(t) => r.bearer_auth(t),
                None => r,
            }
        };
        let (s, body) = status_and_body(sql(
            Some(&admin),
            "SELECT count(*) AS n FROM dwd.hukou_residents",
        ))
        .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(body["records"][0]["n"].as_i64().unwrap() > 100, "{body}");
        for write in [
            "INSERT INTO dwd.hukou_residents SELECT * FROM dwd.hukou_residents LIMIT 1",
            "DELETE FROM dwd.hukou_residents",
            "DROP TABLE dwd.hukou_residents",
            "CREATE TABLE x AS SELECT 1",
        ] {
            let (s, body) = status_and_body(sql(Some(&admin), write)).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{write}: {body}");
            assert_eq!(body["error"]["code"], "bad_sql");
        }
        let (s, _) = status_and_body(sql(
            Some(&admin),
            "SELECT count(*) AS n FROM dwd.hukou_residents",
        ))
        .await;
        assert_eq!(s, StatusCode::OK, "the table survived");
        let (s, _) = status_and_body(sql(Some(&auditor), "SELECT 1")).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = status_and_body(sql(None, "SELECT 1")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _) = status_and_body(
            client()
                .post(e.url("/api/v1/sql"))
                .header("x-api-key", e.hr_key())
                .json(&json!({"sql": "SELECT 1"})),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    });
}

#[test]
fn pushed_intake_reconciles_like_file_intake() {
    let e = env();
    e.rt.block_on(async {
        let resource = pack().resource("criminal_records").unwrap();
        let source = miaopi_batch::discover(pack(), &[e.out.path().join("sources")])
            .0
            .into_iter()
            .find(|f| f.resource.code == resource.code)
            .unwrap();
        let text = std::fs::read_to_string(&source.path).unwrap();
        let taken: Vec<&str> = text.lines().take(40).collect();
        assert!(taken.len() >= 10, "a few records to push");
        let mut body: String = taken.iter().map(|l| format!("{l}\n")).collect();
        body.push_str("this is not json\n");
        body.push_str("{\"resident_id\": \"1\", \"unknown\": [}\n");

        let admin = e.login("admin").await;
        let push = |key: &str, body: String| {
            client()
                .post(e.url(&format!("/api/v1/intake/criminal_records?batch_key={key}")))
                .bearer_auth(&admin)
                .header("content-type", "application/x-ndjson")
                .body(body)
        };
        let (s, report) = status_and_body(push("test-batch-1", body.clone())).await;
        assert_eq!(s, StatusCode::OK, "{report}");
        let read = report["rows_read"].as_u64().unwrap();
        let accepted = report["rows_accepted"].as_u64().unwrap();
        let quarantined = report["rows_quarantined"].as_u64().unwrap();
        assert_eq!(read, taken.len() as u64 + 2);
        assert_eq!(read, accepted + quarantined, "{report}");
        assert!(quarantined >= 2, "{report}");
        assert_eq!(report["outcome"], "committed");

        // Again, same key and body: nothing changes. Same key, another body: refused.
        let (s, again) = status_and_body(push("test-batch-1", body.clone())).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(again["outcome"], "already_ingested");
        assert_eq!(again["batch_id"], report["batch_id"]);
        let (s, body409) = status_and_body(push("test-batch-1", format!("{body}\n{{}}\n"))).await;
        assert_eq!(s, StatusCode::CONFLICT, "{body409}");
        let (s, _) = status_and_body(push("bad key!", body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        // Only the provider unit's system (or an administrator) may push.
        let (s, _) = status_and_body(
            client()
                .post(e.url("/api/v1/intake/criminal_records?batch_key=x1"))
                .header("x-api-key", e.hr_key())
                .body(body.clone()),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        // The same bytes as a file, through the file path, into a fresh home: same batch id,
        // same counts, same reasons.
        let file_home = tempfile::tempdir().unwrap();
        let file = file_home.path().join("pushed.jsonl");
        std::fs::write(&file, &body).unwrap();
        let mut as_file = resource.clone();
        as_file.format = FileFormat::Jsonl;
        as_file.encoding = Some(TextEncoding::Utf8);
        let h = Home::open(&file_home.path().join("home")).await.unwrap();
        let std = Arc::new(Standardizer::new(pack(), &as_file).unwrap());
        let by_file = ingest_file(&h, &std, &as_file, &file, &ReadOptions::default(), &|_| {})
            .await
            .unwrap();
        assert_eq!(by_file.batch_id, report["batch_id"].as_str().unwrap());
        assert_eq!(by_file.rows_read, read);
        assert_eq!(by_file.rows_accepted, accepted);
        assert_eq!(by_file.rows_quarantined, quarantined);
        assert_eq!(
            serde_json::to_value(&by_file.reasons).unwrap(),
            report["reasons"]
        );
    });
}

#[test]
fn the_audit_chain_catches_an_altered_entry() {
    let e = env();
    e.rt.block_on(async {
        let id = person_with_degree(e).await;
        for _ in 0..3 {
            let (s, _) = status_and_body(
                client()
                    .get(e.url(&format!(
                        "/api/v1/persons/{id}?purpose=matter:talent_subsidy"
                    )))
                    .header("x-api-key", e.hr_key()),
            )
            .await;
            assert_eq!(s, StatusCode::OK);
        }
        let auditor = e.login("auditor").await;
        let verify = || {
            client()
                .get(e.url("/api/v1/audit/verify"))
                .bearer_auth(&auditor)
        };
        let (s, report) = status_and_body(verify()).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(report["intact"], true, "{report}");
        let (s, _) = status_and_body(
            client()
                .get(e.url("/api/v1/audit/verify"))
                .header("x-api-key", e.hr_key()),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "consumers cannot audit");

        // Alter one entry behind the platform's back, then put it back.
        let pool = e.state.platform.meta.pool();
        let (seq, purpose): (i64, String) = sqlx::query_as(
            "SELECT seq, purpose FROM gov_audit_entries WHERE action = 'read_profile' ORDER BY seq LIMIT 1",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        sqlx::query("UPDATE gov_audit_entries SET purpose = 'duty:掩盖' WHERE seq = ?")
            .bind(seq)
            .execute(pool)
            .await
            .unwrap();
        let (_, report) = status_and_body(verify()).await;
        assert_eq!(report["intact"], false, "{report}");
        assert_eq!(report["problem"]["seq"].as_i64(), Some(seq), "{report}");
        sqlx::query("UPDATE gov_audit_entries SET purpose = ? WHERE seq = ?")
            .bind(&purpose)
            .bind(seq)
            .execute(pool)
            .await
            .unwrap();
        let (_, report) = status_and_body(verify()).await;
        assert_eq!(report["intact"], true, "{report}");
    });
}

#[test]
fn a_citizen_logs_in_applies_and_sees_who_used_their_data() {
    let e = env();
    e.rt.block_on(async {
        let approved = e.scenario("senior_allowance", "approved");
        let id = approved.applicant.clone();

        // A department reads this person's data first (if the grant covers anything of theirs).
        let (hr_status, _) = status_and_body(
            client()
                .get(e.url(&format!(
                    "/api/v1/persons/{id}?purpose=matter:talent_subsidy"
                )))
                .header("x-api-key", e.hr_key()),
        )
        .await;

        // Log in with a one-time code.
        let (s, body) = status_and_body(
            client()
                .post(e.url("/api/v1/citizen/code"))
                .json(&json!({"resident_id": "440304199001011234"})),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "a bad check digit: {body}");
        let (s, body) = status_and_body(
            client()
                .post(e.url("/api/v1/citizen/code"))
                .json(&json!({"resident_id": id})),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{body}");
        assert!(!body.to_string().contains(&id));
        let code = e.codes.lock().unwrap().get(&id).cloned().unwrap();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let (s, _) = status_and_body(
            client()
                .post(e.url("/api/v1/citizen/session"))
                .json(&json!({"resident_id": id, "code": wrong})),
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, body) = status_and_body(
            client()
                .post(e.url("/api/v1/citizen/session"))
                .json(&json!({"resident_id": id, "code": code})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let token = body["token"].as_str().unwrap().to_string();

        // Apply: the decision, its reasons and the certificate in the same response.
        let (s, decision) = status_and_body(
            client()
                .post(e.url("/api/v1/applications"))
                .bearer_auth(&token)
                .json(&json!({
                    "matter": "senior_allowance",
                    "application_date": approved.application_date,
                })),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{decision}");
        assert_eq!(decision["outcome"], "approved", "{decision}");
        assert_eq!(decision["outcome_zh"], "批准");
        let reasons = decision["reasons"].as_array().unwrap();
        assert!(!reasons.is_empty());
        assert!(
            reasons.iter().any(|r| r
                .as_str()
                .unwrap()
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))),
            "reasons are Chinese: {reasons:?}"
        );
        assert!(
            decision["certificate_id"]
                .as_str()
                .unwrap()
                .starts_with("1.2.156.3005.2.")
        );
        let receipt_id = decision["receipt_id"].as_str().unwrap();
        let (s, stored) = status_and_body(
            client()
                .get(e.url(&format!("/api/v1/decisions/{receipt_id}")))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(stored["outcome"], "approved");

        // Not for someone else, and not someone else's data.
        let other = person_with_degree(e).await;
        let (s, _) = status_and_body(
            client()
                .post(e.url("/api/v1/applications"))
                .bearer_auth(&token)
                .json(&json!({"matter": "senior_allowance", "applicant": other})),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = status_and_body(
            client()
                .get(e.url(&format!("/api/v1/persons/{other}")))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        // Who used my data: the decision, and the department's read when it was served.
        let (s, accesses) = status_and_body(
            client()
                .get(e.url("/api/v1/me/accesses"))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{accesses}");
        let entries = accesses.as_array().unwrap();
        assert!(
            entries
                .iter()
                .any(|a| a["action"] == "decide" && a["purpose"] == "matter:senior_allowance"),
            "{accesses}"
        );
        if hr_status == StatusCode::OK {
            let hr = &e
                .credentials
                .granted_consumer()
                .unwrap()
                .consumer
                .consumer_id;
            assert!(
                entries
                    .iter()
                    .any(|a| a["actor_id"] == hr.as_str() && a["action"] == "read_profile"),
                "{accesses}"
            );
        }
        assert!(entries.iter().all(|a| a["subject"] == id.as_str()));
    });
}

#[test]
fn concurrent_applications_share_commits_and_each_get_their_own_certificate() {
    use miaopi_meta::MetaStore;
    let e = env();
    e.rt.block_on(async {
        let token = e.login("admin").await;
        let approved: Vec<common::Scenario> = e
            .scenarios()
            .matters
            .into_iter()
            .find(|m| m.matter == "senior_allowance")
            .unwrap()
            .scenarios
            .into_iter()
            .filter(|s| s.expected == "approved")
            .collect();
        assert!(!approved.is_empty());
        // 48 applications at once (each applicant several times): the decision writer stores
        // them in shared transactions, one decision per applicant.
        let sends = (0..48).map(|i| {
            let s = &approved[i % approved.len()];
            status_and_body(
                client()
                    .post(e.url("/api/v1/applications"))
                    .bearer_auth(&token)
                    .json(&json!({
                        "matter": "senior_allowance",
                        "applicant": s.applicant,
                        "application_date": s.application_date,
                    })),
            )
        });
        let answers = futures::future::join_all(sends).await;
        // One decision per applicant and period: an applicant's repeats, in the same group
        // commit or after it, all get the one decision and the one certificate.
        let mut by_applicant: std::collections::BTreeMap<String, (String, String)> =
            std::collections::BTreeMap::new();
        for (i, (s, d)) in answers.iter().enumerate() {
            assert_eq!(*s, StatusCode::OK, "{d}");
            assert_eq!(d["outcome"], "approved", "{d}");
            let applicant = approved[i % approved.len()].applicant.clone();
            let got = (
                d["receipt_id"].as_str().unwrap().to_string(),
                d["certificate_id"].as_str().unwrap().to_string(),
            );
            let first = by_applicant.entry(applicant).or_insert_with(|| got.clone());
            assert_eq!(*first, got, "the same decision for the same applicant: {d}");
        }
        let distinct = approved.len().min(48);
        assert_eq!(by_applicant.len(), distinct);
        let receipts: std::collections::BTreeSet<String> =
            by_applicant.values().map(|(r, _)| r.clone()).collect();
        let certificates: std::collections::BTreeSet<String> =
            by_applicant.values().map(|(_, c)| c.clone()).collect();
        assert_eq!(
            receipts.len(),
            distinct,
            "each applicant's decision is their own"
        );
        assert_eq!(
            certificates.len(),
            distinct,
            "each approval its own certificate"
        );
        // Each is stored with its latency, and its certificate with a serial no other has.
        let meta = &e.state.platform.meta;
        let ids: Vec<&str> = receipts.iter().map(String::as_str).collect();
        let stored = meta.certificates_of_receipts(&ids).await.unwrap();
        assert_eq!(stored.len(), distinct);
        let serials: std::collections::BTreeSet<u64> = stored.iter().map(|c| c.serial).collect();
        assert_eq!(serials.len(), distinct, "serials are unique");
        for c in &stored {
            assert!(certificates.contains(&c.certificate_id));
            let bytes = std::fs::read(&c.file_path).unwrap();
            miaopi_decide::verify_certificate(&bytes, &e.state.platform.keys().public_key())
                .unwrap();
        }
        for id in &ids {
            assert!(meta.decision(id).await.unwrap().is_some());
        }
        let timed: u64 = meta
            .decision_day_stats()
            .await
            .unwrap()
            .iter()
            .filter(|d| d.matter == "senior_allowance")
            .map(|d| d.timed)
            .sum();
        assert!(
            timed >= distinct as u64,
            "latency recorded with each decision: {timed}"
        );

        // A logged-out token is refused at once, though the server had it cached.
        let decision_url = e.url(&format!("/api/v1/decisions/{}", ids[0]));
        let (s, _) = status_and_body(client().get(&decision_url).bearer_auth(&token)).await;
        assert_eq!(s, StatusCode::OK);
        let r = client()
            .delete(e.url("/api/v1/session"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let (s, body) = status_and_body(client().get(&decision_url).bearer_auth(&token)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    });
}

#[test]
fn the_openapi_document_lists_every_route() {
    let e = env();
    e.rt.block_on(async {
        let (s, doc) = status_and_body(client().get(e.url("/api/openapi.json"))).await;
        assert_eq!(s, StatusCode::OK);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/api/health",
            "/api/v1/persons/{resident_id}",
            "/api/v1/enterprises/{uscc}",
            "/api/v1/resources/{code}/records",
            "/api/v1/catalog/resources",
            "/api/v1/matters/{code}/guide",
            "/api/v1/applications",
            "/api/v1/decisions/{receipt_id}",
            "/api/v1/certificates/verify",
            "/api/v1/intake/{resource}",
            "/api/v1/quality",
            "/api/v1/sql",
            "/api/v1/audit/verify",
            "/api/v1/me/accesses",
            "/api/v1/oauth/token",
        ] {
            assert!(
                paths.contains_key(p),
                "{p} missing from the OpenAPI document"
            );
        }
        let (s, health) = status_and_body(client().get(e.url("/api/health"))).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(health["status"], "ok");
        // OAuth2 client credentials give a working bearer token.
        let hr = e.credentials.granted_consumer().unwrap();
        let (s, token) = status_and_body(client().post(e.url("/api/v1/oauth/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", hr.consumer.consumer_id.as_str()),
            ("client_secret", hr.client_secret.as_str()),
        ]))
        .await;
        assert_eq!(s, StatusCode::OK, "{token}");
        let (s, who) = status_and_body(
            client()
                .get(e.url("/api/v1/whoami"))
                .bearer_auth(token["access_token"].as_str().unwrap()),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(who["kind"], "consumer");
        let _ = e.home.path();
    });
}

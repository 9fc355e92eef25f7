//! Consumers, keys, client credentials, accounts, sessions, one-time codes, rate limits.

use std::time::{Duration, Instant};

use miaopi_govern::{CitizenIdentityProvider, GovernError, OTP_MAX_ATTEMPTS, Principal, Role};
use sqlx::Row;

use crate::{at, store};

#[tokio::test]
async fn api_keys_verify_and_are_not_stored_in_plaintext() {
    let s = store().await;
    let c = s
        .gov
        .create_consumer("福田区人力资源局", Some("human_resources"), 60)
        .await
        .unwrap();
    let other = s
        .gov
        .create_consumer("另一个使用方", None, 60)
        .await
        .unwrap();
    let key = s.gov.issue_api_key(&c.consumer_id).await.unwrap();
    assert!(key.starts_with(&format!("mpk_{}_", c.consumer_id)), "{key}");

    let found = s.gov.authenticate_api_key(&key).await.unwrap();
    assert_eq!(
        found.as_ref().map(|c| c.consumer_id.as_str()),
        Some(c.consumer_id.as_str())
    );

    // One character changed at the end, the same secret under another consumer, garbage.
    let mut wrong = key.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    assert_eq!(s.gov.authenticate_api_key(&wrong).await.unwrap(), None);
    let secret = key.rsplit_once('_').unwrap().1;
    let moved = format!("mpk_{}_{secret}", other.consumer_id);
    assert_eq!(s.gov.authenticate_api_key(&moved).await.unwrap(), None);
    assert_eq!(s.gov.authenticate_api_key("mpk_").await.unwrap(), None);
    assert_eq!(s.gov.authenticate_api_key("").await.unwrap(), None);

    // What is stored: an Argon2id PHC string, and nowhere the secret.
    let rows = sqlx::query("SELECT * FROM gov_api_keys")
        .fetch_all(s.meta.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let stored: String = rows[0].try_get("key_hash").unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    for col in ["key_id", "consumer_id", "key_prefix", "key_hash"] {
        let v: String = rows[0].try_get(col).unwrap();
        assert!(!v.contains(secret), "column {col} holds the secret");
    }

    // Revoked keys stop working.
    assert_eq!(s.gov.revoke_api_keys(&c.consumer_id).await.unwrap(), 1);
    assert_eq!(s.gov.authenticate_api_key(&key).await.unwrap(), None);
    assert!(matches!(
        s.gov.issue_api_key("csm_nosuch").await,
        Err(GovernError::UnknownConsumer(_))
    ));
}

#[tokio::test]
async fn client_credentials_tokens_expire() {
    let s = store().await;
    let c = s
        .gov
        .create_consumer("区住建局", Some("housing"), 60)
        .await
        .unwrap();
    let secret = s.gov.issue_client_secret(&c.consumer_id).await.unwrap();
    let now = at("2025-06-01T08:00:00Z");

    assert_eq!(
        s.gov
            .client_credentials_token(&c.consumer_id, "mcs_wrong", now, 600)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.gov
            .client_credentials_token("csm_unknown", &secret, now, 600)
            .await
            .unwrap(),
        None
    );
    let token = s
        .gov
        .client_credentials_token(&c.consumer_id, &secret, now, 600)
        .await
        .unwrap()
        .expect("right credentials give a token");
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.expires_at, at("2025-06-01T08:10:00Z"));

    let just_before = at("2025-06-01T08:09:59Z");
    let found = s
        .gov
        .consumer_for_token(&token.access_token, just_before)
        .await
        .unwrap();
    assert_eq!(found.map(|c| c.consumer_id), Some(c.consumer_id.clone()));
    assert_eq!(
        s.gov
            .consumer_for_token(&token.access_token, token.expires_at)
            .await
            .unwrap(),
        None,
        "a token is dead at its expiry"
    );
    assert_eq!(
        s.gov.consumer_for_token("mpt_forged", now).await.unwrap(),
        None
    );

    // Neither the secret nor the token is in the database.
    let stored: String = sqlx::query_scalar("SELECT client_secret_hash FROM gov_consumers")
        .fetch_one(s.meta.pool())
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains(&secret[4..]));
    let token_hash: String = sqlx::query_scalar("SELECT token_hash FROM gov_access_tokens")
        .fetch_one(s.meta.pool())
        .await
        .unwrap();
    assert_eq!(token_hash.len(), 64);
    assert!(!token.access_token.contains(&token_hash));

    // A new secret replaces the old one.
    let newer = s.gov.issue_client_secret(&c.consumer_id).await.unwrap();
    assert_eq!(
        s.gov
            .client_credentials_token(&c.consumer_id, &secret, now, 600)
            .await
            .unwrap(),
        None
    );
    assert!(
        s.gov
            .client_credentials_token(&c.consumer_id, &newer, now, 600)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn accounts_and_sessions() {
    let s = store().await;
    let roles = [
        Role::ProviderReviewer {
            unit_code: "civil_affairs".into(),
        },
        Role::Auditor,
    ];
    let account = s
        .gov
        .create_account("li.ming", "s3cret-pass", "李明", &roles)
        .await
        .unwrap();
    assert!(account.may_review("civil_affairs"));
    assert!(!account.may_review("health"));

    let ok = s
        .gov
        .authenticate_account("li.ming", "s3cret-pass")
        .await
        .unwrap();
    assert_eq!(
        ok.as_ref().map(|a| a.account_id.as_str()),
        Some(account.account_id.as_str())
    );
    assert_eq!(ok.unwrap().roles.len(), 2);
    assert_eq!(
        s.gov
            .authenticate_account("li.ming", "s3cret-pasS")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.gov
            .authenticate_account("nobody", "s3cret-pass")
            .await
            .unwrap(),
        None
    );

    assert!(matches!(
        s.gov
            .create_account("li.ming", "another-pass", "李明二", &[Role::Auditor])
            .await,
        Err(GovernError::AccountExists(_))
    ));
    assert!(matches!(
        s.gov
            .create_account("wang", "short", "王", &[Role::Auditor])
            .await,
        Err(GovernError::Invalid(_))
    ));
    assert!(matches!(
        s.gov
            .create_account("nobody2", "long enough", "无角色", &[])
            .await,
        Err(GovernError::Invalid(_))
    ));
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM gov_accounts")
        .fetch_one(s.meta.pool())
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains("s3cret-pass"));

    let now = at("2025-06-01T08:00:00Z");
    let token = s
        .gov
        .create_session(&Principal::Account(account.clone()), now, 3600)
        .await
        .unwrap();
    match s
        .gov
        .session(&token, at("2025-06-01T08:59:59Z"))
        .await
        .unwrap()
    {
        Some(Principal::Account(a)) => assert_eq!(a.roles, account.roles),
        other => panic!("expected the account, got {other:?}"),
    }
    assert_eq!(
        s.gov
            .session(&token, at("2025-06-01T09:00:00Z"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.gov.session("mps_forged", now).await.unwrap(), None);

    // Logout ends it; a disabled account's sessions stop working too.
    s.gov.end_session(&token).await.unwrap();
    assert_eq!(s.gov.session(&token, now).await.unwrap(), None);
    let second = s
        .gov
        .create_session(&Principal::Account(account.clone()), now, 3600)
        .await
        .unwrap();
    assert!(s.gov.session(&second, now).await.unwrap().is_some());
    s.gov.disable_account(&account.account_id).await.unwrap();
    assert_eq!(s.gov.session(&second, now).await.unwrap(), None);
    assert_eq!(
        s.gov
            .authenticate_account("li.ming", "s3cret-pass")
            .await
            .unwrap(),
        None
    );

    // Citizens' sessions carry the resident ID.
    let citizen = Principal::Citizen {
        resident_id: "11010519491231002X".into(),
    };
    let t = s.gov.create_session(&citizen, now, 600).await.unwrap();
    assert_eq!(s.gov.session(&t, now).await.unwrap(), Some(citizen));
}

#[tokio::test]
async fn one_time_codes_single_use_expiry_and_attempt_limit() {
    let s = store().await;
    let otp = s.gov.one_time_codes();
    let id = "11010519491231002X";
    let t0 = at("2025-06-01T08:00:00Z");

    // A bad ID is refused with the GB 11643 reason in Chinese.
    match otp.start("110105194912310021", t0).await {
        Err(e @ GovernError::InvalidResidentId { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("公民身份号码无效") && text.contains("校验码"),
                "{text}"
            );
        }
        other => panic!("expected an invalid-ID error, got {other:?}"),
    }

    let challenge = otp.start(id, t0).await.unwrap();
    let code = challenge.demo_code.clone().unwrap();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    assert_eq!(challenge.resident_id_masked, "110105********002X");
    let stored: String = sqlx::query_scalar("SELECT code_hash FROM gov_citizen_codes")
        .fetch_one(s.meta.pool())
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"));

    // Asking again at once is refused; the first code stays valid.
    assert!(matches!(
        otp.start(id, t0).await,
        Err(GovernError::TooSoon { .. })
    ));
    let wrong = if code == "000000" { "000001" } else { "000000" };
    assert!(!otp.finish(id, wrong, t0).await.unwrap());
    assert!(
        otp.finish(id, &code, t0).await.unwrap(),
        "the right code logs in"
    );
    assert!(
        !otp.finish(id, &code, t0).await.unwrap(),
        "a code works once"
    );

    // Expiry: five minutes.
    let t1 = at("2025-06-01T09:00:00Z");
    let code = otp.start(id, t1).await.unwrap().demo_code.unwrap();
    assert!(
        !otp.finish(id, &code, at("2025-06-01T09:05:00Z"))
            .await
            .unwrap()
    );

    // Attempt limit: after five wrong tries even the right code fails.
    let t2 = at("2025-06-01T10:00:00Z");
    let code = otp.start(id, t2).await.unwrap().demo_code.unwrap();
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..OTP_MAX_ATTEMPTS {
        assert!(!otp.finish(id, wrong, t2).await.unwrap());
    }
    assert!(!otp.finish(id, &code, t2).await.unwrap());

    // A code is bound to its ID.
    let other = "440524188001010014";
    let code = otp.start(other, t2).await.unwrap().demo_code.unwrap();
    assert!(!otp.finish(id, &code, t2).await.unwrap());
    assert!(otp.finish(other, &code, t2).await.unwrap());

    // Through the trait object, as the server holds it.
    let dynamic: &dyn CitizenIdentityProvider = &otp;
    let t3 = at("2025-06-01T11:00:00Z");
    let code = dynamic.start(id, t3).await.unwrap().demo_code.unwrap();
    assert!(dynamic.finish(id, &code, t3).await.unwrap());
}

#[tokio::test]
async fn rate_limit_per_consumer() {
    let s = store().await;
    let t0 = Instant::now();
    for _ in 0..3 {
        assert!(s.gov.admit("csm_a", 3, t0));
    }
    assert!(!s.gov.admit("csm_a", 3, t0));
    assert!(s.gov.admit("csm_b", 3, t0), "buckets are per consumer");
    // A clone shares the limiter.
    let clone = s.gov.clone();
    assert!(!clone.admit("csm_a", 3, t0));
    // 3 per minute: one request back after 20 s.
    assert!(clone.admit("csm_a", 3, t0 + Duration::from_secs(21)));
    assert!(!clone.admit("csm_a", 3, t0 + Duration::from_secs(21)));
    assert!(!s.gov.admit("csm_suspended", 0, t0));
}

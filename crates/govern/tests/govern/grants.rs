//! Grants: the catalogue's share types, review by the right unit, expiry, purpose, fields,
//! masking.

use chrono::NaiveDate;
use miaopi_catalog::ShareType;
use miaopi_govern::{GovernError, GrantDecision, GrantRequest, Purpose, RequestState, Role};

use crate::{Store, at, pack, store};

fn matter(code: &str) -> Purpose {
    Purpose::Matter(code.into())
}

fn request(consumer: &str, resource: &str, fields: &[&str], until: &str) -> GrantRequest {
    GrantRequest {
        consumer_id: consumer.into(),
        resource: resource.into(),
        fields: fields.iter().map(|f| f.to_string()).collect(),
        unmasked_fields: Vec::new(),
        purpose: matter("talent_subsidy"),
        valid_until: NaiveDate::parse_from_str(until, "%Y-%m-%d").unwrap(),
        justification: "测试".into(),
    }
}

async fn consumer(s: &Store) -> String {
    s.gov
        .create_consumer("福田区人力资源局", Some("human_resources"), 600)
        .await
        .unwrap()
        .consumer_id
}

fn not_granted_reason(r: Result<miaopi_govern::Authorization, GovernError>) -> String {
    match r {
        Err(GovernError::NotGranted { reason, .. }) => reason,
        other => panic!("expected NotGranted, got {other:?}"),
    }
}

#[tokio::test]
async fn unconditional_is_granted_at_once_with_sensitive_fields_masked() {
    let s = store().await;
    let pack = pack();
    let c = consumer(&s).await;
    let now = at("2025-06-01T08:00:00Z");
    let req = request(
        &c,
        "education_degrees",
        &["resident_id", "name", "degree", "institution"],
        "2025-12-31",
    );
    let decision = s.gov.request_grant(&pack, &req, now).await.unwrap();
    let GrantDecision::Granted { request, grant } = &decision else {
        panic!("unconditional must be granted: {decision:?}");
    };
    assert_eq!(request.state, RequestState::Approved);
    assert_eq!(request.share_type, ShareType::Unconditional);
    // L4 resident_id and L3 name masked; L2 degree and L1 institution in clear.
    let masked: Vec<(&str, bool)> = grant
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.masked))
        .collect();
    assert_eq!(
        masked,
        [
            ("resident_id", true),
            ("name", true),
            ("degree", false),
            ("institution", false)
        ]
    );

    let auth = s
        .gov
        .authorize(
            &c,
            "education_degrees",
            &["name", "degree"],
            &matter("talent_subsidy"),
            now,
        )
        .await
        .unwrap();
    assert_eq!(auth.fields, ["degree", "name"]);
    assert_eq!(auth.unmasked_fields, ["degree"]);
    assert!(auth.is_masked("name") && !auth.is_masked("degree"));
    assert_eq!(auth.grant_ids, std::slice::from_ref(&grant.grant_id));

    // Empty field list: everything granted.
    let all = s
        .gov
        .authorize(&c, "education_degrees", &[], &matter("talent_subsidy"), now)
        .await
        .unwrap();
    assert_eq!(all.fields.len(), 4);

    // A field not granted is not readable; alone, it is refused.
    let partial = s
        .gov
        .authorize(
            &c,
            "education_degrees",
            &["degree", "graduated_on"],
            &matter("talent_subsidy"),
            now,
        )
        .await
        .unwrap();
    assert_eq!(partial.fields, ["degree"]);
    assert_eq!(partial.denied_fields, ["graduated_on"]);
    let reason = not_granted_reason(
        s.gov
            .authorize(
                &c,
                "education_degrees",
                &["graduated_on"],
                &matter("talent_subsidy"),
                now,
            )
            .await,
    );
    assert!(reason.contains("graduated_on"), "{reason}");

    // Bound to the purpose.
    let reason = not_granted_reason(
        s.gov
            .authorize(
                &c,
                "education_degrees",
                &["degree"],
                &matter("senior_allowance"),
                now,
            )
            .await,
    );
    assert!(reason.contains("用途"), "{reason}");
    // And to the consumer and resource.
    let other = s
        .gov
        .create_consumer("其他", None, 60)
        .await
        .unwrap()
        .consumer_id;
    assert!(matches!(
        s.gov
            .authorize(
                &other,
                "education_degrees",
                &["degree"],
                &matter("talent_subsidy"),
                now
            )
            .await,
        Err(GovernError::NotGranted { .. })
    ));
    assert_eq!(s.gov.grants_of(&c).await.unwrap().len(), 1);
    assert!(s.gov.grants_of(&other).await.unwrap().is_empty());
}

#[tokio::test]
async fn unmasking_sensitive_fields_of_an_unconditional_resource_needs_review() {
    let s = store().await;
    let pack = pack();
    let c = consumer(&s).await;
    let now = at("2025-06-01T08:00:00Z");
    let mut req = request(
        &c,
        "education_degrees",
        &["resident_id", "degree"],
        "2025-12-31",
    );
    req.unmasked_fields = vec!["resident_id".into(), "degree".into()];
    let decision = s.gov.request_grant(&pack, &req, now).await.unwrap();
    let GrantDecision::Pending { request: pending } = decision else {
        panic!("an unmasking request must wait for review");
    };
    // degree is L2: never masked, so not part of what needs review.
    assert_eq!(pending.unmasked_fields, ["resident_id"]);
    assert!(matches!(
        s.gov
            .authorize(
                &c,
                "education_degrees",
                &["degree"],
                &matter("talent_subsidy"),
                now
            )
            .await,
        Err(GovernError::NotGranted { .. })
    ));
    let reviewer = s
        .gov
        .create_account(
            "reviewer-edu",
            "password-1",
            "教育局审核员",
            &[Role::ProviderReviewer {
                unit_code: "education".into(),
            }],
        )
        .await
        .unwrap();
    s.gov
        .review_request(&pending.request_id, &reviewer, true, "同意", now)
        .await
        .unwrap();
    let auth = s
        .gov
        .authorize(
            &c,
            "education_degrees",
            &["resident_id", "degree"],
            &matter("talent_subsidy"),
            now,
        )
        .await
        .unwrap();
    assert_eq!(auth.unmasked_fields, ["degree", "resident_id"]);

    // Asking to unmask a field not requested is an error.
    let mut bad = request(&c, "education_degrees", &["degree"], "2025-12-31");
    bad.unmasked_fields = vec!["name".into()];
    assert!(matches!(
        s.gov.request_grant(&pack, &bad, now).await,
        Err(GovernError::Invalid(_))
    ));
}

#[tokio::test]
async fn conditional_waits_for_a_reviewer_of_its_unit() {
    let s = store().await;
    let pack = pack();
    let c = consumer(&s).await;
    let now = at("2025-06-01T08:00:00Z");
    let mut req = request(
        &c,
        "death_registrations",
        &["resident_id", "name", "death_date"],
        "2025-12-31",
    );
    req.unmasked_fields = vec!["resident_id".into()];
    req.purpose = Purpose::Duty("停发人才补贴".into());
    let decision = s.gov.request_grant(&pack, &req, now).await.unwrap();
    let GrantDecision::Pending { request } = decision else {
        panic!("conditional must be pending");
    };
    assert_eq!(request.unit_code, "civil_affairs");
    assert!(request.reason.contains("有条件共享"), "{}", request.reason);
    let duty = Purpose::Duty("停发人才补贴".into());

    // Refused by authorize until approved, with the pending request named.
    let reason = not_granted_reason(
        s.gov
            .authorize(&c, "death_registrations", &["death_date"], &duty, now)
            .await,
    );
    assert!(reason.contains(&request.request_id), "{reason}");

    // Listed for the right unit only.
    assert_eq!(
        s.gov
            .pending_requests(Some("civil_affairs"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.gov
            .pending_requests(Some("health"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.gov.pending_requests(None).await.unwrap().len(), 1);

    // A reviewer of another unit may not approve.
    let health = s
        .gov
        .create_account(
            "reviewer-health",
            "password-1",
            "卫健局审核员",
            &[Role::ProviderReviewer {
                unit_code: "health".into(),
            }],
        )
        .await
        .unwrap();
    assert!(matches!(
        s.gov
            .review_request(&request.request_id, &health, true, "", now)
            .await,
        Err(GovernError::ReviewerNotAllowed { .. })
    ));
    // Nor may someone claim a role the store does not give them.
    let mut forged = health.clone();
    forged.roles = vec![Role::Administrator];
    assert!(matches!(
        s.gov
            .review_request(&request.request_id, &forged, true, "", now)
            .await,
        Err(GovernError::ReviewerNotAllowed { .. })
    ));
    assert!(matches!(
        s.gov
            .authorize(&c, "death_registrations", &["death_date"], &duty, now)
            .await,
        Err(GovernError::NotGranted { .. })
    ));

    let civil = s
        .gov
        .create_account(
            "reviewer-civil",
            "password-1",
            "民政局审核员",
            &[Role::ProviderReviewer {
                unit_code: "civil_affairs".into(),
            }],
        )
        .await
        .unwrap();
    let reviewed = s
        .gov
        .review_request(&request.request_id, &civil, true, "符合共享条件", now)
        .await
        .unwrap();
    assert_eq!(reviewed.state, RequestState::Approved);
    assert_eq!(
        reviewed.reviewed_by.as_deref(),
        Some(civil.account_id.as_str())
    );
    assert!(reviewed.grant_id.is_some());
    assert!(s.gov.pending_requests(None).await.unwrap().is_empty());

    let auth = s
        .gov
        .authorize(
            &c,
            "death_registrations",
            &["resident_id", "name", "death_date"],
            &duty,
            now,
        )
        .await
        .unwrap();
    // resident_id unmasked by review; name (L3) masked; death_date is L3 as well.
    assert_eq!(auth.unmasked_fields, ["resident_id"]);
    assert_eq!(auth.fields.len(), 3);

    // Reviewed once only.
    assert!(matches!(
        s.gov
            .review_request(&request.request_id, &civil, false, "", now)
            .await,
        Err(GovernError::AlreadyReviewed { .. })
    ));

    // A refusal gives no grant, and an administrator may review any unit.
    let second = s
        .gov
        .request_grant(&pack, &request_for_duty(&c), now)
        .await
        .unwrap();
    let admin = s
        .gov
        .create_account("admin", "password-1", "管理员", &[Role::Administrator])
        .await
        .unwrap();
    let refused = s
        .gov
        .review_request(
            &second.request().request_id,
            &admin,
            false,
            "用途不明确",
            now,
        )
        .await
        .unwrap();
    assert_eq!(refused.state, RequestState::Refused);
    assert!(refused.reason.contains("用途不明确"));
    assert!(matches!(
        s.gov
            .authorize(
                &c,
                "birth_certificates",
                &[],
                &matter("talent_subsidy"),
                now
            )
            .await,
        Err(GovernError::NotGranted { .. })
    ));

    // Revoking the grant stops reads.
    s.gov
        .revoke_grant(reviewed.grant_id.as_deref().unwrap(), &civil, now)
        .await
        .unwrap();
    let reason = not_granted_reason(
        s.gov
            .authorize(&c, "death_registrations", &["death_date"], &duty, now)
            .await,
    );
    assert!(reason.contains("撤销"), "{reason}");
}

fn request_for_duty(c: &str) -> GrantRequest {
    request(c, "birth_certificates", &["newborn_name"], "2025-12-31")
}

#[tokio::test]
async fn not_shared_resources_are_refused() {
    let s = store().await;
    let mut pack = pack();
    let resource = pack
        .resources
        .iter_mut()
        .find(|r| r.code == "criminal_records")
        .unwrap();
    resource.share_type = ShareType::None;
    resource.share_condition = Some("依据《中华人民共和国刑事诉讼法》不予共享".into());
    let field = resource.fields[0].name.clone();
    let c = consumer(&s).await;
    let now = at("2025-06-01T08:00:00Z");
    let decision = s
        .gov
        .request_grant(
            &pack,
            &request(&c, "criminal_records", &[&field], "2025-12-31"),
            now,
        )
        .await
        .unwrap();
    let GrantDecision::Refused { request } = decision else {
        panic!("不予共享 must be refused");
    };
    assert_eq!(request.state, RequestState::Refused);
    assert!(request.reason.contains("不予共享") && request.reason.contains("刑事诉讼法"));
    assert!(s.gov.pending_requests(None).await.unwrap().is_empty());
    assert!(matches!(
        s.gov
            .authorize(&c, "criminal_records", &[], &matter("talent_subsidy"), now)
            .await,
        Err(GovernError::NotGranted { .. })
    ));
}

#[tokio::test]
async fn unknown_resources_fields_and_past_dates_are_errors() {
    let s = store().await;
    let pack = pack();
    let c = consumer(&s).await;
    let now = at("2025-06-01T08:00:00Z");
    assert!(matches!(
        s.gov
            .request_grant(
                &pack,
                &request(&c, "no_such_resource", &["x"], "2025-12-31"),
                now
            )
            .await,
        Err(GovernError::UnknownResource(_))
    ));
    match s
        .gov
        .request_grant(
            &pack,
            &request(&c, "education_degrees", &["degree", "salary"], "2025-12-31"),
            now,
        )
        .await
    {
        Err(e @ GovernError::UnknownField { .. }) => assert!(e.to_string().contains("salary")),
        other => panic!("expected UnknownField, got {other:?}"),
    }
    assert!(matches!(
        s.gov
            .request_grant(
                &pack,
                &request(&c, "education_degrees", &[], "2025-12-31"),
                now
            )
            .await,
        Err(GovernError::Invalid(_))
    ));
    assert!(matches!(
        s.gov
            .request_grant(
                &pack,
                &request(&c, "education_degrees", &["degree"], "2025-05-31"),
                now
            )
            .await,
        Err(GovernError::Invalid(_))
    ));
    assert!(matches!(
        s.gov
            .request_grant(
                &pack,
                &request("csm_nobody", "education_degrees", &["degree"], "2025-12-31"),
                now
            )
            .await,
        Err(GovernError::UnknownConsumer(_))
    ));
}

#[tokio::test]
async fn grants_expire_at_the_end_of_their_day_in_china_time() {
    let s = store().await;
    let pack = pack();
    let c = consumer(&s).await;
    let now = at("2025-06-01T08:00:00Z");
    s.gov
        .request_grant(
            &pack,
            &request(&c, "education_degrees", &["degree"], "2025-06-30"),
            now,
        )
        .await
        .unwrap();
    let purpose = matter("talent_subsidy");
    // 23:59 on 30 June in Shenzhen is 15:59 UTC.
    assert!(
        s.gov
            .authorize(
                &c,
                "education_degrees",
                &["degree"],
                &purpose,
                at("2025-06-30T15:59:59Z")
            )
            .await
            .is_ok()
    );
    let reason = not_granted_reason(
        s.gov
            .authorize(
                &c,
                "education_degrees",
                &["degree"],
                &purpose,
                at("2025-06-30T16:00:00Z"),
            )
            .await,
    );
    assert!(reason.contains("过期"), "{reason}");
}

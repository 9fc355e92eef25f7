//! The demo bootstrap: every role, consumers with and without grants, idempotent.

use miaopi_govern::{DemoOptions, GovernError, Purpose, Role};

use crate::{at, pack, store};

#[tokio::test]
async fn bootstrap_is_idempotent_and_usable() {
    let s = store().await;
    let pack = pack();
    let now = at("2025-06-01T08:00:00Z");
    let options = DemoOptions {
        admin_password: Some("demo-admin-pw".into()),
    };
    let first = s
        .gov
        .bootstrap_demo_with(&pack, &options, now)
        .await
        .unwrap();

    let admin = first.account("admin").unwrap();
    assert_eq!(admin.password.as_deref(), Some("demo-admin-pw"));
    assert!(
        s.gov
            .authenticate_account("admin", "demo-admin-pw")
            .await
            .unwrap()
            .is_some()
    );
    for (name, role) in [
        ("auditor", Role::Auditor),
        ("designer", Role::MatterDesigner),
    ] {
        let a = first.account(name).unwrap();
        assert_eq!(a.roles, [role]);
        let pw = a.password.as_deref().unwrap();
        assert!(
            s.gov
                .authenticate_account(name, pw)
                .await
                .unwrap()
                .is_some()
        );
    }
    for unit in ["civil_affairs", "health", "police"] {
        let a = first.account(&format!("reviewer-{unit}")).unwrap();
        assert_eq!(
            a.roles,
            [Role::ProviderReviewer {
                unit_code: unit.into()
            }]
        );
    }
    assert!(
        first.account("reviewer-court").is_none(),
        "the court shares unconditionally only"
    );

    let hr = first.granted_consumer().unwrap();
    assert_eq!(hr.consumer.name, "福田区人力资源局");
    assert_eq!(
        hr.granted_resources,
        [
            "dishonest_debtors",
            "education_degrees",
            "enterprise_registrations"
        ]
    );
    assert_eq!(hr.pending_resources, ["hukou_residents"]);
    assert!(
        s.gov
            .authorize(
                &hr.consumer.consumer_id,
                "dishonest_debtors",
                &[],
                &Purpose::Matter("talent_subsidy".into()),
                now
            )
            .await
            .is_ok()
    );
    let none = first.ungranted_consumer().unwrap();
    assert!(
        s.gov
            .grants_of(&none.consumer.consumer_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        s.gov
            .authorize(
                &none.consumer.consumer_id,
                "dishonest_debtors",
                &[],
                &Purpose::Matter("talent_subsidy".into()),
                now
            )
            .await,
        Err(GovernError::NotGranted { .. })
    ));
    assert!(
        s.gov
            .authenticate_api_key(&hr.api_key)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.gov
            .client_credentials_token(&hr.consumer.consumer_id, &hr.client_secret, now, 60)
            .await
            .unwrap()
            .is_some()
    );

    // Again: nothing new, passwords not shown, fresh keys replace the old ones.
    let accounts_before = s.gov.accounts().await.unwrap().len();
    let second = s.gov.bootstrap_demo(&pack, now).await.unwrap();
    assert_eq!(s.gov.accounts().await.unwrap().len(), accounts_before);
    assert_eq!(s.gov.consumers().await.unwrap().len(), 2);
    assert!(second.accounts.iter().all(|a| a.password.is_none()));
    assert!(
        s.gov
            .authenticate_account("admin", "demo-admin-pw")
            .await
            .unwrap()
            .is_some()
    );
    let hr2 = second.granted_consumer().unwrap();
    assert_eq!(hr2.consumer, hr.consumer);
    assert_eq!(
        s.gov
            .grants_of(&hr.consumer.consumer_id)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(s.gov.pending_requests(None).await.unwrap().len(), 1);
    assert!(
        s.gov
            .authenticate_api_key(&hr.api_key)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.gov
            .authenticate_api_key(&hr2.api_key)
            .await
            .unwrap()
            .is_some()
    );

    // Short admin passwords are refused.
    let short = DemoOptions {
        admin_password: Some("short".into()),
    };
    assert!(matches!(
        s.gov.bootstrap_demo_with(&pack, &short, now).await,
        Err(GovernError::Invalid(_))
    ));
}

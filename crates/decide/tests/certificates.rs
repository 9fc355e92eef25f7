//! Electronic certificates: issued on approval only, GB/T 36901-style identifiers with a valid
//! check character, SM2/SM3 signatures verifiable offline, and any single changed byte fails.

mod common;

use chrono::{NaiveDate, TimeZone};
use miaopi_decide::cert::{CertError, certificate_digest};
use miaopi_decide::dates::shanghai;
use miaopi_decide::{
    CertKeyPair, OutcomeKind, Receipt, issue_certificate, load_keypair, load_public_key,
    run_package_tests, verify_certificate,
};
use miaopi_model::{CertificateId, Uscc};

fn receipt(code: &str, kind: OutcomeKind) -> Receipt {
    let package = common::package(code);
    run_package_tests(package)
        .cases
        .into_iter()
        .filter_map(|c| c.receipt)
        .find(|r| r.outcome.kind() == kind)
        .unwrap_or_else(|| panic!("{code}: no {kind:?} case"))
}

fn issued_at() -> chrono::DateTime<chrono::FixedOffset> {
    shanghai()
        .with_ymd_and_hms(2026, 10, 31, 10, 0, 5)
        .single()
        .unwrap()
}

#[test]
fn an_approval_gets_a_signed_certificate_that_verifies_offline() {
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = miaopi_decide::generate_keypair(keys_dir.path()).unwrap();
    let r = receipt("senior_allowance", OutcomeKind::Approved);
    let package = common::package("senior_allowance");
    let signed = issue_certificate(&r, package, 123, &keys, issued_at()).unwrap();

    // Verification needs only the file and the public key saved beside the private one.
    let public = load_public_key(keys_dir.path()).unwrap();
    let cert = verify_certificate(&signed.bytes, &public).unwrap();
    assert_eq!(cert, signed.certificate);
    let id = CertificateId::parse(&cert.id).unwrap();
    assert_eq!(id.type_code, "4403MZ01");
    assert_eq!(id.issuer_code, package.issuer.org_code);
    assert_eq!(id.serial, "00000123");
    assert_eq!(cert.holder.id, r.application.applicant.as_str());
    assert_eq!(cert.receipt_id, r.receipt_id);
    assert_eq!(cert.valid_from, r.application.application_date);
    assert_eq!(
        cert.valid_to,
        r.application
            .application_date
            .checked_add_days(chrono::Days::new(365))
    );
    assert_eq!(cert.details["月津贴"], "200");
    assert_eq!(cert.issuer.name, "福田区民政局");
    assert_eq!(certificate_digest(&signed.bytes).len(), 64);

    // The reloaded key pair signs certificates the same key verifies.
    let again = load_keypair(keys_dir.path()).unwrap();
    let second = issue_certificate(&r, package, 124, &again, issued_at()).unwrap();
    assert!(verify_certificate(&second.bytes, &public).is_ok());
    assert_ne!(second.certificate.id, cert.id);
}

#[test]
fn changing_any_single_byte_fails_verification() {
    let keys = CertKeyPair::generate().unwrap();
    let r = receipt("talent_subsidy", OutcomeKind::Approved);
    let signed =
        issue_certificate(&r, common::package("talent_subsidy"), 7, &keys, issued_at()).unwrap();
    let public = keys.public_key();
    assert!(verify_certificate(&signed.bytes, &public).is_ok());
    for i in 0..signed.bytes.len() {
        for flip in [0x01u8, 0x20, 0x80] {
            let mut bytes = signed.bytes.clone();
            bytes[i] ^= flip;
            assert!(
                verify_certificate(&bytes, &public).is_err(),
                "byte {i} xor {flip:#04x} still verifies"
            );
        }
    }
    // Truncation, an extra byte and another issuer's key fail too.
    let mut longer = signed.bytes.clone();
    longer.push(b'\n');
    assert!(verify_certificate(&longer, &public).is_err());
    assert!(verify_certificate(&signed.bytes[..signed.bytes.len() - 1], &public).is_err());
    let other = CertKeyPair::generate().unwrap().public_key();
    assert_eq!(
        verify_certificate(&signed.bytes, &other),
        Err(CertError::BadSignature)
    );
}

#[test]
fn only_approvals_of_the_same_package_get_certificates() {
    let keys = CertKeyPair::generate().unwrap();
    let rejected = receipt("senior_allowance", OutcomeKind::Rejected);
    assert!(matches!(
        issue_certificate(
            &rejected,
            common::package("senior_allowance"),
            1,
            &keys,
            issued_at()
        ),
        Err(CertError::NotApproved(_))
    ));
    let manual = receipt("senior_allowance", OutcomeKind::ManualReview);
    assert!(
        issue_certificate(
            &manual,
            common::package("senior_allowance"),
            1,
            &keys,
            issued_at()
        )
        .is_err()
    );
    let approved = receipt("senior_allowance", OutcomeKind::Approved);
    assert!(matches!(
        issue_certificate(
            &approved,
            common::package("talent_subsidy"),
            1,
            &keys,
            issued_at()
        ),
        Err(CertError::WrongPackage { .. })
    ));
    // A 告知承诺 approval is an approval.
    let committed = receipt("senior_allowance", OutcomeKind::ApprovedOnCommitment);
    assert!(
        issue_certificate(
            &committed,
            common::package("senior_allowance"),
            2,
            &keys,
            issued_at()
        )
        .is_ok()
    );
}

#[test]
fn a_business_licence_carries_a_new_credit_code() {
    let keys = CertKeyPair::generate().unwrap();
    let r = receipt("individual_business", OutcomeKind::Approved);
    let signed = issue_certificate(
        &r,
        common::package("individual_business"),
        4521,
        &keys,
        issued_at(),
    )
    .unwrap();
    let code = signed.certificate.new_uscc.clone().unwrap();
    let uscc = Uscc::parse(&code).unwrap();
    assert_eq!(uscc.registering_department(), '9');
    assert_eq!(uscc.organisation_type(), '2');
    assert_eq!(uscc.region_code(), "440304");
    // The organisation-code part passes GB 11714 too (its own check character), for every
    // serial, not only this one.
    assert!(uscc.organisation_code_is_valid(), "{code}");
    for serial in [0, 1, 9, 10, 4521, 99_999_999, 100_000_007] {
        let u = miaopi_decide::cert::new_uscc("92", "440304", serial).unwrap();
        assert!(u.organisation_code_is_valid(), "{u}");
    }
    // The licence names the trade name, the premises and the industry applied for.
    let form = &r.application.form;
    for (input, label) in [
        ("拟用名称", "名称"),
        ("经营场所地址编码", "经营场所（标准地址编码）"),
        ("行业门类", "行业门类"),
    ] {
        let applied = form
            .get(input)
            .unwrap_or_else(|| panic!("the approved test case fills {input}"));
        assert_eq!(
            signed.certificate.details.get(label),
            Some(&applied.display_zh()),
            "{label}"
        );
    }
    assert_eq!(signed.certificate.valid_to, None, "长期有效");
    let cert = verify_certificate(&signed.bytes, &keys.public_key()).unwrap();
    assert_eq!(cert.new_uscc.as_deref(), Some(code.as_str()));
    assert_eq!(
        cert.valid_from,
        NaiveDate::from_ymd_opt(2026, 10, 31).unwrap()
    );
}

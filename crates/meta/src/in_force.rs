//! Decisions in force per applicant, matter and period (一次办理), and the certificate
//! revocation list (证照撤销), in the same transaction as the decisions they concern.

use serde::Serialize;
use sqlx::{Row, SqliteConnection, SqlitePool};

/// Which decision a period's applications get: the key of `decisions_in_force`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PeriodKey {
    pub matter: String,
    /// SM3 (hex) of the applicant's key.
    pub applicant_sm3: String,
    /// `lifetime`, `year:2026`, `event:<SM3 of the event>`.
    pub period: String,
}

/// A revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateRevocation {
    pub certificate_id: String,
    /// RFC 3339.
    pub revoked_at: String,
    /// 撤销原因 (Chinese).
    pub reason: String,
    /// The receipt of the decision that replaced the certificate's decision.
    pub superseded_by: Option<String>,
}

/// What a group of decisions changes besides adding rows: the decision now in force in each
/// period, the decisions it replaced, and the certificates of those that are revoked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InForceChanges {
    /// (period, receipt now in force).
    pub in_force: Vec<(PeriodKey, String)>,
    /// (replaced receipt, its successor).
    pub superseded: Vec<(String, String)>,
    pub revocations: Vec<CertificateRevocation>,
}

impl InForceChanges {
    pub fn is_empty(&self) -> bool {
        self.in_force.is_empty() && self.superseded.is_empty() && self.revocations.is_empty()
    }
}

pub(crate) async fn write(
    tx: &mut SqliteConnection,
    changes: &InForceChanges,
) -> Result<(), sqlx::Error> {
    for (key, receipt_id) in &changes.in_force {
        sqlx::query(
            "INSERT INTO decisions_in_force (matter, applicant_sm3, period, receipt_id)
             VALUES (?, ?, ?, ?)
             ON CONFLICT (matter, applicant_sm3, period) DO UPDATE SET receipt_id = excluded.receipt_id",
        )
        .bind(&key.matter)
        .bind(&key.applicant_sm3)
        .bind(&key.period)
        .bind(receipt_id)
        .execute(&mut *tx)
        .await?;
    }
    for (old, new) in &changes.superseded {
        sqlx::query("UPDATE decisions SET superseded_by = ? WHERE receipt_id = ?")
            .bind(new)
            .bind(old)
            .execute(&mut *tx)
            .await?;
    }
    for r in &changes.revocations {
        sqlx::query(
            "INSERT INTO certificate_revocations (certificate_id, revoked_at, reason, superseded_by)
             VALUES (?, ?, ?, ?) ON CONFLICT (certificate_id) DO NOTHING",
        )
        .bind(&r.certificate_id)
        .bind(&r.revoked_at)
        .bind(&r.reason)
        .bind(&r.superseded_by)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

pub(crate) async fn in_force(
    pool: &SqlitePool,
    key: &PeriodKey,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT receipt_id FROM decisions_in_force WHERE matter = ? AND applicant_sm3 = ? AND period = ?",
    )
    .bind(&key.matter)
    .bind(&key.applicant_sm3)
    .bind(&key.period)
    .fetch_optional(pool)
    .await
}

pub(crate) async fn revocation(
    pool: &SqlitePool,
    certificate_id: &str,
) -> Result<Option<CertificateRevocation>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM certificate_revocations WHERE certificate_id = ?")
        .bind(certificate_id)
        .fetch_optional(pool)
        .await?;
    row.map(|row| {
        Ok(CertificateRevocation {
            certificate_id: row.try_get("certificate_id")?,
            revoked_at: row.try_get("revoked_at")?,
            reason: row.try_get("reason")?,
            superseded_by: row.try_get("superseded_by")?,
        })
    })
    .transpose()
}

/// Outcomes that are approvals (`miaopi_decide::Outcome::is_approval`; meta does not depend on
/// the engine, so a test there keeps the two in step).
pub const APPROVAL_OUTCOMES: [&str; 3] = [
    "approved",
    "approved_pending_materials",
    "approved_on_commitment",
];

pub(crate) async fn approvals(
    pool: &SqlitePool,
    matters: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let mut out = Vec::new();
    for matter in matters {
        let rows = sqlx::query(
            "SELECT d.receipt_id, d.receipt_json FROM decisions_in_force f
             JOIN decisions d ON d.receipt_id = f.receipt_id
             WHERE f.matter = ? AND d.superseded_by IS NULL AND d.outcome IN (?, ?, ?)
             ORDER BY d.decided_at, d.receipt_id",
        )
        .bind(matter)
        .bind(APPROVAL_OUTCOMES[0])
        .bind(APPROVAL_OUTCOMES[1])
        .bind(APPROVAL_OUTCOMES[2])
        .fetch_all(pool)
        .await?;
        for row in rows {
            out.push((row.try_get("receipt_id")?, row.try_get("receipt_json")?));
        }
    }
    Ok(out)
}

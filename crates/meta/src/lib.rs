//! miaopi-meta: the meta store — the platform's own records: intake batches and their quality,
//! 秒批 decisions with their receipts, and issued certificates (grants and the audit chain
//! later).
//!
//! SQLite (embedded, one file under the state directory) by default, behind the [`MetaStore`]
//! trait so that PostgreSQL can follow from the same migrations, which are plain SQL that both
//! accept (`migrations/`).

mod in_force;

pub use in_force::{APPROVAL_OUTCOMES, CertificateRevocation, InForceChanges, PeriodKey};

use std::future::Future;
use std::path::Path;

use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// The migrations, applied in order and recorded in `schema_migrations`.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_batches",
        include_str!("../migrations/0001_batches.sql"),
    ),
    (
        "0002_decisions",
        include_str!("../migrations/0002_decisions.sql"),
    ),
    ("0003_govern", include_str!("../migrations/0003_govern.sql")),
    (
        "0004_decision_latency",
        include_str!("../migrations/0004_decision_latency.sql"),
    ),
    (
        "0005_decisions_in_force",
        include_str!("../migrations/0005_decisions_in_force.sql"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("meta store: {0}")]
    Db(#[from] sqlx::Error),
    #[error("meta store: batch {0} is not known")]
    UnknownBatch(String),
    #[error(
        "meta store: batch {batch_id} does not reconcile: read {read} != accepted {accepted} + quarantined {quarantined}"
    )]
    Unreconciled {
        batch_id: String,
        read: u64,
        accepted: u64,
        quarantined: u64,
    },
    #[error("meta store: {0}")]
    Invalid(String),
}

/// 批次状态
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    /// Started: some lake tables may hold it; running the batch again completes it.
    Started,
    /// Every lake table holds it and its counts are recorded.
    Committed,
}

/// What is known when a batch starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchStart {
    pub batch_id: String,
    pub resource: String,
    pub unit: String,
    pub source_file: String,
    pub file_bytes: u64,
    /// RFC 3339.
    pub started_at: String,
}

/// What is recorded when a batch commits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchFinish {
    pub batch_id: String,
    pub encoding: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    pub fixes: u64,
    pub finished_at: String,
    pub read_ms: u64,
    pub write_ms: u64,
    /// Quarantined rows by reason code.
    pub reasons: Vec<(String, u64)>,
    /// Per field of accepted rows: (field, filled, fixed).
    pub fields: Vec<(String, u64, u64)>,
}

/// One batch as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchRecord {
    pub batch_id: String,
    pub resource: String,
    pub unit: String,
    pub source_file: String,
    pub file_bytes: u64,
    pub encoding: Option<String>,
    pub state: BatchState,
    pub rows_read: Option<u64>,
    pub rows_accepted: Option<u64>,
    pub rows_quarantined: Option<u64>,
    pub fixes: Option<u64>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub read_ms: Option<u64>,
    pub write_ms: Option<u64>,
}

/// Quality figures of one resource over its committed batches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceQuality {
    pub resource: String,
    pub batches: u64,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    pub fixes: u64,
    /// Quarantined rows by reason code.
    pub reasons: Vec<(String, u64)>,
    /// (field, filled, fixed) over accepted rows.
    pub fields: Vec<(String, u64, u64)>,
}

/// One stored 秒批 decision. The store knows nothing of the decision engine: the receipt is
/// kept as the JSON the engine wrote, the other fields index it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionRecord {
    /// The receipt's own id (a hash of its content).
    pub receipt_id: String,
    pub matter: String,
    pub version: String,
    pub package_hash: String,
    /// The applicant's key, masked (脱敏) for listings.
    pub applicant_masked: String,
    /// `YYYY-MM-DD`.
    pub application_date: String,
    /// `approved`, `rejected`, `manual_review`, ...
    pub outcome: String,
    /// RFC 3339 with offset.
    pub decided_at: String,
    /// The receipt, verbatim.
    pub receipt_json: String,
}

/// Decisions of one matter on one day (the day of `decided_at`, in the offset it was written
/// with: Asia/Shanghai for the platform), for the console's dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionDayStats {
    pub matter: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub decisions: u64,
    /// Outcome `approved` (批准) only; 容缺 / 告知承诺 approvals are counted apart.
    pub approved: u64,
    /// Outcomes `approved_pending_materials` and `approved_on_commitment`.
    pub approved_conditionally: u64,
    pub rejected: u64,
    pub manual_review: u64,
    /// Decisions with a recorded latency (the mean and maximum are over these only).
    pub timed: u64,
    pub mean_us: Option<f64>,
    pub max_us: Option<u64>,
}

/// One issued electronic certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateRecord {
    pub certificate_id: String,
    pub type_code: String,
    pub serial: u64,
    pub receipt_id: String,
    pub holder_masked: String,
    /// RFC 3339 with offset.
    pub issued_at: String,
    pub file_path: String,
    /// SM3 of the signed file (hex).
    pub file_sm3: String,
}

/// The meta store's interface; every backend passes the same tests.
pub trait MetaStore {
    fn batch(
        &self,
        batch_id: &str,
    ) -> impl Future<Output = Result<Option<BatchRecord>, MetaError>> + Send;
    /// Records a batch as started, keeping an earlier start of the same batch. Returns whether
    /// this call started it (false: an earlier, interrupted run did).
    fn start_batch(
        &self,
        start: &BatchStart,
    ) -> impl Future<Output = Result<bool, MetaError>> + Send;
    /// Quarantined rows of one batch by reason code.
    fn batch_reasons(
        &self,
        batch_id: &str,
    ) -> impl Future<Output = Result<Vec<(String, u64)>, MetaError>> + Send;
    /// Records a batch's counts and marks it committed, atomically. Refuses counts that do
    /// not reconcile.
    fn commit_batch(
        &self,
        finish: &BatchFinish,
    ) -> impl Future<Output = Result<(), MetaError>> + Send;
    fn batches(&self) -> impl Future<Output = Result<Vec<BatchRecord>, MetaError>> + Send;
    fn quality(&self) -> impl Future<Output = Result<Vec<ResourceQuality>, MetaError>> + Send;
    /// Stores decisions in one transaction (group commit). A receipt id already stored is
    /// left as it is: the id is a hash of the content, so it is the same decision. Returns
    /// how many were new.
    fn store_decisions(
        &self,
        decisions: &[DecisionRecord],
    ) -> impl Future<Output = Result<u64, MetaError>> + Send;
    fn decision(
        &self,
        receipt_id: &str,
    ) -> impl Future<Output = Result<Option<DecisionRecord>, MetaError>> + Send;
    /// Decisions per (matter, outcome).
    fn decision_counts(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, String, u64)>, MetaError>> + Send;
    /// Decisions per matter per day, oldest day first, with outcome counts and latency.
    fn decision_day_stats(
        &self,
    ) -> impl Future<Output = Result<Vec<DecisionDayStats>, MetaError>> + Send;
    fn certificates_of(
        &self,
        receipt_id: &str,
    ) -> impl Future<Output = Result<Vec<CertificateRecord>, MetaError>> + Send;
    /// Takes `count` consecutive running numbers of a certificate type at once, durably;
    /// returns the first. `count` 0 takes none and returns the next number that would be.
    fn reserve_certificate_serials(
        &self,
        type_code: &str,
        count: u64,
    ) -> impl Future<Output = Result<u64, MetaError>> + Send;
    /// Stores decisions (each with its latency in microseconds, if timed) and the certificates
    /// issued for them in one transaction: the group commit of a server deciding many
    /// applications at once. Receipts already stored are left as they are; returns how many
    /// decisions were new.
    fn store_decided(
        &self,
        decisions: &[(DecisionRecord, Option<u64>)],
        certificates: &[CertificateRecord],
    ) -> impl Future<Output = Result<u64, MetaError>> + Send;
    /// The certificates already issued for any of these receipts.
    fn certificates_of_receipts(
        &self,
        receipt_ids: &[&str],
    ) -> impl Future<Output = Result<Vec<CertificateRecord>, MetaError>> + Send;
    /// Like [`MetaStore::store_decided`], with the periods' decisions in force, the decisions
    /// they replace and the certificates revoked, all in the same transaction.
    fn store_decided_in_force(
        &self,
        decisions: &[(DecisionRecord, Option<u64>)],
        certificates: &[CertificateRecord],
        changes: &InForceChanges,
    ) -> impl Future<Output = Result<u64, MetaError>> + Send;
    /// The receipt id of the decision in force for a period, if any.
    fn decision_in_force(
        &self,
        key: &PeriodKey,
    ) -> impl Future<Output = Result<Option<String>, MetaError>> + Send;
    /// The receipts (id, JSON) of the approvals in force for their period, of the given
    /// matters: what facts fed by those matters count.
    fn approvals_in_force(
        &self,
        matters: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>, MetaError>> + Send;
    /// A number that grows with every decision stored (by any process): whoever keeps a copy
    /// of decisions in memory reloads when it moved on without them.
    fn decisions_high_water(&self) -> impl Future<Output = Result<i64, MetaError>> + Send;
    /// The revocation of a certificate, if it was revoked.
    fn certificate_revocation(
        &self,
        certificate_id: &str,
    ) -> impl Future<Output = Result<Option<CertificateRevocation>, MetaError>> + Send;
}

/// The embedded SQLite meta store.
#[derive(Debug, Clone)]
pub struct SqliteMeta {
    pool: SqlitePool,
}

impl SqliteMeta {
    /// Opens (creating if needed) the store at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteMeta, MetaError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed batch survives power loss, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let meta = SqliteMeta { pool };
        meta.migrate().await?;
        Ok(meta)
    }

    /// The connection pool, for crates that keep their own tables in this store (governance:
    /// grants, accounts, the audit chain) and run their own queries against the migrated schema.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn migrate(&self) -> Result<(), MetaError> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")
            .execute(&self.pool)
            .await?;
        for (name, sql) in MIGRATIONS {
            let done: Option<String> =
                sqlx::query_scalar("SELECT name FROM schema_migrations WHERE name = ?")
                    .bind(*name)
                    .fetch_optional(&self.pool)
                    .await?;
            if done.is_some() {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            sqlx::raw_sql(*sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (name) VALUES (?)")
                .bind(*name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

fn opt_u64(row: &sqlx::sqlite::SqliteRow, col: &str) -> Result<Option<u64>, sqlx::Error> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(|v| v.max(0) as u64))
}

fn batch_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<BatchRecord, sqlx::Error> {
    let state: String = row.try_get("state")?;
    Ok(BatchRecord {
        batch_id: row.try_get("batch_id")?,
        resource: row.try_get("resource")?,
        unit: row.try_get("unit")?,
        source_file: row.try_get("source_file")?,
        file_bytes: row.try_get::<i64, _>("file_bytes")?.max(0) as u64,
        encoding: row.try_get("encoding")?,
        state: if state == "committed" {
            BatchState::Committed
        } else {
            BatchState::Started
        },
        rows_read: opt_u64(row, "rows_read")?,
        rows_accepted: opt_u64(row, "rows_accepted")?,
        rows_quarantined: opt_u64(row, "rows_quarantined")?,
        fixes: opt_u64(row, "fixes")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        read_ms: opt_u64(row, "read_ms")?,
        write_ms: opt_u64(row, "write_ms")?,
    })
}

fn decision_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<DecisionRecord, sqlx::Error> {
    Ok(DecisionRecord {
        receipt_id: row.try_get("receipt_id")?,
        matter: row.try_get("matter")?,
        version: row.try_get("version")?,
        package_hash: row.try_get("package_hash")?,
        applicant_masked: row.try_get("applicant_masked")?,
        application_date: row.try_get("application_date")?,
        outcome: row.try_get("outcome")?,
        decided_at: row.try_get("decided_at")?,
        receipt_json: row.try_get("receipt_json")?,
    })
}

fn certificate_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<CertificateRecord, sqlx::Error> {
    Ok(CertificateRecord {
        certificate_id: row.try_get("certificate_id")?,
        type_code: row.try_get("type_code")?,
        serial: row.try_get::<i64, _>("serial")?.max(0) as u64,
        receipt_id: row.try_get("receipt_id")?,
        holder_masked: row.try_get("holder_masked")?,
        issued_at: row.try_get("issued_at")?,
        file_path: row.try_get("file_path")?,
        file_sm3: row.try_get("file_sm3")?,
    })
}

impl MetaStore for SqliteMeta {
    async fn batch(&self, batch_id: &str) -> Result<Option<BatchRecord>, MetaError> {
        let row = sqlx::query("SELECT * FROM batches WHERE batch_id = ?")
            .bind(batch_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(batch_from_row).transpose()?)
    }

    async fn start_batch(&self, s: &BatchStart) -> Result<bool, MetaError> {
        let inserted = sqlx::query(
            "INSERT INTO batches (batch_id, resource, unit, source_file, file_bytes, state, started_at)
             VALUES (?, ?, ?, ?, ?, 'started', ?)
             ON CONFLICT (batch_id) DO NOTHING",
        )
        .bind(&s.batch_id)
        .bind(&s.resource)
        .bind(&s.unit)
        .bind(&s.source_file)
        .bind(s.file_bytes as i64)
        .bind(&s.started_at)
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn batch_reasons(&self, batch_id: &str) -> Result<Vec<(String, u64)>, MetaError> {
        let rows = sqlx::query(
            "SELECT reason_code, rows FROM batch_reasons WHERE batch_id = ? ORDER BY reason_code",
        )
        .bind(batch_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("reason_code")?,
                    r.try_get::<i64, _>("rows")?.max(0) as u64,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(MetaError::from)
    }

    async fn commit_batch(&self, f: &BatchFinish) -> Result<(), MetaError> {
        if f.rows_read != f.rows_accepted + f.rows_quarantined {
            return Err(MetaError::Unreconciled {
                batch_id: f.batch_id.clone(),
                read: f.rows_read,
                accepted: f.rows_accepted,
                quarantined: f.rows_quarantined,
            });
        }
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE batches SET state = 'committed', encoding = ?, rows_read = ?, rows_accepted = ?,
                 rows_quarantined = ?, fixes = ?, finished_at = ?, read_ms = ?, write_ms = ?
             WHERE batch_id = ?",
        )
        .bind(&f.encoding)
        .bind(f.rows_read as i64)
        .bind(f.rows_accepted as i64)
        .bind(f.rows_quarantined as i64)
        .bind(f.fixes as i64)
        .bind(&f.finished_at)
        .bind(f.read_ms as i64)
        .bind(f.write_ms as i64)
        .bind(&f.batch_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(MetaError::UnknownBatch(f.batch_id.clone()));
        }
        sqlx::query("DELETE FROM batch_reasons WHERE batch_id = ?")
            .bind(&f.batch_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM batch_fields WHERE batch_id = ?")
            .bind(&f.batch_id)
            .execute(&mut *tx)
            .await?;
        for (code, rows) in &f.reasons {
            sqlx::query("INSERT INTO batch_reasons (batch_id, reason_code, rows) VALUES (?, ?, ?)")
                .bind(&f.batch_id)
                .bind(code)
                .bind(*rows as i64)
                .execute(&mut *tx)
                .await?;
        }
        for (field, filled, fixed) in &f.fields {
            sqlx::query(
                "INSERT INTO batch_fields (batch_id, field, filled, fixed) VALUES (?, ?, ?, ?)",
            )
            .bind(&f.batch_id)
            .bind(field)
            .bind(*filled as i64)
            .bind(*fixed as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn batches(&self) -> Result<Vec<BatchRecord>, MetaError> {
        let rows = sqlx::query("SELECT * FROM batches ORDER BY started_at, batch_id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(batch_from_row).collect::<Result<_, _>>()?)
    }

    async fn quality(&self) -> Result<Vec<ResourceQuality>, MetaError> {
        let rows = sqlx::query(
            "SELECT resource, count(*) AS batches, sum(rows_read) AS rows_read,
                    sum(rows_accepted) AS rows_accepted, sum(rows_quarantined) AS rows_quarantined,
                    sum(fixes) AS fixes
             FROM batches WHERE state = 'committed' GROUP BY resource ORDER BY resource",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let resource: String = row.try_get("resource")?;
            let reasons = sqlx::query(
                "SELECT r.reason_code, sum(r.rows) AS rows FROM batch_reasons r
                 JOIN batches b ON b.batch_id = r.batch_id
                 WHERE b.resource = ? AND b.state = 'committed'
                 GROUP BY r.reason_code ORDER BY rows DESC, r.reason_code",
            )
            .bind(&resource)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("reason_code")?,
                    r.try_get::<i64, _>("rows")?.max(0) as u64,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
            let fields = sqlx::query(
                "SELECT f.field, sum(f.filled) AS filled, sum(f.fixed) AS fixed FROM batch_fields f
                 JOIN batches b ON b.batch_id = f.batch_id
                 WHERE b.resource = ? AND b.state = 'committed'
                 GROUP BY f.field ORDER BY min(f.rowid)",
            )
            .bind(&resource)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("field")?,
                    r.try_get::<i64, _>("filled")?.max(0) as u64,
                    r.try_get::<i64, _>("fixed")?.max(0) as u64,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
            let get = |c: &str| -> Result<u64, sqlx::Error> {
                Ok(row.try_get::<Option<i64>, _>(c)?.unwrap_or(0).max(0) as u64)
            };
            out.push(ResourceQuality {
                batches: get("batches")?,
                rows_read: get("rows_read")?,
                rows_accepted: get("rows_accepted")?,
                rows_quarantined: get("rows_quarantined")?,
                fixes: get("fixes")?,
                resource,
                reasons,
                fields,
            });
        }
        Ok(out)
    }

    async fn store_decisions(&self, decisions: &[DecisionRecord]) -> Result<u64, MetaError> {
        let untimed: Vec<(DecisionRecord, Option<u64>)> =
            decisions.iter().map(|d| (d.clone(), None)).collect();
        self.store_decided(&untimed, &[]).await
    }

    async fn decision(&self, receipt_id: &str) -> Result<Option<DecisionRecord>, MetaError> {
        let row = sqlx::query("SELECT * FROM decisions WHERE receipt_id = ?")
            .bind(receipt_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(decision_from_row).transpose()?)
    }

    async fn decision_counts(&self) -> Result<Vec<(String, String, u64)>, MetaError> {
        let rows = sqlx::query(
            "SELECT matter, outcome, count(*) AS n FROM decisions
             GROUP BY matter, outcome ORDER BY matter, outcome",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("matter")?,
                    r.try_get("outcome")?,
                    r.try_get::<i64, _>("n")?.max(0) as u64,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(MetaError::from)
    }

    async fn decision_day_stats(&self) -> Result<Vec<DecisionDayStats>, MetaError> {
        // decided_at is RFC 3339 with the offset it was decided in, so its first ten characters
        // are the local day.
        let rows = sqlx::query(
            "SELECT matter, substr(decided_at, 1, 10) AS day, count(*) AS n,
                    sum(CASE WHEN outcome = 'approved' THEN 1 ELSE 0 END) AS approved,
                    sum(CASE WHEN outcome IN ('approved_pending_materials', 'approved_on_commitment')
                        THEN 1 ELSE 0 END) AS approved_conditionally,
                    sum(CASE WHEN outcome = 'rejected' THEN 1 ELSE 0 END) AS rejected,
                    sum(CASE WHEN outcome = 'manual_review' THEN 1 ELSE 0 END) AS manual_review,
                    count(decision_us) AS timed,
                    avg(decision_us) AS mean_us,
                    max(decision_us) AS max_us
             FROM decisions GROUP BY matter, day ORDER BY day, matter",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let count = |c: &str| -> Result<u64, sqlx::Error> {
                    Ok(r.try_get::<Option<i64>, _>(c)?.unwrap_or(0).max(0) as u64)
                };
                Ok(DecisionDayStats {
                    matter: r.try_get("matter")?,
                    day: r.try_get("day")?,
                    decisions: count("n")?,
                    approved: count("approved")?,
                    approved_conditionally: count("approved_conditionally")?,
                    rejected: count("rejected")?,
                    manual_review: count("manual_review")?,
                    timed: count("timed")?,
                    mean_us: r.try_get::<Option<f64>, _>("mean_us")?,
                    max_us: opt_u64(r, "max_us")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(MetaError::from)
    }

    async fn reserve_certificate_serials(
        &self,
        type_code: &str,
        count: u64,
    ) -> Result<u64, MetaError> {
        if count == 0 {
            let last: Option<i64> = sqlx::query_scalar(
                "SELECT last_serial FROM certificate_serials WHERE type_code = ?",
            )
            .bind(type_code)
            .fetch_optional(&self.pool)
            .await?;
            return Ok(last.unwrap_or(0).max(0) as u64 + 1);
        }
        let count = i64::try_from(count).map_err(|_| {
            MetaError::Invalid(format!("cannot reserve {count} certificate serials"))
        })?;
        // One statement, as for a single number: two issuers never overlap.
        let last: i64 = sqlx::query_scalar(
            "INSERT INTO certificate_serials (type_code, last_serial) VALUES (?, ?)
             ON CONFLICT (type_code) DO UPDATE SET last_serial = certificate_serials.last_serial + ?
             RETURNING last_serial",
        )
        .bind(type_code)
        .bind(count)
        .bind(count)
        .fetch_one(&self.pool)
        .await?;
        Ok((last - count + 1).max(0) as u64)
    }

    async fn store_decided(
        &self,
        decisions: &[(DecisionRecord, Option<u64>)],
        certificates: &[CertificateRecord],
    ) -> Result<u64, MetaError> {
        self.store_decided_in_force(decisions, certificates, &InForceChanges::default())
            .await
    }

    async fn decision_in_force(&self, key: &PeriodKey) -> Result<Option<String>, MetaError> {
        Ok(in_force::in_force(&self.pool, key).await?)
    }

    async fn approvals_in_force(
        &self,
        matters: &[String],
    ) -> Result<Vec<(String, String)>, MetaError> {
        Ok(in_force::approvals(&self.pool, matters).await?)
    }

    async fn decisions_high_water(&self) -> Result<i64, MetaError> {
        let row = sqlx::query("SELECT coalesce(max(rowid), 0) AS n FROM decisions")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn certificate_revocation(
        &self,
        certificate_id: &str,
    ) -> Result<Option<CertificateRevocation>, MetaError> {
        Ok(in_force::revocation(&self.pool, certificate_id).await?)
    }

    async fn store_decided_in_force(
        &self,
        decisions: &[(DecisionRecord, Option<u64>)],
        certificates: &[CertificateRecord],
        changes: &InForceChanges,
    ) -> Result<u64, MetaError> {
        let mut tx = self.pool.begin().await?;
        let mut new = 0;
        // Multi-row statements: one round trip to SQLite per chunk, not per row. 10 and 8
        // parameters a row stay far below SQLite's 32,766 per statement.
        for chunk in decisions.chunks(512) {
            let mut insert: sqlx::QueryBuilder<sqlx::Sqlite> = sqlx::QueryBuilder::new(
                "INSERT INTO decisions (receipt_id, matter, version, package_hash,
                     applicant_masked, application_date, outcome, decided_at, receipt_json,
                     decision_us) ",
            );
            insert.push_values(chunk, |mut row, (d, decision_us)| {
                row.push_bind(d.receipt_id.clone())
                    .push_bind(d.matter.clone())
                    .push_bind(d.version.clone())
                    .push_bind(d.package_hash.clone())
                    .push_bind(d.applicant_masked.clone())
                    .push_bind(d.application_date.clone())
                    .push_bind(d.outcome.clone())
                    .push_bind(d.decided_at.clone())
                    .push_bind(d.receipt_json.clone())
                    .push_bind(decision_us.map(|us| i64::try_from(us).unwrap_or(i64::MAX)));
            });
            insert.push(" ON CONFLICT (receipt_id) DO NOTHING");
            new += insert.build().execute(&mut *tx).await?.rows_affected();
        }
        for chunk in certificates.chunks(512) {
            let mut insert: sqlx::QueryBuilder<sqlx::Sqlite> = sqlx::QueryBuilder::new(
                "INSERT INTO certificates (certificate_id, type_code, serial, receipt_id,
                     holder_masked, issued_at, file_path, file_sm3) ",
            );
            insert.push_values(chunk, |mut row, c| {
                row.push_bind(c.certificate_id.clone())
                    .push_bind(c.type_code.clone())
                    .push_bind(i64::try_from(c.serial).unwrap_or(i64::MAX))
                    .push_bind(c.receipt_id.clone())
                    .push_bind(c.holder_masked.clone())
                    .push_bind(c.issued_at.clone())
                    .push_bind(c.file_path.clone())
                    .push_bind(c.file_sm3.clone());
            });
            insert.build().execute(&mut *tx).await?;
        }
        in_force::write(&mut tx, changes).await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn certificates_of_receipts(
        &self,
        receipt_ids: &[&str],
    ) -> Result<Vec<CertificateRecord>, MetaError> {
        let mut out = Vec::new();
        // SQLite binds at most 32,766 parameters a statement; stay far below.
        for chunk in receipt_ids.chunks(500) {
            let mut query: sqlx::QueryBuilder<sqlx::Sqlite> =
                sqlx::QueryBuilder::new("SELECT * FROM certificates WHERE receipt_id IN (");
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(id.to_string());
            }
            list.push_unseparated(") ORDER BY certificate_id");
            let rows = query.build().fetch_all(&self.pool).await?;
            for row in &rows {
                out.push(certificate_from_row(row)?);
            }
        }
        Ok(out)
    }

    async fn certificates_of(&self, receipt_id: &str) -> Result<Vec<CertificateRecord>, MetaError> {
        let rows =
            sqlx::query("SELECT * FROM certificates WHERE receipt_id = ? ORDER BY certificate_id")
                .bind(receipt_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(certificate_from_row)
            .collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(id: &str) -> BatchStart {
        BatchStart {
            batch_id: id.into(),
            resource: "hukou_residents".into(),
            unit: "police".into(),
            source_file: "sources/police/hukou_residents.csv".into(),
            file_bytes: 1234,
            started_at: "2026-11-28T08:00:00Z".into(),
        }
    }

    fn finish(id: &str, read: u64, accepted: u64, quarantined: u64) -> BatchFinish {
        BatchFinish {
            batch_id: id.into(),
            encoding: "GBK".into(),
            rows_read: read,
            rows_accepted: accepted,
            rows_quarantined: quarantined,
            fixes: 7,
            finished_at: "2026-11-28T08:00:01Z".into(),
            read_ms: 10,
            write_ms: 20,
            reasons: vec![("invalid_date".into(), quarantined)],
            fields: vec![
                ("resident_id".into(), accepted, 3),
                ("name".into(), accepted - 1, 4),
            ],
        }
    }

    #[tokio::test]
    async fn batch_lifecycle_and_quality() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap();
        assert!(meta.batch("b1").await.unwrap().is_none());
        assert!(meta.start_batch(&start("b1")).await.unwrap());
        // Starting again (a re-run after a crash) keeps the first start.
        let mut again = start("b1");
        again.started_at = "2026-11-28T09:00:00Z".into();
        assert!(!meta.start_batch(&again).await.unwrap());
        let b = meta.batch("b1").await.unwrap().unwrap();
        assert_eq!(b.state, BatchState::Started);
        assert_eq!(b.started_at, "2026-11-28T08:00:00Z");
        assert!(
            meta.quality().await.unwrap().is_empty(),
            "uncommitted batches do not count"
        );

        meta.commit_batch(&finish("b1", 100, 98, 2)).await.unwrap();
        let b = meta.batch("b1").await.unwrap().unwrap();
        assert_eq!(b.state, BatchState::Committed);
        assert_eq!(
            (b.rows_read, b.rows_accepted, b.rows_quarantined),
            (Some(100), Some(98), Some(2))
        );

        meta.start_batch(&start("b2")).await.unwrap();
        meta.commit_batch(&finish("b2", 10, 10, 0)).await.unwrap();
        let q = meta.quality().await.unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(
            (q[0].batches, q[0].rows_read, q[0].rows_accepted),
            (2, 110, 108)
        );
        assert_eq!(q[0].reasons, vec![("invalid_date".to_string(), 2)]);
        assert_eq!(
            meta.batch_reasons("b1").await.unwrap(),
            vec![("invalid_date".to_string(), 2)]
        );
        assert_eq!(q[0].fields[0], ("resident_id".to_string(), 108, 6));

        // Reopening keeps everything and does not re-run migrations.
        drop(meta);
        let meta = SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap();
        assert_eq!(meta.batches().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn refuses_counts_that_do_not_reconcile_and_unknown_batches() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap();
        meta.start_batch(&start("b1")).await.unwrap();
        let err = meta
            .commit_batch(&finish("b1", 100, 90, 2))
            .await
            .unwrap_err();
        assert!(
            matches!(err, MetaError::Unreconciled { read: 100, .. }),
            "{err}"
        );
        assert_eq!(
            meta.batch("b1").await.unwrap().unwrap().state,
            BatchState::Started
        );
        let err = meta
            .commit_batch(&finish("nope", 1, 1, 0))
            .await
            .unwrap_err();
        assert!(matches!(err, MetaError::UnknownBatch(_)), "{err}");
    }

    fn decision_row(id: &str, outcome: &str) -> DecisionRecord {
        DecisionRecord {
            receipt_id: id.into(),
            matter: "senior_allowance".into(),
            version: "2024.1".into(),
            package_hash: "ab".into(),
            applicant_masked: "440304********0123".into(),
            application_date: "2026-10-31".into(),
            outcome: outcome.into(),
            decided_at: "2026-11-28T10:00:00+08:00".into(),
            receipt_json: format!("{{\"receipt_id\":\"{id}\"}}"),
        }
    }

    #[tokio::test]
    async fn decisions_serials_and_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap();
        let rows = [
            decision_row("r1", "approved"),
            decision_row("r2", "rejected"),
        ];
        // r1 with how long it took, r2 untimed.
        let timed = [(rows[0].clone(), Some(1500)), (rows[1].clone(), None)];
        assert_eq!(meta.store_decided(&timed, &[]).await.unwrap(), 2);
        // The same receipt again is the same decision: nothing new.
        assert_eq!(meta.store_decisions(&rows[..1]).await.unwrap(), 0);
        assert_eq!(meta.decision("r1").await.unwrap().as_ref(), Some(&rows[0]));
        assert!(meta.decision("nope").await.unwrap().is_none());
        assert_eq!(
            meta.decision_counts().await.unwrap(),
            vec![
                ("senior_allowance".into(), "approved".into(), 1),
                ("senior_allowance".into(), "rejected".into(), 1)
            ]
        );

        let next = |type_code: &'static str| meta.reserve_certificate_serials(type_code, 1);
        assert_eq!(next("4403MZ01").await.unwrap(), 1);
        assert_eq!(next("4403MZ01").await.unwrap(), 2);
        assert_eq!(next("4403GA01").await.unwrap(), 1);
        let cert = CertificateRecord {
            certificate_id: "1.2.156.3005.2.4403MZ01.X.00000002.001.Y".into(),
            type_code: "4403MZ01".into(),
            serial: 2,
            receipt_id: "r1".into(),
            holder_masked: "440304********0123".into(),
            issued_at: "2026-11-28T10:00:00+08:00".into(),
            file_path: "certificates/x.cert".into(),
            file_sm3: "00".into(),
        };
        meta.store_decided(&[], std::slice::from_ref(&cert))
            .await
            .unwrap();
        assert_eq!(
            meta.certificates_of("r1").await.unwrap(),
            vec![cert.clone()]
        );
        // A serial is unique per type; a certificate needs a stored receipt.
        let mut again = cert.clone();
        again.certificate_id = "other".into();
        assert!(meta.store_decided(&[], &[again]).await.is_err());
        let mut orphan = cert.clone();
        orphan.certificate_id = "orphan".into();
        orphan.serial = 9;
        orphan.receipt_id = "unknown".into();
        assert!(meta.store_decided(&[], &[orphan]).await.is_err());

        // Latency: stats per matter and day over the timed decisions.
        let mut later = decision_row("r3", "manual_review");
        later.decided_at = "2026-11-29T09:00:00+08:00".into();
        meta.store_decided(&[(later, Some(700))], &[])
            .await
            .unwrap();
        let stats = meta.decision_day_stats().await.unwrap();
        assert_eq!(stats.len(), 2, "{stats:?}");
        assert_eq!(stats[0].day, "2026-11-28");
        assert_eq!(
            (stats[0].decisions, stats[0].approved, stats[0].rejected),
            (2, 1, 1)
        );
        assert_eq!((stats[0].timed, stats[0].max_us), (1, Some(1500)));
        assert_eq!(stats[0].mean_us, Some(1500.0));
        assert_eq!(stats[1].day, "2026-11-29");
        assert_eq!((stats[1].manual_review, stats[1].max_us), (1, Some(700)));

        // Serials survive reopening.
        drop(meta);
        let meta = SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap();
        assert_eq!(
            meta.reserve_certificate_serials("4403MZ01", 1)
                .await
                .unwrap(),
            3
        );
    }

    #[tokio::test]
    async fn a_group_commit_stores_decisions_latencies_and_certificates_together() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap();
        // Reserved blocks never overlap, and single numbers continue after them.
        assert_eq!(
            meta.reserve_certificate_serials("4403MZ01", 3)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            meta.reserve_certificate_serials("4403MZ01", 2)
                .await
                .unwrap(),
            4
        );
        assert_eq!(
            meta.reserve_certificate_serials("4403MZ01", 1)
                .await
                .unwrap(),
            6
        );
        assert_eq!(
            meta.reserve_certificate_serials("4403MZ01", 0)
                .await
                .unwrap(),
            7
        );
        assert_eq!(
            meta.reserve_certificate_serials("4403GA01", 0)
                .await
                .unwrap(),
            1
        );

        let cert = |serial: u64, receipt: &str| CertificateRecord {
            certificate_id: format!("cert-{serial}"),
            type_code: "4403MZ01".into(),
            serial,
            receipt_id: receipt.into(),
            holder_masked: "440304********0123".into(),
            issued_at: "2026-11-28T10:00:00+08:00".into(),
            file_path: format!("certificates/{serial}.cert"),
            file_sm3: "00".into(),
        };
        let decided = [
            (decision_row("g1", "approved"), Some(800)),
            (decision_row("g2", "rejected"), None),
            (decision_row("g3", "approved"), Some(1200)),
        ];
        let certs = [cert(1, "g1"), cert(2, "g3")];
        assert_eq!(meta.store_decided(&decided, &certs).await.unwrap(), 3);
        let found = meta
            .certificates_of_receipts(&["g1", "g2", "g3", "unknown"])
            .await
            .unwrap();
        assert_eq!(found, certs.to_vec());
        let stats = meta.decision_day_stats().await.unwrap();
        assert_eq!((stats[0].decisions, stats[0].timed), (3, 2));
        assert_eq!(stats[0].max_us, Some(1200));

        // One bad certificate (a serial already used) fails the whole group: nothing of it
        // is stored.
        let decided = [(decision_row("g4", "approved"), Some(5))];
        assert!(
            meta.store_decided(&decided, &[cert(2, "g4")])
                .await
                .is_err()
        );
        assert!(meta.decision("g4").await.unwrap().is_none());
        // A receipt stored again is the same decision: not new, no error.
        assert_eq!(
            meta.store_decided(&[(decision_row("g2", "rejected"), None)], &[])
                .await
                .unwrap(),
            0
        );

        // A period's decision in force, replaced by a later one whose certificate is new and
        // whose predecessor's certificate is revoked — all in the group's transaction.
        let key = PeriodKey {
            matter: "senior_allowance".into(),
            applicant_sm3: "ab".repeat(32),
            period: "lifetime".into(),
        };
        assert_eq!(meta.decision_in_force(&key).await.unwrap(), None);
        let first = InForceChanges {
            in_force: vec![(key.clone(), "g1".into())],
            ..InForceChanges::default()
        };
        meta.store_decided_in_force(&[], &[], &first).await.unwrap();
        assert_eq!(
            meta.decision_in_force(&key).await.unwrap().as_deref(),
            Some("g1")
        );
        let replaced = InForceChanges {
            in_force: vec![(key.clone(), "g5".into())],
            superseded: vec![("g1".into(), "g5".into())],
            revocations: vec![CertificateRevocation {
                certificate_id: "cert-1".into(),
                revoked_at: "2026-11-29T10:00:00+08:00".into(),
                reason: "事实变化".into(),
                superseded_by: Some("g5".into()),
            }],
        };
        meta.store_decided_in_force(
            &[(decision_row("g5", "approved"), None)],
            &[cert(3, "g5")],
            &replaced,
        )
        .await
        .unwrap();
        assert_eq!(
            meta.decision_in_force(&key).await.unwrap().as_deref(),
            Some("g5")
        );
        assert_eq!(
            meta.certificate_revocation("cert-1").await.unwrap(),
            Some(replaced.revocations[0].clone())
        );
        assert_eq!(meta.certificate_revocation("cert-3").await.unwrap(), None);
        // Another period of the same applicant is its own.
        let other = PeriodKey {
            period: "year:2027".into(),
            ..key
        };
        assert_eq!(meta.decision_in_force(&other).await.unwrap(), None);
    }
}

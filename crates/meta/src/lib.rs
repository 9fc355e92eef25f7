//! miaopi-meta: the meta store — the platform's own records (intake batches and their quality
//! now; grants, applications, decisions, receipts and the audit chain later).
//!
//! SQLite (embedded, one file under the state directory) by default, behind the [`MetaStore`]
//! trait so that PostgreSQL can follow from the same migrations, which are plain SQL that both
//! accept (`migrations/`).

use std::future::Future;
use std::path::Path;

use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// The migrations, applied in order and recorded in `schema_migrations`.
const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_batches",
    include_str!("../migrations/0001_batches.sql"),
)];

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
}

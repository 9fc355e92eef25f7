//! miaopi-lake: the data lake — Delta Lake tables under the platform's state directory,
//! queried with DataFusion SQL.
//!
//! Layout: `<root>/<layer>/<resource>/` is one Delta table; layers are `ods` (贴源层: as
//! received, typed, with lineage), `dwd` (明细层: validated and standardised, entity keys
//! attached) and `quarantine` (rows that could not be accepted, with reasons). In SQL a table is
//! `<layer>.<resource>`, e.g. `SELECT count(*) FROM dwd.hukou_residents`.
//!
//! Each append carries its intake batch id as a Delta *application transaction* (`txn`), so
//! appending the same batch twice is a no-op detected by the table itself: re-ingesting a file
//! changes nothing, and a batch interrupted between tables is completed, never duplicated, by
//! running it again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use deltalake::datafusion::catalog::MemorySchemaProvider;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::Transaction;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableError};

pub use deltalake::arrow;
pub use deltalake::datafusion;
pub use lineage::ColumnSource;
pub use select::TableRead;

mod lineage;
mod select;

/// A lake layer (数据分层).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// 贴源层: records as received, typed as text, with lineage.
    Ods,
    /// 明细层: validated, standardised, keys attached.
    Dwd,
    /// 隔离区: records that could not be accepted, with reasons.
    Quarantine,
    /// 关联结果: which entity each source record names, how it was linked, and the review list.
    Link,
    /// 基础库: the six base databases (population, legal persons, houses, certificates,
    /// standard addresses, city components), derived from `dwd` by linking.
    Base,
    /// 知识图谱: relations between entities, with provenance and validity dates.
    Graph,
}

impl Layer {
    pub const ALL: [Layer; 6] = [
        Layer::Ods,
        Layer::Dwd,
        Layer::Quarantine,
        Layer::Link,
        Layer::Base,
        Layer::Graph,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Ods => "ods",
            Layer::Dwd => "dwd",
            Layer::Quarantine => "quarantine",
            Layer::Link => "link",
            Layer::Base => "base",
            Layer::Graph => "graph",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("delta table {table}: {source}")]
    Delta {
        table: String,
        // Boxed: the Delta error is large and would bloat every Result on the hot path.
        #[source]
        source: Box<DeltaTableError>,
    },
    #[error("SQL: {0}")]
    Sql(String),
    #[error("invalid table name {0:?}: use letters, digits and underscores")]
    BadName(String),
    #[error("the query ran longer than {0:?} and was stopped")]
    Timeout(std::time::Duration),
}

/// Bounds on a query a caller controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    pub max_rows: usize,
    /// Arrow bytes after which no more batches are read.
    pub max_bytes: usize,
    pub timeout: std::time::Duration,
}

/// What [`Lake::query_bounded`] answers.
#[derive(Debug, Clone)]
pub struct BoundedResult {
    pub batches: Vec<RecordBatch>,
    /// Rows or bytes beyond the limits were left out.
    pub truncated: bool,
    /// Table (`dwd.hukou_residents`) → the columns the plan reads from it.
    pub columns_read: BTreeMap<String, BTreeSet<String>>,
    /// Each column of the answer (its name) and the table columns its values come from.
    pub output: Vec<(String, ColumnSource)>,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The rows were committed as this table version.
    Committed { version: i64 },
    /// This batch was already in the table; nothing was written.
    AlreadyPresent,
}

/// Which state of the tables a query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsOf {
    /// The latest state.
    Latest,
    /// The state at an RFC 3339 timestamp (e.g. `2026-11-28T09:00:00Z`); tables that did not
    /// exist yet are absent.
    Timestamp(String),
}

/// The lake under one directory.
#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
    locks: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// Files roll over at this size, so one large batch becomes several Parquet files that readers
/// can scan in parallel.
const TARGET_FILE_BYTES: u64 = 128 * 1024 * 1024;

/// A streaming append of one batch to one table; see [`Lake::begin_append`].
pub struct TableAppender {
    table: DeltaTable,
    table_name: String,
    writer: RecordBatchWriter,
    lock: Arc<tokio::sync::Mutex<()>>,
    batch_id: String,
    rows_written: u64,
}

impl TableAppender {
    /// Streams rows into the table's pending files. Nothing is visible until `commit`.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<(), LakeError> {
        self.rows_written += batch.num_rows() as u64;
        self.writer
            .write(batch)
            .await
            .map_err(|source| LakeError::Delta {
                table: self.table_name.clone(),
                source: Box::new(source),
            })
    }

    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// Commits every file written, with the batch id, as one table version.
    pub async fn commit(mut self) -> Result<AppendOutcome, LakeError> {
        let table_name = self.table_name.clone();
        let delta = |source| LakeError::Delta {
            table: table_name.clone(),
            source: Box::new(source),
        };
        let _guard = self.lock.lock().await;
        // Another batch may have committed to this table since we began: commit on top of the
        // latest state, and never twice for the same batch.
        self.table.update_state().await.map_err(delta)?;
        if committed_version(&self.table, &self.batch_id, &table_name)
            .await?
            .is_some()
        {
            return Ok(AppendOutcome::AlreadyPresent);
        }
        let version = self
            .writer
            .flush_and_commit(&mut self.table)
            .await
            .map_err(delta)?;
        Ok(AppendOutcome::Committed {
            version: version as i64,
        })
    }
}

/// The application-transaction id under which a batch is recorded in each table it touches.
fn txn_app_id(batch_id: &str) -> String {
    format!("miaopi-batch-{batch_id}")
}

fn check_name(name: &str) -> Result<(), LakeError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(LakeError::BadName(name.to_string()))
    }
}

impl Lake {
    /// Opens (creating the directory if needed) the lake rooted at `root`.
    pub fn open(root: &Path) -> Result<Lake, LakeError> {
        std::fs::create_dir_all(root).map_err(|source| LakeError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let root = root.canonicalize().map_err(|source| LakeError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(Lake {
            root,
            locks: Arc::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn table_dir(&self, layer: Layer, resource: &str) -> PathBuf {
        self.root.join(layer.as_str()).join(resource)
    }

    /// Whether the table exists (has a Delta log): a resource nobody has delivered has none.
    pub fn has_table(&self, layer: Layer, resource: &str) -> bool {
        check_name(resource).is_ok() && self.table_dir(layer, resource).join("_delta_log").is_dir()
    }

    async fn load(&self, layer: Layer, resource: &str) -> Result<DeltaTable, LakeError> {
        check_name(resource)?;
        let dir = self.table_dir(layer, resource);
        std::fs::create_dir_all(&dir).map_err(|source| LakeError::Io {
            path: dir.clone(),
            source,
        })?;
        let table_name = format!("{}.{resource}", layer.as_str());
        let delta = |source| LakeError::Delta {
            table: table_name.clone(),
            source: Box::new(source),
        };
        let url = deltalake::ensure_table_uri(dir.to_string_lossy()).map_err(delta)?;
        DeltaTable::try_from_url(url).await.map_err(delta)
    }

    /// Whether `batch_id` has been committed to this table.
    pub async fn has_batch(
        &self,
        layer: Layer,
        resource: &str,
        batch_id: &str,
    ) -> Result<bool, LakeError> {
        let table = self.load(layer, resource).await?;
        committed_version(&table, batch_id, &format!("{}.{resource}", layer.as_str()))
            .await
            .map(|v| v.is_some())
    }

    /// Appends a batch's rows (possibly none) to a table, creating it with `schema` if needed.
    /// Idempotent per `batch_id`. Convenience over [`Lake::begin_append`] for rows already in
    /// memory.
    pub async fn append(
        &self,
        layer: Layer,
        resource: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        batch_id: &str,
    ) -> Result<AppendOutcome, LakeError> {
        let Some(mut appender) = self.begin_append(layer, resource, schema, batch_id).await? else {
            return Ok(AppendOutcome::AlreadyPresent);
        };
        for batch in batches {
            appender.write(batch).await?;
        }
        appender.commit().await
    }

    /// Starts a streaming append of one batch to a table (created with `schema` if needed), or
    /// `None` when the table already holds `batch_id`.
    ///
    /// Rows written to the appender go to Parquet files as they come (memory stays bounded by
    /// the writer's row-group buffers, not the batch's size); the files become part of the table
    /// only at [`TableAppender::commit`], in one Delta commit that also records the batch id. A
    /// process killed before that leaves unreferenced files and no trace in the table: the batch
    /// lands whole or not at all.
    pub async fn begin_append(
        &self,
        layer: Layer,
        resource: &str,
        schema: SchemaRef,
        batch_id: &str,
    ) -> Result<Option<TableAppender>, LakeError> {
        let table_name = format!("{}.{resource}", layer.as_str());
        let lock = self.table_lock(&table_name);
        let guard = lock.lock().await;
        let mut table = self.load(layer, resource).await?;
        let delta = |source| LakeError::Delta {
            table: table_name.clone(),
            source: Box::new(source),
        };
        if table.version().is_none() {
            let kernel: deltalake::kernel::StructType =
                schema
                    .as_ref()
                    .try_into_kernel()
                    .map_err(|e| LakeError::Delta {
                        table: table_name.clone(),
                        source: Box::new(DeltaTableError::from(e)),
                    })?;
            table = table
                .create()
                .with_columns(kernel.fields().cloned())
                .with_table_name(&table_name)
                .with_save_mode(SaveMode::Ignore)
                .await
                .map_err(delta)?;
        }
        if committed_version(&table, batch_id, &table_name)
            .await?
            .is_some()
        {
            return Ok(None);
        }
        drop(guard);
        let commit = CommitProperties::default()
            .with_application_transaction(Transaction::new(txn_app_id(batch_id), 1))
            .with_metadata([(
                "miaopi.batch_id".to_string(),
                serde_json::Value::String(batch_id.to_string()),
            )]);
        let writer = RecordBatchWriter::for_table(&table)
            .map_err(delta)?
            .with_target_file_size(TARGET_FILE_BYTES)
            .with_commit_properties(commit);
        Ok(Some(TableAppender {
            table,
            table_name,
            writer,
            lock,
            batch_id: batch_id.to_string(),
            rows_written: 0,
        }))
    }

    /// Replaces a derived table (`link`, `base`, `graph`) with new rows, streamed. Derived
    /// tables are rebuilt from `dwd` on every linking run, so the old versions are dropped
    /// rather than kept as history; the rows become visible at `commit`.
    pub async fn begin_replace(
        &self,
        layer: Layer,
        table: &str,
        schema: SchemaRef,
        run_id: &str,
    ) -> Result<TableAppender, LakeError> {
        check_name(table)?;
        if matches!(layer, Layer::Ods | Layer::Dwd | Layer::Quarantine) {
            return Err(LakeError::Sql(format!(
                "{}.{table} holds received data and is never replaced",
                layer.as_str()
            )));
        }
        let dir = self.table_dir(layer, table);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|source| LakeError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        self.begin_append(layer, table, schema, run_id)
            .await?
            .ok_or_else(|| {
                LakeError::Sql(format!(
                    "{}.{table}: run {run_id} already present",
                    layer.as_str()
                ))
            })
    }

    /// One async mutex per table, held while a table is created or committed to, so that files
    /// of the same resource ingested concurrently never race for a log version.
    fn table_lock(&self, table_name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = match self.locks.lock() {
            Ok(l) => l,
            // A panic elsewhere while holding the map cannot leave it inconsistent: it only
            // ever gains entries.
            Err(poisoned) => poisoned.into_inner(),
        };
        locks.entry(table_name.to_string()).or_default().clone()
    }

    /// The tables that exist, as `(layer, resource)`.
    pub fn tables(&self) -> Result<Vec<(Layer, String)>, LakeError> {
        let mut out = Vec::new();
        for layer in Layer::ALL {
            let dir = self.root.join(layer.as_str());
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let entry = entry.map_err(|source| LakeError::Io {
                    path: dir.clone(),
                    source,
                })?;
                if entry.path().join("_delta_log").is_dir() {
                    out.push((layer, entry.file_name().to_string_lossy().into_owned()));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// One table as a DataFusion provider for `ctx`, at `as_of`; `None` when it did not exist
    /// yet at that time.
    async fn provider(
        &self,
        ctx: &SessionContext,
        layer: Layer,
        resource: &str,
        as_of: &AsOf,
    ) -> Result<Option<Arc<dyn deltalake::datafusion::catalog::TableProvider>>, LakeError> {
        let table_name = format!("{}.{resource}", layer.as_str());
        let delta = |source| LakeError::Delta {
            table: table_name.clone(),
            source: Box::new(source),
        };
        let url = deltalake::ensure_table_uri(self.table_dir(layer, resource).to_string_lossy())
            .map_err(delta)?;
        let table = match as_of {
            AsOf::Latest => deltalake::open_table(url).await,
            AsOf::Timestamp(ts) => deltalake::open_table_with_ds(url, ts).await,
        };
        let table = match table {
            Ok(t) => t,
            Err(_) if *as_of != AsOf::Latest => return Ok(None),
            Err(e) => return Err(delta(e)),
        };
        table
            .update_datafusion_session(&ctx.state())
            .map_err(delta)?;
        let provider = table
            .table_provider()
            .await
            .map_err(|e| LakeError::Sql(format!("{table_name}: {e}")))?;
        Ok(Some(provider))
    }

    /// A DataFusion session with every table registered as `<layer>.<resource>`.
    pub async fn session(&self, as_of: &AsOf) -> Result<SessionContext, LakeError> {
        let ctx = SessionContext::new();
        let catalog = ctx
            .catalog("datafusion")
            .ok_or_else(|| LakeError::Sql("the default catalog is missing".into()))?;
        for layer in Layer::ALL {
            catalog
                .register_schema(layer.as_str(), Arc::new(MemorySchemaProvider::new()))
                .map_err(|e| LakeError::Sql(e.to_string()))?;
        }
        for (layer, resource) in self.tables()? {
            // A table that did not exist yet at that time is left out of that state.
            let Some(provider) = self.provider(&ctx, layer, &resource, as_of).await? else {
                continue;
            };
            ctx.register_table(
                deltalake::datafusion::common::TableReference::partial(
                    layer.as_str(),
                    resource.as_str(),
                ),
                provider,
            )
            .map_err(|e| LakeError::Sql(e.to_string()))?;
        }
        Ok(ctx)
    }

    /// Runs one SQL query and collects the result.
    pub async fn query(&self, sql: &str, as_of: &AsOf) -> Result<Vec<RecordBatch>, LakeError> {
        self.query_with_views(sql, as_of, &[]).await
    }

    /// Like [`Lake::query`], with views (`schema.name`, `SELECT …`) defined first — e.g. the
    /// record-history views built from the catalogue. A view over a table that does not exist
    /// (yet, or at `as_of`) is left out.
    pub async fn query_with_views(
        &self,
        sql: &str,
        as_of: &AsOf,
        views: &[(String, String)],
    ) -> Result<Vec<RecordBatch>, LakeError> {
        self.dataframe(sql, as_of, views)
            .await?
            .collect()
            .await
            .map_err(|e| LakeError::Sql(e.to_string()))
    }

    /// The planned, read-only query with the views defined.
    async fn dataframe(
        &self,
        sql: &str,
        as_of: &AsOf,
        views: &[(String, String)],
    ) -> Result<deltalake::datafusion::dataframe::DataFrame, LakeError> {
        let ctx = self.session(as_of).await?;
        let catalog = ctx
            .catalog("datafusion")
            .ok_or_else(|| LakeError::Sql("the default catalog is missing".into()))?;
        for (name, body) in views {
            if let Some((schema, _)) = name.split_once('.')
                && catalog.schema(schema).is_none()
            {
                catalog
                    .register_schema(schema, Arc::new(MemorySchemaProvider::new()))
                    .map_err(|e| LakeError::Sql(e.to_string()))?;
            }
            let Ok(plan) = ctx.state().create_logical_plan(body).await else {
                continue; // its table is absent
            };
            let view = deltalake::datafusion::datasource::ViewTable::new(plan, Some(body.clone()));
            ctx.register_table(
                deltalake::datafusion::common::TableReference::from(name.as_str()),
                Arc::new(view),
            )
            .map_err(|e| LakeError::Sql(format!("view {name}: {e}")))?;
        }
        // Read-only: no DDL, no DML (Delta providers accept INSERT), no SET/transactions.
        let options = deltalake::datafusion::execution::context::SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let df = ctx
            .sql_with_options(sql, options)
            .await
            .map_err(|e| LakeError::Sql(e.to_string()))?;
        Ok(df)
    }

    /// Like [`Lake::query_with_views`], for a query a caller sent: at most `limits.max_rows`
    /// rows and about `limits.max_bytes` bytes of Arrow data come back (the rest is cut, and
    /// `truncated` says so), the whole query is stopped after `limits.timeout`, and the
    /// answer names every table column the optimised plan reads — scans' projections and
    /// pushed-down filters, views expanded to their tables.
    pub async fn query_bounded(
        &self,
        sql: &str,
        as_of: &AsOf,
        views: &[(String, String)],
        limits: &QueryLimits,
    ) -> Result<BoundedResult, LakeError> {
        use deltalake::datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
        use deltalake::datafusion::logical_expr::LogicalPlan;
        use futures::StreamExt;

        let run = async {
            let df = self.dataframe(sql, as_of, views).await?;
            let plan = df
                .clone()
                .into_optimized_plan()
                .map_err(|e| LakeError::Sql(e.to_string()))?;
            let mut columns_read: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            plan.apply(|node| {
                if let LogicalPlan::TableScan(scan) = node {
                    let read = columns_read.entry(scan.table_name.to_string()).or_default();
                    for f in scan.projected_schema.fields() {
                        read.insert(f.name().clone());
                    }
                    for filter in &scan.filters {
                        for c in filter.column_refs() {
                            read.insert(c.name.clone());
                        }
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
            .map_err(|e| LakeError::Sql(e.to_string()))?;
            let output: Vec<(String, ColumnSource)> = plan
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .zip(lineage::output_sources(&plan))
                .collect();
            // One row more than allowed tells whether there were more.
            let df = df
                .limit(0, Some(limits.max_rows.saturating_add(1)))
                .map_err(|e| LakeError::Sql(e.to_string()))?;
            let mut stream = df
                .execute_stream()
                .await
                .map_err(|e| LakeError::Sql(e.to_string()))?;
            let (mut rows, mut bytes, mut truncated) = (0usize, 0usize, false);
            let mut batches = Vec::new();
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(|e| LakeError::Sql(e.to_string()))?;
                let room = limits.max_rows - rows;
                let batch = if batch.num_rows() > room {
                    truncated = true;
                    batch.slice(0, room)
                } else {
                    batch
                };
                rows += batch.num_rows();
                bytes += batch.get_array_memory_size();
                batches.push(batch);
                if truncated || (limits.max_rows > 0 && rows >= limits.max_rows) {
                    // Anything left would be beyond the row limit.
                    truncated |= stream.next().await.is_some();
                    break;
                }
                if bytes > limits.max_bytes {
                    truncated = true;
                    break;
                }
            }
            Ok(BoundedResult {
                batches,
                truncated,
                columns_read,
                output,
            })
        };
        tokio::time::timeout(limits.timeout, run)
            .await
            .map_err(|_| LakeError::Timeout(limits.timeout))?
    }
}

async fn committed_version(
    table: &DeltaTable,
    batch_id: &str,
    table_name: &str,
) -> Result<Option<i64>, LakeError> {
    let Ok(state) = table.snapshot() else {
        return Ok(None); // no commit yet
    };
    state
        .transaction_version(table.log_store().as_ref(), txn_app_id(batch_id))
        .await
        .map_err(|source| LakeError::Delta {
            table: table_name.to_string(),
            source: Box::new(source),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("batch_id", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
        ]))
    }

    fn rows(batch: &str, ns: &[i64]) -> Vec<RecordBatch> {
        let ids: Vec<&str> = ns.iter().map(|_| batch).collect();
        vec![
            RecordBatch::try_new(
                schema(),
                vec![
                    Arc::new(StringArray::from(ids)),
                    Arc::new(Int64Array::from(ns.to_vec())),
                ],
            )
            .unwrap(),
        ]
    }

    async fn count(lake: &Lake, sql: &str, as_of: &AsOf) -> i64 {
        let out = lake.query(sql, as_of).await.unwrap();
        out[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0)
    }

    #[tokio::test]
    async fn append_is_idempotent_per_batch_and_queryable() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        assert!(!lake.has_table(Layer::Ods, "people"));
        let first = lake
            .append(Layer::Ods, "people", schema(), rows("b1", &[1, 2, 3]), "b1")
            .await
            .unwrap();
        assert!(
            matches!(first, AppendOutcome::Committed { .. }),
            "{first:?}"
        );
        assert!(lake.has_batch(Layer::Ods, "people", "b1").await.unwrap());
        assert!(lake.has_table(Layer::Ods, "people"));
        assert!(!lake.has_table(Layer::Dwd, "people"));
        assert!(!lake.has_table(Layer::Ods, "../people"));
        assert!(!lake.has_batch(Layer::Ods, "people", "b2").await.unwrap());
        let again = lake
            .append(Layer::Ods, "people", schema(), rows("b1", &[1, 2, 3]), "b1")
            .await
            .unwrap();
        assert_eq!(again, AppendOutcome::AlreadyPresent);
        lake.append(Layer::Ods, "people", schema(), rows("b2", &[4]), "b2")
            .await
            .unwrap();
        // An empty batch is still recorded, so a re-run knows it is done.
        lake.append(Layer::Quarantine, "people", schema(), vec![], "b1")
            .await
            .unwrap();
        assert!(
            lake.has_batch(Layer::Quarantine, "people", "b1")
                .await
                .unwrap()
        );

        assert_eq!(
            count(&lake, "SELECT count(*) FROM ods.people", &AsOf::Latest).await,
            4
        );
        assert_eq!(
            count(
                &lake,
                "SELECT sum(n) FROM ods.people WHERE batch_id = 'b1'",
                &AsOf::Latest
            )
            .await,
            6
        );
        assert_eq!(
            count(
                &lake,
                "SELECT count(*) FROM quarantine.people",
                &AsOf::Latest
            )
            .await,
            0
        );
        assert_eq!(
            lake.tables().unwrap(),
            vec![
                (Layer::Ods, "people".to_string()),
                (Layer::Quarantine, "people".to_string())
            ]
        );
    }

    #[tokio::test]
    async fn as_of_reads_an_earlier_state() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        lake.append(Layer::Dwd, "t", schema(), rows("b1", &[1]), "b1")
            .await
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let between = chrono::Utc::now().to_rfc3339();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        lake.append(Layer::Dwd, "t", schema(), rows("b2", &[2, 3]), "b2")
            .await
            .unwrap();
        assert_eq!(
            count(&lake, "SELECT count(*) FROM dwd.t", &AsOf::Latest).await,
            3
        );
        assert_eq!(
            count(
                &lake,
                "SELECT count(*) FROM dwd.t",
                &AsOf::Timestamp(between)
            )
            .await,
            1
        );
    }

    #[tokio::test]
    async fn rejects_bad_table_names_and_bad_sql() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        let err = lake
            .append(Layer::Ods, "../escape", schema(), vec![], "b")
            .await
            .unwrap_err();
        assert!(matches!(err, LakeError::BadName(_)), "{err}");
        let err = lake
            .query("SELEKT nothing", &AsOf::Latest)
            .await
            .unwrap_err();
        assert!(matches!(err, LakeError::Sql(_)), "{err}");
        lake.append(Layer::Ods, "t", schema(), rows("b1", &[1]), "b1")
            .await
            .unwrap();
        for write in [
            "INSERT INTO ods.t VALUES ('x', 1)",
            "CREATE TABLE x AS SELECT 1",
            "DROP TABLE ods.t",
        ] {
            let err = lake.query(write, &AsOf::Latest).await.unwrap_err();
            assert!(matches!(err, LakeError::Sql(_)), "{write}: {err}");
        }
        assert_eq!(
            count(&lake, "SELECT count(*) FROM ods.t", &AsOf::Latest).await,
            1
        );
    }

    /// The columns each answer column comes from, for query shapes a caller would use to
    /// rename a sensitive column out of a name-based mask.
    #[tokio::test]
    async fn output_columns_name_the_table_columns_they_come_from() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        lake.append(Layer::Dwd, "t", schema(), rows("b1", &[1, 2]), "b1")
            .await
            .unwrap();
        lake.append(Layer::Dwd, "u", schema(), rows("b2", &[2]), "b2")
            .await
            .unwrap();
        let limits = QueryLimits {
            max_rows: 100,
            max_bytes: 1 << 20,
            timeout: std::time::Duration::from_secs(30),
        };
        let sources = |sql: &'static str| {
            let lake = &lake;
            let limits = &limits;
            async move {
                let r = lake
                    .query_bounded(sql, &AsOf::Latest, &[], limits)
                    .await
                    .unwrap();
                r.output
                    .into_iter()
                    .map(|(name, s)| {
                        let cols: Vec<String> =
                            s.columns.iter().map(|(t, c)| format!("{t}.{c}")).collect();
                        (name, cols.join("+"), s.direct)
                    })
                    .collect::<Vec<_>>()
            }
        };
        let one = |name: &str, cols: &str, direct: bool| (name.to_owned(), cols.to_owned(), direct);
        assert_eq!(
            sources("SELECT batch_id AS x, CAST(n AS VARCHAR) AS y FROM dwd.t").await,
            vec![one("x", "dwd.t.batch_id", true), one("y", "dwd.t.n", true)]
        );
        assert_eq!(
            sources("SELECT upper(batch_id) AS x, n + 1 AS m FROM dwd.t").await,
            vec![
                one("x", "dwd.t.batch_id", false),
                one("m", "dwd.t.n", false)
            ]
        );
        assert_eq!(
            sources("SELECT z FROM (SELECT batch_id AS z FROM dwd.t) s ORDER BY z").await,
            vec![one("z", "dwd.t.batch_id", true)]
        );
        assert_eq!(
            sources("SELECT a.n, b.batch_id AS other FROM dwd.t a JOIN dwd.u b ON a.n = b.n").await,
            vec![
                one("n", "dwd.t.n", true),
                one("other", "dwd.u.batch_id", true)
            ]
        );
        assert_eq!(
            sources("SELECT batch_id AS k FROM dwd.t UNION ALL SELECT upper(batch_id) FROM dwd.u")
                .await,
            vec![one("k", "dwd.t.batch_id+dwd.u.batch_id", false)]
        );
        assert_eq!(
            sources("SELECT n, count(*) AS c, max(batch_id) AS m, count(DISTINCT batch_id) AS d FROM dwd.t GROUP BY n").await,
            vec![
                one("n", "dwd.t.n", true),
                one("c", "", false),
                one("m", "dwd.t.batch_id", true),
                one("d", "", false)
            ]
        );
        assert_eq!(
            sources("SELECT n, (SELECT max(batch_id) FROM dwd.u WHERE u.n = t.n) AS s FROM dwd.t")
                .await
                .into_iter()
                .map(|(name, cols, _)| (name, cols.contains("dwd.u.batch_id")))
                .collect::<Vec<_>>(),
            vec![("n".to_owned(), false), ("s".to_owned(), true)]
        );
    }

    /// A parameter compared in an expression is a value, whatever it holds: a quote cannot
    /// widen the read.
    #[tokio::test]
    async fn a_table_read_compares_values_and_never_parses_them() {
        use crate::datafusion::prelude::{col, lit};
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        lake.append(Layer::Dwd, "t", schema(), rows("b1", &[1, 2, 3]), "b1")
            .await
            .unwrap();
        let read = |value: &str| TableRead {
            layer: Layer::Dwd,
            table: "t".into(),
            columns: vec![col("n")],
            filter: Some(col("batch_id").eq(lit(value.to_owned()))),
            order_by: vec![col("n").sort(false, false)],
            skip: 1,
            fetch: Some(5),
        };
        let ns = |batches: Vec<RecordBatch>| -> Vec<i64> {
            batches
                .iter()
                .flat_map(|b| {
                    let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                    a.values().to_vec()
                })
                .collect()
        };
        assert_eq!(ns(lake.read_table(read("b1")).await.unwrap()), vec![2, 1]);
        assert!(ns(lake.read_table(read("x' OR '1'='1")).await.unwrap()).is_empty());
        let mut absent = read("b1");
        absent.table = "nobody_delivered".into();
        assert!(lake.read_table(absent).await.unwrap().is_empty());
        let mut bad = read("b1");
        bad.table = "../t".into();
        assert!(matches!(
            lake.read_table(bad).await,
            Err(LakeError::BadName(_))
        ));
    }
}

//! One intake batch: a file → ods, dwd and quarantine rows → the lake → the meta store.
//!
//! Crash safety: the batch id is the hash of the resource and the file's bytes. The meta store
//! marks the batch `started` before any table is written; each table append is idempotent by
//! batch id (a Delta application transaction); the batch is `committed` only after all three
//! tables hold it. Killed anywhere, running the same file again completes the batch and writes
//! exactly the rows an uninterrupted run would have (lineage timestamps are the batch's first
//! start, not the re-run's).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType as ArrowType, Field as ArrowField, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use miaopi_catalog::{DataType, Resource};
use miaopi_ingest::{Outcome, ProgressUnit, RawValue, ReadItem, ReadOptions, Standardizer, Value};
use miaopi_lake::{AppendOutcome, Lake, Layer};
use miaopi_meta::{BatchFinish, BatchStart, BatchState, MetaStore, SqliteMeta};
use sha2::{Digest, Sha256};

use crate::BatchError;

/// Rows per Arrow record batch written to the lake.
const ROWS_PER_CHUNK: usize = 65_536;

/// The platform's state directory (`--home`, `MIAOPI_HOME`, default `./miaopi-home`).
pub struct Home {
    pub dir: std::path::PathBuf,
    pub lake: Lake,
    pub meta: SqliteMeta,
}

impl Home {
    pub async fn open(dir: &Path) -> Result<Home, BatchError> {
        std::fs::create_dir_all(dir).map_err(|source| BatchError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let lake = Lake::open(&dir.join("lake"))?;
        let meta = SqliteMeta::open(&dir.join("meta.db")).await?;
        Ok(Home {
            dir: dir.to_path_buf(),
            lake,
            meta,
        })
    }
}

/// How a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchOutcome {
    /// Written now.
    Committed,
    /// An interrupted earlier run of this batch was completed.
    Resumed,
    /// This exact file was ingested before: nothing changed.
    AlreadyIngested,
}

/// What a batch did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BatchReport {
    pub batch_id: String,
    pub resource: String,
    pub unit: String,
    pub source_file: String,
    pub outcome: BatchOutcome,
    pub encoding: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    pub fixes: u64,
    /// Quarantined rows by reason code.
    pub reasons: BTreeMap<String, u64>,
    pub read_ms: u64,
    pub write_ms: u64,
}

/// The content hash that names a batch: SHA-256 over the resource code and the file's bytes.
pub fn batch_id(resource: &str, path: &Path) -> Result<(String, u64), BatchError> {
    let io = |source| BatchError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    hasher.update(resource.as_bytes());
    hasher.update([0u8]);
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    let digest = hasher.finalize();
    let hex = hex::encode(&digest[..16]);
    Ok((hex, bytes))
}

fn lineage_fields() -> Vec<ArrowField> {
    vec![
        ArrowField::new("batch_id", ArrowType::Utf8, false),
        ArrowField::new("source_unit", ArrowType::Utf8, false),
        ArrowField::new("source_file", ArrowType::Utf8, false),
        ArrowField::new("line", ArrowType::Int64, false),
        ArrowField::new("record", ArrowType::Int64, false),
        ArrowField::new(
            "ingested_at",
            ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]
}

/// `ods.<resource>`: lineage, then every field as the text received.
pub fn ods_schema(resource: &Resource) -> SchemaRef {
    let mut fields = lineage_fields();
    fields.extend(
        resource
            .fields
            .iter()
            .map(|f| ArrowField::new(f.name.clone(), ArrowType::Utf8, true)),
    );
    Arc::new(Schema::new(fields))
}

fn dwd_type(t: DataType) -> ArrowType {
    match t {
        DataType::String | DataType::Month => ArrowType::Utf8,
        DataType::Integer => ArrowType::Int64,
        DataType::Decimal => ArrowType::Decimal128(38, 6),
        DataType::Date => ArrowType::Date32,
        DataType::Boolean => ArrowType::Boolean,
    }
}

/// `dwd.<resource>`: lineage, the standardised typed fields, a `<field>_key_status` column per
/// key field (`valid`, `missing` or the invalid code), and the fixes applied (JSON).
pub fn dwd_schema(resource: &Resource) -> SchemaRef {
    let mut fields = lineage_fields();
    fields.extend(
        resource
            .fields
            .iter()
            .map(|f| ArrowField::new(f.name.clone(), dwd_type(f.data_type), true)),
    );
    fields.extend(
        resource
            .fields
            .iter()
            .filter(|f| f.role.is_some())
            .map(|f| ArrowField::new(format!("{}_key_status", f.name), ArrowType::Utf8, false)),
    );
    fields.push(ArrowField::new("fixes", ArrowType::Utf8, true));
    Arc::new(Schema::new(fields))
}

/// `quarantine.<resource>`: lineage, the raw record, and why it was not accepted.
pub fn quarantine_schema() -> SchemaRef {
    let mut fields = lineage_fields();
    fields.extend([
        ArrowField::new("raw", ArrowType::Utf8, false),
        ArrowField::new("reason_codes", ArrowType::Utf8, false),
        ArrowField::new("reasons_zh", ArrowType::Utf8, false),
    ]);
    Arc::new(Schema::new(fields))
}

struct Lineage<'a> {
    batch_id: &'a str,
    unit: &'a str,
    file: &'a str,
    ingested_at_us: i64,
}

struct LineageBuilders {
    batch: StringBuilder,
    unit: StringBuilder,
    file: StringBuilder,
    line: Int64Builder,
    record: Int64Builder,
    at: TimestampMicrosecondBuilder,
}

impl LineageBuilders {
    fn new() -> Self {
        LineageBuilders {
            batch: StringBuilder::new(),
            unit: StringBuilder::new(),
            file: StringBuilder::new(),
            line: Int64Builder::new(),
            record: Int64Builder::new(),
            at: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
        }
    }

    fn push(&mut self, l: &Lineage, line: u64, record: u64) {
        self.batch.append_value(l.batch_id);
        self.unit.append_value(l.unit);
        self.file.append_value(l.file);
        self.line.append_value(line as i64);
        self.record.append_value(record as i64);
        self.at.append_value(l.ingested_at_us);
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.batch.finish()),
            Arc::new(self.unit.finish()),
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.record.finish()),
            Arc::new(self.at.finish()),
        ]
    }
}

enum TypedBuilder {
    Str(StringBuilder),
    Int(Int64Builder),
    Dec(Decimal128Builder),
    Date(Date32Builder),
    Bool(BooleanBuilder),
}

impl TypedBuilder {
    fn new(t: DataType) -> Result<Self, BatchError> {
        Ok(match t {
            DataType::String | DataType::Month => TypedBuilder::Str(StringBuilder::new()),
            DataType::Integer => TypedBuilder::Int(Int64Builder::new()),
            DataType::Decimal => TypedBuilder::Dec(
                Decimal128Builder::new()
                    .with_precision_and_scale(38, 6)
                    .map_err(|e| BatchError::Arrow(e.to_string()))?,
            ),
            DataType::Date => TypedBuilder::Date(Date32Builder::new()),
            DataType::Boolean => TypedBuilder::Bool(BooleanBuilder::new()),
        })
    }

    fn push(&mut self, v: &Value) {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
        match (self, v) {
            (TypedBuilder::Str(b), Value::Str(s) | Value::Month(s)) => b.append_value(s),
            (TypedBuilder::Str(b), Value::Null) => b.append_null(),
            (TypedBuilder::Str(b), other) => b.append_value(other.to_string()),
            (TypedBuilder::Int(b), Value::Int(i)) => b.append_value(*i),
            (TypedBuilder::Dec(b), Value::Decimal(d)) => b.append_value(*d),
            (TypedBuilder::Date(b), Value::Date(d)) => {
                b.append_value((*d - epoch).num_days() as i32)
            }
            (TypedBuilder::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (TypedBuilder::Int(b), _) => b.append_null(),
            (TypedBuilder::Dec(b), _) => b.append_null(),
            (TypedBuilder::Date(b), _) => b.append_null(),
            (TypedBuilder::Bool(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            TypedBuilder::Str(b) => Arc::new(b.finish()),
            TypedBuilder::Int(b) => Arc::new(b.finish()),
            TypedBuilder::Dec(b) => Arc::new(b.finish()),
            TypedBuilder::Date(b) => Arc::new(b.finish()),
            TypedBuilder::Bool(b) => Arc::new(b.finish()),
        }
    }
}

fn raw_text(v: &RawValue) -> Option<String> {
    match v {
        RawValue::Null => None,
        RawValue::Text(s) => Some(s.clone()),
        RawValue::Int(i) => Some(i.to_string()),
        RawValue::Float(f) => Some(f.to_string()),
        RawValue::Decimal { value, scale } => {
            let scale = (*scale).max(0) as u32;
            let div = 10i128.pow(scale);
            if scale == 0 {
                Some(value.to_string())
            } else {
                let sign = if *value < 0 { "-" } else { "" };
                let a = value.unsigned_abs();
                Some(format!(
                    "{sign}{}.{:0width$}",
                    a / div as u128,
                    a % div as u128,
                    width = scale as usize
                ))
            }
        }
        RawValue::Bool(b) => Some(b.to_string()),
        RawValue::Date(d) => Some(d.format("%Y-%m-%d").to_string()),
    }
}

/// The three layers' builders for one resource.
struct Layers {
    ods_lineage: LineageBuilders,
    ods_fields: Vec<StringBuilder>,
    dwd_lineage: LineageBuilders,
    dwd_fields: Vec<TypedBuilder>,
    dwd_keys: Vec<StringBuilder>,
    dwd_fixes: StringBuilder,
    q_lineage: LineageBuilders,
    q_raw: StringBuilder,
    q_codes: StringBuilder,
    q_zh: StringBuilder,
    ods_rows: usize,
    dwd_rows: usize,
    q_rows: usize,
    schemas: (SchemaRef, SchemaRef, SchemaRef),
    key_count: usize,
}

impl Layers {
    fn new(resource: &Resource) -> Result<Self, BatchError> {
        let types: Vec<DataType> = resource.fields.iter().map(|f| f.data_type).collect();
        let key_count = resource.fields.iter().filter(|f| f.role.is_some()).count();
        Ok(Layers {
            ods_lineage: LineageBuilders::new(),
            ods_fields: types.iter().map(|_| StringBuilder::new()).collect(),
            dwd_lineage: LineageBuilders::new(),
            dwd_fields: types
                .iter()
                .map(|t| TypedBuilder::new(*t))
                .collect::<Result<_, _>>()?,
            dwd_keys: (0..key_count).map(|_| StringBuilder::new()).collect(),
            dwd_fixes: StringBuilder::new(),
            q_lineage: LineageBuilders::new(),
            q_raw: StringBuilder::new(),
            q_codes: StringBuilder::new(),
            q_zh: StringBuilder::new(),
            ods_rows: 0,
            dwd_rows: 0,
            q_rows: 0,
            schemas: (
                ods_schema(resource),
                dwd_schema(resource),
                quarantine_schema(),
            ),
            key_count,
        })
    }

    /// The chunks that are full (or, with `force`, every non-empty one), ready for the lake.
    fn flush(&mut self, force: bool) -> Result<Vec<(Layer, RecordBatch)>, BatchError> {
        let arrow = |e: arrow_schema::ArrowError| BatchError::Arrow(e.to_string());
        let mut out = Vec::new();
        if self.ods_rows > 0 && (force || self.ods_rows >= ROWS_PER_CHUNK) {
            let mut cols = self.ods_lineage.finish();
            cols.extend(
                self.ods_fields
                    .iter_mut()
                    .map(|b| Arc::new(b.finish()) as ArrayRef),
            );
            out.push((
                Layer::Ods,
                RecordBatch::try_new(self.schemas.0.clone(), cols).map_err(arrow)?,
            ));
            self.ods_rows = 0;
        }
        if self.dwd_rows > 0 && (force || self.dwd_rows >= ROWS_PER_CHUNK) {
            let mut cols = self.dwd_lineage.finish();
            cols.extend(self.dwd_fields.iter_mut().map(|b| b.finish()));
            cols.extend(
                self.dwd_keys
                    .iter_mut()
                    .map(|b| Arc::new(b.finish()) as ArrayRef),
            );
            cols.push(Arc::new(self.dwd_fixes.finish()));
            out.push((
                Layer::Dwd,
                RecordBatch::try_new(self.schemas.1.clone(), cols).map_err(arrow)?,
            ));
            self.dwd_rows = 0;
        }
        if self.q_rows > 0 && (force || self.q_rows >= ROWS_PER_CHUNK) {
            let mut cols = self.q_lineage.finish();
            cols.push(Arc::new(self.q_raw.finish()));
            cols.push(Arc::new(self.q_codes.finish()));
            cols.push(Arc::new(self.q_zh.finish()));
            out.push((
                Layer::Quarantine,
                RecordBatch::try_new(self.schemas.2.clone(), cols).map_err(arrow)?,
            ));
            self.q_rows = 0;
        }
        Ok(out)
    }

    fn quarantine(
        &mut self,
        l: &Lineage,
        line: u64,
        record: u64,
        raw: &str,
        codes: &str,
        zh: &str,
    ) {
        self.q_lineage.push(l, line, record);
        self.q_raw.append_value(raw);
        self.q_codes.append_value(codes);
        self.q_zh.append_value(zh);
        self.q_rows += 1;
    }
}

/// Per-field counts over accepted rows: (filled, fixed).
type FieldStats = Vec<(u64, u64)>;

/// How far one file's batch has come, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileProgress {
    pub rows_read: u64,
    /// `done` of `total` in the reader's unit (bytes of a text file, rows of XLSX/Parquet).
    pub done: u64,
    pub total: u64,
    pub unit: ProgressUnit,
}

/// What the reading thread sends to the writing task.
enum Produced {
    Chunk(Layer, RecordBatch),
    Progress(FileProgress),
    Done(Box<ProducerSummary>),
}

struct ProducerSummary {
    read: u64,
    accepted: u64,
    quarantined: u64,
    fixes_total: u64,
    reasons: BTreeMap<String, u64>,
    stats: FieldStats,
    read_ms: u64,
}

/// Chunks in flight between the reading thread and the lake writer: enough to keep both busy,
/// few enough that a batch's memory stays a handful of chunks whatever the file's size.
const CHANNEL_CHUNKS: usize = 6;
/// Records between progress reports.
const PROGRESS_EVERY_ROWS: u64 = 8192;

/// Owned inputs of the reading thread.
struct ProducerInput {
    standardizer: Arc<Standardizer>,
    resource: Resource,
    reader: miaopi_ingest::Reader,
    batch_id: String,
    source_file: String,
    ingested_at_us: i64,
}

/// Reads, standardises and builds Arrow chunks on a blocking thread, sending them on as they
/// fill. Returns early (dropping the rest) if the writer has gone away.
fn produce(
    input: ProducerInput,
    tx: &tokio::sync::mpsc::Sender<Result<Produced, BatchError>>,
) -> Result<(), BatchError> {
    let ProducerInput {
        standardizer,
        resource,
        mut reader,
        batch_id,
        source_file,
        ingested_at_us,
    } = input;
    let lineage = Lineage {
        batch_id: &batch_id,
        unit: &resource.unit,
        file: &source_file,
        ingested_at_us,
    };
    let send = |item: Produced| tx.blocking_send(Ok(item)).is_ok();
    let read_started = Instant::now();
    let mut layers = Layers::new(&resource)?;
    let mut stats: FieldStats = vec![(0, 0); resource.fields.len()];
    let field_index: BTreeMap<&str, usize> = resource
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.as_str(), i))
        .collect();
    let (mut read, mut accepted, mut quarantined, mut fixes_total) = (0u64, 0u64, 0u64, 0u64);
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(item) = reader.next() {
        let item = item?;
        read += 1;
        match item {
            ReadItem::Bad(bad) => {
                quarantined += 1;
                let code = bad.problem.code();
                *reasons.entry(code.to_string()).or_default() += 1;
                layers.quarantine(
                    &lineage,
                    bad.line,
                    bad.record,
                    &bad.raw,
                    code,
                    &bad.problem.message_zh(),
                );
            }
            ReadItem::Record(rec) => {
                // ods: every readable record, as received.
                layers.ods_lineage.push(&lineage, rec.line, rec.record);
                for (b, v) in layers.ods_fields.iter_mut().zip(&rec.values) {
                    append_raw(b, v);
                }
                layers.ods_rows += 1;
                match standardizer.standardize(&rec) {
                    Outcome::Accepted {
                        values,
                        fixes,
                        keys,
                    } => {
                        accepted += 1;
                        fixes_total += fixes.len() as u64;
                        layers.dwd_lineage.push(&lineage, rec.line, rec.record);
                        for (i, (b, v)) in layers.dwd_fields.iter_mut().zip(&values).enumerate() {
                            b.push(v);
                            if !v.is_null() {
                                stats[i].0 += 1;
                            }
                        }
                        debug_assert_eq!(keys.len(), layers.key_count);
                        for (b, (_, status)) in layers.dwd_keys.iter_mut().zip(&keys) {
                            b.append_value(status.code());
                        }
                        if fixes.is_empty() {
                            layers.dwd_fixes.append_null();
                        } else {
                            let json: Vec<serde_json::Value> = fixes
                                .iter()
                                .map(|f| {
                                    if let Some(&i) = field_index.get(&*f.field) {
                                        stats[i].1 += 1;
                                    }
                                    serde_json::json!({ "field": &*f.field, "kind": f.kind.code(), "before": f.before, "after": f.after })
                                })
                                .collect();
                            layers
                                .dwd_fixes
                                .append_value(serde_json::Value::Array(json).to_string());
                        }
                        layers.dwd_rows += 1;
                    }
                    Outcome::Rejected { reasons: rejects } => {
                        quarantined += 1;
                        let mut codes: Vec<&str> = rejects.iter().map(|r| r.code).collect();
                        codes.dedup();
                        for c in &codes {
                            *reasons.entry((*c).to_string()).or_default() += 1;
                        }
                        let zh: Vec<&str> = rejects.iter().map(|r| r.message_zh.as_str()).collect();
                        layers.quarantine(
                            &lineage,
                            rec.line,
                            rec.record,
                            &rec.raw,
                            &codes.join(";"),
                            &zh.join("；"),
                        );
                    }
                }
            }
        }
        if read % PROGRESS_EVERY_ROWS == 0 {
            for (layer, chunk) in layers.flush(false)? {
                if !send(Produced::Chunk(layer, chunk)) {
                    return Ok(());
                }
            }
            let p = reader.progress();
            if !send(Produced::Progress(FileProgress {
                rows_read: read,
                done: p.done,
                total: p.total,
                unit: p.unit,
            })) {
                return Ok(());
            }
        }
    }
    for (layer, chunk) in layers.flush(true)? {
        if !send(Produced::Chunk(layer, chunk)) {
            return Ok(());
        }
    }
    let p = reader.progress();
    send(Produced::Progress(FileProgress {
        rows_read: read,
        done: p.total,
        total: p.total,
        unit: p.unit,
    }));
    // Nothing is lost: every record read is accepted or quarantined.
    assert_eq!(read, accepted + quarantined, "intake must reconcile");
    send(Produced::Done(Box::new(ProducerSummary {
        read,
        accepted,
        quarantined,
        fixes_total,
        reasons,
        stats,
        read_ms: read_started.elapsed().as_millis() as u64,
    })));
    Ok(())
}

fn append_raw(b: &mut StringBuilder, v: &RawValue) {
    match v {
        RawValue::Null => b.append_null(),
        RawValue::Text(s) => b.append_value(s),
        other => match raw_text(other) {
            Some(s) => b.append_value(s),
            None => b.append_null(),
        },
    }
}

/// Runs one file as one batch.
///
/// A blocking thread reads and standardises the file into Arrow chunks; this task streams them
/// into the three tables' pending files and commits each table once at the end. Memory stays
/// bounded by a few chunks and the Parquet writers' buffers, whatever the file's size.
pub async fn ingest_file(
    home: &Home,
    standardizer: &Arc<Standardizer>,
    resource: &Resource,
    path: &Path,
    read_options: &ReadOptions,
    progress: &(dyn Fn(FileProgress) + Sync),
) -> Result<BatchReport, BatchError> {
    let (batch_id, file_bytes) = batch_id(&resource.code, path)?;
    let source_file = path.to_string_lossy().into_owned();
    if let Some(done) = home.meta.batch(&batch_id).await?
        && done.state == BatchState::Committed
    {
        let reasons = home.meta.batch_reasons(&batch_id).await?;
        return Ok(BatchReport {
            batch_id,
            resource: resource.code.clone(),
            unit: resource.unit.clone(),
            source_file,
            outcome: BatchOutcome::AlreadyIngested,
            encoding: done.encoding.unwrap_or_default(),
            rows_read: done.rows_read.unwrap_or(0),
            rows_accepted: done.rows_accepted.unwrap_or(0),
            rows_quarantined: done.rows_quarantined.unwrap_or(0),
            fixes: done.fixes.unwrap_or(0),
            reasons: reasons.into_iter().collect(),
            read_ms: 0,
            write_ms: 0,
        });
    }
    // A file that cannot be read at all fails here, before anything is recorded.
    let reader = miaopi_ingest::open(path, resource, read_options)?;
    let encoding = reader.encoding().to_string();

    let newly_started = home
        .meta
        .start_batch(&BatchStart {
            batch_id: batch_id.clone(),
            resource: resource.code.clone(),
            unit: resource.unit.clone(),
            source_file: source_file.clone(),
            file_bytes,
            started_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        })
        .await?;
    let started = home.meta.batch(&batch_id).await?.ok_or_else(|| {
        BatchError::Arrow(format!("batch {batch_id} vanished from the meta store"))
    })?;
    let resumed = !newly_started;
    let ingested_at_us = DateTime::parse_from_rfc3339(&started.started_at)
        .map(|d| d.timestamp_micros())
        .unwrap_or(0);

    // One appender per layer; `None` where an interrupted earlier run already committed it.
    let (ods_schema, dwd_schema, q_schema) = (
        ods_schema(resource),
        dwd_schema(resource),
        quarantine_schema(),
    );
    let mut appenders = Vec::with_capacity(3);
    let mut any_present = false;
    for (layer, schema) in [
        (Layer::Ods, ods_schema),
        (Layer::Dwd, dwd_schema),
        (Layer::Quarantine, q_schema),
    ] {
        let appender = home
            .lake
            .begin_append(layer, &resource.code, schema, &batch_id)
            .await?;
        any_present |= appender.is_none();
        appenders.push((layer, appender));
    }

    let (tx, mut rx) = tokio::sync::mpsc::channel(CHANNEL_CHUNKS);
    let input = ProducerInput {
        standardizer: Arc::clone(standardizer),
        resource: resource.clone(),
        reader,
        batch_id: batch_id.clone(),
        source_file: source_file.clone(),
        ingested_at_us,
    };
    let producer = tokio::task::spawn_blocking(move || {
        if let Err(e) = produce(input, &tx) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let mut write_ms = 0u64;
    let mut summary = None;
    while let Some(item) = rx.recv().await {
        match item? {
            Produced::Chunk(layer, chunk) => {
                let write_started = Instant::now();
                if let Some((_, Some(appender))) = appenders.iter_mut().find(|(l, _)| *l == layer) {
                    appender.write(chunk).await?;
                }
                write_ms += write_started.elapsed().as_millis() as u64;
            }
            Produced::Progress(p) => progress(p),
            Produced::Done(s) => summary = Some(s),
        }
    }
    producer
        .await
        .map_err(|e| BatchError::Arrow(format!("the reading thread failed: {e}")))?;
    let summary = summary.ok_or_else(|| {
        BatchError::Arrow("the reading thread stopped without finishing".to_string())
    })?;
    let write_started = Instant::now();
    for (_, appender) in appenders {
        if let Some(appender) = appender
            && appender.commit().await? == AppendOutcome::AlreadyPresent
        {
            any_present = true;
        }
    }
    write_ms += write_started.elapsed().as_millis() as u64;
    let ProducerSummary {
        read,
        accepted,
        quarantined,
        fixes_total,
        reasons,
        stats,
        read_ms,
    } = *summary;

    home.meta
        .commit_batch(&BatchFinish {
            batch_id: batch_id.clone(),
            encoding: encoding.clone(),
            rows_read: read,
            rows_accepted: accepted,
            rows_quarantined: quarantined,
            fixes: fixes_total,
            finished_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            read_ms,
            write_ms,
            reasons: reasons.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            fields: resource
                .fields
                .iter()
                .zip(&stats)
                .map(|(f, (filled, fixed))| (f.name.clone(), *filled, *fixed))
                .collect(),
        })
        .await?;
    Ok(BatchReport {
        batch_id,
        resource: resource.code.clone(),
        unit: resource.unit.clone(),
        source_file,
        outcome: if any_present || resumed {
            BatchOutcome::Resumed
        } else {
            BatchOutcome::Committed
        },
        encoding,
        rows_read: read,
        rows_accepted: accepted,
        rows_quarantined: quarantined,
        fixes: fixes_total,
        reasons,
        read_ms,
        write_ms,
    })
}

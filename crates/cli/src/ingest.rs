//! `miaopi ingest`, `miaopi quality`, `miaopi sql`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use miaopi_batch::{BatchOutcome, BatchReport, FileProgress, Home};
use miaopi_catalog::Pack;
use miaopi_ingest::{ReadOptions, Standardizer};
use miaopi_lake::AsOf;
use miaopi_meta::MetaStore;

use crate::SqlFormat;

#[derive(Default)]
struct Totals {
    files: u64,
    read: u64,
    accepted: u64,
    quarantined: u64,
    fixes: u64,
    reasons: BTreeMap<String, u64>,
}

pub async fn ingest(
    pack: &Pack,
    home_dir: &Path,
    paths: &[PathBuf],
    max_line_bytes: u64,
    jobs: usize,
    link_after: bool,
) -> Result<ExitCode> {
    let home = Arc::new(
        Home::open(home_dir)
            .await
            .with_context(|| format!("opening the state directory {}", home_dir.display()))?,
    );
    let (files, unrecognised) = miaopi_batch::discover(pack, paths);
    let mut tally = RunTally::default();
    for u in &unrecognised {
        eprintln!("error: {}: {}", u.path.display(), u.reason);
        tally.failed += 1;
    }
    let options = ReadOptions {
        max_line_bytes,
        ..ReadOptions::default()
    };
    let jobs = if jobs == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        jobs
    };
    let started = Instant::now();
    let mut standardizers: BTreeMap<String, Arc<Standardizer>> = BTreeMap::new();
    for file in &files {
        if !standardizers.contains_key(&file.resource.code) {
            let s = Standardizer::new(pack, file.resource)
                .with_context(|| format!("preparing {}", file.resource.code))?;
            standardizers.insert(file.resource.code.clone(), Arc::new(s));
        }
    }
    // Bars: one for the whole run (files), one per file being ingested (bytes or rows, with a
    // total); hidden automatically when stderr is not a terminal.
    let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
    let overall = bars.add(ProgressBar::new(files.len() as u64));
    overall.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} files, {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    overall.set_prefix("入湖 ingest");
    let file_style =
        ProgressStyle::with_template("  {prefix:40!} [{bar:30}] {percent:>3}% {msg} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    // Largest files first, so the last file to finish is a small one.
    let mut queue: Vec<(PathBuf, &miaopi_catalog::Resource, u64)> = files
        .iter()
        .map(|f| {
            let bytes = std::fs::metadata(&f.path).map_or(0, |m| m.len());
            (f.path.clone(), f.resource, bytes)
        })
        .collect();
    queue.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let limit = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut running = tokio::task::JoinSet::new();
    for (path, resource, _) in queue {
        let Some(standardizer) = standardizers.get(&resource.code).cloned() else {
            continue;
        };
        let permit = Arc::clone(&limit)
            .acquire_owned()
            .await
            .context("the job limiter closed")?;
        let bar = bars.insert_before(&overall, ProgressBar::new(0));
        bar.set_style(file_style.clone());
        bar.set_prefix(short_name(&path));
        let (home, resource, options) = (Arc::clone(&home), resource.clone(), options.clone());
        running.spawn(async move {
            let rows_started = Instant::now();
            let progress = |p: FileProgress| {
                bar.set_length(p.total);
                bar.set_position(p.done);
                let secs = rows_started.elapsed().as_secs_f64().max(1e-3);
                bar.set_message(format!(
                    "{} rows, {:.0} rows/s",
                    p.rows_read,
                    p.rows_read as f64 / secs
                ));
            };
            let result = miaopi_batch::ingest_file(
                &home,
                &standardizer,
                &resource,
                &path,
                &options,
                &progress,
            )
            .await;
            bar.finish_and_clear();
            drop(permit);
            (path, result)
        });
        // Report whatever has finished meanwhile, so lines appear as files complete.
        while let Some(done) = running.try_join_next() {
            let (path, result) = done.context("an ingest task failed")?;
            overall.inc(1);
            tally.record(&bars, &path, result);
        }
    }
    while let Some(done) = running.join_next().await {
        let (path, result) = done.context("an ingest task failed")?;
        overall.inc(1);
        tally.record(&bars, &path, result);
    }
    overall.finish_and_clear();
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    println!(
        "\n{:<34} {:>6} {:>11} {:>11} {:>9} {:>9}  隔离原因 quarantine reasons",
        "资源 resource", "files", "read", "accepted", "quarant.", "fixes",
    );
    let mut all = Totals::default();
    for (resource, t) in &tally.by_resource {
        let reasons: Vec<String> = t.reasons.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{:<34} {:>6} {:>11} {:>11} {:>9} {:>9}  {}",
            resource,
            t.files,
            t.read,
            t.accepted,
            t.quarantined,
            t.fixes,
            reasons.join(" ")
        );
        all.files += t.files;
        all.read += t.read;
        all.accepted += t.accepted;
        all.quarantined += t.quarantined;
        all.fixes += t.fixes;
    }
    println!(
        "\n{} new batch(es), {} resumed, {} already ingested (unchanged), {} failed; {} rows read = {} accepted + {} quarantined; {:.1} s ({:.0} rows/s)",
        tally.new_batches,
        tally.resumed,
        tally.skipped,
        tally.failed,
        all.read,
        all.accepted,
        all.quarantined,
        secs,
        all.read as f64 / secs
    );
    println!("lake: {}", home.lake.root().display());
    // The entity index follows the lake after each ingest (issue 4): once an index exists,
    // new batches are linked and the index updated in place, writing only changed profiles.
    // Before the first `miaopi link` there is nothing to keep up to date.
    let changed = tally.new_batches + tally.resumed > 0;
    let has_index = home_dir.join("index.redb").exists();
    if link_after && changed && tally.failed == 0 {
        if has_index {
            println!(
                "\n关联融合 linking the new batches; updating the entity index in place (--no-link to skip)"
            );
            drop(home);
            let linked = crate::entity::link(pack, home_dir, false, false, false).await?;
            if linked != ExitCode::SUCCESS {
                return Ok(linked);
            }
        } else {
            println!("no entity index yet: `miaopi link` links the lake and builds it");
        }
    }
    Ok(if tally.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The last two path components: enough to tell a unit's files apart on a progress bar.
fn short_name(path: &Path) -> String {
    let parts: Vec<String> = path
        .iter()
        .rev()
        .take(2)
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

/// What the run has done so far: per-resource totals and batch outcomes.
#[derive(Default)]
struct RunTally {
    by_resource: BTreeMap<String, Totals>,
    failed: usize,
    new_batches: u64,
    resumed: u64,
    skipped: u64,
}

impl RunTally {
    fn record(
        &mut self,
        bars: &MultiProgress,
        path: &Path,
        result: Result<BatchReport, miaopi_batch::BatchError>,
    ) {
        match result {
            Ok(report) => {
                match report.outcome {
                    BatchOutcome::Committed => self.new_batches += 1,
                    BatchOutcome::Resumed => self.resumed += 1,
                    BatchOutcome::AlreadyIngested => self.skipped += 1,
                }
                bars.suspend(|| print_file_line(&report));
                if report.outcome != BatchOutcome::AlreadyIngested {
                    let t = self.by_resource.entry(report.resource.clone()).or_default();
                    t.files += 1;
                    t.read += report.rows_read;
                    t.accepted += report.rows_accepted;
                    t.quarantined += report.rows_quarantined;
                    t.fixes += report.fixes;
                    for (k, v) in &report.reasons {
                        *t.reasons.entry(k.clone()).or_default() += v;
                    }
                }
            }
            Err(e) => {
                self.failed += 1;
                bars.suspend(|| eprintln!("error: {}: {} ({e})", path.display(), e.message_zh()));
            }
        }
    }
}

fn print_file_line(r: &BatchReport) {
    let what = match r.outcome {
        BatchOutcome::Committed => "入湖",
        BatchOutcome::Resumed => "续传完成",
        BatchOutcome::AlreadyIngested => "已入湖，跳过",
    };
    println!(
        "{what:<8} {:<70} {:>9} read {:>9} ok {:>6} quarantined  batch {}",
        r.source_file,
        r.rows_read,
        r.rows_accepted,
        r.rows_quarantined,
        &r.batch_id[..12.min(r.batch_id.len())]
    );
}

#[derive(serde::Serialize)]
struct FieldQuality {
    field: String,
    label: String,
    /// Filled share of accepted rows.
    completeness: f64,
    fixed: u64,
}

#[derive(serde::Serialize)]
struct QualityRow {
    resource: String,
    name: String,
    unit: String,
    batches: u64,
    rows: u64,
    accepted: u64,
    quarantined: u64,
    fixes: u64,
    quarantined_by_reason: BTreeMap<String, u64>,
    fields: Vec<FieldQuality>,
    /// 0–100: 60 % acceptance rate, 40 % mean completeness of the required fields.
    score: f64,
}

pub async fn quality(pack: &Pack, home_dir: &Path, json: bool) -> Result<ExitCode> {
    let home = Home::open(home_dir)
        .await
        .with_context(|| format!("opening the state directory {}", home_dir.display()))?;
    let mut rows = Vec::new();
    for q in home.meta.quality().await? {
        let resource = pack.resource(&q.resource);
        let fields: Vec<FieldQuality> = q
            .fields
            .iter()
            .map(|(name, filled, fixed)| FieldQuality {
                field: name.clone(),
                label: resource
                    .and_then(|r| r.field(name))
                    .map(|f| f.label.clone())
                    .unwrap_or_default(),
                completeness: if q.rows_accepted == 0 {
                    0.0
                } else {
                    *filled as f64 / q.rows_accepted as f64
                },
                fixed: *fixed,
            })
            .collect();
        let required: Vec<f64> = fields
            .iter()
            .filter(|f| {
                resource
                    .and_then(|r| r.field(&f.field))
                    .is_some_and(|f| f.required)
            })
            .map(|f| f.completeness)
            .collect();
        let completeness = if required.is_empty() {
            1.0
        } else {
            required.iter().sum::<f64>() / required.len() as f64
        };
        let acceptance = if q.rows_read == 0 {
            1.0
        } else {
            q.rows_accepted as f64 / q.rows_read as f64
        };
        rows.push(QualityRow {
            name: resource.map(|r| r.name.clone()).unwrap_or_default(),
            unit: resource.map(|r| r.unit.clone()).unwrap_or_default(),
            resource: q.resource,
            batches: q.batches,
            rows: q.rows_read,
            accepted: q.rows_accepted,
            quarantined: q.rows_quarantined,
            fixes: q.fixes,
            quarantined_by_reason: q.reasons.into_iter().collect(),
            fields,
            score: (100.0 * (0.6 * acceptance + 0.4 * completeness) * 10.0).round() / 10.0,
        });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("尚无入湖数据 (nothing ingested yet): run `miaopi ingest` first.");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<34} {:<16} {:>10} {:>10} {:>8} {:>8} {:>6}  隔离原因 / 完整性最低的字段",
        "资源 resource", "名称 name", "rows", "accepted", "quarant.", "fixes", "score",
    );
    for r in &rows {
        let reasons: Vec<String> = r
            .quarantined_by_reason
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let weakest = r
            .fields
            .iter()
            .min_by(|a, b| a.completeness.total_cmp(&b.completeness))
            .map(|f| format!("{}({}) {:.1}%", f.label, f.field, f.completeness * 100.0))
            .unwrap_or_default();
        println!(
            "{:<34} {:<16} {:>10} {:>10} {:>8} {:>8} {:>6.1}  {}  | {}",
            r.resource,
            r.name,
            r.rows,
            r.accepted,
            r.quarantined,
            r.fixes,
            r.score,
            if reasons.is_empty() {
                "-".to_string()
            } else {
                reasons.join(" ")
            },
            weakest
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn sql(
    pack: &Pack,
    home_dir: &Path,
    query: &str,
    format: SqlFormat,
    as_of: Option<String>,
) -> Result<ExitCode> {
    if !home_dir.join("lake").is_dir() {
        anyhow::bail!(
            "{} has no lake yet: run `miaopi ingest` first",
            home_dir.display()
        );
    }
    let lake = miaopi_lake::Lake::open(&home_dir.join("lake"))?;
    let as_of = match as_of {
        Some(ts) => AsOf::Timestamp(ts),
        None => AsOf::Latest,
    };
    let views = miaopi_batch::history_views(pack);
    let batches = lake.query_with_views(query, &as_of, &views).await?;
    match format {
        SqlFormat::Table => {
            let text =
                miaopi_lake::datafusion::arrow::util::pretty::pretty_format_batches(&batches)?;
            println!("{text}");
        }
        SqlFormat::Csv => {
            let mut w = miaopi_lake::arrow::csv::Writer::new(std::io::stdout());
            for b in &batches {
                w.write(b)?;
            }
        }
        SqlFormat::Json => {
            let mut w = miaopi_lake::arrow::json::ArrayWriter::new(std::io::stdout());
            for b in &batches {
                w.write(b)?;
            }
            w.finish()?;
            println!();
        }
    }
    Ok(ExitCode::SUCCESS)
}

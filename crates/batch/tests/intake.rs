//! Intake end to end on a generated district: every source file into the lake, counts that
//! reconcile, each kind of mess where the truth says it belongs, idempotent re-runs, and a batch
//! interrupted between tables completed exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use miaopi_batch::{BatchOutcome, Home, ingest_file};
use miaopi_ingest::{ReadOptions, Standardizer};
use miaopi_lake::arrow::array::{Array, Int64Array, StringArray};
use miaopi_lake::{AsOf, Layer};
use miaopi_meta::{BatchState, MetaStore};

use miaopi_testkit::{pack, runtime, small_district};

/// A small, deliberately messy district (broken rows at 2 % so every unfixable kind occurs).
fn district() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let mut cfg = small_district(2_000);
        cfg.noise.broken = 0.02;
        miaopi_testkit::generate(&cfg)
    })
    .path()
}

/// Truth noise of each record of a source file: record number → noise codes.
fn truth_noise(source: &Path) -> BTreeMap<u64, Vec<String>> {
    let rel = source.strip_prefix(district().join("sources")).unwrap();
    let truth = district()
        .join("truth")
        .join(format!("{}.truth.csv", rel.display()));
    let text = std::fs::read_to_string(&truth).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let mut parts = l.splitn(3, ',');
            let record: u64 = parts.next().unwrap().parse().unwrap();
            let noise = parts.nth(1).unwrap_or("");
            (
                record,
                noise
                    .split(';')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            )
        })
        .collect()
}

/// Ingests one file with default options, panicking on error (tests only).
async fn ingest_one(
    home: &Home,
    std: &Arc<Standardizer>,
    resource: &miaopi_catalog::Resource,
    path: &Path,
) -> miaopi_batch::BatchReport {
    ingest_file(home, std, resource, path, &ReadOptions::default(), &|_| {})
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn ingest_all(home: &Home) -> Vec<(PathBuf, miaopi_batch::BatchReport)> {
    miaopi_testkit::ingest(home, &district().join("sources"), |_| true).await
}

async fn strings(home: &Home, sql: &str) -> Vec<Vec<Option<String>>> {
    let batches = home.lake.query(sql, &AsOf::Latest).await.unwrap();
    let mut rows = Vec::new();
    for b in &batches {
        for r in 0..b.num_rows() {
            rows.push(
                (0..b.num_columns())
                    .map(|c| {
                        let col = b.column(c);
                        if col.is_null(r) {
                            return None;
                        }
                        if let Some(s) = col.as_any().downcast_ref::<StringArray>() {
                            Some(s.value(r).to_string())
                        } else if let Some(i) = col.as_any().downcast_ref::<Int64Array>() {
                            Some(i.value(r).to_string())
                        } else {
                            Some(format!("{:?}", col.slice(r, 1)))
                        }
                    })
                    .collect(),
            );
        }
    }
    rows
}

#[test]
fn every_source_ingests_reconciles_and_mess_ends_where_it_belongs() {
    let rt = runtime();
    let home_dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let home = Home::open(home_dir.path()).await.unwrap();
        let reports = ingest_all(&home).await;
        assert_eq!(reports.len(), miaopi_synth_manifest_files(), "one batch per generated file");
        let mut quarantine_expected: BTreeMap<String, u64> = BTreeMap::new();
        for (path, r) in &reports {
            assert_eq!(r.outcome, BatchOutcome::Committed);
            assert_eq!(r.rows_read, r.rows_accepted + r.rows_quarantined, "{}", path.display());
            let truth = truth_noise(path);
            assert_eq!(r.rows_read, truth.len() as u64, "{}: every record read", path.display());
            // Unfixable mess is quarantined with the right reason; nothing else is.
            let mut expected: BTreeMap<String, u64> = BTreeMap::new();
            for noise in truth.values() {
                let reason = if noise.iter().any(|n| n == "broken_columns") {
                    Some("wrong_column_count")
                } else if noise.iter().any(|n| n == "broken_encoding") {
                    Some("bad_encoding")
                } else if noise.iter().any(|n| n == "broken_json") {
                    Some("malformed_json")
                } else if noise.iter().any(|n| n == "broken_date") {
                    Some("invalid_date")
                } else {
                    None
                };
                if let Some(reason) = reason {
                    *expected.entry(reason.to_string()).or_default() += 1;
                }
            }
            assert_eq!(r.reasons, expected, "{}: quarantine reasons", path.display());
            *quarantine_expected.entry(r.resource.clone()).or_default() += expected.values().sum::<u64>();
        }
        // The lake agrees with the reports: per resource, ods = readable rows, dwd = accepted,
        // quarantine = quarantined; and the meta store's quality figures agree too.
        let quality = home.meta.quality().await.unwrap();
        assert_eq!(quality.len(), pack().resources.len(), "every resource has data");
        for q in &quality {
            let count = |layer: &str| {
                let sql = format!("SELECT count(*) FROM {layer}.{}", q.resource);
                let h = &home;
                async move { strings(h, &sql).await[0][0].clone().unwrap().parse::<u64>().unwrap() }
            };
            assert_eq!(count("dwd").await, q.rows_accepted, "{}", q.resource);
            assert_eq!(count("quarantine").await, q.rows_quarantined, "{}", q.resource);
            assert_eq!(q.rows_quarantined, quarantine_expected[&q.resource], "{}", q.resource);
            assert_eq!(q.rows_read, q.rows_accepted + q.rows_quarantined);
        }

        // Fixable mess is accepted with the fix recorded: 公安 writes dates as 20200102, so a 户籍
        // birth date is standardised with a date_format fix unless it arrived already in ISO
        // form (the date-style noise can produce that too).
        let fix = "%\"field\":\"birth_date\",\"kind\":\"date_format\"%";
        let fixed = strings(&home, &format!("SELECT count(*) FROM dwd.hukou_residents WHERE fixes LIKE '{fix}'")).await;
        assert!(fixed[0][0].clone().unwrap().parse::<u64>().unwrap() > 500);
        // Day-first and Chinese-numeral dates carry their own fix kinds.
        let any_fix = ["date_format", "day_first_date", "chinese_numeral_date"]
            .map(|k| format!("d.fixes LIKE '%\"field\":\"birth_date\",\"kind\":\"{k}\"%'"))
            .join(" OR ");
        let unexplained = strings(
            &home,
            &format!(
                "SELECT count(*) FROM dwd.hukou_residents d JOIN ods.hukou_residents o ON d.record = o.record \
                 WHERE (d.fixes IS NULL OR NOT ({any_fix})) AND o.birth_date NOT LIKE '____-__-__'"
            ),
        )
        .await;
        assert_eq!(unexplained[0][0].as_deref(), Some("0"), "a non-ISO birth date was accepted without its fix");
        // Invalid IDs are kept (for linking), flagged, never quarantined.
        let flagged = strings(
            &home,
            "SELECT count(*) FROM dwd.residence_registrations WHERE resident_id_key_status NOT IN ('valid', 'missing')",
        )
        .await;
        assert!(flagged[0][0].clone().unwrap().parse::<u64>().unwrap() > 0);
        // Lineage: every dwd row names its batch, unit, file and line.
        let lineage = strings(
            &home,
            "SELECT count(*) FROM dwd.marriage_registrations WHERE batch_id IS NULL OR source_unit <> 'civil_affairs' OR line < 2",
        )
        .await;
        assert_eq!(lineage[0][0].as_deref(), Some("0"));
    });
}

fn miaopi_synth_manifest_files() -> usize {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(district().join("manifest.json")).unwrap()).unwrap();
    manifest["files"].as_array().unwrap().len()
}

#[test]
fn re_ingesting_changes_nothing() {
    let rt = runtime();
    let home_dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let home = Home::open(home_dir.path()).await.unwrap();
        ingest_all(&home).await;
        let before = strings(
            &home,
            "SELECT count(*) FROM ods.social_insurance_contributions",
        )
        .await;
        let again = ingest_all(&home).await;
        assert!(
            again
                .iter()
                .all(|(_, r)| r.outcome == BatchOutcome::AlreadyIngested)
        );
        let after = strings(
            &home,
            "SELECT count(*) FROM ods.social_insurance_contributions",
        )
        .await;
        assert_eq!(before, after);
        // The same content under another name is the same batch.
        let copy_dir = tempfile::tempdir().unwrap();
        let unit_dir = copy_dir.path().join("police");
        std::fs::create_dir_all(&unit_dir).unwrap();
        let copy = unit_dir.join("hukou_residents_copy.csv");
        std::fs::copy(district().join("sources/police/hukou_residents.csv"), &copy).unwrap();
        let resource = pack().resource("hukou_residents").unwrap();
        let std = Arc::new(Standardizer::new(pack(), resource).unwrap());
        let r = ingest_one(&home, &std, resource, &copy).await;
        assert_eq!(r.outcome, BatchOutcome::AlreadyIngested);
    });
}

#[test]
fn a_batch_interrupted_between_tables_completes_exactly() {
    let rt = runtime();
    rt.block_on(async {
        let resource = pack().resource("hukou_residents").unwrap();
        let file = district().join("sources/police/hukou_residents.csv");
        let std = Arc::new(Standardizer::new(pack(), resource).unwrap());

        // Reference: an uninterrupted run.
        let ref_dir = tempfile::tempdir().unwrap();
        let reference = Home::open(ref_dir.path()).await.unwrap();
        ingest_one(&reference, &std, resource, &file).await;

        // Interrupted: a full run into a scratch home gives the rows; copy only the ods table
        // and the "started" meta record into the crashed home, as if killed after the first
        // table's commit.
        let crashed_dir = tempfile::tempdir().unwrap();
        let crashed = Home::open(crashed_dir.path()).await.unwrap();
        let (batch, bytes) = miaopi_batch::batch_id(&resource.code, &file).unwrap();
        // Both homes record the same first start, as a run killed after it would have.
        let start = miaopi_meta::BatchStart {
            batch_id: batch.clone(),
            resource: resource.code.clone(),
            unit: resource.unit.clone(),
            source_file: file.to_string_lossy().into_owned(),
            file_bytes: bytes,
            started_at: "2026-11-28T08:00:00.000000Z".to_string(),
        };
        crashed.meta.start_batch(&start).await.unwrap();
        let scratch_dir = tempfile::tempdir().unwrap();
        let scratch = Home::open(scratch_dir.path()).await.unwrap();
        scratch.meta.start_batch(&start).await.unwrap();
        ingest_one(&scratch, &std, resource, &file).await;
        copy_tree(
            &scratch.lake.table_dir(Layer::Ods, "hukou_residents"),
            &crashed.lake.table_dir(Layer::Ods, "hukou_residents"),
        );
        assert_eq!(
            crashed.meta.batch(&batch).await.unwrap().unwrap().state,
            BatchState::Started
        );
        assert!(
            crashed
                .lake
                .has_batch(Layer::Ods, "hukou_residents", &batch)
                .await
                .unwrap()
        );
        assert!(
            !crashed
                .lake
                .has_batch(Layer::Dwd, "hukou_residents", &batch)
                .await
                .unwrap()
        );

        // Running the file again completes the batch without duplicating the ods rows.
        let r = ingest_one(&crashed, &std, resource, &file).await;
        assert_eq!(r.outcome, BatchOutcome::Resumed);
        assert_eq!(
            crashed.meta.batch(&batch).await.unwrap().unwrap().state,
            BatchState::Committed
        );
        for layer in ["ods", "dwd", "quarantine"] {
            let cols =
                "batch_id, source_unit, source_file, line, record, CAST(ingested_at AS VARCHAR)";
            let sql = format!("SELECT {cols} FROM {layer}.hukou_residents ORDER BY record");
            let a = strings(&crashed, &sql).await;
            let b = strings(&scratch, &sql).await;
            assert_eq!(
                a, b,
                "{layer}: the completed batch equals an uninterrupted run"
            );
            let n = strings(
                &reference,
                &format!("SELECT count(*) FROM {layer}.hukou_residents"),
            )
            .await;
            assert_eq!(
                strings(
                    &crashed,
                    &format!("SELECT count(*) FROM {layer}.hukou_residents")
                )
                .await,
                n
            );
        }
    });
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_changed_record_gets_a_new_version_and_as_of_returns_the_earlier_one() {
    let rt = runtime();
    rt.block_on(async {
        let resource = pack().resource("hukou_residents").unwrap();
        let std = Arc::new(Standardizer::new(pack(), resource).unwrap());
        let home_dir = tempfile::tempdir().unwrap();
        let home = Home::open(home_dir.path()).await.unwrap();
        let views = miaopi_batch::history_views(pack());
        let q = |sql: String| {
            let (home, views) = (&home, &views);
            async move {
                let batches = home.lake.query_with_views(&sql, &AsOf::Latest, views).await.unwrap();
                let mut out = Vec::new();
                for b in &batches {
                    // DataFusion may hand strings back as Utf8View: read every value as Utf8.
                    let col = miaopi_lake::arrow::compute::cast(
                        b.column(0),
                        &miaopi_lake::arrow::datatypes::DataType::Utf8,
                    )
                    .unwrap();
                    let col = col.as_any().downcast_ref::<StringArray>().unwrap();
                    out.extend((0..col.len()).map(|r| col.value(r).to_string()));
                }
                out
            }
        };

        // Month 1: the police's export as generated.
        let v1 = district().join("sources/police/hukou_residents.csv");
        ingest_one(&home, &std, resource, &v1).await;
        let between = chrono::Utc::now().to_rfc3339();
        std::thread::sleep(std::time::Duration::from_millis(20));

        // Month 2: the same export, except that one person has moved house (a new 户籍 address).
        let bytes = std::fs::read(&v1).unwrap();
        let (text, _, _) = encoding_rs::GBK.decode(&bytes);
        let lines: Vec<&str> = text.split("\r\n").collect();
        let target = lines[1];
        let fields: Vec<&str> = target.split(',').collect();
        let (id, old_address) = (fields[0].to_string(), fields[7].to_string());
        let last = old_address.as_bytes()[old_address.len() - 1];
        let other = if last == b'1' { '2' } else { '1' };
        let new_address = format!("{}{other}", &old_address[..old_address.len() - 1]);
        assert_ne!(old_address, new_address);
        let changed = target.replacen(&old_address, &new_address, 1);
        let month2_text = text.replacen(target, &changed, 1);
        let dir = tempfile::tempdir().unwrap();
        let v2 = dir.path().join("police/hukou_residents_202611.csv");
        std::fs::create_dir_all(v2.parent().unwrap()).unwrap();
        std::fs::write(&v2, encoding_rs::GBK.encode(&month2_text).0).unwrap();
        let r = ingest_one(&home, &std, resource, &v2).await;
        assert_eq!(r.outcome, BatchOutcome::Committed, "a changed file is a new batch");

        // dwd holds both exports; the history holds two versions of the changed record only.
        let versions = q(format!("SELECT count(*) FROM hist.hukou_residents WHERE resident_id = '{id}'")).await;
        assert_eq!(versions, vec!["2".to_string()]);
        let unchanged = q(format!(
            "SELECT count(*) FROM hist.hukou_residents WHERE resident_id <> '{id}' AND valid_to IS NOT NULL"
        ))
        .await;
        assert_eq!(unchanged, vec!["0".to_string()], "re-sent unchanged records are not new versions");

        // As of a time between the two exports, the record is at its old address; now, the new.
        let as_of = |t: &str| {
            format!(
                "SELECT address_code FROM hist.hukou_residents WHERE resident_id = '{id}' \
                 AND valid_from <= TIMESTAMP '{t}' AND (valid_to IS NULL OR valid_to > TIMESTAMP '{t}')"
            )
        };
        assert_eq!(q(as_of(&between)).await, vec![old_address]);
        let now = chrono::Utc::now().to_rfc3339();
        assert_eq!(q(as_of(&now)).await, vec![new_address]);
    });
}

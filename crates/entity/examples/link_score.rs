//! Scores a linking run against the generator's truth: pairwise precision, recall and F1 per
//! entity kind, over every mention (a mention in review is its own singleton).
//!
//! usage: link_score HOME DISTRICT
//! (HOME: the state directory `miaopi link` wrote; DISTRICT: the `miaopi synth` output.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use miaopi_lake::arrow::array::{Array, StringArray};
use miaopi_lake::arrow::compute::cast;
use miaopi_lake::arrow::datatypes::DataType;
use miaopi_lake::{AsOf, Lake};

fn strings(batches: &[miaopi_lake::arrow::array::RecordBatch]) -> Vec<Vec<Option<String>>> {
    let mut out = Vec::new();
    for b in batches {
        let cols: Vec<StringArray> = b
            .columns()
            .iter()
            .filter_map(|c| {
                cast(c, &DataType::Utf8)
                    .ok()
                    .and_then(|a| a.as_any().downcast_ref::<StringArray>().cloned())
            })
            .collect();
        for i in 0..b.num_rows() {
            out.push(
                cols.iter()
                    .map(|c| (!c.is_null(i)).then(|| c.value(i).to_string()))
                    .collect(),
            );
        }
    }
    out
}

/// Interns strings as dense ids.
#[derive(Default)]
struct Names(HashMap<String, u32>);

impl Names {
    fn id(&mut self, s: &str) -> u32 {
        let n = self.0.len() as u32;
        *self.0.entry(s.to_string()).or_insert(n)
    }
}

#[derive(Default)]
struct Tally {
    pred: HashMap<u32, u64>,
    truth: HashMap<u32, u64>,
    both: HashMap<(u32, u32), u64>,
    mentions: u64,
}

fn pairs(n: u64) -> f64 {
    (n as f64) * (n.saturating_sub(1) as f64) / 2.0
}

impl Tally {
    fn add(&mut self, p: u32, t: u32) {
        *self.pred.entry(p).or_default() += 1;
        *self.truth.entry(t).or_default() += 1;
        *self.both.entry((p, t)).or_default() += 1;
        self.mentions += 1;
    }

    fn scores(&self) -> (f64, f64, f64) {
        let tp: f64 = self.both.values().map(|&n| pairs(n)).sum();
        let pp: f64 = self.pred.values().map(|&n| pairs(n)).sum();
        let tt: f64 = self.truth.values().map(|&n| pairs(n)).sum();
        let p = tp / pp.max(1.0);
        let r = tp / tt.max(1.0);
        (p, r, 2.0 * p * r / (p + r).max(1e-12))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(home), Some(district)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: link_score HOME DISTRICT");
        std::process::exit(2);
    };
    let district = PathBuf::from(district);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let lake = Lake::open(&Path::new(home).join("lake"))?;
        let files = strings(
            &lake
                .query("SELECT DISTINCT source_file FROM link.links UNION SELECT DISTINCT source_file FROM link.review", &AsOf::Latest)
                .await?,
        );
        let mut names = Names::default();
        let mut tallies: HashMap<String, Tally> = HashMap::new();
        let mut review_ids = 0u32;
        for file in files.into_iter().filter_map(|r| r.into_iter().next().flatten()) {
            let source = PathBuf::from(&file);
            let Some(rel) = source
                .iter()
                .rev()
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .map(|p| p.to_string_lossy().into_owned())
                .reduce(|a, b| format!("{a}/{b}"))
            else {
                continue;
            };
            let truth_path = district.join("truth").join(format!("{rel}.truth.csv"));
            let text = std::fs::read_to_string(&truth_path)?;
            // (record, field) → true entity
            let mut truth: HashMap<(u64, String), String> = HashMap::new();
            for line in text.lines().skip(1) {
                let mut parts = line.splitn(3, ',');
                let Some(record) = parts.next().and_then(|r| r.parse::<u64>().ok()) else {
                    continue;
                };
                for kv in parts.next().unwrap_or("").split(';') {
                    if let Some((k, v)) = kv.split_once('=') {
                        truth.insert((record, k.to_string()), v.to_string());
                    }
                }
            }
            let escaped = file.replace('\'', "''");
            let linked = strings(&lake.query(&format!("SELECT entity_kind, entity_id, field, record FROM link.links WHERE source_file = '{escaped}'"), &AsOf::Latest).await?);
            let reviewed = strings(&lake.query(&format!("SELECT entity_kind, field, record FROM link.review WHERE source_file = '{escaped}'"), &AsOf::Latest).await?);
            for row in linked {
                let (Some(kind), Some(entity), Some(field), Some(record)) = (&row[0], &row[1], &row[2], row[3].as_ref().and_then(|r| r.parse::<u64>().ok())) else { continue };
                let Some(t) = truth.get(&(record, field.clone())) else { continue };
                let (p, t) = (names.id(entity), names.id(t));
                tallies.entry(kind.clone()).or_default().add(p, t);
            }
            for row in reviewed {
                let (Some(kind), Some(field), Some(record)) = (&row[0], &row[1], row[2].as_ref().and_then(|r| r.parse::<u64>().ok())) else { continue };
                let Some(t) = truth.get(&(record, field.clone())) else { continue };
                review_ids += 1;
                let p = names.id(&format!("review#{review_ids}"));
                let t = names.id(t);
                tallies.entry(kind.clone()).or_default().add(p, t);
            }
        }
        let mut kinds: Vec<_> = tallies.into_iter().collect();
        kinds.sort_by(|a, b| a.0.cmp(&b.0));
        for (kind, t) in kinds {
            let (p, r, f1) = t.scores();
            println!("{kind:<13} mentions {:>11}  precision {p:.5}  recall {r:.5}  F1 {f1:.5}", t.mentions);
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

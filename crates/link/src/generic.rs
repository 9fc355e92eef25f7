//! Generic mode: link two CSV files with a spec file and write the accepted pairs as CSV.
//! This is what `miaopi link-files --spec SPEC A.csv B.csv --out OUT.csv` runs.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::blocking::RuleReport;
use crate::data::Dataset;
use crate::engine::{LinkOutcome, link};
use crate::error::LinkError;
use crate::model::ModelParameters;
use crate::spec::LinkSpec;

/// What a generic run did, with counts and timings.
#[derive(Debug, Clone, Serialize)]
pub struct GenericSummary {
    /// Records read from file A.
    pub records_a: u64,
    /// Records read from file B.
    pub records_b: u64,
    /// Candidate pairs compared and scored.
    pub pairs_compared: u64,
    /// Pairs in blocks over the cap, summed over rules.
    pub pairs_skipped_by_cap: u64,
    /// Random pairs compared for u.
    pub u_sample_pairs: u64,
    /// Accepted pairs written.
    pub links: u64,
    /// Pairs between the review and accept thresholds (not written).
    pub reviews: u64,
    /// EM iterations and whether it converged.
    pub em_iterations: usize,
    /// Whether EM met its tolerance.
    pub em_converged: bool,
    /// Reading both files.
    pub read_ms: u64,
    /// Preparing values.
    pub prepare_ms: u64,
    /// Blocking.
    pub blocking_ms: u64,
    /// Comparing candidate pairs.
    pub comparing_ms: u64,
    /// u sampling.
    pub u_sampling_ms: u64,
    /// EM.
    pub em_ms: u64,
    /// Scoring and deciding.
    pub scoring_ms: u64,
    /// Writing the output.
    pub write_ms: u64,
    /// The whole run.
    pub total_ms: u64,
    /// The trained model.
    pub model: ModelParameters,
    /// What each blocking rule contributed.
    pub blocking: Vec<RuleReport>,
}

fn csv_error(path: &Path, e: impl std::fmt::Display) -> LinkError {
    LinkError::Csv {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Reads a UTF-8 CSV file with a header into a dataset (row number as reference) and the ids
/// of its rows.
pub fn read_csv(
    path: &Path,
    id_column: &str,
    side: &'static str,
) -> Result<(Dataset, Vec<String>), LinkError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| csv_error(path, e))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = if i == 0 {
                h.trim_start_matches('\u{feff}')
            } else {
                h
            };
            h.trim().to_owned()
        })
        .collect();
    let id_index =
        headers
            .iter()
            .position(|h| h == id_column)
            .ok_or_else(|| LinkError::MissingColumn {
                dataset: side,
                column: id_column.to_owned(),
                needed_by: "the spec's ids".to_owned(),
            })?;
    let mut dataset = Dataset::new(headers.iter().cloned());
    let mut ids = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = record.position().map_or(row as u64 + 2, |p| p.line());
        let id = record
            .get(id_index)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| csv_error(path, format!("line {line}: empty id in {id_column:?}")))?;
        ids.push(id.to_owned());
        let values = record.iter().map(|v| Some(v.to_owned())).collect();
        dataset.push(row as u64, values)?;
    }
    Ok((dataset, ids))
}

/// Writes the accepted pairs as `id_a,id_b,match_probability,match_weight`.
fn write_links(
    path: &Path,
    outcome: &LinkOutcome,
    ids_a: &[String],
    ids_b: &[String],
) -> Result<u64, LinkError> {
    let mut writer = csv::Writer::from_path(path).map_err(|e| csv_error(path, e))?;
    writer
        .write_record(["id_a", "id_b", "match_probability", "match_weight"])
        .map_err(|e| csv_error(path, e))?;
    let mut written = 0;
    for pair in outcome.links() {
        let id = |ids: &[String], row: u64| {
            usize::try_from(row)
                .ok()
                .and_then(|r| ids.get(r))
                .cloned()
                .unwrap_or_default()
        };
        writer
            .write_record([
                id(ids_a, pair.a),
                id(ids_b, pair.b),
                format!("{:.6}", pair.match_probability),
                format!("{:.4}", pair.match_weight),
            ])
            .map_err(|e| csv_error(path, e))?;
        written += 1;
    }
    writer.flush().map_err(|source| LinkError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(written)
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Links `file_a` with `file_b` (UTF-8 CSV with headers) by the spec at `spec_path`, writes the
/// accepted pairs to `out_path` and reports counts and timings.
pub fn run(
    spec_path: &Path,
    file_a: &Path,
    file_b: &Path,
    out_path: &Path,
) -> Result<GenericSummary, LinkError> {
    let started = Instant::now();
    let spec = LinkSpec::load(spec_path)?;
    let clock = Instant::now();
    let (a, ids_a) = read_csv(file_a, &spec.ids.a, "a")?;
    let (b, ids_b) = read_csv(file_b, &spec.ids.b, "b")?;
    let read_ms = elapsed_ms(clock);
    let outcome = link(&spec, &a, &b)?;
    let clock = Instant::now();
    let links = write_links(out_path, &outcome, &ids_a, &ids_b)?;
    let write_ms = elapsed_ms(clock);
    let t = &outcome.timings;
    Ok(GenericSummary {
        records_a: outcome.counts.records_a,
        records_b: outcome.counts.records_b,
        pairs_compared: outcome.counts.pairs_compared,
        pairs_skipped_by_cap: outcome.counts.pairs_skipped_by_cap,
        u_sample_pairs: outcome.counts.u_sample_pairs,
        links,
        reviews: outcome.counts.reviews,
        em_iterations: outcome.model.em_iterations,
        em_converged: outcome.model.em_converged,
        read_ms,
        prepare_ms: t.prepare_ms,
        blocking_ms: t.blocking_ms,
        comparing_ms: t.comparing_ms,
        u_sampling_ms: t.u_sampling_ms,
        em_ms: t.em_ms,
        scoring_ms: t.scoring_ms,
        write_ms,
        total_ms: elapsed_ms(started),
        model: outcome.model,
        blocking: outcome.blocking,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
[ids]
a = "rec_id"
b = "rec_id"

[[comparison]]
name = "given_name"
column = "given_name"
method = "jaro_winkler"
thresholds = [0.92, 0.8]

[[comparison]]
name = "surname"
column = "surname"
method = "jaro_winkler"

[[comparison]]
name = "dob"
column = "dob"
method = "date"

[[blocking]]
columns = ["dob"]

[[blocking]]
keys = [{ column = "surname", transform = "soundex" }]

[training]
u_sample_pairs = 10000
"#;

    #[test]
    fn links_two_files_and_writes_accepted_pairs() {
        let dir = tempfile::tempdir().unwrap();
        // Invented names from syllables, so that a name says something about a person.
        let word = |seed: usize, syllables: usize| {
            let (consonants, vowels) = (b"bdfgklmnprstvz", b"aeiou");
            let mut x = seed.wrapping_mul(2_654_435_761) ^ 0x5bd1;
            let mut w = String::new();
            for _ in 0..syllables {
                w.push(char::from(consonants[x % consonants.len()]));
                x /= consonants.len();
                w.push(char::from(vowels[x % vowels.len()]));
                x /= vowels.len();
            }
            w
        };
        let mut a = String::from("\u{feff}rec_id,given_name,surname,dob\n");
        let mut b = String::from("rec_id,given_name,surname,dob\n");
        let mut truth = Vec::new();
        for i in 0..300usize {
            let g = word(i % 150, 2);
            let s = word(1000 + i % 200, 3);
            let dob = format!(
                "19{:02}{:02}{:02}",
                40 + i % 50,
                1 + i % 12,
                1 + (i * 3) % 28
            );
            a.push_str(&format!("a{i},{g},{s},{dob}\n"));
            if i % 3 == 0 {
                // Damage the copy: a typo in the surname, or a missing given name.
                let s2 = if i % 2 == 0 {
                    format!("{s}x")
                } else {
                    s.clone()
                };
                let g2 = if i % 9 == 3 { "" } else { g.as_str() };
                b.push_str(&format!("b{i},{g2},{s2},{dob}\n"));
                truth.push((format!("a{i}"), format!("b{i}")));
            } else {
                // Same names as an A record, another person born elsewhen.
                b.push_str(&format!("b{i},{g},{s},19{:02}0101\n", i % 40));
            }
        }
        let spec_path = dir.path().join("spec.toml");
        let a_path = dir.path().join("a.csv");
        let b_path = dir.path().join("b.csv");
        let out_path = dir.path().join("out.csv");
        std::fs::write(&spec_path, SPEC).unwrap();
        std::fs::write(&a_path, a).unwrap();
        std::fs::write(&b_path, b).unwrap();
        let summary = run(&spec_path, &a_path, &b_path, &out_path).unwrap();
        assert_eq!(summary.records_a, 300);
        assert_eq!(summary.records_b, 300);
        assert!(summary.pairs_compared > 0);

        let mut reader = csv::Reader::from_path(&out_path).unwrap();
        let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(
            headers,
            ["id_a", "id_b", "match_probability", "match_weight"]
        );
        let mut found: Vec<(String, String)> = Vec::new();
        for record in reader.records() {
            let record = record.unwrap();
            let p: f64 = record[2].parse().unwrap();
            assert!(p >= 0.99, "only accepted pairs are written");
            found.push((record[0].to_owned(), record[1].to_owned()));
        }
        assert_eq!(found.len() as u64, summary.links);
        let correct = found.iter().filter(|f| truth.contains(f)).count();
        assert!(
            correct as f64 >= 0.95 * truth.len() as f64,
            "{correct} of {}",
            truth.len()
        );
        assert!(
            correct as f64 >= 0.95 * found.len() as f64,
            "{correct} of {}",
            found.len()
        );
    }

    #[test]
    fn missing_id_column_and_empty_ids_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "x,y\n1,2\n").unwrap();
        let err = read_csv(&path, "rec_id", "a").unwrap_err();
        assert_eq!(err.code(), "link_missing_column");
        std::fs::write(&path, "rec_id,y\n1,2\n,3\n").unwrap();
        let err = read_csv(&path, "rec_id", "a").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        std::fs::write(&path, "rec_id,y\n1,2,3\n").unwrap();
        assert_eq!(
            read_csv(&path, "rec_id", "a").unwrap_err().code(),
            "link_csv"
        );
    }
}

//! Links two CSV files with a spec: `link_files SPEC A.csv B.csv OUT.csv`.
//!
//! The same arguments as `miaopi link-files --spec SPEC A.csv B.csv --out OUT.csv`; prints the
//! counts, the timings and the trained model.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [spec, a, b, out] = args.as_slice() else {
        eprintln!("usage: link_files SPEC A.csv B.csv OUT.csv");
        return ExitCode::from(2);
    };
    match miaopi_link::generic::run(spec, a, b, out) {
        Ok(s) => {
            println!(
                "records: a {} b {}; pairs compared {} (skipped by block cap {}); u sample {}",
                s.records_a,
                s.records_b,
                s.pairs_compared,
                s.pairs_skipped_by_cap,
                s.u_sample_pairs
            );
            println!(
                "links {} (written to {}), reviews {}; EM {} iterations{}; expected matches {:.0}",
                s.links,
                out.display(),
                s.reviews,
                s.em_iterations,
                if s.em_converged {
                    ""
                } else {
                    " (not converged)"
                },
                s.model.expected_matches
            );
            println!(
                "ms: read {} prepare {} blocking {} comparing {} u_sampling {} em {} scoring {} \
                 write {} total {}",
                s.read_ms,
                s.prepare_ms,
                s.blocking_ms,
                s.comparing_ms,
                s.u_sampling_ms,
                s.em_ms,
                s.scoring_ms,
                s.write_ms,
                s.total_ms
            );
            for rule in &s.blocking {
                println!(
                    "  blocking {}: {} new pairs, {} already found, {} blocks ({} skipped, {} pairs)",
                    rule.name,
                    rule.pairs_new,
                    rule.pairs_already_found,
                    rule.blocks,
                    rule.blocks_skipped,
                    rule.pairs_skipped
                );
            }
            println!("  prior log2 odds {:.2}", s.model.prior_log2_odds);
            for c in &s.model.comparisons {
                let levels: Vec<String> = c
                    .levels
                    .iter()
                    .map(|l| {
                        format!(
                            "{} m={:.4} u={:.6} bf={:+.2}",
                            l.label, l.m_probability, l.u_probability, l.log2_bayes_factor
                        )
                    })
                    .collect();
                println!("  {}: {}", c.name, levels.join(" | "));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("link_files: {e}");
            ExitCode::FAILURE
        }
    }
}

//! The pipeline: prepare values, block, compare, estimate u, run EM, score and decide.

use std::fmt;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::blocking::{self, BoundRule, Keys, RuleReport};
use crate::compare::{self, Comparison, Feature, NULL_LEVEL};
use crate::data::Dataset;
use crate::error::LinkError;
use crate::model::{self, ComparisonParameters, LevelParameters, ModelParameters};
use crate::spec::LinkSpec;

/// What to do with a scored pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// At or above `accept_probability`, or agreeing on a deterministic rule: the same entity.
    Link,
    /// Between the thresholds: a person decides (转人工).
    Review,
    /// Below `review_probability`.
    NonLink,
}

/// How a link was established.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkMethod {
    /// By the Fellegi–Sunter match probability.
    Probabilistic,
    /// By the named deterministic rule (e.g. the same valid 身份证号).
    Deterministic(String),
}

impl fmt::Display for LinkMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkMethod::Probabilistic => f.write_str("probabilistic"),
            LinkMethod::Deterministic(rule) => write!(f, "deterministic:{rule}"),
        }
    }
}

/// One scored candidate pair, with what is needed to explain it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairResult {
    /// Reference of the record in dataset A.
    pub a: u64,
    /// Reference of the record in dataset B (in A too when deduplicating).
    pub b: u64,
    /// Prior log2 odds plus every comparison's log2 Bayes factor.
    pub match_weight: f64,
    /// 2^w / (1 + 2^w).
    pub match_probability: f64,
    /// Link, review or non-link.
    pub decision: Decision,
    /// How the decision was reached.
    pub method: LinkMethod,
    /// The level of each comparison (`None`: a value was missing), in spec order.
    pub levels: Vec<Option<u8>>,
    /// Each comparison's log2 Bayes factor (0 when null), term-frequency adjustments included.
    pub log2_bayes_factors: Vec<f64>,
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Records in A (the one dataset when deduplicating).
    pub records_a: u64,
    /// Records in B (0 when deduplicating).
    pub records_b: u64,
    /// Candidate pairs compared and scored.
    pub pairs_compared: u64,
    /// Pairs in blocks skipped for exceeding `max_block_pairs`, summed over rules.
    pub pairs_skipped_by_cap: u64,
    /// Random pairs compared to estimate u.
    pub u_sample_pairs: u64,
    /// Pairs decided as links (deterministic ones included).
    pub links: u64,
    /// Of which by a deterministic rule.
    pub deterministic_links: u64,
    /// Pairs routed to review.
    pub reviews: u64,
    /// Pairs decided as non-links.
    pub non_links: u64,
}

/// Where the time went, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    /// Preparing values (pinyin, dates, IDs, term frequencies).
    pub prepare_ms: u64,
    /// Blocking keys and candidate pairs.
    pub blocking_ms: u64,
    /// Comparison levels of the candidate pairs.
    pub comparing_ms: u64,
    /// Sampling and comparing random pairs for u.
    pub u_sampling_ms: u64,
    /// Expectation–maximisation.
    pub em_ms: u64,
    /// Weights, probabilities and decisions.
    pub scoring_ms: u64,
    /// The whole run.
    pub total_ms: u64,
}

/// Whether two datasets were linked or one deduplicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A × B.
    Link,
    /// Pairs within one dataset.
    Dedupe,
}

/// The result of [`link`] or [`dedupe`]: links and reviews (non-links are only counted), the
/// trained model, the blocking report, counts and timings.
#[derive(Debug, Clone, Serialize)]
pub struct LinkOutcome {
    /// Link or dedupe.
    pub mode: Mode,
    /// Pairs decided as link or review, sorted by (a, b).
    pub pairs: Vec<PairResult>,
    /// The model the pairs were scored with.
    pub model: ModelParameters,
    /// Per rule, deterministic rules first.
    pub blocking: Vec<RuleReport>,
    /// Counts.
    pub counts: Counts,
    /// Timings.
    pub timings: Timings,
}

/// One comparison's part in a pair's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExplanationItem {
    /// The comparison.
    pub comparison: String,
    /// The level's label, `null` when a value was missing.
    pub level: String,
    /// What it added to the match weight.
    pub log2_bayes_factor: f64,
}

/// Why a pair scored what it did: the prior plus each comparison's contribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The starting weight, log2 of the prior odds.
    pub prior_log2_odds: f64,
    /// Each comparison, in spec order.
    pub items: Vec<ExplanationItem>,
    /// The sum.
    pub match_weight: f64,
    /// Its probability.
    pub match_probability: f64,
    /// How it was decided.
    pub method: LinkMethod,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "prior {:+.2}", self.prior_log2_odds)?;
        for item in &self.items {
            write!(
                f,
                "; {} {} {:+.2}",
                item.comparison, item.level, item.log2_bayes_factor
            )?;
        }
        write!(
            f,
            " = weight {:.2}, probability {:.4} ({})",
            self.match_weight, self.match_probability, self.method
        )
    }
}

impl LinkOutcome {
    /// The pairs decided as links.
    pub fn links(&self) -> impl Iterator<Item = &PairResult> {
        self.pairs.iter().filter(|p| p.decision == Decision::Link)
    }

    /// The pairs routed to review.
    pub fn reviews(&self) -> impl Iterator<Item = &PairResult> {
        self.pairs.iter().filter(|p| p.decision == Decision::Review)
    }

    /// The contributions behind a pair's score, named and labelled.
    pub fn explain(&self, pair: &PairResult) -> Explanation {
        let items = self
            .model
            .comparisons
            .iter()
            .zip(pair.levels.iter().zip(&pair.log2_bayes_factors))
            .map(|(c, (level, factor))| ExplanationItem {
                comparison: c.name.clone(),
                level: level
                    .and_then(|l| c.levels.get(usize::from(l)))
                    .map_or_else(|| "null".to_owned(), |l| l.label.clone()),
                log2_bayes_factor: *factor,
            })
            .collect();
        Explanation {
            prior_log2_odds: self.model.prior_log2_odds,
            items,
            match_weight: pair.match_weight,
            match_probability: pair.match_probability,
            method: pair.method.clone(),
        }
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Links two datasets: every candidate pair (one record of each) is scored.
pub fn link(spec: &LinkSpec, a: &Dataset, b: &Dataset) -> Result<LinkOutcome, LinkError> {
    run(spec, a, Some(b))
}

/// Deduplicates one dataset: pairs of its records are scored.
pub fn dedupe(spec: &LinkSpec, records: &Dataset) -> Result<LinkOutcome, LinkError> {
    run(spec, records, None)
}

fn run(spec: &LinkSpec, a: &Dataset, b: Option<&Dataset>) -> Result<LinkOutcome, LinkError> {
    spec.validate()?;
    let started = Instant::now();
    let linking = b.is_some();
    let other = b.unwrap_or(a);
    let mut timings = Timings::default();

    let comparisons = spec
        .comparisons
        .iter()
        .map(|c| Comparison::bind(c, a, other))
        .collect::<Result<Vec<_>, _>>()?;
    let rules = spec
        .deterministic
        .iter()
        .map(|r| BoundRule::bind(r, true, a, other))
        .chain(
            spec.blocking
                .iter()
                .map(|r| BoundRule::bind(r, false, a, other)),
        )
        .collect::<Result<Vec<_>, _>>()?;

    let clock = Instant::now();
    let features_a: Vec<Vec<Option<Feature>>> =
        comparisons.iter().map(|c| c.prepare(a, false)).collect();
    let features_b: Vec<Vec<Option<Feature>>> = match b {
        Some(b) => comparisons.iter().map(|c| c.prepare(b, true)).collect(),
        None => features_a.clone(),
    };
    let term_frequencies: Vec<Option<(Vec<f64>, Vec<f64>)>> = comparisons
        .iter()
        .enumerate()
        .map(|(c, comparison)| {
            comparison.tf_adjustment.then(|| {
                let (tf_a, tf_b) = compare::term_frequencies(
                    &features_a[c],
                    linking.then_some(features_b[c].as_slice()),
                );
                if linking {
                    (tf_a, tf_b)
                } else {
                    (tf_a.clone(), tf_a)
                }
            })
        })
        .collect();
    timings.prepare_ms = elapsed_ms(clock);

    let clock = Instant::now();
    let keys = Keys::compute(&rules, a, b);
    let candidates = blocking::candidates(&rules, &keys, linking, spec.training.max_block_pairs);
    timings.blocking_ms = elapsed_ms(clock);

    let clock = Instant::now();
    let levels = model::levels_of_pairs(&comparisons, &features_a, &features_b, &candidates.pairs);
    timings.comparing_ms = elapsed_ms(clock);

    let clock = Instant::now();
    let total_pairs = model::total_pairs(a.len(), other.len(), linking);
    let sample = model::random_pairs(
        a.len(),
        other.len(),
        linking,
        spec.training.u_sample_pairs,
        spec.training.seed,
    );
    let sample_levels = model::levels_of_pairs(&comparisons, &features_a, &features_b, &sample);
    let (u, u_counts) = model::estimate_u(&comparisons, &sample_levels);
    drop(sample_levels);
    timings.u_sampling_ms = elapsed_ms(clock);

    let clock = Instant::now();
    let smaller = if linking {
        a.len().min(other.len())
    } else {
        a.len()
    };
    let initial_prior = spec.training.initial_match_share * smaller as f64 / total_pairs.max(1.0);
    let em = model::expectation_maximisation(
        &comparisons,
        &levels,
        &u,
        initial_prior,
        total_pairs,
        spec.training.em_max_iterations,
        spec.training.em_tolerance,
    );
    timings.em_ms = elapsed_ms(clock);

    let clock = Instant::now();
    let factors = model::bayes_factors(&em.m, &u);
    let prior_log2_odds = model::log2_odds(em.prior);
    let k = comparisons.len();
    let thresholds = spec.decision;
    let deterministic_rules: Vec<(usize, &BoundRule)> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_deterministic())
        .collect();
    let references_a = a.references();
    let references_b = other.references();
    let scored: Vec<(Decision, Option<PairResult>)> = candidates
        .pairs
        .par_iter()
        .zip(levels.par_chunks(k.max(1)))
        .map(|(&(i, j), pair_levels)| {
            let (i, j) = (i as usize, j as usize);
            let mut weight = prior_log2_odds;
            let mut pair_factors = vec![0.0; k];
            for (c, &level) in pair_levels.iter().enumerate() {
                if level == NULL_LEVEL {
                    continue;
                }
                let mut factor = factors[c].get(usize::from(level)).copied().unwrap_or(0.0);
                if level == 0
                    && let Some((tf_a, tf_b)) = &term_frequencies[c]
                {
                    let tf = tf_a
                        .get(i)
                        .copied()
                        .unwrap_or(0.0)
                        .max(tf_b.get(j).copied().unwrap_or(0.0));
                    if tf > 0.0 {
                        factor = (em.m[c][0].max(1e-6) / tf.max(1e-6)).log2();
                    }
                }
                pair_factors[c] = factor;
                weight += factor;
            }
            let probability = model::probability(weight);
            let deterministic = deterministic_rules
                .iter()
                .find(|(r, _)| keys.agree(*r, i, j))
                .map(|(_, rule)| LinkMethod::Deterministic(rule.name().to_owned()));
            let (decision, method) = match deterministic {
                Some(method) => (Decision::Link, method),
                None if probability >= thresholds.accept_probability => {
                    (Decision::Link, LinkMethod::Probabilistic)
                }
                None if probability >= thresholds.review_probability => {
                    (Decision::Review, LinkMethod::Probabilistic)
                }
                None => (Decision::NonLink, LinkMethod::Probabilistic),
            };
            let kept = (decision != Decision::NonLink).then(|| PairResult {
                a: references_a.get(i).copied().unwrap_or_default(),
                b: references_b.get(j).copied().unwrap_or_default(),
                match_weight: weight,
                match_probability: probability,
                decision,
                method,
                levels: pair_levels
                    .iter()
                    .map(|&l| (l != NULL_LEVEL).then_some(l))
                    .collect(),
                log2_bayes_factors: pair_factors,
            });
            (decision, kept)
        })
        .collect();
    let mut counts = Counts {
        records_a: a.len() as u64,
        records_b: if linking { other.len() as u64 } else { 0 },
        pairs_compared: candidates.pairs.len() as u64,
        pairs_skipped_by_cap: candidates.rules.iter().map(|r| r.pairs_skipped).sum(),
        u_sample_pairs: sample.len() as u64,
        ..Counts::default()
    };
    let mut pairs = Vec::new();
    for (decision, kept) in scored {
        match decision {
            Decision::Link => counts.links += 1,
            Decision::Review => counts.reviews += 1,
            Decision::NonLink => counts.non_links += 1,
        }
        if let Some(pair) = kept {
            if matches!(pair.method, LinkMethod::Deterministic(_)) {
                counts.deterministic_links += 1;
            }
            pairs.push(pair);
        }
    }
    pairs.sort_by_key(|p| (p.a, p.b));
    timings.scoring_ms = elapsed_ms(clock);

    let model = ModelParameters {
        comparisons: comparisons
            .iter()
            .enumerate()
            .map(|(c, comparison)| ComparisonParameters {
                name: comparison.name.clone(),
                tf_adjustment: comparison.tf_adjustment,
                levels: comparison
                    .labels
                    .iter()
                    .enumerate()
                    .map(|(l, label)| LevelParameters {
                        label: label.clone(),
                        m_probability: em.m[c][l],
                        u_probability: u[c][l],
                        log2_bayes_factor: factors[c][l],
                        u_sample_pairs: u_counts[c][l],
                    })
                    .collect(),
            })
            .collect(),
        prior_match_probability: em.prior,
        prior_log2_odds,
        expected_matches: em.prior * total_pairs,
        total_pairs,
        u_sample_pairs: sample.len() as u64,
        em_patterns: em.patterns,
        em_iterations: em.iterations,
        em_converged: em.converged,
    };
    timings.total_ms = elapsed_ms(started);
    Ok(LinkOutcome {
        mode: if linking { Mode::Link } else { Mode::Dedupe },
        pairs,
        model,
        blocking: candidates.rules,
        counts,
        timings,
    })
}

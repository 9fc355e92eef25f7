//! The Fellegi–Sunter model: u-probabilities from random pairs, m-probabilities and the prior
//! by expectation–maximisation over the candidate pairs, weights as log2 Bayes factors.
//!
//! EM works on the *global* prior λ (the probability that two records drawn from all possible
//! pairs match), treating pairs outside the candidate set as non-matches. With u fixed from
//! random pairs this keeps the non-match side honest: a candidate that agrees on its blocking
//! key only is still judged against how often random pairs agree there.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::compare::{Comparison, Feature, NULL_LEVEL};
use crate::similarity::Pattern;

/// Floor of m and u, so that a level never seen among matches (or non-matches) gives a large
/// but finite weight.
const PROBABILITY_FLOOR: f64 = 1e-6;

/// Estimated parameters of one comparison level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelParameters {
    /// The level's label, e.g. `jaro_winkler>=0.92`.
    pub label: String,
    /// P(level | match).
    pub m_probability: f64,
    /// P(level | non-match), from random pairs.
    pub u_probability: f64,
    /// log2(m / u): what the level adds to a pair's match weight.
    pub log2_bayes_factor: f64,
    /// Random pairs at this level.
    pub u_sample_pairs: u64,
}

/// Estimated parameters of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonParameters {
    /// The comparison's name.
    pub name: String,
    /// Whether the exact level uses the value's own frequency instead of its u.
    pub tf_adjustment: bool,
    /// Levels, strongest first.
    pub levels: Vec<LevelParameters>,
}

/// The trained model, reported with every run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelParameters {
    /// Per comparison.
    pub comparisons: Vec<ComparisonParameters>,
    /// λ: probability that two records drawn from all possible pairs match.
    pub prior_match_probability: f64,
    /// log2(λ / (1 − λ)), the weight every pair starts from.
    pub prior_log2_odds: f64,
    /// λ times all possible pairs: the number of matches EM believes in.
    pub expected_matches: f64,
    /// All possible pairs (A×B, or n(n−1)/2 when deduplicating).
    pub total_pairs: f64,
    /// Random pairs compared for u.
    pub u_sample_pairs: u64,
    /// Distinct comparison patterns among the candidates (EM's working set).
    pub em_patterns: u64,
    /// EM iterations run.
    pub em_iterations: usize,
    /// Whether EM met its tolerance before the iteration limit.
    pub em_converged: bool,
}

/// A small deterministic generator (SplitMix64): sampling must be reproducible from the spec's
/// seed, and needs no cryptographic quality.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift, whose bias is negligible for n ≪ 2^64.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// The random pairs for u: every pair when there are no more than `wanted`, else `wanted`
/// pairs drawn with replacement.
pub(crate) fn random_pairs(
    n_a: usize,
    n_b: usize,
    linking: bool,
    wanted: usize,
    seed: u64,
) -> Vec<(u32, u32)> {
    let total = total_pairs(n_a, n_b, linking);
    let mut pairs = Vec::new();
    if total <= wanted as f64 {
        for i in 0..n_a {
            let start = if linking { 0 } else { i + 1 };
            for j in start..n_b {
                if let (Ok(i), Ok(j)) = (u32::try_from(i), u32::try_from(j)) {
                    pairs.push((i, j));
                }
            }
        }
        return pairs;
    }
    let mut rng = SplitMix64::new(seed);
    pairs.reserve(wanted);
    while pairs.len() < wanted {
        let i = rng.below(n_a as u64);
        let j = rng.below(n_b as u64);
        if !linking && i == j {
            continue;
        }
        let (i, j) = if linking || i < j { (i, j) } else { (j, i) };
        if let (Ok(i), Ok(j)) = (u32::try_from(i), u32::try_from(j)) {
            pairs.push((i, j));
        }
    }
    // Order does not change the sample, only the memory traffic: in tiles of 256 A rows (whose
    // values stay in cache) the B rows come in ascending order, each B value compared with
    // several A values in a row (see `Pattern`).
    pairs.sort_unstable_by_key(|&(i, j)| (i >> 8, j, i));
    pairs
}

/// All possible pairs.
pub(crate) fn total_pairs(n_a: usize, n_b: usize, linking: bool) -> f64 {
    if linking {
        n_a as f64 * n_b as f64
    } else {
        n_a as f64 * (n_a as f64 - 1.0).max(0.0) / 2.0
    }
}

/// The levels of each pair, `comparisons.len()` bytes per pair.
pub(crate) fn levels_of_pairs(
    comparisons: &[Comparison],
    features_a: &[Vec<Option<Feature>>],
    features_b: &[Vec<Option<Feature>>],
    pairs: &[(u32, u32)],
) -> Vec<u8> {
    let k = comparisons.len();
    let mut levels = vec![NULL_LEVEL; pairs.len() * k];
    levels
        .par_chunks_mut(k.max(1) * 4096)
        .zip(pairs.par_chunks(4096))
        .for_each(|(out, chunk)| {
            let mut patterns: Vec<Pattern> = comparisons.iter().map(|_| Pattern::new()).collect();
            for (row, &(i, j)) in chunk.iter().enumerate() {
                for ((c, comparison), pattern) in comparisons.iter().enumerate().zip(&mut patterns)
                {
                    let x = features_a[c].get(i as usize).and_then(Option::as_ref);
                    let y = features_b[c].get(j as usize).and_then(Option::as_ref);
                    out[row * k + c] =
                        comparison.level_with(x, y, Some((pattern, (c, j as usize))));
                }
            }
        });
    levels
}

/// u per comparison and level from the levels of random pairs, with one pseudo-count per level
/// so that no u is zero.
pub(crate) fn estimate_u(
    comparisons: &[Comparison],
    levels: &[u8],
) -> (Vec<Vec<f64>>, Vec<Vec<u64>>) {
    let k = comparisons.len();
    let mut counts: Vec<Vec<u64>> = comparisons
        .iter()
        .map(|c| vec![0; c.level_count()])
        .collect();
    for row in levels.chunks(k.max(1)) {
        for (c, &level) in row.iter().enumerate() {
            if let Some(slot) = counts
                .get_mut(c)
                .and_then(|v| v.get_mut(usize::from(level)))
            {
                *slot += 1;
            }
        }
    }
    let u = counts
        .iter()
        .map(|levels| {
            let total: u64 = levels.iter().sum();
            let denominator = total as f64 + levels.len() as f64;
            levels
                .iter()
                .map(|&n| ((n as f64 + 1.0) / denominator).max(PROBABILITY_FLOOR))
                .collect()
        })
        .collect();
    (u, counts)
}

/// Starting m: most matches agree exactly, fewer at each weaker level, 5% at "else".
pub(crate) fn initial_m(comparisons: &[Comparison]) -> Vec<Vec<f64>> {
    comparisons
        .iter()
        .map(|c| {
            let n = c.level_count();
            if n < 2 {
                return vec![1.0; n];
            }
            let halves: Vec<f64> = (0..n - 1).map(|l| 0.5f64.powi(l as i32)).collect();
            let sum: f64 = halves.iter().sum();
            let mut m: Vec<f64> = halves.iter().map(|h| 0.95 * h / sum).collect();
            m.push(0.05);
            m
        })
        .collect()
}

/// log2 Bayes factor per comparison and level.
pub(crate) fn bayes_factors(m: &[Vec<f64>], u: &[Vec<f64>]) -> Vec<Vec<f64>> {
    m.iter()
        .zip(u)
        .map(|(m, u)| {
            m.iter()
                .zip(u)
                .map(|(m, u)| (m.max(PROBABILITY_FLOOR) / u.max(PROBABILITY_FLOOR)).log2())
                .collect()
        })
        .collect()
}

/// Probability from a match weight (log2 odds).
pub(crate) fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

pub(crate) fn log2_odds(p: f64) -> f64 {
    (p / (1.0 - p)).log2()
}

/// What EM estimated.
pub(crate) struct EmResult {
    pub m: Vec<Vec<f64>>,
    pub prior: f64,
    pub iterations: usize,
    pub converged: bool,
    pub patterns: u64,
}

/// EM over the candidates' levels with u fixed.
pub(crate) fn expectation_maximisation(
    comparisons: &[Comparison],
    levels: &[u8],
    u: &[Vec<f64>],
    initial_prior: f64,
    total_pairs: f64,
    max_iterations: usize,
    tolerance: f64,
) -> EmResult {
    let k = comparisons.len();
    let mut counts: HashMap<&[u8], u64> = HashMap::new();
    for row in levels.chunks(k.max(1)) {
        *counts.entry(row).or_default() += 1;
    }
    // Sorted, so that float sums do not depend on hash order.
    let mut patterns: Vec<(&[u8], f64)> = counts.into_iter().map(|(p, n)| (p, n as f64)).collect();
    patterns.sort_unstable_by(|x, y| x.0.cmp(y.0));

    let mut m = initial_m(comparisons);
    let mut prior = initial_prior.clamp(1e-12, 0.5);
    let mut iterations = 0;
    let mut converged = false;
    while iterations < max_iterations {
        iterations += 1;
        let factors = bayes_factors(&m, u);
        let prior_odds = log2_odds(prior);
        let mut numerators: Vec<Vec<f64>> = m.iter().map(|l| vec![0.0; l.len()]).collect();
        let mut expected_matches = 0.0;
        for (pattern, count) in &patterns {
            let weight: f64 = prior_odds
                + pattern
                    .iter()
                    .zip(&factors)
                    .filter_map(|(&l, f)| f.get(usize::from(l)))
                    .sum::<f64>();
            let p = probability(weight) * count;
            expected_matches += p;
            for (c, &l) in pattern.iter().enumerate() {
                if let Some(slot) = numerators
                    .get_mut(c)
                    .and_then(|v| v.get_mut(usize::from(l)))
                {
                    *slot += p;
                }
            }
        }
        let mut change: f64 = 0.0;
        for (m_c, num_c) in m.iter_mut().zip(&numerators) {
            let total: f64 = num_c.iter().sum();
            if total <= 0.0 {
                continue;
            }
            for (m_l, num) in m_c.iter_mut().zip(num_c) {
                let next = (num / total).max(PROBABILITY_FLOOR);
                change = change.max((next - *m_l).abs());
                *m_l = next;
            }
        }
        let next_prior = (expected_matches / total_pairs.max(1.0)).clamp(1e-12, 0.5);
        change = change.max((next_prior - prior).abs() / prior);
        prior = next_prior;
        if change < tolerance {
            converged = true;
            break;
        }
    }
    EmResult {
        m,
        prior,
        iterations,
        converged,
        patterns: patterns.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_is_reproducible_and_in_range() {
        let a = random_pairs(1000, 700, true, 500, 7);
        let b = random_pairs(1000, 700, true, 500, 7);
        assert_eq!(a, b);
        assert_eq!(a.len(), 500);
        assert!(a.iter().all(|&(i, j)| i < 1000 && j < 700));
        let c = random_pairs(1000, 700, true, 500, 8);
        assert_ne!(a, c, "another seed, other pairs");
        let d = random_pairs(1000, 1000, false, 500, 7);
        assert!(d.iter().all(|&(i, j)| i < j));
        let key = |&(i, j): &(u32, u32)| (i >> 8, j, i);
        assert!(
            d.windows(2).all(|w| key(&w[0]) <= key(&w[1])),
            "sorted in tiles"
        );
        // Few records: every pair, once.
        let all = random_pairs(5, 5, false, 500, 7);
        assert_eq!(all.len(), 10);
        assert_eq!(random_pairs(3, 4, true, 500, 7).len(), 12);
    }

    #[test]
    fn em_recovers_the_parameters_it_was_simulated_with() {
        use crate::data::Dataset;
        use crate::spec::{ComparisonSpec, Method};
        let ds = Dataset::new(["x", "y"]);
        let bind = |column: &str, method: Method| {
            let spec = ComparisonSpec {
                name: column.into(),
                columns: vec![column.into()],
                method,
                tf_adjustment: false,
            };
            Comparison::bind(&spec, &ds, &ds).unwrap()
        };
        let comparisons = vec![
            bind("x", Method::Exact),
            bind(
                "y",
                Method::JaroWinkler {
                    thresholds: vec![0.9, 0.7],
                },
            ),
            bind("x", Method::Exact),
            bind("x", Method::Exact),
        ];
        let m_true = [
            vec![0.9, 0.1],
            vec![0.6, 0.25, 0.1, 0.05],
            vec![0.85, 0.15],
            vec![0.7, 0.3],
        ];
        let u_true = [
            vec![0.02, 0.98],
            vec![0.01, 0.04, 0.15, 0.8],
            vec![0.05, 0.95],
            vec![0.1, 0.9],
        ];
        let (pairs, matches) = (200_000usize, 2_000usize);
        let mut rng = SplitMix64::new(1);
        let mut draw = |probabilities: &[f64]| {
            let r = rng.next_u64() as f64 / u64::MAX as f64;
            let mut acc = 0.0;
            for (l, p) in probabilities.iter().enumerate() {
                acc += p;
                if r < acc {
                    return l as u8;
                }
            }
            (probabilities.len() - 1) as u8
        };
        let mut levels = Vec::with_capacity(pairs * comparisons.len());
        for i in 0..pairs {
            let side = if i < matches { &m_true } else { &u_true };
            for probabilities in side {
                levels.push(draw(probabilities));
            }
        }
        let u: Vec<Vec<f64>> = u_true.to_vec();
        let result =
            expectation_maximisation(&comparisons, &levels, &u, 0.05, pairs as f64, 500, 1e-6);
        assert!(
            result.converged,
            "{} iterations, m {:?}, prior {}",
            result.iterations, result.m, result.prior
        );
        let expected_prior = matches as f64 / pairs as f64;
        assert!(
            (result.prior - expected_prior).abs() / expected_prior < 0.15,
            "prior {} vs {expected_prior}",
            result.prior
        );
        for (estimated, truth) in result.m.iter().zip(&m_true) {
            for (e, t) in estimated.iter().zip(truth) {
                assert!((e - t).abs() < 0.05, "m {estimated:?} vs {truth:?}");
            }
        }
    }

    #[test]
    fn probability_and_odds_are_inverse() {
        for p in [0.001, 0.25, 0.5, 0.99] {
            assert!((probability(log2_odds(p)) - p).abs() < 1e-12);
        }
        assert!(probability(40.0) > 0.999_999);
    }
}

//! Clusters: the connected components of the accepted links (union–find), each listing the
//! links that hold it together.

use std::collections::HashMap;

use serde::Serialize;

use crate::engine::{Decision, LinkMethod, LinkOutcome, Mode};

/// Which dataset a clustered record comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Dataset A (the only one when deduplicating).
    A,
    /// Dataset B.
    B,
}

/// A record in a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RecordRef {
    /// Its dataset.
    pub side: Side,
    /// The caller's reference.
    pub reference: u64,
}

/// A link inside a cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterLink {
    /// One end.
    pub a: RecordRef,
    /// The other end.
    pub b: RecordRef,
    /// How the link was made.
    pub method: LinkMethod,
    /// Its match weight.
    pub match_weight: f64,
    /// Its match probability.
    pub match_probability: f64,
}

/// One entity: records joined by accepted links, directly or through others.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// Sorted members.
    pub members: Vec<RecordRef>,
    /// The links inside the cluster.
    pub links: Vec<ClusterLink>,
}

struct UnionFind {
    parent: Vec<usize>,
    rank: Vec<u8>,
}

impl UnionFind {
    fn new() -> Self {
        UnionFind {
            parent: Vec::new(),
            rank: Vec::new(),
        }
    }

    fn add(&mut self) -> usize {
        self.parent.push(self.parent.len());
        self.rank.push(0);
        self.parent.len() - 1
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            // Path halving keeps the trees flat without recursion.
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, x: usize, y: usize) {
        let (x, y) = (self.find(x), self.find(y));
        if x == y {
            return;
        }
        match self.rank[x].cmp(&self.rank[y]) {
            std::cmp::Ordering::Less => self.parent[x] = y,
            std::cmp::Ordering::Greater => self.parent[y] = x,
            std::cmp::Ordering::Equal => {
                self.parent[y] = x;
                self.rank[x] = self.rank[x].saturating_add(1);
            }
        }
    }
}

impl LinkOutcome {
    /// The clusters formed by the accepted links, largest first (ties by first member). A record
    /// without links is an entity of its own and is not listed.
    pub fn clusters(&self) -> Vec<Cluster> {
        let side_b = match self.mode {
            Mode::Link => Side::B,
            Mode::Dedupe => Side::A,
        };
        let mut index: HashMap<RecordRef, usize> = HashMap::new();
        let mut records: Vec<RecordRef> = Vec::new();
        let mut sets = UnionFind::new();
        let mut node = |r: RecordRef, sets: &mut UnionFind| {
            *index.entry(r).or_insert_with(|| {
                records.push(r);
                sets.add()
            })
        };
        let mut links = Vec::new();
        for pair in self.pairs.iter().filter(|p| p.decision == Decision::Link) {
            let a = RecordRef {
                side: Side::A,
                reference: pair.a,
            };
            let b = RecordRef {
                side: side_b,
                reference: pair.b,
            };
            let (x, y) = (node(a, &mut sets), node(b, &mut sets));
            sets.union(x, y);
            links.push((
                x,
                ClusterLink {
                    a,
                    b,
                    method: pair.method.clone(),
                    match_weight: pair.match_weight,
                    match_probability: pair.match_probability,
                },
            ));
        }
        let mut by_root: HashMap<usize, Cluster> = HashMap::new();
        for (node, record) in records.iter().enumerate() {
            let root = sets.find(node);
            by_root
                .entry(root)
                .or_insert_with(|| Cluster {
                    members: Vec::new(),
                    links: Vec::new(),
                })
                .members
                .push(*record);
        }
        for (node, link) in links {
            let root = sets.find(node);
            if let Some(cluster) = by_root.get_mut(&root) {
                cluster.links.push(link);
            }
        }
        let mut clusters: Vec<Cluster> = by_root.into_values().collect();
        for cluster in &mut clusters {
            cluster.members.sort_unstable();
        }
        clusters.sort_by(|x, y| {
            y.members
                .len()
                .cmp(&x.members.len())
                .then_with(|| x.members.first().cmp(&y.members.first()))
        });
        clusters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Counts, PairResult, Timings};
    use crate::model::ModelParameters;

    fn pair(a: u64, b: u64, decision: Decision) -> PairResult {
        PairResult {
            a,
            b,
            match_weight: 10.0,
            match_probability: 0.999,
            decision,
            method: LinkMethod::Probabilistic,
            levels: vec![],
            log2_bayes_factors: vec![],
        }
    }

    fn outcome(mode: Mode, pairs: Vec<PairResult>) -> LinkOutcome {
        LinkOutcome {
            mode,
            pairs,
            model: ModelParameters {
                comparisons: vec![],
                prior_match_probability: 0.01,
                prior_log2_odds: -6.6,
                expected_matches: 1.0,
                total_pairs: 100.0,
                u_sample_pairs: 0,
                em_patterns: 0,
                em_iterations: 0,
                em_converged: true,
            },
            blocking: vec![],
            counts: Counts::default(),
            timings: Timings::default(),
        }
    }

    #[test]
    fn transitive_links_form_one_cluster() {
        let o = outcome(
            Mode::Dedupe,
            vec![
                pair(1, 2, Decision::Link),
                pair(2, 3, Decision::Link),
                pair(3, 4, Decision::Review),
                pair(5, 6, Decision::Link),
                pair(7, 8, Decision::Link),
                pair(8, 5, Decision::Link),
            ],
        );
        let clusters = o.clusters();
        assert_eq!(clusters.len(), 2);
        let refs = |c: &Cluster| c.members.iter().map(|r| r.reference).collect::<Vec<_>>();
        assert_eq!(refs(&clusters[0]), vec![5, 6, 7, 8], "largest first");
        assert_eq!(
            refs(&clusters[1]),
            vec![1, 2, 3],
            "review (3,4) does not join"
        );
        assert_eq!(clusters[0].links.len(), 3);
        assert_eq!(clusters[1].links.len(), 2);
    }

    #[test]
    fn linking_keeps_sides_apart() {
        // A's record 1 and B's record 1 are different records.
        let o = outcome(
            Mode::Link,
            vec![pair(1, 1, Decision::Link), pair(2, 1, Decision::Link)],
        );
        let clusters = o.clusters();
        assert_eq!(clusters.len(), 1);
        assert_eq!(
            clusters[0].members,
            vec![
                RecordRef {
                    side: Side::A,
                    reference: 1
                },
                RecordRef {
                    side: Side::A,
                    reference: 2
                },
                RecordRef {
                    side: Side::B,
                    reference: 1
                },
            ]
        );
    }
}

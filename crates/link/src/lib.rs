//! miaopi-link: probabilistic record linkage (Fellegi–Sunter) for the miaopi data platform.
//!
//! A [`LinkSpec`] (TOML or built in code) names the comparisons, each turning a pair of values
//! into a discrete level (exact … else, or null when a value is missing), and the blocking
//! rules that choose the candidate pairs. u-probabilities come from random pairs, m and the
//! prior from EM over the candidates; a pair's match weight is the prior log2 odds plus each
//! comparison's log2 Bayes factor, and its probability decides link / review (转人工) /
//! non-link. Every kept pair carries its levels and Bayes factors, so a link can be explained.
//!
//! * [`link`] links two [`Dataset`]s, [`dedupe`] deduplicates one; [`LinkOutcome::clusters`]
//!   groups the accepted links into entities (connected components).
//! * [`person_spec`] is the spec for people in Chinese government records: 姓名 (pinyin-aware),
//!   性别, 出生日期, 身份证号 (GB 11643) and 地址码.
//! * [`generic::run`] links two CSV files with a spec file (`miaopi link-files`).
//!
//! The format and the model are described in `docs/linking.md`.

mod blocking;
mod cluster;
mod compare;
mod data;
mod engine;
mod error;
pub mod generic;
mod model;
pub mod person;
mod similarity;
mod spec;
mod text;

pub use blocking::RuleReport;
pub use cluster::{Cluster, ClusterLink, RecordRef, Side};
pub use data::Dataset;
pub use engine::{
    Counts, Decision, Explanation, ExplanationItem, LinkMethod, LinkOutcome, Mode, PairResult,
    Timings, dedupe, link,
};
pub use error::LinkError;
pub use generic::GenericSummary;
pub use model::{ComparisonParameters, LevelParameters, ModelParameters};
pub use person::person_spec;
pub use spec::{
    BlockingRule, ComparisonSpec, DecisionThresholds, IdColumns, KeyPart, LinkSpec, Method,
    Training, Transform,
};
pub use text::{one_character_dropped, order_swapped};

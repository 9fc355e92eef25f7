//! miaopi-entity: entity resolution over the lake (关联融合).
//!
//! Every `dwd` record that names a person (公民身份号码 or 证件号) or a legal person
//! (统一社会信用代码) is linked to one entity, in two stages: deterministic on validated keys
//! against the registers (户籍人口, 居住登记 for people; 企业登记 for legal persons), then —
//! for records whose key is missing, invalid, or suspect — Fellegi–Sunter scoring
//! (`miaopi-link`) against the registered entities, with candidates from blocking and from
//! one-edit repairs of the damaged key. Uncertain records go to a review list, never merged.
//!
//! From the links it derives golden records, the six base databases (`base.*`), the knowledge
//! graph (`graph.edges`) and the entity index (redb, `miaopi-index`). See `docs/linking.md`.

pub mod datamodel;
pub mod error;
pub mod graph;
pub mod ids;
pub mod profiles;
pub mod resolve;
pub mod roles;
pub mod run;
pub mod scan;

pub use error::EntityError;
pub use ids::EntityIds;
pub use roles::{PartyRole, RoleKind, roles_of};
pub use run::{LinkOptions, LinkReport, link_home};

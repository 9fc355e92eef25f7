//! 政务信息资源目录: the resource catalogue (GB/T 21063).
//!
//! A *pack* (`packs/<name>/`, format in `docs/pack-format.md`) holds a district's catalogue as
//! plain files: its units (提供方), resources (信息资源) with their fields (信息项), code tables
//! (代码表) and regions (区划). [`Pack::load`] reads and checks a pack, reporting every problem
//! with its file, line, resource and field; the rest of the platform (generator, ingest, lake,
//! sharing) takes column names, types, sensitivity and share rules from the loaded [`Pack`].
//!
//! ```no_run
//! use miaopi_catalog::Pack;
//! match Pack::load("packs/futian".as_ref()) {
//!     Ok(pack) => print!("{}", pack.summary()),
//!     Err(errors) => {
//!         for e in &errors {
//!             eprintln!("{e}");
//!         }
//!     }
//! }
//! ```

mod error;
mod load;
mod locate;
mod pack;
mod summary;
mod types;

pub use error::{PackError, PackErrors};
pub use pack::{
    CodeEntry, CodeTable, Community, District, Field, Pack, PackMeta, Regions, Resource, Street,
    Unit,
};
pub use summary::{PackSummary, UnitResources};
pub use types::{
    BaseClass, Classification, Convention, DataType, EntityRole, FileFormat, Grade, MeasureUnit,
    OpenType, Sensitivity, ShareMethod, ShareType, TextEncoding, UpdateCycle,
};

/// Names of the code tables derived from `regions.toml` (`street`, `community`); a pack may
/// not define them as files.
pub const DERIVED_CODE_TABLES: [&str; 2] = load::DERIVED_TABLES;

//! 实体索引: the entity index of the miaopi data platform.
//!
//! One key — a resident ID number (公民身份号码), a unified social credit code
//! (统一社会信用代码), an address code or a house id — finds the entity's whole profile in
//! microseconds: golden values, every fact with its provenance (resource, unit, batch, record,
//! ingest time, sensitivity), graph edges and link evidence. 一证通办: one ID, every service.
//!
//! The linker fills the index after linking ([`IndexWriter::rebuild`] for a whole district,
//! [`IndexWriter::put_profile`] / [`IndexWriter::merge_facts`] for increments); the decision
//! engine and the APIs read it ([`EntityIndex::get_by_key`], [`EntityIndex::reader`]).
//!
//! * [`model`] — the profile: [`EntityKind`], [`EntityId`], [`Key`], [`Fact`], [`Edge`],
//!   [`GoldenValue`], [`Profile`].
//! * [`codec`] — the versioned binary encoding of a profile.
//! * [`store`] — the redb tables, [`EntityIndex`], [`IndexReader`], [`IndexWriter`].
//! * [`view`] — [`ProfileView`], a zero-copy view of a stored profile for hot paths.
//! * [`mask`] — 脱敏 for display: [`Profile::masked`] per STANDARDS.md.
//!
//! See `docs/entity-index.md` for the design and the measured figures.

pub mod codec;
pub mod mask;
pub mod model;
pub mod store;
#[cfg(test)]
mod testing;
pub mod view;

pub use codec::{DecodeError, FORMAT_VERSION, decode_profile, encode_profile};
pub use mask::{FieldKind, WITHHELD, mask_value};
pub use model::{
    Conflict, Edge, EntityId, EntityKind, Fact, GoldenValue, Key, KeyKind, Link, Profile,
    SourceLink, relation,
};
pub use store::{
    BatchRemoval, EntityIndex, IndexError, IndexOptions, IndexReader, IndexStats, IndexWriter,
    LAYOUT_VERSION, PutOutcome, RebuildReport, StoredProfile,
};
pub use view::{EdgeRef, FactRef, GoldenRef, LinkRef, ProfileView};

//! The index on redb: tables, the writer and the readers.
//!
//! Tables:
//!
//! * `keys`: key bytes (kind tag + normalised value) → entity id. One entity has many keys; a
//!   key has one entity, which [`IndexWriter::put_profile`] enforces.
//! * `entities`: entity id → encoded profile ([`crate::codec`]).
//! * `counters`: entities per kind and the total encoded profile bytes, kept by every write so
//!   [`EntityIndex::stats`] costs nothing at any size.
//! * `meta`: `layout_version`, checked on open.
//!
//! Consistency is redb's: a write transaction is atomic and, committed with the default
//! durability, survives a crash (copy-on-write B-trees, checksummed commit slots); readers see
//! the snapshot taken when their read transaction began, and never block or are blocked by the
//! single writer (MVCC).

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use redb::{
    AccessGuard, Database, ReadOnlyTable, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    Table, TableDefinition, TableHandle, WriteTransaction,
};

use crate::codec::{self, DecodeError, decode_head, decode_profile, encode_profile_into};
use crate::model::{EntityId, EntityKind, Fact, Key, Profile};
use crate::view::ProfileView;

/// The version of the table layout; a file with another is refused on open.
pub const LAYOUT_VERSION: u64 = 1;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const KEYS: TableDefinition<&[u8], &str> = TableDefinition::new("keys");
const ENTITIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entities");
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

const LAYOUT_KEY: &str = "layout_version";
const PROFILE_BYTES_KEY: &str = "profile_bytes";

/// Errors of the entity index.
#[derive(thiserror::Error, Debug)]
pub enum IndexError {
    #[error("{path}: cannot open the index: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: redb::DatabaseError,
    },
    #[error("{path}: a redb file but not an entity index (no `meta` table)")]
    NotAnIndex { path: PathBuf },
    #[error("{path}: index layout version {found}, this build uses {supported}: rebuild the index")]
    UnsupportedLayout {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
    #[error("stored profile of {entity_id}: {source}")]
    Decode {
        entity_id: String,
        #[source]
        source: DecodeError,
    },
    #[error("key {key} belongs to {owner}; remove it there before giving it to {entity_id}")]
    KeyOwnedByOther {
        key: Key,
        owner: EntityId,
        entity_id: EntityId,
    },
    #[error("key {key} points to {entity_id}, which has no profile")]
    DanglingKey { key: Key, entity_id: EntityId },
    #[error("no entity {0} in the index")]
    UnknownEntity(EntityId),
    #[error("entity {0} appears twice in a rebuild")]
    DuplicateEntity(EntityId),
    #[error("profile {entity_id}: {reason}")]
    InvalidProfile { entity_id: EntityId, reason: String },
    #[error(transparent)]
    Storage(#[from] redb::Error),
}

macro_rules! storage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for IndexError {
            fn from(e: $t) -> IndexError {
                IndexError::Storage(e.into())
            }
        }
    )*};
}
storage_from!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError
);

pub type Result<T, E = IndexError> = std::result::Result<T, E>;

fn decode_error(entity_id: &str) -> impl FnOnce(DecodeError) -> IndexError + '_ {
    move |source| IndexError::Decode {
        entity_id: entity_id.to_string(),
        source,
    }
}

/// Size and shape of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStats {
    pub entities: u64,
    pub entities_by_kind: BTreeMap<EntityKind, u64>,
    pub keys: u64,
    /// Sum of the encoded profiles' lengths.
    pub profile_bytes: u64,
    /// The file on disk (B-tree pages, free pages and redb's metadata included).
    pub file_bytes: u64,
}

/// What a [`IndexWriter::remove_batch`] took out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchRemoval {
    pub profiles: u64,
    pub facts: u64,
    pub edges: u64,
    pub links: u64,
    pub golden: u64,
}

/// What a rebuild wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildReport {
    pub entities: u64,
    pub keys: u64,
    pub profile_bytes: u64,
}

/// What [`IndexWriter::put_profile_if_changed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The profile was new or its encoded bytes differed: written, keys updated.
    Written,
    /// The stored bytes were identical: nothing written (kind and keys are in the bytes, so
    /// the key table is already right).
    Unchanged,
}

/// How to open the index file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexOptions {
    /// redb's page cache. Look-ups that miss it read the file (through the OS page cache):
    /// a few microseconds each. The default is redb's, 1 GiB; about the file's size keeps
    /// every page in memory.
    pub cache_bytes: usize,
}

impl Default for IndexOptions {
    fn default() -> IndexOptions {
        IndexOptions {
            cache_bytes: 1 << 30,
        }
    }
}

/// 实体索引: the entity index file.
///
/// Share one `EntityIndex` between threads (`Arc`): any number of readers and one writer at a
/// time. One process opens a file at a time (redb's exclusive-writer mode).
pub struct EntityIndex {
    db: Database,
    path: PathBuf,
}

impl EntityIndex {
    /// Creates an index at `path`, or opens the index already there.
    pub fn create(path: impl AsRef<Path>) -> Result<EntityIndex> {
        EntityIndex::create_with(path, &IndexOptions::default())
    }

    /// [`create`](Self::create) with options.
    pub fn create_with(path: impl AsRef<Path>, options: &IndexOptions) -> Result<EntityIndex> {
        let path = path.as_ref().to_path_buf();
        let db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create(&path)
            .map_err(|source| IndexError::Open {
                path: path.clone(),
                source,
            })?;
        let txn = db.begin_write()?;
        let names: Vec<String> = txn.list_tables()?.map(|t| t.name().to_string()).collect();
        if names.iter().any(|n| n == META.name()) {
            txn.abort()?;
        } else if !names.is_empty() {
            return Err(IndexError::NotAnIndex { path });
        } else {
            txn.open_table(META)?.insert(LAYOUT_KEY, LAYOUT_VERSION)?;
            txn.open_table(KEYS)?;
            txn.open_table(ENTITIES)?;
            txn.open_table(COUNTERS)?;
            txn.commit()?;
        }
        let index = EntityIndex { db, path };
        index.check_layout()?;
        Ok(index)
    }

    /// Opens an existing index; a missing file, another redb file or another layout version is
    /// an error.
    pub fn open(path: impl AsRef<Path>) -> Result<EntityIndex> {
        EntityIndex::open_with(path, &IndexOptions::default())
    }

    /// [`open`](Self::open) with options.
    pub fn open_with(path: impl AsRef<Path>, options: &IndexOptions) -> Result<EntityIndex> {
        let path = path.as_ref().to_path_buf();
        let db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .open(&path)
            .map_err(|source| IndexError::Open {
                path: path.clone(),
                source,
            })?;
        let index = EntityIndex { db, path };
        index.check_layout()?;
        Ok(index)
    }

    fn check_layout(&self) -> Result<()> {
        let txn = self.db.begin_read()?;
        let meta = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => {
                return Err(IndexError::NotAnIndex {
                    path: self.path.clone(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let found = meta.get(LAYOUT_KEY)?.map(|v| v.value());
        match found {
            Some(LAYOUT_VERSION) => Ok(()),
            Some(found) => Err(IndexError::UnsupportedLayout {
                path: self.path.clone(),
                found,
                supported: LAYOUT_VERSION,
            }),
            None => Err(IndexError::NotAnIndex {
                path: self.path.clone(),
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Begins the (single) write transaction; a second writer waits for the first to end.
    pub fn writer(&self) -> Result<IndexWriter> {
        Ok(IndexWriter {
            txn: self.db.begin_write()?,
        })
    }

    /// A consistent snapshot for many look-ups: tables are opened once, and every look-up sees
    /// the index as committed when the reader was made.
    pub fn reader(&self) -> Result<IndexReader> {
        let txn = self.db.begin_read()?;
        Ok(IndexReader {
            keys: txn.open_table(KEYS)?,
            entities: txn.open_table(ENTITIES)?,
        })
    }

    /// 一证通办: the whole profile behind one key, as last committed.
    pub fn get_by_key(&self, key: &Key) -> Result<Option<Profile>> {
        self.reader()?.get_by_key(key)
    }

    /// The profile of an entity, as last committed.
    pub fn get(&self, entity_id: &EntityId) -> Result<Option<Profile>> {
        self.reader()?.get(entity_id)
    }

    /// The entity a key belongs to, without decoding its profile.
    pub fn entity_for_key(&self, key: &Key) -> Result<Option<EntityId>> {
        self.reader()?.entity_for_key(key)
    }

    /// Counts and sizes, from counters kept by the writers (constant time).
    pub fn stats(&self) -> Result<IndexStats> {
        let txn = self.db.begin_read()?;
        let counters = txn.open_table(COUNTERS)?;
        let mut entities_by_kind = BTreeMap::new();
        for kind in EntityKind::ALL {
            let n = counters.get(kind.code())?.map_or(0, |v| v.value());
            entities_by_kind.insert(kind, n);
        }
        let profile_bytes = counters.get(PROFILE_BYTES_KEY)?.map_or(0, |v| v.value());
        let file_bytes = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        Ok(IndexStats {
            entities: txn.open_table(ENTITIES)?.len()?,
            entities_by_kind,
            keys: txn.open_table(KEYS)?.len()?,
            profile_bytes,
            file_bytes,
        })
    }

    /// Clears the index and writes `profiles` in one transaction, committed.
    pub fn rebuild<P: Borrow<Profile>>(
        &self,
        profiles: impl IntoIterator<Item = P>,
    ) -> Result<RebuildReport> {
        let mut w = self.writer()?;
        let report = w.rebuild(profiles)?;
        w.commit()?;
        Ok(report)
    }
}

/// A read snapshot (see [`EntityIndex::reader`]). Dropping it releases the snapshot; hold it
/// for one request, not forever, or the file cannot reuse pages freed since.
pub struct IndexReader {
    keys: ReadOnlyTable<&'static [u8], &'static str>,
    entities: ReadOnlyTable<&'static str, &'static [u8]>,
}

impl IndexReader {
    pub fn entity_for_key(&self, key: &Key) -> Result<Option<EntityId>> {
        let bytes = key.to_bytes();
        Ok(self
            .keys
            .get(bytes.as_slice())?
            .map(|id| EntityId(id.value().to_string())))
    }

    pub fn get_by_key(&self, key: &Key) -> Result<Option<Profile>> {
        let bytes = key.to_bytes();
        let Some(id) = self.keys.get(bytes.as_slice())? else {
            return Ok(None);
        };
        let id = id.value();
        match self.entities.get(id)? {
            Some(v) => decode_profile(v.value())
                .map(Some)
                .map_err(decode_error(id)),
            None => Err(IndexError::DanglingKey {
                key: key.clone(),
                entity_id: EntityId(id.to_string()),
            }),
        }
    }

    pub fn get(&self, entity_id: &EntityId) -> Result<Option<Profile>> {
        let id = entity_id.as_str();
        match self.entities.get(id)? {
            Some(v) => decode_profile(v.value())
                .map(Some)
                .map_err(decode_error(id)),
            None => Ok(None),
        }
    }

    /// The stored profile behind a key, not yet decoded: read it through
    /// [`StoredProfile::view`] without allocating its strings. The hot path of a decision.
    pub fn stored_by_key(&self, key: &Key) -> Result<Option<StoredProfile>> {
        let bytes = key.to_bytes();
        let Some(id) = self.keys.get(bytes.as_slice())? else {
            return Ok(None);
        };
        let id = id.value();
        match self.entities.get(id)? {
            Some(guard) => Ok(Some(StoredProfile { guard })),
            None => Err(IndexError::DanglingKey {
                key: key.clone(),
                entity_id: EntityId(id.to_string()),
            }),
        }
    }

    /// Calls `f` with every entity id and its stored bytes, in id order; returns the count.
    /// For audits and tests (comparing an incrementally updated index with a rebuild).
    pub fn for_each_stored(&self, mut f: impl FnMut(&str, &[u8])) -> Result<u64> {
        let mut n = 0u64;
        for item in self.entities.iter()? {
            let (id, bytes) = item?;
            f(id.value(), bytes.value());
            n += 1;
        }
        Ok(n)
    }

    /// Calls `f` with every key (as stored: kind tag byte, then the normalised value) and the
    /// entity id it belongs to, in key order; returns the count.
    pub fn for_each_key(&self, mut f: impl FnMut(&[u8], &str)) -> Result<u64> {
        let mut n = 0u64;
        for item in self.keys.iter()? {
            let (key, id) = item?;
            f(key.value(), id.value());
            n += 1;
        }
        Ok(n)
    }

    /// The stored profile of an entity, not yet decoded.
    pub fn stored(&self, entity_id: &EntityId) -> Result<Option<StoredProfile>> {
        Ok(self
            .entities
            .get(entity_id.as_str())?
            .map(|guard| StoredProfile { guard }))
    }
}

/// A profile's bytes as stored, held in redb's page cache (and its snapshot kept alive) until
/// dropped.
pub struct StoredProfile {
    guard: AccessGuard<'static, &'static [u8]>,
}

impl StoredProfile {
    pub fn bytes(&self) -> &[u8] {
        self.guard.value()
    }

    /// A borrowed view: strings point into the stored bytes.
    pub fn view(&self) -> Result<ProfileView<'_>, DecodeError> {
        ProfileView::parse(self.guard.value())
    }

    pub fn decode(&self) -> Result<Profile, DecodeError> {
        decode_profile(self.guard.value())
    }
}

/// A write transaction on the index. Nothing is visible to readers until [`commit`]; dropping
/// the writer without committing discards every change.
///
/// A method that returns an error may have applied part of its change to the transaction:
/// abort (drop) the writer rather than commit after an error.
///
/// [`commit`]: IndexWriter::commit
pub struct IndexWriter {
    txn: WriteTransaction,
}

impl IndexWriter {
    /// Writes a profile, replacing any earlier one of the same entity: keys it no longer has
    /// are removed from the key table. Fails, changing nothing, if one of its keys belongs to
    /// another entity: re-linking moves a key by first rewriting or removing its old owner.
    pub fn put_profile(&mut self, profile: &Profile) -> Result<()> {
        let mut t = Tables::open(&self.txn)?;
        t.put(profile)?;
        t.finish(&self.txn)
    }

    /// [`put_profile`](Self::put_profile) for many profiles, with the tables opened once.
    pub fn put_profiles<P: Borrow<Profile>>(
        &mut self,
        profiles: impl IntoIterator<Item = P>,
    ) -> Result<u64> {
        let mut t = Tables::open(&self.txn)?;
        let mut n = 0;
        for p in profiles {
            t.put(p.borrow())?;
            n += 1;
        }
        t.finish(&self.txn)?;
        Ok(n)
    }

    /// Writes a profile only if its encoding differs from the stored one (or there is none):
    /// the incremental update after a re-link rewrites only what changed, so redb copies only
    /// the pages of changed profiles. Key rules as [`put_profile`](Self::put_profile).
    pub fn put_profile_if_changed(&mut self, profile: &Profile) -> Result<PutOutcome> {
        let mut t = Tables::open(&self.txn)?;
        let outcome = t.put_if_changed(profile)?;
        t.finish(&self.txn)?;
        Ok(outcome)
    }

    /// [`put_profile_if_changed`](Self::put_profile_if_changed) for many profiles, with the
    /// tables opened once; returns (written, unchanged).
    pub fn put_profiles_if_changed<P: Borrow<Profile>>(
        &mut self,
        profiles: impl IntoIterator<Item = P>,
    ) -> Result<(u64, u64)> {
        let mut t = Tables::open(&self.txn)?;
        let (mut written, mut unchanged) = (0u64, 0u64);
        for p in profiles {
            match t.put_if_changed(p.borrow())? {
                PutOutcome::Written => written += 1,
                PutOutcome::Unchanged => unchanged += 1,
            }
        }
        t.finish(&self.txn)?;
        Ok((written, unchanged))
    }

    /// Removes every entity `keep` refuses, with its keys (a key is removed only while it
    /// still points to the removed entity); returns how many were removed. Scans the entity
    /// ids once: the last step of an incremental update, taking out entities that vanished
    /// (merged into another, or no longer in the lake).
    pub fn retain_entities(&mut self, mut keep: impl FnMut(&str) -> bool) -> Result<u64> {
        let mut t = Tables::open(&self.txn)?;
        let mut gone: Vec<String> = Vec::new();
        for item in t.entities.iter()? {
            let (id, _) = item?;
            if !keep(id.value()) {
                gone.push(id.value().to_string());
            }
        }
        let mut removed = 0u64;
        for id in &gone {
            removed += u64::from(t.remove(id)?);
        }
        assert_eq!(removed, gone.len() as u64, "every listed entity existed");
        t.finish(&self.txn)?;
        Ok(removed)
    }

    /// Empties the index (keys, profiles, counters) within this transaction.
    pub fn clear(&mut self) -> Result<()> {
        self.txn.delete_table(KEYS)?;
        self.txn.delete_table(ENTITIES)?;
        self.txn.delete_table(COUNTERS)?;
        // Recreated at once, so readers of the committed result always find the tables.
        self.txn.open_table(KEYS)?;
        self.txn.open_table(ENTITIES)?;
        self.txn.open_table(COUNTERS)?;
        Ok(())
    }

    /// The profile as this transaction sees it (its own writes included).
    pub fn get(&self, entity_id: &EntityId) -> Result<Option<Profile>> {
        let entities = self.txn.open_table(ENTITIES)?;
        let id = entity_id.as_str();
        let found = entities.get(id)?;
        match found {
            Some(v) => decode_profile(v.value())
                .map(Some)
                .map_err(decode_error(id)),
            None => Ok(None),
        }
    }

    /// Adds the facts of a new ingest to an entity, skipping any fact already present (same
    /// resource, batch, record and field), so re-running a batch changes nothing. Returns how
    /// many were added. Golden values stay as they are: survivorship is the linker's, which
    /// rewrites them with [`put_profile`](Self::put_profile).
    pub fn merge_facts(&mut self, entity_id: &EntityId, facts: &[Fact]) -> Result<usize> {
        for f in facts {
            check_fact(entity_id, f)?;
        }
        let mut t = Tables::open(&self.txn)?;
        let id = entity_id.as_str();
        let mut profile = match t.entities.get(id)? {
            Some(v) => decode_profile(v.value()).map_err(decode_error(id))?,
            None => return Err(IndexError::UnknownEntity(entity_id.clone())),
        };
        let mut seen: HashSet<(String, String, u64, String)> =
            profile.facts.iter().map(owned_identity).collect();
        let before = profile.facts.len();
        for f in facts {
            if seen.insert(owned_identity(f)) {
                profile.facts.push(f.clone());
            }
        }
        let added = profile.facts.len() - before;
        if added > 0 {
            t.write_profile(&profile)?;
        }
        t.finish(&self.txn)?;
        Ok(added)
    }

    /// Removes an entity and its keys; returns whether it existed.
    pub fn remove_entity(&mut self, entity_id: &EntityId) -> Result<bool> {
        let mut t = Tables::open(&self.txn)?;
        let removed = t.remove(entity_id.as_str())?;
        t.finish(&self.txn)?;
        Ok(removed)
    }

    /// Takes a retracted ingest batch out of every profile: its facts, edges and links, and
    /// golden values (and conflicting values) that only its facts backed. Entities and keys
    /// stay. Scans every profile, skipping by a byte search those that cannot name the batch:
    /// seconds for a district, meant for the rare retraction, not routine writes.
    pub fn remove_batch(&mut self, batch_id: &str) -> Result<BatchRemoval> {
        let mut t = Tables::open(&self.txn)?;
        let mut report = BatchRemoval::default();
        let mut changed = Vec::new();
        let needle = codec::stored_form(batch_id);
        for item in t.entities.iter()? {
            let (id, bytes) = item?;
            let bytes = bytes.value();
            if needle.is_empty() || !contains(bytes, &needle) {
                continue;
            }
            let mut p = decode_profile(bytes).map_err(decode_error(id.value()))?;
            if strip_batch(&mut p, batch_id, &mut report) {
                changed.push(p);
            }
        }
        for p in &changed {
            t.write_profile(p)?;
        }
        report.profiles = changed.len() as u64;
        t.finish(&self.txn)?;
        Ok(report)
    }

    /// Empties the index and writes `profiles`: the fast path for loading a whole district
    /// after linking. Keys shared by two profiles and repeated entity ids are errors.
    pub fn rebuild<P: Borrow<Profile>>(
        &mut self,
        profiles: impl IntoIterator<Item = P>,
    ) -> Result<RebuildReport> {
        self.txn.delete_table(KEYS)?;
        self.txn.delete_table(ENTITIES)?;
        self.txn.delete_table(COUNTERS)?;
        let mut t = Tables::open(&self.txn)?;
        let mut report = RebuildReport::default();
        let mut key_buf = Vec::new();
        for p in profiles {
            let p = p.borrow();
            check_profile(p)?;
            let id = p.entity_id.as_str();
            t.buf.clear();
            encode_profile_into(p, &mut t.buf);
            if t.entities.insert(id, t.buf.as_slice())?.is_some() {
                return Err(IndexError::DuplicateEntity(p.entity_id.clone()));
            }
            t.count(p.kind, 1, t.buf.len() as i64);
            report.profile_bytes += t.buf.len() as u64;
            for key in &p.keys {
                key_buf.clear();
                key_buf.push(key.kind().tag());
                key_buf.extend_from_slice(key.value().as_bytes());
                let previous = t.keys.insert(key_buf.as_slice(), id)?;
                match previous.map(|owner| owner.value().to_string()) {
                    None => report.keys += 1,
                    Some(owner) if owner == id => {}
                    Some(owner) => {
                        return Err(IndexError::KeyOwnedByOther {
                            key: key.clone(),
                            owner: EntityId(owner),
                            entity_id: p.entity_id.clone(),
                        });
                    }
                }
            }
            report.entities += 1;
        }
        t.finish(&self.txn)?;
        Ok(report)
    }

    /// Commits: durable when this returns (redb's default `Durability::Immediate`).
    pub fn commit(self) -> Result<()> {
        self.txn.commit()?;
        Ok(())
    }

    /// Discards every change of this transaction.
    pub fn abort(self) -> Result<()> {
        self.txn.abort()?;
        Ok(())
    }
}

/// The tables a write opens, with counter changes gathered and applied once at the end.
struct Tables<'t> {
    keys: Table<'t, &'static [u8], &'static str>,
    entities: Table<'t, &'static str, &'static [u8]>,
    kind_delta: [i64; EntityKind::ALL.len()],
    bytes_delta: i64,
    buf: Vec<u8>,
}

impl<'t> Tables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Tables<'t>> {
        Ok(Tables {
            keys: txn.open_table(KEYS)?,
            entities: txn.open_table(ENTITIES)?,
            kind_delta: [0; EntityKind::ALL.len()],
            bytes_delta: 0,
            buf: Vec::with_capacity(4096),
        })
    }

    fn count(&mut self, kind: EntityKind, entities: i64, bytes: i64) {
        if let Some(slot) = EntityKind::ALL
            .iter()
            .position(|k| *k == kind)
            .and_then(|i| self.kind_delta.get_mut(i))
        {
            *slot += entities;
        }
        self.bytes_delta += bytes;
    }

    fn finish(self, txn: &WriteTransaction) -> Result<()> {
        let mut counters = txn.open_table(COUNTERS)?;
        for (kind, delta) in EntityKind::ALL.iter().zip(self.kind_delta) {
            if delta != 0 {
                apply_delta(&mut counters, kind.code(), delta)?;
            }
        }
        if self.bytes_delta != 0 {
            apply_delta(&mut counters, PROFILE_BYTES_KEY, self.bytes_delta)?;
        }
        Ok(())
    }

    fn put_if_changed(&mut self, p: &Profile) -> Result<PutOutcome> {
        check_profile(p)?;
        self.buf.clear();
        encode_profile_into(p, &mut self.buf);
        let same = self
            .entities
            .get(p.entity_id.as_str())?
            .is_some_and(|old| old.value() == self.buf.as_slice());
        if same {
            return Ok(PutOutcome::Unchanged);
        }
        self.put(p)?;
        Ok(PutOutcome::Written)
    }

    fn put(&mut self, p: &Profile) -> Result<()> {
        check_profile(p)?;
        let id = p.entity_id.as_str();
        let new_keys: BTreeSet<Vec<u8>> = p.keys.iter().map(Key::to_bytes).collect();
        for (key, bytes) in p.keys.iter().zip(p.keys.iter().map(Key::to_bytes)) {
            let owner = self
                .keys
                .get(bytes.as_slice())?
                .map(|o| o.value().to_string());
            if let Some(owner) = owner.filter(|o| o != id) {
                return Err(IndexError::KeyOwnedByOther {
                    key: key.clone(),
                    owner: EntityId(owner),
                    entity_id: p.entity_id.clone(),
                });
            }
        }
        let old = self.old_head(id)?;
        if let Some((head, old_len)) = old {
            self.count(head.kind, -1, -old_len);
            for key in &head.keys {
                let bytes = key.to_bytes();
                if !new_keys.contains(&bytes) {
                    self.remove_key_of(&bytes, id)?;
                }
            }
        }
        for bytes in &new_keys {
            self.keys.insert(bytes.as_slice(), id)?;
        }
        self.buf.clear();
        encode_profile_into(p, &mut self.buf);
        self.entities.insert(id, self.buf.as_slice())?;
        self.count(p.kind, 1, self.buf.len() as i64);
        Ok(())
    }

    /// Rewrites a stored profile whose kind and keys have not changed.
    fn write_profile(&mut self, p: &Profile) -> Result<()> {
        let id = p.entity_id.as_str();
        let old_len = self.entities.get(id)?.map_or(0, |v| v.value().len() as i64);
        self.buf.clear();
        encode_profile_into(p, &mut self.buf);
        self.entities.insert(id, self.buf.as_slice())?;
        self.bytes_delta += self.buf.len() as i64 - old_len;
        Ok(())
    }

    fn remove(&mut self, id: &str) -> Result<bool> {
        let Some((head, old_len)) = self.old_head(id)? else {
            return Ok(false);
        };
        for key in &head.keys {
            self.remove_key_of(&key.to_bytes(), id)?;
        }
        self.entities.remove(id)?;
        self.count(head.kind, -1, -old_len);
        Ok(true)
    }

    fn old_head(&self, id: &str) -> Result<Option<(codec::ProfileHead, i64)>> {
        match self.entities.get(id)? {
            Some(v) => {
                let bytes = v.value();
                let head = decode_head(bytes).map_err(decode_error(id))?;
                Ok(Some((head, bytes.len() as i64)))
            }
            None => Ok(None),
        }
    }

    /// Removes a key only while it still points to `id`: another entity may own it by now.
    fn remove_key_of(&mut self, key: &[u8], id: &str) -> Result<()> {
        let owned_here = self.keys.get(key)?.is_some_and(|o| o.value() == id);
        if owned_here {
            self.keys.remove(key)?;
        }
        Ok(())
    }
}

fn apply_delta(counters: &mut Table<'_, &'static str, u64>, name: &str, delta: i64) -> Result<()> {
    let current = counters.get(name)?.map_or(0, |v| v.value());
    let next = current.saturating_add_signed(delta);
    counters.insert(name, next)?;
    Ok(())
}

fn check_profile(p: &Profile) -> Result<()> {
    if p.entity_id.as_str().is_empty() {
        return Err(IndexError::InvalidProfile {
            entity_id: p.entity_id.clone(),
            reason: "empty entity id".to_string(),
        });
    }
    for f in &p.facts {
        check_fact(&p.entity_id, f)?;
    }
    Ok(())
}

fn check_fact(entity_id: &EntityId, f: &Fact) -> Result<()> {
    if !(1..=4).contains(&f.sensitivity) {
        return Err(IndexError::InvalidProfile {
            entity_id: entity_id.clone(),
            reason: format!(
                "fact {}.{} has sensitivity {}, not 1..=4 (L1–L4)",
                f.resource, f.field, f.sensitivity
            ),
        });
    }
    Ok(())
}

fn owned_identity(f: &Fact) -> (String, String, u64, String) {
    (
        f.resource.clone(),
        f.batch_id.clone(),
        f.record,
        f.field.clone(),
    )
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Removes one batch's facts, edges and links from a profile, then golden and conflicting
/// values that only those facts backed; returns whether anything changed.
fn strip_batch(p: &mut Profile, batch_id: &str, report: &mut BatchRemoval) -> bool {
    let (removed, kept): (Vec<Fact>, Vec<Fact>) = std::mem::take(&mut p.facts)
        .into_iter()
        .partition(|f| f.batch_id == batch_id);
    p.facts = kept;
    let edges_before = p.edges.len();
    p.edges.retain(|e| e.batch_id != batch_id);
    let links_before = p.links.len();
    p.links.retain(|l| l.batch_id != batch_id);

    let backed = |facts: &[Fact], field: &str, resource: &str, value: &str| {
        facts
            .iter()
            .any(|f| f.field == field && f.resource == resource && f.value == value)
    };
    let golden_before = p.golden.len();
    let kept_facts = &p.facts;
    p.golden.retain(|field, g| {
        g.conflicts.retain(|c| {
            !backed(&removed, field, &c.resource, &c.value)
                || backed(kept_facts, field, &c.resource, &c.value)
        });
        !backed(&removed, field, &g.resource, &g.value)
            || backed(kept_facts, field, &g.resource, &g.value)
    });

    report.facts += removed.len() as u64;
    report.edges += (edges_before - p.edges.len()) as u64;
    report.links += (links_before - p.links.len()) as u64;
    report.golden += (golden_before - p.golden.len()) as u64;
    !removed.is_empty()
        || edges_before != p.edges.len()
        || links_before != p.links.len()
        || golden_before != p.golden.len()
}

//! The stored form of a profile.
//!
//! Hand-written rather than serde + postcard/bincode, for three reasons measured against what a
//! profile looks like (40–200 facts from a dozen records of a handful of resources):
//!
//! * **Size.** Most strings of a profile are repeats: every fact names its resource, unit,
//!   field and batch, the resident ID and name recur in every record, and a handful of code
//!   values recur across fields. A per-profile string table stores each distinct string once
//!   and everything else refers to it by a varint (one byte for the first 128). Strings of
//!   lower-case hex digits of even length (batch ids, many numeric codes) are stored packed,
//!   two digits a byte. Ingest times are stored as the difference from the previous fact's
//!   (zero within a record). A generic serde format does none of this: the same profile is
//!   about six times larger as JSON and several times larger in postcard.
//! * **Speed.** Decoding is one pass over a byte slice: varints, bounds checks and one UTF-8
//!   check per distinct string, no intermediate tree. The header (kind, entity id, keys) comes
//!   first and stands alone, so a writer replacing a profile reads its old keys without
//!   decoding the rest.
//! * **Control of the format.** The first byte is [`FORMAT_VERSION`]; bytes written by a
//!   newer or older build fail with [`DecodeError::UnsupportedVersion`] naming both versions,
//!   instead of decoding garbage. No dependency upgrade can change the bytes under us.
//!
//! Layout (integers are LEB128 varints unless noted; `str` = length, UTF-8 bytes; `#` = index
//! into the string table; `opt#` = 0 for none, else index + 1):
//!
//! ```text
//! version u8 | kind u8 | entity_id str | n, (key_kind u8, value str)*           header
//! | n, (len << 1 | packed, bytes)*                                                 string table
//! | n, (field#, value#, resource#, unit#, m, (value#, resource#)*)*               golden
//! | n, (resource#, unit#, batch#, ingested_at delta zigzag, record,
//!       valid_from opt#, valid_to opt#, m, (field#, value#, sensitivity u8)*)*     facts
//! | n, (relation#, to#, from_date opt#, to_date opt#, resource#, batch#)*          edges
//! | n, (resource#, batch#, record, method#, score f64 LE)*                         links
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::model::{EntityId, EntityKind, Key, KeyKind, Profile};

/// The version of the profile encoding this build reads and writes.
pub const FORMAT_VERSION: u8 = 2;

/// Why stored bytes are not a profile this build can read.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("empty profile record")]
    Empty,
    #[error(
        "profile encoded with format version {found}, this build reads version {supported}: \
         rebuild the index with this build"
    )]
    UnsupportedVersion { found: u8, supported: u8 },
    #[error("unknown entity kind tag {0}")]
    UnknownEntityKind(u8),
    #[error("unknown key kind tag {0}")]
    UnknownKeyKind(u8),
    #[error("profile record truncated at byte {at}")]
    Truncated { at: usize },
    #[error("malformed varint at byte {at}")]
    BadVarint { at: usize },
    #[error("invalid UTF-8 in string at byte {at}")]
    InvalidUtf8 { at: usize },
    #[error("string index {index} outside the profile's table of {table_len}")]
    BadStringIndex { index: u64, table_len: usize },
    #[error("{count} unexpected bytes after the profile")]
    TrailingBytes { count: usize },
}

/// Encodes a profile into a fresh buffer.
pub fn encode_profile(profile: &Profile) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + profile.facts.len() * 16);
    encode_profile_into(profile, &mut out);
    out
}

/// Encodes a profile, appending to `out` (bulk writers reuse one buffer).
pub fn encode_profile_into(profile: &Profile, out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
    out.push(profile.kind.tag());
    put_str(out, profile.entity_id.as_str());
    put_varint(out, profile.keys.len() as u64);
    for key in &profile.keys {
        out.push(key.kind().tag());
        put_str(out, key.value());
    }

    let table = StringTable::of(profile);
    put_varint(out, table.strings.len() as u64);
    for s in &table.strings {
        put_table_entry(out, s);
    }

    let r = |out: &mut Vec<u8>, s: &str| table.put_ref(out, s);
    let opt = |out: &mut Vec<u8>, s: Option<&String>| match s {
        None => out.push(0),
        Some(s) => put_varint(out, u64::from(table.index_of(s)) + 1),
    };

    put_varint(out, profile.golden.len() as u64);
    for (field, golden) in &profile.golden {
        r(out, field);
        r(out, &golden.value);
        r(out, &golden.resource);
        r(out, &golden.unit);
        put_varint(out, golden.conflicts.len() as u64);
        for c in &golden.conflicts {
            r(out, &c.value);
            r(out, &c.resource);
        }
    }

    // Facts in runs of consecutive facts from one record (same resource, unit, batch, time,
    // record and validity): the record's provenance is written once per run, not per fact.
    let same_record = |a: &crate::model::Fact, b: &crate::model::Fact| {
        a.record == b.record
            && a.batch_id == b.batch_id
            && a.resource == b.resource
            && a.unit == b.unit
            && a.ingested_at_us == b.ingested_at_us
            && a.valid_from == b.valid_from
            && a.valid_to == b.valid_to
    };
    let runs = profile.facts.chunk_by(|a, b| same_record(a, b));
    put_varint(out, runs.clone().count() as u64);
    let mut previous_at_us = 0i64;
    for run in runs {
        let first = &run[0];
        r(out, &first.resource);
        r(out, &first.unit);
        r(out, &first.batch_id);
        put_varint(
            out,
            zigzag(first.ingested_at_us.wrapping_sub(previous_at_us)),
        );
        previous_at_us = first.ingested_at_us;
        put_varint(out, first.record);
        opt(out, first.valid_from.as_ref());
        opt(out, first.valid_to.as_ref());
        put_varint(out, run.len() as u64);
        for f in run {
            r(out, &f.field);
            r(out, &f.value);
            out.push(f.sensitivity);
        }
    }

    put_varint(out, profile.edges.len() as u64);
    for e in &profile.edges {
        r(out, &e.relation);
        r(out, e.to.as_str());
        opt(out, e.from_date.as_ref());
        opt(out, e.to_date.as_ref());
        r(out, &e.resource);
        r(out, &e.batch_id);
    }

    put_varint(out, profile.links.len() as u64);
    for l in &profile.links {
        r(out, &l.resource);
        r(out, &l.batch_id);
        put_varint(out, l.record);
        r(out, &l.link.method);
        out.extend_from_slice(&l.link.score.to_le_bytes());
    }
}

/// The fields every writer needs from a stored profile, decoded without touching the facts.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileHead {
    pub kind: EntityKind,
    pub entity_id: EntityId,
    pub keys: Vec<Key>,
}

/// Decodes only the header: kind, entity id and keys.
pub fn decode_head(bytes: &[u8]) -> Result<ProfileHead, DecodeError> {
    let mut r = Reader::new(bytes);
    let head = read_head(&mut r)?;
    Ok(ProfileHead {
        kind: head.kind,
        entity_id: EntityId(head.entity_id.to_string()),
        keys: head
            .keys
            .into_iter()
            .map(|(kind, value)| Key::from_stored(kind, value.to_string()))
            .collect(),
    })
}

/// Decodes a whole profile into owned values, checking every bound: corrupt or foreign bytes
/// give an error, never a panic. For a hot path that reads a few fields, [`ProfileView`]
/// skips the allocation of every string.
///
/// [`ProfileView`]: crate::view::ProfileView
pub fn decode_profile(bytes: &[u8]) -> Result<Profile, DecodeError> {
    crate::view::ProfileView::parse(bytes).map(|v| v.to_profile())
}

/// The header, borrowed from the bytes.
pub(crate) struct RawHead<'a> {
    pub(crate) kind: EntityKind,
    pub(crate) entity_id: &'a str,
    pub(crate) keys: Vec<(KeyKind, &'a str)>,
}

pub(crate) fn read_head<'a>(r: &mut Reader<'a>) -> Result<RawHead<'a>, DecodeError> {
    let version = r.u8().map_err(|_| DecodeError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let tag = r.u8()?;
    let kind = EntityKind::from_tag(tag).ok_or(DecodeError::UnknownEntityKind(tag))?;
    let entity_id = r.str()?;
    let n = r.count()?;
    let mut keys = Vec::with_capacity(n);
    for _ in 0..n {
        let tag = r.u8()?;
        let kind = KeyKind::from_tag(tag).ok_or(DecodeError::UnknownKeyKind(tag))?;
        keys.push((kind, r.str()?));
    }
    Ok(RawHead {
        kind,
        entity_id,
        keys,
    })
}

/// Every distinct string of a profile outside the header, in first-seen order so the
/// encoding is deterministic.
struct StringTable<'a> {
    strings: Vec<&'a str>,
    index: HashMap<&'a str, u32, BuildHasherDefault<FxHasher>>,
}

impl<'a> StringTable<'a> {
    fn of(p: &'a Profile) -> StringTable<'a> {
        let mut t = StringTable {
            strings: Vec::with_capacity(64),
            index: HashMap::with_capacity_and_hasher(64, BuildHasherDefault::default()),
        };
        // Facts first: they hold most references, so their strings get the one-byte indices.
        for f in &p.facts {
            for s in [&f.resource, &f.field, &f.value, &f.unit, &f.batch_id] {
                t.add(s);
            }
            for s in [&f.valid_from, &f.valid_to].into_iter().flatten() {
                t.add(s);
            }
        }
        for (field, g) in &p.golden {
            for s in [field, &g.value, &g.resource, &g.unit] {
                t.add(s);
            }
            for c in &g.conflicts {
                t.add(&c.value);
                t.add(&c.resource);
            }
        }
        for e in &p.edges {
            for s in [&e.relation, &e.to.0, &e.resource, &e.batch_id] {
                t.add(s);
            }
            for s in [&e.from_date, &e.to_date].into_iter().flatten() {
                t.add(s);
            }
        }
        for l in &p.links {
            for s in [&l.resource, &l.batch_id, &l.link.method] {
                t.add(s);
            }
        }
        t
    }

    fn add(&mut self, s: &'a str) {
        let next = self.strings.len() as u32;
        self.index.entry(s).or_insert_with(|| {
            self.strings.push(s);
            next
        });
    }

    fn index_of(&self, s: &str) -> u32 {
        // Every string referenced was added by `of` from the same profile.
        self.index.get(s).copied().unwrap_or_default()
    }

    fn put_ref(&self, out: &mut Vec<u8>, s: &str) {
        put_varint(out, u64::from(self.index_of(s)));
    }
}

/// The multiply-rotate hash rustc uses: the table's keys are short strings in a map of a few
/// dozen entries, where SipHash's setup cost would dominate encoding.
#[derive(Default)]
struct FxHasher {
    hash: u64,
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.hash = (self.hash.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(SEED);
        }
        for &b in chunks.remainder() {
            self.hash = (self.hash.rotate_left(5) ^ u64::from(b)).wrapping_mul(SEED);
        }
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Lower-case hex of even length, at least 8 digits: packed two digits a byte.
pub(crate) fn is_packable_hex(s: &str) -> bool {
    s.len() >= 8
        && s.len().is_multiple_of(2)
        && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        _ => b - b'a' + 10,
    }
}

/// The bytes a string occupies in a profile's string table (packed or not), without its
/// length: what a byte search of encoded profiles must look for.
pub(crate) fn stored_form(s: &str) -> Cow<'_, [u8]> {
    if is_packable_hex(s) {
        let mut out = Vec::with_capacity(s.len() / 2);
        for pair in s.as_bytes().chunks_exact(2) {
            out.push((hex_value(pair[0]) << 4) | hex_value(pair[1]));
        }
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s.as_bytes())
    }
}

fn put_table_entry(out: &mut Vec<u8>, s: &str) {
    if is_packable_hex(s) {
        put_varint(out, ((s.len() as u64 / 2) << 1) | 1);
        for pair in s.as_bytes().chunks_exact(2) {
            out.push((hex_value(pair[0]) << 4) | hex_value(pair[1]));
        }
    } else {
        put_varint(out, (s.len() as u64) << 1);
        out.extend_from_slice(s.as_bytes());
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(DecodeError::Truncated { at: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            // The tenth byte may carry only the top bit of a u64.
            if shift == 63 && bits > 1 {
                return Err(DecodeError::BadVarint { at: start });
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::BadVarint { at: start })
    }

    /// A count of items that follow: each takes at least one byte, so a count larger than the
    /// bytes left is corrupt. Checking it here keeps a corrupt count from reserving memory.
    pub(crate) fn count(&mut self) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.varint()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => Ok(n),
            _ => Err(DecodeError::Truncated { at }),
        }
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.buf.len())
            .ok_or(DecodeError::Truncated { at: self.pos })?;
        let b = &self.buf[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    pub(crate) fn str_of_len(&mut self, len: usize) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let b = self.bytes(len)?;
        std::str::from_utf8(b).map_err(|_| DecodeError::InvalidUtf8 { at })
    }

    pub(crate) fn str(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.count()?;
        self.str_of_len(len)
    }

    pub(crate) fn f64(&mut self) -> Result<f64, DecodeError> {
        let b = self.bytes(8)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(b);
        Ok(f64::from_le_bytes(word))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::sample_profile;

    #[test]
    fn round_trips() -> Result<(), DecodeError> {
        let p = sample_profile("P-000001", "11010519491231002X", 3);
        let bytes = encode_profile(&p);
        assert_eq!(decode_profile(&bytes)?, p);
        Ok(())
    }

    #[test]
    fn round_trips_empty_and_extreme_values() -> Result<(), DecodeError> {
        let mut p = Profile::new(EntityId::new(""), EntityKind::Component);
        assert_eq!(decode_profile(&encode_profile(&p))?, p);
        let mut f = sample_profile("P-1", "11010519491231002X", 1).facts[0].clone();
        f.ingested_at_us = i64::MIN;
        f.record = u64::MAX;
        f.valid_from = Some(String::new());
        let mut g = f.clone();
        g.ingested_at_us = i64::MAX;
        p.facts = vec![f, g];
        assert_eq!(decode_profile(&encode_profile(&p))?, p);
        Ok(())
    }

    #[test]
    fn repeated_strings_are_stored_once() {
        let p = sample_profile("P-000001", "11010519491231002X", 5);
        let bytes = encode_profile(&p);
        let count = |needle: &[u8]| bytes.windows(needle.len()).filter(|w| *w == needle).count();
        // In 15 facts, 5 links, a golden value and a conflict.
        assert_eq!(count("hukou_residents".as_bytes()), 1);
        assert_eq!(count("欧阳小明".as_bytes()), 1);
        // The resident ID: once in the header's key, once in the table.
        assert_eq!(count(b"11010519491231002X"), 2);
        // Hex batch ids are packed: the text never appears, the packed bytes once.
        let batch = &p.facts[0].batch_id;
        assert_eq!(count(batch.as_bytes()), 0);
        assert_eq!(count(&stored_form(batch)), 1);
        let json = serde_json::to_vec(&p).unwrap_or_default();
        assert!(
            bytes.len() * 4 < json.len(),
            "{} vs {}",
            bytes.len(),
            json.len()
        );
    }

    #[test]
    fn a_records_provenance_is_written_once_for_all_its_facts() -> Result<(), DecodeError> {
        let base = sample_profile("P-1", "11010519491231002X", 1).facts[0].clone();
        let fact = |field: &str, value: &str| {
            let mut f = base.clone();
            f.field = field.into();
            f.value = value.into();
            f
        };
        let mut one = Profile::new(EntityId::new("P-1"), EntityKind::Person);
        one.facts = vec![fact("a", "1")];
        let mut five = one.clone();
        for (field, value) in [("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")] {
            five.facts.push(fact(field, value));
        }
        let (one_bytes, five_bytes) = (encode_profile(&one), encode_profile(&five));
        // Each further fact of the same record: its field and value (each a table entry of
        // two bytes and a one-byte reference) and its sensitivity, nothing of its provenance.
        assert_eq!(five_bytes.len() - one_bytes.len(), 4 * (2 + 2 + 1 + 1 + 1));
        assert_eq!(decode_profile(&five_bytes)?, five);
        // A fact of another record in between starts a new run and still round-trips.
        let mut other = fact("x", "9");
        other.record += 1;
        five.facts.insert(2, other);
        assert_eq!(decode_profile(&encode_profile(&five))?, five);
        Ok(())
    }

    #[test]
    fn hex_packing_round_trips_exactly() -> Result<(), DecodeError> {
        let mut p = Profile::new(EntityId::new("P-1"), EntityKind::Person);
        let values = [
            "0123456789abcdef",
            "00000000",
            "deadbeef00",
            "ABCDEF01", // upper case: stored as text
            "abcdef0",  // odd length
            "abcdef",   // too short to bother
            "440304199001010012",
            "",
        ];
        for (i, v) in values.iter().enumerate() {
            let mut f = sample_profile("P-1", "11010519491231002X", 1).facts[0].clone();
            f.value = (*v).to_string();
            f.record = i as u64;
            p.facts.push(f);
        }
        assert_eq!(decode_profile(&encode_profile(&p))?, p);
        assert!(is_packable_hex("00000000"));
        assert!(!is_packable_hex("ABCDEF01"));
        assert!(!is_packable_hex("abcdef0"));
        assert_eq!(&*stored_form("0aff0aff"), &[0x0a, 0xff, 0x0a, 0xff]);
        assert_eq!(&*stored_form("b1"), b"b1");
        Ok(())
    }

    #[test]
    fn head_decodes_without_facts() -> Result<(), DecodeError> {
        let p = sample_profile("P-000042", "11010519491231002X", 2);
        let head = decode_head(&encode_profile(&p))?;
        assert_eq!(head.entity_id, p.entity_id);
        assert_eq!(head.kind, p.kind);
        assert_eq!(head.keys, p.keys);
        Ok(())
    }

    #[test]
    fn other_versions_are_refused_by_name() {
        let mut bytes = encode_profile(&sample_profile("P-1", "11010519491231002X", 1));
        bytes[0] = FORMAT_VERSION + 1;
        let err = decode_profile(&bytes).err();
        assert_eq!(
            err,
            Some(DecodeError::UnsupportedVersion {
                found: FORMAT_VERSION + 1,
                supported: FORMAT_VERSION
            })
        );
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("rebuild"), "{message}");
        assert_eq!(decode_profile(&[]), Err(DecodeError::Empty));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = encode_profile(&sample_profile("P-1", "11010519491231002X", 2));
        for len in 0..bytes.len() {
            assert!(
                decode_profile(&bytes[..len]).is_err(),
                "prefix of {len} bytes decoded"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            decode_profile(&longer),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
    }

    #[test]
    fn corrupted_bytes_never_panic() {
        let bytes = encode_profile(&sample_profile("P-1", "11010519491231002X", 2));
        // Flip each byte to a few values; any result is fine as long as none panics.
        let mut errors = 0;
        for i in 1..bytes.len() {
            for v in [0x00, 0x7f, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] = v;
                errors += usize::from(decode_profile(&b).is_err());
            }
        }
        assert!(errors > 0);
    }

    #[test]
    fn varints_reject_overlong_input() {
        let mut r = Reader::new(&[0xff; 11]);
        assert!(matches!(r.varint(), Err(DecodeError::BadVarint { .. })));
        let mut out = Vec::new();
        put_varint(&mut out, u64::MAX);
        assert_eq!(Reader::new(&out).varint(), Ok(u64::MAX));
        for v in [0, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }
}

//! A borrowed view of an encoded profile: every string is a `&str` into the stored bytes.
//!
//! Decoding a whole [`Profile`] allocates one `String` per string field of every fact — a few
//! hundred allocations for a typical person, which is most of a look-up's time. A decision
//! reads a dozen facts, so the hot path parses the structure once (a handful of allocations)
//! and hands out `&str`s; [`ProfileView::to_profile`] makes the owned copy when one is wanted.

use std::collections::BTreeMap;

use crate::codec::{DecodeError, Reader, read_head, unzigzag};
use crate::model::{
    Conflict, Edge, EntityId, EntityKind, Fact, GoldenValue, Key, KeyKind, Link, Profile,
    SourceLink,
};

/// Where a string-table entry's text lives.
#[derive(Debug, Clone, Copy)]
enum Text<'a> {
    Stored(&'a str),
    /// Packed hex, expanded into [`ProfileView::hex`] at `start..end`.
    Expanded {
        start: u32,
        end: u32,
    },
}

#[derive(Debug, Clone, Copy)]
struct RawGolden {
    field: u32,
    value: u32,
    resource: u32,
    unit: u32,
    conflicts_start: u32,
    conflicts_end: u32,
}

#[derive(Debug, Clone, Copy)]
struct RawFact {
    resource: u32,
    field: u32,
    value: u32,
    unit: u32,
    batch_id: u32,
    ingested_at_us: i64,
    record: u64,
    valid_from: Option<u32>,
    valid_to: Option<u32>,
    sensitivity: u8,
}

#[derive(Debug, Clone, Copy)]
struct RawEdge {
    relation: u32,
    to: u32,
    from_date: Option<u32>,
    to_date: Option<u32>,
    resource: u32,
    batch_id: u32,
}

#[derive(Debug, Clone, Copy)]
struct RawLink {
    resource: u32,
    batch_id: u32,
    record: u64,
    method: u32,
    score: f64,
}

/// A parsed, borrowed profile. Every index in it was checked against the string table when it
/// was parsed.
#[derive(Debug, Clone)]
pub struct ProfileView<'a> {
    kind: EntityKind,
    entity_id: &'a str,
    keys: Vec<(KeyKind, &'a str)>,
    table: Vec<Text<'a>>,
    hex: String,
    golden: Vec<RawGolden>,
    conflicts: Vec<(u32, u32)>,
    facts: Vec<RawFact>,
    edges: Vec<RawEdge>,
    links: Vec<RawLink>,
}

/// One fact, borrowed from a [`ProfileView`]; the fields mean what [`Fact`]'s do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactRef<'v> {
    pub resource: &'v str,
    pub field: &'v str,
    pub value: &'v str,
    pub unit: &'v str,
    pub batch_id: &'v str,
    pub ingested_at_us: i64,
    pub record: u64,
    pub valid_from: Option<&'v str>,
    pub valid_to: Option<&'v str>,
    pub sensitivity: u8,
}

/// One golden value, borrowed from a [`ProfileView`].
#[derive(Debug, Clone, Copy)]
pub struct GoldenRef<'v> {
    pub field: &'v str,
    pub value: &'v str,
    pub resource: &'v str,
    pub unit: &'v str,
    view: &'v ProfileView<'v>,
    conflicts: &'v [(u32, u32)],
}

impl<'v> GoldenRef<'v> {
    /// The losing values, as (value, resource).
    pub fn conflicts(&self) -> impl ExactSizeIterator<Item = (&'v str, &'v str)> + 'v {
        let view = self.view;
        self.conflicts
            .iter()
            .map(move |&(value, resource)| (view.text(value), view.text(resource)))
    }
}

/// One edge, borrowed from a [`ProfileView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeRef<'v> {
    pub relation: &'v str,
    pub to: &'v str,
    pub from_date: Option<&'v str>,
    pub to_date: Option<&'v str>,
    pub resource: &'v str,
    pub batch_id: &'v str,
}

/// One source record's link, borrowed from a [`ProfileView`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkRef<'v> {
    pub resource: &'v str,
    pub batch_id: &'v str,
    pub record: u64,
    pub method: &'v str,
    pub score: f64,
}

impl<'a> ProfileView<'a> {
    /// Parses encoded bytes, checking every bound and every string index.
    pub fn parse(bytes: &'a [u8]) -> Result<ProfileView<'a>, DecodeError> {
        let mut r = Reader::new(bytes);
        let head = read_head(&mut r)?;

        let n = r.count()?;
        let mut table = Vec::with_capacity(n);
        let mut hex = String::new();
        for _ in 0..n {
            let at = r.pos();
            let header = r.varint()?;
            let len = usize::try_from(header >> 1).map_err(|_| DecodeError::Truncated { at })?;
            if header & 1 == 0 {
                table.push(Text::Stored(r.str_of_len(len)?));
            } else {
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                let packed = r.bytes(len)?;
                let start = hex.len() as u32;
                hex.reserve(len * 2);
                for &b in packed {
                    hex.push(char::from(DIGITS[usize::from(b >> 4)]));
                    hex.push(char::from(DIGITS[usize::from(b & 0x0f)]));
                }
                table.push(Text::Expanded {
                    start,
                    end: hex.len() as u32,
                });
            }
        }
        let len = table.len();
        let idx = |r: &mut Reader<'_>| -> Result<u32, DecodeError> {
            let index = r.varint()?;
            u32::try_from(index)
                .ok()
                .filter(|&i| (i as usize) < len)
                .ok_or(DecodeError::BadStringIndex {
                    index,
                    table_len: len,
                })
        };
        let opt = |r: &mut Reader<'_>| -> Result<Option<u32>, DecodeError> {
            match r.varint()? {
                0 => Ok(None),
                n => u32::try_from(n - 1)
                    .ok()
                    .filter(|&i| (i as usize) < len)
                    .map(Some)
                    .ok_or(DecodeError::BadStringIndex {
                        index: n - 1,
                        table_len: len,
                    }),
            }
        };

        let n = r.count()?;
        let mut golden = Vec::with_capacity(n);
        let mut conflicts = Vec::new();
        for _ in 0..n {
            let (field, value, resource, unit) =
                (idx(&mut r)?, idx(&mut r)?, idx(&mut r)?, idx(&mut r)?);
            let m = r.count()?;
            let conflicts_start = conflicts.len() as u32;
            for _ in 0..m {
                conflicts.push((idx(&mut r)?, idx(&mut r)?));
            }
            golden.push(RawGolden {
                field,
                value,
                resource,
                unit,
                conflicts_start,
                conflicts_end: conflicts.len() as u32,
            });
        }

        let runs = r.count()?;
        let mut facts = Vec::with_capacity(runs * 4);
        let mut previous_at_us = 0i64;
        for _ in 0..runs {
            let (resource, unit, batch_id) = (idx(&mut r)?, idx(&mut r)?, idx(&mut r)?);
            let ingested_at_us = previous_at_us.wrapping_add(unzigzag(r.varint()?));
            previous_at_us = ingested_at_us;
            let record = r.varint()?;
            let (valid_from, valid_to) = (opt(&mut r)?, opt(&mut r)?);
            let m = r.count()?;
            for _ in 0..m {
                facts.push(RawFact {
                    resource,
                    field: idx(&mut r)?,
                    value: idx(&mut r)?,
                    unit,
                    batch_id,
                    ingested_at_us,
                    record,
                    valid_from,
                    valid_to,
                    sensitivity: r.u8()?,
                });
            }
        }

        let n = r.count()?;
        let mut edges = Vec::with_capacity(n);
        for _ in 0..n {
            edges.push(RawEdge {
                relation: idx(&mut r)?,
                to: idx(&mut r)?,
                from_date: opt(&mut r)?,
                to_date: opt(&mut r)?,
                resource: idx(&mut r)?,
                batch_id: idx(&mut r)?,
            });
        }

        let n = r.count()?;
        let mut links = Vec::with_capacity(n);
        for _ in 0..n {
            links.push(RawLink {
                resource: idx(&mut r)?,
                batch_id: idx(&mut r)?,
                record: r.varint()?,
                method: idx(&mut r)?,
                score: r.f64()?,
            });
        }

        if r.remaining() != 0 {
            return Err(DecodeError::TrailingBytes {
                count: r.remaining(),
            });
        }
        Ok(ProfileView {
            kind: head.kind,
            entity_id: head.entity_id,
            keys: head.keys,
            table,
            hex,
            golden,
            conflicts,
            facts,
            edges,
            links,
        })
    }

    /// The text of a table entry. Indices were checked by `parse`, so the fallback to "" is
    /// never taken; it keeps this function free of panics all the same.
    fn text(&self, index: u32) -> &str {
        match self.table.get(index as usize) {
            Some(Text::Stored(s)) => s,
            Some(&Text::Expanded { start, end }) => {
                self.hex.get(start as usize..end as usize).unwrap_or("")
            }
            None => "",
        }
    }

    fn opt_text(&self, index: Option<u32>) -> Option<&str> {
        index.map(|i| self.text(i))
    }

    pub fn kind(&self) -> EntityKind {
        self.kind
    }

    pub fn entity_id(&self) -> &'a str {
        self.entity_id
    }

    /// The keys as (kind, normalised value).
    pub fn keys(&self) -> impl ExactSizeIterator<Item = (KeyKind, &'a str)> + '_ {
        self.keys.iter().copied()
    }

    pub fn facts(&self) -> impl ExactSizeIterator<Item = FactRef<'_>> + '_ {
        self.facts.iter().map(|f| self.fact(f))
    }

    /// Facts of one field, in stored order.
    pub fn facts_of<'v>(&'v self, field: &'v str) -> impl Iterator<Item = FactRef<'v>> + 'v {
        self.facts().filter(move |f| f.field == field)
    }

    /// The golden value of a field.
    pub fn golden(&self, field: &str) -> Option<GoldenRef<'_>> {
        self.golden_values().find(|g| g.field == field)
    }

    /// Golden values in field order.
    pub fn golden_values(&self) -> impl ExactSizeIterator<Item = GoldenRef<'_>> + '_ {
        self.golden.iter().map(|g| GoldenRef {
            field: self.text(g.field),
            value: self.text(g.value),
            resource: self.text(g.resource),
            unit: self.text(g.unit),
            view: self,
            conflicts: self
                .conflicts
                .get(g.conflicts_start as usize..g.conflicts_end as usize)
                .unwrap_or(&[]),
        })
    }

    pub fn edges(&self) -> impl ExactSizeIterator<Item = EdgeRef<'_>> + '_ {
        self.edges.iter().map(|e| EdgeRef {
            relation: self.text(e.relation),
            to: self.text(e.to),
            from_date: self.opt_text(e.from_date),
            to_date: self.opt_text(e.to_date),
            resource: self.text(e.resource),
            batch_id: self.text(e.batch_id),
        })
    }

    pub fn links(&self) -> impl ExactSizeIterator<Item = LinkRef<'_>> + '_ {
        self.links.iter().map(|l| LinkRef {
            resource: self.text(l.resource),
            batch_id: self.text(l.batch_id),
            record: l.record,
            method: self.text(l.method),
            score: l.score,
        })
    }

    fn fact(&self, f: &RawFact) -> FactRef<'_> {
        FactRef {
            resource: self.text(f.resource),
            field: self.text(f.field),
            value: self.text(f.value),
            unit: self.text(f.unit),
            batch_id: self.text(f.batch_id),
            ingested_at_us: f.ingested_at_us,
            record: f.record,
            valid_from: self.opt_text(f.valid_from),
            valid_to: self.opt_text(f.valid_to),
            sensitivity: f.sensitivity,
        }
    }

    /// The owned profile.
    pub fn to_profile(&self) -> Profile {
        let s = |i: u32| self.text(i).to_string();
        let o = |i: Option<u32>| i.map(|i| self.text(i).to_string());
        let mut golden = BTreeMap::new();
        for g in self.golden_values() {
            golden.insert(
                g.field.to_string(),
                GoldenValue {
                    value: g.value.to_string(),
                    resource: g.resource.to_string(),
                    unit: g.unit.to_string(),
                    conflicts: g
                        .conflicts()
                        .map(|(value, resource)| Conflict {
                            value: value.to_string(),
                            resource: resource.to_string(),
                        })
                        .collect(),
                },
            );
        }
        Profile {
            entity_id: EntityId(self.entity_id.to_string()),
            kind: self.kind,
            golden,
            facts: self
                .facts
                .iter()
                .map(|f| Fact {
                    resource: s(f.resource),
                    field: s(f.field),
                    value: s(f.value),
                    unit: s(f.unit),
                    batch_id: s(f.batch_id),
                    ingested_at_us: f.ingested_at_us,
                    record: f.record,
                    valid_from: o(f.valid_from),
                    valid_to: o(f.valid_to),
                    sensitivity: f.sensitivity,
                })
                .collect(),
            edges: self
                .edges
                .iter()
                .map(|e| Edge {
                    relation: s(e.relation),
                    to: EntityId(s(e.to)),
                    from_date: o(e.from_date),
                    to_date: o(e.to_date),
                    resource: s(e.resource),
                    batch_id: s(e.batch_id),
                })
                .collect(),
            keys: self
                .keys
                .iter()
                .map(|&(kind, value)| Key::from_stored(kind, value.to_string()))
                .collect(),
            links: self
                .links
                .iter()
                .map(|l| SourceLink {
                    resource: s(l.resource),
                    batch_id: s(l.batch_id),
                    record: l.record,
                    link: Link {
                        method: s(l.method),
                        score: l.score,
                    },
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{FORMAT_VERSION, encode_profile};
    use crate::testing::sample_profile;

    #[test]
    fn the_view_reads_what_the_profile_holds() -> Result<(), DecodeError> {
        let p = sample_profile("P-7", "11010519491231002X", 3);
        let bytes = encode_profile(&p);
        let v = ProfileView::parse(&bytes)?;
        assert_eq!(v.entity_id(), "P-7");
        assert_eq!(v.kind(), EntityKind::Person);
        assert_eq!(v.facts().len(), p.facts.len());
        for (r, f) in v.facts().zip(&p.facts) {
            assert_eq!(r.field, f.field);
            assert_eq!(r.value, f.value);
            assert_eq!(r.batch_id, f.batch_id);
            assert_eq!(r.ingested_at_us, f.ingested_at_us);
            assert_eq!(r.valid_from, f.valid_from.as_deref());
        }
        assert_eq!(v.facts_of("birth_date").count(), 3);
        let name = v.golden("name").ok_or(DecodeError::Empty)?;
        assert_eq!(name.value, "欧阳小明");
        assert_eq!(
            name.conflicts().collect::<Vec<_>>(),
            [("欧阳晓明", "residence_registrations")]
        );
        assert!(v.golden("nothing").is_none());
        assert_eq!(v.edges().next().map(|e| e.to), Some("A-000001"));
        assert_eq!(v.links().len(), 3);
        assert_eq!(
            v.keys().next(),
            Some((KeyKind::PersonId, "11010519491231002X"))
        );
        assert_eq!(v.to_profile(), p);
        Ok(())
    }

    #[test]
    fn out_of_range_string_indices_are_errors() {
        // version, person, "P-1", no keys, a table of one entry "a", no golden values, then a
        // run of facts whose resource is entry 5, no edges, no links.
        let bytes = [
            FORMAT_VERSION,
            1,
            3,
            b'P',
            b'-',
            b'1',
            0,
            1,
            2,
            b'a',
            0,
            1,
            5,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
            0,
            0,
            2,
            0,
            0,
        ];
        assert_eq!(
            ProfileView::parse(&bytes).err(),
            Some(DecodeError::BadStringIndex {
                index: 5,
                table_len: 1
            })
        );
        // The same with every reference in range decodes.
        let mut ok = bytes;
        ok[12] = 0;
        let v = ProfileView::parse(&ok[..]).map(|v| v.to_profile());
        let mut expected = Profile::new(EntityId::new("P-1"), EntityKind::Person);
        expected.facts.push(Fact {
            resource: "a".into(),
            field: "a".into(),
            value: "a".into(),
            unit: "a".into(),
            batch_id: "a".into(),
            ingested_at_us: 0,
            record: 0,
            valid_from: None,
            valid_to: None,
            sensitivity: 2,
        });
        assert_eq!(v, Ok(expected));
    }
}

//! Stable entity ids.
//!
//! A person's id is a keyed hash of the resident ID that anchors the entity (its register key),
//! so it is the same on every re-run and after every incremental batch without any id table,
//! and it reveals nothing of the ID number without the home's secret (`entity-salt`, created
//! once from the OS's random source). Legal persons, houses and addresses are not personal
//! data: their ids carry the key (`E` + credit code, `H` + unit number, `A` + address code).

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::EntityError;

const SALT_FILE: &str = "entity-salt";
const SALT_BYTES: usize = 32;

/// Issues entity ids for one state directory.
#[derive(Clone)]
pub struct EntityIds {
    salt: Vec<u8>,
}

impl std::fmt::Debug for EntityIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EntityIds(..)")
    }
}

impl EntityIds {
    /// Loads the home's salt, creating it on first use.
    pub fn open(home: &Path) -> Result<EntityIds, EntityError> {
        let path = home.join(SALT_FILE);
        let io = |source| EntityError::Io {
            path: path.clone(),
            source,
        };
        if let Ok(hex) = std::fs::read_to_string(&path) {
            let salt = decode_hex(hex.trim()).ok_or_else(|| {
                io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the entity salt is not hex",
                ))
            })?;
            return Ok(EntityIds { salt });
        }
        let mut salt = vec![0u8; SALT_BYTES];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut salt))
            .map_err(io)?;
        std::fs::create_dir_all(home).map_err(io)?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, encode_hex(&salt)).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(EntityIds { salt })
    }

    /// An id from a fixed salt (tests).
    pub fn with_salt(salt: &[u8]) -> EntityIds {
        EntityIds {
            salt: salt.to_vec(),
        }
    }

    /// `P` + 16 hex digits of HMAC-style SHA-256(salt, resident ID).
    pub fn person(&self, resident_id: &str) -> String {
        let mut h = Sha256::new();
        h.update(&self.salt);
        h.update(b"person\0");
        h.update(resident_id.as_bytes());
        h.update(&self.salt);
        let d = h.finalize();
        format!("P{}", encode_hex(&d[..8]))
    }

    pub fn legal_person(uscc: &str) -> String {
        format!("E{uscc}")
    }

    pub fn house(house_id: &str) -> String {
        format!("H{house_id}")
    }

    pub fn address(code: &str) -> String {
        format!("A{code}")
    }

    pub fn community(code: &str) -> String {
        format!("C{code}")
    }

    pub fn street(code: &str) -> String {
        format!("S{code}")
    }
}

fn encode_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_per_home_and_differ_between_homes() {
        let dir = tempfile::tempdir().unwrap();
        let a = EntityIds::open(dir.path()).unwrap();
        let again = EntityIds::open(dir.path()).unwrap();
        let id = "11010519491231002X";
        assert_eq!(a.person(id), again.person(id));
        assert!(a.person(id).starts_with('P') && a.person(id).len() == 17);
        assert!(!a.person(id).contains("1949"));
        let other = tempfile::tempdir().unwrap();
        let b = EntityIds::open(other.path()).unwrap();
        assert_ne!(a.person(id), b.person(id));
        assert_ne!(a.person(id), a.person("110105194912310029"));
    }
}

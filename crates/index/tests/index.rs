//! The index on disk: writes, replacement, merges, retractions, rebuilds, versions, and readers
//! running while a writer commits.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use miaopi_index::{
    DecodeError, Edge, EntityId, EntityIndex, EntityKind, Fact, GoldenValue, IndexError, Key, Link,
    Profile, PutOutcome, SourceLink, encode_profile, relation,
};
use redb::{Database, TableDefinition};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const IDS: [&str; 3] = [
    "11010519491231002X",
    "440524188001010014",
    "440304199001010012",
];

fn fact(field: &str, value: &str, batch: &str, record: u64) -> Fact {
    Fact {
        resource: "hukou_residents".to_string(),
        field: field.to_string(),
        value: value.to_string(),
        unit: "police".to_string(),
        batch_id: batch.to_string(),
        ingested_at_us: 1_767_225_600_000_000,
        record,
        valid_from: None,
        valid_to: None,
        sensitivity: 3,
    }
}

fn person(id: &str, resident_id: &str, name: &str, batch: &str) -> Profile {
    let mut p = Profile::new(EntityId::new(id), EntityKind::Person);
    p.keys.push(Key::person(resident_id));
    p.facts.push(fact("resident_id", resident_id, batch, 1));
    p.facts.push(fact("name", name, batch, 1));
    p.golden.insert(
        "name".to_string(),
        GoldenValue {
            value: name.to_string(),
            resource: "hukou_residents".to_string(),
            unit: "police".to_string(),
            conflicts: vec![],
        },
    );
    p.links.push(SourceLink {
        resource: "hukou_residents".to_string(),
        batch_id: batch.to_string(),
        record: 1,
        link: Link {
            method: "deterministic:person_id".to_string(),
            score: 1.0,
        },
    });
    p
}

fn edge(to: &str, batch: &str) -> Edge {
    Edge {
        relation: relation::RESIDES_AT.to_string(),
        to: EntityId::new(to),
        from_date: None,
        to_date: None,
        resource: "hukou_residents".to_string(),
        batch_id: batch.to_string(),
    }
}

fn address(id: &str, code: &str) -> Profile {
    let mut p = Profile::new(EntityId::new(id), EntityKind::Address);
    p.keys.push(Key::address_code(code));
    p
}

fn temp_index() -> Result<(tempfile::TempDir, EntityIndex), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let index = EntityIndex::create(dir.path().join("entities.redb"))?;
    Ok((dir, index))
}

#[test]
fn a_profile_is_found_by_each_of_its_keys_and_survives_reopening() -> TestResult {
    let (dir, index) = temp_index()?;
    let mut p = person("P-1", IDS[0], "张三", "b1");
    p.keys.push(Key::house("440304001001GB00001F00000001"));
    let mut w = index.writer()?;
    w.put_profile(&p)?;
    w.put_profile(&address("A-1", "4403040010010000001"))?;
    w.commit()?;

    // Normalisation applies on look-up too: lower-case x finds the canonical key.
    assert_eq!(
        index.get_by_key(&Key::person(" 11010519491231002x"))?,
        Some(p.clone())
    );
    assert_eq!(
        index.get_by_key(&Key::house("440304001001gb00001f00000001"))?,
        Some(p.clone())
    );
    assert_eq!(
        index.entity_for_key(&Key::person(IDS[0]))?,
        Some(EntityId::new("P-1"))
    );
    assert_eq!(index.get(&EntityId::new("P-1"))?, Some(p.clone()));
    assert_eq!(index.get_by_key(&Key::person(IDS[1]))?, None);
    assert_eq!(index.get(&EntityId::new("P-2"))?, None);
    // The same value under another key kind is another key.
    assert_eq!(index.get_by_key(&Key::credit_code(IDS[0]))?, None);

    let path = index.path().to_path_buf();
    drop(index);
    let reopened = EntityIndex::open(&path)?;
    assert_eq!(reopened.get_by_key(&Key::person(IDS[0]))?, Some(p));
    let stats = reopened.stats()?;
    assert_eq!(stats.entities, 2);
    assert_eq!(stats.keys, 3);
    assert_eq!(stats.entities_by_kind[&EntityKind::Person], 1);
    assert_eq!(stats.entities_by_kind[&EntityKind::Address], 1);
    assert_eq!(stats.entities_by_kind[&EntityKind::House], 0);
    assert!(stats.file_bytes > 0);
    drop(dir);
    Ok(())
}

#[test]
fn replacing_a_profile_drops_its_stale_keys() -> TestResult {
    let (_dir, index) = temp_index()?;
    let mut p = person("P-1", IDS[0], "张三", "b1");
    p.keys.push(Key::person(IDS[1]));
    let mut w = index.writer()?;
    w.put_profile(&p)?;
    w.commit()?;
    assert!(index.entity_for_key(&Key::person(IDS[1]))?.is_some());

    let mut replaced = person("P-1", IDS[0], "张三丰", "b2");
    replaced.keys.push(Key::person(IDS[2]));
    let mut w = index.writer()?;
    w.put_profile(&replaced)?;
    w.commit()?;

    assert_eq!(index.entity_for_key(&Key::person(IDS[1]))?, None);
    assert_eq!(
        index.get_by_key(&Key::person(IDS[2]))?,
        Some(replaced.clone())
    );
    assert_eq!(
        index.get_by_key(&Key::person(IDS[0]))?,
        Some(replaced.clone())
    );
    let stats = index.stats()?;
    assert_eq!((stats.entities, stats.keys), (1, 2));
    assert_eq!(stats.profile_bytes, encode_profile(&replaced).len() as u64);
    Ok(())
}

#[test]
fn a_key_cannot_belong_to_two_entities() -> TestResult {
    let (_dir, index) = temp_index()?;
    let mut w = index.writer()?;
    w.put_profile(&person("P-1", IDS[0], "张三", "b1"))?;
    let mut thief = person("P-2", IDS[1], "李四", "b1");
    thief.keys.push(Key::person(IDS[0]));
    let err = w.put_profile(&thief).err();
    match err {
        Some(IndexError::KeyOwnedByOther {
            key,
            owner,
            entity_id,
        }) => {
            assert_eq!(key, Key::person(IDS[0]));
            assert_eq!(owner, EntityId::new("P-1"));
            assert_eq!(entity_id, EntityId::new("P-2"));
        }
        other => panic!("expected KeyOwnedByOther, got {other:?}"),
    }
    // The failed put changed nothing, so this transaction may still commit.
    assert_eq!(w.get(&EntityId::new("P-2"))?, None);
    w.commit()?;
    assert_eq!(
        index.entity_for_key(&Key::person(IDS[0]))?,
        Some(EntityId::new("P-1"))
    );
    assert_eq!(index.entity_for_key(&Key::person(IDS[1]))?, None);

    // Moving a key: rewrite the old owner first, then the new one, in one transaction.
    let mut w = index.writer()?;
    let mut old_owner = person("P-1", IDS[2], "张三", "b1");
    old_owner.facts.clear();
    w.put_profile(&old_owner)?;
    w.put_profile(&thief)?;
    w.commit()?;
    assert_eq!(
        index.entity_for_key(&Key::person(IDS[0]))?,
        Some(EntityId::new("P-2"))
    );
    assert_eq!(
        index.entity_for_key(&Key::person(IDS[2]))?,
        Some(EntityId::new("P-1"))
    );
    Ok(())
}

#[test]
fn merging_facts_is_idempotent() -> TestResult {
    let (_dir, index) = temp_index()?;
    let id = EntityId::new("P-1");
    let mut w = index.writer()?;
    w.put_profile(&person("P-1", IDS[0], "张三", "b1"))?;
    let new = vec![
        fact("phone", "13812348000", "b2", 7),
        fact("name", "张三", "b2", 7),
        // Already there (same resource, batch, record, field), with another value.
        fact("name", "张叁", "b1", 1),
        // Repeated within the same call.
        fact("phone", "13812348000", "b2", 7),
    ];
    assert_eq!(w.merge_facts(&id, &new)?, 2);
    assert_eq!(w.merge_facts(&id, &new)?, 0);
    w.commit()?;

    let p = index.get(&id)?.ok_or("missing profile")?;
    assert_eq!(p.facts.len(), 4);
    assert_eq!(
        p.facts_of("name")
            .map(|f| f.value.as_str())
            .collect::<Vec<_>>(),
        ["张三", "张三"]
    );
    assert_eq!(p.facts_of("phone").count(), 1);

    let mut w = index.writer()?;
    assert!(matches!(
        w.merge_facts(&EntityId::new("P-404"), &new),
        Err(IndexError::UnknownEntity(_))
    ));
    let mut bad = fact("name", "x", "b3", 1);
    bad.sensitivity = 5;
    assert!(matches!(
        w.merge_facts(&id, &[bad]),
        Err(IndexError::InvalidProfile { .. })
    ));
    Ok(())
}

#[test]
fn removing_a_batch_takes_out_only_what_it_backed() -> TestResult {
    let (_dir, index) = temp_index()?;
    let mut p = person("P-1", IDS[0], "张三", "b1");
    p.edges.push(edge("A-1", "b1"));
    p.edges.push(edge("A-2", "b2"));
    p.facts.push(fact("name", "张叁", "b2", 4));
    p.facts.push(fact("phone", "13812348000", "b2", 4));
    p.golden.insert(
        "phone".to_string(),
        GoldenValue {
            value: "13812348000".to_string(),
            resource: "hukou_residents".to_string(),
            unit: "police".to_string(),
            conflicts: vec![],
        },
    );
    if let Some(g) = p.golden.get_mut("name") {
        g.conflicts.push(miaopi_index::Conflict {
            value: "张叁".to_string(),
            resource: "hukou_residents".to_string(),
        });
    }
    let untouched = person("P-2", IDS[1], "李四", "b1");
    let mut w = index.writer()?;
    w.put_profiles([&p, &untouched])?;
    w.commit()?;

    let mut w = index.writer()?;
    let report = w.remove_batch("b2")?;
    w.commit()?;
    assert_eq!(report.profiles, 1);
    assert_eq!(report.facts, 2);
    assert_eq!(report.edges, 1);
    assert_eq!(report.links, 0);
    assert_eq!(report.golden, 1);

    let after = index.get(&EntityId::new("P-1"))?.ok_or("missing profile")?;
    assert!(after.facts.iter().all(|f| f.batch_id == "b1"));
    assert_eq!(after.facts.len(), 2);
    assert_eq!(after.edges, vec![edge("A-1", "b1")]);
    assert!(!after.golden.contains_key("phone"));
    // The name survives (b1 backs it); the conflicting value only b2 backed is gone.
    assert!(after.golden["name"].conflicts.is_empty());
    assert_eq!(after.keys, p.keys);
    assert_eq!(index.get(&EntityId::new("P-2"))?, Some(untouched));
    assert_eq!(
        index.stats()?.profile_bytes,
        (encode_profile(&after).len() + encode_profile(&person("P-2", IDS[1], "李四", "b1")).len())
            as u64
    );

    let mut w = index.writer()?;
    assert_eq!(w.remove_batch("b9")?.profiles, 0);
    Ok(())
}

#[test]
fn removing_a_batch_finds_hex_batch_ids() -> TestResult {
    // Real batch ids are hex hashes, which profiles store packed.
    let (b1, b2) = (
        "0f1e2d3c4b5a69780f1e2d3c4b5a6978",
        "a1b2c3d4e5f60718a1b2c3d4e5f60718",
    );
    let (_dir, index) = temp_index()?;
    let mut p = person("P-1", IDS[0], "张三", b1);
    p.facts.push(fact("phone", "13812348000", b2, 2));
    let mut w = index.writer()?;
    w.put_profile(&p)?;
    w.commit()?;
    let mut w = index.writer()?;
    let report = w.remove_batch(b2)?;
    w.commit()?;
    assert_eq!((report.profiles, report.facts), (1, 1));
    let after = index.get(&EntityId::new("P-1"))?.ok_or("missing profile")?;
    assert_eq!(after.facts.len(), 2);
    assert!(after.facts.iter().all(|f| f.batch_id == b1));
    Ok(())
}

#[test]
fn removing_an_entity_frees_its_keys() -> TestResult {
    let (_dir, index) = temp_index()?;
    let mut w = index.writer()?;
    w.put_profile(&person("P-1", IDS[0], "张三", "b1"))?;
    w.commit()?;
    let mut w = index.writer()?;
    assert!(w.remove_entity(&EntityId::new("P-1"))?);
    assert!(!w.remove_entity(&EntityId::new("P-1"))?);
    w.put_profile(&person("P-9", IDS[0], "张三", "b1"))?;
    w.commit()?;
    assert_eq!(
        index.entity_for_key(&Key::person(IDS[0]))?,
        Some(EntityId::new("P-9"))
    );
    let stats = index.stats()?;
    assert_eq!((stats.entities, stats.keys), (1, 1));
    assert_eq!(stats.entities_by_kind[&EntityKind::Person], 1);
    Ok(())
}

#[test]
fn an_incremental_update_writes_only_changed_profiles_and_drops_vanished_ones() -> TestResult {
    let (_dir, index) = temp_index()?;
    let (p1, p2) = (
        person("P-1", IDS[0], "张三", "b1"),
        person("P-2", IDS[1], "李四", "b1"),
    );
    let mut w = index.writer()?;
    assert_eq!(w.put_profiles_if_changed([&p1, &p2])?, (2, 0));
    w.commit()?;
    let bytes_before = index.stats()?.profile_bytes;

    // The same P-1, a changed P-2 (a new batch's fact), and P-2 takes over the key of P-3,
    // which a new merge made vanish.
    let mut w = index.writer()?;
    w.put_profile(&person("P-3", IDS[2], "王五", "b1"))?;
    w.commit()?;
    let mut p2_new = p2.clone();
    p2_new.facts.push(fact("phone", "13800138000", "b2", 7));
    p2_new.keys.push(Key::person(IDS[2]));
    let mut w = index.writer()?;
    assert_eq!(w.put_profile_if_changed(&p1)?, PutOutcome::Unchanged);
    // P-3 still owns its key: the vanished entity must go first.
    assert!(matches!(
        w.put_profile_if_changed(&p2_new),
        Err(IndexError::KeyOwnedByOther { .. })
    ));
    assert_eq!(w.retain_entities(|id| id != "P-3")?, 1);
    assert_eq!(w.put_profile_if_changed(&p2_new)?, PutOutcome::Written);
    assert_eq!(w.put_profile_if_changed(&p2_new)?, PutOutcome::Unchanged);
    w.commit()?;

    assert_eq!(index.get(&EntityId::new("P-3"))?, None);
    assert_eq!(
        index.entity_for_key(&Key::person(IDS[2]))?,
        Some(EntityId::new("P-2"))
    );
    assert_eq!(index.get(&EntityId::new("P-1"))?.as_ref(), Some(&p1));
    let stats = index.stats()?;
    assert_eq!((stats.entities, stats.keys), (2, 3));
    assert_eq!(
        stats.profile_bytes,
        (encode_profile(&p1).len() + encode_profile(&p2_new).len()) as u64
    );
    assert!(stats.profile_bytes > bytes_before);

    // The reader's walks see exactly what is stored.
    let r = index.reader()?;
    let mut ids = Vec::new();
    assert_eq!(r.for_each_stored(|id, _| ids.push(id.to_string()))?, 2);
    assert_eq!(ids, ["P-1", "P-2"]);
    let mut owners = Vec::new();
    assert_eq!(r.for_each_key(|_, id| owners.push(id.to_string()))?, 3);
    owners.sort();
    assert_eq!(owners, ["P-1", "P-2", "P-2"]);

    // clear() inside a transaction empties everything at commit.
    let mut w = index.writer()?;
    w.clear()?;
    assert_eq!(w.put_profile_if_changed(&p1)?, PutOutcome::Written);
    w.commit()?;
    let stats = index.stats()?;
    assert_eq!((stats.entities, stats.keys), (1, 1));
    assert_eq!(stats.profile_bytes, encode_profile(&p1).len() as u64);
    Ok(())
}

#[test]
fn rebuild_replaces_everything_and_checks_keys() -> TestResult {
    let (_dir, index) = temp_index()?;
    let mut w = index.writer()?;
    w.put_profile(&person("OLD-1", IDS[2], "旧", "b0"))?;
    w.commit()?;

    let profiles = [
        person("P-1", IDS[0], "张三", "b1"),
        person("P-2", IDS[1], "李四", "b1"),
        address("A-1", "4403040010010000001"),
    ];
    let report = index.rebuild(&profiles)?;
    assert_eq!((report.entities, report.keys), (3, 3));
    assert_eq!(index.get(&EntityId::new("OLD-1"))?, None);
    assert_eq!(index.entity_for_key(&Key::person(IDS[2]))?, None);
    assert_eq!(
        index.get_by_key(&Key::person(IDS[1]))?.as_ref(),
        Some(&profiles[1])
    );
    let stats = index.stats()?;
    assert_eq!(stats.entities, 3);
    assert_eq!(stats.entities_by_kind[&EntityKind::Person], 2);
    assert_eq!(stats.profile_bytes, report.profile_bytes);

    let clash = [
        person("P-1", IDS[0], "张三", "b1"),
        person("P-2", IDS[0], "张三", "b1"),
    ];
    assert!(matches!(
        index.rebuild(&clash),
        Err(IndexError::KeyOwnedByOther { .. })
    ));
    let twice = [
        person("P-1", IDS[0], "张三", "b1"),
        person("P-1", IDS[1], "张三", "b1"),
    ];
    assert!(matches!(
        index.rebuild(&twice),
        Err(IndexError::DuplicateEntity(_))
    ));
    // A failed rebuild leaves the previous contents.
    assert_eq!(index.stats()?.entities, 3);
    Ok(())
}

#[test]
fn uncommitted_and_aborted_writes_are_invisible() -> TestResult {
    let (_dir, index) = temp_index()?;
    let mut w = index.writer()?;
    w.put_profile(&person("P-1", IDS[0], "张三", "b1"))?;
    assert!(w.get(&EntityId::new("P-1"))?.is_some());
    assert_eq!(index.get(&EntityId::new("P-1"))?, None);
    w.abort()?;
    assert_eq!(index.get(&EntityId::new("P-1"))?, None);

    let mut w = index.writer()?;
    w.put_profile(&person("P-1", IDS[0], "张三", "b1"))?;
    drop(w);
    assert_eq!(index.stats()?.entities, 0);
    Ok(())
}

#[test]
fn a_reader_keeps_its_snapshot_across_commits() -> TestResult {
    let (_dir, index) = temp_index()?;
    let mut w = index.writer()?;
    w.put_profile(&person("P-1", IDS[0], "张三", "b1"))?;
    w.commit()?;
    let snapshot = index.reader()?;
    let mut w = index.writer()?;
    w.put_profile(&person("P-1", IDS[0], "张三丰", "b2"))?;
    w.commit()?;
    let old = snapshot
        .get_by_key(&Key::person(IDS[0]))?
        .ok_or("missing")?;
    assert_eq!(old.golden["name"].value, "张三");
    let new = index.get_by_key(&Key::person(IDS[0]))?.ok_or("missing")?;
    assert_eq!(new.golden["name"].value, "张三丰");
    Ok(())
}

/// Version `v` of the profile has `v` facts and golden `version` = v, so a reader seeing a
/// half-written profile (or keys and profile from different commits) would notice.
fn versioned(v: u64) -> Profile {
    let mut p = person("P-1", IDS[0], "张三", "b0");
    p.facts = (0..v)
        .map(|i| fact("visit", &i.to_string(), "b", i))
        .collect();
    p.golden.insert(
        "version".to_string(),
        GoldenValue {
            value: v.to_string(),
            resource: "r".to_string(),
            unit: "u".to_string(),
            conflicts: vec![],
        },
    );
    p
}

#[test]
fn readers_run_while_a_writer_commits() -> TestResult {
    const COMMITS: u64 = 60;
    let (_dir, index) = temp_index()?;
    let mut w = index.writer()?;
    w.put_profile(&versioned(1))?;
    w.commit()?;
    let index = Arc::new(index);
    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(Barrier::new(2));
    let reads = Arc::new(AtomicU64::new(0));

    let reader = {
        let (index, done, started, reads) =
            (index.clone(), done.clone(), started.clone(), reads.clone());
        thread::spawn(move || -> Result<Vec<u64>, String> {
            // A snapshot held through every commit: readers never block the writer.
            let held = index.reader().map_err(|e| e.to_string())?;
            started.wait();
            let mut seen = Vec::new();
            while !done.load(Ordering::Acquire) {
                let p = index
                    .get_by_key(&Key::person(IDS[0]))
                    .map_err(|e| e.to_string())?
                    .ok_or("profile vanished during a commit")?;
                let v: u64 = p.golden["version"]
                    .value
                    .parse()
                    .map_err(|_| "bad version")?;
                if p.facts.len() as u64 != v {
                    return Err(format!(
                        "torn read: version {v} with {} facts",
                        p.facts.len()
                    ));
                }
                if seen.last().is_some_and(|&last| v < last) {
                    return Err(format!("went back from {seen:?} to {v}"));
                }
                if seen.last() != Some(&v) {
                    seen.push(v);
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
            let p = held
                .get_by_key(&Key::person(IDS[0]))
                .map_err(|e| e.to_string())?
                .ok_or("snapshot lost the profile")?;
            if p.facts.len() != 1 {
                return Err("the held snapshot changed".to_string());
            }
            Ok(seen)
        })
    };

    started.wait();
    for v in 2..=COMMITS {
        let mut w = index.writer()?;
        w.put_profile(&versioned(v))?;
        w.commit()?;
        // Let the reader observe some intermediate commits even on one core.
        thread::yield_now();
    }
    // Make sure the reader has looked at the final state before stopping it.
    let reads_at_end = reads.load(Ordering::Relaxed);
    while reads.load(Ordering::Relaxed) < reads_at_end + 2 && !reader.is_finished() {
        thread::yield_now();
    }
    done.store(true, Ordering::Release);
    let seen = reader.join().map_err(|_| "reader panicked")??;
    assert_eq!(seen.last(), Some(&COMMITS));
    assert!(
        seen.len() >= 2,
        "reader saw only {seen:?}: no read overlapped the commits"
    );
    Ok(())
}

#[test]
fn foreign_and_old_files_are_refused_clearly() -> TestResult {
    let dir = tempfile::tempdir()?;
    assert!(matches!(
        EntityIndex::open(dir.path().join("missing.redb")),
        Err(IndexError::Open { .. })
    ));

    // A redb file of something else.
    let other = dir.path().join("other.redb");
    {
        let db = Database::create(&other)?;
        let txn = db.begin_write()?;
        txn.open_table(TableDefinition::<&str, u64>::new("batches"))?
            .insert("x", 1)?;
        txn.commit()?;
    }
    assert!(matches!(
        EntityIndex::open(&other),
        Err(IndexError::NotAnIndex { .. })
    ));
    assert!(matches!(
        EntityIndex::create(&other),
        Err(IndexError::NotAnIndex { .. })
    ));

    // An index of another layout version.
    let future = dir.path().join("future.redb");
    drop(EntityIndex::create(&future)?);
    {
        let db = Database::open(&future)?;
        let txn = db.begin_write()?;
        txn.open_table(TableDefinition::<&str, u64>::new("meta"))?
            .insert("layout_version", 99)?;
        txn.commit()?;
    }
    match EntityIndex::open(&future) {
        Err(e @ IndexError::UnsupportedLayout { found: 99, .. }) => {
            assert!(e.to_string().contains("rebuild"), "{e}");
        }
        other => panic!("expected UnsupportedLayout, got {:?}", other.err()),
    }
    Ok(())
}

#[test]
fn a_profile_of_another_format_version_is_a_named_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("entities.redb");
    {
        let index = EntityIndex::create(&path)?;
        let mut w = index.writer()?;
        w.put_profile(&person("P-1", IDS[0], "张三", "b1"))?;
        w.commit()?;
    }
    {
        let db = Database::open(&path)?;
        let txn = db.begin_write()?;
        {
            let mut t = txn.open_table(TableDefinition::<&str, &[u8]>::new("entities"))?;
            let mut bytes = encode_profile(&person("P-1", IDS[0], "张三", "b1"));
            bytes[0] = 7;
            t.insert("P-1", bytes.as_slice())?;
        }
        txn.commit()?;
    }
    let index = EntityIndex::open(&path)?;
    match index.get_by_key(&Key::person(IDS[0])) {
        Err(IndexError::Decode { entity_id, source }) => {
            assert_eq!(entity_id, "P-1");
            assert_eq!(
                source,
                DecodeError::UnsupportedVersion {
                    found: 7,
                    supported: miaopi_index::FORMAT_VERSION
                }
            );
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    // Replacing it cannot know the old keys, so it is refused rather than leaving stale ones.
    let mut w = index.writer()?;
    assert!(matches!(
        w.put_profile(&person("P-1", IDS[0], "张三", "b2")),
        Err(IndexError::Decode { .. })
    ));
    Ok(())
}

#[test]
fn invalid_profiles_are_refused() -> TestResult {
    let (_dir, index) = temp_index()?;
    let mut w = index.writer()?;
    let mut p = person("P-1", IDS[0], "张三", "b1");
    p.facts[0].sensitivity = 0;
    assert!(matches!(
        w.put_profile(&p),
        Err(IndexError::InvalidProfile { .. })
    ));
    let empty = person("", IDS[0], "张三", "b1");
    assert!(matches!(
        w.put_profile(&empty),
        Err(IndexError::InvalidProfile { .. })
    ));
    Ok(())
}

#[test]
fn stored_profiles_are_viewed_in_place() -> TestResult {
    let (_dir, index) = temp_index()?;
    let mut p = person("P-1", IDS[0], "张三", "0f1e2d3c4b5a69780f1e2d3c4b5a6978");
    p.edges.push(edge("A-1", "b1"));
    let mut w = index.writer()?;
    w.put_profile(&p)?;
    w.commit()?;
    let reader = index.reader()?;
    let stored = reader
        .stored_by_key(&Key::person(IDS[0]))?
        .ok_or("missing")?;
    let view = stored.view()?;
    assert_eq!(view.entity_id(), "P-1");
    assert_eq!(view.golden("name").map(|g| g.value), Some("张三"));
    assert_eq!(
        view.facts_of("resident_id")
            .map(|f| f.value)
            .collect::<Vec<_>>(),
        [IDS[0]]
    );
    assert_eq!(
        view.facts().next().map(|f| f.batch_id),
        Some("0f1e2d3c4b5a69780f1e2d3c4b5a6978")
    );
    assert_eq!(view.edges().next().map(|e| e.to), Some("A-1"));
    assert_eq!(stored.decode()?, p);
    assert_eq!(view.to_profile(), p);
    assert!(reader.stored_by_key(&Key::person(IDS[1]))?.is_none());
    assert_eq!(
        reader
            .stored(&EntityId::new("P-1"))?
            .map(|s| s.bytes().to_vec()),
        Some(encode_profile(&p))
    );
    Ok(())
}

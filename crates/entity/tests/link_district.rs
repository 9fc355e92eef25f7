//! Linking on a generated district (10,000 people), scored against the generator's truth:
//! pairwise precision, recall and F1 for persons and legal persons, every damaged ID linked to
//! the right person or sent to review, stable entity ids across re-runs and incremental
//! batches, index profiles whose facts carry provenance, and an entity index updated in place
//! after an increment that equals one rebuilt from the lake.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use miaopi_batch::Home;
use miaopi_entity::{EntityIds, LinkOptions, link_home};
use miaopi_index::{EntityId, EntityIndex, EntityKind, Key, decode_profile};

use miaopi_testkit::{pack, runtime, small_district};

fn district() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| miaopi_testkit::generate(&small_district(10_000)))
        .path()
}

/// Ingests the district's files that `keep` accepts.
async fn ingest(home: &Home, keep: impl Fn(&str) -> bool) {
    miaopi_testkit::ingest(home, &district().join("sources"), keep).await;
}

async fn rows(home: &Home, sql: &str) -> Vec<Vec<Option<String>>> {
    miaopi_testkit::text_rows(home, sql).await
}

/// (truth file, record) → (key field → (true entity, noise)).
type Truth = HashMap<(PathBuf, u64), HashMap<String, String>>;

fn truth_for(source_file: &str, cache: &mut HashMap<PathBuf, Truth>) -> PathBuf {
    let source = PathBuf::from(source_file);
    let rel = source.strip_prefix(district().join("sources")).unwrap();
    let truth = district()
        .join("truth")
        .join(format!("{}.truth.csv", rel.display()));
    if !cache.contains_key(&truth) {
        let mut t: Truth = HashMap::new();
        for line in std::fs::read_to_string(&truth).unwrap().lines().skip(1) {
            let mut parts = line.splitn(3, ',');
            let record: u64 = parts.next().unwrap().parse().unwrap();
            let entities = parts.next().unwrap_or("");
            let map = entities
                .split(';')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            t.insert((truth.clone(), record), map);
        }
        cache.insert(truth.clone(), t);
    }
    truth
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Pairwise precision, recall, F1 over mentions: predicted clusters (entity ids; a review is
/// its own singleton) against true clusters.
fn pairwise(assign: &[(String, String)]) -> (f64, f64, f64) {
    let mut pred: HashMap<&str, u64> = HashMap::new();
    let mut truth: HashMap<&str, u64> = HashMap::new();
    let mut both: HashMap<(&str, &str), u64> = HashMap::new();
    for (p, t) in assign {
        *pred.entry(p).or_default() += 1;
        *truth.entry(t).or_default() += 1;
        *both.entry((p, t)).or_default() += 1;
    }
    let tp: u64 = both.values().map(|&n| pairs(n)).sum();
    let pp: u64 = pred.values().map(|&n| pairs(n)).sum();
    let tt: u64 = truth.values().map(|&n| pairs(n)).sum();
    let precision = tp as f64 / pp.max(1) as f64;
    let recall = tp as f64 / tt.max(1) as f64;
    (
        precision,
        recall,
        2.0 * precision * recall / (precision + recall).max(1e-12),
    )
}

#[test]
fn linking_the_district_matches_the_truth() {
    let rt = runtime();
    rt.block_on(async {
        let home_dir = tempfile::tempdir().unwrap();
        let home = Home::open(home_dir.path()).await.unwrap();
        // Incremental: first everything but social insurance and tax, then those.
        let late = |r: &str| r == "social_insurance_contributions" || r == "tax_declarations";
        ingest(&home, |r| !late(r)).await;
        // A small pass budget, so the fill takes several passes over `dwd` (as at district
        // scale) and the shards must fit together.
        let small_passes = LinkOptions {
            index_pass_bytes: 4 << 20,
            ..LinkOptions::default()
        };
        let first = link_home(pack(), home_dir.path(), &home.lake, &small_passes)
            .await
            .unwrap();
        assert!(first.index_rebuilt, "no index yet: built from scratch");
        assert!(first.index_shards > 1, "{} passes", first.index_shards);
        assert_eq!(first.profiles_unchanged, 0);
        let (first_profiles, first_keys) = dump_index(home_dir.path());
        assert_eq!(first.profiles_written, first_profiles.len() as u64);
        let first_ids: BTreeMap<String, String> =
            rows(&home, "SELECT resident_id, entity_id FROM base.population")
                .await
                .into_iter()
                .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
                .collect();
        assert!(first_ids.len() > 9_000, "{}", first_ids.len());

        let batches_before: HashSet<String> =
            rows(&home, "SELECT DISTINCT batch_id FROM link.links")
                .await
                .into_iter()
                .filter_map(|r| r[0].clone())
                .collect();
        ingest(&home, late).await;
        let report = link_home(pack(), home_dir.path(), &home.lake, &small_passes)
            .await
            .unwrap();
        let (second_profiles, second_keys) = dump_index(home_dir.path());
        check_incremental_update(
            home_dir.path(),
            &report,
            (&first_profiles, &first_keys),
            (&second_profiles, &second_keys),
            &batches_before,
            &rows(
                &home,
                "SELECT old_entity_id, new_entity_id FROM link.merged_entities",
            )
            .await,
        );
        // The index updated in place equals one rebuilt from the lake: the same profile,
        // byte for byte, behind every key.
        let rebuilt = link_home(
            pack(),
            home_dir.path(),
            &home.lake,
            &LinkOptions {
                rebuild_index: true,
                ..LinkOptions::default()
            },
        )
        .await
        .unwrap();
        assert!(rebuilt.index_rebuilt);
        assert_eq!(rebuilt.index_shards, 1, "the default budget: one pass");
        let (rebuilt_profiles, rebuilt_keys) = dump_index(home_dir.path());
        assert_eq!(rebuilt.profiles_written, rebuilt_profiles.len() as u64);
        assert_eq!(
            rebuilt_keys.len(),
            second_keys.len(),
            "keys: incremental vs rebuilt"
        );
        assert!(
            rebuilt_keys == second_keys,
            "every key finds the same entity"
        );
        let differing: Vec<&String> = rebuilt_profiles
            .iter()
            .filter(|(id, bytes)| second_profiles.get(*id) != Some(bytes))
            .map(|(id, _)| id)
            .take(5)
            .collect();
        assert!(
            differing.is_empty() && rebuilt_profiles.len() == second_profiles.len(),
            "profiles: incremental {} vs rebuilt {}, differing e.g. {differing:?}",
            second_profiles.len(),
            rebuilt_profiles.len()
        );
        // Stable ids: every person of the first run keeps its id.
        let second_ids: BTreeMap<String, String> =
            rows(&home, "SELECT resident_id, entity_id FROM base.population")
                .await
                .into_iter()
                .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
                .collect();
        // Stable ids: every person of the first run keeps its id, unless later batches showed
        // its key to be another person's mistyped ID — then the merge is recorded.
        let merged: HashMap<String, String> = rows(
            &home,
            "SELECT old_entity_id, new_entity_id FROM link.merged_entities",
        )
        .await
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
        let mut kept = 0;
        for (key, id) in &first_ids {
            match second_ids.get(key) {
                Some(now) => {
                    assert_eq!(now, id, "{key} changed id across runs");
                    kept += 1;
                }
                None => assert!(
                    merged.contains_key(id),
                    "{key} ({id}) vanished without a merge record"
                ),
            }
        }
        assert!(
            kept as f64 >= 0.999 * first_ids.len() as f64,
            "{kept} of {}",
            first_ids.len()
        );

        // Every mention is linked or in review, never both, never neither.
        let links = rows(
            &home,
            "SELECT entity_kind, entity_id, field, source_file, record, method FROM link.links",
        )
        .await;
        let reviews = rows(
            &home,
            "SELECT entity_kind, field, source_file, record, reason_code FROM link.review",
        )
        .await;
        assert_eq!(
            links.len() as u64 + reviews.len() as u64,
            report.counts.mentions
        );

        let mut cache: HashMap<PathBuf, Truth> = HashMap::new();
        let mut person: Vec<(String, String)> = Vec::new();
        let mut legal: Vec<(String, String)> = Vec::new();
        let mut wrong_messy: Vec<String> = Vec::new();
        let mut messy_total = 0u64;
        let mut unmatched_truth = 0u64;
        let messy = [
            "id_transposed",
            "id_wrong_check",
            "id_legacy15",
            "id_lowercase_x",
            "id_missing",
        ];
        for (kind, pred, field, file, record) in links
            .iter()
            .map(|r| {
                (
                    r[0].clone().unwrap(),
                    r[1].clone().unwrap(),
                    r[2].clone().unwrap(),
                    r[3].clone().unwrap(),
                    r[4].clone().unwrap(),
                )
            })
            .chain(reviews.iter().map(|r| {
                let unique = format!(
                    "review:{}:{}:{}",
                    r[2].as_deref().unwrap(),
                    r[3].as_deref().unwrap(),
                    r[1].as_deref().unwrap()
                );
                (
                    r[0].clone().unwrap(),
                    unique,
                    r[1].clone().unwrap(),
                    r[2].clone().unwrap(),
                    r[3].clone().unwrap(),
                )
            }))
        {
            let record: u64 = record.parse().unwrap();
            let truth_file = truth_for(&file, &mut cache);
            let Some(true_entity) = cache[&truth_file]
                .get(&(truth_file.clone(), record))
                .and_then(|m| m.get(&field))
                .cloned()
            else {
                unmatched_truth += 1;
                continue;
            };
            let noise = noise_of(&file, record);
            if noise.iter().any(|n| messy.contains(&n.as_str())) {
                messy_total += 1;
                if !pred.starts_with("review:") {
                    // Linked: must be the true entity. Compare through base.population below.
                    wrong_messy.push(format!("{pred}|{true_entity}|{file}|{record}"));
                }
            }
            match kind.as_str() {
                "person" => person.push((pred, true_entity)),
                _ => legal.push((pred, true_entity)),
            }
        }
        assert_eq!(unmatched_truth, 0, "links naming fields the truth does not");
        // Messy IDs linked: to the entity whose register key is the true one.
        let key_of: HashMap<String, String> = second_ids
            .iter()
            .map(|(k, v)| (v.clone(), k.clone()))
            .collect();
        let legal_key = |id: &str| id.strip_prefix('E').map(str::to_string);
        let mut wrong = 0;
        let mut examples = Vec::new();
        for w in &wrong_messy {
            let parts: Vec<&str> = w.split('|').collect();
            let true_key = parts[1].split_once(':').map(|x| x.1).unwrap_or("");
            let pred_key = key_of
                .get(parts[0])
                .cloned()
                .or_else(|| legal_key(parts[0]));
            if pred_key.as_deref() != Some(true_key) {
                wrong += 1;
                if examples.len() < 8 {
                    examples.push(format!(
                        "{w} pred_key={pred_key:?} noise={:?}",
                        noise_of(parts[2], parts[3].parse().unwrap())
                    ));
                }
            }
        }
        assert!(
            messy_total > 500,
            "the district has messy IDs: {messy_total}"
        );
        assert_eq!(
            wrong, 0,
            "damaged IDs linked to the wrong entity (of {messy_total}): {examples:#?}"
        );

        let (p, r, f1) = pairwise(&person);
        eprintln!(
            "person links: precision {p:.5} recall {r:.5} F1 {f1:.5} over {} mentions",
            person.len()
        );
        assert!(f1 >= 0.99, "person F1 {f1} (precision {p}, recall {r})");
        let (p, r, f1) = pairwise(&legal);
        eprintln!(
            "legal-person links: precision {p:.5} recall {r:.5} F1 {f1:.5} over {} mentions",
            legal.len()
        );
        assert!(
            f1 >= 0.99,
            "legal-person F1 {f1} (precision {p}, recall {r})"
        );

        // Profiles in the index: facts with provenance; golden values; edges both ways.
        let index = EntityIndex::open(home_dir.path().join("index.redb")).unwrap();
        let (some_key, _) = second_ids.iter().next().unwrap();
        let profile = index.get_by_key(&Key::person(some_key)).unwrap().unwrap();
        assert_eq!(profile.kind, EntityKind::Person);
        assert!(!profile.facts.is_empty());
        for f in &profile.facts {
            assert!(
                !f.unit.is_empty() && f.batch_id.len() == 32 && f.ingested_at_us > 0,
                "{f:?}"
            );
        }
        assert!(profile.golden.contains_key("name"));
        let masked = profile.masked();
        let id_fact = masked
            .facts
            .iter()
            .find(|f| f.field == "resident_id")
            .unwrap();
        assert!(
            id_fact.value.contains('*'),
            "masked by default: {}",
            id_fact.value
        );
    });
}

/// Entity id → stored profile bytes, and stored key bytes → entity id.
type Dump = (BTreeMap<String, Vec<u8>>, BTreeMap<Vec<u8>, String>);

fn dump_index(home: &Path) -> Dump {
    let index = EntityIndex::open(home.join("index.redb")).unwrap();
    let r = index.reader().unwrap();
    let mut profiles = BTreeMap::new();
    r.for_each_stored(|id, bytes| {
        profiles.insert(id.to_string(), bytes.to_vec());
    })
    .unwrap();
    let mut keys = BTreeMap::new();
    r.for_each_key(|key, id| {
        keys.insert(key.to_vec(), id.to_string());
    })
    .unwrap();
    (profiles, keys)
}

/// An index as read back: entity id → profile bytes, and key bytes → entity id.
type IndexSnapshot<'a> = (&'a BTreeMap<String, Vec<u8>>, &'a BTreeMap<Vec<u8>, String>);

/// The second run updated the index in place: it wrote exactly the profiles whose bytes
/// changed (or are new), left the rest untouched, and removed exactly the entities that
/// vanished — entities merged into another, whose keys now find the survivor.
fn check_incremental_update(
    home: &Path,
    report: &miaopi_entity::LinkReport,
    (before, keys_before): IndexSnapshot<'_>,
    (after, keys_after): IndexSnapshot<'_>,
    batches_before: &HashSet<String>,
    merged: &[Vec<Option<String>>],
) {
    assert!(!report.index_rebuilt, "an index existed: updated in place");
    let changed = after
        .iter()
        .filter(|(id, bytes)| before.get(*id) != Some(bytes))
        .count() as u64;
    let same = after.len() as u64 - changed;
    let vanished: Vec<&String> = before
        .keys()
        .filter(|id| !after.contains_key(*id))
        .collect();
    eprintln!(
        "incremental index: {} written, {} unchanged, {} removed of {} profiles",
        report.profiles_written,
        report.profiles_unchanged,
        report.profiles_removed,
        after.len()
    );
    assert_eq!(report.profiles_written, changed, "written = changed or new");
    assert_eq!(
        report.profiles_unchanged, same,
        "unchanged = byte-identical"
    );
    assert_eq!(report.profiles_removed, vanished.len() as u64);
    // The increment (social insurance, tax) touches the working population and their
    // employers, not children, pensioners, addresses or houses: most profiles stay as they are.
    assert!(
        same > changed,
        "{same} unchanged vs {changed} written: the update is not incremental"
    );
    // A profile that names no batch of the increment was not touched by it. It may still
    // change when a link changed — the second run retrains the model on more data, so a
    // borderline mention can move between an entity and review — or a merge moved a key onto
    // it; then its set of linked records changes, or an edge to such an entity does. Any other
    // rewrite is the fill's fault.
    type Records = std::collections::BTreeSet<(String, String, u64)>;
    let records = |p: &miaopi_index::Profile| -> Records {
        p.facts
            .iter()
            .map(|f| (f.resource.clone(), f.batch_id.clone(), f.record))
            .collect()
    };
    let mut relinked: HashSet<String> = HashSet::new();
    for (id, bytes) in after {
        if let Some(old) = before.get(id).filter(|old| *old != bytes) {
            let (a, b) = (decode_profile(old).unwrap(), decode_profile(bytes).unwrap());
            if records(&a) != records(&b) {
                relinked.insert(id.clone());
            }
        }
    }
    let mut untouched_changed = Vec::new();
    let mut by_relink = 0;
    for (id, bytes) in after {
        let Some(old) = before.get(id).filter(|old| *old != bytes) else {
            continue;
        };
        let (a, b) = (decode_profile(old).unwrap(), decode_profile(bytes).unwrap());
        let new_batch = b
            .facts
            .iter()
            .map(|f| &f.batch_id)
            .chain(b.edges.iter().map(|e| &e.batch_id))
            .any(|batch| !batches_before.contains(batch));
        if new_batch {
            continue;
        }
        let keys_moved = b.keys.iter().any(|k| {
            keys_before
                .get(&k.to_bytes())
                .is_some_and(|owner| owner != id)
        });
        let edge_to_relinked = a
            .edges
            .iter()
            .filter(|e| !b.edges.contains(e))
            .chain(b.edges.iter().filter(|e| !a.edges.contains(e)))
            .all(|e| relinked.contains(e.to.as_str()));
        if keys_moved || relinked.contains(id) || (a.facts == b.facts && edge_to_relinked) {
            by_relink += 1;
            continue;
        }
        untouched_changed.push(id.clone());
    }
    eprintln!("profiles changed by a changed link or a moved key, not by new batches: {by_relink}");
    assert!(
        by_relink * 100 < after.len(),
        "{by_relink} profiles rewritten for changed links: more than 1%"
    );
    // Vanished entities are merged ones; every merged entity's own key finds its survivor,
    // and the merged id has no profile of its own.
    let merged: HashMap<&str, &str> = merged
        .iter()
        .map(|r| (r[0].as_deref().unwrap(), r[1].as_deref().unwrap()))
        .collect();
    for id in &vanished {
        assert!(
            merged.contains_key(id.as_str()),
            "{id} vanished from the index without a merge"
        );
    }
    let ids = EntityIds::open(home).unwrap();
    let index = EntityIndex::open(home.join("index.redb")).unwrap();
    let mut followed = 0;
    for (old, new) in &merged {
        assert!(
            !after.contains_key(*old),
            "merged {old} still has a profile"
        );
        let Some(survivor) = index.get(&EntityId::new(new.to_string())).unwrap() else {
            continue;
        };
        let old_key = survivor
            .keys
            .iter()
            .find(|k| ids.person(k.value()) == *old)
            .unwrap_or_else(|| panic!("{new} carries no key of merged {old}"));
        assert_eq!(
            index
                .entity_for_key(old_key)
                .unwrap()
                .as_ref()
                .map(EntityId::as_str),
            Some(*new)
        );
        followed += 1;
    }
    assert_eq!(
        keys_after
            .values()
            .filter(|id| merged.contains_key(id.as_str()))
            .count(),
        0,
        "no key points to a merged entity"
    );
    eprintln!(
        "merged entities: {} ({} vanished in this update), each key followed to its survivor: {followed}",
        merged.len(),
        vanished.len()
    );
}

fn noise_of(file: &str, record: u64) -> Vec<String> {
    type NoiseByFile = HashMap<String, HashMap<u64, Vec<String>>>;
    static NOISE: OnceLock<std::sync::Mutex<NoiseByFile>> = OnceLock::new();
    let map = NOISE.get_or_init(Default::default);
    let mut map = map.lock().unwrap();
    let per_file = map.entry(file.to_string()).or_insert_with(|| {
        let source = PathBuf::from(file);
        let rel = source.strip_prefix(district().join("sources")).unwrap();
        let truth = district()
            .join("truth")
            .join(format!("{}.truth.csv", rel.display()));
        std::fs::read_to_string(truth)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let mut parts = l.splitn(3, ',');
                let record: u64 = parts.next().unwrap().parse().unwrap();
                let noise = parts
                    .nth(1)
                    .unwrap_or("")
                    .split(';')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                (record, noise)
            })
            .collect()
    });
    per_file.get(&record).cloned().unwrap_or_default()
}

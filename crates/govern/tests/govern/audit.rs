//! The audit chain: appends, verification, and tampering of every kind caught at its seq.

use chrono::{Duration, Utc};
use miaopi_govern::{ActorKind, AuditEntry, AuditFilter, ChainProblemKind, Governance, entry_hash};
use sqlx::Row;

use crate::{Store, at, store};

const SUBJECTS: [&str; 3] = [
    "11010519491231002X",
    "440524188001010014",
    "91350100M000100Y43",
];

fn entry(i: usize) -> AuditEntry {
    AuditEntry {
        actor_kind: if i.is_multiple_of(2) {
            ActorKind::Consumer
        } else {
            ActorKind::Account
        },
        actor_id: format!("actor_{}", i % 4),
        subject: SUBJECTS[i % 3].into(),
        action: "read_profile".into(),
        resources: vec!["hukou_residents".into()],
        fields: vec!["hukou_residents.name".into(), format!("f{i}")],
        purpose: "matter:senior_allowance".into(),
        request_id: format!("req-{i}"),
        at: at("2025-06-01T08:00:00Z") + Duration::seconds(i as i64),
        ..AuditEntry::default()
    }
}

/// A store with `n` entries appended (in batches and singly) and checkpoints every 100.
async fn chain(n: usize) -> (Store, Governance) {
    let s = store().await;
    let gov = s.gov.clone().with_checkpoint_interval(100);
    let entries: Vec<AuditEntry> = (0..n).map(entry).collect();
    let (batch, single) = entries.split_at(n - 10);
    for part in batch.chunks(37) {
        gov.append_audits(part).await.unwrap();
    }
    for e in single {
        gov.append_audit(e).await.unwrap();
    }
    (s, gov)
}

async fn exec(s: &Store, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(s.meta.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn appended_chain_verifies_and_lists() {
    let (s, gov) = chain(250).await;
    let report = gov.verify_audit_chain().await.unwrap();
    assert!(report.intact, "{report:?}");
    assert_eq!(report.entries_checked, 250);
    assert_eq!(report.last_seq, 250);
    assert_eq!(
        report.checkpoints_checked, 2,
        "automatic checkpoints at 100 and 200"
    );

    // Seqs are 1..=250, each linked to the one before.
    let rows = sqlx::query("SELECT seq, prev_hash, entry_hash FROM gov_audit_entries ORDER BY seq")
        .fetch_all(s.meta.pool())
        .await
        .unwrap();
    let mut prev = "0".repeat(64);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.get::<i64, _>("seq"), i as i64 + 1);
        assert_eq!(row.get::<String, _>("prev_hash"), prev);
        prev = row.get("entry_hash");
    }

    // The published hash function agrees with the stored chain.
    let all = gov
        .audit_entries(&AuditFilter {
            limit: Some(1000),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 250);
    let first = all.last().unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(
        entry_hash(&first.prev_hash, 1, &first.entry).unwrap(),
        first.entry_hash
    );
    assert_eq!(
        first.entry.subject_masked, "110105********002X",
        "masked copy derived"
    );
    assert_eq!(first.entry.subject, SUBJECTS[0], "subject stored as given");

    // Filters: by subject (the citizen's page), actor, time, paging; newest first.
    let mine = gov
        .audit_entries(&AuditFilter {
            subject: Some(SUBJECTS[1].into()),
            limit: Some(1000),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.len(), 83);
    assert!(mine.iter().all(|r| r.entry.subject == SUBJECTS[1]));
    assert!(mine.windows(2).all(|w| w[0].seq > w[1].seq));
    let by_actor = gov
        .audit_entries(&AuditFilter {
            actor_id: Some("actor_1".into()),
            actor_kind: Some(ActorKind::Account),
            limit: Some(1000),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_actor.len(), 63);
    let recent = gov
        .audit_entries(&AuditFilter {
            since: Some(at("2025-06-01T08:04:00Z")),
            limit: Some(5),
            offset: 2,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        recent.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [248, 247, 246, 245, 244]
    );

    // An explicit checkpoint at the end; asking again returns the same one.
    let cp = gov.checkpoint(Utc::now()).await.unwrap();
    assert_eq!(cp.seq, 250);
    assert_eq!(cp.entry_hash, report.last_hash);
    assert_eq!(gov.checkpoint(Utc::now()).await.unwrap().seq, 250);
    assert_eq!(gov.checkpoints().await.unwrap().len(), 3);
    assert!(gov.verify_audit_chain().await.unwrap().intact);
}

#[tokio::test]
async fn concurrent_appends_never_fork() {
    let s = store().await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let gov = s.gov.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..15 {
                gov.append_audit(&entry(t * 100 + i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let report = s.gov.verify_audit_chain().await.unwrap();
    assert!(report.intact, "{report:?}");
    assert_eq!(report.entries_checked, 120);
}

#[tokio::test]
async fn an_edited_entry_is_named() {
    let (s, gov) = chain(150).await;
    exec(
        &s,
        "UPDATE gov_audit_entries SET actor_id = 'someone_else' WHERE seq = 37",
    )
    .await;
    let report = gov.verify_audit_chain().await.unwrap();
    assert!(!report.intact);
    let problem = report.problem.unwrap();
    assert_eq!((problem.seq, problem.kind), (37, ChainProblemKind::Edited));
    assert!(problem.message.contains("37"), "{}", problem.message);
    assert_eq!(report.entries_checked, 36);
}

#[tokio::test]
async fn an_edited_time_or_field_list_is_named() {
    let (s, gov) = chain(50).await;
    exec(
        &s,
        "UPDATE gov_audit_entries SET fields_json = '[\"hukou_residents.name\"]' WHERE seq = 12",
    )
    .await;
    let p = gov.verify_audit_chain().await.unwrap().problem.unwrap();
    assert_eq!((p.seq, p.kind), (12, ChainProblemKind::Edited));
    let (s, gov) = chain(50).await;
    exec(
        &s,
        "UPDATE gov_audit_entries SET at = '2025-06-01T09:00:00.000000Z' WHERE seq = 5",
    )
    .await;
    let p = gov.verify_audit_chain().await.unwrap().problem.unwrap();
    assert_eq!((p.seq, p.kind), (5, ChainProblemKind::Edited));
}

#[tokio::test]
async fn a_deleted_entry_is_named() {
    let (s, gov) = chain(150).await;
    exec(&s, "DELETE FROM gov_audit_entries WHERE seq = 120").await;
    let p = gov.verify_audit_chain().await.unwrap().problem.unwrap();
    assert_eq!((p.seq, p.kind), (120, ChainProblemKind::Missing));
}

#[tokio::test]
async fn a_cut_tail_is_named() {
    let (s, gov) = chain(150).await;
    exec(&s, "DELETE FROM gov_audit_entries WHERE seq > 140").await;
    let p = gov.verify_audit_chain().await.unwrap().problem.unwrap();
    assert_eq!((p.seq, p.kind), (141, ChainProblemKind::Missing));
}

#[tokio::test]
async fn swapped_entries_are_named() {
    let (s, gov) = chain(150).await;
    exec(
        &s,
        "UPDATE gov_audit_entries SET seq = -1 WHERE seq = 60;
         UPDATE gov_audit_entries SET seq = 60 WHERE seq = 61;
         UPDATE gov_audit_entries SET seq = 61 WHERE seq = -1;",
    )
    .await;
    let p = gov.verify_audit_chain().await.unwrap().problem.unwrap();
    assert_eq!((p.seq, p.kind), (60, ChainProblemKind::Reordered));
}

/// What an attacker who edited entry `edited` does next: re-hash it and every entry after it,
/// and the head — and, with `checkpoints`, the stored checkpoints too.
async fn rehash_after_edit(s: &Store, gov: &Governance, edited: u64, checkpoints: bool) {
    let mut records = gov
        .audit_entries(&AuditFilter {
            limit: Some(1000),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    records.reverse();
    let first = records.iter().position(|r| r.seq == edited).unwrap();
    let mut prev = records[first].prev_hash.clone();
    for r in &records[first..] {
        let h = entry_hash(&prev, r.seq, &r.entry).unwrap();
        sqlx::query("UPDATE gov_audit_entries SET prev_hash = ?, entry_hash = ? WHERE seq = ?")
            .bind(&prev)
            .bind(&h)
            .bind(r.seq as i64)
            .execute(s.meta.pool())
            .await
            .unwrap();
        if checkpoints {
            sqlx::query("UPDATE gov_audit_checkpoints SET entry_hash = ? WHERE seq = ?")
                .bind(&h)
                .bind(r.seq as i64)
                .execute(s.meta.pool())
                .await
                .unwrap();
        }
        prev = h;
    }
    sqlx::query("UPDATE gov_audit_head SET last_hash = ?")
        .bind(&prev)
        .execute(s.meta.pool())
        .await
        .unwrap();
}

/// An attacker who edits an entry and re-hashes everything after it (and the head) makes the
/// chain consistent again; only the checkpoint written earlier still tells.
#[tokio::test]
async fn a_rewritten_history_disagrees_with_its_checkpoint() {
    let (s, gov) = chain(150).await;
    exec(
        &s,
        "UPDATE gov_audit_entries SET actor_id = 'someone_else' WHERE seq = 42",
    )
    .await;
    rehash_after_edit(&s, &gov, 42, false).await;
    let report = gov.verify_audit_chain().await.unwrap();
    let p = report.problem.unwrap();
    assert_eq!((p.seq, p.kind), (100, ChainProblemKind::CheckpointMismatch));
    assert_eq!(report.entries_checked, 99);
}

#[tokio::test]
async fn a_forged_head_is_noticed() {
    let (s, gov) = chain(20).await;
    exec(
        &s,
        "UPDATE gov_audit_head SET last_hash = 'ab' || substr(last_hash, 3)",
    )
    .await;
    let p = gov.verify_audit_chain().await.unwrap().problem.unwrap();
    assert_eq!((p.seq, p.kind), (20, ChainProblemKind::HeadMismatch));
}

/// An attacker who can write the meta store rewrites the chain from scratch: entries,
/// hashes, the head and the stored checkpoints all recomputed. The store alone then verifies;
/// checkpoints exported earlier and kept elsewhere (anchors) do not agree with it.
#[tokio::test]
async fn a_chain_rewritten_from_scratch_is_caught_by_exported_checkpoints() {
    let (s, gov) = chain(150).await;
    let anchors = {
        gov.checkpoint(Utc::now()).await.unwrap();
        gov.checkpoints().await.unwrap()
    };
    assert!(anchors.iter().any(|c| c.seq == 150), "{anchors:?}");
    assert!(
        gov.verify_audit_chain_against(&anchors)
            .await
            .unwrap()
            .intact
    );

    exec(
        &s,
        "UPDATE gov_audit_entries SET actor_id = 'someone_else' WHERE seq = 42",
    )
    .await;
    rehash_after_edit(&s, &gov, 42, true).await;
    let alone = gov.verify_audit_chain().await.unwrap();
    assert!(
        alone.intact,
        "the store alone cannot tell a rewrite from scratch: {alone:?}"
    );
    let anchored = gov.verify_audit_chain_against(&anchors).await.unwrap();
    assert!(!anchored.intact);
    let p = anchored.problem.unwrap();
    assert_eq!(p.kind, ChainProblemKind::CheckpointMismatch, "{p:?}");
    // The first exported checkpoint after the edit: seq 100.
    assert_eq!(p.seq, 100);

    // A chain cut short of an exported checkpoint is caught too.
    let later = miaopi_govern::Checkpoint {
        seq: 151,
        entry_hash: "00".repeat(32),
        created_at: Utc::now(),
    };
    let cut = gov
        .verify_audit_chain_against(std::slice::from_ref(&later))
        .await
        .unwrap();
    assert_eq!(cut.problem.map(|p| p.kind), Some(ChainProblemKind::Missing));
}

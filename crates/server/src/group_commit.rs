//! Group commit: many requests, one durable transaction. Every read of personal data must be
//! on the audit chain, and every decision stored, before its answer leaves; each of those is a
//! transaction ending in an fsync. One writer task per kind takes whatever items are waiting —
//! up to its batch size — commits them together, then answers every request of the batch:
//! under load many requests share one fsync; alone, a request waits for its own.

use std::future::Future;

use miaopi_apply::{Platform, Recorded, ToRecord};
use miaopi_decide::Receipt;
use miaopi_govern::{AuditEntry, Governance};
use tokio::sync::{mpsc, oneshot};

type Reply<R> = oneshot::Sender<Result<R, String>>;

/// A handle requests use to submit items to one writer task (cheap to clone).
pub struct GroupWriter<T, R> {
    sender: mpsc::Sender<(T, Reply<R>)>,
}

impl<T, R> Clone for GroupWriter<T, R> {
    fn clone(&self) -> Self {
        GroupWriter {
            sender: self.sender.clone(),
        }
    }
}

impl<T: Send + 'static, R: Send + 'static> GroupWriter<T, R> {
    /// Starts the writer task on the current runtime. `commit` stores a batch in one
    /// transaction and answers each item, in order; an error fails the whole batch.
    pub fn start<F, Fut>(name: &'static str, max_batch: usize, mut commit: F) -> Self
    where
        F: FnMut(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<R>, String>> + Send,
    {
        assert!(max_batch > 0);
        let (sender, mut receiver) = mpsc::channel::<(T, Reply<R>)>(4 * max_batch);
        tokio::spawn(async move {
            let mut replies: Vec<Reply<R>> = Vec::with_capacity(max_batch);
            while let Some((item, reply)) = receiver.recv().await {
                let mut items = Vec::with_capacity(max_batch);
                items.push(item);
                replies.push(reply);
                while items.len() < max_batch {
                    match receiver.try_recv() {
                        Ok((item, reply)) => {
                            items.push(item);
                            replies.push(reply);
                        }
                        Err(_) => break,
                    }
                }
                let submitted = items.len();
                let answers = commit(items).await.and_then(|answers| {
                    if answers.len() == submitted {
                        Ok(answers)
                    } else {
                        Err(format!(
                            "{name}: {} answers for {submitted} items",
                            answers.len()
                        ))
                    }
                });
                match answers {
                    Ok(answers) => {
                        for (reply, answer) in replies.drain(..).zip(answers) {
                            // A request that gave up waiting (client gone) needs no answer.
                            let _ = reply.send(Ok(answer));
                        }
                    }
                    Err(e) => {
                        tracing::error!(writer = name, items = submitted, error = %e, "group commit failed");
                        for reply in replies.drain(..) {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                }
            }
        });
        GroupWriter { sender }
    }

    /// Submits one item; returns once its batch is committed (or failed).
    pub async fn submit(&self, item: T) -> Result<R, String> {
        let (reply, done) = oneshot::channel();
        self.sender
            .send((item, reply))
            .await
            .map_err(|_| "the writer has stopped".to_string())?;
        done.await
            .map_err(|_| "the writer dropped the item".to_string())?
    }
}

/// Most audit entries appended in one transaction.
pub const AUDIT_BATCH: usize = 512;

/// Appends audit entries to the chain in group commits.
pub type AuditWriter = GroupWriter<AuditEntry, ()>;

pub fn audit_writer(gov: Governance) -> AuditWriter {
    GroupWriter::start("audit", AUDIT_BATCH, move |entries: Vec<AuditEntry>| {
        let gov = gov.clone();
        async move {
            gov.append_audits(&entries)
                .await
                .map(|_| vec![(); entries.len()])
                .map_err(|e| e.to_string())
        }
    })
}

/// Most decisions stored in one transaction.
pub const DECISION_BATCH: usize = 256;

/// A decision waiting to be stored: the receipt, when its certificate is issued, and how long
/// deciding took (microseconds).
pub type PendingDecision = (Receipt, chrono::DateTime<chrono::FixedOffset>, u64);

/// Stores decisions (receipts, latencies, certificates) in group commits; answers each with
/// what became of it: the decision in force (a repeat application gets the stored one) and
/// its certificate, if an approval.
pub type DecisionWriter = GroupWriter<PendingDecision, Recorded>;

pub fn decision_writer(platform: std::sync::Arc<Platform>) -> DecisionWriter {
    GroupWriter::start(
        "decisions",
        DECISION_BATCH,
        move |pending: Vec<PendingDecision>| {
            let platform = platform.clone();
            async move {
                let items: Vec<ToRecord<'_>> = pending
                    .iter()
                    .map(|(receipt, issued_at, decision_us)| ToRecord {
                        receipt,
                        issued_at: *issued_at,
                        decision_us: Some(*decision_us),
                    })
                    .collect();
                platform
                    .record_group(&items)
                    .await
                    .map_err(|e| e.to_string())
            }
        },
    )
}

//! Group commit for the audit chain. Every read of personal data must be on the chain before
//! its answer leaves, and each chain append is a durable transaction (an fsync). One writer
//! task takes whatever entries are waiting — up to [`MAX_BATCH`] — and appends them in one
//! transaction, then answers every request in the batch: under load, many reads share one
//! fsync; alone, a read waits for its own.

use miaopi_govern::{AuditEntry, Governance};
use tokio::sync::{mpsc, oneshot};

/// Most entries appended in one transaction.
pub const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<(), String>>;

/// The handle requests use to append (cheap to clone).
#[derive(Clone)]
pub struct AuditWriter {
    sender: mpsc::Sender<(AuditEntry, Reply)>,
}

impl AuditWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(gov: Governance) -> AuditWriter {
        let (sender, receiver) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(gov, receiver));
        AuditWriter { sender }
    }

    /// Appends one entry; returns once it is committed (or the append failed).
    pub async fn append(&self, entry: AuditEntry) -> Result<(), String> {
        let (reply, done) = oneshot::channel();
        self.sender
            .send((entry, reply))
            .await
            .map_err(|_| "the audit writer has stopped".to_string())?;
        done.await
            .map_err(|_| "the audit writer dropped the entry".to_string())?
    }
}

async fn run(gov: Governance, mut receiver: mpsc::Receiver<(AuditEntry, Reply)>) {
    let mut entries = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    while let Some((entry, reply)) = receiver.recv().await {
        entries.push(entry);
        replies.push(reply);
        while entries.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok((entry, reply)) => {
                    entries.push(entry);
                    replies.push(reply);
                }
                Err(_) => break,
            }
        }
        let result = gov
            .append_audits(&entries)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        debug_assert_eq!(entries.len(), replies.len());
        for reply in replies.drain(..) {
            // A request that gave up waiting (client gone) needs no answer.
            let _ = reply.send(result.clone());
        }
        entries.clear();
    }
}

//! Reads appended to the audit chain: a read that cannot be audited is not served.

use std::collections::BTreeSet;

use chrono::Utc;
use miaopi_govern::AuditEntry;

use crate::error::{ApiError, ApiResult, current_request_id};
use crate::governed::identity::Caller;
use crate::state::AppState;

/// Appends one read to the audit chain. A read that cannot be audited is not served.
pub async fn audit_read(
    state: &AppState,
    caller: &Caller,
    subject: &str,
    action: &str,
    fields: Vec<String>,
    purpose: &str,
) -> ApiResult<()> {
    audit_reads(
        state,
        caller,
        &[subject.to_string()],
        action,
        &fields,
        purpose,
    )
    .await
}

/// Appends one entry per subject (all in the same group commit when the writer is idle).
pub async fn audit_reads(
    state: &AppState,
    caller: &Caller,
    subjects: &[String],
    action: &str,
    fields: &[String],
    purpose: &str,
) -> ApiResult<()> {
    let (actor_kind, actor_id) = caller.actor();
    let resources: Vec<String> = fields
        .iter()
        .filter_map(|f| f.split_once('.').map(|(r, _)| r.to_string()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let request_id = current_request_id();
    let at = Utc::now();
    let appends = subjects.iter().map(|subject| {
        state.audit.submit(AuditEntry {
            actor_kind,
            actor_id: actor_id.clone(),
            subject: subject.clone(),
            subject_masked: String::new(),
            action: action.to_string(),
            resources: resources.clone(),
            fields: fields.to_vec(),
            purpose: purpose.to_string(),
            request_id: request_id.clone(),
            detail: String::new(),
            at,
        })
    });
    futures::future::try_join_all(appends)
        .await
        .map_err(|e| ApiError::internal("writing the audit chain", e))?;
    Ok(())
}

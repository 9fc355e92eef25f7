//! 共享申请 (the providers' review queue), 审计 (the audit chain and its verification) and
//! 我的数据使用记录 (a citizen's view of every access to their own data).

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use chrono::Utc;
use miaopi_govern::{
    ActorKind, AuditFilter, AuditRecord, GovernError, Purpose, Role, mask_subject,
};
use serde::Deserialize;

use super::{
    Chrome, PageResult, Refusal, Viewer, action_zh, encode_component, error_page, internal, render,
    shanghai_time,
};
use crate::governed::Caller;
use crate::state::AppState;

pub struct RequestRow {
    pub request_id: String,
    pub consumer: String,
    pub resource: String,
    pub resource_code: String,
    pub unit: String,
    pub share_type: String,
    pub fields: String,
    pub sensitive: String,
    pub unmasked: String,
    pub purpose: String,
    pub justification: String,
    pub valid_until: String,
    pub requested_at: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "console/requests.html")]
struct RequestsPage {
    chrome: Chrome,
    requests: Vec<RequestRow>,
    scope: String,
    notice: String,
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
    resource: Option<String>,
}

fn reviewer_only(viewer: &Viewer) -> Result<(), Refusal> {
    viewer.require(
        viewer.is_reviewer(),
        "只有提供方审核员或系统管理员可以审核共享申请",
    )
}

/// The unit whose queue a reviewer sees; `None` for administrators (every unit).
fn reviewer_unit(viewer: &Viewer) -> Option<String> {
    if viewer.is_administrator() {
        return None;
    }
    match &viewer.caller {
        Caller::Account(a) => a.roles.iter().find_map(|r| match r {
            Role::ProviderReviewer { unit_code } => Some(unit_code.clone()),
            _ => None,
        }),
        _ => None,
    }
}

pub async fn requests(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    reviewer_only(&viewer)?;
    let chrome = || viewer.chrome("共享申请", "/console/requests");
    let unit = reviewer_unit(&viewer);
    let pending = state
        .gov
        .pending_requests(unit.as_deref())
        .await
        .map_err(|e| internal(chrome(), "reading the review queue", e))?;
    let mut consumers: HashMap<String, String> = HashMap::new();
    let mut rows = Vec::with_capacity(pending.len());
    for r in pending {
        if !consumers.contains_key(&r.consumer_id) {
            let name = state
                .gov
                .consumer(&r.consumer_id)
                .await
                .map_err(|e| internal(chrome(), "reading a consumer", e))?
                .map_or_else(|| r.consumer_id.clone(), |c| c.name);
            consumers.insert(r.consumer_id.clone(), name);
        }
        let resource = state.pack.resource(&r.resource);
        let label = |field: &String| {
            resource
                .and_then(|res| res.field(field))
                .map_or_else(|| field.clone(), |f| f.label.clone())
        };
        let labels = |fields: &[String]| {
            if fields.is_empty() {
                "—".to_string()
            } else {
                fields.iter().map(label).collect::<Vec<_>>().join("、")
            }
        };
        rows.push(RequestRow {
            request_id: r.request_id.clone(),
            consumer: consumers
                .get(&r.consumer_id)
                .cloned()
                .unwrap_or_else(|| r.consumer_id.clone()),
            resource: resource.map_or_else(|| r.resource.clone(), |res| res.name.clone()),
            resource_code: r.resource.clone(),
            unit: state
                .pack
                .unit(&r.unit_code)
                .map_or_else(|| r.unit_code.clone(), |u| u.short_name.clone()),
            share_type: r.share_type.label_zh().to_string(),
            fields: labels(&r.fields),
            sensitive: labels(&r.sensitive_fields),
            unmasked: labels(&r.unmasked_fields),
            purpose: r.purpose.label_zh(),
            justification: r.justification.clone(),
            valid_until: r.valid_until.to_string(),
            requested_at: shanghai_time(r.requested_at),
            reason: r.reason.clone(),
        });
    }
    let resource_name = q
        .resource
        .as_deref()
        .and_then(|c| state.pack.resource(c))
        .map(|r| r.name.clone())
        .unwrap_or_default();
    let notice = match q.done.as_deref() {
        Some("approved") => format!("已同意“{resource_name}”的共享申请，授权已生效。"),
        Some("refused") => format!("已拒绝“{resource_name}”的共享申请。"),
        _ => String::new(),
    };
    Ok(render(&RequestsPage {
        chrome: chrome(),
        requests: rows,
        scope: match unit {
            Some(u) => format!(
                "本单位（{}）的待审核申请",
                state.pack.unit(&u).map_or(u.as_str(), |x| x.name.as_str())
            ),
            None => "全部单位的待审核申请".to_string(),
        },
        notice,
    }))
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    csrf: String,
    /// `approve` or `refuse`.
    decision: String,
    #[serde(default)]
    note: String,
}

pub async fn review(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<ReviewForm>,
) -> PageResult {
    reviewer_only(&viewer)?;
    viewer.check_post(&form.csrf)?;
    let chrome = || viewer.chrome("共享申请", "/console/requests");
    let approve = match form.decision.as_str() {
        "approve" => true,
        "refuse" => false,
        _ => {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                chrome(),
                "请选择“同意”或“拒绝”",
            ));
        }
    };
    let Caller::Account(account) = &viewer.caller else {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            chrome(),
            "只有控制台账号可以审核",
        ));
    };
    let record = match state
        .gov
        .review_request(&id, account, approve, form.note.trim(), Utc::now())
        .await
    {
        Ok(r) => r,
        Err(e) if e.is_client_error() => {
            let status = match e {
                GovernError::UnknownRequest(_) => StatusCode::NOT_FOUND,
                GovernError::ReviewerNotAllowed { .. } => StatusCode::FORBIDDEN,
                GovernError::AlreadyReviewed { .. } => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            return Err(error_page(status, chrome(), e.to_string()));
        }
        Err(e) => return Err(internal(chrome(), "reviewing a request", e)),
    };
    // Post / redirect / get: a reload does not post the review again.
    let done = if approve { "approved" } else { "refused" };
    let resource: String = record
        .resource
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    Ok(Redirect::to(&format!(
        "/console/requests?done={done}&resource={resource}"
    ))
    .into_response())
}

pub struct AuditRow {
    pub seq: u64,
    pub at: String,
    pub actor_kind: String,
    pub actor: String,
    pub subject: String,
    pub action: String,
    pub purpose: String,
    pub fields: String,
    pub request_id: String,
}

/// Display names of actors, looked up once per page.
struct Names<'a> {
    state: &'a AppState,
    cache: HashMap<(ActorKind, String), String>,
}

impl Names<'_> {
    async fn actor(&mut self, kind: ActorKind, id: &str) -> String {
        if let Some(n) = self.cache.get(&(kind, id.to_string())) {
            return n.clone();
        }
        let name = match kind {
            ActorKind::Consumer => match self.state.gov.consumer(id).await {
                Ok(Some(c)) => c.name,
                _ => id.to_string(),
            },
            ActorKind::Account => match self.state.gov.account_by_username(id).await {
                Ok(Some(a)) => format!("{}（{}）", a.display_name, a.username),
                _ => id.to_string(),
            },
            // A citizen reads their own data; their ID is shown masked like any subject.
            ActorKind::Citizen => format!("本人 {}", mask_subject(id)),
            ActorKind::System => "平台".to_string(),
        };
        self.cache.insert((kind, id.to_string()), name.clone());
        name
    }
}

fn purpose_zh(text: &str) -> String {
    if text.is_empty() {
        return "—".into();
    }
    Purpose::parse(text).map_or_else(|| text.to_string(), |p| p.label_zh())
}

/// Fields as resource names and field labels, shortened to the first few.
fn fields_zh(state: &AppState, fields: &[String]) -> String {
    const SHOWN: usize = 6;
    let mut names: Vec<String> = fields
        .iter()
        .take(SHOWN)
        .map(|f| match f.split_once('.') {
            Some((r, field)) => match state.pack.resource(r) {
                Some(res) => format!(
                    "{}·{}",
                    res.name,
                    res.field(field).map_or(field, |x| x.label.as_str())
                ),
                None => f.clone(),
            },
            None => f.clone(),
        })
        .collect();
    if fields.len() > SHOWN {
        names.push(format!("等 {} 项", fields.len()));
    }
    if names.is_empty() {
        "—".into()
    } else {
        names.join("、")
    }
}

async fn audit_rows(state: &AppState, records: &[AuditRecord]) -> Vec<AuditRow> {
    let mut names = Names {
        state,
        cache: HashMap::new(),
    };
    let mut rows = Vec::with_capacity(records.len());
    for r in records {
        let e = &r.entry;
        rows.push(AuditRow {
            seq: r.seq,
            at: shanghai_time(e.at),
            actor_kind: e.actor_kind.label_zh().to_string(),
            actor: names.actor(e.actor_kind, &e.actor_id).await,
            subject: if e.subject_masked.is_empty() {
                mask_subject(&e.subject)
            } else {
                e.subject_masked.clone()
            },
            action: action_zh(&e.action).to_string(),
            purpose: purpose_zh(&e.purpose),
            fields: fields_zh(state, &e.fields),
            request_id: e.request_id.clone(),
        });
    }
    rows
}

pub struct Verification {
    pub intact: bool,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<AuditRow>,
    actor: String,
    action: String,
    /// The filters as a query string, for the pager links.
    query: String,
    next_offset: Option<u64>,
    prev_offset: Option<u64>,
    verification: Option<Verification>,
}

/// Entries per page of the audit viewer.
const AUDIT_PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    offset: Option<u64>,
}

fn auditor_only(viewer: &Viewer) -> Result<(), Refusal> {
    viewer.require(viewer.is_auditor(), "只有审计员或系统管理员可以查看审计链")
}

async fn audit_page(
    state: &AppState,
    viewer: &Viewer,
    q: AuditQuery,
    verification: Option<Verification>,
) -> PageResult {
    let chrome = || viewer.chrome("审计", "/console/audit");
    let actor = q.actor.unwrap_or_default().trim().to_string();
    let action = q.action.unwrap_or_default().trim().to_string();
    let offset = q.offset.unwrap_or(0);
    let records = state
        .gov
        .audit_entries(&AuditFilter {
            actor_id: (!actor.is_empty()).then(|| actor.clone()),
            action: (!action.is_empty()).then(|| action.clone()),
            limit: Some(AUDIT_PAGE + 1),
            offset,
            ..AuditFilter::default()
        })
        .await
        .map_err(|e| internal(chrome(), "reading the audit chain", e))?;
    let more = records.len() > AUDIT_PAGE as usize;
    let shown = &records[..records.len().min(AUDIT_PAGE as usize)];
    Ok(render(&AuditPage {
        chrome: chrome(),
        entries: audit_rows(state, shown).await,
        query: format!(
            "actor={}&action={}",
            encode_component(&actor),
            encode_component(&action)
        ),
        actor,
        action,
        next_offset: more.then_some(offset + u64::from(AUDIT_PAGE)),
        prev_offset: (offset > 0).then(|| offset.saturating_sub(u64::from(AUDIT_PAGE))),
        verification,
    }))
}

pub async fn audit(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    auditor_only(&viewer)?;
    audit_page(&state, &viewer, q, None).await
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    csrf: String,
}

/// 校验审计链: re-hashes the whole chain and shows the result above the entries.
pub async fn verify(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<VerifyForm>,
) -> PageResult {
    auditor_only(&viewer)?;
    viewer.check_post(&form.csrf)?;
    let report = state.gov.verify_audit_chain().await.map_err(|e| {
        internal(
            viewer.chrome("审计", "/console/audit"),
            "verifying the audit chain",
            e,
        )
    })?;
    let summary = match &report.problem {
        None => format!(
            "审计链完整：已校验 {} 条记录、{} 个检查点，末条序号 {}，哈希 {}。",
            report.entries_checked,
            report.checkpoints_checked,
            report.last_seq,
            report.last_hash.chars().take(16).collect::<String>()
        ),
        Some(p) => format!(
            "审计链校验失败：第 {} 条记录起有问题——{}（此前 {} 条记录完好）。",
            p.seq, p.message, report.entries_checked
        ),
    };
    audit_page(
        &state,
        &viewer,
        AuditQuery::default(),
        Some(Verification {
            intact: report.intact,
            summary,
        }),
    )
    .await
}

#[derive(Template)]
#[template(path = "console/my_data.html")]
struct MyDataPage {
    chrome: Chrome,
    who: String,
    entries: Vec<AuditRow>,
}

/// At most this many of a citizen's entries are shown, newest first.
const MY_DATA_LIMIT: u32 = 500;

pub async fn my_data(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let Caller::Citizen { resident_id } = &viewer.caller else {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            viewer.chrome("无权访问", ""),
            "“我的数据使用记录”仅供办事群众本人查看，请以群众身份登录",
        ));
    };
    let records = state
        .gov
        .audit_entries(&AuditFilter {
            subject: Some(resident_id.clone()),
            limit: Some(MY_DATA_LIMIT),
            ..AuditFilter::default()
        })
        .await
        .map_err(|e| {
            internal(
                viewer.chrome("我的数据使用记录", "/console/my-data"),
                "reading the audit chain",
                e,
            )
        })?;
    Ok(render(&MyDataPage {
        chrome: viewer.chrome("我的数据使用记录", "/console/my-data"),
        who: mask_subject(resident_id),
        entries: audit_rows(&state, &records).await,
    }))
}

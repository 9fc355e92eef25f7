//! 秒批 over HTTP: matters and their guides, applications decided in the same response,
//! receipts, and certificate verification.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use chrono::NaiveDate;
use miaopi_decide::{render_guide, verify_certificate};
use miaopi_meta::MetaStore;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::governed::Caller;
pub use crate::governed::applications::{ApplicationRequest, ConditionView, DecisionView};
use crate::governed::applications::{decide_application, in_force, read_decision};
use crate::limits::ClientAddr;
use crate::state::AppState;

/// 事项 as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatterSummary {
    pub code: String,
    pub name: String,
    pub version: String,
    #[schema(value_type = String, format = Date)]
    pub valid_from: NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_to: Option<NaiveDate>,
    /// 办件类型.
    pub kind_zh: String,
    pub department: String,
    pub conditions: usize,
    /// SM3 of the package.
    pub package_hash: String,
}

fn summary(p: &miaopi_decide::Package) -> MatterSummary {
    let m = &p.manifest;
    MatterSummary {
        code: m.code.clone(),
        name: m.name.clone(),
        version: m.version.clone(),
        valid_from: m.valid_from,
        valid_to: m.valid_to,
        kind_zh: m.kind.label_zh().to_string(),
        department: m.department.clone(),
        conditions: m.conditions.len(),
        package_hash: p.hash.clone(),
    }
}

/// Every matter package (every version).
#[utoipa::path(get, path = "/api/v1/matters", tag = "matters",
    responses((status = 200, description = "事项清单", body = [MatterSummary])))]
pub async fn matters(State(state): State<AppState>) -> Json<Vec<MatterSummary>> {
    Json(state.platform.packages.iter().map(summary).collect())
}

/// Date query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnDate {
    /// The date (YYYY-MM-DD) whose version in force is wanted; default today.
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<NaiveDate>,
}

/// A matter's package: metadata, parties, facts and their sources, conditions, parameters,
/// form — the version in force on the date.
#[utoipa::path(get, path = "/api/v1/matters/{code}", tag = "matters",
    params(("code" = String, Path, description = "事项 code"), OnDate),
    responses((status = 200, description = "事项包", body = Object),
              (status = 404, description = "无此事项", body = ErrorBody)))]
pub async fn matter(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(on): Query<OnDate>,
) -> ApiResult<Json<serde_json::Value>> {
    let p = in_force(&state, &code, on.date)?;
    Ok(Json(serde_json::json!({
        "package_hash": p.hash,
        "manifest": p.manifest,
    })))
}

/// 办事指南 as rendered from the package (Markdown, zh-CN): rules and guide cannot disagree.
#[utoipa::path(get, path = "/api/v1/matters/{code}/guide", tag = "matters",
    params(("code" = String, Path, description = "事项 code"), OnDate),
    responses((status = 200, description = "办事指南（Markdown）", body = String, content_type = "text/markdown; charset=utf-8"),
              (status = 404, description = "无此事项", body = ErrorBody)))]
pub async fn guide(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(on): Query<OnDate>,
) -> ApiResult<([(axum::http::HeaderName, &'static str); 1], String)> {
    let p = in_force(&state, &code, on.date)?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/markdown; charset=utf-8",
        )],
        render_guide(p, &state.pack),
    ))
}

/// Decides an application and answers with the decision, its reasons and, on approval, the
/// certificate id. Citizens apply for themselves; administrators (窗口) for anyone.
#[utoipa::path(post, path = "/api/v1/applications", tag = "matters", request_body = ApplicationRequest,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "办理结果", body = DecisionView),
              (status = 400, description = "申请无效", body = ErrorBody),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "不能代他人申请", body = ErrorBody),
              (status = 404, description = "无此事项", body = ErrorBody),
              (status = 429, description = "申请过于频繁", body = ErrorBody)))]
pub async fn apply(
    State(state): State<AppState>,
    addr: ClientAddr,
    Authenticated(caller): Authenticated,
    Json(request): Json<ApplicationRequest>,
) -> ApiResult<Json<DecisionView>> {
    Ok(Json(
        decide_application(&state, addr, &caller, &request).await?,
    ))
}

/// A stored decision with its full receipt: the applicant themself, administrators, auditors.
#[utoipa::path(get, path = "/api/v1/decisions/{receipt_id}", tag = "matters",
    params(("receipt_id" = String, Path, description = "回执编号")),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "决定与回执", body = DecisionView),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "无权查看", body = ErrorBody),
              (status = 404, description = "无此回执", body = ErrorBody)))]
pub async fn decision(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(receipt_id): Path<String>,
) -> ApiResult<Json<DecisionView>> {
    Ok(Json(read_decision(&state, &caller, &receipt_id).await?))
}

/// Decisions query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DecisionsQuery {
    /// Only this matter.
    pub matter: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
}

/// Decisions per matter and outcome (counts; no personal data).
#[utoipa::path(get, path = "/api/v1/decisions", tag = "matters", params(DecisionsQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "按事项和结果统计的决定数", body = Object),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "仅控制台用户", body = ErrorBody)))]
pub async fn decisions(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<DecisionsQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    if !matches!(caller, Caller::Account(_)) {
        return Err(ApiError::forbidden(
            "role_required",
            "只有控制台用户可以查看决定统计",
        ));
    }
    let counts = state
        .platform
        .meta
        .decision_counts()
        .await
        .map_err(|e| ApiError::internal("counting decisions", e))?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500) as usize;
    let rows: Vec<serde_json::Value> = counts
        .into_iter()
        .filter(|(m, _, _)| query.matter.as_ref().is_none_or(|q| q == m))
        .take(limit)
        .map(|(matter, outcome, n)| serde_json::json!({"matter": matter, "outcome": outcome, "count": n}))
        .collect();
    Ok(Json(serde_json::Value::Array(rows)))
}

/// Verification of a certificate file.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateCheck {
    /// Signed by this platform, unchanged, and not revoked.
    pub valid: bool,
    /// On the revocation list (证照已撤销): the decision behind it was superseded.
    pub revoked: bool,
    /// Why not, when not valid.
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub certificate: Option<serde_json::Value>,
}

/// Verifies an electronic certificate (the `.cert` file's bytes as the body) against the
/// issuer's SM2 key: any changed byte fails.
#[utoipa::path(post, path = "/api/v1/certificates/verify", tag = "matters",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "核验结果", body = CertificateCheck),
              (status = 400, description = "请求体为空", body = ErrorBody)))]
pub async fn verify_certificate_file(
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<Json<CertificateCheck>> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "empty_body",
            "请在请求体中提交证照文件",
        ));
    }
    let check = match verify_certificate(&body, &state.platform.keys().public_key()) {
        Ok(c) => {
            // Signed by us, but perhaps revoked since (its decision was superseded).
            let revoked = state
                .platform
                .meta
                .certificate_revocation(&c.id)
                .await
                .map_err(|e| ApiError::internal("reading the revocation list", e))?;
            CertificateCheck {
                valid: revoked.is_none(),
                revoked: revoked.is_some(),
                reason: revoked.map(|r| format!("证照已于 {} 撤销：{}", r.revoked_at, r.reason)),
                certificate: serde_json::to_value(&c).ok(),
            }
        }
        Err(e) => CertificateCheck {
            valid: false,
            revoked: false,
            reason: Some(format!("核验失败：{e}")),
            certificate: None,
        },
    };
    Ok(Json(check))
}

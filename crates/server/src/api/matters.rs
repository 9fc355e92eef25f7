//! 秒批 over HTTP: matters and their guides, applications decided in the same response,
//! receipts, and certificate verification.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use chrono::NaiveDate;
use miaopi_decide::{
    Application, PartyKind, Receipt, SubjectKey, render_guide, verify_certificate,
};
use miaopi_meta::MetaStore;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authenticated, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::governed::audit_read;
use crate::limits::{ClientAddr, Scope};
use crate::state::AppState;

/// Now in Asia/Shanghai: decision times and default application dates.
pub fn now_shanghai() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Utc::now().with_timezone(&miaopi_decide::dates::shanghai())
}

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

fn in_force<'a>(
    state: &'a AppState,
    code: &str,
    on: Option<NaiveDate>,
) -> ApiResult<&'a miaopi_decide::Package> {
    let on = on.unwrap_or_else(|| now_shanghai().date_naive());
    state
        .platform
        .packages
        .in_force(code, on)
        .map_err(|_| ApiError::not_found(format!("事项 {code:?} 在 {on} 没有生效的版本")))
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

/// An application (申请).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ApplicationRequest {
    /// 事项 code.
    pub matter: String,
    /// 申请人: resident ID or credit code. A citizen applies for themself (may be omitted).
    pub applicant: Option<String>,
    /// 申请日期 (default today, Asia/Shanghai). Never in the future; an earlier date only
    /// when an administrator records the application at a counter (窗口补录) with
    /// `backdate_reason`, within the matter's window.
    #[schema(value_type = Option<String>, format = Date)]
    pub application_date: Option<NaiveDate>,
    /// 补录理由: why an officer dates the application before today (administrators only).
    #[serde(default)]
    pub backdate_reason: Option<String>,
    /// 表单: form item name → value.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub form: serde_json::Map<String, serde_json::Value>,
    /// 告知承诺: condition codes the applicant commits to.
    #[serde(default)]
    pub commitments: Vec<String>,
    /// 容缺: the applicant will bring missing materials by the deadline.
    #[serde(default)]
    pub accept_pending_materials: bool,
}

/// One condition as judged.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConditionView {
    pub code: String,
    pub label: String,
    /// holds / fails / unknown.
    pub status: String,
    /// 理由.
    pub reason: String,
}

/// The decision, in the same response as the application.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    pub receipt_id: String,
    pub matter: String,
    pub matter_name: String,
    pub version: String,
    /// approved / rejected / manual_review / approved_pending_materials / approved_on_commitment.
    pub outcome: String,
    pub outcome_zh: String,
    pub conditions: Vec<ConditionView>,
    /// 理由, conditions first, then the conclusion.
    pub reasons: Vec<String>,
    pub decided_at: String,
    /// 电子证照 id, on approval.
    pub certificate_id: Option<String>,
    /// Microseconds spent deciding (fact binding, rules, receipt, certificate).
    pub decision_us: u64,
    /// The full receipt (facts with provenance, parameters, rule rows), other parties masked.
    #[schema(value_type = Object)]
    pub receipt: serde_json::Value,
    /// 一次办理: the applicant already had a decision in force for this period that decides
    /// alike; this is that decision (nothing new was stored or issued).
    pub repeat: bool,
    /// The receipt id of the decision this one replaced (the facts changed; its certificate is
    /// revoked).
    pub supersedes: Option<String>,
}

fn decision_view(
    state: &AppState,
    receipt: &Receipt,
    certificate_id: Option<String>,
    decision_us: u64,
) -> DecisionView {
    let shown = crate::governed::receipt_for_display(state, receipt);
    // Reasons can quote another party's identifiers (a parent's ID): shown as masked too.
    let text = |path: &[&str]| -> Option<serde_json::Value> {
        path.iter().try_fold(&shown, |v, k| v.get(*k)).cloned()
    };
    let reasons: Vec<String> = text(&["reasons"])
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let condition_reasons: Vec<String> = shown
        .get("conditions")
        .and_then(|c| c.as_array())
        .map(|cs| {
            cs.iter()
                .map(|c| c["reason"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    DecisionView {
        receipt_id: receipt.receipt_id.clone(),
        matter: receipt.matter.code.clone(),
        matter_name: receipt.matter.name.clone(),
        version: receipt.matter.version.clone(),
        outcome: serde_json::to_value(receipt.outcome.kind())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        outcome_zh: receipt.outcome.kind().label_zh().to_string(),
        conditions: receipt
            .conditions
            .iter()
            .zip(condition_reasons)
            .map(|(c, reason)| ConditionView {
                code: c.code.clone(),
                label: c.label.clone(),
                status: serde_json::to_value(c.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                reason,
            })
            .collect(),
        reasons,
        decided_at: receipt.decided_at.to_rfc3339(),
        certificate_id,
        decision_us,
        receipt: shown,
        repeat: false,
        supersedes: None,
    }
}

fn parse_subject(text: &str) -> ApiResult<SubjectKey> {
    SubjectKey::parse(PartyKind::Person, text.trim())
        .or_else(|| SubjectKey::parse(PartyKind::Enterprise, text.trim()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_applicant",
                format!("申请人 {text:?} 不是有效的公民身份号码或统一社会信用代码"),
            )
        })
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

/// Decides one application for `caller`: who may apply for whom, the form typed by the
/// package, the decision, its audit entry and its latency. The API's handler and the console's
/// application page both call this, so they accept, refuse and record exactly alike.
pub async fn decide_application(
    state: &AppState,
    addr: ClientAddr,
    caller: &Caller,
    request: &ApplicationRequest,
) -> ApiResult<DecisionView> {
    let started = std::time::Instant::now();
    crate::limits::admit(state, Scope::Application, addr, &caller.actor().1)?;
    let applicant = match (&caller, &request.applicant) {
        (Caller::Citizen { resident_id }, None) => parse_subject(resident_id)?,
        (Caller::Citizen { resident_id }, Some(a)) => {
            let key = parse_subject(a)?;
            if key.as_str() != resident_id {
                return Err(ApiError::forbidden(
                    "not_own_application",
                    "个人只能为本人申请",
                ));
            }
            key
        }
        (Caller::Account(_), Some(a)) if caller.is_administrator() => parse_subject(a)?,
        (Caller::Account(_), None) if caller.is_administrator() => {
            return Err(ApiError::bad_request(
                "applicant_required",
                "代办须填写申请人（applicant）",
            ));
        }
        _ => {
            return Err(ApiError::forbidden(
                "role_required",
                "只有本人（群众登录）或窗口管理员可以提交申请",
            ));
        }
    };
    let backdated = match (&caller, &request.backdate_reason) {
        (_, None) => None,
        (Caller::Account(a), Some(reason)) if caller.is_administrator() => {
            Some(miaopi_decide::Backdating {
                officer: a.username.clone(),
                reason: reason.clone(),
            })
        }
        _ => {
            return Err(ApiError::forbidden(
                "backdate_counter_only",
                "只有窗口工作人员（管理员）可以补录较早的申请日期",
            ));
        }
    };
    let now = now_shanghai();
    let date = request.application_date.unwrap_or_else(|| now.date_naive());
    if date > now.date_naive() {
        // Refused before any version lookup, so a far-future date reads as what it is.
        return Err(decide_refusal(
            miaopi_decide::DecideError::FutureApplicationDate {
                date,
                today: now.date_naive(),
            },
        ));
    }
    let package = in_force(state, &request.matter, Some(date))?;
    let form = miaopi_apply::form_from_json(package, &request.form)
        .map_err(|e| ApiError::bad_request("invalid_form", e.0))?;
    let subject = applicant.as_str().to_string();
    let application = Application {
        matter: request.matter.clone(),
        application_date: date,
        applicant,
        parties: BTreeMap::new(),
        form,
        commitments: request.commitments.clone(),
        accept_pending_materials: request.accept_pending_materials,
        prior_false_commitment: false,
        backdated,
    };
    // Deciding is CPU work of a fraction of a millisecond (facts from the index, the rules):
    // done here. Storing the receipt and the audit entry are durable writes: both go to their
    // group-commit writers at once, and the answer waits for both.
    let receipt = state
        .platform
        .decide(application, now)
        .map_err(|e| match e {
            miaopi_apply::ApplyError::Decide(d) => decide_refusal(d),
            other => ApiError::internal("deciding an application", other),
        })?;
    // The dashboard's latency: from the request to the decision made and ready to store (the
    // shared commit that follows is the same for every decision of its group).
    let decision_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let purpose = format!("matter:{}", request.matter);
    // One entry per person or enterprise whose data the decision used (the applicant, and a
    // spouse or parent found in the graph), so each sees it on their "who used my data" page.
    let backdated = receipt.application.backdated.is_some();
    let purpose = &purpose;
    let subject = &subject;
    let audited = futures::future::try_join_all(
        crate::governed::decision_subjects(state, &receipt)
            .into_iter()
            .map(|(party, mut facts)| async move {
                if backdated && &party == subject {
                    // The chain shows that an officer chose the date; the reason is in the
                    // receipt.
                    facts.push(format!("backdated_to:{date}"));
                }
                audit_read(state, caller, &party, "decide", facts, purpose).await
            }),
    );
    let stored = state.decisions.submit((receipt.clone(), now, decision_us));
    let (audited, stored) = tokio::join!(audited, stored);
    audited?;
    let recorded = stored.map_err(|e| ApiError::internal("storing a decision", e))?;
    let certificate_id = recorded
        .certificate
        .as_ref()
        .map(|c| c.certificate.certificate.id.clone());
    let mut view = decision_view(state, &recorded.receipt, certificate_id, decision_us);
    view.repeat = recorded.repeat;
    view.supersedes = recorded.supersedes;
    if view.repeat {
        view.reasons.push(format!(
            "本事项{}，本期已有决定（{}），按原决定答复",
            package.manifest.period.label_zh(),
            recorded.receipt.decided_at.format("%Y-%m-%d %H:%M")
        ));
    }
    Ok(view)
}

/// An application the engine would not decide, with the engine's stable code.
fn decide_refusal(e: miaopi_decide::DecideError) -> ApiError {
    let code = e.client_code().unwrap_or("application_refused");
    ApiError::bad_request(code, format!("申请无法受理：{e}"))
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
    if !(receipt_id.len() == 64 && receipt_id.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(ApiError::not_found(format!("没有回执 {receipt_id:?}")));
    }
    let receipt = state
        .platform
        .receipt(&receipt_id)
        .await
        .map_err(|e| ApiError::internal("reading a receipt", e))?
        .ok_or_else(|| ApiError::not_found(format!("没有回执 {receipt_id:?}")))?;
    let subject = receipt.application.applicant.as_str().to_string();
    let allowed = match &caller {
        Caller::Citizen { resident_id } => resident_id == &subject,
        Caller::Account(_) => caller.is_administrator() || caller.is_auditor(),
        Caller::Consumer(_) => false,
    };
    if !allowed {
        return Err(ApiError::forbidden(
            "not_own_data",
            "只有申请人本人、管理员或审计员可以查看该决定",
        ));
    }
    let certificate_id = state
        .platform
        .meta
        .certificates_of(&receipt_id)
        .await
        .map_err(|e| ApiError::internal("reading certificates", e))?
        .into_iter()
        .next()
        .map(|c| c.certificate_id);
    audit_read(
        &state,
        &caller,
        &subject,
        "read_decision",
        vec![format!("decision:{receipt_id}")],
        "duty:查看办理结果",
    )
    .await?;
    Ok(Json(decision_view(&state, &receipt, certificate_id, 0)))
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

//! 申请 (applications): who may apply for whom, the form typed by the package, the decision,
//! its audit entries (one per party whose data it used), the receipt as shown. The API's
//! `POST /applications` and the console's application page both call [`decide_application`],
//! so they accept, refuse and record exactly alike.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use miaopi_decide::{Application, PartyKind, Receipt, SubjectKey};
use miaopi_meta::MetaStore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::governed::{Caller, audit_read};
use crate::limits::{ClientAddr, Scope};
use crate::state::AppState;

/// Now in Asia/Shanghai: decision times and default application dates.
pub fn now_shanghai() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Utc::now().with_timezone(&miaopi_decide::dates::shanghai())
}

/// The version of a matter in force on a date (default today), or 404.
pub fn in_force<'a>(
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

/// A stored decision with its receipt (other parties masked): the applicant themself,
/// administrators and auditors; the read is audited.
pub async fn read_decision(
    state: &AppState,
    caller: &Caller,
    receipt_id: &str,
) -> ApiResult<DecisionView> {
    if !(receipt_id.len() == 64 && receipt_id.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(ApiError::not_found(format!("没有回执 {receipt_id:?}")));
    }
    let receipt = state
        .platform
        .receipt(receipt_id)
        .await
        .map_err(|e| ApiError::internal("reading a receipt", e))?
        .ok_or_else(|| ApiError::not_found(format!("没有回执 {receipt_id:?}")))?;
    let subject = receipt.application.applicant.as_str().to_string();
    let allowed = match caller {
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
        .certificates_of(receipt_id)
        .await
        .map_err(|e| ApiError::internal("reading certificates", e))?
        .into_iter()
        .next()
        .map(|c| c.certificate_id);
    audit_read(
        state,
        caller,
        &subject,
        "read_decision",
        vec![format!("decision:{receipt_id}")],
        "duty:查看办理结果",
    )
    .await?;
    Ok(decision_view(state, &receipt, certificate_id, 0))
}

//! Identities (OAuth2 client credentials, console and citizen sessions), grants (共享申请与审核)
//! and the audit chain (审计链, and 我的数据被谁用了).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use miaopi_govern::{AuditFilter, GovernError, GrantRequest, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authenticated, session_cookie_header};
use crate::error::{ApiError, ApiResult, ErrorBody, govern_error};
use crate::governed::parse_purpose;
use crate::governed::{Caller, identity};
use crate::limits::{ClientAddr, Scope};
use crate::state::AppState;

/// OAuth2 token request (RFC 6749 §4.4, form-encoded).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    /// Must be `client_credentials`.
    pub grant_type: String,
    pub client_id: String,
    pub client_secret: String,
}

/// OAuth2 token response.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    pub expires_in: u64,
}

/// OAuth2 client credentials: a department system trades its id and secret for a bearer token.
#[utoipa::path(post, path = "/api/v1/oauth/token", tag = "access",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "访问令牌", body = TokenResponse),
              (status = 400, description = "请求无效", body = ErrorBody),
              (status = 401, description = "凭据无效", body = ErrorBody),
              (status = 429, description = "尝试过于频繁", body = ErrorBody)))]
pub async fn token(
    State(state): State<AppState>,
    addr: ClientAddr,
    axum::Form(form): axum::Form<TokenForm>,
) -> ApiResult<Json<TokenResponse>> {
    crate::limits::admit(&state, Scope::Token, addr, &form.client_id)?;
    if form.grant_type != "client_credentials" {
        return Err(ApiError::bad_request(
            "unsupported_grant_type",
            "仅支持 grant_type=client_credentials",
        ));
    }
    let ttl = state.options.token_ttl_s;
    let token = state
        .gov
        .client_credentials_token(&form.client_id, &form.client_secret, Utc::now(), ttl)
        .await
        .map_err(|e| ApiError::internal("issuing a token", e))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client_id 或 client_secret 不正确",
            )
        })?;
    Ok(Json(TokenResponse {
        access_token: token.access_token,
        token_type: "Bearer".into(),
        expires_in: ttl,
    }))
}

/// Console login.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// A session: use it as a bearer token, or keep the cookie the response sets.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    pub token: String,
    pub expires_in: u64,
    /// Who is logged in (display name, or the masked resident ID of a citizen).
    pub who: String,
    pub roles: Vec<String>,
    /// Send as `X-CSRF-Token` with writes authenticated by the session cookie.
    pub csrf_token: String,
}

fn role_name(role: &Role) -> String {
    match role {
        Role::ProviderReviewer { unit_code } => format!("{}:{unit_code}", role.key()),
        other => other.key().to_string(),
    }
}

fn with_cookie(state: &AppState, body: SessionResponse, ttl: u64) -> Response {
    let cookie = session_cookie_header(&body.token, ttl, state.options.behind_tls_proxy);
    let mut response = Json(body).into_response();
    if let Some(c) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, c);
    }
    response
}

/// Starts a console session (administrator, provider reviewer, matter designer, auditor).
#[utoipa::path(post, path = "/api/v1/session", tag = "access", request_body = LoginRequest,
    responses((status = 200, description = "已登录", body = SessionResponse),
              (status = 401, description = "用户名或密码错误", body = ErrorBody),
              (status = 429, description = "尝试过于频繁", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(request): Json<LoginRequest>,
) -> ApiResult<Response> {
    let session =
        identity::log_in_account(&state, addr, &request.username, &request.password).await?;
    let (who, roles) = match &session.caller {
        Caller::Account(a) => (
            a.display_name.clone(),
            a.roles.iter().map(role_name).collect(),
        ),
        _ => (String::new(), Vec::new()),
    };
    Ok(with_cookie(
        &state,
        SessionResponse {
            csrf_token: crate::auth::csrf_token(&session.token),
            token: session.token,
            expires_in: session.ttl_s,
            who,
            roles,
        },
        session.ttl_s,
    ))
}

/// Ends the caller's session (and clears the cookie).
#[utoipa::path(delete, path = "/api/v1/session", tag = "access",
    responses((status = 204, description = "已退出")))]
pub async fn logout(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let token = bearer.or_else(|| crate::auth::session_cookie(&headers).map(str::to_string));
    if let Some(t) = token {
        identity::end_session(&state, &t).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(c) = session_cookie_header("", 0, state.options.behind_tls_proxy) {
        response.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(response)
}

/// Citizen login, step 1.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CitizenCodeRequest {
    /// 公民身份号码.
    pub resident_id: String,
}

/// Citizen login, step 2.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CitizenLoginRequest {
    pub resident_id: String,
    /// The one-time code.
    pub code: String,
}

/// A one-time code was sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSent {
    pub message: String,
    pub expires_in: u64,
}

/// Citizen login (demo identity provider): sends a one-time code. The demo writes the code to
/// the server log, standing in for the real identity provider's SMS.
#[utoipa::path(post, path = "/api/v1/citizen/code", tag = "access", request_body = CitizenCodeRequest,
    responses((status = 202, description = "验证码已发送", body = CodeSent),
              (status = 400, description = "身份证号无效", body = ErrorBody),
              (status = 429, description = "尝试过于频繁", body = ErrorBody)))]
pub async fn citizen_code(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(request): Json<CitizenCodeRequest>,
) -> ApiResult<(StatusCode, Json<CodeSent>)> {
    let now = Utc::now();
    let challenge = identity::send_citizen_code(&state, addr, &request.resident_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSent {
            message: format!(
                "验证码已发送至 {} 的登记手机（演示环境：见 miaopi demo 的终端或数据目录中的 demo-sms-outbox.txt）",
                challenge.resident_id_masked
            ),
            expires_in: (challenge.expires_at - now).num_seconds().max(0) as u64,
        }),
    ))
}

/// Citizen login: checks the one-time code and starts a session.
#[utoipa::path(post, path = "/api/v1/citizen/session", tag = "access", request_body = CitizenLoginRequest,
    responses((status = 200, description = "已登录", body = SessionResponse),
              (status = 401, description = "验证码错误或已过期", body = ErrorBody),
              (status = 429, description = "尝试过于频繁", body = ErrorBody)))]
pub async fn citizen_login(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(request): Json<CitizenLoginRequest>,
) -> ApiResult<Response> {
    let session =
        identity::log_in_citizen(&state, addr, &request.resident_id, &request.code).await?;
    let who = match &session.caller {
        Caller::Citizen { resident_id } => miaopi_index::mask_value("resident_id", resident_id, 4),
        _ => String::new(),
    };
    Ok(with_cookie(
        &state,
        SessionResponse {
            csrf_token: crate::auth::csrf_token(&session.token),
            token: session.token,
            expires_in: session.ttl_s,
            who,
            roles: vec!["citizen".into()],
        },
        session.ttl_s,
    ))
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    /// consumer / account / citizen.
    pub kind: String,
    pub id: String,
    pub name: String,
    pub roles: Vec<String>,
}

/// The identity behind the presented credentials.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "access",
    responses((status = 200, description = "调用者", body = WhoAmI),
              (status = 401, description = "未认证", body = ErrorBody)))]
pub async fn whoami(Authenticated(caller): Authenticated) -> Json<WhoAmI> {
    Json(match caller {
        Caller::Consumer(c) => WhoAmI {
            kind: "consumer".into(),
            id: c.consumer_id.clone(),
            name: c.name.clone(),
            roles: vec![],
        },
        Caller::Account(a) => WhoAmI {
            kind: "account".into(),
            id: a.username.clone(),
            name: a.display_name.clone(),
            roles: a.roles.iter().map(role_name).collect(),
        },
        Caller::Citizen { resident_id } => WhoAmI {
            kind: "citizen".into(),
            id: miaopi_index::mask_value("resident_id", &resident_id, 4),
            name: "办事群众".into(),
            roles: vec!["citizen".into()],
        },
    })
}

/// 共享申请.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantRequestBody {
    /// 资源 code.
    pub resource: String,
    /// 信息项 names; empty = every field.
    #[serde(default)]
    pub fields: Vec<String>,
    /// `matter:<事项编码>` or `duty:<履职事由>`.
    pub purpose: String,
    /// Last day of validity (YYYY-MM-DD).
    #[schema(value_type = String, format = Date)]
    pub valid_until: NaiveDate,
    /// Fields asked for unmasked (needs the provider's approval).
    #[serde(default)]
    pub unmasked_fields: Vec<String>,
    /// 申请理由.
    #[serde(default)]
    pub reason: String,
}

fn govern_request_error(e: GovernError) -> ApiError {
    govern_error(e, "processing a grant request")
}

/// A consumer asks to share a resource: 无条件共享 is granted at once, 有条件共享 waits for the
/// provider unit's review, 不予共享 is refused.
#[utoipa::path(post, path = "/api/v1/grant-requests", tag = "access", request_body = GrantRequestBody,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 201, description = "已受理（granted / pending / refused）", body = Object),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "仅数据使用方可申请", body = ErrorBody)))]
pub async fn request_grant(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<GrantRequestBody>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let Caller::Consumer(consumer) = caller else {
        return Err(ApiError::forbidden(
            "consumer_required",
            "只有数据使用方（部门系统）可以提交共享申请",
        ));
    };
    let purpose = parse_purpose(Some(&body.purpose))?;
    let request = GrantRequest {
        consumer_id: consumer.consumer_id.clone(),
        resource: body.resource,
        fields: body.fields,
        unmasked_fields: body.unmasked_fields,
        purpose,
        valid_until: body.valid_until,
        justification: body.reason,
    };
    let decision = state
        .gov
        .request_grant(&state.pack, &request, Utc::now())
        .await
        .map_err(govern_request_error)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(&decision).unwrap_or_default()),
    ))
}

/// Query of the review queue.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Only this unit's requests.
    pub unit: Option<String>,
}

/// The sharing-request queue: requests waiting for a provider's review.
#[utoipa::path(get, path = "/api/v1/grant-requests", tag = "access", params(QueueQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "待审核的共享申请", body = Object),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "无审核权限", body = ErrorBody)))]
pub async fn grant_requests(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<QueueQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let Some(account) = caller.account_with(|r| matches!(r, Role::ProviderReviewer { .. })) else {
        return Err(ApiError::forbidden(
            "role_required",
            "只有提供方审核员或管理员可以查看共享申请",
        ));
    };
    // A reviewer sees their own unit's queue; an administrator any unit's.
    let unit = if caller.is_administrator() {
        query.unit
    } else {
        account.roles.iter().find_map(|r| match r {
            Role::ProviderReviewer { unit_code } => Some(unit_code.clone()),
            _ => None,
        })
    };
    let pending = state
        .gov
        .pending_requests(unit.as_deref())
        .await
        .map_err(|e| ApiError::internal("reading the review queue", e))?;
    Ok(Json(serde_json::to_value(&pending).unwrap_or_default()))
}

/// A provider's review.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewBody {
    pub approve: bool,
    #[serde(default)]
    pub note: String,
}

/// Approves or refuses a conditional-share request (the provider unit's reviewer).
#[utoipa::path(post, path = "/api/v1/grant-requests/{id}/review", tag = "access",
    params(("id" = String, Path, description = "申请编号")), request_body = ReviewBody,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "已审核", body = Object),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "无权审核该单位的申请", body = ErrorBody),
              (status = 404, description = "无此申请", body = ErrorBody)))]
pub async fn review_grant_request(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(body): Json<ReviewBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let Some(account) = caller.account_with(|r| matches!(r, Role::ProviderReviewer { .. })) else {
        return Err(ApiError::forbidden(
            "role_required",
            "只有提供方审核员或管理员可以审核共享申请",
        ));
    };
    let record = state
        .gov
        .review_request(&id, account, body.approve, &body.note, Utc::now())
        .await
        .map_err(govern_request_error)?;
    Ok(Json(serde_json::to_value(&record).unwrap_or_default()))
}

/// The calling consumer's grants.
#[utoipa::path(get, path = "/api/v1/grants", tag = "access",
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, description = "本单位的共享授权", body = Object),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "仅数据使用方", body = ErrorBody)))]
pub async fn grants(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<serde_json::Value>> {
    let Caller::Consumer(consumer) = caller else {
        return Err(ApiError::forbidden(
            "consumer_required",
            "只有数据使用方有共享授权",
        ));
    };
    let grants = state
        .gov
        .grants_of(&consumer.consumer_id)
        .await
        .map_err(|e| ApiError::internal("reading grants", e))?;
    Ok(Json(serde_json::to_value(&grants).unwrap_or_default()))
}

/// Audit query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Whose data (resident ID or credit code).
    pub subject: Option<String>,
    /// Who read (consumer id, username or resident ID).
    pub actor: Option<String>,
    /// At most this many entries (default 100, at most 1000).
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

fn audit_filter(query: AuditQuery) -> AuditFilter {
    AuditFilter {
        subject: query.subject,
        actor_id: query.actor,
        limit: Some(query.limit.unwrap_or(100).clamp(1, 1000)),
        offset: u64::from(query.offset.unwrap_or(0)),
        ..AuditFilter::default()
    }
}

/// The audit chain's entries, newest first (auditors and administrators).
#[utoipa::path(get, path = "/api/v1/audit", tag = "access", params(AuditQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "审计记录", body = Object),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "仅审计员或管理员", body = ErrorBody)))]
pub async fn audit(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    require_auditor(&caller, "查看")?;
    let entries = state
        .gov
        .audit_entries(&audit_filter(query))
        .await
        .map_err(|e| ApiError::internal("reading the audit chain", e))?;
    Ok(Json(serde_json::to_value(&entries).unwrap_or_default()))
}

/// Auditors (and administrators, who hold every role) only: `doing` is what they came to do
/// with the chain, for the refusal.
fn require_auditor(caller: &Caller, doing: &str) -> ApiResult<()> {
    if caller.is_auditor() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "role_required",
            format!("只有审计员或管理员可以{doing}审计链"),
        ))
    }
}

/// Re-hashes the whole audit chain and reports the first broken entry, if any.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "access",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "校验结果", body = Object),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "仅审计员或管理员", body = ErrorBody)))]
pub async fn audit_verify(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<serde_json::Value>> {
    require_auditor(&caller, "校验")?;
    let report = state
        .gov
        .verify_audit_chain()
        .await
        .map_err(|e| ApiError::internal("verifying the audit chain", e))?;
    Ok(Json(serde_json::to_value(&report).unwrap_or_default()))
}

/// Paging of the citizen's access log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// 我的数据被谁用了: every read of the logged-in citizen's data (who, which fields, why, when).
#[utoipa::path(get, path = "/api/v1/me/accesses", tag = "access", params(PageQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "本人数据的使用记录", body = Object),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "仅限登录的群众本人", body = ErrorBody)))]
pub async fn my_accesses(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let Caller::Citizen { resident_id } = caller else {
        return Err(ApiError::forbidden(
            "citizen_required",
            "请以本人身份登录后查看",
        ));
    };
    let entries = state
        .gov
        .audit_entries(&audit_filter(AuditQuery {
            subject: Some(resident_id),
            actor: None,
            limit: page.limit,
            offset: page.offset,
        }))
        .await
        .map_err(|e| ApiError::internal("reading the audit chain", e))?;
    Ok(Json(serde_json::to_value(&entries).unwrap_or_default()))
}

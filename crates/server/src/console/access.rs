//! 登录: console accounts (username and password) and citizens (resident ID and a one-time
//! code), both ending in a session cookie; logout.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Chrome, PageResult, Viewer, error_page, render, safe_next, same_origin};
use crate::auth::session_cookie_header;
use crate::error::ApiError;
use crate::governed::identity::{self, NewSession};
use crate::limits::{ClientAddr, Limited};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    chrome: Chrome,
    next: String,
    username: String,
    error: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_page(Query(q): Query<NextQuery>) -> Response {
    render(&LoginPage {
        chrome: Chrome::anonymous("工作人员登录"),
        next: safe_next(q.next.as_deref()),
        username: String::new(),
        error: String::new(),
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

fn refuse_cross_site() -> super::Refusal {
    error_page(
        StatusCode::FORBIDDEN,
        Chrome::anonymous("请求被拒绝"),
        "请求来源不明（跨站请求校验未通过），请从本站登录页面登录",
    )
}

/// The page for a caller over an abuse limit (the same limits as the API's).
fn too_many(title: &str) -> super::Refusal {
    error_page(
        StatusCode::TOO_MANY_REQUESTS,
        Chrome::anonymous(title),
        Limited::MESSAGE_ZH,
    )
}

/// The page for a login the governed service refused: over the abuse limits, or our fault.
fn refused(title: &str, e: ApiError) -> super::Refusal {
    if e.status == StatusCode::TOO_MANY_REQUESTS {
        return too_many(title);
    }
    error_page(e.status, Chrome::anonymous(title), e.message)
}

/// Redirects to `to` with the session cookie set.
fn with_session(state: &AppState, session: &NewSession, to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    if let Some(cookie) = session_cookie_header(
        &session.token,
        session.ttl_s,
        state.options.behind_tls_proxy,
    ) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn login(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> PageResult {
    if !same_origin(&headers) {
        return Err(refuse_cross_site());
    }
    let next = safe_next(form.next.as_deref());
    match identity::log_in_account(&state, addr, &form.username, &form.password).await {
        Ok(session) => Ok(with_session(&state, &session, &next)),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            let mut page = render(&LoginPage {
                chrome: Chrome::anonymous("工作人员登录"),
                next,
                username: form.username,
                error: e.message,
            });
            *page.status_mut() = StatusCode::UNAUTHORIZED;
            Ok(page)
        }
        Err(e) => Err(refused("工作人员登录", e)),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    viewer.check_post(&form.csrf)?;
    identity::end_session(&state, &viewer.session)
        .await
        .map_err(|e| refused("退出", e))?;
    let mut response = Redirect::to("/console/login").into_response();
    if let Some(cookie) = session_cookie_header("", 0, state.options.behind_tls_proxy) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "console/citizen_login.html")]
struct CitizenLoginPage {
    chrome: Chrome,
    /// Empty on the first step; the ID the code was sent for on the second.
    resident_id: String,
    message: String,
    error: String,
}

pub async fn citizen_page() -> Response {
    render(&CitizenLoginPage {
        chrome: Chrome::anonymous("群众登录"),
        resident_id: String::new(),
        message: String::new(),
        error: String::new(),
    })
}

#[derive(Deserialize)]
pub struct CodeForm {
    resident_id: String,
}

/// Step 1: sends a one-time code (the demo provider's go to its SMS outbox, see
/// [`crate::outbox`]).
pub async fn citizen_code(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> PageResult {
    if !same_origin(&headers) {
        return Err(refuse_cross_site());
    }
    let chrome = || Chrome::anonymous("群众登录");
    let challenge = match identity::send_citizen_code(&state, addr, &form.resident_id).await {
        Ok(c) => c,
        // A bad ID, or another code asked for too soon: the form again, saying which.
        Err(e) if e.status == StatusCode::BAD_REQUEST || e.code == "too_soon" => {
            let mut page = render(&CitizenLoginPage {
                chrome: chrome(),
                resident_id: String::new(),
                message: String::new(),
                error: e.message,
            });
            *page.status_mut() = e.status;
            return Ok(page);
        }
        Err(e) => return Err(refused("群众登录", e)),
    };
    Ok(render(&CitizenLoginPage {
        chrome: chrome(),
        resident_id: challenge.resident_id.clone(),
        message: format!(
            "验证码已发送至 {} 的登记手机（演示环境：见 miaopi demo 的终端或数据目录中的 demo-sms-outbox.txt）",
            challenge.resident_id_masked
        ),
        error: String::new(),
    }))
}

#[derive(Deserialize)]
pub struct CitizenLoginForm {
    resident_id: String,
    code: String,
}

/// Step 2: checks the code and starts the citizen's session.
pub async fn citizen_login(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(form): Form<CitizenLoginForm>,
) -> PageResult {
    if !same_origin(&headers) {
        return Err(refuse_cross_site());
    }
    let chrome = || Chrome::anonymous("群众登录");
    let again = |resident_id: String, error: String, status: StatusCode| {
        let mut page = render(&CitizenLoginPage {
            chrome: chrome(),
            resident_id,
            message: String::new(),
            error,
        });
        *page.status_mut() = status;
        page
    };
    match identity::log_in_citizen(&state, addr, &form.resident_id, &form.code).await {
        Ok(session) => Ok(with_session(&state, &session, "/console/apply")),
        Err(e) if e.code == "invalid_resident_id" => {
            Ok(again(String::new(), e.message, StatusCode::BAD_REQUEST))
        }
        Err(e) if matches!(e.status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED) => Ok(
            again(form.resident_id.trim().to_owned(), e.message, e.status),
        ),
        Err(e) => Err(refused("群众登录", e)),
    }
}

//! 登录: console accounts (username and password) and citizens (resident ID and a one-time
//! code), both ending in a session cookie; logout.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use miaopi_govern::Principal;
use serde::Deserialize;

use super::{Chrome, PageResult, Viewer, error_page, internal, render, safe_next, same_origin};
use crate::auth::session_cookie_header;
use crate::limits::{ClientAddr, Limited, Scope};
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

/// Redirects to `to` with the session cookie set.
fn with_session(state: &AppState, token: &str, ttl: u64, to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    if let Some(cookie) = session_cookie_header(token, ttl, state.options.behind_tls_proxy) {
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
    crate::limits::admit(&state, Scope::Login, addr, &form.username)
        .map_err(|_| too_many("工作人员登录"))?;
    let next = safe_next(form.next.as_deref());
    let account = state
        .gov
        .authenticate_account(form.username.trim(), &form.password)
        .await
        .map_err(|e| internal(Chrome::anonymous("登录"), "checking a password", e))?;
    let Some(account) = account else {
        let mut page = render(&LoginPage {
            chrome: Chrome::anonymous("工作人员登录"),
            next,
            username: form.username,
            error: "用户名或密码错误".into(),
        });
        *page.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(page);
    };
    let ttl = state.options.session_ttl_s;
    let token = state
        .gov
        .create_session(&Principal::Account(account), Utc::now(), ttl)
        .await
        .map_err(|e| internal(Chrome::anonymous("登录"), "creating a session", e))?;
    Ok(with_session(&state, &token, ttl, &next))
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
    crate::auth::forget_token(&state, &viewer.session).await;
    state
        .gov
        .end_session(&viewer.session)
        .await
        .map_err(|e| internal(viewer.chrome("退出", ""), "ending a session", e))?;
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
    crate::limits::admit(&state, Scope::OneTimeCode, addr, &form.resident_id)
        .map_err(|_| too_many("群众登录"))?;
    let chrome = || Chrome::anonymous("群众登录");
    let challenge = match state
        .citizens
        .start(form.resident_id.trim(), Utc::now())
        .await
    {
        Ok(c) => c,
        Err(e) if e.is_client_error() => {
            let mut page = render(&CitizenLoginPage {
                chrome: chrome(),
                resident_id: String::new(),
                message: String::new(),
                error: e.to_string(),
            });
            *page.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(page);
        }
        Err(e) => return Err(internal(chrome(), "starting a citizen login", e)),
    };
    crate::outbox::deliver(&state, &challenge);
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
    crate::limits::admit(&state, Scope::OneTimeCode, addr, &form.resident_id)
        .map_err(|_| too_many("群众登录"))?;
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
    let resident_id = match miaopi_model::ResidentId::parse(form.resident_id.trim()) {
        Ok(id) => id.as_str().to_string(),
        Err(e) => {
            return Ok(again(
                String::new(),
                format!("公民身份号码无效：{e}"),
                StatusCode::BAD_REQUEST,
            ));
        }
    };
    let now = Utc::now();
    let passed = match state
        .citizens
        .finish(&resident_id, form.code.trim(), now)
        .await
    {
        Ok(p) => p,
        Err(e) if e.is_client_error() => {
            return Ok(again(resident_id, e.to_string(), StatusCode::BAD_REQUEST));
        }
        Err(e) => return Err(internal(chrome(), "finishing a citizen login", e)),
    };
    if !passed {
        return Ok(again(
            resident_id,
            "验证码错误或已过期".into(),
            StatusCode::UNAUTHORIZED,
        ));
    }
    let ttl = state.options.session_ttl_s;
    let token = state
        .gov
        .create_session(&Principal::Citizen { resident_id }, now, ttl)
        .await
        .map_err(|e| internal(chrome(), "creating a session", e))?;
    Ok(with_session(&state, &token, ttl, "/console/apply"))
}

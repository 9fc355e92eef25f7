//! The console (控制台): server-rendered zh-CN pages for every role, askama templates, charts
//! drawn as SVG on the server, plain HTML forms and no JavaScript at all.
//!
//! Who is looking is a [`Viewer`]: a console account or a citizen, from the `miaopi_session`
//! cookie only (API keys and bearer tokens are for the API; a browser page never carries them).
//! Without a session every page redirects to the login page; a known viewer without the role a
//! page needs gets a 403 page in Chinese.
//!
//! CSRF: every state-changing form carries a per-session token in a hidden field, derived from
//! the session token with SM3 (so it needs no storage and dies with the session), and every POST
//! whose `Origin` (or, lacking it, `Referer`) names another host is refused. The session cookie
//! is also `SameSite=Lax`. The login forms, made before any session exists, rely on the origin
//! check.

mod access;
pub mod charts;
mod dashboard;
mod data;
pub mod markdown;
mod matters;
mod review;

use askama::Template;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use miaopi_govern::Role;

use crate::auth::session_cookie;
use crate::governed::Caller;
use crate::state::AppState;

/// The console's one stylesheet, served by the server (no build step, no CDN).
const CSS: &str = include_str!("../../static/console.css");

/// The console's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console/static/console.css", get(stylesheet))
        .route(
            "/console/login",
            get(access::login_page).post(access::login),
        )
        .route("/console/logout", post(access::logout))
        .route("/console/citizen", get(access::citizen_page))
        .route("/console/citizen/code", post(access::citizen_code))
        .route("/console/citizen/login", post(access::citizen_login))
        .route("/console", get(dashboard::dashboard))
        .route("/console/catalog", get(data::catalog))
        .route("/console/catalog/{code}", get(data::resource))
        .route("/console/batches", get(data::batches))
        .route("/console/batches/{batch_id}", get(data::batch))
        .route("/console/quarantine", get(data::quarantine))
        .route("/console/lookup", get(data::lookup_page).post(data::lookup))
        .route("/console/matters", get(matters::matters))
        .route("/console/matters/{code}", get(matters::matter))
        .route("/console/apply", get(matters::apply_list))
        .route(
            "/console/apply/{code}",
            get(matters::apply_form).post(matters::apply),
        )
        .route("/console/requests", get(review::requests))
        .route("/console/requests/{id}/review", post(review::review))
        .route("/console/audit", get(review::audit))
        .route("/console/audit/verify", post(review::verify))
        .route("/console/my-data", get(review::my_data))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

/// One entry of the navigation bar.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// What every page's frame shows: title, who is logged in, navigation, the CSRF token for the
/// logout form (and any other form on the page).
pub struct Chrome {
    pub title: String,
    /// Empty when nobody is logged in (login pages).
    pub who: String,
    pub roles: String,
    pub nav: Vec<NavLink>,
    pub csrf: String,
}

impl Chrome {
    /// The frame of a page seen without a session.
    pub fn anonymous(title: &str) -> Chrome {
        Chrome {
            title: title.to_string(),
            who: String::new(),
            roles: String::new(),
            nav: Vec::new(),
            csrf: String::new(),
        }
    }

    pub fn logged_in(&self) -> bool {
        !self.who.is_empty()
    }
}

/// The error page (403, 404, 500 ...), in Chinese.
#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    message: String,
}

/// Renders a page; a template that fails to render is a 500 with a plain Chinese message.
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a console page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>服务内部错误</title><p>页面生成失败，请联系管理员。</p></html>"),
            )
                .into_response()
        }
    }
}

/// A page other than the one asked for: an error page or a redirect to the login. Boxed
/// because a response is large and travels through every `?` of a handler.
pub struct Refusal(Box<Response>);

impl From<Response> for Refusal {
    fn from(response: Response) -> Refusal {
        Refusal(Box::new(response))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// An error page with a status.
pub fn error_page(status: StatusCode, chrome: Chrome, message: impl Into<String>) -> Refusal {
    let mut response = render(&ErrorPage {
        chrome,
        status: status.as_u16(),
        message: message.into(),
    });
    *response.status_mut() = status;
    response.into()
}

/// A 500 page that logs its cause; the viewer sees only that it failed.
pub fn internal(chrome: Chrome, context: &str, error: impl std::fmt::Display) -> Refusal {
    tracing::error!(request_id = %crate::error::current_request_id(), context, %error, "console error");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        chrome,
        format!("服务内部错误（{context}），请凭请求编号联系管理员"),
    )
}

/// A console page's result: the page, or an error page / redirect.
pub type PageResult = Result<Response, Refusal>;

/// Whoever is looking at a console page: a console account or a citizen with a session.
pub struct Viewer {
    pub caller: Caller,
    /// The session token (the CSRF token is derived from it).
    session: String,
    /// Whether the request's Origin / Referer (when sent) names this host.
    same_origin: bool,
}

/// Percent-encodes text for a query parameter (letters, digits and `/-_.~` as is).
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where to go after logging in: only console paths of this server, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/console")
                && !n.starts_with("//")
                && !n.contains("://")
                && !n.contains('\\') =>
        {
            n.to_string()
        }
        _ => "/console".to_string(),
    }
}

/// The host part of `scheme://host[:port]/...`.
fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// True unless the request says it comes from a page of another host. Browsers send `Origin`
/// on every form POST; `Referer` is the fallback; a client that sends neither is not a browser
/// being abused (and still needs the CSRF token for anything that needs a session).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let claimed = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null")
        .or_else(|| headers.get(header::REFERER).and_then(|v| v.to_str().ok()));
    match claimed {
        Some(url) => host_of(url).is_some_and(|h| h.eq_ignore_ascii_case(host)),
        // `Origin: null` (sandboxed or privacy-stripped) without a Referer: cannot tell, refuse.
        None => headers.get(header::ORIGIN).is_none(),
    }
}

impl Viewer {
    pub fn is_citizen(&self) -> bool {
        matches!(self.caller, Caller::Citizen { .. })
    }

    pub fn is_account(&self) -> bool {
        matches!(self.caller, Caller::Account(_))
    }

    pub fn is_administrator(&self) -> bool {
        self.caller.is_administrator()
    }

    /// Administrators and auditors.
    pub fn is_auditor(&self) -> bool {
        self.caller.is_auditor()
    }

    /// Administrators and provider reviewers.
    pub fn is_reviewer(&self) -> bool {
        self.caller
            .account_with(|r| matches!(r, Role::ProviderReviewer { .. }))
            .is_some()
    }

    pub fn csrf(&self) -> String {
        crate::auth::csrf_token(&self.session)
    }

    /// The frame of a page, with the navigation this viewer may use; `active` is the href of
    /// the current section.
    pub fn chrome(&self, title: &str, active: &str) -> Chrome {
        let mut links: Vec<(&'static str, &'static str)> = Vec::new();
        let (who, roles) = match &self.caller {
            Caller::Account(a) => {
                links.push(("/console", "首页"));
                links.push(("/console/catalog", "资源目录"));
                links.push(("/console/batches", "汇聚批次"));
                links.push(("/console/quarantine", "隔离区"));
                if self.is_auditor() {
                    links.push(("/console/lookup", "一证通办"));
                }
                links.push(("/console/matters", "事项"));
                if self.is_reviewer() {
                    links.push(("/console/requests", "共享申请"));
                }
                if self.is_auditor() {
                    links.push(("/console/audit", "审计"));
                }
                (a.display_name.clone(), Role::labels_zh(&a.roles))
            }
            Caller::Citizen { resident_id } => {
                links.push(("/console/apply", "办事"));
                links.push(("/console/matters", "事项"));
                links.push(("/console/my-data", "我的数据使用记录"));
                (
                    miaopi_govern::mask_subject(resident_id),
                    "办事群众".to_string(),
                )
            }
            Caller::Consumer(c) => (c.name.clone(), "数据使用方".to_string()),
        };
        Chrome {
            title: title.to_string(),
            who,
            roles,
            nav: links
                .into_iter()
                .map(|(href, label)| NavLink {
                    href,
                    label,
                    active: href == active,
                })
                .collect(),
            csrf: self.csrf(),
        }
    }

    /// A 403 page unless `allowed`.
    pub fn require(&self, allowed: bool, message: &str) -> Result<(), Refusal> {
        if allowed {
            Ok(())
        } else {
            Err(error_page(
                StatusCode::FORBIDDEN,
                self.chrome("无权访问", ""),
                message,
            ))
        }
    }

    /// Checks a POST: same origin and the session's CSRF token.
    pub fn check_post(&self, token: &str) -> Result<(), Refusal> {
        if self.same_origin && crate::auth::csrf_matches(&self.session, token) {
            Ok(())
        } else {
            Err(error_page(
                StatusCode::FORBIDDEN,
                self.chrome("请求被拒绝", ""),
                "表单已过期或来源不明（跨站请求校验未通过），请刷新页面后重试",
            ))
        }
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || {
            let path = parts
                .uri
                .path_and_query()
                .map_or("/console", |p| p.as_str());
            Redirect::to(&format!("/console/login?next={}", encode_component(path))).into_response()
        };
        let Some(token) = session_cookie(&parts.headers).map(str::to_string) else {
            return Err(to_login());
        };
        // The same lookup as the API's: one cache, one expiry, one logout.
        let caller = crate::governed::identity::caller_for_token(state, &token)
            .await
            .map_err(|e| {
                error_page(e.status, Chrome::anonymous("服务内部错误"), e.message).into_response()
            })?;
        let caller = match caller {
            Some(Caller::Consumer(_)) => {
                return Err(error_page(
                    StatusCode::FORBIDDEN,
                    Chrome::anonymous("无权访问"),
                    "数据使用方请通过接口访问平台，控制台仅供工作人员和办事群众使用",
                )
                .into_response());
            }
            Some(caller) => caller,
            // Expired or ended: log in again.
            None => return Err(to_login()),
        };
        Ok(Viewer {
            caller,
            session: token,
            same_origin: same_origin(&parts.headers),
        })
    }
}

/// Chinese labels of audit actions.
pub fn action_zh(action: &str) -> &str {
    match action {
        "read_profile" => "查询档案",
        "read_records" => "查询资源记录",
        "decide" => "秒批办理",
        "read_decision" => "查看办理结果",
        "sql" => "SQL 查询",
        "grant_request" => "共享申请",
        "review_request" => "审核共享申请",
        other => other,
    }
}

/// Date and time in Asia/Shanghai, to the second.
pub fn shanghai_time(at: chrono::DateTime<Utc>) -> String {
    at.with_timezone(&miaopi_decide::dates::shanghai())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn next_stays_on_the_console() {
        assert_eq!(safe_next(Some("/console/audit")), "/console/audit");
        assert_eq!(safe_next(Some("https://evil.example/")), "/console");
        assert_eq!(safe_next(Some("//evil.example")), "/console");
        assert_eq!(safe_next(Some("/console@evil/..\\x")), "/console");
        assert_eq!(safe_next(None), "/console");
        assert_eq!(
            encode_component("/console/a?b=c d"),
            "/console/a%3Fb%3Dc%20d"
        );
    }

    #[test]
    fn posts_from_another_host_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h), "no Origin: not a browser form");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h), "opaque origin without a referer");
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://127.0.0.1:8080/console/audit"),
        );
        assert!(same_origin(&h));
    }

    #[test]
    fn csrf_tokens_are_per_session() {
        use crate::auth::{csrf_matches, csrf_token};
        let a = csrf_token("session-a");
        assert_eq!(a.len(), 64);
        assert_eq!(a, csrf_token("session-a"));
        assert_ne!(a, csrf_token("session-b"));
        assert!(csrf_matches("session-a", &a));
        assert!(!csrf_matches("session-b", &a));
        assert!(!csrf_matches("session-a", ""));
        assert!(!csrf_matches("session-a", &a[..63]));
    }
}

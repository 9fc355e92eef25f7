//! miaopi-server: the platform online. One axum process serves the governed API under
//! `/api/v1` (its OpenAPI document at `/api/openapi.json`) and the Chinese console under
//! `/console`, over one embedded state directory.
//!
//! Every request gets an id (`x-request-id`, echoed in error bodies and logs). Callers are
//! identified in [`auth`]: department consumers by API key or OAuth2 client-credentials token,
//! console users and citizens by session. Every read of a person's or enterprise's data goes
//! through [`governed`]: the caller's grant for the resource, fields and purpose decides what is
//! returned and what is masked, and the read is appended to the audit chain before the answer
//! leaves.

pub mod api;
pub mod auth;
pub mod console;
pub mod error;
pub mod governed;
pub mod group_commit;
pub mod hardening;
pub mod limits;
pub mod outbox;
pub mod state;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

pub use state::{AppState, ServeOptions};

/// The largest request body accepted (pushed intake included): 64 MiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: a per-process random prefix and a counter, so ids are unique and cheap.
#[derive(Clone)]
struct RequestIds {
    prefix: String,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:08x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// Makes the request id visible to the handler (error bodies name it).
async fn scope_request_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    error::REQUEST_ID.scope(id, next.run(request)).await
}

/// The whole application: API, OpenAPI document, console.
pub fn router(state: AppState) -> Router {
    let (api_router, openapi) = api::router().split_for_parts();
    let openapi_json = std::sync::Arc::new(
        serde_json::to_value(&openapi).unwrap_or_else(|_| serde_json::json!({})),
    );
    let ids = RequestIds {
        prefix: format!("{:08x}", rand_u32()),
        next: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1)),
    };
    api_router
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let doc = openapi_json.clone();
                async move { axum::Json((*doc).clone()) }
            }),
        )
        .merge(console::router())
        .with_state(state)
        .layer(middleware::from_fn(scope_request_id))
        .layer(middleware::from_fn(hardening::security_headers))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request
                        .headers()
                        .get(&X_REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    // Never the query string, and identifiers in the path masked.
                    let path = hardening::loggable_path(request.uri().path());
                    tracing::info_span!("request", request_id = %id, method = %request.method(), path = %path)
                })
                .on_response(|response: &Response, latency: Duration, _span: &tracing::Span| {
                    tracing::info!(status = response.status().as_u16(), latency_us = latency.as_micros() as u64, "answered");
                }),
        )
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID.clone(), ids))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_panic| {
            error::ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "服务内部错误，请联系管理员",
            )
            .into_response()
        }))
}

/// A random 32-bit number from the OS (for request-id prefixes), without a RNG dependency.
fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish() as u32
}

/// Serves until ctrl-c (or the future `shutdown` completes).
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

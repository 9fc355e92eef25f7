//! API errors: an HTTP status, a stable machine code and a Chinese message, always as JSON
//! `{"error": {"code", "message", "request_id"}}`. Codes are part of the API contract: clients
//! branch on them, so they never change meaning.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use miaopi_govern::GovernError;
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being handled, so that an error body can name it.
    pub static REQUEST_ID: String;
}

/// The request id of the current request, if any.
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_default()
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// The JSON body of an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `unauthenticated`, `not_granted`, `not_found`.
    pub code: String,
    /// 说明 (zh-CN).
    pub message: String,
    /// The request id (also in the `x-request-id` header and the server log).
    pub request_id: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 401: no or unknown credentials.
    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "需要身份认证：请提供 API Key（X-API-Key）、访问令牌（Authorization: Bearer）或登录会话",
        )
    }

    /// 403: known caller, not allowed.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 500: logged with its cause; the client sees only that it failed and the request id.
    pub fn internal(context: &str, error: impl std::fmt::Display) -> ApiError {
        tracing::error!(request_id = %current_request_id(), context, %error, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("服务内部错误（{context}），请凭请求编号联系管理员"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                request_id: current_request_id(),
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// Handler results.
pub type ApiResult<T> = Result<T, ApiError>;

/// A refusal or bad input from governance, shown to the caller; anything else is ours.
pub fn govern_error(e: GovernError, context: &str) -> ApiError {
    if !e.is_client_error() {
        return ApiError::internal(context, e);
    }
    let message = e.to_string();
    match e {
        GovernError::UnknownResource(_)
        | GovernError::UnknownRequest(_)
        | GovernError::UnknownConsumer(_)
        | GovernError::UnknownAccount(_) => ApiError::not_found(message),
        GovernError::ReviewerNotAllowed { .. } | GovernError::NotGranted { .. } => {
            ApiError::forbidden("not_allowed", message)
        }
        GovernError::AlreadyReviewed { .. } | GovernError::AccountExists(_) => {
            ApiError::new(StatusCode::CONFLICT, "conflict", message)
        }
        GovernError::TooSoon { .. } => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_soon", message)
        }
        GovernError::UnknownField { .. } => ApiError::bad_request("unknown_field", message),
        GovernError::InvalidResidentId { .. } => {
            ApiError::bad_request("invalid_resident_id", message)
        }
        _ => ApiError::bad_request("invalid_request", message),
    }
}

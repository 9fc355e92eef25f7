//! The HTTP API under `/api`: every handler is annotated for the OpenAPI document, so routes
//! and document are one list.

pub mod access;
pub mod data;
pub mod intake;
pub mod matters;
pub mod platform;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "miaopi 数据中台 API",
        description = "政务数据共享、一证通办、秒批与审计的接口。读取个人或法人数据须持共享授权并说明用途（purpose），默认脱敏，每次读取写入审计链。",
        license(name = "Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "platform", description = "平台状态与资源目录"),
        (name = "access", description = "身份认证、共享授权与审计"),
        (name = "data", description = "一证通办与资源数据（受控共享）"),
        (name = "matters", description = "秒批事项、申请、决定与电子证照"),
        (name = "intake", description = "数据汇聚与质量"),
    )
)]
struct ApiDoc;

/// The three ways to call: API key, bearer token (OAuth2 access token or session), cookie.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// Every API route with its OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(platform::health))
        .routes(routes!(platform::resources))
        .routes(routes!(platform::resource))
        .routes(routes!(access::token))
        .routes(routes!(access::login, access::logout))
        .routes(routes!(access::citizen_code))
        .routes(routes!(access::citizen_login))
        .routes(routes!(access::whoami))
        .routes(routes!(access::request_grant, access::grant_requests))
        .routes(routes!(access::review_grant_request))
        .routes(routes!(access::grants))
        .routes(routes!(access::audit))
        .routes(routes!(access::audit_verify))
        .routes(routes!(access::my_accesses))
        .routes(routes!(data::person))
        .routes(routes!(data::enterprise))
        .routes(routes!(data::records))
        .routes(routes!(data::sql))
        .routes(routes!(matters::matters))
        .routes(routes!(matters::matter))
        .routes(routes!(matters::guide))
        .routes(routes!(matters::apply))
        .routes(routes!(matters::decision))
        .routes(routes!(matters::decisions))
        .routes(routes!(matters::verify_certificate_file))
        .routes(routes!(intake::push))
        .routes(routes!(intake::batches))
        .routes(routes!(intake::quality))
}

//! Health and the resource catalogue (目录 metadata is public; the data is not).

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// 平台状态.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    pub version: String,
    pub uptime_s: u64,
}

/// Liveness: answers without touching storage (also the baseline of `bench/http`).
#[utoipa::path(get, path = "/api/health", tag = "platform",
    responses((status = 200, description = "服务正常", body = Health)))]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_s: state.started.elapsed().as_secs(),
    })
}

/// 信息资源 as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceSummary {
    pub code: String,
    pub catalog_code: String,
    pub name: String,
    pub unit: String,
    pub unit_name: String,
    /// 共享类型 (无条件共享 / 有条件共享 / 不予共享).
    pub share_type: String,
    pub share_type_zh: String,
    pub open_type_zh: String,
    pub update_cycle_zh: String,
    pub grade_zh: String,
    pub fields: usize,
}

/// 信息项.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldInfo {
    pub name: String,
    pub label: String,
    pub data_type: String,
    pub required: bool,
    /// 敏感级别 L1..L4.
    pub sensitivity: String,
}

/// 信息资源 with its fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceDetail {
    #[serde(flatten)]
    pub summary: ResourceSummary,
    pub summary_zh: String,
    pub share_condition: Option<String>,
    pub key: Vec<String>,
    pub field_list: Vec<FieldInfo>,
}

pub fn summary_of(state: &AppState, r: &miaopi_catalog::Resource) -> ResourceSummary {
    ResourceSummary {
        code: r.code.clone(),
        catalog_code: r.catalog_code.clone(),
        name: r.name.clone(),
        unit: r.unit.clone(),
        unit_name: state
            .pack
            .unit(&r.unit)
            .map_or_else(|| r.unit.clone(), |u| u.name.clone()),
        share_type: r.share_type.as_str().to_string(),
        share_type_zh: r.share_type.label_zh().to_string(),
        open_type_zh: r.open_type.label_zh().to_string(),
        update_cycle_zh: r.update_cycle.label_zh().to_string(),
        grade_zh: r.grade.label_zh().to_string(),
        fields: r.fields.len(),
    }
}

/// 政务信息资源目录: every resource of the district.
#[utoipa::path(get, path = "/api/v1/catalog/resources", tag = "platform",
    responses((status = 200, description = "资源目录", body = [ResourceSummary])))]
pub async fn resources(State(state): State<AppState>) -> Json<Vec<ResourceSummary>> {
    Json(
        state
            .pack
            .resources
            .iter()
            .map(|r| summary_of(&state, r))
            .collect(),
    )
}

/// One resource with its fields (信息项), share conditions and record key.
#[utoipa::path(get, path = "/api/v1/catalog/resources/{code}", tag = "platform",
    params(("code" = String, Path, description = "资源 code，如 hukou_residents")),
    responses((status = 200, description = "资源详情", body = ResourceDetail),
              (status = 404, description = "无此资源", body = ErrorBody)))]
pub async fn resource(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Json<ResourceDetail>> {
    let r = state
        .pack
        .resource(&code)
        .ok_or_else(|| ApiError::not_found(format!("资源目录中没有 {code:?}")))?;
    Ok(Json(ResourceDetail {
        summary: summary_of(&state, r),
        summary_zh: r.summary.clone(),
        share_condition: r.share_condition.clone(),
        key: r.key.clone(),
        field_list: r
            .fields
            .iter()
            .map(|f| FieldInfo {
                name: f.name.clone(),
                label: f.label.clone(),
                data_type: f.data_type.as_str().to_string(),
                required: f.required,
                sensitivity: f.sensitivity.as_str().to_string(),
            })
            .collect(),
    }))
}

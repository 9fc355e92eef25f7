//! Pushed intake (a unit's system posts NDJSON instead of dropping a file), the intake batches
//! and data quality. Pushed rows take exactly the file path: the same reader, standardiser,
//! quarantine and lineage, the same batch ids and reconciliation.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use miaopi_batch::{Home, ingest_file};
use miaopi_catalog::{FileFormat, TextEncoding};
use miaopi_ingest::{ReadOptions, Standardizer};
use miaopi_meta::MetaStore;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::governed::Caller;
use crate::state::AppState;

/// Push parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PushQuery {
    /// 批次键: the sender's name for this delivery (1–64 of `A-Z a-z 0-9 _ -`). Sending the
    /// same key with the same body again changes nothing; with a different body it is refused.
    pub batch_key: String,
}

fn valid_batch_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Pushes one batch of records (NDJSON: one JSON object per line, keys are field names or
/// labels) into a resource. The answer is the batch's reconciliation: read = accepted +
/// quarantined, with reasons.
#[utoipa::path(post, path = "/api/v1/intake/{resource}", tag = "intake",
    params(("resource" = String, Path, description = "资源 code"), PushQuery),
    request_body(content = String, content_type = "text/plain", description = "NDJSON：每行一个 JSON 对象（application/x-ndjson 亦可）"),
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 200, description = "批次结果（含对账与隔离原因）", body = Object),
              (status = 400, description = "请求无效", body = ErrorBody),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "只能向本单位的资源推送", body = ErrorBody),
              (status = 404, description = "无此资源", body = ErrorBody),
              (status = 409, description = "批次键已用于不同内容", body = ErrorBody)))]
pub async fn push(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(resource_code): Path<String>,
    Query(query): Query<PushQuery>,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let resource = state
        .pack
        .resource(&resource_code)
        .ok_or_else(|| ApiError::not_found(format!("资源目录中没有 {resource_code:?}")))?;
    let allowed = match &caller {
        Caller::Consumer(c) => c.unit_code.as_deref() == Some(resource.unit.as_str()),
        Caller::Account(_) => caller.is_administrator(),
        Caller::Citizen { .. } => false,
    };
    if !allowed {
        return Err(ApiError::forbidden(
            "not_provider",
            format!(
                "只有提供方单位（{}）的系统或管理员可以向资源 {} 推送数据",
                resource.unit, resource.code
            ),
        ));
    }
    if !valid_batch_key(&query.batch_key) {
        return Err(ApiError::bad_request(
            "bad_batch_key",
            "batch_key 须为 1–64 个字母、数字、下划线或连字符",
        ));
    }
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request(
            "empty_body",
            "请求体为空：请按行提交 JSON 对象（NDJSON）",
        ));
    }
    // The delivery is kept as a file, as if the unit had dropped it: the batch id is its
    // content hash, and a crash mid-batch resumes from it.
    let dir = state
        .options
        .home
        .join("inbox")
        .join(&resource.unit)
        .join(&resource.code);
    let path = dir.join(format!("{}.jsonl", query.batch_key));
    let io = |e: std::io::Error| ApiError::internal("storing a pushed batch", e);
    std::fs::create_dir_all(&dir).map_err(io)?;
    match std::fs::read(&path) {
        Ok(existing) if existing != body.as_ref() => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "batch_key_reused",
                format!(
                    "批次键 {} 已用于内容不同的一批数据；新的一批请使用新的批次键",
                    query.batch_key
                ),
            ));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tmp = path.with_extension("jsonl.tmp");
            std::fs::write(&tmp, &body).map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)?;
        }
        Err(e) => return Err(io(e)),
    }
    let mut pushed = resource.clone();
    pushed.format = FileFormat::Jsonl;
    pushed.encoding = Some(TextEncoding::Utf8);
    let standardizer = Standardizer::new(&state.pack, &pushed)
        .map_err(|e| ApiError::internal("preparing the standardiser", e))?;
    let home = Home {
        dir: state.options.home.clone(),
        lake: state.lake.clone(),
        meta: state.platform.meta.clone(),
    };
    let report = ingest_file(
        &home,
        &Arc::new(standardizer),
        &pushed,
        &path,
        &ReadOptions::default(),
        &|_| {},
    )
    .await
    .map_err(|e| {
        let text = e.to_string();
        if matches!(e, miaopi_batch::BatchError::Read(_)) {
            ApiError::bad_request("unreadable_batch", format!("无法读取推送的数据：{text}"))
        } else {
            ApiError::internal("ingesting a pushed batch", text)
        }
    })?;
    tracing::info!(
        resource = %report.resource,
        batch_id = %report.batch_id,
        rows_read = report.rows_read,
        rows_accepted = report.rows_accepted,
        rows_quarantined = report.rows_quarantined,
        "pushed batch"
    );
    Ok(Json(serde_json::to_value(&report).unwrap_or_default()))
}

/// Intake batches, newest first (console users).
#[utoipa::path(get, path = "/api/v1/intake/batches", tag = "intake",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "汇聚批次", body = Object),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "仅控制台用户", body = ErrorBody)))]
pub async fn batches(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<serde_json::Value>> {
    if !matches!(caller, Caller::Account(_)) {
        return Err(ApiError::forbidden(
            "role_required",
            "只有控制台用户可以查看汇聚批次",
        ));
    }
    let mut batches = state
        .platform
        .meta
        .batches()
        .await
        .map_err(|e| ApiError::internal("reading batches", e))?;
    batches.sort_by(|a, b| b.started_at.cmp(&a.started_at));
    Ok(Json(serde_json::to_value(&batches).unwrap_or_default()))
}

/// Data quality per resource: rows, quarantine rate and reasons, field completeness.
#[utoipa::path(get, path = "/api/v1/quality", tag = "intake",
    security(("session" = []), ("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "数据质量", body = Object),
              (status = 401, description = "未认证", body = ErrorBody)))]
pub async fn quality(
    State(state): State<AppState>,
    Authenticated(_caller): Authenticated,
) -> ApiResult<Json<serde_json::Value>> {
    let quality = state
        .platform
        .meta
        .quality()
        .await
        .map_err(|e| ApiError::internal("reading quality", e))?;
    Ok(Json(serde_json::to_value(&quality).unwrap_or_default()))
}

//! 一证通办 and shared resource data: every answer cut to the caller's grant, masked by default,
//! and audited (see [`crate::governed`]).

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, Query, State};
use miaopi_catalog::EntityRole;
use miaopi_index::{Key, mask_value};
use miaopi_lake::arrow::datatypes::DataType;
use miaopi_lake::datafusion::common::Column;
use miaopi_lake::datafusion::logical_expr::{Expr, cast, lit};
use miaopi_lake::{AsOf, Layer, TableRead};
use miaopi_model::{ResidentId, Uscc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::governed::Caller;
use crate::governed::rows::batches_to_json;
use crate::governed::{
    audit_reads, consumer_visibility, parse_purpose, purpose_text, read_profile,
};
use crate::state::AppState;

/// The purpose of a read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PurposeQuery {
    /// `matter:<事项编码>` or `duty:<履职事由>`; required of department consumers.
    pub purpose: Option<String>,
}

/// A profile as served.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileResponse {
    /// Whether values are masked (脱敏) where the grant does not say otherwise.
    pub masked_by_default: bool,
    /// The entity's profile: golden values, facts with provenance (unit, resource, batch,
    /// time), graph edges and keys — only what the caller's grant covers.
    #[schema(value_type = Object)]
    pub profile: miaopi_index::Profile,
}

/// 一证通办: a person's whole profile across every source the caller's grant covers.
#[utoipa::path(get, path = "/api/v1/persons/{resident_id}", tag = "data",
    params(("resident_id" = String, Path, description = "公民身份号码（GB 11643）"), PurposeQuery),
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 200, description = "个人画像（按授权裁剪、默认脱敏）", body = ProfileResponse),
              (status = 400, description = "身份证号或用途无效", body = ErrorBody),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "无共享授权", body = ErrorBody),
              (status = 404, description = "未找到", body = ErrorBody)))]
pub async fn person(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(resident_id): Path<String>,
    Query(query): Query<PurposeQuery>,
) -> ApiResult<Json<ProfileResponse>> {
    let id = ResidentId::parse(resident_id.trim()).map_err(|e| {
        ApiError::bad_request(
            "invalid_resident_id",
            format!("{:?} 不是有效的公民身份号码：{e}", resident_id.trim()),
        )
    })?;
    let profile = read_profile(
        &state,
        &caller,
        &Key::person(id.as_str()),
        query.purpose.as_deref(),
    )
    .await?;
    Ok(Json(ProfileResponse {
        masked_by_default: true,
        profile,
    }))
}

/// 一照通办: a legal person's profile across every source the caller's grant covers.
#[utoipa::path(get, path = "/api/v1/enterprises/{uscc}", tag = "data",
    params(("uscc" = String, Path, description = "统一社会信用代码（GB 32100）"), PurposeQuery),
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 200, description = "法人画像（按授权裁剪、默认脱敏）", body = ProfileResponse),
              (status = 400, description = "信用代码或用途无效", body = ErrorBody),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "无共享授权", body = ErrorBody),
              (status = 404, description = "未找到", body = ErrorBody)))]
pub async fn enterprise(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(uscc): Path<String>,
    Query(query): Query<PurposeQuery>,
) -> ApiResult<Json<ProfileResponse>> {
    let code = Uscc::parse(uscc.trim()).map_err(|e| {
        ApiError::bad_request(
            "invalid_uscc",
            format!("{:?} 不是有效的统一社会信用代码：{e}", uscc.trim()),
        )
    })?;
    if let Caller::Citizen { .. } = caller {
        return Err(ApiError::forbidden(
            "not_own_data",
            "个人只能查询本人的数据",
        ));
    }
    let profile = read_profile(
        &state,
        &caller,
        &Key::credit_code(code.as_str()),
        query.purpose.as_deref(),
    )
    .await?;
    Ok(Json(ProfileResponse {
        masked_by_default: true,
        profile,
    }))
}

/// Records query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordsQuery {
    /// `matter:<事项编码>` or `duty:<履职事由>`.
    pub purpose: Option<String>,
    /// Filter: a field name (信息项) ...
    pub field: Option<String>,
    /// ... equal to this value.
    pub value: Option<String>,
    /// Comma-separated fields to return (default: every granted field).
    pub fields: Option<String>,
    /// Page size (default 50, at most 1000).
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordsPage {
    pub resource: String,
    pub fields: Vec<String>,
    /// Fields returned unmasked (the grant says so).
    pub unmasked: Vec<String>,
    pub limit: u32,
    pub offset: u32,
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Shared records of one resource (明细层, standardised), filtered and paged; only granted
/// fields, masked unless the grant unmasks them. Each person or enterprise in the page is
/// audited.
#[utoipa::path(get, path = "/api/v1/resources/{code}/records", tag = "data",
    params(("code" = String, Path, description = "资源 code"), RecordsQuery),
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 200, description = "记录（按授权裁剪、默认脱敏）", body = RecordsPage),
              (status = 400, description = "参数无效", body = ErrorBody),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "无共享授权", body = ErrorBody),
              (status = 404, description = "无此资源", body = ErrorBody)))]
pub async fn records(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(code): Path<String>,
    Query(query): Query<RecordsQuery>,
) -> ApiResult<Json<RecordsPage>> {
    let resource = state
        .pack
        .resource(&code)
        .ok_or_else(|| ApiError::not_found(format!("资源目录中没有 {code:?}")))?;
    let requested: Vec<&str> = match &query.fields {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect(),
        None => resource.fields.iter().map(|f| f.name.as_str()).collect(),
    };
    for f in &requested {
        if resource.field(f).is_none() {
            return Err(ApiError::bad_request(
                "unknown_field",
                format!("资源 {code} 没有信息项 {f:?}"),
            ));
        }
    }
    let (purpose, visible) = match &caller {
        Caller::Consumer(c) => {
            let purpose = parse_purpose(query.purpose.as_deref())?;
            let visible = consumer_visibility(
                &state,
                &c.consumer_id,
                vec![(
                    code.clone(),
                    requested.iter().map(|f| f.to_string()).collect(),
                )],
                &purpose,
            )
            .await?;
            let Some(v) = visible.get(&code).cloned() else {
                return Err(ApiError::forbidden(
                    "not_granted",
                    format!(
                        "{} 没有资源 {}（{}）用于“{}”的有效共享授权",
                        c.name,
                        resource.name,
                        code,
                        purpose_text(&purpose)
                    ),
                ));
            };
            (purpose_text(&purpose), v)
        }
        Caller::Account(_) if caller.is_administrator() || caller.is_auditor() => {
            let purpose = match query.purpose.as_deref() {
                Some(p) => purpose_text(&parse_purpose(Some(p))?),
                None => "duty:控制台查询".to_string(),
            };
            let v = crate::governed::Visible {
                fields: requested.iter().map(|f| f.to_string()).collect(),
                unmasked: BTreeSet::new(),
            };
            (purpose, v)
        }
        _ => {
            return Err(ApiError::forbidden(
                "not_granted",
                "只有持共享授权的数据使用方或管理员可以读取资源数据",
            ));
        }
    };
    let fields: Vec<&str> = requested
        .iter()
        .copied()
        .filter(|f| visible.fields.contains(*f))
        .collect();
    if fields.is_empty() {
        return Err(ApiError::forbidden(
            "not_granted",
            "共享授权不包含所请求的任何信息项",
        ));
    }
    // Subjects of the page, for the audit chain: the fields that identify a person or a
    // legal person, read even when not returned.
    let subject_fields: Vec<&str> = resource
        .fields
        .iter()
        .filter(|f| {
            matches!(
                f.role,
                Some(EntityRole::PersonId)
                    | Some(EntityRole::CreditCode)
                    | Some(EntityRole::PartyId)
            )
        })
        .map(|f| f.name.as_str())
        .collect();
    // The read is built from expressions: the field names were checked against the
    // catalogue and the filter value is a literal, so nothing a caller sends is parsed.
    let column = |f: &str| Expr::Column(Column::new_unqualified(f));
    let mut columns: Vec<Expr> = fields.iter().map(|f| column(f)).collect();
    for (i, f) in subject_fields.iter().enumerate() {
        columns.push(cast(column(f), DataType::Utf8).alias(format!("__subject_{i}")));
    }
    let filter = match (&query.field, &query.value) {
        (Some(f), Some(v)) => {
            if resource.field(f).is_none() {
                return Err(ApiError::bad_request(
                    "unknown_field",
                    format!("资源 {code} 没有信息项 {f:?}"),
                ));
            }
            if !visible.fields.contains(f.as_str()) {
                return Err(ApiError::forbidden(
                    "not_granted",
                    format!("共享授权不包含用作筛选条件的信息项 {f}"),
                ));
            }
            Some(cast(column(f), DataType::Utf8).eq(lit(v.trim().to_owned())))
        }
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "bad_filter",
                "筛选须同时给出 field 和 value",
            ));
        }
    };
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    let offset = query.offset.unwrap_or(0);
    // A resource nobody has delivered yet has no table: an empty page, not an error.
    let batches = state
        .lake
        .read_table(TableRead {
            layer: Layer::Dwd,
            table: resource.code.clone(),
            columns,
            filter,
            order_by: Vec::new(),
            skip: offset as usize,
            fetch: Some(limit as usize),
        })
        .await
        .map_err(|e| ApiError::internal("reading the lake", e))?;
    let rows = batches_to_json(&batches)?;
    let mut records = Vec::with_capacity(rows.len());
    let mut subjects: BTreeSet<String> = BTreeSet::new();
    for mut row in rows {
        for i in 0..subject_fields.len() {
            if let Some(serde_json::Value::String(s)) = row.remove(&format!("__subject_{i}"))
                && !s.is_empty()
            {
                subjects.insert(s);
            }
        }
        for (name, value) in row.iter_mut() {
            if visible.unmasked.contains(name.as_str()) {
                continue;
            }
            let level = resource.field(name).map_or(4, |f| f.sensitivity.level());
            if let serde_json::Value::String(s) = value {
                *value = serde_json::Value::String(mask_value(name, s, level));
            } else if level >= 3 && !value.is_null() {
                *value = serde_json::Value::String(miaopi_index::WITHHELD.into());
            }
        }
        records.push(row);
    }
    let returned: Vec<String> = fields.iter().map(|f| format!("{code}.{f}")).collect();
    let subjects: Vec<String> = subjects.into_iter().collect();
    audit_reads(
        &state,
        &caller,
        &subjects,
        "read_records",
        &returned,
        &purpose,
    )
    .await?;
    Ok(Json(RecordsPage {
        resource: code.clone(),
        fields: fields.iter().map(|f| f.to_string()).collect(),
        unmasked: visible.unmasked.iter().cloned().collect(),
        limit,
        offset,
        records,
    }))
}

/// Read-only SQL.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SqlRequest {
    /// One SELECT over `ods.*`, `dwd.*`, `quarantine.*`, `link.*`, `base.*`, `graph.*`,
    /// `hist.*`.
    pub sql: String,
    /// At most this many rows (default and largest: [`SQL_MAX_ROWS`]).
    pub max_rows: Option<usize>,
    /// `duty:<履职事由>` or `matter:<事项编码>`: required to see sensitive columns unmasked.
    pub purpose: Option<String>,
    /// Sensitive columns (L2–L4 in the catalogue) and resident IDs are masked unless this is
    /// true and a purpose is stated (audited).
    #[serde(default)]
    pub unmasked: bool,
}

/// The most rows one SQL answer carries.
pub const SQL_MAX_ROWS: usize = 10_000;
/// About the most Arrow bytes one SQL answer reads before it is cut.
pub const SQL_MAX_BYTES: usize = 32 * 1024 * 1024;

/// Result of a query.
#[derive(Debug, Serialize, ToSchema)]
pub struct SqlResult {
    pub rows: usize,
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Rows or bytes beyond the limits were left out.
    pub truncated: bool,
    /// Whether sensitive values were masked.
    pub masked: bool,
    /// The table columns the query's plan read (as audited).
    pub columns_read: Vec<String>,
}

/// The catalogue's sensitivity of a lake table's column (`dwd.hukou_residents` → `name` →
/// 3), for the layers that hold a resource's fields; link, base and graph tables name their
/// columns after the fields they carry.
fn column_sensitivity(state: &AppState, table: &str, column: &str) -> Option<u8> {
    let resource = table.rsplit('.').next()?;
    if let Some(r) = state.pack.resource(resource) {
        return r.field(column).map(|f| f.sensitivity.level());
    }
    // A derived table: the most sensitive level any resource gives a field of this name.
    state
        .pack
        .resources
        .iter()
        .filter_map(|r| r.field(column))
        .map(|f| f.sensitivity.level())
        .max()
}

/// SQL over the lake — administrators only, read-only (DDL, DML and statements refused), with
/// row, byte and time limits. Sensitive columns are masked unless a purpose is stated and
/// unmasking asked for; the audit entry names the tables and columns the plan reads.
#[utoipa::path(post, path = "/api/v1/sql", tag = "data", request_body = SqlRequest,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "查询结果", body = SqlResult),
              (status = 400, description = "SQL 无效、不是只读查询或超时", body = ErrorBody),
              (status = 401, description = "未认证", body = ErrorBody),
              (status = 403, description = "仅管理员", body = ErrorBody)))]
pub async fn sql(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(request): Json<SqlRequest>,
) -> ApiResult<Json<SqlResult>> {
    if !caller.is_administrator() {
        return Err(ApiError::forbidden(
            "role_required",
            "只有管理员可以执行 SQL 查询",
        ));
    }
    let purpose = match request.purpose.as_deref() {
        Some(p) => crate::governed::purpose_text(&parse_purpose(Some(p))?),
        None if request.unmasked => {
            return Err(ApiError::bad_request(
                "purpose_required",
                "查看未脱敏数据须说明用途：purpose=duty:<履职事由> 或 matter:<事项编码>",
            ));
        }
        None => "duty:平台运维查询".to_owned(),
    };
    let masked = !request.unmasked;
    let limits = miaopi_lake::QueryLimits {
        max_rows: request.max_rows.unwrap_or(SQL_MAX_ROWS).min(SQL_MAX_ROWS),
        max_bytes: SQL_MAX_BYTES,
        timeout: std::time::Duration::from_millis(state.options.sql_timeout_ms),
    };
    let views = miaopi_batch::history_views(&state.pack);
    let result = state
        .lake
        .query_bounded(&request.sql, &AsOf::Latest, &views, &limits)
        .await
        .map_err(|e| match e {
            miaopi_lake::LakeError::Timeout(t) => ApiError::bad_request(
                "query_timeout",
                format!("查询超过 {} 秒未完成，已停止", t.as_secs_f64()),
            ),
            e => ApiError::bad_request("bad_sql", format!("查询失败（仅允许只读查询）：{e}")),
        })?;
    let mut records = batches_to_json(&result.batches)?;
    if masked {
        // Each answer column is masked by the most sensitive catalogue field its values come
        // from (the plan's lineage, so a rename or a subquery changes nothing): a column as
        // stored is masked like that field; a value computed from a field of level 3 or more
        // (`upper(name)`, `substr(resident_id, 7, 8)`) is withheld. Any resident ID left in
        // any text is masked too.
        let mut masks: BTreeMap<&str, (u8, &str, bool)> = BTreeMap::new();
        for (name, source) in &result.output {
            let most = source
                .columns
                .iter()
                .filter_map(|(t, c)| column_sensitivity(&state, t, c).map(|l| (l, c.as_str())))
                .max();
            if let Some((level, field)) = most.filter(|(l, _)| *l >= 2) {
                let entry = masks
                    .entry(name.as_str())
                    .or_insert((level, field, source.direct));
                if level > entry.0 {
                    (entry.0, entry.1) = (level, field);
                }
                entry.2 &= source.direct;
            }
        }
        for record in &mut records {
            for (column, value) in record.iter_mut() {
                let Some(&(level, field, direct)) = masks.get(column.as_str()) else {
                    continue;
                };
                match &*value {
                    serde_json::Value::Null => {}
                    serde_json::Value::String(text) if direct || level < 3 => {
                        *value = serde_json::Value::String(mask_value(field, text, level));
                    }
                    _ if level >= 3 => {
                        *value = serde_json::Value::String(miaopi_index::WITHHELD.into());
                    }
                    _ => {}
                }
            }
            let mut whole = serde_json::Value::Object(std::mem::take(record));
            crate::governed::mask_ids(&mut whole);
            if let serde_json::Value::Object(map) = whole {
                *record = map;
            }
        }
    }
    let columns_read: Vec<String> = result
        .columns_read
        .iter()
        .flat_map(|(t, cs)| cs.iter().map(move |c| format!("{t}.{c}")))
        .collect();
    let (actor_kind, actor_id) = caller.actor();
    state
        .audit
        .submit(miaopi_govern::AuditEntry {
            actor_kind,
            actor_id,
            subject: "*".into(),
            action: if masked { "sql" } else { "sql_unmasked" }.into(),
            resources: result.columns_read.keys().cloned().collect(),
            fields: columns_read.clone(),
            purpose,
            request_id: crate::error::current_request_id(),
            detail: request.sql.chars().take(2000).collect(),
            at: chrono::Utc::now(),
            ..miaopi_govern::AuditEntry::default()
        })
        .await
        .map_err(|e| ApiError::internal("writing the audit chain", e))?;
    Ok(Json(SqlResult {
        rows: records.len(),
        records,
        truncated: result.truncated,
        masked,
        columns_read,
    }))
}

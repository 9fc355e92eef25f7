//! 资源目录, 汇聚批次, 隔离区 and 一证通办: the catalogue as the pack declares it, intake
//! batches with counts that must reconcile, quarantine reasons, and the masked, audited person /
//! enterprise lookup.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use miaopi_index::{EntityKind, Key};
use miaopi_lake::arrow::datatypes::DataType;
use miaopi_lake::datafusion::logical_expr::{cast, col, lit};
use miaopi_lake::{Layer, TableRead};
use miaopi_meta::{BatchState, MetaStore};
use serde::Deserialize;

use super::{Chrome, PageResult, Refusal, Viewer, error_page, internal, render};
use crate::governed::read_profile;
use crate::state::AppState;

pub struct ResourceRow {
    pub code: String,
    pub name: String,
    pub catalog_code: String,
    pub classification: String,
    pub share_type: String,
    pub open_type: String,
    pub update_cycle: String,
    pub grade: String,
    pub fields: usize,
}

pub struct UnitSection {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub resources: Vec<ResourceRow>,
}

#[derive(Template)]
#[template(path = "console/catalog.html")]
struct CatalogPage {
    chrome: Chrome,
    units: Vec<UnitSection>,
    resource_count: usize,
    field_count: usize,
}

fn resource_row(r: &miaopi_catalog::Resource) -> ResourceRow {
    ResourceRow {
        code: r.code.clone(),
        name: r.name.clone(),
        catalog_code: r.catalog_code.clone(),
        classification: r.classification.label_zh().to_string(),
        share_type: r.share_type.label_zh().to_string(),
        open_type: r.open_type.label_zh().to_string(),
        update_cycle: r.update_cycle.label_zh().to_string(),
        grade: r.grade.label_zh().to_string(),
        fields: r.fields.len(),
    }
}

pub async fn catalog(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    viewer.require(viewer.is_account(), "资源目录仅供控制台工作人员查看")?;
    let pack = &state.pack;
    let units = pack
        .units
        .iter()
        .map(|u| UnitSection {
            code: u.code.clone(),
            name: u.name.clone(),
            short_name: u.short_name.clone(),
            resources: pack.resources_of(&u.code).map(resource_row).collect(),
        })
        .filter(|u| !u.resources.is_empty())
        .collect();
    Ok(render(&CatalogPage {
        chrome: viewer.chrome("资源目录", "/console/catalog"),
        units,
        resource_count: pack.resources.len(),
        field_count: pack.resources.iter().map(|r| r.fields.len()).sum(),
    }))
}

pub struct FieldRow {
    pub name: String,
    pub label: String,
    pub data_type: String,
    pub required: bool,
    pub sensitivity: String,
    pub sensitive: bool,
    pub code_table: String,
}

#[derive(Template)]
#[template(path = "console/resource.html")]
struct ResourcePage {
    chrome: Chrome,
    resource: ResourceRow,
    unit_name: String,
    summary: String,
    share_condition: String,
    share_method: String,
    format: String,
    published_on: String,
    fields: Vec<FieldRow>,
}

pub async fn resource(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
) -> PageResult {
    viewer.require(viewer.is_account(), "资源目录仅供控制台工作人员查看")?;
    let Some(r) = state.pack.resource(&code) else {
        return Err(error_page(
            StatusCode::NOT_FOUND,
            viewer.chrome("未找到", "/console/catalog"),
            format!("资源目录中没有资源 {code}"),
        ));
    };
    let fields = r
        .fields
        .iter()
        .map(|f| FieldRow {
            name: f.name.clone(),
            label: f.label.clone(),
            data_type: f.data_type.label_zh().to_string(),
            required: f.required,
            sensitivity: f.sensitivity.label_zh().to_string(),
            sensitive: f.sensitivity.level() >= 3,
            code_table: f.code_table.clone().unwrap_or_default(),
        })
        .collect();
    Ok(render(&ResourcePage {
        chrome: viewer.chrome(&r.name, "/console/catalog"),
        resource: resource_row(r),
        unit_name: state
            .pack
            .unit(&r.unit)
            .map_or_else(|| r.unit.clone(), |u| u.name.clone()),
        summary: r.summary.clone(),
        share_condition: r.share_condition.clone().unwrap_or_default(),
        share_method: r.share_method.label_zh().to_string(),
        format: r.format.label_zh().to_string(),
        published_on: r.published_on.to_string(),
        fields,
    }))
}

/// 隔离原因 codes in Chinese (the reader's and the standardiser's codes); an unknown code is
/// shown as it is.
pub fn reason_zh(code: &str) -> String {
    let label = match code {
        "bad_encoding" => "编码错误，无法解码",
        "wrong_column_count" => "列数与表头不符",
        "line_too_long" => "行过长",
        "malformed_json" => "JSON 格式错误",
        "unterminated_quote" => "引号未闭合",
        "cell_error" => "单元格为 Excel 错误值",
        "missing_required" => "必填项为空",
        "invalid_date" => "日期无效",
        "date_out_of_range" => "日期超出 1900–2100 年",
        "invalid_month" => "年月无效",
        "invalid_integer" => "整数无效",
        "invalid_decimal" => "数值无效",
        "invalid_boolean" => "是/否值无效",
        "unknown_code" => "不在代码表中",
        "too_long" => "超过最大长度",
        _ => return code.to_string(),
    };
    format!("{label}（{code}）")
}

pub struct BatchRow {
    pub batch_id: String,
    pub short_id: String,
    pub resource: String,
    pub unit: String,
    pub file: String,
    pub state: String,
    pub committed: bool,
    pub read: String,
    pub accepted: String,
    pub quarantined: String,
    pub fixes: String,
    /// 一致 / 不一致 / — (not committed yet).
    pub reconciles: String,
    pub reconciled: bool,
    pub started_at: String,
}

fn count(v: Option<u64>) -> String {
    v.map_or_else(|| "—".into(), |v| v.to_string())
}

fn batch_row(state: &AppState, b: &miaopi_meta::BatchRecord) -> BatchRow {
    let committed = b.state == BatchState::Committed;
    let reconciled = match (b.rows_read, b.rows_accepted, b.rows_quarantined) {
        (Some(r), Some(a), Some(q)) => Some(r == a + q),
        _ => None,
    };
    BatchRow {
        batch_id: b.batch_id.clone(),
        short_id: b.batch_id.chars().take(12).collect(),
        resource: state
            .pack
            .resource(&b.resource)
            .map_or_else(|| b.resource.clone(), |r| r.name.clone()),
        unit: state
            .pack
            .unit(&b.unit)
            .map_or_else(|| b.unit.clone(), |u| u.short_name.clone()),
        file: b.source_file.clone(),
        state: if committed { "已提交" } else { "未完成" }.into(),
        committed,
        read: count(b.rows_read),
        accepted: count(b.rows_accepted),
        quarantined: count(b.rows_quarantined),
        fixes: count(b.fixes),
        reconciles: match reconciled {
            Some(true) => "一致".into(),
            Some(false) => "不一致".into(),
            None => "—".into(),
        },
        reconciled: reconciled.unwrap_or(true),
        started_at: b
            .started_at
            .chars()
            .take(19)
            .collect::<String>()
            .replace('T', " "),
    }
}

#[derive(Template)]
#[template(path = "console/batches.html")]
struct BatchesPage {
    chrome: Chrome,
    batches: Vec<BatchRow>,
    total_read: u64,
    total_accepted: u64,
    total_quarantined: u64,
}

pub async fn batches(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    viewer.require(viewer.is_account(), "汇聚批次仅供控制台工作人员查看")?;
    let all = state.platform.meta.batches().await.map_err(|e| {
        internal(
            viewer.chrome("汇聚批次", "/console/batches"),
            "reading batches",
            e,
        )
    })?;
    let committed = all.iter().filter(|b| b.state == BatchState::Committed);
    let (mut read, mut accepted, mut quarantined) = (0, 0, 0);
    for b in committed {
        read += b.rows_read.unwrap_or(0);
        accepted += b.rows_accepted.unwrap_or(0);
        quarantined += b.rows_quarantined.unwrap_or(0);
    }
    Ok(render(&BatchesPage {
        chrome: viewer.chrome("汇聚批次", "/console/batches"),
        batches: all.iter().rev().map(|b| batch_row(&state, b)).collect(),
        total_read: read,
        total_accepted: accepted,
        total_quarantined: quarantined,
    }))
}

pub struct ReasonRow {
    pub reason: String,
    pub rows: u64,
}

pub struct SampleRow {
    pub line: String,
    pub reasons: String,
}

#[derive(Template)]
#[template(path = "console/batch.html")]
struct BatchPage {
    chrome: Chrome,
    batch: BatchRow,
    encoding: String,
    file_bytes: u64,
    finished_at: String,
    read_ms: String,
    write_ms: String,
    reasons: Vec<ReasonRow>,
    samples: Vec<SampleRow>,
    samples_note: String,
}

/// At most this many quarantined rows are shown per batch (their line numbers and reasons).
const SAMPLE_ROWS: usize = 20;

pub async fn batch(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(batch_id): Path<String>,
) -> PageResult {
    viewer.require(viewer.is_account(), "汇聚批次仅供控制台工作人员查看")?;
    let chrome = || viewer.chrome("批次详情", "/console/batches");
    let not_found = || {
        error_page(
            StatusCode::NOT_FOUND,
            chrome(),
            format!("没有批次 {batch_id}"),
        )
    };
    // Batch ids are hex hashes: anything else cannot be one, and never reaches SQL.
    if batch_id.is_empty() || !batch_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let meta = &state.platform.meta;
    let b = meta
        .batch(&batch_id)
        .await
        .map_err(|e| internal(chrome(), "reading a batch", e))?
        .ok_or_else(not_found)?;
    let reasons = meta
        .batch_reasons(&batch_id)
        .await
        .map_err(|e| internal(chrome(), "reading quarantine reasons", e))?
        .into_iter()
        .map(|(code, rows)| ReasonRow {
            reason: reason_zh(&code),
            rows,
        })
        .collect();
    let (samples, samples_note) = quarantine_samples(&state, &b).await;
    Ok(render(&BatchPage {
        chrome: chrome(),
        batch: batch_row(&state, &b),
        encoding: b.encoding.clone().unwrap_or_default(),
        file_bytes: b.file_bytes,
        finished_at: b
            .finished_at
            .as_deref()
            .map(|t| t.chars().take(19).collect::<String>().replace('T', " "))
            .unwrap_or_else(|| "—".into()),
        read_ms: count(b.read_ms),
        write_ms: count(b.write_ms),
        reasons,
        samples,
        samples_note,
    }))
}

/// The first quarantined rows of a batch from the lake: line numbers and the Chinese reasons
/// (never the raw row, which may hold personal data).
async fn quarantine_samples(
    state: &AppState,
    b: &miaopi_meta::BatchRecord,
) -> (Vec<SampleRow>, String) {
    if b.rows_quarantined.unwrap_or(0) == 0 {
        return (Vec::new(), "本批次没有被隔离的记录。".into());
    }
    let Some(resource) = state.pack.resource(&b.resource) else {
        return (
            Vec::new(),
            "资源目录中已没有该资源，无法读取隔离记录。".into(),
        );
    };
    let read = TableRead {
        layer: Layer::Quarantine,
        table: resource.code.clone(),
        columns: vec![
            cast(col("line"), DataType::Utf8).alias("line"),
            col("reasons_zh"),
        ],
        filter: Some(col("batch_id").eq(lit(b.batch_id.clone()))),
        order_by: vec![col("line").sort(true, false)],
        skip: 0,
        fetch: Some(SAMPLE_ROWS),
    };
    let rows = match state.lake.read_table(read).await {
        Ok(batches) => match crate::governed::rows::batches_to_json(&batches) {
            Ok(rows) => rows,
            Err(_) => return (Vec::new(), "隔离记录无法读取。".into()),
        },
        Err(e) => {
            tracing::warn!(batch_id = %b.batch_id, error = %e, "reading quarantine samples failed");
            return (Vec::new(), "隔离区暂时无法读取。".into());
        }
    };
    let text = |r: &serde_json::Map<String, serde_json::Value>, k: &str| {
        r.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let samples: Vec<SampleRow> = rows
        .iter()
        .map(|r| SampleRow {
            line: text(r, "line"),
            reasons: text(r, "reasons_zh"),
        })
        .collect();
    let note = format!(
        "前 {} 条被隔离记录（共 {} 条）：行号与原因；原始内容可能含个人信息，不在此显示。",
        samples.len(),
        b.rows_quarantined.unwrap_or(0)
    );
    (samples, note)
}

pub struct QuarantineResource {
    pub code: String,
    pub name: String,
    pub read: u64,
    pub quarantined: u64,
    pub rate: String,
    pub reasons: Vec<ReasonRow>,
}

pub struct QuarantineBatch {
    pub batch_id: String,
    pub short_id: String,
    pub resource: String,
    pub quarantined: u64,
    pub reasons: Vec<ReasonRow>,
}

#[derive(Template)]
#[template(path = "console/quarantine.html")]
struct QuarantinePage {
    chrome: Chrome,
    resources: Vec<QuarantineResource>,
    batches: Vec<QuarantineBatch>,
}

pub async fn quarantine(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    viewer.require(viewer.is_account(), "隔离区仅供控制台工作人员查看")?;
    let chrome = || viewer.chrome("隔离区", "/console/quarantine");
    let meta = &state.platform.meta;
    let quality = meta
        .quality()
        .await
        .map_err(|e| internal(chrome(), "reading quality", e))?;
    let name = |code: &str| {
        state
            .pack
            .resource(code)
            .map_or_else(|| code.to_string(), |r| r.name.clone())
    };
    let resources = quality
        .iter()
        .filter(|q| q.rows_quarantined > 0)
        .map(|q| QuarantineResource {
            code: q.resource.clone(),
            name: name(&q.resource),
            read: q.rows_read,
            quarantined: q.rows_quarantined,
            rate: format!(
                "{:.2}%",
                q.rows_quarantined as f64 * 100.0 / q.rows_read.max(1) as f64
            ),
            reasons: q
                .reasons
                .iter()
                .map(|(code, rows)| ReasonRow {
                    reason: reason_zh(code),
                    rows: *rows,
                })
                .collect(),
        })
        .collect();
    let all = meta
        .batches()
        .await
        .map_err(|e| internal(chrome(), "reading batches", e))?;
    let mut batches = Vec::new();
    for b in all
        .iter()
        .rev()
        .filter(|b| b.rows_quarantined.unwrap_or(0) > 0)
    {
        let reasons = meta
            .batch_reasons(&b.batch_id)
            .await
            .map_err(|e| internal(chrome(), "reading quarantine reasons", e))?;
        batches.push(QuarantineBatch {
            batch_id: b.batch_id.clone(),
            short_id: b.batch_id.chars().take(12).collect(),
            resource: name(&b.resource),
            quarantined: b.rows_quarantined.unwrap_or(0),
            reasons: reasons
                .into_iter()
                .map(|(code, rows)| ReasonRow {
                    reason: reason_zh(&code),
                    rows,
                })
                .collect(),
        });
    }
    Ok(render(&QuarantinePage {
        chrome: chrome(),
        resources,
        batches,
    }))
}

pub struct FactRow {
    pub resource: String,
    pub field: String,
    pub value: String,
    pub unit: String,
    pub batch: String,
}

pub struct GoldenRow {
    pub field: String,
    pub value: String,
    pub source: String,
    pub conflicts: usize,
}

pub struct ProfileView {
    pub kind: String,
    pub keys: Vec<String>,
    pub golden: Vec<GoldenRow>,
    pub facts: Vec<FactRow>,
}

#[derive(Template)]
#[template(path = "console/lookup.html")]
struct LookupPage {
    chrome: Chrome,
    kind: String,
    duty: String,
    error: String,
    profile: Option<ProfileView>,
}

fn lookup_chrome(viewer: &Viewer) -> Chrome {
    viewer.chrome("一证通办查询", "/console/lookup")
}

fn may_look_up(viewer: &Viewer) -> Result<(), Refusal> {
    viewer.require(
        viewer.is_auditor(),
        "只有系统管理员或审计员可以查询个人或法人数据",
    )
}

pub async fn lookup_page(viewer: Viewer) -> PageResult {
    may_look_up(&viewer)?;
    Ok(render(&LookupPage {
        chrome: lookup_chrome(&viewer),
        kind: "person".into(),
        duty: String::new(),
        error: String::new(),
        profile: None,
    }))
}

#[derive(Deserialize)]
pub struct LookupForm {
    #[serde(default)]
    csrf: String,
    /// `person` or `enterprise`.
    kind: String,
    key: String,
    /// 查询事由: written to the audit chain.
    #[serde(default)]
    duty: String,
}

/// The lookup is a POST: it writes an audit entry (so it must not be triggerable by a link),
/// and the ID stays out of URLs, browser history and access logs.
pub async fn lookup(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<LookupForm>,
) -> PageResult {
    may_look_up(&viewer)?;
    viewer.check_post(&form.csrf)?;
    let page = |error: String, profile: Option<ProfileView>| LookupPage {
        chrome: lookup_chrome(&viewer),
        kind: form.kind.clone(),
        duty: form.duty.clone(),
        error,
        profile,
    };
    let text = form.key.trim();
    let key = match form.kind.as_str() {
        "enterprise" => miaopi_model::Uscc::parse(text)
            .map(|c| Key::credit_code(c.as_str()))
            .map_err(|e| format!("统一社会信用代码无效：{e}")),
        _ => miaopi_model::ResidentId::parse(text)
            .map(|id| Key::person(id.as_str()))
            .map_err(|e| format!("公民身份号码无效：{e}")),
    };
    let key = match key {
        Ok(k) => k,
        Err(message) => {
            let mut r = render(&page(message, None));
            *r.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(r);
        }
    };
    let duty = form.duty.trim();
    let purpose = (!duty.is_empty()).then(|| format!("duty:{duty}"));
    let profile = match read_profile(&state, &viewer.caller, &key, purpose.as_deref()).await {
        Ok(p) => p,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            let mut r = render(&page(e.message, None));
            *r.status_mut() = StatusCode::NOT_FOUND;
            return Ok(r);
        }
        Err(e) if e.status.is_client_error() => {
            return Err(error_page(e.status, lookup_chrome(&viewer), e.message));
        }
        Err(e) => {
            return Err(internal(
                lookup_chrome(&viewer),
                "reading a profile",
                e.message,
            ));
        }
    };
    let pack = &state.pack;
    let resource_name = |code: &str| {
        pack.resource(code)
            .map_or_else(|| code.to_string(), |r| r.name.clone())
    };
    let field_label = |resource: &str, field: &str| {
        pack.resource(resource)
            .and_then(|r| r.field(field))
            .map_or_else(|| field.to_string(), |f| f.label.clone())
    };
    let unit_name = |code: &str| {
        pack.unit(code)
            .map_or_else(|| code.to_string(), |u| u.short_name.clone())
    };
    let mut facts: Vec<&miaopi_index::Fact> = profile.facts.iter().collect();
    facts.sort_by(|a, b| a.resource.cmp(&b.resource).then(a.record.cmp(&b.record)));
    let mut golden_by_field: BTreeMap<&str, &miaopi_index::GoldenValue> = BTreeMap::new();
    for (field, g) in &profile.golden {
        golden_by_field.insert(field.as_str(), g);
    }
    let view = ProfileView {
        kind: match profile.kind {
            EntityKind::Person => "自然人".into(),
            EntityKind::LegalPerson => "法人".into(),
            _ => "其他".into(),
        },
        keys: profile.keys.iter().map(|k| k.value().to_string()).collect(),
        golden: golden_by_field
            .into_iter()
            .map(|(field, g)| GoldenRow {
                field: field_label(&g.resource, field),
                value: g.value.clone(),
                source: resource_name(&g.resource),
                conflicts: g.conflicts.len(),
            })
            .collect(),
        facts: facts
            .into_iter()
            .map(|f| FactRow {
                resource: resource_name(&f.resource),
                field: field_label(&f.resource, &f.field),
                value: f.value.clone(),
                unit: unit_name(&f.unit),
                batch: f.batch_id.chars().take(12).collect(),
            })
            .collect(),
    };
    Ok(render(&page(String::new(), Some(view))))
}

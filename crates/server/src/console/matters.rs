//! 事项 and 办事: the matters with their service guides and decision tables, and the
//! application page where a logged-in citizen fills a matter's form and sees the decision with
//! each condition's reason and the certificate id, in the same response.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use miaopi_decide::Package;
use miaopi_decide::engine::LogicDescription;
use miaopi_decide::manifest::FormType;

use super::{Chrome, PageResult, Refusal, Viewer, error_page, internal, markdown, render};
use crate::governed::applications::{
    ApplicationRequest, DecisionView, decide_application, now_shanghai,
};
use crate::state::AppState;

pub struct MatterRow {
    pub code: String,
    pub name: String,
    pub catalog_code: String,
    pub version: String,
    pub kind: String,
    pub department: String,
    pub valid: String,
    pub conditions: usize,
    pub in_force: bool,
}

fn matter_row(state: &AppState, p: &Package, today: NaiveDate) -> MatterRow {
    let m = &p.manifest;
    MatterRow {
        code: m.code.clone(),
        name: m.name.clone(),
        catalog_code: m.catalog_code.clone(),
        version: m.version.clone(),
        kind: m.kind.label_zh().to_string(),
        department: state
            .pack
            .unit(&m.department)
            .map_or_else(|| m.department.clone(), |u| u.short_name.clone()),
        valid: match m.valid_to {
            Some(to) => format!("{} 至 {to}", m.valid_from),
            None => format!("{} 起", m.valid_from),
        },
        conditions: m.conditions.len(),
        in_force: p.in_force_on(today),
    }
}

#[derive(Template)]
#[template(path = "console/matters.html")]
struct MattersPage {
    chrome: Chrome,
    matters: Vec<MatterRow>,
    citizen: bool,
}

pub async fn matters(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let today = now_shanghai().date_naive();
    Ok(render(&MattersPage {
        chrome: viewer.chrome("事项", "/console/matters"),
        matters: state
            .platform
            .packages
            .iter()
            .map(|p| matter_row(&state, p, today))
            .collect(),
        citizen: viewer.is_citizen(),
    }))
}

/// The version to show: the one in force today, else the latest of that code.
fn package<'a>(state: &'a AppState, code: &str) -> Option<&'a Package> {
    let today = now_shanghai().date_naive();
    state
        .platform
        .packages
        .in_force(code, today)
        .ok()
        .or_else(|| {
            state
                .platform
                .packages
                .iter()
                .filter(|p| p.manifest.code == code)
                .max_by_key(|p| p.manifest.valid_from)
        })
}

/// A decision table as the DMN file states it.
pub struct TableView {
    pub name: String,
    pub hit_policy: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub rows: Vec<RuleRow>,
}

pub struct RuleRow {
    pub row: usize,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub annotation: String,
}

/// A decision given as one FEEL expression (each condition of a matter is one).
pub struct LiteralView {
    pub name: String,
    pub label: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "console/matter.html")]
struct MatterPage {
    chrome: Chrome,
    matter: MatterRow,
    guide_html: String,
    tables: Vec<TableView>,
    literals: Vec<LiteralView>,
    package_hash: String,
    citizen: bool,
}

/// 命中策略 in Chinese, for the table captions.
fn hit_policy_zh(policy: &str) -> String {
    let label = match policy.chars().next() {
        Some('U') => "唯一命中",
        Some('F') => "首条命中",
        Some('A') => "任一命中",
        Some('P') => "优先级命中",
        Some('C') => "汇总命中",
        Some('R') => "规则顺序",
        Some('O') => "输出顺序",
        _ => return policy.to_string(),
    };
    format!("{label}（{policy}）")
}

pub async fn matter(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
) -> PageResult {
    let Some(p) = package(&state, &code) else {
        return Err(error_page(
            StatusCode::NOT_FOUND,
            viewer.chrome("未找到", "/console/matters"),
            format!("没有事项 {code}"),
        ));
    };
    let guide_html = markdown::to_html(&miaopi_decide::render_guide(p, &state.pack));
    let mut tables = Vec::new();
    let mut literals = Vec::new();
    for d in &p.model().decisions {
        match &d.logic {
            LogicDescription::Table {
                hit_policy,
                inputs,
                outputs,
                rules,
            } => tables.push(TableView {
                name: d.name.clone(),
                hit_policy: hit_policy_zh(hit_policy),
                inputs: inputs.clone(),
                outputs: outputs.clone(),
                rows: rules
                    .iter()
                    .map(|r| RuleRow {
                        row: r.row,
                        inputs: r.inputs.clone(),
                        outputs: r.outputs.clone(),
                        annotation: r.annotations.join("；"),
                    })
                    .collect(),
            }),
            LogicDescription::Literal { text } => literals.push(LiteralView {
                label: p
                    .manifest
                    .conditions
                    .iter()
                    .find(|c| c.decision == d.name)
                    .map(|c| c.label.clone())
                    .unwrap_or_default(),
                name: d.name.clone(),
                text: text.clone(),
            }),
            LogicDescription::Other => {}
        }
    }
    let today = now_shanghai().date_naive();
    Ok(render(&MatterPage {
        chrome: viewer.chrome(&p.manifest.name, "/console/matters"),
        matter: matter_row(&state, p, today),
        guide_html,
        tables,
        literals,
        package_hash: p.hash.clone(),
        citizen: viewer.is_citizen(),
    }))
}

fn citizen_only(viewer: &Viewer) -> Result<(), Refusal> {
    viewer.require(
        viewer.is_citizen(),
        "网上办事须以办事群众身份登录（群众登录：身份证号 + 验证码）",
    )
}

#[derive(Template)]
#[template(path = "console/apply_list.html")]
struct ApplyListPage {
    chrome: Chrome,
    matters: Vec<MatterRow>,
}

pub async fn apply_list(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    citizen_only(&viewer)?;
    let today = now_shanghai().date_naive();
    Ok(render(&ApplyListPage {
        chrome: viewer.chrome("网上办事", "/console/apply"),
        matters: state
            .platform
            .packages
            .iter()
            .filter(|p| p.in_force_on(today))
            .map(|p| matter_row(&state, p, today))
            .collect(),
    }))
}

/// One form item as the page shows it.
pub struct FieldInput {
    pub name: String,
    pub label: String,
    /// HTML input type: text, date, number, checkbox.
    pub input: &'static str,
    pub required: bool,
    pub value: String,
}

pub struct CommitOption {
    pub code: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "console/apply.html")]
struct ApplyPage {
    chrome: Chrome,
    code: String,
    name: String,
    application_date: String,
    fields: Vec<FieldInput>,
    commitments: Vec<CommitOption>,
    commitment_text: String,
    tolerance: bool,
    tolerance_days: u32,
    error: String,
    decision: Option<DecisionPage>,
}

pub struct ConditionRow {
    pub label: String,
    pub status: String,
    /// CSS class: holds / fails / unknown.
    pub class: String,
    pub reason: String,
}

/// The decision as the application page shows it.
pub struct DecisionPage {
    pub outcome: String,
    pub outcome_zh: String,
    pub conditions: Vec<ConditionRow>,
    pub reasons: Vec<String>,
    pub certificate_id: String,
    pub receipt_id: String,
    pub decided_at: String,
    pub elapsed_ms: String,
}

fn decision_page(d: &DecisionView) -> DecisionPage {
    DecisionPage {
        outcome: d.outcome.clone(),
        outcome_zh: d.outcome_zh.clone(),
        conditions: d
            .conditions
            .iter()
            .map(|c| ConditionRow {
                label: c.label.clone(),
                status: match c.status.as_str() {
                    "holds" => "满足",
                    "fails" => "不满足",
                    _ => "无法判断",
                }
                .into(),
                class: c.status.clone(),
                reason: c.reason.clone(),
            })
            .collect(),
        reasons: d.reasons.clone(),
        certificate_id: d.certificate_id.clone().unwrap_or_default(),
        receipt_id: d.receipt_id.clone(),
        decided_at: d
            .decided_at
            .chars()
            .take(19)
            .collect::<String>()
            .replace('T', " "),
        elapsed_ms: format!("{:.1}", d.decision_us as f64 / 1000.0),
    }
}

fn input_type(t: FormType) -> &'static str {
    match t {
        FormType::Text => "text",
        FormType::Date => "date",
        FormType::Int => "number",
        FormType::Bool => "checkbox",
    }
}

fn apply_page(
    viewer: &Viewer,
    p: &Package,
    values: &[(String, String)],
    error: String,
    decision: Option<DecisionPage>,
) -> ApplyPage {
    let m = &p.manifest;
    let value = |name: &str| {
        values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let today = now_shanghai().date_naive().to_string();
    let date = value("application_date");
    ApplyPage {
        chrome: viewer.chrome(&format!("办理：{}", m.name), "/console/apply"),
        code: m.code.clone(),
        name: m.name.clone(),
        application_date: if date.is_empty() { today } else { date },
        fields: m
            .form
            .iter()
            .map(|f| FieldInput {
                name: f.name.clone(),
                label: f.label.clone(),
                input: input_type(f.form_type),
                required: f.required && f.form_type != FormType::Bool,
                value: value(&format!("form.{}", f.name)),
            })
            .collect(),
        commitments: m
            .commitment
            .iter()
            .flat_map(|c| c.conditions.iter())
            .map(|code| CommitOption {
                code: code.clone(),
                label: m
                    .conditions
                    .iter()
                    .find(|c| &c.code == code)
                    .map_or_else(|| code.clone(), |c| c.label.clone()),
            })
            .collect(),
        commitment_text: m
            .commitment
            .as_ref()
            .map(|c| c.text.clone())
            .unwrap_or_default(),
        tolerance: m.tolerance.is_some(),
        tolerance_days: m.tolerance.as_ref().map_or(0, |t| t.deadline_days),
        error,
        decision,
    }
}

fn find_package<'a>(
    state: &'a AppState,
    viewer: &Viewer,
    code: &str,
) -> Result<&'a Package, Refusal> {
    package(state, code).ok_or_else(|| {
        error_page(
            StatusCode::NOT_FOUND,
            viewer.chrome("未找到", "/console/apply"),
            format!("没有事项 {code}"),
        )
    })
}

pub async fn apply_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
) -> PageResult {
    citizen_only(&viewer)?;
    let p = find_package(&state, &viewer, &code)?;
    Ok(render(&apply_page(&viewer, p, &[], String::new(), None)))
}

/// Turns the posted fields into the API's application: `form.<name>` items typed by the
/// package's form declaration, `commit.<code>` check boxes, `pending_materials`.
fn application(p: &Package, values: &[(String, String)]) -> Result<ApplicationRequest, String> {
    let get = |k: &str| {
        values
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.trim())
    };
    let application_date = match get("application_date").filter(|d| !d.is_empty()) {
        Some(d) => Some(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| format!("申请日期 {d:?} 不是有效日期（YYYY-MM-DD）"))?,
        ),
        None => None,
    };
    let mut form = serde_json::Map::new();
    for f in &p.manifest.form {
        let raw = get(&format!("form.{}", f.name)).unwrap_or("");
        let value = match f.form_type {
            // An unticked box is not sent at all: that is "否".
            FormType::Bool => serde_json::Value::Bool(!raw.is_empty()),
            _ if raw.is_empty() => {
                if f.required {
                    return Err(format!("请填写“{}”", f.label));
                }
                continue;
            }
            FormType::Int => serde_json::Value::from(
                raw.parse::<i64>()
                    .map_err(|_| format!("“{}”须为整数", f.label))?,
            ),
            FormType::Text | FormType::Date => serde_json::Value::String(raw.to_string()),
        };
        form.insert(f.name.clone(), value);
    }
    let commitments = values
        .iter()
        .filter_map(|(k, _)| k.strip_prefix("commit."))
        .filter(|code| {
            p.manifest
                .commitment
                .as_ref()
                .is_some_and(|c| c.conditions.iter().any(|x| x == code))
        })
        .map(str::to_string)
        .collect();
    Ok(ApplicationRequest {
        matter: p.manifest.code.clone(),
        applicant: None,
        application_date,
        form,
        commitments,
        accept_pending_materials: get("pending_materials").is_some_and(|v| !v.is_empty()),
        // The citizen's own page: citizens apply for today, never backdated.
        backdate_reason: None,
    })
}

pub async fn apply(
    State(state): State<AppState>,
    addr: crate::limits::ClientAddr,
    viewer: Viewer,
    Path(code): Path<String>,
    Form(values): Form<Vec<(String, String)>>,
) -> PageResult {
    citizen_only(&viewer)?;
    let csrf = values
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    viewer.check_post(csrf)?;
    let p = find_package(&state, &viewer, &code)?;
    let refused = |message: String| {
        let mut r = render(&apply_page(&viewer, p, &values, message, None));
        *r.status_mut() = StatusCode::BAD_REQUEST;
        r
    };
    let request = match application(p, &values) {
        Ok(r) => r,
        Err(message) => return Ok(refused(message)),
    };
    match decide_application(&state, addr, &viewer.caller, &request).await {
        Ok(decision) => Ok(render(&apply_page(
            &viewer,
            p,
            &values,
            String::new(),
            Some(decision_page(&decision)),
        ))),
        Err(e) if e.status.is_client_error() => Ok(refused(e.message)),
        Err(e) => Err(internal(
            viewer.chrome("办理失败", "/console/apply"),
            "deciding an application",
            e.message,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::hit_policy_zh;

    #[test]
    fn hit_policies_are_named() {
        assert_eq!(hit_policy_zh("U"), "唯一命中（U）");
        assert_eq!(hit_policy_zh("C+"), "汇总命中（C+）");
        assert_eq!(hit_policy_zh("?"), "?");
    }
}

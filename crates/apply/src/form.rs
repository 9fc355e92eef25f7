//! 表单: an applicant's form as JSON (form item name → value), typed by the matter's package.
//! Shared by the command line (`miaopi decide --form`) and the HTTP API, so both accept and
//! refuse exactly the same forms.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use miaopi_decide::Package;
use miaopi_decide::datum::Datum;
use miaopi_decide::manifest::FormType;

/// Why a form was refused (the message is Chinese: it is shown to the applicant).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormError(pub String);

/// Types every item of `json` by the package's form declaration. An item the matter does not
/// have, or a value of the wrong type, is refused with the item's name.
pub fn form_from_json(
    package: &Package,
    json: &serde_json::Map<String, serde_json::Value>,
) -> Result<BTreeMap<String, Datum>, FormError> {
    let mut form = BTreeMap::new();
    for (name, value) in json {
        let Some(spec) = package.manifest.form.iter().find(|f| &f.name == name) else {
            let known: Vec<&str> = package
                .manifest
                .form
                .iter()
                .map(|f| f.name.as_str())
                .collect();
            return Err(FormError(format!(
                "表单项 {name:?} 不属于事项 {}（可填：{}）",
                package.manifest.code,
                if known.is_empty() {
                    "无".to_string()
                } else {
                    known.join("、")
                }
            )));
        };
        let datum = match (spec.form_type, value) {
            (FormType::Text, serde_json::Value::String(s)) => Datum::Text(s.clone()),
            (FormType::Date, serde_json::Value::String(s)) => Datum::Date(
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|_| FormError(format!("表单项 {name}: {s:?} 不是 YYYY-MM-DD 日期")))?,
            ),
            (FormType::Int, serde_json::Value::Number(n)) => Datum::Int(
                n.as_i64()
                    .ok_or_else(|| FormError(format!("表单项 {name}: {n} 不是整数")))?,
            ),
            (FormType::Bool, serde_json::Value::Bool(b)) => Datum::Bool(*b),
            (t, v) => {
                return Err(FormError(format!(
                    "表单项 {name}: {v} 不是{}类型的值",
                    form_type_zh(t)
                )));
            }
        };
        form.insert(name.clone(), datum);
    }
    Ok(form)
}

fn form_type_zh(t: FormType) -> &'static str {
    match t {
        FormType::Text => "文本",
        FormType::Date => "日期",
        FormType::Int => "整数",
        FormType::Bool => "是/否",
    }
}

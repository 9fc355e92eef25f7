//! The rule engine behind a trait ([`DecisionEngine`]), so that dsntk — one maintainer — can be
//! replaced without touching packages, receipts or the decision logic around it.
//!
//! An engine compiles a DMN 1.3 source into a [`CompiledModel`] that (a) describes itself
//! (inputs, decisions and their requirements, decision tables with their rule rows) so packages
//! can be validated and coverage measured, and (b) evaluates a named decision over typed
//! inputs, giving an engine-neutral [`EvalValue`].
//!
//! **Rule-row coverage.** dsntk does not report which row of a table matched. Every decision
//! table therefore carries an extra output column named [`RULE_COLUMN`] (`规则`) whose entry in
//! each row is a unique string literal (`"R1"`): the table's result names the rows that
//! matched, whatever the hit policy, and any engine can do the same. Loading checks the column.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono::NaiveDate;
use dsntk_feel::context::FeelContext;
use dsntk_feel::values::Value;
use dsntk_feel::{FeelNumber, Name};
use dsntk_model::{DmnElement, ExpressionInstance, NamedElement, RequiredVariable};
use serde::{Deserialize, Serialize};

use crate::datum::Datum;

/// The output column of every decision table that names the matched row.
pub const RULE_COLUMN: &str = "规则";

/// 引擎: name and version, recorded in every receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineInfo {
    /// Engine name (`dsntk`).
    pub name: String,
    /// Engine version (`0.3.0`).
    pub version: String,
}

/// A value in or out of the engine, independent of its implementation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum EvalValue {
    /// null, with the engine's reason if it gave one.
    Null(Option<String>),
    /// boolean.
    Bool(bool),
    /// number, as decimal text.
    Number(String),
    /// string.
    Text(String),
    /// date.
    Date(NaiveDate),
    /// list.
    List(Vec<EvalValue>),
    /// context (a table row with several outputs).
    Context(BTreeMap<String, EvalValue>),
}

impl EvalValue {
    /// The engine input for a datum (`None` → null). Months reach the rules as their first day.
    pub fn from_datum(d: Option<&Datum>) -> EvalValue {
        match d {
            None => EvalValue::Null(None),
            Some(Datum::Bool(b)) => EvalValue::Bool(*b),
            Some(Datum::Int(i)) => EvalValue::Number(i.to_string()),
            Some(Datum::Decimal(s)) => EvalValue::Number(s.clone()),
            Some(Datum::Text(s)) => EvalValue::Text(s.clone()),
            Some(Datum::Date(d)) => EvalValue::Date(*d),
            Some(Datum::Month(m)) => m
                .first_day()
                .map(EvalValue::Date)
                .unwrap_or(EvalValue::Null(None)),
            Some(Datum::List(items)) => EvalValue::List(
                items
                    .iter()
                    .map(|i| EvalValue::from_datum(Some(i)))
                    .collect(),
            ),
        }
    }

    /// The datum for an engine output; `None` for null, contexts and non-representable values.
    pub fn to_datum(&self) -> Option<Datum> {
        match self {
            EvalValue::Null(_) | EvalValue::Context(_) => None,
            EvalValue::Bool(b) => Some(Datum::Bool(*b)),
            EvalValue::Number(s) => Some(match s.parse::<i64>() {
                Ok(i) => Datum::Int(i),
                Err(_) => Datum::Decimal(s.clone()),
            }),
            EvalValue::Text(s) => Some(Datum::Text(s.clone())),
            EvalValue::Date(d) => Some(Datum::Date(*d)),
            EvalValue::List(items) => items
                .iter()
                .map(EvalValue::to_datum)
                .collect::<Option<Vec<_>>>()
                .map(Datum::List),
        }
    }

    /// The entry `name` of a context.
    pub fn field(&self, name: &str) -> Option<&EvalValue> {
        match self {
            EvalValue::Context(c) => c.get(name),
            _ => None,
        }
    }

    /// The rule labels a table result names: its [`RULE_COLUMN`] entries (one for single-hit
    /// policies, one per hit for COLLECT).
    pub fn matched_rules(&self) -> Vec<String> {
        match self {
            EvalValue::Context(c) => match c.get(RULE_COLUMN) {
                Some(EvalValue::Text(label)) => vec![label.clone()],
                _ => Vec::new(),
            },
            EvalValue::List(items) => items.iter().flat_map(EvalValue::matched_rules).collect(),
            _ => Vec::new(),
        }
    }

    /// The table's result without the rule column: the single other output if there is one.
    pub fn without_rule_column(&self, output: Option<&str>) -> EvalValue {
        match self {
            EvalValue::Context(c) => {
                if let Some(name) = output {
                    return c.get(name).cloned().unwrap_or(EvalValue::Null(None));
                }
                let rest: Vec<(&String, &EvalValue)> = c
                    .iter()
                    .filter(|(k, _)| k.as_str() != RULE_COLUMN)
                    .collect();
                match rest.as_slice() {
                    [(_, v)] => (*v).clone(),
                    _ => EvalValue::Context(
                        rest.into_iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                }
            }
            EvalValue::List(items) => EvalValue::List(
                items
                    .iter()
                    .map(|i| i.without_rule_column(output))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// One rule row of a decision table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleDescription {
    /// 1-based row number.
    pub row: usize,
    /// The row's [`RULE_COLUMN`] entry without quotes, if it is a string literal.
    pub label: Option<String>,
    /// Input entries (unary tests), as written.
    pub inputs: Vec<String>,
    /// Output entries, as written.
    pub outputs: Vec<String>,
    /// Rule annotations, as written.
    pub annotations: Vec<String>,
}

/// A decision's logic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogicDescription {
    /// A FEEL literal expression.
    Literal {
        /// The expression text.
        text: String,
    },
    /// A decision table.
    Table {
        /// Hit policy (`U`, `F`, `C` ...).
        hit_policy: String,
        /// Input expressions.
        inputs: Vec<String>,
        /// Output names.
        outputs: Vec<String>,
        /// Rule rows.
        rules: Vec<RuleDescription>,
    },
    /// Any other boxed expression.
    Other,
}

/// A decision of the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionDescription {
    /// Name (`年龄满足`).
    pub name: String,
    /// Declared type of its variable.
    pub type_ref: String,
    /// Input data it requires directly.
    pub required_inputs: Vec<String>,
    /// Decisions it requires directly.
    pub required_decisions: Vec<String>,
    /// Its logic.
    pub logic: LogicDescription,
}

/// An input data element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDescription {
    /// Name (`出生日期`).
    pub name: String,
    /// Declared type.
    pub type_ref: String,
}

/// What a compiled model contains.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelDescription {
    /// `definitions/@namespace`.
    pub namespace: String,
    /// `definitions/@name`.
    pub name: String,
    /// Input data.
    pub inputs: Vec<InputDescription>,
    /// Decisions.
    pub decisions: Vec<DecisionDescription>,
}

impl ModelDescription {
    /// A decision by name.
    pub fn decision(&self, name: &str) -> Option<&DecisionDescription> {
        self.decisions.iter().find(|d| d.name == name)
    }

    /// Every input a decision depends on, through required decisions too.
    pub fn inputs_of(&self, decision: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let mut inputs = Vec::new();
        let mut stack = vec![decision.to_owned()];
        while let Some(d) = stack.pop() {
            if seen.contains(&d) {
                continue;
            }
            if let Some(desc) = self.decision(&d) {
                for i in &desc.required_inputs {
                    if !inputs.contains(i) {
                        inputs.push(i.clone());
                    }
                }
                stack.extend(desc.required_decisions.iter().cloned());
            }
            seen.push(d);
        }
        inputs
    }
}

/// Why a model did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EngineError(pub String);

/// Typed inputs for one evaluation session.
pub type Inputs = BTreeMap<String, EvalValue>;

/// A compiled DMN model.
pub trait CompiledModel: Send + Sync {
    /// What the model contains.
    fn description(&self) -> &ModelDescription;

    /// Prepares a session over `inputs` (converted once, then evaluated many times).
    fn session(&self, inputs: &Inputs) -> Box<dyn Session + '_>;
}

/// Evaluations over one set of inputs.
pub trait Session {
    /// Sets (or overrides) one value: an input, or a decision's value as its dependants see it.
    fn set(&mut self, name: &str, value: &EvalValue);

    /// Evaluates the decision `name`; null if it cannot be decided.
    fn evaluate(&self, name: &str) -> EvalValue;
}

/// 规则引擎.
pub trait DecisionEngine: Send + Sync {
    /// Name and version (recorded in receipts).
    fn info(&self) -> EngineInfo;

    /// Compiles a DMN 1.3 source.
    fn compile(&self, source: &str) -> Result<Arc<dyn CompiledModel>, EngineError>;
}

/// The dsntk version compiled in (checked against Cargo.lock by a test).
pub const DSNTK_VERSION: &str = "0.3.0";

/// dsntk (DecisionToolkit): DMN 1.x with FEEL.
#[derive(Debug, Clone, Copy, Default)]
pub struct DsntkEngine;

struct DsntkModel {
    evaluator: Arc<dsntk_model_evaluator::ModelEvaluator>,
    description: ModelDescription,
}

struct DsntkSession<'a> {
    model: &'a DsntkModel,
    context: FeelContext,
}

impl DecisionEngine for DsntkEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            name: "dsntk".into(),
            version: DSNTK_VERSION.into(),
        }
    }

    fn compile(&self, source: &str) -> Result<Arc<dyn CompiledModel>, EngineError> {
        let definitions =
            dsntk_model::parse(source).map_err(|e| EngineError(format!("DMN parse: {e}")))?;
        let description = describe(&definitions);
        let evaluator = dsntk_model_evaluator::ModelEvaluator::new(&[definitions])
            .map_err(|e| EngineError(format!("DMN build: {e}")))?;
        Ok(Arc::new(DsntkModel {
            evaluator,
            description,
        }))
    }
}

fn describe(defs: &dsntk_model::Definitions) -> ModelDescription {
    let inputs: Vec<InputDescription> = defs
        .input_data()
        .iter()
        .map(|i| InputDescription {
            name: i.name().to_owned(),
            type_ref: i.variable().type_ref().clone(),
        })
        .collect();
    let input_by_id: BTreeMap<String, String> = defs
        .input_data()
        .iter()
        .map(|i| (i.id().clone(), i.name().to_owned()))
        .collect();
    let decisions = defs.decisions();
    let decision_by_id: BTreeMap<String, String> = decisions
        .iter()
        .map(|d| (d.id().clone(), d.name().to_owned()))
        .collect();
    let decisions = decisions
        .iter()
        .map(|d| {
            let mut required_inputs = Vec::new();
            let mut required_decisions = Vec::new();
            for r in d.information_requirements() {
                if let Some(h) = r.required_input()
                    && let Some(n) = input_by_id.get(h.id())
                {
                    required_inputs.push(n.clone());
                }
                if let Some(h) = r.required_decision()
                    && let Some(n) = decision_by_id.get(h.id())
                {
                    required_decisions.push(n.clone());
                }
            }
            let logic = match d.decision_logic() {
                Some(ExpressionInstance::LiteralExpression(l)) => LogicDescription::Literal {
                    text: l.text().clone().unwrap_or_default(),
                },
                Some(ExpressionInstance::DecisionTable(t)) => {
                    let outputs: Vec<String> = t
                        .output_clauses()
                        .map(|o| o.name.clone().unwrap_or_default())
                        .collect();
                    let rule_col = outputs.iter().position(|o| o == RULE_COLUMN);
                    LogicDescription::Table {
                        hit_policy: t.hit_policy().to_string(),
                        inputs: t
                            .input_clauses()
                            .map(|i| i.input_expression.clone())
                            .collect(),
                        rules: t
                            .rules()
                            .enumerate()
                            .map(|(i, r)| RuleDescription {
                                row: i + 1,
                                label: rule_col
                                    .and_then(|c| r.output_entries.get(c))
                                    .and_then(|e| string_literal(&e.text)),
                                inputs: r.input_entries.iter().map(|e| e.text.clone()).collect(),
                                outputs: r.output_entries.iter().map(|e| e.text.clone()).collect(),
                                annotations: r
                                    .annotation_entries
                                    .iter()
                                    .map(|e| e.text.clone())
                                    .collect(),
                            })
                            .collect(),
                        outputs,
                    }
                }
                _ => LogicDescription::Other,
            };
            DecisionDescription {
                name: d.name().to_owned(),
                type_ref: d.variable().type_ref().clone(),
                required_inputs,
                required_decisions,
                logic,
            }
        })
        .collect();
    ModelDescription {
        namespace: defs.namespace().to_owned(),
        name: defs.name().to_owned(),
        inputs,
        decisions,
    }
}

/// `"R1"` → `R1`; anything but a plain string literal → `None`.
fn string_literal(text: &str) -> Option<String> {
    let t = text.trim();
    let inner = t.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.is_empty() && !inner.contains(['"', '\\'])).then(|| inner.to_owned())
}

impl CompiledModel for DsntkModel {
    fn description(&self) -> &ModelDescription {
        &self.description
    }

    fn session(&self, inputs: &Inputs) -> Box<dyn Session + '_> {
        let mut context = FeelContext::default();
        for (k, v) in inputs {
            context.set_entry(&Name::from(k.as_str()), to_feel(v));
        }
        Box::new(DsntkSession {
            model: self,
            context,
        })
    }
}

impl Session for DsntkSession<'_> {
    fn set(&mut self, name: &str, value: &EvalValue) {
        self.context.set_entry(&Name::from(name), to_feel(value));
    }

    fn evaluate(&self, name: &str) -> EvalValue {
        let d = &self.model.description;
        from_feel(&self.model.evaluator.evaluate_invocable(
            &d.namespace,
            &d.name,
            name,
            &self.context,
        ))
    }
}

fn to_feel(v: &EvalValue) -> Value {
    match v {
        EvalValue::Null(r) => Value::Null(r.clone()),
        EvalValue::Bool(b) => Value::Boolean(*b),
        EvalValue::Number(s) => match FeelNumber::from_str(s) {
            Ok(n) => Value::Number(n),
            Err(_) => Value::Null(Some(format!("not a number: {s}"))),
        },
        EvalValue::Text(s) => Value::String(s.clone()),
        EvalValue::Date(d) => {
            use chrono::Datelike;
            match dsntk_feel_temporal::FeelDate::new(d.year(), d.month(), d.day()) {
                Some(fd) => Value::Date(fd),
                None => Value::Null(Some(format!("date out of range: {d}"))),
            }
        }
        EvalValue::List(items) => Value::List(items.iter().map(to_feel).collect()),
        EvalValue::Context(c) => {
            let mut ctx = FeelContext::default();
            for (k, v) in c {
                ctx.set_entry(&Name::from(k.as_str()), to_feel(v));
            }
            Value::Context(ctx)
        }
    }
}

fn from_feel(v: &Value) -> EvalValue {
    match v {
        Value::Null(r) => EvalValue::Null(r.clone()),
        Value::Boolean(b) => EvalValue::Bool(*b),
        Value::Number(n) => EvalValue::Number(n.to_string()),
        Value::String(s) => EvalValue::Text(s.clone()),
        Value::Date(d) => NaiveDate::from_ymd_opt(d.year(), d.month(), d.day())
            .map(EvalValue::Date)
            .unwrap_or(EvalValue::Null(Some(format!("date out of range: {d}")))),
        Value::List(items) => EvalValue::List(items.iter().map(from_feel).collect()),
        Value::Context(c) => EvalValue::Context(
            c.iter()
                .map(|(k, v)| (k.to_string(), from_feel(v)))
                .collect(),
        ),
        other => EvalValue::Null(Some(format!("unsupported FEEL value {}", kind_of(other)))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::DateTime(_) => "date and time",
        Value::Time(_) => "time",
        Value::DaysAndTimeDuration(_) | Value::YearsAndMonthsDuration(_) => "duration",
        Value::Range(..) => "range",
        _ => "value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../tests/fixtures/engine_probe.dmn");

    fn model() -> Arc<dyn CompiledModel> {
        DsntkEngine.compile(EXAMPLE).unwrap()
    }

    #[test]
    fn describes_inputs_decisions_and_rows() {
        let m = model();
        let d = m.description();
        assert_eq!(d.name, "探针");
        assert!(
            d.inputs
                .iter()
                .any(|i| i.name == "年龄" && i.type_ref == "number")
        );
        let table = d.decision("津贴").unwrap();
        let LogicDescription::Table { rules, outputs, .. } = &table.logic else {
            panic!("津贴 is a table");
        };
        assert_eq!(outputs, &["金额".to_owned(), RULE_COLUMN.to_owned()]);
        let labels: Vec<_> = rules.iter().map(|r| r.label.clone()).collect();
        assert_eq!(labels, [Some("R1".into()), Some("R2".into())]);
        assert_eq!(d.inputs_of("结论"), ["年龄", "高龄年龄"]);
    }

    #[test]
    fn evaluates_with_chinese_names_and_nulls() {
        let m = model();
        let mut inputs = Inputs::new();
        inputs.insert("年龄".into(), EvalValue::Number("82".into()));
        inputs.insert("高龄年龄".into(), EvalValue::Number("80".into()));
        let mut s = m.session(&inputs);
        assert_eq!(s.evaluate("年龄满足"), EvalValue::Bool(true));
        let t = s.evaluate("津贴");
        assert_eq!(t.matched_rules(), ["R2"]);
        assert_eq!(t.without_rule_column(None), EvalValue::Number("160".into()));
        assert_eq!(
            s.evaluate("结论").without_rule_column(Some("结论")),
            EvalValue::Text("approved".into())
        );
        // Overriding a decision's value changes what its dependants see.
        s.set("年龄满足", &EvalValue::Null(None));
        assert_eq!(s.evaluate("结论").matched_rules(), ["O3"]);
        s.set("年龄", &EvalValue::Null(None));
        assert!(matches!(s.evaluate("津贴"), EvalValue::Null(_)));
        assert!(matches!(s.evaluate("不存在"), EvalValue::Null(_)));
    }

    #[test]
    fn datum_round_trip() {
        let d = Datum::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        assert_eq!(EvalValue::from_datum(Some(&d)).to_datum(), Some(d));
        let m = Datum::Month(crate::datum::YearMonth::new(2026, 10).unwrap());
        assert_eq!(
            EvalValue::from_datum(Some(&m)),
            EvalValue::Date(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap())
        );
        assert_eq!(
            EvalValue::Number("1.50".into()).to_datum(),
            Some(Datum::Decimal("1.50".into()))
        );
        assert_eq!(string_literal(" \"R1\" "), Some("R1".into()));
        assert_eq!(string_literal("R1"), None);
        assert_eq!(string_literal("\"\""), None);
    }

    #[test]
    fn bad_feel_is_a_compile_error() {
        let broken = EXAMPLE.replace("年龄 &gt;= 高龄年龄", "年龄 &gt;=");
        assert!(DsntkEngine.compile(&broken).is_err());
        assert!(DsntkEngine.compile("<not-dmn/>").is_err());
    }
}

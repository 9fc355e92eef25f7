//! `matter.toml`: a matter package's metadata (政务服务事项), parties, fact bindings,
//! parameters, form inputs, conditions, and the 容缺 / 告知承诺 paths. Format in
//! `docs/matters.md`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};

/// 政务服务事项: the parsed `matter.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// English slug, equal to the package's directory name (`senior_allowance`).
    pub code: String,
    /// 事项编码 in the service catalogue (`440304-MZ-0001`).
    pub catalog_code: String,
    /// 事项名称 (`高龄老人津贴`).
    pub name: String,
    /// Package version, equal to its directory name (`2024.1`).
    pub version: String,
    /// 办件类型: 即办件 / 承诺件.
    pub kind: MatterKind,
    /// 主管部门: a unit code of the pack (`civil_affairs`).
    pub department: String,
    /// 实施机关: the unit that decides and issues the certificate.
    pub implementing_unit: String,
    /// 服务对象 (`自然人`).
    pub service_object: String,
    /// 设定和实施依据.
    pub legal_basis: Vec<String>,
    /// 法定时限 (工作日).
    pub statutory_limit_days: u32,
    /// 承诺时限 (工作日; 0 = 即办).
    pub promised_limit_days: u32,
    /// 收费 (`不收费`).
    #[serde(default = "free")]
    pub fee: String,
    /// 生效日期 (inclusive): the version applies to applications dated on or after it.
    #[serde(deserialize_with = "toml_date")]
    pub valid_from: NaiveDate,
    /// 失效日期 (inclusive); none = open-ended.
    #[serde(default, deserialize_with = "opt_toml_date")]
    pub valid_to: Option<NaiveDate>,
    /// 结论决策: the DMN decision whose `结论` output is approved / rejected / manual_review.
    pub outcome_decision: String,
    /// 办理结果 (电子证照) issued on approval.
    pub certificate: CertificateSpec,
    /// 当事人.
    #[serde(rename = "party", default)]
    pub parties: Vec<PartySpec>,
    /// 事实绑定.
    #[serde(rename = "fact", default)]
    pub facts: Vec<FactSpec>,
    /// 派生事实 (ages, days since ...), computed by the engine so the date rules live in one place.
    #[serde(rename = "derived", default)]
    pub derived: Vec<DerivedSpec>,
    /// 参数 (ages, amounts, deadlines): the rules read them as DMN inputs, never as literals.
    #[serde(rename = "parameter", default)]
    pub parameters: Vec<ParameterSpec>,
    /// 申请表单项: what the applicant still fills in.
    #[serde(rename = "form", default)]
    pub form: Vec<FormSpec>,
    /// 申请条件: one DMN decision each.
    #[serde(rename = "condition", default)]
    pub conditions: Vec<ConditionSpec>,
    /// 核定结果 (amounts, which subsidies): DMN decisions reported on approval.
    #[serde(rename = "detail", default)]
    pub details: Vec<DetailSpec>,
    /// 容缺受理.
    #[serde(default)]
    pub tolerance: Option<ToleranceSpec>,
    /// 告知承诺.
    #[serde(default)]
    pub commitment: Option<CommitmentSpec>,
    /// The fact saying the applicant is on the 失信被执行人 list; 容缺 and 告知承诺 are refused
    /// when it is true or unknown.
    #[serde(default)]
    pub credit_fact: Option<String>,
    /// 补录窗口: how many days before today an officer at a counter (窗口) may date an
    /// application (with a stated reason); citizens always apply for today.
    #[serde(default = "default_backdate_window_days")]
    pub backdate_window_days: u32,
    /// 办理周期: one decision per applicant in each period (once in a lifetime, per year, per
    /// event such as one birth).
    #[serde(default)]
    pub period: PeriodSpec,
}

/// 办理周期: the period within which an applicant gets one decision of a matter. A repeat
/// application in the period returns the decision in force; a re-decision after the facts
/// changed supersedes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PeriodSpec {
    /// 一人一次 (终身).
    #[default]
    Lifetime,
    /// 每年度一次 (the application date's calendar year).
    Year,
    /// 每事件一次: the event is named by a form input (one birth certificate, one trade name).
    Event {
        /// The form input naming the event.
        form: String,
    },
}

impl PeriodSpec {
    /// 中文.
    pub fn label_zh(&self) -> String {
        match self {
            PeriodSpec::Lifetime => "每人一次".to_owned(),
            PeriodSpec::Year => "每年度一次".to_owned(),
            PeriodSpec::Event { form } => format!("每个“{form}”一次"),
        }
    }
}

fn free() -> String {
    "不收费".into()
}

/// The window an officer may backdate an application when the package declares none.
pub const DEFAULT_BACKDATE_WINDOW_DAYS: u32 = 30;

fn default_backdate_window_days() -> u32 {
    DEFAULT_BACKDATE_WINDOW_DAYS
}

/// 办件类型.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatterKind {
    /// 即办件: decided at once.
    Immediate,
    /// 承诺件: decided within the promised time limit.
    Promised,
}

impl MatterKind {
    /// 中文名称.
    pub fn label_zh(self) -> &'static str {
        match self {
            MatterKind::Immediate => "即办件",
            MatterKind::Promised => "承诺件",
        }
    }
}

/// 电子证照 issued by the matter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSpec {
    /// 证照类型代码 (ASCII letters and digits; part of the GB/T 36901 identifier).
    pub type_code: String,
    /// 证照名称 (`高龄老人津贴核定通知书`).
    pub name: String,
    /// 有效期 (日) from the application date; none = long-term (长期有效).
    #[serde(default)]
    pub validity_days: Option<u32>,
    /// Issue a new 统一社会信用代码 (个体工商户 licences), with this two-character prefix
    /// (登记管理部门 + 机构类别, `92` = 市场监管 个体工商户).
    #[serde(default)]
    pub issue_uscc: Option<String>,
    /// 证照记载事项 from the application form (the licence's trade name, premises, industry).
    #[serde(rename = "item", default)]
    pub items: Vec<CertificateItem>,
}

/// One 记载事项 of a certificate, copied from a form input of the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateItem {
    /// The form input.
    pub form: String,
    /// How the certificate names it (`名称`, `经营场所`, `行业门类`).
    pub label: String,
}

/// 当事人类型: what a party's key identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    /// 自然人: a 公民身份号码.
    Person,
    /// 法人/市场主体: a 统一社会信用代码.
    Enterprise,
    /// 标准地址: an address code.
    Address,
    /// 楼栋: a building code.
    Building,
    /// Any other record key (a certificate number, a trade name): matched verbatim.
    Code,
}

impl PartyKind {
    /// 中文名称.
    pub fn label_zh(self) -> &'static str {
        match self {
            PartyKind::Person => "自然人",
            PartyKind::Enterprise => "市场主体",
            PartyKind::Address => "标准地址",
            PartyKind::Building => "楼栋",
            PartyKind::Code => "编号",
        }
    }
}

/// Where a party's key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// `applicant`: the application's applicant.
    Applicant,
    /// `form:<name>`: a form input.
    Form(String),
    /// `fact:<name>`: a text fact bound to another party (the father's ID on a birth certificate).
    Fact(String),
    /// `supplied`: the caller supplies it (e.g. from the entity index's relations).
    Supplied,
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Applicant => f.write_str("applicant"),
            KeySource::Form(n) => write!(f, "form:{n}"),
            KeySource::Fact(n) => write!(f, "fact:{n}"),
            KeySource::Supplied => f.write_str("supplied"),
        }
    }
}

impl Serialize for KeySource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeySource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.split_once(':') {
            None if s == "applicant" => Ok(KeySource::Applicant),
            None if s == "supplied" => Ok(KeySource::Supplied),
            Some(("form", n)) if !n.is_empty() => Ok(KeySource::Form(n.into())),
            Some(("fact", n)) if !n.is_empty() => Ok(KeySource::Fact(n.into())),
            _ => Err(serde::de::Error::custom(format!(
                "key source {s:?}: expected applicant, supplied, form:<name> or fact:<name>"
            ))),
        }
    }
}

/// 当事人: applicant, spouse, child, mother, father, enterprise, premises ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartySpec {
    /// Role name used by fact bindings (`applicant`, `mother`, `premises`).
    pub role: String,
    /// 中文名称 (`申请人`).
    pub label: String,
    /// What the key identifies.
    pub kind: PartyKind,
    /// Where the key comes from.
    pub key: KeySource,
    /// 当事人关系核验: this party must be one of these parties as the source records name them
    /// (the applicant of 新生儿入户 is the mother or the father on the birth certificate).
    /// Checked by the engine on every decision; someone outside the relation is refused.
    #[serde(default)]
    pub must_be: Vec<String>,
}

/// 聚合方式: how a party's records of a resource become one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// 是否有记录 (bool). No record is a known `false`, not a missing value.
    Exists,
    /// 记录数 (int).
    Count,
    /// 最新一条的值 (by `order_by`, else by ingestion time).
    Latest,
    /// 最早一条的值.
    Earliest,
    /// 最小值.
    Min,
    /// 最大值.
    Max,
    /// 全部取值 (list, in record order).
    List,
}

impl Aggregate {
    /// Whether the aggregation reads a field.
    pub fn needs_field(self) -> bool {
        !matches!(self, Aggregate::Exists | Aggregate::Count)
    }

    /// 中文名称.
    pub fn label_zh(self) -> &'static str {
        match self {
            Aggregate::Exists => "是否有记录",
            Aggregate::Count => "记录数",
            Aggregate::Latest => "最新值",
            Aggregate::Earliest => "最早值",
            Aggregate::Min => "最小值",
            Aggregate::Max => "最大值",
            Aggregate::List => "全部取值",
        }
    }
}

/// 身份号码自带属性: facts read from the party's resident ID itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAttribute {
    /// 出生日期 (digits 7–14).
    BirthDate,
    /// 性别 (`1` 男 / `2` 女, GB/T 2261.1).
    Sex,
    /// The key itself, as text.
    Id,
}

/// 交叉核验: checks the engine applies to a fetched value; a mismatch is a conflict (转人工).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossCheck {
    /// The date must equal the birth date in the person's resident ID.
    IdBirthDate,
}

/// 事实绑定: one named fact, as a DMN input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactSpec {
    /// The DMN input name (`出生日期`).
    pub name: String,
    /// The party whose records are read.
    pub party: String,
    /// 信息资源 code in the pack; absent for `key_attribute` facts.
    #[serde(default)]
    pub resource: Option<String>,
    /// 信息项 read (required unless `exists`/`count`).
    #[serde(default)]
    pub field: Option<String>,
    /// 关联字段: the resource field matched against the party's key; defaults to the one field
    /// whose entity role fits the party kind.
    #[serde(default)]
    pub key_field: Option<String>,
    /// 聚合方式.
    #[serde(default)]
    pub aggregate: Option<Aggregate>,
    /// 筛选: field → accepted values (codes), all must hold.
    #[serde(default)]
    pub filter: BTreeMap<String, Vec<String>>,
    /// Field ordering records for `latest`/`earliest` (and `last_n`).
    #[serde(default)]
    pub order_by: Option<String>,
    /// Only the last N records by `order_by` count (最近 3 个记分周期).
    #[serde(default)]
    pub last_n: Option<u32>,
    /// A value read from the party's key instead of a resource.
    #[serde(default)]
    pub key_attribute: Option<KeyAttribute>,
    /// 交叉核验.
    #[serde(default)]
    pub cross_check: Option<CrossCheck>,
    /// 说明 shown in the guide.
    #[serde(default)]
    pub description: Option<String>,
    /// The platform's own approvals that this fact also records ([`FedBy`]).
    #[serde(default)]
    pub fed_by: Option<FedBy>,
}

/// 本平台决定计入事实: an `exists`/`count` fact that the platform's own approvals of a matter
/// also establish, before the department's register shows them (an approved 高龄津贴 is "在发放
/// 名册" at once; a newborn registered through 秒批 "已有户籍").
///
/// Deciding an application, every approval in force of `matter` whose `party` has the key this
/// application's `party` has counts as one more record. When the application re-decides an
/// approval of `matter` itself (same applicant and period), that approval does not count, nor do
/// the register rows it caused: those whose `since` field (a start date or month) is on or
/// after its application date or, without `since`, those that arrived after it was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FedBy {
    /// The matter whose approvals in force count.
    pub matter: String,
    /// The party role, in this package and in `matter`'s, whose keys must agree; defaults to
    /// the fact's party.
    #[serde(default)]
    pub party: Option<String>,
    /// The resource field (date or month) at which a record caused by an approval starts.
    #[serde(default)]
    pub since: Option<String>,
}

/// 派生方式.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DerivedKind {
    /// 周岁 / 满 N 年 on the application date (`miaopi_model::age_on`).
    Years,
    /// 满 N 个月 (completed months, month-end clamped; a month value counts calendar months).
    Months,
    /// 天数 from the date to the application date.
    Days,
}

/// 派生事实.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedSpec {
    /// The DMN input name (`年龄`).
    pub name: String,
    /// How it is derived.
    pub kind: DerivedKind,
    /// The date or month fact it is derived from.
    pub from: String,
}

/// 参数.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterSpec {
    /// The DMN input name (`高龄年龄`).
    pub name: String,
    /// The value (number, string, boolean, date or array).
    pub value: toml::Value,
    /// 单位 (`岁`, `元`, `日`), shown in the guide.
    #[serde(default)]
    pub unit: Option<String>,
    /// 说明.
    #[serde(default)]
    pub description: Option<String>,
}

/// 表单项类型.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormType {
    /// 文本.
    Text,
    /// 日期.
    Date,
    /// 整数.
    Int,
    /// 是/否.
    Bool,
}

/// 申请表单项.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormSpec {
    /// The DMN input name (`拟用名称`).
    pub name: String,
    /// 中文说明 shown in the guide.
    pub label: String,
    /// 类型.
    #[serde(rename = "type")]
    pub form_type: FormType,
    /// 必填.
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

/// 申请条件.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    /// Stable code (the generator's: `hukou`, `age` ...).
    pub code: String,
    /// The DMN decision (boolean; null = 无法判断).
    pub decision: String,
    /// 条件说明 (`申请之日年满80周岁`).
    pub label: String,
    /// 说明模板: `{name}` is replaced by the value of a fact, derived fact, parameter or form
    /// input (`年龄 {年龄} 岁（出生日期 {出生日期}）≥ {高龄年龄} 岁`). Used when the condition
    /// holds or cannot be judged.
    pub explain: String,
    /// 不满足时的说明: what is true when the condition fails (`年龄 {年龄} 岁，未满 {高龄年龄}
    /// 周岁`). Required when `explain` states a comparison (≥ ≤ < >), so that a failed
    /// condition never reads as if the comparison held.
    #[serde(default)]
    pub explain_fails: Option<String>,
}

/// The comparison signs whose presence in an `explain` text requires an `explain_fails`.
pub const COMPARISON_SIGNS: [char; 6] = ['≥', '≤', '<', '>', '＞', '＜'];

/// 核定结果项.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailSpec {
    /// Key in the outcome's details (`月津贴`).
    pub name: String,
    /// The DMN decision computing it.
    pub decision: String,
    /// The output taken from the decision's context (tables also output `规则`); for COLLECT
    /// tables the list of that output.
    #[serde(default)]
    pub output: Option<String>,
    /// 单位 (`元/月`).
    #[serde(default)]
    pub unit: Option<String>,
}

/// 容缺受理.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToleranceSpec {
    /// 补正期限 (日) after the application date.
    pub deadline_days: u32,
    /// The facts that may be missing, with the material the applicant brings instead.
    #[serde(rename = "item")]
    pub items: Vec<ToleranceItem>,
}

/// 容缺项.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToleranceItem {
    /// The fact that may be missing.
    pub fact: String,
    /// 需补交的材料 (`结婚证原件及复印件`).
    pub material: String,
}

/// 告知承诺.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitmentSpec {
    /// Condition codes the applicant may commit to.
    pub conditions: Vec<String>,
    /// 核查期限 (日): when the verification task falls due.
    pub verify_within_days: u32,
    /// 承诺书内容 (shown in the guide).
    pub text: String,
}

fn toml_date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let v = toml::Value::deserialize(d)?;
    match crate::datum::Datum::from_toml(&v, &crate::datum::DatumType::Date) {
        Ok(crate::datum::Datum::Date(date)) => Ok(date),
        Ok(_) => Err(serde::de::Error::custom("expected a date")),
        Err(e) => Err(serde::de::Error::custom(e)),
    }
}

fn opt_toml_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    toml_date(d).map(Some)
}

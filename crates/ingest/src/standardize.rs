//! 校验与标准化: raw records in, typed and standardised values out — or the reasons a record
//! cannot be used.
//!
//! A [`Standardizer`] is compiled once per resource from the catalogue: each field gets a plan
//! (its type, code table, role, whether it holds a person's name or an address) so that the
//! per-record work is a walk over precomputed plans. For each [`RawRecord`] it returns an
//! [`Outcome`]:
//!
//! * **Accepted** — every value typed and standardised ([`Value`]), every repair listed as a
//!   [`Fix`] (what was written, what it became), and the state of every key field
//!   ([`KeyStatus`]). A key that is missing or invalid does **not** reject the record: linking
//!   resolves such records by name, birth date and address, and an ID with a wrong check digit
//!   must reach it to be matched at all.
//! * **Rejected** — all the reasons found ([`Reject`]: a stable machine code and a Chinese
//!   message naming the field and the value), for the quarantine.
//!
//! What is repaired (and recorded): surrounding whitespace, full-width letters and digits,
//! spaces and traditional characters in personal names, the date and month styles of the
//! different units, Excel serial dates, thousands separators, code-table labels and aliases
//! written instead of codes, lower-case `x`, full-width digits and the 15-digit legacy form of
//! resident IDs, and address variants. What is rejected: impossible or out-of-range dates,
//! malformed numbers, months and booleans, values outside their code table, values longer than
//! the catalogue allows, and required values that are missing.

mod conventions;
mod parse;
pub(crate) mod text;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use miaopi_catalog::{Convention, DataType, EntityRole, Field, MeasureUnit, Pack, Resource};
use miaopi_model::{IdFix, OrgCode, ResidentId, Sex, Uscc, lenient};

use crate::address::AddressNormaliser;
use crate::record::{RawRecord, RawValue};
use conventions::{ConventionError, DateReading, QuantityError};
pub use parse::{DECIMAL_SCALE, MAX_YEAR, MIN_YEAR};
use parse::{DateError, NumberError};
use text::{HalfWidth, T2s};

/// A field's name (`resident_id`), shared by all the records of a resource instead of being
/// copied into each of them.
pub type FieldName = Arc<str>;

/// 标准化值: a typed, standardised value (the `dwd` layer's value).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// 空值.
    Null,
    /// 字符串 (codes of code tables, canonical IDs, cleaned text).
    Str(String),
    /// 整数.
    Int(i64),
    /// 小数: an exact decimal scaled by 10^6 ([`DECIMAL_SCALE`]): `1234.5` is `1_234_500_000`.
    Decimal(i128),
    /// 日期.
    Date(NaiveDate),
    /// 年月: `YYYY-MM`.
    Month(String),
    /// 布尔 (是/否).
    Bool(bool),
}

impl Value {
    /// Whether the value is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The text of a [`Value::Str`] or [`Value::Month`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Month(s) => Some(s),
            _ => None,
        }
    }

    /// The date of a [`Value::Date`].
    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }
}

/// Writes the value as the canonical text it would be standardised from again: `NULL` for
/// null, ISO dates, decimals without trailing zeros (`1234.5`), `true`/`false`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Str(s) | Value::Month(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Decimal(d) => f.write_str(&format_decimal(*d)),
            Value::Date(d) => f.write_str(&parse::iso_date(*d)),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A decimal scaled by 10^6 as text: `1_234_500_000` → `1234.5`, `-500_000` → `-0.5`.
pub fn format_decimal(scaled: i128) -> String {
    let factor = 10i128.pow(DECIMAL_SCALE);
    let sign = if scaled < 0 { "-" } else { "" };
    let abs = scaled.unsigned_abs();
    let int = abs / factor.unsigned_abs();
    let frac = abs % factor.unsigned_abs();
    if frac == 0 {
        return format!("{sign}{int}");
    }
    let frac = format!("{frac:06}");
    format!("{sign}{int}.{}", frac.trim_end_matches('0'))
}

/// 修正类型: the kind of repair applied to a value. [`code`](FixKind::code) is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FixKind {
    /// 去除首尾空白.
    Trimmed,
    /// 全角字符转为半角 (letters, digits, the ideographic space; in identifiers and numbers
    /// also punctuation).
    FullWidth,
    /// 去除姓名中的空格.
    SpacesRemoved,
    /// 繁体字转为简体字.
    TraditionalToSimplified,
    /// 日期格式规范为 YYYY-MM-DD.
    DateFormat,
    /// Excel 日期序号转为日期.
    ExcelSerialDate,
    /// 年月格式规范为 YYYY-MM.
    MonthFormat,
    /// 代码表名称或别名转为代码.
    CodeLabelToCode,
    /// 身份证号小写 x 改为大写 X.
    IdLowercaseX,
    /// 15 位旧身份证号升级为 18 位.
    IdUpgraded15,
    /// 身份证号全角字符转为半角.
    IdFullWidth,
    /// 统一社会信用代码小写字母改为大写.
    Uppercased,
    /// 地址规范为标准地址.
    AddressNormalised,
    /// 数字格式规范 (thousands separators, a leading `+`, `12.0` for an integer).
    NumberFormat,
    /// 去除证件号中的空格、连字符等分隔符.
    IdSeparatorsRemoved,
    /// 证件号中形近字母改为数字 (`O`→0, `I`/`l`→1, `Z`→2, `S`→5, `B`→8 where only digits stand;
    /// the check character confirmed the reading).
    IdLookAlikeLetters,
    /// 长期有效 (`长期`, `9999-12-31` …) 读作无终止日期: stored as no end (null), not a sentinel.
    OpenEnded,
    /// 日/月/年 写法 (`25/03/2026`) 按日在前读取: the day is above 12, so only one reading exists.
    DayFirstDate,
    /// 中文数字日期 (`二〇二六年一月五日`) 转为 YYYY-MM-DD.
    ChineseNumeralDate,
    /// 带单位的数值 (`89.5㎡`, `人民币50万元`) 换算为本信息项的单位.
    UnitConverted,
}

impl FixKind {
    /// Every kind, in declaration order.
    pub const ALL: [FixKind; 20] = [
        FixKind::Trimmed,
        FixKind::FullWidth,
        FixKind::SpacesRemoved,
        FixKind::TraditionalToSimplified,
        FixKind::DateFormat,
        FixKind::ExcelSerialDate,
        FixKind::MonthFormat,
        FixKind::CodeLabelToCode,
        FixKind::IdLowercaseX,
        FixKind::IdUpgraded15,
        FixKind::IdFullWidth,
        FixKind::Uppercased,
        FixKind::AddressNormalised,
        FixKind::NumberFormat,
        FixKind::IdSeparatorsRemoved,
        FixKind::IdLookAlikeLetters,
        FixKind::OpenEnded,
        FixKind::DayFirstDate,
        FixKind::ChineseNumeralDate,
        FixKind::UnitConverted,
    ];

    /// Stable machine code (snake_case), e.g. `"traditional_to_simplified"`.
    pub fn code(&self) -> &'static str {
        match self {
            FixKind::Trimmed => "trimmed",
            FixKind::FullWidth => "full_width",
            FixKind::SpacesRemoved => "spaces_removed",
            FixKind::TraditionalToSimplified => "traditional_to_simplified",
            FixKind::DateFormat => "date_format",
            FixKind::ExcelSerialDate => "excel_serial_date",
            FixKind::MonthFormat => "month_format",
            FixKind::CodeLabelToCode => "code_label_to_code",
            FixKind::IdLowercaseX => "id_lowercase_x",
            FixKind::IdUpgraded15 => "id_upgraded_15",
            FixKind::IdFullWidth => "id_full_width",
            FixKind::Uppercased => "uppercased",
            FixKind::AddressNormalised => "address_normalised",
            FixKind::NumberFormat => "number_format",
            FixKind::IdSeparatorsRemoved => "id_separators_removed",
            FixKind::IdLookAlikeLetters => "id_look_alike_letters",
            FixKind::OpenEnded => "open_ended",
            FixKind::DayFirstDate => "day_first_date",
            FixKind::ChineseNumeralDate => "chinese_numeral_date",
            FixKind::UnitConverted => "unit_converted",
        }
    }

    /// 中文说明, for data-quality reports.
    pub fn label_zh(&self) -> &'static str {
        match self {
            FixKind::Trimmed => "去除首尾空白",
            FixKind::FullWidth => "全角字符转为半角",
            FixKind::SpacesRemoved => "去除姓名中的空格",
            FixKind::TraditionalToSimplified => "繁体字转为简体字",
            FixKind::DateFormat => "日期格式规范为 YYYY-MM-DD",
            FixKind::ExcelSerialDate => "Excel 日期序号转为日期",
            FixKind::MonthFormat => "年月格式规范为 YYYY-MM",
            FixKind::CodeLabelToCode => "代码表名称或别名转为代码",
            FixKind::IdLowercaseX => "身份证号小写 x 改为大写 X",
            FixKind::IdUpgraded15 => "15 位旧身份证号升级为 18 位",
            FixKind::IdFullWidth => "身份证号全角字符转为半角",
            FixKind::Uppercased => "小写字母改为大写",
            FixKind::AddressNormalised => "地址规范为标准地址",
            FixKind::NumberFormat => "数字格式规范（去除千分位等）",
            FixKind::IdSeparatorsRemoved => "去除证件号中的空格、连字符等分隔符",
            FixKind::IdLookAlikeLetters => "证件号中形近字母改为数字（校验码核对无误）",
            FixKind::OpenEnded => "“长期有效”读作无终止日期",
            FixKind::DayFirstDate => "日/月/年写法按日在前读取（日大于 12，无歧义）",
            FixKind::ChineseNumeralDate => "中文数字日期转为 YYYY-MM-DD",
            FixKind::UnitConverted => "带单位的数值换算为本信息项的单位",
        }
    }
}

impl fmt::Display for FixKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// 修正记录: one repair of one field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// The field (`name`).
    pub field: FieldName,
    pub kind: FixKind,
    /// The value before this repair (as text).
    pub before: String,
    /// The value after it.
    pub after: String,
}

/// 键状态: whether a key field's value can serve as a key.
///
/// The record is accepted in every case: linking resolves records whose key is missing or
/// invalid by name, birth date and address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStatus {
    /// 有效.
    Valid,
    /// 缺失: the field is empty.
    Missing,
    /// 无效: present but unusable as a key. `code` is the model's error code
    /// (`id_check_mismatch`, `uscc_wrong_length` …) or `id_conflicts_with_record` /
    /// `id_birth_date_out_of_range` for an ID that is well-formed but cannot be this person's.
    Invalid {
        code: &'static str,
        message_zh: String,
    },
}

impl KeyStatus {
    /// `valid`, `missing` or the invalid code.
    pub fn code(&self) -> &'static str {
        match self {
            KeyStatus::Valid => "valid",
            KeyStatus::Missing => "missing",
            KeyStatus::Invalid { code, .. } => code,
        }
    }
}

/// Reason codes of [`Reject`] and of [`KeyStatus::Invalid`] raised here (the others come from
/// `miaopi_model`).
pub mod reason {
    /// 必填项为空.
    pub const MISSING_REQUIRED: &str = "missing_required";
    /// 日期无效 (no such day, or not a date).
    pub const INVALID_DATE: &str = "invalid_date";
    /// 日期超出 1900–2100 年.
    pub const DATE_OUT_OF_RANGE: &str = "date_out_of_range";
    /// 年月无效.
    pub const INVALID_MONTH: &str = "invalid_month";
    /// 整数无效.
    pub const INVALID_INTEGER: &str = "invalid_integer";
    /// 数值无效.
    pub const INVALID_DECIMAL: &str = "invalid_decimal";
    /// 是/否值无效.
    pub const INVALID_BOOLEAN: &str = "invalid_boolean";
    /// 不在代码表中.
    pub const UNKNOWN_CODE: &str = "unknown_code";
    /// 超过最大长度.
    pub const TOO_LONG: &str = "too_long";
    /// 字段数与目录不符 (a reader bug; readers yield one value per catalogue field).
    pub const WRONG_FIELD_COUNT: &str = "wrong_field_count";
    /// Key status: a valid ID whose birth date or sex contradicts the record.
    pub const ID_CONFLICTS_WITH_RECORD: &str = "id_conflicts_with_record";
    /// Key status: a valid ID whose birth date lies after [`MAX_YEAR`](super::MAX_YEAR).
    pub const ID_BIRTH_DATE_OUT_OF_RANGE: &str = "id_birth_date_out_of_range";
    /// Key status: a valid pre-2016 organisation code (GB 11714) where a credit code belongs.
    /// Not a key of its own; linking joins it to the credit code that embeds it (positions
    /// 9–17). Starts with `uscc_` so that a 证件号 carrying it is read as an organisation's.
    pub const USCC_IS_ORGANISATION_CODE: &str = "uscc_is_organisation_code";
    /// 日期日月顺序不明: `03/05/2026` may be 3 May or 5 March.
    pub const AMBIGUOUS_DATE: &str = "ambiguous_date";
    /// 单位无法换算: a quantity in a unit this field cannot be converted from.
    pub const WRONG_UNIT: &str = "wrong_unit";
}

/// 拒收原因: why a record cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The field concerned, if one.
    pub field: Option<FieldName>,
    /// Stable machine code (see [`reason`]).
    pub code: &'static str,
    /// 中文原因, naming the field by its label and quoting the value:
    /// `出生日期「2023-02-30」不是有效日期`.
    pub message_zh: String,
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 接收: the standardised values (one per catalogue field, in order), the repairs applied,
    /// and the status of every key field (in field order).
    Accepted {
        values: Vec<Value>,
        fixes: Vec<Fix>,
        keys: Vec<(FieldName, KeyStatus)>,
    },
    /// 拒收: every reason found, not just the first.
    Rejected { reasons: Vec<Reject> },
}

impl Outcome {
    /// Whether the record was accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Accepted { .. })
    }
}

/// Why a [`Standardizer`] cannot be built for a resource (a catalogue problem, found once).
#[derive(Debug, thiserror::Error)]
pub enum StandardizeError {
    /// A field names a code table the pack does not have (a loaded pack never does).
    #[error("resource {resource}, field {field}: unknown code table {table:?}")]
    UnknownCodeTable {
        resource: String,
        field: String,
        table: String,
    },
    /// OpenCC's dictionaries could not be loaded.
    #[error("loading the traditional-to-simplified converter (OpenCC t2s): {0}")]
    Converter(String),
}

/// How a free-text string field is cleaned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    /// Trim and half-width letters and digits.
    Plain,
    /// 姓名: also remove inner spaces and convert traditional characters.
    PersonName,
    /// 姓名或名称 (`权利人名称`): treated as a personal name when it is all Chinese characters.
    PersonOrOrganisation,
    /// 地址: normalised to the standard address.
    Address,
}

/// A code table compiled for lookups.
#[derive(Debug)]
struct CodeIndex {
    /// 代码表中文名 (`性别`).
    label: String,
    /// Code, label and every alias (trimmed) → index into `codes`.
    lookup: std::collections::HashMap<Box<str>, usize>,
    codes: Vec<Box<str>>,
}

/// Record-level checks of a person ID: facts of the record the ID's embedded birth date and
/// sex must agree with.
#[derive(Debug, Clone, Copy, Default)]
struct IdChecks {
    /// The record's own `birth_date` field, when this ID is the record's subject.
    birth_field: Option<usize>,
    /// The record's own `sex` field, when this ID is the record's subject.
    sex_field: Option<usize>,
    /// The sex the field's name implies (`husband_id`, `mother_id` …).
    implied_sex: Option<Sex>,
}

/// The conventions a date field declares (see [`miaopi_catalog::Convention`]).
#[derive(Debug, Clone, Copy, Default)]
struct DatePlan {
    open_end: bool,
    day_first: bool,
}

#[derive(Debug)]
enum Kind {
    Text(TextKind),
    Code(CodeIndex),
    PersonId(IdChecks),
    CreditCode,
    PartyId,
    /// address_code, house_id, building_code: opaque codes.
    OtherKey,
    /// With the unit the field is stored in, if declared.
    Integer(Option<MeasureUnit>),
    Decimal(Option<MeasureUnit>),
    Date(DatePlan),
    Month,
    Boolean,
}

#[derive(Debug)]
struct FieldPlan {
    name: FieldName,
    label: String,
    required: bool,
    max_length: Option<usize>,
    kind: Kind,
}

/// 标准化器: validates and standardises the records of one resource. Build it once per
/// resource and reuse it for every record; it is `Send + Sync`, so threads may share it.
#[derive(Debug)]
pub struct Standardizer {
    resource: String,
    plans: Vec<FieldPlan>,
    t2s: Option<Arc<T2s>>,
    addresses: Option<AddressNormaliser>,
}

/// Person IDs whose parsed value is kept for the record-level checks (no resource has more).
const MAX_CHECKED_IDS: usize = 4;

/// The work of one record.
struct Acc {
    fixes: Vec<Fix>,
    rejects: Vec<Reject>,
    keys: Vec<(FieldName, KeyStatus)>,
    /// Valid person IDs: (plan index, index in `keys`, ID).
    ids: [Option<(usize, usize, ResidentId)>; MAX_CHECKED_IDS],
    n_ids: usize,
    /// The current field was written 长期 (no end date) in a field that accepts it.
    open_ended: bool,
}

impl Acc {
    fn fix(&mut self, field: &FieldName, kind: FixKind, before: &str, after: &str) {
        self.fixes.push(Fix {
            field: field.clone(),
            kind,
            before: before.to_owned(),
            after: after.to_owned(),
        });
    }

    fn reject(&mut self, plan: &FieldPlan, code: &'static str, message_zh: String) {
        self.rejects.push(Reject {
            field: Some(plan.name.clone()),
            code,
            message_zh,
        });
    }
}

/// A raw value, borrowed from a record or owned (so that a clean string can be moved into the
/// standardised value instead of copied).
enum Src<'a> {
    Ref(&'a RawValue),
    Own(RawValue),
}

impl<'a> Src<'a> {
    fn raw(&self) -> &RawValue {
        match self {
            Src::Ref(r) => r,
            Src::Own(r) => r,
        }
    }

    /// The value as text for a string field: `None` for null; numbers, booleans and dates in a
    /// string field (an XLSX cell typed as a number) are written out.
    fn into_text(self) -> Option<Cow<'a, str>> {
        match self {
            Src::Ref(RawValue::Text(s)) => Some(Cow::Borrowed(s)),
            Src::Own(RawValue::Text(s)) => Some(Cow::Owned(s)),
            other => render(other.raw()).map(Cow::Owned),
        }
    }
}

/// Non-text raw values written as text (for string fields and messages).
fn render(raw: &RawValue) -> Option<String> {
    Some(match raw {
        RawValue::Null => return None,
        RawValue::Text(s) => s.clone(),
        RawValue::Int(i) => i.to_string(),
        // A spreadsheet stores `440304…` or a code `1` as a float: write integral values
        // without `.0`.
        RawValue::Float(f) if f.fract() == 0.0 && f.abs() < 1e17 => format!("{}", *f as i64),
        RawValue::Float(f) => f.to_string(),
        RawValue::Decimal { value, scale } => match parse::rescale(*value, *scale) {
            Ok(scaled) => format_decimal(scaled),
            Err(_) => format!("{value}e-{scale}"),
        },
        RawValue::Bool(b) => b.to_string(),
        RawValue::Date(d) => parse::iso_date(*d),
    })
}

/// A raw value quoted in a message, cut to a readable length.
fn shown(raw: &RawValue) -> String {
    let s = render(raw).unwrap_or_default();
    let s = text::trim(&s);
    const MAX: usize = 40;
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        s.to_owned()
    }
}

/// Whether a field holds a free-text address.
fn is_address_field(name: &str) -> bool {
    name == "address" || name.ends_with("_address") || name == "full_address"
}

/// How a field named like a name is cleaned, decided by its name and label: `name` and
/// `*_name` fields labelled `…姓名` hold a person's name; other `*_name` fields
/// (`权利人名称`, `姓名或名称`) hold a person's or an organisation's; a plain `name` labelled
/// otherwise (`名称` of an enterprise, `楼栋名称`) is not a person's.
fn text_kind(field: &Field) -> TextKind {
    let name = field.name.as_str();
    if is_address_field(name) {
        return TextKind::Address;
    }
    if name != "name" && !name.ends_with("_name") {
        return TextKind::Plain;
    }
    let label = field.label.as_str();
    if label.contains("姓名") && !label.contains("名称") {
        TextKind::PersonName
    } else if name != "name" {
        TextKind::PersonOrOrganisation
    } else {
        TextKind::Plain
    }
}

/// The sex a person-ID field's name implies: 男方/父亲 male, 女方/母亲 female.
fn implied_sex(name: &str) -> Option<Sex> {
    match name.split('_').next() {
        Some("husband" | "father") => Some(Sex::Male),
        Some("wife" | "mother") => Some(Sex::Female),
        _ => None,
    }
}

impl Standardizer {
    /// Compiles the plans of `resource`'s fields: code-table indexes, person-name and address
    /// fields, record-level ID checks.
    pub fn new(pack: &Pack, resource: &Resource) -> Result<Self, StandardizeError> {
        let fields = &resource.fields;
        let person_ids = fields
            .iter()
            .filter(|f| f.role == Some(EntityRole::PersonId))
            .count();
        let position = |name: &str, ty: DataType| {
            fields
                .iter()
                .position(|f| f.name == name && f.data_type == ty)
        };
        // The record's subject: a resource with a single person ID describes that person, so
        // its `birth_date` and `sex` are the ID holder's. (A birth certificate's are the
        // newborn's, not the parents' whose IDs it carries.)
        let subject = person_ids == 1;
        let birth_field = position("birth_date", DataType::Date).filter(|_| subject);
        let sex_field = fields
            .iter()
            .position(|f| f.name == "sex" && f.code_table.as_deref() == Some("sex"))
            .filter(|_| subject);

        let mut plans = Vec::with_capacity(fields.len());
        let mut needs_t2s = false;
        let mut needs_addresses = false;
        for field in fields {
            let kind = match (field.role, field.data_type) {
                (Some(EntityRole::PersonId), _) => Kind::PersonId(IdChecks {
                    birth_field,
                    sex_field,
                    implied_sex: implied_sex(&field.name),
                }),
                (Some(EntityRole::CreditCode), _) => Kind::CreditCode,
                (Some(EntityRole::PartyId), _) => Kind::PartyId,
                (Some(_), _) => Kind::OtherKey,
                (None, DataType::String) => match &field.code_table {
                    Some(table) => Kind::Code(code_index(pack, resource, field, table)?),
                    None => {
                        let kind = text_kind(field);
                        needs_t2s |=
                            matches!(kind, TextKind::PersonName | TextKind::PersonOrOrganisation);
                        needs_addresses |= kind == TextKind::Address;
                        Kind::Text(kind)
                    }
                },
                (None, DataType::Integer) => Kind::Integer(field.unit),
                (None, DataType::Decimal) => Kind::Decimal(field.unit),
                (None, DataType::Date) => Kind::Date(DatePlan {
                    open_end: field.accepts.contains(&Convention::OpenEnd),
                    day_first: field.accepts.contains(&Convention::DayFirst),
                }),
                (None, DataType::Month) => Kind::Month,
                (None, DataType::Boolean) => Kind::Boolean,
            };
            plans.push(FieldPlan {
                name: Arc::from(field.name.as_str()),
                label: field.label.clone(),
                required: field.required,
                max_length: field.max_length.map(|n| n as usize),
                kind,
            });
        }
        let t2s = if needs_t2s {
            Some(T2s::shared().map_err(StandardizeError::Converter)?)
        } else {
            None
        };
        let addresses = needs_addresses.then(|| AddressNormaliser::new(pack));
        Ok(Standardizer {
            resource: resource.code.clone(),
            plans,
            t2s,
            addresses,
        })
    }

    /// The resource this standardiser was built for.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The field names, in catalogue order (the order of [`Outcome::Accepted`]'s values).
    pub fn field_names(&self) -> impl Iterator<Item = &FieldName> {
        self.plans.iter().map(|p| &p.name)
    }

    /// Validates and standardises one record.
    pub fn standardize(&self, record: &RawRecord) -> Outcome {
        self.run(record.values.len(), record.values.iter().map(Src::Ref))
    }

    /// Like [`standardize`](Self::standardize), consuming the values so that clean strings
    /// are moved rather than copied (the hot path of a pipeline that keeps the record's
    /// `raw` text separately for the quarantine).
    pub fn standardize_values(&self, values: Vec<RawValue>) -> Outcome {
        let n = values.len();
        self.run(n, values.into_iter().map(Src::Own))
    }

    fn run<'a>(&self, n: usize, values: impl Iterator<Item = Src<'a>>) -> Outcome {
        if n != self.plans.len() {
            return Outcome::Rejected {
                reasons: vec![Reject {
                    field: None,
                    code: reason::WRONG_FIELD_COUNT,
                    message_zh: format!(
                        "字段数错误：目录有 {} 个信息项，记录有 {n} 个值",
                        self.plans.len()
                    ),
                }],
            };
        }
        let mut acc = Acc {
            fixes: Vec::new(),
            rejects: Vec::new(),
            keys: Vec::new(),
            ids: [None; MAX_CHECKED_IDS],
            n_ids: 0,
            open_ended: false,
        };
        let mut out = Vec::with_capacity(n);
        for (i, (plan, src)) in self.plans.iter().zip(values).enumerate() {
            let rejected_before = acc.rejects.len();
            acc.open_ended = false;
            let value = self.field(i, plan, src, &mut acc);
            // A value rejected for its content is null too; one reason per field is enough. A
            // field written 长期 is present: its null means "no end".
            if value.is_null()
                && plan.required
                && !is_key(&plan.kind)
                && !acc.open_ended
                && acc.rejects.len() == rejected_before
            {
                acc.reject(
                    plan,
                    reason::MISSING_REQUIRED,
                    format!("{}为必填项，但值为空", plan.label),
                );
            }
            out.push(value);
        }
        if !acc.rejects.is_empty() {
            return Outcome::Rejected {
                reasons: acc.rejects,
            };
        }
        self.check_ids(&out, &mut acc);
        Outcome::Accepted {
            values: out,
            fixes: acc.fixes,
            keys: acc.keys,
        }
    }

    fn field<'a>(&self, index: usize, plan: &FieldPlan, src: Src<'a>, acc: &mut Acc) -> Value {
        match &plan.kind {
            Kind::Text(kind) => match src.into_text() {
                Some(t) => self.text(plan, *kind, t, acc),
                None => Value::Null,
            },
            Kind::Code(index) => match src.into_text() {
                Some(t) => code(plan, index, t, acc),
                None => Value::Null,
            },
            Kind::PersonId(_) => key(plan, src, acc, |t, acc| person_id(index, plan, t, acc)),
            Kind::CreditCode => key(plan, src, acc, |t, acc| credit_code(plan, t, acc)),
            Kind::PartyId => key(plan, src, acc, |t, acc| party_id(plan, t, acc)),
            Kind::OtherKey => key(plan, src, acc, |t, acc| {
                let s = clean_code(plan, t, acc);
                if s.is_empty() {
                    (Value::Null, KeyStatus::Missing)
                } else {
                    (Value::Str(s), KeyStatus::Valid)
                }
            }),
            Kind::Integer(unit) => integer(plan, *unit, src.raw(), acc),
            Kind::Decimal(unit) => decimal(plan, *unit, src.raw(), acc),
            Kind::Date(conventions) => date(plan, *conventions, src.raw(), acc),
            Kind::Month => month(plan, src.raw(), acc),
            Kind::Boolean => boolean(plan, src.raw(), acc),
        }
    }

    /// Free text: trim, half-width letters and digits; names also lose spaces and traditional
    /// characters; addresses are normalised.
    fn text(&self, plan: &FieldPlan, kind: TextKind, input: Cow<'_, str>, acc: &mut Acc) -> Value {
        let trimmed = text::trim(&input);
        if trimmed.len() != input.len() {
            acc.fix(&plan.name, FixKind::Trimmed, &input, trimmed);
        }
        if trimmed.is_empty() {
            return Value::Null;
        }
        let mut cur = Cow::Borrowed(trimmed);
        if kind == TextKind::Address {
            if let Some(normaliser) = &self.addresses
                && let Cow::Owned(standard) = normaliser.standard_form(trimmed)
            {
                acc.fix(&plan.name, FixKind::AddressNormalised, trimmed, &standard);
                cur = Cow::Owned(standard);
            }
        } else {
            cur = step(&plan.name, cur, FixKind::FullWidth, acc, |s| {
                text::half_width(s, HalfWidth::Alphanumeric)
            });
            let name = match kind {
                TextKind::PersonName => true,
                TextKind::PersonOrOrganisation => text::is_all_cjk(&cur),
                _ => false,
            };
            if name {
                cur = step(
                    &plan.name,
                    cur,
                    FixKind::SpacesRemoved,
                    acc,
                    text::remove_spaces,
                );
                if let Some(t2s) = &self.t2s {
                    cur = step(
                        &plan.name,
                        cur,
                        FixKind::TraditionalToSimplified,
                        acc,
                        |s| t2s.convert(s),
                    );
                }
            }
        }
        let s = finish(&input, cur).unwrap_or_else(|| input.into_owned());
        check_length(plan, &s, acc);
        Value::Str(s)
    }

    /// A valid person ID must be possible for the record: its birth date before 2100, its sex
    /// that of the role (`wife_id`) and, for the record's subject, its birth date and sex those
    /// of the record. A transposition of two digits ten positions apart passes the GB 11643
    /// check and yields another well-formed ID; these checks catch those that moved the birth
    /// date or the sex digit.
    fn check_ids(&self, values: &[Value], acc: &mut Acc) {
        for slot in acc.ids.iter().take(acc.n_ids) {
            let Some((plan_index, key_index, id)) = *slot else {
                continue;
            };
            let Some(Kind::PersonId(checks)) = self.plans.get(plan_index).map(|p| &p.kind) else {
                continue;
            };
            let label = self.plans.get(plan_index).map_or("", |p| p.label.as_str());
            let problem = id_problem(&id, checks, values, label, &self.plans);
            if let (Some((code, message_zh)), Some(entry)) = (problem, acc.keys.get_mut(key_index))
            {
                entry.1 = KeyStatus::Invalid { code, message_zh };
            }
        }
    }
}

fn is_key(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::PersonId(_) | Kind::CreditCode | Kind::PartyId | Kind::OtherKey
    )
}

fn id_problem(
    id: &ResidentId,
    checks: &IdChecks,
    values: &[Value],
    label: &str,
    plans: &[FieldPlan],
) -> Option<(&'static str, String)> {
    let birth = id.birth_date();
    if birth.year() > MAX_YEAR {
        return Some((
            reason::ID_BIRTH_DATE_OUT_OF_RANGE,
            format!("{label}所含出生日期 {birth} 晚于 {MAX_YEAR} 年，不可能是真实号码"),
        ));
    }
    let sex = id.sex();
    if let Some(want) = checks.implied_sex
        && want != sex
    {
        return Some((
            reason::ID_CONFLICTS_WITH_RECORD,
            format!(
                "{label}显示性别为{}，与{}应为{}不符",
                sex.label_zh(),
                label,
                want.label_zh()
            ),
        ));
    }
    if let Some(i) = checks.birth_field
        && let Some(Value::Date(record_birth)) = values.get(i)
        && *record_birth != birth
    {
        let field = plans.get(i).map_or("出生日期", |p| p.label.as_str());
        return Some((
            reason::ID_CONFLICTS_WITH_RECORD,
            format!("{label}所含出生日期 {birth} 与记录的{field} {record_birth} 不一致"),
        ));
    }
    if let Some(i) = checks.sex_field
        && let Some(Value::Str(code)) = values.get(i)
        && let Some(record_sex) = Sex::from_code_or_label(code)
        && record_sex != sex
    {
        let field = plans.get(i).map_or("性别", |p| p.label.as_str());
        return Some((
            reason::ID_CONFLICTS_WITH_RECORD,
            format!(
                "{label}所含性别「{}」与记录的{field}「{}」不一致",
                sex.label_zh(),
                record_sex.label_zh()
            ),
        ));
    }
    None
}

/// Applies one cleaning step, recording a fix when it changed the value. Steps return
/// `Cow::Owned` only when they changed something.
fn step<'s>(
    field: &FieldName,
    cur: Cow<'s, str>,
    kind: FixKind,
    acc: &mut Acc,
    f: impl for<'x> FnOnce(&'x str) -> Cow<'x, str>,
) -> Cow<'s, str> {
    let next = match f(&cur) {
        Cow::Borrowed(_) => None,
        Cow::Owned(changed) => Some(changed),
    };
    match next {
        None => cur,
        Some(changed) => {
            acc.fix(field, kind, &cur, &changed);
            Cow::Owned(changed)
        }
    }
}

/// The cleaned string, or `None` when it is the whole input unchanged (the caller then moves
/// the input itself into the value, allocating nothing).
fn finish(input: &str, cur: Cow<'_, str>) -> Option<String> {
    match cur {
        Cow::Borrowed(b) if b.len() == input.len() => None,
        Cow::Borrowed(b) => Some(b.to_owned()),
        Cow::Owned(o) => Some(o),
    }
}

fn check_length(plan: &FieldPlan, s: &str, acc: &mut Acc) {
    if let Some(max) = plan.max_length {
        // Byte length bounds the character count from above: skip the count when it fits.
        if s.len() > max {
            let chars = s.chars().count();
            if chars > max {
                acc.reject(
                    plan,
                    reason::TOO_LONG,
                    format!("{}「{}」长度为 {chars}，超过上限 {max}", plan.label, s),
                );
            }
        }
    }
}

/// Trims and converts every full-width ASCII form (codes and keys are ASCII), recording fixes.
fn clean_code(plan: &FieldPlan, input: Cow<'_, str>, acc: &mut Acc) -> String {
    let trimmed = text::trim(&input);
    if trimmed.len() != input.len() {
        acc.fix(&plan.name, FixKind::Trimmed, &input, trimmed);
    }
    let cur = step(
        &plan.name,
        Cow::Borrowed(trimmed),
        FixKind::FullWidth,
        acc,
        |s| text::half_width(s, HalfWidth::All),
    );
    finish(&input, cur).unwrap_or_else(|| input.into_owned())
}

/// Key fields: empty → missing (a reject when required); otherwise `parse` decides the value
/// and the key's status.
fn key<'a>(
    plan: &FieldPlan,
    src: Src<'a>,
    acc: &mut Acc,
    parse: impl FnOnce(Cow<'a, str>, &mut Acc) -> (Value, KeyStatus),
) -> Value {
    let text = src.into_text().filter(|t| !text::trim(t).is_empty());
    let (value, status) = match text {
        Some(t) => parse(t, acc),
        None => (Value::Null, KeyStatus::Missing),
    };
    if status == KeyStatus::Missing && plan.required {
        acc.reject(
            plan,
            reason::MISSING_REQUIRED,
            format!("{}为必填项，但值为空", plan.label),
        );
        return Value::Null;
    }
    if let Value::Str(s) = &value
        && status == KeyStatus::Valid
    {
        check_length(plan, s, acc);
    }
    acc.keys.push((plan.name.clone(), status));
    value
}

fn id_fix_kind(fix: IdFix) -> FixKind {
    match fix {
        IdFix::TrimmedWhitespace => FixKind::Trimmed,
        IdFix::LowercaseX => FixKind::IdLowercaseX,
        IdFix::FullWidth => FixKind::IdFullWidth,
        IdFix::UpgradedFrom15 => FixKind::IdUpgraded15,
        IdFix::SeparatorsRemoved => FixKind::IdSeparatorsRemoved,
        IdFix::LookAlikeLetters => FixKind::IdLookAlikeLetters,
        IdFix::Uppercased => FixKind::Uppercased,
    }
}

/// The trimmed, half-width text of an unusable key, kept as the value so that linking and the
/// data-quality report see what the unit sent.
fn unusable_key_text(input: Cow<'_, str>) -> String {
    let trimmed = text::trim(&input);
    let cur = text::half_width(trimmed, HalfWidth::All);
    finish(&input, cur).unwrap_or_else(|| input.into_owned())
}

fn person_id(
    index: usize,
    plan: &FieldPlan,
    input: Cow<'_, str>,
    acc: &mut Acc,
) -> (Value, KeyStatus) {
    match ResidentId::parse_lenient(&input) {
        Ok(parsed) => {
            let canonical = parsed.id.as_str();
            for fix in &parsed.fixes {
                acc.fix(&plan.name, id_fix_kind(*fix), &input, canonical);
            }
            if acc.n_ids < MAX_CHECKED_IDS {
                acc.ids[acc.n_ids] = Some((index, acc.keys.len(), parsed.id));
                acc.n_ids += 1;
            }
            let value = if *input == *canonical {
                input.into_owned()
            } else {
                canonical.to_owned()
            };
            (Value::Str(value), KeyStatus::Valid)
        }
        Err(e) => (
            Value::Str(unusable_key_text(input)),
            KeyStatus::Invalid {
                code: e.code(),
                message_zh: format!("{}：{}", plan.label, e.reason_zh()),
            },
        ),
    }
}

fn credit_code(plan: &FieldPlan, input: Cow<'_, str>, acc: &mut Acc) -> (Value, KeyStatus) {
    match Uscc::parse_lenient_with_fixes(&input) {
        Ok((code, fixes)) => {
            for fix in &fixes {
                acc.fix(&plan.name, id_fix_kind(*fix), &input, code.as_str());
            }
            (
                Value::Str(owned_canonical(input, code.as_str())),
                KeyStatus::Valid,
            )
        }
        Err(e) => organisation_code(plan, input, acc).unwrap_or_else(|input| {
            (
                Value::Str(unusable_key_text(input)),
                KeyStatus::Invalid {
                    code: e.code(),
                    message_zh: format!("{}：{}", plan.label, e.reason_zh()),
                },
            )
        }),
    }
}

/// A valid GB 11714 organisation code where a credit code belongs (records from before 2016):
/// the canonical `XXXXXXXX-X`, fixes recorded, and the key status that tells linking to find
/// the credit code embedding it. The input back when it is not one.
fn organisation_code<'a>(
    plan: &FieldPlan,
    input: Cow<'a, str>,
    acc: &mut Acc,
) -> Result<(Value, KeyStatus), Cow<'a, str>> {
    let Ok((code, fixes)) = OrgCode::parse_lenient(&input) else {
        return Err(input);
    };
    let canonical = code.canonical();
    for fix in &fixes {
        acc.fix(&plan.name, id_fix_kind(*fix), &input, &canonical);
    }
    let message_zh = format!(
        "{}：填写的是 2016 年前的组织机构代码 {canonical}（GB 11714），按统一社会信用代码第 9–17 位关联",
        plan.label
    );
    Ok((
        Value::Str(canonical),
        KeyStatus::Invalid {
            code: reason::USCC_IS_ORGANISATION_CODE,
            message_zh,
        },
    ))
}

fn owned_canonical(input: Cow<'_, str>, canonical: &str) -> String {
    if *input == *canonical {
        input.into_owned()
    } else {
        canonical.to_owned()
    }
}

/// 证件号: a resident ID, else a credit code (or a pre-2016 organisation code).
///
/// A text shaped like a resident ID (see [`id_shaped`]) is read as one only: one in 31 corrupted
/// IDs (a wrong check digit, two digits swapped) happens to pass the credit code's mod-31 check,
/// and taking it for an organisation would hide the person from linking. Credit codes of that
/// shape (all digits, a province-like prefix and a calendar date in positions 7–14) are rare
/// enough that the mistake the other way is the smaller one. The shape is judged after the
/// repairs lenient parsing makes (separators, look-alike letters), so `44O304…` is a person's.
/// A text that reads as a valid resident ID after those repairs is a person's even when it also
/// passes as a credit code (`4403041990B1011234` with `B` for `8` may pass the mod-31 check): a
/// real credit code is never ID-shaped (its positions 7–14 hold the region code's tail and the
/// organisation code, not a birth date), so the other reading would invent a legal person.
fn party_id(plan: &FieldPlan, input: Cow<'_, str>, acc: &mut Acc) -> (Value, KeyStatus) {
    let id_error = match ResidentId::parse_lenient(&input) {
        Ok(parsed) => {
            let canonical = parsed.id.as_str();
            for fix in &parsed.fixes {
                acc.fix(&plan.name, id_fix_kind(*fix), &input, canonical);
            }
            return (
                Value::Str(owned_canonical(input, canonical)),
                KeyStatus::Valid,
            );
        }
        Err(e) => e,
    };
    let as_credit_code = Uscc::parse_lenient_with_fixes(&input);
    let compact: String = text::half_width(text::trim(&input), HalfWidth::All)
        .chars()
        .filter(|c| !lenient::is_separator(*c))
        .map(|c| lenient::look_alike_digit(c).unwrap_or(c))
        .collect();
    let (code, reason_zh) = match (id_error, as_credit_code) {
        (id_error, _) if id_shaped(&compact) => (id_error.code(), id_error.reason_zh()),
        (_, Ok((code, fixes))) => {
            for fix in &fixes {
                acc.fix(&plan.name, id_fix_kind(*fix), &input, code.as_str());
            }
            return (
                Value::Str(owned_canonical(input, code.as_str())),
                KeyStatus::Valid,
            );
        }
        (_, Err(e)) => match organisation_code(plan, input, acc) {
            Ok(found) => return found,
            Err(back) => {
                return (
                    Value::Str(unusable_key_text(back)),
                    KeyStatus::Invalid {
                        code: e.code(),
                        message_zh: format!("{}：{}", plan.label, e.reason_zh()),
                    },
                );
            }
        },
    };
    (
        Value::Str(unusable_key_text(input)),
        KeyStatus::Invalid {
            code,
            message_zh: format!("{}：{}", plan.label, reason_zh),
        },
    )
}

/// Whether a (trimmed, half-width) text looks like a resident ID: 15 digits (the legacy form),
/// or 18 characters whose first 17 are digits starting with a province code and holding a
/// calendar date in positions 7–14, the last a digit or `X`.
fn id_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() == 15 {
        return b.iter().all(u8::is_ascii_digit);
    }
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    if !(b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x') {
        return false;
    }
    let number = |r: std::ops::Range<usize>| {
        b[r].iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    miaopi_model::region::is_province_code(number(0..2))
        && i32::try_from(number(6..10))
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, number(10..12), number(12..14)))
            .is_some()
}

fn code_index(
    pack: &Pack,
    resource: &Resource,
    field: &Field,
    table: &str,
) -> Result<CodeIndex, StandardizeError> {
    let t = pack
        .code_table(table)
        .ok_or_else(|| StandardizeError::UnknownCodeTable {
            resource: resource.code.clone(),
            field: field.name.clone(),
            table: table.to_string(),
        })?;
    let mut lookup = std::collections::HashMap::new();
    let mut codes = Vec::with_capacity(t.entries.len());
    for (i, e) in t.entries.iter().enumerate() {
        codes.push(Box::from(e.code.as_str()));
        for v in e.values() {
            // The loader guarantees no value names two entries; keep the first if one did.
            lookup.entry(Box::from(v.trim())).or_insert(i);
        }
    }
    Ok(CodeIndex {
        label: t.label.clone(),
        lookup,
        codes,
    })
}

/// A code-table value: the entry named by code, label or alias (as written, then with
/// full-width characters converted) becomes its code.
fn code(plan: &FieldPlan, index: &CodeIndex, input: Cow<'_, str>, acc: &mut Acc) -> Value {
    let trimmed = text::trim(&input);
    if trimmed.is_empty() {
        if !input.is_empty() {
            acc.fix(&plan.name, FixKind::Trimmed, &input, "");
        }
        return Value::Null;
    }
    let found = index.lookup.get(trimmed).copied().or_else(|| {
        match text::half_width(trimmed, HalfWidth::All) {
            Cow::Owned(half) => index.lookup.get(half.as_str()).copied(),
            Cow::Borrowed(_) => None,
        }
    });
    let Some(i) = found else {
        acc.reject(
            plan,
            reason::UNKNOWN_CODE,
            format!(
                "{}「{}」不在代码表 {} 中",
                plan.label,
                shown(&RawValue::Text(trimmed.to_owned())),
                index.label
            ),
        );
        return Value::Null;
    };
    let code = index.codes.get(i).map_or("", |c| c);
    if trimmed.len() != input.len() {
        acc.fix(&plan.name, FixKind::Trimmed, &input, trimmed);
    }
    if trimmed != code {
        acc.fix(&plan.name, FixKind::CodeLabelToCode, trimmed, code);
        return Value::Str(code.to_owned());
    }
    let s = if trimmed.len() == input.len() {
        input.into_owned()
    } else {
        code.to_owned()
    };
    check_length(plan, &s, acc);
    Value::Str(s)
}

/// Text of a typed field, trimmed and half-width; records `full_width` only for the caller to
/// decide (typed fields record the format fix instead).
fn typed_text(s: &str) -> Cow<'_, str> {
    text::half_width(text::trim(s), HalfWidth::All)
}

fn integer(plan: &FieldPlan, unit: Option<MeasureUnit>, raw: &RawValue, acc: &mut Acc) -> Value {
    let parsed: Result<i64, NumberError> = match raw {
        RawValue::Null => return Value::Null,
        RawValue::Int(i) => Ok(*i),
        RawValue::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(*f as i64),
        RawValue::Decimal { value, scale } => parse::rescale(*value, *scale).and_then(|v| {
            if v % 1_000_000 == 0 {
                i64::try_from(v / 1_000_000).map_err(|_| NumberError::Overflow)
            } else {
                Err(NumberError::Invalid)
            }
        }),
        RawValue::Text(s) => {
            let t = typed_text(s);
            if t.is_empty() {
                return Value::Null;
            }
            match parse::integer_text(&t) {
                Ok((v, canonical)) => {
                    if !canonical || t.len() != s.len() || matches!(t, Cow::Owned(_)) {
                        acc.fix(&plan.name, FixKind::NumberFormat, s, &v.to_string());
                    }
                    Ok(v)
                }
                Err(e) => match with_unit(plan, unit, s, &t, acc) {
                    Some(Ok(scaled)) if scaled % 1_000_000 == 0 => {
                        i64::try_from(scaled / 1_000_000).map_err(|_| NumberError::Overflow)
                    }
                    Some(Ok(_)) => Err(NumberError::Invalid),
                    Some(Err(())) => return Value::Null,
                    None => Err(e),
                },
            }
        }
        _ => Err(NumberError::Invalid),
    };
    match parsed {
        Ok(v) => Value::Int(v),
        Err(_) => {
            acc.reject(
                plan,
                reason::INVALID_INTEGER,
                format!("{}「{}」不是有效整数", plan.label, shown(raw)),
            );
            Value::Null
        }
    }
}

fn decimal(plan: &FieldPlan, unit: Option<MeasureUnit>, raw: &RawValue, acc: &mut Acc) -> Value {
    let parsed = match raw {
        RawValue::Null => return Value::Null,
        RawValue::Int(i) => i128::from(*i)
            .checked_mul(1_000_000)
            .ok_or(NumberError::Overflow),
        RawValue::Float(f) => parse::decimal_float(*f),
        RawValue::Decimal { value, scale } => parse::rescale(*value, *scale),
        RawValue::Text(s) => {
            let t = typed_text(s);
            if t.is_empty() {
                return Value::Null;
            }
            match parse::decimal_text(&t) {
                Ok(n) => {
                    if !n.canonical || t.len() != s.len() || matches!(t, Cow::Owned(_)) {
                        acc.fix(
                            &plan.name,
                            FixKind::NumberFormat,
                            s,
                            &format_decimal(n.scaled),
                        );
                    }
                    Ok(n.scaled)
                }
                Err(e) => match with_unit(plan, unit, s, &t, acc) {
                    Some(Ok(scaled)) => Ok(scaled),
                    Some(Err(())) => return Value::Null,
                    None => Err(e),
                },
            }
        }
        _ => Err(NumberError::Invalid),
    };
    match parsed {
        Ok(v) => Value::Decimal(v),
        Err(_) => {
            acc.reject(
                plan,
                reason::INVALID_DECIMAL,
                format!("{}「{}」不是有效数值", plan.label, shown(raw)),
            );
            Value::Null
        }
    }
}

/// A number written with a unit or currency (`89.5㎡`, `人民币50万元`) in a field that declares
/// its unit: the value in that unit (scaled by 10^6), the conversion recorded. `Some(Err)` when
/// the text had a unit that cannot be read here (the reject is recorded), `None` when it had
/// none.
fn with_unit(
    plan: &FieldPlan,
    unit: Option<MeasureUnit>,
    raw_text: &str,
    t: &str,
    acc: &mut Acc,
) -> Option<Result<i128, ()>> {
    let unit = unit?;
    match conventions::quantity(t, unit)? {
        Ok(scaled) => {
            let after = format!("{}（{}）", format_decimal(scaled), unit.label_zh());
            acc.fix(&plan.name, FixKind::UnitConverted, raw_text, &after);
            Some(Ok(scaled))
        }
        Err(QuantityError::WrongUnit { written }) => {
            acc.reject(
                plan,
                reason::WRONG_UNIT,
                format!(
                    "{}「{}」的单位「{written}」无法换算为{}",
                    plan.label,
                    raw_text,
                    unit.label_zh()
                ),
            );
            Some(Err(()))
        }
        Err(QuantityError::Inexact) => {
            acc.reject(
                plan,
                reason::INVALID_DECIMAL,
                format!(
                    "{}「{}」换算为{}后超过六位小数",
                    plan.label,
                    raw_text,
                    unit.label_zh()
                ),
            );
            Some(Err(()))
        }
        Err(QuantityError::Number(_)) => None,
    }
}

/// Records a 长期 (no end date) in a field that accepts it.
fn open_ended(plan: &FieldPlan, raw: &RawValue, acc: &mut Acc) -> Value {
    acc.fix(
        &plan.name,
        FixKind::OpenEnded,
        &shown(raw),
        "（无终止日期）",
    );
    acc.open_ended = true;
    Value::Null
}

fn date(plan: &FieldPlan, conventions: DatePlan, raw: &RawValue, acc: &mut Acc) -> Value {
    if conventions.open_end {
        let open = match raw {
            RawValue::Text(s) => conventions::is_open_end(&typed_text(s)),
            RawValue::Date(d) => conventions::is_open_end_date(*d),
            RawValue::Int(n) => *n == parse::EXCEL_MAX_SERIAL || *n == 99_991_231,
            RawValue::Float(f) => *f == parse::EXCEL_MAX_SERIAL as f64 || *f == 99_991_231.0,
            _ => false,
        };
        if open {
            return open_ended(plan, raw, acc);
        }
    }
    let parsed: Result<NaiveDate, DateError> = match raw {
        RawValue::Null => return Value::Null,
        RawValue::Date(d) => {
            if (MIN_YEAR..=MAX_YEAR).contains(&d.year()) {
                Ok(*d)
            } else {
                Err(DateError::OutOfRange)
            }
        }
        RawValue::Int(_) | RawValue::Float(_) => {
            let n = match raw {
                RawValue::Int(i) => *i as f64,
                RawValue::Float(f) => *f,
                _ => f64::NAN,
            };
            parse::date_number(n)
                .inspect(|(d, serial)| {
                    let kind = if *serial {
                        FixKind::ExcelSerialDate
                    } else {
                        FixKind::DateFormat
                    };
                    acc.fix(&plan.name, kind, &shown(raw), &parse::iso_date(*d));
                })
                .map(|(d, _)| d)
        }
        RawValue::Text(s) => {
            let t = typed_text(s);
            if t.is_empty() {
                return Value::Null;
            }
            match parse::date_text(&t) {
                Ok(p) => {
                    if !p.canonical || t.len() != s.len() || matches!(t, Cow::Owned(_)) {
                        acc.fix(&plan.name, FixKind::DateFormat, s, &parse::iso_date(p.date));
                    }
                    Ok(p.date)
                }
                Err(DateError::Invalid) => match conventions::date(&t, conventions.day_first) {
                    Some(Ok((d, reading))) => {
                        let kind = match reading {
                            DateReading::DayFirst => FixKind::DayFirstDate,
                            DateReading::MonthFirst => FixKind::DateFormat,
                            DateReading::ChineseNumerals => FixKind::ChineseNumeralDate,
                        };
                        acc.fix(&plan.name, kind, s, &parse::iso_date(d));
                        Ok(d)
                    }
                    Some(Err(ConventionError::Ambiguous { first, second })) => {
                        acc.reject(
                            plan,
                            reason::AMBIGUOUS_DATE,
                            format!(
                                "{}「{}」日月顺序不明：可能是 {first} 月 {second} 日，也可能是 {second} 月 {first} 日",
                                plan.label, s
                            ),
                        );
                        return Value::Null;
                    }
                    Some(Err(ConventionError::Date(e))) => Err(e),
                    None => Err(DateError::Invalid),
                },
                Err(e) => Err(e),
            }
        }
        RawValue::Decimal { .. } | RawValue::Bool(_) => Err(DateError::Invalid),
    };
    match parsed {
        Ok(d) => Value::Date(d),
        Err(DateError::OutOfRange) => {
            acc.reject(
                plan,
                reason::DATE_OUT_OF_RANGE,
                format!(
                    "{}「{}」超出 {MIN_YEAR}–{MAX_YEAR} 年的范围",
                    plan.label,
                    shown(raw)
                ),
            );
            Value::Null
        }
        Err(DateError::Invalid) => {
            acc.reject(
                plan,
                reason::INVALID_DATE,
                format!("{}「{}」不是有效日期", plan.label, shown(raw)),
            );
            Value::Null
        }
    }
}

fn month(plan: &FieldPlan, raw: &RawValue, acc: &mut Acc) -> Value {
    let parsed = match raw {
        RawValue::Null => return Value::Null,
        RawValue::Text(s) => {
            let t = typed_text(s);
            if t.is_empty() {
                return Value::Null;
            }
            parse::month_text(&t).map(|m| {
                (
                    m,
                    !m.canonical || t.len() != s.len() || matches!(t, Cow::Owned(_)),
                )
            })
        }
        RawValue::Date(d) => parse::month_of(*d).map(|m| (m, true)),
        // A spreadsheet cell holding 202405 as a number.
        RawValue::Int(_) | RawValue::Float(_) => match render(raw) {
            Some(s) if s.len() == 6 => parse::month_text(&s).map(|m| (m, true)),
            _ => Err(parse::MonthError::Invalid),
        },
        _ => Err(parse::MonthError::Invalid),
    };
    match parsed {
        Ok((m, fixed)) => {
            let canonical = m.format();
            if fixed {
                acc.fix(&plan.name, FixKind::MonthFormat, &shown(raw), &canonical);
            }
            // The canonical text is the raw text when nothing was fixed; reuse is not worth a
            // borrow dance for a 7-byte string.
            Value::Month(canonical)
        }
        Err(_) => {
            acc.reject(
                plan,
                reason::INVALID_MONTH,
                format!(
                    "{}「{}」不是有效年月（应为 YYYY-MM）",
                    plan.label,
                    shown(raw)
                ),
            );
            Value::Null
        }
    }
}

fn boolean(plan: &FieldPlan, raw: &RawValue, acc: &mut Acc) -> Value {
    let parsed = match raw {
        RawValue::Null => return Value::Null,
        RawValue::Bool(b) => Some(*b),
        RawValue::Int(0) => Some(false),
        RawValue::Int(1) => Some(true),
        RawValue::Float(f) if *f == 0.0 => Some(false),
        RawValue::Float(f) if *f == 1.0 => Some(true),
        RawValue::Text(s) => {
            let t = typed_text(s);
            if t.is_empty() {
                return Value::Null;
            }
            parse::boolean_text(&t)
        }
        _ => None,
    };
    match parsed {
        Some(b) => Value::Bool(b),
        None => {
            acc.reject(
                plan,
                reason::INVALID_BOOLEAN,
                format!("{}「{}」不是有效的是/否值", plan.label, shown(raw)),
            );
            Value::Null
        }
    }
}

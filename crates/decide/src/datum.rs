//! Typed values of facts, parameters and form inputs (事实值), independent of the rule engine.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use miaopi_catalog::DataType;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// 年月: a calendar month, as the catalogue's `month` type (缴费月份 `2026-10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct YearMonth {
    /// 年.
    pub year: i32,
    /// 月, 1..=12.
    pub month: u32,
}

impl YearMonth {
    /// `None` unless `month` is 1..=12.
    pub fn new(year: i32, month: u32) -> Option<YearMonth> {
        (1..=12)
            .contains(&month)
            .then_some(YearMonth { year, month })
    }

    /// The month a date falls in.
    pub fn of(date: NaiveDate) -> YearMonth {
        YearMonth {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The first day of the month (how a month reaches the rules: FEEL has no month type).
    pub fn first_day(&self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }

    /// Months since the start of year 0, so that differences count calendar months.
    pub fn index(&self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for YearMonth {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a month like 2026-10");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        YearMonth::new(year, month).ok_or_else(bad)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// 值类型: the type of a [`Datum`], derived from the catalogue field and the aggregation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatumType {
    /// 布尔.
    Bool,
    /// 整数.
    Int,
    /// 小数 (exact, kept as text).
    Decimal,
    /// 字符串 (codes stay codes: `"1"`, not `"正常"`).
    Text,
    /// 日期.
    Date,
    /// 年月.
    Month,
    /// 列表.
    List(Box<DatumType>),
}

impl DatumType {
    /// The type of a catalogue field's values.
    pub fn of_field(t: DataType) -> DatumType {
        match t {
            DataType::String => DatumType::Text,
            DataType::Integer => DatumType::Int,
            DataType::Decimal => DatumType::Decimal,
            DataType::Date => DatumType::Date,
            DataType::Month => DatumType::Month,
            DataType::Boolean => DatumType::Bool,
        }
    }

    /// The DMN `typeRef` an input of this type should declare (`Any` always fits).
    pub fn type_ref(&self) -> &'static str {
        match self {
            DatumType::Bool => "boolean",
            DatumType::Int | DatumType::Decimal => "number",
            DatumType::Text => "string",
            DatumType::Date | DatumType::Month => "date",
            DatumType::List(_) => "Any",
        }
    }

    /// 中文名称, for error messages in Chinese reasons.
    pub fn label_zh(&self) -> String {
        match self {
            DatumType::Bool => "布尔".into(),
            DatumType::Int => "整数".into(),
            DatumType::Decimal => "小数".into(),
            DatumType::Text => "字符串".into(),
            DatumType::Date => "日期".into(),
            DatumType::Month => "年月".into(),
            DatumType::List(t) => format!("{}列表", t.label_zh()),
        }
    }
}

impl fmt::Display for DatumType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatumType::Bool => f.write_str("bool"),
            DatumType::Int => f.write_str("int"),
            DatumType::Decimal => f.write_str("decimal"),
            DatumType::Text => f.write_str("text"),
            DatumType::Date => f.write_str("date"),
            DatumType::Month => f.write_str("month"),
            DatumType::List(t) => write!(f, "list of {t}"),
        }
    }
}

/// 值: one typed value of a fact, a parameter or a form input.
///
/// Serialised with its type (`{"type":"date","value":"1944-03-02"}`) so a receipt read years
/// later gives back exactly the value the rules saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Datum {
    /// 布尔.
    Bool(bool),
    /// 整数.
    Int(i64),
    /// 小数, as its decimal text (`"15000.00"`), so no binary rounding creeps in.
    Decimal(String),
    /// 字符串.
    Text(String),
    /// 日期.
    Date(NaiveDate),
    /// 年月.
    Month(YearMonth),
    /// 列表.
    List(Vec<Datum>),
}

impl Datum {
    /// Whether the value has type `t` (an empty list fits every list type).
    pub fn has_type(&self, t: &DatumType) -> bool {
        match (self, t) {
            (Datum::Bool(_), DatumType::Bool)
            | (Datum::Int(_), DatumType::Int)
            | (Datum::Decimal(_), DatumType::Decimal)
            | (Datum::Text(_), DatumType::Text)
            | (Datum::Date(_), DatumType::Date)
            | (Datum::Month(_), DatumType::Month) => true,
            // An integer is a valid decimal (amounts written without a fraction).
            (Datum::Int(_), DatumType::Decimal) => true,
            (Datum::List(items), DatumType::List(inner)) => items.iter().all(|i| i.has_type(inner)),
            _ => false,
        }
    }

    /// The date inside a date or month value (a month gives its first day).
    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Datum::Date(d) => Some(*d),
            Datum::Month(m) => m.first_day(),
            _ => None,
        }
    }

    /// The text inside a text value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Datum::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Converts a TOML value (from `matter.toml` or `tests.toml`) to a datum of type `t`.
    ///
    /// Dates may be TOML dates or `YYYY-MM-DD` strings; months `YYYY-MM` strings; decimals
    /// integers, floats or decimal strings.
    pub fn from_toml(v: &toml::Value, t: &DatumType) -> Result<Datum, String> {
        let wrong = || format!("expected a {t} value, found {v}");
        match (t, v) {
            (DatumType::Bool, toml::Value::Boolean(b)) => Ok(Datum::Bool(*b)),
            (DatumType::Int, toml::Value::Integer(i)) => Ok(Datum::Int(*i)),
            (DatumType::Decimal, toml::Value::Integer(i)) => Ok(Datum::Decimal(i.to_string())),
            (DatumType::Decimal, toml::Value::Float(f)) => Ok(Datum::Decimal(f.to_string())),
            (DatumType::Decimal, toml::Value::String(s)) => {
                if is_decimal(s) {
                    Ok(Datum::Decimal(s.clone()))
                } else {
                    Err(format!("{s:?} is not a decimal number"))
                }
            }
            (DatumType::Text, toml::Value::String(s)) => Ok(Datum::Text(s.clone())),
            (DatumType::Date, toml::Value::Datetime(dt)) => match (dt.date, dt.time, dt.offset) {
                (Some(d), None, None) => {
                    NaiveDate::from_ymd_opt(i32::from(d.year), d.month.into(), d.day.into())
                        .map(Datum::Date)
                        .ok_or_else(wrong)
                }
                _ => Err(format!("expected a bare date like 2026-10-31, found {dt}")),
            },
            (DatumType::Date, toml::Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Datum::Date)
                .map_err(|_| format!("{s:?} is not a date like 2026-10-31")),
            (DatumType::Month, toml::Value::String(s)) => s.parse().map(Datum::Month),
            (DatumType::List(inner), toml::Value::Array(items)) => items
                .iter()
                .map(|i| Datum::from_toml(i, inner))
                .collect::<Result<Vec<_>, _>>()
                .map(Datum::List),
            _ => Err(wrong()),
        }
    }

    /// Infers a datum from a TOML value without a declared type (parameters): strings stay
    /// strings, TOML dates become dates, arrays become lists.
    pub fn infer_toml(v: &toml::Value) -> Result<Datum, String> {
        match v {
            toml::Value::Boolean(b) => Ok(Datum::Bool(*b)),
            toml::Value::Integer(i) => Ok(Datum::Int(*i)),
            toml::Value::Float(f) => Ok(Datum::Decimal(f.to_string())),
            toml::Value::String(s) => Ok(Datum::Text(s.clone())),
            toml::Value::Datetime(_) => Datum::from_toml(v, &DatumType::Date),
            toml::Value::Array(items) => items
                .iter()
                .map(Datum::infer_toml)
                .collect::<Result<Vec<_>, _>>()
                .map(Datum::List),
            toml::Value::Table(_) => Err("a table is not a value".into()),
        }
    }

    /// 中文显示: how the value appears in reasons and guides (`是`/`否`, dates as ISO).
    pub fn display_zh(&self) -> String {
        match self {
            Datum::Bool(true) => "是".into(),
            Datum::Bool(false) => "否".into(),
            Datum::Int(i) => i.to_string(),
            Datum::Decimal(s) | Datum::Text(s) => s.clone(),
            Datum::Date(d) => d.format("%Y-%m-%d").to_string(),
            Datum::Month(m) => m.to_string(),
            Datum::List(items) if items.is_empty() => "（无）".into(),
            Datum::List(items) => items
                .iter()
                .map(Datum::display_zh)
                .collect::<Vec<_>>()
                .join("、"),
        }
    }
}

/// `-?digits[.digits]`: the decimal text the engine accepts.
pub(crate) fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_count() {
        let m: YearMonth = "2026-10".parse().unwrap();
        assert_eq!(m, YearMonth::new(2026, 10).unwrap());
        assert_eq!(m.to_string(), "2026-10");
        let prev: YearMonth = "2025-12".parse().unwrap();
        assert_eq!(m.index() - prev.index(), 10);
        for bad in ["2026-13", "2026-1", "26-10", "2026/10", "x"] {
            assert!(bad.parse::<YearMonth>().is_err(), "{bad}");
        }
    }

    #[test]
    fn toml_conversion_is_typed() {
        let v: toml::Value = toml::from_str::<toml::Table>("d = 1944-03-02\ns = \"1944-03-02\"")
            .unwrap()
            .into();
        let d = Datum::from_toml(&v["d"], &DatumType::Date).unwrap();
        assert_eq!(d, Datum::from_toml(&v["s"], &DatumType::Date).unwrap());
        assert!(Datum::from_toml(&v["d"], &DatumType::Text).is_err());
        assert!(
            Datum::from_toml(&toml::Value::String("1.5x".into()), &DatumType::Decimal).is_err()
        );
        let list = toml::Value::Array(vec!["01".into(), "02".into()]);
        let l = Datum::from_toml(&list, &DatumType::List(Box::new(DatumType::Text))).unwrap();
        assert_eq!(l.display_zh(), "01、02");
        assert!(l.has_type(&DatumType::List(Box::new(DatumType::Text))));
        assert!(!l.has_type(&DatumType::List(Box::new(DatumType::Int))));
    }

    #[test]
    fn decimals() {
        assert!(is_decimal("15000"));
        assert!(is_decimal("-0.5"));
        assert!(!is_decimal("1."));
        assert!(!is_decimal(".5"));
        assert!(!is_decimal("1e5"));
    }
}

//! 常见写法: value conventions of real units that the canonical parsers ([`super::parse`]) do
//! not read — tried only after those failed, so the hot path stays as it was.
//!
//! * dates with the year last (`25/03/2026`), read when only one reading is a calendar date
//!   or the field declares day-first; the ambiguous rest is reported as such;
//! * dates in Chinese numerals (`二〇二六年一月五日`, `二零二六年十二月三十一日`);
//! * "no end date" (`长期`, `长期有效`, `9999-12-31`) for fields that declare it;
//! * quantities with a unit (`89.5㎡`, `人民币50万元`), converted to the field's unit.

use chrono::NaiveDate;
use miaopi_catalog::MeasureUnit;

use super::parse::{self, DateError, NumberError};

/// How a date in a convention was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateReading {
    /// `DD/MM/YYYY`: day first (the day is above 12, both readings agree, or the field says so).
    DayFirst,
    /// `MM/DD/YYYY`: the second number is above 12, so only month-first is a date.
    MonthFirst,
    /// 中文数字.
    ChineseNumerals,
}

/// Why a date in a convention could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConventionError {
    /// `03/05/2026`: both numbers could be the month.
    Ambiguous {
        first: u32,
        second: u32,
    },
    Date(DateError),
}

/// A date written in one of the conventions above, or `None` when the text is in none of
/// their forms. `s` is trimmed and half-width.
pub fn date(s: &str, day_first: bool) -> Option<Result<(NaiveDate, DateReading), ConventionError>> {
    year_last(s, day_first).or_else(|| {
        chinese_numeral_date(s).map(|r| {
            r.map(|d| (d, DateReading::ChineseNumerals))
                .map_err(ConventionError::Date)
        })
    })
}

fn year_last(
    s: &str,
    day_first: bool,
) -> Option<Result<(NaiveDate, DateReading), ConventionError>> {
    let b = s.as_bytes();
    let (first, n1) = leading_digits(b, 2)?;
    let sep = *b.get(n1)?;
    if !matches!(sep, b'/' | b'-' | b'.') {
        return None;
    }
    let rest = &b[n1 + 1..];
    let (second, n2) = leading_digits(rest, 2)?;
    if rest.get(n2) != Some(&sep) {
        return None;
    }
    let rest = &rest[n2 + 1..];
    let (year, n3) = leading_digits(rest, 4)?;
    if n3 != 4 || !parse::is_time_suffix(&rest[4..]) {
        return None;
    }
    let (day, month, reading) = if day_first || first == second || (first > 12 && second <= 12) {
        (first, second, DateReading::DayFirst)
    } else if second > 12 && first <= 12 {
        (second, first, DateReading::MonthFirst)
    } else if first <= 12 && second <= 12 {
        return Some(Err(ConventionError::Ambiguous { first, second }));
    } else {
        return Some(Err(ConventionError::Date(DateError::Invalid)));
    };
    Some(
        parse::make_date(year, month, day)
            .map(|d| (d, reading))
            .map_err(ConventionError::Date),
    )
}

/// 1..=max ASCII digits at the start of `b`.
fn leading_digits(b: &[u8], max: usize) -> Option<(u32, usize)> {
    let n = b
        .iter()
        .take(max)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if n == 0 || b.get(n).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let value = b[..n]
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    Some((value, n))
}

fn chinese_digit(c: char) -> Option<u32> {
    Some(match c {
        '〇' | '零' | '○' | 'O' | '0' => 0,
        '一' | '1' => 1,
        '二' | '2' => 2,
        '三' | '3' => 3,
        '四' | '4' => 4,
        '五' | '5' => 5,
        '六' | '6' => 6,
        '七' | '7' => 7,
        '八' | '8' => 8,
        '九' | '9' => 9,
        _ => return None,
    })
}

/// 1..=31 in Chinese numerals: 一 … 九, 十, 十一 … 十九, 二十, 二十一 …, 三十一; 元 for the first
/// month.
fn chinese_small_number(s: &str) -> Option<u32> {
    let chars: Vec<char> = s.chars().collect();
    let value = match chars.as_slice() {
        ['元'] => 1,
        ['十'] => 10,
        [d] => chinese_digit(*d).filter(|v| *v > 0)?,
        ['十', d] => 10 + chinese_digit(*d).filter(|v| *v > 0)?,
        [t, '十'] => 10 * chinese_digit(*t).filter(|v| (2..=3).contains(v))?,
        [t, '十', d] => {
            10 * chinese_digit(*t).filter(|v| (2..=3).contains(v))?
                + chinese_digit(*d).filter(|v| *v > 0)?
        }
        _ => return None,
    };
    Some(value)
}

/// `二〇二六年一月五日` (also `二零二六年十二月三十一号`): `None` unless the text has the shape
/// of a Chinese-numeral date with at least one Chinese numeral in it.
fn chinese_numeral_date(s: &str) -> Option<Result<NaiveDate, DateError>> {
    let (year_text, rest) = s.split_once('年')?;
    let (month_text, rest) = rest.split_once('月')?;
    let day_text = rest
        .strip_suffix('日')
        .or_else(|| rest.strip_suffix('号'))
        .unwrap_or(rest);
    if s.is_ascii()
        || !s
            .chars()
            .any(|c| chinese_digit(c).is_some() && !c.is_ascii())
    {
        return None;
    }
    if year_text.chars().count() != 4 {
        return None;
    }
    let year = year_text
        .chars()
        .try_fold(0u32, |acc, c| chinese_digit(c).map(|d| acc * 10 + d))?;
    let number = |t: &str| {
        if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) && t.len() <= 2 {
            t.parse::<u32>().ok()
        } else {
            chinese_small_number(t)
        }
    };
    let (Some(month), Some(day)) = (number(month_text), number(day_text)) else {
        return Some(Err(DateError::Invalid));
    };
    Some(parse::make_date(year, month, day))
}

/// `长期`, `长期有效`, `永久`, `9999-12-31` …: the conventional ways of writing "no end date".
pub fn is_open_end(s: &str) -> bool {
    matches!(
        s,
        "长期" | "长期有效" | "永久" | "永久有效" | "无期限" | "无固定期限" | "长期（无期限）"
    ) || {
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        digits == "99991231" && s.starts_with("9999")
    }
}

/// A 9999-12-31 date (a native cell): the sentinel for "no end".
pub fn is_open_end_date(d: NaiveDate) -> bool {
    d == NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

/// Why a quantity with a unit could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuantityError {
    Number(NumberError),
    /// The unit written is not one of this field's quantity (`㎡` in a money field).
    WrongUnit {
        written: String,
    },
    /// The conversion needs more than six decimal places (`0.1234567万元`).
    Inexact,
}

/// The unit's size in the smallest unit of its quantity (元 for money, ㎡ for area), and the
/// quantity it measures.
fn unit_size(unit: MeasureUnit) -> (i128, Quantity) {
    match unit {
        MeasureUnit::Yuan => (1, Quantity::Money),
        MeasureUnit::TenThousandYuan => (10_000, Quantity::Money),
        MeasureUnit::SquareMetre => (1, Quantity::Area),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quantity {
    Money,
    Area,
}

/// Unit suffixes units write, longest first so that `万元` is not read as `元`.
const SUFFIXES: &[(&str, i128, Quantity)] = &[
    ("平方米", 1, Quantity::Area),
    ("平方", 1, Quantity::Area),
    ("平米", 1, Quantity::Area),
    ("㎡", 1, Quantity::Area),
    ("m²", 1, Quantity::Area),
    ("m2", 1, Quantity::Area),
    ("M2", 1, Quantity::Area),
    ("万元", 10_000, Quantity::Money),
    ("亿元", 100_000_000, Quantity::Money),
    ("千元", 1_000, Quantity::Money),
    ("万", 10_000, Quantity::Money),
    ("亿", 100_000_000, Quantity::Money),
    ("元", 1, Quantity::Money),
];

const MONEY_PREFIXES: &[&str] = &["人民币", "RMB", "CNY", "¥", "￥"];

/// A quantity written with a unit (or a currency prefix) in a field stored in `unit`: the value
/// scaled by 10^6 in the field's unit. `None` when the text carries no unit or prefix (the
/// plain number parser has already refused it).
pub fn quantity(s: &str, unit: MeasureUnit) -> Option<Result<i128, QuantityError>> {
    let (field_size, field_quantity) = unit_size(unit);
    let mut body = s;
    let mut marked = false;
    for prefix in MONEY_PREFIXES {
        if let Some(rest) = body.strip_prefix(prefix) {
            if field_quantity != Quantity::Money {
                return Some(Err(QuantityError::WrongUnit {
                    written: (*prefix).to_owned(),
                }));
            }
            body = rest.trim_start();
            marked = true;
            break;
        }
    }
    let mut written_size = field_size;
    if let Some((suffix, size, quantity)) = SUFFIXES.iter().find(|(x, _, _)| body.ends_with(x)) {
        if *quantity != field_quantity {
            return Some(Err(QuantityError::WrongUnit {
                written: (*suffix).to_owned(),
            }));
        }
        body = body[..body.len() - suffix.len()].trim_end();
        written_size = *size;
        marked = true;
    }
    if !marked {
        return None;
    }
    let n = match parse::decimal_text(body) {
        Ok(n) => n.scaled,
        Err(e) => return Some(Err(QuantityError::Number(e))),
    };
    let Some(in_smallest) = n.checked_mul(written_size) else {
        return Some(Err(QuantityError::Number(NumberError::Overflow)));
    };
    if in_smallest % field_size != 0 {
        return Some(Err(QuantityError::Inexact));
    }
    Some(Ok(in_smallest / field_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn year_last_dates_read_when_only_one_reading_exists() {
        assert_eq!(
            date("25/03/2026", false),
            Some(Ok((d(2026, 3, 25), DateReading::DayFirst)))
        );
        assert_eq!(
            date("25.3.2026", false),
            Some(Ok((d(2026, 3, 25), DateReading::DayFirst)))
        );
        assert_eq!(
            date("03/25/2026", false),
            Some(Ok((d(2026, 3, 25), DateReading::MonthFirst)))
        );
        assert_eq!(
            date("05/05/2026 00:00:00", false),
            Some(Ok((d(2026, 5, 5), DateReading::DayFirst)))
        );
        assert_eq!(
            date("03/05/2026", false),
            Some(Err(ConventionError::Ambiguous {
                first: 3,
                second: 5
            }))
        );
        assert_eq!(
            date("03/05/2026", true),
            Some(Ok((d(2026, 5, 3), DateReading::DayFirst)))
        );
        assert_eq!(
            date("31/02/2026", false),
            Some(Err(ConventionError::Date(DateError::Invalid)))
        );
        assert_eq!(
            date("25/13/2026", false),
            Some(Err(ConventionError::Date(DateError::Invalid)))
        );
        assert_eq!(
            date("2026/03/25", false),
            None,
            "year first is not this parser's"
        );
        assert_eq!(
            date("25/03/26", false),
            None,
            "two-digit years are not guessed"
        );
        assert_eq!(date("125/03/2026", false), None);
    }

    #[test]
    fn chinese_numeral_dates() {
        for (text, want) in [
            ("二〇二六年一月五日", d(2026, 1, 5)),
            ("二零二六年十二月三十一日", d(2026, 12, 31)),
            ("一九八五年十月二十号", d(1985, 10, 20)),
            ("二〇二六年元月十日", d(2026, 1, 10)),
            ("2026年一月五日", d(2026, 1, 5)),
        ] {
            assert_eq!(
                date(text, false),
                Some(Ok((want, DateReading::ChineseNumerals))),
                "{text}"
            );
        }
        assert_eq!(
            date("2026年1月5日", false),
            None,
            "all-digit is the canonical parser's"
        );
        // 2026 is no leap year.
        assert_eq!(
            date("二〇二六年二月二十九", false),
            Some(Err(ConventionError::Date(DateError::Invalid)))
        );
        assert_eq!(
            date("二〇二六年十三月五日", false),
            Some(Err(ConventionError::Date(DateError::Invalid)))
        );
        assert_eq!(
            date("二〇二六年一月四十日", false),
            Some(Err(ConventionError::Date(DateError::Invalid)))
        );
        assert_eq!(date("二〇二年一月五日", false), None);
    }

    #[test]
    fn open_end() {
        for t in [
            "长期",
            "长期有效",
            "永久",
            "9999-12-31",
            "9999/12/31",
            "99991231",
            "9999年12月31日",
        ] {
            assert!(is_open_end(t), "{t}");
        }
        for t in ["2030-12-31", "长期居住", "19999123", ""] {
            assert!(!is_open_end(t), "{t}");
        }
        assert!(is_open_end_date(d(9999, 12, 31)));
        assert!(!is_open_end_date(d(2099, 12, 31)));
    }

    #[test]
    fn quantities_convert_to_the_fields_unit() {
        let m = 1_000_000i128;
        let wan = MeasureUnit::TenThousandYuan;
        assert_eq!(quantity("人民币50万元", wan), Some(Ok(50 * m)));
        assert_eq!(quantity("50万", wan), Some(Ok(50 * m)));
        assert_eq!(quantity("500000元", wan), Some(Ok(50 * m)));
        assert_eq!(quantity("1.5亿元", wan), Some(Ok(15_000 * m)));
        assert_eq!(quantity("¥ 12.5", wan), Some(Ok(12_500_000)));
        assert_eq!(
            quantity("1234.567元", wan),
            Some(Err(QuantityError::Inexact))
        );
        assert_eq!(quantity("50万元", MeasureUnit::Yuan), Some(Ok(500_000 * m)));
        let area = MeasureUnit::SquareMetre;
        assert_eq!(quantity("89.5㎡", area), Some(Ok(89_500_000)));
        assert_eq!(quantity("89.5 平方米", area), Some(Ok(89_500_000)));
        assert_eq!(quantity("89.5m2", area), Some(Ok(89_500_000)));
        assert_eq!(
            quantity("89.5万元", area),
            Some(Err(QuantityError::WrongUnit {
                written: "万元".into()
            }))
        );
        assert_eq!(
            quantity("89.5㎡", wan),
            Some(Err(QuantityError::WrongUnit {
                written: "㎡".into()
            }))
        );
        assert_eq!(quantity("89.5", area), None);
        assert_eq!(
            quantity("约50万元", wan),
            Some(Err(QuantityError::Number(NumberError::Invalid)))
        );
    }
}

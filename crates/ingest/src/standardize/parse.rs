//! 格式解析: dates, months, integers, exact decimals and booleans as the units write them.
//!
//! The parsers take text already trimmed and converted to half width, never allocate, and say
//! whether the text was already in the canonical form (so the caller records a fix only when
//! something was rewritten).

use chrono::{Datelike, NaiveDate};

/// Earliest and latest year a date field may hold. Government records of living people and
/// their registrations fall well inside; outside it is a typing error (`1019`, `2202`), not a
/// fact to store.
pub const MIN_YEAR: i32 = 1900;
/// See [`MIN_YEAR`].
pub const MAX_YEAR: i32 = 2100;

/// Decimal values are stored scaled by 10^6 (six decimal places: money needs two, coordinates
/// six).
pub const DECIMAL_SCALE: u32 = 6;
const SCALE_FACTOR: i128 = 1_000_000;

/// Why a date could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateError {
    /// Not a date in any accepted form, or no such calendar day (`2023-02-30`).
    Invalid,
    /// A real calendar day outside [`MIN_YEAR`]..=[`MAX_YEAR`].
    OutOfRange,
}

/// A parsed date and whether the text was already canonical (`YYYY-MM-DD`, nothing after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDate {
    pub date: NaiveDate,
    pub canonical: bool,
}

/// A run of 1..=max ASCII digits at the start of `b`: its value and length.
fn digits(b: &[u8], max: usize) -> Option<(u32, usize)> {
    let mut value = 0u32;
    let mut n = 0;
    while n < max && n < b.len() && b[n].is_ascii_digit() {
        value = value * 10 + u32::from(b[n] - b'0');
        n += 1;
    }
    (n > 0).then_some((value, n))
}

/// Exactly `n` ASCII digits at the start of `b`.
fn fixed_digits(b: &[u8], n: usize) -> Option<u32> {
    match digits(b, n) {
        Some((v, len)) if len == n => Some(v),
        _ => None,
    }
}

/// Whether `rest` (what follows the date) is empty or a time of day: a space or `T`, then
/// `H[H]:MM[:SS[.fff]]`, optionally followed by `Z` or an offset. Database exports append
/// `00:00:00`; anything else after a date is not a date.
pub(super) fn is_time_suffix(rest: &[u8]) -> bool {
    let Some((&sep, mut t)) = rest.split_first() else {
        return true;
    };
    if sep != b' ' && sep != b'T' {
        return false;
    }
    // H[H]:MM
    let Some((_, n)) = digits(t, 2) else {
        return false;
    };
    t = &t[n..];
    let Some(rest) = t.strip_prefix(b":") else {
        return false;
    };
    if fixed_digits(rest, 2).is_none() {
        return false;
    }
    t = &rest[2..];
    // [:SS[.fff]]
    if let Some(rest) = t.strip_prefix(b":") {
        if fixed_digits(rest, 2).is_none() {
            return false;
        }
        t = &rest[2..];
        if let Some(rest) = t.strip_prefix(b".") {
            let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                return false;
            }
            t = &rest[n..];
        }
    }
    match t {
        [] | [b'Z'] => true,
        [b'+' | b'-', offset @ ..] => {
            matches!(offset.len(), 2 | 4 | 5)
                && offset.iter().all(|b| b.is_ascii_digit() || *b == b':')
        }
        _ => false,
    }
}

/// Splits `YYYY?M?D` with the separator `sep` (one of `-`, `/`, `.`): (year, month, day, rest,
/// whether month and day had two digits).
fn separated(b: &[u8], sep: &[u8], end: &[u8]) -> Option<(u32, u32, u32, usize, bool)> {
    let year = fixed_digits(b, 4)?;
    let mut i = 4;
    i += strip(&b[i..], sep)?;
    let (month, mlen) = digits(&b[i..], 2)?;
    i += mlen;
    let msep = if sep == "年".as_bytes() {
        "月".as_bytes()
    } else {
        sep
    };
    i += strip(&b[i..], msep)?;
    let (day, dlen) = digits(&b[i..], 2)?;
    i += dlen;
    if !end.is_empty() {
        // `日` (or the colloquial `号`) closes a Chinese date; tolerate its absence.
        if let Some(n) = strip(&b[i..], end) {
            i += n;
        } else if let Some(n) = strip(&b[i..], "号".as_bytes()) {
            i += n;
        }
    }
    Some((year, month, day, i, mlen == 2 && dlen == 2))
}

fn strip(b: &[u8], prefix: &[u8]) -> Option<usize> {
    b.starts_with(prefix).then_some(prefix.len())
}

pub(super) fn make_date(year: u32, month: u32, day: u32) -> Result<NaiveDate, DateError> {
    let year = i32::try_from(year).map_err(|_| DateError::Invalid)?;
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or(DateError::Invalid)?;
    in_range(date)
}

fn in_range(date: NaiveDate) -> Result<NaiveDate, DateError> {
    if (MIN_YEAR..=MAX_YEAR).contains(&date.year()) {
        Ok(date)
    } else {
        Err(DateError::OutOfRange)
    }
}

/// Reads a date written as `2020-01-02`, `2020/1/2`, `2020.1.2`, `20200102` or `2020年1月2日`,
/// each optionally followed by a time (`2020-01-02 08:30:00`, `2020-01-02T08:30:00`), which is
/// dropped.
pub fn date_text(s: &str) -> Result<ParsedDate, DateError> {
    let b = s.as_bytes();
    // 20200102: eight digits, then nothing or a time.
    if b.len() >= 8 && b[..8].iter().all(u8::is_ascii_digit) {
        if !is_time_suffix(&b[8..]) {
            return Err(DateError::Invalid);
        }
        let (year, month, day) = (
            fixed_digits(b, 4).ok_or(DateError::Invalid)?,
            fixed_digits(&b[4..], 2).ok_or(DateError::Invalid)?,
            fixed_digits(&b[6..], 2).ok_or(DateError::Invalid)?,
        );
        let date = make_date(year, month, day)?;
        return Ok(ParsedDate {
            date,
            canonical: false,
        });
    }
    let sep: &[u8] = match b.get(4) {
        Some(b'-') => b"-",
        Some(b'/') => b"/",
        Some(b'.') => b".",
        _ if b.get(4..7) == Some("年".as_bytes()) => "年".as_bytes(),
        _ => return Err(DateError::Invalid),
    };
    let end: &[u8] = if sep == "年".as_bytes() {
        "日".as_bytes()
    } else {
        b""
    };
    let (year, month, day, used, two_digit) = separated(b, sep, end).ok_or(DateError::Invalid)?;
    let rest = &b[used..];
    if !is_time_suffix(rest) {
        return Err(DateError::Invalid);
    }
    let date = make_date(year, month, day)?;
    Ok(ParsedDate {
        date,
        canonical: sep == b"-" && two_digit && rest.is_empty(),
    })
}

/// Excel's day 0 is 1899-12-30 (this epoch absorbs Excel's fictitious 1900-02-29, so serials
/// from 61, i.e. 1900-03-01, on are exact; the only earlier dates in range are January and
/// February 1900).
fn excel_epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or(NaiveDate::MIN)
}

/// Largest Excel serial: 9999-12-31.
pub const EXCEL_MAX_SERIAL: i64 = 2_958_465;

/// A date from a number in a spreadsheet cell: an Excel serial day (1..=2958465; a fraction is
/// the time of day and is dropped), or a `YYYYMMDD` number typed into a numeric cell.
/// Returns the date and whether it was a serial.
pub fn date_number(n: f64) -> Result<(NaiveDate, bool), DateError> {
    if !n.is_finite() {
        return Err(DateError::Invalid);
    }
    let whole = n.floor();
    if (1.0..=EXCEL_MAX_SERIAL as f64).contains(&whole) {
        let days = whole as u64;
        let date = excel_epoch()
            .checked_add_days(chrono::Days::new(days))
            .ok_or(DateError::Invalid)?;
        return in_range(date).map(|d| (d, true));
    }
    if n == whole && (10_000_101.0..=99_991_231.0).contains(&n) {
        let v = n as u32;
        return make_date(v / 10_000, v / 100 % 100, v % 100).map(|d| (d, false));
    }
    Err(DateError::Invalid)
}

/// Writes `YYYY-MM` into `buf[..7]` (years are within 0..=9999 here: callers check the
/// range first, and other years are written modulo 10000 rather than panicking).
fn put_ym(buf: &mut [u8; 10], year: i32, month: u32) {
    let y = year.rem_euclid(10_000).unsigned_abs();
    let digit = |v: u32| b'0' + (v % 10) as u8;
    buf[0] = digit(y / 1000);
    buf[1] = digit(y / 100);
    buf[2] = digit(y / 10);
    buf[3] = digit(y);
    buf[4] = b'-';
    buf[5] = digit(month / 10);
    buf[6] = digit(month);
}

fn ascii_string(bytes: &[u8]) -> String {
    String::from(std::str::from_utf8(bytes).unwrap_or_default())
}

/// `YYYY-MM-DD` without going through chrono's format machinery (this runs for every
/// date written in a unit's house style).
pub fn iso_date(d: NaiveDate) -> String {
    if !(0..=9999).contains(&d.year()) {
        return d.format("%Y-%m-%d").to_string();
    }
    let mut buf = [0u8; 10];
    put_ym(&mut buf, d.year(), d.month());
    let day = d.day();
    buf[7] = b'-';
    buf[8] = b'0' + (day / 10 % 10) as u8;
    buf[9] = b'0' + (day % 10) as u8;
    ascii_string(&buf)
}

/// Why a month could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthError {
    /// Not a month in any accepted form, or outside the years [`MIN_YEAR`]..=[`MAX_YEAR`].
    Invalid,
}

/// A parsed month (`year`, `month` 1..=12) and whether the text was canonical `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedMonth {
    pub year: i32,
    pub month: u32,
    pub canonical: bool,
}

impl ParsedMonth {
    /// `YYYY-MM`.
    pub fn format(&self) -> String {
        let mut buf = [0u8; 10];
        put_ym(&mut buf, self.year, self.month);
        ascii_string(&buf[..7])
    }
}

fn make_month(year: u32, month: u32, canonical: bool) -> Result<ParsedMonth, MonthError> {
    let year = i32::try_from(year).map_err(|_| MonthError::Invalid)?;
    if !(1..=12).contains(&month) || !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err(MonthError::Invalid);
    }
    Ok(ParsedMonth {
        year,
        month,
        canonical,
    })
}

/// The month of a date (a native date cell in a month field).
pub fn month_of(d: NaiveDate) -> Result<ParsedMonth, MonthError> {
    u32::try_from(d.year())
        .map_err(|_| MonthError::Invalid)
        .and_then(|y| make_month(y, d.month(), false))
}

/// Reads a month written as `2024-05`, `2024/5`, `2024.5`, `202405` or `2024年5月`, or as a full
/// date (`2024-05-01`, `2024年5月1日` …: the month of that date).
pub fn month_text(s: &str) -> Result<ParsedMonth, MonthError> {
    let b = s.as_bytes();
    if b.len() == 6 && b.iter().all(u8::is_ascii_digit) {
        let year = fixed_digits(b, 4).ok_or(MonthError::Invalid)?;
        let month = fixed_digits(&b[4..], 2).ok_or(MonthError::Invalid)?;
        return make_month(year, month, false);
    }
    let sep: &[u8] = match b.get(4) {
        Some(b'-') => b"-",
        Some(b'/') => b"/",
        Some(b'.') => b".",
        _ if b.get(4..7) == Some("年".as_bytes()) => "年".as_bytes(),
        _ => b"",
    };
    if !sep.is_empty() {
        let year = fixed_digits(b, 4).ok_or(MonthError::Invalid)?;
        let rest = &b[4 + sep.len()..];
        if let Some((month, n)) = digits(rest, 2) {
            let tail = &rest[n..];
            let closed = if sep == "年".as_bytes() {
                tail.is_empty() || tail == "月".as_bytes()
            } else {
                tail.is_empty()
            };
            if closed {
                return make_month(year, month, sep == b"-" && n == 2);
            }
        }
    }
    // A full date names its month.
    match date_text(s) {
        Ok(d) => make_month(d.date.year() as u32, d.date.month(), false),
        Err(_) => Err(MonthError::Invalid),
    }
}

/// Why a number could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// Not a number, a fraction where an integer is needed, or more than six decimal places
    /// that are not zeros.
    Invalid,
    /// Too large for the stored type.
    Overflow,
}

/// A number read from text, scaled by 10^6, and whether the text needed rewriting (thousands
/// separators, a leading `+`, a bare `.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedNumber {
    pub scaled: i128,
    pub canonical: bool,
}

/// Reads `1234.50`, `-0.5`, `1,234.50`, `+12`: an optional sign, digits with optional
/// thousands separators, an optional fraction. Exact: the digits are accumulated as integers,
/// never through `f64`. Fraction digits beyond six must be zeros.
pub fn decimal_text(s: &str) -> Result<ParsedNumber, NumberError> {
    let b = s.as_bytes();
    let (negative, mut i, mut canonical) = match b.first() {
        Some(b'-') => (true, 1, true),
        Some(b'+') => (false, 1, false),
        _ => (false, 0, true),
    };
    let mut int_part: i128 = 0;
    let mut int_digits = 0usize;
    let mut group = 0usize;
    let mut saw_comma = false;
    while i < b.len() {
        match b[i] {
            c @ b'0'..=b'9' => {
                int_part = int_part
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(i128::from(c - b'0')))
                    .ok_or(NumberError::Overflow)?;
                int_digits += 1;
                group += 1;
            }
            b',' => {
                // A separator needs digits before it and exactly three after it (checked at the
                // next separator or the end of the integer part).
                if int_digits == 0 || (saw_comma && group != 3) {
                    return Err(NumberError::Invalid);
                }
                saw_comma = true;
                group = 0;
                canonical = false;
            }
            _ => break,
        }
        i += 1;
    }
    if saw_comma && group != 3 {
        return Err(NumberError::Invalid);
    }
    let mut frac: i128 = 0;
    let mut frac_digits = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            let d = i128::from(b[i] - b'0');
            if frac_digits < DECIMAL_SCALE {
                frac = frac * 10 + d;
                frac_digits += 1;
            } else if d != 0 {
                // Rounding would silently change an amount; a seventh significant decimal is
                // a malformed value for every field we hold.
                return Err(NumberError::Invalid);
            }
            i += 1;
        }
        if i == start {
            // `12.` is a typing slip for `12`.
            canonical = false;
        }
        if int_digits == 0 {
            canonical = false;
        }
    }
    if i != b.len() || (int_digits == 0 && frac_digits == 0) {
        return Err(NumberError::Invalid);
    }
    let frac_scaled = frac * 10i128.pow(DECIMAL_SCALE - frac_digits);
    let magnitude = int_part
        .checked_mul(SCALE_FACTOR)
        .and_then(|v| v.checked_add(frac_scaled))
        .ok_or(NumberError::Overflow)?;
    Ok(ParsedNumber {
        scaled: if negative { -magnitude } else { magnitude },
        canonical,
    })
}

/// Reads an integer: [`decimal_text`] without a non-zero fraction (`12.0` is 12, with a
/// format fix).
pub fn integer_text(s: &str) -> Result<(i64, bool), NumberError> {
    let n = decimal_text(s)?;
    if n.scaled % SCALE_FACTOR != 0 {
        return Err(NumberError::Invalid);
    }
    let value = i64::try_from(n.scaled / SCALE_FACTOR).map_err(|_| NumberError::Overflow)?;
    let canonical = n.canonical && !s.contains('.');
    Ok((value, canonical))
}

/// An exact decimal `value / 10^scale` rescaled to 10^6.
pub fn rescale(value: i128, scale: i8) -> Result<i128, NumberError> {
    let shift = i32::try_from(DECIMAL_SCALE).unwrap_or(6) - i32::from(scale);
    if shift >= 0 {
        let factor = 10i128
            .checked_pow(shift.unsigned_abs())
            .ok_or(NumberError::Overflow)?;
        value.checked_mul(factor).ok_or(NumberError::Overflow)
    } else {
        let factor = 10i128
            .checked_pow(shift.unsigned_abs())
            .ok_or(NumberError::Invalid)?;
        if value % factor != 0 {
            return Err(NumberError::Invalid);
        }
        Ok(value / factor)
    }
}

/// A float (an XLSX number cell, a JSON number) as a decimal scaled by 10^6: what the clerk
/// typed, `0.1` being 100000 and not the binary expansion of 0.1.
///
/// Below 10^9 (every amount, area and coordinate) the scaled value is under 2^53, so
/// multiplying and rounding to the nearest millionth is exact for any float that came from a
/// decimal with at most six places, and cleans computed noise such as `0.1 + 0.2`. Larger values
/// go through the float's shortest decimal text, which keeps big integers exact.
pub fn decimal_float(f: f64) -> Result<i128, NumberError> {
    use std::fmt::Write;
    if !f.is_finite() {
        return Err(NumberError::Invalid);
    }
    if f.abs() < 1e9 {
        return Ok((f * 1e6).round() as i128);
    }
    let mut buf = StackStr::default();
    // Rust prints floats without an exponent; a value too long for the buffer (beyond 1e40)
    // overflows the scaled i128 anyway.
    if write!(buf, "{f}").is_err() {
        return Err(NumberError::Overflow);
    }
    match decimal_text(buf.as_str()) {
        Ok(n) => Ok(n.scaled),
        // More than six decimals on a value this large: keep the nearest millionth.
        Err(NumberError::Invalid) if (f * 1e6).abs() < 1e37 => Ok((f * 1e6).round() as i128),
        Err(e) => Err(e),
    }
}

/// A small stack buffer for formatting a float without allocating.
struct StackStr {
    buf: [u8; 64],
    len: usize,
}

impl Default for StackStr {
    fn default() -> Self {
        StackStr {
            buf: [0; 64],
            len: 0,
        }
    }
}

impl StackStr {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackStr {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Reads a yes/no value: `是`/`否`, `true`/`false`, `1`/`0`, `Y`/`N`, `yes`/`no`, `T`/`F`
/// (Latin letters in either case), `真`/`假`.
pub fn boolean_text(s: &str) -> Option<bool> {
    match s {
        "是" | "真" | "1" => return Some(true),
        "否" | "假" | "0" => return Some(false),
        _ => {}
    }
    if s.len() > 5 || !s.is_ascii() {
        return None;
    }
    let mut lower = [0u8; 5];
    let lower = &mut lower[..s.len()];
    lower.copy_from_slice(s.as_bytes());
    lower.make_ascii_lowercase();
    match &*lower {
        b"true" | b"t" | b"y" | b"yes" => Some(true),
        b"false" | b"f" | b"n" | b"no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dates_in_every_house_style() {
        let want = d(2020, 1, 2);
        for (text, canonical) in [
            ("2020-01-02", true),
            ("2020/1/2", false),
            ("2020/01/02", false),
            ("2020.1.2", false),
            ("20200102", false),
            ("2020年1月2日", false),
            ("2020年01月02日", false),
            ("2020年1月2号", false),
            ("2020年1月2", false),
            ("2020-1-2", false),
            ("2020-01-02 08:30:00", false),
            ("2020-01-02T08:30:00", false),
            ("2020-01-02 08:30", false),
            ("2020-01-02T08:30:00.123Z", false),
            ("2020-01-02T08:30:00+08:00", false),
            ("2020/1/2 0:00:00", false),
            ("20200102 083000", false),
        ] {
            match date_text(text) {
                Ok(p) if text == "20200102 083000" => panic!("{text} parsed as {p:?}"),
                Ok(p) => {
                    assert_eq!(p.date, want, "{text}");
                    assert_eq!(p.canonical, canonical, "{text}");
                }
                Err(_) if text == "20200102 083000" => {}
                Err(e) => panic!("{text}: {e:?}"),
            }
        }
    }

    #[test]
    fn impossible_dates_are_invalid() {
        for text in [
            "2023-02-30",
            "2021-13-01",
            "0000-00-00",
            "2019-04-31",
            "2019-02-29",
            "20230230",
            "2023年2月30日",
            "",
            "2020",
            "2020-01",
            "2020-01-02x",
            "2020-01/02",
            "2020-001-02",
            "20-01-02",
            "2020-01-02 noon",
            "明天",
            "2020-01-02 25",
        ] {
            assert_eq!(date_text(text), Err(DateError::Invalid), "{text:?}");
        }
        assert!(date_text("2020-02-29").is_ok());
    }

    #[test]
    fn dates_outside_the_years_are_out_of_range() {
        for text in [
            "1899-12-31",
            "2101-01-01",
            "18000101",
            "0001-01-01",
            "9999/12/31",
        ] {
            assert_eq!(date_text(text), Err(DateError::OutOfRange), "{text}");
        }
        assert!(date_text("1900-01-01").is_ok());
        assert!(date_text("2100-12-31").is_ok());
    }

    #[test]
    fn iso_formatting() {
        assert_eq!(iso_date(d(2020, 1, 2)), "2020-01-02");
        assert_eq!(iso_date(d(1900, 12, 31)), "1900-12-31");
        assert_eq!(
            iso_date(d(10_000, 1, 1)),
            d(10_000, 1, 1).format("%Y-%m-%d").to_string()
        );
        let m = ParsedMonth {
            year: 2024,
            month: 5,
            canonical: true,
        };
        assert_eq!(m.format(), "2024-05");
    }

    #[test]
    fn excel_serials() {
        assert_eq!(date_number(43831.0), Ok((d(2020, 1, 1), true)));
        assert_eq!(date_number(43831.75), Ok((d(2020, 1, 1), true)));
        assert_eq!(date_number(61.0), Ok((d(1900, 3, 1), true)));
        assert_eq!(date_number(20200102.0), Ok((d(2020, 1, 2), false)));
        // Serial 1 is 1899-12-31: a real day, but before 1900.
        assert_eq!(date_number(1.0), Err(DateError::OutOfRange));
        assert_eq!(date_number(2_958_465.0), Err(DateError::OutOfRange));
        assert_eq!(date_number(0.0), Err(DateError::Invalid));
        assert_eq!(date_number(-5.0), Err(DateError::Invalid));
        assert_eq!(date_number(f64::NAN), Err(DateError::Invalid));
        assert_eq!(date_number(20230230.0), Err(DateError::Invalid));
    }

    #[test]
    fn months() {
        for (text, canonical) in [
            ("2024-05", true),
            ("2024/5", false),
            ("2024.5", false),
            ("202405", false),
            ("2024年5月", false),
            ("2024年05月", false),
            ("2024年5", false),
            ("2024-5", false),
            ("2024-05-01", false),
            ("2024/5/31", false),
            ("2024年5月1日", false),
            ("20240501", false),
        ] {
            let m = month_text(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(
                (m.year, m.month, m.canonical),
                (2024, 5, canonical),
                "{text}"
            );
            assert_eq!(m.format(), "2024-05");
        }
        for text in [
            "2024-13",
            "2024-00",
            "202413",
            "2024",
            "24-05",
            "2024-05-32",
            "1800-01",
            "2024-05x",
            "五月",
            "",
        ] {
            assert_eq!(month_text(text), Err(MonthError::Invalid), "{text:?}");
        }
    }

    #[test]
    fn decimals_are_exact() {
        let n = |s: &str| decimal_text(s).map(|p| (p.scaled, p.canonical));
        assert_eq!(n("1234.50"), Ok((1_234_500_000, true)));
        assert_eq!(n("1,234.50"), Ok((1_234_500_000, false)));
        assert_eq!(n("1,234,567"), Ok((1_234_567_000_000, false)));
        assert_eq!(n("-0.5"), Ok((-500_000, true)));
        assert_eq!(n("+12"), Ok((12_000_000, false)));
        assert_eq!(n(".5"), Ok((500_000, false)));
        assert_eq!(n("12."), Ok((12_000_000, false)));
        assert_eq!(n("114.012345"), Ok((114_012_345, true)));
        assert_eq!(n("0.1234560"), Ok((123_456, true)));
        assert_eq!(n("0.00000001"), Err(NumberError::Invalid));
        // 0.1 + 0.2 in floating point is not 0.3; here it is exact.
        assert_eq!(n("0.3"), Ok((300_000, true)));
        for bad in [
            "", "-", ".", "1,23", "12,34.5", ",123", "1.2.3", "1e5", "12元", "一百", "1 000",
        ] {
            assert!(decimal_text(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            decimal_text("99999999999999999999999999999999999999"),
            Err(NumberError::Overflow)
        );
    }

    #[test]
    fn integers() {
        assert_eq!(integer_text("42"), Ok((42, true)));
        assert_eq!(integer_text("-7"), Ok((-7, true)));
        assert_eq!(integer_text("1,024"), Ok((1024, false)));
        assert_eq!(integer_text("12.0"), Ok((12, false)));
        assert_eq!(integer_text("12.5"), Err(NumberError::Invalid));
        assert_eq!(integer_text("abc"), Err(NumberError::Invalid));
        assert_eq!(
            integer_text("99999999999999999999"),
            Err(NumberError::Overflow)
        );
    }

    #[test]
    fn rescaling_and_floats() {
        assert_eq!(rescale(123_450, 2), Ok(1_234_500_000));
        assert_eq!(rescale(5, -2), Ok(500_000_000));
        assert_eq!(rescale(1_234_567_000, 9), Ok(1_234_567));
        assert_eq!(rescale(1_234_567_891, 9), Err(NumberError::Invalid));
        assert_eq!(rescale(i128::MAX, 0), Err(NumberError::Overflow));
        assert_eq!(decimal_float(0.1), Ok(100_000));
        assert_eq!(decimal_float(1234.5), Ok(1_234_500_000));
        assert_eq!(decimal_float(-3.0), Ok(-3_000_000));
        assert_eq!(decimal_float(0.1 + 0.2), Ok(300_000));
        assert_eq!(decimal_float(1e15), Ok(1_000_000_000_000_000_000_000));
        assert_eq!(decimal_float(1234567890.1234567), Ok(1_234_567_890_123_457));
        assert_eq!(decimal_float(f64::INFINITY), Err(NumberError::Invalid));
        assert_eq!(decimal_float(1e300), Err(NumberError::Overflow));
    }

    #[test]
    fn booleans() {
        for t in [
            "是", "true", "TRUE", "True", "1", "Y", "y", "yes", "T", "真",
        ] {
            assert_eq!(boolean_text(t), Some(true), "{t}");
        }
        for f in ["否", "false", "FALSE", "0", "N", "n", "no", "F", "假"] {
            assert_eq!(boolean_text(f), Some(false), "{f}");
        }
        for bad in ["", "2", "yes!", "maybe", "是的", "truee"] {
            assert_eq!(boolean_text(bad), None, "{bad:?}");
        }
    }
}

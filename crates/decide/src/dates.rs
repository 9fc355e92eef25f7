//! Dates and times of decisions: the Asia/Shanghai clock, ages, and month-end arithmetic.
//!
//! * **Time zone.** Decisions are dated in Asia/Shanghai. China has kept UTC+8 without daylight
//!   saving since 1991, and every date the platform decides on is later, so a fixed +08:00
//!   offset *is* Asia/Shanghai here and spares a time-zone database.
//! * **年龄 / 满 N 年** — [`years_between`]: completed years by birthday, exactly
//!   `miaopi_model::age_on` (the birthday itself counts; someone born on 29 February has the
//!   birthday on **28 February** in non-leap years). The same rule counts "驾驶证满 3 年".
//! * **满 N 个月** — [`months_between`]: N months after a date is the same day number N months
//!   later, clamped to the end of a shorter month (31 January + 1 month = 28/29 February), and
//!   a period is complete on that day. Two month values (`2026-10`) differ by calendar months.
//! * **期限** (容缺 deadlines, verification tasks) — [`add_days`]: calendar days after the
//!   application date, the deadline day included.

use chrono::{DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, Offset, Utc};

use crate::datum::YearMonth;

const SHANGHAI_OFFSET_SECONDS: i32 = 8 * 3600;

/// The Asia/Shanghai offset (UTC+8, no daylight saving since 1991).
pub fn shanghai() -> FixedOffset {
    // 8 h is within ±24 h, so the constructor cannot fail; UTC is only a formal fallback.
    FixedOffset::east_opt(SHANGHAI_OFFSET_SECONDS).unwrap_or_else(|| Utc.fix())
}

/// An instant in Asia/Shanghai.
pub fn in_shanghai(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&shanghai())
}

/// The current time in Asia/Shanghai (the only place the engine reads the clock).
pub fn now_shanghai() -> DateTime<FixedOffset> {
    in_shanghai(Utc::now())
}

/// The calendar date in Asia/Shanghai of an instant (an application at 23:30 UTC is dated the
/// next day in Shenzhen).
pub fn date_in_shanghai(t: DateTime<Utc>) -> NaiveDate {
    in_shanghai(t).date_naive()
}

/// 周岁 / 满 N 年 from `from` to `on`: `miaopi_model::age_on`.
pub fn years_between(from: NaiveDate, on: NaiveDate) -> u32 {
    miaopi_model::age_on(from, on)
}

/// `date` + `n` months, clamped to the end of the target month; `None` beyond chrono's range.
pub fn add_months(date: NaiveDate, n: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(n))
}

/// 满 N 个月: completed months from `from` to `on` under the month-end rule; 0 if `on` is
/// before `from`.
pub fn months_between(from: NaiveDate, on: NaiveDate) -> u32 {
    if on < from {
        return 0;
    }
    let rough = (on.year() - from.year()) * 12 + on.month() as i32 - from.month() as i32;
    let mut n = u32::try_from(rough.max(0)).unwrap_or(0);
    // The rough count overshoots by one when the day of the month has not come round yet.
    while n > 0 && add_months(from, n).is_none_or(|d| d > on) {
        n -= 1;
    }
    n
}

/// Calendar months from the month `from` to the month of `on` (`2026-09` → 2026-10-31 is 1).
pub fn months_between_months(from: YearMonth, on: NaiveDate) -> i64 {
    YearMonth::of(on).index() - from.index()
}

/// Days from `from` to `on` (negative if `on` is earlier).
pub fn days_between(from: NaiveDate, on: NaiveDate) -> i64 {
    (on - from).num_days()
}

/// `date` + `n` calendar days; `None` beyond chrono's range.
pub fn add_days(date: NaiveDate, n: u32) -> Option<NaiveDate> {
    date.checked_add_days(Days::new(u64::from(n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn shanghai_is_utc_plus_8() {
        let t = Utc
            .with_ymd_and_hms(2026, 10, 30, 16, 30, 0)
            .single()
            .unwrap();
        assert_eq!(date_in_shanghai(t), d(2026, 10, 31));
        assert_eq!(in_shanghai(t).to_rfc3339(), "2026-10-31T00:30:00+08:00");
        let t = Utc
            .with_ymd_and_hms(2026, 10, 30, 15, 59, 59)
            .single()
            .unwrap();
        assert_eq!(date_in_shanghai(t), d(2026, 10, 30));
    }

    #[test]
    fn age_counts_the_birthday_itself() {
        assert_eq!(years_between(d(1946, 10, 31), d(2026, 10, 31)), 80);
        assert_eq!(years_between(d(1946, 11, 1), d(2026, 10, 31)), 79);
    }

    #[test]
    fn leap_day_birthday_is_28_february_in_common_years() {
        // The model's rule (crates/model age_on): 29 Feb births turn a year older on 28 Feb.
        assert_eq!(
            years_between(d(1944, 2, 29), d(2024, 2, 28)),
            79,
            "leap year: 29th"
        );
        assert_eq!(years_between(d(1944, 2, 29), d(2024, 2, 29)), 80);
        assert_eq!(years_between(d(1944, 2, 29), d(2025, 2, 27)), 80);
        assert_eq!(years_between(d(1946, 2, 28), d(2026, 2, 28)), 80);
        assert_eq!(years_between(d(1944, 2, 29), d(2026, 2, 28)), 82);
        assert_eq!(years_between(d(1944, 2, 29), d(2026, 2, 27)), 81);
    }

    #[test]
    fn month_end_rule() {
        assert_eq!(add_months(d(2026, 1, 31), 1), Some(d(2026, 2, 28)));
        assert_eq!(add_months(d(2024, 1, 31), 1), Some(d(2024, 2, 29)));
        assert_eq!(add_months(d(2026, 3, 31), 1), Some(d(2026, 4, 30)));
        assert_eq!(months_between(d(2026, 1, 31), d(2026, 2, 27)), 0);
        assert_eq!(months_between(d(2026, 1, 31), d(2026, 2, 28)), 1);
        assert_eq!(months_between(d(2026, 1, 31), d(2026, 3, 30)), 1);
        assert_eq!(months_between(d(2026, 1, 31), d(2026, 3, 31)), 2);
        assert_eq!(months_between(d(2026, 1, 15), d(2026, 1, 14)), 0);
        assert_eq!(months_between(d(2023, 10, 31), d(2026, 10, 31)), 36);
        let m = YearMonth::new(2026, 9).unwrap();
        assert_eq!(months_between_months(m, d(2026, 10, 31)), 1);
        assert_eq!(months_between_months(m, d(2026, 9, 1)), 0);
    }

    #[test]
    fn day_counts() {
        assert_eq!(days_between(d(2026, 8, 2), d(2026, 10, 31)), 90);
        assert_eq!(add_days(d(2026, 10, 31), 5), Some(d(2026, 11, 5)));
        assert_eq!(days_between(d(2026, 11, 1), d(2026, 10, 31)), -1);
    }
}

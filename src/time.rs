//! Time arithmetic that cannot panic: durations come from configuration and from Microsoft's
//! answers, and `DateTime + TimeDelta` panics on overflow. Everything here saturates.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// `d` as a chrono delta, at most `TimeDelta::MAX`.
pub fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// `t + d`, at most the latest instant chrono represents.
pub fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(delta(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t - d`, at least the earliest instant chrono represents.
pub fn before(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_sub_signed(delta(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `d` from now.
pub fn from_now(d: Duration) -> DateTime<Utc> {
    after(Utc::now(), d)
}

/// An event's wall-clock times in `zone`, and the local day it starts on. All-day events are
/// floating dates: their own dates, at midnight, in whatever zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTimes {
    pub start: chrono::NaiveDateTime,
    pub end: chrono::NaiveDateTime,
    pub date: chrono::NaiveDate,
}

pub fn local_times(
    start_utc: DateTime<Utc>,
    end_utc: DateTime<Utc>,
    all_day_dates: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    zone: chrono_tz::Tz,
) -> LocalTimes {
    if let Some((first, after_last)) = all_day_dates {
        return LocalTimes {
            start: first.and_time(chrono::NaiveTime::MIN),
            end: after_last.and_time(chrono::NaiveTime::MIN),
            date: first,
        };
    }
    let start = start_utc.with_timezone(&zone).naive_local();
    LocalTimes {
        start,
        end: end_utc.with_timezone(&zone).naive_local(),
        date: start.date(),
    }
}

/// Graph's `dateTime` (no offset, up to seven fractional digits), read as UTC.
pub fn parse_graph_time(raw: &str) -> Option<chrono::NaiveDateTime> {
    let trimmed = raw.trim_end_matches('Z');
    let (main, fraction) = trimmed.split_once('.').unwrap_or((trimmed, ""));
    let base = chrono::NaiveDateTime::parse_from_str(main, "%Y-%m-%dT%H:%M:%S").ok()?;
    let digits: String = fraction.chars().take(9).collect();
    let nanos = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse::<i64>().ok()?
    };
    Some(base + chrono::Duration::nanoseconds(nanos))
}

/// When the local day `date` begins in `zone`. Where midnight does not exist (a zone that
/// moves its clocks at midnight), the first instant after the gap.
pub fn start_of_day(date: chrono::NaiveDate, zone: chrono_tz::Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    (0..=2)
        .find_map(|hour| {
            let t = date.and_hms_opt(hour, 0, 0)?;
            zone.from_local_datetime(&t).earliest()
        })
        .map_or_else(
            || date.and_time(chrono::NaiveTime::MIN).and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_saturate_instead_of_panicking() {
        let now = Utc::now();
        assert_eq!(after(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(before(now, Duration::MAX), DateTime::<Utc>::MIN_UTC);
        assert_eq!(delta(Duration::MAX), TimeDelta::MAX);
        assert_eq!(
            after(now, Duration::from_secs(90)),
            now + TimeDelta::seconds(90)
        );
        assert_eq!(
            before(now, Duration::from_secs(90)),
            now - TimeDelta::seconds(90)
        );
        // Even from the latest instant.
        assert_eq!(
            after(DateTime::<Utc>::MAX_UTC, Duration::from_secs(1)),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn days_begin_at_local_midnight_or_after_the_gap() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
        assert_eq!(
            start_of_day(d, chrono_tz::Europe::Berlin).to_rfc3339(),
            "2026-12-02T23:00:00+00:00"
        );
        // Santiago moved its clocks from 00:00 to 01:00 on 2022-09-11.
        let gap = chrono::NaiveDate::from_ymd_opt(2022, 9, 11).expect("date");
        assert_eq!(
            start_of_day(gap, chrono_tz::America::Santiago).to_rfc3339(),
            "2022-09-11T04:00:00+00:00"
        );
    }
}

//! Time zones as Exchange names them (Windows zone ids such as "W. Europe Standard Time"), mapped
//! to the IANA database for conversions. IANA names are accepted as well, as Graph does.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Windows zone id → IANA zone (the CLDR "001" territory mapping) for the zones the simulator uses
/// and the ones clients commonly ask for.
const WINDOWS: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("Romance Standard Time", "Europe/Paris"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("India Standard Time", "Asia/Kolkata"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
];

/// Resolves a Windows or IANA zone name.
pub fn resolve(name: &str) -> Option<Tz> {
    let trimmed = name.trim();
    WINDOWS
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(trimmed))
        .and_then(|(_, iana)| iana.parse().ok())
        .or_else(|| trimmed.parse().ok())
}

/// Local wall-clock time in `zone` → UTC. A time in a DST gap moves forward by the gap, as
/// calendars do.
pub fn to_utc(local: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    let mut candidate = local;
    for _ in 0..4 {
        if let Some(t) = zone.from_local_datetime(&candidate).earliest() {
            return t.with_timezone(&Utc);
        }
        candidate += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&local)
}

/// UTC → local wall-clock time in `zone`.
pub fn from_utc(at: DateTime<Utc>, zone: Tz) -> NaiveDateTime {
    at.with_timezone(&zone).naive_local()
}

/// Graph's `dateTime` format: seven fractional digits, no offset.
pub fn graph_format(t: NaiveDateTime) -> String {
    use chrono::Timelike;
    // chrono has no seven-digit fraction specifier; Graph uses 100 ns ticks.
    format!(
        "{}.{:07}",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.nanosecond() % 1_000_000_000 / 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .expect("valid")
    }

    #[test]
    fn windows_names_and_dst() {
        let berlin = resolve("W. Europe Standard Time").expect("known");
        assert_eq!(
            to_utc(at(2026, 1, 15, 10), berlin),
            Utc.from_utc_datetime(&at(2026, 1, 15, 9))
        );
        assert_eq!(
            to_utc(at(2026, 7, 15, 10), berlin),
            Utc.from_utc_datetime(&at(2026, 7, 15, 8))
        );
        let pacific = resolve("pacific standard time").expect("case-insensitive");
        assert_eq!(
            from_utc(Utc.from_utc_datetime(&at(2026, 7, 15, 17)), pacific),
            at(2026, 7, 15, 10)
        );
        assert!(resolve("Europe/Berlin").is_some());
        assert!(resolve("Mars Standard Time").is_none());
        // 02:30 on the spring-forward day does not exist in Berlin: it becomes 03:00 local.
        assert_eq!(
            to_utc(
                NaiveDate::from_ymd_opt(2026, 3, 29)
                    .and_then(|d| d.and_hms_opt(2, 30, 0))
                    .expect("t"),
                berlin
            ),
            Utc.from_utc_datetime(&at(2026, 3, 29, 1))
        );
        assert_eq!(
            graph_format(at(2026, 1, 2, 3)),
            "2026-01-02T03:00:00.0000000"
        );
    }
}

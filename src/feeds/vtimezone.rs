//! A VTIMEZONE component (RFC 5545 §3.6.5) for a tz-database zone, written as the explicit
//! transitions of the years a feed spans (no RRULE: the tz database knows the rules' changes,
//! a rule in the file would have to restate them). Clients that resolve `TZID` themselves
//! (Outlook maps IANA names) and clients that only read the file agree either way.

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

/// One change of the zone's offset.
struct Transition {
    /// The instant of the change.
    at: DateTime<Utc>,
    /// Offsets (seconds east of UTC) before and after.
    from: i32,
    to: i32,
    dst: bool,
    name: String,
}

fn offset_at(zone: Tz, t: DateTime<Utc>) -> (i32, bool, String) {
    let o = zone.offset_from_utc_datetime(&t.naive_utc());
    (
        o.fix().local_minus_utc(),
        o.dst_offset() != chrono::TimeDelta::zero(),
        o.abbreviation().unwrap_or("").to_string(),
    )
}

/// The transitions in `[from, to)`, found by a daily scan and a binary search to the second
/// (zones change at most a few times a year, never twice a day).
fn transitions(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Transition> {
    let mut out = Vec::new();
    let mut t = from;
    let mut before = offset_at(zone, t);
    while t < to {
        let next = t + Duration::days(1);
        let after = offset_at(zone, next);
        if after.0 != before.0 || after.1 != before.1 {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset_at(zone, mid).0 == before.0 && offset_at(zone, mid).1 == before.1 {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push(Transition {
                at: hi,
                from: before.0,
                to: after.0,
                dst: after.1,
                name: after.2.clone(),
            });
        }
        before = after;
        t = next;
    }
    out
}

fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

fn local(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

/// The component for `zone`, valid for instants in `[from, to)`; CRLF line ends.
pub fn component(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let mut out = format!("BEGIN:VTIMEZONE\r\nTZID:{}\r\n", zone.name());
    // The offset in effect at the start, as an observance from before the first event.
    let (offset, dst, name) = offset_at(zone, from);
    let kind = |dst: bool| if dst { "DAYLIGHT" } else { "STANDARD" };
    let start = from.naive_utc() + Duration::seconds(i64::from(offset));
    out.push_str(&format!(
        "BEGIN:{k}\r\nDTSTART:{}\r\nTZOFFSETFROM:{o}\r\nTZOFFSETTO:{o}\r\n{}END:{k}\r\n",
        local(start),
        if name.is_empty() {
            String::new()
        } else {
            format!("TZNAME:{name}\r\n")
        },
        k = kind(dst),
        o = utc_offset(offset),
    ));
    for t in transitions(zone, from, to) {
        // DTSTART is the local time the change happens at, in the offset before it.
        let at = t.at.naive_utc() + Duration::seconds(i64::from(t.from));
        out.push_str(&format!(
            "BEGIN:{k}\r\nDTSTART:{}\r\nTZOFFSETFROM:{}\r\nTZOFFSETTO:{}\r\n{}END:{k}\r\n",
            local(at),
            utc_offset(t.from),
            utc_offset(t.to),
            if t.name.is_empty() {
                String::new()
            } else {
                format!("TZNAME:{}\r\n", t.name)
            },
            k = kind(t.dst),
        ));
    }
    out.push_str("END:VTIMEZONE\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn berlin_changes_twice_a_year_at_the_documented_times() {
        let text = component(
            chrono_tz::Europe::Berlin,
            utc("2026-12-01T00:00:00Z"),
            utc("2028-01-01T00:00:00Z"),
        );
        // EU rule: last Sunday of March 01:00 UTC (02:00 CET -> 03:00 CEST), last Sunday of
        // October 01:00 UTC (03:00 CEST -> 02:00 CET).
        assert!(text.contains(
            "BEGIN:DAYLIGHT\r\nDTSTART:20270328T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT"
        ), "{text}");
        assert!(text.contains(
            "BEGIN:STANDARD\r\nDTSTART:20271031T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD"
        ), "{text}");
        assert!(text.starts_with("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\n"));
        assert_eq!(text.matches("BEGIN:DAYLIGHT").count(), 1);
    }

    #[test]
    fn a_zone_without_changes_has_one_observance() {
        let text = component(
            chrono_tz::Asia::Tokyo,
            utc("2026-12-01T00:00:00Z"),
            utc("2028-01-01T00:00:00Z"),
        );
        assert_eq!(text.matches("BEGIN:STANDARD").count(), 1);
        assert!(text.contains("TZOFFSETFROM:+0900\r\nTZOFFSETTO:+0900"));
        assert!(!text.contains("DAYLIGHT"));
    }
}

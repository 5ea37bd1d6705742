//! A subscription's events as an iCalendar feed (RFC 5545), for Outlook's "subscribe from web",
//! door signs and other calendar clients. Times are local times in Datapump's time zone
//! (`DATAPUMP_TIME_ZONE`) with its VTIMEZONE (RFC 5545 §3.3.5 form 3, §3.6.5), so that a
//! client shows 10:00 for a 10:00 meeting in the room's zone even if it does not know the
//! zone; a local time that occurs twice (the hour repeated when clocks go back) is written in
//! UTC when it is the second one, which TZID form cannot say. All-day events are dates
//! (`VALUE=DATE`), as their organizer chose them. Attendees and bodies are left out: the feed is
//! a schedule, its URL a secret that may end up on a shared screen.

use chrono::{DateTime, LocalResult, TimeZone, Utc};
use chrono_tz::Tz;
use icalendar::{Calendar, CalendarDateTime, Class, Component, EventLike, EventStatus, Property};

use crate::storage::sync::EventRow;

/// How often clients should fetch the feed again.
const REFRESH_MINUTES: i64 = 15;

/// The summary of an event whose subject is not available (masked private events).
pub struct Labels<'a> {
    pub private: &'a str,
    pub untitled: &'a str,
}

/// A value as it may go into a content line: every C0 control but TAB (and DEL) is gone, CR
/// and LF become spaces. Anyone who can put an event into a subscribed calendar (an external
/// invitation to a room) controls subjects, locations and names: a line break in one would
/// end the line and start properties or events of the sender's choosing.
fn text(value: &str) -> String {
    value
        .chars()
        .filter_map(|c| match c {
            '\r' | '\n' => Some(' '),
            '\t' => Some(c),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// A parameter value (RFC 5545 §3.2, RFC 6868): controls gone as in `text`, `^` and `"`
/// caret-encoded (a `"` would end the quoted value); the crate quotes values with `:;,`.
fn param(value: &str) -> String {
    text(value).replace('^', "^^").replace('"', "^'")
}

/// An address fit for `mailto:` (a plain addr-spec of common characters), or `None`.
fn mailto(address: &str) -> Option<String> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let domain_ok = domain.contains('.')
        && domain.len() <= 253
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    (local_ok && domain_ok).then(|| format!("mailto:{}", address.trim()))
}

/// The feed of `name` with `events`, times in `zone`.
pub fn calendar(name: &str, events: &[EventRow], labels: &Labels<'_>, zone: Tz) -> String {
    // The crate's defaults name the crate as the producer: RFC 5545's PRODID names the product.
    let mut cal = Calendar::empty();
    cal.append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new(
            "PRODID",
            concat!("-//Datapump//Datapump ", env!("CARGO_PKG_VERSION"), "//EN"),
        ))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .name(&text(name))
        .timezone(zone.name())
        .append_property(Property::new("METHOD", "PUBLISH"))
        .ttl(&chrono::Duration::minutes(REFRESH_MINUTES));
    for e in events {
        cal.push(event(e, labels, zone));
    }
    let text = cal.done().to_string();
    let (Some(first), Some(last)) = (
        events.iter().map(|e| e.start_utc).min(),
        events.iter().map(|e| e.end_utc).max(),
    ) else {
        return text;
    };
    // The crate writes no VTIMEZONE: it goes before the first component, as RFC 5545's
    // examples place it.
    let tz = super::vtimezone::component(
        zone,
        first - chrono::Duration::days(1),
        last + chrono::Duration::days(1),
    );
    match text.find("BEGIN:VEVENT") {
        Some(at) => format!("{}{tz}{}", &text[..at], &text[at..]),
        None => text,
    }
}

/// An instant as the feed writes it: local time with TZID, or UTC for the second of two
/// identical local times.
fn instant(t: DateTime<Utc>, zone: Tz) -> CalendarDateTime {
    let local = t.with_timezone(&zone).naive_local();
    match zone.from_local_datetime(&local) {
        LocalResult::Single(_) => CalendarDateTime::WithTimezone {
            date_time: local,
            tzid: zone.name().to_string(),
        },
        LocalResult::Ambiguous(first, _) if first.with_timezone(&Utc) == t => {
            CalendarDateTime::WithTimezone {
                date_time: local,
                tzid: zone.name().to_string(),
            }
        }
        _ => CalendarDateTime::Utc(t),
    }
}

fn event(e: &EventRow, labels: &Labels<'_>, zone: Tz) -> icalendar::Event {
    let mut ev = icalendar::Event::new();
    // Every occurrence has its own iCalUId; the Graph id is the fallback (unreadable series).
    let uid = e
        .ical_uid
        .clone()
        .unwrap_or_else(|| format!("{}@datapump", e.graph_id));
    ev.uid(&text(&uid));
    let stamp: DateTime<Utc> = e.last_modified.unwrap_or(e.start_utc);
    ev.timestamp(stamp);
    if let Some(t) = e.last_modified {
        ev.last_modified(t);
    }
    match (e.is_all_day, e.start_date, e.end_date) {
        (true, Some(first), Some(after_last)) => {
            ev.starts(first).ends(after_last);
        }
        _ => {
            ev.starts(instant(e.start_utc, zone))
                .ends(instant(e.end_utc, zone));
        }
    }
    let private = matches!(e.sensitivity.as_deref(), Some("private" | "confidential"));
    let summary = match (&e.subject, private) {
        (Some(s), _) => s.as_str(),
        (None, true) => labels.private,
        (None, false) => labels.untitled,
    };
    ev.summary(&text(summary));
    if let Some(l) = &e.location {
        ev.add_property("LOCATION", text(l));
    }
    // An organizer whose address is not a plain address is left out rather than written.
    if let Some(address) = e.organizer_address.as_deref().and_then(mailto) {
        let mut organizer = Property::new("ORGANIZER", address);
        if let Some(n) = &e.organizer_name {
            organizer.add_parameter("CN", &param(n));
        }
        ev.append_property(organizer);
    }
    // A room keeps cancelled meetings, and shows bookings awaiting approval as tentative
    // (docs/database.md): RFC 5545's STATUS says which is which.
    ev.status(if e.is_cancelled {
        EventStatus::Cancelled
    } else if e.show_as.as_deref() == Some("tentative") {
        EventStatus::Tentative
    } else {
        EventStatus::Confirmed
    });
    match e.sensitivity.as_deref() {
        Some("private") => {
            ev.class(Class::Private);
        }
        Some("confidential") => {
            ev.class(Class::Confidential);
        }
        _ => {}
    }
    let free = matches!(e.show_as.as_deref(), Some("free"));
    ev.add_property("TRANSP", if free { "TRANSPARENT" } else { "OPAQUE" });
    // RFC 5545 §3.8.1.9: 1 is the highest priority, 9 the lowest; Outlook exports Graph's
    // three levels as 1, 5 and 9. Anything else is left out (0 would mean "undefined").
    if let Some(priority) = match e.importance.as_deref() {
        Some("high") => Some(1),
        Some("normal") => Some(5),
        Some("low") => Some(9),
        _ => None,
    } {
        ev.priority(priority);
    }
    ev.done()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> EventRow {
        let start = DateTime::parse_from_rfc3339("2026-12-03T09:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        EventRow {
            graph_id: id.into(),
            ical_uid: Some(format!("uid-{id}")),
            series_master_id: None,
            event_type: "singleInstance".into(),
            subject: Some("Besuch; Partner, GmbH".into()),
            organizer_name: Some("Anna Schmidt".into()),
            organizer_address: Some("anna@contoso.example".into()),
            start_utc: start,
            end_utc: start + chrono::Duration::hours(1),
            time_zone: None,
            is_all_day: false,
            start_date: None,
            end_date: None,
            is_cancelled: false,
            sensitivity: Some("normal".into()),
            show_as: Some("busy".into()),
            importance: Some("normal".into()),
            location: Some("Raum Berlin".into()),
            locations: None,
            attendees: Some("[]".into()),
            body_preview: Some("secret agenda".into()),
            web_link: None,
            online_meeting_url: None,
            categories: None,
            last_modified: Some(start),
            change_key: None,
            start_local: None,
            end_local: None,
            local_date: None,
        }
    }

    #[test]
    fn feed_parses_back_with_dates_status_and_escaping() {
        let mut cancelled = row("b");
        cancelled.is_cancelled = true;
        let mut all_day = row("c");
        all_day.is_all_day = true;
        all_day.start_date = chrono::NaiveDate::from_ymd_opt(2026, 12, 24);
        all_day.end_date = chrono::NaiveDate::from_ymd_opt(2026, 12, 27);
        cancelled.importance = Some("high".into());
        let mut private = row("d");
        private.subject = None;
        private.sensitivity = Some("private".into());
        private.importance = None;
        let text = calendar(
            "Raum Berlin",
            &[row("a"), cancelled, all_day, private],
            &Labels {
                private: "Privater Termin",
                untitled: "(ohne Betreff)",
            },
            chrono_tz::Europe::Berlin,
        );
        assert!(text.contains("\r\n"), "CRLF line ends");
        assert!(text.lines().all(|l| l.len() <= 75), "lines are folded");
        assert!(!text.contains("secret agenda"), "no bodies");
        // 09:00 UTC is 10:00 in Berlin in December.
        assert!(
            text.contains("DTSTART;TZID=Europe/Berlin:20261203T100000"),
            "{text}"
        );
        assert!(
            text.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin"),
            "{text}"
        );
        assert!(
            text.find("BEGIN:VTIMEZONE") < text.find("BEGIN:VEVENT"),
            "zone before the events"
        );
        assert!(text.contains("DTSTART;VALUE=DATE:20261224"), "{text}");
        assert!(text.contains("DTEND;VALUE=DATE:20261227"), "{text}");
        assert!(text.contains("SUMMARY:Besuch\\; Partner\\, GmbH"), "{text}");
        let parsed: Calendar = text.parse().expect("a parser reads it back");
        let events: Vec<_> = parsed.events().collect();
        assert_eq!(events.len(), 4);
        assert_eq!(events[0].get_summary(), Some("Besuch; Partner, GmbH"));
        assert_eq!(events[1].get_status(), Some(EventStatus::Cancelled));
        // Graph's importance as RFC 5545 priorities; none when unknown.
        assert_eq!(events[0].get_priority(), Some(5));
        assert_eq!(events[1].get_priority(), Some(1));
        assert_eq!(events[3].get_priority(), None);
        assert_eq!(events[3].get_summary(), Some("Privater Termin"));
        assert_eq!(events[3].get_class(), Some(Class::Private));
        assert_eq!(parsed.get_name(), Some("Raum Berlin"));
        let start = events[0].get_start().expect("start");
        assert_eq!(
            start,
            icalendar::DatePerhapsTime::DateTime(CalendarDateTime::WithTimezone {
                date_time: chrono::NaiveDate::from_ymd_opt(2026, 12, 3)
                    .and_then(|d| d.and_hms_opt(10, 0, 0))
                    .expect("time"),
                tzid: "Europe/Berlin".into(),
            })
        );
        assert!(
            parsed
                .components
                .iter()
                .any(|c| matches!(c, icalendar::CalendarComponent::Other(o) if o.component_kind() == "VTIMEZONE")),
            "the parser sees the VTIMEZONE"
        );
    }

    /// Hostile values (line breaks, bare CRs, quotes in names, addresses that are not
    /// addresses) neither add events or properties nor break out of a quoted parameter: a
    /// parser finds one VEVENT per row and every field as stored, controls replaced by spaces.
    #[test]
    fn hostile_values_stay_inside_their_fields() {
        let mut forged = row("a");
        forged.subject =
            Some("Termin\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Raum blockiert".into());
        forged.location = Some("Raum\rATTACH:https://evil.example/x".into());
        forged.organizer_name = Some("Eve \"\";X=1:\r\nATTACH:https://evil.example/y".into());
        forged.organizer_address = Some("eve@evil.example".into());
        let mut odd = row("b");
        odd.organizer_name = Some("Max ^ Muster".into());
        odd.organizer_address = Some("x@y.example:ATTACH:https://evil.example".into());
        odd.ical_uid = Some("uid-b\r\nATTACH:z".into());
        let text = calendar(
            "Raum\r\nX-EVIL:1",
            &[forged, odd],
            &Labels {
                private: "p",
                untitled: "u",
            },
            chrono_tz::Europe::Berlin,
        );
        // No content line of the attacker's: what they wrote stays inside values.
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("ATTACH") || l.starts_with("X-EVIL")),
            "{text}"
        );
        assert!(text.contains("PRODID:-//Datapump//Datapump "), "{text}");
        assert_eq!(
            text.lines().filter(|l| *l == "BEGIN:VEVENT").count(),
            2,
            "{text}"
        );
        let parsed: Calendar = text.parse().expect("parses");
        let events: Vec<_> = parsed.events().collect();
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0].get_summary(),
            Some("Termin  END:VEVENT  BEGIN:VEVENT  SUMMARY:Raum blockiert")
        );
        assert_eq!(
            events[0].property_value("LOCATION"),
            Some("Raum ATTACH:https://evil.example/x")
        );
        let organizer = events[0].properties().get("ORGANIZER").expect("organizer");
        assert_eq!(organizer.value(), "mailto:eve@evil.example");
        assert_eq!(
            organizer.params().get("CN").map(|p| p.value()),
            Some("Eve ^'^';X=1:  ATTACH:https://evil.example/y"),
            "caret-encoded (RFC 6868), inside one quoted value"
        );
        // Not an address: no ORGANIZER at all.
        assert!(events[1].properties().get("ORGANIZER").is_none(), "{text}");
        assert_eq!(events[1].get_uid(), Some("uid-b  ATTACH:z"));
        assert_eq!(parsed.get_name(), Some("Raum  X-EVIL:1"));
    }

    /// When clocks go back, 02:30 happens twice: the first is written with TZID, the second
    /// in UTC (a TZID time means the first, RFC 5545 §3.3.5).
    #[test]
    fn the_repeated_hour_stays_exact() {
        let first = DateTime::parse_from_rfc3339("2027-10-31T00:30:00Z")
            .expect("t")
            .with_timezone(&Utc);
        let second = first + chrono::Duration::hours(1);
        let zone = chrono_tz::Europe::Berlin;
        assert!(matches!(
            instant(first, zone),
            CalendarDateTime::WithTimezone { .. }
        ));
        assert_eq!(instant(second, zone), CalendarDateTime::Utc(second));
    }
}

//! A subscription's events as an iCalendar feed (RFC 5545), for Outlook's "subscribe from web",
//! door signs and other calendar clients. Times are written in UTC (RFC 5545 §3.3.5, form 2),
//! which every client converts to its own zone, so no VTIMEZONE is needed; all-day events are
//! dates (`VALUE=DATE`), as their organizer chose them. Attendees and bodies are left out: the
//! feed is a schedule, its URL a secret that may end up on a shared screen.

use chrono::{DateTime, Utc};
use icalendar::{Calendar, Class, Component, EventLike, EventStatus, Property};

use crate::storage::sync::EventRow;

/// How often clients should fetch the feed again.
const REFRESH_MINUTES: i64 = 15;

/// The summary of an event whose subject is not available (masked private events).
pub struct Labels<'a> {
    pub private: &'a str,
    pub untitled: &'a str,
}

/// The feed of `name` with `events`.
pub fn calendar(name: &str, events: &[EventRow], labels: &Labels<'_>) -> String {
    let mut cal = Calendar::new();
    cal.name(name)
        .append_property(Property::new("METHOD", "PUBLISH"))
        .ttl(&chrono::Duration::minutes(REFRESH_MINUTES));
    for e in events {
        cal.push(event(e, labels));
    }
    cal.done().to_string()
}

fn event(e: &EventRow, labels: &Labels<'_>) -> icalendar::Event {
    let mut ev = icalendar::Event::new();
    // Every occurrence has its own iCalUId; the Graph id is the fallback (unreadable series).
    let uid = e
        .ical_uid
        .clone()
        .unwrap_or_else(|| format!("{}@datapump", e.graph_id));
    ev.uid(&uid);
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
            ev.starts(e.start_utc).ends(e.end_utc);
        }
    }
    let private = matches!(e.sensitivity.as_deref(), Some("private" | "confidential"));
    let summary = match (&e.subject, private) {
        (Some(s), _) => s.as_str(),
        (None, true) => labels.private,
        (None, false) => labels.untitled,
    };
    ev.summary(summary);
    if let Some(l) = &e.location {
        ev.add_property("LOCATION", l);
    }
    if let Some(address) = &e.organizer_address {
        let mut organizer = Property::new("ORGANIZER", format!("mailto:{address}"));
        if let Some(n) = &e.organizer_name {
            organizer.add_parameter("CN", n);
        }
        ev.append_property(organizer);
    }
    ev.status(if e.is_cancelled {
        EventStatus::Cancelled
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
        let mut private = row("d");
        private.subject = None;
        private.sensitivity = Some("private".into());
        let text = calendar(
            "Raum Berlin",
            &[row("a"), cancelled, all_day, private],
            &Labels {
                private: "Privater Termin",
                untitled: "(ohne Betreff)",
            },
        );
        assert!(text.contains("\r\n"), "CRLF line ends");
        assert!(text.lines().all(|l| l.len() <= 75), "lines are folded");
        assert!(!text.contains("secret agenda"), "no bodies");
        assert!(text.contains("DTSTART:20261203T090000Z"), "{text}");
        assert!(text.contains("DTSTART;VALUE=DATE:20261224"), "{text}");
        assert!(text.contains("DTEND;VALUE=DATE:20261227"), "{text}");
        assert!(text.contains("SUMMARY:Besuch\\; Partner\\, GmbH"), "{text}");
        let parsed: Calendar = text.parse().expect("a parser reads it back");
        let events: Vec<_> = parsed.events().collect();
        assert_eq!(events.len(), 4);
        assert_eq!(events[0].get_summary(), Some("Besuch; Partner, GmbH"));
        assert_eq!(events[1].get_status(), Some(EventStatus::Cancelled));
        assert_eq!(events[3].get_summary(), Some("Privater Termin"));
        assert_eq!(events[3].get_class(), Some(Class::Private));
        assert_eq!(parsed.get_name(), Some("Raum Berlin"));
    }
}

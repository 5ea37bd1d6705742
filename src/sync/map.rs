//! Graph's events (as `calendarView/delta` sends them, requested in UTC) to `events` rows.

use chrono::{DateTime, Utc};

use crate::graph::events::Event as GraphEvent;
use crate::model::StoredFields;
use crate::storage::sync::EventRow;

use crate::time::parse_graph_time as parse_time;

fn json_or_none<T: serde::Serialize>(items: &[T]) -> Option<String> {
    (!items.is_empty()).then(|| serde_json::to_string(items).unwrap_or_default())
}

#[derive(serde::Serialize)]
struct StoredAttendee<'a> {
    name: Option<String>,
    address: Option<String>,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    response: Option<&'a str>,
}

fn etag_key(etag: Option<&str>) -> Option<String> {
    etag.map(|e| e.trim_start_matches("W/").trim_matches('"').to_string())
}

/// The row's change key. An occurrence built with its series master's fields carries both
/// keys: whether the occurrence's own key changes when only the master changes is unverified
/// (graph-protocol §9.6), so a changed master alone makes the row differ, and it is rewritten
/// in the round that reads the master.
fn change_key(e: &GraphEvent, master: Option<&GraphEvent>) -> Option<String> {
    let own = e
        .change_key
        .clone()
        .or_else(|| etag_key(e.etag.as_deref()))?;
    match master {
        None => Some(own),
        Some(m) => {
            let series = m.change_key.clone().or_else(|| etag_key(m.etag.as_deref()));
            Some(format!("{own}|{}", series.unwrap_or_default()))
        }
    }
}

/// An event Graph sent that cannot be stored.
#[derive(Debug, thiserror::Error)]
pub enum Unmappable {
    #[error("event {0} has no valid start")]
    NoStart(String),
    #[error("event {0} has no valid end")]
    NoEnd(String),
}

/// Builds the row; for an occurrence the `master` supplies what delta leaves out. With
/// `mask_private`, private and confidential events keep only times, type and organizer;
/// `fields` leaves out what the subscription does not store.
pub fn to_row(
    e: &GraphEvent,
    master: Option<&GraphEvent>,
    mask_private: bool,
    fields: StoredFields,
    zone: chrono_tz::Tz,
) -> Result<EventRow, Unmappable> {
    let base = master.unwrap_or(e);
    let start = e
        .start
        .as_ref()
        .and_then(|s| parse_time(&s.date_time))
        .ok_or_else(|| Unmappable::NoStart(e.id.clone()))?;
    let end = e
        .end
        .as_ref()
        .and_then(|s| parse_time(&s.date_time))
        .ok_or_else(|| Unmappable::NoEnd(e.id.clone()))?;
    let all_day = base.is_all_day;
    let organizer = base
        .organizer
        .as_ref()
        .and_then(|o| o.email_address.as_ref());
    let attendees: Vec<StoredAttendee> = base
        .attendees
        .iter()
        .map(|a| {
            // Rooms and equipment are no one's personal data: their addresses stay.
            let rules = if a.kind.as_deref() == Some("resource") {
                StoredFields::default()
            } else {
                fields
            };
            StoredAttendee {
                name: a
                    .email_address
                    .as_ref()
                    .and_then(|x| x.name.as_deref())
                    .map(|x| rules.name(x)),
                address: a
                    .email_address
                    .as_ref()
                    .and_then(|x| x.address.as_deref())
                    .map(|x| rules.address(x)),
                kind: a.kind.as_deref(),
                response: a.status.as_ref().and_then(|s| s.response.as_deref()),
            }
        })
        .collect();
    let locations: Vec<&str> = base
        .locations
        .iter()
        .filter_map(|l| l.display_name.as_deref())
        .collect();
    let private = matches!(
        base.sensitivity.as_deref(),
        Some("private" | "confidential")
    );
    let masked = mask_private && private;
    let mut row = EventRow {
        graph_id: e.id.clone(),
        // Each occurrence has its own iCalUId, never the series' (the caller fills it in for
        // delta's minimal occurrences, which leave it out).
        ical_uid: e.ical_uid.clone(),
        series_master_id: e.series_master_id.clone(),
        event_type: e.kind.clone().unwrap_or_else(|| "singleInstance".into()),
        subject: base.subject.clone(),
        organizer_name: organizer.and_then(|o| o.name.clone()),
        organizer_address: organizer.and_then(|o| o.address.clone()),
        start_utc: DateTime::from_naive_utc_and_offset(start, Utc),
        end_utc: DateTime::from_naive_utc_and_offset(end, Utc),
        time_zone: base.original_start_time_zone.clone(),
        is_all_day: all_day,
        // All-day events are floating dates: the date as sent, in no time zone.
        start_date: all_day.then(|| start.date()),
        end_date: all_day.then(|| end.date()),
        // Delta's occurrences carry no isCancelled: a cancelled series says so on its master
        // (graph-protocol §9.6).
        is_cancelled: e.is_cancelled || base.is_cancelled,
        sensitivity: base.sensitivity.clone(),
        show_as: base.show_as.clone(),
        importance: base.importance.clone(),
        location: base
            .location
            .as_ref()
            .and_then(|l| l.display_name.clone())
            .filter(|s| !s.is_empty()),
        locations: json_or_none(&locations),
        attendees: json_or_none(&attendees),
        body_preview: base.body_preview.clone().filter(|s| !s.is_empty()),
        web_link: e.web_link.clone().or(base.web_link.clone()),
        online_meeting_url: base
            .online_meeting
            .as_ref()
            .and_then(|m| m.join_url.clone())
            .or(base.online_meeting_url.clone()),
        categories: json_or_none(&base.categories),
        last_modified: e
            .last_modified_date_time
            .as_deref()
            .or(base.last_modified_date_time.as_deref())
            .and_then(parse_time)
            .map(|t| DateTime::from_naive_utc_and_offset(t, Utc)),
        change_key: change_key(e, master),
        start_local: None,
        end_local: None,
        local_date: None,
    };
    let local = crate::time::local_times(
        row.start_utc,
        row.end_utc,
        row.start_date.zip(row.end_date),
        zone,
    );
    row.start_local = Some(local.start);
    row.end_local = Some(local.end);
    row.local_date = Some(local.date);
    if !fields.body {
        row.body_preview = None;
    }
    if !fields.online_meeting {
        row.online_meeting_url = None;
    }
    if !fields.categories {
        row.categories = None;
    }
    if masked {
        row.subject = None;
        row.body_preview = None;
        row.attendees = None;
        row.categories = None;
        row.online_meeting_url = None;
        row.web_link = None;
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seven_digit_fractions_and_all_day_dates() {
        assert_eq!(
            parse_time("2026-06-01T09:30:00.1234567").map(|t| t.and_utc().timestamp_subsec_nanos()),
            Some(123_456_700)
        );
        let e: GraphEvent = serde_json::from_value(json!({
            "id": "A", "type": "singleInstance", "subject": "Feiertag", "isAllDay": true,
            "start": {"dateTime": "2026-10-03T00:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-10-04T00:00:00.0000000", "timeZone": "UTC"},
            "sensitivity": "private", "attendees": [{"type": "required", "status": {"response": "accepted"}, "emailAddress": {"name": "A", "address": "a@x"}}]
        })).expect("event");
        let row = to_row(&e, None, false, StoredFields::default(), chrono_tz::UTC).expect("row");
        assert_eq!(
            row.start_date.map(|d| d.to_string()).as_deref(),
            Some("2026-10-03")
        );
        assert_eq!(
            row.end_date.map(|d| d.to_string()).as_deref(),
            Some("2026-10-04")
        );
        assert!(
            row.attendees
                .as_deref()
                .is_some_and(|a| a.contains("accepted"))
        );
        let masked = to_row(&e, None, true, StoredFields::default(), chrono_tz::UTC).expect("row");
        assert_eq!(masked.subject, None);
        assert_eq!(masked.attendees, None);
    }

    #[test]
    fn occurrences_take_series_fields_from_their_master() {
        let occ: GraphEvent = serde_json::from_value(
            json!({"id": "O", "type": "occurrence", "seriesMasterId": "M",
            "start": {"dateTime": "2026-06-01T09:00:00.0000000"}, "end": {"dateTime": "2026-06-01T10:00:00.0000000"}, "@odata.etag": "W/\"abc\""}),
        )
        .expect("occurrence");
        assert!(occ.is_minimal_occurrence());
        let master: GraphEvent = serde_json::from_value(
            json!({"id": "M", "type": "seriesMaster", "subject": "Jour fixe",
            "organizer": {"emailAddress": {"name": "Anna", "address": "anna@x"}}}),
        )
        .expect("master");
        let row = to_row(
            &occ,
            Some(&master),
            false,
            StoredFields::default(),
            chrono_tz::UTC,
        )
        .expect("row");
        assert_eq!(row.subject.as_deref(), Some("Jour fixe"));
        assert_eq!(row.series_master_id.as_deref(), Some("M"));
        assert_eq!(row.event_type, "occurrence");
        assert_eq!(row.change_key.as_deref(), Some("abc|"));
        let renamed: GraphEvent = serde_json::from_value(
            json!({"id": "M", "type": "seriesMaster", "subject": "Jour fixe (neu)", "changeKey": "m2"}),
        )
        .expect("master");
        assert_eq!(
            to_row(
                &occ,
                Some(&renamed),
                false,
                StoredFields::default(),
                chrono_tz::UTC
            )
            .expect("row")
            .change_key
            .as_deref(),
            Some("abc|m2"),
            "a changed master alone changes the row's key"
        );
    }
}

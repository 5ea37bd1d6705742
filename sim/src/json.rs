//! Graph's JSON shapes, written from Microsoft's documented examples (see
//! `tests/fixtures/graph/`), and the error bodies of Graph and of the identity platform.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::ids::IdForm;
use super::model::{
    Calendar, Event, Instance, InstanceKind, MailboxKind, Pattern, RecurrenceRange, User,
};
use super::tz;

pub const GRAPH_RESOURCE: &str = "00000003-0000-0000-c000-000000000000";

fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `2024-05-02T09:10:11.1234567Z`
pub fn instant(t: DateTime<Utc>) -> String {
    format!("{}Z", tz::graph_format(t.naive_utc()))
}

/// A Graph error response with the headers Graph sends.
pub fn graph_error(
    status: StatusCode,
    code: &str,
    message: &str,
    client_request_id: Option<&str>,
) -> Response {
    let request_id = new_guid();
    let client_id = client_request_id.map_or_else(new_guid, String::from);
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id,
                "client-request-id": client_id,
            }
        }
    });
    let mut response = (status, Json(body)).into_response();
    add_request_ids(response.headers_mut(), &request_id, &client_id);
    response
}

pub fn add_request_ids(headers: &mut HeaderMap, request_id: &str, client_request_id: &str) {
    for (name, value) in [
        ("request-id", request_id),
        ("client-request-id", client_request_id),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    }
    headers.insert(
        "x-ms-ags-diagnostic",
        HeaderValue::from_static(r#"{"ServerInfo":{"DataCenter":"Germany West Central","Slice":"E","Ring":"5","ScaleUnit":"000","RoleInstance":"FR1PEPF0000SIM"}}"#),
    );
}

/// An identity-platform error body (`error`, `error_description` with the AADSTS code, …).
pub fn aad_error(
    status: StatusCode,
    error: &str,
    code: u32,
    text: &str,
    suberror: Option<&str>,
) -> Response {
    let now = Utc::now();
    let trace = new_guid();
    let correlation = new_guid();
    let timestamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
    let mut body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    if let (Some(s), Some(map)) = (suberror, body.as_object_mut()) {
        map.insert("suberror".into(), json!(s));
    }
    let mut response = (status, Json(body)).into_response();
    no_store(response.headers_mut());
    if let Ok(v) = HeaderValue::from_str(&trace) {
        response.headers_mut().insert("x-ms-request-id", v);
    }
    response
}

pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(
        "cache-control",
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert("pragma", HeaderValue::from_static("no-cache"));
}

/// A user object with the default property set, or the `$select`ed properties.
pub fn user(u: &User, select: Option<&[String]>) -> Value {
    let all = json!({
        "businessPhones": [],
        "displayName": u.display_name,
        "givenName": u.given_name,
        "jobTitle": u.job_title,
        "mail": u.mail,
        "mobilePhone": null,
        "officeLocation": u.office_location,
        "preferredLanguage": if u.kind == MailboxKind::Person { json!("de-DE") } else { Value::Null },
        "surname": u.surname,
        "userPrincipalName": u.upn,
        "id": u.id,
    });
    match select {
        None => all,
        Some(props) => {
            let mut out = Map::new();
            if let Some(obj) = all.as_object() {
                for p in props {
                    if let Some((k, v)) = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(p)) {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            Value::Object(out)
        }
    }
}

pub fn calendar(c: &Calendar, owner: &User, reader_id: &str) -> Value {
    let own = c.owner_id == reader_id;
    json!({
        "id": c.id,
        "name": c.name,
        "color": c.color,
        "hexColor": c.hex_color,
        "isDefaultCalendar": c.is_default && own,
        "changeKey": super::model::graph_id(&["ck", &c.id, &c.version.to_string()]).trim_start_matches("AAMk").to_string(),
        "canShare": own,
        "canViewPrivateItems": own,
        "canEdit": own,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"],
        "defaultOnlineMeetingProvider": "teamsForBusiness",
        "isTallyingResponses": own,
        "isRemovable": !c.is_default,
        "owner": { "name": owner.display_name, "address": owner.address() },
    })
}

fn date_time(local: NaiveDateTime, event: &Event, out_zone: Option<&str>) -> Value {
    // All-day events are floating: midnight whatever the requested zone.
    if event.is_all_day {
        return json!({ "dateTime": tz::graph_format(local), "timeZone": out_zone.unwrap_or("UTC") });
    }
    let utc = event.utc(local);
    match out_zone.and_then(|z| tz::resolve(z).map(|t| (z, t))) {
        Some((name, zone)) => {
            json!({ "dateTime": tz::graph_format(tz::from_utc(utc, zone)), "timeZone": name })
        }
        None => json!({ "dateTime": tz::graph_format(utc.naive_utc()), "timeZone": "UTC" }),
    }
}

fn person(p: &super::model::Person) -> Value {
    json!({ "emailAddress": { "name": p.name, "address": p.address } })
}

fn location(event: &Event) -> (Value, Value) {
    match &event.location {
        None => (
            json!({ "displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": {}, "coordinates": {} }),
            json!([]),
        ),
        Some(l) => {
            let mut loc = json!({
                "displayName": l.display_name,
                "locationType": l.kind,
                "uniqueId": l.address.clone().unwrap_or_else(|| l.display_name.clone()),
                "uniqueIdType": if l.address.is_some() { "directory" } else { "private" },
                "address": { "street": "", "city": "", "state": "", "countryOrRegion": "", "postalCode": "" },
                "coordinates": {},
            });
            if let (Some(addr), Some(obj)) = (&l.address, loc.as_object_mut()) {
                obj.insert("locationEmailAddress".into(), json!(addr));
                obj.insert("locationUri".into(), json!(addr));
            }
            let short = json!([{
                "displayName": l.display_name,
                "locationType": l.kind,
                "locationEmailAddress": l.address,
                "uniqueId": l.address.clone().unwrap_or_else(|| l.display_name.clone()),
                "uniqueIdType": if l.address.is_some() { "directory" } else { "private" },
            }]);
            (loc, short)
        }
    }
}

fn recurrence(event: &Event) -> Value {
    let Some(r) = &event.recurrence else {
        return Value::Null;
    };
    let (kind, interval) = match r.pattern {
        Pattern::Daily { interval } => ("daily", interval),
        Pattern::Weekly { interval } => ("weekly", interval),
    };
    let days: Vec<String> = r
        .days_of_week
        .iter()
        .map(|d| {
            match d {
                chrono::Weekday::Mon => "monday",
                chrono::Weekday::Tue => "tuesday",
                chrono::Weekday::Wed => "wednesday",
                chrono::Weekday::Thu => "thursday",
                chrono::Weekday::Fri => "friday",
                chrono::Weekday::Sat => "saturday",
                chrono::Weekday::Sun => "sunday",
            }
            .to_string()
        })
        .collect();
    let (range_type, end_date, count) = match &r.range {
        RecurrenceRange::EndDate { end_date } => ("endDate", end_date.to_string(), 0),
        RecurrenceRange::Numbered {
            number_of_occurrences,
        } => ("numbered", "0001-01-01".into(), *number_of_occurrences),
        RecurrenceRange::NoEnd => ("noEnd", "0001-01-01".into(), 0),
    };
    json!({
        "pattern": {
            "type": kind, "interval": interval, "month": 0, "dayOfMonth": 0,
            "daysOfWeek": days, "firstDayOfWeek": "sunday", "index": "first",
        },
        "range": {
            "type": range_type, "startDate": event.start.date().to_string(), "endDate": end_date,
            "recurrenceTimeZone": event.time_zone, "numberOfOccurrences": count,
        }
    })
}

/// The full event shape, for a single instance, an occurrence or exception, or a series master.
pub fn event(
    e: &Event,
    instance: Option<&Instance>,
    owner: &User,
    out_zone: Option<&str>,
    body_text: bool,
    ids: IdForm,
) -> Value {
    let (id, kind, start, end, subject, change_key, modified, ical) = match instance {
        Some(i) => (
            ids.render(&i.id, e.moves),
            i.kind.graph_name(),
            i.start_local,
            i.end_local,
            i.subject_override
                .clone()
                .unwrap_or_else(|| e.subject.clone()),
            i.change_key.clone(),
            i.modified,
            match i.original_date {
                Some(d) => format!(
                    "{}{}",
                    &e.ical_uid[..e.ical_uid.len().saturating_sub(8)],
                    d.format("%Y%m%d")
                ),
                None => e.ical_uid.clone(),
            },
        ),
        None => (
            ids.render(&e.id, e.moves),
            if e.recurrence.is_some() {
                "seriesMaster"
            } else {
                "singleInstance"
            },
            e.start,
            e.end,
            e.subject.clone(),
            e.change_key(),
            e.modified,
            e.ical_uid.clone(),
        ),
    };
    let is_organizer = e.organizer.address.eq_ignore_ascii_case(&owner.address());
    let (loc, locs) = location(e);
    let preview: String = e.body.chars().take(255).collect();
    let body = if body_text {
        json!({ "contentType": "text", "content": e.body })
    } else {
        json!({ "contentType": "html", "content": format!("<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n<div>{}</div>\r\n</body>\r\n</html>\r\n", html_escape(&e.body)) })
    };
    let series_master = match kind {
        "occurrence" | "exception" => json!(ids.render(&e.id, e.moves)),
        _ => Value::Null,
    };
    json!({
        "@odata.etag": format!("W/\"{change_key}\""),
        "id": id,
        "createdDateTime": instant(e.created),
        "lastModifiedDateTime": instant(modified),
        "changeKey": change_key,
        "categories": e.categories,
        "transactionId": null,
        "originalStartTimeZone": e.time_zone,
        "originalEndTimeZone": e.time_zone,
        "iCalUId": ical,
        "uid": e.ical_uid,
        "reminderMinutesBeforeStart": if e.is_all_day { 1080 } else { 15 },
        "isReminderOn": !e.is_all_day,
        "hasAttachments": false,
        "subject": subject,
        "bodyPreview": preview,
        "importance": e.importance,
        "sensitivity": e.sensitivity,
        "isAllDay": e.is_all_day,
        "isCancelled": e.is_cancelled,
        "isOrganizer": is_organizer,
        "responseRequested": true,
        "seriesMasterId": series_master,
        "showAs": e.show_as,
        "type": kind,
        "webLink": format!("https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item", urlencode(&id)),
        "onlineMeetingUrl": null,
        "isOnlineMeeting": e.online_meeting_url.is_some(),
        "onlineMeetingProvider": if e.online_meeting_url.is_some() { "teamsForBusiness" } else { "unknown" },
        "allowNewTimeProposals": true,
        "occurrenceId": null,
        "isDraft": false,
        "hideAttendees": false,
        "responseStatus": {
            "response": if is_organizer { "organizer" } else { "accepted" },
            "time": "0001-01-01T00:00:00Z",
        },
        "body": body,
        "start": date_time(start, e, out_zone),
        "end": date_time(end, e, out_zone),
        "location": loc,
        "locations": locs,
        "recurrence": if instance.is_none() { recurrence(e) } else { Value::Null },
        "attendees": e.attendees.iter().map(|a| json!({
            "type": a.kind,
            "status": { "response": a.response, "time": "0001-01-01T00:00:00Z" },
            "emailAddress": { "name": a.person.name, "address": a.person.address },
        })).collect::<Vec<_>>(),
        "organizer": person(&e.organizer),
        "onlineMeeting": e.online_meeting_url.as_ref().map(|u| json!({ "joinUrl": u })),
    })
}

/// What delta sends for an occurrence: only identity and times; the rest is on the master.
pub fn occurrence_minimal(e: &Event, i: &Instance, out_zone: Option<&str>, ids: IdForm) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.event",
        "@odata.etag": format!("W/\"{}\"", i.change_key),
        "id": ids.render(&i.id, e.moves),
        "seriesMasterId": ids.render(&e.id, e.moves),
        "type": InstanceKind::Occurrence.graph_name(),
        "start": date_time(i.start_local, e, out_zone),
        "end": date_time(i.end_local, e, out_zone),
    })
}

pub fn removed(id: &str) -> Value {
    json!({ "@odata.type": "#microsoft.graph.event", "id": id, "@removed": { "reason": "deleted" } })
}

pub fn instant_param(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            // Without an offset the value is UTC.
            NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
                .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M"))
                .ok()
                .map(|n| DateTime::from_naive_utc_and_offset(n, Utc))
        })
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

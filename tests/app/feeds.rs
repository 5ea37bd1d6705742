//! The ICS feed: a secret address an admin creates, replaces and turns off; what a calendar
//! client gets there, read back by an iCalendar parser.

use chrono::{Duration, Utc};
use datapump_sim::{EventPatch, NewEvent, SimConfig};
use icalendar::{Calendar, Component, EventStatus};
use reqwest::StatusCode;

use crate::common::{Backend, on_both_backends};
use crate::import::{import_world, run, subscribe};

fn feed_url(body: &str) -> Option<String> {
    let start = body.find("http://")?;
    let rest = &body[start..];
    let end = rest.find(".ics")? + 4;
    let url = &rest[..end];
    url.contains("/feeds/").then(|| url.to_string())
}

async fn ics_feed(backend: Backend) {
    let (w, profile) = import_world(backend, SimConfig::default(), 50).await;
    let room = "raum.berlin@contoso.example";
    let sub = subscribe(&w, profile, room).await;
    let day = (Utc::now() + Duration::days(2)).date_naive();
    let cancelled = {
        let mut sim = w.sim.sim.lock();
        let mut all_day = NewEvent {
            calendar: room.into(),
            subject: "Betriebsversammlung".into(),
            body: "Vertraulich: Tagesordnung".into(),
            start: day.and_hms_opt(0, 0, 0).expect("t"),
            end: (day + Duration::days(1)).and_hms_opt(0, 0, 0).expect("t"),
            time_zone: "W. Europe Standard Time".into(),
            is_all_day: true,
            sensitivity: "normal".into(),
            organizer: Some("anna.schmidt@contoso.example".into()),
            attendees: vec!["petra.gast@partner.example".into()],
            location: None,
            recurrence: None,
            categories: vec![],
        };
        sim.create_event(all_day.clone()).expect("all day");
        all_day.subject = "Abgesagtes Treffen".into();
        all_day.is_all_day = false;
        all_day.start = day.and_hms_opt(9, 0, 0).expect("t");
        all_day.end = day.and_hms_opt(10, 0, 0).expect("t");
        sim.create_event(all_day).expect("create")
    };
    w.sim
        .sim
        .lock()
        .update_event(
            &cancelled,
            EventPatch {
                is_cancelled: Some(true),
                ..Default::default()
            },
        )
        .expect("cancel");
    assert_eq!(run(&w, sub).await.status, "ok");

    let page = w.admin.get(&format!("/subscriptions/{sub}")).await;
    assert!(page.body.contains("Create feed address"), "{}", page.body);
    let created = w
        .admin
        .post(
            &format!("/subscriptions/{sub}/feed"),
            &[("action", "create")],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let url = feed_url(&created.body).expect("the new address is shown");
    // Shown once: the page does not show it again, only that it exists.
    let again = w.admin.get(&format!("/subscriptions/{sub}")).await;
    assert!(feed_url(&again.body).is_none());
    assert!(again.body.contains("A feed address exists since"));
    let token = url
        .rsplit('/')
        .next()
        .unwrap_or("")
        .trim_end_matches(".ics")
        .to_string();
    let stored = w
        .app
        .query_strings(
            "SELECT feed_token_hash FROM subscriptions WHERE feed_token_hash IS NOT NULL",
            &[],
        )
        .await;
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], token, "only a fingerprint is stored");

    // Anyone with the address, no sign-in: the calendar as a client reads it.
    let http = reqwest::Client::new();
    let response = http.get(&url).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/calendar; charset=utf-8")
    );
    let text = response.text().await.expect("body");
    let calendar: Calendar = text.parse().expect("valid iCalendar");
    let events: Vec<_> = calendar.events().collect();
    let stored_rows = w.app.db().events_of(sub).await.expect("events");
    assert_eq!(events.len(), stored_rows.len());
    assert_eq!(calendar.get_name(), Some("raum.berlin@contoso.example"));
    let by_summary = |s: &str| {
        events
            .iter()
            .find(|e| e.get_summary() == Some(s))
            .unwrap_or_else(|| panic!("{s} in the feed"))
    };
    assert_eq!(
        by_summary("Abgesagtes Treffen").get_status(),
        Some(EventStatus::Cancelled)
    );
    let all_day = by_summary("Betriebsversammlung");
    assert_eq!(
        all_day.get_start(),
        Some(icalendar::DatePerhapsTime::Date(day)),
        "an all-day event is a date"
    );
    // A schedule, not the meetings' contents.
    assert!(
        !text.contains("ATTENDEE")
            && !text.contains("petra.gast")
            && !text.contains("Tagesordnung")
    );

    // A new address replaces the old one; turned off, none works; made-up ones never did.
    let replaced = w
        .admin
        .post(
            &format!("/subscriptions/{sub}/feed"),
            &[("action", "create")],
        )
        .await;
    let new_url = feed_url(&replaced.body).expect("new address");
    assert_ne!(new_url, url);
    assert_eq!(
        http.get(&url).send().await.expect("GET").status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http.get(&new_url).send().await.expect("GET").status(),
        StatusCode::OK
    );
    let off = w
        .admin
        .post(
            &format!("/subscriptions/{sub}/feed"),
            &[("action", "disable")],
        )
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    assert_eq!(
        http.get(&new_url).send().await.expect("GET").status(),
        StatusCode::NOT_FOUND
    );
    for forged in ["/feeds/x.ics", "/feeds/.ics", "/feeds/abc"] {
        let r = http
            .get(format!("{}{forged}", w.app.base))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{forged}");
    }
    let actions = w.app.audit_actions().await;
    for a in [
        "subscription.feed_created",
        "subscription.feed_replaced",
        "subscription.feed_disabled",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}");
    }
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(ics_feed, ics_feed);

/// Anyone who can put an event into a subscribed calendar (an external invitation to a room)
/// controls its subject, location and organizer: planted at the simulator with line breaks,
/// bare CRs and quotes, they stay inside their fields. A parser finds one VEVENT per stored
/// row, no property of the sender's, and each field as stored (controls as spaces).
async fn hostile_feed(backend: Backend) {
    let (w, profile) = import_world(backend, SimConfig::default(), 200).await;
    let room = "raum.berlin@contoso.example";
    let sub = subscribe(&w, profile, room).await;
    let day = (Utc::now() + Duration::days(3)).date_naive();
    let subject = "Termin\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270101\r\nSUMMARY:Raum blockiert";
    let id = {
        let mut sim = w.sim.sim.lock();
        let id = sim
            .create_event(NewEvent {
                calendar: room.into(),
                subject: subject.into(),
                body: String::new(),
                start: day.and_hms_opt(9, 0, 0).expect("t"),
                end: day.and_hms_opt(10, 0, 0).expect("t"),
                time_zone: "W. Europe Standard Time".into(),
                is_all_day: false,
                sensitivity: "normal".into(),
                organizer: Some("anna.schmidt@contoso.example".into()),
                attendees: vec![],
                location: Some("Lobby\rATTACH:https://evil.example/a".into()),
                recurrence: None,
                categories: vec![],
            })
            .expect("event");
        let e = sim.events.get_mut(&id).expect("stored");
        e.organizer = datapump_sim::model::Person {
            name: "Eve \"\";X=1:\r\nATTACH:https://evil.example/b".into(),
            address: "eve@fabrikam.example".into(),
        };
        id
    };
    assert_eq!(run(&w, sub).await.status, "ok");
    let created = w
        .admin
        .post(
            &format!("/subscriptions/{sub}/feed"),
            &[("action", "create")],
        )
        .await;
    let url = feed_url(&created.body).expect("address");
    let text = reqwest::get(&url)
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("ATTACH") || l == "DTSTART;VALUE=DATE:20270101"),
        "no line of the sender's: {text}"
    );
    let calendar: Calendar = text.parse().expect("valid iCalendar");
    let events: Vec<_> = calendar.events().collect();
    let rows = w.app.db().events_of(sub).await.expect("events");
    assert_eq!(events.len(), rows.len(), "one VEVENT per row");
    let row = rows.iter().find(|r| r.graph_id == id).expect("stored");
    let spaced = |s: &str| s.replace(['\r', '\n'], " ");
    let forged = events
        .iter()
        .find(|e| e.get_summary() == row.subject.as_deref().map(spaced).as_deref())
        .expect("the event, its subject as stored");
    assert_eq!(
        forged.property_value("LOCATION"),
        row.location.as_deref().map(spaced).as_deref()
    );
    let organizer = forged.properties().get("ORGANIZER").expect("organizer");
    assert_eq!(organizer.value(), "mailto:eve@fabrikam.example");
    assert_eq!(
        organizer.params().get("CN").map(|p| p.value().to_string()),
        row.organizer_name
            .as_deref()
            .map(|n| spaced(n).replace('"', "^'"))
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(hostile_values_stay_in_their_fields, hostile_feed);

//! The subscription's page shows what was imported, as readers get it: today's and the coming
//! week's events, private ones masked, cancelled ones marked, searchable.

use chrono::{Duration, Utc};
use datapump_sim::{EventPatch, NewEvent, SimConfig};

use crate::common::{Backend, on_both_backends};
use crate::import::{import_world, run, subscribe};

async fn imported_events_on_the_page(backend: Backend) {
    let (w, profile) = import_world(backend, SimConfig::default(), 50).await;
    let room = "raum.berlin@contoso.example";
    let sub = subscribe(&w, profile, room).await;
    let db = w.app.db();
    let mut settings = db.subscription(sub).await.expect("sub").settings();
    settings.mask_private = true;
    let version = db.subscription(sub).await.expect("sub").version;
    db.update_subscription(sub, &settings, version, None)
        .await
        .expect("mask");
    let day = (Utc::now() + Duration::days(2)).date_naive();
    let meeting = |subject: &str, days: i64, attendees: &[&str]| NewEvent {
        calendar: room.into(),
        subject: subject.into(),
        body: "Text".into(),
        start: (day + Duration::days(days))
            .and_hms_opt(10, 0, 0)
            .expect("t"),
        end: (day + Duration::days(days))
            .and_hms_opt(11, 0, 0)
            .expect("t"),
        time_zone: "UTC".into(),
        is_all_day: false,
        sensitivity: "normal".into(),
        organizer: Some("anna.schmidt@contoso.example".into()),
        attendees: attendees.iter().map(|a| a.to_string()).collect(),
        location: Some("Haus A, 2. OG".into()),
        recurrence: None,
        categories: vec![],
    };
    {
        let mut sim = w.sim.sim.lock();
        sim.create_event(meeting(
            "Kundenbesuch Fabrikam",
            0,
            &["gast@fabrikam.example", "ben.mueller@contoso.example"],
        ))
        .expect("visit");
        let mut private = meeting("Arzttermin Geheim", 1, &[]);
        private.sensitivity = "private".into();
        sim.create_event(private).expect("private");
        let cancelled = sim
            .create_event(meeting("Quartalsrunde", 1, &[]))
            .expect("cancelled");
        sim.update_event(
            &cancelled,
            EventPatch {
                is_cancelled: Some(true),
                ..EventPatch::default()
            },
        )
        .expect("cancel");
        sim.create_event(meeting("Rabatt 100% <b>fett</b>", 3, &[]))
            .expect("odd");
        sim.create_event(meeting("Weit weg", 12, &[]))
            .expect("later");
    }
    run(&w, sub).await;
    let page = |q: &str| {
        let path = if q.is_empty() {
            format!("/subscriptions/{sub}")
        } else {
            format!(
                "/subscriptions/{sub}?events_q={}",
                url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            )
        };
        let admin = &w.admin;
        async move { admin.get(&path).await }
    };
    let all = page("").await;
    assert_eq!(all.status, reqwest::StatusCode::OK);
    let body = all.body;
    assert!(
        body.contains("Imported events: today and the next 7 days"),
        "{body}"
    );
    assert!(body.contains("Kundenbesuch Fabrikam"), "{body}");
    assert!(body.contains("Haus A, 2. OG"));
    // Times in the admin's zone (the instance's, Europe/Berlin): 10:00 UTC is 11:00 CET.
    let shown = day.format("%Y-%m-%d").to_string();
    assert!(
        body.contains(&format!("{shown} 11:00–12:00 CET"))
            || body.contains(&format!("{shown} 12:00–13:00 CEST")),
        "{body}"
    );
    // Masked as stored: the reader gets no subject, neither does the page.
    assert!(!body.contains("Arzttermin"), "{body}");
    assert!(body.contains("Private event (masked)"));
    assert!(
        body.contains(r#"<tr class="cancelled">"#) && body.contains(">cancelled<"),
        "{body}"
    );
    assert!(
        body.contains("Rabatt 100% &#60;b&#62;fett&#60;/b&#62;")
            || body.contains("Rabatt 100% &lt;b&gt;fett&lt;/b&gt;"),
        "escaped: {body}"
    );
    assert!(!body.contains("Weit weg"), "beyond the week");

    // Search: subject, attendee address, case-insensitively; LIKE's % taken literally.
    let found = page("fabrikam").await.body;
    assert!(
        found.contains("Kundenbesuch Fabrikam") && !found.contains("Quartalsrunde"),
        "{found}"
    );
    let by_guest = page("GAST@fabrikam").await.body;
    assert!(by_guest.contains("Kundenbesuch Fabrikam"), "{by_guest}");
    let literal = page("100%").await.body;
    assert!(
        literal.contains("Rabatt 100%") && !literal.contains("Kundenbesuch"),
        "{literal}"
    );
    let percent = page("%").await.body;
    assert!(
        percent.contains("Rabatt 100%") && !percent.contains("Kundenbesuch"),
        "% is a character: {percent}"
    );
    let none = page("Zeppelin").await.body;
    assert!(
        none.contains("No event in this period contains “Zeppelin”."),
        "{none}"
    );
    // A search does not reveal what masking removed.
    assert!(
        !page("Arzttermin")
            .await
            .body
            .contains("Private event (masked)")
    );
    // German page, German words.
    let de = w
        .admin
        .get_with(
            &format!("/subscriptions/{sub}"),
            &[("accept-language", "de")],
        )
        .await
        .body;
    assert!(
        de.contains("Importierte Termine") && de.contains("abgesagt"),
        "{de}"
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(imported_events_on_the_page, imported_events_on_the_page);

/// Requirement 28: what Graph delivers is escaped wherever a page shows it. A subject, an
/// organizer name and a location carrying markup appear as text on the subscription page.
async fn markup_is_text(backend: Backend) {
    let (w, profile) = import_world(backend, SimConfig::default(), 50).await;
    let room = "raum.berlin@contoso.example";
    let sub = subscribe(&w, profile, room).await;
    let day = (Utc::now() + Duration::days(1)).date_naive();
    w.sim
        .sim
        .lock()
        .create_event(NewEvent {
            calendar: room.into(),
            subject: "<script>alert(1)</script>".into(),
            body: String::new(),
            start: day.and_hms_opt(10, 0, 0).expect("t"),
            end: day.and_hms_opt(11, 0, 0).expect("t"),
            time_zone: "W. Europe Standard Time".into(),
            is_all_day: false,
            sensitivity: "normal".into(),
            organizer: Some("anna.schmidt@contoso.example".into()),
            attendees: vec![],
            location: Some("<img src=x onerror=alert(2)>".into()),
            recurrence: None,
            categories: vec![],
        })
        .expect("event");
    assert_eq!(run(&w, sub).await.status, "ok");
    let page = w
        .admin
        .get(&format!("/subscriptions/{sub}?events_q=alert"))
        .await
        .body;
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{page}"
    );
    assert!(
        page.contains("&#60;img src=x onerror=alert(2)&#62;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert(1)"), "no markup of Graph's");
    assert!(!page.contains("<img src=x"), "no markup of Graph's");
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(graph_markup_is_shown_as_text, markup_is_text);

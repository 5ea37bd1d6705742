//! Rooms' reception data: entered by an admin while the account may not read Microsoft's room
//! directory; from the directory once Place.Read.All is consented (an admin's entry kept until
//! handed back); a directory that cannot be read changes nothing; the API shows it.

use datapump_sim::{FaultKind, FaultRule, SimConfig};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Backend, Options, on_both_backends};
use crate::import::subscribe;
use crate::profiles::{authorize, create_profile, world_with};

async fn rooms(backend: Backend) {
    let w = world_with(backend, Options::default(), SimConfig::default()).await;
    let profile = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    authorize(&w, profile).await;
    let berlin = "raum.berlin@contoso.example";
    let munich = "raum.muenchen@contoso.example";
    let b = subscribe(&w, profile, berlin).await;
    let m = subscribe(&w, profile, munich).await;

    // The guide's registration cannot read the directory: the page says what to add.
    let page = w.admin.get("/rooms").await.body;
    assert!(page.contains("Place.Read.All"), "{page}");
    let refreshed = w.admin.post("/rooms/refresh", &[]).await;
    assert_eq!(refreshed.status, StatusCode::SEE_OTHER);
    assert!(w.app.db().list_rooms().await.expect("rooms").is_empty());

    // An admin enters the data; a bad number is refused on the page and stores nothing.
    let edit = format!("/rooms/{b}");
    let refused = w
        .admin
        .post(&edit, &[("building", "Haus A"), ("capacity", "zwölf")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("whole number"), "{}", refused.body);
    assert!(w.app.db().room(b).await.expect("room").is_none());
    let saved = w
        .admin
        .post(
            &edit,
            &[
                ("building", "Haus A"),
                ("floor_label", "Erdgeschoss"),
                ("capacity", "12"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let room = w.app.db().room(b).await.expect("room").expect("stored");
    assert_eq!(room.source, "admin");
    assert_eq!(
        (
            room.building.as_deref(),
            room.capacity,
            room.updated_by.as_deref()
        ),
        (Some("Haus A"), Some(12), Some("anna"))
    );

    // Place.Read.All consented for the organisation and the profile authorized again: the
    // directory fills in Munich; Berlin keeps the admin's entry.
    {
        let mut s = w.sim.sim.lock();
        let registered = s
            .app_mut(datapump_sim::state::DEFAULT_CLIENT_ID)
            .expect("app");
        registered.permissions.insert("Place.Read.All".into());
        s.set_consent(datapump_sim::state::DEFAULT_CLIENT_ID, true)
            .expect("consent");
    }
    authorize(&w, profile).await;
    assert!(
        !w.admin
            .get("/rooms")
            .await
            .body
            .contains("may not read the room directory")
    );
    // A directory that cannot be read changes nothing.
    w.sim.sim.lock().faults.push(FaultRule {
        kind: FaultKind::AccessDenied,
        rate: 0.0,
        next: Some(1),
        path_contains: Some("places".into()),
    });
    w.admin.post("/rooms/refresh", &[]).await;
    let shown = w.admin.get("/rooms").await.body;
    assert!(shown.contains("could not be read"), "{shown}");
    assert!(w.app.db().room(m).await.expect("room").is_none());

    w.admin.post("/rooms/refresh", &[]).await;
    let munich_room = w
        .app
        .db()
        .room(m)
        .await
        .expect("room")
        .expect("from the directory");
    assert_eq!(munich_room.source, "directory");
    assert_eq!(munich_room.building.as_deref(), Some("Nebengebäude"));
    assert!(munich_room.capacity.is_some() && munich_room.address.is_some());
    // The room list it is on (the simulator's lists are its buildings).
    assert_eq!(munich_room.room_list.as_deref(), Some("Nebengebäude"));
    assert_eq!(
        w.app
            .db()
            .room(b)
            .await
            .expect("room")
            .expect("kept")
            .capacity,
        Some(12),
        "the admin's entry is kept"
    );

    // Handed back: Berlin follows the directory.
    let reset = w.admin.post(&format!("{edit}/reset"), &[]).await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER);
    let berlin_room = w.app.db().room(b).await.expect("room").expect("refilled");
    assert_eq!(berlin_room.source, "directory");
    assert_eq!(berlin_room.building.as_deref(), Some("Hauptgebäude"));
    // Room lists that cannot be read leave the stored list names alone.
    w.sim.sim.lock().faults.push(FaultRule {
        kind: FaultKind::AccessDenied,
        rate: 0.0,
        next: Some(1),
        path_contains: Some("microsoft.graph.roomlist".into()),
    });
    w.admin.post("/rooms/refresh", &[]).await;
    assert_eq!(
        w.app
            .db()
            .room(m)
            .await
            .expect("room")
            .and_then(|r| r.room_list)
            .as_deref(),
        Some("Nebengebäude")
    );
    let actions = w.app.audit_actions().await;
    assert!(
        actions.contains(&"room.updated".to_string())
            && actions.contains(&"room.reset".to_string())
    );

    // The API gives the reader the same.
    let created = w
        .admin
        .post("/api-tokens", &[("name", "Foyer"), ("scope", "all")])
        .await;
    let at = created.body.find("value=\"dp_").expect("token") + "value=\"".len();
    let token = created.body[at..]
        .split('"')
        .next()
        .expect("token")
        .to_string();
    let body: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/rooms", w.app.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let api_room = body["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|r| r["address"] == munich)
        .cloned()
        .expect("munich");
    assert_eq!(api_room["building"], "Nebengebäude");
    assert_eq!(api_room["room_list"], "Nebengebäude");
    assert_eq!(api_room["capacity"].as_i64(), munich_room.capacity);
    assert_eq!(
        api_room["location"].as_str(),
        munich_room.address.as_deref()
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(room_data, rooms);

/// Internal domains: entered by an admin (bad entries refused, nothing saved), read from the
/// tenant where the account may (kept when a later read fails); attendees reclassified.
async fn internal_domains(backend: Backend) {
    let (w, profile) = crate::import::import_world(backend, SimConfig::default(), 50).await;
    let berlin = "raum.berlin@contoso.example";
    let b = subscribe(&w, profile, berlin).await;
    let day = (chrono::Utc::now() + chrono::Duration::days(1)).date_naive();
    w.sim
        .sim
        .lock()
        .create_event(datapump_sim::NewEvent {
            calendar: berlin.into(),
            subject: "Abstimmung".into(),
            body: String::new(),
            start: day.and_hms_opt(10, 0, 0).expect("t"),
            end: day.and_hms_opt(11, 0, 0).expect("t"),
            time_zone: "W. Europe Standard Time".into(),
            is_all_day: false,
            sensitivity: "normal".into(),
            organizer: Some("anna.schmidt@contoso.example".into()),
            attendees: vec![
                "petra.gast@partner.example".into(),
                "kim.berg@tochter-gmbh.de".into(),
            ],
            location: None,
            recurrence: None,
            categories: vec![],
        })
        .expect("create");
    assert_eq!(crate::import::run(&w, b).await.status, "ok");
    let kind = |address: &'static str| {
        let app = &w.app;
        async move {
            app.query_strings(
                "SELECT kind FROM event_attendees WHERE address = $1",
                &[address],
            )
            .await
        }
    };
    assert_eq!(kind("kim.berg@tochter-gmbh.de").await, ["external"]);
    let page = w.admin.get("/internal-domains").await.body;
    assert!(page.contains("<code>contoso.example</code>"), "{page}");

    // A bad entry: said on the page, nothing saved.
    let refused = w
        .admin
        .post(
            "/internal-domains",
            &[("domains", "tochter-gmbh.de\nno_domain")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("Not a domain: no_domain"),
        "{}",
        refused.body
    );
    assert_eq!(kind("kim.berg@tochter-gmbh.de").await, ["external"]);
    let saved = w
        .admin
        .post("/internal-domains", &[("domains", "@Tochter-GmbH.de")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(kind("kim.berg@tochter-gmbh.de").await, ["internal"]);
    assert_eq!(kind("petra.gast@partner.example").await, ["external"]);
    let visitors = w
        .app
        .query_strings("SELECT visitor_address FROM expected_visitors", &[])
        .await;
    assert_eq!(visitors, ["petra.gast@partner.example"]);

    // The tenant's verified domains: not readable without User.Read (said, nothing changes);
    // with it, read; a later failure keeps them.
    w.admin.post("/internal-domains/refresh", &[]).await;
    let page = w.admin.get("/internal-domains").await.body;
    assert!(page.contains("domains could be read"), "{page}");
    {
        let mut s = w.sim.sim.lock();
        let registered = s
            .app_mut(datapump_sim::state::DEFAULT_CLIENT_ID)
            .expect("app");
        registered.permissions.insert("User.Read".into());
        s.set_consent(datapump_sim::state::DEFAULT_CLIENT_ID, true)
            .expect("consent");
    }
    authorize(&w, profile).await;
    w.admin.post("/internal-domains/refresh", &[]).await;
    let page = w.admin.get("/internal-domains").await.body;
    assert!(
        page.contains("<code>contoso.onmicrosoft.com</code>"),
        "{page}"
    );
    assert!(page.contains("verified domain of the tenant"));
    w.sim.sim.lock().faults.push(FaultRule {
        kind: FaultKind::AccessDenied,
        rate: 0.0,
        next: Some(1),
        path_contains: Some("organization".into()),
    });
    w.admin.post("/internal-domains/refresh", &[]).await;
    let page = w.admin.get("/internal-domains").await.body;
    assert!(page.contains("domains could be read"));
    assert!(
        page.contains("<code>contoso.onmicrosoft.com</code>"),
        "kept"
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(internal_domains_from_admin_and_tenant, internal_domains);

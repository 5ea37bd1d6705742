//! The read-only API: tokens an admin creates (shown once, stored hashed, scoped, revocable,
//! counted), and what a reader gets with them; wrong, revoked and out-of-scope tokens learn
//! nothing.

use chrono::{Duration, Utc};
use datapump_sim::{NewEvent, SimConfig};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Backend, on_both_backends};
use crate::import::{import_world, run, subscribe};

fn token_in(body: &str) -> Option<String> {
    let start = body.find("value=\"dp_")? + "value=\"".len();
    let rest = &body[start..];
    Some(rest[..rest.find('"')?].to_string())
}

async fn read_only_api(backend: Backend) {
    let (w, profile) = import_world(backend, SimConfig::default(), 50).await;
    let berlin = "raum.berlin@contoso.example";
    let munich = "raum.muenchen@contoso.example";
    let b = subscribe(&w, profile, berlin).await;
    let m = subscribe(&w, profile, munich).await;
    let day = (Utc::now() + Duration::days(1)).date_naive();
    w.sim
        .sim
        .lock()
        .create_event(NewEvent {
            calendar: berlin.into(),
            subject: "Besuch Partner".into(),
            body: String::new(),
            start: day.and_hms_opt(10, 0, 0).expect("t"),
            end: day.and_hms_opt(11, 0, 0).expect("t"),
            time_zone: "W. Europe Standard Time".into(),
            is_all_day: false,
            sensitivity: "normal".into(),
            organizer: Some("anna.schmidt@contoso.example".into()),
            attendees: vec!["petra.gast@partner.example".into()],
            location: None,
            recurrence: None,
            categories: vec![],
        })
        .expect("create");
    assert_eq!(run(&w, b).await.status, "ok");
    assert_eq!(run(&w, m).await.status, "ok");

    // Creating tokens: a name and a scope, or the form says what is missing and nothing is made.
    assert!(
        w.admin
            .get("/api-tokens")
            .await
            .body
            .contains("No tokens yet")
    );
    let refused = w.admin.post("/api-tokens", &[("name", "Empfang")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("at least one subscription"));
    let b_id = b.to_string();
    let created = w
        .admin
        .post(
            "/api-tokens",
            &[("name", "Empfang Berlin"), ("subscription", &b_id)],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let berlin_token = token_in(&created.body).expect("shown once");
    assert!(
        token_in(&w.admin.get("/api-tokens").await.body).is_none(),
        "only once"
    );
    let all = w
        .admin
        .post("/api-tokens", &[("name", "Alles"), ("scope", "all")])
        .await;
    let all_token = token_in(&all.body).expect("token");
    let hashes = w
        .app
        .query_strings("SELECT token_hash FROM api_tokens", &[])
        .await;
    assert_eq!(hashes.len(), 2);
    assert!(!hashes.contains(&berlin_token) && !hashes.contains(&all_token));

    let http = reqwest::Client::new();
    let api = |path: &str| format!("{}/api/v1{path}", w.app.base);
    let get = |path: String, token: Option<String>| {
        let http = http.clone();
        async move {
            let mut r = http.get(path);
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            let response = r.send().await.expect("GET");
            let status = response.status();
            let headers = response.headers().clone();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, headers, body)
        }
    };
    // Without, or with a wrong token: 401 as problem+json, nothing else.
    for token in [None, Some("dp_made-up".to_string())] {
        let (status, headers, body) = get(api("/rooms"), token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        assert!(headers.contains_key("www-authenticate"));
        assert_eq!(body["status"], 401);
        assert!(body.get("rooms").is_none());
    }
    // A scoped token sees its room only.
    let (status, _, body) = get(api("/rooms"), Some(berlin_token.clone())).await;
    assert_eq!(status, StatusCode::OK);
    let rooms = body["rooms"].as_array().expect("rooms");
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0]["address"], berlin);
    let (status, _, _) = get(
        api(&format!("/rooms/{m}/events")),
        Some(berlin_token.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, body) = get(api("/rooms"), Some(all_token.clone())).await;
    assert_eq!(body["rooms"].as_array().map(Vec::len), Some(2));

    // A room's day, with the ETag answered by 304.
    let path = api(&format!(
        "/rooms/{b}/events?from={day}&to={}",
        day + Duration::days(1)
    ));
    let (status, headers, body) = get(path.clone(), Some(berlin_token.clone())).await;
    assert_eq!(status, StatusCode::OK);
    let events = body["events"].as_array().expect("events");
    let visit = events
        .iter()
        .find(|e| e["subject"] == "Besuch Partner")
        .expect("the meeting of that day");
    assert_eq!(visit["start_local"], format!("{day}T10:00:00"));
    assert_eq!(visit["importance"], "normal");
    let etag = headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("etag")
        .to_string();
    let again = http
        .get(&path)
        .bearer_auth(&berlin_token)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let (status, _, body) = get(
        api(&format!("/rooms/{b}/events?from=yesterday")),
        Some(berlin_token.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().unwrap_or("").contains("RFC 3339"));

    // Paging: a small page size walked by cursor gives exactly the one big page, in order.
    let range = format!(
        "/rooms/{b}/events?from={}&to={}",
        day - Duration::days(10),
        day + Duration::days(30)
    );
    let (_, _, whole) = get(
        api(&format!("{range}&limit=500")),
        Some(berlin_token.clone()),
    )
    .await;
    let ids = |body: &serde_json::Value| -> Vec<i64> {
        body["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["id"].as_i64())
            .collect()
    };
    let all = ids(&whole);
    assert!(whole["next_cursor"].is_null());
    assert!(all.len() > 14, "enough events to page: {}", all.len());
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{range}&limit=7");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, _, body) = get(api(&path), Some(berlin_token.clone())).await;
        assert_eq!(status, StatusCode::OK);
        let page = ids(&body);
        assert!(page.len() <= 7);
        paged.extend(page);
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, all);
    for bad in ["12", "x.y.z", "1.2.3.4", "-99999999999999999.0.1"] {
        let (status, _, body) = get(
            api(&format!("{range}&cursor={bad}")),
            Some(berlin_token.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["detail"].as_str().unwrap_or("").contains("cursor"));
    }

    // The change feed, filtered to the token's scope, walked to its end.
    let mut after = 0;
    let mut seen = 0;
    loop {
        let (status, _, body) = get(
            api(&format!("/changes?after={after}&limit=100")),
            Some(berlin_token.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let changes = body["changes"].as_array().expect("changes");
        assert!(changes.iter().all(|c| c["subscription_id"] == b));
        seen += changes.len();
        let next = body["next_after"].as_i64().expect("next");
        if next == after {
            break;
        }
        after = next;
    }
    let stored = w.app.db().events_of(b).await.expect("events").len();
    assert_eq!(
        seen, stored,
        "one upsert per Berlin event, nothing of München"
    );

    // The day's visitors.
    let (status, _, body) = get(
        api(&format!("/visitors?date={day}")),
        Some(berlin_token.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let visitors = body["visitors"].as_array().expect("visitors");
    assert!(
        visitors
            .iter()
            .any(|v| v["visitor_address"] == "petra.gast@partner.example"
                && v["company"] == "partner"),
        "{visitors:?}"
    );
    let (status, _, body) = get(api("/nothing-here"), Some(berlin_token.clone())).await;
    assert_eq!(
        (status, body["status"].as_i64()),
        (StatusCode::NOT_FOUND, Some(404))
    );

    // Uses are counted and shown; a revoked token stops at once.
    let list = w.admin.get("/api-tokens").await;
    assert!(list.body.contains("Empfang Berlin"));
    let counts = w
        .app
        .query_strings(
            "SELECT CAST(use_count AS TEXT) FROM api_tokens WHERE name = 'Empfang Berlin'",
            &[],
        )
        .await;
    assert!(counts[0].parse::<i64>().unwrap_or(0) >= 8, "{counts:?}");
    let id = w
        .app
        .query_strings(
            "SELECT CAST(id AS TEXT) FROM api_tokens WHERE name = 'Empfang Berlin'",
            &[],
        )
        .await;
    let revoked = w
        .admin
        .post(&format!("/api-tokens/{}/revoke", id[0]), &[])
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let (status, _, _) = get(api("/rooms"), Some(berlin_token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let actions = w.app.audit_actions().await;
    assert!(actions.iter().any(|a| a == "api_token.created"));
    assert!(actions.iter().any(|a| a == "api_token.revoked"));
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(read_only_api, read_only_api);

/// Each token has its own rate: past it, 429 with Retry-After; other tokens carry on.
async fn rate_per_token(backend: Backend) {
    use datapump::storage::api_tokens::TokenScope;
    let options = crate::common::Options {
        env: vec![("DATAPUMP_API_REQUESTS_PER_MINUTE", "3".into())],
        ..crate::common::Options::default()
    };
    let app = crate::common::TestApp::spawn_with(backend, options).await;
    for name in ["busy", "calm"] {
        app.db()
            .create_api_token(
                name,
                &datapump::crypto::token_hash(name),
                &TokenScope::All,
                "test",
                None,
                &Default::default(),
            )
            .await
            .expect("token");
    }
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/rooms", app.base);
    for _ in 0..3 {
        let r = http
            .get(&url)
            .bearer_auth("busy")
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), StatusCode::OK);
    }
    let over = http
        .get(&url)
        .bearer_auth("busy")
        .send()
        .await
        .expect("GET");
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = over
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = over.json().await.expect("problem");
    assert_eq!(body["status"], 429);
    let calm = http
        .get(&url)
        .bearer_auth("calm")
        .send()
        .await
        .expect("GET");
    assert_eq!(calm.status(), StatusCode::OK);
    app.stop().await;
}
on_both_backends!(rate_per_token, rate_per_token);

/// An API token may expire (issue 30, item 9): a past date is refused on the form; a token
/// with a date works until that day, then is refused like a revoked one, and the tokens page
/// says so in both languages.
async fn token_expiry(backend: Backend) {
    let (w, profile) = import_world(backend, SimConfig::default(), 50).await;
    let sub = subscribe(&w, profile, "raum.berlin@contoso.example")
        .await
        .to_string();
    let yesterday = (Utc::now() - Duration::days(1)).date_naive().to_string();
    let refused = w
        .admin
        .post(
            "/api-tokens",
            &[
                ("name", "Alt"),
                ("subscription", &sub),
                ("expires_on", &yesterday),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("a date in the future"),
        "{}",
        refused.body
    );
    let soon = (Utc::now() + Duration::days(10)).date_naive().to_string();
    let created = w
        .admin
        .post(
            "/api-tokens",
            &[
                ("name", "Messe"),
                ("subscription", &sub),
                ("expires_on", &soon),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let token = token_in(&created.body).expect("token");
    let http = reqwest::Client::new();
    let rooms = format!("{}/api/v1/rooms", w.app.base);
    let status = |token: String| {
        let (http, rooms) = (http.clone(), rooms.clone());
        async move {
            http.get(rooms)
                .bearer_auth(token)
                .send()
                .await
                .expect("GET")
                .status()
        }
    };
    assert_eq!(status(token.clone()).await, StatusCode::OK);
    let page = w.admin.get("/api-tokens").await.body;
    assert!(page.contains(&format!("expires on {soon}")), "{page}");
    let de = w
        .admin
        .get_with("/api-tokens", &[("accept-language", "de")])
        .await
        .body;
    assert!(de.contains(&format!("läuft am {soon} ab")), "{de}");
    // Reminded on the dashboard, as an expiring client secret is.
    let dashboard = w.admin.get("/").await.body;
    assert!(
        dashboard.contains("API tokens expiring") && dashboard.contains("Messe"),
        "{dashboard}"
    );
    let today = Utc::now().date_naive().to_string();
    let sql = if w.app.is_sqlite() {
        "UPDATE api_tokens SET expires_on = $1"
    } else {
        "UPDATE api_tokens SET expires_on = $1::date"
    };
    w.app.execute_sql(&[(sql, vec![today.as_str()])]).await;
    assert_eq!(status(token).await, StatusCode::UNAUTHORIZED);
    let page = w.admin.get("/api-tokens").await.body;
    assert!(page.contains(&format!("expired on {today}")), "{page}");
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(api_tokens_expire, token_expiry);

//! Outbound webhooks: a consumer's address receives every change of its scope at least once,
//! signed; failures are shown and retried; a hanging receiver never holds up an import; changes
//! pruned before delivery are announced; a revoked consumer gets nothing more.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use chrono::Utc;
use datapump_sim::{NewEvent, SimConfig};
use hmac::{KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Backend, on_both_backends};
use crate::import::{import_world, run, subscribe};

#[derive(Default)]
struct Inbox {
    /// Every request: headers, body, and whether it was acknowledged.
    requests: Vec<(HeaderMap, Bytes, bool)>,
    /// Answer 500 while set.
    failing: bool,
    /// Do not answer (longer than Datapump waits) while set.
    hanging: bool,
}

struct Receiver {
    url: String,
    inbox: Arc<Mutex<Inbox>>,
}

impl Receiver {
    async fn start() -> Self {
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let shared = inbox.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let inbox = shared.clone();
                async move {
                    let (failing, hanging) = {
                        let i = inbox.lock().expect("inbox");
                        (i.failing, i.hanging)
                    };
                    if hanging {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    let ok = !failing && !hanging;
                    inbox
                        .lock()
                        .expect("inbox")
                        .requests
                        .push((headers, body, ok));
                    if ok {
                        AxumStatus::NO_CONTENT
                    } else {
                        AxumStatus::INTERNAL_SERVER_ERROR
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/hook"),
            inbox,
        }
    }

    fn set(&self, failing: bool, hanging: bool) {
        let mut i = self.inbox.lock().expect("inbox");
        i.failing = failing;
        i.hanging = hanging;
    }

    fn requests(&self) -> usize {
        self.inbox.lock().expect("inbox").requests.len()
    }

    /// The acknowledged deliveries' bodies, each checked against the signature computed here
    /// from the secret (independently of Datapump's signing code).
    fn acknowledged(&self, secret: &str) -> Vec<Value> {
        let inbox = self.inbox.lock().expect("inbox");
        inbox
            .requests
            .iter()
            .filter(|(_, _, ok)| *ok)
            .map(|(headers, body, _)| {
                let header = headers
                    .get("datapump-signature")
                    .and_then(|v| v.to_str().ok())
                    .expect("signed");
                let (t, v1) = header
                    .strip_prefix("t=")
                    .and_then(|rest| rest.split_once(",v1="))
                    .expect("t=…,v1=…");
                let t: i64 = t.parse().expect("timestamp");
                assert!((Utc::now().timestamp() - t).abs() < 300, "fresh timestamp");
                let mut mac =
                    <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
                        .expect("key");
                mac.update(format!("{t}.").as_bytes());
                mac.update(body);
                mac.verify_slice(&hex::decode(v1).expect("hex"))
                    .expect("signature matches the secret");
                assert_eq!(
                    headers.get("content-type").and_then(|v| v.to_str().ok()),
                    Some("application/json")
                );
                serde_json::from_slice(body).expect("JSON")
            })
            .collect()
    }
}

fn secret_in(body: &str) -> Option<String> {
    let start = body.find("value=\"whsec_")? + "value=\"".len();
    let rest = &body[start..];
    Some(rest[..rest.find('"')?].to_string())
}

fn meeting(calendar: &str, subject: &str, hours_ahead: i64) -> NewEvent {
    let start = (Utc::now() + chrono::Duration::hours(hours_ahead)).naive_utc();
    NewEvent {
        calendar: calendar.into(),
        subject: subject.into(),
        body: String::new(),
        start,
        end: start + chrono::Duration::hours(1),
        time_zone: "UTC".into(),
        is_all_day: false,
        sensitivity: "normal".into(),
        organizer: Some("anna.schmidt@contoso.example".into()),
        attendees: vec![],
        location: None,
        recurrence: None,
        categories: vec![],
    }
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..150 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// The feed's entries of one subscription after `after`, as (seq, operation).
async fn feed_of(db: &datapump::storage::Db, sub: i64, after: i64) -> Vec<(i64, String)> {
    db.changes_since(after, 10_000)
        .await
        .expect("feed")
        .into_iter()
        .filter(|c| c.subscription_id == sub)
        .map(|c| (c.seq, c.operation.as_str().to_string()))
        .collect()
}

fn delivered(bodies: &[Value]) -> Vec<(i64, String)> {
    let mut seen: Vec<(i64, String)> = bodies
        .iter()
        .flat_map(|b| b["changes"].as_array().cloned().unwrap_or_default())
        .map(|c| {
            (
                c["seq"].as_i64().expect("seq"),
                c["operation"].as_str().expect("op").to_string(),
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    seen
}

async fn webhooks(backend: Backend) {
    let (w, profile) = import_world(backend, SimConfig::default(), 50).await;
    let berlin = "raum.berlin@contoso.example";
    let munich = "raum.muenchen@contoso.example";
    let b = subscribe(&w, profile, berlin).await;
    let m = subscribe(&w, profile, munich).await;
    let receiver = Receiver::start().await;
    let db = w.app.db().clone();

    let b_id = b.to_string();
    let created = w
        .admin
        .post(
            "/api-tokens",
            &[("name", "Empfang Berlin"), ("subscription", &b_id)],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let api_token = {
        let at = created.body.find("value=\"dp_").expect("token shown") + "value=\"".len();
        let rest = &created.body[at..];
        rest[..rest.find('"').expect("end")].to_string()
    };
    let token_id: i64 = w
        .app
        .query_strings("SELECT CAST(id AS TEXT) FROM api_tokens", &[])
        .await[0]
        .parse()
        .expect("id");
    let page = format!("/api-tokens/{token_id}/webhook");

    // A plain-http address elsewhere is refused on the page, and nothing is stored.
    let refused = w
        .admin
        .post(&page, &[("url", "http://reception.example.com/hook")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("use https"), "{}", refused.body);
    assert!(db.webhook(token_id).await.expect("read").is_none());

    // Created: the secret is shown once and stored sealed; the consumer starts at the feed's
    // end (what is there now it reads from the API).
    let start = db.latest_change().await.expect("end");
    receiver.set(true, false);
    let saved = w.admin.post(&page, &[("url", &receiver.url)]).await;
    assert_eq!(saved.status, StatusCode::OK);
    let secret = secret_in(&saved.body).expect("secret shown");
    assert!(
        secret_in(&w.admin.get(&page).await.body).is_none(),
        "only once"
    );
    let stored = db.webhook(token_id).await.expect("read").expect("webhook");
    assert!(!stored.secret_enc.contains(&secret));
    assert_eq!(stored.after_seq, start);
    assert!(
        w.app
            .audit_actions()
            .await
            .contains(&"webhook.created".to_string())
    );

    // Changes in both rooms; the receiver fails: the failure shows on the dashboard and on
    // the page, and nothing moves.
    w.sim
        .sim
        .lock()
        .create_event(meeting(berlin, "Besuch A", 24))
        .expect("create");
    w.sim
        .sim
        .lock()
        .create_event(meeting(munich, "Besuch M", 24))
        .expect("create");
    assert_eq!(run(&w, b).await.status, "ok");
    assert_eq!(run(&w, m).await.status, "ok");
    eventually("a failed attempt", async || {
        db.webhook(token_id)
            .await
            .expect("read")
            .expect("hook")
            .failures
            >= 1
    })
    .await;
    let dashboard = w.admin.get("/").await.body;
    assert!(
        dashboard.contains("Webhooks that need attention"),
        "{dashboard}"
    );
    assert!(dashboard.contains("HTTP 500"));
    assert!(w.admin.get(&page).await.body.contains("failed attempts"));
    assert_eq!(
        db.webhook(token_id)
            .await
            .expect("read")
            .expect("hook")
            .after_seq,
        start
    );

    // The receiver is back: everything of its scope arrives (in order within each delivery,
    // nothing of Munich), and the cursor stands at the end.
    receiver.set(false, false);
    let retry = w.admin.post(&format!("{page}/retry"), &[]).await;
    assert_eq!(retry.status, StatusCode::SEE_OTHER);
    let expected = feed_of(&db, b, start).await;
    assert!(
        expected.len() >= 2,
        "the import wrote changes: {expected:?}"
    );
    eventually("delivery of the Berlin changes", async || {
        delivered(&receiver.acknowledged(&secret)) == expected
    })
    .await;
    for body in receiver.acknowledged(&secret) {
        assert_eq!(body["consumer"], "Empfang Berlin");
        assert_eq!(body["resync"], false);
        let seqs: Vec<i64> = body["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .map(|c| {
                assert_eq!(c["subscription_id"].as_i64(), Some(b), "only its scope");
                c["seq"].as_i64().expect("seq")
            })
            .collect();
        assert!(seqs.windows(2).all(|p| p[0] < p[1]), "commit order");
    }
    eventually("the cursor at the end", async || {
        let h = db.webhook(token_id).await.expect("read").expect("hook");
        h.failures == 0 && h.after_seq == db.latest_change().await.expect("end")
    })
    .await;
    assert!(
        !w.admin
            .get("/")
            .await
            .body
            .contains("Webhooks that need attention")
    );

    // A receiver that does not answer does not hold up the import.
    receiver.set(false, true);
    let before = db.latest_change().await.expect("end");
    let id = w
        .sim
        .sim
        .lock()
        .create_event(meeting(berlin, "Besuch B", 30))
        .expect("create");
    let report = tokio::time::timeout(Duration::from_secs(20), run(&w, b))
        .await
        .expect("the import finishes while the receiver hangs");
    assert_eq!(report.status, "ok");
    eventually("a timed-out attempt", async || {
        db.webhook(token_id)
            .await
            .expect("read")
            .expect("hook")
            .last_error
            .is_some_and(|e| e.contains("no answer"))
    })
    .await;

    // A new secret: the next deliveries are signed with it.
    receiver.set(false, false);
    let rotated = w.admin.post(&format!("{page}/secret"), &[]).await;
    let secret2 = secret_in(&rotated.body).expect("new secret shown");
    assert_ne!(secret, secret2);
    receiver.inbox.lock().expect("inbox").requests.clear();
    w.admin.post(&format!("{page}/retry"), &[]).await;
    let expected = feed_of(&db, b, before).await;
    eventually("delivery after the hang", async || {
        delivered(&receiver.acknowledged(&secret2)) == expected
    })
    .await;

    // Changes pruned before delivery: the consumer is told to re-read, and so is an API
    // reader behind them.
    receiver.set(true, false);
    w.sim.sim.lock().delete_event(&id).expect("delete");
    assert_eq!(run(&w, b).await.status, "ok");
    let missed = feed_of(&db, b, 0).await;
    assert_eq!(missed.last().map(|c| c.1.as_str()), Some("delete"));
    db.prune_changes(Utc::now() + chrono::Duration::minutes(1))
        .await
        .expect("prune");
    let api = w
        .admin
        .http
        .get(format!("{}/api/v1/changes?after={start}", w.app.base))
        .bearer_auth(&api_token)
        .send()
        .await
        .expect("GET");
    assert_eq!(
        api.status(),
        StatusCode::GONE,
        "a reader behind the pruned changes is told"
    );
    let problem: Value = api.json().await.expect("problem");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("read the rooms' events again"))
    );
    receiver.inbox.lock().expect("inbox").requests.clear();
    receiver.set(false, false);
    w.admin.post(&format!("{page}/retry"), &[]).await;
    eventually("a resync notice", async || {
        receiver
            .acknowledged(&secret2)
            .iter()
            .any(|b| b["resync"] == true)
    })
    .await;
    eventually("the notice acknowledged", async || {
        db.webhook(token_id)
            .await
            .expect("read")
            .expect("hook")
            .gap_at
            .is_none()
    })
    .await;

    // Revoked: nothing is sent any more.
    w.admin
        .post(&format!("/api-tokens/{token_id}/revoke"), &[])
        .await;
    let sent = receiver.requests();
    w.sim
        .sim
        .lock()
        .create_event(meeting(berlin, "Besuch C", 40))
        .expect("create");
    assert_eq!(run(&w, b).await.status, "ok");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.requests(), sent, "a revoked consumer gets nothing");
    w.app.stop().await;
}
on_both_backends!(webhooks, webhooks);

/// A viewer sees a webhook's address without its query (a receiver's key may be in it, as the
/// audit log keeps it) and one generic word for a failure, not the detail that tells one
/// intranet target from another (issue 30, items 4 and 8); an admin sees both.
async fn viewers_see_less(backend: Backend) {
    let (w, profile) = import_world(backend, SimConfig::default(), 50).await;
    let sub = subscribe(&w, profile, "raum.berlin@contoso.example")
        .await
        .to_string();
    let receiver = Receiver::start().await;
    let created = w
        .admin
        .post(
            "/api-tokens",
            &[("name", "Empfang"), ("subscription", &sub)],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let token_id = w
        .app
        .query_strings("SELECT CAST(id AS TEXT) FROM api_tokens", &[])
        .await[0]
        .clone();
    let page = format!("/api-tokens/{token_id}/webhook");
    let keyed = format!("{}?key=geheim-123", receiver.url);
    let saved = w.admin.post(&page, &[("url", &keyed)]).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    w.app
        .execute_sql(&[(
            "UPDATE webhooks SET failures = 1, last_error = $1",
            vec!["connection refused by 10.0.0.1:6379"],
        )])
        .await;
    let (viewer, _) = w
        .app
        .signed_in("vera", datapump::storage::admins::Role::Viewer)
        .await;
    let seen = viewer.get(&page).await.body;
    assert!(!seen.contains("geheim-123"), "{seen}");
    assert!(
        seen.contains(&receiver.url),
        "the address without its query"
    );
    assert!(
        !seen.contains("6379") && seen.contains("admins see the details"),
        "{seen}"
    );
    let admin = w.admin.get(&page).await.body;
    assert!(
        admin.contains("geheim-123") && admin.contains("6379"),
        "{admin}"
    );
    // The dashboard too: the failing consumer for viewers, its detail for admins.
    let viewer_dashboard = viewer.get("/").await.body;
    assert!(viewer_dashboard.contains("Empfang") && !viewer_dashboard.contains("6379"));
    assert!(w.admin.get("/").await.body.contains("6379"));
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(
    viewers_see_no_webhook_keys_or_failure_details,
    viewers_see_less
);

/// Without the operator's allowance, deliveries never reach the network inside (issue 30,
/// item 4): an internal address given as a number is refused on the page, a name resolving
/// inside (`localhost`) is saved but its deliveries are refused before anything is sent, and
/// the admin is told why. Only loopback receivers are used here.
async fn internal_destinations(backend: Backend) {
    let options = crate::common::Options {
        // An allowance for another range only: this machine is not allowed.
        env: vec![("DATAPUMP_WEBHOOK_ALLOW", "192.0.2.1".into())],
        ..crate::common::Options::default()
    };
    let w = crate::profiles::world_with(backend, options, SimConfig::default()).await;
    let profile =
        crate::profiles::create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    crate::profiles::authorize(&w, profile).await;
    let berlin = "raum.berlin@contoso.example";
    let sub = subscribe(&w, profile, berlin).await;
    let receiver = Receiver::start().await;
    w.admin
        .post(
            "/api-tokens",
            &[("name", "Empfang"), ("subscription", &sub.to_string())],
        )
        .await;
    let token_id = w
        .app
        .query_strings("SELECT CAST(id AS TEXT) FROM api_tokens", &[])
        .await[0]
        .clone();
    let page = format!("/api-tokens/{token_id}/webhook");
    let refused = w.admin.post(&page, &[("url", &receiver.url)]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("inside the network"),
        "{}",
        refused.body
    );
    let db = w.app.db().clone();
    let id: i64 = token_id.parse().expect("id");
    assert!(db.webhook(id).await.expect("read").is_none());

    // By name: saved, then refused when a delivery resolves it.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let saved = w.admin.post(&page, &[("url", &by_name)]).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    w.sim
        .sim
        .lock()
        .create_event(meeting(berlin, "Besuch", 24))
        .expect("create");
    assert_eq!(run(&w, sub).await.status, "ok");
    eventually("a refused attempt", async || {
        db.webhook(id)
            .await
            .expect("read")
            .is_some_and(|h| h.failures > 0)
    })
    .await;
    let hook = db.webhook(id).await.expect("read").expect("hook");
    assert!(
        hook.last_error
            .as_deref()
            .is_some_and(|e| e.contains("inside the network")),
        "{:?}",
        hook.last_error
    );
    assert_eq!(receiver.requests(), 0, "nothing was sent");
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(internal_destinations_are_refused, internal_destinations);

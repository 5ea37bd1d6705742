//! The admin pages at enterprise size: the subscriptions list paged, filtered and sorted in
//! SQL, bulk actions with CSRF and audit, counts on the profiles list, and run history that
//! folds no-change runs.

use datapump::storage::admins::Role;
use datapump::storage::subscriptions::{NewSubscription, SubscriptionSettings};
use datapump_sim::SimConfig;

use crate::common::{Backend, Options, on_both_backends};
use crate::import::{assert_matches_truth, import_world, run, subscribe};
use crate::profiles::{World, authorize, create_profile, world, world_with};

/// A subscription straight in the database (the list does not care whether Graph has it).
async fn add(w: &World, profile: i64, name: &str, mailbox: &str) -> i64 {
    w.app
        .db()
        .create_subscription(
            &NewSubscription {
                profile_id: profile,
                source: datapump::model::SubscriptionSource::Mailbox,
                mailbox_id: None,
                mailbox_address: mailbox,
                mailbox_name: name,
                calendar_id: &format!("cal-{mailbox}"),
                calendar_name: "Kalender",
                settings: &SubscriptionSettings {
                    display_name: name.into(),
                    days_back: 7,
                    days_ahead: 30,
                    interval_minutes: 5,
                    enabled: true,
                    mask_private: false,
                    fields: datapump::model::StoredFields::default(),
                    retention_days: None,
                },
                created_by: "test",
                room_list_id: None,
            },
            &Default::default(),
        )
        .await
        .expect("subscription")
}

/// The row checkboxes' ids on a list page, in order.
fn row_ids(body: &str) -> Vec<i64> {
    body.split("name=\"id\" value=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect()
}

fn flash(body: &str) -> String {
    body.split("class=\"flash")
        .nth(1)
        .and_then(|s| s.split("</").next())
        .unwrap_or("")
        .to_string()
}

async fn list_at_size(backend: Backend) {
    let w = world(backend).await;
    let redirect = format!("{}/callback", w.app.base);
    let big = create_profile(&w, "Zentrale", &redirect).await;
    let small = create_profile(&w, "Filiale", &redirect).await;
    let mut ids = Vec::new();
    for i in 0..130 {
        ids.push(
            add(
                &w,
                big,
                &format!("Raum {i:03}"),
                &format!("raum{i:03}@contoso.example"),
            )
            .await,
        );
    }
    // LIKE's wildcards are searched for literally.
    let percent = add(&w, small, "Auslastung 50%", "auslastung@contoso.example").await;
    for i in 0..4 {
        add(
            &w,
            small,
            &format!("Filiale {i}"),
            &format!("filiale_{i}@contoso.example"),
        )
        .await;
    }

    // The profiles list counts each profile's subscriptions and links to them.
    let profiles = w.admin.get("/profiles").await.body;
    assert!(
        profiles.contains(&format!("?profile={big}\">130</a>")),
        "{profiles}"
    );
    assert!(profiles.contains(&format!("?profile={small}\">5</a>")));

    // Pages of 50, sorted by name.
    let first = w.admin.get("/subscriptions").await;
    assert_eq!(first.status, reqwest::StatusCode::OK);
    assert!(first.body.contains("1–50 of 135"), "{}", first.body);
    let rows = row_ids(&first.body);
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[0], percent, "\"Auslastung\" sorts first");
    assert!(first.body.contains("rel=\"next\""));
    let last = w.admin.get("/subscriptions?page=3").await.body;
    assert!(last.contains("101–135 of 135"), "{last}");
    assert_eq!(row_ids(&last).len(), 35);
    assert!(!last.contains("rel=\"next\""));
    // Out of range or garbage: a sane page, never an error.
    for q in [
        "page=0",
        "page=x",
        "per=7",
        "sort=evil;drop",
        "state=sideways",
        "profile=abc",
    ] {
        let r = w.admin.get(&format!("/subscriptions?{q}")).await;
        assert_eq!(r.status, reqwest::StatusCode::OK, "{q}");
    }
    assert_eq!(
        row_ids(&w.admin.get("/subscriptions?per=200").await.body).len(),
        135
    );

    // Filters: profile, text (wildcards literal), combined; sort reversed.
    let filiale = w
        .admin
        .get(&format!("/subscriptions?profile={small}"))
        .await
        .body;
    assert_eq!(row_ids(&filiale).len(), 5);
    assert_eq!(
        row_ids(&w.admin.get("/subscriptions?q=50%25").await.body),
        [percent]
    );
    assert_eq!(
        row_ids(&w.admin.get("/subscriptions?q=_").await.body).len(),
        4
    );
    assert_eq!(
        row_ids(&w.admin.get("/subscriptions?q=RAUM%2012").await.body).len(),
        10
    );
    let desc = row_ids(&w.admin.get("/subscriptions?sort=name&dir=desc").await.body);
    assert_eq!(desc[0], ids[129]);
    let by_mailbox = w
        .admin
        .get("/subscriptions?sort=mailbox")
        .await
        .body
        .replace("&#38;", "&");
    assert!(
        by_mailbox.contains("href=\"/subscriptions?sort=mailbox&dir=desc\""),
        "the header reverses: {by_mailbox}"
    );

    // Bulk: pause three checked rows, audited one by one.
    let three: Vec<String> = ids[..3].iter().map(i64::to_string).collect();
    let mut form: Vec<(&str, &str)> = three.iter().map(|i| ("id", i.as_str())).collect();
    form.extend([("action", "pause"), ("scope", "selected")]);
    let r = w.admin.post("/subscriptions/bulk", &form).await;
    assert_eq!(r.status, reqwest::StatusCode::SEE_OTHER);
    let page = w.admin.get("/subscriptions?state=paused").await.body;
    assert!(
        flash(&page).contains("3 paused (0 were paused already"),
        "{page}"
    );
    assert_eq!(row_ids(&page), ids[..3]);
    let paused_audits = w
        .app
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a == "subscription.paused")
        .count();
    assert_eq!(paused_audits, 3);
    // Again with one more: only that one changes.
    let four: Vec<String> = ids[..4].iter().map(i64::to_string).collect();
    let mut form: Vec<(&str, &str)> = four.iter().map(|i| ("id", i.as_str())).collect();
    form.push(("action", "pause"));
    w.admin.post("/subscriptions/bulk", &form).await;
    let page = w.admin.get("/subscriptions").await.body;
    assert!(
        flash(&page).contains("1 paused (3 were paused already"),
        "{page}"
    );

    // Everything matching the filter, across pages: the interval of all 130 "Raum" rows.
    let r = w
        .admin
        .post(
            "/subscriptions/bulk",
            &[
                ("scope", "matching"),
                ("q", "raum"),
                ("action", "interval"),
                ("interval_minutes", "15"),
            ],
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::SEE_OTHER);
    let all = w.app.db().list_subscriptions(None).await.expect("list");
    assert_eq!(all.iter().filter(|s| s.interval_minutes == 15).count(), 130);
    assert!(
        all.iter()
            .filter(|s| s.profile_id == Some(small))
            .all(|s| s.interval_minutes == 5)
    );

    // Bad input changes nothing and says why.
    let one = ids[10].to_string();
    for (fields, message) in [
        (
            vec![
                ("id", one.as_str()),
                ("action", "interval"),
                ("interval_minutes", "0"),
            ],
            "between 1 and 1440",
        ),
        (vec![("action", "pause")], "No subscription was chosen"),
        (vec![("id", one.as_str()), ("action", "explode")], "unknown"),
    ] {
        w.admin.post("/subscriptions/bulk", &fields).await;
        let page = w.admin.get("/subscriptions").await.body;
        assert!(flash(&page).contains(message), "{message}: {page}");
    }
    assert!(w.app.db().subscription(ids[10]).await.expect("s").enabled);
    assert_eq!(
        w.app
            .db()
            .subscription(ids[10])
            .await
            .expect("s")
            .interval_minutes,
        15
    );

    // Forged (no CSRF token) and viewer: refused, nothing changes.
    let r = w
        .admin
        .post_raw(
            "/subscriptions/bulk",
            &[("id", one.as_str()), ("action", "pause")],
            &[],
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::FORBIDDEN);
    let (viewer, _) = w.app.signed_in("vera", Role::Viewer).await;
    assert_eq!(
        viewer.get("/subscriptions").await.status,
        reqwest::StatusCode::OK
    );
    assert!(
        !viewer
            .get("/subscriptions")
            .await
            .body
            .contains("/subscriptions/bulk")
    );
    let r = viewer
        .post(
            "/subscriptions/bulk",
            &[("id", one.as_str()), ("action", "pause")],
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::FORBIDDEN);
    assert!(w.app.db().subscription(ids[10]).await.expect("s").enabled);

    // Delete asks first, naming what goes; then deletes.
    let filiale_ids: Vec<String> = row_ids(&filiale).iter().map(i64::to_string).collect();
    let mut form: Vec<(&str, &str)> = filiale_ids.iter().map(|i| ("id", i.as_str())).collect();
    form.push(("action", "delete"));
    let confirm = w.admin.post("/subscriptions/bulk", &form).await;
    assert_eq!(confirm.status, reqwest::StatusCode::OK);
    assert!(
        confirm.body.contains("Delete 5 subscriptions?"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains("Auslastung 50%"));
    assert_eq!(
        w.app
            .db()
            .list_subscriptions(Some(small))
            .await
            .expect("l")
            .len(),
        5
    );
    form.push(("events", "remove"));
    w.admin.post("/subscriptions/bulk", &form).await;
    assert!(
        w.app
            .db()
            .list_subscriptions(Some(small))
            .await
            .expect("l")
            .is_empty()
    );
    let page = w.admin.get("/subscriptions").await.body;
    assert!(flash(&page).contains("5 subscriptions deleted"), "{page}");

    // German too.
    w.admin.post("/language", &[("lang", "de")]).await;
    let de = w.admin.get("/subscriptions").await.body;
    assert!(de.contains("1–50 von 130 Abonnements"), "{de}");
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(subscriptions_list_at_size, list_at_size);

/// No-change runs are counted per hour on the subscription page; the run table keeps the
/// runs that did something and the latest quiet one.
async fn quiet_runs(backend: Backend) {
    let (w, profile) = import_world(backend, SimConfig::default(), 200).await;
    let room = "raum.berlin@contoso.example";
    let sub = subscribe(&w, profile, room).await;
    for _ in 0..4 {
        run(&w, sub).await;
    }
    let runs = w.app.db().runs_of(sub, 50).await.expect("runs");
    assert_eq!(
        runs.len(),
        2,
        "the first (full) run and the latest quiet one"
    );
    let page = w.admin.get(&format!("/subscriptions/{sub}")).await.body;
    assert!(page.contains("Imports without changes, per hour"), "{page}");
    let table = page.split("class=\"quiet-hours\"").nth(1).unwrap_or("");
    let hours: i64 = table
        .split("<tr>")
        .skip(2)
        .filter_map(|row| {
            row.split("<td>")
                .nth(1)?
                .split('<')
                .next()?
                .parse::<i64>()
                .ok()
        })
        .sum();
    assert_eq!(hours, 3, "{table}");
    let metrics = w.admin.get("/metrics").await.body;
    assert!(
        metrics.contains("datapump_sync_runs_total{status=\"ok\"} 4"),
        "{metrics}"
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(quiet_runs_counted_per_hour, quiet_runs);

/// Graph's request budget per app and mailbox (10,000 per 10 minutes, here shrunk to 8 per
/// 3 s on both sides): Datapump paces itself and is never refused; a client that does not
/// (an engine with the real budget) is refused by the simulator, waits as told, and still
/// imports everything.
async fn request_budget(backend: Backend) {
    let budget = (8, std::time::Duration::from_secs(3));
    let options = Options {
        page_size: Some(10),
        request_budget: Some(budget),
        ..Options::default()
    };
    let sim_config = SimConfig {
        mailbox_request_budget: Some((8, budget.1)),
        ..SimConfig::default()
    };
    let w = world_with(backend, options, sim_config).await;
    let profile = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    authorize(&w, profile).await;
    let room = "raum.berlin@contoso.example";
    let sub = subscribe(&w, profile, room).await;
    let report = run(&w, sub).await;
    assert_eq!(
        report.status,
        datapump::model::RunStatus::Ok,
        "{:?}",
        report.error
    );
    assert!(
        report.stats.requests > 12,
        "enough requests to need pacing: {}",
        report.stats.requests
    );
    assert!(report.stats.throttle_waits > 0, "it waited for its budget");
    assert_eq!(w.sim.sim.lock().counters.over_budget, 0, "never refused");
    assert_matches_truth(&w, sub, room, 7, 180).await;

    // The stricter side holds: an engine that ignores the small budget is refused.
    let mut policy = w.app.state.config.sync_policy.clone();
    policy.request_budget = (10_000, std::time::Duration::from_secs(600));
    let careless = datapump::sync::SyncEngine::new(
        w.app.db().clone(),
        w.app.state.tokens.clone(),
        policy,
        tokio_util::sync::CancellationToken::new(),
    );
    let other = "raum.hamburg@contoso.example";
    let sub2 = subscribe(&w, profile, other).await;
    let report = careless
        .run_subscription(sub2)
        .await
        .expect("run")
        .expect("free");
    assert_eq!(
        report.status,
        datapump::model::RunStatus::Ok,
        "{:?}",
        report.error
    );
    assert!(
        w.sim.sim.lock().counters.over_budget > 0,
        "the simulator enforces the budget: {:?}",
        report.stats
    );
    assert_matches_truth(&w, sub2, other, 7, 180).await;
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(request_budget_per_app_and_mailbox, request_budget);

/// Two instances on one database share the due subscriptions: each runs some, none runs one
/// that the other is running or has just run (every subscription exactly once), and when one
/// stops, the other takes all the work.
async fn two_schedulers(backend: Backend) {
    let options = Options {
        scheduler: true,
        ..Options::default()
    };
    // Graph's latency makes a run last longer than a scheduler's tick, as in real life.
    let sim_config = SimConfig {
        latency: std::time::Duration::from_millis(50),
        ..SimConfig::default()
    };
    let w = world_with(backend, options, sim_config).await;
    let profile = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    authorize(&w, profile).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let other = std::sync::Arc::new(datapump::sync::SyncEngine::new(
        w.app.db().clone(),
        w.app.state.tokens.clone(),
        w.app.state.config.sync_policy.clone(),
        shutdown.clone(),
    ));
    let second = tokio::spawn(other.clone().run_scheduler());
    let rooms: Vec<String> = w
        .sim
        .sim
        .lock()
        .users
        .iter()
        .filter(|u| {
            u.kind == datapump_sim::model::MailboxKind::Room
                && u.upn != datapump_sim::seed::FORBIDDEN_ROOM
        })
        .map(|u| u.upn.clone())
        .collect();
    assert!(rooms.len() >= 6, "{rooms:?}");
    let mut subs = Vec::new();
    for room in &rooms {
        subs.push(subscribe(&w, profile, room).await);
    }
    let db = w.app.db();
    let done = |db: datapump::storage::Db, subs: Vec<i64>| async move {
        for _ in 0..300 {
            let mut all = true;
            for s in &subs {
                all &= db.subscription(*s).await.expect("s").last_sync_at.is_some();
            }
            if all {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("not every subscription was imported");
    };
    done(db.clone(), subs.clone()).await;
    let finished = "SELECT owner FROM sync_runs WHERE finished_at IS NOT NULL ORDER BY id";
    let first = w.app.query_strings(finished, &[]).await;
    assert_eq!(
        first.len(),
        subs.len(),
        "each subscription ran once: {first:?}"
    );

    // Once both engines know of each other, everything falls due at once: each takes its share.
    for _ in 0..100 {
        if db
            .live_engines(chrono::Utc::now() - chrono::Duration::seconds(15))
            .await
            .expect("n")
            >= 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // From here both know of each other: Graph's limits hold for the two together.
    w.sim.sim.lock().counters = Default::default();
    let before = chrono::Utc::now();
    db.bulk_change(
        &subs,
        datapump::storage::subscription_list::BulkChange::SyncNow,
        &|_| Default::default(),
    )
    .await
    .expect("due");
    let mut owners = Vec::new();
    for _ in 0..300 {
        owners = w.app.query_strings(finished, &[]).await;
        if owners.len() == 2 * subs.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for s in &subs {
        let last = db.subscription(*s).await.expect("s").last_sync_at;
        assert!(last.is_some_and(|t| t > before), "{s} ran again");
    }
    assert_eq!(
        owners.len(),
        2 * subs.len(),
        "each ran once more, no overlap: {owners:?}"
    );
    let second_round = &owners[subs.len()..];
    let mut distinct = second_round.to_vec();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 2, "both instances took work: {owners:?}");
    // Graph's four concurrent requests per app hold for both instances together.
    let throttled = w.sim.sim.lock().counters.throttled;
    assert_eq!(throttled, 0, "no request refused for concurrency");

    // One instance stops; the other runs everything that becomes due.
    shutdown.cancel();
    second.await.expect("stopped");
    let requested = chrono::Utc::now();
    for s in &subs {
        db.request_sync(*s, None).await.expect("due");
    }
    let mut again = 0;
    for _ in 0..300 {
        again = 0;
        for s in &subs {
            let last = db.subscription(*s).await.expect("s").last_sync_at;
            again += usize::from(last.is_some_and(|t| t > requested));
        }
        if again == subs.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(again, subs.len(), "the remaining instance ran them all");
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(two_instances_share_the_work, two_schedulers);

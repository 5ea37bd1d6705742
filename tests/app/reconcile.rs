//! Delta is not a change log (docs/graph-behaviours.md, "Delta is not a change log"): the
//! simulator answers the stricter observed way — no tombstones for vanished occurrences, a
//! deleted series as its master only, series masters inside the pages, an id more than once —
//! and the stored rows (and a reader of the change feed) must still equal Graph's truth.

use chrono::Utc;
use datapump::model::ChangeOp;
use datapump::storage::sync::EventRow;
use datapump_sim::{EventPatch, SimConfig};

use crate::common::{Backend, on_both_backends};
use crate::import::{
    assert_matches_truth, import_world, naive as at, new_event, run, subscribe, weekly,
};
use crate::profiles::World;

const ROOM: &str = "raum.berlin@contoso.example";

async fn rows_of_series(w: &World, sub: i64, master: &str) -> Vec<EventRow> {
    w.app
        .db()
        .events_of(sub)
        .await
        .expect("events")
        .into_iter()
        .filter(|r| r.series_master_id.as_deref() == Some(master))
        .collect()
}

/// The feed entries of `ids` since `after`, by operation.
async fn feed_ops(w: &World, after: i64, id: &str) -> Vec<ChangeOp> {
    w.app
        .db()
        .changes_since(after, 10_000)
        .await
        .expect("feed")
        .into_iter()
        .filter(|c| c.graph_id == id)
        .map(|c| c.operation)
        .collect()
}

/// A room with a weekly series, imported; returns the world, the subscription and the series.
async fn room_with_series(backend: Backend, page_size: u32) -> (World, i64, String) {
    let (w, profile) = import_world(backend, SimConfig::default(), page_size).await;
    let series = w
        .sim
        .sim
        .lock()
        .create_event(weekly(ROOM, "Jour fixe", 2, 5))
        .expect("series");
    let sub = subscribe(&w, profile, ROOM).await;
    let first = run(&w, sub).await;
    assert_eq!(first.status.as_str(), "ok", "{:?}", first.error);
    assert_eq!(rows_of_series(&w, sub, &series).await.len(), 5);
    (w, sub, series)
}

/// One occurrence deleted: Graph sends the master and the remaining occurrences and says
/// nothing of the deleted one (stackoverflow 55641502, microsoft-graph-docs PR #4501). It is
/// deleted, with its `delete` in the feed.
async fn deleted_occurrence(backend: Backend) {
    let (w, sub, series) = room_with_series(backend, 50).await;
    let victim = rows_of_series(&w, sub, &series).await[2].graph_id.clone();
    let feed = w.app.db().latest_change().await.expect("feed");
    w.sim.sim.lock().delete_event(&victim).expect("cancel one");
    let r = run(&w, sub).await;
    assert_eq!(
        (r.status.as_str(), r.kind.as_str()),
        ("ok", "delta"),
        "{:?}",
        r.error
    );
    assert_eq!(r.stats.deleted, 1);
    assert_eq!(rows_of_series(&w, sub, &series).await.len(), 4);
    assert_eq!(feed_ops(&w, feed, &victim).await, [ChangeOp::Delete]);
    assert_matches_truth(&w, sub, ROOM, 7, 180).await;
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(deleted_occurrence_without_tombstone, deleted_occurrence);

/// A series moved to another weekday: its occurrences get new ids (they embed the original
/// start, microsoft-graph-docs #2804) and the old ids are never mentioned
/// (AvengeMedia/dankcalendar #95). The old rows go, the new ones come.
async fn series_moved(backend: Backend) {
    let (w, sub, series) = room_with_series(backend, 50).await;
    let old: Vec<String> = rows_of_series(&w, sub, &series)
        .await
        .into_iter()
        .map(|r| r.graph_id)
        .collect();
    w.sim
        .sim
        .lock()
        .update_event(
            &series,
            EventPatch {
                start: Some(at(3, 9)),
                end: Some(at(3, 10)),
                ..EventPatch::default()
            },
        )
        .expect("moved a day later");
    let r = run(&w, sub).await;
    assert_eq!(
        (r.status.as_str(), r.kind.as_str()),
        ("ok", "delta"),
        "{:?}",
        r.error
    );
    let now = rows_of_series(&w, sub, &series).await;
    assert_eq!(now.len(), 5);
    assert!(
        now.iter().all(|r| !old.contains(&r.graph_id)),
        "new ids only"
    );
    assert_eq!(r.stats.deleted, 5);
    assert_matches_truth(&w, sub, ROOM, 7, 180).await;
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(series_moved_to_another_weekday, series_moved);

/// A deleted series comes as its master's `@removed` only (whether Graph also lists each
/// occurrence is unverified: the stricter case). Its occurrences go with it.
async fn removed_master(backend: Backend) {
    let (w, sub, series) = room_with_series(backend, 50).await;
    let feed = w.app.db().latest_change().await.expect("feed");
    let rows = rows_of_series(&w, sub, &series).await;
    w.sim
        .sim
        .lock()
        .delete_event(&series)
        .expect("series deleted");
    let r = run(&w, sub).await;
    assert_eq!(r.status.as_str(), "ok", "{:?}", r.error);
    assert!(rows_of_series(&w, sub, &series).await.is_empty());
    for row in rows {
        assert_eq!(feed_ops(&w, feed, &row.graph_id).await, [ChangeOp::Delete]);
    }
    assert_matches_truth(&w, sub, ROOM, 7, 180).await;
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(
    removed_series_master_removes_its_occurrences,
    removed_master
);

/// An item deleted and restored (its immutable id kept) comes as `@removed` and then again:
/// entries apply in page order, the last per id wins — in one page, and across pages (page
/// size 1). A series deleted and restored the same way keeps its occurrences.
async fn restored(backend: Backend, page_size: u32) {
    let (w, sub, series) = room_with_series(backend, page_size).await;
    let single = w
        .sim
        .sim
        .lock()
        .create_event(new_event(ROOM, "Wiederhergestellt", 4))
        .expect("single");
    assert_eq!(run(&w, sub).await.status.as_str(), "ok");
    let feed = w.app.db().latest_change().await.expect("feed");
    {
        let mut sim = w.sim.sim.lock();
        for id in [&single, &series] {
            sim.delete_event(id).expect("deleted");
            sim.restore_event(id).expect("restored");
        }
    }
    let r = run(&w, sub).await;
    assert_eq!(r.status.as_str(), "ok", "{:?}", r.error);
    let stored = w.app.db().events_of(sub).await.expect("events");
    assert!(
        stored.iter().any(|e| e.graph_id == single),
        "the restored item"
    );
    assert_eq!(
        rows_of_series(&w, sub, &series).await.len(),
        5,
        "the restored series"
    );
    // Nothing changed for a reader: no entry at all, or a delete and an upsert in order.
    let ops = feed_ops(&w, feed, &single).await;
    assert!(ops.last() != Some(&ChangeOp::Delete), "{ops:?}");
    assert_matches_truth(&w, sub, ROOM, 7, 180).await;
    w.app.stop().await;
    w.sim.stop().await;
}

async fn restored_in_one_page(backend: Backend) {
    restored(backend, 200).await;
}
on_both_backends!(restored_item_in_one_page, restored_in_one_page);

async fn restored_across_pages(backend: Backend) {
    restored(backend, 1).await;
}
on_both_backends!(restored_item_across_pages, restored_across_pages);

/// Series masters come inside delta (microsoft-graph-docs #3196): a master sent in a page is
/// used as is — not requested again — and never stored as a row; a change of the master alone
/// (occurrence keys not following it) reaches every stored occurrence in the next delta round.
async fn masters_inside_delta(backend: Backend) {
    let config = SimConfig {
        occurrence_keys_follow_master: false,
        ..SimConfig::default()
    };
    let (w, profile) = import_world(backend, config, 200).await;
    let series = w
        .sim
        .sim
        .lock()
        .create_event(weekly(ROOM, "Jour fixe", 2, 5))
        .expect("series");
    let sub = subscribe(&w, profile, ROOM).await;
    assert_eq!(run(&w, sub).await.status.as_str(), "ok");
    let master_gets = |w: &World| {
        let suffix = format!("/events/{series}");
        w.sim
            .sim
            .lock()
            .counters
            .by_path
            .iter()
            .filter(|(p, _)| p.ends_with(&suffix))
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let before = master_gets(&w);
    w.sim
        .sim
        .lock()
        .update_event(
            &series,
            EventPatch {
                subject: Some("Jour fixe (neu)".into()),
                ..EventPatch::default()
            },
        )
        .expect("rename the series");
    let r = run(&w, sub).await;
    assert_eq!(
        (r.status.as_str(), r.kind.as_str()),
        ("ok", "delta"),
        "{:?}",
        r.error
    );
    assert_eq!(
        master_gets(&w),
        before,
        "the page's master was used, not fetched"
    );
    let rows = rows_of_series(&w, sub, &series).await;
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter()
            .all(|r| r.subject.as_deref() == Some("Jour fixe (neu)")),
        "{rows:?}"
    );
    let all = w.app.db().events_of(sub).await.expect("events");
    assert!(
        all.iter()
            .all(|r| r.event_type != "seriesMaster" && r.graph_id != series)
    );
    assert_matches_truth(&w, sub, ROOM, 7, 180).await;
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(series_masters_inside_delta, masters_inside_delta);

/// The self-check finds what delta missed: a planted difference (a row gone, a row changed
/// behind Graph's back) is found by comparing with the calendar view, counted, repaired by a
/// full round (feed entries included), shown on the subscription page, in /status.json and
/// /metrics; a clean check counts nothing, and drift in three checks in a row needs attention.
async fn self_check(backend: Backend) {
    let (w, profile) = import_world(backend, SimConfig::default(), 100).await;
    let sub = subscribe(&w, profile, ROOM).await;
    assert_eq!(run(&w, sub).await.status.as_str(), "ok");
    let s = w.app.db().subscription(sub).await.expect("sub");
    assert!(
        s.verified_at.is_some(),
        "the full round stood in for a check"
    );
    assert_eq!((s.drift_last, s.drift_total), (0, 0));
    // Not due yet: a plain delta run.
    assert_eq!(run(&w, sub).await.kind.as_str(), "delta");

    let rows = w.app.db().events_of(sub).await.expect("events");
    let singles: Vec<&EventRow> = rows
        .iter()
        .filter(|r| r.event_type == "singleInstance")
        .collect();
    let (lost, altered) = (singles[0].graph_id.clone(), singles[1].graph_id.clone());
    let plant = || async {
        w.app
            .execute_sql(&[
                ("DELETE FROM events WHERE graph_id = $1", vec![lost.as_str()]),
                (
                    "UPDATE events SET change_key = 'planted', subject = 'Gefälscht' WHERE graph_id = $1",
                    vec![altered.as_str()],
                ),
                ("UPDATE subscriptions SET verified_at = NULL", vec![]),
            ])
            .await;
    };
    plant().await;
    let r = run(&w, sub).await;
    assert_eq!(
        (r.status.as_str(), r.kind.as_str()),
        ("ok", "repair"),
        "{:?}",
        r.error
    );
    let s = w.app.db().subscription(sub).await.expect("sub");
    assert_eq!((s.drift_last, s.drift_total, s.drift_streak), (2, 2, 1));
    assert_matches_truth(&w, sub, ROOM, 7, 180).await;
    let page = w.admin.get(&format!("/subscriptions/{sub}")).await.body;
    assert!(page.contains("2 differences found and repaired"), "{page}");
    let de = w
        .admin
        .get_with(
            &format!("/subscriptions/{sub}"),
            &[("accept-language", "de")],
        )
        .await
        .body;
    assert!(de.contains("2 Abweichungen gefunden und behoben"), "{de}");
    let status = w.admin.get("/status.json").await.body;
    let status: serde_json::Value = serde_json::from_str(&status).expect("json");
    assert_eq!(status["subscriptions_drift"][0]["id"], sub);
    assert_eq!(status["subscriptions_drift"][0]["drift_total"], 2);
    let metrics = w.admin.get("/metrics").await.body;
    assert!(
        metrics.contains(&format!(
            "datapump_subscription_drift_total{{subscription=\"{sub}\"}} 2"
        )),
        "{metrics}"
    );

    // A clean check: nothing counted, the streak ends.
    w.app
        .execute_sql(&[("UPDATE subscriptions SET verified_at = NULL", vec![])])
        .await;
    let r = run(&w, sub).await;
    assert_eq!((r.status.as_str(), r.kind.as_str()), ("ok", "delta"));
    let s = w.app.db().subscription(sub).await.expect("sub");
    assert_eq!((s.drift_last, s.drift_total, s.drift_streak), (0, 2, 0));

    // Drift in three checks in a row: the subscription needs attention.
    for _ in 0..3 {
        plant().await;
        assert_eq!(run(&w, sub).await.kind.as_str(), "repair");
    }
    let s = w.app.db().subscription(sub).await.expect("sub");
    assert_eq!((s.drift_streak, s.drift_total), (3, 8));
    let dashboard = w.admin.get("/").await.body;
    assert!(
        dashboard.contains("the self-check keeps finding differences"),
        "{dashboard}"
    );
    assert_matches_truth(&w, sub, ROOM, 7, 180).await;
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(self_check_repairs_and_counts_drift, self_check);

/// Room mailboxes as Exchange ships them (`Set-CalendarProcessing`): a meeting its organizer
/// cancelled stays, marked cancelled (`RemoveCanceledMeetings $false`), unless the room is set
/// to remove them; a booking awaiting a delegate's approval is tentative
/// (`TentativePendingApproval $true`). Datapump stores what Graph says.
async fn room_processing(backend: Backend) {
    let (w, profile) = import_world(backend, SimConfig::default(), 200).await;
    let approval = datapump_sim::seed::APPROVAL_ROOM;
    let (cancelled, removed, pending) = {
        let mut sim = w.sim.sim.lock();
        let cancelled = sim
            .create_event(new_event(ROOM, "Abgesagt", 3))
            .expect("event");
        let removed = sim
            .create_event(new_event(ROOM, "Entfernt", 4))
            .expect("event");
        let mut request = new_event(ROOM, "Vorstandssitzung", 5);
        request.calendar = approval.into();
        let pending = sim.create_event(request).expect("booking");
        (cancelled, removed, pending)
    };
    let sub = subscribe(&w, profile, ROOM).await;
    let boardroom = subscribe(&w, profile, approval).await;
    assert_eq!(run(&w, sub).await.status.as_str(), "ok");
    assert_eq!(run(&w, boardroom).await.status.as_str(), "ok");
    let stored = |sub: i64, id: String| {
        let w = &w;
        async move {
            w.app
                .db()
                .events_of(sub)
                .await
                .expect("events")
                .into_iter()
                .find(|e| e.graph_id == id)
        }
    };
    let booking = stored(boardroom, pending.clone())
        .await
        .expect("the booking");
    assert_eq!(booking.show_as.as_deref(), Some("tentative"));
    assert!(!booking.is_cancelled);

    let cancel = EventPatch {
        is_cancelled: Some(true),
        ..EventPatch::default()
    };
    w.sim
        .sim
        .lock()
        .update_event(&cancelled, cancel.clone())
        .expect("cancelled by the organizer");
    assert_eq!(run(&w, sub).await.status.as_str(), "ok");
    let kept = stored(sub, cancelled.clone())
        .await
        .expect("kept by the room");
    assert!(kept.is_cancelled);
    assert_matches_truth(&w, sub, ROOM, 7, 180).await;

    // A room set to remove cancelled meetings.
    {
        let mut sim = w.sim.sim.lock();
        let mut policy = sim.find_user(ROOM).expect("room").room_policy;
        policy.remove_canceled_meetings = true;
        sim.set_room_policy(ROOM, policy).expect("policy");
        sim.update_event(&removed, cancel).expect("cancelled");
    }
    assert_eq!(run(&w, sub).await.status.as_str(), "ok");
    assert!(stored(sub, removed).await.is_none(), "removed by the room");
    assert_matches_truth(&w, sub, ROOM, 7, 180).await;
    assert_matches_truth(&w, boardroom, approval, 7, 180).await;
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(
    rooms_keep_cancelled_and_show_pending_as_tentative,
    room_processing
);

/// A listed calendar of the account other than a mailbox's primary one (its own "Schulungen",
/// a colleague's calendar shared with it): v1.0 has no delta for it, the simulator refuses it,
/// and Datapump reads its calendar view whole every run — deleted items and cancelled
/// occurrences go, new ones come.
async fn own_calendars(backend: Backend) {
    let (w, profile) = import_world(backend, SimConfig::default(), 200).await;
    let (trainings, shared) = {
        let sim = w.sim.sim.lock();
        let account = sim
            .find_user(datapump_sim::state::DEFAULT_ACCOUNT)
            .expect("account")
            .id
            .clone();
        let trainings = sim
            .calendars_of(&account)
            .into_iter()
            .find(|c| c.name == "Schulungen")
            .expect("trainings")
            .id
            .clone();
        let colleague = sim
            .find_user(datapump_sim::seed::SHARING_USER)
            .expect("colleague")
            .id
            .clone();
        let shared = sim.primary_calendar(&colleague).expect("shared").id.clone();
        (trainings, shared)
    };
    let mut subs = Vec::new();
    for (calendar, name) in [(&trainings, "Schulungen"), (&shared, "Anna")] {
        let id = w
            .app
            .db()
            .create_subscription(
                &datapump::storage::subscriptions::NewSubscription {
                    profile_id: profile,
                    source: datapump::model::SubscriptionSource::Own,
                    mailbox_id: None,
                    mailbox_address: datapump_sim::state::DEFAULT_ACCOUNT,
                    mailbox_name: name,
                    calendar_id: calendar,
                    calendar_name: name,
                    settings: &datapump::storage::subscriptions::SubscriptionSettings {
                        display_name: name.into(),
                        days_back: 7,
                        days_ahead: 180,
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
            .expect("subscription");
        subs.push((id, calendar.clone()));
    }
    let series = {
        let mut sim = w.sim.sim.lock();
        let mut e = weekly(ROOM, "Schulungsreihe", 2, 4);
        e.calendar = trainings.clone();
        sim.create_event(e).expect("series")
    };
    for (sub, calendar) in &subs {
        let r = run(&w, *sub).await;
        assert_eq!(
            (r.status.as_str(), r.kind.as_str()),
            ("ok", "full"),
            "{:?}",
            r.error
        );
        assert!(r.stats.created > 0);
        assert_matches_truth(&w, *sub, calendar, 7, 180).await;
    }
    let (sub, calendar) = &subs[0];
    let rows = w.app.db().events_of(*sub).await.expect("events");
    let single = rows
        .iter()
        .find(|r| r.event_type == "singleInstance" && r.start_utc > Utc::now())
        .expect("a single")
        .graph_id
        .clone();
    let occurrence = rows_of_series(&w, *sub, &series).await[1].graph_id.clone();
    // A listing cut short without a next link removes nothing: the second read sees it all.
    w.sim.sim.lock().view_cut_short = true;
    let r = run(&w, *sub).await;
    assert_eq!(
        (r.status.as_str(), r.stats.deleted),
        ("ok", 0),
        "{:?}",
        r.error
    );
    assert_matches_truth(&w, *sub, calendar, 7, 180).await;
    {
        let mut sim = w.sim.sim.lock();
        sim.delete_event(&single).expect("deleted");
        sim.delete_event(&occurrence).expect("one cancelled");
    }
    let r = run(&w, *sub).await;
    assert_eq!(r.status.as_str(), "ok", "{:?}", r.error);
    assert_eq!(r.stats.deleted, 2);
    assert_matches_truth(&w, *sub, calendar, 7, 180).await;
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(own_calendars_read_whole_each_run, own_calendars);

/// A series' instances cut short (half of them, no next link) while the page sends the whole
/// series: the listing is not taken as what the series is, and nothing of it is deleted.
async fn instances_cut_short(backend: Backend) {
    let (w, sub, series) = room_with_series(backend, 200).await;
    {
        let mut sim = w.sim.sim.lock();
        sim.instances_cut_short = true;
        sim.update_event(
            &series,
            EventPatch {
                subject: Some("Jour fixe (neu)".into()),
                ..EventPatch::default()
            },
        )
        .expect("renamed");
    }
    let r = run(&w, sub).await;
    assert_eq!(r.status.as_str(), "ok", "{:?}", r.error);
    assert_eq!(r.stats.deleted, 0);
    let rows = rows_of_series(&w, sub, &series).await;
    assert_eq!(rows.len(), 5, "nothing deleted on a short listing");
    assert!(
        rows.iter()
            .all(|r| r.subject.as_deref() == Some("Jour fixe (neu)"))
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(short_instances_delete_nothing, instances_cut_short);

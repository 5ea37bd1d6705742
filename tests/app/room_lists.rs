//! Whole room lists: subscribed in one step from the connect page, kept in step with Exchange
//! by the scheduler's check (a room added to the list is subscribed and imported without an
//! admin, a removed one paused and shown), and nothing changed when the list cannot be read.

use datapump_sim::model::TENANT_ID;
use datapump_sim::state::DEFAULT_CLIENT_ID;
use reqwest::StatusCode;

use crate::common::{Backend, TestApp, on_both_backends};
use crate::import::{assert_matches_truth, run};
use crate::profiles::{World, world};

const LIST: &str = "hauptgebaeude@contoso.example";

/// The addresses of a simulated room list's members.
fn members(w: &World, list: &str) -> Vec<String> {
    let s = w.sim.sim.lock();
    let l = s
        .room_lists
        .iter()
        .find(|l| l.address == list)
        .expect("list");
    l.members
        .iter()
        .map(|id| {
            s.users
                .iter()
                .find(|u| &u.id == id)
                .expect("user")
                .address()
                .to_lowercase()
        })
        .collect()
}

fn set_members(w: &World, list: &str, addresses: &[String]) {
    let mut s = w.sim.sim.lock();
    let ids: Vec<String> = addresses
        .iter()
        .map(|a| s.find_user_by_key(a).expect("room").id.clone())
        .collect();
    let l = s
        .room_lists
        .iter_mut()
        .find(|l| l.address == list)
        .expect("list");
    l.members = ids;
}

pub(crate) fn grant(w: &World, roles: &[&str]) {
    let mut s = w.sim.sim.lock();
    s.app_mut(DEFAULT_CLIENT_ID).expect("app").app_roles =
        roles.iter().map(|r| r.to_string()).collect();
}

/// Subscriptions from room lists: (address, enabled, removed from the list).
pub(crate) async fn list_subscriptions(app: &TestApp) -> Vec<(String, bool, bool)> {
    let mut out: Vec<_> = app
        .db()
        .list_subscriptions(None)
        .await
        .expect("subs")
        .into_iter()
        .filter(|s| s.room_list_id.is_some())
        .map(|s| {
            (
                s.mailbox_address.to_lowercase(),
                s.enabled,
                s.removed_from_list_at.is_some(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Makes every subscribed list due, as the passing of its check interval would.
async fn make_due(w: &World) {
    w.app
        .execute_sql(&[(
            "UPDATE room_list_subscriptions SET next_check_at = created_at",
            vec![],
        )])
        .await;
}

/// An application profile allowed to read the calendars and the rooms (Place.Read.All).
pub(crate) async fn rooms_profile(w: &World) -> i64 {
    let form = [
        ("kind", "application"),
        ("name", "Räume"),
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", datapump_sim::state::DEFAULT_SECRET),
        ("secret_expires_on", "2028-11-29"),
        ("tenant", TENANT_ID),
        ("cloud", "custom"),
        ("login_base", w.sim.url.as_str()),
        ("graph_base", w.sim.url.as_str()),
    ];
    let r = w.admin.post("/profiles", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id: i64 = r
        .location()
        .and_then(|l| l.rsplit('/').next())
        .and_then(|i| i.parse().ok())
        .expect("id");
    grant(
        w,
        &["Calendars.Read", "Place.Read.All", "User.ReadBasic.All"],
    );
    w.admin.post(&format!("/profiles/{id}/retry"), &[]).await;
    id
}

async fn room_list(backend: Backend) {
    let w = world(backend).await;
    let id = rooms_profile(&w).await;

    let connect = w
        .admin
        .get(&format!("/profiles/{id}/connect?rooms=1"))
        .await
        .body;
    assert!(connect.contains("Subscribe whole list"), "{connect}");
    assert!(connect.contains(LIST), "{connect}");
    // Each list with its rooms (building, floor, capacity).
    for room in members(&w, LIST) {
        assert!(connect.contains(&room), "{room}: {connect}");
    }
    assert!(connect.contains("<th>Capacity</th>"), "{connect}");

    // Bad settings: a message, nothing subscribed.
    let bad = w
        .admin
        .post(
            &format!("/profiles/{id}/room-lists"),
            &[
                ("list_address", LIST),
                ("list_name", "Hauptgebäude"),
                ("days_back", "-3"),
                ("days_ahead", "180"),
                ("interval_minutes", "5"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::SEE_OTHER);
    assert!(list_subscriptions(&w.app).await.is_empty());

    let subscribe = [
        ("list_address", LIST),
        ("list_name", "Hauptgebäude"),
        ("days_back", "7"),
        ("days_ahead", "180"),
        ("interval_minutes", "5"),
    ];
    let r = w
        .admin
        .post(&format!("/profiles/{id}/room-lists"), &subscribe)
        .await;
    assert_eq!(r.location(), Some("/room-lists"));
    let before = members(&w, LIST);
    assert!(before.len() >= 2, "{before:?}");
    let page = w.admin.get("/room-lists").await.body;
    assert!(
        page.contains(&format!("{} rooms newly subscribed", before.len())),
        "{page}"
    );
    let subs = list_subscriptions(&w.app).await;
    let mut expected: Vec<_> = before.iter().map(|a| (a.clone(), true, false)).collect();
    expected.sort();
    assert_eq!(subs, expected);
    // Subscribing it again changes nothing.
    w.admin
        .post(&format!("/profiles/{id}/room-lists"), &subscribe)
        .await;
    assert_eq!(list_subscriptions(&w.app).await, expected);

    // Exchange's admin moves a room from the other building into this list and takes one
    // out. The scheduler's next check follows, without an admin.
    let other = members(&w, "nebengebaeude@contoso.example");
    let added = other[0].clone();
    let removed = before[0].clone();
    let mut now_in: Vec<String> = before[1..].to_vec();
    now_in.push(added.clone());
    set_members(&w, LIST, &now_in);
    assert_eq!(
        w.app
            .state
            .sync
            .check_room_lists_if_due()
            .await
            .expect("check"),
        0,
        "not due yet"
    );
    make_due(&w).await;
    assert_eq!(
        w.app
            .state
            .sync
            .check_room_lists_if_due()
            .await
            .expect("check"),
        1
    );
    let subs = list_subscriptions(&w.app).await;
    assert!(subs.contains(&(added.clone(), true, false)), "{subs:?}");
    assert!(subs.contains(&(removed.clone(), false, true)), "{subs:?}");
    let new_sub = w
        .app
        .db()
        .list_subscriptions(None)
        .await
        .expect("subs")
        .into_iter()
        .find(|s| s.mailbox_address.eq_ignore_ascii_case(&added))
        .expect("new room subscribed")
        .id;
    let report = run(&w, new_sub).await;
    assert!(report.stats.created > 0, "{:?}", report.error);
    assert_matches_truth(&w, new_sub, &added, 7, 180).await;
    let page = w.admin.get("/room-lists").await.body;
    assert!(page.contains("removed from the list on"), "{page}");
    let paused_id = w
        .app
        .db()
        .list_subscriptions(None)
        .await
        .expect("subs")
        .into_iter()
        .find(|s| s.mailbox_address.eq_ignore_ascii_case(&removed))
        .expect("paused room")
        .id;
    let shown = w
        .admin
        .get(&format!("/subscriptions/{paused_id}"))
        .await
        .body;
    assert!(
        shown.contains("removed from its subscribed room list"),
        "{shown}"
    );
    // German as well.
    let de = w
        .admin
        .get_with("/room-lists", &[("accept-language", "de")])
        .await
        .body;
    assert!(de.contains("aus der Liste entfernt"), "{de}");

    // The directory cannot be read any more: the check fails and pauses nothing.
    grant(&w, &["Calendars.Read"]);
    assert!(w.app.state.tokens.force_refresh(id).await.is_ok());
    set_members(&w, LIST, &[]);
    make_due(&w).await;
    w.app
        .state
        .sync
        .check_room_lists_if_due()
        .await
        .expect("check");
    assert_eq!(list_subscriptions(&w.app).await, subs, "nothing changed");
    let page = w.admin.get("/room-lists").await.body;
    assert!(page.contains("The last read failed"), "{page}");

    // Back in the list: the room resumes.
    grant(&w, &["Calendars.Read", "Place.Read.All"]);
    assert!(w.app.state.tokens.force_refresh(id).await.is_ok());
    now_in.push(removed.clone());
    set_members(&w, LIST, &now_in);
    let r = w.admin.post("/room-lists/1/check", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        list_subscriptions(&w.app)
            .await
            .contains(&(removed.clone(), true, false))
    );
    // Stop following: the rooms stay subscribed.
    let n = w
        .app
        .db()
        .list_subscriptions(None)
        .await
        .expect("subs")
        .len();
    w.admin.post("/room-lists/1/delete", &[]).await;
    assert_eq!(
        w.app
            .db()
            .list_subscriptions(None)
            .await
            .expect("subs")
            .len(),
        n
    );
    assert!(
        w.admin
            .get("/room-lists")
            .await
            .body
            .contains("No room list is subscribed")
    );
}

on_both_backends!(room_lists, room_list);

/// `/places` answers with the first 100 and no next link (docs/graph-behaviours.md); the
/// simulator's campus list has 120 rooms. The picker shows all of them, the whole list is
/// subscribed, a room past the hundredth gets its directory details, and a read that is not
/// provably whole — a short page, a directory whose order shifts between pages — pauses
/// nothing and says so.
async fn campus(backend: Backend) {
    const CAMPUS: &str = "campus@contoso.example";
    let w = world(backend).await;
    let id = rooms_profile(&w).await;
    let rooms = members(&w, CAMPUS);
    assert_eq!(rooms.len(), 120);

    let connect = w
        .admin
        .get(&format!("/profiles/{id}/connect?rooms=1"))
        .await
        .body;
    for room in &rooms {
        assert!(connect.contains(room.as_str()), "{room} on the picker");
    }
    assert!(
        !connect.contains("did not return the rooms completely"),
        "{connect}"
    );

    let r = w
        .admin
        .post(
            &format!("/profiles/{id}/room-lists"),
            &[
                ("list_address", CAMPUS),
                ("list_name", "Campus"),
                ("days_back", "7"),
                ("days_ahead", "30"),
                ("interval_minutes", "60"),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/room-lists"));
    let subs = list_subscriptions(&w.app).await;
    assert_eq!(subs.len(), 120, "the whole list");
    assert!(
        subs.iter()
            .all(|(_, enabled, removed)| *enabled && !removed)
    );

    // The room directory's details reach a room past the hundredth.
    w.admin.post("/rooms/refresh", &[]).await;
    let last = w
        .app
        .db()
        .list_subscriptions(None)
        .await
        .expect("subs")
        .into_iter()
        .find(|s| {
            s.mailbox_address
                .eq_ignore_ascii_case("campus.120@contoso.example")
        })
        .expect("subscribed")
        .id;
    let room = w
        .app
        .db()
        .room(last)
        .await
        .expect("room")
        .expect("from the directory");
    assert_eq!(room.building.as_deref(), Some("Campus"));
    assert_eq!(room.room_list.as_deref(), Some("Campus"));

    // Uneven reads with a room really gone from the list: nothing paused until a read is whole.
    let mut fewer = rooms.clone();
    fewer.remove(0);
    set_members(&w, CAMPUS, &fewer);
    for quirk in [
        datapump_sim::state::PlacesQuirk::ShortPage,
        datapump_sim::state::PlacesQuirk::Reorder,
    ] {
        w.sim.sim.lock().places_quirk = Some(quirk);
        let check = w.app.state.sync.check_room_list(1).await.expect("check");
        assert!(check.removed.is_empty(), "{quirk:?}: {check:?}");
        assert_eq!(
            check.error.as_deref(),
            Some(datapump::sync::room_lists::INCOMPLETE),
            "{quirk:?}"
        );
        assert!(
            list_subscriptions(&w.app)
                .await
                .iter()
                .all(|(_, enabled, _)| *enabled),
            "{quirk:?}: nothing paused"
        );
    }
    w.sim.sim.lock().places_quirk = None;
    let check = w.app.state.sync.check_room_list(1).await.expect("check");
    assert_eq!(check.removed, [rooms[0].clone()], "{check:?}");
    assert!(check.error.is_none());
}

on_both_backends!(campus_of_120_rooms, campus);

//! Connect, find mailboxes, choose calendars: against the simulator's tenant.

use datapump::storage::admins::Role;
use datapump_sim::SimConfig;
use reqwest::StatusCode;

use crate::common::{Backend, Options, on_both_backends};
use crate::profiles::{World, authorize, create_profile, world, world_with};

async fn connected(w: &World) -> i64 {
    let id = create_profile(w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    authorize(w, id).await;
    id
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn address_lookup(backend: Backend) {
    let w = world(backend).await;
    let id = connected(&w).await;
    let base = format!("/profiles/{id}/connect");
    let page = w.admin.get(&base).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("only the primary calendar"));

    // Found, whatever the case of the address; preview and subscribe form.
    let found = w
        .admin
        .get(&format!(
            "{base}?address={}",
            enc("Raum.Berlin@Contoso.Example")
        ))
        .await;
    assert!(found.body.contains("Raum Berlin"), "{}", found.body);
    assert!(found.body.contains("Next events"));
    assert!(found.body.contains("Subscribe this calendar"));
    assert!(
        found.body.contains("value=\"Raum Berlin\""),
        "display name prefilled"
    );
    assert!(!found.body.contains("rewrites meetings"));

    // The anonymizing room is recognised before anything is imported.
    let hamburg = w
        .admin
        .get(&format!(
            "{base}?address={}",
            enc("raum.hamburg@contoso.example")
        ))
        .await;
    assert!(
        hamburg.body.contains("Exchange rewrites meetings"),
        "{}",
        hamburg.body
    );
    assert!(hamburg.body.contains("Set-CalendarProcessing -Identity raum.hamburg@contoso.example -AddOrganizerToSubject $false"));

    let nobody = w
        .admin
        .get(&format!("{base}?address={}", enc("nobody@contoso.example")))
        .await;
    assert!(
        nobody
            .body
            .contains("No mailbox with the address nobody@contoso.example was found")
    );
    let forbidden = w
        .admin
        .get(&format!(
            "{base}?address={}",
            enc("vorstandsraum@contoso.example")
        ))
        .await;
    assert!(
        forbidden
            .body
            .contains("may not read the calendar of vorstandsraum@contoso.example")
    );
    assert!(forbidden.body.contains("Add-MailboxFolderPermission -Identity \"vorstandsraum@contoso.example:\\Calendar\" -User datapump@contoso.example -AccessRights Reviewer"), "{}", forbidden.body);
    let unlicensed = w
        .admin
        .get(&format!(
            "{base}?address={}",
            enc("ex.mitarbeiter@contoso.example")
        ))
        .await;
    assert!(unlicensed.body.contains("has no Exchange Online mailbox"));

    // My calendars: own ones and the one a colleague shares.
    let mine = w.admin.get(&format!("{base}?mine=1")).await;
    for name in [
        "Kalender",
        "Feiertage",
        "Schulungen",
        "anna.schmidt@contoso.example",
    ] {
        assert!(mine.body.contains(name), "{name}");
    }
    // Rooms list: the guide's registration lacks Place.Read.All, and the page says what to add.
    let rooms = w.admin.get(&format!("{base}?rooms=1")).await;
    assert!(rooms.body.contains("Place.Read.All"));
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(address_lookup, address_lookup);

async fn search(backend: Backend) {
    let sim_config = SimConfig {
        rooms: 40,
        ..SimConfig::default()
    };
    let w = world_with(backend, Options::default(), sim_config).await;
    let id = connected(&w).await;
    let base = format!("/profiles/{id}/connect");
    let search = |term: &str| format!("{base}?q={}", enc(term));

    for (term, expect) in [
        ("raum b", "Raum Berlin"),     // displayName
        ("jür", "Jürgen"),             // givenName, non-ASCII
        ("o'ne", "O&#39;Neill"),       // surname with an apostrophe
        ("empf", "Empfang"),           // mail
        ("raum.muen", "Raum München"), // userPrincipalName
        ("ber", "Raum Berlin"),        // a word start inside the name
        ("Zoë", "Zoë"),
    ] {
        let page = w.admin.get(&search(term)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains(expect),
            "{term}: {expect} not in results"
        );
    }
    let page = w.admin.get(&search("erlin")).await;
    assert!(
        !page.body.contains(">Raum Berlin<"),
        "'erlin' does not match a word start"
    );
    assert!(page.body.contains("Nothing found"));
    // Quotes and OData syntax in the input are data, not query.
    for hostile in ["x') or startswith(mail,'", "a&b#c", "\"ber\" OR \"mail:a\""] {
        let page = w.admin.get(&search(hostile)).await;
        assert_eq!(page.status, StatusCode::OK, "{hostile}");
        assert!(
            page.body.contains("Nothing found"),
            "{hostile}: {}",
            page.body
        );
    }
    // Paging through many results.
    let first = w.admin.get(&search("raum")).await;
    // 40 rooms, of which "Konferenzraum 3.OG" and "Vorstandsraum" do not start a word with "raum".
    assert!(first.body.contains("38 mailboxes"), "{}", first.body);
    assert!(first.body.contains("Page 1 of 2"));
    let second = w.admin.get(&format!("{}&page=2", search("raum"))).await;
    assert!(second.body.contains("Page 2 of 2"));

    // Without User.ReadBasic.All the list stays empty, with the guide's explanation; the address
    // field still works.
    w.sim.sim.lock().access_tokens.values_mut().for_each(|t| {
        t.scopes.remove("User.ReadBasic.All");
    });
    let page = w.admin.get(&search("raum")).await;
    assert!(
        page.body
            .contains("needs the permission User.ReadBasic.All")
    );
    let page = w
        .admin
        .get(&format!(
            "{base}?address={}",
            enc("raum.berlin@contoso.example")
        ))
        .await;
    assert!(page.body.contains("Subscribe this calendar"));
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(mailbox_search, search);

fn subscribe_form<'a>(mailbox: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("source", "mailbox"),
        ("mailbox", mailbox),
        ("calendar_id", ""),
        ("display_name", name),
        ("days_back", "7"),
        ("days_ahead", "180"),
        ("interval_minutes", "5"),
        ("enabled", "1"),
    ]
}

async fn subscriptions(backend: Backend) {
    let w = world(backend).await;
    let id = connected(&w).await;
    let berlin = "raum.berlin@contoso.example";
    w.admin
        .get(&format!("/profiles/{id}/connect?address={berlin}"))
        .await;

    // Invalid settings: messages, nothing stored.
    let mut bad = subscribe_form(berlin, "");
    bad[4] = ("days_back", "-3");
    bad[6] = ("interval_minutes", "0");
    let r = w
        .admin
        .post(&format!("/profiles/{id}/subscriptions"), &bad)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Enter a display name") && r.body.contains("between 1 and 1440"));
    assert!(
        w.app
            .db()
            .list_subscriptions(None)
            .await
            .expect("list")
            .is_empty()
    );

    // Subscribing reads the mailbox and its calendar, not the preview the page showed. (The
    // import that may start at once reads delta and instances, counted apart.)
    let graph_requests = || {
        let s = w.sim.sim.lock();
        let count = |f: &dyn Fn(&str) -> bool| -> u64 {
            (s.counters.by_path.iter())
                .filter(|(path, _)| !path.contains("/oauth2/") && f(path))
                .map(|(_, n)| n)
                .sum()
        };
        let lookups = count(&|p| !p.contains("/delta") && !p.contains("/instances"));
        (lookups, count(&|p| p.ends_with("/calendarView")))
    };
    let (total_before, views_before) = graph_requests();
    let r = w
        .admin
        .post(
            &format!("/profiles/{id}/subscriptions"),
            &subscribe_form(berlin, "Empfang Berlin"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (total_after, views_after) = graph_requests();
    assert_eq!(
        views_after, views_before,
        "no preview read when subscribing"
    );
    assert_eq!(
        total_after - total_before,
        2,
        "directory lookup and calendar"
    );
    let sub_page = r.location().expect("location").to_string();
    let page = w.admin.get(&sub_page).await;
    assert!(page.body.contains("Empfang Berlin is subscribed"));
    let subs = w.app.db().list_subscriptions(None).await.expect("list");
    assert_eq!(subs.len(), 1);
    assert_eq!(
        (
            subs[0].days_back,
            subs[0].days_ahead,
            subs[0].interval_minutes
        ),
        (7, 180, 5)
    );
    assert_eq!(subs[0].mailbox_address, berlin);

    // The same calendar again: refused, with a link to the existing subscription.
    let again = w
        .admin
        .get(&format!("/profiles/{id}/connect?address={berlin}"))
        .await;
    assert!(again.body.contains("already subscribed"));
    let dup = w
        .admin
        .post(
            &format!("/profiles/{id}/subscriptions"),
            &subscribe_form(berlin, "Nochmal"),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert!(dup.body.contains(&format!("/subscriptions/{}", subs[0].id)));

    // A forbidden mailbox cannot be subscribed by crafting the form.
    let forged = w
        .admin
        .post(
            &format!("/profiles/{id}/subscriptions"),
            &subscribe_form("vorstandsraum@contoso.example", "x"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        w.app
            .db()
            .list_subscriptions(None)
            .await
            .expect("list")
            .len(),
        1
    );

    // An own calendar.
    let mine = w.admin.get(&format!("/profiles/{id}/connect?mine=1")).await;
    let own_id = mine
        .body
        .split("connect?own=")
        .nth(2)
        .and_then(|r| r.split('"').next())
        .expect("second calendar link")
        .to_string();
    let own = w
        .admin
        .get(&format!("/profiles/{id}/connect?own={own_id}"))
        .await;
    assert!(own.body.contains("Subscribe this calendar"), "{}", own.body);
    let own_calendar = url::form_urlencoded::parse(format!("x={own_id}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .expect("id");
    let mut form = subscribe_form("", "Feiertage");
    form[0] = ("source", "own");
    form[2] = ("calendar_id", &own_calendar);
    assert_eq!(
        w.admin
            .post(&format!("/profiles/{id}/subscriptions"), &form)
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    // Edit, with a conflict for the second admin.
    let sub = &subs[0];
    let (otto, _) = w.app.signed_in("otto", Role::Admin).await;
    w.admin.get(&format!("/subscriptions/{}", sub.id)).await;
    otto.get(&format!("/subscriptions/{}", sub.id)).await;
    let mut edit = subscribe_form(berlin, "Empfang Berlin Mitte");
    edit.push(("version", "1"));
    edit[5] = ("days_ahead", "90");
    assert_eq!(
        w.admin
            .post(&format!("/subscriptions/{}", sub.id), &edit)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let late = otto
        .post(&format!("/subscriptions/{}", sub.id), &edit)
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    let now = w.app.db().subscription(sub.id).await.expect("sub");
    assert_eq!(
        (now.display_name.as_str(), now.days_ahead),
        ("Empfang Berlin Mitte", 90)
    );

    // Data minimisation on the same form: a bad retention is refused and changes nothing;
    // unticked fields are no longer stored.
    let mut minimal = subscribe_form(berlin, "Empfang Berlin Mitte");
    minimal.retain(|(k, _)| *k != "days_ahead");
    minimal.extend([
        ("days_ahead", "90"),
        ("version", "2"),
        ("minimisation", "1"),
        ("store_attendee_addresses", "1"),
        ("store_online_meeting", "1"),
        ("store_categories", "1"),
        ("retention_days", "-1"),
    ]);
    let refused = w
        .admin
        .post(&format!("/subscriptions/{}", sub.id), &minimal)
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("from 0 to 36500"), "{}", refused.body);
    let unchanged = w.app.db().subscription(sub.id).await.expect("sub");
    assert!(unchanged.store_body && unchanged.retention_days.is_none());
    assert_eq!(unchanged.version, 2);
    minimal.retain(|(k, _)| *k != "retention_days");
    minimal.push(("retention_days", "30"));
    assert_eq!(
        w.admin
            .post(&format!("/subscriptions/{}", sub.id), &minimal)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let now = w.app.db().subscription(sub.id).await.expect("sub");
    assert!(!now.store_body && now.store_attendee_addresses && now.store_categories);
    assert_eq!(now.retention_days, Some(30));
    let page = w
        .admin
        .get(&format!("/subscriptions/{}", sub.id))
        .await
        .body;
    assert!(
        page.contains("name=\"store_body\" value=\"1\" >"),
        "unticked on the page"
    );

    // Pause and resume.
    w.admin
        .post(&format!("/subscriptions/{}/toggle", sub.id), &[])
        .await;
    assert!(!w.app.db().subscription(sub.id).await.expect("sub").enabled);
    w.admin
        .post(&format!("/subscriptions/{}/toggle", sub.id), &[])
        .await;
    assert!(w.app.db().subscription(sub.id).await.expect("sub").enabled);

    // A viewer sees, changes nothing.
    let (viewer, _) = w.app.signed_in("vera", Role::Viewer).await;
    assert!(
        viewer
            .get("/subscriptions")
            .await
            .body
            .contains("Empfang Berlin Mitte")
    );
    assert!(
        !viewer
            .get(&format!("/subscriptions/{}", sub.id))
            .await
            .body
            .contains("name=\"version\"")
    );
    assert_eq!(
        viewer
            .post(&format!("/subscriptions/{}/toggle", sub.id), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        viewer
            .post(
                &format!("/profiles/{id}/subscriptions"),
                &subscribe_form("raum.muenchen@contoso.example", "x")
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Delete: a choice is required; "keep" keeps the row for the events, "remove" removes it.
    w.admin
        .get(&format!("/subscriptions/{}/delete", sub.id))
        .await;
    assert_eq!(
        w.admin
            .post(&format!("/subscriptions/{}/delete", sub.id), &[])
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        w.admin
            .post(
                &format!("/subscriptions/{}/delete", sub.id),
                &[("events", "keep")]
            )
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let left = w.app.db().list_subscriptions(None).await.expect("list");
    assert_eq!(left.len(), 1, "only the own calendar is live");
    // Subscribing it again works once the old one is gone.
    w.admin
        .get(&format!("/profiles/{id}/connect?address={berlin}"))
        .await;
    assert_eq!(
        w.admin
            .post(
                &format!("/profiles/{id}/subscriptions"),
                &subscribe_form(berlin, "Berlin neu")
            )
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let newest = w
        .app
        .db()
        .list_subscriptions(None)
        .await
        .expect("list")
        .into_iter()
        .find(|s| s.display_name == "Berlin neu")
        .expect("new");
    assert_eq!(
        w.admin
            .post(
                &format!("/subscriptions/{}/delete", newest.id),
                &[("events", "remove")]
            )
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let actions = w.app.audit_actions().await;
    for a in [
        "subscription.created",
        "subscription.updated",
        "subscription.paused",
        "subscription.resumed",
        "subscription.deleted",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}");
    }

    // Deleting the profile asks what to do with the remaining subscription's events.
    w.admin.get(&format!("/profiles/{id}/delete")).await;
    let r = w.admin.post(&format!("/profiles/{id}/delete"), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("What should happen to the events imported so far")
    );
    assert_eq!(
        w.admin
            .post(&format!("/profiles/{id}/delete"), &[("events", "keep")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert!(
        w.app
            .db()
            .list_profiles()
            .await
            .expect("profiles")
            .is_empty()
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(subscribe_edit_pause_delete, subscriptions);

/// A mailbox whose SMTP address is not its UPN: Graph does not find it at
/// `/users/{address}`; Datapump resolves the address in the directory, shows the mailbox and
/// subscribes it by its object id.
async fn smtp_address_is_not_the_upn(backend: Backend) {
    let w = world(backend).await;
    let id = connected(&w).await;
    let address = datapump_sim::seed::SMTP_NOT_UPN;
    let object_id = w
        .sim
        .sim
        .lock()
        .find_user(address)
        .map(|u| u.id.clone())
        .expect("mailbox");
    let found = w
        .admin
        .get(&format!("/profiles/{id}/connect?address={}", enc(address)))
        .await;
    assert!(found.body.contains("Fuhrpark"), "{}", found.body);
    assert!(
        found.body.contains("Subscribe this calendar"),
        "{}",
        found.body
    );
    let r = w
        .admin
        .post(
            &format!("/profiles/{id}/subscriptions"),
            &subscribe_form(address, "Fuhrpark"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let subs = w.app.db().list_subscriptions(None).await.expect("list");
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].mailbox_id.as_deref(), Some(object_id.as_str()));
    assert_eq!(subs[0].mailbox_address, address);
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(
    smtp_address_that_is_not_the_upn,
    smtp_address_is_not_the_upn
);

/// Days back + today + days ahead may cover at most 1825 days, Graph's limit for a calendar
/// view: more is refused on the form, with nothing stored; exactly 1825 is accepted.
async fn window_limit(backend: Backend) {
    let w = world(backend).await;
    let id = connected(&w).await;
    let berlin = "raum.berlin@contoso.example";
    let mut long = subscribe_form(berlin, "Empfang Berlin");
    long[4] = ("days_back", "1000");
    long[5] = ("days_ahead", "1000");
    let r = w
        .admin
        .post(&format!("/profiles/{id}/subscriptions"), &long)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("at most 1825 days"), "{}", r.body);
    assert!(
        w.app
            .db()
            .list_subscriptions(None)
            .await
            .expect("list")
            .is_empty()
    );
    let mut longest = subscribe_form(berlin, "Empfang Berlin");
    longest[4] = ("days_back", "1000");
    longest[5] = ("days_ahead", "824");
    let r = w
        .admin
        .post(&format!("/profiles/{id}/subscriptions"), &longest)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let subs = w.app.db().list_subscriptions(None).await.expect("list");
    assert_eq!((subs[0].days_back, subs[0].days_ahead), (1000, 824));
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(subscription_window_limit, window_limit);

/// A profile authorized with a personal Microsoft account: Graph has no directory and no
/// rooms for it, so the page offers neither and explains why, instead of failing searches; its
/// own calendars are listed and can be subscribed.
async fn personal_account(backend: Backend) {
    let w = world(backend).await;
    w.sim.sim.lock().auto_login = Some(datapump_sim::seed::PERSONAL_ACCOUNT.into());
    let id = connected(&w).await;
    let profile = w.app.db().profile(id).await.expect("profile");
    assert!(profile.personal_account());
    assert_eq!(
        profile.account_upn.as_deref(),
        Some(datapump_sim::seed::PERSONAL_ACCOUNT)
    );
    let base = format!("/profiles/{id}/connect");
    let page = w.admin.get(&base).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("personal Microsoft account"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("name=\"q\""), "no search form");
    assert!(!page.body.contains("connect?rooms=1"), "no rooms list");
    assert!(!page.body.contains("name=\"address\""), "no address lookup");
    for query in [
        "?q=anna",
        "?rooms=1",
        "?address=raum.berlin%40contoso.example",
    ] {
        let r = w.admin.get(&format!("{base}{query}")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("personal Microsoft account"), "{query}");
        assert!(!r.body.contains("failed"), "{query}: {}", r.body);
    }
    let mine = w.admin.get(&format!("{base}?mine=1")).await;
    assert!(mine.body.contains("Kalender"), "{}", mine.body);
    let de = w.admin.get_with(&base, &[("accept-language", "de")]).await;
    assert!(de.body.contains("persönlichen Microsoft-Konto"));
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(personal_microsoft_account, personal_account);

async fn concurrent_subscribe(backend: Backend) {
    let w = world(backend).await;
    let id = connected(&w).await;
    let (otto, _) = w.app.signed_in("otto", Role::Admin).await;
    let berlin = "raum.berlin@contoso.example";
    w.admin
        .get(&format!("/profiles/{id}/connect?address={berlin}"))
        .await;
    otto.get(&format!("/profiles/{id}/connect?address={berlin}"))
        .await;
    let path = format!("/profiles/{id}/subscriptions");
    let (form_a, form_b) = (subscribe_form(berlin, "A"), subscribe_form(berlin, "B"));
    let (a, b) = tokio::join!(w.admin.post(&path, &form_a), otto.post(&path, &form_b));
    let statuses = [a.status, b.status];
    assert!(statuses.contains(&StatusCode::SEE_OTHER), "{statuses:?}");
    assert_eq!(
        w.app
            .db()
            .list_subscriptions(None)
            .await
            .expect("list")
            .len(),
        1,
        "one subscription"
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(concurrent_duplicate_subscription, concurrent_subscribe);

#[tokio::test]
async fn connect_pages_render_in_both_languages() {
    let w = world(Backend::Sqlite).await;
    let id = connected(&w).await;
    w.admin
        .get(&format!(
            "/profiles/{id}/connect?address=raum.berlin@contoso.example"
        ))
        .await;
    assert_eq!(
        w.admin
            .post(
                &format!("/profiles/{id}/subscriptions"),
                &subscribe_form("raum.berlin@contoso.example", "Berlin")
            )
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let sub = w.app.db().list_subscriptions(None).await.expect("list")[0].id;
    for (lang, marker) in [("de", "Kalender auswählen"), ("en", "Choose calendars")] {
        for path in [
            format!("/profiles/{id}/connect?address=raum.berlin@contoso.example"),
            format!("/profiles/{id}/connect?q=raum"),
            format!("/profiles/{id}/connect?mine=1&rooms=1"),
        ] {
            let page = w.admin.get_with(&path, &[("accept-language", lang)]).await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(page.body.contains(marker), "{lang} {path}");
            assert!(
                !page.body.contains(">connect-") && !page.body.contains(">kind-"),
                "{lang} {path}: untranslated"
            );
        }
        for path in [
            "/subscriptions".to_string(),
            format!("/subscriptions/{sub}"),
            format!("/subscriptions/{sub}/delete"),
            format!("/profiles/{id}"),
        ] {
            let page = w.admin.get_with(&path, &[("accept-language", lang)]).await;
            assert_eq!(page.status, StatusCode::OK, "{lang} {path}");
            assert!(page.body.contains(&format!("<html lang=\"{lang}\">")));
            assert!(
                !page.body.contains(">subs-") && !page.body.contains(">sub-"),
                "{lang} {path}: untranslated"
            );
        }
    }
    w.app.stop().await;
    w.sim.stop().await;
}

/// Checked rows of the rooms list or the search results are subscribed in one go, each
/// under its own name with the one set of settings; every row says what became of it.
async fn bulk_subscribe(backend: Backend) {
    let w = world(backend).await;
    let id = crate::room_lists::rooms_profile(&w).await;
    let db = w.app.db();
    let rooms_page = w
        .admin
        .get(&format!("/profiles/{id}/connect?rooms=1"))
        .await;
    assert_eq!(rooms_page.status, StatusCode::OK);
    assert!(
        rooms_page
            .body
            .contains(r#"name="mailbox" value="raum.berlin@contoso.example""#),
        "{}",
        rooms_page.body
    );
    let bulk = format!("/profiles/{id}/subscriptions/bulk");
    let settings = [
        ("days_back", "3"),
        ("days_ahead", "30"),
        ("interval_minutes", "15"),
        ("enabled", "1"),
        ("rooms", "1"),
    ];
    let with = |mailboxes: &[&'static str], extra: &[(&'static str, &'static str)]| {
        let mut f: Vec<(&str, &str)> = mailboxes.iter().map(|m| ("mailbox", *m)).collect();
        f.extend(extra.iter().copied());
        f
    };

    // Settings refused: the same page, rows still checked, nothing subscribed.
    let mut bad = settings.to_vec();
    bad[2] = ("interval_minutes", "0");
    let refused = w
        .admin
        .post(&bulk, &with(&["raum.berlin@contoso.example"], &bad))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("field-error"), "{}", refused.body);
    assert!(
        refused
            .body
            .contains(r#"value="raum.berlin@contoso.example" aria-label="Raum Berlin" checked"#),
        "{}",
        refused.body
    );
    let none = w.admin.post(&bulk, &with(&[], &settings)).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(none.body.contains("Check at least one mailbox."));
    assert!(db.list_subscriptions(None).await.expect("list").is_empty());

    // Without the CSRF token, or as a viewer: refused.
    let form = with(
        &[
            "raum.berlin@contoso.example",
            "Raum.Muenchen@contoso.example",
            "raum.berlin@CONTOSO.example",
            "ex.mitarbeiter@contoso.example",
            "nobody@contoso.example",
            "raum.koeln@contoso.example",
        ],
        &settings,
    );
    let forged = w.admin.post_raw(&bulk, &form, &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let (viewer, _) = w.app.signed_in("vera", Role::Viewer).await;
    assert!(
        !viewer
            .get(&format!("/profiles/{id}/connect?rooms=1"))
            .await
            .body
            .contains(r#"name="mailbox""#)
    );
    assert_eq!(
        viewer.post(&bulk, &form).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(db.list_subscriptions(None).await.expect("list").is_empty());

    let done = w.admin.post(&bulk, &form).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(
        done.body.contains("3 newly subscribed, 2 not possible."),
        "{}",
        done.body
    );
    assert!(
        done.body
            .contains("ex.mitarbeiter@contoso.example exists, but has no Exchange Online mailbox"),
        "{}",
        done.body
    );
    assert!(
        done.body
            .contains("No mailbox with the address nobody@contoso.example")
    );
    let subs = db.list_subscriptions(None).await.expect("list");
    let mut names: Vec<&str> = subs.iter().map(|s| s.display_name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["Raum Berlin", "Raum Köln", "Raum München"]);
    for s in &subs {
        assert_eq!(
            (s.days_back, s.days_ahead, s.interval_minutes, s.enabled),
            (3, 30, 15, true)
        );
        assert!(
            done.body.contains(&format!("/subscriptions/{}\"", s.id)),
            "row links its subscription"
        );
    }
    let audits = w.app.audit_actions().await;
    assert_eq!(
        audits
            .iter()
            .filter(|a| *a == "subscription.created")
            .count(),
        3
    );

    // Again: nothing new, each says so; the list marks them as subscribed.
    let again = w.admin.post(&bulk, &form).await;
    assert!(again.body.contains("0 newly subscribed"), "{}", again.body);
    assert_eq!(again.body.matches("was subscribed already").count(), 3);
    assert_eq!(db.list_subscriptions(None).await.expect("list").len(), 3);
    let listed = w
        .admin
        .get(&format!("/profiles/{id}/connect?rooms=1"))
        .await
        .body;
    assert!(!listed.contains(r#"value="raum.berlin@contoso.example""#));
    assert!(
        listed.contains(&format!(
            r#"href="/subscriptions/{}" class="badge ok""#,
            subs[0].id
        )) || listed.contains("class=\"badge ok\">subscribed<")
    );

    // From the search results of a delegated profile, the same way; the account may not
    // read the board room.
    let delegated = connected(&w).await;
    let results = w
        .admin
        .get(&format!("/profiles/{delegated}/connect?q=raum"))
        .await;
    assert!(
        results
            .body
            .contains(r#"name="mailbox" value="raum.hamburg@contoso.example""#),
        "{}",
        results.body
    );
    let from_search = w
        .admin
        .post(
            &format!("/profiles/{delegated}/subscriptions/bulk"),
            &[
                ("mailbox", "raum.hamburg@contoso.example"),
                ("mailbox", "vorstandsraum@contoso.example"),
                ("interval_minutes", "5"),
                ("days_back", "7"),
                ("days_ahead", "180"),
                ("q", "raum"),
                ("page", "1"),
            ],
        )
        .await;
    assert!(
        from_search
            .body
            .contains("1 newly subscribed, 1 not possible."),
        "{}",
        from_search.body
    );
    assert!(
        from_search.body.contains("may not read this calendar"),
        "{}",
        from_search.body
    );
    assert!(
        from_search.body.contains("connect?q=raum&#38;page=1"),
        "back to the results"
    );
    let hamburg = db
        .list_subscriptions(Some(delegated))
        .await
        .expect("list")
        .into_iter()
        .find(|s| s.display_name == "Raum Hamburg")
        .expect("subscribed");
    assert!(!hamburg.enabled, "unchecked: paused");
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(bulk_subscribe, bulk_subscribe);

/// The connect page searches the directory and previews any mailbox with the profile's
/// rights: viewers may not use it (issue 30, item 12). They are refused before Graph is asked,
/// and the profile page offers them no link to it; admins keep it.
async fn viewers_do_not_search(backend: Backend) {
    let w = world(backend).await;
    let id = connected(&w).await;
    let (viewer, _) = w.app.signed_in("vera", Role::Viewer).await;
    let before = w.sim.sim.lock().counters.total;
    for query in ["q=ber", "address=vorstandsraum@contoso.example", "rooms=1"] {
        let page = viewer.get(&format!("/profiles/{id}/connect?{query}")).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{query}");
    }
    assert_eq!(
        w.sim.sim.lock().counters.total,
        before,
        "Graph was not asked"
    );
    let profile = viewer.get(&format!("/profiles/{id}")).await.body;
    assert!(
        !profile.contains(&format!("/profiles/{id}/connect")),
        "{profile}"
    );
    let admin = w.admin.get(&format!("/profiles/{id}/connect?q=ber")).await;
    assert_eq!(admin.status, StatusCode::OK);
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(viewers_do_not_search_the_directory, viewers_do_not_search);

/// Requirement 47: a request that takes longer than the request timeout is answered 503 (here
/// a directory search against a simulator that answers after 1.5 s, with a 0.5 s timeout),
/// and the instance goes on serving.
async fn slow_requests_time_out(backend: Backend) {
    let options = Options {
        request_timeout: Some(std::time::Duration::from_millis(500)),
        ..Options::default()
    };
    let w = world_with(backend, options, SimConfig::default()).await;
    let id = connected(&w).await;
    w.sim.sim.lock().config.latency = std::time::Duration::from_millis(1500);
    let started = std::time::Instant::now();
    let slow = w.admin.get(&format!("/profiles/{id}/connect?q=ber")).await;
    assert_eq!(slow.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < std::time::Duration::from_millis(1400));
    w.sim.sim.lock().config.latency = std::time::Duration::ZERO;
    assert_eq!(w.admin.get("/").await.status, StatusCode::OK);
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(slow_requests_get_503, slow_requests_time_out);

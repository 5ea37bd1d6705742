use datapump::storage::admins::Role;
use reqwest::StatusCode;

use crate::common::{Backend, Options, PASSWORD, TestApp, on_both_backends};

async fn success_and_failure(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_admin("anna", Role::Admin).await;
    let client = app.client();

    let before = client.get("/login").await;
    let failed = client.login("anna", "wrong password here").await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    assert!(failed.body.contains("Username or password is wrong."));
    // Still anonymous.
    assert_eq!(client.get("/").await.status, StatusCode::SEE_OTHER);

    let ok = client.login("ANNA", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location(), Some("/"));
    let dashboard = client.get("/").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(dashboard.body.contains("anna"));
    // The session id changed at login (no fixation).
    let cookie = |p: &crate::common::Page| {
        p.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("datapump_session="))
            .map(|c| c.split(';').next().unwrap_or("").to_string())
    };
    // A visitor gets no session before signing in: nothing stored for page views.
    assert_eq!(cookie(&before), None);
    let Some(c1) = cookie(&ok) else {
        panic!("a session cookie at login");
    };

    let out = client.post("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(client.get("/").await.status, StatusCode::SEE_OTHER);
    // The goodbye message needs a session; signing in again does not reuse it (no fixation).
    let Some(visitor) = cookie(&out) else {
        panic!("a session for the goodbye message");
    };
    let again = client.login("anna", PASSWORD).await;
    let Some(c2) = cookie(&again) else {
        panic!("a session cookie at the second login");
    };
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_ne!(c2, visitor);
    assert_ne!(c2, c1);
    client.post("/logout", &[]).await;

    let actions = app.audit_actions().await;
    for expected in ["login.failure", "login.success", "logout"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
    app.stop().await;
}
on_both_backends!(success_and_failure, success_and_failure);

async fn unknown_user_looks_like_wrong_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_admin("anna", Role::Admin).await;
    let a = app.client().login("anna", "not the password!!").await;
    let b = app.client().login("nobody", "not the password!!").await;
    assert_eq!(a.status, b.status);
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("_csrf") && !l.contains("name=\"username\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&a.body), strip(&b.body));
    app.stop().await;
}
on_both_backends!(unknown_user, unknown_user_looks_like_wrong_password);

async fn throttling(backend: Backend) {
    let mut options = Options::default();
    if let Some(t) = options.throttle.as_mut() {
        t.user_delay_after = 2;
        t.user_refuse_after = 4;
    }
    let app = TestApp::spawn_with(backend, options).await;
    app.create_admin("anna", Role::Admin).await;
    // Anna's own browser signed in before: it carries her device cookie.
    let own = app.client();
    assert_eq!(
        own.login("anna", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let client = app.client();
    for _ in 0..4 {
        let r = client.login("anna", "wrong password here").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Refused now from devices Anna never signed in from, even with the right password, with
    // a clear message and Retry-After.
    let refused = client.login("anna", PASSWORD).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        refused.body.contains("Too many failed sign-in attempts"),
        "{}",
        refused.body
    );
    assert!(refused.headers.contains_key("retry-after"));
    // Refused attempts do not prolong the refusal.
    let retry = |p: &crate::common::Page| {
        p.headers["retry-after"]
            .to_str()
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let first = retry(&refused);
    for _ in 0..3 {
        client.login("anna", "wrong password here").await;
    }
    assert!(retry(&client.login("anna", PASSWORD).await) <= first);
    // Her own browser signs in at once: the attacker slowed others down, not her.
    let started = std::time::Instant::now();
    own.get("/").await;
    own.post("/logout", &[]).await;
    own.get("/login").await;
    assert_eq!(
        own.login("anna", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    // Another username is not affected by this one's failures.
    app.create_admin("bert", Role::Viewer).await;
    assert_eq!(
        app.client().login("bert", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        app.audit_actions()
            .await
            .iter()
            .any(|a| a == "login.refused")
    );
    app.stop().await;
}
on_both_backends!(throttling_after_failures, throttling);

/// Many failures from one address slow its attempts down but never refuse them: everyone
/// behind one proxy shares an address.
async fn per_address_slowdown(backend: Backend) {
    let mut options = Options::default();
    if let Some(t) = options.throttle.as_mut() {
        t.ip_delay_after = 3;
        t.user_refuse_after = 100;
        t.user_delay_after = 100;
        t.base_delay = std::time::Duration::from_millis(300);
        t.max_delay = std::time::Duration::from_millis(300);
    }
    let app = TestApp::spawn_with(backend, options).await;
    app.create_admin("anna", Role::Admin).await;
    let client = app.client();
    for name in ["x1", "x2", "x3"] {
        client.login(name, "wrong password here").await;
    }
    let started = std::time::Instant::now();
    assert_eq!(
        client.login("anna", PASSWORD).await.status,
        StatusCode::SEE_OTHER,
        "slowed down, not refused"
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    app.stop().await;
}
on_both_backends!(per_address_slowdown, per_address_slowdown);

/// A burst of parallel wrong passwords for one username cannot slip past the count: each
/// attempt is reserved before its password is checked, so at most the allowed number are
/// checked at all, on both databases.
async fn parallel_burst(backend: Backend) {
    let mut options = Options::default();
    if let Some(t) = options.throttle.as_mut() {
        t.user_delay_after = 100;
        t.user_refuse_after = 10;
    }
    let app = TestApp::spawn_with(backend, options).await;
    app.create_admin("anna", Role::Admin).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let client = app.client();
        tasks.spawn(async move {
            client.get("/login").await;
            client.login("anna", "wrong password here").await.status
        });
    }
    let mut checked = 0;
    let mut refused = 0;
    while let Some(status) = tasks.join_next().await {
        match status.expect("task") {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        checked <= 10,
        "{checked} passwords checked, {refused} refused"
    );
    assert_eq!(checked + refused, 40);
    app.stop().await;
}
on_both_backends!(parallel_burst_is_counted, parallel_burst);

async fn idle_expiry(backend: Backend) {
    let options = Options {
        idle_timeout: Some(std::time::Duration::from_secs(1)),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let (client, _) = app.signed_in("anna", Role::Admin).await;
    assert_eq!(client.get("/").await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let after = client.get("/").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    let login = client.get(after.location().expect("redirect")).await;
    assert!(
        login
            .body
            .contains("Your session ended after a period of inactivity")
    );
    app.stop().await;
}
on_both_backends!(session_idle_expiry, idle_expiry);

async fn disabled_admin_is_logged_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (boss, _) = app.signed_in("boss", Role::Admin).await;
    let (anna_client, anna) = app.signed_in("anna", Role::Admin).await;
    assert_eq!(anna_client.get("/").await.status, StatusCode::OK);

    boss.get(&format!("/admins/{}", anna.id)).await;
    let r = boss
        .post(
            &format!("/admins/{}", anna.id),
            &[
                ("role", "admin"),
                ("disabled", "1"),
                ("version", &anna.version.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    assert_eq!(anna_client.get("/").await.status, StatusCode::SEE_OTHER);
    // And cannot sign in again.
    assert_eq!(
        app.client().login("anna", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        app.audit_actions()
            .await
            .iter()
            .any(|a| a == "admin.updated")
    );
    app.stop().await;
}
on_both_backends!(disabled_admin_is_logged_out, disabled_admin_is_logged_out);

async fn password_change_ends_other_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = app.signed_in("anna", Role::Viewer).await;
    let second = app.client();
    assert_eq!(
        second.login("anna", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    first.get("/account").await;
    let wrong = first
        .post(
            "/account/password",
            &[
                ("current", "nope"),
                ("password", "a new long passphrase"),
                ("password_confirm", "a new long passphrase"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("The current password is wrong."));

    let ok = first
        .post(
            "/account/password",
            &[
                ("current", PASSWORD),
                ("password", "a new long passphrase"),
                ("password_confirm", "a new long passphrase"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(first.get("/account").await.status, StatusCode::OK);
    assert_eq!(second.get("/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.client()
            .login("anna", "a new long passphrase")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    app.stop().await;
}
on_both_backends!(
    password_change_ends_other_sessions,
    password_change_ends_other_sessions
);

/// Sessions are stored under a hash of their id: the database (and so a backup of it) holds
/// nothing that signs in, while the id in the browser's cookie does.
async fn sessions_stored_hashed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_admin("anna", Role::Admin).await;
    let client = app.client();
    client.get("/login").await;
    let page = client.login("anna", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let id = page
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{}=", datapump::web::SESSION_COOKIE)))
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_string();
    let stored = app.query_strings("SELECT id FROM sessions", &[]).await;
    assert!(!stored.is_empty());
    assert!(stored.iter().all(|s| s != &id && !s.contains(&id)));
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let with = |value: String| {
        let bare = bare.clone();
        let url = format!("{}/", app.base);
        async move {
            bare.get(url)
                .header(
                    "cookie",
                    format!("{}={value}", datapump::web::SESSION_COOKIE),
                )
                .send()
                .await
                .expect("get")
                .status()
        }
    };
    assert_eq!(with(id).await, StatusCode::OK, "the browser's id signs in");
    for key in stored {
        assert_ne!(with(key).await, StatusCode::OK, "a stored key does not");
    }
    app.stop().await;
}
on_both_backends!(sessions_stored_hashed, sessions_stored_hashed);

/// The current password of a password change is checked like a sign-in: a taken-over session
/// cannot guess it freely.
async fn current_password_throttled(backend: Backend) {
    let mut options = Options::default();
    if let Some(t) = options.throttle.as_mut() {
        t.user_delay_after = 100;
        t.user_refuse_after = 3;
        t.device_refuse_after = 3;
    }
    let app = TestApp::spawn_with(backend, options).await;
    let (thief, _) = app.signed_in("anna", Role::Admin).await;
    let change = |current: &'static str| {
        let thief = &thief;
        async move {
            thief.get("/account").await;
            thief
                .post(
                    "/account/password",
                    &[
                        ("current", current),
                        ("password", "another long password"),
                        ("password_confirm", "another long password"),
                    ],
                )
                .await
        }
    };
    for _ in 0..3 {
        assert_eq!(
            change("wrong guess here").await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    let refused = change(PASSWORD).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        refused.body.contains("Too many wrong passwords"),
        "{}",
        refused.body
    );
    app.stop().await;
}
on_both_backends!(current_password_throttled, current_password_throttled);

/// A burst of wrong passwords (each under another username, so the username count does not cut
/// it short) keeps every password check busy; the real admin, from a browser that signed in
/// before, still signs in without queueing behind the burst: a check slot is kept for known
/// devices, and neither the username nor the address slowdown applies to them.
async fn sign_in_during_burst(backend: Backend) {
    let mut options = Options::default();
    if let Some(t) = options.throttle.as_mut() {
        t.ip_delay_after = 10_000;
        t.ip_refuse_per_minute = 10_000;
        t.max_recorded_attempts = 100_000;
    }
    let app = TestApp::spawn_with(backend, options).await;
    app.create_admin("anna", Role::Admin).await;
    let own = app.client();
    assert_eq!(
        own.login("anna", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    own.post("/logout", &[]).await;
    own.csrf_of("/login").await;

    const BURST: usize = 60;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..BURST {
        let client = app.client();
        let done = done.clone();
        tasks.spawn(async move {
            client.get("/login").await;
            let status = client
                .login(&format!("x{i}"), "wrong password here")
                .await
                .status;
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            status
        });
    }
    // The burst is under way.
    while done.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let signed_in = own.login("anna", PASSWORD).await;
    let finished_before = done.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.expect("task"), StatusCode::UNAUTHORIZED);
    }
    // Queued behind the burst, she would have finished after all of it.
    assert!(
        finished_before < BURST * 3 / 4,
        "{finished_before} of {BURST} burst attempts finished before the admin's sign-in"
    );
    app.stop().await;
}
on_both_backends!(sign_in_stays_open_during_a_burst, sign_in_during_burst);

/// Times are shown in the instance's zone with its abbreviation, or in the admin's own
/// choice; an unknown zone is refused on the account page and changes nothing.
async fn times_in_the_admins_zone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, anna) = app.signed_in("anna", Role::Viewer).await;
    let shown = |zone: chrono_tz::Tz| {
        let local = anna.created_at.with_timezone(&zone);
        [
            local.format("%Y-%m-%d %H:%M %Z").to_string(),
            local.format("%d.%m.%Y %H:%M %Z").to_string(),
        ]
    };
    let page = format!("/admins/{}", anna.id);
    let body = client.get(&page).await.body;
    assert!(
        shown(chrono_tz::Europe::Berlin)
            .iter()
            .any(|t| body.contains(t.as_str())),
        "the instance's zone (Europe/Berlin): {body}"
    );
    assert!(!body.contains(" UTC<"), "{body}");

    let account = client.get("/account").await.body;
    assert!(
        account.contains("(Europe/Berlin)"),
        "the instance's zone offered"
    );
    let bad = client
        .post("/account/time-zone", &[("zone", "Mars/Olympus")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("field-error"), "{}", bad.body);
    let still = client.get(&page).await.body;
    assert!(
        shown(chrono_tz::Europe::Berlin)
            .iter()
            .any(|t| still.contains(t.as_str()))
    );

    // Without the CSRF token: refused.
    let forged = client
        .post_raw("/account/time-zone", &[("zone", "UTC")], &[])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let ok = client
        .post("/account/time-zone", &[("zone", "America/New_York")])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let body = client.get(&page).await.body;
    assert!(
        shown(chrono_tz::America::New_York)
            .iter()
            .any(|t| body.contains(t.as_str())),
        "{body}"
    );
    let account = client.get("/account").await.body;
    assert!(
        account.contains(r#"<option value="America/New_York" selected>"#),
        "{account}"
    );
    // Another admin still sees the instance's zone.
    let (other, _) = app.signed_in("bert", Role::Admin).await;
    let body = other.get(&page).await.body;
    assert!(
        shown(chrono_tz::Europe::Berlin)
            .iter()
            .any(|t| body.contains(t.as_str()))
    );
    // Back to the instance's.
    assert_eq!(
        client
            .post("/account/time-zone", &[("zone", "")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let body = client.get(&page).await.body;
    assert!(
        shown(chrono_tz::Europe::Berlin)
            .iter()
            .any(|t| body.contains(t.as_str()))
    );
    app.stop().await;
}
on_both_backends!(times_in_the_admins_zone, times_in_the_admins_zone);

/// A flood of sign-ins for a refused username adds a bounded number of audit rows: refused
/// attempts share the cap of failed ones (60 a minute), where each used to write a row
/// (issue 30, item 2).
async fn refused_flood(backend: Backend) {
    let mut options = Options::default();
    if let Some(t) = options.throttle.as_mut() {
        t.user_delay_after = 2;
        t.user_refuse_after = 4;
    }
    let app = TestApp::spawn_with(backend, options).await;
    app.create_admin("anna", Role::Admin).await;
    let client = app.client();
    for _ in 0..4 {
        client.login("anna", "wrong password here").await;
    }
    let mut refused = 0;
    for _ in 0..200 {
        if client.login("anna", "wrong password here").await.status == StatusCode::TOO_MANY_REQUESTS
        {
            refused += 1;
        }
    }
    assert_eq!(refused, 200, "the username stays refused");
    let rows = app
        .audit_actions()
        .await
        .iter()
        .filter(|a| *a == "login.refused" || *a == "login.failure")
        .count();
    assert!(rows <= 60, "{rows} audit rows for 204 anonymous attempts");
    assert!(rows >= 5, "the first ones are audited: {rows}");
    app.stop().await;
}
on_both_backends!(a_refused_flood_adds_bounded_audit_rows, refused_flood);

/// Below the free-space floor (`DATAPUMP_MIN_FREE_DISK_MB`, here above any disk's size),
/// failed sign-ins write no audit row (issue 30, item 2); a signed-in admin's actions still do.
async fn low_disk(backend: Backend) {
    let options = Options {
        env: vec![("DATAPUMP_MIN_FREE_DISK_MB", "999999999".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.create_admin("anna", Role::Admin).await;
    let client = app.client();
    for _ in 0..3 {
        assert_eq!(
            client.login("anna", "wrong password here").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let actions = app.audit_actions().await;
    assert!(!actions.iter().any(|a| a == "login.failure"), "{actions:?}");
    assert_eq!(
        client.login("anna", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        app.audit_actions()
            .await
            .iter()
            .any(|a| a == "login.success")
    );
    app.stop().await;
}
on_both_backends!(low_disk_writes_no_anonymous_audit_rows, low_disk);

/// Requirement 22: the sixth bad sign-in within a minute from one address gets 429 with
/// `Retry-After`, whatever username it tries; an `X-Forwarded-For` from a peer that is not a
/// trusted proxy does not move it to another bucket; a browser that signed in before still
/// signs in from that address.
async fn per_address_refusal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_admin("anna", Role::Admin).await;
    let own = app.client();
    assert_eq!(
        own.login("anna", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    own.post("/logout", &[]).await;
    let attacker = app.client();
    for n in 0..5 {
        assert_eq!(
            attacker
                .login(&format!("user{n}"), "wrong password here")
                .await
                .status,
            StatusCode::UNAUTHORIZED,
            "attempt {n}"
        );
    }
    let sixth = attacker.login("someone", "wrong password here").await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = sixth.headers["retry-after"]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    // Another claimed address from an untrusted peer: the same bucket.
    let spoofing = app.client();
    let token = spoofing.csrf_of("/login").await;
    let spoofed = spoofing
        .post_raw(
            "/login",
            &[
                ("_csrf", token.as_str()),
                ("username", "other"),
                ("password", "wrong password here"),
            ],
            &[("x-forwarded-for", "203.0.113.9")],
        )
        .await;
    assert_eq!(spoofed.status, StatusCode::TOO_MANY_REQUESTS);
    // Anna's own browser is not refused for the address.
    own.get("/login").await;
    assert_eq!(
        own.login("anna", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    app.stop().await;
}
on_both_backends!(
    sixth_bad_sign_in_from_an_address_is_refused,
    per_address_refusal
);

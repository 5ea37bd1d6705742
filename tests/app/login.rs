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
    let (Some(c1), Some(c2)) = (cookie(&before), cookie(&ok)) else {
        panic!("session cookies are set before and at login");
    };
    assert_ne!(c1, c2);

    let out = client.post("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(client.get("/").await.status, StatusCode::SEE_OTHER);

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
    let client = app.client();
    for _ in 0..4 {
        let r = client.login("anna", "wrong password here").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Refused now, even with the right password, with a clear message and Retry-After.
    let refused = client.login("anna", PASSWORD).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        refused.body.contains("Too many failed sign-in attempts"),
        "{}",
        refused.body
    );
    assert!(refused.headers.contains_key("retry-after"));
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

async fn per_address_refusal(backend: Backend) {
    let mut options = Options::default();
    if let Some(t) = options.throttle.as_mut() {
        t.ip_refuse_after = 3;
        t.user_refuse_after = 100;
        t.user_delay_after = 100;
    }
    let app = TestApp::spawn_with(backend, options).await;
    app.create_admin("anna", Role::Admin).await;
    let client = app.client();
    for name in ["x1", "x2", "x3"] {
        client.login(name, "wrong password here").await;
    }
    // The address is refused for every username now.
    assert_eq!(
        client.login("anna", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.stop().await;
}
on_both_backends!(per_address_refusal, per_address_refusal);

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

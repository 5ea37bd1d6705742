use datapump::storage::admins::Role;
use reqwest::StatusCode;

use crate::common::{Backend, PASSWORD, TestApp, on_both_backends};

async fn create_validate_and_duplicate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, _) = app.signed_in("anna", Role::Admin).await;
    client.get("/admins/new").await;

    // Bad input: a message next to the field, nothing stored.
    let r = client
        .post(
            "/admins",
            &[
                ("username", "bert"),
                ("role", "viewer"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("at least 12 characters"));
    assert!(
        r.body.contains("value=\"bert\""),
        "the form keeps the input"
    );
    let r = client
        .post(
            "/admins",
            &[
                ("username", "bert"),
                ("role", "viewer"),
                ("password", "a long enough password"),
                ("password_confirm", "another long password"),
            ],
        )
        .await;
    assert!(r.body.contains("do not match"));
    assert!(
        app.db()
            .admin_by_username("bert")
            .await
            .expect("db")
            .is_none()
    );

    let ok = client
        .post(
            "/admins",
            &[
                ("username", "bert"),
                ("role", "viewer"),
                ("password", "a long enough password"),
                ("password_confirm", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let list = client.get("/admins").await;
    assert!(list.body.contains("Admin bert has been created."));
    assert!(list.body.contains(">bert</a>"));

    let dup = client
        .post(
            "/admins",
            &[
                ("username", "BERT"),
                ("role", "viewer"),
                ("password", "a long enough password"),
                ("password_confirm", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup.body.contains("already taken"));
    assert_eq!(app.db().count_admins().await.expect("count"), 2);
    assert!(
        app.audit_actions()
            .await
            .iter()
            .any(|a| a == "admin.created")
    );

    // The new viewer can sign in.
    assert_eq!(
        app.client()
            .login("bert", "a long enough password")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    app.stop().await;
}
on_both_backends!(create_validate_and_duplicate, create_validate_and_duplicate);

/// Two admins open the same account; the second save is refused with a clear message and does
/// not overwrite the first.
async fn concurrent_edit_conflict(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = app.signed_in("anna", Role::Admin).await;
    let (second, _) = app.signed_in("otto", Role::Admin).await;
    let target = app.create_admin("vera", Role::Viewer).await;
    let path = format!("/admins/{}", target.id);
    let v = target.version.to_string();

    let form1 = first.get(&path).await;
    let form2 = second.get(&path).await;
    assert!(
        form1
            .body
            .contains(&format!("name=\"version\" value=\"{v}\""))
    );
    assert!(
        form2
            .body
            .contains(&format!("name=\"version\" value=\"{v}\""))
    );

    let r1 = first
        .post(&path, &[("role", "admin"), ("version", &v)])
        .await;
    assert_eq!(r1.status, StatusCode::SEE_OTHER);
    let r2 = second
        .post(
            &path,
            &[("role", "viewer"), ("disabled", "1"), ("version", &v)],
        )
        .await;
    assert_eq!(r2.status, StatusCode::CONFLICT);
    assert!(
        r2.body.contains("Another admin changed this account"),
        "{}",
        r2.body
    );

    let now = app.db().admin_by_id(target.id).await.expect("admin");
    assert_eq!(now.role, Role::Admin);
    assert!(!now.disabled);
    app.stop().await;
}
on_both_backends!(concurrent_edit_conflict, concurrent_edit_conflict);

async fn last_admin_and_self_protection(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, me) = app.signed_in("anna", Role::Admin).await;
    let path = format!("/admins/{}", me.id);
    client.get(&path).await;
    // Demoting the only admin would leave nobody who can manage the instance.
    let r = client
        .post(
            &path,
            &[("role", "viewer"), ("version", &me.version.to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("At least one active account"));
    let r = client
        .post(
            &path,
            &[
                ("role", "admin"),
                ("disabled", "1"),
                ("version", &me.version.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("cannot disable your own account"));
    let still = app.db().admin_by_id(me.id).await.expect("admin");
    assert_eq!(still.role, Role::Admin);
    assert!(!still.disabled);
    app.stop().await;
}
on_both_backends!(
    last_admin_and_self_protection,
    last_admin_and_self_protection
);

async fn reset_password_and_end_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (boss, _) = app.signed_in("boss", Role::Admin).await;
    let (vera_client, vera) = app.signed_in("vera", Role::Viewer).await;
    let path = format!("/admins/{}", vera.id);
    boss.get(&path).await;

    let r = boss
        .post(
            &format!("{path}/password"),
            &[
                ("password", "a fresh passphrase here"),
                ("password_confirm", "a fresh passphrase here"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(vera_client.get("/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.client().login("vera", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );

    let again = app.client();
    assert_eq!(
        again.login("vera", "a fresh passphrase here").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.db().count_sessions_of(vera.id).await.expect("count"), 1);
    let r = boss.post(&format!("{path}/sessions/end"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(again.get("/").await.status, StatusCode::SEE_OTHER);
    let actions = app.audit_actions().await;
    assert!(actions.iter().any(|a| a == "admin.password_reset"));
    assert!(actions.iter().any(|a| a == "admin.sessions_ended"));
    app.stop().await;
}
on_both_backends!(
    reset_password_and_end_sessions,
    reset_password_and_end_sessions
);

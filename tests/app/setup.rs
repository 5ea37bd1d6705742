use reqwest::StatusCode;

use crate::common::{Backend, TestApp, on_both_backends};

async fn one_time_setup_link(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app
        .setup_token
        .clone()
        .expect("a token while no admin exists");
    let client = app.client();

    let login = client.get("/login").await;
    assert!(login.body.contains("No admin account exists yet"));

    assert_eq!(client.get("/setup").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        client.get("/setup?token=guess").await.status,
        StatusCode::FORBIDDEN
    );
    let form = client.get(&format!("/setup?token={token}")).await;
    assert_eq!(form.status, StatusCode::OK);

    let bad = client
        .post(
            "/setup",
            &[
                ("token", &token),
                ("username", "root"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.db().count_admins().await.expect("count"), 0);

    let forged = client
        .post(
            "/setup",
            &[
                ("token", "forged"),
                ("username", "root"),
                ("password", "a long enough password"),
                ("password_confirm", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(app.db().count_admins().await.expect("count"), 0);

    let ok = client
        .post(
            "/setup",
            &[
                ("token", &token),
                ("username", "root"),
                ("password", "a long enough password"),
                ("password_confirm", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let dashboard = client.get("/").await;
    assert_eq!(dashboard.status, StatusCode::OK, "signed in right away");
    assert!(dashboard.body.contains("The first admin has been created"));

    // The link is spent, and setup is gone for good.
    assert_eq!(
        client.get(&format!("/setup?token={token}")).await.status,
        StatusCode::NOT_FOUND
    );
    let again = app
        .client()
        .post(
            "/setup",
            &[
                ("token", &token),
                ("username", "eve"),
                ("password", "a long enough password"),
                ("password_confirm", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(app.db().count_admins().await.expect("count"), 1);
    assert!(app.db().issue_setup_token().await.expect("issue").is_none());
    assert!(
        app.audit_actions()
            .await
            .iter()
            .any(|a| a == "setup.completed")
    );
    app.stop().await;
}
on_both_backends!(one_time_setup_link, one_time_setup_link);

async fn concurrent_setup_creates_one_admin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.setup_token.clone().expect("token");
    let mut tasks = Vec::new();
    for i in 0..4 {
        let client = app.client();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("first{i}");
            client
                .post(
                    "/setup",
                    &[
                        ("token", &token),
                        ("username", &name),
                        ("password", "a long enough password"),
                        ("password_confirm", "a long enough password"),
                    ],
                )
                .await
                .status
        }));
    }
    let mut created = 0;
    for t in tasks {
        if t.await.expect("task") == StatusCode::SEE_OTHER {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    assert_eq!(app.db().count_admins().await.expect("count"), 1);
    app.stop().await;
}
on_both_backends!(
    concurrent_setup_creates_one_admin,
    concurrent_setup_creates_one_admin
);

/// A setup link stops working 24 hours after it was printed: one copied from an old log cannot
/// create an admin later.
async fn setup_link_expires(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.setup_token.clone().expect("a token");
    // Long ago (a year first compares lower in SQLite's text form as well).
    let sql = if app.db().backend().name() == "PostgreSQL" {
        "UPDATE setup_tokens SET created_at = CAST('2000-01-01T00:00:00+00:00' AS TIMESTAMPTZ)"
    } else {
        "UPDATE setup_tokens SET created_at = '2000-01-01T00:00:00+00:00'"
    };
    app.execute_sql(&[(sql, vec![])]).await;
    let client = app.client();
    let form = client.get(&format!("/setup?token={token}")).await;
    assert_eq!(form.status, StatusCode::FORBIDDEN);
    assert!(form.body.contains("expired"), "{}", form.body);
    let r = client
        .post(
            "/setup",
            &[
                ("token", &token),
                ("username", "root"),
                ("password", "a long enough password"),
                ("password_confirm", "a long enough password"),
            ],
        )
        .await;
    assert_ne!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.db().count_admins().await.expect("count"), 0);
    app.stop().await;
}
on_both_backends!(setup_link_expires, setup_link_expires);

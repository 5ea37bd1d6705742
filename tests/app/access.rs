use datapump::storage::admins::Role;
use datapump::web::auth::Access;
use reqwest::StatusCode;

use crate::common::{Backend, TestApp, on_both_backends};

/// Concrete path for a route pattern (ids of a record that exists).
fn concrete(path: &str, id: i64) -> String {
    path.replace("{id}", &id.to_string())
}

/// Walks the router's own inventory: every route that needs a sign-in redirects an anonymous
/// visitor to the login page, for GET and for a POST that carries a valid CSRF token.
async fn anonymous_is_sent_to_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let existing = app.create_admin("someone", Role::Viewer).await;
    let protected: Vec<_> = app
        .inventory
        .iter()
        .filter(|r| r.access != Access::Public)
        .collect();
    assert!(
        protected.len() >= 10,
        "inventory lists the protected routes"
    );
    let client = app.client();
    client.get("/login").await; // session with a CSRF token, as a browser has
    for route in protected {
        let path = concrete(route.path, existing.id);
        let page = match route.method.as_str() {
            "GET" => client.get(&path).await,
            "POST" => client.post(&path, &[]).await,
            other => panic!("unexpected method {other}"),
        };
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "{} {path}",
            route.method
        );
        let location = page.location().unwrap_or_default();
        assert!(
            location.starts_with("/login?next="),
            "{} {path} -> {location}",
            route.method
        );
    }
    // Nothing changed on the way.
    assert_eq!(app.db().count_admins().await.expect("count"), 1);
    app.stop().await;
}
on_both_backends!(anonymous_is_sent_to_login, anonymous_is_sent_to_login);

async fn viewer_cannot_change_anything(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let boss = app.create_admin("boss", Role::Admin).await;
    let (viewer, _) = app.signed_in("vera", Role::Viewer).await;

    // Viewers see the pages.
    for path in ["/", "/admins", &format!("/admins/{}", boss.id), "/audit"] {
        assert_eq!(viewer.get(path).await.status, StatusCode::OK, "{path}");
    }
    // Every admin-only route refuses them, with the CSRF token present.
    for route in app.inventory.iter().filter(|r| r.access.needs_admin_role()) {
        let path = concrete(route.path, boss.id);
        let page = match route.method.as_str() {
            "GET" => viewer.get(&path).await,
            _ => {
                viewer
                    .post(
                        &path,
                        &[
                            ("username", "mallory"),
                            ("role", "admin"),
                            ("version", "1"),
                            ("password", "a long enough password"),
                            ("password_confirm", "a long enough password"),
                        ],
                    )
                    .await
            }
        };
        assert_eq!(
            page.status,
            StatusCode::FORBIDDEN,
            "{} {path}",
            route.method
        );
        assert!(
            page.body.contains("Your role does not allow this action"),
            "{path}"
        );
    }
    assert_eq!(app.db().count_admins().await.expect("count"), 2);
    let boss_now = app.db().admin_by_id(boss.id).await.expect("boss");
    assert_eq!(boss_now.version, boss.version);
    app.stop().await;
}
on_both_backends!(viewer_cannot_change_anything, viewer_cannot_change_anything);

async fn no_open_redirect_after_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_admin("anna", Role::Admin).await;
    for next in ["https://evil.example", "//evil.example", "/\\evil.example"] {
        let client = app.client();
        client.get("/login").await;
        let r = client
            .post(
                "/login",
                &[
                    ("username", "anna"),
                    ("password", crate::common::PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(r.location(), Some("/"), "{next}");
    }
    let client = app.client();
    let r = client
        .post(
            "/login",
            &[
                ("username", "anna"),
                ("password", crate::common::PASSWORD),
                ("next", "/audit?page=2"),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/audit?page=2"));
    app.stop().await;
}
on_both_backends!(no_open_redirect_after_login, no_open_redirect_after_login);

use datapump::storage::admins::Role;
use reqwest::StatusCode;

use crate::common::{Backend, Options, TestApp, on_both_backends};

async fn csrf_rejection_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A token seen before sign-in (a shared computer) is not valid after it.
    let before = app.client();
    let early = before.csrf().await;
    app.create_admin("otto", Role::Admin).await;
    assert_eq!(
        before.login("otto", crate::common::PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let stale = [
        ("_csrf", early.as_str()),
        ("username", "x"),
        ("role", "viewer"),
    ];
    assert_eq!(
        before.post_raw("/admins", &stale, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let (client, _) = app.signed_in("anna", Role::Admin).await;
    let token = client.csrf().await;
    // The right token from an origin other than the configured public URL, with a Host to
    // match it, is refused: the Host is the client's choice.
    let mut forged_host = vec![
        ("_csrf", token.as_str()),
        ("username", "mallory"),
        ("role", "admin"),
    ];
    forged_host.extend_from_slice(&[
        ("password", "a long enough password"),
        ("password_confirm", "a long enough password"),
    ]);
    assert_eq!(
        client
            .post_raw(
                "/admins",
                &forged_host,
                &[
                    ("origin", "http://intruder.example"),
                    ("host", "intruder.example")
                ]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let fields = [
        ("username", "mallory"),
        ("role", "admin"),
        ("password", "a long enough password"),
        ("password_confirm", "a long enough password"),
    ];
    let mut with_token = vec![("_csrf", token.as_str())];
    with_token.extend_from_slice(&fields);

    // No token.
    let r = client.post_raw("/admins", &fields, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("security token"), "{}", r.body);
    // Wrong token.
    let mut wrong = vec![("_csrf", "forged")];
    wrong.extend_from_slice(&fields);
    assert_eq!(
        client.post_raw("/admins", &wrong, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    // `Origin: null` (a privacy setting, or a sandboxed attacker frame) proves nothing either
    // way: without the right token it is refused.
    assert_eq!(
        client
            .post_raw("/admins", &wrong, &[("origin", "null")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Right token, but sent from another site.
    let r = client
        .post_raw(
            "/admins",
            &with_token,
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = client
        .post_raw("/admins", &with_token, &[("sec-fetch-site", "cross-site")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        app.db()
            .admin_by_username("mallory")
            .await
            .expect("db")
            .is_none()
    );

    // The same request from the app's own origin goes through.
    let r = client
        .post_raw(
            "/admins",
            &with_token,
            &[("origin", &app.origin), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        app.db()
            .admin_by_username("mallory")
            .await
            .expect("db")
            .is_some()
    );
    app.stop().await;
}
on_both_backends!(
    csrf_rejection_changes_nothing,
    csrf_rejection_changes_nothing
);

fn assert_security_headers(path: &str, headers: &reqwest::header::HeaderMap) {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let csp = get("content-security-policy");
    for part in [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{path}: CSP lacks {part}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
    assert_eq!(get("referrer-policy"), "same-origin", "{path}");
    assert!(!get("x-request-id").is_empty(), "{path}");
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "{path}"
    );
}

#[tokio::test]
async fn security_headers_on_every_kind_of_response() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = app.client();
    let css = client.get("/static/app.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers
            .get("cache-control")
            .is_some_and(|v| v.to_str().unwrap_or("").contains("max-age"))
    );
    for (path, status) in [
        ("/", StatusCode::SEE_OTHER),
        ("/login", StatusCode::OK),
        ("/healthz", StatusCode::OK),
        ("/readyz", StatusCode::OK),
        ("/static/app.css", StatusCode::OK),
        ("/static/nope.css", StatusCode::NOT_FOUND),
        ("/no/such/page", StatusCode::NOT_FOUND),
    ] {
        let page = client.get(path).await;
        assert_eq!(page.status, status, "{path}");
        assert_security_headers(path, &page.headers);
    }
    // An error page is a translated HTML page, not a bare status.
    let missing = client
        .get_with("/no/such/page", &[("accept-language", "de")])
        .await;
    assert!(missing.body.contains("Nicht gefunden"), "{}", missing.body);
    // HTML pages are not cached.
    let login = client.get("/login").await;
    assert_eq!(
        login
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    app.stop().await;
}

#[tokio::test]
async fn hsts_and_secure_cookie_with_https_public_url() {
    let options = Options {
        env: vec![("DATAPUMP_PUBLIC_URL", "https://intranet.example".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, options).await;
    let page = app.client().get("/login").await;
    assert!(page.headers.get("strict-transport-security").is_some());
    app.create_admin("anna", Role::Admin).await;
    let cookies = sign_in_by_hand(&app).await;
    let session = cookies
        .iter()
        .find(|c| c.contains("datapump_session="))
        .expect("a session cookie");
    assert!(session.contains("Secure"), "{session}");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    let csrf = cookies
        .iter()
        .find(|c| c.contains("datapump_csrf="))
        .expect("a CSRF cookie");
    assert!(
        csrf.contains("Secure") && csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict"),
        "{csrf}"
    );
    app.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn secret_key_file_is_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let path = app.data_dir.path().join("secret.key");
    let mode = std::fs::metadata(&path)
        .expect("key file exists")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    app.stop().await;
}

/// `/healthz` says the process answers; `/readyz` whether it can work: the database answers
/// and takes a write, the data directory has room. Neither names a profile or subscription;
/// that is `/status.json`, for signed-in admins only.
async fn healthz_reports_database(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    app.create_admin("anna", Role::Admin).await;
    let client = app.client();
    let ok = client.get("/readyz").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let json: serde_json::Value = serde_json::from_str(&ok.body).expect("json");
    assert_eq!(json["status"], "ok");
    assert_eq!(json["write"], "ok");
    assert_eq!(json["migrations"], "ok");
    assert_eq!(json["key"], "ok");
    assert_eq!(json["disk"], "ok");
    assert!(!ok.body.contains(env!("CARGO_PKG_VERSION")), "no version");
    assert!(json["disk_free_mb"].as_u64().is_some_and(|mb| mb > 0));
    // Anonymous visitors get no details; signed-in admins do.
    assert_ne!(client.get("/status.json").await.status, StatusCode::OK);
    let (admin, _) = app.signed_in("bert", Role::Viewer).await;
    let status = admin.get("/status.json").await;
    assert_eq!(status.status, StatusCode::OK);
    assert!(status.body.contains("degraded_profiles"));
    // A key that no longer decrypts what is stored: not ready.
    let canary = app
        .query_strings("SELECT value FROM settings WHERE name = 'key_canary'", &[])
        .await;
    app.execute_sql(&[(
        "UPDATE settings SET value = 'dp1:other:AAAA' WHERE name = 'key_canary'",
        vec![],
    )])
    .await;
    let wrong = client.get("/readyz").await;
    assert_eq!(wrong.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(wrong.body.contains("\"key\":\"wrong\""), "{}", wrong.body);
    app.execute_sql(&[(
        "UPDATE settings SET value = $1 WHERE name = 'key_canary'",
        vec![canary[0].as_str()],
    )])
    .await;
    assert_eq!(client.get("/readyz").await.status, StatusCode::OK);
    app.db().close().await;
    let down = client.get("/readyz").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.body.contains("unreachable"));
    let alive = client.get("/healthz").await;
    assert_eq!(alive.status, StatusCode::OK, "alive, though not ready");
    app.stop().await;

    // Too little free disk: not ready, and said so.
    let options = Options {
        env: vec![("DATAPUMP_MIN_FREE_DISK_MB", "1000000000".into())],
        ..Options::default()
    };
    let full = TestApp::spawn_with(backend, options).await;
    let r = full.client().get("/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.body.contains("\"disk\":\"low\""), "{}", r.body);
    full.stop().await;
}
on_both_backends!(healthz_reports_database, healthz_reports_database);

async fn audit_log_records_changes_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, _) = app.signed_in("anna", Role::Admin).await;
    client.get("/admins/new").await;
    let r = client
        .post(
            "/admins",
            &[
                ("username", "line\nbreak"),
                ("role", "viewer"),
                ("password", "a long enough password"),
                ("password_confirm", "a long enough password"),
            ],
        )
        .await;
    // A newline is not a valid username: refused with a message, nothing created.
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Use only letters"));
    for i in 0..60 {
        app.db()
            .record_audit(datapump::storage::audit::AuditRecord {
                actor: Some(format!("bot\n{i}")),
                action: "test.entry",
                ..Default::default()
            })
            .await
            .expect("audit");
    }
    let first = client.get("/audit").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains("bot\\n59"), "newest first and escaped");
    assert!(first.body.contains("?page=2"));
    let second = client.get("/audit?page=2").await;
    assert!(second.body.contains("login.success"));
    app.stop().await;
}
on_both_backends!(
    audit_log_records_changes_and_pages,
    audit_log_records_changes_and_pages
);

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    // Untrusted: the peer address is recorded, not the header.
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_admin("anna", Role::Admin).await;
    let client = app.client();
    client.get("/login").await;
    let token = client.csrf().await;
    client
        .post_raw(
            "/login",
            &[
                ("_csrf", &token),
                ("username", "anna"),
                ("password", "wrong password!!"),
            ],
            &[("x-forwarded-for", "203.0.113.9")],
        )
        .await;
    let entry = &app.db().list_audit(0, 1).await.expect("audit")[0];
    assert_eq!(entry.ip.as_deref(), Some("127.0.0.1"));
    app.stop().await;

    // Trusted: the forwarded client address is recorded.
    let options = Options {
        env: vec![("DATAPUMP_TRUSTED_PROXIES", "127.0.0.1/32".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, options).await;
    app.create_admin("anna", Role::Admin).await;
    let client = app.client();
    client.get("/login").await;
    let token = client.csrf().await;
    client
        .post_raw(
            "/login",
            &[
                ("_csrf", &token),
                ("username", "anna"),
                ("password", "wrong password!!"),
            ],
            &[("x-forwarded-for", "203.0.113.9")],
        )
        .await;
    let entry = &app.db().list_audit(0, 1).await.expect("audit")[0];
    assert_eq!(entry.ip.as_deref(), Some("203.0.113.9"));
    app.stop().await;
}

async fn language_negotiation_and_switch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client();
    let de = client
        .get_with("/login", &[("accept-language", "de-DE,de;q=0.9")])
        .await;
    assert!(de.body.contains("<html lang=\"de\">") && de.body.contains("Anmelden"));
    let en = client.get("/login").await;
    assert!(en.body.contains("Sign in"));

    // The switcher sets a cookie that wins over Accept-Language.
    let r = client
        .post("/language", &[("lang", "de"), ("next", "/login")])
        .await;
    assert_eq!(r.location(), Some("/login"));
    let page = client
        .get_with("/login", &[("accept-language", "en")])
        .await;
    assert!(page.body.contains("Benutzername"), "{}", page.body);

    // A signed-in admin's choice is stored with the account.
    let (anna, admin) = app.signed_in("anna", Role::Admin).await;
    anna.post("/language", &[("lang", "de"), ("next", "/")])
        .await;
    let stored = app.db().admin_by_id(admin.id).await.expect("admin");
    assert_eq!(stored.language.as_deref(), Some("de"));
    let dashboard = anna.get("/").await;
    assert!(dashboard.body.contains("Übersicht"));
    // Unknown languages are refused with a message.
    let bad = anna.post("/language", &[("lang", "xx")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    app.stop().await;
}
on_both_backends!(
    language_negotiation_and_switch,
    language_negotiation_and_switch
);

#[tokio::test]
async fn every_page_renders_in_both_languages() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (client, me) = app.signed_in("anna", Role::Admin).await;
    let token = app
        .db()
        .create_api_token(
            "Empfang",
            "hash",
            &datapump::storage::api_tokens::TokenScope::All,
            "anna",
            None,
            &Default::default(),
        )
        .await
        .expect("token");
    for lang in ["de", "en"] {
        for path in [
            &format!("/api-tokens/{token}/webhook"),
            "/rooms",
            "/internal-domains",
            "/",
            "/admins",
            "/admins/new",
            &format!("/admins/{}", me.id),
            "/audit",
            "/account",
            "/api-tokens",
            "/reauth?next=%2F",
        ] {
            let page = client.get_with(path, &[("accept-language", lang)]).await;
            // The admin's stored language is unset, so Accept-Language decides.
            assert_eq!(page.status, StatusCode::OK, "{lang} {path}");
            assert!(
                page.body.contains(&format!("<html lang=\"{lang}\">")),
                "{lang} {path}"
            );
            // A key without a translation would show up as its identifier.
            for raw in [
                "nav-",
                "admins-",
                "field-",
                "audit-",
                "dashboard-",
                "account-",
                "tokens-",
                "reauth-",
                "webhook-",
                "rooms-",
                "domains-",
            ] {
                assert!(
                    !page.body.contains(&format!(">{raw}")),
                    "{lang} {path}: untranslated {raw}"
                );
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn oversized_form_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = app.client();
    let token = client.csrf().await;
    let big = "x".repeat(200 * 1024);
    let r = client
        .post_raw(
            "/login",
            &[("_csrf", &token), ("username", &big), ("password", "x")],
            &[],
        )
        .await;
    assert!(
        r.status == StatusCode::PAYLOAD_TOO_LARGE || r.status == StatusCode::BAD_REQUEST,
        "{}",
        r.status
    );
    app.stop().await;
}

/// Behind https at the root the session cookie carries the `__Host-` prefix (the browser then
/// keeps it to this host: Secure, Path=/, no Domain); under a sub-path or over http it cannot.
/// Signs "anna" in with a client that keeps no cookies (a Secure cookie would not be sent back
/// over the tests' plain HTTP): the cookies set by the login page and by the sign-in.
async fn sign_in_by_hand(app: &TestApp) -> Vec<String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = http
        .get(format!("{}/login", app.base))
        .send()
        .await
        .expect("GET");
    let set_cookies = |r: &reqwest::Response| -> Vec<String> {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(String::from)
            .collect()
    };
    let mut cookies = set_cookies(&page);
    let pair = cookies
        .iter()
        .find(|c| c.contains("datapump_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("a CSRF cookie")
        .to_string();
    let body = page.text().await.expect("body");
    let token = crate::common::extract_csrf(&body).expect("token");
    let signed_in = http
        .post(format!("{}/login", app.base))
        .header("cookie", pair)
        .form(&[
            ("_csrf", token.as_str()),
            ("username", "anna"),
            ("password", crate::common::PASSWORD),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    cookies.extend(set_cookies(&signed_in));
    cookies
}

async fn host_prefixed_cookies(backend: Backend) {
    let options = Options {
        env: vec![("DATAPUMP_PUBLIC_URL", "https://datapump.example".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend.clone(), options).await;
    app.create_admin("anna", Role::Admin).await;
    let cookies = sign_in_by_hand(&app).await;
    for name in ["datapump_csrf", "datapump_session"] {
        let cookie = cookies
            .iter()
            .find(|c| c.contains(&format!("{name}=")))
            .unwrap_or_else(|| panic!("a {name} cookie in {cookies:?}"));
        assert!(cookie.starts_with(&format!("__Host-{name}=")), "{cookie}");
        assert!(
            cookie.contains("Secure") && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    }
    app.stop().await;

    let plain = TestApp::spawn(backend).await;
    plain.create_admin("anna", Role::Admin).await;
    let cookies = sign_in_by_hand(&plain).await;
    for name in ["datapump_csrf", "datapump_session"] {
        assert!(
            cookies.iter().any(|c| c.starts_with(&format!("{name}="))),
            "no prefix over http: {cookies:?}"
        );
    }
    plain.stop().await;
}
on_both_backends!(host_prefixed_cookies, host_prefixed_cookies);

/// Anonymous requests cannot grow the database beyond a bounded amount: visitors' sessions are
/// capped, failed sign-ins reach the audit log at a bounded rate with a truncated name, an
/// overlong username is counted under a hash, and beyond a cap attempts are turned away
/// unrecorded (503 with Retry-After, the translated page).
async fn anonymous_growth_is_bounded(backend: Backend) {
    let mut options = Options::default();
    if let Some(t) = options.throttle.as_mut() {
        t.max_anonymous_sessions = 5;
        t.max_failure_audits_per_minute = 3;
        t.max_recorded_attempts = 8;
        t.user_refuse_after = 1000;
        t.user_delay_after = 1000;
        t.ip_delay_after = 1000;
    }
    let app = TestApp::spawn_with(backend, options).await;
    for _ in 0..20 {
        app.client().get("/login").await;
    }
    let count = |sql: &'static str| {
        let app = &app;
        async move {
            app.query_strings(sql, &[]).await[0]
                .parse::<i64>()
                .unwrap_or(-1)
        }
    };
    // Page views of visitors store nothing: their forms' token lives in a cookie.
    assert_eq!(
        count("SELECT CAST(COUNT(*) AS TEXT) FROM sessions").await,
        0
    );

    let long = "x".repeat(60_000);
    let client = app.client();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(client.login(&long, "wrong password here").await.status);
    }
    // Each attempt records its username and its address: four attempts fill the cap of 8.
    assert_eq!(
        &statuses[..4],
        &[StatusCode::UNAUTHORIZED; 4],
        "{statuses:?}"
    );
    let busy = client.login("anna", "whatever it is").await;
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(busy.headers.contains_key("retry-after"));
    assert!(
        busy.body.contains("very many sign-in attempts"),
        "{}",
        busy.body
    );
    assert!(count("SELECT CAST(COUNT(*) AS TEXT) FROM login_failures").await <= 8);
    assert!(
        count("SELECT CAST(MAX(LENGTH(key)) AS TEXT) FROM login_failures").await <= 80,
        "an overlong username is stored as a hash"
    );
    assert!(
        count("SELECT CAST(COUNT(*) AS TEXT) FROM audit_log WHERE action = 'login.failure'").await
            <= 3
    );
    assert!(
        count(
            "SELECT CAST(COALESCE(MAX(LENGTH(target)), 0) AS TEXT) FROM audit_log WHERE action = 'login.failure'"
        )
        .await
            <= 64
    );
    // Failed sign-ins did not create sessions either.
    assert_eq!(
        count("SELECT CAST(COUNT(*) AS TEXT) FROM sessions").await,
        0
    );
    app.stop().await;
}

/// A visitor's forms work without a server-side session, and their token is bound to the
/// visitor's own cookie: a token from another visitor, or one made up, is refused.
async fn visitor_tokens_are_bound_to_their_cookie(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_admin("anna", Role::Admin).await;
    let alice = app.client();
    let mallory = app.client();
    let alice_token = alice.csrf_of("/login").await;
    let mallory_token = mallory.csrf_of("/login").await;
    assert_ne!(alice_token, mallory_token);
    let switch = |token: String| async move {
        vec![
            ("_csrf", token),
            ("lang", "de".to_string()),
            ("next", "/login".to_string()),
        ]
    };
    for (client, token) in [
        (&alice, mallory_token.clone()),
        (&alice, "made-up-token".to_string()),
        (&alice, String::new()),
    ] {
        let fields = switch(token).await;
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = client.post_raw("/language", &fields, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let fields = switch(alice_token.clone()).await;
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        alice.post_raw("/language", &fields, &[]).await.status,
        StatusCode::SEE_OTHER
    );
    // Signing in with the visitor's token works; afterwards only the session's token counts.
    assert_eq!(
        alice.login("anna", crate::common::PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let fields = switch(alice_token).await;
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        alice.post_raw("/language", &fields, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let sessions = app
        .query_strings("SELECT CAST(COUNT(*) AS TEXT) FROM sessions", &[])
        .await;
    assert_eq!(sessions, vec!["1".to_string()], "only the signed-in one");
    app.stop().await;
}
on_both_backends!(
    visitor_tokens_are_bound_to_their_cookie,
    visitor_tokens_are_bound_to_their_cookie
);
on_both_backends!(anonymous_growth_is_bounded, anonymous_growth_is_bounded);

/// When the database refuses writes (a full disk) or is gone, pages answer a translated error
/// page, never an empty body: the session store's failure to save the visitor's session is the
/// case that used to answer an empty 500.
async fn database_failure_renders_a_page(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    app.create_admin("anna", Role::Admin).await;
    let client = app.client();
    // Writes to sessions fail from now on, as on a full disk; reads still work.
    match backend {
        Backend::Sqlite => {
            app.execute_sql(&[(
                "CREATE TRIGGER full_disk BEFORE INSERT ON sessions BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END",
                vec![],
            )])
            .await;
        }
        Backend::Postgres(_) => {
            app.execute_sql(&[
                (
                    "CREATE FUNCTION full_disk() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$ LANGUAGE plpgsql",
                    vec![],
                ),
                (
                    "CREATE TRIGGER full_disk BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION full_disk()",
                    vec![],
                ),
            ])
            .await;
        }
    }
    let check = |page: crate::common::Page, lang: &str| {
        assert!(page.status.is_server_error(), "{}", page.status);
        assert!(
            page.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html")),
            "{lang}: {:?}",
            page.headers
        );
        let expected = format!("lang=\"{lang}\"");
        assert!(page.body.contains(&expected), "{lang}: {}", page.body);
    };
    // Signing in is the first write to the sessions table.
    for lang in ["de", "en"] {
        let token = client.csrf_of("/login").await;
        let page = client
            .post_raw(
                "/login",
                &[
                    ("_csrf", token.as_str()),
                    ("username", "anna"),
                    ("password", crate::common::PASSWORD),
                ],
                &[("accept-language", lang)],
            )
            .await;
        check(page, lang);
    }
    app.db().close().await;
    let page = client
        .get_with("/login", &[("accept-language", "de")])
        .await;
    check(page, "de");
    app.stop().await;
}
on_both_backends!(
    database_failure_renders_a_page,
    database_failure_renders_a_page
);

/// Sets every session's "password entered at" back to long ago, as if the admin signed in
/// an hour before.
async fn age_password_entry(app: &TestApp) {
    let sql = if app.is_sqlite() {
        "UPDATE sessions SET data = json_set(data, '$.verified_at', 0)"
    } else {
        "UPDATE sessions SET data = jsonb_set(data::jsonb, '{verified_at}', '0')::text"
    };
    app.execute_sql(&[(sql, vec![])]).await;
}

/// Requirement 25: adding credentials, changing admins and similar actions need the password
/// entered within five minutes; otherwise the admin is sent to re-enter it and nothing is done.
async fn sensitive_actions_need_a_recent_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = app.create_admin("vera", Role::Viewer).await;
    let (client, _) = app.signed_in("anna", Role::Admin).await;
    // Fresh from sign-in: the form opens.
    assert_eq!(client.get("/admins/new").await.status, StatusCode::OK);
    age_password_entry(&app).await;

    // A page with a sensitive form sends the admin to confirm first, and back afterwards.
    let page = client.get("/admins/new").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/reauth?next=%2Fadmins%2Fnew"));
    assert_eq!(
        client.get("/profiles/new").await.status,
        StatusCode::SEE_OTHER
    );
    // Pages without such a form stay open.
    let vera_page = format!("/admins/{}", other.id);
    assert_eq!(client.get(&vera_page).await.status, StatusCode::OK);

    // A form post is not carried out; the admin returns to the page that sent it.
    let token = client.csrf().await;
    let referer = format!("{}/admins/{}", app.base, other.id);
    let promote = client
        .post_raw(
            &format!("/admins/{}", other.id),
            &[
                ("_csrf", token.as_str()),
                ("username", "vera"),
                ("role", "admin"),
                ("version", &other.version.to_string()),
            ],
            &[("referer", referer.as_str())],
        )
        .await;
    assert_eq!(promote.status, StatusCode::SEE_OTHER);
    assert_eq!(
        promote.location(),
        Some(format!("/reauth?next=%2Fadmins%2F{}", other.id).as_str())
    );
    let create = client
        .post_raw(
            "/admins",
            &[
                ("_csrf", token.as_str()),
                ("username", "mallory"),
                ("role", "admin"),
                ("password", "a long enough password"),
                ("password_confirm", "a long enough password"),
            ],
            &[("referer", "https://evil.example/admins/new")],
        )
        .await;
    // A foreign referer is no destination.
    assert_eq!(create.location(), Some("/reauth?next=%2F"));
    assert_eq!(app.db().count_admins().await.expect("count"), 2);
    let vera = app.db().admin_by_id(other.id).await.expect("vera");
    assert_eq!(vera.role, Role::Viewer);

    // The confirmation page: a wrong password is refused on the page, and changes nothing.
    let form = client.get("/reauth?next=%2Fadmins%2Fnew").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Confirm it"), "{}", form.body);
    let wrong = client
        .post(
            "/reauth",
            &[("password", "not my password"), ("next", "/admins/new")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("The current password is wrong."));
    assert_eq!(
        client.get("/admins/new").await.status,
        StatusCode::SEE_OTHER
    );
    // Foreign destinations are not followed after it either.
    let right = client
        .post(
            "/reauth",
            &[
                ("password", crate::common::PASSWORD),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    assert_eq!(right.location(), Some("/"));
    // Now the action goes through.
    assert_eq!(client.get("/admins/new").await.status, StatusCode::OK);
    let promoted = client
        .post(
            &format!("/admins/{}", other.id),
            &[
                ("username", "vera"),
                ("role", "admin"),
                ("version", &other.version.to_string()),
            ],
        )
        .await;
    assert_eq!(promoted.status, StatusCode::SEE_OTHER, "{}", promoted.body);
    let vera = app.db().admin_by_id(other.id).await.expect("vera");
    assert_eq!(vera.role, Role::Admin);
    assert!(
        app.audit_actions()
            .await
            .iter()
            .any(|a| a == "session.reauthenticated")
    );
    app.stop().await;
}
on_both_backends!(
    sensitive_actions_need_a_recent_password,
    sensitive_actions_need_a_recent_password
);

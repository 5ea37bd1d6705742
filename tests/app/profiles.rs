//! Profiles and authorization against the simulator: the OAuth round trip from "Test" to the
//! result page, every way it can go wrong, and the token service keeping tokens alive.

use datapump::profiles::ProfileStatus;
use datapump::storage::admins::Role;
use datapump_sim::state::{DEFAULT_ACCOUNT, DEFAULT_CLIENT_ID, DEFAULT_SECRET};
use datapump_sim::{SimConfig, SimServer};
use reqwest::StatusCode;

use crate::common::{Backend, Client, Options, Page, TestApp, captured_logs, on_both_backends};

pub(crate) struct World {
    pub(crate) app: TestApp,
    pub(crate) sim: SimServer,
    pub(crate) admin: Client,
}

pub(crate) async fn world_with(backend: Backend, options: Options, sim_config: SimConfig) -> World {
    let app = TestApp::spawn_with(backend, options).await;
    let sim = SimServer::start(sim_config).await.expect("sim");
    {
        let mut s = sim.sim.lock();
        let registered = s.app_mut(DEFAULT_CLIENT_ID).expect("app");
        for uri in [format!("{}/callback", app.base), app.base.clone()] {
            registered.redirect_uris.push(uri);
        }
        s.auto_login = Some(DEFAULT_ACCOUNT.into());
    }
    let (admin, _) = app.signed_in("anna", Role::Admin).await;
    World { app, sim, admin }
}

pub(crate) async fn world(backend: Backend) -> World {
    world_with(backend, Options::default(), SimConfig::default()).await
}

fn profile_form<'a>(
    sim: &'a SimServer,
    name: &'a str,
    redirect: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_SECRET),
        ("secret_expires_on", "2028-11-29"),
        ("tenant", "common"),
        ("cloud", "custom"),
        ("login_base", sim.url.as_str()),
        ("graph_base", sim.url.as_str()),
        ("redirect_uri", redirect),
        ("notes", ""),
    ]
}

pub(crate) async fn create_profile(w: &World, name: &str, redirect: &str) -> i64 {
    w.admin.get("/profiles/new").await;
    let r = w
        .admin
        .post("/profiles", &profile_form(&w.sim, name, redirect))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.location()
        .and_then(|l| l.rsplit('/').next())
        .and_then(|id| id.parse().ok())
        .expect("profile id")
}

/// Starts "Test" and lets the simulator sign in; returns the address Microsoft redirects to.
async fn start_authorization(w: &World, client: &Client, id: i64) -> String {
    client.get(&format!("/profiles/{id}")).await;
    let r = client.post(&format!("/profiles/{id}/authorize"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let authorize = r.location().expect("authorize url").to_string();
    assert!(authorize.starts_with(&w.sim.url), "{authorize}");
    let q: std::collections::HashMap<String, String> = url::Url::parse(&authorize)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["scope"],
        "offline_access User.ReadBasic.All Calendars.Read.Shared openid profile"
    );
    datapump::graph::ensure_crypto_provider();
    let at_sim = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let answer = at_sim.get(&authorize).send().await.expect("sim authorize");
    assert!(answer.status().is_redirection(), "{}", answer.status());
    answer.headers()["location"]
        .to_str()
        .expect("location")
        .to_string()
}

pub(crate) async fn authorize(w: &World, id: i64) -> Page {
    let callback = start_authorization(w, &w.admin, id).await;
    let r = w.admin.get_abs(&callback).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.headers
            .get("referrer-policy")
            .and_then(|v| v.to_str().ok()),
        Some("no-referrer")
    );
    assert_eq!(r.location(), Some(format!("/profiles/{id}").as_str()));
    w.admin.get(&format!("/profiles/{id}")).await
}

async fn status(w: &World) -> ProfileStatus {
    w.app.db().list_profiles().await.expect("profiles")[0].status
}

async fn happy_path(backend: Backend) {
    let w = world(backend.clone()).await;
    // Bad input is refused next to the fields and stores nothing.
    w.admin.get("/profiles/new").await;
    let mut bad = profile_form(&w.sim, "Zentrale", "");
    bad[1] = ("client_id", "not-a-guid");
    bad[2] = ("client_secret", "6731de76-14a6-49ae-97bc-6eba6914391e");
    let r = w.admin.post("/profiles", &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("is a GUID"));
    assert!(r.body.contains("looks like the secret&#39;s ID"));
    assert!(w.app.db().list_profiles().await.expect("list").is_empty());

    let id = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    let page = w.admin.get(&format!("/profiles/{id}")).await;
    assert!(page.body.contains("Not authorized yet"));
    // The page that starts the flow allows its form to lead to the sign-in host.
    let csp = page
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        csp.contains(&format!("form-action 'self' {}", w.sim.url)),
        "{csp}"
    );

    let result = authorize(&w, id).await;
    assert!(
        result.body.contains("Authorization confirmed"),
        "{}",
        result.body
    );
    assert!(result.body.contains("Datapump Service") && result.body.contains(DEFAULT_ACCOUNT));
    assert!(
        result.body.contains("Feiertage"),
        "the account's calendars are listed"
    );
    assert!(result.body.contains("User.ReadBasic.All"));
    assert!(!result.body.contains("was not granted"));
    assert_eq!(status(&w).await, ProfileStatus::Ok);
    // The result is shown once.
    assert!(
        !w.admin
            .get(&format!("/profiles/{id}"))
            .await
            .body
            .contains("Authorization confirmed")
    );
    let actions = w.app.audit_actions().await;
    for a in [
        "profile.created",
        "profile.authorization_started",
        "profile.authorized",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}");
    }

    // Secrets and tokens: never in HTML (any page, any role), never in logs, never in plain text
    // in the database.
    let (viewer, _) = w.app.signed_in("vera", Role::Viewer).await;
    let token = w
        .app
        .state
        .tokens
        .access_token(id)
        .await
        .expect("token")
        .token;
    let refresh = {
        let p = w.app.db().profile(id).await.expect("profile");
        w.app
            .state
            .tokens
            .open(
                datapump::crypto::context::ProfileColumn::RefreshToken,
                &p.uuid,
                p.refresh_token_enc.as_deref().expect("rt"),
            )
            .expect("open")
    };
    for page in [
        result.body.clone(),
        w.admin.get(&format!("/profiles/{id}")).await.body,
        w.admin.get(&format!("/profiles/{id}/edit")).await.body,
        w.admin.get("/profiles").await.body,
        viewer.get(&format!("/profiles/{id}")).await.body,
        w.admin.get("/").await.body,
        w.admin.get("/audit").await.body,
    ] {
        for secret in [DEFAULT_SECRET, token.as_str(), refresh.as_str()] {
            assert!(!page.contains(secret), "a secret appears in HTML");
        }
    }
    let logs = captured_logs();
    for secret in [DEFAULT_SECRET, token.as_str(), refresh.as_str()] {
        assert!(!logs.contains(secret), "a secret appears in the logs");
    }
    if matches!(backend, Backend::Sqlite) {
        w.app.db().close().await;
        let mut raw = Vec::new();
        for file in ["datapump.db", "datapump.db-wal"] {
            raw.extend(std::fs::read(w.app.data_dir.path().join(file)).unwrap_or_default());
        }
        let raw = String::from_utf8_lossy(&raw);
        assert!(raw.contains("Zentrale"), "the file is the right one");
        for secret in [DEFAULT_SECRET, token.as_str(), refresh.as_str()] {
            assert!(!raw.contains(secret), "a secret in the database file");
        }
    }
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(authorization_happy_path, happy_path);

async fn state_checks(backend: Backend) {
    let options = Options {
        oauth_ttl: Some(std::time::Duration::from_secs(1)),
        ..Options::default()
    };
    let w = world_with(backend, options, SimConfig::default()).await;
    let id = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    let tokens_before = w.sim.sim.lock().counters.token_requests;

    // Unknown state, missing state.
    let r = w.admin.get("/callback?code=abc&state=forged").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("not started in this browser session"));
    assert_eq!(
        w.admin.get("/callback?code=abc").await.status,
        StatusCode::BAD_REQUEST
    );

    // A state started in another session (same admin, other browser) is refused there.
    let other = w.app.client();
    assert_eq!(
        other.login("anna", crate::common::PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let callback = start_authorization(&w, &w.admin, id).await;
    let r = other.get_abs(&callback).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // In its own session it works once; a replay is refused.
    assert_eq!(
        w.admin.get_abs(&callback).await.status,
        StatusCode::SEE_OTHER
    );
    let replay = w.admin.get_abs(&callback).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);

    // Expired: older than the transaction lifetime.
    let late = start_authorization(&w, &w.admin, id).await;
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let r = w.admin.get_abs(&late).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("expired"));

    // Exactly one code exchange happened: the refused callbacks never reached the token endpoint.
    assert_eq!(w.sim.sim.lock().counters.token_requests, tokens_before + 1);
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(callback_state_checks, state_checks);

async fn denied_and_root_and_pasted(backend: Backend) {
    let w = world(backend).await;
    // error=access_denied: guidance, nothing stored.
    let id = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    let callback = start_authorization(&w, &w.admin, id).await;
    let state = url::Url::parse(&callback)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let r = w.admin.get(&format!("/callback?error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent.&state={state}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = w.admin.get(&format!("/profiles/{id}")).await;
    assert!(
        page.body.contains("declined") && page.body.contains("AADSTS65004"),
        "{}",
        page.body
    );
    assert_eq!(status(&w).await, ProfileStatus::New);
    assert!(
        w.app
            .db()
            .profile(id)
            .await
            .expect("p")
            .refresh_token_enc
            .is_none()
    );

    // The guide's registration: the redirect URI is the root address.
    let root = create_profile(&w, "Root", &w.app.base).await;
    let callback = start_authorization(&w, &w.admin, root).await;
    assert!(
        callback.starts_with(&format!("{}/?code=", w.app.base)),
        "{callback}"
    );
    let r = w.admin.get_abs(&callback).await;
    assert_eq!(r.location(), Some(format!("/profiles/{root}").as_str()));
    assert!(
        w.admin
            .get(&format!("/profiles/{root}"))
            .await
            .body
            .contains("Authorization confirmed")
    );

    // Registered for localhost:8000, used from elsewhere: paste the address.
    let pasted = create_profile(&w, "Pasted", "http://localhost:8000").await;
    let unreachable = start_authorization(&w, &w.admin, pasted).await;
    assert!(unreachable.starts_with("http://localhost:8000/?code="));
    let page = w.admin.get(&format!("/profiles/{pasted}")).await;
    assert!(page.body.contains("Authorization in progress"));
    let r = w
        .admin
        .post(
            &format!("/profiles/{pasted}/complete"),
            &[("address", "http://localhost:8000/?nothing=here")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("contains no authorization result"));
    let r = w
        .admin
        .post(
            &format!("/profiles/{pasted}/complete"),
            &[("address", &unreachable)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        w.admin
            .get(&format!("/profiles/{pasted}"))
            .await
            .body
            .contains("Authorization confirmed")
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(denied_root_and_pasted_callbacks, denied_and_root_and_pasted);

async fn token_service(backend: Backend) {
    // Short-lived access tokens at the simulator: every use needs a refresh.
    let sim_config = SimConfig {
        access_token_lifetime: Some(std::time::Duration::from_secs(2)),
        ..SimConfig::default()
    };
    let w = world_with(backend, Options::default(), sim_config).await;
    let id = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    authorize(&w, id).await;
    let tokens = w.app.state.tokens.clone();
    let before = w.app.db().profile(id).await.expect("p");
    let rt_before = tokens
        .open(
            datapump::crypto::context::ProfileColumn::RefreshToken,
            &before.uuid,
            before.refresh_token_enc.as_deref().expect("rt"),
        )
        .expect("open");

    // Fresh: used as is. Expiring within the margin: refreshed before use, and the rotated
    // refresh token is stored.
    let count = || w.sim.sim.lock().counters.token_requests;
    let n0 = count();
    tokens.access_token(id).await.expect("token");
    assert_eq!(count(), n0, "a fresh token is used as it is");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    tokens.access_token(id).await.expect("token");
    assert_eq!(count(), n0 + 1);
    let after = w.app.db().profile(id).await.expect("p");
    let rt_after = tokens
        .open(
            datapump::crypto::context::ProfileColumn::RefreshToken,
            &after.uuid,
            after.refresh_token_enc.as_deref().expect("rt"),
        )
        .expect("open");
    assert_ne!(
        rt_before, rt_after,
        "the rotated refresh token is persisted"
    );
    assert!(after.token_version > before.token_version);
    assert!(
        w.sim
            .sim
            .lock()
            .refresh_tokens
            .get(&rt_before)
            .is_some_and(|t| t.replaced_at.is_some())
    );

    // Twenty concurrent callers, one refresh.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let n1 = count();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let t = tokens.clone();
        tasks.push(tokio::spawn(async move {
            t.access_token(id).await.map(|a| a.token)
        }));
    }
    let mut got = std::collections::BTreeSet::new();
    for task in tasks {
        got.insert(task.await.expect("task").expect("token"));
    }
    assert_eq!(count(), n1 + 1, "exactly one refresh at the simulator");
    assert_eq!(got.len(), 1, "all callers got the same new token");

    // The password is reset: re-authorization needed, and no more token calls.
    w.sim.sim.lock().clock_offset += chrono::Duration::seconds(5);
    w.sim
        .sim
        .lock()
        .revoke_sessions(DEFAULT_ACCOUNT)
        .expect("revoke");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(tokens.access_token(id).await.is_err());
    assert_eq!(status(&w).await, ProfileStatus::NeedsReauth);
    let p = w.app.db().profile(id).await.expect("p");
    assert_eq!(p.status_code.as_deref(), Some("AADSTS50173"));
    let n2 = count();
    for _ in 0..3 {
        assert!(tokens.access_token(id).await.is_err());
    }
    assert_eq!(
        count(),
        n2,
        "a paused profile does not call the token endpoint"
    );
    let page = w.admin.get(&format!("/profiles/{id}")).await;
    assert!(page.body.contains("Re-authorization needed") && page.body.contains("AADSTS50173"));
    assert!(page.body.contains("password was changed or reset"));
    let health_body = w.admin.get("/status.json").await.body;
    let health: serde_json::Value = serde_json::from_str(&health_body).expect("json");
    assert_eq!(health["degraded_profiles"][0]["status"], "needs_reauth");

    // Authorizing again restores it.
    let restored = authorize(&w, id).await;
    assert!(restored.body.contains("Authorization confirmed"));
    assert_eq!(status(&w).await, ProfileStatus::Ok);
    assert!(tokens.access_token(id).await.is_ok());
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(
    token_service_refresh_single_flight_and_revocation,
    token_service
);

/// What another instance does when it finds the refresh token dead: pauses the profile.
async fn pause(w: &World, id: i64) {
    w.app
        .db()
        .set_profile_status(
            id,
            ProfileStatus::NeedsReauth,
            (Some("AADSTS50173"), None),
            None,
        )
        .await
        .expect("pause");
}

/// Syncs do not read the profile for every Graph request: a token the database confirmed is
/// handed out for two seconds. A pause made by another instance is seen after that; one made
/// here (re-authorization, deletion) drops the token at once.
async fn token_recheck(backend: Backend) {
    let w = world_with(backend, Options::default(), SimConfig::default()).await;
    let id = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    authorize(&w, id).await;
    let tokens = w.app.state.tokens.clone();
    tokens.access_token(id).await.expect("token");
    pause(&w, id).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(
        tokens.access_token(id).await.is_err(),
        "the pause is seen within two seconds"
    );
    w.app
        .db()
        .set_profile_status(id, ProfileStatus::Ok, (None, None), None)
        .await
        .expect("resume");
    tokens.access_token(id).await.expect("token again");
    pause(&w, id).await;
    assert!(
        tokens.access_token(id).await.is_ok(),
        "just confirmed: handed out without asking the database"
    );
    tokens.forget(id);
    assert!(
        tokens.access_token(id).await.is_err(),
        "after forget the database is asked at once"
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(token_recheck_sees_pauses_within_two_seconds, token_recheck);

async fn secret_and_consent_failures(backend: Backend) {
    let sim_config = SimConfig {
        access_token_lifetime: Some(std::time::Duration::from_secs(1)),
        ..SimConfig::default()
    };
    let w = world_with(backend, Options::default(), sim_config).await;
    let id = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    authorize(&w, id).await;
    let tokens = w.app.state.tokens.clone();

    // The client secret expires.
    w.sim
        .sim
        .lock()
        .expire_secrets(DEFAULT_CLIENT_ID)
        .expect("expire");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(tokens.access_token(id).await.is_err());
    assert_eq!(status(&w).await, ProfileStatus::SecretInvalid);
    let page = w.admin.get(&format!("/profiles/{id}")).await;
    assert!(page.body.contains("Replace the client secret") && page.body.contains("AADSTS7000222"));

    // A new secret: entered, tried at once, the profile works again.
    let new_secret = w
        .sim
        .sim
        .lock()
        .rotate_secret(DEFAULT_CLIENT_ID, None)
        .expect("rotate");
    w.admin.get(&format!("/profiles/{id}/secret")).await;
    let r = w
        .admin
        .post(
            &format!("/profiles/{id}/secret"),
            &[("client_secret", ""), ("secret_expires_on", "2028-01-01")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = w
        .admin
        .post(
            &format!("/profiles/{id}/secret"),
            &[
                ("client_secret", &new_secret),
                ("secret_expires_on", "2028-01-01"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = w.admin.get(&format!("/profiles/{id}")).await;
    assert!(page.body.contains("the profile works"), "{}", page.body);
    assert_eq!(status(&w).await, ProfileStatus::Ok);
    assert!(!page.body.contains(&new_secret));

    // Admin consent is revoked.
    w.sim
        .sim
        .lock()
        .set_consent(DEFAULT_CLIENT_ID, false)
        .expect("consent");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(tokens.access_token(id).await.is_err());
    assert_eq!(status(&w).await, ProfileStatus::ConsentMissing);
    let page = w.admin.get(&format!("/profiles/{id}")).await;
    assert!(page.body.contains("Grant admin consent") && page.body.contains("AADSTS65001"));
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(secret_and_consent_failures, secret_and_consent_failures);

async fn editing_and_deleting(backend: Backend) {
    let w = world(backend).await;
    let id = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    let dup = w
        .admin
        .post("/profiles", &profile_form(&w.sim, "ZENTRALE", ""))
        .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup.body.contains("exists already"));
    assert!(
        !dup.body.contains(DEFAULT_SECRET),
        "the secret is not echoed back"
    );

    // Two admins edit; the second save is a conflict.
    let (otto, _) = w.app.signed_in("otto", Role::Admin).await;
    let form = w.admin.get(&format!("/profiles/{id}/edit")).await;
    assert!(form.body.contains("name=\"version\" value=\"1\""));
    otto.get(&format!("/profiles/{id}/edit")).await;
    let mut edit = profile_form(&w.sim, "Zentrale Berlin", "");
    edit.retain(|(k, _)| *k != "client_secret");
    edit.push(("version", "1"));
    assert_eq!(
        w.admin.post(&format!("/profiles/{id}"), &edit).await.status,
        StatusCode::SEE_OTHER
    );
    let mut late = edit.clone();
    late[0] = ("name", "Otto's name");
    let r = otto.post(&format!("/profiles/{id}"), &late).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("Another admin changed this profile"));
    assert_eq!(
        w.app.db().profile(id).await.expect("p").name,
        "Zentrale Berlin"
    );

    // An http redirect URI outside localhost is accepted with a warning.
    let mut warn = edit.clone();
    warn.retain(|(k, _)| *k != "version" && *k != "redirect_uri");
    warn.push(("version", "2"));
    warn.push(("redirect_uri", "http://intranet.example/callback"));
    assert_eq!(
        w.admin.post(&format!("/profiles/{id}"), &warn).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        w.admin
            .get(&format!("/profiles/{id}"))
            .await
            .body
            .contains("only for localhost")
    );

    w.admin.get(&format!("/profiles/{id}/delete")).await;
    assert_eq!(
        w.admin
            .post(&format!("/profiles/{id}/delete"), &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert!(w.app.db().list_profiles().await.expect("list").is_empty());
    let actions = w.app.audit_actions().await;
    assert!(
        actions.iter().any(|a| a == "profile.updated")
            && actions.iter().any(|a| a == "profile.deleted")
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(editing_and_deleting_profiles, editing_and_deleting);

/// An edit that enters a new secret and is refused ("name taken") changes nothing: not the
/// secret, not the status, and it leaves no audit entry.
async fn refused_edit(backend: Backend) {
    let w = world(backend).await;
    let callback = format!("{}/callback", w.app.base);
    create_profile(&w, "Zentrale", &callback).await;
    let id = create_profile(&w, "Filiale", &callback).await;
    let before = w.app.db().profile(id).await.expect("profile");
    let audit_before = w.app.audit_actions().await;
    w.admin.get(&format!("/profiles/{id}/edit")).await;
    let mut f = profile_form(&w.sim, "Zentrale", "");
    f.retain(|(k, _)| *k != "client_secret");
    f.push(("client_secret", "a-new-secret-value~1234"));
    let version = before.version.to_string();
    f.push(("version", &version));
    let r = w.admin.post(&format!("/profiles/{id}"), &f).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("exists already"), "{}", r.body);
    let after = w.app.db().profile(id).await.expect("profile");
    assert_eq!(after.client_secret_enc, before.client_secret_enc);
    assert_eq!(after.secret_set_at, before.secret_set_at);
    assert_eq!(after.version, before.version);
    assert_eq!(after.status, before.status);
    assert_eq!(w.app.audit_actions().await, audit_before);
    // The same edit under a free name saves both, with one audit entry.
    f.retain(|(k, _)| *k != "name");
    f.push(("name", "Filiale Nord"));
    let r = w.admin.post(&format!("/profiles/{id}"), &f).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let saved = w.app.db().profile(id).await.expect("profile");
    assert_eq!(saved.name, "Filiale Nord");
    assert_ne!(saved.client_secret_enc, before.client_secret_enc);
    let actions = w.app.audit_actions().await;
    assert_eq!(actions.len(), audit_before.len() + 1, "{actions:?}");
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(refused_edit_keeps_the_secret, refused_edit);

/// The stored client secret cannot be sent to an address of an admin's choosing: changing the
/// cloud, sign-in or Graph address requires entering the secret again, and custom addresses
/// other than this machine must be https. A refused change changes nothing.
async fn secret_follows_only_its_addresses(backend: Backend) {
    let w = world(backend).await;
    let id = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    authorize(&w, id).await;
    let before = w.app.db().profile(id).await.expect("profile");
    w.admin.get(&format!("/profiles/{id}/edit")).await;
    let version = before.version.to_string();
    let edit = |login: &'static str, secret: &'static str| {
        let mut f = profile_form(&w.sim, "Zentrale", "");
        f.retain(|(k, _)| *k != "client_secret" && *k != "login_base");
        f.push(("login_base", login));
        f.push(("client_secret", secret));
        f
    };
    // Another host, over https, without the secret: refused at the field.
    let mut f = edit("https://collector.example", "");
    f.push(("version", &version));
    let r = w.admin.post(&format!("/profiles/{id}"), &f).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("Enter the client secret again"),
        "{}",
        r.body
    );
    // Plain http to another host: refused even with a secret.
    let mut f = edit("http://collector.example", "a-new-secret-value~1234");
    f.push(("version", &version));
    let r = w.admin.post(&format!("/profiles/{id}"), &f).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("must start with https://"), "{}", r.body);
    assert!(
        !r.body.contains("a-new-secret-value"),
        "the secret is not echoed back"
    );
    let unchanged = w.app.db().profile(id).await.expect("profile");
    assert_eq!(unchanged.login_base, before.login_base);
    assert_eq!(unchanged.client_secret_enc, before.client_secret_enc);
    assert_eq!(unchanged.version, before.version);
    // Testing the profile still goes to the old address only.
    let sim_tokens = w.sim.sim.lock().counters.token_requests;
    w.admin.post(&format!("/profiles/{id}/retry"), &[]).await;
    assert!(w.sim.sim.lock().counters.token_requests > sim_tokens);

    // With the secret entered again the change is saved, and the new secret with it.
    let mut f = edit(
        "https://login.partner-cloud.example",
        "a-new-secret-value~1234",
    );
    f.push(("version", &version));
    let r = w.admin.post(&format!("/profiles/{id}"), &f).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let after = w.app.db().profile(id).await.expect("profile");
    assert_eq!(after.login_base, "https://login.partner-cloud.example");
    assert_ne!(after.client_secret_enc, before.client_secret_enc);
    let audit = w.app.audit_actions().await;
    assert!(audit.iter().any(|a| a == "profile.updated"));
    // Other settings change without the secret.
    let mut f = edit("https://login.partner-cloud.example", "");
    f.retain(|(k, _)| *k != "name");
    f.push(("name", "Zentrale Berlin"));
    let v = after.version.to_string();
    f.push(("version", &v));
    let r = w.admin.post(&format!("/profiles/{id}"), &f).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        w.app.db().profile(id).await.expect("p").client_secret_enc,
        after.client_secret_enc
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(
    secret_follows_only_its_addresses,
    secret_follows_only_its_addresses
);

async fn key_rotation(backend: Backend) {
    let w = world(backend).await;
    let id = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    authorize(&w, id).await;
    // An application profile whose credential is a certificate: its private key is resealed
    // too, under its own context.
    let sim_url = w.sim.url.clone();
    let r = w
        .admin
        .post(
            "/profiles",
            &[
                ("kind", "application"),
                ("credential", "certificate"),
                ("name", "Räume"),
                ("client_id", datapump_sim::state::DEFAULT_CLIENT_ID),
                ("tenant", datapump_sim::model::TENANT_ID),
                ("cloud", "custom"),
                ("login_base", sim_url.as_str()),
                ("graph_base", sim_url.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let certified = w
        .app
        .db()
        .list_profiles()
        .await
        .expect("profiles")
        .into_iter()
        .find(|p| p.name == "Räume")
        .expect("certificate profile");
    let thumbprint = w
        .app
        .state
        .tokens
        .certificate(&certified)
        .expect("key opens")
        .info()
        .thumbprint
        .clone();
    let config = (*w.app.state.config).clone();
    let old_id = w.app.state.key.id().to_string();
    let db = w.app.db().clone();
    w.app.state.shutdown.cancel();

    let rotation = datapump::app::rotate_key(&config).await.expect("rotation");
    assert!(rotation.resealed >= 3);
    assert!(rotation.old_key_backup.exists());
    let new_key = datapump::crypto::SecretKey::load(&config.secret_key_file).expect("new key");
    assert_ne!(new_key.id(), old_id);
    // Everything decrypts with the new key, and the app starts with it.
    let prepared = datapump::app::prepare(config.clone(), db.clone())
        .await
        .expect("starts with the new key");
    let p = prepared.state.db.profile(id).await.expect("profile");
    assert!(p.client_secret_enc.contains(new_key.id()));
    assert!(
        prepared.state.tokens.force_refresh(id).await.is_ok(),
        "tokens decrypt and work"
    );
    let certified = prepared
        .state
        .db
        .profile(certified.id)
        .await
        .expect("profile");
    assert!(certified.client_secret_enc.contains(new_key.id()));
    assert_eq!(
        prepared
            .state
            .tokens
            .certificate(&certified)
            .expect("the key opens with the new key")
            .info()
            .thumbprint,
        thumbprint
    );
    // The old key no longer fits.
    let mut stale = config.clone();
    stale.secret_key_file = rotation.old_key_backup.clone();
    assert!(matches!(
        datapump::app::prepare(stale, db).await,
        Err(datapump::app::StartError::WrongKey { .. })
    ));
    w.sim.stop().await;
}
on_both_backends!(key_rotation_keeps_secrets_readable, key_rotation);

async fn transient_keepalive_and_two_instances(backend: Backend) {
    let sim_config = SimConfig {
        access_token_lifetime: Some(std::time::Duration::from_secs(4)),
        ..SimConfig::default()
    };
    let w = world_with(backend, Options::default(), sim_config).await;
    let id = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    authorize(&w, id).await;
    let tokens = w.app.state.tokens.clone();
    let count = || w.sim.sim.lock().counters.token_requests;

    // The token endpoint answers 503: the status stays, the next attempt waits.
    w.sim.sim.lock().faults.push(datapump_sim::FaultRule {
        kind: datapump_sim::FaultKind::Unavailable { retry_after: None },
        rate: 0.0,
        next: Some(1),
        path_contains: Some("/token".into()),
    });
    tokio::time::sleep(std::time::Duration::from_millis(4100)).await;
    assert!(tokens.access_token(id).await.is_err());
    let p = w.app.db().profile(id).await.expect("p");
    assert_eq!(
        p.status,
        ProfileStatus::Ok,
        "a transient failure does not change the status"
    );
    assert_eq!(p.transient_failures, 1);
    assert!(p.next_attempt_at.is_some());
    let n = count();
    assert!(matches!(
        tokens.access_token(id).await,
        Err(datapump::profiles::tokens::TokenFailure::Backoff(_))
    ));
    assert_eq!(count(), n, "no call while backing off");

    // "Try again now" clears the backoff and refreshes at once.
    w.admin.get(&format!("/profiles/{id}")).await;
    let r = w.admin.post(&format!("/profiles/{id}/retry"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        w.admin
            .get(&format!("/profiles/{id}"))
            .await
            .body
            .contains("the profile works")
    );

    // Keep-alive refreshes idle profiles (here: every profile, the period being zero).
    let policy = datapump::profiles::tokens::TokenPolicy {
        keep_alive_after: std::time::Duration::ZERO,
        ..Default::default()
    };
    let keeper = datapump::profiles::tokens::TokenService::new(
        w.app.db().clone(),
        w.app.state.key.clone(),
        datapump::graph::Client::new().expect("client"),
        policy.clone(),
    );
    assert_eq!(keeper.keep_alive().await.expect("keep alive"), 1);
    assert_eq!(
        w.app.db().profile(id).await.expect("p").transient_failures,
        0
    );

    // A second instance on the same database: concurrent callers of both refresh once.
    let other = std::sync::Arc::new(datapump::profiles::tokens::TokenService::new(
        w.app.db().clone(),
        w.app.state.key.clone(),
        datapump::graph::Client::new().expect("client"),
        policy,
    ));
    tokio::time::sleep(std::time::Duration::from_millis(4100)).await;
    let n = count();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let t = if i % 2 == 0 {
            tokens.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            t.access_token(id).await.map(|a| a.token)
        }));
    }
    let mut ok = std::collections::BTreeSet::new();
    for task in tasks {
        ok.insert(task.await.expect("task").expect("token"));
    }
    assert_eq!(count(), n + 1, "one refresh across both instances");
    assert_eq!(ok.len(), 1);
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(
    transient_keepalive_and_two_instances,
    transient_keepalive_and_two_instances
);

/// Disconnecting deletes the account's tokens at once; the subscriptions pause and Datapump
/// calls Microsoft for nobody until the profile is authorized again.
async fn disconnect_deletes_credentials(backend: Backend) {
    let w = world(backend).await;
    let id = create_profile(&w, "Zentrale", &format!("{}/callback", w.app.base)).await;
    authorize(&w, id).await;
    let sub = crate::import::subscribe(&w, id, "raum.berlin@contoso.example").await;
    let page = w.admin.get(&format!("/profiles/{id}")).await;
    assert!(page.body.contains("Disconnect account"));
    let r = w
        .admin
        .post(&format!("/profiles/{id}/disconnect"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let p = w.app.db().profile(id).await.expect("profile");
    assert!(p.refresh_token_enc.is_none() && p.access_token_enc.is_none());
    assert_eq!(p.status, ProfileStatus::New);
    assert!(
        w.app
            .audit_actions()
            .await
            .iter()
            .any(|a| a == "profile.disconnected")
    );
    let (token_calls, graph_calls) = {
        let s = w.sim.sim.lock();
        (s.counters.token_requests, s.counters.total)
    };
    let report = w
        .app
        .state
        .sync
        .run_subscription(sub)
        .await
        .expect("run")
        .expect("lease");
    assert_eq!(report.status.as_str(), "paused", "{:?}", report.error);
    let after = w.sim.sim.lock().counters.clone();
    assert_eq!(after.token_requests, token_calls, "no token request");
    assert_eq!(after.total, graph_calls, "no Graph request");
    // Viewers cannot disconnect.
    let (viewer, _) = w.app.signed_in("vera", Role::Viewer).await;
    viewer.get("/").await;
    assert_eq!(
        viewer
            .post(&format!("/profiles/{id}/disconnect"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(
    disconnect_deletes_credentials,
    disconnect_deletes_credentials
);

/// Requirement 4 (mix-up defence): an answer that arrives at another profile's redirect path,
/// or names an issuer other than the profile's, is refused before any code exchange, and the
/// transaction is spent; at the profile's own path, with its own issuer, it is taken.
async fn mixed_up_answers_are_refused(backend: Backend) {
    let w = world(backend).await;
    let shared = format!("{}/callback", w.app.base);
    let a = create_profile(&w, "Zentrale", &shared).await;
    let b = create_profile(&w, "Zweigstelle", &shared).await;
    let page = w.admin.get(&format!("/profiles/{a}")).await;
    assert!(
        page.body.contains(&format!("{}/callback/{a}", w.app.base)),
        "the profile's own redirect URI is shown"
    );
    let tokens_before = w.sim.sim.lock().counters.token_requests;
    let own_path =
        |callback: &str, id: i64| callback.replacen("/callback?", &format!("/callback/{id}?"), 1);

    // A's answer delivered to B's path.
    let callback = start_authorization(&w, &w.admin, a).await;
    let r = w.admin.get_abs(&own_path(&callback, b)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("belongs to another profile"), "{}", r.body);
    // Spent: not even its right address takes it now.
    assert_eq!(
        w.admin.get_abs(&callback).await.status,
        StatusCode::BAD_REQUEST
    );

    // An issuer that is not the profile's login address, or another tenant's.
    let tenant = datapump_sim::model::TENANT_ID;
    for iss in [
        format!("https://evil.example/{tenant}/v2.0"),
        format!(
            "{}/{}/v2.0",
            w.sim.url, "72f988bf-86f1-41af-91ab-2d7cd011db47"
        ),
    ] {
        let callback = start_authorization(&w, &w.admin, a).await;
        let encoded: String = url::form_urlencoded::byte_serialize(iss.as_bytes()).collect();
        let r = w.admin.get_abs(&format!("{callback}&iss={encoded}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{iss}");
        assert!(r.body.contains("another identity provider"), "{}", r.body);
    }
    let evil_tokens = w.sim.sim.lock().counters.token_requests;
    // The first issuer is refused before the exchange; the second names a tenant the ID token
    // then contradicts (the profile is for `common`, so it is only known after the exchange).
    assert!(
        evil_tokens <= tokens_before + 1,
        "{evil_tokens} {tokens_before}"
    );
    assert_eq!(
        w.app.db().profile(a).await.expect("a").refresh_token_enc,
        None,
        "nothing stored"
    );

    // A token response without the ID token that `openid` asks for: refused, nothing stored
    // (issue 30, item 7).
    w.sim.sim.lock().omit_id_token = true;
    let callback = start_authorization(&w, &w.admin, a).await;
    let r = w.admin.get_abs(&own_path(&callback, a)).await;
    let shown = match r.location() {
        Some(to) => w.admin.get(to).await.body,
        None => r.body,
    };
    assert!(shown.contains("no ID token"), "{shown}");
    assert_eq!(
        w.app.db().profile(a).await.expect("a").refresh_token_enc,
        None,
        "nothing stored"
    );
    w.sim.sim.lock().omit_id_token = false;

    // At its own path and with its own issuer, A's answer is taken.
    let callback = start_authorization(&w, &w.admin, a).await;
    let iss: String =
        url::form_urlencoded::byte_serialize(format!("{}/{tenant}/v2.0", w.sim.url).as_bytes())
            .collect();
    let r = w
        .admin
        .get_abs(&format!("{}&iss={iss}", own_path(&callback, a)))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some(format!("/profiles/{a}").as_str()));
    assert!(
        w.app
            .db()
            .profile(a)
            .await
            .expect("a")
            .refresh_token_enc
            .is_some()
    );
    assert!(
        w.app
            .db()
            .profile(b)
            .await
            .expect("b")
            .refresh_token_enc
            .is_none()
    );
    w.app.stop().await;
    w.sim.stop().await;
}
on_both_backends!(mixed_up_answers_are_refused, mixed_up_answers_are_refused);

//! Application profiles (client credentials, no user) against the simulator: the tenant they
//! need, the roles their token carries and the fix named when one is missing, a room imported
//! end to end, and a wrong secret with its own message.

use datapump::model::{ProfileKind, ScopeResult};
use datapump::profiles::ProfileStatus;
use datapump_sim::model::TENANT_ID;
use datapump_sim::state::{
    AppScope, ClientSecret, DEFAULT_CLIENT_ID, DEFAULT_SECRET, ExchangeAccess,
};
use reqwest::StatusCode;

use crate::common::{Backend, on_both_backends};
use crate::import::{assert_matches_truth, run, subscribe};
use crate::profiles::{World, world};

fn app_form<'a>(w: &'a World, tenant: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("kind", "application"),
        ("name", "Räume"),
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_SECRET),
        ("secret_expires_on", "2028-11-29"),
        ("tenant", tenant),
        ("cloud", "custom"),
        ("login_base", w.sim.url.as_str()),
        ("graph_base", w.sim.url.as_str()),
        ("notes", ""),
    ]
}

async fn status(w: &World, id: i64) -> ProfileStatus {
    w.app.db().profile(id).await.expect("profile").status
}

fn grant(w: &World, roles: &[&str]) {
    let mut s = w.sim.sim.lock();
    s.app_mut(DEFAULT_CLIENT_ID).expect("app").app_roles =
        roles.iter().map(|r| r.to_string()).collect();
}

async fn check(w: &World, id: i64, room: &str, outside: &str) -> crate::common::Page {
    w.admin
        .post(
            &format!("/profiles/{id}/scope-check"),
            &[("room", room), ("outside", outside)],
        )
        .await
}

async fn scope(w: &World, id: i64) -> Option<ScopeResult> {
    w.app
        .db()
        .profile(id)
        .await
        .expect("profile")
        .scope_result
        .0
}

fn set_exchange_scope(w: &World, rbac: Option<&[&str]>, delay_seconds: i64) {
    let mut s = w.sim.sim.lock();
    let ids = rbac.map(|list| {
        list.iter()
            .map(|a| s.find_user_by_key(a).expect("mailbox").id.clone())
            .collect()
    });
    let now = s.now();
    let app = s.app_mut(DEFAULT_CLIENT_ID).expect("app");
    let applied = app.exchange.effective(now).clone();
    app.exchange = ExchangeAccess {
        applied,
        pending: Some((
            AppScope {
                rbac_calendars: ids,
                access_policy: None,
            },
            now + chrono::Duration::seconds(delay_seconds),
        )),
    };
}

async fn application_profile(backend: Backend) {
    let w = world(backend).await;
    let form = w.admin.get("/profiles/new?kind=application").await;
    assert!(form.body.contains("client credentials"), "{}", form.body);
    assert!(!form.body.contains("name=\"redirect_uri\""));

    // Without a user only the tenant says whose mailboxes these are: aliases are refused on
    // the form and nothing is stored.
    for alias in ["common", "organizations", ""] {
        let r = w.admin.post("/profiles", &app_form(&w, alias)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{alias}");
        assert!(r.body.contains("name no tenant"), "{}", r.body);
    }
    assert!(w.app.db().list_profiles().await.expect("list").is_empty());
    let r = w.admin.post("/profiles", &app_form(&w, TENANT_ID)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id: i64 = r
        .location()
        .and_then(|l| l.rsplit('/').next())
        .and_then(|i| i.parse().ok())
        .expect("profile id");
    let page = w.admin.get(&format!("/profiles/{id}")).await.body;
    assert!(page.contains("Get a token now"), "{page}");
    assert!(!page.contains("/authorize\""), "no account to authorize");

    // There is nothing to authorize.
    let refused = w
        .admin
        .post(&format!("/profiles/{id}/authorize"), &[])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("application profile"),
        "{}",
        refused.body
    );

    // Before any grant Entra still issues a token, without roles. That is also what a scoped
    // setup (Exchange RBAC for Applications) looks like, so the profile works and says what
    // the token lacks; reading a mailbox is refused, and nothing is imported or deleted.
    let r = w.admin.post(&format!("/profiles/{id}/retry"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(status(&w, id).await, ProfileStatus::Ok);
    let page = w.admin.get(&format!("/profiles/{id}")).await.body;
    assert!(page.contains("none granted in Entra"), "{page}");
    assert!(
        page.contains("Calendars.Read</code> — not in the token"),
        "{page}"
    );
    let room = "raum.berlin@contoso.example";
    let sub = subscribe(&w, id, room).await;
    let refused = run(&w, sub).await;
    assert_ne!(refused.status, datapump::model::RunStatus::Ok);
    assert!(refused.error.is_some(), "the refusal is reported");
    assert!(w.app.db().events_of(sub).await.expect("events").is_empty());
    // Neither a role in the token nor any mailbox read: nothing grants access, the profile
    // pauses and names both ways to grant it.
    assert_eq!(status(&w, id).await, ProfileStatus::ConsentMissing);
    let page = w.admin.get(&format!("/profiles/{id}")).await.body;
    assert!(page.contains("neither Entra"), "{page}");

    // Consent granted: a token with its roles, no refresh token, the optional one named.
    grant(&w, &["Calendars.Read", "Place.Read.All"]);
    w.admin.post(&format!("/profiles/{id}/retry"), &[]).await;
    assert_eq!(status(&w, id).await, ProfileStatus::Ok);
    let p = w.app.db().profile(id).await.expect("profile");
    assert!(p.refresh_token_enc.is_none() && p.access_token_enc.is_some());
    assert_eq!(
        p.granted_scopes.as_deref(),
        Some("Calendars.Read Place.Read.All")
    );
    let page = w.admin.get(&format!("/profiles/{id}")).await.body;
    assert!(page.contains("Calendars.Read</code> — granted"), "{page}");
    // Calendars.ReadBasic.All reads calendars too (without bodies): it counts as the grant.
    grant(&w, &["Calendars.ReadBasic.All"]);
    w.admin.post(&format!("/profiles/{id}/retry"), &[]).await;
    let basic = w.admin.get(&format!("/profiles/{id}")).await.body;
    assert!(
        basic.contains("Calendars.ReadBasic.All</code> — granted"),
        "{basic}"
    );
    grant(&w, &["Calendars.Read", "Place.Read.All"]);
    w.admin.post(&format!("/profiles/{id}/retry"), &[]).await;
    assert!(
        page.contains("User.ReadBasic.All</code> — not granted (optional"),
        "{page}"
    );
    let connect = w.admin.get(&format!("/profiles/{id}/connect")).await.body;
    assert!(
        !connect.contains("mine=1"),
        "an app has no calendars of its own"
    );

    // The room, imported end to end without a user (the directory lookup is refused without
    // User.ReadBasic.All; the mailbox is read by its address).
    let report = run(&w, sub).await;
    assert!(
        report.stats.created > 0,
        "{:?} {:?}",
        report.status,
        report.error
    );
    assert_matches_truth(&w, sub, room, 7, 180).await;

    // The scope check: with the grant in Entra the app reads every mailbox — red, also on
    // the dashboard.
    let person = "anna.schmidt@contoso.example";
    let bad = check(&w, id, "kein-postfach", person).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("Enter two mailbox addresses"),
        "{}",
        bad.body
    );
    let p = w.app.db().profile(id).await.expect("profile");
    assert!(
        p.scope_result.0.is_none() && p.scope_probe_room.is_none(),
        "nothing stored"
    );
    assert_eq!(
        check(&w, id, room, person).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(scope(&w, id).await, Some(ScopeResult::Unscoped));
    let dash = w.admin.get("/").await.body;
    assert!(dash.contains("can read every mailbox"), "{dash}");
    let page = w.admin.get(&format!("/profiles/{id}")).await.body;
    // The PowerShell names this app and its service principal (the token's oid).
    let sp = datapump_sim::service_principal_id(DEFAULT_CLIENT_ID);
    assert!(
        page.contains(&format!(
            "New-ServicePrincipal -AppId {DEFAULT_CLIENT_ID} -ObjectId {sp}"
        )),
        "{page}"
    );
    assert!(page.contains("New-ManagementRoleAssignment -App"), "{page}");

    // Scoped the recommended way: the Entra grant removed, an RBAC role assignment over the
    // rooms. The token now carries no Calendars.Read, and the check turns green.
    grant(&w, &["Place.Read.All"]);
    set_exchange_scope(&w, Some(&[room, "raum.muenchen@contoso.example"]), 0);
    w.admin.post(&format!("/profiles/{id}/retry"), &[]).await;
    assert_eq!(
        check(&w, id, room, person).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(scope(&w, id).await, Some(ScopeResult::Scoped));
    assert!(
        !w.admin
            .get("/")
            .await
            .body
            .contains("can read every mailbox")
    );
    let again = run(&w, sub).await;
    assert_eq!(
        again.status,
        datapump::model::RunStatus::Ok,
        "{:?}",
        again.error
    );
    assert_matches_truth(&w, sub, room, 7, 180).await;
    // Runs say which kind of profile they read through.
    let runs = w.app.db().runs_of(sub, 10).await.expect("runs");
    assert!(
        runs.iter()
            .all(|r| r.profile_kind.0 == Some(ProfileKind::Application))
    );
    let shown = w.admin.get(&format!("/subscriptions/{sub}")).await.body;
    assert!(shown.contains("application, no account"), "{shown}");

    // With Place.Read.All the rooms' lists are known, and the page offers a scope per list.
    let refreshed = w.admin.post("/rooms/refresh", &[]).await;
    assert_eq!(refreshed.status, StatusCode::SEE_OTHER);
    let page = w.admin.get(&format!("/profiles/{id}")).await.body;
    assert!(
        page.contains("Get-DistributionGroup -Identity &#39;Hauptgebäude&#39;")
            && page.contains("MemberOfGroup -eq"),
        "{page}"
    );

    // A scope change applies late (replication): until then the check still says scoped.
    set_exchange_scope(&w, Some(&["raum.muenchen@contoso.example"]), 3600);
    check(&w, id, room, person).await;
    assert_eq!(scope(&w, id).await, Some(ScopeResult::Scoped));
    {
        let mut s = w.sim.sim.lock();
        let app = s.app_mut(DEFAULT_CLIENT_ID).expect("app");
        if let Some((_, at)) = app.exchange.pending.as_mut() {
            *at = chrono::Utc::now() - chrono::Duration::seconds(1);
        }
    }
    check(&w, id, room, person).await;
    assert_eq!(scope(&w, id).await, Some(ScopeResult::RoomUnreadable));

    // A wrong secret: its own status and message, and the profile pauses.
    {
        let mut s = w.sim.sim.lock();
        let app = s.app_mut(DEFAULT_CLIENT_ID).expect("app");
        app.secrets = vec![ClientSecret {
            value: "another-secret-value".into(),
            expires: chrono::Utc::now() + chrono::Duration::days(30),
        }];
    }
    assert!(w.app.state.tokens.force_refresh(id).await.is_err());
    assert_eq!(status(&w, id).await, ProfileStatus::SecretInvalid);
    let page = w.admin.get(&format!("/profiles/{id}")).await.body;
    assert!(page.contains("AADSTS7000215"), "{page}");
}

on_both_backends!(application_profiles, application_profile);

/// The profile id a created-profile redirect points to.
fn created_id(r: &crate::common::Page) -> i64 {
    r.location()
        .and_then(|l| l.rsplit('/').next())
        .and_then(|i| i.parse().ok())
        .expect("profile id")
}

async fn thumbprint_of(w: &World, id: i64) -> String {
    let p = w.app.db().profile(id).await.expect("profile");
    let der = p
        .certificate
        .as_deref()
        .and_then(datapump::crypto::certificate::decode_der)
        .expect("certificate");
    datapump::crypto::certificate::info_of(&der)
        .expect("info")
        .thumbprint
}

/// An application profile with a certificate Datapump generates: the certificate offered for
/// upload, refused by Entra until uploaded, then a room imported end to end; an expired
/// certificate and a wrong clock each with their own message; uploads of PEM and PFX
/// checked before anything is stored.
async fn certificate_profile(backend: Backend) {
    use datapump::crypto::certificate::CertificateCredential;
    use datapump_sim::state::KeyCredential;
    let w = world(backend).await;
    let form = w.admin.get("/profiles/new?kind=application").await.body;
    assert!(
        form.contains("value=\"certificate\" checked"),
        "certificates are the default: {form}"
    );
    let mut fields = app_form(&w, TENANT_ID);
    fields.retain(|(k, _)| *k != "client_secret");
    fields.push(("credential", "certificate"));
    let r = w.admin.post("/profiles", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = created_id(&r);
    let p = w.app.db().profile(id).await.expect("profile");
    assert_eq!(p.credential, datapump::model::CredentialKind::Certificate);
    let thumbprint = thumbprint_of(&w, id).await;
    let page = w.admin.get(&format!("/profiles/{id}")).await.body;
    assert!(page.contains("A new certificate was generated"), "{page}");
    assert!(page.contains(&thumbprint), "{page}");
    assert!(!page.contains("PRIVATE KEY"), "the key is never shown");
    // The expiry reminders count from the certificate's end.
    assert_eq!(
        (p.secret_expires_on - chrono::Utc::now().date_naive()).num_days(),
        730
    );
    let pem = w
        .admin
        .get(&format!("/profiles/{id}/certificate.pem"))
        .await;
    assert_eq!(pem.status, StatusCode::OK);
    assert!(pem.body.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(!pem.body.contains("PRIVATE"), "only the public certificate");

    // Not uploaded to the app registration yet: Entra does not know the key.
    grant(&w, &["Calendars.Read"]);
    w.admin.post(&format!("/profiles/{id}/retry"), &[]).await;
    assert_eq!(status(&w, id).await, ProfileStatus::SecretInvalid);
    let page = w.admin.get(&format!("/profiles/{id}")).await.body;
    assert!(page.contains("AADSTS700027"), "{page}");
    assert!(
        page.contains("Microsoft does not know this certificate"),
        "{page}"
    );

    // Uploaded: a token by client assertion, and the room imported end to end.
    let key = KeyCredential::from_pem(&pem.body).expect("sim reads the certificate");
    w.sim
        .sim
        .lock()
        .app_mut(DEFAULT_CLIENT_ID)
        .expect("app")
        .certificates = vec![key.clone()];
    w.admin.post(&format!("/profiles/{id}/retry"), &[]).await;
    assert_eq!(status(&w, id).await, ProfileStatus::Ok);
    let room = "raum.berlin@contoso.example";
    let sub = subscribe(&w, id, room).await;
    let report = run(&w, sub).await;
    assert!(report.stats.created > 0, "{:?}", report.error);
    assert_matches_truth(&w, sub, room, 7, 180).await;

    // The server's clock an hour behind Entra's: the assertion is out of its time range.
    w.sim.sim.lock().clock_offset = chrono::Duration::hours(1);
    assert!(w.app.state.tokens.force_refresh(id).await.is_err());
    assert_eq!(status(&w, id).await, ProfileStatus::ConfigError);
    let page = w.admin.get(&format!("/profiles/{id}")).await.body;
    assert!(page.contains("clock is probably wrong"), "{page}");
    w.sim.sim.lock().clock_offset = chrono::Duration::zero();

    // The certificate in Entra expired: its own message, the profile paused.
    {
        let mut s = w.sim.sim.lock();
        let app = s.app_mut(DEFAULT_CLIENT_ID).expect("app");
        app.certificates[0].end = chrono::Utc::now() - chrono::Duration::minutes(1);
    }
    w.admin.post(&format!("/profiles/{id}/retry"), &[]).await;
    assert_eq!(status(&w, id).await, ProfileStatus::SecretInvalid);
    let page = w.admin.get(&format!("/profiles/{id}")).await.body;
    assert!(page.contains("The certificate has expired"), "{page}");
    let paused = run(&w, sub).await;
    assert_ne!(paused.status, datapump::model::RunStatus::Ok);
    assert!(
        !w.app.db().events_of(sub).await.expect("events").is_empty(),
        "nothing deleted on a refused token"
    );

    // The app unknown in the tenant (not installed, no consent): its own message, and the
    // admin consent link for the tenant.
    let app = w
        .sim
        .sim
        .lock()
        .apps
        .remove(DEFAULT_CLIENT_ID)
        .expect("app");
    w.admin.post(&format!("/profiles/{id}/retry"), &[]).await;
    assert_eq!(status(&w, id).await, ProfileStatus::AppNotFound);
    let page = w.admin.get(&format!("/profiles/{id}")).await.body;
    assert!(
        page.contains("does not know this app in the tenant"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "/{TENANT_ID}/adminconsent?client_id={DEFAULT_CLIENT_ID}"
        )),
        "{page}"
    );
    w.sim
        .sim
        .lock()
        .apps
        .insert(DEFAULT_CLIENT_ID.to_string(), app);

    // Uploads are checked first; a refused one changes nothing.
    let other = CertificateCredential::generate("Andere", chrono::Utc::now(), 365).expect("gen");
    let mine = CertificateCredential::generate("Eigene", chrono::Utc::now(), 365).expect("gen");
    let upload = |fields: Vec<(&'static str, &'static str)>, name: &'static str, bytes: Vec<u8>| {
        let w = &w;
        async move {
            w.admin
                .post_multipart(
                    &format!("/profiles/{id}/certificate"),
                    &fields,
                    ("file", name, bytes),
                    true,
                )
                .await
        }
    };
    let key_pem = mine.private_key_pem().expect("pem").to_string();
    for (bytes, message) in [
        (
            mine.certificate_pem().into_bytes(),
            "The file holds no private key",
        ),
        (
            format!("{}{key_pem}", other.certificate_pem()).into_bytes(),
            "The private key does not belong to the certificate",
        ),
        (b"\x30\x82garbage".to_vec(), "neither a PEM nor a PFX file"),
    ] {
        let r = upload(vec![], "upload.pem", bytes).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(r.body.contains(message), "{message}: {}", r.body);
    }
    assert_eq!(thumbprint_of(&w, id).await, thumbprint, "nothing changed");
    // Without the CSRF field the upload is refused before anything is read.
    let forged = w
        .admin
        .post_multipart(
            &format!("/profiles/{id}/certificate"),
            &[],
            ("file", "x.pem", mine.certificate_pem().into_bytes()),
            false,
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // A PEM with certificate and key: stored, and once in Entra, used.
    let r = upload(
        vec![],
        "datapump.pem",
        format!("{}{key_pem}", mine.certificate_pem()).into_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(thumbprint_of(&w, id).await, mine.info().thumbprint);
    w.sim
        .sim
        .lock()
        .app_mut(DEFAULT_CLIENT_ID)
        .expect("app")
        .certificates = vec![KeyCredential::from_pem(&mine.certificate_pem()).expect("key")];
    w.admin.post(&format!("/profiles/{id}/retry"), &[]).await;
    assert_eq!(status(&w, id).await, ProfileStatus::Ok);
    let audit = w.admin.get("/audit").await.body;
    assert!(audit.contains("profile.certificate_replaced"), "{audit}");
    assert!(!audit.contains("PRIVATE KEY"));
}

on_both_backends!(certificate_profiles, certificate_profile);

/// The simulator's checks of client assertions, straight at its token endpoint: a replayed
/// `jti`, an expired assertion, the wrong audience and a wrong signature are each refused with
/// their own AADSTS code.
#[tokio::test]
async fn simulator_checks_client_assertions() {
    use base64::Engine;
    use datapump::crypto::certificate::CertificateCredential;
    use datapump_sim::state::KeyCredential;
    let w = world(Backend::Sqlite).await;
    let c = CertificateCredential::generate("Test", chrono::Utc::now(), 30).expect("gen");
    w.sim
        .sim
        .lock()
        .app_mut(DEFAULT_CLIENT_ID)
        .expect("app")
        .certificates = vec![KeyCredential::from_pem(&c.certificate_pem()).expect("key")];
    let endpoint = format!("{}/{TENANT_ID}/oauth2/v2.0/token", w.sim.url);
    let http = reqwest::Client::new();
    let post = |assertion: String| {
        let http = http.clone();
        let endpoint = endpoint.clone();
        async move {
            let r = http
                .post(&endpoint)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", DEFAULT_CLIENT_ID),
                    ("scope", "https://graph.microsoft.com/.default"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.as_str()),
                ])
                .send()
                .await
                .expect("token");
            let status = r.status();
            let body: serde_json::Value = r.json().await.expect("json");
            (status, body["error_codes"][0].as_u64().unwrap_or(0))
        }
    };
    let now = chrono::Utc::now();
    let good = c
        .client_assertion(DEFAULT_CLIENT_ID, &endpoint, now)
        .expect("jwt");
    assert_eq!(post(good.clone()).await.0, StatusCode::OK);
    assert_eq!(
        post(good).await,
        (StatusCode::UNAUTHORIZED, 70002),
        "replay"
    );
    let old = c
        .client_assertion(
            DEFAULT_CLIENT_ID,
            &endpoint,
            now - chrono::Duration::hours(1),
        )
        .expect("jwt");
    assert_eq!(post(old).await, (StatusCode::UNAUTHORIZED, 700024));
    let elsewhere = c
        .client_assertion(
            DEFAULT_CLIENT_ID,
            "https://login.example/t/oauth2/v2.0/token",
            now,
        )
        .expect("jwt");
    assert_eq!(post(elsewhere).await, (StatusCode::UNAUTHORIZED, 50012));
    // Another key's signature under this certificate's thumbprint.
    let forger = CertificateCredential::generate("Forger", now, 30).expect("gen");
    let forged = forger
        .client_assertion(DEFAULT_CLIENT_ID, &endpoint, now)
        .expect("jwt");
    let parts: Vec<&str> = forged.split('.').collect();
    let real = c
        .client_assertion(DEFAULT_CLIENT_ID, &endpoint, now)
        .expect("jwt");
    let real_parts: Vec<&str> = real.split('.').collect();
    let spliced = format!("{}.{}.{}", real_parts[0], real_parts[1], parts[2]);
    assert_eq!(post(spliced).await, (StatusCode::UNAUTHORIZED, 700027));
    // An unknown certificate.
    assert_eq!(post(forged).await, (StatusCode::UNAUTHORIZED, 700027));
    // Not a JWT at all.
    let junk = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("x");
    assert_eq!(post(junk).await, (StatusCode::UNAUTHORIZED, 50027));
}

//! The simulator against Microsoft's documented behaviour: OAuth code flow with PKCE, refresh
//! rotation and the documented failures, Graph shapes, search, calendar access, calendarView,
//! delta sequences after each kind of change, throttling and faults.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use datapump_sim::ids::IdForm;
use datapump_sim::state::{DEFAULT_ACCOUNT, DEFAULT_CLIENT_ID, DEFAULT_PASSWORD, DEFAULT_SECRET};
use datapump_sim::{EventPatch, FaultKind, FaultRule, NewEvent, RoomPolicy, SimConfig, SimServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

const REDIRECT: &str = "http://localhost:8000/callback";
const SCOPES: &str = "offline_access User.ReadBasic.All Calendars.Read.Shared openid profile";

fn http() -> reqwest::Client {
    // reqwest's TLS (unused here: the simulator speaks plain HTTP) wants a provider installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn start() -> SimServer {
    SimServer::start(SimConfig::default())
        .await
        .expect("sim starts")
}

fn fixture(path: &str) -> Value {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(path);
    serde_json::from_str(&std::fs::read_to_string(&file).expect("fixture")).expect("json")
}

/// Every key of `expected` is present in `actual` with the same JSON type (null: any type).
fn assert_shape(expected: &Value, actual: &Value, at: &str) {
    match (expected, actual) {
        (Value::Null, _) => {}
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let av = a
                    .get(k)
                    .unwrap_or_else(|| panic!("{at}.{k} missing in {actual}"));
                assert_shape(ev, av, &format!("{at}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(ef), Some(af)) = (e.first(), a.first()) {
                assert_shape(ef, af, &format!("{at}[0]"));
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        _ => panic!("{at}: expected a value like {expected}, got {actual}"),
    }
}

struct Pkce {
    verifier: String,
    challenge: String,
}

fn pkce() -> Pkce {
    let verifier = URL_SAFE_NO_PAD.encode(rand_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, x) in uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(uuid::Uuid::new_v4().as_bytes())
        .enumerate()
    {
        b[i] = *x;
    }
    b
}

fn authorize_url(sim: &SimServer, p: &Pkce, state: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("client_id", DEFAULT_CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", SCOPES),
        ("state", state),
        ("code_challenge", p.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{}/common/oauth2/v2.0/authorize?{q}", sim.url)
}

fn query_of(location: &str) -> BTreeMap<String, String> {
    let url = url::Url::parse(location).expect("redirect url");
    url.query_pairs().into_owned().collect()
}

/// The interactive flow: sign-in page, credentials, redirect with code.
async fn interactive_code(sim: &SimServer, p: &Pkce, state: &str) -> String {
    let client = http();
    let page = client
        .get(authorize_url(sim, p, state, &[]))
        .send()
        .await
        .expect("authorize");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("Sign in"));
    let ctx = html
        .split("name=\"ctx\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("ctx");
    let r = client
        .post(format!("{}/common/oauth2/v2.0/authorize", sim.url))
        .form(&[
            ("ctx", ctx),
            ("step", "signin"),
            ("username", DEFAULT_ACCOUNT),
            ("password", DEFAULT_PASSWORD),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    let q = query_of(&location);
    assert_eq!(q.get("state").map(String::as_str), Some(state));
    assert!(q.contains_key("session_state"));
    q["code"].clone()
}

async fn token(sim: &SimServer, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = http()
        .post(format!("{}/common/oauth2/v2.0/token", sim.url))
        .form(form)
        .send()
        .await
        .expect("token");
    let status = r.status();
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store, no-cache")
    );
    (status, r.json().await.expect("json"))
}

async fn redeem(sim: &SimServer, code: &str, verifier: &str) -> (StatusCode, Value) {
    token(
        sim,
        &[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_SECRET),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(sim: &SimServer, rt: &str) -> (StatusCode, Value) {
    token(
        sim,
        &[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
        ],
    )
    .await
}

/// Tokens for the default account, through the automatic sign-in.
async fn tokens(sim: &SimServer) -> Value {
    sim.sim.lock().auto_login = Some(DEFAULT_ACCOUNT.into());
    let p = pkce();
    let r = http()
        .get(authorize_url(sim, &p, "s", &[]))
        .send()
        .await
        .expect("authorize");
    let location = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let code = query_of(&location)["code"].clone();
    let (status, body) = redeem(sim, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn aad_code(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().expect("error_codes")
}

async fn graph(
    sim: &SimServer,
    at: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = http()
        .get(format!("{}/v1.0{path}", sim.url))
        .bearer_auth(at);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("graph");
    let status = r.status();
    let h = r.headers().clone();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, h, body)
}

async fn get_url(
    at: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = http().get(url).bearer_auth(at);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("graph");
    let status = r.status();
    let h = r.headers().clone();
    (status, h, r.json().await.unwrap_or(Value::Null))
}

fn assert_graph_error(status: StatusCode, body: &Value, expected_status: StatusCode, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_shape(&fixture("graph/error.json"), body, "error");
}

#[tokio::test]
async fn oauth_code_flow_with_pkce_and_documented_shapes() {
    let sim = start().await;
    let p = pkce();
    let code = interactive_code(&sim, &p, "xyz").await;

    // Wrong verifier: refused, and the code stays unredeemed.
    let (status, body) = redeem(
        &sim,
        &code,
        "a-wrong-verifier-that-is-long-enough-to-be-valid-000",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(aad_code(&body), 501481);
    assert_shape(&fixture("identity/token-error.json"), &body, "token error");

    // A missing code: AADSTS900144 naming the parameter.
    let (status, body) = token(
        &sim,
        &[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_SECRET),
            ("grant_type", "authorization_code"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(aad_code(&body), 900144);
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("parameter: 'code'")),
        "{body}"
    );

    let (status, body) = redeem(&sim, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape(&fixture("identity/token-success.json"), &body, "token");
    assert!(
        body["expires_in"]
            .as_i64()
            .is_some_and(|n| (3600..5400).contains(&n))
    );
    assert!(
        body["scope"]
            .as_str()
            .unwrap_or("")
            .contains("https://graph.microsoft.com/Calendars.Read.Shared")
    );
    assert_eq!(
        body["id_token"].as_str().unwrap_or("").split('.').count(),
        3
    );

    // Codes are single-use.
    let (status, again) = redeem(&sim, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(aad_code(&again), 54005);

    let at = body["access_token"].as_str().expect("at");
    let (status, _, me) = graph(&sim, at, "/me", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["userPrincipalName"], DEFAULT_ACCOUNT);
    assert_shape(&fixture("graph/user.json"), &me, "me");
    sim.stop().await;
}

#[tokio::test]
async fn authorize_errors_go_where_entra_sends_them() {
    let sim = start().await;
    let p = pkce();
    let client = http();
    // Unknown client and unregistered redirect URI: an error page, no redirect.
    for (param, value, code) in [
        (
            "client_id",
            "00000000-0000-0000-0000-000000000000",
            "AADSTS700016",
        ),
        ("redirect_uri", "https://evil.example/cb", "AADSTS50011"),
    ] {
        let url = authorize_url(&sim, &p, "s", &[]).replace(
            &format!(
                "{param}={}",
                url::form_urlencoded::byte_serialize(
                    if param == "client_id" {
                        DEFAULT_CLIENT_ID
                    } else {
                        REDIRECT
                    }
                    .as_bytes()
                )
                .collect::<String>()
            ),
            &format!(
                "{param}={}",
                url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
            ),
        );
        let r = client.get(url).send().await.expect("authorize");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.headers().get("location").is_none());
        assert!(r.text().await.expect("html").contains(code));
    }
    // Unknown permission: redirected as invalid_client with AADSTS650053 and the state.
    let bad_scope =
        authorize_url(&sim, &p, "st8", &[]).replace("Calendars.Read.Shared", "Calendars.Fly");
    let r = client.get(bad_scope).send().await.expect("authorize");
    let q = query_of(r.headers()["location"].to_str().expect("loc"));
    assert_eq!(q["error"], "invalid_client");
    assert!(q["error_description"].starts_with("AADSTS650053"));
    assert_eq!(q["state"], "st8");

    // Declining consent: access_denied with AADSTS65004.
    sim.sim
        .lock()
        .set_consent(DEFAULT_CLIENT_ID, false)
        .expect("consent");
    let page = client
        .get(authorize_url(&sim, &p, "d", &[]))
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("html");
    let ctx = page
        .split("name=\"ctx\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("ctx")
        .to_string();
    let consent = client
        .post(format!("{}/common/oauth2/v2.0/authorize", sim.url))
        .form(&[
            ("ctx", ctx.as_str()),
            ("step", "signin"),
            ("username", DEFAULT_ACCOUNT),
            ("password", DEFAULT_PASSWORD),
        ])
        .send()
        .await
        .expect("signin")
        .text()
        .await
        .expect("html");
    assert!(
        consent.contains("Permissions requested")
            && consent.contains("Read user and shared calendars")
    );
    let r = client
        .post(format!("{}/common/oauth2/v2.0/authorize", sim.url))
        .form(&[("ctx", ctx.as_str()), ("step", "consent"), ("accept", "no")])
        .send()
        .await
        .expect("decline");
    let q = query_of(r.headers()["location"].to_str().expect("loc"));
    assert_eq!(q["error"], "access_denied");
    assert!(q["error_description"].starts_with("AADSTS65004"));

    // Wrong password: the sign-in page says so.
    let page = client
        .get(authorize_url(&sim, &p, "w", &[]))
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("html");
    let ctx = page
        .split("name=\"ctx\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("ctx")
        .to_string();
    let r = client
        .post(format!("{}/common/oauth2/v2.0/authorize", sim.url))
        .form(&[
            ("ctx", ctx.as_str()),
            ("step", "signin"),
            ("username", DEFAULT_ACCOUNT),
            ("password", "nope"),
        ])
        .send()
        .await
        .expect("signin")
        .text()
        .await
        .expect("html");
    assert!(r.contains("AADSTS50126"));
    sim.stop().await;
}

#[tokio::test]
async fn token_endpoint_client_errors() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let rt = t["refresh_token"].as_str().expect("rt");
    let base = [
        ("client_id", DEFAULT_CLIENT_ID),
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
    ];

    let (status, body) = token(&sim, &[&base[..], &[("client_secret", "wrong")]].concat()).await;
    assert_eq!(
        (status, body["error"].as_str(), aad_code(&body)),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"), 7000215)
    );
    let (status, body) = token(&sim, &base).await;
    assert_eq!(
        (status, aad_code(&body)),
        (StatusCode::UNAUTHORIZED, 7000218)
    );
    let (status, body) = token(
        &sim,
        &[
            ("client_id", "11111111-2222-3333-4444-555555555555"),
            ("client_secret", "x"),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str(), aad_code(&body)),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"), 700016)
    );
    let (status, body) = token(
        &sim,
        &[
            &base[..],
            &[
                ("client_secret", DEFAULT_SECRET),
                ("scope", "Calendars.Fly"),
            ],
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str(), aad_code(&body)),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"), 70011)
    );

    // HTTP Basic client authentication works as well.
    let r = http()
        .post(format!("{}/common/oauth2/v2.0/token", sim.url))
        .basic_auth(DEFAULT_CLIENT_ID, Some(DEFAULT_SECRET))
        .form(&base)
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK);

    // An expired secret.
    sim.sim
        .lock()
        .expire_secrets(DEFAULT_CLIENT_ID)
        .expect("expire");
    let (status, body) = token(
        &sim,
        &[&base[..], &[("client_secret", DEFAULT_SECRET)]].concat(),
    )
    .await;
    assert_eq!(
        (status, aad_code(&body)),
        (StatusCode::UNAUTHORIZED, 7000222)
    );
    let new = sim
        .sim
        .lock()
        .rotate_secret(DEFAULT_CLIENT_ID, None)
        .expect("rotate");
    let (status, _) = token(
        &sim,
        &[&base[..], &[("client_secret", new.as_str())]].concat(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    sim.stop().await;
}

#[tokio::test]
async fn refresh_rotation_and_revocation() {
    let sim = start().await;
    let first = tokens(&sim).await;
    let rt1 = first["refresh_token"].as_str().expect("rt").to_string();
    let (status, second) = refresh(&sim, &rt1).await;
    assert_eq!(status, StatusCode::OK);
    let rt2 = second["refresh_token"].as_str().expect("rt2").to_string();
    assert_ne!(rt1, rt2, "a new refresh token every time");
    // The old one works for a short grace, then no more.
    assert_eq!(refresh(&sim, &rt1).await.0, StatusCode::OK);
    sim.sim.lock().clock_offset += Duration::minutes(10);
    let (status, body) = refresh(&sim, &rt1).await;
    assert_eq!((status, aad_code(&body)), (StatusCode::BAD_REQUEST, 70000));
    let (status, third) = refresh(&sim, &rt2).await;
    assert_eq!(status, StatusCode::OK);
    let rt3 = third["refresh_token"].as_str().expect("rt3").to_string();

    // Access tokens expire; Graph then answers 401 InvalidAuthenticationToken.
    let at = third["access_token"].as_str().expect("at").to_string();
    assert_eq!(graph(&sim, &at, "/me", &[]).await.0, StatusCode::OK);
    sim.sim.lock().clock_offset += Duration::hours(2);
    let (status, _, body) = graph(&sim, &at, "/me", &[]).await;
    assert_graph_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
    );

    // Consent withdrawn: refresh fails with AADSTS65001 / consent_required.
    sim.sim
        .lock()
        .set_consent(DEFAULT_CLIENT_ID, false)
        .expect("consent");
    let (status, body) = refresh(&sim, &rt3).await;
    assert_eq!(
        (status, aad_code(&body), body["suberror"].as_str()),
        (StatusCode::BAD_REQUEST, 65001, Some("consent_required"))
    );
    sim.sim
        .lock()
        .set_consent(DEFAULT_CLIENT_ID, true)
        .expect("consent");

    // 90 days without use: AADSTS700082 (bad_token).
    sim.sim.lock().clock_offset += Duration::days(91);
    let (status, body) = refresh(&sim, &rt3).await;
    assert_eq!(
        (status, aad_code(&body), body["suberror"].as_str()),
        (StatusCode::BAD_REQUEST, 700082, Some("bad_token"))
    );
    assert_shape(&fixture("identity/token-error.json"), &body, "700082");

    // Password reset by an admin: AADSTS50173 for a fresh family as well.
    let fresh = tokens(&sim).await;
    let rt = fresh["refresh_token"].as_str().expect("rt").to_string();
    sim.sim.lock().clock_offset += Duration::seconds(5);
    sim.sim
        .lock()
        .revoke_sessions(DEFAULT_ACCOUNT)
        .expect("revoke");
    let (status, body) = refresh(&sim, &rt).await;
    assert_eq!(
        (status, body["error"].as_str(), aad_code(&body)),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"), 50173)
    );
    sim.stop().await;
}

#[tokio::test]
async fn me_calendars_and_access_rules() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at");
    let (status, _, cals) = graph(&sim, at, "/me/calendars", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let list = cals["value"].as_array().expect("value");
    assert!(list.len() >= 4, "own calendars plus a shared one");
    assert_shape(&fixture("graph/calendar.json"), &list[0], "calendar");
    assert!(list.iter().any(|c| c["isDefaultCalendar"] == true));
    assert!(
        list.iter()
            .any(|c| c["owner"]["address"] == "anna.schmidt@contoso.example"
                && c["canEdit"] == false)
    );

    let (status, _, cal) =
        graph(&sim, at, "/users/Raum.Berlin@contoso.example/calendar", &[]).await;
    assert_eq!(status, StatusCode::OK, "case-insensitive address");
    assert_eq!(cal["owner"]["address"], "raum.berlin@contoso.example");
    let (s, _, b) = graph(
        &sim,
        at,
        "/users/vorstandsraum@contoso.example/calendar",
        &[],
    )
    .await;
    assert_graph_error(s, &b, StatusCode::FORBIDDEN, "ErrorAccessDenied");
    let (s, _, b) = graph(&sim, at, "/users/nobody@contoso.example/calendar", &[]).await;
    assert_graph_error(s, &b, StatusCode::NOT_FOUND, "ErrorInvalidUser");
    let (s, _, b) = graph(
        &sim,
        at,
        "/users/ex.mitarbeiter@contoso.example/calendar",
        &[],
    )
    .await;
    assert_graph_error(s, &b, StatusCode::NOT_FOUND, "MailboxNotEnabledForRESTAPI");
    // Only the primary calendar of another mailbox is reachable.
    let (s, _, b) = graph(
        &sim,
        at,
        "/users/raum.berlin@contoso.example/calendars",
        &[],
    )
    .await;
    assert_graph_error(s, &b, StatusCode::FORBIDDEN, "ErrorAccessDenied");
    // Rooms need Place.Read.All, which the guide's registration lacks.
    let (s, _, b) = graph(&sim, at, "/places/microsoft.graph.room", &[]).await;
    assert_graph_error(s, &b, StatusCode::FORBIDDEN, "ErrorAccessDenied");
    // Delegation withdrawn: 403 from then on.
    sim.sim
        .lock()
        .set_delegation(DEFAULT_ACCOUNT, "raum.berlin@contoso.example", false)
        .expect("delegation");
    let (s, _, b) = graph(&sim, at, "/users/raum.berlin@contoso.example/calendar", &[]).await;
    assert_graph_error(s, &b, StatusCode::FORBIDDEN, "ErrorAccessDenied");
    sim.stop().await;
}

#[tokio::test]
async fn people_search() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at");
    let names = |v: &Value| -> Vec<String> {
        v["value"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|u| u["displayName"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let filter = |expr: &str| {
        format!(
            "/users?$filter={}",
            url::form_urlencoded::byte_serialize(expr.as_bytes()).collect::<String>()
        )
    };

    let (s, _, b) = graph(
        &sim,
        at,
        &filter("startswith(displayName,'raum b') or startswith(mail,'raum b')"),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(names(&b).contains(&"Raum Berlin".to_string()));
    for (field, value) in [
        ("givenName", "jür"),
        ("surname", "o''ne"),
        ("mail", "empf"),
        ("userPrincipalName", "raum.m"),
    ] {
        let (s, _, b) = graph(
            &sim,
            at,
            &filter(&format!("startswith({field},'{value}')")),
            &[],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{field}");
        assert!(!names(&b).is_empty(), "{field} {value}");
    }
    let (_, _, b) = graph(&sim, at, &filter("startswith(displayName,'zzz')"), &[]).await;
    assert!(names(&b).is_empty());
    let (s, _, b) = graph(
        &sim,
        at,
        &filter("startswith(displayName,'x') and 1 eq 1"),
        &[],
    )
    .await;
    assert_graph_error(s, &b, StatusCode::BAD_REQUEST, "Request_UnsupportedQuery");

    // $search needs ConsistencyLevel: eventual; it matches at word starts.
    let search = |term: &str| {
        format!(
            "/users?$search={}",
            url::form_urlencoded::byte_serialize(
                format!("\"displayName:{term}\" OR \"mail:{term}\"").as_bytes()
            )
            .collect::<String>()
        )
    };
    let (s, _, b) = graph(&sim, at, &search("ber"), &[]).await;
    assert_graph_error(s, &b, StatusCode::BAD_REQUEST, "Request_UnsupportedQuery");
    let (_, _, b) = graph(
        &sim,
        at,
        &search("ber"),
        &[("ConsistencyLevel", "eventual")],
    )
    .await;
    assert!(names(&b).contains(&"Raum Berlin".to_string()));
    let (_, _, b) = graph(
        &sim,
        at,
        &search("erlin"),
        &[("ConsistencyLevel", "eventual")],
    )
    .await;
    assert!(
        !names(&b).contains(&"Raum Berlin".to_string()),
        "the guide's example: 'erlin' finds nothing"
    );

    // Paging with $top and @odata.nextLink; $count with the header.
    let (_, _, first) = graph(
        &sim,
        at,
        "/users?$top=5&$count=true&$select=displayName,mail",
        &[("ConsistencyLevel", "eventual")],
    )
    .await;
    let total = first["@odata.count"].as_u64().expect("count") as usize;
    assert_eq!(names(&first).len(), 5);
    assert!(
        first["value"][0].get("id").is_none(),
        "$select limits the properties"
    );
    let mut seen = names(&first);
    let mut next = first["@odata.nextLink"].as_str().map(String::from);
    while let Some(url) = next {
        let (_, _, page) = get_url(at, &url, &[("ConsistencyLevel", "eventual")]).await;
        seen.extend(names(&page));
        next = page["@odata.nextLink"].as_str().map(String::from);
    }
    assert_eq!(seen.len(), total);
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        total,
        "no duplicates across pages"
    );

    // Without User.ReadBasic.All the directory is closed.
    sim.sim.lock().access_tokens.values_mut().for_each(|t| {
        t.scopes.remove("User.ReadBasic.All");
    });
    let (s, _, b) = graph(&sim, at, "/users?$top=1", &[]).await;
    assert_graph_error(s, &b, StatusCode::FORBIDDEN, "Authorization_RequestDenied");
    sim.stop().await;
}

fn window() -> (String, String) {
    let now = Utc::now();
    (
        (now - Duration::days(30))
            .format("%Y-%m-%dT00:00:00Z")
            .to_string(),
        (now + Duration::days(90))
            .format("%Y-%m-%dT00:00:00Z")
            .to_string(),
    )
}

async fn collect_view(at: &str, first: String, prefer: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(first);
    while let Some(url) = next {
        let (s, _, page) = get_url(at, &url, &[("Prefer", prefer)]).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        out.extend(page["value"].as_array().cloned().unwrap_or_default());
        next = page["@odata.nextLink"].as_str().map(String::from);
    }
    out
}

/// `/users/{id | userPrincipalName}`: a mailbox whose SMTP address is not its UPN is not found
/// by address, only by id or UPN, and the directory finds it by `mail`.
#[tokio::test]
async fn users_are_addressed_by_id_or_upn() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at");
    let address = datapump_sim::seed::SMTP_NOT_UPN;
    let (id, upn) = {
        let s = sim.sim.lock();
        let u = s.find_user(address).expect("seeded");
        (u.id.clone(), u.upn.clone())
    };
    assert_ne!(upn, address);
    let (s, _, b) = graph(&sim, at, &format!("/users/{address}/calendar"), &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    for key in [&id, &upn] {
        let (s, _, b) = graph(&sim, at, &format!("/users/{key}/calendar"), &[]).await;
        assert_eq!(s, StatusCode::OK, "{key}: {b}");
    }
    let (s, _, b) = graph(
        &sim,
        at,
        &format!("/users?$filter=mail eq '{address}' or userPrincipalName eq '{address}'&$select=id,mail,userPrincipalName"),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["value"][0]["id"], id.as_str(), "{b}");
    sim.stop().await;
}

/// The default tenant has a cancelled series in an attendee's (not a room's) calendar, for the
/// demo and the benchmarks.
#[tokio::test]
async fn seed_has_a_cancelled_series_in_an_attendees_calendar() {
    let sim = start().await;
    let found = {
        let s = sim.sim.lock();
        s.events.values().any(|e| {
            e.is_cancelled
                && e.recurrence.is_some()
                && s.calendar(&e.calendar_id)
                    .and_then(|c| s.user(&c.owner_id))
                    .is_some_and(|u| u.kind != datapump_sim::model::MailboxKind::Room)
        })
    };
    assert!(found);
    sim.stop().await;
}

/// `$select` is honoured: only the selected properties come back, with `id` and annotations.
#[tokio::test]
async fn calendar_view_honours_select() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at");
    let (start, end) = window();
    let (s, _, b) = graph(
        &sim,
        at,
        &format!(
            "/users/raum.berlin@contoso.example/calendarView?startDateTime={start}&endDateTime={end}&$top=5&$select=subject,Start"
        ),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let items = b["value"].as_array().expect("value");
    assert!(!items.is_empty());
    for item in items {
        let mut keys: Vec<&str> = item
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .filter(|k| !k.starts_with('@'))
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["id", "start", "subject"], "{item}");
    }
    sim.stop().await;
}

/// Graph accepts OData's function-call and key forms beside plain segments; Microsoft's SDKs
/// send `calendarView/delta()` (graph-protocol §9.5).
#[tokio::test]
async fn odata_function_and_key_forms_are_accepted() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at");
    let (start, end) = window();
    let id = {
        let s = sim.sim.lock();
        s.users
            .iter()
            .find(|u| u.upn == "raum.berlin@contoso.example")
            .map(|u| u.id.clone())
            .expect("room")
    };
    let mut counts = Vec::new();
    for path in [
        "/users/raum.berlin@contoso.example/calendarView/delta".to_string(),
        "/users/raum.berlin@contoso.example/calendarView/delta()".to_string(),
        format!("/users('{id}')/calendarView/delta()"),
        "/users('raum.berlin@contoso.example')/calendarView/delta".to_string(),
    ] {
        let url = format!(
            "{}/v1.0{path}?startDateTime={start}&endDateTime={end}",
            sim.url
        );
        let (items, _) = delta_round(at, &url, 50).await;
        counts.push(items.len());
    }
    assert!(counts[0] > 0);
    assert!(counts.iter().all(|c| *c == counts[0]), "{counts:?}");
    let (s, _, b) = graph(&sim, at, &format!("/users('{id}')/calendar"), &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    sim.stop().await;
}

/// Observed (microsoft-graph-docs #6284): a range of more than 1825 days is refused with 400
/// `ErrorInvalidRequest`, by calendarView and by its delta.
#[tokio::test]
async fn calendar_view_refuses_ranges_over_1825_days() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at");
    let start_at = Utc::now() - Duration::days(1000);
    let fmt = |d: chrono::DateTime<Utc>| d.format("%Y-%m-%dT00:00:00Z").to_string();
    for path in ["calendarView", "calendarView/delta"] {
        let (s, _, b) = graph(
            &sim,
            at,
            &format!(
                "/users/raum.berlin@contoso.example/{path}?startDateTime={}&endDateTime={}",
                fmt(start_at),
                fmt(start_at + Duration::days(1826))
            ),
            &[],
        )
        .await;
        assert_graph_error(s, &b, StatusCode::BAD_REQUEST, "ErrorInvalidRequest");
        assert!(
            b["error"]["message"]
                .as_str()
                .is_some_and(|m| m.ends_with("Maximum number of days: 1825")),
            "{b}"
        );
        let (s, _, b) = graph(
            &sim,
            at,
            &format!(
                "/users/raum.berlin@contoso.example/{path}?startDateTime={}&endDateTime={}",
                fmt(start_at),
                fmt(start_at + Duration::days(1825))
            ),
            &[],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn calendar_view_paging_time_zones_and_truth() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at");
    let (start, end) = window();
    let (s, _, b) = graph(
        &sim,
        at,
        "/users/raum.berlin@contoso.example/calendarView",
        &[],
    )
    .await;
    assert_graph_error(s, &b, StatusCode::BAD_REQUEST, "ErrorInvalidParameter");

    let url = format!(
        "{}/v1.0/users/raum.berlin@contoso.example/calendarView?startDateTime={start}&endDateTime={end}&$top=7",
        sim.url
    );
    let events = collect_view(at, url, "outlook.timezone=\"UTC\"").await;
    let truth = sim
        .sim
        .truth(
            "raum.berlin@contoso.example",
            json_instant(&start),
            json_instant(&end),
            IdForm::Rest,
        )
        .expect("truth");
    assert_eq!(events.len(), truth.len());
    assert!(events.len() > 20);
    let ids: BTreeSet<_> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids.len(), events.len(), "no duplicates across pages");
    assert_eq!(events, truth, "pages equal the truth");
    let single = events
        .iter()
        .find(|e| e["type"] == "singleInstance")
        .expect("a single event");
    assert_shape(&fixture("graph/event.json"), single, "event");
    let series: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "occurrence" || e["type"] == "exception")
        .collect();
    assert!(series.iter().all(|e| e["seriesMasterId"].is_string()));

    // Prefer: outlook.timezone converts and is acknowledged.
    let one = format!(
        "/users/raum.berlin@contoso.example/calendarView?startDateTime={start}&endDateTime={end}&$top=1"
    );
    let (_, h, pacific) = graph(
        &sim,
        at,
        &one,
        &[("Prefer", "outlook.timezone=\"Pacific Standard Time\"")],
    )
    .await;
    assert_eq!(
        h.get("preference-applied").and_then(|v| v.to_str().ok()),
        Some("outlook.timezone=\"Pacific Standard Time\"")
    );
    let (_, _, utc) = graph(&sim, at, &one, &[]).await;
    assert_eq!(
        pacific["value"][0]["start"]["timeZone"],
        "Pacific Standard Time"
    );
    assert_eq!(utc["value"][0]["start"]["timeZone"], "UTC");
    if pacific["value"][0]["isAllDay"] == false {
        assert_ne!(
            pacific["value"][0]["start"]["dateTime"],
            utc["value"][0]["start"]["dateTime"]
        );
    }
    sim.stop().await;
}

fn json_instant(s: &str) -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("instant")
        .with_timezone(&Utc)
}

/// One delta round from `url`: items and the delta link.
/// One delta round with immutable ids, as Datapump asks (`delta_round_as` for either form).
async fn delta_round(at: &str, url: &str, page: usize) -> (Vec<Value>, String) {
    delta_round_as(at, url, page, true).await
}

async fn delta_round_as(at: &str, url: &str, page: usize, immutable: bool) -> (Vec<Value>, String) {
    let ids = if immutable {
        ", IdType=\"ImmutableId\""
    } else {
        ""
    };
    let prefer = format!("odata.maxpagesize={page}{ids}");
    let mut items = Vec::new();
    let mut next = url.to_string();
    loop {
        let (s, h, body) = get_url(at, &next, &[("Prefer", prefer.as_str())]).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(h.get("preference-applied").is_some());
        items.extend(body["value"].as_array().cloned().unwrap_or_default());
        assert!(
            !(body.get("@odata.nextLink").is_some() && body.get("@odata.deltaLink").is_some()),
            "never both"
        );
        if let Some(n) = body["@odata.nextLink"].as_str() {
            assert_shape(
                &fixture("graph/delta-page.json")["@odata.nextLink"],
                &body["@odata.nextLink"],
                "nextLink",
            );
            next = n.to_string();
            continue;
        }
        return (
            items,
            body["@odata.deltaLink"]
                .as_str()
                .expect("deltaLink")
                .to_string(),
        );
    }
}

fn naive(days: i64, hour: u32) -> chrono::NaiveDateTime {
    (Utc::now() + Duration::days(days))
        .date_naive()
        .and_hms_opt(hour, 0, 0)
        .expect("time")
}

/// Delta is not a change log (docs/graph-behaviours.md): a series moved to another weekday
/// comes with new occurrence ids and no word of the old ones; a deleted series as its master's
/// `@removed` only; an item deleted and restored as `@removed` and then again; an item
/// changed twice, twice.
#[tokio::test]
async fn delta_is_not_a_change_log() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at");
    let (start, end) = window();
    let room = "raum.muenchen@contoso.example";
    let url = format!(
        "{}/v1.0/users/{room}/calendarView/delta?startDateTime={start}&endDateTime={end}",
        sim.url
    );
    let new = |subject: &str, days: i64, recurrence| NewEvent {
        calendar: room.into(),
        subject: subject.into(),
        body: String::new(),
        start: naive(days, 9),
        end: naive(days, 10),
        time_zone: "W. Europe Standard Time".into(),
        is_all_day: false,
        sensitivity: "normal".into(),
        organizer: Some("anna.schmidt@contoso.example".into()),
        attendees: vec![],
        location: None,
        recurrence,
        categories: vec![],
    };
    let weekly = || {
        Some(datapump_sim::model::Recurrence {
            pattern: datapump_sim::model::Pattern::Weekly { interval: 1 },
            days_of_week: vec![],
            range: datapump_sim::model::RecurrenceRange::Numbered {
                number_of_occurrences: 4,
            },
        })
    };
    let (moving, doomed, single) = {
        let mut s = sim.sim.lock();
        (
            s.create_event(new("Wandert", 2, weekly())).expect("series"),
            s.create_event(new("Entfällt", 3, weekly()))
                .expect("series"),
            s.create_event(new("Einzeln", 4, None)).expect("single"),
        )
    };
    let (initial, link) = delta_round(at, &url, 1000).await;
    let ids_of = |items: &[Value], master: &str| -> BTreeSet<String> {
        items
            .iter()
            .filter(|e| e["seriesMasterId"] == master)
            .filter_map(|e| e["id"].as_str().map(String::from))
            .collect()
    };
    let old_ids = ids_of(&initial, &moving);
    assert_eq!(old_ids.len(), 4);
    {
        let mut s = sim.sim.lock();
        s.update_event(
            &moving,
            EventPatch {
                start: Some(naive(3, 9)),
                end: Some(naive(3, 10)),
                ..Default::default()
            },
        )
        .expect("moved a day");
        s.delete_event(&doomed).expect("series deleted");
        s.delete_event(&single).expect("deleted");
        s.restore_event(&single).expect("restored");
    }
    let (items, link) = delta_round(at, &link, 1000).await;
    let new_ids = ids_of(&items, &moving);
    assert_eq!(
        new_ids.len(),
        4,
        "the moved series' occurrences: {items:#?}"
    );
    assert!(new_ids.is_disjoint(&old_ids), "new occurrence ids");
    let removed: Vec<&str> = items
        .iter()
        .filter(|e| e.get("@removed").is_some())
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert!(
        old_ids.iter().all(|id| !removed.contains(&id.as_str())),
        "the old occurrences are never mentioned"
    );
    assert!(
        removed.contains(&doomed.as_str()),
        "the series master's removal"
    );
    assert!(
        items.iter().all(|e| e["seriesMasterId"] != doomed.as_str()),
        "nothing of the deleted series' occurrences"
    );
    let single_entries: Vec<bool> = items
        .iter()
        .filter(|e| e["id"] == single.as_str())
        .map(|e| e.get("@removed").is_some())
        .collect();
    assert_eq!(single_entries, [true, false], "removed, then there again");
    assert!(
        items
            .iter()
            .any(|e| e["id"] == moving.as_str() && e["type"] == "seriesMaster")
    );

    // Changed twice since the last round: sent twice.
    {
        let mut s = sim.sim.lock();
        for subject in ["Einmal", "Zweimal"] {
            s.update_event(
                &single,
                EventPatch {
                    subject: Some(subject.into()),
                    ..Default::default()
                },
            )
            .expect("rename");
        }
    }
    let (items, _) = delta_round(at, &link, 1000).await;
    let subjects: Vec<&str> = items
        .iter()
        .filter(|e| e["id"] == single.as_str())
        .filter_map(|e| e["subject"].as_str())
        .collect();
    assert_eq!(subjects, ["Zweimal", "Zweimal"]);
    sim.stop().await;
}

#[tokio::test]
async fn delta_sequences_after_each_kind_of_change() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at");
    let (start, end) = window();
    let room = "raum.muenchen@contoso.example";
    let url = format!(
        "{}/v1.0/users/{room}/calendarView/delta?startDateTime={start}&endDateTime={end}",
        sim.url
    );
    let (initial, link) = delta_round(at, &url, 25).await;
    let truth = sim
        .sim
        .truth(
            room,
            json_instant(&start),
            json_instant(&end),
            IdForm::Immutable,
        )
        .expect("truth");
    let ids: BTreeSet<String> = initial
        .iter()
        .filter(|e| e["type"] != "seriesMaster")
        .map(|e| e["id"].as_str().unwrap_or("").to_string())
        .collect();
    let truth_ids: BTreeSet<String> = truth
        .iter()
        .map(|e| e["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids, truth_ids, "the initial round is the whole window");
    // Series masters come in the pages too, each once (microsoft-graph-docs #3196).
    let series: BTreeSet<&str> = initial
        .iter()
        .filter_map(|e| e["seriesMasterId"].as_str())
        .collect();
    let masters: Vec<&str> = initial
        .iter()
        .filter(|e| e["type"] == "seriesMaster")
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(masters.iter().copied().collect::<BTreeSet<_>>(), series);
    assert_eq!(masters.len(), series.len(), "each master once");
    // Occurrences arrive minimal; the master has the rest.
    let occ = initial
        .iter()
        .find(|e| e["type"] == "occurrence")
        .expect("an occurrence");
    assert_shape(&fixture("graph/delta-occurrence.json"), occ, "occurrence");
    assert!(occ.get("subject").is_none());
    let master_id = occ["seriesMasterId"].as_str().expect("master");
    let (s, _, master) = graph(
        &sim,
        at,
        &format!("/users/{room}/events/{master_id}"),
        &[("Prefer", "IdType=\"ImmutableId\"")],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(master["type"], "seriesMaster");
    assert!(master["recurrence"]["pattern"]["type"].is_string());
    let single = initial
        .iter()
        .find(|e| e["type"] == "singleInstance")
        .expect("single");
    assert_shape(&fixture("graph/event.json"), single, "delta single");

    // Nothing changed: an empty round.
    let (items, link) = delta_round(at, &link, 25).await;
    assert!(items.is_empty(), "{items:?}");

    // Each kind of change.
    let (created, updated, deleted, cancelled_occ, moved_occ, moved_out) = {
        let mut s = sim.sim.lock();
        let created = s
            .create_event(NewEvent {
                calendar: room.into(),
                subject: "Neu".into(),
                body: String::new(),
                start: naive(3, 9),
                end: naive(3, 10),
                time_zone: "W. Europe Standard Time".into(),
                is_all_day: false,
                sensitivity: "normal".into(),
                organizer: Some("anna.schmidt@contoso.example".into()),
                attendees: vec![],
                location: None,
                recurrence: None,
                categories: vec![],
            })
            .expect("create");
        let singles: Vec<String> = initial
            .iter()
            .filter(|e| e["type"] == "singleInstance")
            .filter_map(|e| e["id"].as_str().map(String::from))
            .collect();
        s.update_event(
            &singles[0],
            EventPatch {
                subject: Some("Geändert".into()),
                ..Default::default()
            },
        )
        .expect("update");
        s.delete_event(&singles[1]).expect("delete");
        s.update_event(
            &singles[2],
            EventPatch {
                start: Some(naive(500, 9)),
                end: Some(naive(500, 10)),
                ..Default::default()
            },
        )
        .expect("move out");
        let occs: Vec<String> = initial
            .iter()
            .filter(|e| e["type"] == "occurrence")
            .filter_map(|e| e["id"].as_str().map(String::from))
            .collect();
        s.delete_event(&occs[0]).expect("cancel occurrence");
        let moved = occs
            .iter()
            .find(|o| *o != &occs[0])
            .expect("another occurrence")
            .clone();
        s.update_event(
            &moved,
            EventPatch {
                subject: Some("Ausnahme".into()),
                ..Default::default()
            },
        )
        .expect("exception");
        (
            created,
            singles[0].clone(),
            singles[1].clone(),
            occs[0].clone(),
            moved,
            singles[2].clone(),
        )
    };
    let (items, link) = delta_round(at, &link, 2).await;
    let by_id: BTreeMap<String, &Value> = items
        .iter()
        .map(|e| (e["id"].as_str().unwrap_or("").to_string(), e))
        .collect();
    assert_eq!(by_id[&created]["subject"], "Neu");
    assert_eq!(by_id[&updated]["subject"], "Geändert");
    for gone in [&deleted, &moved_out] {
        assert_eq!(by_id[gone]["@removed"]["reason"], "deleted", "{gone}");
        assert_shape(&fixture("graph/delta-removed.json"), by_id[gone], "removed");
    }
    assert_eq!(by_id[&moved_occ]["type"], "exception");
    assert_eq!(by_id[&moved_occ]["subject"], "Ausnahme");
    // The cancelled occurrence gets no `@removed` (microsoft-graph-docs PR #4501): its master
    // and the series' remaining occurrences come instead.
    assert!(!by_id.contains_key(&cancelled_occ), "no trace of it");
    let master = initial
        .iter()
        .find(|e| e["id"] == cancelled_occ.as_str())
        .and_then(|e| e["seriesMasterId"].as_str())
        .expect("master");
    assert_eq!(by_id[master]["type"], "seriesMaster");
    let remaining: BTreeSet<String> = sim
        .sim
        .truth(
            room,
            json_instant(&start),
            json_instant(&end),
            IdForm::Immutable,
        )
        .expect("truth")
        .iter()
        .filter(|e| e["seriesMasterId"] == master)
        .filter_map(|e| e["id"].as_str().map(String::from))
        .collect();
    assert!(remaining.iter().all(|id| by_id.contains_key(id)));
    assert!(
        items.iter().all(|e| e.get("@removed").is_none()
            || [&deleted, &moved_out].contains(&&e["id"].as_str().unwrap_or("").to_string())),
        "no other removals: {items:#?}"
    );

    // A change outside the window comes as a removal of an id the client never saw.
    let outside = sim
        .sim
        .lock()
        .create_event(NewEvent {
            calendar: room.into(),
            subject: "Far".into(),
            body: String::new(),
            start: naive(700, 9),
            end: naive(700, 10),
            time_zone: "UTC".into(),
            is_all_day: false,
            sensitivity: "normal".into(),
            organizer: None,
            attendees: vec![],
            location: None,
            recurrence: None,
            categories: vec![],
        })
        .expect("far");
    let (items, link) = delta_round(at, &link, 10).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], outside.as_str());
    assert!(items[0]["@removed"].is_object());

    // Replays: with replay on, the previous round's changes come again.
    sim.sim.lock().replay_delta = true;
    let (items, _) = delta_round(at, &link, 10).await;
    assert_eq!(items.len(), 1, "the previous change replayed");

    // Graph keeps a few generations of sync state per calendar: once three newer rounds have
    // ended, a token is evicted and answers as observed (microsoft-graph-docs #2350): 410,
    // `SyncStateNotFound`, the generation asked for and those kept.
    let mut newer = link.clone();
    for _ in 0..3 {
        newer = delta_round(at, &newer, 10).await.1;
    }
    let (s, _, body) = get_url(at, &link, &[]).await;
    assert_graph_error(s, &body, StatusCode::GONE, "SyncStateNotFound");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("The sync state generation is not found; generation=")
            && message.contains("[highest=")
            && message.matches("][").count() >= 2,
        "{message}"
    );
    let (s, _, body) = get_url(at, &newer, &[]).await;
    assert_eq!(s, StatusCode::OK, "the newest is kept: {body}");

    // An expired token answers the same way.
    sim.sim.lock().expire_delta_tokens(None);
    let (s, _, body) = get_url(at, &newer, &[]).await;
    assert_graph_error(s, &body, StatusCode::GONE, "SyncStateNotFound");
    sim.stop().await;
}

#[tokio::test]
async fn room_calendar_processing_rewrites_delivered_meetings() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at");
    let (start, end) = window();
    // The anonymizing room: subjects are the organizers' names.
    let hamburg = sim
        .sim
        .truth(
            "raum.hamburg@contoso.example",
            json_instant(&start),
            json_instant(&end),
            IdForm::Rest,
        )
        .expect("truth");
    assert!(
        hamburg
            .iter()
            .filter(|e| e["type"] == "singleInstance")
            .all(|e| e["subject"] == e["organizer"]["emailAddress"]["name"])
    );
    let room = "raum.berlin@contoso.example";
    let new = |subject: &str| NewEvent {
        calendar: room.into(),
        subject: subject.into(),
        body: "Details".into(),
        start: naive(2, 10),
        end: naive(2, 11),
        time_zone: "W. Europe Standard Time".into(),
        is_all_day: false,
        sensitivity: "private".into(),
        organizer: Some("anna.schmidt@contoso.example".into()),
        attendees: vec![],
        location: None,
        recurrence: None,
        categories: vec![],
    };
    let plain = sim.sim.lock().create_event(new("Vertrag")).expect("create");
    sim.sim
        .lock()
        .set_room_policy(
            room,
            RoomPolicy {
                add_organizer_to_subject: true,
                delete_subject: true,
                delete_comments: true,
                remove_private_property: true,
                ..RoomPolicy::default()
            },
        )
        .expect("policy");
    let rewritten = sim.sim.lock().create_event(new("Vertrag")).expect("create");
    // A private item opens by id only for a reader allowed to view private items.
    let immutable = [("Prefer", "IdType=\"ImmutableId\"")];
    let (s, _, denied) = graph(
        &sim,
        at,
        &format!("/users/{room}/events/{plain}"),
        &immutable,
    )
    .await;
    assert_graph_error(s, &denied, StatusCode::NOT_FOUND, "ErrorItemNotFound");
    sim.sim
        .lock()
        .set_private_access(DEFAULT_ACCOUNT, room, true)
        .expect("private access");
    let (_, _, a) = graph(
        &sim,
        at,
        &format!("/users/{room}/events/{plain}"),
        &immutable,
    )
    .await;
    let (_, _, b) = graph(
        &sim,
        at,
        &format!("/users/{room}/events/{rewritten}"),
        &immutable,
    )
    .await;
    assert_eq!(a["subject"], "Vertrag");
    assert_eq!(a["sensitivity"], "private");
    assert_eq!(b["subject"], "Anna Schmidt");
    assert_eq!(b["bodyPreview"], "");
    assert_eq!(b["sensitivity"], "normal");
    // Switched off again, an update from the organizer restores the subject.
    sim.sim
        .lock()
        .set_room_policy(room, RoomPolicy::default())
        .expect("policy");
    sim.sim
        .lock()
        .update_event(
            &rewritten,
            EventPatch {
                subject: Some("Vertrag".into()),
                ..Default::default()
            },
        )
        .expect("update");
    let (_, _, c) = graph(
        &sim,
        at,
        &format!("/users/{room}/events/{rewritten}"),
        &immutable,
    )
    .await;
    assert_eq!(c["subject"], "Vertrag");
    sim.stop().await;
}

#[tokio::test]
async fn mailbox_concurrency_faults_and_counters() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at").to_string();
    let (start, end) = window();
    let path = format!(
        "/users/raum.berlin@contoso.example/calendarView?startDateTime={start}&endDateTime={end}&$top=1"
    );
    sim.sim.lock().config.latency = std::time::Duration::from_millis(400);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (url, at) = (format!("{}/v1.0{path}", sim.url), at.clone());
        tasks.push(tokio::spawn(async move { get_url(&at, &url, &[]).await }));
    }
    let mut throttled = 0;
    for task in tasks {
        let (s, h, b) = task.await.expect("task");
        if s == StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
            assert_eq!(b["error"]["code"], "ApplicationThrottled");
            assert!(
                b["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("MailboxConcurrency")
            );
            assert!(h.contains_key("retry-after"));
        }
    }
    assert_eq!(throttled, 2, "the fifth and sixth concurrent requests");
    assert_eq!(sim.sim.lock().counters.max_concurrent_per_mailbox, 4);
    sim.sim.lock().config.latency = std::time::Duration::ZERO;

    // The next two requests get 429 with Retry-After, then service resumes.
    sim.sim.lock().faults.push(FaultRule {
        kind: FaultKind::Throttle { retry_after: 7 },
        rate: 0.0,
        next: Some(2),
        path_contains: Some("calendarView".into()),
    });
    for _ in 0..2 {
        let (s, h, b) = graph(&sim, &at, &path, &[]).await;
        assert_graph_error(s, &b, StatusCode::TOO_MANY_REQUESTS, "TooManyRequests");
        assert_shape(&fixture("graph/throttled.json"), &b, "429");
        assert_eq!(
            h.get("retry-after").and_then(|v| v.to_str().ok()),
            Some("7")
        );
    }
    assert_eq!(graph(&sim, &at, &path, &[]).await.0, StatusCode::OK);
    for (kind, status) in [
        (
            FaultKind::Unavailable {
                retry_after: Some(3),
            },
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (FaultKind::GatewayTimeout, StatusCode::GATEWAY_TIMEOUT),
    ] {
        sim.sim.lock().faults.push(FaultRule {
            kind,
            rate: 0.0,
            next: Some(1),
            path_contains: None,
        });
        assert_eq!(graph(&sim, &at, &path, &[]).await.0, status);
    }
    // A dropped connection is an error at the client, not a response.
    sim.sim.lock().faults.push(FaultRule {
        kind: FaultKind::Drop,
        rate: 0.0,
        next: Some(1),
        path_contains: None,
    });
    let r = http()
        .get(format!("{}/v1.0{path}", sim.url))
        .bearer_auth(&at)
        .send()
        .await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "the body breaks off");
    // The token endpoint can be made unavailable too.
    sim.sim.lock().faults.push(FaultRule {
        kind: FaultKind::Unavailable { retry_after: None },
        rate: 0.0,
        next: Some(1),
        path_contains: Some("/token".into()),
    });
    let (s, body) = refresh(&sim, t["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("temporarily_unavailable")
        )
    );

    let counters = sim.sim.lock().counters.clone();
    // Six concurrent and one plain request reached the mailbox; injected faults stop earlier
    // and count in the totals only.
    assert_eq!(
        counters.by_mailbox.get("raum.berlin@contoso.example"),
        Some(&7)
    );
    assert!(counters.total >= 12);
    assert!(
        counters
            .by_path
            .keys()
            .any(|p| p.ends_with("/calendarView"))
    );
    assert!(counters.token_requests >= 2);
    sim.stop().await;
}

#[tokio::test]
async fn control_api_over_http() {
    let sim = start().await;
    let client = http();
    let state: Value = client
        .get(format!("{}/_sim/state", sim.url))
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    assert_eq!(state["domain"], "contoso.example");
    assert_eq!(state["apps"][0]["clientId"], DEFAULT_CLIENT_ID);
    let r = client
        .post(format!("{}/_sim/events", sim.url))
        .json(&json!({
            "calendar": "raum.berlin@contoso.example", "subject": "Per HTTP",
            "start": naive(1, 9), "end": naive(1, 10), "timeZone": "W. Europe Standard Time",
        }))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let r = client
        .patch(format!("{}/_sim/events/{id}", sim.url))
        .json(&json!({ "subject": "Geändert" }))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let bad = client
        .patch(format!("{}/_sim/events/nope", sim.url))
        .json(&json!({ "subject": "x" }))
        .send()
        .await
        .expect("patch");
    assert_eq!(bad.status(), StatusCode::NOT_FOUND);
    let (start, end) = window();
    let truth: Value = client
        .get(format!(
            "{}/_sim/truth?calendar=raum.berlin@contoso.example&start={start}&end={end}",
            sim.url
        ))
        .send()
        .await
        .expect("truth")
        .json()
        .await
        .expect("json");
    assert!(
        truth["value"]
            .as_array()
            .expect("value")
            .iter()
            .any(|e| e["subject"] == "Geändert")
    );
    let r = client
        .post(format!("{}/_sim/faults", sim.url))
        .json(&json!({ "kind": "throttle", "retryAfter": 2, "next": 1 }))
        .send()
        .await
        .expect("fault");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.sim.lock().faults.len(), 1);
    let r = client
        .post(format!("{}/_sim/settings", sim.url))
        .json(&json!({ "mailboxConcurrency": null, "latencyMs": 5 }))
        .send()
        .await
        .expect("settings");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.sim.lock().config.mailbox_concurrency, None);
    sim.stop().await;
}

/// REST ids change when an item moves; immutable ids (`Prefer: IdType="ImmutableId"`) do not
/// (documented: "Obtain immutable identifiers for Outlook resources"); `translateExchangeIds`
/// maps one form to the other.
#[tokio::test]
async fn immutable_ids_survive_moves_and_translate() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at");
    let (start, end) = window();
    let room = "raum.muenchen@contoso.example";
    let url = format!(
        "{}/v1.0/users/{room}/calendarView/delta?startDateTime={start}&endDateTime={end}",
        sim.url
    );
    let (rest, rest_link) = delta_round_as(at, &url, 50, false).await;
    let (immutable, imm_link) = delta_round_as(at, &url, 50, true).await;
    let ids = |items: &[Value]| -> BTreeSet<String> {
        items
            .iter()
            .map(|e| e["id"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let (rest_ids, imm_ids) = (ids(&rest), ids(&immutable));
    assert_eq!(rest_ids.len(), imm_ids.len());
    assert!(rest_ids.is_disjoint(&imm_ids), "the two forms differ");
    let single = immutable
        .iter()
        .find(|e| e["type"] == "singleInstance")
        .expect("a single event");
    let key = single["id"].as_str().expect("id").to_string();

    // By id: each form opens with its own header only.
    let imm_header = [("Prefer", "IdType=\"ImmutableId\"")];
    let (s, _, b) = graph(
        &sim,
        at,
        &format!("/users/{room}/events/{key}"),
        &imm_header,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _, b) = graph(&sim, at, &format!("/users/{room}/events/{key}"), &[]).await;
    assert_graph_error(s, &b, StatusCode::NOT_FOUND, "ErrorItemNotFound");

    // translateExchangeIds: REST to immutable and back, per id, errors per id.
    let old_rest = rest
        .iter()
        .find(|e| e["subject"] == single["subject"] && e["start"] == single["start"])
        .and_then(|e| e["id"].as_str())
        .expect("the same item under its REST id")
        .to_string();
    let translate = |body: Value| {
        let url = format!("{}/v1.0/users/{room}/translateExchangeIds", sim.url);
        async move {
            let r = http()
                .post(url)
                .bearer_auth(at)
                .json(&body)
                .send()
                .await
                .expect("post");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, b) = translate(json!({
        "inputIds": [old_rest, "AAMkbm90aGluZw="],
        "sourceIdType": "restId", "targetIdType": "restImmutableEntryId",
    }))
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["value"][0]["sourceId"], old_rest.as_str());
    assert_eq!(b["value"][0]["targetId"], key.as_str());
    assert!(b["value"][1]["targetId"].is_null());
    assert!(b["value"][1]["errorDetails"]["code"].is_string());
    let (s, b) = translate(json!({
        "inputIds": vec!["x"; 1001], "sourceIdType": "restId", "targetIdType": "restImmutableEntryId",
    }))
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, _, _) = graph(
        &sim,
        at,
        &format!("/users/{room}/translateExchangeIds"),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);

    // Out of the calendar and back (Deleted Items and restore): under REST ids the old id is
    // removed and the item comes back under a new one; the immutable id is only updated.
    let r = http()
        .post(format!("{}/_sim/events/{key}/move", sim.url))
        .json(&json!({}))
        .send()
        .await
        .expect("move");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (rest_delta, _) = delta_round_as(at, &rest_link, 50, false).await;
    assert!(
        rest_delta
            .iter()
            .any(|e| e["id"] == old_rest.as_str() && e["@removed"].is_object()),
        "{rest_delta:?}"
    );
    assert!(rest_delta.iter().any(|e| e["subject"] == single["subject"]
        && e["id"] != old_rest.as_str()
        && e["@removed"].is_null()));
    let (imm_delta, _) = delta_round_as(at, &imm_link, 50, true).await;
    let same: Vec<&Value> = imm_delta
        .iter()
        .filter(|e| e["id"] == key.as_str())
        .collect();
    assert_eq!(same.len(), 1, "{imm_delta:?}");
    assert!(same[0]["@removed"].is_null());
    assert!(imm_delta.iter().all(|e| e["@removed"].is_null()));
    sim.stop().await;
}

/// `events/{id}/instances` (documented: "List instances"): a master's occurrences in a window,
/// each with its own iCalUId ("different for each occurrence in a recurring series", event
/// resource), `$select` honoured; the window is required.
#[tokio::test]
async fn series_instances_have_their_own_ical_uid() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at");
    let (start, end) = window();
    let room = "raum.muenchen@contoso.example";
    let url = format!(
        "{}/v1.0/users/{room}/calendarView/delta?startDateTime={start}&endDateTime={end}",
        sim.url
    );
    let (items, _) = delta_round(at, &url, 100).await;
    let occ = items
        .iter()
        .find(|e| e["type"] == "occurrence")
        .expect("an occurrence");
    assert!(occ.get("iCalUId").is_none(), "delta leaves it out");
    let master_id = occ["seriesMasterId"].as_str().expect("master");
    let imm = [("Prefer", "IdType=\"ImmutableId\"")];
    let (_, _, master) = graph(&sim, at, &format!("/users/{room}/events/{master_id}"), &imm).await;
    let path = format!(
        "/users/{room}/events/{master_id}/instances?startDateTime={start}&endDateTime={end}&$select=iCalUId&$top=1000"
    );
    let (s, _, b) = graph(&sim, at, &path, &imm).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let list = b["value"].as_array().expect("value");
    assert!(list.len() > 1);
    let uids: BTreeSet<&str> = list.iter().filter_map(|i| i["iCalUId"].as_str()).collect();
    assert_eq!(uids.len(), list.len(), "one iCalUId per occurrence");
    assert!(!uids.contains(master["iCalUId"].as_str().expect("master uid")));
    assert!(list.iter().all(|i| i.get("subject").is_none()), "$select");
    assert!(list.iter().any(|i| i["id"] == occ["id"]));
    let (s, _, b) = graph(
        &sim,
        at,
        &format!("/users/{room}/events/{master_id}/instances"),
        &imm,
    )
    .await;
    assert_graph_error(s, &b, StatusCode::BAD_REQUEST, "ErrorInvalidParameter");
    sim.stop().await;
}

/// A personal Microsoft account: its ID token names the consumers tenant (observed id); the
/// tenant's directory neither lists nor finds it, and the directory and places are not
/// available to it (documented "Not supported"; the `/users` answer observed in
/// microsoft-graph-docs-contrib #7212); its own calendar works.
#[tokio::test]
async fn personal_accounts_have_no_directory() {
    let sim = start().await;
    let work = tokens(&sim).await;
    let work_at = work["access_token"].as_str().expect("at").to_string();
    sim.sim.lock().auto_login = Some(datapump_sim::seed::PERSONAL_ACCOUNT.into());
    let p = pkce();
    let r = http()
        .get(authorize_url(&sim, &p, "s", &[]))
        .send()
        .await
        .expect("authorize");
    let location = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let code = query_of(&location)["code"].clone();
    let (status, body) = redeem(&sim, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id_token = body["id_token"].as_str().expect("id token");
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).expect("payload"))
            .expect("base64"),
    )
    .expect("claims");
    assert_eq!(claims["tid"], "9188040d-6c67-4c5b-b112-36a304b66dad");
    let at = body["access_token"].as_str().expect("at");
    for path in [
        "/users?$top=5",
        "/users/raum.berlin@contoso.example/calendar",
        "/places/microsoft.graph.room",
    ] {
        let (s, _, b) = graph(&sim, at, path, &[("ConsistencyLevel", "eventual")]).await;
        assert_graph_error(s, &b, StatusCode::BAD_REQUEST, "BadRequest");
    }
    let (s, _, me) = graph(&sim, at, "/me/calendar", &[]).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    // The tenant's directory does not contain it.
    let (_, _, list) = graph(
        &sim,
        &work_at,
        "/users?$search=\"displayName:Lena\"",
        &[("ConsistencyLevel", "eventual")],
    )
    .await;
    assert!(
        list["value"].as_array().is_some_and(|v| v
            .iter()
            .all(|u| u["userPrincipalName"] != datapump_sim::seed::PERSONAL_ACCOUNT)),
        "{list}"
    );
    let (s, _, _) = graph(
        &sim,
        &work_at,
        &format!("/users/{}", datapump_sim::seed::PERSONAL_ACCOUNT),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    sim.stop().await;
}

/// v1.0 documents `calendarView/delta` on a user's primary calendar only (the stricter reading,
/// docs/graph-behaviours.md): on another calendar it is refused, `calendarView` answers
/// (`$count=true` ignored); an item of a calendar shared with the account is reached through
/// that calendar, not `/me/events`.
#[tokio::test]
async fn delta_only_on_the_primary_calendar() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let at = t["access_token"].as_str().expect("at");
    let (s, _, cals) = graph(&sim, at, "/me/calendars", &[]).await;
    assert_eq!(s, StatusCode::OK);
    let list = cals["value"].as_array().cloned().unwrap_or_default();
    let id_of = |default: bool| {
        list.iter()
            .find(|c| c["isDefaultCalendar"] == default && c["canEdit"] == true)
            .or_else(|| list.iter().find(|c| c["isDefaultCalendar"] == default))
            .and_then(|c| c["id"].as_str())
            .expect("calendar")
            .to_string()
    };
    let (primary, other) = (id_of(true), id_of(false));
    let (start, end) = window();
    let path = |id: &str, delta: &str| {
        format!(
            "/me/calendars/{id}/calendarView{delta}?startDateTime={start}&endDateTime={end}&$count=true"
        )
    };
    let (s, _, body) = graph(&sim, at, &path(&other, "/delta"), &[]).await;
    assert_graph_error(s, &body, StatusCode::BAD_REQUEST, "BadRequest");
    let (s, _, _) = graph(&sim, at, &path(&primary, "/delta"), &[]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, body) = graph(&sim, at, &path(&other, ""), &[]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body["value"].as_array().is_some_and(|v| !v.is_empty()));
    // `$count` is accepted and not answered: undocumented for calendarView (the stricter case).
    assert!(body.get("@odata.count").is_none(), "{body}");
    sim.stop().await;
}

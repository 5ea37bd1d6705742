//! Microsoft identity platform v2.0: discovery, the authorize endpoint (sign-in and consent
//! pages) and the token endpoint, with Entra's error shapes and AADSTS codes.

use std::collections::{BTreeSet, HashMap};

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration};
use serde_json::{Value, json};
use sha2::Digest;

use super::Sim;
use super::json::{GRAPH_RESOURCE, aad_error, no_store};
use super::model::{TENANT_DOMAIN, TENANT_ID};
use super::state::{AccessToken, AuthCode, KNOWN_SCOPES, PendingAuth, RefreshToken, SimState};

const GRAPH_PREFIXES: &[&str] = &[
    "https://graph.microsoft.com/",
    "https://graph.microsoft.us/",
    "https://dod-graph.microsoft.us/",
    "https://microsoftgraph.chinacloudapi.cn/",
];
const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];
const CONSUMERS_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// Permissions users cannot consent to themselves.
const ADMIN_ONLY: &[&str] = &["Place.Read.All", "User.Read.All"];

fn known_tenant(t: &str) -> bool {
    [
        "common",
        "organizations",
        "consumers",
        TENANT_ID,
        TENANT_DOMAIN,
        CONSUMERS_TENANT,
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(t))
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// Scope names without the Graph resource prefix; `Err` names the first unknown one.
fn parse_scopes(raw: &str) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    for s in raw.split_whitespace() {
        let short = GRAPH_PREFIXES
            .iter()
            .find_map(|p| s.strip_prefix(p))
            .unwrap_or(s);
        match KNOWN_SCOPES.iter().find(|k| k.eq_ignore_ascii_case(short)) {
            Some(k) => {
                out.insert(k.to_string());
            }
            None if short == ".default" => {}
            None => return Err(s.to_string()),
        }
    }
    Ok(out)
}

fn resource_scopes(scopes: &BTreeSet<String>) -> BTreeSet<String> {
    scopes
        .iter()
        .filter(|s| !OIDC_SCOPES.contains(&s.as_str()))
        .cloned()
        .collect()
}

pub(crate) fn random(prefix: &str, bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

#[derive(Template)]
#[template(path = "sim/message.html")]
struct MessagePage {
    heading: String,
    code: String,
    message: String,
    request_id: String,
    correlation_id: String,
    timestamp: String,
}

/// An error shown on the login host's own page: nothing is sent to the app.
fn error_page(status: StatusCode, code: u32, message: &str) -> Response {
    let page = MessagePage {
        heading: "Sorry, but we’re having trouble signing you in.".into(),
        code: format!("AADSTS{code}"),
        message: message.into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        timestamp: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, format!("AADSTS{code}: {message}")).into_response(),
    }
}

fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let mut url = match url::Url::parse(base) {
        Ok(u) => u,
        Err(_) => return base.to_string(),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// An error sent back to the app's redirect URI.
fn redirect_error(
    redirect_uri: &str,
    error: &str,
    code: u32,
    text: &str,
    state: Option<&str>,
) -> Response {
    let description = format!(
        "AADSTS{code}: {text}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ")
    );
    let uri = format!("https://login.microsoftonline.com/error?code={code}");
    let mut params = vec![
        ("error", error),
        ("error_description", description.as_str()),
        ("error_uri", uri.as_str()),
    ];
    if let Some(s) = state {
        params.push(("state", s));
    }
    Redirect::to(&with_query(redirect_uri, &params)).into_response()
}

pub async fn openid_configuration(Path(tenant): Path<String>, headers: HeaderMap) -> Response {
    if !known_tenant(&tenant) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
            None,
        );
    }
    let base = base_url(&headers);
    let issuer_tenant =
        if tenant.eq_ignore_ascii_case("common") || tenant.eq_ignore_ascii_case("organizations") {
            "{tenantid}".to_string()
        } else {
            TENANT_ID.to_string()
        };
    axum::Json(json!({
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{issuer_tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{tenant}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
    .into_response()
}

#[derive(Template)]
#[template(path = "sim/signin.html")]
struct SignInPage {
    app_name: String,
    action: String,
    ctx: String,
    username: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "sim/consent.html")]
struct ConsentPage {
    app_name: String,
    action: String,
    ctx: String,
    username: String,
    permissions: Vec<String>,
}

fn describe(scope: &str) -> &'static str {
    match scope {
        "offline_access" => "Maintain access to data you have given it access to",
        "User.ReadBasic.All" => "Read all users' basic profiles",
        "User.Read" => "Sign you in and read your profile",
        "Calendars.Read.Shared" => "Read user and shared calendars",
        "Calendars.Read" => "Read your calendars",
        "Place.Read.All" => "Read all company places",
        "openid" => "Sign you in",
        "profile" => "View your basic profile",
        "email" => "View your email address",
        _ => "Access your data",
    }
}

fn render(page: impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Issues a code for a completed sign-in and redirects to the app.
fn complete(s: &mut SimState, pending: &PendingAuth, user_id: &str) -> Response {
    let code = random("1.AVEA", 96);
    // Consent is additive: the code (and so the token) carries every permission consented for
    // the app so far, whatever the request named. Observed and confirmed with Microsoft's
    // product team in Microsoft Q&A 78683 ("additive scopes"; also Q&A 43462: "If already
    // consented they may be included in the token response regardless of the requested
    // scope"). Refresh grants keep the scopes of their code (stricter: a permission consented
    // later needs a new authorization here).
    let mut scopes = pending.scopes.clone();
    if let Some(app) = s.apps.get(&pending.client_id) {
        scopes.extend(app.consented(user_id));
    }
    s.codes.insert(
        code.clone(),
        AuthCode {
            client_id: pending.client_id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            user_id: user_id.to_string(),
            scopes,
            challenge: pending.challenge.clone(),
            nonce: pending.nonce.clone(),
            expires: s.now() + Duration::minutes(10),
            redeemed: false,
        },
    );
    let session_state = uuid::Uuid::new_v4().to_string();
    let mut params = vec![("code", code.as_str())];
    if let Some(st) = &pending.state {
        params.push(("state", st.as_str()));
    }
    params.push(("session_state", session_state.as_str()));
    Redirect::to(&with_query(&pending.redirect_uri, &params)).into_response()
}

fn needs_consent(s: &SimState, pending: &PendingAuth, user_id: &str) -> Vec<String> {
    let Some(app) = s.apps.get(&pending.client_id) else {
        return Vec::new();
    };
    let consented = app.consented(user_id);
    pending
        .scopes
        .iter()
        .filter(|sc| {
            !consented.contains(*sc) && !["openid", "profile", "email"].contains(&sc.as_str())
        })
        .cloned()
        .collect()
}

/// After sign-in: consent page, admin-approval page, or straight back to the app.
fn after_sign_in(
    s: &mut SimState,
    ctx: &str,
    pending: PendingAuth,
    user_id: String,
    action: &str,
    auto: bool,
) -> Response {
    let missing = needs_consent(s, &pending, &user_id);
    if missing.is_empty() {
        s.pending.remove(ctx);
        return complete(s, &pending, &user_id);
    }
    if let Some(admin_only) = missing.iter().find(|m| ADMIN_ONLY.contains(&m.as_str())) {
        s.pending.remove(ctx);
        return error_page(
            StatusCode::OK,
            90094,
            &format!(
                "Need admin approval: the app needs permission '{admin_only}' that only an admin can grant. Ask an admin to grant permission to this app before you can use it."
            ),
        );
    }
    if auto && s.config.auto_consent {
        if let Some(app) = s.apps.get_mut(&pending.client_id) {
            app.user_consents
                .entry(user_id.clone())
                .or_default()
                .extend(missing);
        }
        s.pending.remove(ctx);
        return complete(s, &pending, &user_id);
    }
    let app_name = s
        .apps
        .get(&pending.client_id)
        .map(|a| a.display_name.clone())
        .unwrap_or_default();
    let username = s.user(&user_id).map(|u| u.upn.clone()).unwrap_or_default();
    let mut p = pending;
    p.user_id = Some(user_id);
    let permissions = p.scopes.iter().map(|sc| describe(sc).to_string()).collect();
    s.pending.insert(ctx.to_string(), p);
    render(ConsentPage {
        app_name,
        action: action.to_string(),
        ctx: ctx.to_string(),
        username,
        permissions,
    })
}

pub async fn authorize(
    State(sim): State<Sim>,
    Path(tenant): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !known_tenant(&tenant) {
        return error_page(
            StatusCode::BAD_REQUEST,
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let mut s = sim.lock();
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    let Some(app) = s.apps.get(&client_id).cloned() else {
        return error_page(
            StatusCode::BAD_REQUEST,
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{TENANT_DOMAIN}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        );
    };
    let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
    if !app.redirect_uris.iter().any(|r| r == &redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            50011,
            &format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this."
            ),
        );
    }
    let state = q.get("state").cloned();
    if q.get("response_type").map(String::as_str) != Some("code") {
        return redirect_error(
            &redirect_uri,
            "unsupported_response_type",
            70005,
            "The provided value for the input parameter 'response_type' is not allowed for this request. Expected value: 'code'.",
            state.as_deref(),
        );
    }
    let Some(raw_scope) = q.get("scope").filter(|s| !s.trim().is_empty()) else {
        return redirect_error(
            &redirect_uri,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
            state.as_deref(),
        );
    };
    let scopes = match parse_scopes(raw_scope) {
        Ok(s) => s,
        Err(bad) => {
            return redirect_error(
                &redirect_uri,
                "invalid_client",
                650053,
                &format!(
                    "The application '{}' asked for scope '{bad}' that doesn't exist on the resource '{GRAPH_RESOURCE}'. Contact the app vendor.",
                    app.display_name
                ),
                state.as_deref(),
            );
        }
    };
    let challenge = match (
        q.get("code_challenge"),
        q.get("code_challenge_method").map(String::as_str),
    ) {
        (None, _) => None,
        (Some(c), None | Some("plain")) => Some((c.clone(), "plain".to_string())),
        (Some(c), Some("S256")) => Some((c.clone(), "S256".to_string())),
        (Some(_), Some(other)) => {
            return redirect_error(
                &redirect_uri,
                "invalid_request",
                501491,
                &format!(
                    "Invalid size of Code_Challenge parameter or unsupported Code_Challenge_Method '{other}'."
                ),
                state.as_deref(),
            );
        }
    };
    let pending = PendingAuth {
        client_id,
        redirect_uri: redirect_uri.clone(),
        scopes,
        state: state.clone(),
        challenge,
        login_hint: q.get("login_hint").cloned(),
        nonce: q.get("nonce").cloned(),
        user_id: None,
        created: s.now(),
    };
    let ctx = random("ctx", 24);
    let action = format!("/{tenant}/oauth2/v2.0/authorize");

    // Automatic sign-in (tests, demo): the configured account, or the login hint.
    let auto_user = s
        .auto_login
        .clone()
        .or_else(|| {
            s.config
                .auto_consent
                .then(|| pending.login_hint.clone())
                .flatten()
        })
        .and_then(|u| s.find_user(&u).map(|u| u.id.clone()));
    if q.get("prompt").map(String::as_str) == Some("none") {
        let Some(user_id) = auto_user else {
            return redirect_error(
                &redirect_uri,
                "login_required",
                50058,
                "A silent sign-in request was sent but no user is signed in.",
                state.as_deref(),
            );
        };
        if !needs_consent(&s, &pending, &user_id).is_empty() {
            return redirect_error(
                &redirect_uri,
                "consent_required",
                65001,
                "The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource.",
                state.as_deref(),
            );
        }
        return complete(&mut s, &pending, &user_id);
    }
    if let Some(user_id) = auto_user {
        return after_sign_in(&mut s, &ctx, pending, user_id, &action, true);
    }
    let app_name = app.display_name.clone();
    let username = pending.login_hint.clone().unwrap_or_default();
    s.pending.insert(ctx.clone(), pending);
    render(SignInPage {
        app_name,
        action,
        ctx,
        username,
        error: None,
    })
}

#[derive(serde::Deserialize)]
pub struct AuthorizeForm {
    ctx: String,
    step: String,
    username: Option<String>,
    password: Option<String>,
    accept: Option<String>,
}

pub async fn authorize_post(
    State(sim): State<Sim>,
    Path(tenant): Path<String>,
    Form(form): Form<AuthorizeForm>,
) -> Response {
    let mut s = sim.lock();
    let action = format!("/{tenant}/oauth2/v2.0/authorize");
    let Some(pending) = s.pending.get(&form.ctx).cloned() else {
        return error_page(
            StatusCode::BAD_REQUEST,
            50058,
            "The sign-in session has expired or is unknown. Start again from the application.",
        );
    };
    if s.now() - pending.created > Duration::minutes(30) {
        s.pending.remove(&form.ctx);
        return error_page(
            StatusCode::BAD_REQUEST,
            50058,
            "The sign-in session has expired. Start again from the application.",
        );
    }
    match form.step.as_str() {
        "signin" => {
            let username = form.username.unwrap_or_default();
            let user = s.find_user(&username).cloned();
            let ok = user
                .as_ref()
                .is_some_and(|u| u.password.is_some() && u.password == form.password);
            match (user, ok) {
                (Some(u), true) => after_sign_in(&mut s, &form.ctx, pending, u.id, &action, false),
                (user, _) => {
                    let app_name = s
                        .apps
                        .get(&pending.client_id)
                        .map(|a| a.display_name.clone())
                        .unwrap_or_default();
                    let error = if user.is_none() {
                        "AADSTS50034: We couldn't find an account with that username."
                    } else {
                        "AADSTS50126: Error validating credentials due to invalid username or password."
                    };
                    render(SignInPage {
                        app_name,
                        action,
                        ctx: form.ctx,
                        username,
                        error: Some(error.into()),
                    })
                }
            }
        }
        "consent" => {
            s.pending.remove(&form.ctx);
            let Some(user_id) = pending.user_id.clone() else {
                return error_page(StatusCode::BAD_REQUEST, 50058, "Sign in first.");
            };
            if form.accept.as_deref() == Some("yes") {
                let scopes = pending.scopes.clone();
                if let Some(app) = s.apps.get_mut(&pending.client_id) {
                    app.user_consents
                        .entry(user_id.clone())
                        .or_default()
                        .extend(scopes);
                }
                complete(&mut s, &pending, &user_id)
            } else {
                redirect_error(
                    &pending.redirect_uri,
                    "access_denied",
                    65004,
                    "User declined to consent to access the app.",
                    pending.state.as_deref(),
                )
            }
        }
        _ => error_page(
            StatusCode::BAD_REQUEST,
            9002313,
            "Invalid request. Request is malformed or invalid.",
        ),
    }
}

/// AADSTS900144, as the token endpoint answers a request without a required parameter.
fn missing_parameter(name: &str) -> Response {
    aad_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{name}'."),
        None,
    )
}

fn form_value<'a>(form: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    form.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let raw = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = raw.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

fn sign_id_token(claims: &serde_json::Value) -> String {
    use hmac::{KeyInit, Mac};
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256","kid":"sim-key-1"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"datapump-simulator-signing-key")
    else {
        return signing_input;
    };
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// Issues an access token (and refresh and ID tokens as the scopes allow) in the v2.0 shape.
fn issue(
    s: &mut SimState,
    client_id: &str,
    user_id: &str,
    scopes: &BTreeSet<String>,
    family: Option<(String, chrono::DateTime<chrono::Utc>)>,
    base: &str,
    nonce: Option<&str>,
) -> Response {
    let now = s.now();
    let lifetime = match s.config.access_token_lifetime {
        Some(d) => d.as_secs() as i64,
        None => 3600 + (s.random() * 1800.0) as i64,
    };
    let access = random("EwB4A8l6BAAU", 120);
    let resource = resource_scopes(scopes);
    s.access_tokens.insert(
        access.clone(),
        AccessToken {
            client_id: client_id.to_string(),
            user_id: user_id.to_string(),
            scopes: resource.clone(),
            expires: now + Duration::seconds(lifetime),
        },
    );
    let mut scope_echo: Vec<String> = resource
        .iter()
        .map(|r| format!("https://graph.microsoft.com/{r}"))
        .collect();
    scope_echo.extend(
        scopes
            .iter()
            .filter(|s| ["openid", "profile", "email"].contains(&s.as_str()))
            .cloned(),
    );
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope_echo.join(" "),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    });
    let obj = body.as_object_mut();
    if scopes.contains("offline_access") {
        let rt = random("1.AVEA", 160);
        let (family_id, issued) = family.unwrap_or_else(|| (random("fam", 12), now));
        s.refresh_tokens.insert(
            rt.clone(),
            RefreshToken {
                family: family_id,
                client_id: client_id.to_string(),
                user_id: user_id.to_string(),
                scopes: scopes.clone(),
                family_issued: issued,
                last_used: now,
                replaced_at: None,
            },
        );
        if let Some(o) = obj {
            o.insert("refresh_token".into(), json!(rt));
        }
    }
    if scopes.contains("openid")
        && !s.omit_id_token
        && let Some(u) = s.user(user_id).cloned()
    {
        // A personal account's tenant is the consumers tenant (observed id; graph-protocol
        // §1.5).
        let tid = if u.personal {
            CONSUMERS_TENANT
        } else {
            TENANT_ID
        };
        let claims = json!({
            "aud": client_id, "iss": format!("{base}/{tid}/v2.0"),
            "iat": now.timestamp(), "nbf": now.timestamp(), "exp": now.timestamp() + 3600,
            "name": u.display_name, "oid": u.id, "preferred_username": u.upn,
            "sub": URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(format!("{}{client_id}", u.id))),
            "tid": tid, "ver": "2.0",
        });
        // OpenID Connect Core 3.1.3.6: the nonce of the authorization request, if one was sent.
        let mut claims = claims;
        if let (Some(n), Some(obj)) = (nonce, claims.as_object_mut()) {
            obj.insert("nonce".into(), json!(n));
        }
        if let Some(o) = body.as_object_mut() {
            o.insert("id_token".into(), json!(sign_id_token(&claims)));
        }
    }
    let mut response = axum::Json(body).into_response();
    no_store(response.headers_mut());
    response
}

pub async fn token(
    State(sim): State<Sim>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let base = base_url(&headers);
    let mut s = sim.lock();
    s.counters.token_requests += 1;
    s.count(&format!("/{tenant}/oauth2/v2.0/token"), None);
    if !known_tenant(&tenant) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
            None,
        );
    }
    let basic = basic_auth(&headers);
    let Some(client_id) = form_value(&form, "client_id")
        .map(String::from)
        .or_else(|| basic.as_ref().map(|b| b.0.clone()))
    else {
        return missing_parameter("client_id");
    };
    let Some(app) = s.apps.get(&client_id).cloned() else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{TENANT_DOMAIN}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
            None,
        );
    };
    let assertion = form_value(&form, "client_assertion");
    if let Some(assertion) = assertion {
        let audience = format!("{base}/{tenant}/oauth2/v2.0/token");
        if let Some(refused) = verify_assertion(&mut s, &app, &audience, &form, assertion) {
            return refused;
        }
    }
    let secret = form_value(&form, "client_secret")
        .map(String::from)
        .or_else(|| basic.as_ref().map(|b| b.1.clone()));
    let Some(secret) = secret.or_else(|| assertion.map(|_| String::new())) else {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            None,
        );
    };
    let now = s.now();
    match app.secrets.iter().find(|c| c.value == secret) {
        _ if assertion.is_some() => {}
        None => {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
                None,
            );
        }
        Some(c) if c.expires <= now => {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000222,
                &format!(
                    "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
                ),
                None,
            );
        }
        Some(_) => {}
    }
    match form_value(&form, "grant_type") {
        Some("authorization_code") => redeem_code(&mut s, &client_id, &form, &base),
        Some("refresh_token") => refresh(&mut s, &client_id, &app.display_name, &form, &base),
        Some("client_credentials") => client_credentials(&mut s, &tenant, &app, &form),
        Some(other) => aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
            None,
        ),
        None => missing_parameter("grant_type"),
    }
}

/// Checks a client assertion as Microsoft's "certificate credentials" page describes it: a
/// JWT signed with the key of a certificate registered on the app, PS256 with `x5t#S256` (the
/// current page) or RS256 with `x5t` (the earlier one), `aud` = the token endpoint the request
/// went to, `iss` = `sub` = the client id, within `nbf`..`exp`, each `jti` taken once. The
/// refusal, if any.
fn verify_assertion(
    s: &mut SimState,
    app: &super::state::App,
    audience: &str,
    form: &HashMap<String, String>,
    assertion: &str,
) -> Option<Response> {
    use rsa::signature::Verifier;
    let client_id = &app.client_id;
    let invalid = |code: u32, message: &str| {
        aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            code,
            message,
            None,
        )
    };
    // RFC 7523 §2.2: the type says what the assertion is.
    if form_value(form, "client_assertion_type")
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return Some(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_assertion_type'.",
            None,
        ));
    }
    let parts: Vec<&str> = assertion.split('.').collect();
    let decode = |p: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()
    };
    let (Some(header), Some(claims), Some(signature)) = (
        parts.first().and_then(|p| decode(p)),
        parts.get(1).and_then(|p| decode(p)),
        parts.get(2).and_then(|p| URL_SAFE_NO_PAD.decode(p).ok()),
    ) else {
        // Observed (MSAL.NET #124): "AADSTS50027: Invalid JWT token." for what is no JWT.
        return Some(invalid(50027, "Invalid JWT token. Token format not valid."));
    };
    if parts.len() != 3 {
        return Some(invalid(50027, "Invalid JWT token. Token format not valid."));
    }
    let alg = header["alg"].as_str().unwrap_or_default();
    let (thumbprint, by_sha256) = match (header["x5t#S256"].as_str(), header["x5t"].as_str()) {
        (Some(t), _) => (t, true),
        (None, Some(t)) => (t, false),
        // Observed (MSAL.NET #124): "AADSTS50027: Invalid JWT token. No certificate
        // thumbprint specified in token header."
        (None, None) => {
            return Some(invalid(
                50027,
                "Invalid JWT token. No certificate thumbprint specified in token header.",
            ));
        }
    };
    let thumb = URL_SAFE_NO_PAD.decode(thumbprint).unwrap_or_default();
    let key = app.certificates.iter().find(|k| {
        if by_sha256 {
            k.sha256 == thumb
        } else {
            k.sha1 == thumb
        }
    });
    let shown = hex::encode_upper(&thumb);
    // Observed (AzureAD/microsoft-authentication-library-for-js#3741, azure-sdk-for-net
    // #29007): AADSTS700027 with the reason "The key was not found." and the thumbprint.
    let Some(key) = key else {
        return Some(invalid(
            700027,
            &format!(
                "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{shown}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'.]"
            ),
        ));
    };
    let signed = format!("{}.{}", parts[0], parts[1]);
    let valid = match alg {
        "PS256" => rsa::pss::Signature::try_from(signature.as_slice()).is_ok_and(|sig| {
            rsa::pss::VerifyingKey::<sha2::Sha256>::new(key.public_key.clone())
                .verify(signed.as_bytes(), &sig)
                .is_ok()
        }),
        "RS256" => rsa::pkcs1v15::Signature::try_from(signature.as_slice()).is_ok_and(|sig| {
            rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.public_key.clone())
                .verify(signed.as_bytes(), &sig)
                .is_ok()
        }),
        _ => false,
    };
    // Observed (Azure/azure-sdk-for-java#25109, msgraph-sdk-php#1585): the key found, the
    // signature not matching it.
    if !valid {
        return Some(invalid(
            700027,
            &format!(
                "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '{shown}', Found key 'Start={}, End={}']",
                key.start.format("%m/%d/%Y %H:%M:%S"),
                key.end.format("%m/%d/%Y %H:%M:%S")
            ),
        ));
    }
    let now = s.now();
    // Inferred: the code from AzureAD/microsoft-identity-web#2840 ("Process error
    // AADSTS1000502 - expired certificate"); the wording is ours.
    if key.end <= now || key.start > now {
        return Some(invalid(
            1000502,
            &format!(
                "The certificate used to sign the client assertion is outside its validity period (Start={}, End={}).",
                key.start.format("%m/%d/%Y %H:%M:%S"),
                key.end.format("%m/%d/%Y %H:%M:%S")
            ),
        ));
    }
    // Observed (azure-activedirectory-library-for-python#79): "AADSTS50012: Client assertion
    // audience claim does not match Realm issuer."
    if claims["aud"].as_str() != Some(audience) {
        return Some(invalid(
            50012,
            "Client assertion audience claim does not match Realm issuer.",
        ));
    }
    if claims["iss"].as_str() != Some(client_id.as_str())
        || claims["sub"].as_str() != Some(client_id.as_str())
    {
        // Inferred code: the issuer and subject must be the client id (the page's table).
        return Some(invalid(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    // Observed (MSAL.NET #4951, MSAL Java #984): the message names the times.
    let nbf = claims["nbf"].as_i64().unwrap_or(0);
    let exp = claims["exp"].as_i64();
    let at = |t: i64| {
        DateTime::from_timestamp(t, 0)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.6f0Z").to_string())
            .unwrap_or_default()
    };
    let Some(exp) = exp.filter(|&e| e > now.timestamp() && nbf <= now.timestamp() + 300) else {
        return Some(invalid(
            700024,
            &format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                now.format("%Y-%m-%dT%H:%M:%S%.6f0Z"),
                at(nbf),
                at(exp.unwrap_or(0))
            ),
        ));
    };
    // Inferred (RFC 7523 §3 item 7 lets the server refuse a replayed `jti`; Entra's code for
    // it is not documented): each assertion is redeemed once.
    let jti = claims["jti"].as_str().unwrap_or_default().to_string();
    s.used_assertions.retain(|_, e| *e > now);
    if jti.is_empty() || s.used_assertions.contains_key(&jti) {
        return Some(invalid(
            70002,
            "Error validating credentials. The client assertion was already used (jti).",
        ));
    }
    if let Some(until) = DateTime::from_timestamp(exp, 0) {
        s.used_assertions.insert(jti, until);
    }
    None
}

/// The object id of an app's service principal in the simulated tenant: a GUID derived from
/// its client id (stable across restarts).
pub fn service_principal_id(client_id: &str) -> String {
    let h = sha2::Sha256::digest(format!("sp:{client_id}").as_bytes());
    let x: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[17..20],
        &x[20..32]
    )
}

/// The client-credentials grant (Microsoft: "Microsoft identity platform and the OAuth 2.0
/// client credentials flow"): no user, no refresh token, the app's granted application
/// permissions as the token's `roles`.
fn client_credentials(
    s: &mut SimState,
    tenant: &str,
    app: &super::state::App,
    form: &HashMap<String, String>,
) -> Response {
    // Observed (Microsoft365DSC/MSCloudLoginAssistant#100): "AADSTS9001023: The grant type is
    // not supported over the /common or /consumers endpoints."
    if ["common", "consumers"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(tenant))
    {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            9001023,
            "The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
            None,
        );
    }
    let Some(scope) = form_value(form, "scope") else {
        return missing_parameter("scope");
    };
    // Documented: the scope is the resource's id with `/.default`; anything else is refused
    // with AADSTS1002012 (message as quoted in MicrosoftDocs/azure-docs#99862 and
    // microsoftgraph/microsoft-graph-docs#14323).
    let default_scope = GRAPH_PREFIXES
        .iter()
        .any(|p| scope.strip_prefix(p) == Some(".default"));
    if !default_scope {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
            None,
        );
    }
    let now = s.now();
    let lifetime = match s.config.access_token_lifetime {
        Some(d) => d.as_secs() as i64,
        None => 3599,
    };
    // A JWT like Entra's v1 access tokens for Graph, so a client can show the `roles` it was
    // given; `roles` is left out when no application permission is granted (documented).
    let mut claims = json!({
        "aud": "https://graph.microsoft.com", "iss": format!("https://sts.windows.net/{TENANT_ID}/"),
        "iat": now.timestamp(), "nbf": now.timestamp(), "exp": now.timestamp() + lifetime,
        "appid": app.client_id, "app_displayname": app.display_name, "idtyp": "app",
        "oid": service_principal_id(&app.client_id), "tid": TENANT_ID, "ver": "1.0",
        "uti": random("", 16),
    });
    if !app.app_roles.is_empty()
        && let Some(o) = claims.as_object_mut()
    {
        o.insert("roles".into(), json!(app.app_roles));
    }
    let access = sign_id_token(&claims);
    s.access_tokens.insert(
        access.clone(),
        AccessToken {
            client_id: app.client_id.clone(),
            user_id: super::state::app_reader(&app.client_id),
            scopes: app.app_roles.clone(),
            expires: now + Duration::seconds(lifetime),
        },
    );
    let mut response = axum::Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    }))
    .into_response();
    no_store(response.headers_mut());
    response
}

fn redeem_code(
    s: &mut SimState,
    client_id: &str,
    form: &HashMap<String, String>,
    base: &str,
) -> Response {
    let Some(code) = form_value(form, "code") else {
        return missing_parameter("code");
    };
    let now = s.now();
    let Some(entry) = s.codes.get(code).cloned() else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            None,
        );
    };
    if entry.redeemed {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            None,
        );
    }
    if entry.expires <= now || entry.client_id != client_id {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            None,
        );
    }
    let redirect = form_value(form, "redirect_uri").unwrap_or_default();
    if redirect != entry.redirect_uri {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            50011,
            &format!(
                "The reply address '{redirect}' does not match the reply address '{}' provided when requesting Authorization code.",
                entry.redirect_uri
            ),
            None,
        );
    }
    if let Some((challenge, method)) = &entry.challenge {
        let verifier = form_value(form, "code_verifier").unwrap_or_default();
        let computed = if method == "S256" {
            URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
        } else {
            verifier.to_string()
        };
        if verifier.is_empty() || &computed != challenge {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                None,
            );
        }
    }
    if let Some(c) = s.codes.get_mut(code) {
        c.redeemed = true;
    }
    issue(
        s,
        client_id,
        &entry.user_id,
        &entry.scopes,
        None,
        base,
        entry.nonce.as_deref(),
    )
}

fn refresh(
    s: &mut SimState,
    client_id: &str,
    app_name: &str,
    form: &HashMap<String, String>,
    base: &str,
) -> Response {
    let Some(rt) = form_value(form, "refresh_token") else {
        return missing_parameter("refresh_token");
    };
    let now = s.now();
    let Some(entry) = s.refresh_tokens.get(rt).cloned() else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.",
            None,
        );
    };
    if entry.client_id != client_id {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "The refresh token was issued to a different client.",
            Some("client_mismatch"),
        );
    }
    let Some(user) = s.user(&entry.user_id).cloned() else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50034,
            "The user account does not exist in the directory.",
            None,
        );
    };
    if user.tokens_valid_from > entry.family_issued {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50173,
            &format!(
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{}'.",
                super::json::instant(entry.family_issued),
                super::json::instant(user.tokens_valid_from)
            ),
            None,
        );
    }
    if now - entry.last_used > Duration::days(90) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            700082,
            &format!(
                "The refresh token has expired due to inactivity. The token was issued on {} and was inactive for 90.00:00:00.",
                super::json::instant(entry.family_issued)
            ),
            Some("bad_token"),
        );
    }
    if let Some(replaced) = entry.replaced_at
        && now - replaced > Duration::from_std(s.config.refresh_grace).unwrap_or_default()
    {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid. The refresh token has already been redeemed and replaced.",
            None,
        );
    }
    let requested = match form_value(form, "scope") {
        Some(raw) => match parse_scopes(raw) {
            Ok(sc) => sc,
            Err(bad) => {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    70011,
                    &format!(
                        "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {bad} is not valid."
                    ),
                    None,
                );
            }
        },
        None => entry.scopes.clone(),
    };
    let consented = s
        .apps
        .get(client_id)
        .map(|a| a.consented(&entry.user_id))
        .unwrap_or_default();
    if resource_scopes(&requested)
        .iter()
        .any(|sc| !consented.contains(sc))
    {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            65001,
            &format!(
                "The user or administrator has not consented to use the application with ID '{client_id}' named '{app_name}'. Send an interactive authorization request for this user and resource."
            ),
            Some("consent_required"),
        );
    }
    if let Some(e) = s.refresh_tokens.get_mut(rt) {
        e.replaced_at.get_or_insert(now);
        e.last_used = now;
    }
    let family = (entry.family.clone(), entry.family_issued);
    // Using any token of the family keeps the whole family active.
    for t in s.refresh_tokens.values_mut() {
        if t.family == family.0 {
            t.last_used = now;
        }
    }
    issue(
        s,
        client_id,
        &entry.user_id,
        &requested,
        Some(family),
        base,
        None,
    )
}

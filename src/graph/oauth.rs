//! The authorization-code flow with PKCE and the refresh grant, through the `oauth2` crate.
//! Entra's error bodies carry `error_codes` and `suberror` beyond RFC 6749, so the client uses
//! its own error type to keep them.

use std::time::Duration;

use oauth2::basic::{
    BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};

/// Entra's token response: RFC 6749's fields plus the OpenID Connect `id_token`.
type AadTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

/// The claims Datapump reads from an ID token.
#[derive(Debug, serde::Deserialize)]
struct IdClaims {
    aud: Option<String>,
    iss: Option<String>,
    exp: Option<i64>,
    nonce: Option<String>,
    tid: Option<String>,
}

fn id_claims(id_token: &str) -> Option<IdClaims> {
    use base64::Engine;
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The `tid` claim of an ID token, unchecked (refreshes, where it is not used).
fn tenant_of(id_token: &str) -> Option<String> {
    id_claims(id_token)?.tid
}

/// The nonce sent with an authorization request, derived from its PKCE verifier: secret (the
/// verifier never leaves Datapump before the token request) and bound to that one transaction.
fn nonce_for(pkce_verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(
        format!("datapump-nonce:{pkce_verifier}").as_bytes(),
    ))
}

/// Checks the ID token of a code exchange as OpenID Connect Core 3.1.3.7 asks: issued for this
/// app (`aud`), by this cloud's identity platform for the account's tenant (`iss`), not
/// expired, with the nonce of this transaction. The signature is not checked: the token came
/// straight from the token endpoint over TLS, which the same section accepts instead. Returns
/// the tenant.
fn checked_tenant(
    id_token: &str,
    endpoints: &Endpoints,
    client_id: &str,
    pkce_verifier: &str,
) -> Result<Option<String>, TokenError> {
    let bad = |what: &str| TokenError::Unexpected(format!("the ID token {what}"));
    let c = id_claims(id_token).ok_or_else(|| bad("cannot be read"))?;
    if c.aud.as_deref() != Some(client_id) {
        return Err(bad("was issued for another application"));
    }
    let tid = c.tid.clone().ok_or_else(|| bad("names no tenant"))?;
    if c.iss.as_deref() != Some(format!("{}/{tid}/v2.0", endpoints.login_base).as_str()) {
        return Err(bad("comes from another issuer"));
    }
    if c.exp
        .is_none_or(|exp| exp < chrono::Utc::now().timestamp() - 300)
    {
        return Err(bad("has expired"));
    }
    if c.nonce.as_deref() != Some(nonce_for(pkce_verifier).as_str()) {
        return Err(bad("does not belong to this sign-in (nonce)"));
    }
    Ok(Some(tid))
}

use super::Endpoints;
use super::error::{AadError, TokenError};

/// Delegated permissions Datapump asks for, as the setup guide registers them, plus `openid
/// profile` for the signed-in account's identity.
pub const SCOPES: &[&str] = &[
    "offline_access",
    "User.ReadBasic.All",
    "Calendars.Read.Shared",
    "openid",
    "profile",
];

type AadClient = oauth2::Client<
    AadError,
    AadTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The credentials of one app registration.
pub struct AppCredentials<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub redirect_uri: &'a str,
}

fn aad_client(endpoints: &Endpoints, app: &AppCredentials<'_>) -> Result<AadClient, TokenError> {
    let bad = |what: &str, e: oauth2::url::ParseError| {
        TokenError::Unexpected(format!("invalid {what}: {e}"))
    };
    let client = oauth2::Client::new(ClientId::new(app.client_id.to_string()));
    // No secret for a client assertion: then only `client_id` goes into the body.
    let client = if app.client_secret.is_empty() {
        client
    } else {
        client.set_client_secret(ClientSecret::new(app.client_secret.to_string()))
    };
    Ok(client
        .set_auth_uri(AuthUrl::new(endpoints.authorize_url()).map_err(|e| bad("authorize URL", e))?)
        .set_token_uri(TokenUrl::new(endpoints.token_url()).map_err(|e| bad("token URL", e))?)
        .set_redirect_uri(
            RedirectUrl::new(app.redirect_uri.to_string()).map_err(|e| bad("redirect URI", e))?,
        )
        .set_auth_type(AuthType::RequestBody))
}

/// Scope names as sent: short names resolve to Microsoft Graph in the global cloud; in other
/// clouds they are qualified with that cloud's Graph host, so the right resource is chosen.
pub fn scopes_for(graph_base: &str) -> Vec<String> {
    let qualify = !["https://graph.microsoft.com"].contains(&graph_base)
        && graph_base.starts_with("https://")
        && graph_base.contains("graph");
    SCOPES
        .iter()
        .map(|s| {
            if qualify && !matches!(*s, "offline_access" | "openid" | "profile") {
                format!("{graph_base}/{s}")
            } else {
                s.to_string()
            }
        })
        .collect()
}

/// A started authorization: the URL to send the browser to, and what must be kept to finish it.
pub struct AuthorizationStart {
    pub url: String,
    pub state: String,
    pub pkce_verifier: String,
}

pub fn start(
    endpoints: &Endpoints,
    app: &AppCredentials<'_>,
    login_hint: Option<&str>,
) -> Result<AuthorizationStart, TokenError> {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let client = aad_client(endpoints, app)?;
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(
            scopes_for(&endpoints.graph_base)
                .into_iter()
                .map(Scope::new),
        )
        .set_pkce_challenge(challenge)
        .add_extra_param("nonce", nonce_for(verifier.secret()))
        .add_extra_param("response_mode", "query")
        .add_extra_param("prompt", "select_account");
    if let Some(hint) = login_hint {
        request = request.add_extra_param("login_hint", hint.to_string());
    }
    let (url, state) = request.url();
    Ok(AuthorizationStart {
        url: url.to_string(),
        state: state.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    })
}

/// The longest access-token lifetime Microsoft issues: 60–90 minutes by default, up to 28
/// hours with continuous access evaluation (documented: "Use continuous access evaluation
/// enabled APIs in your applications").
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(28 * 3600);

/// Tokens from a successful grant.
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Duration,
    /// Scope names as granted, without the resource prefix.
    pub scopes: Vec<String>,
    /// The signed-in account's tenant, from the ID token (sent when `openid` was asked for).
    pub tenant_id: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

fn token_set(response: AadTokenResponse) -> TokenSet {
    let scopes = response
        .scopes()
        .map(|s| {
            s.iter()
                .map(|x| {
                    x.as_str()
                        .rsplit('/')
                        .next()
                        .unwrap_or(x.as_str())
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    TokenSet {
        tenant_id: response
            .extra_fields()
            .id_token
            .as_deref()
            .and_then(tenant_of),
        access_token: response.access_token().secret().clone(),
        refresh_token: response.refresh_token().map(|r| r.secret().clone()),
        // Entra always sends expires_in; one hour is its documented minimum. A value beyond
        // the longest lifetime Entra issues is not believed.
        expires_in: response
            .expires_in()
            .unwrap_or(Duration::from_secs(3600))
            .min(MAX_TOKEN_LIFETIME),
        scopes,
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// Adapts the project's reqwest client to the `oauth2` crate.
async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let mut builder = http.request(parts.method, parts.uri.to_string()).body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let response = builder.send().await.map_err(|e| HttpError(describe(&e)))?;
    let status = response.status();
    let headers = response.headers().clone();
    // Token answers are a few kilobytes.
    let bytes = super::read_body(response, 1024 * 1024)
        .await
        .map_err(|e| HttpError(e.to_string()))?;
    let mut out = oauth2::http::Response::builder().status(status);
    for (name, value) in &headers {
        out = out.header(name, value);
    }
    out.body(bytes).map_err(|e| HttpError(e.to_string()))
}

/// The adapter as a type that owns its (cheaply cloned) client: a borrowed client or a closure
/// would carry a lifetime that makes callers' futures non-`Send`.
struct Http(reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        let client = self.0.clone();
        Box::pin(async move { send(&client, request).await })
    }
}

/// A network error without URLs (they may carry codes) and without secrets.
pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else if e.is_redirect() {
        "unexpected redirect".into()
    } else if e.is_body() || e.is_decode() {
        "the answer broke off or could not be read".into()
    } else {
        "request failed".into()
    }
}

fn map_error(e: RequestTokenError<HttpError, AadError>) -> TokenError {
    match e {
        RequestTokenError::ServerResponse(aad) => TokenError::Rejected(Box::new(aad)),
        RequestTokenError::Request(e) => TokenError::Network(e.0),
        RequestTokenError::Parse(_, body) => TokenError::Unexpected(format!(
            "an answer of {} bytes that is not a token response",
            body.len()
        )),
        RequestTokenError::Other(m) => TokenError::Unexpected(m),
    }
}

pub async fn exchange_code(
    client: &super::Client,
    endpoints: &Endpoints,
    app: &AppCredentials<'_>,
    code: &str,
    pkce_verifier: &str,
) -> Result<TokenSet, TokenError> {
    let http = Http(client.http().clone());
    let client = aad_client(endpoints, app)?;
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
        .request_async(&http)
        .await
        .map_err(map_error)?;
    // `openid` was asked for (SCOPES): without an ID token neither audience, issuer nor
    // nonce could be checked, so such an answer is refused rather than taken on trust.
    let tenant = match response.extra_fields().id_token.as_deref() {
        Some(t) => checked_tenant(t, endpoints, app.client_id, pkce_verifier)?,
        None => {
            return Err(TokenError::Unexpected(
                "the token response has no ID token although openid was asked for".into(),
            ));
        }
    };
    let mut set = token_set(response);
    set.tenant_id = tenant;
    Ok(set)
}

pub async fn refresh(
    client: &super::Client,
    endpoints: &Endpoints,
    app: &AppCredentials<'_>,
    refresh_token: &str,
) -> Result<TokenSet, TokenError> {
    let http = Http(client.http().clone());
    let client = aad_client(endpoints, app)?;
    let token = RefreshToken::new(refresh_token.to_string());
    // Scope may be left out of a refresh, but Microsoft advises against relying on that
    // (graph-protocol §9.8): ask for the same permissions again.
    client
        .exchange_refresh_token(&token)
        .add_scopes(
            scopes_for(&endpoints.graph_base)
                .into_iter()
                .map(Scope::new),
        )
        .request_async(&http)
        .await
        .map(token_set)
        .map_err(map_error)
}

/// The one scope the client-credentials grant takes: the resource with `/.default`
/// (documented; anything else is AADSTS1002012). The simulator, at a custom URL, stands for
/// the global Microsoft Graph.
pub fn default_scope(graph_base: &str) -> String {
    let resource = if graph_base.starts_with("https://") && graph_base.contains("graph") {
        graph_base.trim_end_matches('/')
    } else {
        "https://graph.microsoft.com"
    };
    format!("{resource}/.default")
}

/// How an app authenticates for the client-credentials grant.
pub enum ClientAuth<'a> {
    Secret(&'a str),
    /// A signed client assertion (RFC 7523) for `client_assertion`, with
    /// `client_assertion_type` `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    Assertion(String),
}

/// An app-only token by the client-credentials grant: no user, no refresh token; the
/// application permissions an admin granted are the token's `roles`.
pub async fn client_credentials(
    client: &super::Client,
    endpoints: &Endpoints,
    client_id: &str,
    auth: ClientAuth<'_>,
) -> Result<TokenSet, TokenError> {
    let http = Http(client.http().clone());
    let app = AppCredentials {
        client_id,
        client_secret: match &auth {
            ClientAuth::Secret(s) => s,
            ClientAuth::Assertion(_) => "",
        },
        // Not sent with this grant; the oauth2 client type wants one.
        redirect_uri: "http://localhost",
    };
    let client = aad_client(endpoints, &app)?;
    let request = client
        .exchange_client_credentials()
        .add_scope(Scope::new(default_scope(&endpoints.graph_base)));
    let request = match &auth {
        ClientAuth::Secret(_) => request,
        ClientAuth::Assertion(jwt) => request
            .add_extra_param(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .add_extra_param("client_assertion", jwt.clone()),
    };
    request
        .request_async(&http)
        .await
        .map(token_set)
        .map_err(map_error)
}

/// What an app-only access token says about the app, read without checking the signature
/// (only shown, never trusted: Graph decides what the token may do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppClaims {
    /// `roles`: the application permissions granted in Entra, sorted. Empty when none are —
    /// Entra issues such tokens (documented: "Controlling tokens without the roles claim").
    pub roles: Vec<String>,
    /// `oid`: the object id of the app's service principal in the tenant (what Exchange
    /// Online's `New-ServicePrincipal -ObjectId` wants).
    pub service_principal: Option<String>,
}

/// `None` when the token is not a readable JWT: Microsoft reserves the right to change the
/// format of access tokens for its APIs.
pub fn app_claims(access_token: &str) -> Option<AppClaims> {
    use base64::Engine;
    #[derive(serde::Deserialize)]
    struct Claims {
        #[serde(default)]
        roles: Vec<String>,
        oid: Option<String>,
    }
    let payload = access_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims = serde_json::from_slice::<Claims>(&bytes).ok()?;
    let mut roles = claims.roles;
    roles.sort();
    roles.dedup();
    Some(AppClaims {
        roles,
        service_principal: claims.oid.filter(|o| crate::model::is_guid(o)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_only_scope_and_roles() {
        use base64::Engine;
        assert_eq!(
            default_scope("https://graph.microsoft.us"),
            "https://graph.microsoft.us/.default"
        );
        assert_eq!(
            default_scope("http://127.0.0.1:8001"),
            "https://graph.microsoft.com/.default"
        );
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let jwt = |claims: &str| format!("{}.{}.sig", enc(r#"{"alg":"RS256"}"#), enc(claims));
        let sp = "0b7f3c1e-2d4a-4b5c-8d9e-0f1a2b3c4d5e";
        assert_eq!(
            app_claims(&jwt(&format!(
                r#"{{"roles":["Place.Read.All","Calendars.Read"],"oid":"{sp}"}}"#
            ))),
            Some(AppClaims {
                roles: vec!["Calendars.Read".to_string(), "Place.Read.All".to_string()],
                service_principal: Some(sp.to_string()),
            })
        );
        assert_eq!(
            app_claims(&jwt(r#"{"appid":"x","oid":"not-a-guid"}"#)),
            Some(AppClaims {
                roles: vec![],
                service_principal: None
            })
        );
        assert_eq!(app_claims("EwB4A8l6BAAUopaque"), None);
    }

    #[test]
    fn scopes_are_qualified_outside_the_global_cloud() {
        assert!(
            scopes_for("https://graph.microsoft.com")
                .contains(&"Calendars.Read.Shared".to_string())
        );
        let us = scopes_for("https://graph.microsoft.us");
        assert!(us.contains(&"https://graph.microsoft.us/Calendars.Read.Shared".to_string()));
        assert!(us.contains(&"offline_access".to_string()));
        // The simulator (custom URL) takes the short names.
        assert!(scopes_for("http://127.0.0.1:8001").contains(&"User.ReadBasic.All".to_string()));
    }

    #[test]
    fn an_absurd_expires_in_is_capped() {
        for (sent, expected) in [
            (u64::MAX, MAX_TOKEN_LIFETIME),
            (4_000_000_000, MAX_TOKEN_LIFETIME),
            (3599, Duration::from_secs(3599)),
        ] {
            let body = format!(
                r#"{{"access_token":"a","token_type":"Bearer","expires_in":{sent},"refresh_token":"r"}}"#
            );
            let response: AadTokenResponse = serde_json::from_str(&body).expect("token response");
            let tokens = token_set(response);
            assert_eq!(tokens.expires_in, expected, "expires_in {sent}");
            // And the expiry computed from it is a real instant.
            assert!(crate::time::from_now(tokens.expires_in) > chrono::Utc::now());
        }
    }

    #[test]
    fn authorization_start_uses_pkce_s256_and_a_fresh_state() {
        let ep = Endpoints {
            login_base: "https://login.microsoftonline.com".into(),
            graph_base: "https://graph.microsoft.com".into(),
            tenant: "common".into(),
        };
        let app = AppCredentials {
            client_id: "6731de76-14a6-49ae-97bc-6eba6914391e",
            client_secret: "s",
            redirect_uri: "http://localhost:8000",
        };
        let a = start(&ep, &app, None).expect("start");
        let b = start(&ep, &app, None).expect("start");
        assert_ne!(a.state, b.state);
        assert!(a.state.len() >= 22);
        assert!((43..=128).contains(&a.pkce_verifier.len()));
        let url = url::Url::parse(&a.url).expect("url");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["redirect_uri"], "http://localhost:8000");
        assert_eq!(
            q["scope"],
            "offline_access User.ReadBasic.All Calendars.Read.Shared openid profile"
        );
        assert!(!a.url.contains("client_secret") && !a.url.contains(&a.pkce_verifier));
        assert_eq!(q["nonce"], nonce_for(&a.pkce_verifier));
    }

    /// The ID token of a code exchange is accepted only for this app, from this issuer, in
    /// time and with this transaction's nonce (OpenID Connect Core 3.1.3.7).
    #[test]
    fn id_token_claims_are_checked() {
        use base64::Engine;
        let ep = Endpoints {
            login_base: "https://login.microsoftonline.com".into(),
            graph_base: "https://graph.microsoft.com".into(),
            tenant: "common".into(),
        };
        let tid = "6b4f0c2a-0000-4000-8000-000000000001";
        let token = |claims: serde_json::Value| {
            let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
            format!(
                "{}.{}.sig",
                enc(r#"{"alg":"RS256"}"#),
                enc(&claims.to_string())
            )
        };
        let good = serde_json::json!({
            "aud": "app", "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
            "exp": chrono::Utc::now().timestamp() + 3600, "nonce": nonce_for("verifier"), "tid": tid,
        });
        assert_eq!(
            checked_tenant(&token(good.clone()), &ep, "app", "verifier")
                .ok()
                .flatten()
                .as_deref(),
            Some(tid)
        );
        let mut cases = Vec::new();
        for (key, value) in [
            ("aud", serde_json::json!("other-app")),
            ("iss", serde_json::json!("https://evil.example/x/v2.0")),
            ("exp", serde_json::json!(1)),
            ("nonce", serde_json::json!("replayed")),
        ] {
            let mut c = good.clone();
            c[key] = value;
            cases.push(c);
        }
        for c in cases {
            assert!(
                checked_tenant(&token(c.clone()), &ep, "app", "verifier").is_err(),
                "{c}"
            );
        }
        assert!(checked_tenant(&token(good), &ep, "app", "another verifier").is_err());
        assert!(checked_tenant("not a token", &ep, "app", "verifier").is_err());
    }
}

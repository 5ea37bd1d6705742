//! CSRF protection for every state-changing request, in two independent layers:
//! 1. the browser's own signals: `Sec-Fetch-Site: cross-site` is refused, and an `Origin` must be
//!    the configured public origin (never derived from the request's `Host`, which the client
//!    chooses);
//! 2. a token sent as the `_csrf` form field (or the `X-CSRF-Token` header) and compared in
//!    constant time: for a signed-in admin a synchronizer token kept in the session; for a
//!    visitor not signed in (sign-in, setup, language) a signed double-submit token, a MAC over
//!    a random value in a cookie, so that anonymous page views store nothing on the server.
//!
//! Either failing answers 403 before any handler runs, so nothing changes.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use super::error::WebError;
use super::state::AppState;
use crate::storage::sessions::ADMIN_ID_KEY;

const SESSION_KEY: &str = "csrf";
/// The cookie with the random value behind a visitor's token.
const ANONYMOUS_COOKIE: &str = "datapump_csrf";
const ANONYMOUS_CONTEXT: &str = "csrf:anonymous";
pub const FIELD: &str = "_csrf";
const HEADER: &str = "x-csrf-token";
/// Forms are small; anything larger is refused before buffering.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The token of a visitor who is not signed in, as `protect` derived it for this request.
#[derive(Debug, Clone)]
pub struct AnonymousToken(String);

/// The token for this request's forms: the session's (created on first use) when signed in,
/// otherwise the visitor's cookie-bound one, without creating a session.
pub async fn token(
    session: &Session,
    anonymous: Option<&AnonymousToken>,
) -> Result<String, WebError> {
    if let Some(t) = session.get::<String>(SESSION_KEY).await? {
        return Ok(t);
    }
    if session.get::<i64>(ADMIN_ID_KEY).await?.is_none() {
        return Ok(anonymous.map(|a| a.0.clone()).unwrap_or_default());
    }
    let t = crate::crypto::random_token();
    session.insert(SESSION_KEY, &t).await?;
    Ok(t)
}

/// The random value of the visitor's CSRF cookie, if it has a well-formed one.
fn anonymous_nonce<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    super::cookie_value(headers, name).filter(|v| {
        (20..=64).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn origin_allowed(headers: &HeaderMap, public_origin: &str) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return false;
    }
    let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        // Privacy settings can make a browser send "null" for its own forms; like an absent
        // Origin, it leaves the decision to the token check.
        .filter(|o| *o != "null")
    else {
        return true;
    };
    origin == public_origin
}

/// A fresh token for a session that just signed in: a token seen before sign-in (on a shared
/// computer, say) is not valid after it.
pub async fn rotate(session: &Session) -> Result<(), WebError> {
    session.remove::<String>(SESSION_KEY).await?;
    Ok(())
}

/// Middleware (outside the error pages, so that they get it too): derives the visitor's token
/// from its cookie, and sets a cookie on a page view that came without one.
pub async fn issue(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let cookie = super::cookie_name(&state.config, ANONYMOUS_COOKIE);
    let token = |n: &str| AnonymousToken(state.key.mac(ANONYMOUS_CONTEXT, n.as_bytes()));
    if let Some(n) = anonymous_nonce(request.headers(), &cookie).map(String::from) {
        request.extensions_mut().insert(token(&n));
        return next.run(request).await;
    }
    if !is_safe(request.method()) {
        // A post without the cookie has no token to match.
        return next.run(request).await;
    }
    let n = crate::crypto::random_token();
    request.extensions_mut().insert(token(&n));
    let mut response = next.run(request).await;
    super::set_cookie(
        &state.config,
        response.headers_mut(),
        &cookie,
        &n,
        "SameSite=Strict",
    );
    response
}

/// Middleware: refuses unsafe requests that fail either check.
pub async fn protect(
    State(state): State<AppState>,
    session: Session,
    request: Request,
    next: Next,
) -> Result<Response, WebError> {
    if is_safe(request.method()) {
        return Ok(next.run(request).await);
    }
    let public_origin = state.config.public_url.origin();
    if !origin_allowed(request.headers(), &public_origin) {
        tracing::warn!(path = %request.uri().path(), "cross-origin request refused");
        return Err(WebError::Csrf);
    }
    // Signed in: only the session's token. Not signed in: the session's if an older version
    // stored one, else the cookie-bound one.
    let expected = match session.get::<String>(SESSION_KEY).await? {
        Some(t) => Some(t),
        None if session.get::<i64>(ADMIN_ID_KEY).await?.is_none() => request
            .extensions()
            .get::<AnonymousToken>()
            .map(|a| a.0.clone()),
        None => None,
    };
    let (parts, body) = request.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    // File uploads (certificates): the token is a field of the multipart body like in a form.
    let boundary = multer::parse_boundary(content_type).ok();
    let (presented, body) = if let Some(boundary) = boundary {
        let bytes = to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| WebError::BadRequest("error-body-too-large"))?;
        let stream =
            futures_util::stream::once(std::future::ready(Ok::<_, std::io::Error>(bytes.clone())));
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut presented = None;
        while let Ok(Some(field)) = multipart.next_field().await {
            if field.name() == Some(FIELD) {
                presented = field.text().await.ok();
                break;
            }
        }
        (presented, Body::from(bytes))
    } else if is_form {
        let bytes = to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| WebError::BadRequest("error-body-too-large"))?;
        let presented = url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == FIELD)
            .map(|(_, v)| v.into_owned());
        (presented, Body::from(bytes))
    } else {
        let presented = parts
            .headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        (presented, body)
    };
    let valid = match (expected, presented) {
        (Some(e), Some(p)) => bool::from(e.as_bytes().ct_eq(p.as_bytes())),
        _ => false,
    };
    if !valid {
        tracing::warn!(path = %parts.uri.path(), "request without a valid CSRF token refused");
        return Err(WebError::Csrf);
    }
    Ok(next.run(Request::from_parts(parts, body)).await)
}

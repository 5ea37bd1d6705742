//! CSRF protection for every state-changing request, in two independent layers:
//! 1. the browser's own signals: `Sec-Fetch-Site: cross-site` is refused, and an `Origin` must be
//!    the configured public origin (never derived from the request's `Host`, which the client
//!    chooses);
//! 2. a synchronizer token kept in the session, sent as the `_csrf` form field (or the
//!    `X-CSRF-Token` header) and compared in constant time.
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

const SESSION_KEY: &str = "csrf";
pub const FIELD: &str = "_csrf";
const HEADER: &str = "x-csrf-token";
/// Forms are small; anything larger is refused before buffering.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The session's token, created on first use.
pub async fn token(session: &Session) -> Result<String, WebError> {
    if let Some(t) = session.get::<String>(SESSION_KEY).await? {
        return Ok(t);
    }
    let t = crate::crypto::random_token();
    session.insert(SESSION_KEY, &t).await?;
    Ok(t)
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
    let expected = session.get::<String>(SESSION_KEY).await?;
    let (parts, body) = request.into_parts();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (presented, body) = if is_form {
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

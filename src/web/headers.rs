//! Security headers on every response, errors and static files included.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::state::AppState;

/// No inline script or style anywhere; forms post only to this origin (plus, per page, the
/// sign-in host a form's answer redirects to).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Origins a page's forms may lead to besides this site (set by the handler): a form whose
/// answer redirects to the Microsoft sign-in is governed by `form-action` in Chromium.
#[derive(Debug, Clone)]
pub struct ExtraFormAction(pub Vec<String>);

fn csp(extra: Option<&ExtraFormAction>) -> HeaderValue {
    let origins: Vec<&str> = extra
        .map(|e| {
            e.0.iter()
                .map(String::as_str)
                .filter(|o| {
                    o.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ":/.-[]".contains(c))
                })
                .collect()
        })
        .unwrap_or_default();
    if origins.is_empty() {
        return HeaderValue::from_static(CSP);
    }
    HeaderValue::from_str(&format!("{CSP} {}", origins.join(" ")))
        .unwrap_or(HeaderValue::from_static(CSP))
}

fn set(h: &mut HeaderMap, name: HeaderName, value: &'static str) {
    h.insert(name, HeaderValue::from_static(value));
}

pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let policy = csp(response.extensions().get::<ExtraFormAction>());
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, policy);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // Not "no-referrer": with it, browsers send `Origin: null` on same-origin form posts, which
    // the CSRF origin check cannot tell from a forged one. Other sites still get no referrer.
    if !h.contains_key(header::REFERRER_POLICY) {
        set(h, header::REFERRER_POLICY, "same-origin");
    }
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if state.config.public_url.is_https() {
        set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    // Pages can show data of the signed-in admin: never keep them in shared caches.
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    response
}

//! The web application: routes, middleware, templates.

pub mod api;
pub mod auth;
pub mod client_ip;
pub mod csrf;
pub mod error;
pub mod headers;
pub mod page;
pub mod prefix;
pub mod profile_view;
mod routes;
pub mod state;
pub mod static_files;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use self::auth::Access;
use self::error::{ErrorPage, WebError};
use self::page::Page;
use self::state::AppState;
use crate::storage::sessions::DbSessionStore;

pub const SESSION_COOKIE: &str = "datapump_session";

/// A cookie's name for this deployment: with `__Host-` where the public URL is https at the
/// root, so the browser keeps it to this exact host (no Domain, Path=/, Secure) and a sibling
/// host cannot plant or overwrite it.
pub fn cookie_name(config: &crate::config::Config, name: &str) -> String {
    if config.public_url.is_https() && config.public_url.prefix().is_empty() {
        format!("__Host-{name}")
    } else {
        name.to_string()
    }
}

/// The value of the request's cookie `name`, if it sent one.
pub fn cookie_value<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// Appends a `Set-Cookie` for this deployment: `HttpOnly`, on the app's path, `Secure` when the
/// public URL is https, plus `attributes` (e.g. `Max-Age=60; SameSite=Strict`).
pub fn set_cookie(
    config: &crate::config::Config,
    headers: &mut axum::http::HeaderMap,
    name: &str,
    value: &str,
    attributes: &str,
) {
    let path = match config.public_url.prefix() {
        "" => "/",
        p => p,
    };
    let secure = if config.public_url.is_https() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{name}={value}; Path={path}; {attributes}; HttpOnly{secure}");
    if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
        headers.append(axum::http::header::SET_COOKIE, v);
    }
}
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// One registered route: what the anonymous-access test walks through.
#[derive(Debug, Clone)]
pub struct RouteInfo {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// Registers routes together with the access each method needs.
pub(crate) struct Routes {
    router: Router<AppState>,
    inventory: Vec<RouteInfo>,
    site: auth::Site,
}

impl Routes {
    fn new(site: auth::Site) -> Self {
        Self {
            router: Router::new(),
            inventory: Vec::new(),
            site,
        }
    }

    pub(crate) fn add(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: MethodRouter<AppState>,
    ) -> Self {
        let site = self.site.clone();
        let guarded = handler.route_layer(middleware::from_fn(move |req: Request, next: Next| {
            auth::guard(access, site.clone(), req, next)
        }));
        self.router = self.router.route(path, guarded);
        self.inventory.push(RouteInfo {
            method,
            path,
            access,
        });
        self
    }
}

/// Builds the application service (prefix handling included) and the route inventory.
pub fn build(state: AppState) -> (Router, Vec<RouteInfo>) {
    let config = &state.config;
    let routes = routes::register(Routes::new(auth::Site {
        origin: config.public_url.origin(),
        prefix: config.public_url.prefix().to_string(),
    }));
    let inventory = routes.inventory;

    let cookie_path = match config.public_url.prefix() {
        "" => "/".to_string(),
        p => p.to_string(),
    };
    let session_layer = SessionManagerLayer::new(DbSessionStore::new(
        state.db.clone(),
        state.throttle.max_anonymous_sessions,
    ))
    .with_name(cookie_name(config, SESSION_COOKIE))
    .with_http_only(true)
    // Lax, not Strict: the return from the Microsoft sign-in is a cross-site navigation.
    .with_same_site(SameSite::Lax)
    .with_secure(config.public_url.is_https())
    .with_path(cookie_path)
    // The record outlives the idle timeout (which `identify` enforces), so that a visitor
    // coming back after it can be told why they have to sign in again.
    .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
        i64::try_from(
            config
                .session_max_lifetime
                .max(config.session_idle_timeout)
                .as_secs(),
        )
        .unwrap_or(i64::MAX),
    )));

    // Pages: sessions, identity and language, CSRF, rendered error pages.
    let pages = routes
        .router
        .fallback(|| async { WebError::NotFound })
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(fill_empty_errors))
                .layer(session_layer)
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    auth::identify,
                ))
                .layer(middleware::from_fn_with_state(state.clone(), csrf::issue))
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    render_error_pages,
                ))
                .layer(middleware::from_fn_with_state(state.clone(), csrf::protect)),
        );

    // Assets and probes need no session.
    let plain = Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/metrics", get(routes::metrics::metrics))
        .route("/feeds/{file}", get(routes::subscriptions::feeds::serve))
        .merge(api::router())
        .route("/static/{name}", get(static_files::serve));

    let prefix = config.public_url.prefix().to_string();
    let app = pages
        .merge(plain)
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::COOKIE,
                ]))
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    client_ip::middleware,
                ))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(TraceLayer::new_for_http().make_span_with(make_span))
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    headers::middleware,
                ))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    state.config.request_timeout,
                ))
                .layer(RequestBodyLimitLayer::new(csrf::MAX_FORM_BYTES)),
        )
        .with_state(state);

    // The prefix is removed before routing, so it must wrap the router from outside.
    let app = Router::new().fallback_service(
        ServiceBuilder::new()
            .map_request(move |req: Request| prefix::strip(&prefix, req))
            .service(app),
    );
    (app, inventory)
}

/// The span of one request: method, path (never the query, which may carry OAuth codes),
/// client address and request id.
fn make_span(request: &Request) -> tracing::Span {
    let ip = request
        .extensions()
        .get::<client_ip::ClientIp>()
        .and_then(|c| c.0)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), client = %ip, request_id = %id)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        "Internal error / Interner Fehler",
    )
        .into_response()
}

/// A server error that left a layer without a body (the session store could not read or save,
/// say, on a full disk) becomes a translated page in the browser's language: never an empty
/// answer.
async fn fill_empty_errors(request: Request, next: Next) -> Response {
    let lang = request
        .headers()
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::i18n::Lang::negotiate)
        .unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status();
    let empty = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .is_some_and(|v| v == "0")
        || !response
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE);
    if !status.is_server_error() || !empty {
        return response;
    }
    let escape = |t: String| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{message}</p></body></html>",
        lang.code(),
        title = escape(lang.t("error-internal-title")),
        message = escape(lang.t("error-internal")),
    );
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

/// Renders responses marked by `WebError` as translated HTML pages.
async fn render_error_pages(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let parts_copy = {
        let mut r = Request::new(());
        *r.uri_mut() = parts.uri.clone();
        *r.extensions_mut() = parts.extensions.clone();
        r.into_parts().0
    };
    let response = next.run(Request::from_parts(parts, body)).await;
    let Some(info) = response.extensions().get::<ErrorPage>().copied() else {
        return response;
    };
    let status = response.status();
    match Page::build(&parts_copy, &state).await {
        Ok(page) => {
            let template = routes::ErrorTemplate {
                p: page,
                status: status.as_u16(),
                title_key: info.title_key,
                message_key: info.message_key,
            };
            match page::render(status, &template) {
                Ok(rendered) => rendered,
                Err(_) => response,
            }
        }
        Err(_) => response,
    }
}

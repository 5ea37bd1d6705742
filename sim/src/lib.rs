#![recursion_limit = "256"]
//! A faithful simulator of the parts of the Microsoft identity platform (v2.0) and Microsoft
//! Graph (v1.0) that Datapump uses, with a control API for faults and changes.
//!
//! It shares no code or types with Datapump's Graph client: both are written from Microsoft's
//! documented JSON, so a wrong assumption cannot hide by being wrong on both sides.

mod control;
pub mod delta;
pub mod faults;
mod graph;
mod identity;
pub mod ids;
pub mod json;
pub mod model;
pub mod seed;
pub mod state;
pub mod tz;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use self::faults::{FaultKind, FaultRule};
pub use self::identity::service_principal_id;
pub use self::model::RoomPolicy;
pub use self::state::{ConcurrencyScope, EventPatch, NewEvent, SimConfig, SimError, SimState};

/// A handle to the simulator's state, shared by its server and by tests.
#[derive(Clone)]
pub struct Sim(Arc<Mutex<SimState>>);

impl Sim {
    /// A simulator with the default tenant, generated from `config.seed`.
    pub fn new(config: SimConfig) -> Self {
        Self(Arc::new(Mutex::new(seed::build(config))))
    }

    pub fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panic while holding the lock leaves consistent data (each change is applied whole).
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The calendar's events between two instants, as calendarView returns them in UTC, with
    /// ids in the given form.
    pub fn truth(
        &self,
        calendar: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        ids: ids::IdForm,
    ) -> Result<Vec<Value>, SimError> {
        let s = self.lock();
        let calendar_id = s.resolve_calendar(calendar)?;
        let owner = s
            .calendar(&calendar_id)
            .and_then(|c| s.user(&c.owner_id))
            .cloned()
            .ok_or_else(|| SimError::NoCalendar(calendar.into()))?;
        Ok(s.instances(&calendar_id, start, end)
            .iter()
            .filter_map(|i| {
                s.events
                    .get(&i.event_id)
                    .map(|e| json::event(e, Some(i), &owner, None, false, ids))
            })
            .collect())
    }
}

/// The simulator's HTTP surface.
pub fn router(sim: Sim) -> Router {
    let control = Router::new()
        .route("/_sim/state", get(control::state))
        .route("/_sim/events", post(control::create_event))
        .route(
            "/_sim/events/{id}",
            axum::routing::patch(control::update_event).delete(control::delete_event),
        )
        .route("/_sim/events/{id}/move", post(control::move_event))
        .route(
            "/_sim/users/{user}/revoke-sessions",
            post(control::revoke_sessions),
        )
        .route(
            "/_sim/apps/{client}/secrets/expire",
            post(control::expire_secrets),
        )
        .route(
            "/_sim/apps/{client}/secrets/rotate",
            post(control::rotate_secret),
        )
        .route("/_sim/apps/{client}/consent", post(control::consent))
        .route("/_sim/apps/{client}/roles", post(control::app_roles))
        .route(
            "/_sim/apps/{client}/exchange-scope",
            post(control::exchange_scope),
        )
        .route(
            "/_sim/apps/{client}/certificates",
            post(control::add_certificate),
        )
        .route("/_sim/room-lists/{address}", post(control::room_list))
        .route(
            "/_sim/apps/{client}/redirect-uris",
            post(control::add_redirect_uri),
        )
        .route("/_sim/delegations", post(control::delegation))
        .route(
            "/_sim/rooms/{room}/calendar-processing",
            post(control::room_policy),
        )
        .route("/_sim/delta/expire", post(control::expire_delta))
        .route("/_sim/delta/replay", post(control::replay_delta))
        .route(
            "/_sim/faults",
            post(control::add_fault).delete(control::clear_faults),
        )
        .route("/_sim/settings", post(control::settings))
        .route(
            "/_sim/counters",
            get(control::counters).delete(control::reset_counters),
        )
        .route("/_sim/clock", post(control::clock))
        .route("/_sim/truth", get(control::truth));
    let service = Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(identity::openid_configuration),
        )
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(identity::authorize).post(identity::authorize_post),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(identity::token))
        .route("/v1.0/{*rest}", get(graph::handle).post(graph::handle))
        .layer(middleware::from_fn_with_state(sim.clone(), inject_faults));
    control.merge(service).with_state(sim)
}

/// Injects the configured faults before a request reaches the simulated service.
async fn inject_faults(State(sim): State<Sim>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let fault = sim.lock().pick_fault(&path);
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    if let Some(delay) = faults::latency(&fault) {
        tokio::time::sleep(delay).await;
        return next.run(request).await;
    }
    if fault == FaultKind::ForeignLink {
        return foreign_links(next.run(request).await).await;
    }
    let identity = path.contains("/oauth2/");
    {
        let mut s = sim.lock();
        s.count(&path, None);
        if path.ends_with("/token") {
            s.counters.token_requests += 1;
        }
    }
    let with_retry_after = |mut r: Response, secs: Option<u64>| {
        if let Some(s) = secs
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    };
    match fault {
        FaultKind::Throttle { retry_after } if identity => with_retry_after(
            json::aad_error(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                90033,
                "A transient error has occurred. Please try again.",
                None,
            ),
            Some(retry_after),
        ),
        FaultKind::Throttle { retry_after } => {
            sim.lock().counters.throttled += 1;
            with_retry_after(
                json::graph_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    "Please retry again later.",
                    None,
                ),
                Some(retry_after),
            )
        }
        FaultKind::Unavailable { retry_after } if identity => with_retry_after(
            json::aad_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                90033,
                "A transient error has occurred. Please try again.",
                None,
            ),
            retry_after,
        ),
        FaultKind::Unavailable { retry_after } => with_retry_after(
            json::graph_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please try again later.",
                None,
            ),
            retry_after,
        ),
        FaultKind::ThrottleWithoutRetryAfter => {
            sim.lock().counters.throttled += 1;
            json::graph_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Please retry again later.",
                None,
            )
        }
        FaultKind::ThrottleUntil { seconds } => {
            sim.lock().counters.throttled += 1;
            let mut r = json::graph_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Please retry again later.",
                None,
            );
            let at = Utc::now() + chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(60));
            if let Ok(v) =
                HeaderValue::from_str(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        FaultKind::UnavailableHtml => {
            let mut r = Response::new(Body::from(
                "<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>",
            ));
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            r
        }
        FaultKind::AccessDenied => json::graph_error(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
            None,
        ),
        FaultKind::GatewayTimeout => json::graph_error(
            StatusCode::GATEWAY_TIMEOUT,
            "UnknownError",
            "Gateway Timeout",
            None,
        ),
        FaultKind::Drop | FaultKind::Latency { .. } | FaultKind::ForeignLink => {
            // Headers go out, then the body breaks off: the connection ends mid-response.
            let stream = futures_util::stream::once(async {
                Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "dropped by the simulator",
                ))
            });
            let mut r = Response::new(Body::from_stream(stream));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
    }
}

/// The answer with its paging links moved to another host (the fault `ForeignLink`).
async fn foreign_links(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut json) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    for key in ["@odata.nextLink", "@odata.deltaLink"] {
        if let Some(link) = json.get(key).and_then(Value::as_str) {
            let moved = match url::Url::parse(link) {
                Ok(u) => format!(
                    "https://graph.evil.example{}{}",
                    u.path(),
                    u.query().map(|q| format!("?{q}")).unwrap_or_default()
                ),
                Err(_) => "https://graph.evil.example/".to_string(),
            };
            json[key] = Value::String(moved);
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json.to_string()))
}

/// A running simulator.
pub struct SimServer {
    pub url: String,
    pub sim: Sim,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl SimServer {
    /// Serves `sim` on `listener` until stopped.
    pub fn serve(sim: Sim, listener: tokio::net::TcpListener) -> std::io::Result<Self> {
        let addr: SocketAddr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let app = router(sim.clone());
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        Ok(Self {
            url: format!("http://{addr}"),
            sim,
            shutdown,
            task,
        })
    }

    /// Starts a simulator on an ephemeral loopback port.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::serve(Sim::new(config), listener)
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

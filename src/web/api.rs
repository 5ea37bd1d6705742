//! The read-only API under `/api/v1`, for reception products and door signs that should not
//! hold database credentials. Every request carries an API token (`Authorization: Bearer …`)
//! that an admin created; a token reads all subscriptions or those it lists. Errors are
//! `application/problem+json` (RFC 9457); answers carry an ETag and honour `If-None-Match`.

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::state::AppState;
use crate::storage::StoreError;
use crate::storage::api_tokens::ApiToken;
use crate::storage::reading::StoredEvent;

/// Requests per minute and token (a burst of as many is allowed), per instance: governor's
/// GCRA keyed by the token's id.
pub struct Limits {
    limiter: governor::DefaultKeyedRateLimiter<i64>,
}

impl Limits {
    pub fn per_minute(n: std::num::NonZeroU32) -> Self {
        Self {
            limiter: governor::RateLimiter::dashmap(governor::Quota::per_minute(n)),
        }
    }

    /// `Err(seconds to wait)` when the token is over its rate.
    fn check(&self, token_id: i64) -> Result<(), u64> {
        use governor::clock::Clock;
        self.limiter.check_key(&token_id).map_err(|not_until| {
            let clock = governor::clock::DefaultClock::default();
            not_until.wait_time_from(clock.now()).as_secs().max(1)
        })
    }
}

/// The API's errors, each one problem document.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid API token is required")]
    Unauthorized,
    #[error("this token may not read this subscription")]
    Forbidden,
    #[error("no such resource")]
    NotFound,
    #[error("too many requests with this token: try again in {0} s")]
    TooMany(u64),
    #[error("{0}")]
    BadRequest(String),
    #[error("the database is not available")]
    Store(#[from] StoreError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound | Self::Store(StoreError::NotFound) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        if let Self::Store(e) = &self
            && !matches!(e, StoreError::NotFound)
        {
            tracing::warn!(error = %e, "API request failed");
        }
        let detail = match &self {
            Self::Store(StoreError::NotFound) => "no such resource".to_string(),
            other => other.to_string(),
        };
        let body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        let mut response = (status, body.to_string()).into_response();
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Self::TooMany(secs) = self
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            h.insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"datapump\""),
            );
        }
        response
    }
}

/// The token the request came with (its use counted).
pub struct Caller(pub ApiToken);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or(ApiError::Unauthorized)?;
        let caller = state
            .db
            .use_api_token(&crate::crypto::token_hash(token))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        state
            .api_limits
            .check(caller.id)
            .map_err(ApiError::TooMany)?;
        Ok(Caller(caller))
    }
}

impl Caller {
    fn may_read(&self, subscription_id: i64) -> Result<(), ApiError> {
        if self.0.scope.allows(subscription_id) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/rooms", get(rooms))
        .route("/api/v1/rooms/{id}/events", get(room_events))
        .route("/api/v1/changes", get(changes))
        .route("/api/v1/visitors", get(visitors))
        .route("/api/v1/{*rest}", get(|| async { ApiError::NotFound }))
}

/// JSON with a strong ETag over its bytes; `304` when the client has it already.
fn json(headers: &HeaderMap, value: &impl Serialize) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let etag = format!("\"{}\"", &crate::crypto::token_hash_bytes(&body)[..32]);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, body).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    Ok(response)
}

#[derive(Serialize)]
struct Room {
    id: i64,
    name: String,
    address: String,
    event_count: i64,
    last_sync_at: Option<DateTime<Utc>>,
}

async fn rooms(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let rooms: Vec<Room> = state
        .db
        .list_subscriptions(None)
        .await?
        .into_iter()
        .filter(|s| caller.0.scope.allows(s.id))
        .map(|s| Room {
            id: s.id,
            name: s.display_name,
            address: s.mailbox_address,
            event_count: s.event_count,
            last_sync_at: s.last_sync_at,
        })
        .collect();
    json(&headers, &serde_json::json!({ "rooms": rooms }))
}

#[derive(Deserialize)]
struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// An instant or a day (its UTC midnight).
fn instant(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        .map_err(|_| {
            ApiError::BadRequest(format!(
                "{name} must be an RFC 3339 time (2026-12-03T08:00:00Z) or a date (2026-12-03)"
            ))
        })
}

const MAX_PAGE: i64 = 500;

fn page_size(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(100),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        ))),
    }
}

#[derive(Serialize)]
struct Event {
    id: i64,
    graph_id: String,
    ical_uid: Option<String>,
    event_type: String,
    subject: Option<String>,
    organizer_name: Option<String>,
    organizer_address: Option<String>,
    start_utc: DateTime<Utc>,
    end_utc: DateTime<Utc>,
    start_local: Option<NaiveDateTime>,
    end_local: Option<NaiveDateTime>,
    is_all_day: bool,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
    is_cancelled: bool,
    sensitivity: Option<String>,
    show_as: Option<String>,
    location: Option<String>,
    attendees: Value,
    online_meeting_url: Option<String>,
}

impl From<StoredEvent> for Event {
    fn from(e: StoredEvent) -> Self {
        let r = e.row;
        Self {
            id: e.id,
            attendees: r
                .attendees
                .as_deref()
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or(Value::Array(Vec::new())),
            graph_id: r.graph_id,
            ical_uid: r.ical_uid,
            event_type: r.event_type,
            subject: r.subject,
            organizer_name: r.organizer_name,
            organizer_address: r.organizer_address,
            start_utc: r.start_utc,
            end_utc: r.end_utc,
            start_local: r.start_local,
            end_local: r.end_local,
            is_all_day: r.is_all_day,
            start_date: r.start_date,
            end_date: r.end_date,
            is_cancelled: r.is_cancelled,
            sensitivity: r.sensitivity,
            show_as: r.show_as,
            location: r.location,
            online_meeting_url: r.online_meeting_url,
        }
    }
}

async fn room_events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<RangeQuery>,
) -> Result<Response, ApiError> {
    caller.may_read(id)?;
    let room = state.db.subscription(id).await?;
    let now = Utc::now();
    let from = match &q.from {
        Some(v) => instant("from", v)?,
        None => now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc(),
    };
    let to = match &q.to {
        Some(v) => instant("to", v)?,
        None => crate::time::after(from, std::time::Duration::from_secs(86_400)),
    };
    if to <= from {
        return Err(ApiError::BadRequest("to must be after from".into()));
    }
    let limit = page_size(q.limit)?;
    let offset = q.offset.unwrap_or(0).max(0);
    let rows = state
        .db
        .events_between(id, from, to, limit + 1, offset)
        .await?;
    let more = rows.len() as i64 > limit;
    let events: Vec<Event> = rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(0))
        .map(Event::from)
        .collect();
    json(
        &headers,
        &serde_json::json!({
            "room": { "id": room.id, "name": room.display_name, "address": room.mailbox_address },
            "from": from, "to": to,
            "events": events,
            "next_offset": more.then_some(offset + limit),
        }),
    )
}

#[derive(Deserialize)]
struct ChangesQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize)]
struct Change {
    seq: i64,
    subscription_id: i64,
    event_id: i64,
    graph_id: String,
    ical_uid: Option<String>,
    operation: &'static str,
    changed_at: DateTime<Utc>,
    start_utc: Option<DateTime<Utc>>,
    end_utc: Option<DateTime<Utc>>,
    subject: Option<String>,
}

async fn changes(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<ChangesQuery>,
) -> Result<Response, ApiError> {
    let after = q.after.unwrap_or(0).max(0);
    let limit = page_size(q.limit)?;
    let page = state.db.changes_since(after, limit).await?;
    // `next_after` moves past everything read, also entries of subscriptions out of scope,
    // so a narrow token still walks the whole feed.
    let next_after = page.last().map_or(after, |c| c.seq);
    let changes: Vec<Change> = page
        .into_iter()
        .filter(|c| caller.0.scope.allows(c.subscription_id))
        .map(|c| Change {
            seq: c.seq,
            subscription_id: c.subscription_id,
            event_id: c.event_id,
            graph_id: c.graph_id,
            ical_uid: c.ical_uid,
            operation: c.operation.as_str(),
            changed_at: c.changed_at,
            start_utc: c.start_utc,
            end_utc: c.end_utc,
            subject: c.subject,
        })
        .collect();
    json(
        &headers,
        &serde_json::json!({ "changes": changes, "next_after": next_after }),
    )
}

#[derive(Deserialize)]
struct DayQuery {
    date: Option<String>,
}

async fn visitors(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<DayQuery>,
) -> Result<Response, ApiError> {
    let day = match &q.date {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::BadRequest("date must be a date such as 2026-12-03".into()))?,
        None => Utc::now()
            .with_timezone(&state.config.sync_policy.time_zone)
            .date_naive(),
    };
    let visitors: Vec<_> = state
        .db
        .visitors_on(day)
        .await?
        .into_iter()
        .filter(|v| caller.0.scope.allows(v.subscription_id))
        .collect();
    json(
        &headers,
        &serde_json::json!({ "date": day, "visitors": visitors }),
    )
}

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
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::state::AppState;
use crate::feeds::change::Change;
use crate::storage::StoreError;
use crate::storage::api_tokens::ApiToken;
use crate::storage::reading::{EventKey, StoredEvent};

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
    #[error(
        "changes after {after} are no longer kept (pruned through {pruned}): read the rooms' events again, then follow the feed from after={pruned}"
    )]
    Gone { after: i64, pruned: i64 },
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
            Self::Gone { .. } => StatusCode::GONE,
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
        let body = Problem {
            r#type: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("error").into(),
            status: status.as_u16(),
            detail,
        };
        let mut response =
            (status, serde_json::to_string(&body).unwrap_or_default()).into_response();
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

/// Uses of each token since they were last written (token id → count, last use): counted
/// here and written every few seconds, when the token list is shown, and at shutdown.
#[derive(Default)]
pub struct Uses(std::sync::Mutex<std::collections::HashMap<i64, (i64, DateTime<Utc>)>>);

impl Uses {
    fn record(&self, token_id: i64) {
        if let Ok(mut m) = self.0.lock() {
            let e = m.entry(token_id).or_insert((0, Utc::now()));
            e.0 += 1;
            e.1 = Utc::now();
        }
    }

    /// Writes the counted uses; on failure they are counted again for the next try.
    pub async fn flush(&self, db: &crate::storage::Db) -> Result<(), StoreError> {
        let taken: Vec<(i64, i64, DateTime<Utc>)> = match self.0.lock() {
            Ok(mut m) => m.drain().map(|(id, (n, at))| (id, n, at)).collect(),
            Err(_) => return Ok(()),
        };
        if let Err(e) = db.add_api_token_uses(&taken).await {
            if let Ok(mut m) = self.0.lock() {
                for (id, n, at) in taken {
                    let entry = m.entry(id).or_insert((0, at));
                    entry.0 += n;
                    entry.1 = entry.1.max(at);
                }
            }
            return Err(e);
        }
        Ok(())
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
            .api_token_by_hash(&crate::crypto::token_hash(token))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        state.api_uses.record(caller.id);
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

/// The API's routes; the OpenAPI document must list exactly these (tested).
pub fn routes() -> Vec<(&'static str, axum::routing::MethodRouter<AppState>)> {
    vec![
        ("/api/v1/rooms", get(rooms)),
        ("/api/v1/rooms/{id}/events", get(room_events)),
        ("/api/v1/changes", get(changes)),
        ("/api/v1/visitors", get(visitors)),
    ]
}

pub fn router() -> Router<AppState> {
    let mut router = Router::new();
    for (path, handler) in routes() {
        router = router.route(path, handler);
    }
    router
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/{*rest}", get(|| async { ApiError::NotFound }))
}

/// The OpenAPI 3.1 document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Datapump read-only API",
        description = "Rooms, their events, the change feed and expected visitors. Send an API token created on Datapump's API page as `Authorization: Bearer …`."
    ),
    paths(rooms, room_events, changes, visitors),
    components(schemas(Problem, RoomsOut, Room, EventsOut, RoomRef, Event, ChangesOut, Change, VisitorsOut, VisitorOut)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// The documented endpoints (method, path, summary), for the admin UI.
pub fn endpoints() -> Vec<(String, String, String)> {
    ApiDoc::openapi()
        .paths
        .paths
        .into_iter()
        .filter_map(|(path, item)| {
            let op = item.get?;
            let summary = op.summary.or(op.description).unwrap_or_default();
            Some(("GET".to_string(), path, summary))
        })
        .collect()
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi() -> Response {
    let mut response = axum::Json(ApiDoc::openapi()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// An error, as RFC 9457 describes it.
#[derive(Serialize, ToSchema)]
struct Problem {
    r#type: String,
    title: String,
    status: u16,
    detail: String,
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

#[derive(Serialize, ToSchema)]
struct RoomsOut {
    rooms: Vec<Room>,
}

#[derive(Serialize, ToSchema)]
struct Room {
    id: i64,
    name: String,
    /// The calendar's mailbox address.
    address: String,
    event_count: i64,
    last_sync_at: Option<DateTime<Utc>>,
    /// From Microsoft's room directory or entered by an admin (null where not known).
    building: Option<String>,
    /// The room list (usually a building or site) the room is on.
    room_list: Option<String>,
    floor_number: Option<i64>,
    floor_label: Option<String>,
    capacity: Option<i64>,
    /// The postal address, one line.
    location: Option<String>,
}

/// The subscriptions (rooms and other calendars) the token may read.
#[utoipa::path(get, path = "/api/v1/rooms", tag = "rooms",
    responses((status = 200, body = RoomsOut), (status = 401, body = Problem), (status = 429, body = Problem)))]
async fn rooms(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let details = state.db.list_rooms().await?;
    let rooms: Vec<Room> = state
        .db
        .list_subscriptions(None)
        .await?
        .into_iter()
        .filter(|s| caller.0.scope.allows(s.id))
        .map(|s| {
            let d = details
                .iter()
                .find(|r| r.subscription_id == s.id)
                .map(|r| r.details())
                .unwrap_or_default();
            Room {
                id: s.id,
                name: s.display_name,
                address: s.mailbox_address,
                event_count: s.event_count,
                last_sync_at: s.last_sync_at,
                building: d.building,
                room_list: d.room_list,
                floor_number: d.floor_number,
                floor_label: d.floor_label,
                capacity: d.capacity,
                location: d.address,
            }
        })
        .collect();
    json(&headers, &RoomsOut { rooms })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RangeQuery {
    /// Start of the range: an RFC 3339 time or a date (its UTC midnight); default today.
    from: Option<String>,
    /// End of the range (exclusive); default one day after `from`.
    to: Option<String>,
    /// At most this many events (1–500, default 100).
    limit: Option<i64>,
    /// Continue after the page that gave this `next_cursor`.
    cursor: Option<String>,
}

/// `next_cursor`: the last event's start (seconds and nanoseconds since 1970) and id. Opaque to
/// clients; anything else is refused rather than read as "from the start".
fn cursor_text(key: EventKey) -> String {
    let t = key.start_utc;
    format!(
        "{}.{:09}.{}",
        t.timestamp(),
        t.timestamp_subsec_nanos(),
        key.id
    )
}

fn parse_cursor(text: &str) -> Result<EventKey, ApiError> {
    let bad = || ApiError::BadRequest("cursor must be a next_cursor this API gave out".into());
    let mut parts = text.split('.');
    let (Some(secs), Some(nanos), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let nanos: u32 = nanos.parse().map_err(|_| bad())?;
    Ok(EventKey {
        start_utc: DateTime::from_timestamp(secs, nanos).ok_or_else(bad)?,
        id: id.parse().map_err(|_| bad())?,
    })
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

#[derive(Serialize, ToSchema)]
struct RoomRef {
    id: i64,
    name: String,
    address: String,
}

#[derive(Serialize, ToSchema)]
struct EventsOut {
    room: RoomRef,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    events: Vec<Event>,
    /// Set when there are more: ask again with `cursor` set to this (and the same range).
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
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
    /// Graph's importance: `low`, `normal` or `high`.
    importance: Option<String>,
    location: Option<String>,
    /// `[{name, address, type, response}]`.
    #[schema(value_type = Vec<Object>)]
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
            importance: r.importance,
            location: r.location,
            online_meeting_url: r.online_meeting_url,
        }
    }
}

/// The events of one room that overlap a time range, in start order.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/events", tag = "rooms",
    params(("id" = i64, Path, description = "The room's id from /api/v1/rooms"), RangeQuery),
    responses((status = 200, body = EventsOut), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 429, body = Problem)))]
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
    let after = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let mut rows = state
        .db
        .events_between(id, from, to, limit + 1, after)
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = rows.last().filter(|_| more).map(|e| {
        cursor_text(EventKey {
            start_utc: e.row.start_utc,
            id: e.id,
        })
    });
    let events: Vec<Event> = rows.into_iter().map(Event::from).collect();
    json(
        &headers,
        &EventsOut {
            room: RoomRef {
                id: room.id,
                name: room.display_name,
                address: room.mailbox_address,
            },
            from,
            to,
            events,
            next_cursor,
        },
    )
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChangesQuery {
    /// The last `seq` processed (0: from the start of the feed).
    after: Option<i64>,
    /// At most this many entries read (1–500, default 100).
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct ChangesOut {
    changes: Vec<Change>,
    /// Ask again with `after` = this; when it stays the same, the feed is read to its end.
    next_after: i64,
}

/// The change feed after a `seq`, in commit order, for the token's subscriptions.
#[utoipa::path(get, path = "/api/v1/changes", tag = "changes", params(ChangesQuery),
    responses((status = 200, body = ChangesOut), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 410, description = "changes after `after` were pruned: read the events again", body = Problem), (status = 429, body = Problem)))]
async fn changes(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<ChangesQuery>,
) -> Result<Response, ApiError> {
    let after = q.after.unwrap_or(0).max(0);
    let limit = page_size(q.limit)?;
    // A reader behind what was pruned would skip changes without knowing: refuse instead.
    let pruned = state.db.feed_pruned_through().await?;
    if after < pruned {
        return Err(ApiError::Gone { after, pruned });
    }
    let page = state.db.changes_since(after, limit).await?;
    // `next_after` moves past everything read, also entries of subscriptions out of scope,
    // so a narrow token still walks the whole feed.
    let next_after = page.last().map_or(after, |c| c.seq);
    let changes: Vec<Change> = page
        .into_iter()
        .filter(|c| caller.0.scope.allows(c.subscription_id))
        .map(Change::from)
        .collect();
    json(
        &headers,
        &ChangesOut {
            changes,
            next_after,
        },
    )
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DayQuery {
    /// The local day (YYYY-MM-DD); default today in Datapump's time zone.
    date: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct VisitorsOut {
    date: NaiveDate,
    visitors: Vec<VisitorOut>,
}

/// An external attendee of a meeting that takes place (see docs/database.md).
#[derive(Serialize, ToSchema)]
struct VisitorOut {
    subscription_id: i64,
    room_name: String,
    room_address: String,
    start_local: Option<NaiveDateTime>,
    end_local: Option<NaiveDateTime>,
    start_utc: DateTime<Utc>,
    end_utc: DateTime<Utc>,
    host_name: Option<String>,
    host_address: Option<String>,
    visitor_name: Option<String>,
    visitor_address: Option<String>,
    company_domain: Option<String>,
    company: Option<String>,
    response: Option<String>,
    subject: Option<String>,
    is_private: bool,
    event_id: i64,
}

impl From<crate::storage::reading::Visitor> for VisitorOut {
    fn from(v: crate::storage::reading::Visitor) -> Self {
        Self {
            subscription_id: v.subscription_id,
            room_name: v.room_name,
            room_address: v.room_address,
            start_local: v.start_local,
            end_local: v.end_local,
            start_utc: v.start_utc,
            end_utc: v.end_utc,
            host_name: v.host_name,
            host_address: v.host_address,
            visitor_name: v.visitor_name,
            visitor_address: v.visitor_address,
            company_domain: v.company_domain,
            company: v.company,
            response: v.response,
            subject: v.subject,
            is_private: v.is_private,
            event_id: v.event_id,
        }
    }
}

/// The visitors expected on a day, in start order, in the token's subscriptions.
#[utoipa::path(get, path = "/api/v1/visitors", tag = "visitors", params(DayQuery),
    responses((status = 200, body = VisitorsOut), (status = 400, body = Problem), (status = 401, body = Problem), (status = 429, body = Problem)))]
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
    let visitors: Vec<VisitorOut> = state
        .db
        .visitors_on(day)
        .await?
        .into_iter()
        .filter(|v| caller.0.scope.allows(v.subscription_id))
        .map(VisitorOut::from)
        .collect();
    json(
        &headers,
        &VisitorsOut {
            date: day,
            visitors,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document lists exactly the routes the router serves, each with its method.
    #[test]
    fn openapi_document_matches_the_routes() {
        let doc = ApiDoc::openapi();
        let documented: std::collections::BTreeSet<&str> =
            doc.paths.paths.keys().map(String::as_str).collect();
        let served: std::collections::BTreeSet<&str> = routes().iter().map(|(p, _)| *p).collect();
        assert_eq!(documented, served);
        for item in doc.paths.paths.values() {
            assert!(item.get.is_some(), "every route is a GET");
        }
        let json = serde_json::to_value(&doc).expect("json");
        assert!(
            json["openapi"].as_str().unwrap_or("").starts_with("3.1"),
            "{}",
            json["openapi"]
        );
        assert!(json["components"]["securitySchemes"]["bearer"].is_object());
    }
}

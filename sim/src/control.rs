//! The simulator's control API under `/_sim/`: what tests, the demo and benchmarks use to change
//! the tenant and to read the truth. Not part of Microsoft's surface.

use std::time::Duration as StdDuration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Sim;
use super::faults::FaultRule;
use super::json as gj;
use super::model::{MailboxKind, RoomPolicy, TENANT_DOMAIN, TENANT_ID};
use super::state::{DEFAULT_ACCOUNT, DEFAULT_PASSWORD, EventPatch, NewEvent, SimError};

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = match self {
            SimError::Invalid(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::NOT_FOUND,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

type Result<T> = std::result::Result<T, SimError>;

pub async fn state(State(sim): State<Sim>) -> Json<Value> {
    let s = sim.lock();
    let apps: Vec<Value> = s
        .apps
        .values()
        .map(|a| json!({
            "clientId": a.client_id, "displayName": a.display_name, "redirectUris": a.redirect_uris,
            "permissions": a.permissions, "adminConsent": a.admin_consent, "appRoles": a.app_roles,
            "secrets": a.secrets.iter().map(|c| json!({ "expires": gj::rfc3339(c.expires) })).collect::<Vec<_>>(),
        }))
        .collect();
    let users: Vec<Value> = s
        .users
        .iter()
        .map(|u| json!({
            "id": u.id, "userPrincipalName": u.upn, "displayName": u.display_name,
            "kind": match u.kind { MailboxKind::Person => "person", MailboxKind::Room => "room", MailboxKind::Shared => "shared", MailboxKind::NoMailbox => "noMailbox" },
            "roomPolicy": u.room_policy,
            "calendars": s.calendars.iter().filter(|c| c.owner_id == u.id).map(|c| json!({
                "id": c.id, "name": c.name, "isDefault": c.is_default,
                "events": s.by_calendar.get(&c.id).map_or(0, Vec::len),
            })).collect::<Vec<_>>(),
        }))
        .collect();
    Json(json!({
        "tenantId": TENANT_ID, "domain": TENANT_DOMAIN,
        "account": DEFAULT_ACCOUNT, "password": DEFAULT_PASSWORD,
        "apps": apps, "users": users,
    }))
}

pub async fn create_event(State(sim): State<Sim>, Json(new): Json<NewEvent>) -> Result<Response> {
    let id = sim.lock().create_event(new)?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

pub async fn update_event(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    Json(patch): Json<EventPatch>,
) -> Result<StatusCode> {
    sim.lock().update_event(&id, patch)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_event(State(sim): State<Sim>, Path(id): Path<String>) -> Result<StatusCode> {
    sim.lock().delete_event(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct Move {
    /// Another calendar of the same mailbox; none: out of the calendar and back (Deleted Items
    /// and restore).
    #[serde(default)]
    calendar: Option<String>,
}

pub async fn move_event(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    body: Option<Json<Move>>,
) -> Result<StatusCode> {
    let to = body.and_then(|Json(m)| m.calendar);
    sim.lock().move_event(&id, to.as_deref())?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn revoke_sessions(
    State(sim): State<Sim>,
    Path(user): Path<String>,
) -> Result<StatusCode> {
    sim.lock().revoke_sessions(&user)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn expire_secrets(
    State(sim): State<Sim>,
    Path(client): Path<String>,
) -> Result<StatusCode> {
    sim.lock().expire_secrets(&client)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
pub struct Rotate {
    value: Option<String>,
}

pub async fn rotate_secret(
    State(sim): State<Sim>,
    Path(client): Path<String>,
    body: Option<Json<Rotate>>,
) -> Result<Json<Value>> {
    let value = sim
        .lock()
        .rotate_secret(&client, body.and_then(|b| b.0.value))?;
    Ok(Json(json!({ "value": value })))
}

#[derive(Deserialize)]
pub struct Granted {
    granted: bool,
}

pub async fn consent(
    State(sim): State<Sim>,
    Path(client): Path<String>,
    Json(body): Json<Granted>,
) -> Result<StatusCode> {
    sim.lock().set_consent(&client, body.granted)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct AppRoles {
    roles: Vec<String>,
}

/// Sets the application permissions an administrator has granted to the app (replacing them).
pub async fn app_roles(
    State(sim): State<Sim>,
    Path(client): Path<String>,
    Json(body): Json<AppRoles>,
) -> Result<StatusCode> {
    let mut s = sim.lock();
    s.app_mut(&client)?.app_roles = body.roles.into_iter().collect();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct Certificate {
    /// The certificate as PEM, as the admin center's upload takes it.
    pem: String,
}

/// Uploads a certificate to the app registration ("Certificates & secrets").
pub async fn add_certificate(
    State(sim): State<Sim>,
    Path(client): Path<String>,
    Json(body): Json<Certificate>,
) -> Result<StatusCode> {
    let key = super::state::KeyCredential::from_pem(&body.pem).map_err(SimError::Invalid)?;
    let mut s = sim.lock();
    s.app_mut(&client)?.certificates.push(key);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct RoomListMembers {
    /// The rooms' addresses.
    rooms: Vec<String>,
}

/// Sets the members of a room list (Exchange admin center: edit the room list's members).
pub async fn room_list(
    State(sim): State<Sim>,
    Path(address): Path<String>,
    Json(body): Json<RoomListMembers>,
) -> Result<StatusCode> {
    let mut s = sim.lock();
    let members = body
        .rooms
        .iter()
        .map(|a| {
            s.find_user_by_key(a)
                .map(|u| u.id.clone())
                .ok_or_else(|| SimError::Invalid(format!("unknown mailbox {a}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let list = s
        .room_lists
        .iter_mut()
        .find(|l| l.address.eq_ignore_ascii_case(&address))
        .ok_or_else(|| SimError::Invalid(format!("unknown room list {address}")))?;
    list.members = members;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeScope {
    /// Mailbox addresses an RBAC role assignment for calendars covers (`null`: none).
    rbac_calendars: Option<Vec<String>>,
    /// Mailbox addresses an application access policy restricts the Entra grant to.
    access_policy: Option<Vec<String>>,
    /// Seconds until Exchange applies the change (0: at once).
    #[serde(default)]
    delay_seconds: u64,
}

/// Configures Exchange Online's scope for the app's mailbox access.
pub async fn exchange_scope(
    State(sim): State<Sim>,
    Path(client): Path<String>,
    Json(body): Json<ExchangeScope>,
) -> Result<StatusCode> {
    let mut s = sim.lock();
    let ids = |s: &super::state::SimState,
               list: Option<Vec<String>>|
     -> Result<Option<std::collections::BTreeSet<String>>> {
        list.map(|l| {
            l.iter()
                .map(|a| {
                    s.find_user_by_key(a)
                        .map(|u| u.id.clone())
                        .ok_or_else(|| SimError::Invalid(format!("unknown mailbox {a}")))
                })
                .collect()
        })
        .transpose()
    };
    let scope = super::state::AppScope {
        rbac_calendars: ids(&s, body.rbac_calendars)?,
        access_policy: ids(&s, body.access_policy)?,
    };
    let at = s.now() + chrono::Duration::seconds(body.delay_seconds.min(86_400) as i64);
    let now = s.now();
    let app = s.app_mut(&client)?;
    let current = app.exchange.effective(now).clone();
    app.exchange = super::state::ExchangeAccess {
        applied: current,
        pending: Some((scope, at)),
    };
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct RedirectUri {
    uri: String,
}

pub async fn add_redirect_uri(
    State(sim): State<Sim>,
    Path(client): Path<String>,
    Json(body): Json<RedirectUri>,
) -> Result<StatusCode> {
    let mut s = sim.lock();
    let app = s.app_mut(&client)?;
    if !app.redirect_uris.contains(&body.uri) {
        app.redirect_uris.push(body.uri);
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delegation {
    reader: String,
    mailbox: String,
    granted: bool,
    /// Whether the reader may also view private items (absent: unchanged).
    can_view_private_items: Option<bool>,
}

pub async fn delegation(
    State(sim): State<Sim>,
    Json(body): Json<Delegation>,
) -> Result<StatusCode> {
    let mut s = sim.lock();
    s.set_delegation(&body.reader, &body.mailbox, body.granted)?;
    if let Some(allowed) = body.can_view_private_items {
        s.set_private_access(&body.reader, &body.mailbox, allowed && body.granted)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn room_policy(
    State(sim): State<Sim>,
    Path(room): Path<String>,
    Json(policy): Json<RoomPolicy>,
) -> Result<StatusCode> {
    sim.lock().set_room_policy(&room, policy)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
pub struct ExpireDelta {
    calendar: Option<String>,
}

pub async fn expire_delta(
    State(sim): State<Sim>,
    body: Option<Json<ExpireDelta>>,
) -> Result<Json<Value>> {
    let mut s = sim.lock();
    let calendar = match body.and_then(|b| b.0.calendar) {
        Some(c) => Some(s.resolve_calendar(&c)?),
        None => None,
    };
    let n = s.expire_delta_tokens(calendar.as_deref());
    Ok(Json(json!({ "expired": n })))
}

#[derive(Deserialize)]
pub struct Enabled {
    enabled: bool,
}

pub async fn replay_delta(State(sim): State<Sim>, Json(body): Json<Enabled>) -> StatusCode {
    sim.lock().replay_delta = body.enabled;
    StatusCode::NO_CONTENT
}

pub async fn add_fault(State(sim): State<Sim>, Json(rule): Json<FaultRule>) -> Result<StatusCode> {
    if !(0.0..=1.0).contains(&rule.rate) {
        return Err(SimError::Invalid("rate must be between 0 and 1".into()));
    }
    sim.lock().faults.push(rule);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn clear_faults(State(sim): State<Sim>) -> StatusCode {
    sim.lock().faults.clear();
    StatusCode::NO_CONTENT
}

/// Settings that change at run time. A field that is present and `null` switches a limit off.
pub async fn settings(State(sim): State<Sim>, Json(body): Json<Value>) -> Result<StatusCode> {
    let mut s = sim.lock();
    let get = |k: &str| body.get(k);
    if let Some(v) = get("mailboxConcurrency") {
        s.config.mailbox_concurrency = v.as_u64().map(|n| n as usize);
    }
    if let Some(v) = get("concurrencyScope") {
        s.config.concurrency_scope = serde_json::from_value(v.clone())
            .map_err(|e| SimError::Invalid(format!("concurrencyScope: {e}")))?;
    }
    if let Some(v) = get("occurrenceKeysFollowMaster") {
        s.config.occurrence_keys_follow_master = v.as_bool().unwrap_or(true);
    }
    if let Some(v) = get("latencyMs") {
        s.config.latency = StdDuration::from_millis(v.as_u64().unwrap_or(0));
    }
    if let Some(v) = get("accessTokenLifetimeSecs") {
        s.config.access_token_lifetime = v.as_u64().map(StdDuration::from_secs);
    }
    if let Some(v) = get("refreshGraceSecs") {
        s.config.refresh_grace = StdDuration::from_secs(v.as_u64().unwrap_or(0));
    }
    if let Some(v) = get("faultRate") {
        let rate = v.as_f64().unwrap_or(0.0);
        if !(0.0..=1.0).contains(&rate) {
            return Err(SimError::Invalid(
                "faultRate must be between 0 and 1".into(),
            ));
        }
        s.config.fault_rate = rate;
    }
    if let Some(v) = get("autoLogin") {
        s.auto_login = v.as_str().map(String::from);
    }
    if let Some(v) = get("autoConsent") {
        s.config.auto_consent = v.as_bool().unwrap_or(false);
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn counters(State(sim): State<Sim>) -> Json<Value> {
    Json(serde_json::to_value(&sim.lock().counters).unwrap_or(Value::Null))
}

pub async fn reset_counters(State(sim): State<Sim>) -> StatusCode {
    sim.lock().counters = Default::default();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
pub struct Clock {
    #[serde(rename = "advanceSeconds")]
    advance_seconds: i64,
}

pub async fn clock(State(sim): State<Sim>, Json(body): Json<Clock>) -> Json<Value> {
    let mut s = sim.lock();
    s.clock_offset += chrono::Duration::seconds(body.advance_seconds);
    Json(json!({ "now": gj::rfc3339(s.now()) }))
}

#[derive(Deserialize)]
pub struct TruthQuery {
    calendar: String,
    start: String,
    end: String,
    /// `rest` for the default ids; immutable ids otherwise (what Datapump asks for).
    #[serde(default)]
    ids: Option<String>,
}

pub async fn truth(State(sim): State<Sim>, Query(q): Query<TruthQuery>) -> Result<Json<Value>> {
    let (Some(start), Some(end)) = (gj::instant_param(&q.start), gj::instant_param(&q.end)) else {
        return Err(SimError::Invalid(
            "start and end must be ISO 8601 instants".into(),
        ));
    };
    let form = match q.ids.as_deref() {
        Some("rest") => crate::ids::IdForm::Rest,
        _ => crate::ids::IdForm::Immutable,
    };
    Ok(Json(
        json!({ "value": sim.truth(&q.calendar, start, end, form)? }),
    ))
}

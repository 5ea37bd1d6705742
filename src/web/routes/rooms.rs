//! Rooms' reception data: what Microsoft's room directory says (for profiles that may read
//! it) or what an admin entered, per subscribed room.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use crate::storage::rooms::{Room, RoomDetails};
use crate::storage::subscriptions::Subscription;
use crate::sync::rooms::{PLACES_SCOPE, REFRESHED_SETTING};
use crate::web::auth::Actor;
use crate::web::auth::SignedIn;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{self, FlashKind, FormErrors, Page, flash_args};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "rooms/list.html")]
pub struct ListTemplate {
    p: Page,
    rows: Vec<(Subscription, Option<Room>)>,
    /// Authorized profiles, and whether each may read the directory.
    profiles: Vec<(String, bool)>,
    refreshed_at: Option<String>,
}

pub async fn list(State(state): State<AppState>, p: Page) -> WebResult<Response> {
    let rooms = state.db.list_rooms().await?;
    let rows = state
        .db
        .list_subscriptions(None)
        .await?
        .into_iter()
        .map(|s| {
            let r = rooms.iter().find(|r| r.subscription_id == s.id).cloned();
            (s, r)
        })
        .collect();
    let profiles = state
        .db
        .list_profiles()
        .await?
        .into_iter()
        .filter(|x| x.status == crate::model::ProfileStatus::Ok)
        .map(|x| {
            let may = x.scopes().iter().any(|s| s == PLACES_SCOPE);
            (x.name, may)
        })
        .collect();
    let refreshed_at = state
        .db
        .setting(REFRESHED_SETTING)
        .await?
        .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
        .map(|t| p.time(&t.with_timezone(&chrono::Utc)));
    page::ok(&ListTemplate {
        p,
        rows,
        profiles,
        refreshed_at,
    })
}

#[derive(Deserialize)]
pub struct EmptyForm {}

/// Reads the directories now.
pub async fn refresh(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    Form(_): Form<EmptyForm>,
) -> WebResult<Response> {
    let report = state.sync.refresh_rooms().await?;
    if report.failed.is_empty() {
        flash_args(
            &session,
            FlashKind::Success,
            "rooms-refreshed",
            &[
                ("matched", &report.matched.to_string()),
                ("updated", &report.updated.to_string()),
            ],
        )
        .await?;
    } else {
        let reasons = report
            .failed
            .iter()
            .map(|(name, e)| format!("{name}: {e}"))
            .collect::<Vec<_>>()
            .join("; ");
        flash_args(
            &session,
            FlashKind::Error,
            "rooms-refresh-failed",
            &[("reasons", &reasons)],
        )
        .await?;
    }
    Ok(p.redirect("/rooms"))
}

#[derive(Template)]
#[template(path = "rooms/edit.html")]
pub struct EditTemplate {
    p: Page,
    s: Subscription,
    room: Option<Room>,
    form: RoomForm,
    errors: FormErrors,
}

#[derive(Deserialize, Default)]
pub struct RoomForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    building: String,
    #[serde(default)]
    room_list: String,
    #[serde(default)]
    floor_number: String,
    #[serde(default)]
    floor_label: String,
    #[serde(default)]
    capacity: String,
    #[serde(default)]
    address: String,
}

impl RoomForm {
    fn of(r: Option<&Room>) -> Self {
        let Some(r) = r else {
            return Self::default();
        };
        Self {
            display_name: r.display_name.clone().unwrap_or_default(),
            building: r.building.clone().unwrap_or_default(),
            room_list: r.room_list.clone().unwrap_or_default(),
            floor_number: r.floor_number.map(|n| n.to_string()).unwrap_or_default(),
            floor_label: r.floor_label.clone().unwrap_or_default(),
            capacity: r.capacity.map(|n| n.to_string()).unwrap_or_default(),
            address: r.address.clone().unwrap_or_default(),
        }
    }

    fn details(&self, errors: &mut FormErrors) -> Option<RoomDetails> {
        let text = |field: &'static str, v: &str, errors: &mut FormErrors| {
            let v = v.trim();
            if v.chars().count() > 200 {
                errors.add(field, "rooms-text-too-long");
            }
            (!v.is_empty()).then(|| v.to_string())
        };
        let number = |field: &'static str, v: &str, min: i64, max: i64, errors: &mut FormErrors| {
            let v = v.trim();
            if v.is_empty() {
                return None;
            }
            let n = v.parse::<i64>().ok().filter(|n| (min..=max).contains(n));
            if n.is_none() {
                errors.add(field, "rooms-number-invalid");
            }
            n
        };
        let d = RoomDetails {
            display_name: text("display_name", &self.display_name, errors),
            building: text("building", &self.building, errors),
            room_list: text("room_list", &self.room_list, errors),
            floor_number: number("floor_number", &self.floor_number, -20, 300, errors),
            floor_label: text("floor_label", &self.floor_label, errors),
            capacity: number("capacity", &self.capacity, 0, 100_000, errors),
            address: text("address", &self.address, errors),
        };
        errors.is_empty().then_some(d)
    }
}

async fn live(state: &AppState, id: i64) -> WebResult<Subscription> {
    state
        .db
        .list_subscriptions(None)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(WebError::NotFound)
}

pub async fn edit_form(
    State(state): State<AppState>,
    p: Page,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let s = live(&state, id).await?;
    let room = state.db.room(id).await?;
    page::ok(&EditTemplate {
        p,
        form: RoomForm::of(room.as_ref()),
        s,
        room,
        errors: FormErrors::default(),
    })
}

pub async fn save(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(form): Form<RoomForm>,
) -> WebResult<Response> {
    let s = live(&state, id).await?;
    let mut errors = FormErrors::default();
    let Some(details) = form.details(&mut errors) else {
        let room = state.db.room(id).await?;
        return page::render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &EditTemplate {
                p,
                s,
                room,
                form,
                errors,
            },
        );
    };
    let audit = actor.record("room.updated", Some(s.display_name.clone()), None);
    state
        .db
        .set_room_by_admin(id, &details, &me.username, &audit)
        .await?;
    flash_args(
        &session,
        FlashKind::Success,
        "rooms-saved",
        &[("name", &s.display_name)],
    )
    .await?;
    Ok(p.redirect("/rooms"))
}

/// Hands the room back to the directory.
pub async fn reset(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(_): Form<EmptyForm>,
) -> WebResult<Response> {
    let s = live(&state, id).await?;
    let audit = actor.record("room.reset", Some(s.display_name.clone()), None);
    state.db.reset_room(id, &audit).await?;
    if let Err(e) = state.sync.refresh_rooms().await {
        tracing::warn!(error = %e, "room directory refresh failed");
    }
    flash_args(
        &session,
        FlashKind::Success,
        "rooms-reset",
        &[("name", &s.display_name)],
    )
    .await?;
    Ok(p.redirect("/rooms"))
}

//! Whole room lists subscribed in one step (from the connect page), and the page that shows
//! each list with its rooms: subscribed, paused because the list no longer names them.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use crate::storage::StoreError;
use crate::storage::room_lists::{NewRoomList, RoomListSubscription};
use crate::storage::subscriptions::Subscription;
use crate::subscriptions::SubscribeForm;
use crate::sync::room_lists::ListCheck;
use crate::web::auth::Actor;
use crate::web::auth::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::{self, FlashKind, Page, flash, flash_args};
use crate::web::state::AppState;

#[derive(Deserialize)]
pub struct ListForm {
    #[serde(default)]
    list_address: String,
    #[serde(default)]
    list_name: String,
    #[serde(default)]
    days_back: String,
    #[serde(default)]
    days_ahead: String,
    #[serde(default)]
    interval_minutes: String,
    mask_private: Option<String>,
}

async fn report(session: &Session, name: &str, check: &ListCheck) -> WebResult<()> {
    if let Some(e) = &check.error {
        flash_args(
            session,
            FlashKind::Error,
            "room-list-unreadable",
            &[("name", name), ("reasons", e)],
        )
        .await?;
        return Ok(());
    }
    flash_args(
        session,
        FlashKind::Success,
        "room-list-checked",
        &[
            ("name", name),
            ("count", &check.added.len().to_string()),
            ("updated", &check.removed.len().to_string()),
        ],
    )
    .await?;
    if !check.failed.is_empty() {
        let reasons: Vec<String> = check
            .failed
            .iter()
            .map(|(a, why)| format!("{a}: {why}"))
            .collect();
        flash_args(
            session,
            FlashKind::Error,
            "room-list-rooms-failed",
            &[("reasons", &reasons.join("; "))],
        )
        .await?;
    }
    Ok(())
}

/// Subscribes a whole room list through the profile and reads it at once.
pub async fn subscribe(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(form): Form<ListForm>,
) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    let settings = SubscribeForm {
        display_name: form.list_name.clone(),
        days_back: form.days_back.clone(),
        days_ahead: form.days_ahead.clone(),
        interval_minutes: form.interval_minutes.clone(),
        mask_private: form.mask_private.clone(),
        ..SubscribeForm::default()
    }
    .settings();
    let address = form.list_address.trim();
    let (Ok(settings), true) = (settings, address.contains('@')) else {
        flash(&session, FlashKind::Error, "room-list-form-invalid").await?;
        return Ok(p.redirect(&format!("/profiles/{id}/connect?rooms=1")));
    };
    let audit = actor.record(
        "room_list.subscribed",
        Some(settings.display_name.clone()),
        Some(format!("{address} via {}", profile.name)),
    );
    let new_list = NewRoomList {
        profile_id: profile.id,
        list_address: address,
        list_name: &settings.display_name,
        days_back: settings.days_back,
        days_ahead: settings.days_ahead,
        interval_minutes: settings.interval_minutes,
        mask_private: settings.mask_private,
        created_by: &me.username,
    };
    let list = match state.db.create_room_list(&new_list, &audit).await {
        Ok(l) => l,
        Err(StoreError::Duplicate) => {
            flash(&session, FlashKind::Info, "room-list-subscribed-already").await?;
            return Ok(p.redirect("/room-lists"));
        }
        Err(e) => return Err(e.into()),
    };
    let check = state.sync.check_room_list(list).await?;
    report(&session, &settings.display_name, &check).await?;
    Ok(p.redirect("/room-lists"))
}

#[derive(Template)]
#[template(path = "room_lists.html")]
pub struct ListsTemplate {
    p: Page,
    lists: Vec<(RoomListSubscription, String, Vec<Subscription>)>,
}

pub async fn list(State(state): State<AppState>, p: Page) -> WebResult<Response> {
    let subs = state.db.list_subscriptions(None).await?;
    let profiles = state.db.list_profiles().await?;
    let lists = state
        .db
        .room_lists_subscribed()
        .await?
        .into_iter()
        .map(|l| {
            let members = subs
                .iter()
                .filter(|s| s.room_list_id == Some(l.id))
                .cloned()
                .collect();
            let profile = profiles
                .iter()
                .find(|x| x.id == l.profile_id)
                .map(|x| x.name.clone())
                .unwrap_or_default();
            (l, profile, members)
        })
        .collect();
    page::ok(&ListsTemplate { p, lists })
}

/// Reads a list now instead of at its next check.
pub async fn check(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let list = state.db.room_list_subscribed(id).await?;
    let check = state.sync.check_room_list(id).await?;
    report(&session, &list.list_name, &check).await?;
    Ok(p.redirect("/room-lists"))
}

/// Stops following a list; its rooms stay subscribed as they are.
pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let list = state.db.room_list_subscribed(id).await?;
    let audit = actor.record("room_list.unsubscribed", Some(list.list_name.clone()), None);
    state.db.delete_room_list(id, &audit).await?;
    flash_args(
        &session,
        FlashKind::Success,
        "room-list-deleted",
        &[("name", &list.list_name)],
    )
    .await?;
    Ok(p.redirect("/room-lists"))
}

impl ListsTemplate {
    pub fn paused_count(&self, members: &[Subscription]) -> usize {
        members
            .iter()
            .filter(|s| s.removed_from_list_at.is_some())
            .count()
    }
}

//! Subscribing the calendar shown on the connect page.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use tower_sessions::Session;

use super::{ConnectQuery, render, token_or_paused};
use crate::graph::Endpoints;
use crate::graph::api::CalendarRef;
use crate::model::SubscriptionSource;
use crate::subscriptions::{Outcome, Request, SubscribeForm};
use crate::web::auth::Actor;
use crate::web::error::WebResult;
use crate::web::page::{FlashKind, FormErrors, Page, flash_args};
use crate::web::state::AppState;

/// Subscribes a calendar. It is found again through Graph, so only a calendar the profile can
/// really read is subscribed, under its real id; no preview is read for it.
pub async fn subscribe(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(form): Form<SubscribeForm>,
) -> WebResult<Response> {
    let r = match form.source.parse() {
        Ok(SubscriptionSource::Own) => CalendarRef::Own(form.calendar_id.clone()),
        _ => CalendarRef::Mailbox(form.mailbox.clone()),
    };
    let query = match &r {
        CalendarRef::Own(c) => ConnectQuery {
            own: Some(c.clone()),
            ..Default::default()
        },
        CalendarRef::Mailbox(a) => ConnectQuery {
            address: Some(a.clone()),
            ..Default::default()
        },
    };
    let settings = match form.settings() {
        Ok(s) => s,
        Err(invalid) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render(&state, p, id, query, invalid.into(), Some(form), status).await;
        }
    };
    let profile = state.db.profile(id).await?;
    let token = match token_or_paused(&state, p.clone(), &profile).await? {
        Ok(t) => t,
        Err(paused) => return Ok(paused),
    };
    let graph = state
        .tokens
        .client()
        .graph(&Endpoints::from(&profile), &token);
    let name = settings.display_name.clone();
    let request = Request {
        profile: &profile,
        calendar: r,
        settings,
        by: &actor,
        via: None,
        room_list: None,
    };
    match crate::subscriptions::subscribe(&state.db, &graph, request).await? {
        Outcome::Created { id: sub, .. } => {
            flash_args(
                &session,
                FlashKind::Success,
                "sub-created",
                &[("name", &name)],
            )
            .await?;
            Ok(p.redirect(&format!("/subscriptions/{sub}")))
        }
        // Subscribed by someone else (or just now in another tab): the page shows where.
        Outcome::AlreadySubscribed { .. } => {
            let errors = FormErrors::default();
            render(
                &state,
                p,
                id,
                query,
                errors,
                Some(form),
                StatusCode::CONFLICT,
            )
            .await
        }
        Outcome::Refused(_) => {
            let mut errors = FormErrors::default();
            errors.add("form", "sub-calendar-unavailable");
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, p, id, query, errors, Some(form), status).await
        }
    }
}

//! The ICS feed: its public address (a secret token in the URL, no sign-in, as calendar clients
//! need) and the admin's actions that create, replace and turn off that address.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::show_page;
use crate::feeds::ics;
use crate::i18n::Lang;
use crate::subscriptions::manage;
use crate::web::auth::Actor;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{FlashKind, Page, flash};
use crate::web::state::AppState;

/// `GET /feeds/{token}.ics`. An unknown, replaced or turned-off token is a plain 404: the
/// answer does not tell whether a subscription exists.
pub async fn serve(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "not found").into_response();
    let Some(token) = file
        .strip_suffix(".ics")
        .filter(|t| !t.is_empty() && t.len() <= 128)
    else {
        return not_found();
    };
    let hash = crate::crypto::token_hash(token);
    let found = async {
        let Some(id) = state.db.subscription_by_feed(&hash).await? else {
            return Ok(None);
        };
        let s = state.db.subscription(id).await?;
        let events = state.db.events_of(id).await?;
        Ok::<_, crate::storage::StoreError>(Some((s, events)))
    }
    .await;
    match found {
        Ok(Some((s, events))) => {
            let lang = Lang::default();
            let body = ics::calendar(
                &s.display_name,
                &events,
                &ics::Labels {
                    private: &lang.t("feed-private"),
                    untitled: &lang.t("feed-untitled"),
                },
                state.config.sync_policy.time_zone,
            );
            let mut response = body.into_response();
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=300"),
            );
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            response
        }
        Ok(None) => not_found(),
        Err(e) => {
            tracing::warn!(error = %e, "could not serve a calendar feed");
            (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct FeedForm {
    /// `create` (also replaces an existing link) or `disable`.
    action: String,
}

/// Creates (or replaces) the feed link, shown once on the page that answers, or turns it off.
pub async fn change(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(form): Form<FeedForm>,
) -> WebResult<Response> {
    let s = state.db.subscription(id).await?;
    match form.action.as_str() {
        "create" => {
            let token = manage::new_feed(&state.db, &s, &actor).await?;
            let url = state
                .config
                .public_url
                .absolute(&format!("/feeds/{token}.ics"));
            show_page(&state, p, id, Some(url)).await
        }
        "disable" => {
            manage::disable_feed(&state.db, &s, &actor).await?;
            flash(&session, FlashKind::Success, "feed-disabled").await?;
            Ok(p.redirect(&format!("/subscriptions/{id}")))
        }
        _ => Err(WebError::BadRequest("error-bad-request")),
    }
}

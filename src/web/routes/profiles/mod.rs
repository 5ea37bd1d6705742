//! Profiles: create, edit, replace the client secret, delete; authorize ("Test") through the
//! OAuth code flow with PKCE and finish it at `/callback`, at the root route, or from an address
//! the admin pastes.

mod certificate;
mod connection;
mod delete;
mod form;
mod oauth;
mod secret;

pub use certificate::{download, regenerate, upload};
use connection::ScopeForm;
pub use connection::{disconnect, retry, scope_check};
pub use delete::{delete, delete_form};
pub use form::{create, edit_form, new_form, update};
pub use oauth::{CallbackParams, authorize, callback, complete_pasted, finish, profile_callback};
pub use secret::{SecretTemplate, replace_secret, secret_form};

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::crypto;
use crate::model::CredentialKind;
use crate::profiles::authorization::{Arrival, AuthorizeError, Authorized, Completion, Reply};
use crate::profiles::changes;
use crate::profiles::{self, Cloud, ProfileInput, ProfileKind, ProfileStatus, Validation};
use crate::storage::StoreError;
use crate::storage::profiles::{Profile, StoredCredential};
use crate::web::auth::Actor;
use crate::web::auth::SignedIn;
use crate::web::error::{WebError, WebResult};
use crate::web::headers::ExtraFormAction;
use crate::web::page::{self, FlashKind, FormErrors, Page, flash, flash_args};
use crate::web::state::AppState;

use crate::web::profile_view::ProfileView;

const PENDING_KEY: &str = "oauth_pending";
const RESULT_KEY: &str = "auth_result";

fn login_origin(p: &Profile) -> Vec<String> {
    url::Url::parse(&p.login_base)
        .map(|u| vec![u.origin().ascii_serialization()])
        .unwrap_or_default()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    hash: String,
    profile_id: i64,
}

#[derive(Template)]
#[template(path = "profiles/list.html")]
pub struct ListTemplate {
    p: Page,
    profiles: Vec<ProfileView>,
}

pub async fn list(State(state): State<AppState>, p: Page) -> WebResult<Response> {
    let counts = state.db.subscription_counts().await?;
    let profiles = state
        .db
        .list_profiles()
        .await?
        .into_iter()
        .map(|x| ProfileView::counted(x, &state, &counts))
        .collect();
    page::ok(&ListTemplate { p, profiles })
}

fn errors_of(v: &Validation) -> FormErrors {
    let mut errors = FormErrors::default();
    for (field, key) in &v.errors {
        errors.add(field, *key);
    }
    errors
}

#[derive(Template)]
#[template(path = "profiles/show.html")]
pub struct ShowTemplate {
    p: Page,
    v: ProfileView,
    result: Option<Authorized>,
    pending: bool,
    paste_error: bool,
    /// A refused scope-check form: the message, and what was entered.
    scope_error: Option<&'static str>,
    scope_room: String,
    scope_outside: String,
    /// Application profiles: the room lists of their subscribed rooms (from the directory).
    room_lists: Vec<String>,
}

async fn pending_for(session: &Session, id: i64) -> WebResult<bool> {
    let list: Vec<Pending> = session.get(PENDING_KEY).await?.unwrap_or_default();
    Ok(list.iter().any(|x| x.profile_id == id))
}

async fn show_page(
    state: &AppState,
    session: &Session,
    p: Page,
    id: i64,
    paste_error: bool,
    scope_form: Option<ScopeForm>,
    status: StatusCode,
) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    let result: Option<Authorized> = session.remove(RESULT_KEY).await?;
    let result = result.filter(|r| r.profile_id == id);
    let pending = pending_for(session, id).await?;
    let origins = login_origin(&profile);
    let room_lists = if profile.kind == ProfileKind::Application {
        let mine: std::collections::HashSet<i64> = state
            .db
            .list_subscriptions(Some(id))
            .await?
            .iter()
            .map(|s| s.id)
            .collect();
        let mut lists: Vec<String> = state
            .db
            .list_rooms()
            .await?
            .into_iter()
            .filter(|r| mine.contains(&r.subscription_id))
            .filter_map(|r| r.room_list)
            .collect();
        lists.sort();
        lists.dedup();
        lists
    } else {
        Vec::new()
    };
    let (scope_room, scope_outside) = match &scope_form {
        Some(f) => (f.room.clone(), f.outside.clone()),
        None => (
            profile.scope_probe_room.clone().unwrap_or_default(),
            profile.scope_probe_outside.clone().unwrap_or_default(),
        ),
    };
    let mut response = page::render(
        status,
        &ShowTemplate {
            p,
            v: ProfileView::counted(profile, state, &state.db.subscription_counts().await?),
            result,
            pending,
            paste_error,
            scope_error: scope_form.and_then(|f| f.error),
            scope_room,
            scope_outside,
            room_lists,
        },
    )?;
    response.extensions_mut().insert(ExtraFormAction(origins));
    Ok(response)
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    show_page(&state, &session, p, id, false, None, StatusCode::OK).await
}

fn input_of(profile: &Profile) -> ProfileInput {
    ProfileInput {
        kind: profile.kind.as_str().into(),
        name: profile.name.clone(),
        tenant: profile.tenant.clone(),
        client_id: profile.client_id.clone(),
        credential: profile.credential.as_str().into(),
        client_secret: String::new(),
        secret_expires_on: profile.secret_expires_on.to_string(),
        cloud: profile.cloud.as_str().to_string(),
        login_base: profile.login_base.clone(),
        graph_base: profile.graph_base.clone(),
        redirect_uri: profile.redirect_uri.clone().unwrap_or_default(),
        notes: profile.notes.clone(),
        version: Some(profile.version),
    }
}

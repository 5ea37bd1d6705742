//! Managing admin accounts: list, create, change role, disable, reset password, end sessions.
//! Edits carry the version they were made on; a stale version gets a conflict message instead of
//! silently overwriting another admin's change.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use crate::auth::password;
use crate::storage::StoreError;
use crate::storage::admins::{Admin, AdminUpdate, NewAdmin, Role};
use crate::web::auth::Actor;
use crate::web::auth::{self, SignedIn};
use crate::web::error::{WebError, WebResult};
use crate::web::page::{self, FlashKind, FormErrors, Page, flash_args};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "admins/list.html")]
pub struct ListTemplate {
    p: Page,
    admins: Vec<Admin>,
}

pub async fn list(State(state): State<AppState>, p: Page) -> WebResult<Response> {
    let admins = state.db.list_admins().await?;
    page::ok(&ListTemplate { p, admins })
}

#[derive(Template)]
#[template(path = "admins/new.html")]
pub struct NewTemplate {
    p: Page,
    username: String,
    role: Role,
    errors: FormErrors,
}

pub async fn new_form(p: Page) -> WebResult<Response> {
    page::ok(&NewTemplate {
        p,
        username: String::new(),
        role: Role::Viewer,
        errors: FormErrors::default(),
    })
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    username: String,
    role: Option<String>,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Form(form): Form<CreateForm>,
) -> WebResult<Response> {
    let mut errors = FormErrors::default();
    let role = match form.role.as_deref().unwrap_or("viewer").parse::<Role>() {
        Ok(r) => r,
        Err(_) => {
            errors.add("role", "role-invalid");
            Role::Viewer
        }
    };
    for (field, key) in
        crate::auth::check_new_credentials(&form.username, &form.password, &form.password_confirm)
    {
        errors.add(field, key);
    }
    let invalid = |p: Page, errors: FormErrors| {
        page::render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &NewTemplate {
                p,
                username: form.username.clone(),
                role,
                errors,
            },
        )
    };
    if !errors.is_empty() {
        return invalid(p, errors);
    }
    let hash = password::hash(&form.password).await?;
    let audit = actor.record(
        "admin.created",
        Some(form.username.trim().to_string()),
        Some(format!("role: {}", role.as_str())),
    );
    let new_admin = NewAdmin {
        username: &form.username,
        password_hash: &hash,
        role,
    };
    let created = state.db.create_admin(new_admin, Some(&audit)).await;
    let admin = match created {
        Ok(a) => a,
        Err(StoreError::Duplicate) => {
            errors.add("username", "username-taken");
            return invalid(p, errors);
        }
        Err(e) => return Err(e.into()),
    };
    flash_args(
        &session,
        FlashKind::Success,
        "admin-created",
        &[("name", &admin.username)],
    )
    .await?;
    Ok(p.redirect("/admins"))
}

#[derive(Template)]
#[template(path = "admins/show.html")]
pub struct ShowTemplate {
    p: Page,
    admin: Admin,
    sessions: i64,
    is_self: bool,
    conflict: bool,
    errors: FormErrors,
}

async fn show_page(
    state: &AppState,
    p: Page,
    admin: Admin,
    status: StatusCode,
    conflict: bool,
    errors: FormErrors,
) -> WebResult<Response> {
    let sessions = state.db.count_sessions_of(admin.id).await?;
    let is_self = p.admin.as_ref().is_some_and(|me| me.id == admin.id);
    page::render(
        status,
        &ShowTemplate {
            p,
            admin,
            sessions,
            is_self,
            conflict,
            errors,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    p: Page,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let admin = state.db.admin_by_id(id).await?;
    show_page(
        &state,
        p,
        admin,
        StatusCode::OK,
        false,
        FormErrors::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct UpdateForm {
    role: String,
    /// A checkbox: present when ticked.
    disabled: Option<String>,
    version: i64,
}

pub async fn update(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(form): Form<UpdateForm>,
) -> WebResult<Response> {
    let role = form
        .role
        .parse::<Role>()
        .map_err(|_| WebError::BadRequest("role-invalid"))?;
    let disabled = form.disabled.is_some();
    let before = state.db.admin_by_id(id).await?;
    if id == me.id && disabled {
        let mut errors = FormErrors::default();
        errors.add("disabled", "admin-cannot-disable-self");
        return show_page(
            &state,
            p,
            before,
            StatusCode::UNPROCESSABLE_ENTITY,
            false,
            errors,
        )
        .await;
    }
    let update = AdminUpdate {
        role,
        disabled,
        version: form.version,
    };
    let audit = |after: &crate::storage::admins::Admin| {
        let details = format!(
            "role: {} -> {}; disabled: {} -> {}",
            before.role.as_str(),
            after.role.as_str(),
            before.disabled,
            after.disabled
        );
        actor.record("admin.updated", Some(after.username.clone()), Some(details))
    };
    match state.db.update_admin(id, &update, audit).await {
        Ok(after) => {
            if id == me.id {
                // A role change rotated the stamp; keep this session valid.
                auth::refresh_stamp(&session, &after).await?;
            }
            flash_args(
                &session,
                FlashKind::Success,
                "admin-updated",
                &[("name", &after.username)],
            )
            .await?;
            Ok(p.redirect(&format!("/admins/{id}")))
        }
        Err(StoreError::Conflict) => {
            let current = state.db.admin_by_id(id).await?;
            show_page(
                &state,
                p,
                current,
                StatusCode::CONFLICT,
                true,
                FormErrors::default(),
            )
            .await
        }
        Err(StoreError::LastAdmin) => {
            let mut errors = FormErrors::default();
            errors.add("role", "error-last-admin");
            show_page(&state, p, before, StatusCode::CONFLICT, false, errors).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn reset_password(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(form): Form<ResetForm>,
) -> WebResult<Response> {
    let admin = state.db.admin_by_id(id).await?;
    let mut errors = FormErrors::default();
    if let Err(v) = password::check_policy(&form.password, &admin.username) {
        errors.add("password", v.message_key());
    } else if form.password != form.password_confirm {
        errors.add("password_confirm", "password-mismatch");
    }
    if !errors.is_empty() {
        return show_page(
            &state,
            p,
            admin,
            StatusCode::UNPROCESSABLE_ENTITY,
            false,
            errors,
        )
        .await;
    }
    let hash = password::hash(&form.password).await?;
    let audit = actor.record("admin.password_reset", Some(admin.username.clone()), None);
    // Another admin's sessions end; one's own continues with the new stamp.
    let own = id == me.id;
    let updated = state.db.set_admin_password(id, &hash, !own, &audit).await?;
    if own {
        auth::refresh_stamp(&session, &updated).await?;
    }
    flash_args(
        &session,
        FlashKind::Success,
        "admin-password-reset",
        &[("name", &admin.username)],
    )
    .await?;
    Ok(p.redirect(&format!("/admins/{id}")))
}

pub async fn end_sessions(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let admin = state.db.admin_by_id(id).await?;
    if id == me.id {
        return Err(WebError::BadRequest("admin-cannot-end-own-sessions"));
    }
    let audit = |n: u64| {
        let details = Some(format!("{n} session(s)"));
        actor.record(
            "admin.sessions_ended",
            Some(admin.username.clone()),
            details,
        )
    };
    let n = state.db.delete_sessions_of(id, audit).await?;
    flash_args(
        &session,
        FlashKind::Success,
        "admin-sessions-ended",
        &[("name", &admin.username), ("count", &n.to_string())],
    )
    .await?;
    Ok(p.redirect(&format!("/admins/{id}")))
}

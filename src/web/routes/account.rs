//! An admin's own account: password change (with the current password as re-authentication),
//! the time zone times are shown in, and re-authentication before sensitive actions.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use crate::auth::password::{self, Verified};
use crate::auth::throttle::Decision;
use crate::storage::admins::{Admin, ZoneChoice};
use crate::web::auth::Actor;
use crate::web::auth::{self, SignedIn};
use crate::web::error::WebResult;
use crate::web::page::{self, FlashKind, FormErrors, Page, flash};
use crate::web::state::AppState;

/// The outcome of checking a signed-in admin's own password.
pub(crate) enum OwnPassword {
    Right,
    Wrong,
    /// Too many wrong ones lately: not checked.
    Throttled,
}

/// Checks the signed-in admin's own password (password change, re-authentication). It is a
/// sign-in of its own, so that a taken-over session cannot guess it freely: the same
/// reservation, slowdown and refusal as the login form.
pub(crate) async fn check_own_password(
    state: &AppState,
    admin: &Admin,
    password: &str,
    ip: Option<&str>,
    headers: &axum::http::HeaderMap,
) -> WebResult<OwnPassword> {
    let device = auth::device_of(state, headers);
    let attempt = state
        .throttle
        .reserve(&state.db, &admin.username, ip, device.as_deref())
        .await?;
    match attempt.decision {
        Decision::Refuse { .. } | Decision::Busy => return Ok(OwnPassword::Throttled),
        Decision::Allow { delay } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
    }
    let verified = {
        let _permit = state.hashing.acquire(attempt.known_device).await;
        password::verify(password, &admin.password_hash).await?
    };
    if verified == Verified::No {
        return Ok(OwnPassword::Wrong);
    }
    state.throttle.confirmed(&state.db, &attempt).await?;
    Ok(OwnPassword::Right)
}

#[derive(Template)]
#[template(path = "reauth.html")]
pub struct ReauthTemplate {
    p: Page,
    next: String,
    error: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Asks for the password again before a sensitive action.
pub async fn reauth_form(p: Page, Query(q): Query<NextQuery>) -> WebResult<Response> {
    page::ok(&ReauthTemplate {
        p,
        next: auth::safe_next(q.next.as_deref()),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct ReauthForm {
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn reauth(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    headers: axum::http::HeaderMap,
    Form(form): Form<ReauthForm>,
) -> WebResult<Response> {
    let admin = state.db.admin_by_id(me.id).await?;
    let next = auth::safe_next(form.next.as_deref());
    let (status, error) = match check_own_password(
        &state,
        &admin,
        &form.password,
        actor.ip.as_deref(),
        &headers,
    )
    .await?
    {
        OwnPassword::Right => {
            auth::mark_verified(&session).await?;
            state
                .db
                .record_audit(actor.record(
                    "session.reauthenticated",
                    Some(admin.username.clone()),
                    None,
                ))
                .await?;
            return Ok(p.redirect(&next));
        }
        OwnPassword::Wrong => (StatusCode::UNAUTHORIZED, "password-current-wrong"),
        OwnPassword::Throttled => (StatusCode::TOO_MANY_REQUESTS, "password-current-throttled"),
    };
    page::render(
        status,
        &ReauthTemplate {
            p,
            next,
            error: Some(error),
        },
    )
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountTemplate {
    p: Page,
    errors: FormErrors,
    now: chrono::DateTime<chrono::Utc>,
}

impl AccountTemplate {
    fn new(p: Page, errors: FormErrors) -> Self {
        Self {
            p,
            errors,
            now: chrono::Utc::now(),
        }
    }
}

pub async fn show(p: Page) -> WebResult<Response> {
    page::ok(&AccountTemplate::new(p, FormErrors::default()))
}

#[derive(Deserialize)]
pub struct ZoneForm {
    /// An IANA name, or empty for the instance's zone.
    #[serde(default)]
    zone: String,
}

/// The admin's own zone for the times on every page (the database keeps UTC).
pub async fn set_time_zone(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    Form(form): Form<ZoneForm>,
) -> WebResult<Response> {
    let zone = match form.zone.trim() {
        "" => None,
        name => match name.parse::<chrono_tz::Tz>() {
            Ok(z) => Some(z),
            Err(_) => {
                let mut errors = FormErrors::default();
                errors.add("zone", "account-zone-unknown");
                return page::render(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &AccountTemplate::new(p, errors),
                );
            }
        },
    };
    state
        .db
        .set_admin_time_zone(me.id, ZoneChoice(zone))
        .await?;
    flash(&session, FlashKind::Success, "account-zone-saved").await?;
    Ok(p.redirect("/account"))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    headers: axum::http::HeaderMap,
    Form(form): Form<PasswordForm>,
) -> WebResult<Response> {
    let admin = state.db.admin_by_id(me.id).await?;
    let mut errors = FormErrors::default();
    match check_own_password(&state, &admin, &form.current, actor.ip.as_deref(), &headers).await? {
        OwnPassword::Throttled => {
            errors.add("current", "password-current-throttled");
            return page::render(
                StatusCode::TOO_MANY_REQUESTS,
                &AccountTemplate::new(p, errors),
            );
        }
        OwnPassword::Wrong => errors.add("current", "password-current-wrong"),
        OwnPassword::Right => {}
    }
    if let Err(v) = password::check_policy(&form.password, &admin.username) {
        errors.add("password", v.message_key());
    } else if form.password != form.password_confirm {
        errors.add("password_confirm", "password-mismatch");
    }
    if !errors.is_empty() {
        return page::render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &AccountTemplate::new(p, errors),
        );
    }
    let hash = password::hash(&form.password).await?;
    let audit = actor.record(
        "account.password_changed",
        Some(admin.username.clone()),
        None,
    );
    let updated = state
        .db
        .set_admin_password(admin.id, &hash, false, &audit)
        .await?;
    // Other sessions of this admin end with the old stamp; this one continues.
    auth::refresh_stamp(&session, &updated).await?;
    auth::mark_verified(&session).await?;
    flash(&session, FlashKind::Success, "password-changed").await?;
    Ok(p.redirect("/account"))
}

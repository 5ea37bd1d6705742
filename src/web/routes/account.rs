//! An admin's own account: password change (with the current password as re-authentication).

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use super::Actor;
use crate::auth::password::{self, Verified};
use crate::auth::throttle::Decision;
use crate::web::auth::{self, SignedIn};
use crate::web::error::WebResult;
use crate::web::page::{self, FlashKind, FormErrors, Page, flash};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountTemplate {
    p: Page,
    errors: FormErrors,
}

pub async fn show(p: Page) -> WebResult<Response> {
    page::ok(&AccountTemplate {
        p,
        errors: FormErrors::default(),
    })
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
    // The current password is a sign-in of its own (a taken-over session must not guess it
    // freely): the same reservation, slowdown and refusal as the login form.
    let ip = actor.ip.clone();
    let device = auth::device_of(&state, &headers);
    let attempt = state
        .throttle
        .reserve(&state.db, &admin.username, ip.as_deref(), device.as_deref())
        .await?;
    match attempt.decision {
        Decision::Refuse { .. } | Decision::Busy => {
            errors.add("current", "password-current-throttled");
            return page::render(
                StatusCode::TOO_MANY_REQUESTS,
                &AccountTemplate { p, errors },
            );
        }
        Decision::Allow { delay } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
    }
    let verified = {
        let _permit = state.hashing.acquire(attempt.known_device).await;
        password::verify(&form.current, &admin.password_hash).await?
    };
    if verified == Verified::No {
        errors.add("current", "password-current-wrong");
    } else {
        state.throttle.confirmed(&state.db, &attempt).await?;
    }
    if let Err(v) = password::check_policy(&form.password, &admin.username) {
        errors.add("password", v.message_key());
    } else if form.password != form.password_confirm {
        errors.add("password_confirm", "password-mismatch");
    }
    if !errors.is_empty() {
        return page::render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &AccountTemplate { p, errors },
        );
    }
    let hash = password::hash(&form.password).await?;
    let updated = state.db.set_admin_password(admin.id, &hash).await?;
    // Other sessions of this admin end with the old stamp; this one continues.
    auth::refresh_stamp(&session, &updated).await?;
    state
        .db
        .record_audit(actor.record(
            "account.password_changed",
            Some(admin.username.clone()),
            None,
        ))
        .await?;
    flash(&session, FlashKind::Success, "password-changed").await?;
    Ok(p.redirect("/account"))
}

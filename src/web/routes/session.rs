//! Signing in and out, the first-admin setup, and the language switch.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::auth::password;
use crate::auth::sign_in::{self, Credentials, Gate, Outcome};
use crate::auth::throttle;
use crate::i18n::Lang;
use crate::storage::admins::{NewAdmin, Role};
use crate::storage::setup::SetupError;
use crate::web::auth::Actor;
use crate::web::auth::{self, LANG_COOKIE, safe_next};
use crate::web::client_ip::ClientIp;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{self, FlashKind, FormErrors, Page, flash};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginTemplate {
    p: Page,
    username: String,
    next: String,
    error: Option<String>,
    expired: bool,
    setup_pending: bool,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_form(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    Query(q): Query<NextQuery>,
) -> WebResult<Response> {
    let next = safe_next(q.next.as_deref());
    if p.signed_in() {
        return Ok(p.redirect(&next));
    }
    let expired = auth::take_expired_notice(&session).await?;
    let setup_pending = state.db.count_admins().await? == 0;
    page::ok(&LoginTemplate {
        p,
        username: String::new(),
        next,
        error: None,
        expired,
        setup_pending,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    ip: axum::Extension<ClientIp>,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> WebResult<Response> {
    let next = safe_next(form.next.as_deref());
    let ip = ip.0.to_string_opt();
    let username = form.username.trim().to_string();
    let fail = |p: Page, status: StatusCode, error: String| {
        page::render(
            status,
            &LoginTemplate {
                p,
                username: username.clone(),
                next: next.clone(),
                error: Some(error),
                expired: false,
                setup_pending: false,
            },
        )
    };

    let device = auth::device_of(&state, &headers);
    let gate = Gate {
        db: &state.db,
        throttle: &state.throttle,
        hashing: &state.hashing,
        data_dir: &state.config.data_dir,
        min_free_disk_mb: state.config.min_free_disk_mb,
    };
    let from = Actor { ip, ..actor };
    let credentials = Credentials {
        username: &username,
        password: &form.password,
        from: &from,
        device: device.as_deref(),
    };
    let (admin, new_device) = match sign_in::sign_in(&gate, &credentials).await? {
        Outcome::SignedIn { admin, new_device } => (admin, new_device),
        Outcome::Refused { retry_after } => {
            let minutes = retry_after.as_secs().div_ceil(60).max(1);
            let message = p.t1("login-refused", "minutes", minutes);
            let mut response = fail(p, StatusCode::TOO_MANY_REQUESTS, message)?;
            if let Ok(v) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(response);
        }
        Outcome::Busy => {
            let message = p.t("login-busy");
            let mut response = fail(p, StatusCode::SERVICE_UNAVAILABLE, message)?;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            return Ok(response);
        }
        Outcome::Failed => {
            let message = p.t("login-failed");
            return fail(p, StatusCode::UNAUTHORIZED, message);
        }
    };
    auth::sign_in(&session, &admin).await?;
    let mut response = p.redirect(&next);
    if let Some(token) = new_device {
        let config = &state.config;
        crate::web::set_cookie(
            config,
            response.headers_mut(),
            &crate::web::cookie_name(config, throttle::DEVICE_COOKIE),
            &token,
            &format!(
                "Max-Age={}; SameSite=Strict",
                config.throttle.device_lifetime.as_secs()
            ),
        );
    }
    Ok(response)
}

pub async fn logout(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
) -> WebResult<Response> {
    state
        .db
        .record_audit(actor.record("logout", actor.name.clone(), None))
        .await?;
    auth::sign_out(&session).await?;
    flash(&session, FlashKind::Info, "logged-out").await?;
    Ok(p.redirect("/login"))
}

#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupTemplate {
    p: Page,
    token: String,
    valid: bool,
    username: String,
    errors: FormErrors,
}

#[derive(Deserialize)]
pub struct SetupQuery {
    token: Option<String>,
}

pub async fn setup_form(
    State(state): State<AppState>,
    p: Page,
    Query(q): Query<SetupQuery>,
) -> WebResult<Response> {
    if state.db.count_admins().await? > 0 {
        return Err(WebError::NotFound);
    }
    let token = q.token.unwrap_or_default();
    let valid = !token.is_empty() && state.db.setup_token_valid(&token).await?;
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    page::render(
        status,
        &SetupTemplate {
            p,
            token,
            valid,
            username: String::new(),
            errors: FormErrors::default(),
        },
    )
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn setup(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Form(form): Form<SetupForm>,
) -> WebResult<Response> {
    if state.db.count_admins().await? > 0 {
        return Err(WebError::NotFound);
    }
    let mut errors = FormErrors::default();
    for (field, key) in
        crate::auth::check_new_credentials(&form.username, &form.password, &form.password_confirm)
    {
        errors.add(field, key);
    }
    if !errors.is_empty() {
        let valid = state.db.setup_token_valid(&form.token).await?;
        return page::render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SetupTemplate {
                p,
                token: form.token,
                valid,
                username: form.username,
                errors,
            },
        );
    }
    let hash = password::hash(&form.password).await?;
    let audit = actor.record(
        "setup.completed",
        Some(form.username.trim().to_string()),
        Some("first admin created through the setup link".into()),
    );
    let admin = match state
        .db
        .complete_setup(
            &form.token,
            NewAdmin {
                username: &form.username,
                password_hash: &hash,
                role: Role::Admin,
            },
            &audit,
        )
        .await
    {
        Ok(a) => a,
        Err(SetupError::AlreadyDone) => return Err(WebError::NotFound),
        Err(SetupError::InvalidToken) => {
            return page::render(
                StatusCode::FORBIDDEN,
                &SetupTemplate {
                    p,
                    token: String::new(),
                    valid: false,
                    username: String::new(),
                    errors: FormErrors::default(),
                },
            );
        }
        Err(SetupError::Store(e)) => return Err(e.into()),
    };
    auth::sign_in(&session, &admin).await?;
    flash(&session, FlashKind::Success, "setup-done").await?;
    Ok(p.redirect("/"))
}

#[derive(Deserialize)]
pub struct LanguageForm {
    lang: String,
    next: Option<String>,
}

pub async fn set_language(
    State(state): State<AppState>,
    p: Page,
    Form(form): Form<LanguageForm>,
) -> WebResult<Response> {
    let lang = Lang::parse(&form.lang).ok_or(WebError::BadRequest("error-bad-language"))?;
    if let Some(admin) = &p.admin {
        state
            .db
            .set_admin_language(admin.id, Some(lang.code()))
            .await?;
    }
    let next = safe_next(form.next.as_deref());
    let mut response = p.redirect(&next);
    crate::web::set_cookie(
        &state.config,
        response.headers_mut(),
        LANG_COOKIE,
        lang.code(),
        "Max-Age=31536000; SameSite=Lax",
    );
    Ok(response.into_response())
}

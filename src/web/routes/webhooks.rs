//! A consumer's webhook, on its API token's page: where deliveries go, how they went, the
//! signing secret (shown once). Pointing the feed somewhere else or seeing a secret needs a
//! recent password; pausing deliveries' waits and removing the webhook an admin.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use crate::crypto::context;
use crate::storage::StoreError;
use crate::storage::api_tokens::ApiToken;
use crate::storage::webhooks::Webhook;
use crate::web::auth::Actor;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{self, FlashKind, FormErrors, Page, flash_args};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "webhook.html")]
pub struct WebhookTemplate {
    p: Page,
    token: ApiToken,
    hook: Option<Webhook>,
    /// Changes in the feed after the webhook's position (any subscription).
    behind: i64,
    url: String,
    errors: FormErrors,
    /// A signing secret just created: shown this once.
    secret: Option<String>,
}

impl WebhookTemplate {
    /// The address as this viewer may see it: a query may carry the receiver's own key, which
    /// only admins (who can change the address anyway) see, as in the audit log.
    pub fn shown_url(&self) -> String {
        let Some(h) = &self.hook else {
            return String::new();
        };
        if self.p.is_admin() {
            return h.url.clone();
        }
        url::Url::parse(&h.url)
            .map(|u| without_query(&u))
            .unwrap_or_default()
    }
}

async fn token(state: &AppState, id: i64) -> WebResult<ApiToken> {
    state
        .db
        .list_api_tokens()
        .await?
        .into_iter()
        .find(|t| t.id == id && t.revoked_at.is_none())
        .ok_or(WebError::NotFound)
}

async fn render(
    state: &AppState,
    p: Page,
    status: StatusCode,
    id: i64,
    url: Option<String>,
    errors: FormErrors,
    secret: Option<String>,
) -> WebResult<Response> {
    let token = token(state, id).await?;
    let hook = state.db.webhook(id).await?;
    let behind = match &hook {
        Some(h) => (state.db.latest_change().await? - h.after_seq).max(0),
        None => 0,
    };
    let url = url.unwrap_or_else(|| hook.as_ref().map(|h| h.url.clone()).unwrap_or_default());
    page::render(
        status,
        &WebhookTemplate {
            p,
            token,
            hook,
            behind,
            url,
            errors,
            secret,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    p: Page,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    render(
        &state,
        p,
        StatusCode::OK,
        id,
        None,
        FormErrors::default(),
        None,
    )
    .await
}

fn new_secret(state: &AppState, id: i64) -> (String, String) {
    let secret = format!("whsec_{}", crate::crypto::random_token());
    let sealed = state
        .key
        .seal(&context::webhook_secret(id), secret.as_bytes());
    (secret, sealed)
}

#[derive(Deserialize)]
pub struct UrlForm {
    url: String,
}

/// Sets the address; the first time also creates the signing secret and shows it.
pub async fn save(
    State(state): State<AppState>,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(form): Form<UrlForm>,
) -> WebResult<Response> {
    let token = token(&state, id).await?;
    let url = match crate::webhooks::check_url(&form.url, &state.config.webhooks.destinations) {
        Ok(u) => u,
        Err(key) => {
            let mut errors = FormErrors::default();
            errors.add("url", key);
            return render(
                &state,
                p,
                StatusCode::UNPROCESSABLE_ENTITY,
                id,
                Some(form.url),
                errors,
                None,
            )
            .await;
        }
    };
    let existing = state.db.webhook(id).await?;
    let (secret, sealed) = match existing {
        Some(_) => (None, None),
        None => {
            let (s, sealed) = new_secret(&state, id);
            (Some(s), Some(sealed))
        }
    };
    let action = if secret.is_some() {
        "webhook.created"
    } else {
        "webhook.changed"
    };
    let audit = actor.record(action, Some(token.name.clone()), Some(without_query(&url)));
    state
        .db
        .put_webhook(id, url.as_str(), sealed.as_deref(), &audit)
        .await?;
    render(
        &state,
        p,
        StatusCode::OK,
        id,
        None,
        FormErrors::default(),
        secret,
    )
    .await
}

/// The address as the audit log keeps it: a query may carry a receiver's own key.
fn without_query(url: &url::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

#[derive(Deserialize)]
pub struct EmptyForm {}

/// A new signing secret, shown once; the old one stops working at once.
pub async fn replace_secret(
    State(state): State<AppState>,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(_): Form<EmptyForm>,
) -> WebResult<Response> {
    let token = token(&state, id).await?;
    let hook = state.db.webhook(id).await?.ok_or(WebError::NotFound)?;
    let (secret, sealed) = new_secret(&state, id);
    let audit = actor.record("webhook.secret_replaced", Some(token.name), None);
    state
        .db
        .put_webhook(id, &hook.url, Some(&sealed), &audit)
        .await?;
    render(
        &state,
        p,
        StatusCode::OK,
        id,
        None,
        FormErrors::default(),
        Some(secret),
    )
    .await
}

/// Ends the wait after failures: the next round delivers.
pub async fn retry(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    Path(id): Path<i64>,
    Form(_): Form<EmptyForm>,
) -> WebResult<Response> {
    let token = token(&state, id).await?;
    state.db.retry_webhook_now(id).await?;
    flash_args(
        &session,
        FlashKind::Success,
        "webhook-retrying",
        &[("name", &token.name)],
    )
    .await?;
    Ok(p.redirect(&format!("/api-tokens/{id}/webhook")))
}

pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(_): Form<EmptyForm>,
) -> WebResult<Response> {
    let token = token(&state, id).await?;
    let audit = actor.record("webhook.deleted", Some(token.name.clone()), None);
    match state.db.delete_webhook(id, &audit).await {
        // Deleted meanwhile (another tab): nothing changed, nothing to record.
        Ok(()) | Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    flash_args(
        &session,
        FlashKind::Success,
        "webhook-deleted",
        &[("name", &token.name)],
    )
    .await?;
    Ok(p.redirect("/api-tokens"))
}

//! API tokens: listed for every admin (never the token itself), created by admins who entered
//! their password recently (shown once), revoked at once.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use crate::storage::api_tokens::{ApiToken, TokenScope};
use crate::storage::subscriptions::Subscription;
use crate::web::auth::Actor;
use crate::web::auth::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::{self, FlashKind, FormErrors, Page, flash_args};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "api_tokens.html")]
pub struct TokensTemplate {
    p: Page,
    tokens: Vec<ApiToken>,
    hooks: Vec<crate::storage::webhooks::Webhook>,
    subscriptions: Vec<Subscription>,
    errors: FormErrors,
    name: String,
    /// A token just created: shown this once.
    created: Option<String>,
    api_base: String,
    /// The API's endpoints, from its OpenAPI document.
    endpoints: Vec<(String, String, String)>,
}

impl TokensTemplate {
    /// A token's expiry as shown, with the reminder a client secret's gets: a CSS class
    /// (`bad` expired, `warn` within 30 days, empty otherwise) and the text.
    fn expiry(&self, t: &ApiToken) -> (&'static str, String) {
        use crate::profiles::SecretWarning;
        let Some(on) = t.expires_on else {
            return ("", self.p.t("tokens-expires-never"));
        };
        let today = chrono::Utc::now().date_naive();
        let days = (on - today).num_days();
        match crate::profiles::secret_warning(on - chrono::Duration::days(1), today) {
            SecretWarning::Expired => ("bad", self.p.t1("tokens-expired", "date", on)),
            SecretWarning::Days7 | SecretWarning::Days30 => (
                "warn",
                self.p
                    .t2("tokens-expires-soon", "date", on, "days", days.max(0)),
            ),
            _ => ("", on.to_string()),
        }
    }

    fn hook(&self, t: &ApiToken) -> Option<&crate::storage::webhooks::Webhook> {
        self.hooks.iter().find(|h| h.token_id == t.id)
    }

    fn scope_names(&self, t: &ApiToken) -> String {
        match &t.scope {
            TokenScope::All => self.p.t("tokens-scope-all"),
            TokenScope::Subscriptions(ids) => ids
                .iter()
                .map(|id| {
                    self.subscriptions
                        .iter()
                        .find(|s| s.id == *id)
                        .map_or_else(|| format!("#{id}"), |s| s.display_name.clone())
                })
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

async fn render(
    state: &AppState,
    p: Page,
    status: StatusCode,
    errors: FormErrors,
    name: String,
    created: Option<String>,
) -> WebResult<Response> {
    // The list shows every use so far.
    if let Err(e) = state.api_uses.flush(&state.db).await {
        tracing::warn!(error = %e, "API token uses not written");
    }
    let api_base = state.config.public_url.absolute("/api/v1");
    page::render(
        status,
        &TokensTemplate {
            p,
            tokens: state.db.list_api_tokens().await?,
            hooks: state.db.list_webhooks().await?,
            subscriptions: state.db.list_subscriptions(None).await?,
            errors,
            name,
            created,
            api_base,
            endpoints: crate::web::api::endpoints(),
        },
    )
}

pub async fn list(State(state): State<AppState>, p: Page) -> WebResult<Response> {
    render(
        &state,
        p,
        StatusCode::OK,
        FormErrors::default(),
        String::new(),
        None,
    )
    .await
}

/// The form: a name, and either `scope=all` or one `subscription` field per subscription.
pub async fn create(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    Form(fields): Form<Vec<(String, String)>>,
) -> WebResult<Response> {
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
    };
    let name = field("name").unwrap_or_default();
    let mut errors = FormErrors::default();
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("name", "tokens-name-invalid");
    }
    // Optional: from that day on (UTC) the token is refused. It must lie in the future.
    let today = chrono::Utc::now().date_naive();
    let expires_on = match field("expires_on").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d") {
            Ok(d) if d > today => Some(d),
            _ => {
                errors.add("expires_on", "tokens-expiry-invalid");
                None
            }
        },
    };
    let live = state.db.list_subscriptions(None).await?;
    let scope = if field("scope").as_deref() == Some("all") {
        Some(TokenScope::All)
    } else {
        let chosen: Option<Vec<i64>> = fields
            .iter()
            .filter(|(n, _)| n == "subscription")
            .map(|(_, v)| {
                v.parse::<i64>()
                    .ok()
                    .filter(|id| live.iter().any(|s| s.id == *id))
            })
            .collect();
        match chosen {
            Some(ids) if !ids.is_empty() => Some(TokenScope::Subscriptions(ids)),
            _ => None,
        }
    };
    let Some(scope) = scope.filter(|_| errors.is_empty()) else {
        if errors.is_empty() {
            errors.add("scope", "tokens-scope-invalid");
        }
        return render(
            &state,
            p,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            name,
            None,
        )
        .await;
    };
    let token = format!("dp_{}", crate::crypto::random_token());
    let audit = actor.record("api_token.created", Some(name.clone()), None);
    state
        .db
        .create_api_token(
            &name,
            &crate::crypto::token_hash(&token),
            &scope,
            &me.username,
            expires_on,
            &audit,
        )
        .await?;
    render(
        &state,
        p,
        StatusCode::OK,
        FormErrors::default(),
        String::new(),
        Some(token),
    )
    .await
}

#[derive(Deserialize)]
pub struct RevokeForm {}

pub async fn revoke(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(_): Form<RevokeForm>,
) -> WebResult<Response> {
    let revoked = |name: &str| actor.record("api_token.revoked", Some(name.to_string()), None);
    let name = state.db.revoke_api_token(id, revoked).await?;
    flash_args(
        &session,
        FlashKind::Success,
        "tokens-revoked",
        &[("name", &name)],
    )
    .await?;
    Ok(p.redirect("/api-tokens"))
}

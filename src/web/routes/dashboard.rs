//! The dashboard: the instance's state at a glance. Later features add their status cards here.

use askama::Template;
use axum::response::Response;

use crate::web::profile_view::ProfileView;

use crate::storage::audit::AuditEntry;
use crate::web::error::WebResult;
use crate::web::page::{self, Page};
use crate::web::state::AppState;

/// Subscriptions needing attention listed on the dashboard; the rest via the list's filter.
const ATTENTION_LISTED: usize = 50;

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardTemplate {
    p: Page,
    backend: &'static str,
    public_url: String,
    active_admins: i64,
    admins: i64,
    recent: Vec<AuditEntry>,
    profiles: Vec<ProfileView>,
    attention: Vec<(
        crate::storage::subscriptions::Subscription,
        &'static str,
        i64,
    )>,
    subscriptions: usize,
    /// All that need attention; the first `ATTENTION_LISTED` are listed.
    attention_total: usize,
    /// Consumers whose webhook is failing or missed changes: (consumer name, webhook).
    failing_hooks: Vec<(String, crate::storage::webhooks::Webhook)>,
    /// Application profiles whose scope check found them reading every mailbox: (id, name).
    unscoped: Vec<(i64, String)>,
    /// API tokens that expire within 30 days or have expired: (name, date, days left).
    expiring_tokens: Vec<(String, chrono::NaiveDate, i64)>,
}

/// The dashboard (the route table's `/` also finishes authorizations that land there).
pub async fn show(state: &AppState, p: Page) -> WebResult<Response> {
    let counts = state.db.subscription_counts().await?;
    let profiles = state
        .db
        .list_profiles()
        .await?
        .into_iter()
        .map(|x| ProfileView::counted(x, state, &counts))
        .collect::<Vec<_>>();
    let unscoped = profiles
        .iter()
        .filter(|v| v.scope() == Some(crate::model::ScopeResult::Unscoped))
        .map(|v| (v.p.id, v.p.name.clone()))
        .collect();
    let subscriptions = usize::try_from(state.db.count_live_subscriptions().await?).unwrap_or(0);
    let mut attention = crate::subscriptions::attention::needing_attention(&state.db).await?;
    let attention_total = attention.len();
    attention.truncate(ATTENTION_LISTED);
    let tokens = state.db.list_api_tokens().await?;
    // Live tokens that expire within 30 days or have expired, as client secrets are reminded:
    // (name, expiry date, days left).
    let today = chrono::Utc::now().date_naive();
    let expiring_tokens: Vec<(String, chrono::NaiveDate, i64)> = tokens
        .iter()
        .filter(|t| t.revoked_at.is_none())
        .filter_map(|t| {
            let on = t.expires_on?;
            let days = (on - today).num_days();
            (days <= 30).then(|| (t.name.clone(), on, days))
        })
        .collect();
    let names: std::collections::HashMap<i64, String> =
        tokens.into_iter().map(|t| (t.id, t.name)).collect();
    let failing_hooks = state
        .db
        .list_webhooks()
        .await?
        .into_iter()
        .filter(|h| h.failures > 0 || h.gap_at.is_some())
        .filter_map(|h| Some((names.get(&h.token_id)?.clone(), h)))
        .collect();
    let admins = state.db.list_admins().await?;
    let recent = state.db.list_audit(0, 8).await?;
    page::ok(&DashboardTemplate {
        p,
        backend: state.db.backend().name(),
        public_url: state.config.public_url.as_str().to_string(),
        active_admins: admins.iter().filter(|a| !a.disabled).count() as i64,
        admins: admins.len() as i64,
        recent,
        profiles,
        attention,
        attention_total,
        subscriptions,
        failing_hooks,
        unscoped,
        expiring_tokens,
    })
}

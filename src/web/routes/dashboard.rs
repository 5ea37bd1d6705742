//! The dashboard: the instance's state at a glance. Later features add their status cards here.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use crate::storage::audit::AuditEntry;
use crate::web::error::WebResult;
use crate::web::page::{self, Page};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardTemplate {
    p: Page,
    backend: &'static str,
    public_url: String,
    active_admins: i64,
    admins: i64,
    recent: Vec<AuditEntry>,
}

pub async fn show(State(state): State<AppState>, p: Page) -> WebResult<Response> {
    let admins = state.db.list_admins().await?;
    let recent = state.db.list_audit(0, 8).await?;
    page::ok(&DashboardTemplate {
        p,
        backend: state.db.backend().name(),
        public_url: state.config.public_url.as_str().to_string(),
        active_admins: admins.iter().filter(|a| !a.disabled).count() as i64,
        admins: admins.len() as i64,
        recent,
    })
}

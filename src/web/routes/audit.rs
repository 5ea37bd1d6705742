//! The audit log page: newest first, paged.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::storage::audit::AuditEntry;
use crate::web::error::WebResult;
use crate::web::page::{self, Page};
use crate::web::state::AppState;

pub const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditTemplate {
    p: Page,
    entries: Vec<AuditEntry>,
    page: i64,
    pages: i64,
    total: i64,
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    p: Page,
    Query(q): Query<PageQuery>,
) -> WebResult<Response> {
    let total = state.db.count_audit().await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page_no = q.page.unwrap_or(1).clamp(1, pages);
    let entries = state
        .db
        .list_audit((page_no - 1) * PAGE_SIZE, PAGE_SIZE)
        .await?;
    page::ok(&AuditTemplate {
        p,
        entries,
        page: page_no,
        pages,
        total,
    })
}

//! Internal domains: which attendee addresses are colleagues rather than visitors. The
//! subscribed mailboxes' and authorized accounts' domains count by themselves; here an admin
//! adds others, and the tenants' verified domains are read where the account may.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use crate::storage::reception::DomainSources;
use crate::web::auth::Actor;
use crate::web::error::WebResult;
use crate::web::page::{self, FlashKind, FormErrors, Page, flash_args};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "domains.html")]
pub struct DomainsTemplate {
    p: Page,
    sources: DomainSources,
    text: String,
    errors: FormErrors,
    invalid: String,
}

impl DomainsTemplate {
    /// Why a domain is internal, as a translation key.
    fn origin(&self, domain: &str, stored: &str) -> &'static str {
        if stored == "mailbox" {
            "domains-from-mailboxes"
        } else if self.sources.admin.iter().any(|d| d == domain) {
            "domains-from-admin"
        } else if self.sources.tenant.iter().any(|d| d == domain) {
            "domains-from-tenant"
        } else {
            "domains-from-environment"
        }
    }
}

async fn render(
    state: &AppState,
    p: Page,
    status: StatusCode,
    text: Option<String>,
    errors: FormErrors,
    invalid: String,
) -> WebResult<Response> {
    let sources = state.db.internal_domain_sources().await?;
    let text = text.unwrap_or_else(|| sources.admin.join("\n"));
    page::render(
        status,
        &DomainsTemplate {
            p,
            sources,
            text,
            errors,
            invalid,
        },
    )
}

pub async fn show(State(state): State<AppState>, p: Page) -> WebResult<Response> {
    render(
        &state,
        p,
        StatusCode::OK,
        None,
        FormErrors::default(),
        String::new(),
    )
    .await
}

/// A domain as stored (lower case, without a leading `@`), if it is one.
fn domain(raw: &str) -> Option<String> {
    let d = raw.trim().trim_start_matches('@').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    (d.len() <= 253 && d.contains('.') && d.split('.').all(label_ok)).then_some(d)
}

#[derive(Deserialize)]
pub struct DomainsForm {
    #[serde(default)]
    domains: String,
}

pub async fn save(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Form(form): Form<DomainsForm>,
) -> WebResult<Response> {
    let entries: Vec<&str> = form
        .domains
        .split(|c: char| c == '\n' || c == ',' || c == ';' || c.is_whitespace())
        .filter(|x| !x.trim().is_empty())
        .collect();
    let bad: Vec<&str> = entries
        .iter()
        .copied()
        .filter(|x| domain(x).is_none())
        .collect();
    let mut errors = FormErrors::default();
    if !bad.is_empty() {
        errors.add("domains", "domains-invalid");
    } else if entries.len() > 500 {
        errors.add("domains", "domains-too-many");
    }
    if !errors.is_empty() {
        let invalid = bad
            .iter()
            .take(5)
            .map(|b| b.chars().take(80).collect::<String>())
            .collect::<Vec<_>>()
            .join(", ");
        return render(
            &state,
            p,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(form.domains),
            errors,
            invalid,
        )
        .await;
    }
    let mut domains: Vec<String> = entries.iter().filter_map(|x| domain(x)).collect();
    domains.sort();
    domains.dedup();
    let audit = actor.record("internal_domains.updated", None, Some(domains.join(", ")));
    state
        .db
        .set_admin_internal_domains(&domains, &audit)
        .await?;
    flash_args(&session, FlashKind::Success, "domains-saved", &[]).await?;
    Ok(p.redirect("/internal-domains"))
}

#[derive(Deserialize)]
pub struct EmptyForm {}

/// Reads the tenants' verified domains now.
pub async fn refresh(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    Form(_): Form<EmptyForm>,
) -> WebResult<Response> {
    let report = state.sync.refresh_tenant_domains().await?;
    if report.failed.is_empty() {
        flash_args(
            &session,
            FlashKind::Success,
            "domains-refreshed",
            &[("count", &report.read.to_string())],
        )
        .await?;
    } else {
        let reasons = report
            .failed
            .iter()
            .map(|(name, e)| format!("{name}: {e}"))
            .collect::<Vec<_>>()
            .join("; ");
        flash_args(
            &session,
            FlashKind::Error,
            "domains-refresh-failed",
            &[("reasons", &reasons)],
        )
        .await?;
    }
    Ok(p.redirect("/internal-domains"))
}

#[cfg(test)]
mod tests {
    use super::domain;

    #[test]
    fn domains() {
        assert_eq!(
            domain(" @Partner.Example ").as_deref(),
            Some("partner.example")
        );
        assert_eq!(
            domain("tochter-gmbh.de").as_deref(),
            Some("tochter-gmbh.de")
        );
        for bad in [
            "localhost",
            "-x.de",
            "a..de",
            "exa mple.de",
            "x_y.de",
            "ü.de",
        ] {
            assert_eq!(domain(bad), None, "{bad}");
        }
    }
}

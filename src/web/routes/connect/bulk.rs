//! Bulk subscribe: the mailboxes checked in the search results or the rooms list, each under
//! its own name with one set of settings, and a result for every row.

use std::collections::HashSet;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::Form;
use futures_util::StreamExt;
use serde::Deserialize;

use super::{ConnectQuery, render_checked, token_or_paused};
use crate::graph::Endpoints;
use crate::graph::api::CalendarRef;
use crate::storage::profiles::Profile;
use crate::subscriptions::Outcome as Subscribed;
use crate::subscriptions::{Refusal, Request, SubscribeForm};
use crate::web::auth::Actor;
use crate::web::error::WebResult;
use crate::web::page::{self, FormErrors, Page};
use crate::web::state::AppState;

/// Mailboxes per post: a rooms list of a large site fits; each costs two Graph requests.
pub const MAX_ROWS: usize = 200;
/// Lookups at once: quick for an admin waiting, far below Graph's per-mailbox limits.
const PARALLEL_LOOKUPS: usize = 4;

#[derive(Debug, Deserialize)]
pub struct BulkSubscribeForm {
    /// The checked rows' addresses (repeated).
    #[serde(default)]
    mailbox: Vec<String>,
    #[serde(default)]
    days_back: String,
    #[serde(default)]
    days_ahead: String,
    #[serde(default)]
    interval_minutes: String,
    enabled: Option<String>,
    mask_private: Option<String>,
    /// The list the rows came from, to show it again when the settings are refused.
    q: Option<String>,
    page: Option<usize>,
    rooms: Option<String>,
}

pub enum Outcome {
    Created(i64),
    /// Subscribed before (by this profile): nothing changed.
    Existing(i64),
    NotFound,
    NoMailbox,
    Forbidden,
    Failed(String),
}

pub struct Row {
    pub address: String,
    /// The mailbox's name where it was found (the new subscription's name).
    pub name: String,
    pub outcome: Outcome,
}

#[derive(Template)]
#[template(path = "connect_bulk.html")]
pub struct BulkTemplate {
    p: Page,
    profile: Profile,
    rows: Vec<Row>,
    /// Where "back" goes: the list the rows came from.
    back: String,
}

impl BulkTemplate {
    pub fn created(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Created(_)))
            .count()
    }

    pub fn failed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| !matches!(r.outcome, Outcome::Created(_) | Outcome::Existing(_)))
            .count()
    }
}

/// The addresses in the order checked, each once (regardless of case).
fn distinct(addresses: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    addresses
        .into_iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty() && seen.insert(a.to_lowercase()))
        .collect()
}

pub async fn subscribe(
    State(state): State<AppState>,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(form): Form<BulkSubscribeForm>,
) -> WebResult<Response> {
    let query = ConnectQuery {
        q: form.q.clone().filter(|q| !q.trim().is_empty()),
        page: form.page,
        rooms: form.rooms.clone().filter(|r| !r.is_empty()),
        ..ConnectQuery::default()
    };
    let addresses = distinct(form.mailbox);
    let settings_form = SubscribeForm {
        days_back: form.days_back,
        days_ahead: form.days_ahead,
        interval_minutes: form.interval_minutes,
        enabled: form.enabled,
        mask_private: form.mask_private,
        ..SubscribeForm::default()
    };
    let mut errors = FormErrors::default();
    if addresses.is_empty() {
        errors.add("bulk", "connect-bulk-none");
    } else if addresses.len() > MAX_ROWS {
        errors.add("bulk", "connect-bulk-too-many");
    }
    // Each row gets its mailbox's name; the shared settings are checked under a stand-in.
    let checked_form = SubscribeForm {
        display_name: "bulk".into(),
        ..settings_form.clone()
    };
    let settings = match checked_form.settings() {
        Ok(s) if errors.is_empty() => s,
        refused => {
            if let Err(invalid) = refused {
                for (field, key) in invalid.0 {
                    errors.add(field, key);
                }
            }
            let checked = addresses.iter().map(|a| a.to_lowercase()).collect();
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let form = Some(settings_form);
            return render_checked(&state, p, id, query, errors, form, checked, status).await;
        }
    };
    let profile = state.db.profile(id).await?;
    let token = match token_or_paused(&state, p.clone(), &profile).await? {
        Ok(t) => t,
        Err(paused) => return Ok(paused),
    };
    let endpoints = Endpoints::from(&profile);
    let graph = state.tokens.client().graph(&endpoints, &token);
    let results: Vec<(String, Result<Subscribed, _>)> = futures_util::stream::iter(addresses)
        .map(|address| {
            let (state, profile, graph, actor) = (&state, &profile, &graph, &actor);
            let mut settings = settings.clone();
            // Empty: each subscription takes its mailbox's name.
            settings.display_name.clear();
            async move {
                let request = Request {
                    profile,
                    calendar: CalendarRef::Mailbox(address.clone()),
                    settings,
                    by: actor,
                    via: Some("bulk"),
                    room_list: None,
                };
                let outcome = crate::subscriptions::subscribe(&state.db, graph, request).await;
                (address, outcome)
            }
        })
        .buffered(PARALLEL_LOOKUPS)
        .collect()
        .await;
    let mut rows = Vec::with_capacity(results.len());
    for (address, outcome) in results {
        let name =
            |t: &crate::subscriptions::Target| t.mailbox_name.trim().chars().take(100).collect();
        let (name, outcome) = match outcome? {
            Subscribed::Created { id, target } => (name(&target), Outcome::Created(id)),
            Subscribed::AlreadySubscribed { id, target } => (name(&target), Outcome::Existing(id)),
            Subscribed::Refused(refusal) => (
                String::new(),
                match refusal {
                    Refusal::NotFound => Outcome::NotFound,
                    Refusal::NoMailbox => Outcome::NoMailbox,
                    Refusal::Forbidden => Outcome::Forbidden,
                    Refusal::PersonalAccount => Outcome::Failed(p.t("connect-personal-account")),
                    Refusal::Failed(e) => Outcome::Failed(e.to_string()),
                },
            ),
        };
        rows.push(Row {
            address,
            name,
            outcome,
        });
    }
    let back = back_link(&query);
    page::render(
        StatusCode::OK,
        &BulkTemplate {
            p,
            profile,
            rows,
            back,
        },
    )
}

/// The connect page's query the rows came from.
fn back_link(q: &ConnectQuery) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    if let Some(term) = &q.q {
        url.append_pair("q", term);
        if let Some(page) = q.page {
            url.append_pair("page", &page.to_string());
        }
    }
    if q.rooms.is_some() {
        url.append_pair("rooms", "1");
    }
    url.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_once_in_order() {
        let got = distinct(vec![
            " Raum.A@contoso.com".into(),
            "raum.b@contoso.com".into(),
            "raum.a@CONTOSO.com".into(),
            "".into(),
        ]);
        assert_eq!(got, ["Raum.A@contoso.com", "raum.b@contoso.com"]);
    }
}

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

use super::Actor;
use super::connect::{self, ConnectQuery, Lookup, SubscribeForm};
use crate::graph::Endpoints;
use crate::graph::api::CalendarRef;
use crate::storage::StoreError;
use crate::storage::profiles::Profile;
use crate::storage::subscriptions::NewSubscription;
use crate::web::auth::SignedIn;
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
    SignedIn(me): SignedIn,
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
    let settings = connect::settings_from(&checked_form, &mut errors);
    let Some(settings) = settings.filter(|_| errors.is_empty()) else {
        let checked = addresses.iter().map(|a| a.to_lowercase()).collect();
        return connect::render_checked(
            &state,
            p,
            id,
            query,
            errors,
            Some(settings_form),
            checked,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let profile = state.db.profile(id).await?;
    let token = match connect::token_or_paused(&state, p.clone(), &profile).await? {
        Ok(t) => t,
        Err(paused) => return Ok(paused),
    };
    let endpoints = Endpoints::from(&profile);
    let graph = state.tokens.client().graph(&endpoints, &token);
    // Every lookup first (nothing is created if the database fails meanwhile), in order.
    let found: Vec<(String, WebResult<Lookup>)> = futures_util::stream::iter(addresses)
        .map(|address| {
            let (state, profile, graph) = (&state, &profile, &graph);
            async move {
                let r = CalendarRef::Mailbox(address.clone());
                let l = connect::lookup(state, profile, graph, r, false).await;
                (address, l)
            }
        })
        .buffered(PARALLEL_LOOKUPS)
        .collect()
        .await;
    let mut rows = Vec::with_capacity(found.len());
    for (address, lookup) in found {
        let (name, outcome) = match lookup? {
            Lookup::Found(f) => {
                let name: String = f.mailbox_name.trim().chars().take(100).collect();
                let outcome = match f.existing {
                    Some(existing) => Outcome::Existing(existing),
                    None => {
                        let mut row_settings = settings.clone();
                        row_settings.display_name = if name.is_empty() {
                            f.mailbox_address.chars().take(100).collect()
                        } else {
                            name.clone()
                        };
                        let created = state
                            .db
                            .create_subscription(&NewSubscription {
                                profile_id: id,
                                source: f.source,
                                mailbox_id: f.mailbox_id.as_deref(),
                                mailbox_address: &f.mailbox_address,
                                mailbox_name: &f.mailbox_name,
                                calendar_id: &f.calendar.id,
                                calendar_name: &f.calendar.name,
                                settings: &row_settings,
                                created_by: &me.username,
                            })
                            .await;
                        match created {
                            Ok(sub) => {
                                state
                                    .db
                                    .record_audit(actor.record(
                                        "subscription.created",
                                        Some(row_settings.display_name.clone()),
                                        Some(format!(
                                            "{} / {} via {} (bulk)",
                                            f.mailbox_address, f.calendar.name, profile.name
                                        )),
                                    ))
                                    .await?;
                                Outcome::Created(sub)
                            }
                            // Subscribed meanwhile (another tab, another admin).
                            Err(StoreError::Duplicate) => {
                                match state
                                    .db
                                    .subscription_for_calendar(id, &f.calendar.id)
                                    .await?
                                {
                                    Some(existing) => Outcome::Existing(existing),
                                    None => Outcome::Failed(StoreError::Duplicate.to_string()),
                                }
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                };
                (name, outcome)
            }
            Lookup::NotFound => (String::new(), Outcome::NotFound),
            Lookup::NoMailbox => (String::new(), Outcome::NoMailbox),
            Lookup::Forbidden => (String::new(), Outcome::Forbidden),
            Lookup::PersonalAccount => (
                String::new(),
                Outcome::Failed(p.t("connect-personal-account")),
            ),
            Lookup::Failed(e) => (String::new(), Outcome::Failed(e)),
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

//! "Connect": find a mailbox through a profile — by address, by searching names, from the rooms
//! list, or among the signed-in account's calendars — preview its calendar and subscribe it.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, Utc};
use serde::Deserialize;

use crate::graph::api::{Calendar, CalendarRef, Graph, PreviewEvent};
use crate::graph::{Endpoints, GraphFailure};
use crate::model::SubscriptionSource;
use crate::profiles::tokens::TokenFailure;
use crate::storage::profiles::Profile;
use crate::subscriptions::anonymized::looks_anonymized;
use crate::subscriptions::{Refusal, SubscribeForm, Target};
use crate::web::error::WebResult;
use crate::web::page::{self, FormErrors, Page};
use crate::web::state::AppState;

pub mod bulk;
mod subscribe;
pub use subscribe::subscribe;

const PAGE_SIZE: usize = 25;

#[derive(Debug, Default, Deserialize)]
pub struct ConnectQuery {
    /// A full address: look up its primary calendar.
    pub address: Option<String>,
    /// One of the account's own calendars, by id.
    pub own: Option<String>,
    /// Part of a name or address.
    pub q: Option<String>,
    pub page: Option<usize>,
    /// Show the rooms list.
    pub rooms: Option<String>,
    /// Show the account's calendars.
    pub mine: Option<String>,
}

/// A calendar found, with what the admin needs to decide.
pub struct Found {
    pub source: SubscriptionSource,
    pub mailbox_address: String,
    pub mailbox_name: String,
    pub calendar: Calendar,
    pub preview: Result<Vec<PreviewEvent>, String>,
    /// Most upcoming subjects are empty or the organizer's name: the room rewrites them.
    pub anonymized: bool,
    pub existing: Option<i64>,
}

pub enum Lookup {
    Found(Box<Found>),
    NotFound,
    NoMailbox,
    Forbidden,
    /// Other mailboxes are not reachable with a personal Microsoft account.
    PersonalAccount,
    Failed(String),
}

impl From<Refusal> for Lookup {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotFound => Self::NotFound,
            Refusal::NoMailbox => Self::NoMailbox,
            Refusal::Forbidden => Self::Forbidden,
            Refusal::PersonalAccount => Self::PersonalAccount,
            Refusal::Failed(e) => Self::Failed(e.to_string()),
        }
    }
}

pub struct SearchResult {
    pub name: String,
    pub address: String,
    pub kind: &'static str,
}

pub enum Search {
    Results {
        items: Vec<SearchResult>,
        total: usize,
        page: usize,
        pages: usize,
    },
    MissingPermission,
    /// A personal Microsoft account has no directory to search.
    PersonalAccount,
    Failed(String),
}

pub enum Listing<T> {
    Items(Vec<T>),
    MissingPermission,
    /// Not available to a personal Microsoft account (rooms).
    PersonalAccount,
    Failed(String),
}

/// A room list and its rooms as the directory lists them.
pub type ListWithRooms = (
    crate::graph::api::RoomList,
    Result<Vec<crate::graph::api::Room>, String>,
);

/// Room lists shown with their rooms; more are listed by name only.
const LISTS_WITH_ROOMS: usize = 20;

#[derive(Template)]
#[template(path = "connect.html")]
pub struct ConnectTemplate {
    p: Page,
    profile: Profile,
    account: String,
    /// Authorized with a personal Microsoft account: no directory, no rooms, no other
    /// mailboxes; only its own calendars and those shared with it.
    personal: bool,
    address: String,
    q: String,
    lookup: Option<Lookup>,
    search: Option<Search>,
    rooms: Option<Listing<crate::graph::api::Room>>,
    /// The tenant's room lists with their rooms (or why those could not be read), each to
    /// subscribe whole.
    room_lists: Option<Listing<ListWithRooms>>,
    /// The directory answered a listing that is not provably whole (see `Graph::places`).
    rooms_incomplete: bool,
    mine: Option<Listing<Calendar>>,
    errors: FormErrors,
    form: SubscribeForm,
    /// Lower-cased address → subscription, for the search results and rooms.
    subscribed: HashMap<String, i64>,
    /// Lower-cased addresses checked for the bulk subscribe.
    checked: HashSet<String>,
}

impl ConnectTemplate {
    pub fn subscription_of(&self, address: &str) -> Option<i64> {
        self.subscribed.get(&address.to_lowercase()).copied()
    }

    pub fn is_checked(&self, address: &str) -> bool {
        self.checked.contains(&address.to_lowercase())
    }

    /// The start in the admin's zone (`03.12.2026 10:00 CET`), or the date alone for all-day
    /// events (floating dates). The preview asks Graph for UTC.
    pub fn when(&self, e: &PreviewEvent) -> String {
        let raw = e.start.as_ref().map(|s| s.date_time.as_str()).unwrap_or("");
        if e.is_all_day {
            return raw.chars().take(10).collect();
        }
        match crate::time::parse_graph_time(raw) {
            Some(t) => self.p.time(&t.and_utc()),
            None => raw.to_string(),
        }
    }

    pub fn organizer(&self, e: &PreviewEvent) -> String {
        e.organizer
            .as_ref()
            .and_then(|o| o.email_address.as_ref())
            .and_then(|a| a.name.clone().or(a.address.clone()))
            .unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "connect_paused.html")]
pub struct PausedTemplate {
    p: Page,
    profile: Profile,
    status: crate::profiles::ProfileStatus,
}

/// Finds the calendar `r` names and reads its coming four weeks for the preview.
async fn lookup(
    state: &AppState,
    profile: &Profile,
    graph: &Graph,
    r: CalendarRef,
) -> WebResult<Lookup> {
    let target: Target = match crate::subscriptions::resolve(graph, profile, r).await {
        Ok(t) => t,
        Err(refusal) => return Ok(refusal.into()),
    };
    let now = Utc::now();
    let preview = graph
        .preview(&target.graph_ref, now, now + Duration::days(28))
        .await
        .map_err(|e| e.to_string());
    // The engine's rule, on the timed events (all-day ones carry no organizer's meeting).
    let anonymized = preview.as_ref().is_ok_and(|events| {
        looks_anonymized(events.iter().filter(|e| !e.is_all_day).map(|e| {
            let organizer = e
                .organizer
                .as_ref()
                .and_then(|o| o.email_address.as_ref())
                .and_then(|a| a.name.as_deref());
            (e.subject.as_deref().unwrap_or(""), organizer.unwrap_or(""))
        }))
    });
    let existing = state
        .db
        .subscription_for_calendar(profile.id, &target.calendar.id)
        .await?;
    Ok(Lookup::Found(Box::new(Found {
        source: target.source,
        mailbox_address: target.mailbox_address,
        mailbox_name: target.mailbox_name,
        calendar: target.calendar,
        preview,
        anonymized,
        existing,
    })))
}

/// The profile's token, or the page explaining why the profile cannot connect.
async fn token_or_paused(
    state: &AppState,
    p: Page,
    profile: &Profile,
) -> WebResult<Result<String, Response>> {
    match state.tokens.access_token(profile.id).await {
        Ok(t) => Ok(Ok(t.token)),
        Err(TokenFailure::Paused(status)) => Ok(Err(page::render(
            StatusCode::OK,
            &PausedTemplate {
                p,
                profile: profile.clone(),
                status,
            },
        )?)),
        Err(_) => {
            let fresh = state.db.profile(profile.id).await?;
            let status = fresh.status;
            Ok(Err(page::render(
                StatusCode::OK,
                &PausedTemplate {
                    p,
                    profile: fresh,
                    status: if status == crate::profiles::ProfileStatus::Ok {
                        crate::profiles::ProfileStatus::Unreachable
                    } else {
                        status
                    },
                },
            )?))
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    p: Page,
    Path(id): Path<i64>,
    Query(q): Query<ConnectQuery>,
) -> WebResult<Response> {
    render(
        &state,
        p,
        id,
        q,
        FormErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn render(
    state: &AppState,
    p: Page,
    id: i64,
    q: ConnectQuery,
    errors: FormErrors,
    form: Option<SubscribeForm>,
    status: StatusCode,
) -> WebResult<Response> {
    render_checked(state, p, id, q, errors, form, HashSet::new(), status).await
}

/// [`render`], with the bulk subscribe's rows still checked (its settings were refused).
#[allow(clippy::too_many_arguments)]
async fn render_checked(
    state: &AppState,
    p: Page,
    id: i64,
    q: ConnectQuery,
    errors: FormErrors,
    form: Option<SubscribeForm>,
    checked: HashSet<String>,
    status: StatusCode,
) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    let token = match token_or_paused(state, p.clone(), &profile).await? {
        Ok(t) => t,
        Err(paused) => return Ok(paused),
    };
    let endpoints = Endpoints::from(&profile);
    let graph = state.tokens.client().graph(&endpoints, &token);
    let address = q
        .address
        .as_deref()
        .map(str::trim)
        .unwrap_or("")
        .to_string();
    let personal = profile.personal_account();
    let lookup = if let Some(own) = q.own.as_deref().filter(|o| !o.is_empty()) {
        Some(lookup(state, &profile, &graph, CalendarRef::Own(own.to_string())).await?)
    } else if !address.is_empty() && personal {
        Some(Lookup::PersonalAccount)
    } else if !address.is_empty() {
        Some(
            lookup(
                state,
                &profile,
                &graph,
                CalendarRef::Mailbox(address.clone()),
            )
            .await?,
        )
    } else {
        None
    };
    let term = q.q.as_deref().map(str::trim).unwrap_or("").to_string();
    let search = if term.is_empty() {
        None
    } else if personal {
        // Graph does not support people search for personal accounts ("Delegated (personal
        // Microsoft account): Not supported"): say so instead of asking it.
        Some(Search::PersonalAccount)
    } else {
        Some(match graph.search_users(&term).await {
            Ok(users) => {
                // Rooms are marked when the rooms list is readable (Place.Read.All).
                let rooms: HashSet<String> = graph
                    .rooms()
                    .await
                    .map(|r| {
                        r.items
                            .into_iter()
                            .filter_map(|x| x.email_address.map(|e| e.to_lowercase()))
                            .collect()
                    })
                    .unwrap_or_default();
                let total = users.len();
                let pages = total.div_ceil(PAGE_SIZE).max(1);
                let page_no = q.page.unwrap_or(1).clamp(1, pages);
                let items = users
                    .into_iter()
                    .skip((page_no - 1) * PAGE_SIZE)
                    .take(PAGE_SIZE)
                    .map(|u| {
                        let address = u
                            .mail
                            .clone()
                            .or(u.user_principal_name.clone())
                            .unwrap_or_default();
                        let kind = if rooms.contains(&address.to_lowercase()) {
                            "kind-room"
                        } else if u.given_name.is_some() || u.surname.is_some() {
                            "kind-person"
                        } else {
                            "kind-unknown"
                        };
                        SearchResult {
                            name: u.display_name.unwrap_or_default(),
                            address,
                            kind,
                        }
                    })
                    .collect();
                Search::Results {
                    items,
                    total,
                    page: page_no,
                    pages,
                }
            }
            Err(e) if e.failure() == GraphFailure::Forbidden => Search::MissingPermission,
            Err(e) => Search::Failed(e.to_string()),
        })
    };
    let mut rooms_incomplete = false;
    let rooms = if q.rooms.is_some() && personal {
        Some(Listing::PersonalAccount)
    } else if q.rooms.is_some() {
        Some(match graph.rooms().await {
            Ok(r) => {
                rooms_incomplete |= !r.complete;
                Listing::Items(r.items)
            }
            Err(e) if e.failure() == GraphFailure::Forbidden => Listing::MissingPermission,
            Err(e) => Listing::Failed(e.to_string()),
        })
    } else {
        None
    };
    let room_lists = match &rooms {
        Some(Listing::Items(_)) => Some(match graph.room_lists().await {
            Ok(found) => {
                let mut out = Vec::new();
                rooms_incomplete |= !found.complete;
                for (n, list) in found.items.into_iter().enumerate() {
                    let Some(address) = list.email_address.clone() else {
                        continue;
                    };
                    let members = if n < LISTS_WITH_ROOMS {
                        match graph.rooms_of_list(&address).await {
                            Ok(r) => {
                                rooms_incomplete |= !r.complete;
                                Ok(r.items)
                            }
                            Err(e) => Err(e.to_string()),
                        }
                    } else {
                        Ok(Vec::new())
                    };
                    out.push((list, members));
                }
                Listing::Items(out)
            }
            Err(e) if e.failure() == GraphFailure::Forbidden => Listing::MissingPermission,
            Err(e) => Listing::Failed(e.to_string()),
        }),
        _ => None,
    };
    // An application has no calendars of its own ("/me" is refused for app-only tokens).
    let mine = if q.mine.is_some() && profile.kind == crate::model::ProfileKind::Delegated {
        Some(match graph.my_calendars().await {
            Ok(c) => Listing::Items(c),
            Err(e) if e.failure() == GraphFailure::Forbidden => Listing::MissingPermission,
            Err(e) => Listing::Failed(e.to_string()),
        })
    } else {
        None
    };
    let form = form.unwrap_or_else(|| {
        let mut f = SubscribeForm::default();
        if let Some(Lookup::Found(found)) = &lookup {
            f.display_name = if found.source == SubscriptionSource::Own {
                found.calendar.name.clone()
            } else {
                found.mailbox_name.clone()
            };
        }
        f
    });
    let account = profile.account_upn.clone().unwrap_or_default();
    // Addresses this profile has subscribed already: those rows link to the subscription
    // instead of offering a checkbox.
    let subscribed = if search.is_some() || rooms.is_some() {
        state
            .db
            .list_subscriptions(Some(profile.id))
            .await?
            .into_iter()
            .filter(|s| s.source == SubscriptionSource::Mailbox)
            .map(|s| (s.mailbox_address.to_lowercase(), s.id))
            .collect()
    } else {
        HashMap::new()
    };
    page::render(
        status,
        &ConnectTemplate {
            p,
            profile,
            account,
            personal,
            address,
            q: term,
            lookup,
            search,
            rooms,
            room_lists,
            rooms_incomplete,
            mine,
            errors,
            form,
            subscribed,
            checked,
        },
    )
}

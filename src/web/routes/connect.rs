//! "Connect": find a mailbox through a profile — by address, by searching names, from the rooms
//! list, or among the signed-in account's calendars — preview its calendar and subscribe it.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, Utc};
use serde::Deserialize;
use tower_sessions::Session;

use super::Actor;
use crate::graph::api::{Calendar, CalendarRef, Graph, MAX_VIEW_DAYS, PreviewEvent};
use crate::graph::{Endpoints, GraphError};
use crate::model::SubscriptionSource;
use crate::profiles::tokens::TokenFailure;
use crate::storage::StoreError;
use crate::storage::profiles::Profile;
use crate::storage::subscriptions::{NewSubscription, SubscriptionSettings};
use crate::web::auth::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::{self, FlashKind, FormErrors, Page, flash_args};
use crate::web::state::AppState;

pub(super) const PAGE_SIZE: usize = 25;

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
    /// The mailbox's directory object id, when the directory could be read.
    pub mailbox_id: Option<String>,
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

#[derive(Debug, Clone, Deserialize)]
pub struct SubscribeForm {
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub mailbox: String,
    #[serde(default)]
    pub calendar_id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub days_back: String,
    #[serde(default)]
    pub days_ahead: String,
    #[serde(default)]
    pub interval_minutes: String,
    pub enabled: Option<String>,
    pub mask_private: Option<String>,
    /// Present when the form shows the data-minimisation fields (the subscription's page);
    /// without it (the connect page) everything is stored and kept as the window says.
    pub minimisation: Option<String>,
    pub store_body: Option<String>,
    pub store_attendee_addresses: Option<String>,
    pub store_online_meeting: Option<String>,
    pub store_categories: Option<String>,
    /// Days after their end events are kept; empty: no rule.
    #[serde(default)]
    pub retention_days: String,
}

impl Default for SubscribeForm {
    fn default() -> Self {
        Self {
            source: String::new(),
            mailbox: String::new(),
            calendar_id: String::new(),
            display_name: String::new(),
            days_back: "7".into(),
            days_ahead: "180".into(),
            interval_minutes: "5".into(),
            enabled: Some("1".into()),
            mask_private: None,
            minimisation: None,
            store_body: Some("1".into()),
            store_attendee_addresses: Some("1".into()),
            store_online_meeting: Some("1".into()),
            store_categories: Some("1".into()),
            retention_days: String::new(),
        }
    }
}

fn number(raw: &str, min: i64, max: i64) -> Option<i64> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
}

/// Validates subscription settings; field errors use translation keys.
pub fn settings_from(
    form: &SubscribeForm,
    errors: &mut FormErrors,
) -> Option<SubscriptionSettings> {
    let name = form.display_name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("display_name", "sub-name-invalid");
    }
    // The window is the days back, today and the days ahead: Graph reads at most
    // MAX_VIEW_DAYS of them at once.
    let back = number(&form.days_back, 0, MAX_VIEW_DAYS - 2);
    if back.is_none() {
        errors.add("days_back", "sub-days-invalid");
    }
    let ahead = number(&form.days_ahead, 1, MAX_VIEW_DAYS - 1);
    if ahead.is_none() {
        errors.add("days_ahead", "sub-days-invalid");
    }
    if let (Some(b), Some(a)) = (back, ahead)
        && b + a + 1 > MAX_VIEW_DAYS
    {
        errors.add("days_ahead", "sub-window-too-long");
    }
    let interval = number(&form.interval_minutes, 1, 1440);
    if interval.is_none() {
        errors.add("interval_minutes", "sub-interval-invalid");
    }
    let (fields, retention) = if form.minimisation.is_some() {
        let fields = crate::model::StoredFields {
            body: form.store_body.is_some(),
            attendee_addresses: form.store_attendee_addresses.is_some(),
            online_meeting: form.store_online_meeting.is_some(),
            categories: form.store_categories.is_some(),
        };
        let raw = form.retention_days.trim();
        let retention = if raw.is_empty() {
            Some(None)
        } else {
            number(raw, 0, 36_500).map(Some)
        };
        if retention.is_none() {
            errors.add("retention_days", "sub-retention-invalid");
        }
        (fields, retention)
    } else {
        (crate::model::StoredFields::default(), Some(None))
    };
    Some(SubscriptionSettings {
        display_name: name,
        days_back: back?,
        days_ahead: ahead?,
        interval_minutes: interval?,
        enabled: form.enabled.is_some(),
        mask_private: form.mask_private.is_some(),
        fields,
        retention_days: retention?,
    })
    .filter(|_| errors.is_empty())
}

fn is_anonymized(events: &[PreviewEvent]) -> bool {
    let anonymized = events
        .iter()
        .filter(|e| {
            let subject = e.subject.as_deref().unwrap_or("").trim();
            let organizer = e
                .organizer
                .as_ref()
                .and_then(|o| o.email_address.as_ref())
                .and_then(|a| a.name.as_deref())
                .unwrap_or("");
            subject.is_empty() || (!organizer.is_empty() && subject.eq_ignore_ascii_case(organizer))
        })
        .count();
    events.len() >= 2 && anonymized * 2 > events.len()
}

/// Finds the calendar `r` names; with `preview`, also its coming four weeks (the bulk
/// subscribe skips that: it shows no preview and would double its requests).
pub(super) async fn lookup(
    state: &AppState,
    profile: &Profile,
    graph: &Graph,
    r: CalendarRef,
    with_preview: bool,
) -> WebResult<Lookup> {
    // Another mailbox is read by its directory id: its SMTP address need not be its UPN.
    let (r, mailbox_id) = match r {
        CalendarRef::Mailbox(address) => match graph.resolve_mailbox(&address).await {
            Ok(Some(user)) => (CalendarRef::Mailbox(user.id.clone()), Some(user.id)),
            Ok(None) => return Ok(Lookup::NotFound),
            // The directory cannot be read (permission, trouble): by address, as typed.
            Err(e) => {
                tracing::info!(error = %e, "directory lookup failed; reading the mailbox by address");
                (CalendarRef::Mailbox(address), None)
            }
        },
        own => (own, None),
    };
    let typed = match &r {
        CalendarRef::Mailbox(a) => a.clone(),
        CalendarRef::Own(_) => String::new(),
    };
    let calendar = match graph.calendar(&r).await {
        Ok(c) => c,
        Err(GraphError::Api {
            status: 404, code, ..
        }) if code == "MailboxNotEnabledForRESTAPI" || code == "ResourceNotFound" => {
            return Ok(Lookup::NoMailbox);
        }
        Err(GraphError::Api { status: 404, .. }) => return Ok(Lookup::NotFound),
        Err(GraphError::Api { status: 403, .. }) => return Ok(Lookup::Forbidden),
        Err(e) => return Ok(Lookup::Failed(e.to_string())),
    };
    let now = Utc::now();
    let preview = if with_preview {
        graph
            .preview(&r, now, now + Duration::days(28))
            .await
            .map_err(|e| e.to_string())
    } else {
        Ok(Vec::new())
    };
    let anonymized = preview.as_ref().is_ok_and(|p| is_anonymized(p));
    let owner = calendar.owner.clone();
    let (source, mailbox_address) = match &r {
        CalendarRef::Mailbox(_) => (
            SubscriptionSource::Mailbox,
            owner
                .as_ref()
                .and_then(|o| o.address.clone())
                .unwrap_or(typed),
        ),
        CalendarRef::Own(_) => (
            SubscriptionSource::Own,
            owner
                .as_ref()
                .and_then(|o| o.address.clone())
                .or(profile.account_upn.clone())
                .unwrap_or_default(),
        ),
    };
    let mailbox_name = owner
        .and_then(|o| o.name)
        .unwrap_or_else(|| mailbox_address.clone());
    let existing = state
        .db
        .subscription_for_calendar(profile.id, &calendar.id)
        .await?;
    Ok(Lookup::Found(Box::new(Found {
        source,
        mailbox_id,
        mailbox_address,
        mailbox_name,
        calendar,
        preview,
        anonymized,
        existing,
    })))
}

/// The profile's token, or the page explaining why the profile cannot connect.
pub(super) async fn token_or_paused(
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

pub(super) async fn render(
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
pub(super) async fn render_checked(
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
        Some(
            lookup(
                state,
                &profile,
                &graph,
                CalendarRef::Own(own.to_string()),
                true,
            )
            .await?,
        )
    } else if !address.is_empty() && personal {
        Some(Lookup::PersonalAccount)
    } else if !address.is_empty() {
        Some(
            lookup(
                state,
                &profile,
                &graph,
                CalendarRef::Mailbox(address.clone()),
                true,
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
            Err(GraphError::Api { status: 403, .. }) => Search::MissingPermission,
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
            Err(GraphError::Api { status: 403, .. }) => Listing::MissingPermission,
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
            Err(GraphError::Api { status: 403, .. }) => Listing::MissingPermission,
            Err(e) => Listing::Failed(e.to_string()),
        }),
        _ => None,
    };
    // An application has no calendars of its own ("/me" is refused for app-only tokens).
    let mine = if q.mine.is_some() && profile.kind == crate::model::ProfileKind::Delegated {
        Some(match graph.my_calendars().await {
            Ok(c) => Listing::Items(c),
            Err(GraphError::Api { status: 403, .. }) => Listing::MissingPermission,
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

/// Subscribes a calendar. The calendar is looked up again through Graph, so only a calendar the
/// profile can really read is subscribed, under its real id.
pub async fn subscribe(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(form): Form<SubscribeForm>,
) -> WebResult<Response> {
    let r = match form.source.parse() {
        Ok(SubscriptionSource::Own) => CalendarRef::Own(form.calendar_id.clone()),
        _ => CalendarRef::Mailbox(form.mailbox.clone()),
    };
    let query = match &r {
        CalendarRef::Own(c) => ConnectQuery {
            own: Some(c.clone()),
            ..Default::default()
        },
        CalendarRef::Mailbox(a) => ConnectQuery {
            address: Some(a.clone()),
            ..Default::default()
        },
    };
    let mut errors = FormErrors::default();
    let Some(settings) = settings_from(&form, &mut errors) else {
        return render(
            &state,
            p,
            id,
            query,
            errors,
            Some(form),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let profile = state.db.profile(id).await?;
    let token = match token_or_paused(&state, p.clone(), &profile).await? {
        Ok(t) => t,
        Err(paused) => return Ok(paused),
    };
    let endpoints = Endpoints::from(&profile);
    let graph = state.tokens.client().graph(&endpoints, &token);
    let Lookup::Found(found) = lookup(&state, &profile, &graph, r, true).await? else {
        errors.add("form", "sub-calendar-unavailable");
        return render(
            &state,
            p,
            id,
            query,
            errors,
            Some(form),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let created = state
        .db
        .create_subscription(&NewSubscription {
            profile_id: id,
            source: found.source,
            mailbox_id: found.mailbox_id.as_deref(),
            mailbox_address: &found.mailbox_address,
            mailbox_name: &found.mailbox_name,
            calendar_id: &found.calendar.id,
            calendar_name: &found.calendar.name,
            settings: &settings,
            created_by: &me.username,
        })
        .await;
    let sub_id = match created {
        Ok(s) => s,
        Err(StoreError::Duplicate) => {
            // Subscribed by someone else (or just now in another tab): show where it is.
            return render(
                &state,
                p,
                id,
                query,
                FormErrors::default(),
                Some(form),
                StatusCode::CONFLICT,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    state
        .db
        .record_audit(actor.record(
            "subscription.created",
            Some(settings.display_name.clone()),
            Some(format!(
                "{} / {} via {}",
                found.mailbox_address, found.calendar.name, profile.name
            )),
        ))
        .await?;
    flash_args(
        &session,
        FlashKind::Success,
        "sub-created",
        &[("name", &settings.display_name)],
    )
    .await?;
    Ok(p.redirect(&format!("/subscriptions/{sub_id}")))
}

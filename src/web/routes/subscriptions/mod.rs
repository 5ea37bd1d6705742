//! The subscriptions page: every subscribed calendar, its state; edit, pause, delete.

pub mod feeds;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use crate::model::RunStatus;
use crate::storage::StoreError;
use crate::storage::reading::ListedEvent;
use crate::storage::subscriptions::Subscription;
use crate::storage::sync::{QuietHour, SyncRun};
use crate::subscriptions::{SubscribeForm, manage};
use crate::web::auth::Actor;
use crate::web::error::WebResult;
use crate::web::page::{self, FlashKind, FormErrors, Page, flash_args};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "subscriptions/show.html")]
pub struct ShowTemplate {
    p: Page,
    s: Subscription,
    form: SubscribeForm,
    errors: FormErrors,
    conflict: bool,
    runs: Vec<SyncRun>,
    /// No-change runs, counted per hour (newest first).
    quiet: Vec<QuietHour>,
    /// Since when the ICS feed link exists.
    feed_since: Option<chrono::DateTime<chrono::Utc>>,
    /// A feed link just made: shown this once.
    feed_url: Option<String>,
    /// What the reader gets: today's and the coming week's events as stored (private ones
    /// masked when the subscription says so), filtered by `events_q`.
    events: Vec<ListedEvent>,
    events_q: String,
    /// More events matched than are listed.
    events_more: bool,
}

/// Events listed on the subscription's page at most.
const EVENTS_LISTED: usize = 200;
/// Today and this many days after it.
const EVENT_DAYS: i64 = 7;

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    /// Search in the listed events.
    events_q: Option<String>,
}

/// What the page shows besides the subscription and its form, read fresh.
#[allow(clippy::too_many_arguments)]
async fn template(
    state: &AppState,
    p: Page,
    s: Subscription,
    form: SubscribeForm,
    errors: FormErrors,
    conflict: bool,
    feed_url: Option<String>,
    events_q: String,
) -> WebResult<ShowTemplate> {
    let id = s.id;
    // From the start of the admin's today: the door sign shows the whole day.
    let today = chrono::Utc::now().with_timezone(&p.zone).date_naive();
    let from = crate::time::start_of_day(today, p.zone);
    let to = crate::time::start_of_day(today + chrono::Days::new(EVENT_DAYS as u64 + 1), p.zone);
    let limit = i64::try_from(EVENTS_LISTED).unwrap_or(200) + 1;
    let mut events = state
        .db
        .find_events(id, from, to, Some(events_q.as_str()), limit)
        .await?;
    let events_more = events.len() > EVENTS_LISTED;
    events.truncate(EVENTS_LISTED);
    Ok(ShowTemplate {
        p,
        s,
        form,
        errors,
        conflict,
        runs: state.db.runs_of(id, 20).await?,
        quiet: state.db.quiet_hours_of(id, 24).await?,
        feed_since: state.db.feed_created_at(id).await?,
        feed_url,
        events,
        events_q,
        events_more,
    })
}

impl ShowTemplate {
    pub fn event_days(&self) -> i64 {
        EVENT_DAYS
    }

    /// When an event is, in the viewer's zone: `03.12.2026 09:00–10:00 CET`; all-day events
    /// by their dates.
    pub fn event_when(&self, e: &ListedEvent) -> String {
        let row = &e.event.row;
        if row.is_all_day {
            let start = row.start_date.unwrap_or(row.start_utc.date_naive());
            // The end date is exclusive.
            let last = row
                .end_date
                .and_then(|d| d.pred_opt())
                .filter(|d| *d > start);
            let fmt = |d: chrono::NaiveDate| match self.p.lang {
                crate::i18n::Lang::De => d.format("%d.%m.%Y").to_string(),
                crate::i18n::Lang::En => d.format("%Y-%m-%d").to_string(),
            };
            return match last {
                Some(l) => format!("{}–{}", fmt(start), fmt(l)),
                None => fmt(start),
            };
        }
        let start = self.p.time(&row.start_utc);
        let (s, e) = (
            row.start_utc.with_timezone(&self.p.zone),
            row.end_utc.with_timezone(&self.p.zone),
        );
        if s.date_naive() == e.date_naive() {
            // "… 09:00 CET" → "… 09:00–10:00 CET"
            let end = e.format("%H:%M").to_string();
            match start.rsplit_once(' ') {
                Some((head, zone)) => format!("{head}–{end} {zone}"),
                None => start,
            }
        } else {
            format!("{start} – {}", self.p.time(&row.end_utc))
        }
    }

    /// Masked by Datapump (private, the subscription masks): the reader gets no subject either.
    pub fn is_masked(&self, e: &ListedEvent) -> bool {
        let row = &e.event.row;
        self.s.mask_private
            && matches!(row.sensitivity.as_deref(), Some("private" | "confidential"))
    }

    pub fn is_private(&self, e: &ListedEvent) -> bool {
        matches!(
            e.event.row.sensitivity.as_deref(),
            Some("private" | "confidential")
        )
    }
    /// A run under way: the page refreshes itself to show progress.
    pub fn running(&self) -> bool {
        self.runs
            .first()
            .is_some_and(|r| r.status == RunStatus::Running)
    }

    /// Bars of the recent runs' durations, oldest first: (x, height, css class, title).
    pub fn chart(&self) -> Vec<(usize, i64, &'static str, String)> {
        let runs: Vec<&SyncRun> = self.runs.iter().rev().collect();
        let secs = |r: &SyncRun| {
            r.finished_at
                .map_or(0, |f| (f - r.started_at).num_milliseconds().max(0))
        };
        let max = runs.iter().map(|r| secs(r)).max().unwrap_or(1).max(1);
        runs.iter()
            .enumerate()
            .map(|(i, r)| {
                let h = (secs(r) * 56 / max).max(3);
                let css = r.status.css();
                (i * 14 + 2, h, css, format!("{} {} ms", r.status, secs(r)))
            })
            .collect()
    }

    /// Average and longest duration of an hour's quiet runs.
    pub fn quiet_durations(&self, h: &QuietHour) -> String {
        let avg = h.duration_ms as f64 / h.runs.max(1) as f64 / 1000.0;
        format!("{avg:.1} s / {:.1} s", h.max_duration_ms as f64 / 1000.0)
    }

    pub fn duration(&self, r: &SyncRun) -> String {
        match r.finished_at {
            Some(f) => format!(
                "{:.1} s",
                (f - r.started_at).num_milliseconds() as f64 / 1000.0
            ),
            None => "…".into(),
        }
    }
}

fn form_of(s: &Subscription) -> SubscribeForm {
    SubscribeForm {
        source: s.source.to_string(),
        mailbox: s.mailbox_address.clone(),
        calendar_id: s.calendar_id.clone(),
        display_name: s.display_name.clone(),
        days_back: s.days_back.to_string(),
        days_ahead: s.days_ahead.to_string(),
        interval_minutes: s.interval_minutes.to_string(),
        enabled: s.enabled.then(|| "1".to_string()),
        mask_private: s.mask_private.then(|| "1".to_string()),
        minimisation: Some("1".into()),
        store_body: s.store_body.then(|| "1".to_string()),
        store_attendee_addresses: s.store_attendee_addresses.then(|| "1".to_string()),
        store_online_meeting: s.store_online_meeting.then(|| "1".to_string()),
        store_categories: s.store_categories.then(|| "1".to_string()),
        retention_days: s.retention_days.map(|d| d.to_string()).unwrap_or_default(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    p: Page,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
) -> WebResult<Response> {
    let s = state.db.subscription(id).await?;
    let form = form_of(&s);
    let events_q = q.events_q.unwrap_or_default().trim().to_string();
    page::ok(
        &template(
            &state,
            p,
            s,
            form,
            FormErrors::default(),
            false,
            None,
            events_q,
        )
        .await?,
    )
}

/// The subscription's page; `feed_url` is a feed link made by this request, shown once.
pub(crate) async fn show_page(
    state: &AppState,
    p: Page,
    id: i64,
    feed_url: Option<String>,
) -> WebResult<Response> {
    let s = state.db.subscription(id).await?;
    let form = form_of(&s);
    page::ok(
        &template(
            state,
            p,
            s,
            form,
            FormErrors::default(),
            false,
            feed_url,
            String::new(),
        )
        .await?,
    )
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(flatten)]
    form: SubscribeForm,
    version: i64,
}

pub async fn update(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(edit): Form<EditForm>,
) -> WebResult<Response> {
    let before = state.db.subscription(id).await?;
    let mut settings = match edit.form.settings() {
        Ok(s) => s,
        Err(invalid) => {
            let errors = FormErrors::from(invalid);
            let page = template(
                &state,
                p,
                before,
                edit.form,
                errors,
                false,
                None,
                String::new(),
            );
            return page::render(StatusCode::UNPROCESSABLE_ENTITY, &page.await?);
        }
    };
    if edit.form.minimisation.is_none() {
        // A form without the data-minimisation fields leaves them as they are.
        settings.fields = before.fields();
        settings.retention_days = before.retention_days;
    }
    match manage::update(&state.db, id, &settings, edit.version, &actor).await {
        Ok(()) => {
            flash_args(
                &session,
                FlashKind::Success,
                "sub-saved",
                &[("name", &settings.display_name)],
            )
            .await?;
            Ok(p.redirect(&format!("/subscriptions/{id}")))
        }
        Err(StoreError::Conflict) => {
            let current = state.db.subscription(id).await?;
            let form = form_of(&current);
            page::render(
                StatusCode::CONFLICT,
                &template(
                    &state,
                    p,
                    current,
                    form,
                    FormErrors::default(),
                    true,
                    None,
                    String::new(),
                )
                .await?,
            )
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn toggle(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let s = state.db.subscription(id).await?;
    manage::toggle(&state.db, &s, &actor).await?;
    let key = if s.enabled {
        "sub-paused"
    } else {
        "sub-resumed"
    };
    flash_args(
        &session,
        FlashKind::Success,
        key,
        &[("name", &s.display_name)],
    )
    .await?;
    Ok(p.redirect(&format!("/subscriptions/{id}")))
}

/// "Sync now": due at once; the scheduler picks it up within seconds.
pub async fn sync_now(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let s = state.db.subscription(id).await?;
    manage::sync_now(&state.db, &s, &actor).await?;
    flash_args(
        &session,
        FlashKind::Info,
        "sub-sync-requested",
        &[("name", &s.display_name)],
    )
    .await?;
    Ok(p.redirect(&format!("/subscriptions/{id}")))
}

#[derive(Template)]
#[template(path = "subscriptions/delete.html")]
pub struct DeleteTemplate {
    p: Page,
    s: Subscription,
}

pub async fn delete_form(
    State(state): State<AppState>,
    p: Page,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let s = state.db.subscription(id).await?;
    page::ok(&DeleteTemplate { p, s })
}

#[derive(Deserialize)]
pub struct DeleteForm {
    /// `keep` or `remove` the imported events.
    events: Option<String>,
}

pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(f): Form<DeleteForm>,
) -> WebResult<Response> {
    let s = state.db.subscription(id).await?;
    let keep = match f.events.as_deref() {
        Some("keep") => true,
        Some("remove") => false,
        _ => {
            let mut response =
                page::render(StatusCode::UNPROCESSABLE_ENTITY, &DeleteTemplate { p, s })?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(response);
        }
    };
    manage::delete(&state.db, &s, keep, &actor).await?;
    flash_args(
        &session,
        FlashKind::Success,
        "sub-deleted",
        &[("name", &s.display_name)],
    )
    .await?;
    Ok(p.redirect("/subscriptions"))
}

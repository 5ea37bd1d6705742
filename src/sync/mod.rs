//! The import engine: keeps each subscribed calendar's events in the database, incrementally,
//! crash-safe and throttle-aware.
//!
//! A run claims the subscription's lease, then walks `calendarView/delta` pages. Each page's
//! changes and the link to continue from are committed in one transaction, fenced by the lease,
//! so a run killed at any instant resumes where it stopped and a stolen lease cannot write. A full
//! round (first run, window moved, expired token, daily reconciliation) stamps rows with a new
//! generation and, on its last page, removes what it did not see.

mod budget;
pub mod domains;
mod error;
mod fetch;
mod guard;
pub mod map;
mod outcome;
mod policy;
pub mod room_lists;
pub mod rooms;
mod round;
mod run;
pub mod schedule;
mod scheduler;
mod self_check;
#[cfg(test)]
mod tests;
pub mod verify;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::model::{ItemIds, ProfileStatus, RunKind, RunStatus, SubscriptionSource};
use crate::profiles::tokens::TokenService;
use crate::storage::profiles::Profile;
use crate::storage::subscriptions::Subscription;
use crate::storage::sync::{
    Change, Due, Lease, PageCursor, PageWrite, RunOutcome, RunStats, SeriesNow,
};
use crate::storage::{Db, StoreError};
use crate::time::{delta as dur, from_now};

pub use self::error::RunError;
use self::fetch::Meter;
pub use self::policy::{ConcurrencyScope, SyncPolicy};
use self::round::RoundPlan;
use crate::graph::api::{CalendarRef, MAX_VIEW_DAYS};
use crate::graph::events::{DeltaItem, DeltaPage, Event};
use crate::graph::{Endpoints, GraphError, GraphFailure};

/// What one run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub subscription_id: i64,
    pub status: RunStatus,
    pub kind: RunKind,
    pub stats: RunStats,
    pub error: Option<String>,
}

pub struct SyncEngine {
    db: Db,
    tokens: Arc<TokenService>,
    client: crate::graph::Client,
    policy: SyncPolicy,
    owner: String,
    shutdown: CancellationToken,
    running: Arc<Mutex<HashSet<i64>>>,
    /// Per mailbox (by address, or by profile for `/me`): the permits for requests in flight.
    mailboxes: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    /// Graph's request budget per app and mailbox, shared by every run of this engine.
    budget: budget::RequestBudget,
    /// Runs going per profile, for the scheduler's fair share.
    profiles_running: Arc<Mutex<HashMap<i64, usize>>>,
    /// Engines alive on this database (itself included), as the scheduler last saw them.
    engines: std::sync::atomic::AtomicUsize,
    /// Subscriptions whose runs panic, for the test of the panic guard.
    #[cfg(test)]
    panic_for: Mutex<HashSet<i64>>,
}

pub(crate) struct RunContext<'a> {
    engine: &'a SyncEngine,
    /// The run's lease, renewed while it waits.
    lease: Lease,
    mailbox: Arc<tokio::sync::Semaphore>,
    /// The app and mailbox whose request budget the run draws from.
    budget_key: String,
    /// `None`: the profile was deleted; the run fails before reading anything.
    profile_id: Option<i64>,
    /// The profile's Graph (and identity platform) addresses.
    endpoints: Endpoints,
    calendar: CalendarRef,
    /// The id form asked for (and stored).
    ids: ItemIds,
    /// The subscription's window in this run.
    window: (DateTime<Utc>, DateTime<Utc>),
    deadline: Instant,
    /// Page counters (pages, created, updated, deleted); the request counters are in `meter`.
    stats: RunStats,
    meter: Meter,
}

/// Pages the fetcher may have waiting for the writer; one transaction applies at most one more
/// than this (the page in hand and those waiting).
const LOOK_AHEAD: usize = 2;

/// The key of Graph's request budget: the app and the mailbox (the account's own for its
/// calendars).
fn budget_key(sub: &Subscription, profile: &Profile) -> String {
    let app = profile.client_id.to_lowercase();
    match sub.source {
        SubscriptionSource::Own => format!("{app}|me:{}", profile.id),
        SubscriptionSource::Mailbox => format!("{app}|{}", sub.mailbox_address.to_lowercase()),
    }
}

/// The window of a subscription: whole UTC days, from `days_back` before today to `days_ahead`
/// after it (inclusive). It moves once a day, which starts a full round.
///
/// Graph reads at most [`MAX_VIEW_DAYS`] at once: a longer window (a subscription saved before
/// the form knew the limit) is shortened at its far end rather than refused.
pub fn window(
    days_back: i64,
    days_ahead: i64,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let days_back = days_back.clamp(0, MAX_VIEW_DAYS - 1);
    let days_ahead = days_ahead.clamp(0, MAX_VIEW_DAYS - 1 - days_back);
    let today = now.date_naive();
    let start = today - chrono::Duration::days(days_back);
    let end = today + chrono::Duration::days(days_ahead + 1);
    (
        start.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
        end.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
    )
}

/// Where Graph reads the subscription's calendar: a listed calendar of the signed-in account
/// (`own`), or another mailbox's primary calendar (of which only that one is reachable).
///
/// Another mailbox is addressed by its directory id once known: Graph takes an object id or
/// a UPN, and the SMTP address an admin types is often neither (graph-protocol §9.4).
pub fn calendar_ref(sub: &Subscription) -> CalendarRef {
    match sub.source {
        SubscriptionSource::Own => CalendarRef::Own(sub.calendar_id.clone()),
        SubscriptionSource::Mailbox => CalendarRef::Mailbox(
            sub.mailbox_id
                .clone()
                .unwrap_or_else(|| sub.mailbox_address.clone()),
        ),
    }
}

impl SyncEngine {
    pub fn new(
        db: Db,
        tokens: Arc<TokenService>,
        policy: SyncPolicy,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            client: tokens.client().clone(),
            db,
            tokens,
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            shutdown,
            running: Arc::default(),
            mailboxes: Mutex::new(HashMap::new()),
            budget: budget::RequestBudget::new(policy.request_budget.0, policy.request_budget.1),
            policy,
            profiles_running: Arc::default(),
            engines: std::sync::atomic::AtomicUsize::new(1),
            #[cfg(test)]
            panic_for: Mutex::default(),
        }
    }

    /// The request permits a run shares with every other run that Graph counts together: all
    /// runs of the app registration, or those reading the same mailbox.
    fn request_permits(
        &self,
        sub: &Subscription,
        profile: &Profile,
    ) -> Arc<tokio::sync::Semaphore> {
        let key = match (self.policy.concurrency_scope, sub.source) {
            (ConcurrencyScope::App, _) => format!("app:{}", profile.client_id.to_lowercase()),
            (ConcurrencyScope::AppAndMailbox, SubscriptionSource::Own) => {
                format!("me:{}", profile.id)
            }
            (ConcurrencyScope::AppAndMailbox, SubscriptionSource::Mailbox) => {
                sub.mailbox_address.to_lowercase()
            }
        };
        let mut map = self.mailboxes.lock().unwrap_or_else(|p| p.into_inner());
        // Forget keys nobody is using, so that the map does not grow forever.
        map.retain(|_, s| Arc::strong_count(s) > 1);
        map.entry(key)
            .or_insert_with(|| {
                Arc::new(tokio::sync::Semaphore::new(
                    self.policy.mailbox_concurrency.max(1),
                ))
            })
            .clone()
    }

    /// Engines alive on this database, this one included (1 until the scheduler knows).
    fn engines_alive(&self) -> u32 {
        u32::try_from(
            self.engines
                .load(std::sync::atomic::Ordering::Relaxed)
                .max(1),
        )
        .unwrap_or(1)
    }

    /// Permits one Graph request takes from its semaphore. Graph's limit of concurrent
    /// requests per app holds for all instances together, and each instance keeps its own
    /// semaphore: with n engines alive, a request takes n of the app's permits, so that the
    /// instances together stay within it. Per mailbox (`AppAndMailbox`) a mailbox is run by
    /// one engine at a time (its lease), and one permit is enough.
    fn permit_weight(&self) -> u32 {
        match self.policy.concurrency_scope {
            ConcurrencyScope::App => {
                let n = self.engines.load(std::sync::atomic::Ordering::Relaxed);
                u32::try_from(n.clamp(1, self.policy.mailbox_concurrency.max(1))).unwrap_or(1)
            }
            ConcurrencyScope::AppAndMailbox => 1,
        }
    }

    pub fn policy(&self) -> &SyncPolicy {
        &self.policy
    }

    /// Runs one subscription now if its lease is free; `None` when another run holds it.
    pub async fn run_subscription(&self, id: i64) -> Result<Option<RunReport>, StoreError> {
        let until = from_now(self.policy.lease);
        let Some(lease) = self.db.claim_subscription(id, &self.owner, until).await? else {
            return Ok(None);
        };
        self.run_claimed(id, lease).await.map(Some)
    }

    /// Runs one subscription if it is still due and free (the scheduler's way: what another
    /// instance ran meanwhile is not run again); `None` otherwise.
    pub async fn run_due(&self, id: i64) -> Result<Option<RunReport>, StoreError> {
        let until = from_now(self.policy.lease);
        let Some(lease) = self
            .db
            .claim_due_subscription(id, &self.owner, until)
            .await?
        else {
            return Ok(None);
        };
        self.run_claimed(id, lease).await.map(Some)
    }
}

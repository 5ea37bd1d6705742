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
mod fetch;
mod guard;
pub mod map;
mod outcome;
pub mod room_lists;
pub mod rooms;
pub mod schedule;
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

use self::fetch::Meter;
use crate::graph::api::{CalendarRef, MAX_VIEW_DAYS};
use crate::graph::events::{DeltaItem, DeltaPage, Event};
use crate::graph::{Endpoints, GraphError, GraphFailure};

#[derive(Debug, Clone)]
pub struct SyncPolicy {
    /// `Prefer: odata.maxpagesize`.
    pub page_size: u32,
    /// How long a lease lasts without renewal (renewed with every page).
    pub lease: Duration,
    /// A run gives up after this long.
    pub max_run: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Runs in parallel per engine.
    pub concurrency: usize,
    /// A full reconciliation at least this often.
    pub full_every: Duration,
    /// How often the scheduler looks for due work.
    pub tick: Duration,
    /// Requests in flight at once, across this engine's runs: Graph allows an app four
    /// concurrent requests to Outlook.
    pub mailbox_concurrency: usize,
    /// What those four are counted over.
    pub concurrency_scope: ConcurrencyScope,
    /// The zone of the stored local times (`start_local`, `local_date`, the views).
    pub time_zone: chrono_tz::Tz,
    /// Outlook requests per app and mailbox and window: Graph's limit is 10,000 per
    /// 10 minutes.
    pub request_budget: (u32, Duration),
    /// How often the self-check compares a subscription's rows with Graph's calendar view
    /// (`None`: never).
    pub verify_every: Option<Duration>,
}

/// What Graph's Outlook limit of four concurrent requests counts. Microsoft's throttling page
/// says "4 concurrent requests per app ID" (graph-protocol §9): read strictly, all mailboxes
/// share the four, which is the default; `AppAndMailbox` (four per mailbox) is the common
/// reading and faster for many mailboxes, a configuration away (`DATAPUMP_GRAPH_CONCURRENCY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConcurrencyScope {
    #[default]
    App,
    AppAndMailbox,
}

impl std::str::FromStr for ConcurrencyScope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "app" => Ok(Self::App),
            "app-and-mailbox" => Ok(Self::AppAndMailbox),
            other => Err(format!("{other:?} is neither app nor app-and-mailbox")),
        }
    }
}

impl Default for SyncPolicy {
    fn default() -> Self {
        Self {
            page_size: 200,
            lease: Duration::from_secs(120),
            max_run: Duration::from_secs(15 * 60),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            concurrency: 8,
            full_every: Duration::from_secs(24 * 3600),
            tick: Duration::from_secs(1),
            mailbox_concurrency: 4,
            concurrency_scope: ConcurrencyScope::App,
            time_zone: chrono_tz::Europe::Berlin,
            request_budget: (10_000, Duration::from_secs(600)),
            verify_every: Some(Duration::from_secs(3600)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the profile needs attention ({})", .0.as_str())]
    ProfilePaused(ProfileStatus),
    #[error("Microsoft's sign-in service is not reachable right now")]
    ProfileUnreachable,
    #[error("the run took too long and was stopped")]
    Deadline,
    /// A Graph request that failed, as the client classified it (`GraphError::failure`).
    #[error("{}", graph_detail(.0))]
    Graph(GraphError),
    /// Graph answered, but not in a way this engine can use (a page without a link).
    #[error("unexpected answer from Graph: {0}")]
    Protocol(String),
    #[error("unexpected answer from Graph: {0}")]
    Event(#[from] map::Unmappable),
    #[error("another engine took over this subscription")]
    LeaseLost,
    #[error("stopped by shutdown")]
    Interrupted,
    /// A bug: the run panicked. Recorded as failed; the subscription is scheduled again.
    #[error("internal error (the run panicked: {0})")]
    Panicked(String),
    #[error("storage: {0}")]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
}

/// What the admin reads of a Graph failure: Graph's message too, which names the cause.
fn graph_detail(e: &GraphError) -> String {
    match e {
        GraphError::Api {
            status,
            code,
            message,
            ..
        } => format!("Graph answered {status} {code}: {message}"),
        GraphError::Network(_) | GraphError::Decode(_) => e.to_string(),
        GraphError::ForeignLink(_) => "Graph returned a link to another host; not followed".into(),
    }
}

impl RunError {
    /// How Graph's failure is to be handled, when it was one.
    pub fn graph_failure(&self) -> Option<GraphFailure> {
        match self {
            Self::Graph(e) => Some(e.failure()),
            _ => None,
        }
    }

    /// The translated explanation (message key) an admin sees next to the technical detail.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Self::Graph(e) => match e.failure() {
                GraphFailure::Forbidden => "sync-hint-forbidden",
                GraphFailure::NotFound => "sync-hint-not-found",
                GraphFailure::Unauthorized => "sync-hint-unauthorized",
                GraphFailure::Throttled(_) => "sync-hint-throttled",
                GraphFailure::Network => "sync-hint-network",
                GraphFailure::Gone
                | GraphFailure::ServerError
                | GraphFailure::Rejected
                | GraphFailure::Protocol => "sync-hint-graph",
            },
            Self::ProfilePaused(_) => "sync-hint-profile",
            Self::ProfileUnreachable => "sync-hint-network",
            Self::Deadline => "sync-hint-deadline",
            Self::Protocol(_) | Self::Event(_) => "sync-hint-graph",
            Self::Store(_) | Self::Internal(_) | Self::Panicked(_) => "sync-hint-internal",
            Self::LeaseLost | Self::Interrupted => return None,
        })
    }
}

impl From<GraphError> for RunError {
    fn from(e: GraphError) -> Self {
        Self::Graph(e)
    }
}

impl From<StoreError> for RunError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::LeaseLost,
            other => Self::Store(other),
        }
    }
}

/// What a round learned about the series its pages brought: each is read once per round.
#[derive(Default)]
struct Series {
    /// Each master (the newest a page sent, else fetched); `None` when the account may not
    /// open it.
    masters: HashMap<String, Option<Event>>,
    /// Each series' occurrences and exceptions in the window, by id; `None` when not readable.
    instances: HashMap<String, Option<HashMap<String, Event>>>,
}

/// A series' detail, or `None` where Graph answers 404: the account may not open it (a
/// private series), which is no proof that it is gone.
fn unless_unreadable<T>(r: Result<T, RunError>) -> Result<Option<T>, RunError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.graph_failure() == Some(GraphFailure::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

#[derive(Clone, Copy)]
struct RoundPlan<'a> {
    lease: &'a Lease,
    /// The generation rows are stamped with.
    generation: i64,
    /// A full round: its last page removes the rows it did not see.
    full: bool,
    run_id: i64,
}

/// One delta page, mapped and ready to store: its entries in order, and the series it brought
/// back as they are now (delta rounds only; a full round's sweep removes what it did not see).
struct Page {
    changes: Vec<Change>,
    series: Vec<SeriesNow>,
    next_link: Option<String>,
    delta_link: Option<String>,
}

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

/// How often a scheduler tells the others it is alive; three missed beats and it is not.
const HEARTBEAT: Duration = Duration::from_secs(5);
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

    async fn run_claimed(&self, id: i64, lease: Lease) -> Result<RunReport, StoreError> {
        let sub = self.db.subscription(id).await?;
        // A new mailbox may bring a new internal domain: classify before writing. Looked up
        // by the mailbox's domain, so that a round over thousands of rooms does not reread
        // every subscription for each of them (the scheduler refreshes all periodically).
        let domain = sub
            .mailbox_address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("");
        let known = domain.is_empty() || self.db.is_internal_domain(domain).await.unwrap_or(false);
        if !known && let Err(e) = self.db.refresh_internal_domains().await {
            tracing::warn!(error = %e, "could not refresh the internal domains");
        }
        // When it fell due, for the lag (due to done) in the log: the scheduler's measure.
        let due = sub.next_sync_at.unwrap_or(sub.created_at);
        let started = Utc::now();
        let run_id = self.db.start_run(id, RunKind::Delta, &self.owner).await?;
        // Every line logged during the run carries these; `kind` is known at its end (a delta
        // round can become a full one).
        let span = tracing::info_span!(
            "import",
            subscription = id,
            run = run_id,
            kind = tracing::field::Empty
        );
        let mut ctx = RunContext {
            engine: self,
            lease: lease.clone(),
            // Replaced by the shared permits once the profile (its app) is known.
            mailbox: Arc::new(tokio::sync::Semaphore::new(1)),
            budget_key: String::new(),
            profile_id: sub.profile_id,
            endpoints: Endpoints::default(),
            calendar: calendar_ref(&sub),
            ids: sub.item_ids,
            window: window(sub.effective_days_back(), sub.days_ahead, Utc::now()),
            deadline: Instant::now() + self.policy.max_run,
            stats: RunStats::default(),
            meter: Meter::default(),
        };
        let mut kind = RunKind::Delta;
        let result = match sub.profile_id {
            None => Err(RunError::Internal(
                "the subscription's profile was deleted".into(),
            )),
            Some(pid) => match self.db.profile(pid).await {
                Ok(profile) => {
                    ctx.endpoints = Endpoints::from(&profile);
                    ctx.mailbox = self.request_permits(&sub, &profile);
                    ctx.budget_key = budget_key(&sub, &profile);
                    let run = self.sync(&mut ctx, &lease, &sub, run_id, &mut kind);
                    guard::catch_panic(run).instrument(span.clone()).await
                }
                Err(e) => Err(e.into()),
            },
        };
        let now = Utc::now();
        let interval = dur(Duration::from_secs(
            u64::try_from(sub.interval_minutes.max(1)).unwrap_or(5) * 60,
        ));
        if let Err(RunError::Panicked(message)) = &result {
            tracing::error!(parent: &span, panic = %message, "import run panicked; recorded as failed");
        }
        let step = outcome::next_step(&result, id, interval, sub.failures, now);
        let (status, error, next) = (step.run, step.error, step.next_sync_at);
        let stats = ctx.meter.stats(&ctx.stats);
        self.db
            .finish_run(run_id, kind, &stats, status, error.as_deref())
            .await?;
        if let Some(outcome) = step.subscription {
            self.db
                .finish_subscription_run(
                    &lease,
                    &RunOutcome {
                        series_unreadable: if ctx.meter.unreadable() > 0 {
                            Some(true)
                        } else if result.is_ok() && kind != RunKind::Delta {
                            // A whole round saw every series readable.
                            Some(false)
                        } else {
                            None
                        },
                        status: outcome,
                        error: error.as_deref(),
                        hint: result.as_ref().err().and_then(RunError::hint),
                        next_sync_at: next,
                        success: result.is_ok(),
                    },
                )
                .await?;
            if result.is_ok() {
                self.check_anonymized(id).await?;
            }
            let forbidden = result.as_ref().err().and_then(RunError::graph_failure)
                == Some(GraphFailure::Forbidden);
            if let (true, Some(pid)) = (forbidden, sub.profile_id) {
                self.pause_app_without_access(pid).await?;
            }
        }
        span.record("kind", tracing::field::display(kind));
        match &result {
            Ok(()) => tracing::info!(
                parent: &span,
                pages = stats.pages,
                created = stats.created,
                updated = stats.updated,
                deleted = stats.deleted,
                requests = stats.requests,
                duration_ms = (Utc::now() - started).num_milliseconds(),
                lag_ms = (Utc::now() - due).num_milliseconds().max(0),
                owner = %self.owner,
                "sync finished"
            ),
            Err(e) => tracing::warn!(parent: &span, error = %e, "sync did not finish"),
        }
        Ok(RunReport {
            subscription_id: id,
            status,
            kind,
            stats,
            error,
        })
    }

    /// An application profile whose token carries no calendar role and none of whose
    /// subscriptions has ever been read: neither Entra nor Exchange (RBAC for Applications)
    /// grants it anything, so it pauses with the fix named instead of failing every room
    /// forever. A missing role alone does not pause it — in the scoped setup Exchange grants
    /// the access and the token has no role — nor does a refusal once a room was read (that
    /// room is outside the scope).
    async fn pause_app_without_access(&self, profile_id: i64) -> Result<(), StoreError> {
        let profile = self.db.profile(profile_id).await?;
        let roles = profile.scopes();
        let has_role = [
            "Calendars.Read",
            "Calendars.ReadBasic.All",
            "Calendars.ReadWrite",
        ]
        .iter()
        .any(|r| roles.iter().any(|x| x == r));
        if profile.kind != crate::model::ProfileKind::Application
            || has_role
            || profile.status != ProfileStatus::Ok
        {
            return Ok(());
        }
        let read_once = self
            .db
            .list_subscriptions(Some(profile_id))
            .await?
            .iter()
            .any(|s| s.last_sync_at.is_some());
        if read_once {
            return Ok(());
        }
        self.db
            .set_profile_status(
                profile_id,
                ProfileStatus::ConsentMissing,
                Some("no-calendar-access"),
                Some("Graph refused the mailboxes (403) and the token has no calendar role"),
            )
            .await?;
        tracing::warn!(profile = %profile.name, "application profile paused: no calendar access");
        Ok(())
    }

    /// A subscription made before mailboxes were addressed by id (or whose directory lookup
    /// failed then) is resolved now, once; if the directory cannot be read, the mailbox is
    /// read by its address as before.
    async fn resolve_mailbox(
        &self,
        ctx: &mut RunContext<'_>,
        sub: &Subscription,
    ) -> Result<(), RunError> {
        if sub.source != SubscriptionSource::Mailbox || sub.mailbox_id.is_some() {
            return Ok(());
        }
        match ctx.resolve_mailbox(&sub.mailbox_address).await {
            Ok(Some(user)) => {
                self.db.set_mailbox_id(sub.id, &user.id).await?;
                ctx.calendar = CalendarRef::Mailbox(user.id);
            }
            Ok(None) => {
                tracing::info!(
                    "the directory does not know the mailbox's address; reading it by address"
                );
            }
            Err(
                e @ (RunError::ProfilePaused(_)
                | RunError::ProfileUnreachable
                | RunError::Deadline
                | RunError::Store(_)),
            ) => {
                return Err(e);
            }
            Err(e) => {
                tracing::info!(error = %e, "directory lookup failed; reading the mailbox by address");
            }
        }
        Ok(())
    }

    /// A subscription that stored Graph's default ids (made before Datapump asked for immutable
    /// ones) switches once: its stored ids are translated by Graph and rewritten in one
    /// transaction, so rows keep their identity and nothing is imported twice; then a full
    /// round in the new form follows. If Graph cannot translate now, this run reads as before
    /// and the next one tries again.
    async fn adopt_immutable_ids(
        &self,
        ctx: &mut RunContext<'_>,
        lease: &Lease,
        sub: &Subscription,
    ) -> Result<(), RunError> {
        if ctx.ids == ItemIds::Immutable {
            return Ok(());
        }
        let stored = self.db.stored_item_ids(sub.id).await?;
        let translated = if stored.is_empty() {
            Vec::new()
        } else {
            match ctx.translate_to_immutable(&stored).await {
                Ok(t) => t,
                Err(
                    e @ (RunError::ProfilePaused(_)
                    | RunError::ProfileUnreachable
                    | RunError::Deadline
                    | RunError::Store(_)),
                ) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "could not translate the stored ids to immutable ids; trying again next run");
                    return Ok(());
                }
            }
        };
        let rows = self.db.switch_to_immutable_ids(lease, &translated).await?;
        tracing::info!(
            rows,
            untranslated = stored.len().saturating_sub(translated.len()),
            "switched to immutable ids"
        );
        ctx.ids = ItemIds::Immutable;
        Ok(())
    }

    async fn sync(
        &self,
        ctx: &mut RunContext<'_>,
        lease: &Lease,
        sub: &Subscription,
        run_id: i64,
        kind: &mut RunKind,
    ) -> Result<(), RunError> {
        #[cfg(test)]
        if self
            .panic_for
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&sub.id)
        {
            #[allow(clippy::panic)]
            {
                panic!("injected by a test");
            }
        }
        self.resolve_mailbox(ctx, sub).await?;
        self.adopt_immutable_ids(ctx, lease, sub).await?;
        let w = window(sub.effective_days_back(), sub.days_ahead, Utc::now());
        ctx.window = w;
        if matches!(ctx.calendar, CalendarRef::Own(_)) {
            *kind = RunKind::Full;
            return self.view_round(ctx, lease, sub, run_id).await;
        }
        let cursor = self.db.cursor(sub.id).await?;
        let same_window = cursor.window_start == Some(w.0) && cursor.window_end == Some(w.1);
        let full_due = cursor
            .last_full_sync_at
            .is_none_or(|t| Utc::now() - t > dur(self.policy.full_every));
        let mut generation = cursor.sync_generation;
        let mut full = cursor.round_full;
        // Where this round starts; the database holds the same for resuming after a crash.
        let mut link = match (&cursor.next_link, &cursor.delta_link) {
            (Some(next), _) if same_window => {
                // Resume the round a previous run left (crash or shutdown).
                if full {
                    generation = cursor.round_generation;
                }
                next.clone()
            }
            (_, Some(delta)) if same_window && !full_due => {
                self.db.start_round(lease, delta, None, w).await?;
                full = false;
                delta.clone()
            }
            _ => {
                generation = cursor.sync_generation + 1;
                let first = ctx.delta_start(w);
                self.db
                    .start_round(lease, &first, Some(generation), w)
                    .await?;
                full = true;
                first
            }
        };
        *kind = if full { RunKind::Full } else { RunKind::Delta };
        let mut restarted = false;
        loop {
            match self
                .round(
                    ctx,
                    &link,
                    sub,
                    &RoundPlan {
                        lease,
                        generation,
                        full,
                        run_id,
                    },
                )
                .await
            {
                Err(e) if !restarted && e.graph_failure() == Some(GraphFailure::Gone) => {
                    // The delta token expired: a full round that reconciles.
                    restarted = true;
                    self.db.reset_cursor(lease).await?;
                    generation = self.db.cursor(sub.id).await?.sync_generation + 1;
                    link = ctx.delta_start(w);
                    self.db
                        .start_round(lease, &link, Some(generation), w)
                        .await?;
                    full = true;
                    *kind = RunKind::Resync;
                }
                Err(e) => return Err(e),
                Ok(()) => break,
            }
        }
        self.self_check(ctx, lease, sub, run_id, kind, full).await
    }

    /// A listed calendar of the account other than a mailbox's primary one: v1.0 has no delta
    /// for it (docs/graph-behaviours.md), so every run reads its `calendarView` whole (such
    /// calendars are small) and reconciles like a full round. Where Graph sends `@odata.count`,
    /// the sweep runs when the listing has that many items (otherwise nothing is removed this
    /// run); without it, the listing is read twice and only what neither read saw is removed,
    /// so one listing cut short without a next link removes nothing.
    async fn view_round(
        &self,
        ctx: &mut RunContext<'_>,
        lease: &Lease,
        sub: &Subscription,
        run_id: i64,
    ) -> Result<(), RunError> {
        let w = ctx.window;
        let generation = self.db.cursor(sub.id).await?.sync_generation + 1;
        let first = ctx.delta_start(w);
        self.db
            .start_round(lease, &first, Some(generation), w)
            .await?;
        let mut pages = ctx.stats;
        let series = Series::default();
        // Without a count, one listing that ends without a next link proves nothing: a second
        // one follows, and only what neither saw is removed (both stamp this generation).
        for pass in 0..2 {
            let (mut read, mut count) = (0u64, None);
            let mut link = first.clone();
            let counted = loop {
                if self.shutdown.is_cancelled() {
                    return Err(RunError::Interrupted);
                }
                let page = ctx.delta_page(&link).await?;
                count = page.count.or(count);
                read += u64::try_from(page.value.len()).unwrap_or(u64::MAX);
                let mut changes = Vec::with_capacity(page.value.len());
                for e in page.value {
                    if !e.is_series_master() {
                        changes.push(Change::Upsert(self.row(ctx, &e, sub, &series)?));
                    }
                }
                let last = page.next_link.is_none();
                let whole = last
                    && match count {
                        Some(c) => c == read,
                        None => pass == 1,
                    };
                if last && count.is_some_and(|c| c != read) {
                    tracing::warn!(
                        read,
                        count = ?count,
                        "the calendar view ended short of its count; nothing removed this run"
                    );
                }
                let cursor = PageCursor {
                    next_link: page.next_link.as_deref(),
                    delta_link: None,
                    complete_full_round: whole.then_some(generation),
                    lease_until: from_now(self.policy.lease),
                };
                let progress = ctx.meter.stats(&pages);
                let stats = self
                    .db
                    .apply_pages(
                        lease,
                        generation,
                        &[PageWrite {
                            changes: &changes,
                            series: &[],
                        }],
                        &cursor,
                        (run_id, &progress),
                    )
                    .await?;
                for s in stats {
                    pages.add_page(s);
                }
                match page.next_link {
                    Some(next) => link = next,
                    None => break count.is_some(),
                }
            };
            if counted {
                break;
            }
        }
        ctx.stats = pages;
        // Every run is a full reconciliation: the self-check has nothing to add.
        self.db.record_check(lease, 0).await?;
        Ok(())
    }

    /// What differs now between Graph's calendar view and the stored rows.
    async fn drift_now(
        &self,
        ctx: &RunContext<'_>,
        subscription: i64,
    ) -> Result<verify::Drift, RunError> {
        Ok(verify::drift(
            &ctx.view_versions().await?,
            &self.db.stored_versions(subscription).await?,
        ))
    }

    /// The self-check after a round that ended well, when it is due (`verify`): a full round
    /// stands in for it; otherwise the rows are compared with Graph's calendar view, and what
    /// differs in two reads with a delta round between is counted, logged and repaired by a
    /// full round.
    async fn self_check(
        &self,
        ctx: &mut RunContext<'_>,
        lease: &Lease,
        sub: &Subscription,
        run_id: i64,
        kind: &mut RunKind,
        full: bool,
    ) -> Result<(), RunError> {
        let Some(every) = self.policy.verify_every else {
            return Ok(());
        };
        if full {
            self.db.record_check(lease, 0).await?;
            return Ok(());
        }
        if sub.verified_at.is_some_and(|t| Utc::now() - t < dur(every)) {
            return Ok(());
        }
        let first = self.drift_now(ctx, sub.id).await?;
        let mut drift = first.clone();
        if !first.is_empty() {
            // What changed since the round is no drift: another delta round, another read.
            let cursor = self.db.cursor(sub.id).await?;
            if let Some(delta) = cursor.delta_link {
                self.db.start_round(lease, &delta, None, ctx.window).await?;
                let plan = RoundPlan {
                    lease,
                    generation: cursor.sync_generation,
                    full: false,
                    run_id,
                };
                self.round(ctx, &delta, sub, &plan).await?;
            }
            let second = self.drift_now(ctx, sub.id).await?;
            drift = first.confirmed_by(&second);
        }
        let n = i64::try_from(drift.len()).unwrap_or(i64::MAX);
        self.db.record_check(lease, n).await?;
        if drift.is_empty() {
            return Ok(());
        }
        tracing::warn!(
            drift = n,
            missing = ?drift.missing,
            extra = ?drift.extra,
            changed = ?drift.changed,
            "self-check: stored rows differ from Graph; repairing with a full round"
        );
        let generation = self.db.cursor(sub.id).await?.sync_generation + 1;
        let first_link = ctx.delta_start(ctx.window);
        self.db
            .start_round(lease, &first_link, Some(generation), ctx.window)
            .await?;
        *kind = RunKind::Repair;
        let plan = RoundPlan {
            lease,
            generation,
            full: true,
            run_id,
        };
        self.round(ctx, &first_link, sub, &plan).await
    }

    /// Fetches and applies the pages of a round from `first` on. A fetcher keeps up to
    /// `LOOK_AHEAD` pages waiting for the writer, so that the database's latency hides behind
    /// Graph's; the writer applies the pages in order, and what has arrived while it waited for
    /// the database goes into one transaction with the link that follows the last of them, so
    /// what a crash leaves is the same as without the look-ahead: the pages up to a link, and
    /// that link. One transaction per page cost a single-writer database (SQLite) a commit per
    /// page, each rewriting the index pages the page touched. Ends with the first error (after
    /// every page before it is applied).
    async fn round(
        &self,
        ctx: &mut RunContext<'_>,
        first: &str,
        sub: &Subscription,
        plan: &RoundPlan<'_>,
    ) -> Result<(), RunError> {
        let RoundPlan {
            lease,
            generation,
            full,
            run_id,
        } = *plan;
        let mut pages = ctx.stats;
        let shared: &RunContext<'_> = ctx;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Page, RunError>>(LOOK_AHEAD);
        let fetcher = async move {
            // Series masters and their occurrences' iCalUIds, fetched once per series and round.
            let mut series = Series::default();
            let mut link = first.to_string();
            loop {
                let page = self.fetch_page(shared, &link, sub, full, &mut series).await;
                let next = page.as_ref().ok().and_then(|p| p.next_link.clone());
                if tx.send(page).await.is_err() {
                    return;
                }
                match next {
                    Some(n) => link = n,
                    None => return,
                }
            }
        };
        let writer = async {
            while let Some(first) = rx.recv().await {
                if self.shutdown.is_cancelled() {
                    return Err(RunError::Interrupted);
                }
                // The pages that are ready, up to the round's last; an error that follows them
                // ends the round after they are applied.
                let mut batch = vec![first?];
                let mut failed = None;
                while batch.len() < LOOK_AHEAD + 1
                    && batch.last().is_some_and(|p| p.next_link.is_some())
                {
                    match rx.try_recv() {
                        Ok(Ok(page)) => batch.push(page),
                        Ok(Err(e)) => {
                            failed = Some(e);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let Some(last) = batch.last() else {
                    continue;
                };
                let complete = (full && last.delta_link.is_some()).then_some(generation);
                let cursor = PageCursor {
                    next_link: last.next_link.as_deref(),
                    delta_link: last.delta_link.as_deref(),
                    complete_full_round: complete,
                    lease_until: from_now(self.policy.lease),
                };
                let writes: Vec<PageWrite<'_>> = batch
                    .iter()
                    .map(|p| PageWrite {
                        changes: &p.changes,
                        series: &p.series,
                    })
                    .collect();
                let progress = shared.meter.stats(&pages);
                let stats = self
                    .db
                    .apply_pages(lease, generation, &writes, &cursor, (run_id, &progress))
                    .await?;
                for s in stats {
                    pages.add_page(s);
                }
                if let Some(e) = failed {
                    return Err(e);
                }
                if cursor.next_link.is_none() {
                    return Ok(());
                }
            }
            Err(RunError::Internal("the page fetcher stopped early".into()))
        };
        let result = {
            tokio::pin!(fetcher, writer);
            let mut fetching = true;
            loop {
                tokio::select! {
                    done = &mut writer => break done,
                    () = &mut fetcher, if fetching => fetching = false,
                }
            }
        };
        ctx.stats = pages;
        result
    }

    /// Fetches one delta page and maps it to rows. Every series the page brings back (its
    /// master, an occurrence or an exception) is read once per round: its master unless the
    /// page (or an earlier one) sent it, and its instances in the window, which give each
    /// occurrence its own iCalUId and, in a delta round, say what the series is now — Graph
    /// does not say which occurrences vanished when one was deleted or the series moved
    /// (docs/graph-behaviours.md). A series that cannot be read (404: private) never deletes.
    async fn fetch_page(
        &self,
        ctx: &RunContext<'_>,
        link: &str,
        sub: &Subscription,
        full: bool,
        series: &mut Series,
    ) -> Result<Page, RunError> {
        let DeltaPage {
            value: items,
            next_link,
            delta_link,
            ..
        } = ctx.delta_page(link).await?;
        if next_link.is_none() && delta_link.is_none() {
            return Err(RunError::Protocol(
                "a page with neither nextLink nor deltaLink".into(),
            ));
        }
        let items: Vec<DeltaItem> = items.into_iter().map(|i| i.into_item()).collect();
        // The series this page brings back that the round has not read yet, in page order.
        let mut brought: Vec<String> = Vec::new();
        for item in &items {
            let mid = match item {
                DeltaItem::Event(e) if e.is_series_master() => {
                    // Sent in the page: used as is, never a row of its own.
                    series.masters.insert(e.id.clone(), Some((**e).clone()));
                    Some(&e.id)
                }
                DeltaItem::Event(e) => e.series_master_id.as_ref(),
                DeltaItem::Removed(_) => None,
            };
            if let Some(mid) = mid
                && !series.instances.contains_key(mid)
                && !brought.contains(mid)
            {
                brought.push(mid.clone());
            }
        }
        // Read side by side (the mailbox's permits keep it within Graph's limit).
        let width = self.policy.mailbox_concurrency.max(1);
        let masters_missing: Vec<String> = brought
            .iter()
            .filter(|m| !series.masters.contains_key(*m))
            .cloned()
            .collect();
        let fetched: Vec<_> = futures_util::stream::iter(masters_missing)
            .map(|mid| async move {
                let master = ctx.series_master(&mid).await;
                (mid, master)
            })
            .buffer_unordered(width)
            .collect()
            .await;
        for (mid, master) in fetched {
            // Not found is no proof the series is gone: a private series the account may not
            // open answers the same (graph-protocol §9.2).
            let master = unless_unreadable(master)?;
            series.masters.insert(mid, master);
        }
        let fetched: Vec<_> = futures_util::stream::iter(brought.clone())
            .map(|mid| async move {
                let instances = ctx.instances(&mid).await;
                (mid, instances)
            })
            .buffer_unordered(width)
            .collect()
            .await;
        for (mid, instances) in fetched {
            let instances = unless_unreadable(instances)?
                .map(|list| list.into_iter().map(|i| (i.id.clone(), i)).collect());
            series.instances.insert(mid, instances);
        }
        let mut changes = Vec::with_capacity(items.len());
        for item in items {
            match item {
                DeltaItem::Removed(id) => changes.push(Change::Remove(id)),
                DeltaItem::Event(e) if e.is_series_master() => {}
                DeltaItem::Event(e) => {
                    changes.push(Change::Upsert(self.row(ctx, &e, sub, series)?))
                }
            }
        }
        // What the series brought back are now; the full round's sweep does this for it.
        let mut now = Vec::new();
        if !full {
            for mid in brought {
                let (Some(Some(master)), Some(Some(instances))) =
                    (series.masters.get(&mid), series.instances.get(&mid))
                else {
                    continue;
                };
                // A listing that lacks what the page just sent of the series is not taken as
                // what the series is (cut short, or changed meanwhile): nothing of it is
                // deleted this round.
                let lacking = changes.iter().any(|c| {
                    matches!(c, Change::Upsert(r)
                        if r.series_master_id.as_deref() == Some(mid.as_str())
                            && !instances.contains_key(&r.graph_id))
                });
                if lacking {
                    tracing::info!(
                        series = %mid,
                        "a series' instances lack an occurrence the page sent; not reconciled this round"
                    );
                    continue;
                }
                let mut rows = Vec::new();
                for i in instances.values().filter(|i| i.is_minimal_occurrence()) {
                    let mut row = map::to_row(
                        i,
                        Some(master),
                        sub.mask_private,
                        sub.fields(),
                        self.policy.time_zone,
                    )?;
                    row.ical_uid = i.ical_uid.clone();
                    rows.push(row);
                }
                now.push(SeriesNow {
                    master_id: mid,
                    instances: instances.keys().cloned().collect(),
                    rows,
                });
            }
        }
        Ok(Page {
            changes,
            series: now,
            next_link,
            delta_link,
        })
    }

    /// One event of a page as a row; a minimal occurrence with its series' details and its
    /// own iCalUId.
    fn row(
        &self,
        ctx: &RunContext<'_>,
        e: &Event,
        sub: &Subscription,
        series: &Series,
    ) -> Result<crate::storage::sync::EventRow, RunError> {
        let minimal = e.is_minimal_occurrence();
        let (master, unreadable) = match (minimal, &e.series_master_id) {
            (true, Some(mid)) => match series.masters.get(mid) {
                Some(Some(m)) => (Some(m), false),
                _ => (None, true),
            },
            _ => (None, false),
        };
        let mut row = map::to_row(
            e,
            master,
            sub.mask_private,
            sub.fields(),
            self.policy.time_zone,
        )?;
        if minimal {
            row.ical_uid = e
                .series_master_id
                .as_ref()
                .and_then(|mid| series.instances.get(mid))
                .and_then(Option::as_ref)
                .and_then(|list| list.get(&e.id))
                .and_then(|i| i.ical_uid.clone());
        }
        if unreadable {
            // Stored with what delta gave (times, type, series id); removed only through
            // `@removed` or a full round. Without a change key it is rewritten whenever it
            // is seen again, so its details arrive once the series becomes readable.
            row.change_key = None;
            ctx.meter.series_unreadable();
        }
        Ok(row)
    }

    /// Flags a room whose upcoming subjects are mostly empty or the organizer's name.
    async fn check_anonymized(&self, id: i64) -> Result<(), StoreError> {
        let recent = self.db.upcoming_subjects(id, 50).await?;
        let anonymized = crate::subscriptions::anonymized::looks_anonymized(
            recent
                .iter()
                .map(|(s, o)| (s.as_deref().unwrap_or(""), o.as_deref().unwrap_or(""))),
        );
        self.db.set_anonymized(id, anonymized).await
    }

    /// Runs every due subscription (or the given one) once, in the foreground.
    /// Records runs a killed process left "running" as interrupted (their lease has lapsed).
    async fn close_abandoned_runs(&self) {
        match self.db.close_abandoned_runs().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(runs = n, "closed runs left unfinished by an ended process"),
            Err(e) => tracing::warn!(error = %e, "could not close abandoned runs"),
        }
    }

    pub async fn run_once(&self, only: Option<i64>) -> Result<Vec<RunReport>, StoreError> {
        self.close_abandoned_runs().await;
        let ids = match only {
            Some(id) => {
                self.db.request_sync(id, None).await?;
                vec![id]
            }
            None => self
                .db
                .due_subscriptions(Utc::now(), 10_000)
                .await?
                .into_iter()
                .map(|d| d.id)
                .collect(),
        };
        let mut reports = Vec::new();
        for id in ids {
            if let Some(r) = self.run_due(id).await? {
                reports.push(r);
            }
        }
        Ok(reports)
    }
}

/// How a task of the scheduler ended.
enum TaskEnd {
    Done,
    /// Another instance held or had just taken the subscription: this engine ran nothing.
    NotClaimed,
}

/// Records a finished task: a run another instance took first does not count against this
/// engine's share, so that it takes something else at once instead of leaving the rest of the
/// window to whoever won the race (both engines list the due work oldest first).
fn ended(done: Result<TaskEnd, tokio::task::JoinError>, share: &mut schedule::Share) {
    match done {
        Ok(TaskEnd::NotClaimed) => share.gave_back(1),
        Ok(TaskEnd::Done) => {}
        Err(e) if e.is_panic() => {
            tracing::error!(panic = %guard::message(e.into_panic().as_ref()), "an import task panicked");
        }
        Err(_) => {}
    }
}

impl SyncEngine {
    /// The background scheduler: picks due subscriptions, runs up to `concurrency` at once,
    /// never two runs of one subscription (the lease, and a set in this process).
    pub async fn run_scheduler(self: Arc<Self>) {
        let permits = Arc::new(tokio::sync::Semaphore::new(self.policy.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::<TaskEnd>::new();
        let mut tick = tokio::time::interval(self.policy.tick);
        // At start, and again whenever a lease could have lapsed: another instance may have
        // been killed meanwhile.
        let mut next_cleanup = Instant::now();
        let mut next_heartbeat = Instant::now();
        let mut share = schedule::Share::new(self.policy.tick);
        loop {
            // A finished run frees its slot at once: the next due subscription starts then,
            // not at the next tick.
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                _ = tick.tick() => {}
                Some(done) = tasks.join_next(), if !tasks.is_empty() => ended(done, &mut share),
            }
            if Instant::now() >= next_cleanup {
                self.close_abandoned_runs().await;
                next_cleanup = Instant::now() + self.policy.lease;
            }
            while let Some(done) = tasks.try_join_next() {
                ended(done, &mut share);
            }
            // More than fit: the fair share needs to see every profile's due work.
            let limit = i64::try_from(self.policy.concurrency.max(1) * 8).unwrap_or(64);
            let due = match self.db.due_subscriptions(Utc::now(), limit).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "could not look for due subscriptions");
                    continue;
                }
            };
            let alive_since = Utc::now() - dur(HEARTBEAT * 3);
            if Instant::now() >= next_heartbeat {
                next_heartbeat = Instant::now() + HEARTBEAT;
                if let Err(e) = self.db.engine_heartbeat(&self.owner, alive_since).await {
                    tracing::warn!(error = %e, "could not record this engine as alive");
                }
            }
            // Read every tick (one small query), so that an engine starting or stopping
            // changes the shares at once.
            let engines = match self.db.live_engines(alive_since).await {
                Ok(n) => usize::try_from(n).unwrap_or(1).max(1),
                Err(_) => 1,
            };
            self.engines
                .store(engines, std::sync::atomic::Ordering::Relaxed);
            let mut due: Vec<Due> = {
                let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
                due.into_iter()
                    .filter(|d| !running.contains(&d.id))
                    .collect()
            };
            let allowed = share.allowance(Instant::now(), Utc::now(), &due, engines);
            let free = permits.available_permits().min(allowed);
            if due.is_empty() || free == 0 {
                continue;
            }
            let picked = {
                let counts = self
                    .profiles_running
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                schedule::fair_pick(&due, &counts, self.policy.concurrency, free)
            };
            for id in picked {
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    break;
                };
                let Some(profile) =
                    (due.iter().position(|d| d.id == id)).map(|i| due.swap_remove(i).profile_id)
                else {
                    continue;
                };
                let Some(running) = guard::Running::enter(&self.running, id) else {
                    continue;
                };
                share.took(1);
                let slot = guard::ProfileSlot::enter(&self.profiles_running, profile);
                let engine = self.clone();
                tasks.spawn(async move {
                    let (_running, _slot) = (running, slot);
                    let end = match engine.run_due(id).await {
                        Ok(Some(_)) => TaskEnd::Done,
                        Ok(None) => TaskEnd::NotClaimed,
                        Err(e) => {
                            tracing::warn!(subscription = id, error = %e, "sync run failed to record");
                            TaskEnd::Done
                        }
                    };
                    drop(permit);
                    end
                });
            }
        }
        // Runs stop at their next page boundary; wait for them to record where they are.
        while tasks.join_next().await.is_some() {}
        if let Err(e) = self.db.engine_stopped(&self.owner).await {
            tracing::warn!(error = %e, "could not record this engine as stopped");
        }
    }
}

//! How the engine runs: its settings and what Graph's concurrency limit counts.

#[allow(clippy::wildcard_imports)]
use super::*;

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

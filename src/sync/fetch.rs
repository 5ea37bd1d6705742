//! Graph calls with the import engine's retry policy: `Retry-After` honoured on 429/503/504,
//! exponential backoff with full jitter on network errors and other 5xx, one token refresh on
//! 401, no retry on other 4xx; bounded by the run's deadline.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;

use super::{RunContext, RunError};
use crate::graph::api::{Graph, User};
use crate::graph::events::{DeltaPage, Event};
use crate::graph::{GraphError, GraphFailure};
use crate::profiles::tokens::TokenFailure;
use crate::storage::sync::RunStats;

const MAX_ATTEMPTS: u32 = 8;

/// What a run's requests cost so far. Shared: the pages of a run are fetched ahead of the
/// writer, and a page's series masters side by side.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    requests: AtomicI64,
    throttle_waits: AtomicI64,
    waited_ms: AtomicI64,
    /// Occurrences stored without their series master's details (not readable).
    unreadable: AtomicI64,
}

impl Meter {
    pub fn series_unreadable(&self) {
        self.unreadable.fetch_add(1, Ordering::Relaxed);
    }

    pub fn unreadable(&self) -> i64 {
        self.unreadable.load(Ordering::Relaxed)
    }

    /// The run's statistics: the page counters given, the request counters from here.
    pub fn stats(&self, pages: &RunStats) -> RunStats {
        RunStats {
            requests: self.requests.load(Ordering::Relaxed),
            throttle_waits: self.throttle_waits.load(Ordering::Relaxed),
            waited_ms: self.waited_ms.load(Ordering::Relaxed),
            ..*pages
        }
    }
}

impl RunContext<'_> {
    /// Waits `delay` unless that would pass the deadline. Shutdown ends the wait at once (the
    /// run is recorded as interrupted); a long wait renews the lease, so that no other instance
    /// takes over a run that only waits for Graph.
    async fn wait(&self, delay: Duration, throttled: bool) -> Result<(), RunError> {
        if Instant::now() + delay > self.deadline {
            return Err(RunError::Deadline);
        }
        if throttled {
            self.meter.throttle_waits.fetch_add(1, Ordering::Relaxed);
        }
        let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        self.meter.waited_ms.fetch_add(ms, Ordering::Relaxed);
        let until = Instant::now() + delay;
        let slice = (self.engine.policy.lease / 3).max(Duration::from_millis(10));
        loop {
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            tokio::select! {
                () = self.engine.shutdown.cancelled() => return Err(RunError::Interrupted),
                () = tokio::time::sleep((until - now).min(slice)) => {}
            }
            if Instant::now() < until {
                self.engine
                    .db
                    .renew_lease(&self.lease, crate::time::from_now(self.engine.policy.lease))
                    .await
                    .map_err(|e| match e {
                        crate::storage::StoreError::Conflict => RunError::LeaseLost,
                        e => RunError::from(e),
                    })?;
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self.engine.policy.backoff_cap;
        let ceiling = self
            .engine
            .policy
            .backoff_base
            .saturating_mul(2u32.saturating_pow(attempt.min(16)))
            .min(cap);
        let ms = u64::try_from(ceiling.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        Duration::from_millis(rand::rng().random_range(0..=ms))
    }

    /// The first link of a full round over the window.
    pub fn delta_start(
        &self,
        w: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    ) -> String {
        Graph::delta_start(&self.endpoints, &self.calendar, w.0, w.1)
    }

    /// One page of a delta round, with the retry policy.
    pub async fn delta_page(&self, link: &str) -> Result<DeltaPage, RunError> {
        let (size, ids) = (self.engine.policy.page_size, self.ids);
        self.call(|g| {
            let link = link.to_string();
            async move { g.delta_page(&link, size, ids).await }
        })
        .await
    }

    /// A series' occurrences and exceptions within the run's window, with the retry policy.
    pub async fn instances(&self, master_id: &str) -> Result<Vec<Event>, RunError> {
        self.call(|g| {
            let (calendar, id, ids, window) = (
                self.calendar.clone(),
                master_id.to_string(),
                self.ids,
                self.window,
            );
            async move { g.instances(&calendar, &id, window, ids).await }
        })
        .await
    }

    /// The window's instances as the self-check compares them, with the retry policy.
    pub async fn view_versions(&self) -> Result<Vec<Event>, RunError> {
        self.call(|g| {
            let (calendar, ids, window) = (self.calendar.clone(), self.ids, self.window);
            async move { g.view_versions(&calendar, window, ids).await }
        })
        .await
    }

    /// Graph's immutable ids for default ones of this mailbox, with the retry policy.
    pub async fn translate_to_immutable(
        &self,
        ids: &[String],
    ) -> Result<Vec<(String, String)>, RunError> {
        self.call(|g| {
            let calendar = self.calendar.clone();
            async move { g.translate_to_immutable(&calendar, ids).await }
        })
        .await
    }

    /// The directory object of a mailbox address, with the retry policy.
    pub async fn resolve_mailbox(&self, address: &str) -> Result<Option<User>, RunError> {
        self.call(|g| {
            let address = address.to_string();
            async move { g.resolve_mailbox(&address).await }
        })
        .await
    }

    /// The series master with this id, with the retry policy.
    pub async fn series_master(&self, id: &str) -> Result<Event, RunError> {
        self.call(|g| {
            let (calendar, id, ids) = (self.calendar.clone(), id.to_string(), self.ids);
            async move { g.event(&calendar, &id, ids).await }
        })
        .await
    }

    /// Runs a Graph operation under the profile's current token until it succeeds or the
    /// policy gives up. Graph allows an app four concurrent requests per mailbox: the mailbox's
    /// permit is held for the request only, not while backing off.
    async fn call<T, F, Fut>(&self, op: F) -> Result<T, RunError>
    where
        F: Fn(Graph) -> Fut,
        Fut: Future<Output = Result<T, GraphError>>,
    {
        let Some(profile_id) = self.profile_id else {
            return Err(RunError::Internal(
                "the subscription's profile was deleted".into(),
            ));
        };
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = match self.engine.tokens.access_token(profile_id).await {
                Ok(t) => t,
                Err(TokenFailure::Paused(status)) => return Err(RunError::ProfilePaused(status)),
                Err(TokenFailure::Backoff(_)) => return Err(RunError::ProfileUnreachable),
                Err(TokenFailure::Refresh(e))
                    if e.class() == crate::graph::FailureClass::Transient =>
                {
                    return Err(RunError::ProfileUnreachable);
                }
                Err(TokenFailure::Refresh(_)) => {
                    let status = self.engine.db.profile(profile_id).await?.status;
                    return Err(RunError::ProfilePaused(status));
                }
                Err(e) => return Err(RunError::Internal(e.to_string())),
            };
            // Graph's request budget of the app and mailbox: wait for room rather than be
            // refused (a wait that counts as throttling, and renews the lease).
            let budget = self
                .engine
                .budget
                .reserve(&self.budget_key, self.engine.engines_alive());
            if !budget.is_zero() {
                self.wait(budget, true).await?;
            }
            let graph = self.engine.client.graph(&self.endpoints, &token.token);
            // Shutdown does not wait for Graph: the request is dropped, the run interrupted.
            let result = tokio::select! {
                () = self.engine.shutdown.cancelled() => return Err(RunError::Interrupted),
                r = async {
                    let _permit = self.mailbox.acquire_many(self.engine.permit_weight()).await;
                    op(graph).await
                } => r,
            };
            let e = match result {
                Ok(value) => {
                    self.meter.requests.fetch_add(1, Ordering::Relaxed);
                    return Ok(value);
                }
                Err(e) => e,
            };
            // A link to another host was refused before anything was sent.
            if !matches!(e, GraphError::ForeignLink(_)) {
                self.meter.requests.fetch_add(1, Ordering::Relaxed);
            }
            match e.failure() {
                GraphFailure::Network if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(error = %e, "request failed; retrying");
                    let d = self.backoff(attempt);
                    self.wait(d, false).await?;
                }
                GraphFailure::Unauthorized if !refreshed => {
                    refreshed = true;
                    match self.engine.tokens.force_refresh(profile_id).await {
                        Ok(_) => {}
                        Err(TokenFailure::Paused(s)) => return Err(RunError::ProfilePaused(s)),
                        Err(_) => return Err(RunError::ProfileUnreachable),
                    }
                }
                GraphFailure::Throttled(wait_for) if attempt < MAX_ATTEMPTS * 4 => {
                    let d = wait_for
                        .map(|s| Duration::from_secs_f64(s.min(600.0)))
                        .unwrap_or_else(|| self.backoff(attempt));
                    self.wait(d, true).await?;
                }
                GraphFailure::ServerError if attempt < MAX_ATTEMPTS => {
                    let d = self.backoff(attempt);
                    self.wait(d, false).await?;
                }
                _ => return Err(RunError::from(e)),
            }
        }
    }
}

//! The background scheduler: picks due subscriptions fairly between profiles, runs a bounded
//! number at once, never two runs of one subscription; its heartbeat tells other instances it is
//! alive.

#[allow(clippy::wildcard_imports)]
use super::*;

/// How often a scheduler tells the others it is alive; three missed beats and it is not.
const HEARTBEAT: Duration = Duration::from_secs(5);

impl SyncEngine {
    /// Runs every due subscription (or the given one) once, in the foreground.
    /// Records runs a killed process left "running" as interrupted (their lease has lapsed).
    pub(super) async fn close_abandoned_runs(&self) {
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

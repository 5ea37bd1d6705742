//! Periodic work beside the import scheduler (which stays the engine's, with its leases and
//! heartbeat): each job runs on its own period until shutdown, and a failing job logs and tries
//! again next time, never stopping the others.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::storage::StoreError;
use crate::web::state::AppState;

type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A periodic job: its name (for the logs), how often it runs, and one run of it.
struct Job {
    name: &'static str,
    every: Duration,
    run: fn(AppState) -> Work,
}

/// Housekeeping: sessions, login failures, OAuth transactions, the retention of history.
const HOUSEKEEPING: Duration = Duration::from_secs(600);

/// Every job of this process; `with_scheduler` adds those that belong to an importing instance.
fn jobs(with_scheduler: bool, lease: Duration) -> Vec<Job> {
    let mut jobs = vec![
        Job {
            name: "API token uses",
            every: Duration::from_secs(5),
            run: |s| Box::pin(async move { log(s.api_uses.flush(&s.db).await) }),
        },
        Job {
            name: "expired sessions and sign-in records",
            every: HOUSEKEEPING,
            run: |s| Box::pin(expire_sign_ins(s)),
        },
        Job {
            name: "retention",
            every: HOUSEKEEPING,
            run: |s| Box::pin(async move { prune_history(&s).await }),
        },
        Job {
            name: "room directory",
            every: HOUSEKEEPING,
            run: |s| {
                Box::pin(async move {
                    match s.sync.refresh_directory_if_due().await {
                        Ok(Some(r)) if r.updated > 0 => {
                            tracing::info!(
                                rooms = r.updated,
                                "room data updated from the directory"
                            )
                        }
                        other => log(other.map(|_| ())),
                    }
                })
            },
        },
        // Idle profiles are refreshed so that their refresh tokens never expire from inactivity.
        Job {
            name: "token keep-alive",
            every: HOUSEKEEPING,
            run: |s| {
                Box::pin(async move {
                    match s.tokens.keep_alive().await {
                        Ok(n) if n > 0 => {
                            tracing::info!(profiles = n, "kept idle profiles' tokens alive")
                        }
                        other => log(other.map(|_| ())),
                    }
                })
            },
        },
    ];
    if with_scheduler {
        // Each list is due every `sync::room_lists::CHECK_EVERY`; this only looks for due ones.
        jobs.push(Job {
            name: "room lists",
            every: Duration::from_secs(30),
            run: |s| {
                Box::pin(async move { log(s.sync.check_room_lists_if_due().await.map(|_| ())) })
            },
        });
        // A newly authorized account's domain, or one configured meanwhile (a run that meets a
        // mailbox of an unknown domain refreshes them before writing, see `SyncEngine`).
        jobs.push(Job {
            name: "internal domains",
            every: lease,
            run: |s| {
                Box::pin(async move { log(s.db.refresh_internal_domains().await.map(|_| ())) })
            },
        });
    }
    jobs
}

fn log(result: Result<(), StoreError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "periodic job failed");
    }
}

/// Starts every job in `tasks`; each ends when `state.shutdown` is cancelled.
pub fn spawn(state: &AppState, tasks: &mut JoinSet<()>) {
    let lease = state.sync.policy().lease;
    for job in jobs(state.config.run_scheduler, lease) {
        let state = state.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(job.every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = state.shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let span = tracing::info_span!("job", name = job.name);
                tracing::Instrument::instrument((job.run)(state.clone()), span).await;
            }
        });
    }
}

async fn expire_sign_ins(state: AppState) {
    log(state.db.delete_expired_sessions().await.map(|_| ()));
    log(state.throttle.prune(&state.db).await.map(|_| ()));
    let before = chrono::Utc::now() - chrono::Duration::hours(1);
    log(state.db.prune_oauth_transactions(before).await.map(|_| ()));
}

/// Retention of the import history, the change feed, kept events and the audit log.
pub async fn prune_history(state: &AppState) {
    let now = chrono::Utc::now();
    let age = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(36_500));
    let db = &state.db;
    type Pruned<'a> = Pin<Box<dyn Future<Output = Result<u64, StoreError>> + Send + 'a>>;
    let rules: [(&str, Pruned<'_>); 4] = [
        (
            "import runs",
            Box::pin(db.prune_runs(now - age(state.config.run_history))),
        ),
        (
            "change-feed entries",
            Box::pin(db.prune_changes(now - age(state.config.change_retention))),
        ),
        (
            "kept events of deleted subscriptions",
            Box::pin(db.prune_kept_events(now)),
        ),
        (
            "audit entries",
            Box::pin(db.prune_audit(now - age(state.config.audit_retention))),
        ),
    ];
    for (what, prune) in rules {
        match prune.await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, what, "deleted past their retention"),
            Err(e) => tracing::warn!(error = %e, what, "could not apply the retention"),
        }
    }
}

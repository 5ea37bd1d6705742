//! The import engine's storage: leases, cursors, events and runs. The pages of a sync are
//! applied in transactions of one or more consecutive pages that write the changes and move the
//! cursor together, fenced by the lease.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use super::audit::AuditRecord;
use super::event_writes::EventWrites;
use super::{Db, Result, StoreError};
use crate::model::{ItemIds, RunKind, RunStatus, SubscriptionStatus};

pub use super::event_row::EventRow;

/// One stored row as the self-check compares it with Graph.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredVersion {
    pub graph_id: String,
    pub change_key: Option<String>,
    pub start_utc: DateTime<Utc>,
    pub end_utc: DateTime<Utc>,
}

/// Where a subscription's sync stands.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Cursor {
    pub next_link: Option<String>,
    pub delta_link: Option<String>,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub round_full: bool,
    pub round_generation: i64,
    pub sync_generation: i64,
    pub last_full_sync_at: Option<DateTime<Utc>>,
}

/// The right to run one subscription's sync; every commit is fenced by it.
#[derive(Debug, Clone)]
pub struct Lease {
    pub subscription_id: i64,
    pub owner: String,
    pub version: i64,
}

/// One entry of a delta page, in the order Graph sent it: the same id may come more than once
/// ("assume that the same item can show up anywhere", Microsoft's delta query overview), and
/// the last entry per id wins.
#[derive(Debug, Clone)]
// Nearly every entry is an upsert: boxing the row would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Change {
    Upsert(EventRow),
    /// `@removed`: an event, or a series master (its stored occurrences go with it).
    Remove(String),
}

/// What a series is now, from its `instances` read after the page: the ids of its
/// occurrences and exceptions in the window, and its occurrences as rows. Delta may bring a
/// series back without saying which occurrences vanished (docs/graph-behaviours.md): stored
/// rows of the series not among `instances` are deleted.
#[derive(Debug, Clone)]
pub struct SeriesNow {
    pub master_id: String,
    pub instances: std::collections::HashSet<String>,
    pub rows: Vec<EventRow>,
}

/// One page's changes for `apply_pages`: its entries in order, then the series it brought
/// back as they are now.
pub struct PageWrite<'a> {
    pub changes: &'a [Change],
    pub series: &'a [SeriesNow],
}

/// How a page moves the cursor.
pub struct PageCursor<'a> {
    pub next_link: Option<&'a str>,
    pub delta_link: Option<&'a str>,
    /// Set on the last page of a full round: rows of older generations are removed.
    pub complete_full_round: Option<i64>,
    pub lease_until: DateTime<Utc>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PageStats {
    pub created: i64,
    pub updated: i64,
    pub deleted: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncRun {
    pub id: i64,
    pub subscription_id: i64,
    #[sqlx(try_from = "String")]
    pub kind: RunKind,
    #[sqlx(try_from = "String")]
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub pages: i64,
    pub created: i64,
    pub updated: i64,
    pub deleted: i64,
    pub requests: i64,
    pub throttle_waits: i64,
    pub waited_ms: i64,
    pub error: Option<String>,
    /// The kind of profile the run read through.
    #[sqlx(try_from = "Option<String>")]
    pub profile_kind: crate::model::Optional<crate::model::ProfileKind>,
    /// A no-change run, counted in `sync_run_hours` (only the latest is kept in full).
    pub quiet: bool,
}

/// The quiet runs of one subscription in one hour (UTC).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QuietHour {
    pub hour: DateTime<Utc>,
    pub runs: i64,
    pub requests: i64,
    pub duration_ms: i64,
    pub max_duration_ms: i64,
}

/// The start of `t`'s hour.
fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

/// Counters of a run so far.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunStats {
    pub pages: i64,
    pub created: i64,
    pub updated: i64,
    pub deleted: i64,
    pub requests: i64,
    pub throttle_waits: i64,
    pub waited_ms: i64,
}

impl RunStats {
    /// A run that only confirmed nothing changed: a delta round that ended well, changed no
    /// row and never waited for Graph. Such runs are aggregated per hour.
    pub fn quiet(&self, kind: RunKind, status: RunStatus) -> bool {
        kind == RunKind::Delta
            && status == RunStatus::Ok
            && self.created == 0
            && self.updated == 0
            && self.deleted == 0
            && self.throttle_waits == 0
    }

    /// Counts one applied page.
    pub fn add_page(&mut self, page: PageStats) {
        self.pages += 1;
        self.created += page.created;
        self.updated += page.updated;
        self.deleted += page.deleted;
    }
}

/// How a run ended, for the subscription row.
pub struct RunOutcome<'a> {
    pub status: SubscriptionStatus,
    /// Whether some occurrences were stored without their series' details (`None`: this run
    /// cannot tell, keep what is known).
    pub series_unreadable: Option<bool>,
    pub error: Option<&'a str>,
    /// Message key explaining the error.
    pub hint: Option<&'static str>,
    pub next_sync_at: DateTime<Utc>,
    pub success: bool,
}

/// A subscription that is due to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub id: i64,
    pub profile_id: i64,
    /// When it fell due; `None` for one never run (due since it was created).
    pub since: Option<DateTime<Utc>>,
}

impl Db {
    /// Subscriptions due now whose lease is free (a crashed owner's lease lapses).
    /// Longest due first.
    pub async fn due_subscriptions(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Due>> {
        let sql = "SELECT s.id, s.profile_id, s.next_sync_at FROM subscriptions s JOIN profiles p ON p.id = s.profile_id \
                   WHERE s.deleted_at IS NULL AND s.enabled AND (s.next_sync_at IS NULL OR s.next_sync_at <= $1) \
                   AND (s.lease_until IS NULL OR s.lease_until < $1) ORDER BY s.next_sync_at, s.id LIMIT $2";
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, (i64, i64, Option<DateTime<Utc>>)>(sql).bind(now).bind(limit).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, profile_id, since)| Due {
                id,
                profile_id,
                since,
            })
            .collect())
    }

    /// Takes the lease like [`Db::claim_subscription`], but only while the subscription is
    /// still due: another instance that ran it since this one listed it has moved its
    /// `next_sync_at`, and it is not run twice.
    pub async fn claim_due_subscription(
        &self,
        id: i64,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        let sql = "UPDATE subscriptions SET lease_owner = $1, lease_until = $2, lease_version = lease_version + 1 \
                   WHERE id = $3 AND deleted_at IS NULL AND enabled AND (lease_until IS NULL OR lease_until < $4) \
                   AND (next_sync_at IS NULL OR next_sync_at <= $4) RETURNING lease_version";
        let version = dispatch_write!(self, pool => {
            sqlx::query_scalar::<_, i64>(sql).bind(owner).bind(until).bind(id).bind(Utc::now()).fetch_optional(pool).await?
        });
        Ok(version.map(|version| Lease {
            subscription_id: id,
            owner: owner.to_string(),
            version,
        }))
    }

    /// Takes the subscription's lease if it is free; the version fences every later commit.
    pub async fn claim_subscription(
        &self,
        id: i64,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        let sql = "UPDATE subscriptions SET lease_owner = $1, lease_until = $2, lease_version = lease_version + 1 \
                   WHERE id = $3 AND deleted_at IS NULL AND (lease_until IS NULL OR lease_until < $4) \
                   RETURNING lease_version";
        let version = dispatch_write!(self, pool => {
            sqlx::query_scalar::<_, i64>(sql).bind(owner).bind(until).bind(id).bind(Utc::now()).fetch_optional(pool).await?
        });
        Ok(version.map(|version| Lease {
            subscription_id: id,
            owner: owner.to_string(),
            version,
        }))
    }

    /// Extends a lease its run still holds (a run waiting on Graph); `Conflict` when it was
    /// lost meanwhile.
    pub async fn renew_lease(&self, lease: &Lease, until: DateTime<Utc>) -> Result<()> {
        let sql = "UPDATE subscriptions SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND lease_version = $4";
        let n = dispatch_write!(self, pool => {
            sqlx::query(sql).bind(until).bind(lease.subscription_id).bind(&lease.owner).bind(lease.version)
                .execute(pool).await?.rows_affected()
        });
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    /// Closes the runs a killed process left "running": no live lease of their owner holds
    /// their subscription any more. They are recorded as interrupted.
    pub async fn close_abandoned_runs(&self) -> Result<u64> {
        let now = Utc::now();
        let sql = "UPDATE sync_runs SET status = $1, finished_at = $2, \
                   error = 'the process running this import ended before it finished' \
                   WHERE finished_at IS NULL AND status = $3 AND NOT EXISTS ( \
                   SELECT 1 FROM subscriptions s WHERE s.id = sync_runs.subscription_id \
                   AND s.lease_owner = sync_runs.owner AND s.lease_until >= $2)";
        let n = dispatch_write!(self, pool => {
            sqlx::query(sql).bind(RunStatus::Interrupted.as_str()).bind(now).bind(RunStatus::Running.as_str())
                .execute(pool).await?.rows_affected()
        });
        Ok(n)
    }

    pub async fn cursor(&self, id: i64) -> Result<Cursor> {
        let sql = "SELECT next_link, delta_link, window_start, window_end, round_full, round_generation, \
                   sync_generation, last_full_sync_at FROM subscriptions WHERE id = $1";
        let c = dispatch!(self, pool => sqlx::query_as::<_, Cursor>(sql).bind(id).fetch_one(pool).await?);
        Ok(c)
    }

    /// Starts a round: the first link, whether it is a full one (and its generation), the window.
    pub async fn start_round(
        &self,
        lease: &Lease,
        first_link: &str,
        full: Option<i64>,
        window: (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<()> {
        let sql = "UPDATE subscriptions SET next_link = $1, delta_link = NULL, round_full = $2, \
                   round_generation = $3, window_start = $4, window_end = $5 \
                   WHERE id = $6 AND lease_owner = $7 AND lease_version = $8";
        let n = dispatch_write!(self, pool => {
            sqlx::query(sql).bind(first_link).bind(full.is_some()).bind(full.unwrap_or(0))
                .bind(window.0).bind(window.1).bind(lease.subscription_id).bind(&lease.owner).bind(lease.version)
                .execute(pool).await?.rows_affected()
        });
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    /// Applies consecutive pages of one round — each page's upserts and removals in order, then
    /// the cursor that follows the last — in one transaction. `Conflict` when the lease was lost
    /// (another engine took over): nothing is written then. `progress` (run id, counters before
    /// these pages) is recorded in the same transaction. Returns each page's counts.
    pub async fn apply_pages(
        &self,
        lease: &Lease,
        generation: i64,
        pages: &[PageWrite<'_>],
        cursor: &PageCursor<'_>,
        progress: (i64, &RunStats),
    ) -> Result<Vec<PageStats>> {
        let now = Utc::now();
        transaction!(self, tx => async {
            let fenced = sqlx::query(
                "UPDATE subscriptions SET next_link = $1, delta_link = COALESCE($2, delta_link), lease_until = $3 \
                 WHERE id = $4 AND lease_owner = $5 AND lease_version = $6",
            )
            .bind(cursor.next_link).bind(cursor.delta_link).bind(cursor.lease_until)
            .bind(lease.subscription_id).bind(&lease.owner).bind(lease.version)
            .execute(&mut *tx).await?;
            if fenced.rows_affected() != 1 {
                return Err(StoreError::Conflict);
            }
            let mut all = Vec::with_capacity(pages.len());
            for page in pages {
                all.push(write_page(&mut *tx, lease.subscription_id, generation, page, now).await?);
            }
            let (run_id, before) = progress;
            let sum = |f: fn(&PageStats) -> i64| all.iter().map(f).sum::<i64>();
            let pages_done = i64::try_from(pages.len()).unwrap_or(i64::MAX);
            sqlx::query(
                "UPDATE sync_runs SET pages = $1, created = $2, updated = $3, deleted = $4, requests = $5, \
                 throttle_waits = $6, waited_ms = $7 WHERE id = $8",
            )
            .bind(before.pages + pages_done).bind(before.created + sum(|s| s.created))
            .bind(before.updated + sum(|s| s.updated)).bind(before.deleted + sum(|s| s.deleted))
            .bind(before.requests).bind(before.throttle_waits).bind(before.waited_ms).bind(run_id)
            .execute(&mut *tx).await?;
            if let Some(g) = cursor.complete_full_round {
                // The full result is in: whatever this round did not see is gone.
                let n = sqlx::query("DELETE FROM events WHERE subscription_id = $1 AND sync_generation < $2")
                    .bind(lease.subscription_id).bind(g).execute(&mut *tx).await?.rows_affected();
                if let Some(last) = all.last_mut() {
                    last.deleted += i64::try_from(n).unwrap_or(0);
                }
                sqlx::query("UPDATE subscriptions SET sync_generation = $1, round_full = FALSE, last_full_sync_at = $2 WHERE id = $3")
                    .bind(g).bind(now).bind(lease.subscription_id).execute(&mut *tx).await?;
            }
            Ok(all)
        }.await)
    }

    /// What the self-check compares of each stored row: Graph id, change key, start, end.
    pub async fn stored_versions(&self, subscription_id: i64) -> Result<Vec<StoredVersion>> {
        let sql = "SELECT graph_id, change_key, start_utc, end_utc FROM events WHERE subscription_id = $1";
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, StoredVersion>(sql).bind(subscription_id).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Makes every subscription's self-check due at its next run (an admin's "check now", and
    /// the benchmark).
    pub async fn make_all_checks_due(&self) -> Result<u64> {
        let n = dispatch_write!(self, pool => {
            sqlx::query("UPDATE subscriptions SET verified_at = NULL").execute(pool).await?.rows_affected()
        });
        Ok(n)
    }

    /// Records a self-check fenced by the lease: `drift` rows differed (0: none, or a full round
    /// stood in for the check).
    pub async fn record_check(&self, lease: &Lease, drift: i64) -> Result<()> {
        let sql = "UPDATE subscriptions SET verified_at = $1, drift_last = $2, drift_total = drift_total + $2, \
                   drift_streak = CASE WHEN $2 > 0 THEN drift_streak + 1 ELSE 0 END \
                   WHERE id = $3 AND lease_owner = $4 AND lease_version = $5";
        let n = dispatch_write!(self, pool => {
            sqlx::query(sql).bind(Utc::now()).bind(drift).bind(lease.subscription_id).bind(&lease.owner)
                .bind(lease.version).execute(pool).await?.rows_affected()
        });
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    /// The Graph ids the subscription's rows refer to: their own and their series masters'.
    pub async fn stored_item_ids(&self, subscription_id: i64) -> Result<Vec<String>> {
        let sql = "SELECT graph_id FROM events WHERE subscription_id = $1 \
                   UNION SELECT series_master_id FROM events WHERE subscription_id = $1 AND series_master_id IS NOT NULL";
        let ids = dispatch!(self, pool => {
            sqlx::query_scalar::<_, String>(sql).bind(subscription_id).fetch_all(pool).await?
        });
        Ok(ids)
    }

    /// Rewrites the stored ids to immutable ones (`translated`: old id to new) and marks the
    /// subscription as using them, in one transaction fenced by the lease; the cursor is
    /// dropped, so the next round is a full one in the new form. Rows whose id is not in
    /// `translated` keep theirs; that round's reconciliation removes them if Graph no longer
    /// has them.
    pub async fn switch_to_immutable_ids(
        &self,
        lease: &Lease,
        translated: &[(String, String)],
    ) -> Result<u64> {
        let id = lease.subscription_id;
        transaction!(self, tx => async {
            let fenced = sqlx::query(
                "UPDATE subscriptions SET item_ids = $1, next_link = NULL, delta_link = NULL, round_full = FALSE \
                 WHERE id = $2 AND lease_owner = $3 AND lease_version = $4",
            )
            .bind(ItemIds::Immutable.as_str()).bind(id).bind(&lease.owner).bind(lease.version)
            .execute(&mut *tx).await?;
            if fenced.rows_affected() != 1 {
                return Err(StoreError::Conflict);
            }
            let mut rows = 0;
            for (old, new) in translated {
                rows += sqlx::query("UPDATE events SET graph_id = $1 WHERE subscription_id = $2 AND graph_id = $3")
                    .bind(new).bind(id).bind(old).execute(&mut *tx).await?.rows_affected();
                sqlx::query("UPDATE events SET series_master_id = $1 WHERE subscription_id = $2 AND series_master_id = $3")
                    .bind(new).bind(id).bind(old).execute(&mut *tx).await?;
            }
            Ok(rows)
        }.await)
    }

    /// Deletes finished runs older than `before`, keeping each subscription's latest run.
    pub async fn prune_runs(&self, before: DateTime<Utc>) -> Result<u64> {
        let sql = "DELETE FROM sync_runs WHERE finished_at IS NOT NULL AND finished_at < $1 \
                   AND id NOT IN (SELECT MAX(id) FROM sync_runs GROUP BY subscription_id)";
        let hours = "DELETE FROM sync_run_hours WHERE hour < $1";
        let n = dispatch!(self, pool => {
            let n = sqlx::query(sql).bind(before).execute(pool).await?.rows_affected();
            n + sqlx::query(hours).bind(hour_of(before)).execute(pool).await?.rows_affected()
        });
        Ok(n)
    }

    /// Drops the delta link (expired token): the next round is a full one.
    pub async fn reset_cursor(&self, lease: &Lease) -> Result<()> {
        let sql = "UPDATE subscriptions SET next_link = NULL, delta_link = NULL, round_full = FALSE \
                   WHERE id = $1 AND lease_owner = $2 AND lease_version = $3";
        dispatch_write!(self, pool => {
            sqlx::query(sql).bind(lease.subscription_id).bind(&lease.owner).bind(lease.version).execute(pool).await?;
        });
        Ok(())
    }

    pub async fn start_run(&self, subscription_id: i64, kind: RunKind, owner: &str) -> Result<i64> {
        let sql = "INSERT INTO sync_runs (subscription_id, kind, status, started_at, owner, profile_kind) \
                   VALUES ($1, $2, $3, $4, $5, (SELECT p.kind FROM subscriptions s JOIN profiles p ON p.id = s.profile_id \
                   WHERE s.id = $1)) RETURNING id";
        let id: i64 = dispatch_write!(self, pool => {
            sqlx::query_scalar(sql).bind(subscription_id).bind(kind.as_str()).bind(RunStatus::Running.as_str())
                .bind(Utc::now()).bind(owner).fetch_one(pool).await?
        });
        Ok(id)
    }

    /// Records how a run ended. A quiet run (see [`RunStats::quiet`]) is counted in its
    /// subscription's hour in `sync_run_hours` and kept in full only as the latest quiet run,
    /// replacing the one before: no-change runs every minute do not grow the history.
    pub async fn finish_run(
        &self,
        run_id: i64,
        kind: RunKind,
        stats: &RunStats,
        status: RunStatus,
        error: Option<&str>,
    ) -> Result<()> {
        let now = Utc::now();
        let quiet = stats.quiet(kind, status);
        let sql = "UPDATE sync_runs SET kind = $1, pages = $2, created = $3, updated = $4, deleted = $5, requests = $6, \
                   throttle_waits = $7, waited_ms = $8, status = $9, error = $10, finished_at = $11, quiet = $12 \
                   WHERE id = $13 RETURNING subscription_id, started_at";
        transaction!(self, tx => async {
            let row: Option<(i64, DateTime<Utc>)> = sqlx::query_as(sql)
                .bind(kind.as_str()).bind(stats.pages).bind(stats.created).bind(stats.updated).bind(stats.deleted)
                .bind(stats.requests).bind(stats.throttle_waits).bind(stats.waited_ms).bind(status.as_str()).bind(error)
                .bind(now).bind(quiet).bind(run_id).fetch_optional(&mut *tx).await?;
            // Pruned meanwhile (its subscription deleted): nothing to record.
            let Some((subscription, started)) = row else { return Ok(()) };
            if quiet {
                sqlx::query("DELETE FROM sync_runs WHERE subscription_id = $1 AND quiet AND id <> $2")
                    .bind(subscription).bind(run_id).execute(&mut *tx).await?;
                let ms = (now - started).num_milliseconds().max(0);
                sqlx::query(
                    "INSERT INTO sync_run_hours (subscription_id, hour, runs, requests, duration_ms, max_duration_ms) \
                     VALUES ($1, $2, 1, $3, $4, $4) ON CONFLICT (subscription_id, hour) DO UPDATE SET \
                     runs = sync_run_hours.runs + 1, requests = sync_run_hours.requests + excluded.requests, \
                     duration_ms = sync_run_hours.duration_ms + excluded.duration_ms, \
                     max_duration_ms = CASE WHEN excluded.max_duration_ms > sync_run_hours.max_duration_ms \
                     THEN excluded.max_duration_ms ELSE sync_run_hours.max_duration_ms END",
                )
                .bind(subscription).bind(hour_of(now)).bind(stats.requests).bind(ms)
                .execute(&mut *tx).await?;
            }
            Ok(())
        }.await)
    }

    /// A subscription's quiet runs per hour, newest first.
    pub async fn quiet_hours_of(&self, id: i64, limit: i64) -> Result<Vec<QuietHour>> {
        let sql = "SELECT hour, runs, requests, duration_ms, max_duration_ms FROM sync_run_hours \
                   WHERE subscription_id = $1 ORDER BY hour DESC LIMIT $2";
        let rows = dispatch!(self, pool => sqlx::query_as::<_, QuietHour>(sql).bind(id).bind(limit).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Records how a run ended on the subscription and releases the lease.
    pub async fn finish_subscription_run(
        &self,
        lease: &Lease,
        outcome: &RunOutcome<'_>,
    ) -> Result<()> {
        let now = Utc::now();
        let sql = "UPDATE subscriptions SET status = $1, last_error = $2, next_sync_at = $3, \
                   last_sync_at = CASE WHEN $4 THEN $5 ELSE last_sync_at END, \
                   failures = CASE WHEN $4 THEN 0 ELSE failures + 1 END, \
                   event_count = (SELECT COUNT(*) FROM events WHERE subscription_id = $6), \
                   lease_owner = NULL, lease_until = NULL, error_hint = $9, \
                   series_unreadable = COALESCE($10, series_unreadable) \
                   WHERE id = $6 AND lease_owner = $7 AND lease_version = $8";
        dispatch_write!(self, pool => {
            sqlx::query(sql).bind(outcome.status.as_str()).bind(outcome.error).bind(outcome.next_sync_at).bind(outcome.success)
                .bind(now).bind(lease.subscription_id).bind(&lease.owner).bind(lease.version).bind(outcome.hint)
                .bind(outcome.series_unreadable)
                .execute(pool).await?;
        });
        Ok(())
    }

    pub async fn set_anonymized(&self, id: i64, anonymized: bool) -> Result<()> {
        dispatch_write!(self, pool => {
            sqlx::query("UPDATE subscriptions SET anonymized = $1 WHERE id = $2").bind(anonymized).bind(id).execute(pool).await?;
        });
        Ok(())
    }

    /// Upcoming timed events of a subscription: (subject, organizer name), for the
    /// anonymization check.
    pub async fn upcoming_subjects(
        &self,
        id: i64,
        limit: i64,
    ) -> Result<Vec<(Option<String>, Option<String>)>> {
        let sql = "SELECT subject, organizer_name FROM events WHERE subscription_id = $1 AND NOT is_all_day \
                   AND end_utc >= $2 ORDER BY start_utc LIMIT $3";
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, (Option<String>, Option<String>)>(sql).bind(id).bind(Utc::now() - chrono::Duration::days(7)).bind(limit).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// A subscription's imported events, ordered by start.
    pub async fn events_of(&self, id: i64) -> Result<Vec<EventRow>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM events WHERE subscription_id = $1 ORDER BY start_utc, graph_id",
                super::event_row::select_list("")
            )
        });
        let sql = SQL.as_str();
        let rows = dispatch!(self, pool => sqlx::query_as::<_, EventRow>(sql).bind(id).fetch_all(pool).await?);
        Ok(rows)
    }

    pub async fn runs_of(&self, id: i64, limit: i64) -> Result<Vec<SyncRun>> {
        let sql = "SELECT id, subscription_id, kind, status, started_at, finished_at, pages, created, updated, deleted, \
                   requests, throttle_waits, waited_ms, error, profile_kind, quiet FROM sync_runs WHERE subscription_id = $1 \
                   ORDER BY started_at DESC, id DESC LIMIT $2";
        let rows = dispatch!(self, pool => sqlx::query_as::<_, SyncRun>(sql).bind(id).bind(limit).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Runs by status: (status, runs, requests, throttle waits), for /metrics.
    pub async fn run_totals(&self) -> Result<Vec<(RunStatus, i64, i64, i64)>> {
        // Quiet runs are counted in their hours (the latest one's row too, so it is skipped).
        let sql = "SELECT status, COUNT(*), CAST(COALESCE(SUM(requests), 0) AS BIGINT), CAST(COALESCE(SUM(throttle_waits), 0) AS BIGINT) \
                   FROM sync_runs WHERE NOT quiet GROUP BY status \
                   UNION ALL SELECT $1, CAST(COALESCE(SUM(runs), 0) AS BIGINT), CAST(COALESCE(SUM(requests), 0) AS BIGINT), 0 \
                   FROM sync_run_hours";
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, (String, i64, i64, i64)>(sql).bind(RunStatus::Ok.as_str()).fetch_all(pool).await?
        });
        let mut totals: std::collections::BTreeMap<RunStatus, (i64, i64, i64)> = Default::default();
        for (status, runs, requests, waits) in rows {
            let t = totals.entry(status.parse()?).or_default();
            t.0 += runs;
            t.1 += requests;
            t.2 += waits;
        }
        Ok(totals
            .into_iter()
            .filter(|(_, t)| t.0 > 0)
            .map(|(status, (runs, requests, waits))| (status, runs, requests, waits))
            .collect())
    }

    /// "Sync now": due at once, with the audit entry when an admin asked.
    /// `NotFound` when there is no such (undeleted) subscription.
    pub async fn request_sync(&self, id: i64, audit: Option<&AuditRecord>) -> Result<()> {
        let sql = "UPDATE subscriptions SET next_sync_at = $1 WHERE id = $2 AND deleted_at IS NULL";
        let Some(audit) = audit else {
            let updated = dispatch_write!(self, pool => {
                sqlx::query(sql).bind(Utc::now()).bind(id).execute(pool).await?.rows_affected()
            });
            return if updated == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            };
        };
        transaction!(self, tx => async {
            let n = sqlx::query(sql).bind(Utc::now()).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }
}

/// What one page leaves of an id.
#[derive(Clone, Copy)]
enum Last<'a> {
    /// Written, from the page's entry at this position (series rows come after all entries).
    Upsert(&'a EventRow, usize),
    Remove,
}

/// One page's rows inside `apply_pages`' transaction, applied as if each entry were applied in
/// order: the last entry per id wins; a removed series master takes the series' rows stored or
/// sent before it with it; the series brought back end as their `instances` say. New and
/// changed rows are written, unchanged ones only marked as seen by `generation`, removed ones
/// deleted (each once).
async fn write_page<C: EventWrites>(
    tx: &mut C,
    subscription: i64,
    generation: i64,
    page: &PageWrite<'_>,
    now: DateTime<Utc>,
) -> Result<PageStats> {
    use std::collections::HashMap;
    let mut stats = PageStats::default();
    let mut last: HashMap<&str, Last<'_>> = HashMap::with_capacity(page.changes.len());
    // Where each id was last removed: a series master's removal covers its occurrences.
    let mut removed_at: HashMap<&str, usize> = HashMap::new();
    for (pos, change) in page.changes.iter().enumerate() {
        match change {
            Change::Upsert(row) => {
                last.insert(row.graph_id.as_str(), Last::Upsert(row, pos));
            }
            Change::Remove(id) => {
                last.insert(id.as_str(), Last::Remove);
                removed_at.insert(id.as_str(), pos);
            }
        }
    }
    let master_removed_after = |row: &EventRow, pos: usize| {
        row.series_master_id
            .as_deref()
            .and_then(|m| removed_at.get(m))
            .is_some_and(|r| *r > pos)
    };
    for entry in last.values_mut() {
        if let Last::Upsert(row, pos) = *entry
            && master_removed_after(row, pos)
        {
            *entry = Last::Remove;
        }
    }
    let series: HashMap<&str, &SeriesNow> = page
        .series
        .iter()
        .map(|s| (s.master_id.as_str(), s))
        .collect();
    for entry in last.values_mut() {
        if let Last::Upsert(row, _) = *entry
            && let Some(s) = row.series_master_id.as_deref().and_then(|m| series.get(m))
            && !s.instances.contains(&row.graph_id)
        {
            *entry = Last::Remove;
        }
    }
    for s in page.series {
        for row in &s.rows {
            last.insert(row.graph_id.as_str(), Last::Upsert(row, usize::MAX));
        }
    }
    // Stored rows of removed masters and of the series brought back.
    let masters: Vec<&str> = removed_at
        .keys()
        .copied()
        .chain(series.keys().copied())
        .collect();
    let stored = if masters.is_empty() {
        Vec::new()
    } else {
        tx.series_rows(subscription, &masters).await?
    };
    let mut gone: Vec<&str> = Vec::new();
    for (id, master) in &stored {
        let removed =
            removed_at
                .get(master.as_str())
                .is_some_and(|r| match last.get(id.as_str()) {
                    Some(Last::Upsert(_, pos)) => *pos < *r,
                    _ => true,
                });
        let vanished = series
            .get(master.as_str())
            .is_some_and(|s| !s.instances.contains(id));
        if (removed || vanished) && !matches!(last.get(id.as_str()), Some(Last::Remove)) {
            last.remove(id.as_str());
            gone.push(id.as_str());
        }
    }
    let mut upserts: Vec<(usize, &EventRow)> = Vec::with_capacity(last.len());
    for (id, entry) in &last {
        match entry {
            Last::Upsert(row, pos) => upserts.push((*pos, row)),
            Last::Remove => gone.push(id),
        }
    }
    // Page order for the writes, so that the feed lists a page's changes as Graph sent them.
    upserts.sort_unstable_by_key(|(pos, r)| (*pos, r.graph_id.as_str()));
    let upserts: Vec<&EventRow> = upserts.into_iter().map(|(_, r)| r).collect();
    let ids: Vec<&str> = upserts.iter().map(|e| e.graph_id.as_str()).collect();
    let existing = tx.existing(subscription, &ids).await?;
    let mut touch = Vec::new();
    let mut write = Vec::with_capacity(upserts.len());
    for e in upserts {
        match existing.get(&e.graph_id) {
            // Replayed or unchanged: only the generation may move.
            Some((ck, g)) if ck.is_some() && *ck == e.change_key => {
                if *g != generation {
                    touch.push(e.graph_id.as_str());
                }
            }
            Some(_) => {
                stats.updated += 1;
                write.push(e);
            }
            None => {
                stats.created += 1;
                write.push(e);
            }
        }
    }
    tx.upsert(subscription, &write, now, generation).await?;
    tx.touch(subscription, &touch, generation).await?;
    // Unknown ids (outside the window, never imported) are a no-op.
    let n = tx.remove(subscription, &gone).await?;
    stats.deleted += i64::try_from(n).unwrap_or(0);
    Ok(stats)
}

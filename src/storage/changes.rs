//! Reading and pruning the change feed (`event_changes`). The feed is written by triggers on
//! `events` in the transaction that changes them (see the migration); here it is only read.

use chrono::{DateTime, Utc};

use super::{Db, Result};
use crate::model::ChangeOp;

/// One entry of the feed. For a deletion, the last known start, end and subject.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EventChange {
    pub seq: i64,
    pub subscription_id: i64,
    /// The `events.id` of the row (stable while the event exists).
    pub event_id: i64,
    pub graph_id: String,
    pub ical_uid: Option<String>,
    #[sqlx(try_from = "String")]
    pub operation: ChangeOp,
    pub changed_at: DateTime<Utc>,
    pub start_utc: Option<DateTime<Utc>>,
    pub end_utc: Option<DateTime<Utc>>,
    pub subject: Option<String>,
}

const COLUMNS: &str = "seq, subscription_id, event_id, graph_id, ical_uid, operation, changed_at, \
                       start_utc, end_utc, subject";

impl Db {
    /// Up to `limit` changes after `after`, in the order they committed. A reader that keeps
    /// the last `seq` it processed and asks again from there gets every change exactly once:
    /// numbers become visible in increasing order on both databases.
    pub async fn changes_since(&self, after: i64, limit: i64) -> Result<Vec<EventChange>> {
        let sql =
            format!("SELECT {COLUMNS} FROM event_changes WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, EventChange>(sqlx::AssertSqlSafe(sql.clone()))
                .bind(after).bind(limit).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// The highest number in the feed (0 when empty): where a new reader that wants only
    /// future changes starts.
    pub async fn latest_change(&self) -> Result<i64> {
        let n: Option<i64> = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT MAX(seq) FROM event_changes").fetch_one(pool).await?
        });
        Ok(n.unwrap_or(0))
    }

    /// Deletes changes recorded before `before`; returns how many. The highest number
    /// deleted is kept (`feed_pruned_through`), so that a reader who is behind it is told it
    /// missed changes instead of silently skipping them.
    ///
    /// The cut is found by a binary search over `seq` (its unique index; no index on the time,
    /// which every entry would pay for): numbers follow commit order and `changed_at` follows
    /// it to within the length of a transaction, so the cut is exact to that.
    pub async fn prune_changes(&self, before: DateTime<Utc>) -> Result<u64> {
        let setting = super::webhooks::PRUNED_THROUGH;
        let bounds: (Option<i64>, Option<i64>) = dispatch!(self, pool => {
            sqlx::query_as("SELECT MIN(seq), MAX(seq) FROM event_changes").fetch_one(pool).await?
        });
        let (Some(lowest), Some(highest)) = bounds else {
            return Ok(0);
        };
        let Some((first, at)) = self.change_at_or_after(lowest).await? else {
            return Ok(0);
        };
        if at >= before {
            return Ok(0);
        }
        // good: a seq recorded before `before`; bad: the first seq known not to be.
        let (mut good, mut bad) = (first, highest + 1);
        while bad - good > 1 {
            let mid = good + (bad - good) / 2;
            match self.change_at_or_after(mid).await? {
                Some((s, t)) if t < before && s < bad => good = s,
                _ => bad = mid,
            }
        }
        transaction!(self, tx => async {
            let n = sqlx::query("DELETE FROM event_changes WHERE seq <= $1")
                .bind(good).execute(&mut *tx).await?.rows_affected();
            sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) \
                         ON CONFLICT (name) DO UPDATE SET value = excluded.value")
                .bind(setting).bind(good.to_string()).execute(&mut *tx).await?;
            Ok(n)
        }.await)
    }

    /// The first numbered entry at or after `seq`: its number and time.
    async fn change_at_or_after(&self, seq: i64) -> Result<Option<(i64, DateTime<Utc>)>> {
        let row = dispatch!(self, pool => {
            sqlx::query_as(
                "SELECT seq, changed_at FROM event_changes WHERE seq >= $1 ORDER BY seq LIMIT 1",
            )
            .bind(seq).fetch_optional(pool).await?
        });
        Ok(row)
    }
}

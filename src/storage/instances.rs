//! The import engines sharing the database, for the schedulers' fair share.

use chrono::{DateTime, Utc};

use super::{Db, Result};

impl Db {
    /// Records that the engine `owner` is alive; returns how many engines were seen since
    /// `alive_since` (itself included).
    pub async fn engine_heartbeat(&self, owner: &str, alive_since: DateTime<Utc>) -> Result<i64> {
        let now = Utc::now();
        let n: i64 = dispatch_write!(self, pool => {
            sqlx::query(
                "INSERT INTO engine_instances (owner, started_at, seen_at) VALUES ($1, $2, $2) \
                 ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at",
            )
            .bind(owner).bind(now).execute(pool).await?;
            // Engines gone for a day are forgotten.
            sqlx::query("DELETE FROM engine_instances WHERE seen_at < $1")
                .bind(now - chrono::Duration::days(1)).execute(pool).await?;
            sqlx::query_scalar("SELECT COUNT(*) FROM engine_instances WHERE seen_at >= $1")
                .bind(alive_since).fetch_one(pool).await?
        });
        Ok(n.max(1))
    }

    /// The engine stopped: the others take its share at once.
    pub async fn engine_stopped(&self, owner: &str) -> Result<()> {
        dispatch_write!(self, pool => {
            sqlx::query("DELETE FROM engine_instances WHERE owner = $1").bind(owner).execute(pool).await?;
        });
        Ok(())
    }

    /// Engines seen since `alive_since`.
    pub async fn live_engines(&self, alive_since: DateTime<Utc>) -> Result<i64> {
        let n: i64 = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM engine_instances WHERE seen_at >= $1")
                .bind(alive_since).fetch_one(pool).await?
        });
        Ok(n)
    }
}

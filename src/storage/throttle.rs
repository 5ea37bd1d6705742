//! Failed-login bookkeeping for throttling; the policy lives in `auth::throttle`.

use chrono::{DateTime, Utc};

use super::{Db, Result};

impl Db {
    pub async fn record_login_failure(&self, keys: &[String]) -> Result<()> {
        let now = Utc::now();
        for key in keys {
            dispatch!(self, pool => {
                sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
                    .bind(key).bind(now).execute(pool).await?;
            });
        }
        Ok(())
    }

    /// Number of failures for `key` since `since`, and the newest one's time.
    pub async fn login_failures_since(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<(i64, Option<DateTime<Utc>>)> {
        let sql = "SELECT COUNT(*), MAX(at) FROM login_failures WHERE key = $1 AND at > $2";
        let row = dispatch!(self, pool => {
            sqlx::query_as::<_, (i64, Option<DateTime<Utc>>)>(sql)
                .bind(key).bind(since).fetch_one(pool).await?
        });
        Ok(row)
    }

    pub async fn clear_login_failures(&self, key: &str) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("DELETE FROM login_failures WHERE key = $1").bind(key).execute(pool).await?;
        });
        Ok(())
    }

    pub async fn prune_login_failures(&self, before: DateTime<Utc>) -> Result<u64> {
        let n = dispatch!(self, pool => {
            sqlx::query("DELETE FROM login_failures WHERE at <= $1")
                .bind(before).execute(pool).await?.rows_affected()
        });
        Ok(n)
    }
}

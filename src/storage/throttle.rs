//! Failed-login bookkeeping for throttling; the policy lives in `auth::throttle`.

use chrono::{DateTime, Utc};

use super::{Db, Result};

impl Db {
    /// Records one attempt under each key before its password is checked, each row committed
    /// on its own, so that a parallel attempt counting after this one sees it (on every
    /// instance). The rows' ids, to withdraw them if the password is right.
    pub async fn reserve_login_attempt(&self, keys: &[String]) -> Result<Vec<i64>> {
        let now = Utc::now();
        let mut ids = Vec::with_capacity(keys.len());
        for key in keys {
            let id: i64 = dispatch!(self, pool => {
                sqlx::query_scalar("INSERT INTO login_failures (key, at) VALUES ($1, $2) RETURNING id")
                    .bind(key).bind(now).fetch_one(pool).await?
            });
            ids.push(id);
        }
        Ok(ids)
    }

    /// Attempts recorded since `since`, over all keys: the table's size under attack.
    pub async fn login_attempts_since(&self, since: DateTime<Utc>) -> Result<i64> {
        let n: i64 = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE at > $1")
                .bind(since).fetch_one(pool).await?
        });
        Ok(n)
    }

    /// Withdraws reserved attempts (the password was right, or the attempt was refused
    /// unchecked and must not prolong a refusal).
    pub async fn withdraw_login_attempt(&self, ids: &[i64]) -> Result<()> {
        for id in ids {
            dispatch!(self, pool => {
                sqlx::query("DELETE FROM login_failures WHERE id = $1").bind(id).execute(pool).await?;
            });
        }
        Ok(())
    }

    /// Remembers a device an admin signed in from (a hash of its cookie's token).
    pub async fn remember_login_device(&self, token_hash: &str, user_key: &str) -> Result<()> {
        let now = Utc::now();
        dispatch!(self, pool => {
            sqlx::query("INSERT INTO login_devices (token_hash, user_key, created_at, last_used_at) VALUES ($1, $2, $3, $3) \
                         ON CONFLICT (token_hash) DO UPDATE SET last_used_at = excluded.last_used_at")
                .bind(token_hash).bind(user_key).bind(now).execute(pool).await?;
        });
        Ok(())
    }

    /// Whether the device (cookie token hash) signed in as this username before.
    pub async fn login_device_known(&self, token_hash: &str, user_key: &str) -> Result<bool> {
        let n: i64 = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM login_devices WHERE token_hash = $1 AND user_key = $2")
                .bind(token_hash).bind(user_key).fetch_one(pool).await?
        });
        Ok(n > 0)
    }

    /// Forgets devices not used since `before`.
    pub async fn prune_login_devices(&self, before: DateTime<Utc>) -> Result<u64> {
        let n = dispatch!(self, pool => {
            sqlx::query("DELETE FROM login_devices WHERE last_used_at <= $1")
                .bind(before).execute(pool).await?.rows_affected()
        });
        Ok(n)
    }

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

    /// The oldest failure of `key` after `since`.
    pub async fn oldest_login_failure_since(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let sql = "SELECT MIN(at) FROM login_failures WHERE key = $1 AND at > $2";
        let at = dispatch!(self, pool => {
            sqlx::query_scalar::<_, Option<DateTime<Utc>>>(sql)
                .bind(key).bind(since).fetch_one(pool).await?
        });
        Ok(at)
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

//! Consumers' outbound webhooks: where each one stands in the change feed and how its deliveries
//! went. The secret is stored sealed (it signs every delivery, so it cannot be a hash).

use chrono::{DateTime, Utc};

use super::audit::AuditRecord;
use super::{Db, Result, StoreError};

/// A webhook as the admin pages and the dispatcher see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Webhook {
    pub token_id: i64,
    pub url: String,
    pub secret_enc: String,
    /// The last `seq` the consumer acknowledged (or that was out of its scope).
    pub after_seq: i64,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    /// Changes delivered and acknowledged, in all.
    pub delivered: i64,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Failed attempts since the last success.
    pub failures: i64,
    pub last_failure_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Set when changes were pruned before this consumer got them; the next delivery says so.
    pub gap_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "token_id, url, secret_enc, after_seq, created_at, next_attempt_at, \
                       delivered, last_success_at, failures, last_failure_at, last_error, gap_at";

/// The settings row holding the highest `seq` pruned from the feed.
pub(super) const PRUNED_THROUGH: &str = "feed_pruned_through";

impl Db {
    /// Sets the webhook of a live token (creating it from the feed's current end, or changing
    /// its address, and its secret when one is given). `NotFound` for a revoked or unknown token.
    pub async fn put_webhook(
        &self,
        token_id: i64,
        url: &str,
        secret_enc: Option<&str>,
        audit: &AuditRecord,
    ) -> Result<()> {
        let now = Utc::now();
        transaction!(self, tx => async {
            let live: Option<i64> = sqlx::query_scalar("SELECT id FROM api_tokens WHERE id = $1 AND revoked_at IS NULL")
                .bind(token_id).fetch_optional(&mut *tx).await?;
            if live.is_none() {
                return Err(StoreError::NotFound);
            }
            let existing: Option<i64> = sqlx::query_scalar("SELECT token_id FROM webhooks WHERE token_id = $1")
                .bind(token_id).fetch_optional(&mut *tx).await?;
            match (existing, secret_enc) {
                (Some(_), secret) => {
                    sqlx::query("UPDATE webhooks SET url = $1, secret_enc = COALESCE($2, secret_enc), \
                                 next_attempt_at = $3, failures = 0 WHERE token_id = $4")
                        .bind(url).bind(secret).bind(now).bind(token_id).execute(&mut *tx).await?;
                }
                (None, Some(secret)) => {
                    // A new consumer starts at the feed's end: what is there now it reads from
                    // the API; from here on it is pushed.
                    let end: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM event_changes")
                        .fetch_one(&mut *tx).await?;
                    sqlx::query("INSERT INTO webhooks (token_id, url, secret_enc, after_seq, created_at, next_attempt_at) \
                                 VALUES ($1, $2, $3, $4, $5, $5)")
                        .bind(token_id).bind(url).bind(secret).bind(end.unwrap_or(0)).bind(now)
                        .execute(&mut *tx).await?;
                }
                (None, None) => return Err(StoreError::NotFound),
            }
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }

    pub async fn webhook(&self, token_id: i64) -> Result<Option<Webhook>> {
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE token_id = $1");
        let row = dispatch!(self, pool => {
            sqlx::query_as::<_, Webhook>(sqlx::AssertSqlSafe(sql.clone()))
                .bind(token_id).fetch_optional(pool).await?
        });
        Ok(row)
    }

    /// Every webhook of a live token.
    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhooks WHERE token_id IN \
             (SELECT id FROM api_tokens WHERE revoked_at IS NULL) ORDER BY token_id"
        );
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, Webhook>(sqlx::AssertSqlSafe(sql.clone())).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Webhooks of live tokens whose next attempt is due.
    pub async fn due_webhooks(&self, now: DateTime<Utc>) -> Result<Vec<Webhook>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhooks WHERE next_attempt_at <= $1 AND token_id IN \
             (SELECT id FROM api_tokens WHERE revoked_at IS NULL) ORDER BY next_attempt_at"
        );
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, Webhook>(sqlx::AssertSqlSafe(sql.clone()))
                .bind(now).fetch_all(pool).await?
        });
        Ok(rows)
    }

    pub async fn delete_webhook(&self, token_id: i64, audit: &AuditRecord) -> Result<()> {
        transaction!(self, tx => async {
            let n = sqlx::query("DELETE FROM webhooks WHERE token_id = $1")
                .bind(token_id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }

    /// Makes a waiting webhook due at once.
    pub async fn retry_webhook_now(&self, token_id: i64) -> Result<()> {
        let n = dispatch!(self, pool => {
            sqlx::query("UPDATE webhooks SET next_attempt_at = $1 WHERE token_id = $2")
                .bind(Utc::now()).bind(token_id).execute(pool).await?.rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The consumer acknowledged everything up to `through` (`delivered` of it in its scope;
    /// a gap notice it carried is cleared). Only moves forward: the cursor of a webhook that
    /// was changed meanwhile is not set back.
    pub async fn webhook_delivered(
        &self,
        token_id: i64,
        from: i64,
        through: i64,
        delivered: i64,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<()> {
        let now = Utc::now();
        dispatch!(self, pool => {
            sqlx::query("UPDATE webhooks SET after_seq = $1, delivered = delivered + $2, \
                         last_success_at = CASE WHEN $2 > 0 OR gap_at IS NOT NULL THEN $3 ELSE last_success_at END, \
                         failures = 0, last_error = NULL, gap_at = NULL, next_attempt_at = $4 \
                         WHERE token_id = $5 AND after_seq = $6")
                .bind(through).bind(delivered).bind(now).bind(next_attempt_at)
                .bind(token_id).bind(from).execute(pool).await?;
        });
        Ok(())
    }

    /// An attempt failed: counted, with the reason and when to try again.
    pub async fn webhook_failed(
        &self,
        token_id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<()> {
        let now = Utc::now();
        dispatch!(self, pool => {
            sqlx::query("UPDATE webhooks SET failures = failures + 1, last_failure_at = $1, \
                         last_error = $2, next_attempt_at = $3 WHERE token_id = $4")
                .bind(now).bind(error).bind(next_attempt_at).bind(token_id).execute(pool).await?;
        });
        Ok(())
    }

    /// Changes up to `pruned_through` are gone: a webhook behind them jumps there and owes
    /// its consumer a gap notice. Returns whether it was behind.
    pub async fn webhook_skip_gap(&self, token_id: i64, pruned_through: i64) -> Result<bool> {
        let n = dispatch!(self, pool => {
            sqlx::query("UPDATE webhooks SET after_seq = $1, gap_at = $2 WHERE token_id = $3 AND after_seq < $1")
                .bind(pruned_through).bind(Utc::now()).bind(token_id).execute(pool).await?.rows_affected()
        });
        Ok(n > 0)
    }

    /// The highest `seq` pruned from the feed (0 when nothing was): a reader whose last `seq`
    /// is below it has missed changes.
    pub async fn feed_pruned_through(&self) -> Result<i64> {
        let value = self.setting(PRUNED_THROUGH).await?;
        match value {
            None => Ok(0),
            Some(v) => v
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("{PRUNED_THROUGH}: {v}"))),
        }
    }
}

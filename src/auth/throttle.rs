//! Login throttling. Failures are counted per username and per client address over a sliding
//! window, in the database so that all instances see the same counts. After a few failures for
//! a username every further attempt is slowed down (progressively); after more, attempts are
//! refused for a while. The same message and status are used whether or not the username
//! exists.

use std::time::Duration;

use chrono::Utc;

use crate::storage::{Db, Result};

#[derive(Debug, Clone)]
pub struct ThrottlePolicy {
    /// How far back failures count.
    pub window: Duration,
    /// Failures for one username after which each attempt is delayed.
    pub user_delay_after: i64,
    /// Delay for the first slowed attempt; doubles with each failure, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Failures for one username after which attempts are refused.
    pub user_refuse_after: i64,
    /// Failures from one address after which attempts are refused.
    pub ip_refuse_after: i64,
    /// How long a refusal lasts after the latest failure.
    pub refuse_for: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            user_delay_after: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            user_refuse_after: 10,
            ip_refuse_after: 30,
            refuse_for: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow { delay: Duration },
    Refuse { retry_after: Duration },
}

fn user_key(username: &str) -> String {
    format!("user:{}", crate::storage::admins::username_key(username))
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

impl ThrottlePolicy {
    pub async fn check(&self, db: &Db, username: &str, ip: Option<&str>) -> Result<Decision> {
        let now = Utc::now();
        let since = now - chrono::Duration::from_std(self.window).unwrap_or_default();
        let refuse_for = chrono::Duration::from_std(self.refuse_for).unwrap_or_default();

        let mut refusals = Vec::new();
        let (user_failures, user_last) =
            db.login_failures_since(&user_key(username), since).await?;
        if user_failures >= self.user_refuse_after {
            refusals.push(user_last);
        }
        if let Some(ip) = ip {
            let (ip_failures, ip_last) = db.login_failures_since(&ip_key(ip), since).await?;
            if ip_failures >= self.ip_refuse_after {
                refusals.push(ip_last);
            }
        }
        let until = refusals
            .into_iter()
            .flatten()
            .map(|last| last + refuse_for)
            .max();
        if let Some(until) = until.filter(|u| *u > now) {
            let retry_after = (until - now).to_std().unwrap_or_default();
            return Ok(Decision::Refuse { retry_after });
        }

        let over = user_failures - self.user_delay_after;
        let delay = if over >= 0 {
            let factor = 2u32.saturating_pow(u32::try_from(over.min(16)).unwrap_or(16));
            self.base_delay.saturating_mul(factor).min(self.max_delay)
        } else {
            Duration::ZERO
        };
        Ok(Decision::Allow { delay })
    }

    pub async fn record_failure(&self, db: &Db, username: &str, ip: Option<&str>) -> Result<()> {
        let mut keys = vec![user_key(username)];
        if let Some(ip) = ip {
            keys.push(ip_key(ip));
        }
        db.record_login_failure(&keys).await
    }

    /// A successful login clears the username's failures (not the address's).
    pub async fn record_success(&self, db: &Db, username: &str) -> Result<()> {
        db.clear_login_failures(&user_key(username)).await
    }

    pub async fn prune(&self, db: &Db) -> Result<u64> {
        let keep = self.window.max(self.refuse_for);
        db.prune_login_failures(Utc::now() - chrono::Duration::from_std(keep).unwrap_or_default())
            .await
    }
}

//! Login throttling that slows attackers down without locking the real admin out.
//!
//! Every attempt is *reserved* in the database before its password is checked: it counts as a
//! failure from that moment, so parallel attempts see each other, on every instance, and a
//! burst cannot slip past the count. A right password withdraws the reservation. Failures slow
//! further attempts down per username and per address (progressively); more than a few from
//! one address within a minute refuse further attempts from devices that never signed in (a
//! known device is never refused for its address: many people may sit behind one proxy). After many failures a username refuses
//! attempts from devices it does not know, while a device the admin signed in from before (a
//! device cookie, as OWASP recommends) keeps signing in at once; that device's own failures
//! are counted apart. Password hashing runs a bounded number at a time, with a permit kept for
//! known devices, so a burst cannot queue the admin's sign-in behind it. The same message and
//! status are used whether or not the username exists.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Semaphore, SemaphorePermit};

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
    /// Failures for one username after which attempts from unknown devices are refused.
    pub user_refuse_after: i64,
    /// Failures from one address after which its attempts are delayed.
    pub ip_delay_after: i64,
    /// Failures from one address within a minute after which attempts from devices that
    /// never signed in are refused until the minute has passed (requirement 22: the sixth bad
    /// sign-in from an address within a minute gets 429). A known device is never refused
    /// for its address, so people behind one proxy who signed in before are not locked out.
    pub ip_refuse_per_minute: i64,
    /// Failures with one known device after which it is refused too.
    pub device_refuse_after: i64,
    /// How long a refusal lasts after the latest failure.
    pub refuse_for: Duration,
    /// How long an unused device stays known.
    pub device_lifetime: Duration,
    /// Attempts kept within `window`, over all usernames and addresses: beyond it attempts
    /// from unknown devices are turned away unchecked (the table cannot grow without bound).
    pub max_recorded_attempts: i64,
    /// Failed sign-ins written to the audit log per minute; more are counted in the log only.
    pub max_failure_audits_per_minute: i64,
    /// Sessions of visitors who are not signed in (they hold a CSRF token); the oldest go first.
    pub max_anonymous_sessions: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            user_delay_after: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            user_refuse_after: 10,
            ip_delay_after: 30,
            ip_refuse_per_minute: 5,
            device_refuse_after: 10,
            refuse_for: Duration::from_secs(15 * 60),
            device_lifetime: Duration::from_secs(180 * 86_400),
            max_recorded_attempts: 100_000,
            max_failure_audits_per_minute: 60,
            max_anonymous_sessions: 10_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow {
        delay: Duration,
    },
    Refuse {
        retry_after: Duration,
    },
    /// Too many attempts everywhere: come back later (nothing recorded, nothing checked).
    Busy,
}

/// An attempt reserved before its password is checked.
#[derive(Debug)]
pub struct Attempt {
    ids: Vec<i64>,
    /// The attempt comes from a device that signed in as this username before.
    pub known_device: bool,
    pub decision: Decision,
}

/// The username's key; an overlong one (no admin can have it) is stored as its hash, so a
/// typed 60 KB "username" costs a few bytes.
fn user_key(username: &str) -> String {
    let key = crate::storage::admins::username_key(username);
    if key.len() <= 64 {
        format!("user:{key}")
    } else {
        use sha2::Digest;
        format!("user#{}", hex::encode(sha2::Sha256::digest(key.as_bytes())))
    }
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

fn device_key(token_hash: &str) -> String {
    format!("device:{token_hash}")
}

/// The cookie that marks a browser an admin signed in from.
pub const DEVICE_COOKIE: &str = "datapump_device";

/// The device cookie's token in a request, if any (`name`: the cookie's name in this
/// deployment, see `web::cookie_name`).
pub fn device_token(cookie: Option<&str>) -> Option<&str> {
    cookie.filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The stored form of a device cookie's token.
pub fn device_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        format!("datapump-device:{token}").as_bytes(),
    ))
}

/// A new device cookie token: 256 random bits.
pub fn new_device_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl ThrottlePolicy {
    fn delay_for(&self, failures: i64, after: i64) -> Duration {
        let over = failures - after;
        if over < 0 {
            return Duration::ZERO;
        }
        let factor = 2u32.saturating_pow(u32::try_from(over.min(16)).unwrap_or(16));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Reserves an attempt and decides whether it may go on, and after which delay.
    /// `device` is the hash of the request's device cookie token, if it has one.
    pub async fn reserve(
        &self,
        db: &Db,
        username: &str,
        ip: Option<&str>,
        device: Option<&str>,
    ) -> Result<Attempt> {
        let user = user_key(username);
        let known_device = match device {
            Some(d) => db.login_device_known(d, &user).await?,
            None => false,
        };
        let keys: Vec<String> = match (known_device, device) {
            (true, Some(d)) => vec![device_key(d)],
            _ => std::iter::once(user.clone())
                .chain(ip.map(ip_key))
                .collect(),
        };
        let now = Utc::now();
        let since = now - chrono(self.window);
        if !known_device && db.login_attempts_since(since).await? >= self.max_recorded_attempts {
            return Ok(Attempt {
                ids: Vec::new(),
                known_device,
                decision: Decision::Busy,
            });
        }
        let ids = db.reserve_login_attempt(&keys).await?;
        // Counts include this attempt's own reservation.
        let mut counts = Vec::with_capacity(keys.len());
        for key in &keys {
            let (n, _) = db.login_failures_since(key, since).await?;
            counts.push((key.clone(), (n - 1).max(0)));
        }
        let limit = if known_device {
            self.device_refuse_after
        } else {
            self.user_refuse_after
        };
        // The username's count (or the known device's): the one that can refuse.
        let locking = counts.iter().find(|(k, _)| !k.starts_with("ip:"));
        if let Some((key, _)) = locking.filter(|(_, n)| *n >= limit) {
            // A refused attempt checks no password and is not counted, so refusals do not
            // renew themselves: the refusal ends `refuse_for` after the latest real failure.
            db.withdraw_login_attempt(&ids).await?;
            let (_, last) = db.login_failures_since(key, since).await?;
            let until = last.unwrap_or(now) + chrono(self.refuse_for);
            let retry_after = (until - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_secs(1));
            return Ok(Attempt {
                ids: Vec::new(),
                known_device,
                decision: Decision::Refuse { retry_after },
            });
        }
        if !known_device && let Some(address) = ip {
            let minute = now - chrono::Duration::minutes(1);
            let (recent, _) = db.login_failures_since(&ip_key(address), minute).await?;
            // This attempt's own reservation is among them.
            if recent > self.ip_refuse_per_minute {
                db.withdraw_login_attempt(&ids).await?;
                // Try again when the oldest of the minute's failures has aged out of it.
                let oldest = db
                    .oldest_login_failure_since(&ip_key(address), minute)
                    .await?;
                let until = oldest.unwrap_or(now) + chrono::Duration::minutes(1);
                let retry_after = (until - now)
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .max(Duration::from_secs(1));
                return Ok(Attempt {
                    ids: Vec::new(),
                    known_device,
                    decision: Decision::Refuse { retry_after },
                });
            }
        }
        let delay = if known_device {
            Duration::ZERO
        } else {
            counts
                .iter()
                .map(|(k, n)| {
                    if k.starts_with("ip:") {
                        self.delay_for(*n, self.ip_delay_after)
                    } else {
                        self.delay_for(*n, self.user_delay_after)
                    }
                })
                .max()
                .unwrap_or(Duration::ZERO)
        };
        Ok(Attempt {
            ids,
            known_device,
            decision: Decision::Allow { delay },
        })
    }

    /// The password was right: the reservation is withdrawn, the username's (and the
    /// device's) failures are cleared, the address's stay. Returns the device token to set
    /// as the device cookie (a new one when the browser had none for this username).
    pub async fn succeeded(
        &self,
        db: &Db,
        attempt: &Attempt,
        username: &str,
        device: Option<&str>,
    ) -> Result<Option<String>> {
        db.withdraw_login_attempt(&attempt.ids).await?;
        let user = user_key(username);
        db.clear_login_failures(&user).await?;
        if let (true, Some(d)) = (attempt.known_device, device) {
            db.clear_login_failures(&device_key(d)).await?;
            db.remember_login_device(d, &user).await?;
            return Ok(None);
        }
        let token = new_device_token();
        db.remember_login_device(&device_hash(&token), &user)
            .await?;
        Ok(Some(token))
    }

    /// A right password where no device is to be remembered (re-authentication of a signed-in
    /// admin): the reservation is withdrawn.
    pub async fn confirmed(&self, db: &Db, attempt: &Attempt) -> Result<()> {
        db.withdraw_login_attempt(&attempt.ids).await
    }

    /// Whether another failed or refused sign-in may go to the audit log this minute: both
    /// are caused by requests nobody signed in for, and share one cap, so that a flood of them
    /// cannot fill the disk.
    pub async fn audit_failure(&self, db: &Db) -> Result<bool> {
        let since = Utc::now() - chrono::Duration::minutes(1);
        Ok(db
            .count_audit_since(("login.failure", "login.refused"), since)
            .await?
            < self.max_failure_audits_per_minute)
    }

    pub async fn prune(&self, db: &Db) -> Result<u64> {
        let keep = self.window.max(self.refuse_for);
        let n = db.prune_login_failures(Utc::now() - chrono(keep)).await?;
        db.prune_login_devices(Utc::now() - chrono(self.device_lifetime))
            .await?;
        Ok(n)
    }
}

/// Password hashing at most a few at a time (each Argon2 check takes a core for tens of
/// milliseconds), with one permit kept for devices that signed in before.
#[derive(Debug)]
pub struct HashPermits {
    anyone: Semaphore,
    known: Semaphore,
}

impl Default for HashPermits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            anyone: Semaphore::new(cores.clamp(1, 4)),
            known: Semaphore::new(1),
        }
    }
}

impl HashPermits {
    /// A permit to check one password; a known device takes either kind, whichever is free
    /// first.
    pub async fn acquire(&self, known_device: bool) -> Option<SemaphorePermit<'_>> {
        if known_device {
            tokio::select! {
                p = self.known.acquire() => p.ok(),
                p = self.anyone.acquire() => p.ok(),
            }
        } else {
            self.anyone.acquire().await.ok()
        }
    }
}

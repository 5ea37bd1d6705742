//! Outbound webhooks: each consumer (an API token) may have the change feed pushed to a URL of
//! its own. A task of its own delivers, so a slow or dead receiver never holds up an import;
//! the cursor moves only when the receiver answered 2xx, so every change arrives at least once
//! (receivers drop repeats by `seq`). Failures back off exponentially and show on the dashboard.

pub mod destination;
pub mod signature;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::crypto::{SecretKey, context};
use crate::feeds::change::Change;
use crate::storage::api_tokens::ApiToken;
use crate::storage::webhooks::Webhook;
use crate::storage::{Db, StoreError};

/// Timing of deliveries.
#[derive(Debug, Clone)]
pub struct WebhookPolicy {
    /// How often due webhooks are looked for.
    pub poll: Duration,
    /// The wait after the first failure; doubled with each further one, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// A receiver that has not answered within this is counted as failed.
    pub timeout: Duration,
    /// At most this many changes per delivery.
    pub batch: usize,
    /// Where deliveries may go (`DATAPUMP_WEBHOOK_ALLOW` names internal ranges).
    pub destinations: destination::Destinations,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(5),
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            batch: 100,
            destinations: destination::Destinations::default(),
        }
    }
}

/// The body of a delivery.
#[derive(Debug, Serialize)]
struct Delivery<'a> {
    /// The API token's name: which consumer this is for.
    consumer: &'a str,
    /// Changes in commit order; possibly repeated from an earlier delivery.
    changes: Vec<Change>,
    /// The feed position this delivery brings the consumer to (as `next_after` of the API).
    next_after: i64,
    /// Changes were pruned before they could be delivered: read the events again from the API.
    resync: bool,
}

/// What an attempt came to, short enough for the dashboard; never the receiver's body.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("HTTP {0}")]
    Status(u16),
    #[error("redirect (HTTP {0}) not followed")]
    Redirect(u16),
    #[error("no answer within {0} s")]
    Timeout(u64),
    #[error("connection failed")]
    Connect,
    /// The address is (or resolves only to) an address inside the network.
    #[error(
        "the address is inside the network; deliveries go there only if DATAPUMP_WEBHOOK_ALLOW names it"
    )]
    Inside,
    #[error("request failed")]
    Request,
    #[error("the signing secret cannot be opened with this key")]
    Secret,
    /// Datapump is stopping: not the receiver's fault, not counted.
    #[error("interrupted")]
    Interrupted,
}

/// The client for consumers' receivers and the loop that feeds them.
pub struct Dispatcher {
    db: Db,
    key: Arc<SecretKey>,
    http: reqwest::Client,
    policy: WebhookPolicy,
    shutdown: CancellationToken,
}

/// The HTTP client for receivers could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the HTTP client for webhooks cannot be built: {0}")]
pub struct ClientBuildError(String);

impl Dispatcher {
    pub fn new(
        db: Db,
        key: Arc<SecretKey>,
        policy: WebhookPolicy,
        shutdown: CancellationToken,
    ) -> Result<Self, ClientBuildError> {
        crate::graph::ensure_crypto_provider();
        // No redirects: the signature and the events must not be sent where the admin did
        // not point them.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Names resolve to checked addresses only, and the connection goes to one of them.
            .dns_resolver(destination::CheckedResolver(Arc::new(
                policy.destinations.clone(),
            )))
            .connect_timeout(policy.timeout)
            .timeout(policy.timeout)
            .user_agent(concat!("Datapump-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientBuildError(e.to_string()))?;
        Ok(Self {
            db,
            key,
            http,
            policy,
            shutdown,
        })
    }

    /// Delivers until shutdown.
    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.policy.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.round().await {
                tracing::warn!(error = %e, "webhook deliveries could not be read");
            }
        }
    }

    /// One pass over the due webhooks, delivered side by side.
    async fn round(&self) -> Result<(), StoreError> {
        let due = self.db.due_webhooks(Utc::now()).await?;
        if due.is_empty() {
            return Ok(());
        }
        let tokens: HashMap<i64, ApiToken> = self
            .db
            .list_api_tokens()
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let work = due.into_iter().filter_map(|hook| {
            let token = tokens.get(&hook.token_id)?;
            Some(async move {
                if let Err(e) = self.deliver(hook, token).await {
                    tracing::warn!(consumer = %token.name, error = %e, "webhook delivery not recorded");
                }
            })
        });
        futures_util::future::join_all(work).await;
        Ok(())
    }

    /// Sends what the consumer has not acknowledged, batch after batch, until it is up to
    /// date or an attempt fails.
    async fn deliver(&self, mut hook: Webhook, token: &ApiToken) -> Result<(), StoreError> {
        let pruned = self.db.feed_pruned_through().await?;
        if hook.after_seq < pruned && self.db.webhook_skip_gap(hook.token_id, pruned).await? {
            tracing::warn!(consumer = %token.name, "changes were pruned before delivery: the consumer is told to re-read");
            hook.after_seq = pruned;
            hook.gap_at = Some(Utc::now());
        }
        loop {
            let (changes, through) = self.pending(&hook, token).await?;
            let resync = hook.gap_at.is_some();
            if changes.is_empty() && !resync {
                if through > hook.after_seq {
                    // Only entries outside the consumer's scope: moved past without a request.
                    self.db
                        .webhook_delivered(hook.token_id, hook.after_seq, through, 0, Utc::now())
                        .await?;
                }
                return Ok(());
            }
            let full = changes.len() >= self.policy.batch;
            let count = changes.len() as i64;
            let body = Delivery {
                consumer: &token.name,
                changes,
                next_after: through,
                resync,
            };
            match self.post(&hook, &body).await {
                Ok(()) => {
                    self.db
                        .webhook_delivered(
                            hook.token_id,
                            hook.after_seq,
                            through,
                            count,
                            Utc::now(),
                        )
                        .await?;
                    hook.after_seq = through;
                    hook.gap_at = None;
                    hook.failures = 0;
                    if !full || self.shutdown.is_cancelled() {
                        return Ok(());
                    }
                }
                Err(Failure::Interrupted) => return Ok(()),
                Err(failure) => {
                    let wait = self.backoff(hook.failures);
                    tracing::warn!(consumer = %token.name, error = %failure, retry_in_s = wait.as_secs(), "webhook delivery failed");
                    let next = Utc::now()
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                    self.db
                        .webhook_failed(hook.token_id, &failure.to_string(), next)
                        .await?;
                    return Ok(());
                }
            }
        }
    }

    /// Up to a batch of the consumer's changes after its cursor, and the position they bring
    /// it to (past entries out of its scope as well).
    async fn pending(
        &self,
        hook: &Webhook,
        token: &ApiToken,
    ) -> Result<(Vec<Change>, i64), StoreError> {
        let batch = self.policy.batch;
        let mut through = hook.after_seq;
        let mut out = Vec::new();
        // A bounded scan: a narrow consumer behind a long stretch of others' changes catches
        // up over several rounds.
        for _ in 0..20 {
            let page = self.db.changes_since(through, batch as i64).await?;
            let short = page.len() < batch;
            for c in page {
                through = c.seq;
                if token.scope.allows(c.subscription_id) {
                    out.push(Change::from(c));
                    if out.len() >= batch {
                        return Ok((out, through));
                    }
                }
            }
            if short {
                break;
            }
        }
        Ok((out, through))
    }

    async fn post(&self, hook: &Webhook, body: &Delivery<'_>) -> Result<(), Failure> {
        let secret = self
            .key
            .open_string(&context::webhook_secret(hook.token_id), &hook.secret_enc)
            .map_err(|_| Failure::Secret)?;
        // An address given as a number never reaches the resolver: checked here.
        let literal = match url::Url::parse(&hook.url)
            .ok()
            .as_ref()
            .and_then(url::Url::host)
        {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if literal.is_some_and(|ip| !self.policy.destinations.permits(ip)) {
            return Err(Failure::Inside);
        }
        let json = serde_json::to_vec(body).map_err(|_| Failure::Request)?;
        let timestamp = Utc::now().timestamp();
        let request = self
            .http
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                signature::HEADER,
                signature::sign(&secret, timestamp, &json),
            )
            .header("Datapump-Delivery", uuid::Uuid::new_v4().to_string())
            .body(json)
            .send();
        let response = tokio::select! {
            // Shutdown ends a hanging attempt; it is not counted against the receiver.
            _ = self.shutdown.cancelled() => return Err(Failure::Interrupted),
            r = request => r,
        };
        let response = response.map_err(|e| {
            let inside =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<destination::InsideTheNetwork>());
            if inside {
                Failure::Inside
            } else if e.is_timeout() {
                Failure::Timeout(self.policy.timeout.as_secs())
            } else if e.is_connect() {
                Failure::Connect
            } else {
                Failure::Request
            }
        })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_redirection() {
            Err(Failure::Redirect(status.as_u16()))
        } else {
            Err(Failure::Status(status.as_u16()))
        }
    }

    /// The wait after the failure that follows `failures` earlier ones: doubling from
    /// `retry_base` up to `retry_max`, with jitter so that receivers coming back are not hit by
    /// every instance at once.
    fn backoff(&self, failures: i64) -> Duration {
        let exp = u32::try_from(failures.clamp(0, 20)).unwrap_or(20);
        let full = self
            .policy
            .retry_base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.policy.retry_max);
        full.mul_f64(rand::random_range(0.5..=1.0))
    }
}

/// Why an address is not accepted for a webhook (a translation key). An address given as a
/// number inside the network is refused here unless `destinations` allows it; a name is
/// checked when a delivery resolves it.
pub fn check_url(
    raw: &str,
    destinations: &destination::Destinations,
) -> Result<url::Url, &'static str> {
    let url = url::Url::parse(raw.trim()).map_err(|_| "webhook-url-invalid")?;
    if raw.len() > 2000 || !url.username().is_empty() || url.password().is_some() {
        return Err("webhook-url-invalid");
    }
    let literal = match url.host() {
        Some(url::Host::Domain(_)) => None,
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        None => return Err("webhook-url-invalid"),
    };
    if literal.is_some_and(|ip| !destinations.permits(ip)) {
        return Err("webhook-url-internal");
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        _ => literal.is_some_and(|ip| ip.is_loopback()),
    };
    match url.scheme() {
        "https" => Ok(url),
        // Deliveries carry meeting subjects: in the clear only to this machine.
        "http" if loopback => Ok(url),
        "http" => Err("webhook-url-https"),
        _ => Err("webhook-url-invalid"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let none = destination::Destinations::default();
        let here = destination::Destinations {
            allow: vec!["127.0.0.0/8".parse().expect("net")],
        };
        assert!(check_url("https://reception.example.com/hook", &none).is_ok());
        assert!(check_url("http://127.0.0.1:9000/hook", &here).is_ok());
        assert!(
            check_url("http://localhost/hook", &none).is_ok(),
            "a name: checked when sent"
        );
        for inside in [
            "http://127.0.0.1:6379/",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/",
            "https://[fe80::1]/",
            "https://0.0.0.0/",
            "https://[::ffff:192.168.0.1]/",
        ] {
            assert_eq!(
                check_url(inside, &none).err(),
                Some("webhook-url-internal"),
                "{inside}"
            );
        }
        assert_eq!(
            check_url("http://reception.example.com/hook", &none).err(),
            Some("webhook-url-https")
        );
        assert_eq!(
            check_url("https://user:pw@example.com/", &none).err(),
            Some("webhook-url-invalid")
        );
        assert_eq!(
            check_url("ftp://example.com/", &none).err(),
            Some("webhook-url-invalid")
        );
        assert_eq!(
            check_url("not a url", &none).err(),
            Some("webhook-url-invalid")
        );
    }
}

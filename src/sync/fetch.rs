//! Fetching one page from Graph with the retry policy: `Retry-After` honoured on 429/503/504,
//! exponential backoff with full jitter on network errors and other 5xx, one token refresh on
//! 401, no retry on other 4xx; bounded by the run's deadline.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{RunContext, RunError};
use crate::graph::api::retry_after;
use crate::graph::oauth::describe;
use crate::profiles::tokens::TokenFailure;
use crate::storage::sync::RunStats;

const MAX_ATTEMPTS: u32 = 8;

/// What a run's requests cost so far. Shared: the pages of a run are fetched ahead of the
/// writer, and a page's series masters side by side.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    requests: AtomicI64,
    throttle_waits: AtomicI64,
    waited_ms: AtomicI64,
}

impl Meter {
    /// The run's statistics: the page counters given, the request counters from here.
    pub fn stats(&self, pages: &RunStats) -> RunStats {
        RunStats {
            requests: self.requests.load(Ordering::Relaxed),
            throttle_waits: self.throttle_waits.load(Ordering::Relaxed),
            waited_ms: self.waited_ms.load(Ordering::Relaxed),
            ..*pages
        }
    }
}

impl RunContext<'_> {
    /// Waits `delay` unless that would pass the deadline.
    async fn wait(&self, delay: Duration, throttled: bool) -> Result<(), RunError> {
        if Instant::now() + delay > self.deadline {
            return Err(RunError::Deadline);
        }
        if throttled {
            self.meter.throttle_waits.fetch_add(1, Ordering::Relaxed);
        }
        let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        self.meter.waited_ms.fetch_add(ms, Ordering::Relaxed);
        tokio::time::sleep(delay).await;
        Ok(())
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self.engine.policy.backoff_cap;
        let ceiling = self
            .engine
            .policy
            .backoff_base
            .saturating_mul(2u32.saturating_pow(attempt.min(16)))
            .min(cap);
        let ms = u64::try_from(ceiling.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        Duration::from_millis(rand::rng().random_range(0..=ms))
    }

    /// GETs a Graph URL and deserializes the answer in one pass.
    pub async fn fetch<T: DeserializeOwned>(&self, url: &str) -> Result<T, RunError> {
        // The token goes only to the configured Graph host.
        if !url.starts_with(&format!("{}/", self.graph_base)) {
            return Err(RunError::ForeignLink);
        }
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = match self.engine.tokens.access_token(self.profile_id).await {
                Ok(t) => t,
                Err(TokenFailure::Paused(status)) => return Err(RunError::ProfilePaused(status)),
                Err(TokenFailure::Backoff(_)) => return Err(RunError::ProfileUnreachable),
                Err(TokenFailure::Refresh(e))
                    if e.class() == crate::graph::FailureClass::Transient =>
                {
                    return Err(RunError::ProfileUnreachable);
                }
                Err(TokenFailure::Refresh(_)) => {
                    let status = self.engine.db.profile(self.profile_id).await?.status();
                    return Err(RunError::ProfilePaused(status));
                }
                Err(e) => return Err(RunError::Internal(e.to_string())),
            };
            self.meter.requests.fetch_add(1, Ordering::Relaxed);
            let (status, wait_for, body) = match self.exchange(url, &token.token).await {
                Ok(answer) => answer,
                Err(e) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(error = %describe(&e), "request failed; retrying");
                    let d = self.backoff(attempt);
                    self.wait(d, false).await?;
                    continue;
                }
                Err(e) => return Err(RunError::Network(describe(&e))),
            };
            match status {
                200..=299 => {
                    return serde_json::from_slice::<T>(&body)
                        .map_err(|e| RunError::Protocol(e.to_string()));
                }
                401 if !refreshed => {
                    refreshed = true;
                    match self.engine.tokens.force_refresh(self.profile_id).await {
                        Ok(_) => {}
                        Err(TokenFailure::Paused(s)) => return Err(RunError::ProfilePaused(s)),
                        Err(_) => return Err(RunError::ProfileUnreachable),
                    }
                }
                410 => return Err(RunError::Gone),
                429 | 503 | 504 if attempt < MAX_ATTEMPTS * 4 => {
                    let d = wait_for
                        .map(|s| Duration::from_secs_f64(s.min(600.0)))
                        .unwrap_or_else(|| self.backoff(attempt));
                    self.wait(d, true).await?;
                }
                500..=599 if attempt < MAX_ATTEMPTS => {
                    let d = self.backoff(attempt);
                    self.wait(d, false).await?;
                }
                _ => {
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let code = body["error"]["code"].as_str().unwrap_or("").to_string();
                    let message = body["error"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .chars()
                        .take(300)
                        .collect();
                    return Err(RunError::Api {
                        status,
                        code,
                        message,
                    });
                }
            }
        }
    }

    /// One request and its whole answer: status, `Retry-After` in seconds, body. Graph allows an
    /// app four concurrent requests per mailbox: the mailbox's permit is held for exactly this
    /// long, not while backing off.
    async fn exchange(
        &self,
        url: &str,
        token: &str,
    ) -> Result<(u16, Option<f64>, bytes::Bytes), reqwest::Error> {
        let _permit = self.mailbox.acquire().await;
        let response = self
            .engine
            .http
            .get(url)
            .bearer_auth(token)
            .header(
                "Prefer",
                format!(
                    "outlook.timezone=\"UTC\", odata.maxpagesize={}",
                    self.engine.policy.page_size
                ),
            )
            .header("client-request-id", uuid::Uuid::new_v4().to_string())
            .send()
            .await?;
        let status = response.status().as_u16();
        let wait_for = retry_after(response.headers());
        Ok((status, wait_for, response.bytes().await?))
    }
}

//! Fault injection, request counters and Outlook's per-mailbox concurrency limit.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "kind"
)]
pub enum FaultKind {
    /// Delay the response.
    Latency { ms: u64 },
    /// 429 with `Retry-After` (seconds, may be fractional in real life; whole seconds here).
    Throttle { retry_after: u64 },
    /// 503, optionally with `Retry-After`.
    Unavailable { retry_after: Option<u64> },
    /// 504 Gateway Timeout.
    GatewayTimeout,
    /// 429 without `Retry-After` (observed: OfficeDev/outlook-dev-docs #144).
    ThrottleWithoutRetryAfter,
    /// 429 with `Retry-After` as an HTTP date `seconds` ahead (RFC 9110 allows a date; proxies
    /// and gateways in front of a service send one).
    ThrottleUntil { seconds: u64 },
    /// 503 with an HTML page instead of Graph's JSON error (inferred: a gateway or proxy in
    /// front of Graph answers so; the client must not depend on Graph's error JSON).
    UnavailableHtml,
    /// 403 `ErrorAccessDenied` (documented error code, "Microsoft Graph error responses"):
    /// what an operation answers when a permission it needs is not granted, for example
    /// `User.ReadBasic.All` after an admin removed it from the app's consent.
    AccessDenied,
    /// The connection is dropped in the middle of the response.
    Drop,
    /// The answer arrives whole, but its `@odata.nextLink` and `@odata.deltaLink` point to
    /// another host: a corrupted or hostile answer (not a Microsoft behaviour: an attack case),
    /// which a client must not follow (it would send its token there) nor keep as the place to
    /// continue from.
    ForeignLink,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Probability per matching request (0..=1); ignored when `next` is set.
    #[serde(default)]
    pub rate: f64,
    /// Fire for exactly the next N matching requests.
    pub next: Option<u32>,
    /// Only requests whose path contains this text.
    pub path_contains: Option<String>,
}

impl FaultRule {
    pub fn matches(&self, path: &str) -> bool {
        self.path_contains
            .as_deref()
            .is_none_or(|p| path.to_ascii_lowercase().contains(&p.to_ascii_lowercase()))
    }
}

/// Requests seen, by path (query excluded) and by mailbox (user principal name).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub total: u64,
    pub by_path: BTreeMap<String, u64>,
    pub by_mailbox: BTreeMap<String, u64>,
    pub token_requests: u64,
    pub throttled: u64,
    pub faults_injected: u64,
    /// The most requests in flight at once for one app and mailbox.
    pub max_concurrent_per_mailbox: usize,
    /// Requests refused because their app and mailbox had used up the request budget.
    pub over_budget: u64,
}

impl super::state::SimState {
    /// Decides whether a fault fires for this request (consuming `next` counts).
    pub fn pick_fault(&mut self, path: &str) -> Option<FaultKind> {
        let mut fired = None;
        for i in 0..self.faults.len() {
            if !self.faults[i].matches(path) {
                continue;
            }
            let fire = match self.faults[i].next {
                Some(0) => false,
                Some(n) => {
                    self.faults[i].next = Some(n - 1);
                    true
                }
                None => {
                    let rate = self.faults[i].rate;
                    rate > 0.0 && self.random() < rate
                }
            };
            if fire {
                fired = Some(self.faults[i].kind.clone());
                break;
            }
        }
        self.faults.retain(|f| f.next != Some(0));
        if fired.is_none() && self.config.fault_rate > 0.0 && !path.starts_with("/_sim") {
            let rate = self.config.fault_rate;
            if self.random() < rate {
                fired = Some(match (self.random() * 3.0) as u32 {
                    0 => FaultKind::Throttle { retry_after: 1 },
                    1 => FaultKind::Unavailable {
                        retry_after: Some(1),
                    },
                    _ => FaultKind::GatewayTimeout,
                });
            }
        }
        if fired.is_some() {
            self.counters.faults_injected += 1;
        }
        fired
    }

    /// The slot key of a request: the app, and the mailbox when the limit counts per mailbox.
    fn slot_key(&self, app: &str, mailbox: &str) -> (String, String) {
        match self.config.concurrency_scope {
            super::state::ConcurrencyScope::App => (app.to_string(), String::new()),
            super::state::ConcurrencyScope::AppAndMailbox => (app.to_string(), mailbox.to_string()),
        }
    }

    /// Counts an Outlook request against the (app, mailbox) budget; `Some(seconds)` to wait
    /// when the window is full (the request is refused and not counted).
    pub fn spend_budget(&mut self, app: &str, mailbox: &str) -> Option<u64> {
        let (limit, window) = self.config.mailbox_request_budget?;
        let now = std::time::Instant::now();
        let log = self
            .recent_requests
            .entry((app.to_string(), mailbox.to_string()))
            .or_default();
        while log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            log.pop_front();
        }
        if log.len() >= limit {
            self.counters.throttled += 1;
            self.counters.over_budget += 1;
            let free_at = log
                .front()
                .map_or(window, |t| window.saturating_sub(now.duration_since(*t)));
            return Some(free_at.as_secs_f64().ceil().max(1.0) as u64);
        }
        log.push_back(now);
        None
    }

    /// Takes a concurrency slot for (app, mailbox); `false` when the limit is reached.
    pub fn acquire_slot(&mut self, app: &str, mailbox: &str) -> bool {
        let key = self.slot_key(app, mailbox);
        let current = self.in_flight.get(&key).copied().unwrap_or(0);
        if let Some(limit) = self.config.mailbox_concurrency
            && current >= limit
        {
            self.counters.throttled += 1;
            return false;
        }
        self.in_flight.insert(key, current + 1);
        self.counters.max_concurrent_per_mailbox =
            self.counters.max_concurrent_per_mailbox.max(current + 1);
        true
    }

    pub fn release_slot(&mut self, app: &str, mailbox: &str) {
        let key = self.slot_key(app, mailbox);
        if let Some(n) = self.in_flight.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.in_flight.remove(&key);
            }
        }
    }

    pub fn count(&mut self, path: &str, mailbox: Option<&str>) {
        self.counters.total += 1;
        *self.counters.by_path.entry(path.to_string()).or_default() += 1;
        if let Some(m) = mailbox {
            *self
                .counters
                .by_mailbox
                .entry(m.to_ascii_lowercase())
                .or_default() += 1;
        }
    }
}

pub fn latency(kind: &FaultKind) -> Option<Duration> {
    match kind {
        FaultKind::Latency { ms } => Some(Duration::from_millis(*ms)),
        _ => None,
    }
}

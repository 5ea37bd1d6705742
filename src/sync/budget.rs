//! Graph's request budget for Outlook: "10,000 API requests in a 10 minute period" per app ID
//! and mailbox (throttling limits, "Outlook service limits"). Every run of this engine that
//! touches a mailbox draws from the same bucket, so a mailbox read by many subscriptions
//! (its calendars, several profiles of one app) stays within the limit as a whole.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket per key whose burst plus refill over one window never exceeds the limit:
/// at most `limit` requests in any window, not just on average.
#[derive(Debug)]
pub struct RequestBudget {
    capacity: f64,
    /// Tokens per second.
    rate: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Negative: requests already queued for later.
    tokens: f64,
    at: Instant,
}

/// Buckets kept before full ones are forgotten.
const KEEP: usize = 4096;

impl RequestBudget {
    /// `limit` requests per `window`: a fifth of it as burst, the rest spread over the window.
    pub fn new(limit: u32, window: Duration) -> Self {
        let limit = f64::from(limit.max(1));
        let capacity = (limit / 5.0).max(1.0);
        let secs = window.as_secs_f64().max(0.001);
        Self {
            capacity,
            rate: ((limit - capacity) / secs).max(f64::MIN_POSITIVE),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s budget: how long to wait before sending it (zero when
    /// it may go now). The request keeps its place: later callers wait behind it. With
    /// `engines` instances on one database each keeps its own bucket, and a mailbox's runs may
    /// move between them: a request costs `engines` tokens, so that together they stay within
    /// the limit.
    pub fn reserve(&self, key: &str, engines: u32) -> Duration {
        self.reserve_at(key, Instant::now(), engines)
    }

    fn reserve_at(&self, key: &str, now: Instant, engines: u32) -> Duration {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > KEEP {
            let (capacity, rate) = (self.capacity, self.rate);
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < capacity);
        }
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.capacity) - f64::from(engines.max(1));
        b.at = now;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends as soon as the budget allows and counts what goes out in every window.
    fn sent_times(budget: &RequestBudget, n: usize) -> Vec<f64> {
        let start = Instant::now();
        (0..n)
            .map(|_| budget.reserve_at("app|room", start, 1).as_secs_f64())
            .collect()
    }

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        let budget = RequestBudget::new(100, Duration::from_secs(10));
        let times = sent_times(&budget, 1_000);
        // The burst goes at once, the rest is spread.
        assert_eq!(times.iter().filter(|t| **t == 0.0).count(), 20);
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|u| **u < t + 10.0).count();
            assert!(
                in_window <= 100,
                "{in_window} requests within 10 s from {t}"
            );
        }
        // The price of never exceeding it: after the burst, 80 % of the limit (1,000
        // requests: 20 at once, 980 at 8 per second).
        let last = times.last().copied().unwrap_or_default();
        assert!((122.0..=123.0).contains(&last), "{last}");
    }

    #[test]
    fn keys_are_separate_and_refill() {
        let budget = RequestBudget::new(10, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(budget.reserve_at("a", t0, 1).is_zero());
        assert!(budget.reserve_at("a", t0, 1).is_zero());
        assert!(
            !budget.reserve_at("a", t0, 1).is_zero(),
            "burst of two used up"
        );
        assert!(budget.reserve_at("b", t0, 1).is_zero(), "another mailbox");
        // Eight per ten seconds refill: after ten seconds there is room again.
        assert!(
            budget
                .reserve_at("a", t0 + Duration::from_secs(10), 1)
                .is_zero()
        );
    }

    #[test]
    fn instances_together_stay_within_the_limit() {
        // Two instances, each with its own bucket, a mailbox's requests split between them.
        let (a, b) = (
            RequestBudget::new(100, Duration::from_secs(10)),
            RequestBudget::new(100, Duration::from_secs(10)),
        );
        let start = Instant::now();
        let mut times: Vec<f64> = (0..500)
            .flat_map(|_| {
                [
                    a.reserve_at("app|room", start, 2).as_secs_f64(),
                    b.reserve_at("app|room", start, 2).as_secs_f64(),
                ]
            })
            .collect();
        times.sort_by(f64::total_cmp);
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|u| **u < t + 10.0).count();
            assert!(
                in_window <= 100,
                "{in_window} requests within 10 s from {t}"
            );
        }
    }
}

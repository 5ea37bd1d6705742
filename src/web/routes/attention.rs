//! Which subscriptions need an admin's eye, for the dashboard, /healthz and /metrics.

use chrono::Utc;

use crate::storage::subscriptions::Subscription;

/// Why a subscription needs attention: a translation key and, for staleness, the minutes.
pub fn reason(s: &Subscription) -> Option<(&'static str, i64)> {
    if !s.enabled {
        return None;
    }
    if s.status == "error" {
        return Some(("attention-failing", 0));
    }
    if s.status == "paused" {
        return Some(("attention-paused", 0));
    }
    let since = s.last_sync_at.unwrap_or(s.created_at);
    let minutes = (Utc::now() - since).num_minutes();
    if minutes > 3 * s.interval_minutes.max(1) + 5 {
        return Some(("attention-stale", minutes));
    }
    if s.anonymized {
        return Some(("attention-anonymized", 0));
    }
    None
}

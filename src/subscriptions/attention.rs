//! Which subscriptions need an admin's eye, for the dashboard, /healthz and /metrics.

use chrono::Utc;

use crate::model::SubscriptionStatus;
use crate::storage::subscriptions::Subscription;

/// Shortest interval (1 minute) × 3 + 5 minutes: a subscription synced more recently is not
/// stale whatever its interval, so the database need not return it.
const STALE_AT_LEAST: chrono::Duration = chrono::Duration::minutes(8);

/// Self-checks in a row that found drift before a subscription needs attention: one repaired
/// difference is Graph's delta being what it is; three in a row mean the repair does not hold
/// (docs/graph-behaviours.md).
pub const DRIFT_STREAK: i64 = 3;

/// Every subscription that needs attention now, with [`reason`].
pub async fn needing_attention(
    db: &crate::storage::Db,
) -> crate::storage::Result<Vec<(Subscription, &'static str, i64)>> {
    Ok(db
        .attention_candidates(Utc::now() - STALE_AT_LEAST)
        .await?
        .into_iter()
        .filter_map(|s| reason(&s).map(|(k, m)| (s, k, m)))
        .collect())
}

/// Why a subscription needs attention: a translation key and, for staleness, the minutes.
pub fn reason(s: &Subscription) -> Option<(&'static str, i64)> {
    if !s.enabled {
        return None;
    }
    match s.status {
        SubscriptionStatus::Error => return Some(("attention-failing", 0)),
        SubscriptionStatus::Paused => return Some(("attention-paused", 0)),
        _ => {}
    }
    let since = s.last_sync_at.unwrap_or(s.created_at);
    let minutes = (Utc::now() - since).num_minutes();
    if minutes > 3 * s.interval_minutes.max(1) + 5 {
        return Some(("attention-stale", minutes));
    }
    if s.anonymized {
        return Some(("attention-anonymized", 0));
    }
    if s.drift_streak >= DRIFT_STREAK {
        return Some(("attention-drift", s.drift_streak));
    }
    None
}

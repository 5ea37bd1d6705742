//! What an admin does with a subscription after subscribing it: edit, pause or resume, sync
//! now, delete, bulk changes, the ICS feed link. Each change is stored with its audit entry in
//! one transaction.

use crate::storage::audit::Actor;
use crate::storage::subscription_list::{BulkChange, BulkOutcome};
use crate::storage::subscriptions::{Subscription, SubscriptionSettings};
use crate::storage::{Db, StoreError};

/// Saves edited settings read at `version` (`Conflict` when someone saved in between).
pub async fn update(
    db: &Db,
    id: i64,
    settings: &SubscriptionSettings,
    version: i64,
    by: &Actor,
) -> Result<(), StoreError> {
    let audit = by.record(
        "subscription.updated",
        Some(settings.display_name.clone()),
        Some(describe(settings)),
    );
    db.update_subscription(id, settings, version, Some(&audit))
        .await
}

/// The audit details of an edit: the settings saved (what is left out, never values).
fn describe(s: &SubscriptionSettings) -> String {
    let mut details = format!(
        "window -{}/+{} days, every {} min, {}{}",
        s.days_back,
        s.days_ahead,
        s.interval_minutes,
        if s.enabled { "enabled" } else { "paused" },
        if s.mask_private {
            ", private events masked"
        } else {
            ""
        }
    );
    let f = s.fields;
    let left_out: Vec<&str> = [
        (!f.body).then_some("body"),
        (!f.attendee_addresses).then_some("attendee addresses"),
        (!f.online_meeting).then_some("online-meeting link"),
        (!f.categories).then_some("categories"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !left_out.is_empty() {
        details.push_str(&format!(", not stored: {}", left_out.join(", ")));
    }
    if let Some(days) = s.retention_days {
        details.push_str(&format!(", kept {days} days after the end"));
    }
    details
}

/// Pauses a running subscription or resumes a paused one.
pub async fn toggle(db: &Db, s: &Subscription, by: &Actor) -> Result<(), StoreError> {
    let action = if s.enabled {
        "subscription.paused"
    } else {
        "subscription.resumed"
    };
    let audit = by.record(action, Some(s.display_name.clone()), None);
    db.set_subscription_enabled(s.id, !s.enabled, &audit).await
}

/// "Sync now": due at once; the scheduler picks it up within seconds.
pub async fn sync_now(db: &Db, s: &Subscription, by: &Actor) -> Result<(), StoreError> {
    let audit = by.record(
        "subscription.sync_requested",
        Some(s.display_name.clone()),
        None,
    );
    db.request_sync(s.id, Some(&audit)).await
}

/// Deletes a subscription, keeping its imported events or not.
pub async fn delete(
    db: &Db,
    s: &Subscription,
    keep_events: bool,
    by: &Actor,
) -> Result<(), StoreError> {
    let details = if keep_events {
        "imported events kept"
    } else {
        "imported events removed"
    };
    let audit = by.record(
        "subscription.deleted",
        Some(s.display_name.clone()),
        Some(details.into()),
    );
    db.delete_subscription(s.id, keep_events, Some(&audit))
        .await
}

/// Applies one change to many subscriptions: all or nothing, an audit entry per change.
pub async fn bulk(
    db: &Db,
    ids: &[i64],
    change: BulkChange,
    by: &Actor,
) -> Result<Vec<(i64, String, BulkOutcome)>, StoreError> {
    let (action, details) = match change {
        BulkChange::Pause => ("subscription.paused", None),
        BulkChange::Resume => ("subscription.resumed", None),
        BulkChange::SyncNow => ("subscription.sync_requested", None),
        BulkChange::Interval(m) => (
            "subscription.updated",
            Some(format!("interval {m} minutes (bulk)")),
        ),
        BulkChange::Delete { keep_events } => (
            "subscription.deleted",
            Some(
                if keep_events {
                    "imported events kept"
                } else {
                    "imported events removed"
                }
                .to_string(),
            ),
        ),
    };
    let audit = |name: &str| by.record(action, Some(name.to_string()), details.clone());
    db.bulk_change(ids, change, &audit).await
}

/// Creates (or replaces) the subscription's ICS feed link; returns the new token, which is
/// shown once and stored only as its hash.
pub async fn new_feed(db: &Db, s: &Subscription, by: &Actor) -> Result<String, StoreError> {
    let replaced = db.feed_created_at(s.id).await?.is_some();
    let action = if replaced {
        "subscription.feed_replaced"
    } else {
        "subscription.feed_created"
    };
    let token = crate::crypto::random_token();
    let audit = by.record(action, Some(s.display_name.clone()), None);
    db.set_feed_token(s.id, Some(&crate::crypto::token_hash(&token)), &audit)
        .await?;
    Ok(token)
}

/// Turns the subscription's ICS feed off: its link stops working.
pub async fn disable_feed(db: &Db, s: &Subscription, by: &Actor) -> Result<(), StoreError> {
    let audit = by.record(
        "subscription.feed_disabled",
        Some(s.display_name.clone()),
        None,
    );
    db.set_feed_token(s.id, None, &audit).await
}

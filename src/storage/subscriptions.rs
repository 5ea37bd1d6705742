//! Subscriptions: which calendars are imported, through which profile, how often.

use chrono::{DateTime, Utc};

use super::audit::AuditRecord;
use super::{Db, Result, StoreError};
use crate::model::{ItemIds, StoredFields, SubscriptionSource, SubscriptionStatus};

macro_rules! subscription_columns {
    () => {
        "s.id, s.profile_id, s.source, s.mailbox_id, s.mailbox_address, s.mailbox_name, s.calendar_id, \
         s.calendar_name, s.display_name, s.days_back, s.days_ahead, s.interval_minutes, s.enabled, \
         s.mask_private, s.status, s.last_error, s.error_hint, s.last_sync_at, s.next_sync_at, s.event_count, \
         s.created_by, s.version, s.created_at, s.updated_at, s.anonymized, s.failures, s.series_unreadable, \
         s.item_ids, s.store_body, s.store_attendee_addresses, s.store_online_meeting, s.store_categories, \
         s.retention_days, s.room_list_id, s.removed_from_list_at, s.verified_at, s.drift_last, s.drift_total, \
         s.drift_streak, p.name AS profile_name"
    };
}
pub(super) use subscription_columns;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Subscription {
    pub id: i64,
    pub profile_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub source: SubscriptionSource,
    /// The mailbox's directory object id (what Graph is addressed with), once resolved.
    pub mailbox_id: Option<String>,
    pub mailbox_address: String,
    pub mailbox_name: String,
    pub calendar_id: String,
    pub calendar_name: String,
    pub display_name: String,
    pub days_back: i64,
    pub days_ahead: i64,
    pub interval_minutes: i64,
    pub enabled: bool,
    pub mask_private: bool,
    #[sqlx(try_from = "String")]
    pub status: SubscriptionStatus,
    pub last_error: Option<String>,
    /// Message key explaining `last_error`.
    pub error_hint: Option<String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub next_sync_at: Option<DateTime<Utc>>,
    pub event_count: i64,
    pub created_by: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Most upcoming subjects are empty or the organizer's name (room calendar processing).
    pub anonymized: bool,
    /// Failed runs in a row.
    pub failures: i64,
    /// Some occurrences are stored without their series' details: the account may not open
    /// the series (private items), so only their times are known.
    pub series_unreadable: bool,
    /// The form of the stored Graph ids; runs translate `Rest` once.
    #[sqlx(try_from = "String")]
    pub item_ids: ItemIds,
    pub store_body: bool,
    pub store_attendee_addresses: bool,
    pub store_online_meeting: bool,
    pub store_categories: bool,
    /// Events that ended more than this many days ago are deleted (a live subscription's
    /// window reaches no further back; kept events of a deleted one are pruned).
    pub retention_days: Option<i64>,
    /// The subscribed room list this room came from, if any.
    pub room_list_id: Option<i64>,
    /// When that list stopped naming the room: the subscription is paused since.
    pub removed_from_list_at: Option<DateTime<Utc>>,
    /// When the self-check last compared the stored rows with Graph's calendar view.
    pub verified_at: Option<DateTime<Utc>>,
    /// Rows that differed in that check (and were repaired), in all checks, and how many
    /// checks in a row found some.
    pub drift_last: i64,
    pub drift_total: i64,
    pub drift_streak: i64,
    pub profile_name: Option<String>,
}

impl Subscription {
    pub fn fields(&self) -> StoredFields {
        StoredFields {
            body: self.store_body,
            attendee_addresses: self.store_attendee_addresses,
            online_meeting: self.store_online_meeting,
            categories: self.store_categories,
        }
    }

    /// How many days back the import reads: the window, shortened by the retention rule.
    pub fn effective_days_back(&self) -> i64 {
        self.retention_days
            .map_or(self.days_back, |r| r.min(self.days_back))
    }

    pub fn settings(&self) -> SubscriptionSettings {
        SubscriptionSettings {
            display_name: self.display_name.clone(),
            days_back: self.days_back,
            days_ahead: self.days_ahead,
            interval_minutes: self.interval_minutes,
            enabled: self.enabled,
            mask_private: self.mask_private,
            fields: self.fields(),
            retention_days: self.retention_days,
        }
    }
}

/// What a new subscription is made of.
pub struct NewSubscription<'a> {
    pub profile_id: i64,
    pub source: SubscriptionSource,
    pub mailbox_id: Option<&'a str>,
    pub mailbox_address: &'a str,
    pub mailbox_name: &'a str,
    pub calendar_id: &'a str,
    pub calendar_name: &'a str,
    pub settings: &'a SubscriptionSettings,
    pub created_by: &'a str,
    /// Subscribed as a member of this subscribed room list.
    pub room_list_id: Option<i64>,
}

/// What an admin can change on a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSettings {
    pub display_name: String,
    pub days_back: i64,
    pub days_ahead: i64,
    pub interval_minutes: i64,
    pub enabled: bool,
    pub mask_private: bool,
    pub fields: StoredFields,
    pub retention_days: Option<i64>,
}

impl Db {
    /// Creates a subscription and its audit entry; `Duplicate` when the profile already
    /// subscribes the calendar (also when two admins try at the same moment: the unique index
    /// decides).
    pub async fn create_subscription(
        &self,
        n: &NewSubscription<'_>,
        audit: &AuditRecord,
    ) -> Result<i64> {
        let now = Utc::now();
        let sql = "INSERT INTO subscriptions (profile_id, source, mailbox_address, mailbox_name, calendar_id, \
                   calendar_name, display_name, days_back, days_ahead, interval_minutes, enabled, mask_private, \
                   next_sync_at, created_by, created_at, updated_at, status, mailbox_id, item_ids, \
                   store_body, store_attendee_addresses, store_online_meeting, store_categories, retention_days, \
                   room_list_id) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $13, $13, $15, $16, $17, \
                   $18, $19, $20, $21, $22, $23) RETURNING id";
        let s = n.settings;
        transaction!(self, tx => async {
            let id: i64 = sqlx::query_scalar(sql)
                .bind(n.profile_id).bind(n.source.as_str()).bind(n.mailbox_address).bind(n.mailbox_name)
                .bind(n.calendar_id).bind(n.calendar_name).bind(&s.display_name).bind(s.days_back)
                .bind(s.days_ahead).bind(s.interval_minutes).bind(s.enabled).bind(s.mask_private)
                .bind(now).bind(n.created_by).bind(SubscriptionStatus::New.as_str()).bind(n.mailbox_id)
                .bind(ItemIds::Immutable.as_str())
                .bind(s.fields.body).bind(s.fields.attendee_addresses).bind(s.fields.online_meeting)
                .bind(s.fields.categories).bind(s.retention_days).bind(n.room_list_id)
                .fetch_one(&mut *tx).await?;
            audit_in!(tx, audit);
            Ok(id)
        }.await)
    }

    /// The live subscription of a profile for a calendar, if any.
    pub async fn subscription_for_calendar(
        &self,
        profile_id: i64,
        calendar_id: &str,
    ) -> Result<Option<i64>> {
        let sql = "SELECT id FROM subscriptions WHERE profile_id = $1 AND calendar_id = $2 AND deleted_at IS NULL";
        let id = dispatch!(self, pool => {
            sqlx::query_scalar::<_, i64>(sql).bind(profile_id).bind(calendar_id).fetch_optional(pool).await?
        });
        Ok(id)
    }

    pub async fn list_subscriptions(&self, profile_id: Option<i64>) -> Result<Vec<Subscription>> {
        let sql = concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions s LEFT JOIN profiles p ON p.id = s.profile_id \
             WHERE s.deleted_at IS NULL AND ($1 IS NULL OR s.profile_id = $1) \
             ORDER BY lower(s.display_name), s.id"
        );
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, Subscription>(sql).bind(profile_id).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// The subscriptions whose self-check has ever found drift, most recent drift first.
    pub async fn drifting_subscriptions(&self) -> Result<Vec<Subscription>> {
        let sql = concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions s LEFT JOIN profiles p ON p.id = s.profile_id \
             WHERE s.deleted_at IS NULL AND s.drift_total > 0 ORDER BY s.drift_streak DESC, s.id"
        );
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, Subscription>(sql).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// The subscriptions that may need attention (failing, paused, anonymized, or not synced
    /// since `stale_before`), for the dashboard: at 2,000 rooms it must not read them all.
    /// A superset; the caller decides with its own rule.
    pub async fn attention_candidates(
        &self,
        stale_before: DateTime<Utc>,
    ) -> Result<Vec<Subscription>> {
        let sql = concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions s LEFT JOIN profiles p ON p.id = s.profile_id \
             WHERE s.deleted_at IS NULL AND s.enabled AND (s.status IN ('error', 'paused') OR s.anonymized \
             OR s.drift_streak > 0 OR COALESCE(s.last_sync_at, s.created_at) < $1) ORDER BY lower(s.display_name), s.id"
        );
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, Subscription>(sql).bind(stale_before).fetch_all(pool).await?
        });
        Ok(rows)
    }

    pub async fn count_live_subscriptions(&self) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM subscriptions WHERE deleted_at IS NULL";
        let n: i64 = dispatch!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?);
        Ok(n)
    }

    pub async fn subscription(&self, id: i64) -> Result<Subscription> {
        let sql = concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions s LEFT JOIN profiles p ON p.id = s.profile_id WHERE s.id = $1 AND s.deleted_at IS NULL"
        );
        let row = dispatch!(self, pool => {
            sqlx::query_as::<_, Subscription>(sql).bind(id).fetch_one(pool).await?
        });
        Ok(row)
    }

    pub async fn count_subscriptions(&self, profile_id: i64) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM subscriptions WHERE profile_id = $1 AND deleted_at IS NULL";
        let n: i64 = dispatch!(self, pool => sqlx::query_scalar(sql).bind(profile_id).fetch_one(pool).await?);
        Ok(n)
    }

    /// Live subscriptions per profile.
    pub async fn subscription_counts(&self) -> Result<std::collections::HashMap<i64, i64>> {
        let sql = "SELECT profile_id, COUNT(*) FROM subscriptions WHERE deleted_at IS NULL AND profile_id IS NOT NULL GROUP BY profile_id";
        let rows =
            dispatch!(self, pool => sqlx::query_as::<_, (i64, i64)>(sql).fetch_all(pool).await?);
        Ok(rows.into_iter().collect())
    }

    /// Saves changed settings if nobody changed the subscription since `version` was read.
    ///
    /// Changing "hide private events" or the stored fields applies to what is stored already,
    /// in the same transaction: what is turned off is removed from the rows at once (private
    /// rows lose their subject and details; bodies, meeting links, categories go; attendee
    /// addresses are cut to their domain). Either way the rows' change keys are forgotten and
    /// the next run is a full one, due now, so it rewrites them as the new settings say
    /// (turned back on: the details come back; a run under way with the old settings is
    /// corrected by it). A shorter retention moves the window, whose full round removes what
    /// is now outside it.
    pub async fn update_subscription(
        &self,
        id: i64,
        s: &SubscriptionSettings,
        version: i64,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let now = Utc::now();
        let updated = transaction!(self, tx => async {
            let before: Option<(bool, bool, bool, bool, bool)> = sqlx::query_as(
                "SELECT mask_private, store_body, store_attendee_addresses, store_online_meeting, store_categories \
                 FROM subscriptions WHERE id = $1 AND version = $2 AND deleted_at IS NULL",
            )
            .bind(id).bind(version).fetch_optional(&mut *tx).await?;
            let Some((masked_before, body, addresses, online, categories)) = before else {
                return Ok::<bool, StoreError>(false);
            };
            let fields_before = StoredFields { body, attendee_addresses: addresses, online_meeting: online, categories };
            sqlx::query(
                "UPDATE subscriptions SET display_name = $1, days_back = $2, days_ahead = $3, interval_minutes = $4, \
                 enabled = $5, mask_private = $6, store_body = $7, store_attendee_addresses = $8, \
                 store_online_meeting = $9, store_categories = $10, retention_days = $11, \
                 version = version + 1, updated_at = $12 WHERE id = $13",
            )
            .bind(&s.display_name).bind(s.days_back).bind(s.days_ahead).bind(s.interval_minutes)
            .bind(s.enabled).bind(s.mask_private).bind(s.fields.body).bind(s.fields.attendee_addresses)
            .bind(s.fields.online_meeting).bind(s.fields.categories).bind(s.retention_days)
            .bind(now).bind(id)
            .execute(&mut *tx).await?;
            if masked_before != s.mask_private {
                if s.mask_private {
                    // The same fields the import leaves out of a masked event (docs/database.md).
                    sqlx::query(
                        "UPDATE events SET subject = NULL, body_preview = NULL, attendees = NULL, \
                         categories = NULL, online_meeting_url = NULL, web_link = NULL \
                         WHERE subscription_id = $1 AND sensitivity IN ('private', 'confidential')",
                    )
                    .bind(id).execute(&mut *tx).await?;
                }
                sqlx::query(
                    "UPDATE events SET change_key = NULL \
                     WHERE subscription_id = $1 AND sensitivity IN ('private', 'confidential')",
                )
                .bind(id).execute(&mut *tx).await?;
            }
            let f = s.fields;
            if fields_before.body && !f.body {
                sqlx::query("UPDATE events SET body_preview = NULL WHERE subscription_id = $1 AND body_preview IS NOT NULL")
                    .bind(id).execute(&mut *tx).await?;
            }
            if fields_before.online_meeting && !f.online_meeting {
                sqlx::query("UPDATE events SET online_meeting_url = NULL WHERE subscription_id = $1 AND online_meeting_url IS NOT NULL")
                    .bind(id).execute(&mut *tx).await?;
            }
            if fields_before.categories && !f.categories {
                sqlx::query("UPDATE events SET categories = NULL WHERE subscription_id = $1 AND categories IS NOT NULL")
                    .bind(id).execute(&mut *tx).await?;
            }
            if fields_before.attendee_addresses && !f.attendee_addresses {
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT id, attendees FROM events WHERE subscription_id = $1 AND attendees IS NOT NULL",
                )
                .bind(id).fetch_all(&mut *tx).await?;
                for (event, attendees) in rows {
                    let reduced = reduce_addresses(&attendees, f)?;
                    if reduced != attendees {
                        sqlx::query("UPDATE events SET attendees = $1 WHERE id = $2")
                            .bind(reduced).bind(event).execute(&mut *tx).await?;
                    }
                }
            }
            if fields_before != f {
                sqlx::query("UPDATE events SET change_key = NULL WHERE subscription_id = $1")
                    .bind(id).execute(&mut *tx).await?;
            }
            if masked_before != s.mask_private || fields_before != f {
                sqlx::query(
                    "UPDATE subscriptions SET last_full_sync_at = NULL, next_sync_at = $1 WHERE id = $2",
                )
                .bind(now).bind(id).execute(&mut *tx).await?;
            }
            if let Some(audit) = audit {
                audit_in!(tx, audit);
            }
            Ok(true)
        }.await)?;
        if updated {
            return Ok(());
        }
        self.subscription(id).await?;
        Err(StoreError::Conflict)
    }

    /// Deletes the events of deleted subscriptions (kept when they were deleted) that ended
    /// before the day their retention reaches back to; returns how many.
    pub async fn prune_kept_events(&self, now: DateTime<Utc>) -> Result<u64> {
        let subs: Vec<(i64, i64)> = dispatch!(self, pool => {
            sqlx::query_as("SELECT id, retention_days FROM subscriptions WHERE deleted_at IS NOT NULL AND retention_days IS NOT NULL")
                .fetch_all(pool).await?
        });
        let mut n = 0;
        for (id, days) in subs {
            // Whole days, as the window of a live subscription counts them: what a live
            // subscription would still hold is kept.
            let day = now.date_naive() - chrono::Duration::days(days.clamp(0, 36_500));
            let cutoff = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
            n += dispatch!(self, pool => {
                sqlx::query("DELETE FROM events WHERE subscription_id = $1 AND end_utc < $2")
                    .bind(id).bind(cutoff).execute(pool).await?.rows_affected()
            });
        }
        Ok(n)
    }

    /// Records the mailbox's directory object id, resolved from its address.
    pub async fn set_mailbox_id(&self, id: i64, mailbox_id: &str) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("UPDATE subscriptions SET mailbox_id = $1 WHERE id = $2")
                .bind(mailbox_id).bind(id).execute(pool).await?;
        });
        Ok(())
    }

    /// Pauses or resumes a subscription, with its audit entry.
    pub async fn set_subscription_enabled(
        &self,
        id: i64,
        enabled: bool,
        audit: &AuditRecord,
    ) -> Result<()> {
        let sql = "UPDATE subscriptions SET enabled = $1, version = version + 1, updated_at = $2 \
                   WHERE id = $3 AND deleted_at IS NULL";
        transaction!(self, tx => async {
            let n = sqlx::query(sql).bind(enabled).bind(Utc::now()).bind(id).execute(&mut *tx).await?.rows_affected();
            if n != 1 {
                return Err(StoreError::NotFound);
            }
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }

    /// Deletes a subscription. Keeping the events leaves the row (marked deleted) for them to
    /// refer to; otherwise the row goes, and its events with it.
    pub async fn delete_subscription(
        &self,
        id: i64,
        keep_events: bool,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        transaction!(self, tx => async {
            let n = if keep_events {
                sqlx::query("UPDATE subscriptions SET deleted_at = $1, enabled = FALSE WHERE id = $2 AND deleted_at IS NULL")
                    .bind(Utc::now()).bind(id).execute(&mut *tx).await?.rows_affected()
            } else {
                sqlx::query("DELETE FROM subscriptions WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected()
            };
            if n != 1 {
                return Err(StoreError::NotFound);
            }
            if let Some(audit) = audit {
                audit_in!(tx, audit);
            }
            Ok(())
        }.await)
    }
}

impl Db {
    /// Sets (a new token's hash) or removes the subscription's ICS feed, with its audit entry.
    pub async fn set_feed_token(
        &self,
        id: i64,
        token_hash: Option<&str>,
        audit: &AuditRecord,
    ) -> Result<()> {
        let created = token_hash.map(|_| Utc::now());
        transaction!(self, tx => async {
            let n = sqlx::query("UPDATE subscriptions SET feed_token_hash = $1, feed_created_at = $2 WHERE id = $3 AND deleted_at IS NULL")
                .bind(token_hash).bind(created).bind(id).execute(&mut *tx).await?.rows_affected();
            if n != 1 {
                return Err(StoreError::NotFound);
            }
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }

    /// Since when the subscription has a feed link, if it has one.
    pub async fn feed_created_at(&self, id: i64) -> Result<Option<DateTime<Utc>>> {
        let t: Option<DateTime<Utc>> = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT feed_created_at FROM subscriptions WHERE id = $1")
                .bind(id).fetch_optional(pool).await?.flatten()
        });
        Ok(t)
    }

    /// The live subscription whose feed token hashes to `token_hash`.
    pub async fn subscription_by_feed(&self, token_hash: &str) -> Result<Option<i64>> {
        let id: Option<i64> = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT id FROM subscriptions WHERE feed_token_hash = $1 AND deleted_at IS NULL")
                .bind(token_hash).fetch_optional(pool).await?
        });
        Ok(id)
    }
}

/// A stored attendee list (JSON array of objects) with addresses (and names that are
/// addresses) as `fields` say.
fn reduce_addresses(attendees: &str, fields: StoredFields) -> Result<String> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("events.attendees: {e}"));
    let mut list: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(attendees).map_err(corrupt)?;
    for a in &mut list {
        // Rooms and equipment are no one's personal data: their addresses stay.
        if a.get("type").and_then(|t| t.as_str()) == Some("resource") {
            continue;
        }
        if let Some(serde_json::Value::String(address)) = a.get("address") {
            let reduced = fields.address(address);
            a.insert("address".into(), serde_json::Value::String(reduced));
        }
        if let Some(serde_json::Value::String(name)) = a.get("name") {
            let reduced = fields.name(name);
            a.insert("name".into(), serde_json::Value::String(reduced));
        }
    }
    serde_json::to_string(&list).map_err(corrupt)
}

//! Subscribed room lists: a list of one profile whose rooms are kept subscribed, and the
//! membership of its rooms' subscriptions.

use chrono::{DateTime, Utc};

use super::audit::AuditRecord;
use super::{Db, Result};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoomListSubscription {
    pub id: i64,
    pub profile_id: i64,
    pub list_address: String,
    pub list_name: String,
    pub days_back: i64,
    pub days_ahead: i64,
    pub interval_minutes: i64,
    pub mask_private: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub checked_at: Option<DateTime<Utc>>,
    pub next_check_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// What a new subscribed room list takes.
pub struct NewRoomList<'a> {
    pub profile_id: i64,
    pub list_address: &'a str,
    pub list_name: &'a str,
    pub days_back: i64,
    pub days_ahead: i64,
    pub interval_minutes: i64,
    pub mask_private: bool,
    pub created_by: &'a str,
}

macro_rules! columns {
    () => {
        "SELECT id, profile_id, list_address, list_name, days_back, days_ahead, interval_minutes, \
         mask_private, created_by, created_at, checked_at, next_check_at, last_error \
         FROM room_list_subscriptions"
    };
}

impl Db {
    /// `Duplicate` when the profile has subscribed this list already.
    pub async fn create_room_list(&self, n: &NewRoomList<'_>, audit: &AuditRecord) -> Result<i64> {
        let now = Utc::now();
        transaction!(self, tx => async {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO room_list_subscriptions (profile_id, list_address, list_name, days_back, \
                 days_ahead, interval_minutes, mask_private, created_by, created_at, next_check_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
            )
            .bind(n.profile_id).bind(n.list_address.to_lowercase()).bind(n.list_name).bind(n.days_back)
            .bind(n.days_ahead).bind(n.interval_minutes).bind(n.mask_private).bind(n.created_by).bind(now)
            .fetch_one(&mut *tx).await?;
            audit_in!(tx, audit);
            Ok(id)
        }.await)
    }

    pub async fn room_lists_subscribed(&self) -> Result<Vec<RoomListSubscription>> {
        let sql = concat!(columns!(), " ORDER BY lower(list_name), id");
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, RoomListSubscription>(sql).fetch_all(pool).await?
        });
        Ok(rows)
    }

    pub async fn room_list_subscribed(&self, id: i64) -> Result<RoomListSubscription> {
        let sql = concat!(columns!(), " WHERE id = $1");
        let row = dispatch!(self, pool => {
            sqlx::query_as::<_, RoomListSubscription>(sql).bind(id).fetch_one(pool).await?
        });
        Ok(row)
    }

    /// Takes the lists due for a check, moving their next check to `next`: of several
    /// instances, only the one whose update matched checks a list.
    pub async fn claim_due_room_lists(
        &self,
        now: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> Result<Vec<i64>> {
        let due: Vec<i64> = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT id FROM room_list_subscriptions WHERE next_check_at <= $1 ORDER BY next_check_at")
                .bind(now).fetch_all(pool).await?
        });
        let mut claimed = Vec::new();
        for id in due {
            let n = dispatch!(self, pool => {
                sqlx::query("UPDATE room_list_subscriptions SET next_check_at = $1 WHERE id = $2 AND next_check_at <= $3")
                    .bind(next).bind(id).bind(now).execute(pool).await?.rows_affected()
            });
            if n == 1 {
                claimed.push(id);
            }
        }
        Ok(claimed)
    }

    /// Records a check: when, what failed (`None`: the list was read), and when the next is.
    pub async fn room_list_checked(
        &self,
        id: i64,
        error: Option<&str>,
        next: DateTime<Utc>,
    ) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("UPDATE room_list_subscriptions SET checked_at = $1, last_error = $2, next_check_at = $3 WHERE id = $4")
                .bind(Utc::now()).bind(error).bind(next).bind(id).execute(pool).await?;
        });
        Ok(())
    }

    /// Deletes a subscribed list; its rooms' subscriptions stay, no longer tied to it.
    pub async fn delete_room_list(&self, id: i64, audit: &AuditRecord) -> Result<()> {
        transaction!(self, tx => async {
            sqlx::query("UPDATE subscriptions SET room_list_id = NULL, removed_from_list_at = NULL WHERE room_list_id = $1")
                .bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM room_list_subscriptions WHERE id = $1").bind(id).execute(&mut *tx).await?;
            audit_in!(tx, audit);
            Ok::<(), super::StoreError>(())
        }.await)?;
        Ok(())
    }

    /// Ties a subscription to a list (as a member it has now).
    pub async fn attach_to_room_list(
        &self,
        subscription: i64,
        list: i64,
        audit: &AuditRecord,
    ) -> Result<()> {
        transaction!(self, tx => async {
            sqlx::query("UPDATE subscriptions SET room_list_id = $1, removed_from_list_at = NULL, updated_at = $2, \
                         version = version + 1 WHERE id = $3")
                .bind(list).bind(Utc::now()).bind(subscription).execute(&mut *tx).await?;
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }

    /// The list no longer names the room: its subscription pauses (its events stay).
    pub async fn removed_from_room_list(
        &self,
        subscription: i64,
        audit: &AuditRecord,
    ) -> Result<()> {
        let now = Utc::now();
        transaction!(self, tx => async {
            sqlx::query("UPDATE subscriptions SET enabled = FALSE, removed_from_list_at = $1, updated_at = $1, \
                         version = version + 1 WHERE id = $2 AND removed_from_list_at IS NULL")
                .bind(now).bind(subscription).execute(&mut *tx).await?;
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }

    /// The room is back in its list: its subscription resumes.
    pub async fn back_in_room_list(&self, subscription: i64, audit: &AuditRecord) -> Result<()> {
        let now = Utc::now();
        transaction!(self, tx => async {
            sqlx::query("UPDATE subscriptions SET enabled = TRUE, removed_from_list_at = NULL, next_sync_at = $1, \
                         updated_at = $1, version = version + 1 WHERE id = $2 AND removed_from_list_at IS NOT NULL")
                .bind(now).bind(subscription).execute(&mut *tx).await?;
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }
}

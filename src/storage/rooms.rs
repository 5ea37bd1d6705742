//! Rooms' reception data (building, floor, capacity, address) beside their subscriptions.

use chrono::{DateTime, Utc};

use super::audit::AuditRecord;
use super::{Db, Result, StoreError};
use crate::model::RoomSource;

/// What is known of a room.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomDetails {
    pub display_name: Option<String>,
    pub building: Option<String>,
    pub room_list: Option<String>,
    pub floor_number: Option<i64>,
    pub floor_label: Option<String>,
    pub capacity: Option<i64>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Room {
    pub subscription_id: i64,
    #[sqlx(try_from = "String")]
    pub source: RoomSource,
    pub display_name: Option<String>,
    pub building: Option<String>,
    pub room_list: Option<String>,
    pub floor_number: Option<i64>,
    pub floor_label: Option<String>,
    pub capacity: Option<i64>,
    pub address: Option<String>,
    pub directory_id: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<String>,
}

impl Room {
    pub fn details(&self) -> RoomDetails {
        RoomDetails {
            display_name: self.display_name.clone(),
            building: self.building.clone(),
            room_list: self.room_list.clone(),
            floor_number: self.floor_number,
            floor_label: self.floor_label.clone(),
            capacity: self.capacity,
            address: self.address.clone(),
        }
    }
}

const COLUMNS: &str = "subscription_id, source, display_name, building, room_list, floor_number, \
                       floor_label, capacity, address, directory_id, updated_at, updated_by";

impl Db {
    /// Every room with data, by subscription.
    pub async fn list_rooms(&self) -> Result<Vec<Room>> {
        let sql = format!("SELECT {COLUMNS} FROM rooms ORDER BY subscription_id");
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, Room>(sqlx::AssertSqlSafe(sql.clone())).fetch_all(pool).await?
        });
        Ok(rows)
    }

    pub async fn room(&self, subscription_id: i64) -> Result<Option<Room>> {
        let sql = format!("SELECT {COLUMNS} FROM rooms WHERE subscription_id = $1");
        let row = dispatch!(self, pool => {
            sqlx::query_as::<_, Room>(sqlx::AssertSqlSafe(sql.clone()))
                .bind(subscription_id).fetch_optional(pool).await?
        });
        Ok(row)
    }

    /// An admin's entry for a live subscription; from now on the directory leaves it alone.
    pub async fn set_room_by_admin(
        &self,
        subscription_id: i64,
        d: &RoomDetails,
        admin: &str,
        audit: &AuditRecord,
    ) -> Result<()> {
        self.upsert_room(
            subscription_id,
            RoomSource::Admin,
            d,
            None,
            Some((admin, audit)),
            true,
        )
        .await
        .map(|_| ())
    }

    /// The directory's data for a room; not applied where an admin entered the data. Returns
    /// whether the row changed.
    pub async fn set_room_from_directory(
        &self,
        subscription_id: i64,
        d: &RoomDetails,
        directory_id: Option<&str>,
    ) -> Result<bool> {
        self.upsert_room(
            subscription_id,
            RoomSource::Directory,
            d,
            directory_id,
            None,
            false,
        )
        .await
    }

    async fn upsert_room(
        &self,
        subscription_id: i64,
        source: RoomSource,
        d: &RoomDetails,
        directory_id: Option<&str>,
        // The admin who entered the data, with the change's audit entry.
        by: Option<(&str, &AuditRecord)>,
        over_admin: bool,
    ) -> Result<bool> {
        let now = Utc::now();
        transaction!(self, tx => async {
            let live: Option<i64> = sqlx::query_scalar("SELECT id FROM subscriptions WHERE id = $1 AND deleted_at IS NULL")
                .bind(subscription_id).fetch_optional(&mut *tx).await?;
            if live.is_none() {
                return Err(StoreError::NotFound);
            }
            let sql = format!("SELECT {COLUMNS} FROM rooms WHERE subscription_id = $1");
            let current: Option<Room> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(subscription_id).fetch_optional(&mut *tx).await?;
            if let Some(c) = &current {
                if c.source == RoomSource::Admin && !over_admin {
                    return Ok(false);
                }
                if c.source == source && c.details() == *d && c.directory_id.as_deref() == directory_id {
                    return Ok(false);
                }
            }
            sqlx::query(
                "INSERT INTO rooms (subscription_id, source, display_name, building, floor_number, floor_label, \
                 capacity, address, directory_id, updated_at, updated_by, room_list) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (subscription_id) DO UPDATE SET source = excluded.source, \
                 display_name = excluded.display_name, building = excluded.building, \
                 room_list = excluded.room_list, \
                 floor_number = excluded.floor_number, floor_label = excluded.floor_label, \
                 capacity = excluded.capacity, address = excluded.address, \
                 directory_id = excluded.directory_id, updated_at = excluded.updated_at, \
                 updated_by = excluded.updated_by",
            )
            .bind(subscription_id).bind(source.as_str()).bind(&d.display_name).bind(&d.building)
            .bind(d.floor_number).bind(&d.floor_label).bind(d.capacity).bind(&d.address)
            .bind(directory_id).bind(now).bind(by.map(|b| b.0)).bind(&d.room_list)
            .execute(&mut *tx).await?;
            if let Some((_, audit)) = by {
                audit_in!(tx, audit);
            }
            Ok(true)
        }.await)
    }

    /// Hands a room back to the directory: the admin's entry goes, the next refresh fills it.
    pub async fn reset_room(&self, subscription_id: i64, audit: &AuditRecord) -> Result<()> {
        transaction!(self, tx => async {
            sqlx::query("DELETE FROM rooms WHERE subscription_id = $1")
                .bind(subscription_id).execute(&mut *tx).await?;
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }
}

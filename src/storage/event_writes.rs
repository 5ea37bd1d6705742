//! The row-level writes of one sync page, per backend. PostgreSQL binds each column as one array
//! (`UNNEST`, `= ANY`): one prepared statement whatever the page size, parsed once per connection
//! instead of a 5,000-parameter `VALUES` list per page. SQLite runs in-process, where multi-row
//! `VALUES` in chunks under its bind limit is the cheap way.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, SqliteConnection};

use super::Result;
use super::event_row::{EventRow, INSERT, ON_CONFLICT, PG_UPSERT};

/// What is stored of an event already: its change key and the generation that last saw it.
pub(super) type Existing = HashMap<String, (Option<String>, i64)>;

/// The writes `apply_pages` needs, inside its transaction.
pub(super) trait EventWrites {
    /// Change key and generation of those of `ids` that are stored.
    async fn existing(&mut self, subscription: i64, ids: &[&str]) -> Result<Existing>;
    /// Inserts or replaces `rows` (unique by Graph id), stamped with `generation`.
    async fn upsert(
        &mut self,
        subscription: i64,
        rows: &[&EventRow],
        now: DateTime<Utc>,
        generation: i64,
    ) -> Result<()>;
    /// Marks unchanged rows as seen by `generation`.
    async fn touch(&mut self, subscription: i64, ids: &[&str], generation: i64) -> Result<()>;
    /// Deletes `ids`; unknown ones are a no-op. Returns how many rows went.
    async fn remove(&mut self, subscription: i64, ids: &[&str]) -> Result<u64>;
    /// The stored rows (Graph id, series master id) of the series `masters`.
    async fn series_rows(
        &mut self,
        subscription: i64,
        masters: &[&str],
    ) -> Result<Vec<(String, String)>>;
}

/// What `existing` reads, as `ExistingRow`s.
macro_rules! select_existing {
    () => {
        "SELECT graph_id, change_key, sync_generation FROM events"
    };
}
type ExistingRow = (String, Option<String>, i64);

fn into_existing(rows: Vec<ExistingRow>) -> impl Iterator<Item = (String, (Option<String>, i64))> {
    rows.into_iter().map(|(id, ck, g)| (id, (ck, g)))
}

impl EventWrites for PgConnection {
    async fn existing(&mut self, subscription: i64, ids: &[&str]) -> Result<Existing> {
        let rows: Vec<ExistingRow> = sqlx::query_as(concat!(
            select_existing!(),
            " WHERE subscription_id = $1 AND graph_id = ANY($2)"
        ))
        .bind(subscription)
        .bind(ids)
        .fetch_all(&mut *self)
        .await?;
        Ok(into_existing(rows).collect())
    }

    async fn upsert(
        &mut self,
        subscription: i64,
        rows: &[&EventRow],
        now: DateTime<Utc>,
        generation: i64,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let q = sqlx::query(PG_UPSERT.as_str()).bind(subscription);
        EventRow::bind_arrays(q, rows)
            .bind(now)
            .bind(generation)
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    async fn touch(&mut self, subscription: i64, ids: &[&str], generation: i64) -> Result<()> {
        if !ids.is_empty() {
            sqlx::query("UPDATE events SET sync_generation = $1 WHERE subscription_id = $2 AND graph_id = ANY($3)")
                .bind(generation)
                .bind(subscription)
                .bind(ids)
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn remove(&mut self, subscription: i64, ids: &[&str]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let done =
            sqlx::query("DELETE FROM events WHERE subscription_id = $1 AND graph_id = ANY($2)")
                .bind(subscription)
                .bind(ids)
                .execute(&mut *self)
                .await?;
        Ok(done.rows_affected())
    }

    async fn series_rows(
        &mut self,
        subscription: i64,
        masters: &[&str],
    ) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query_as(
            "SELECT graph_id, series_master_id FROM events WHERE subscription_id = $1 AND series_master_id = ANY($2)",
        )
        .bind(subscription)
        .bind(masters)
        .fetch_all(&mut *self)
        .await?;
        Ok(rows)
    }
}

/// SQLite's default bind limit is 32,766; 200 rows × 33 columns and 500 ids stay well under it.
const SQLITE_ROWS: usize = 200;
const SQLITE_IDS: usize = 500;

/// Appends `WHERE subscription_id = ? AND graph_id IN (…)` over one chunk of ids.
fn where_ids(q: &mut sqlx::QueryBuilder<sqlx::Sqlite>, subscription: i64, ids: &[&str]) {
    q.push(" WHERE subscription_id = ");
    q.push_bind(subscription);
    q.push(" AND graph_id IN (");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    list.push_unseparated(")");
}

impl EventWrites for SqliteConnection {
    async fn existing(&mut self, subscription: i64, ids: &[&str]) -> Result<Existing> {
        let mut existing = Existing::new();
        for chunk in ids.chunks(SQLITE_IDS) {
            let mut q = sqlx::QueryBuilder::new(select_existing!());
            where_ids(&mut q, subscription, chunk);
            let rows: Vec<ExistingRow> = q.build_query_as().fetch_all(&mut *self).await?;
            existing.extend(into_existing(rows));
        }
        Ok(existing)
    }

    async fn upsert(
        &mut self,
        subscription: i64,
        rows: &[&EventRow],
        now: DateTime<Utc>,
        generation: i64,
    ) -> Result<()> {
        for chunk in rows.chunks(SQLITE_ROWS) {
            let mut q = sqlx::QueryBuilder::new(INSERT.as_str());
            q.push_values(chunk, |mut b, e| {
                b.push_bind(subscription);
                e.push_values(&mut b);
                b.push_bind(now).push_bind(now).push_bind(generation);
            });
            q.push(ON_CONFLICT.as_str());
            q.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn touch(&mut self, subscription: i64, ids: &[&str], generation: i64) -> Result<()> {
        for chunk in ids.chunks(SQLITE_IDS) {
            let mut q = sqlx::QueryBuilder::new("UPDATE events SET sync_generation = ");
            q.push_bind(generation);
            where_ids(&mut q, subscription, chunk);
            q.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn remove(&mut self, subscription: i64, ids: &[&str]) -> Result<u64> {
        let mut n = 0;
        for chunk in ids.chunks(SQLITE_IDS) {
            let mut q = sqlx::QueryBuilder::new("DELETE FROM events");
            where_ids(&mut q, subscription, chunk);
            n += q.build().execute(&mut *self).await?.rows_affected();
        }
        Ok(n)
    }

    async fn series_rows(
        &mut self,
        subscription: i64,
        masters: &[&str],
    ) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for chunk in masters.chunks(SQLITE_IDS) {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT graph_id, series_master_id FROM events WHERE subscription_id = ",
            );
            q.push_bind(subscription);
            q.push(" AND series_master_id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            list.push_unseparated(")");
            let rows: Vec<(String, String)> = q.build_query_as().fetch_all(&mut *self).await?;
            out.extend(rows);
        }
        Ok(out)
    }
}

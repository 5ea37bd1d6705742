//! The row-level writes of one sync page, per backend. PostgreSQL binds each column as one array
//! (`UNNEST`, `= ANY`): one prepared statement whatever the page size, parsed once per connection
//! instead of a 5,000-parameter `VALUES` list per page. SQLite runs in-process, where multi-row
//! `VALUES` in chunks under its bind limit is the cheap way.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, SqliteConnection};

use super::Result;
use super::sync::EventRow;

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

/// The upsert's column list (a macro, so `concat!` can build whole statements from it).
macro_rules! insert_columns {
    () => {
        "INSERT INTO events (subscription_id, graph_id, ical_uid, series_master_id, event_type, subject, \
         organizer_name, organizer_address, start_utc, end_utc, time_zone, is_all_day, start_date, end_date, \
         is_cancelled, sensitivity, show_as, location, locations, attendees, body_preview, web_link, \
         online_meeting_url, categories, last_modified, change_key, start_local, end_local, local_date, \
         first_imported_at, updated_at, sync_generation) "
    };
}

/// The upsert's conflict clause: everything Graph sends is replaced, `first_imported_at` stays.
macro_rules! on_conflict {
    () => {
        " ON CONFLICT (subscription_id, graph_id) DO UPDATE SET ical_uid = excluded.ical_uid, \
         series_master_id = excluded.series_master_id, event_type = excluded.event_type, subject = excluded.subject, \
         organizer_name = excluded.organizer_name, organizer_address = excluded.organizer_address, \
         start_utc = excluded.start_utc, end_utc = excluded.end_utc, time_zone = excluded.time_zone, \
         is_all_day = excluded.is_all_day, start_date = excluded.start_date, end_date = excluded.end_date, \
         is_cancelled = excluded.is_cancelled, sensitivity = excluded.sensitivity, show_as = excluded.show_as, \
         location = excluded.location, locations = excluded.locations, attendees = excluded.attendees, \
         body_preview = excluded.body_preview, web_link = excluded.web_link, \
         online_meeting_url = excluded.online_meeting_url, categories = excluded.categories, \
         last_modified = excluded.last_modified, change_key = excluded.change_key, \
         start_local = excluded.start_local, end_local = excluded.end_local, local_date = excluded.local_date, \
         updated_at = excluded.updated_at, sync_generation = excluded.sync_generation"
    };
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
        fn text<'a>(
            rows: &[&'a EventRow],
            f: impl Fn(&'a EventRow) -> &'a Option<String>,
        ) -> Vec<Option<&'a str>> {
            rows.iter().map(|e| f(e).as_deref()).collect()
        }
        let sql = concat!(
            insert_columns!(),
            "SELECT $1, t.*, $30, $30, $31 FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::text[], $12::bool[], $13::date[], \
             $14::date[], $15::bool[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], \
             $22::text[], $23::text[], $24::text[], $25::timestamptz[], $26::text[], $27::timestamp[], \
             $28::timestamp[], $29::date[]) AS t",
            on_conflict!()
        );
        sqlx::query(sql)
            .bind(subscription)
            .bind(rows.iter().map(|e| e.graph_id.as_str()).collect::<Vec<_>>())
            .bind(text(rows, |e| &e.ical_uid))
            .bind(text(rows, |e| &e.series_master_id))
            .bind(
                rows.iter()
                    .map(|e| e.event_type.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(text(rows, |e| &e.subject))
            .bind(text(rows, |e| &e.organizer_name))
            .bind(text(rows, |e| &e.organizer_address))
            .bind(rows.iter().map(|e| e.start_utc).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.end_utc).collect::<Vec<_>>())
            .bind(text(rows, |e| &e.time_zone))
            .bind(rows.iter().map(|e| e.is_all_day).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.start_date).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.end_date).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.is_cancelled).collect::<Vec<_>>())
            .bind(text(rows, |e| &e.sensitivity))
            .bind(text(rows, |e| &e.show_as))
            .bind(text(rows, |e| &e.location))
            .bind(text(rows, |e| &e.locations))
            .bind(text(rows, |e| &e.attendees))
            .bind(text(rows, |e| &e.body_preview))
            .bind(text(rows, |e| &e.web_link))
            .bind(text(rows, |e| &e.online_meeting_url))
            .bind(text(rows, |e| &e.categories))
            .bind(rows.iter().map(|e| e.last_modified).collect::<Vec<_>>())
            .bind(text(rows, |e| &e.change_key))
            .bind(rows.iter().map(|e| e.start_local).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.end_local).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.local_date).collect::<Vec<_>>())
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

/// SQLite's default bind limit is 32,766; 200 rows × 32 columns and 500 ids stay well under it.
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
            let mut q = sqlx::QueryBuilder::new(insert_columns!());
            q.push_values(chunk, |mut b, e| {
                b.push_bind(subscription)
                    .push_bind(&e.graph_id)
                    .push_bind(&e.ical_uid)
                    .push_bind(&e.series_master_id)
                    .push_bind(&e.event_type)
                    .push_bind(&e.subject)
                    .push_bind(&e.organizer_name)
                    .push_bind(&e.organizer_address)
                    .push_bind(e.start_utc)
                    .push_bind(e.end_utc)
                    .push_bind(&e.time_zone)
                    .push_bind(e.is_all_day)
                    .push_bind(e.start_date)
                    .push_bind(e.end_date)
                    .push_bind(e.is_cancelled)
                    .push_bind(&e.sensitivity)
                    .push_bind(&e.show_as)
                    .push_bind(&e.location)
                    .push_bind(&e.locations)
                    .push_bind(&e.attendees)
                    .push_bind(&e.body_preview)
                    .push_bind(&e.web_link)
                    .push_bind(&e.online_meeting_url)
                    .push_bind(&e.categories)
                    .push_bind(e.last_modified)
                    .push_bind(&e.change_key)
                    .push_bind(e.start_local)
                    .push_bind(e.end_local)
                    .push_bind(e.local_date)
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(generation);
            });
            q.push(on_conflict!());
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

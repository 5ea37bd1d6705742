//! What the read-only API reads: a room's events in a time range, a day's expected visitors.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;

use super::sync::EventRow;
use super::{Db, Result};

/// An event with Datapump's row id (what the change feed's `event_id` refers to).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    pub id: i64,
    #[sqlx(flatten)]
    pub row: EventRow,
}

/// One row of the `expected_visitors` view.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Visitor {
    pub subscription_id: i64,
    pub room_name: String,
    pub room_address: String,
    pub start_local: Option<NaiveDateTime>,
    pub end_local: Option<NaiveDateTime>,
    pub start_utc: DateTime<Utc>,
    pub end_utc: DateTime<Utc>,
    pub host_name: Option<String>,
    pub host_address: Option<String>,
    pub visitor_name: Option<String>,
    pub visitor_address: Option<String>,
    pub company_domain: Option<String>,
    pub company: Option<String>,
    pub response: Option<String>,
    pub subject: Option<String>,
    pub is_private: bool,
    pub event_id: i64,
}

/// An event as the subscription's page lists it: the stored row (what readers get) and how
/// many of its attendees are visitors.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedEvent {
    #[sqlx(flatten)]
    pub event: StoredEvent,
    pub visitors: i64,
}

/// Where a page of events ends: the last event's start and id (the sort order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventKey {
    pub start_utc: DateTime<Utc>,
    pub id: i64,
}

impl Db {
    /// Events of a subscription that overlap `[from, to)`, in start order, at most `limit`,
    /// after `after` when given.
    pub async fn events_between(
        &self,
        subscription_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
        after: Option<EventKey>,
    ) -> Result<Vec<StoredEvent>> {
        // Keyset paging: a page starts after the last (start, id) of the one before, so events
        // written between two requests neither shift a page (as an offset would) nor repeat.
        static FIRST: LazyLock<String> = LazyLock::new(|| select(""));
        static NEXT: LazyLock<String> = LazyLock::new(|| select(" AND (start_utc, id) > ($5, $6)"));
        fn select(tail: &str) -> String {
            format!(
                "SELECT id, {} FROM events WHERE subscription_id = $1 AND start_utc < $2 AND end_utc > $3{tail} \
                 ORDER BY start_utc, id LIMIT $4",
                super::event_row::select_list("")
            )
        }
        let rows = match after {
            None => dispatch!(self, pool => {
                sqlx::query_as::<_, StoredEvent>(FIRST.as_str())
                    .bind(subscription_id).bind(to).bind(from).bind(limit)
                    .fetch_all(pool).await?
            }),
            Some(key) => dispatch!(self, pool => {
                sqlx::query_as::<_, StoredEvent>(NEXT.as_str())
                    .bind(subscription_id).bind(to).bind(from).bind(limit)
                    .bind(key.start_utc).bind(key.id)
                    .fetch_all(pool).await?
            }),
        };
        Ok(rows)
    }

    /// A subscription's events overlapping `[from, to)` in start order, at most `limit`; with
    /// `text`, only those whose subject, organizer, location or an attendee contains it
    /// (case-insensitive; SQLite folds ASCII letters only).
    pub async fn find_events(
        &self,
        subscription_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        text: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ListedEvent>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT e.id, {}, \
                 (SELECT COUNT(*) FROM event_attendees a WHERE a.event_id = e.id AND a.kind = 'external') AS visitors \
                 FROM events e WHERE e.subscription_id = $1 AND e.start_utc < $2 AND e.end_utc > $3 \
                 AND (CAST($4 AS TEXT) IS NULL OR lower(e.subject) LIKE $4 ESCAPE '\\' \
                 OR lower(e.organizer_name) LIKE $4 ESCAPE '\\' OR lower(e.organizer_address) LIKE $4 ESCAPE '\\' \
                 OR lower(e.location) LIKE $4 ESCAPE '\\' OR EXISTS (SELECT 1 FROM event_attendees a \
                 WHERE a.event_id = e.id AND (lower(a.name) LIKE $4 ESCAPE '\\' OR lower(a.address) LIKE $4 ESCAPE '\\'))) \
                 ORDER BY e.start_utc, e.id LIMIT $5",
                super::event_row::select_list("e.")
            )
        });
        let sql = SQL.as_str();
        let pattern = text.and_then(super::like_pattern);
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, ListedEvent>(sql)
                .bind(subscription_id).bind(to).bind(from).bind(&pattern).bind(limit)
                .fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// The visitors expected on a local day, in start order.
    pub async fn visitors_on(&self, day: NaiveDate) -> Result<Vec<Visitor>> {
        let sql = "SELECT subscription_id, room_name, room_address, start_local, end_local, start_utc, end_utc, \
                   host_name, host_address, visitor_name, visitor_address, company_domain, company, response, \
                   subject, is_private, event_id FROM expected_visitors WHERE local_date = $1 \
                   ORDER BY start_utc, event_id, visitor_address";
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, Visitor>(sql).bind(day).fetch_all(pool).await?
        });
        Ok(rows)
    }
}

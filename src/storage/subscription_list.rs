//! The subscriptions list at enterprise size: filtered, sorted, paged in SQL, and bulk
//! changes applied to many subscriptions in one transaction.

use chrono::Utc;
use serde::Deserialize;

use super::audit::AuditRecord;
use super::subscriptions::{Subscription, subscription_columns};
use super::{Db, Result};

/// Which subscriptions the list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateFilter {
    #[default]
    All,
    /// Enabled and not failing.
    Active,
    /// Paused by an admin.
    Paused,
    /// Enabled, but the latest run failed or its profile needs an admin.
    Failing,
    /// Never imported yet.
    New,
}

impl StateFilter {
    pub const ALL: [Self; 5] = [
        Self::All,
        Self::Active,
        Self::Paused,
        Self::Failing,
        Self::New,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Failing => "failing",
            Self::New => "new",
        }
    }

    /// A condition on `s` (no parameters: the statuses are constants of the schema).
    fn sql(self) -> &'static str {
        match self {
            Self::All => "TRUE",
            Self::Active => "s.enabled AND s.status IN ('ok', 'new', 'interrupted')",
            Self::Paused => "NOT s.enabled",
            Self::Failing => "s.enabled AND s.status IN ('error', 'paused')",
            Self::New => "s.status = 'new'",
        }
    }
}

/// The list's sort column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    #[default]
    Name,
    Mailbox,
    Profile,
    Status,
    LastSync,
    NextSync,
    Events,
}

impl SortKey {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Mailbox => "mailbox",
            Self::Profile => "profile",
            Self::Status => "status",
            Self::LastSync => "last_sync",
            Self::NextSync => "next_sync",
            Self::Events => "events",
        }
    }

    /// The ORDER BY expression; missing values sort last in both directions and on both
    /// databases (SQLite puts NULL first, PostgreSQL last).
    fn sql(self, descending: bool) -> String {
        let dir = if descending { "DESC" } else { "ASC" };
        let (nulls, expr) = match self {
            Self::Name => (None, "lower(s.display_name)"),
            Self::Mailbox => (None, "lower(s.mailbox_address)"),
            Self::Profile => (Some("p.name IS NULL"), "lower(p.name)"),
            Self::Status => (None, "s.enabled DESC, s.status"),
            Self::LastSync => (Some("s.last_sync_at IS NULL"), "s.last_sync_at"),
            Self::NextSync => (Some("s.next_sync_at IS NULL"), "s.next_sync_at"),
            Self::Events => (None, "s.event_count"),
        };
        let nulls = nulls.map(|n| format!("{n}, ")).unwrap_or_default();
        format!("{nulls}{expr} {dir}, s.id {dir}")
    }
}

/// A page of the list, or (without `limit`) everything the filter matches.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub profile: Option<i64>,
    pub state: StateFilter,
    /// Part of the display name, mailbox address, calendar name or profile name.
    pub text: Option<String>,
    pub sort: SortKey,
    pub descending: bool,
    pub offset: i64,
    pub limit: Option<i64>,
}

impl ListQuery {
    fn pattern(&self) -> Option<String> {
        super::like_pattern(self.text.as_deref()?)
    }

    fn filter(&self) -> String {
        format!(
            "s.deleted_at IS NULL AND (CAST($1 AS BIGINT) IS NULL OR s.profile_id = $1) AND ({}) \
             AND (CAST($2 AS TEXT) IS NULL OR lower(s.display_name) LIKE $2 ESCAPE '\\' \
             OR lower(s.mailbox_address) LIKE $2 ESCAPE '\\' OR lower(s.calendar_name) LIKE $2 ESCAPE '\\' \
             OR lower(p.name) LIKE $2 ESCAPE '\\')",
            self.state.sql()
        )
    }
}

/// What a bulk change does to each subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkChange {
    Pause,
    Resume,
    SyncNow,
    Interval(i64),
    Delete { keep_events: bool },
}

/// How a bulk change went for one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkOutcome {
    Changed,
    /// It already was as asked (paused, resumed, that interval).
    Unchanged,
    /// Deleted meanwhile, or never there.
    Missing,
}

impl Db {
    /// The subscriptions the query matches (one page of them with `limit`), and how many match.
    pub async fn list_subscription_page(&self, q: &ListQuery) -> Result<(Vec<Subscription>, i64)> {
        let filter = q.filter();
        let rows_sql = format!(
            "SELECT {} FROM subscriptions s LEFT JOIN profiles p ON p.id = s.profile_id WHERE {filter} \
             ORDER BY {} LIMIT $3 OFFSET $4",
            subscription_columns!(),
            q.sort.sql(q.descending)
        );
        let count_sql = format!(
            "SELECT COUNT(*) FROM subscriptions s LEFT JOIN profiles p ON p.id = s.profile_id WHERE {filter}"
        );
        let pattern = q.pattern();
        // No limit: the largest one (SQLite's -1 means none, PostgreSQL's does not).
        let limit = q.limit.unwrap_or(i64::MAX);
        // The statements are built from the enums' constant fragments only; values are bound.
        let (rows, total) = dispatch!(self, pool => {
            let rows = sqlx::query_as::<_, Subscription>(sqlx::AssertSqlSafe(rows_sql))
                .bind(q.profile).bind(pattern.as_deref()).bind(limit).bind(q.offset.max(0))
                .fetch_all(pool).await?;
            let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
                .bind(q.profile).bind(pattern.as_deref())
                .fetch_one(pool).await?;
            (rows, total)
        });
        Ok((rows, total))
    }

    /// The ids the query matches, in its order (a bulk change to "all matching").
    pub async fn matching_subscription_ids(&self, q: &ListQuery) -> Result<Vec<i64>> {
        let q = ListQuery {
            offset: 0,
            limit: None,
            ..q.clone()
        };
        Ok(self
            .list_subscription_page(&q)
            .await?
            .0
            .into_iter()
            .map(|s| s.id)
            .collect())
    }

    /// Applies `change` to each subscription in one transaction, with an audit entry per
    /// subscription changed (`audit` makes it from the display name): all or nothing. Returns
    /// each id's outcome with the display name it had (empty when missing).
    pub async fn bulk_change(
        &self,
        ids: &[i64],
        change: BulkChange,
        audit: &(dyn Fn(&str) -> AuditRecord + Sync),
    ) -> Result<Vec<(i64, String, BulkOutcome)>> {
        let now = Utc::now();
        transaction!(self, tx => async {
            let mut out = Vec::with_capacity(ids.len());
            for &id in ids {
                let current: Option<(String, bool, i64)> = sqlx::query_as(
                    "SELECT display_name, enabled, interval_minutes FROM subscriptions WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(id).fetch_optional(&mut *tx).await?;
                let Some((name, enabled, interval)) = current else {
                    out.push((id, String::new(), BulkOutcome::Missing));
                    continue;
                };
                let unchanged = match change {
                    BulkChange::Pause => !enabled,
                    BulkChange::Resume => enabled,
                    BulkChange::Interval(m) => interval == m,
                    BulkChange::SyncNow | BulkChange::Delete { .. } => false,
                };
                if unchanged {
                    out.push((id, name, BulkOutcome::Unchanged));
                    continue;
                }
                let q = match change {
                    BulkChange::Pause | BulkChange::Resume => sqlx::query(
                        "UPDATE subscriptions SET enabled = $1, version = version + 1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(change == BulkChange::Resume).bind(now).bind(id),
                    BulkChange::SyncNow => {
                        sqlx::query("UPDATE subscriptions SET next_sync_at = $1 WHERE id = $2").bind(now).bind(id)
                    }
                    BulkChange::Interval(m) => sqlx::query(
                        "UPDATE subscriptions SET interval_minutes = $1, version = version + 1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(m).bind(now).bind(id),
                    BulkChange::Delete { keep_events: true } => sqlx::query(
                        "UPDATE subscriptions SET deleted_at = $1, enabled = FALSE WHERE id = $2",
                    )
                    .bind(now).bind(id),
                    BulkChange::Delete { keep_events: false } => {
                        sqlx::query("DELETE FROM subscriptions WHERE id = $1").bind(id)
                    }
                };
                q.execute(&mut *tx).await?;
                audit_in!(tx, &audit(&name));
                out.push((id, name, BulkOutcome::Changed));
            }
            Ok(out)
        }.await)
    }
}

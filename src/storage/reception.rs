//! Derived data for reception readers: the events' local times in the configured zone, and
//! which attendee domains are internal. (The attendee rows themselves and the views are kept
//! by the database: see the reception migration.)

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};

use super::{Db, Result};

const ZONE_SETTING: &str = "local_time_zone";
const CONFIGURED_DOMAINS: &str = "internal_domains_configured";
/// Rows rewritten per transaction when the zone changes.
const BATCH: i64 = 1000;

type LocalSource = (
    i64,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<NaiveDate>,
    Option<NaiveDate>,
);

impl Db {
    /// Makes every event's local times those of `zone`: all rows when the zone differs from
    /// the one they were written in, otherwise only rows without (imported by an older
    /// version). Returns how many rows were rewritten.
    pub async fn localize_events(&self, zone: chrono_tz::Tz) -> Result<u64> {
        let all = self.setting(ZONE_SETTING).await?.as_deref() != Some(zone.name());
        let filter = if all { "" } else { "AND local_date IS NULL" };
        let select = format!(
            "SELECT id, start_utc, end_utc, start_date, end_date FROM events \
             WHERE id > $1 {filter} ORDER BY id LIMIT $2"
        );
        let update =
            "UPDATE events SET start_local = $1, end_local = $2, local_date = $3 WHERE id = $4";
        let mut after = 0i64;
        let mut rewritten = 0u64;
        loop {
            let rows: Vec<LocalSource> = dispatch!(self, pool => {
                sqlx::query_as(sqlx::AssertSqlSafe(select.clone()))
                    .bind(after).bind(BATCH).fetch_all(pool).await?
            });
            let Some(last) = rows.last() else { break };
            after = last.0;
            transaction!(self, tx => async {
                for (id, start, end, first, after_last) in &rows {
                    let local = crate::time::local_times(*start, *end, first.zip(*after_last), zone);
                    sqlx::query(update).bind(local.start).bind(local.end).bind(local.date).bind(id)
                        .execute(&mut *tx).await?;
                }
                Ok::<(), super::StoreError>(())
            }.await)?;
            rewritten += rows.len() as u64;
        }
        self.set_setting(ZONE_SETTING, zone.name()).await?;
        Ok(rewritten)
    }

    /// Sets the internal domains an admin configured (lower case), then refreshes.
    pub async fn set_configured_internal_domains(&self, domains: &[String]) -> Result<bool> {
        self.set_setting(CONFIGURED_DOMAINS, &domains.join(","))
            .await?;
        self.refresh_internal_domains().await
    }

    /// Brings `internal_domains` up to date: the configured ones and the domains of the
    /// subscribed mailboxes and the authorized accounts. When the set changed, every stored
    /// attendee is classified again, in the same transaction. Returns whether it changed.
    pub async fn refresh_internal_domains(&self) -> Result<bool> {
        let configured = self.setting(CONFIGURED_DOMAINS).await?.unwrap_or_default();
        let addresses: Vec<String> = dispatch!(self, pool => {
            sqlx::query_scalar(
                "SELECT mailbox_address FROM subscriptions WHERE deleted_at IS NULL \
                 UNION SELECT account_upn FROM profiles WHERE account_upn IS NOT NULL",
            )
            .fetch_all(pool).await?
        });
        let mut wanted: BTreeSet<(String, &'static str)> = BTreeSet::new();
        for address in &addresses {
            if let Some((_, domain)) = address.rsplit_once('@')
                && !domain.is_empty()
            {
                wanted.insert((domain.to_ascii_lowercase(), "mailbox"));
            }
        }
        for domain in configured.split(',').filter(|d| !d.is_empty()) {
            if !wanted.iter().any(|(d, _)| d == domain) {
                wanted.insert((domain.to_string(), "configured"));
            }
        }
        let stored: Vec<(String, String)> = dispatch!(self, pool => {
            sqlx::query_as("SELECT domain, source FROM internal_domains").fetch_all(pool).await?
        });
        let stored: BTreeSet<(String, &str)> = stored
            .iter()
            .map(|(d, s)| {
                (
                    d.clone(),
                    if s == "mailbox" {
                        "mailbox"
                    } else {
                        "configured"
                    },
                )
            })
            .collect();
        if stored == wanted {
            return Ok(false);
        }
        transaction!(self, tx => async {
            sqlx::query("DELETE FROM internal_domains").execute(&mut *tx).await?;
            for (domain, source) in &wanted {
                sqlx::query("INSERT INTO internal_domains (domain, source) VALUES ($1, $2)")
                    .bind(domain).bind(*source).execute(&mut *tx).await?;
            }
            sqlx::query(
                "UPDATE event_attendees SET kind = CASE WHEN type = 'resource' THEN 'room' \
                 WHEN domain IN (SELECT domain FROM internal_domains) THEN 'internal' ELSE 'external' END",
            )
            .execute(&mut *tx).await?;
            Ok::<(), super::StoreError>(())
        }.await)?;
        Ok(true)
    }
}

//! Derived data for reception readers: the events' local times in the configured zone, and
//! which attendee domains are internal. (The attendee rows and the other views are the
//! database's: `event_attendees` reads `events.attendees`, see migration 36.)

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};

use super::{Db, Result};

const ZONE_SETTING: &str = "local_time_zone";
const CONFIGURED_DOMAINS: &str = "internal_domains_configured";
/// Entered on the internal-domains page.
const ADMIN_DOMAINS: &str = "internal_domains_admin";
/// A profile's tenant's verified domains, as last read (`…:{profile id}`).
const TENANT_DOMAINS: &str = "internal_domains_tenant";

/// Where the internal domains come from, for the settings page.
#[derive(Debug, Clone, Default)]
pub struct DomainSources {
    /// `DATAPUMP_INTERNAL_DOMAINS`.
    pub environment: Vec<String>,
    pub admin: Vec<String>,
    /// Verified domains of the authorized profiles' tenants.
    pub tenant: Vec<String>,
    /// What `internal_domains` holds: (domain, source as stored).
    pub effective: Vec<(String, String)>,
}

fn split(list: Option<String>) -> Vec<String> {
    list.unwrap_or_default()
        .split(',')
        .filter(|d| !d.is_empty())
        .map(String::from)
        .collect()
}
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

    /// Sets the internal domains entered on the settings page (lower case), then refreshes.
    pub async fn set_admin_internal_domains(
        &self,
        domains: &[String],
        audit: &super::audit::AuditRecord,
    ) -> Result<bool> {
        self.set_setting_audited(ADMIN_DOMAINS, &domains.join(","), audit)
            .await?;
        self.refresh_internal_domains().await
    }

    /// Records a profile's tenant's verified domains as just read, then refreshes.
    pub async fn set_tenant_domains(&self, profile_id: i64, domains: &[String]) -> Result<bool> {
        self.set_setting(
            &format!("{TENANT_DOMAINS}:{profile_id}"),
            &domains.join(","),
        )
        .await?;
        self.refresh_internal_domains().await
    }

    /// The tenant domains of the profiles that still exist.
    async fn tenant_domains(&self) -> Result<Vec<String>> {
        let ids: Vec<i64> = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT id FROM profiles ORDER BY id").fetch_all(pool).await?
        });
        let mut all = BTreeSet::new();
        for id in ids {
            all.extend(split(
                self.setting(&format!("{TENANT_DOMAINS}:{id}")).await?,
            ));
        }
        Ok(all.into_iter().collect())
    }

    pub async fn internal_domain_sources(&self) -> Result<DomainSources> {
        let effective: Vec<(String, String)> = dispatch!(self, pool => {
            sqlx::query_as("SELECT domain, source FROM internal_domains ORDER BY domain").fetch_all(pool).await?
        });
        Ok(DomainSources {
            environment: split(self.setting(CONFIGURED_DOMAINS).await?),
            admin: split(self.setting(ADMIN_DOMAINS).await?),
            tenant: self.tenant_domains().await?,
            effective,
        })
    }

    /// Whether `domain` is among the internal domains already (one indexed row).
    pub async fn is_internal_domain(&self, domain: &str) -> Result<bool> {
        let found: Option<String> = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT domain FROM internal_domains WHERE domain = $1")
                .bind(domain.to_ascii_lowercase()).fetch_optional(pool).await?
        });
        Ok(found.is_some())
    }

    /// Brings `internal_domains` up to date: the configured ones (environment, settings page,
    /// tenants' verified domains) and the domains of the subscribed mailboxes and the
    /// authorized accounts. `event_attendees` (a view) classifies every attendee by the
    /// current set. Returns whether it changed.
    pub async fn refresh_internal_domains(&self) -> Result<bool> {
        let mut configured = split(self.setting(CONFIGURED_DOMAINS).await?);
        configured.extend(split(self.setting(ADMIN_DOMAINS).await?));
        configured.extend(self.tenant_domains().await?);
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
        for domain in &configured {
            if !wanted.iter().any(|(d, _)| d == domain) {
                wanted.insert((domain.clone(), "configured"));
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
            Ok::<(), super::StoreError>(())
        }.await)?;
        Ok(true)
    }
}

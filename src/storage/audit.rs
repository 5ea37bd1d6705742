//! The audit log: append-only; entries are never changed, only deleted once older than the
//! configured retention.

use chrono::{DateTime, Utc};

use super::{Db, Result};

/// What is recorded about one change. `details` must never hold a secret.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord {
    pub actor_id: Option<i64>,
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub action: &'static str,
    pub target: Option<String>,
    pub details: Option<String>,
}

/// Who did something, and from where: the first part of every audit record.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub ip: Option<String>,
}

impl Actor {
    pub fn record(
        &self,
        action: &'static str,
        target: Option<String>,
        details: Option<String>,
    ) -> AuditRecord {
        AuditRecord {
            actor_id: self.id,
            actor: self.name.clone(),
            ip: self.ip.clone(),
            action,
            target,
            details,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<i64>,
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub details: Option<String>,
}

/// Control characters (newlines included) are escaped so that no entry can forge another
/// line in an exported log.
pub fn escape_control(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) const INSERT: &str = "INSERT INTO audit_log (at, actor_id, actor, ip, action, target, details) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

impl Db {
    /// How many entries with either action were recorded since `since` (rate limits on what
    /// anonymous requests may add).
    pub async fn count_audit_since(
        &self,
        actions: (&str, &str),
        since: DateTime<Utc>,
    ) -> Result<i64> {
        let n: i64 = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE at > $1 AND action IN ($2, $3)")
                .bind(since).bind(actions.0).bind(actions.1).fetch_one(pool).await?
        });
        Ok(n)
    }

    pub async fn record_audit(&self, record: AuditRecord) -> Result<()> {
        self.record_audits(std::slice::from_ref(&record)).await
    }

    /// Records several entries (a bulk change) in one transaction.
    pub async fn record_audits(&self, records: &[AuditRecord]) -> Result<()> {
        transaction!(self, tx => async {
            for r in records {
                audit_in!(tx, r);
            }
            Ok(())
        }.await)
    }

    /// Newest first.
    pub async fn list_audit(&self, offset: i64, limit: i64) -> Result<Vec<AuditEntry>> {
        let sql = "SELECT id, at, actor_id, actor, ip, action, target, details FROM audit_log \
                   ORDER BY at DESC, id DESC LIMIT $1 OFFSET $2";
        let rows = dispatch!(self, pool => {
            sqlx::query_as::<_, AuditEntry>(sql).bind(limit).bind(offset).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Deletes entries older than `before` (retention); returns how many.
    pub async fn prune_audit(&self, before: DateTime<Utc>) -> Result<u64> {
        let n = dispatch!(self, pool => {
            sqlx::query("DELETE FROM audit_log WHERE at < $1").bind(before).execute(pool).await?.rows_affected()
        });
        Ok(n)
    }

    pub async fn count_audit(&self) -> Result<i64> {
        let n: i64 = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(pool).await?
        });
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(super::escape_control("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(super::escape_control("Müller"), "Müller");
    }
}

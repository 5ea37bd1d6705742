//! Small named values the instance keeps about itself (e.g. the key canary).

use super::{Db, Result};

impl Db {
    pub async fn setting(&self, name: &str) -> Result<Option<String>> {
        let value = dispatch!(self, pool => {
            sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE name = $1")
                .bind(name).fetch_optional(pool).await?
        });
        Ok(value)
    }

    pub async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        let sql = "INSERT INTO settings (name, value) VALUES ($1, $2) \
                   ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        dispatch!(self, pool => {
            sqlx::query(sql).bind(name).bind(value).execute(pool).await?;
        });
        Ok(())
    }

    /// Sets a setting an admin changed, with its audit entry.
    pub async fn set_setting_audited(
        &self,
        name: &str,
        value: &str,
        audit: &super::audit::AuditRecord,
    ) -> Result<()> {
        let sql = "INSERT INTO settings (name, value) VALUES ($1, $2) \
                   ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        transaction!(self, tx => async {
            sqlx::query(sql).bind(name).bind(value).execute(&mut *tx).await?;
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }
}

//! The one-time setup link that lets the first person create the first admin.

use chrono::Utc;

use super::admins::{Admin, NewAdmin};
use super::{Db, Result, StoreError};
use crate::crypto;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the setup link is invalid, expired or was already used")]
    InvalidToken,
    #[error("an admin exists already")]
    AlreadyDone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SetupError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// How long a setup link works: a link copied from an old log must not create an admin later.
pub const SETUP_LINK_HOURS: i64 = 24;

fn issued_after() -> chrono::DateTime<Utc> {
    Utc::now() - chrono::Duration::hours(SETUP_LINK_HOURS)
}

impl Db {
    /// Issues a new setup token while no admin exists, replacing unused older ones (only the link
    /// printed at the latest start works). Returns `None` once an admin exists.
    pub async fn issue_setup_token(&self) -> Result<Option<String>> {
        let token = crypto::random_token();
        let hash = crypto::token_hash(&token);
        transaction!(self, tx => async {
            let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM admins")
                .fetch_one(&mut *tx).await?;
            if admins > 0 {
                return Ok(None);
            }
            sqlx::query("DELETE FROM setup_tokens WHERE used_at IS NULL")
                .execute(&mut *tx).await?;
            sqlx::query("INSERT INTO setup_tokens (token_hash, created_at) VALUES ($1, $2)")
                .bind(&hash).bind(Utc::now()).execute(&mut *tx).await?;
            Ok(Some(token))
        }.await)
    }

    /// True while `token` can still be used.
    pub async fn setup_token_valid(&self, token: &str) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM setup_tokens WHERE token_hash = $1 AND used_at IS NULL AND created_at > $2";
        let n: i64 = dispatch!(self, pool => {
            sqlx::query_scalar(sql).bind(crypto::token_hash(token)).bind(issued_after()).fetch_one(pool).await?
        });
        Ok(n == 1 && self.count_admins().await? == 0)
    }

    /// Consumes the token and creates the first admin, atomically: of two concurrent attempts
    /// exactly one succeeds.
    pub async fn complete_setup(
        &self,
        token: &str,
        new: NewAdmin<'_>,
        audit: &super::audit::AuditRecord,
    ) -> std::result::Result<Admin, SetupError> {
        let hash = crypto::token_hash(token);
        let result: std::result::Result<Admin, SetupError> = transaction!(self, tx => async {
            let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM admins")
                .fetch_one(&mut *tx).await.map_err(StoreError::from)?;
            if admins > 0 {
                return Err(SetupError::AlreadyDone);
            }
            let used = sqlx::query(
                "UPDATE setup_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND created_at > $3",
            )
            .bind(Utc::now()).bind(&hash).bind(issued_after()).execute(&mut *tx).await.map_err(StoreError::from)?;
            if used.rows_affected() != 1 {
                return Err(SetupError::InvalidToken);
            }
            let now = Utc::now();
            let admin = sqlx::query_as::<_, Admin>(
                "INSERT INTO admins (username, username_key, password_hash, role, security_stamp, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 RETURNING id, username, password_hash, role, disabled, language, time_zone, security_stamp, \
                 version, created_at, updated_at, last_login_at",
            )
            .bind(new.username.trim())
            .bind(super::admins::username_key(new.username))
            .bind(new.password_hash)
            .bind(new.role.as_str())
            .bind(crypto::random_token())
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            audit_in!(tx, audit);
            Ok(admin)
        }.await);
        result
    }
}

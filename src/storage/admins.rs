//! Admin accounts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::audit::AuditRecord;
use super::{Db, Result, StoreError};

/// What an admin may do: `Admin` everything, `Viewer` look at everything but secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Viewer => "viewer",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Self::Admin),
            "viewer" => Ok(Self::Viewer),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

impl TryFrom<String> for Role {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, Self::Error> {
        s.parse()
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Admin {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub disabled: bool,
    pub language: Option<String>,
    #[sqlx(try_from = "Option<String>")]
    pub time_zone: ZoneChoice,
    pub security_stamp: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// The zone an admin chose to see times in; `None`: the instance's (`DATAPUMP_TIME_ZONE`).
/// A name chrono-tz does not know is an error, not a silent fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZoneChoice(pub Option<chrono_tz::Tz>);

impl TryFrom<Option<String>> for ZoneChoice {
    type Error = String;
    fn try_from(s: Option<String>) -> std::result::Result<Self, Self::Error> {
        match s {
            None => Ok(Self(None)),
            Some(name) => name
                .parse::<chrono_tz::Tz>()
                .map(|z| Self(Some(z)))
                .map_err(|_| format!("unknown time zone {name:?}")),
        }
    }
}

pub struct NewAdmin<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
}

/// Changes an admin may make to another admin's account; applied only if `version` still matches.
pub struct AdminUpdate {
    pub role: Role,
    pub disabled: bool,
    pub version: i64,
}

/// The admin columns, as a macro so that statements stay `&'static str` (sqlx 0.9 refuses
/// run-time built SQL unless asserted safe).
macro_rules! admin_columns {
    () => {
        "id, username, password_hash, role, disabled, language, time_zone, security_stamp, version, \
         created_at, updated_at, last_login_at"
    };
}

/// Usernames are unique regardless of case.
pub fn username_key(username: &str) -> String {
    username.trim().to_lowercase()
}

fn new_stamp() -> String {
    crate::crypto::random_token()
}

impl Db {
    pub async fn count_admins(&self) -> Result<i64> {
        let n: i64 = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM admins").fetch_one(pool).await?
        });
        Ok(n)
    }

    pub async fn count_active_admins_with_role_admin(&self) -> Result<i64> {
        let n: i64 = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM admins WHERE role = 'admin' AND NOT disabled")
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }

    /// Creates an admin, with the audit entry when another admin created them.
    pub async fn create_admin(
        &self,
        new: NewAdmin<'_>,
        audit: Option<&AuditRecord>,
    ) -> Result<Admin> {
        let now = Utc::now();
        let sql = concat!(
            "INSERT INTO admins (username, username_key, password_hash, role, security_stamp, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ",
            admin_columns!(),
            ""
        );
        transaction!(self, tx => async {
            let admin = sqlx::query_as::<_, Admin>(sql)
                .bind(new.username.trim())
                .bind(username_key(new.username))
                .bind(new.password_hash)
                .bind(new.role.as_str())
                .bind(new_stamp())
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            if let Some(audit) = audit {
                audit_in!(tx, audit);
            }
            Ok(admin)
        }.await)
    }

    pub async fn admin_by_id(&self, id: i64) -> Result<Admin> {
        let sql = concat!("SELECT ", admin_columns!(), " FROM admins WHERE id = $1");
        let admin = dispatch!(self, pool => {
            sqlx::query_as::<_, Admin>(sql).bind(id).fetch_one(pool).await?
        });
        Ok(admin)
    }

    pub async fn admin_by_username(&self, username: &str) -> Result<Option<Admin>> {
        let sql = concat!(
            "SELECT ",
            admin_columns!(),
            " FROM admins WHERE username_key = $1"
        );
        let admin = dispatch!(self, pool => {
            sqlx::query_as::<_, Admin>(sql)
                .bind(username_key(username))
                .fetch_optional(pool)
                .await?
        });
        Ok(admin)
    }

    pub async fn list_admins(&self) -> Result<Vec<Admin>> {
        let sql = concat!(
            "SELECT ",
            admin_columns!(),
            " FROM admins ORDER BY username_key"
        );
        let admins = dispatch!(self, pool => {
            sqlx::query_as::<_, Admin>(sql).fetch_all(pool).await?
        });
        Ok(admins)
    }

    /// Applies `update` if nobody changed the admin since `update.version` was read. Disabling or
    /// a role change rotates the security stamp and ends the admin's sessions. Refuses to leave
    /// the instance without an active admin.
    /// Changes role and disabled state (read at `update.version`), with the audit entry
    /// `audit` makes from the admin before and after.
    pub async fn update_admin(
        &self,
        id: i64,
        update: &AdminUpdate,
        audit: impl FnOnce(&Admin) -> AuditRecord,
    ) -> Result<Admin> {
        let sql = concat!(
            "UPDATE admins SET role = $1, disabled = $2, version = version + 1, updated_at = $3, \
             security_stamp = CASE WHEN role <> $1 OR disabled <> $2 THEN $4 ELSE security_stamp END \
             WHERE id = $5 AND version = $6 RETURNING ",
            admin_columns!(),
            ""
        );
        transaction!(self, tx => async {
            let updated = sqlx::query_as::<_, Admin>(sql)
                .bind(update.role.as_str())
                .bind(update.disabled)
                .bind(Utc::now())
                .bind(new_stamp())
                .bind(id)
                .bind(update.version)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(updated) = updated else {
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM admins WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                return Err(if exists.is_some() { StoreError::Conflict } else { StoreError::NotFound });
            };
            let remaining: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM admins WHERE role = 'admin' AND NOT disabled",
            )
            .fetch_one(&mut *tx)
            .await?;
            if remaining == 0 {
                return Err(StoreError::LastAdmin);
            }
            if updated.disabled {
                sqlx::query("DELETE FROM sessions WHERE admin_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            audit_in!(tx, &audit(&updated));
            Ok(updated)
        }.await)
    }

    /// Sets a new password hash; rotates the security stamp, which ends the admin's other
    /// sessions (the caller re-establishes its own).
    /// A new password (its hash): the security stamp rotates; with `end_sessions` the admin's
    /// sessions end in the same transaction as the change and its audit entry.
    pub async fn set_admin_password(
        &self,
        id: i64,
        password_hash: &str,
        end_sessions: bool,
        audit: &AuditRecord,
    ) -> Result<Admin> {
        let sql = concat!(
            "UPDATE admins SET password_hash = $1, security_stamp = $2, version = version + 1, \
             updated_at = $3 WHERE id = $4 RETURNING ",
            admin_columns!(),
            ""
        );
        transaction!(self, tx => async {
            let admin = sqlx::query_as::<_, Admin>(sql)
                .bind(password_hash)
                .bind(new_stamp())
                .bind(Utc::now())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            if end_sessions {
                sqlx::query("DELETE FROM sessions WHERE admin_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            audit_in!(tx, audit);
            Ok(admin)
        }.await)
    }

    /// Replaces a hash with a stronger one of the same password, without ending sessions.
    pub async fn upgrade_password_hash(&self, id: i64, password_hash: &str) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("UPDATE admins SET password_hash = $1 WHERE id = $2")
                .bind(password_hash)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn set_admin_language(&self, id: i64, language: Option<&str>) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("UPDATE admins SET language = $1 WHERE id = $2")
                .bind(language)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn set_admin_time_zone(&self, id: i64, zone: ZoneChoice) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("UPDATE admins SET time_zone = $1 WHERE id = $2")
                .bind(zone.0.map(|z| z.name()))
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// A successful sign-in: its time, with its audit entry.
    pub async fn record_login(&self, id: i64, audit: &AuditRecord) -> Result<()> {
        transaction!(self, tx => async {
            sqlx::query("UPDATE admins SET last_login_at = $1 WHERE id = $2")
                .bind(Utc::now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }
}

//! Server-side sessions in the database, so several instances behind one PostgreSQL share them.
//! Implements `tower_sessions::SessionStore` over the project's own pool (the published sqlx
//! store crate pins an older sqlx).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::{Db, Result, StoreError};

/// The session key under which the signed-in admin's id is kept; mirrored into a column so that
/// disabling an admin can delete their sessions.
pub const ADMIN_ID_KEY: &str = "admin_id";

#[derive(Debug, Clone)]
pub struct DbSessionStore {
    db: Db,
    /// Sessions of visitors not signed in kept at most (the oldest go first), so that
    /// anonymous page views cannot grow the table without bound.
    max_anonymous: i64,
}

impl DbSessionStore {
    pub fn new(db: Db, max_anonymous: i64) -> Self {
        Self { db, max_anonymous }
    }
}

/// The key a session is stored under: a hash of its id, so that neither the database nor a
/// backup of it holds anything that signs in. Ids are 128 random bits: a plain SHA-256 suffices.
fn stored_key(id: &Id) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        format!("datapump-session:{id}").as_bytes(),
    ))
}

fn to_chrono(t: time::OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()).unwrap_or(DateTime::UNIX_EPOCH)
}

fn backend(err: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

impl Db {
    /// Inserts a new session; `false` if the id is taken.
    async fn insert_session(
        &self,
        id: &str,
        admin_id: Option<i64>,
        data: &str,
        expires: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = "INSERT INTO sessions (id, admin_id, data, expires_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (id) DO NOTHING";
        let done = dispatch!(self, pool => {
            sqlx::query(sql).bind(id).bind(admin_id).bind(data).bind(expires)
                .execute(pool).await?.rows_affected()
        });
        Ok(done == 1)
    }

    async fn upsert_session(
        &self,
        id: &str,
        admin_id: Option<i64>,
        data: &str,
        expires: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO sessions (id, admin_id, data, expires_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (id) DO UPDATE SET admin_id = excluded.admin_id, \
                   data = excluded.data, expires_at = excluded.expires_at";
        dispatch!(self, pool => {
            sqlx::query(sql).bind(id).bind(admin_id).bind(data).bind(expires)
                .execute(pool).await?;
        });
        Ok(())
    }

    async fn load_session(&self, id: &str) -> Result<Option<(String, DateTime<Utc>)>> {
        let sql = "SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2";
        let row = dispatch!(self, pool => {
            sqlx::query_as::<_, (String, DateTime<Utc>)>(sql)
                .bind(id).bind(Utc::now()).fetch_optional(pool).await?
        });
        Ok(row)
    }

    async fn delete_session(&self, id: &str) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(pool).await?;
        });
        Ok(())
    }

    /// Keeps the newest `keep` sessions of visitors who are not signed in; returns how many
    /// older ones went.
    pub async fn trim_anonymous_sessions(&self, keep: i64) -> Result<u64> {
        let n = match &self.pool {
            super::Pool::Sqlite(super::SqlitePools { read: pool, .. }) => sqlx::query(
                "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE admin_id IS NULL \
                 ORDER BY expires_at DESC LIMIT -1 OFFSET $1)",
            )
            .bind(keep)
            .execute(pool)
            .await?
            .rows_affected(),
            super::Pool::Postgres(pool) => sqlx::query(
                "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE admin_id IS NULL \
                 ORDER BY expires_at DESC OFFSET $1)",
            )
            .bind(keep)
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(n)
    }

    /// Removes expired sessions; returns how many.
    pub async fn delete_expired_sessions(&self) -> Result<u64> {
        let n = dispatch!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(Utc::now()).execute(pool).await?.rows_affected()
        });
        Ok(n)
    }

    /// Ends every session of an admin (password reset by another admin, disabling).
    /// Ends every session of an admin, with the audit entry `audit` makes from their number.
    pub async fn delete_sessions_of(
        &self,
        admin_id: i64,
        audit: impl FnOnce(u64) -> super::audit::AuditRecord,
    ) -> Result<u64> {
        transaction!(self, tx => async {
            let n = sqlx::query("DELETE FROM sessions WHERE admin_id = $1")
                .bind(admin_id).execute(&mut *tx).await?.rows_affected();
            audit_in!(tx, &audit(n));
            Ok(n)
        }.await)
    }

    pub async fn count_sessions_of(&self, admin_id: i64) -> Result<i64> {
        let n: i64 = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE admin_id = $1 AND expires_at > $2")
                .bind(admin_id).bind(Utc::now()).fetch_one(pool).await?
        });
        Ok(n)
    }
}

fn encode(record: &Record) -> session_store::Result<(Option<i64>, String, DateTime<Utc>)> {
    let admin_id = record.data.get(ADMIN_ID_KEY).and_then(|v| v.as_i64());
    let data = serde_json::to_string(&record.data).map_err(backend)?;
    Ok((admin_id, data, to_chrono(record.expiry_date)))
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let (admin_id, data, expires) = encode(record)?;
        // Ids are 128 random bits; a collision is practically impossible but handled anyway.
        loop {
            let inserted = self
                .db
                .insert_session(&stored_key(&record.id), admin_id, &data, expires)
                .await
                .map_err(backend)?;
            if inserted {
                if admin_id.is_none() {
                    self.db
                        .trim_anonymous_sessions(self.max_anonymous)
                        .await
                        .map_err(backend)?;
                }
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (admin_id, data, expires) = encode(record)?;
        match self
            .db
            .upsert_session(&stored_key(&record.id), admin_id, &data, expires)
            .await
        {
            Ok(()) => Ok(()),
            // The admin was deleted meanwhile (foreign key): the session must not survive.
            Err(StoreError::Database(e)) if e.as_database_error().is_some() => {
                Err(backend("session refers to a removed admin"))
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let Some((data, expires)) = self
            .db
            .load_session(&stored_key(session_id))
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data = serde_json::from_str(&data).map_err(backend)?;
        let expiry_date =
            time::OffsetDateTime::from_unix_timestamp(expires.timestamp()).map_err(backend)?;
        Ok(Some(Record {
            id: *session_id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.db
            .delete_session(&stored_key(session_id))
            .await
            .map_err(backend)
    }
}

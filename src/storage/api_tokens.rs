//! Tokens of the read-only API. Only a hash of each token is stored; a token reaches every
//! subscription or those listed for it.

use chrono::{DateTime, NaiveDate, Utc};

use super::audit::AuditRecord;
use super::{Db, Result, StoreError};

/// Which subscriptions a token may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    All,
    Subscriptions(Vec<i64>),
}

impl TokenScope {
    pub fn allows(&self, subscription_id: i64) -> bool {
        match self {
            Self::All => true,
            Self::Subscriptions(ids) => ids.contains(&subscription_id),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub scope: TokenScope,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub use_count: i64,
    /// From this day on (UTC) the token is refused; `None`: it does not expire.
    pub expires_on: Option<NaiveDate>,
}

type TokenRow = (
    i64,
    String,
    bool,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    i64,
    Option<NaiveDate>,
);

const COLUMNS: &str = "id, name, all_subscriptions, created_by, created_at, revoked_at, last_used_at, use_count, \
     expires_on";

impl Db {
    /// Stores a new token (its hash) with its scope; returns its id.
    pub async fn create_api_token(
        &self,
        name: &str,
        token_hash: &str,
        scope: &TokenScope,
        created_by: &str,
        expires_on: Option<NaiveDate>,
        audit: &AuditRecord,
    ) -> Result<i64> {
        let all = matches!(scope, TokenScope::All);
        let now = Utc::now();
        transaction!(self, tx => async {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO api_tokens (name, token_hash, all_subscriptions, created_by, created_at, expires_on) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(name).bind(token_hash).bind(all).bind(created_by).bind(now).bind(expires_on)
            .fetch_one(&mut *tx).await?;
            if let TokenScope::Subscriptions(ids) = scope {
                for sub in ids {
                    sqlx::query("INSERT INTO api_token_subscriptions (token_id, subscription_id) VALUES ($1, $2)")
                        .bind(id).bind(sub).execute(&mut *tx).await?;
                }
            }
            audit_in!(tx, audit);
            Ok::<i64, StoreError>(id)
        }.await)
    }

    async fn token_scope(&self, row: TokenRow) -> Result<ApiToken> {
        let (
            id,
            name,
            all,
            created_by,
            created_at,
            revoked_at,
            last_used_at,
            use_count,
            expires_on,
        ) = row;
        let scope = if all {
            TokenScope::All
        } else {
            let ids: Vec<i64> = dispatch!(self, pool => {
                sqlx::query_scalar("SELECT subscription_id FROM api_token_subscriptions WHERE token_id = $1 ORDER BY subscription_id")
                    .bind(id).fetch_all(pool).await?
            });
            TokenScope::Subscriptions(ids)
        };
        Ok(ApiToken {
            id,
            name,
            scope,
            created_by,
            created_at,
            revoked_at,
            last_used_at,
            use_count,
            expires_on,
        })
    }

    pub async fn list_api_tokens(&self) -> Result<Vec<ApiToken>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_tokens ORDER BY revoked_at IS NOT NULL, created_at DESC"
        );
        let rows: Vec<TokenRow> = dispatch!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(pool).await?
        });
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.token_scope(r).await?);
        }
        Ok(out)
    }

    /// The live (not revoked, not expired) token with this hash. Its uses are counted by the caller and
    /// added with [`Db::add_api_token_uses`] (a write per API request would make every read a
    /// write).
    pub async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL \
             AND (expires_on IS NULL OR expires_on > $2)"
        );
        let today = Utc::now().date_naive();
        let row: Option<TokenRow> = dispatch!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(token_hash).bind(today).fetch_optional(pool).await?
        });
        let Some(row) = row else { return Ok(None) };
        Ok(Some(self.token_scope(row).await?))
    }

    /// Adds counted uses: (token id, uses, last use).
    pub async fn add_api_token_uses(&self, uses: &[(i64, i64, DateTime<Utc>)]) -> Result<()> {
        if uses.is_empty() {
            return Ok(());
        }
        transaction!(self, tx => async {
            for (id, n, last) in uses {
                sqlx::query(
                    "UPDATE api_tokens SET use_count = use_count + $1, \
                     last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < $2 THEN $2 ELSE last_used_at END \
                     WHERE id = $3",
                )
                .bind(n).bind(last).bind(id).execute(&mut *tx).await?;
            }
            Ok::<(), StoreError>(())
        }.await)
    }

    /// Revokes a token; `NotFound` if there is none (or it was revoked before).
    /// Revokes a token, with the audit entry `audit` makes from its name; returns the name.
    pub async fn revoke_api_token(
        &self,
        id: i64,
        audit: impl FnOnce(&str) -> AuditRecord,
    ) -> Result<String> {
        transaction!(self, tx => async {
            let name: String = sqlx::query_scalar(
                "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING name",
            )
            .bind(Utc::now()).bind(id).fetch_optional(&mut *tx).await?
            .ok_or(StoreError::NotFound)?;
            audit_in!(tx, &audit(&name));
            Ok(name)
        }.await)
    }
}

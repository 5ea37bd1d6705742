//! Profiles, their sealed secrets and tokens, and pending OAuth transactions.

use chrono::{DateTime, NaiveDate, Utc};

use super::audit::AuditRecord;
use super::{Db, Result, StoreError};
use crate::crypto::SecretKey;
use crate::crypto::context::{self, ProfileColumn};
use crate::model::{
    Cloud, CredentialKind, Optional, ProfileKind, ProfileSettings, ProfileStatus, ScopeResult,
};

macro_rules! profile_columns {
    () => {
        "id, uuid, name, tenant, client_id, client_secret_enc, secret_set_at, secret_expires_on, \
         cloud, login_base, graph_base, redirect_uri, notes, status, status_code, status_detail, \
         status_at, account_name, account_upn, account_id, account_tenant, granted_scopes, refresh_token_enc, \
         access_token_enc, access_expires_at, token_version, last_refresh_at, transient_failures, \
         next_attempt_at, authorized_at, authorized_by, version, created_at, updated_at, kind, \
         scope_probe_room, scope_probe_outside, scope_result, scope_detail, scope_checked_at, \
         credential, certificate"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Profile {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub tenant: String,
    pub client_id: String,
    pub client_secret_enc: String,
    pub secret_set_at: DateTime<Utc>,
    pub secret_expires_on: NaiveDate,
    #[sqlx(try_from = "String")]
    pub cloud: Cloud,
    pub login_base: String,
    pub graph_base: String,
    pub redirect_uri: Option<String>,
    pub notes: String,
    #[sqlx(try_from = "String")]
    pub status: ProfileStatus,
    pub status_code: Option<String>,
    pub status_detail: Option<String>,
    pub status_at: Option<DateTime<Utc>>,
    pub account_name: Option<String>,
    pub account_upn: Option<String>,
    pub account_id: Option<String>,
    /// The account's tenant id (the ID token's `tid`), where known.
    pub account_tenant: Option<String>,
    pub granted_scopes: Option<String>,
    pub refresh_token_enc: Option<String>,
    pub access_token_enc: Option<String>,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub token_version: i64,
    pub last_refresh_at: Option<DateTime<Utc>>,
    pub transient_failures: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub authorized_at: Option<DateTime<Utc>>,
    pub authorized_by: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub kind: ProfileKind,
    /// Application profiles' scope check: a room that must be readable, a mailbox that must
    /// be refused, and the last result.
    pub scope_probe_room: Option<String>,
    pub scope_probe_outside: Option<String>,
    #[sqlx(try_from = "Option<String>")]
    pub scope_result: Optional<ScopeResult>,
    pub scope_detail: Option<String>,
    pub scope_checked_at: Option<DateTime<Utc>>,
    /// What `client_secret_enc` holds: a client secret or a certificate's private key.
    #[sqlx(try_from = "String")]
    pub credential: CredentialKind,
    /// The certificate of a certificate credential (base64 DER; public).
    pub certificate: Option<String>,
}

/// A profile's credential as stored: `sealed` under the context its kind names.
#[derive(Debug, Clone, Copy)]
pub struct StoredCredential<'a> {
    pub kind: CredentialKind,
    pub sealed: &'a str,
    pub certificate: Option<&'a str>,
}

impl<'a> StoredCredential<'a> {
    pub fn secret(sealed: &'a str) -> Self {
        Self {
            kind: CredentialKind::Secret,
            sealed,
            certificate: None,
        }
    }
}

impl Profile {
    /// Authorized with a personal Microsoft account (outlook.com and the like): no directory,
    /// no rooms, only its own calendars and those shared with it.
    pub fn personal_account(&self) -> bool {
        self.account_tenant.as_deref() == Some(crate::model::CONSUMERS_TENANT_ID)
    }

    pub fn scopes(&self) -> Vec<String> {
        self.granted_scopes
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(String::from)
            .collect()
    }

    /// Whether the profile holds an authorization (a refresh token).
    /// Can get tokens without an admin signing in again: a delegated profile holds a refresh
    /// token; an application profile needs none.
    pub fn is_authorized(&self) -> bool {
        self.kind == ProfileKind::Application || self.refresh_token_enc.is_some()
    }
}

/// id, uuid and the sealed columns of a profile, for key rotation.
type SealedRow = (i64, String, String, Option<String>, Option<String>, String);

/// Tokens to store after a grant.
pub struct SealedTokens {
    pub refresh_token_enc: Option<String>,
    pub access_token_enc: String,
    pub access_expires_at: DateTime<Utc>,
}

/// What a successful authorization stores besides the tokens.
pub struct Authorization<'a> {
    pub account_name: Option<&'a str>,
    pub account_upn: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub account_tenant: Option<&'a str>,
    pub scopes: &'a str,
    pub authorized_by: &'a str,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OAuthTransaction {
    pub state_hash: String,
    pub profile_id: i64,
    pub admin_id: i64,
    pub verifier_enc: String,
    pub redirect_uri: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A new credential: it moves the status from `from` (with the token version read alongside)
/// to `to`, clears the failure and the backoff, and drops a cached application token (issued to
/// the old credential).
#[derive(Debug, Clone, Copy)]
pub struct NewCredential<'a> {
    pub credential: StoredCredential<'a>,
    pub expires_on: NaiveDate,
    pub from: (ProfileStatus, i64),
    pub to: ProfileStatus,
}

/// A scope check's mailboxes and what it found.
pub struct ScopeCheck<'a> {
    pub room: &'a str,
    pub outside: &'a str,
    pub result: ScopeResult,
    pub detail: Option<&'a str>,
}

/// `$10`: the profile's version, when the credential comes with an edit read at it.
const REPLACE_CREDENTIAL: &str = concat!(
    "UPDATE profiles SET client_secret_enc = $1, secret_expires_on = $2, secret_set_at = $3, \
     status = $4, status_code = NULL, status_detail = NULL, transient_failures = 0, next_attempt_at = NULL, \
     credential = $8, certificate = $9, \
     access_token_enc = CASE WHEN kind = 'application' THEN NULL ELSE access_token_enc END, \
     version = version + 1, updated_at = $3 \
     WHERE id = $5 AND status = $6 AND token_version = $7 AND ($10 IS NULL OR version = $10) RETURNING ",
    profile_columns!()
);

impl Db {
    /// Creates a profile with a client secret.
    pub async fn create_profile(
        &self,
        s: &ProfileSettings,
        uuid: &str,
        secret_enc: &str,
    ) -> Result<Profile> {
        self.create_profile_with(s, uuid, StoredCredential::secret(secret_enc), None)
            .await
    }

    /// Creates a profile with the given credential (its expiry is `s.secret_expires_on`), and
    /// the audit entry when an admin created it.
    pub async fn create_profile_with(
        &self,
        s: &ProfileSettings,
        uuid: &str,
        credential: StoredCredential<'_>,
        audit: Option<&AuditRecord>,
    ) -> Result<Profile> {
        let now = Utc::now();
        let sql = concat!(
            "INSERT INTO profiles (uuid, name, name_key, tenant, client_id, client_secret_enc, \
             secret_set_at, secret_expires_on, cloud, login_base, graph_base, redirect_uri, notes, \
             status, created_at, updated_at, kind, credential, certificate) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $7, $7, $15, $16, $17) RETURNING ",
            profile_columns!()
        );
        transaction!(self, tx => async {
            let p = sqlx::query_as::<_, Profile>(sql)
                .bind(uuid).bind(&s.name).bind(name_key(&s.name)).bind(&s.tenant).bind(&s.client_id)
                .bind(credential.sealed).bind(now).bind(s.secret_expires_on).bind(s.cloud.as_str())
                .bind(&s.login_base).bind(&s.graph_base).bind(&s.redirect_uri).bind(&s.notes)
                .bind(ProfileStatus::New.as_str()).bind(s.kind.as_str())
                .bind(credential.kind.as_str()).bind(credential.certificate)
                .fetch_one(&mut *tx).await?;
            if let Some(audit) = audit {
                audit_in!(tx, audit);
            }
            Ok(p)
        }.await)
    }

    pub async fn list_profiles(&self) -> Result<Vec<Profile>> {
        let sql = concat!(
            "SELECT ",
            profile_columns!(),
            " FROM profiles ORDER BY name_key"
        );
        let out = dispatch!(self, pool => sqlx::query_as::<_, Profile>(sql).fetch_all(pool).await?);
        Ok(out)
    }

    pub async fn profile(&self, id: i64) -> Result<Profile> {
        let sql = concat!(
            "SELECT ",
            profile_columns!(),
            " FROM profiles WHERE id = $1"
        );
        let out = dispatch!(self, pool => sqlx::query_as::<_, Profile>(sql).bind(id).fetch_one(pool).await?);
        Ok(out)
    }

    /// Saves edited settings if nobody changed the profile since `version` was read, with a
    /// new credential if one was entered, and the audit entry: all or nothing. With `reset`,
    /// the profile moves to that status and its tokens are dropped (the caller decides: tokens
    /// of another app registration are worthless). `Conflict` when the profile, or for a new
    /// credential its status or tokens, changed since they were read.
    pub async fn update_profile(
        &self,
        id: i64,
        s: &ProfileSettings,
        version: i64,
        reset: Option<ProfileStatus>,
        credential: Option<NewCredential<'_>>,
        audit: &AuditRecord,
    ) -> Result<Profile> {
        let sql = concat!(
            "UPDATE profiles SET name = $1, name_key = $2, tenant = $3, client_id = $4, \
             secret_expires_on = CASE WHEN credential = 'certificate' THEN secret_expires_on ELSE $5 END, cloud = $6, login_base = $7, graph_base = $8, redirect_uri = $9, \
             notes = $10, version = version + 1, updated_at = $11, \
             status = COALESCE($14, status), \
             refresh_token_enc = CASE WHEN $15 THEN NULL ELSE refresh_token_enc END, \
             access_token_enc = CASE WHEN $15 THEN NULL ELSE access_token_enc END \
             WHERE id = $12 AND version = $13 RETURNING ",
            profile_columns!()
        );
        let reset_status = reset.map(ProfileStatus::as_str);
        let updated = transaction!(self, tx => async {
            let mut version = version;
            if let Some(c) = &credential {
                let Some(p) = sqlx::query_as::<_, Profile>(REPLACE_CREDENTIAL)
                    .bind(c.credential.sealed).bind(c.expires_on).bind(Utc::now())
                    .bind(c.to.as_str()).bind(id).bind(c.from.0.as_str()).bind(c.from.1)
                    .bind(c.credential.kind.as_str()).bind(c.credential.certificate).bind(version)
                    .fetch_optional(&mut *tx).await?
                else {
                    return Err(StoreError::Conflict);
                };
                version = p.version;
            }
            let p = sqlx::query_as::<_, Profile>(sql)
                .bind(&s.name).bind(name_key(&s.name)).bind(&s.tenant).bind(&s.client_id)
                .bind(s.secret_expires_on).bind(s.cloud.as_str()).bind(&s.login_base).bind(&s.graph_base)
                .bind(&s.redirect_uri).bind(&s.notes).bind(Utc::now()).bind(id).bind(version)
                .bind(reset_status).bind(reset.is_some())
                .fetch_optional(&mut *tx).await?
                .ok_or(StoreError::Conflict)?;
            audit_in!(tx, audit);
            Ok(p)
        }.await);
        self.conflict_or_missing(id, updated).await
    }

    /// Stores a new credential (client secret or certificate) with its audit entry; see
    /// [`NewCredential`]. `Conflict` when the status or the tokens changed since they were read
    /// (the caller decides again).
    pub async fn replace_credential(
        &self,
        id: i64,
        c: NewCredential<'_>,
        audit: &AuditRecord,
    ) -> Result<Profile> {
        let p = transaction!(self, tx => async {
            let p = sqlx::query_as::<_, Profile>(REPLACE_CREDENTIAL)
                .bind(c.credential.sealed).bind(c.expires_on).bind(Utc::now())
                .bind(c.to.as_str()).bind(id).bind(c.from.0.as_str()).bind(c.from.1)
                .bind(c.credential.kind.as_str()).bind(c.credential.certificate).bind(None::<i64>)
                .fetch_optional(&mut *tx).await?
                .ok_or(StoreError::Conflict)?;
            audit_in!(tx, audit);
            Ok(p)
        }.await);
        self.conflict_or_missing(id, p).await
    }

    /// A conditional change that matched nothing: `NotFound` when the profile is gone.
    async fn conflict_or_missing(&self, id: i64, r: Result<Profile>) -> Result<Profile> {
        if let Err(StoreError::Conflict) = r {
            self.profile(id).await?;
        }
        r
    }

    /// Deletes a profile and its subscriptions in one transaction. With `keep_events` the
    /// subscriptions stay (marked deleted, detached) for their imported events to refer to;
    /// otherwise they go, and their events with them. Returns how many subscriptions it had.
    pub async fn delete_profile(
        &self,
        id: i64,
        keep_events: bool,
        audit: impl FnOnce(u64) -> AuditRecord,
    ) -> Result<u64> {
        let now = Utc::now();
        transaction!(self, tx => async {
            let subscriptions = if keep_events {
                sqlx::query("UPDATE subscriptions SET deleted_at = $1, enabled = FALSE WHERE profile_id = $2 AND deleted_at IS NULL")
                    .bind(now).bind(id).execute(&mut *tx).await?.rows_affected()
            } else {
                sqlx::query("DELETE FROM subscriptions WHERE profile_id = $1 AND deleted_at IS NULL")
                    .bind(id).execute(&mut *tx).await?.rows_affected()
            };
            let n = sqlx::query("DELETE FROM profiles WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            audit_in!(tx, &audit(subscriptions));
            Ok(subscriptions)
        }.await)
    }

    /// Records a status with the platform's code and a one-line explanation, with the audit
    /// entry of the change when there is one.
    pub async fn set_profile_status(
        &self,
        id: i64,
        status: ProfileStatus,
        (code, detail): (Option<&str>, Option<&str>),
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let sql = "UPDATE profiles SET status = $1, status_code = $2, status_detail = $3, status_at = $4, \
                   refresh_lock_owner = NULL, refresh_lock_until = NULL WHERE id = $5";
        transaction!(self, tx => async {
            sqlx::query(sql).bind(status.as_str()).bind(code).bind(detail).bind(Utc::now()).bind(id)
                .execute(&mut *tx).await?;
            if let Some(audit) = audit {
                audit_in!(tx, audit);
            }
            Ok(())
        }.await)
    }

    /// The admin fixed the cause outside Datapump: the profile is OK again as far as it is
    /// known, without its failure and backoff, so that the next use tries at once.
    pub async fn retry_profile(&self, id: i64, audit: &AuditRecord) -> Result<()> {
        transaction!(self, tx => async {
            let n = sqlx::query(
                "UPDATE profiles SET status = $1, status_code = NULL, status_detail = NULL, status_at = $2, \
                 refresh_lock_owner = NULL, refresh_lock_until = NULL, transient_failures = 0, \
                 next_attempt_at = NULL WHERE id = $3",
            )
            .bind(ProfileStatus::Ok.as_str()).bind(Utc::now()).bind(id)
            .execute(&mut *tx).await?.rows_affected();
            if n != 1 {
                return Err(StoreError::NotFound);
            }
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }

    /// Forgets the account: refresh and access token deleted, the profile is "not authorized
    /// yet" (its subscriptions pause until it is authorized again). The token version moves, so
    /// a refresh in flight elsewhere cannot store its result.
    pub async fn disconnect_profile(&self, id: i64, audit: &AuditRecord) -> Result<()> {
        let sql = "UPDATE profiles SET refresh_token_enc = NULL, access_token_enc = NULL, access_expires_at = NULL, \
                   token_version = token_version + 1, status = $1, status_code = NULL, status_detail = NULL, \
                   status_at = $2, transient_failures = 0, next_attempt_at = NULL, authorized_at = NULL, \
                   refresh_lock_owner = NULL, refresh_lock_until = NULL, version = version + 1, updated_at = $2 \
                   WHERE id = $3";
        transaction!(self, tx => async {
            let n = sqlx::query(sql).bind(ProfileStatus::New.as_str()).bind(Utc::now()).bind(id)
                .execute(&mut *tx).await?.rows_affected();
            if n != 1 {
                return Err(StoreError::NotFound);
            }
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }

    /// Stores the tokens of a fresh authorization; the profile is OK again.
    pub async fn store_authorization(
        &self,
        id: i64,
        tokens: &SealedTokens,
        a: &Authorization<'_>,
        audit: &AuditRecord,
    ) -> Result<()> {
        let now = Utc::now();
        let sql = "UPDATE profiles SET refresh_token_enc = $1, access_token_enc = $2, access_expires_at = $3, \
                   token_version = token_version + 1, last_refresh_at = $4, status = $11, status_code = NULL, \
                   status_detail = NULL, status_at = $4, transient_failures = 0, next_attempt_at = NULL, \
                   account_name = $5, account_upn = $6, account_id = $7, granted_scopes = $8, \
                   authorized_at = $4, authorized_by = $9, refresh_lock_owner = NULL, refresh_lock_until = NULL, \
                   account_tenant = $12, version = version + 1, updated_at = $4 WHERE id = $10";
        transaction!(self, tx => async {
            sqlx::query(sql)
                .bind(&tokens.refresh_token_enc).bind(&tokens.access_token_enc).bind(tokens.access_expires_at)
                .bind(now).bind(a.account_name).bind(a.account_upn).bind(a.account_id).bind(a.scopes)
                .bind(a.authorized_by).bind(id).bind(ProfileStatus::Ok.as_str()).bind(a.account_tenant)
                .execute(&mut *tx).await?;
            audit_in!(tx, audit);
            Ok::<(), StoreError>(())
        }.await)?;
        // The account's domain is internal from now on.
        self.refresh_internal_domains().await?;
        Ok(())
    }

    /// Stores refreshed tokens only if nobody stored newer ones since `token_version` was read
    /// (another instance may have rotated the refresh token). `false` when that happened.
    pub async fn store_refreshed_tokens(
        &self,
        id: i64,
        token_version: i64,
        tokens: &SealedTokens,
        scopes: Option<&str>,
        audit: Option<&AuditRecord>,
    ) -> Result<bool> {
        let now = Utc::now();
        let sql = "UPDATE profiles SET refresh_token_enc = COALESCE($1, refresh_token_enc), access_token_enc = $2, \
                   access_expires_at = $3, token_version = token_version + 1, last_refresh_at = $4, \
                   granted_scopes = COALESCE($5, granted_scopes), \
                   status = $8, status_code = NULL, status_detail = NULL, transient_failures = 0, \
                   next_attempt_at = NULL, refresh_lock_owner = NULL, refresh_lock_until = NULL \
                   WHERE id = $6 AND token_version = $7";
        transaction!(self, tx => async {
            let n = sqlx::query(sql)
                .bind(&tokens.refresh_token_enc).bind(&tokens.access_token_enc).bind(tokens.access_expires_at)
                .bind(now).bind(scopes).bind(id).bind(token_version).bind(ProfileStatus::Ok.as_str())
                .execute(&mut *tx).await?.rows_affected();
            if let (1, Some(audit)) = (n, audit) {
                audit_in!(tx, audit);
            }
            Ok(n == 1)
        }.await)
    }

    /// Records a scope check of an application profile with the mailboxes it used.
    pub async fn record_scope_check(
        &self,
        id: i64,
        c: &ScopeCheck<'_>,
        audit: &AuditRecord,
    ) -> Result<()> {
        let sql = "UPDATE profiles SET scope_probe_room = $1, scope_probe_outside = $2, scope_result = $3, \
                   scope_detail = $4, scope_checked_at = $5 WHERE id = $6";
        transaction!(self, tx => async {
            sqlx::query(sql).bind(c.room).bind(c.outside).bind(c.result.as_str()).bind(c.detail)
                .bind(Utc::now()).bind(id).execute(&mut *tx).await?;
            audit_in!(tx, audit);
            Ok(())
        }.await)
    }

    /// An application profile's identity as its last token names it: the roles granted in
    /// Entra (space-separated) and the service principal, kept when the token names none.
    pub async fn set_app_identity(
        &self,
        id: i64,
        roles: &str,
        service_principal: Option<&str>,
    ) -> Result<()> {
        let sql = "UPDATE profiles SET granted_scopes = $1, account_id = COALESCE($2, account_id) WHERE id = $3";
        dispatch!(self, pool => {
            sqlx::query(sql).bind(roles).bind(service_principal).bind(id).execute(pool).await?;
        });
        Ok(())
    }

    /// Takes the profile's refresh lease (so one instance refreshes at a time); `false` while
    /// another owner holds an unexpired lease.
    pub async fn try_lock_refresh(
        &self,
        id: i64,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = "UPDATE profiles SET refresh_lock_owner = $1, refresh_lock_until = $2 WHERE id = $3 AND \
                   (refresh_lock_until IS NULL OR refresh_lock_until < $4 OR refresh_lock_owner = $1)";
        let n = dispatch!(self, pool => {
            sqlx::query(sql).bind(owner).bind(until).bind(id).bind(Utc::now()).execute(pool).await?.rows_affected()
        });
        Ok(n == 1)
    }

    pub async fn unlock_refresh(&self, id: i64, owner: &str) -> Result<()> {
        let sql = "UPDATE profiles SET refresh_lock_owner = NULL, refresh_lock_until = NULL \
                   WHERE id = $1 AND refresh_lock_owner = $2";
        dispatch!(self, pool => {
            sqlx::query(sql).bind(id).bind(owner).execute(pool).await?;
        });
        Ok(())
    }

    /// A network or service failure: back off. Returns the failures in a row and the status,
    /// from which the caller decides whether the profile now shows as unreachable.
    pub async fn record_transient_failure(
        &self,
        id: i64,
        next_attempt: DateTime<Utc>,
        detail: &str,
    ) -> Result<(i64, ProfileStatus)> {
        let sql = "UPDATE profiles SET transient_failures = transient_failures + 1, next_attempt_at = $1, \
                   status_detail = $2, status_at = $3, \
                   refresh_lock_owner = NULL, refresh_lock_until = NULL WHERE id = $4 \
                   RETURNING transient_failures, status";
        let (n, status): (i64, String) = dispatch!(self, pool => {
            sqlx::query_as(sql).bind(next_attempt).bind(detail).bind(Utc::now()).bind(id)
                .fetch_one(pool).await?
        });
        Ok((n, status.parse()?))
    }

    /// Moves the status from `from` to `to` unless it changed meanwhile; `false` then.
    pub async fn change_profile_status(
        &self,
        id: i64,
        from: ProfileStatus,
        to: ProfileStatus,
        audit: &AuditRecord,
    ) -> Result<bool> {
        let sql = "UPDATE profiles SET status = $1, status_at = $2 WHERE id = $3 AND status = $4";
        transaction!(self, tx => async {
            let n = sqlx::query(sql).bind(to.as_str()).bind(Utc::now()).bind(id).bind(from.as_str())
                .execute(&mut *tx).await?.rows_affected();
            if n == 1 {
                audit_in!(tx, audit);
            }
            Ok(n == 1)
        }.await)
    }

    /// Authorized profiles whose last refresh was before `before`, with their status.
    pub async fn profiles_refreshed_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<(i64, ProfileStatus)>> {
        let sql = "SELECT id, status FROM profiles WHERE refresh_token_enc IS NOT NULL \
                   AND (last_refresh_at IS NULL OR last_refresh_at < $1) ORDER BY id";
        let rows = dispatch!(self, pool => sqlx::query_as::<_, (i64, String)>(sql).bind(before).fetch_all(pool).await?);
        rows.into_iter()
            .map(|(id, status)| Ok((id, status.parse()?)))
            .collect()
    }

    /// An authorization an admin started, with its audit entry.
    pub async fn insert_oauth_transaction(
        &self,
        t: &OAuthTransaction,
        audit: &AuditRecord,
    ) -> Result<()> {
        let sql = "INSERT INTO oauth_transactions (state_hash, profile_id, admin_id, verifier_enc, redirect_uri, \
                   created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        transaction!(self, tx => async {
            sqlx::query(sql).bind(&t.state_hash).bind(t.profile_id).bind(t.admin_id).bind(&t.verifier_enc)
                .bind(&t.redirect_uri).bind(t.created_at).bind(t.expires_at).execute(&mut *tx).await?;
            audit_in!(tx, audit);
            Ok::<(), StoreError>(())
        }.await)?;
        Ok(())
    }

    pub async fn oauth_transaction(&self, state_hash: &str) -> Result<Option<OAuthTransaction>> {
        let sql = "SELECT state_hash, profile_id, admin_id, verifier_enc, redirect_uri, created_at, expires_at, used_at \
                   FROM oauth_transactions WHERE state_hash = $1";
        let out = dispatch!(self, pool => sqlx::query_as::<_, OAuthTransaction>(sql).bind(state_hash).fetch_optional(pool).await?);
        Ok(out)
    }

    /// Marks a transaction used; `false` if it was used before (a replay).
    pub async fn use_oauth_transaction(&self, state_hash: &str) -> Result<bool> {
        let sql =
            "UPDATE oauth_transactions SET used_at = $1 WHERE state_hash = $2 AND used_at IS NULL";
        let n = dispatch!(self, pool => {
            sqlx::query(sql).bind(Utc::now()).bind(state_hash).execute(pool).await?.rows_affected()
        });
        Ok(n == 1)
    }

    pub async fn prune_oauth_transactions(&self, before: DateTime<Utc>) -> Result<u64> {
        let out = dispatch!(self, pool => {
            sqlx::query("DELETE FROM oauth_transactions WHERE expires_at < $1").bind(before).execute(pool).await?.rows_affected()
        });
        Ok(out)
    }

    /// Re-seals every secret under `new` (key rotation), in one transaction.
    pub async fn reseal_all(
        &self,
        old: &SecretKey,
        new: &SecretKey,
        canary: (&str, &str),
    ) -> Result<usize> {
        let reseal = |context: &str, sealed: &str| -> Result<String> {
            let plain = old
                .open(context, sealed)
                .map_err(|e| StoreError::Corrupt(format!("{context}: {e}")))?;
            Ok(new.seal(context, &plain))
        };
        transaction!(self, tx => async {
            let mut count = 0;
            let rows: Vec<SealedRow> = sqlx::query_as(
                "SELECT id, uuid, client_secret_enc, refresh_token_enc, access_token_enc, credential FROM profiles",
            ).fetch_all(&mut *tx).await?;
            for (id, uuid, secret, refresh, access, credential) in rows {
                let column = match CredentialKind::try_from(credential).map_err(|e| StoreError::Corrupt(e.to_string()))? {
                    CredentialKind::Secret => ProfileColumn::ClientSecret,
                    CredentialKind::Certificate => ProfileColumn::PrivateKey,
                };
                let secret = reseal(&context::profile(column, &uuid), &secret)?;
                let refresh = refresh.map(|r| reseal(&context::profile(ProfileColumn::RefreshToken, &uuid), &r)).transpose()?;
                let access = access.map(|a| reseal(&context::profile(ProfileColumn::AccessToken, &uuid), &a)).transpose()?;
                count += 1 + usize::from(refresh.is_some()) + usize::from(access.is_some());
                sqlx::query("UPDATE profiles SET client_secret_enc = $1, refresh_token_enc = $2, access_token_enc = $3 WHERE id = $4")
                    .bind(secret).bind(refresh).bind(access).bind(id).execute(&mut *tx).await?;
            }
            let txs: Vec<(String, String)> = sqlx::query_as("SELECT state_hash, verifier_enc FROM oauth_transactions")
                .fetch_all(&mut *tx).await?;
            for (hash, verifier) in txs {
                let v = reseal(&context::oauth_verifier(&hash), &verifier)?;
                sqlx::query("UPDATE oauth_transactions SET verifier_enc = $1 WHERE state_hash = $2")
                    .bind(v).bind(hash).execute(&mut *tx).await?;
                count += 1;
            }
            let hooks: Vec<(i64, String)> = sqlx::query_as("SELECT token_id, secret_enc FROM webhooks")
                .fetch_all(&mut *tx).await?;
            for (token_id, secret) in hooks {
                let v = reseal(&context::webhook_secret(token_id), &secret)?;
                sqlx::query("UPDATE webhooks SET secret_enc = $1 WHERE token_id = $2")
                    .bind(v).bind(token_id).execute(&mut *tx).await?;
                count += 1;
            }
            let (canary_name, canary_value) = canary;
            sqlx::query("UPDATE settings SET value = $1 WHERE name = $2")
                .bind(canary_value).bind(canary_name).execute(&mut *tx).await?;
            Ok(count)
        }.await)
    }
}

//! The token service: the one place that turns a profile into a valid access token.
//!
//! - Refreshes ahead of expiry; the rotated refresh token is committed before the new access
//!   token is handed out (Entra does not revoke the old one, so a crash in between is harmless).
//! - Single flight: one refresh per profile at a time, in this process (a mutex) and across
//!   instances sharing PostgreSQL (a lease in the row, plus a compare-and-swap on the token
//!   version so that no rotation is ever overwritten by an older one).
//! - Failures become the profile's status; a paused profile does not call the token endpoint
//!   again until an admin acts. Network and service errors back off and keep the status.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use super::ProfileStatus;
use crate::crypto::SecretKey;
use crate::crypto::certificate::CertificateCredential;
use crate::crypto::context::{self, ProfileColumn};
use crate::graph::oauth::{self, AppCredentials, ClientAuth, TokenSet};
use crate::graph::{Endpoints, TokenError};
use crate::model::{CredentialKind, ProfileKind};
use crate::storage::audit::AuditRecord;
use crate::storage::profiles::{Authorization, Profile, SealedTokens};
use crate::storage::{Db, StoreError};
use crate::time::{before, delta as dur, from_now};

/// Tunables of the token service.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// Refresh when less than this is left of the access token.
    pub refresh_margin: Duration,
    /// How long a refresh lease is held at most.
    pub lease: Duration,
    /// First backoff after a transient failure (doubles, with full jitter).
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Consecutive transient failures before the profile shows as unreachable.
    pub unreachable_after: i64,
    /// Idle profiles are refreshed after this long, so the 90-day inactivity limit never hits.
    pub keep_alive_after: Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            refresh_margin: Duration::from_secs(5 * 60),
            lease: Duration::from_secs(30),
            backoff_base: Duration::from_secs(30),
            backoff_cap: Duration::from_secs(30 * 60),
            unreachable_after: 5,
            keep_alive_after: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenFailure {
    /// The profile needs an admin first (re-authorize, new secret, consent, …).
    #[error("profile is paused: {}", .0.as_str())]
    Paused(ProfileStatus),
    /// A transient failure; the next attempt is not before the given time.
    #[error("the identity platform is not reachable right now; next attempt at {0}")]
    Backoff(DateTime<Utc>),
    /// The refresh failed now; the status was updated accordingly.
    #[error("token refresh failed: {0}")]
    Refresh(TokenError),
    #[error("stored secret unreadable: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("stored certificate unusable: {0}")]
    Certificate(#[from] crate::crypto::certificate::CertificateError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A usable access token.
#[derive(Clone)]
pub struct AccessToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// One profile's single flight: its lock, holding the latest refresh made under it.
type Flight = Arc<tokio::sync::Mutex<Option<(std::time::Instant, AccessToken)>>>;

pub struct TokenService {
    db: Db,
    key: Arc<SecretKey>,
    client: crate::graph::Client,
    policy: TokenPolicy,
    owner: String,
    /// Per profile: the lock of the single flight, and the latest refresh done under it.
    flights: Mutex<HashMap<i64, Flight>>,
    /// Per profile: the token last handed out and when the database last confirmed it (status
    /// not paused, token current). Spares a sync a database read per Graph request.
    recent: Mutex<HashMap<i64, (std::time::Instant, AccessToken)>>,
}

/// How long a token confirmed by the database is handed out without asking it again: a pause
/// or a refresh made elsewhere is seen within this time.
const RECHECK: Duration = Duration::from_secs(2);

impl TokenService {
    pub fn new(
        db: Db,
        key: Arc<SecretKey>,
        client: crate::graph::Client,
        policy: TokenPolicy,
    ) -> Self {
        Self {
            db,
            key,
            client,
            policy,
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            flights: Mutex::new(HashMap::new()),
            recent: Mutex::new(HashMap::new()),
        }
    }

    pub fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The client for Microsoft's endpoints the tokens are used with.
    pub fn client(&self) -> &crate::graph::Client {
        &self.client
    }

    fn flight(&self, id: i64) -> Flight {
        let mut map = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(id).or_default().clone()
    }

    pub fn seal(&self, column: ProfileColumn, uuid: &str, value: &str) -> String {
        self.key
            .seal(&context::profile(column, uuid), value.as_bytes())
    }

    pub fn open(
        &self,
        column: ProfileColumn,
        uuid: &str,
        sealed: &str,
    ) -> Result<String, crate::crypto::CryptoError> {
        self.key
            .open_string(&context::profile(column, uuid), sealed)
    }

    /// The client credentials of a profile, decrypted for one call.
    pub fn client_secret(&self, p: &Profile) -> Result<String, crate::crypto::CryptoError> {
        self.open(ProfileColumn::ClientSecret, &p.uuid, &p.client_secret_enc)
    }

    /// The certificate credential of a profile, its private key opened for one call.
    pub fn certificate(&self, p: &Profile) -> Result<CertificateCredential, TokenFailure> {
        let key = zeroize::Zeroizing::new(self.open(
            ProfileColumn::PrivateKey,
            &p.uuid,
            &p.client_secret_enc,
        )?);
        let der = p
            .certificate
            .as_deref()
            .and_then(crate::crypto::certificate::decode_der)
            .ok_or(crate::crypto::certificate::CertificateError::NoCertificate)?;
        Ok(CertificateCredential::from_stored(&key, &der)?)
    }

    /// Stores a new authorization (tokens from the code flow, the account) and drops the token
    /// remembered for the profile, so that the next request uses the new one at once. Returns
    /// when the access token expires.
    pub async fn store_authorization(
        &self,
        p: &Profile,
        tokens: &TokenSet,
        a: &Authorization<'_>,
        audit: &crate::storage::audit::AuditRecord,
    ) -> Result<DateTime<Utc>, StoreError> {
        let sealed = self.seal_tokens(&p.uuid, tokens);
        self.db.store_authorization(p.id, &sealed, a, audit).await?;
        self.forget(p.id);
        Ok(sealed.access_expires_at)
    }

    fn seal_tokens(&self, uuid: &str, t: &TokenSet) -> SealedTokens {
        SealedTokens {
            refresh_token_enc: t
                .refresh_token
                .as_deref()
                .map(|r| self.seal(ProfileColumn::RefreshToken, uuid, r)),
            access_token_enc: self.seal(ProfileColumn::AccessToken, uuid, &t.access_token),
            access_expires_at: from_now(t.expires_in),
        }
    }

    /// The stored access token if more than `margin` of it is left. The margin never exceeds
    /// half the token's lifetime, so that short-lived tokens are not refreshed on every use.
    fn cached(&self, p: &Profile, margin: Duration) -> Option<AccessToken> {
        let (enc, expires) = (p.access_token_enc.as_deref()?, p.access_expires_at?);
        let lifetime = p
            .last_refresh_at
            .map(|at| expires - at)
            .unwrap_or(chrono::Duration::MAX);
        let margin = dur(margin).min(lifetime / 2);
        if expires.checked_sub_signed(margin).unwrap_or(expires) <= Utc::now() {
            return None;
        }
        let token = self.open(ProfileColumn::AccessToken, &p.uuid, enc).ok()?;
        Some(AccessToken {
            token,
            expires_at: expires,
        })
    }

    /// A valid access token for the profile, refreshing it if needed.
    pub async fn access_token(&self, profile_id: i64) -> Result<AccessToken, TokenFailure> {
        self.token(profile_id, false).await
    }

    /// Refreshes now even if the access token is still valid (keep-alive, "check now").
    pub async fn force_refresh(&self, profile_id: i64) -> Result<AccessToken, TokenFailure> {
        self.token(profile_id, true).await
    }

    async fn token(&self, profile_id: i64, force: bool) -> Result<AccessToken, TokenFailure> {
        let asked = std::time::Instant::now();
        if !force && let Some(token) = self.recent(profile_id, asked) {
            return Ok(token);
        }
        let result = self.token_checked(profile_id, force, asked).await;
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(token) => recent.insert(profile_id, (std::time::Instant::now(), token.clone())),
            Err(_) => recent.remove(&profile_id),
        };
        result
    }

    /// Drops the remembered token: the profile's authorization changed here.
    pub fn forget(&self, profile_id: i64) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.remove(&profile_id);
    }

    /// The token confirmed less than `RECHECK` ago, unless it is due for a refresh.
    fn recent(&self, profile_id: i64, now: std::time::Instant) -> Option<AccessToken> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let (checked, token) = recent.get(&profile_id)?;
        (now.saturating_duration_since(*checked) < RECHECK
            && before(token.expires_at, self.policy.refresh_margin) > Utc::now())
        .then(|| token.clone())
    }

    async fn token_checked(
        &self,
        profile_id: i64,
        force: bool,
        asked: std::time::Instant,
    ) -> Result<AccessToken, TokenFailure> {
        let flight = self.flight(profile_id);
        let mut last = flight.lock().await;
        // Whoever asked while a refresh was under way takes its result.
        if let Some((done, token)) = last.as_ref()
            && *done >= asked
            && token.expires_at > Utc::now()
        {
            return Ok(token.clone());
        }
        let result = self.obtain(profile_id, force).await;
        if let Ok((token, refreshed)) = &result
            && *refreshed
        {
            *last = Some((std::time::Instant::now(), token.clone()));
        }
        result.map(|(token, _)| token)
    }

    /// The token, and whether it is a new one (refreshed here or by another instance).
    async fn obtain(
        &self,
        profile_id: i64,
        force: bool,
    ) -> Result<(AccessToken, bool), TokenFailure> {
        let p = self.db.profile(profile_id).await?;
        let status = p.status;
        if status.is_paused() {
            return Err(TokenFailure::Paused(status));
        }
        if !force && let Some(t) = self.cached(&p, self.policy.refresh_margin) {
            return Ok((t, false));
        }
        if let Some(next) = p.next_attempt_at.filter(|n| *n > Utc::now()) {
            // Backing off; the current token may still be good for a while.
            return self
                .cached(&p, Duration::ZERO)
                .map(|t| (t, false))
                .ok_or(TokenFailure::Backoff(next));
        }
        // Across instances: wait for another instance's refresh instead of racing it.
        let seen_version = p.token_version;
        let lease_until = from_now(self.policy.lease);
        let mut waited = Duration::ZERO;
        while !self
            .db
            .try_lock_refresh(profile_id, &self.owner, lease_until)
            .await?
        {
            if waited >= self.policy.lease {
                return Err(TokenFailure::Backoff(from_now(self.policy.lease)));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            waited += Duration::from_millis(200);
            let fresh = self.db.profile(profile_id).await?;
            if fresh.token_version != p.token_version
                && let Some(t) = self.cached(&fresh, Duration::ZERO)
            {
                return Ok((t, true));
            }
        }
        // Another instance may have refreshed and released the lease after we read the profile:
        // then use its tokens rather than rotating again.
        let p = self.db.profile(profile_id).await?;
        if p.token_version != seen_version
            && let Some(t) = self.cached(&p, Duration::ZERO)
        {
            self.db.unlock_refresh(profile_id, &self.owner).await?;
            return Ok((t, true));
        }
        let result = self.refresh_locked(p).await;
        if result.is_err() {
            // Status updates release the lease; make sure it is released in every case.
            let _ = self.db.unlock_refresh(profile_id, &self.owner).await;
        }
        result.map(|t| (t, true))
    }

    async fn refresh_locked(&self, p: Profile) -> Result<AccessToken, TokenFailure> {
        if p.kind == ProfileKind::Application {
            return self.app_token_locked(p).await;
        }
        let Some(rt_enc) = p.refresh_token_enc.clone() else {
            self.fail(
                &p,
                ProfileStatus::NeedsReauth,
                None,
                "no refresh token stored",
            )
            .await?;
            return Err(TokenFailure::Paused(ProfileStatus::NeedsReauth));
        };
        let refresh_token = self.open(ProfileColumn::RefreshToken, &p.uuid, &rt_enc)?;
        let secret = self.client_secret(&p)?;
        let redirect = p
            .redirect_uri
            .clone()
            .unwrap_or_else(|| "http://localhost".into());
        let endpoints = Endpoints::from(&p);
        let result = {
            let app = AppCredentials {
                client_id: &p.client_id,
                client_secret: &secret,
                redirect_uri: &redirect,
            };
            oauth::refresh(&self.client, &endpoints, &app, &refresh_token).await
        };
        match result {
            Ok(tokens) => self.store_refresh(&p, tokens).await,
            Err(e) => self.refresh_failed(&p, e).await,
        }
    }

    /// A refused or failed token request: the profile's new status, or a backoff.
    async fn refresh_failed(
        &self,
        p: &Profile,
        e: TokenError,
    ) -> Result<AccessToken, TokenFailure> {
        let code = e.code();
        let summary = e.summary();
        match super::status_after(e.class()) {
            Some(status) => {
                self.fail(p, status, code.as_deref(), &summary).await?;
            }
            None => {
                let next = from_now(self.backoff(p.transient_failures));
                let (n, status) = self
                    .db
                    .record_transient_failure(p.id, next, &summary)
                    .await?;
                let after = status.after_transient_failures(n, self.policy.unreachable_after);
                if after != status {
                    let audit = status_changed(p, format!("{status} -> {after}: {summary}"));
                    self.db
                        .change_profile_status(p.id, status, after, &audit)
                        .await?;
                }
                tracing::warn!(profile = p.id, failures = n, error = %summary, "token request failed; retrying later");
            }
        }
        Err(TokenFailure::Refresh(e))
    }

    /// Application profiles: a new app-only token by client credentials. Its `roles` are
    /// stored for the profile page. A token without Calendars.Read does not pause the profile:
    /// Exchange Online's RBAC for Applications grants mailbox access outside Entra, so the
    /// recommended, scoped setup has no such role in the token (Microsoft: grants in Entra and
    /// in RBAC for Applications are additive; the Entra grant is the unscoped one). Whether the
    /// app can read a mailbox is proven by reading it, not by the token.
    async fn app_token_locked(&self, p: Profile) -> Result<AccessToken, TokenFailure> {
        let endpoints = Endpoints::from(&p);
        let secret;
        let auth = match p.credential {
            CredentialKind::Secret => {
                secret = zeroize::Zeroizing::new(self.client_secret(&p)?);
                ClientAuth::Secret(&secret)
            }
            CredentialKind::Certificate => {
                ClientAuth::Assertion(self.certificate(&p)?.client_assertion(
                    &p.client_id,
                    &endpoints.token_url(),
                    Utc::now(),
                )?)
            }
        };
        match oauth::client_credentials(&self.client, &endpoints, &p.client_id, auth).await {
            Ok(mut tokens) => {
                match oauth::app_claims(&tokens.access_token) {
                    // Stored also when empty: "no roles" is worth showing.
                    Some(claims) => {
                        self.db
                            .set_app_identity(
                                p.id,
                                &claims.roles.join(" "),
                                claims.service_principal.as_deref(),
                            )
                            .await?;
                        tokens.scopes = claims.roles;
                    }
                    None => tokens.scopes.clear(),
                }
                self.store_refresh(&p, tokens).await
            }
            Err(e) => self.refresh_failed(&p, e).await,
        }
    }

    /// Persists refreshed tokens before handing out the access token.
    async fn store_refresh(
        &self,
        p: &Profile,
        tokens: TokenSet,
    ) -> Result<AccessToken, TokenFailure> {
        let sealed = self.seal_tokens(&p.uuid, &tokens);
        let scopes = (!tokens.scopes.is_empty()).then(|| tokens.scopes.join(" "));
        let stored = self
            .db
            .store_refreshed_tokens(
                p.id,
                p.token_version,
                &sealed,
                scopes.as_deref(),
                (p.status != ProfileStatus::Ok)
                    .then(|| status_changed(p, format!("{} -> ok", p.status)))
                    .as_ref(),
            )
            .await?;
        if !stored {
            // Someone stored newer tokens meanwhile: use theirs, keep the newest rotation.
            let fresh = self.db.profile(p.id).await?;
            return self
                .cached(&fresh, Duration::ZERO)
                .ok_or(TokenFailure::Backoff(
                    Utc::now() + chrono::Duration::seconds(1),
                ));
        }
        Ok(AccessToken {
            token: tokens.access_token,
            expires_at: sealed.access_expires_at,
        })
    }

    /// Capped exponential backoff with full jitter, at least one second.
    fn backoff(&self, failures: i64) -> Duration {
        let attempt = u32::try_from(failures).unwrap_or(u32::MAX).min(16);
        let ceiling = self
            .policy
            .backoff_base
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.policy.backoff_cap);
        let ms = u64::try_from(ceiling.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        Duration::from_millis(rand::rng().random_range(0..=ms)).max(Duration::from_secs(1))
    }

    async fn fail(
        &self,
        p: &Profile,
        status: ProfileStatus,
        code: Option<&str>,
        detail: &str,
    ) -> Result<(), StoreError> {
        tracing::warn!(
            profile = p.id,
            status = status.as_str(),
            code,
            "profile paused: {detail}"
        );
        let audit = status_changed(
            p,
            format!(
                "{} -> {}: {}",
                p.status,
                status.as_str(),
                code.unwrap_or(detail)
            ),
        );
        self.db
            .set_profile_status(p.id, status, (code, Some(detail)), Some(&audit))
            .await?;
        Ok(())
    }

    /// Refreshes profiles idle for longer than the keep-alive period. Returns how many were
    /// refreshed successfully.
    pub async fn keep_alive(&self) -> Result<usize, StoreError> {
        let idle_since = before(Utc::now(), self.policy.keep_alive_after);
        let mut ok = 0;
        let idle = self.db.profiles_refreshed_before(idle_since).await?;
        for id in idle
            .into_iter()
            .filter(|(_, status)| !status.is_paused())
            .map(|(id, _)| id)
        {
            match self.force_refresh(id).await {
                Ok(_) => ok += 1,
                Err(e) => {
                    tracing::info!(profile = id, error = %e, "keep-alive refresh did not succeed")
                }
            }
        }
        Ok(ok)
    }
}

/// The audit entry of a status the token service changed (no admin made it).
fn status_changed(p: &Profile, details: String) -> AuditRecord {
    AuditRecord {
        actor: Some("system".into()),
        action: "profile.status_changed",
        target: Some(p.name.clone()),
        details: Some(details),
        ..AuditRecord::default()
    }
}

//! Authorizing a profile: the authorization-code flow with PKCE, from the URL the admin's
//! browser is sent to until the tokens and the account are stored. The web handlers and
//! `datapump demo` both go through here; the handlers keep only the session, flash messages
//! and redirects.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::tokens::TokenService;
use super::{ProfileStatus, status_after};
use crate::crypto::context;
use crate::crypto::{self, CryptoError, SecretKey};
use crate::graph::oauth::{self, AppCredentials};
use crate::graph::{Endpoints, TokenError};
use crate::storage::audit::Actor;
use crate::storage::profiles::{Authorization, OAuthTransaction, Profile};
use crate::storage::{Db, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// No pending authorization has this state (forged, or from another instance's database).
    #[error("unknown authorization state")]
    StateUnknown,
    #[error("the authorization state was used before")]
    StateReused,
    #[error("the authorization took too long")]
    StateExpired,
    /// The answer came to the redirect path of another profile, or names another issuer than
    /// the profile's (an authorization mix-up, RFC 9700 §4.4): nothing is exchanged.
    #[error("the answer belongs to another profile or identity provider")]
    MixUp,
    /// The answer carried neither a code nor an error.
    #[error("the answer carries no authorization code")]
    CodeMissing,
    /// Application profiles sign in without a user: there is nothing to authorize.
    #[error("an application profile is not authorized by an account")]
    NotDelegated,
    /// Only a signed-in admin starts an authorization: the transaction belongs to them.
    #[error("an authorization is started by a signed-in admin")]
    NotSignedIn,
    #[error("the authorization request could not be built: {0}")]
    Request(TokenError),
    #[error("stored secret unreadable: {0}")]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A started authorization: where to send the browser, and the hash of its state (what the
/// admin's session keeps to recognise the answer).
pub struct Started {
    pub url: String,
    pub state_hash: String,
}

/// Where and how an answer arrived, beyond its state: the profile named by the redirect path
/// (`/callback/{id}`; none for the shared `/callback`) and the `iss` parameter of RFC 9207, if
/// the identity provider sent one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arrival {
    pub path_profile: Option<i64>,
    pub issuer: Option<String>,
}

/// The v2.0 issuer of a tenant: `{login}/{tenant id}/v2.0`.
fn issuer_of(login_base: &str, tenant_id: &str) -> String {
    format!("{}/{tenant_id}/v2.0", login_base.trim_end_matches('/'))
}

/// Whether `iss` can be the issuer for this profile before the ID token names the tenant:
/// exactly the tenant's issuer for a tenant given by id; for `common`, `organizations`,
/// `consumers` or a domain name, an issuer of the profile's login address for some tenant id.
fn issuer_may_be(profile: &Profile, iss: &str) -> bool {
    if uuid::Uuid::parse_str(&profile.tenant).is_ok() {
        return iss == issuer_of(&profile.login_base, &profile.tenant);
    }
    let base = format!("{}/", profile.login_base.trim_end_matches('/'));
    iss.strip_prefix(&base)
        .and_then(|rest| rest.strip_suffix("/v2.0"))
        .is_some_and(|tid| uuid::Uuid::parse_str(tid).is_ok())
}

/// What Microsoft sent back to the redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Code(String),
    Error {
        error: String,
        description: Option<String>,
    },
}

/// How a completed authorization ended.
#[derive(Debug)]
pub enum Completion {
    Authorized(Box<Authorized>),
    /// Microsoft refused (the admin cancelled, consent is missing, …): a message key and the
    /// code to show with it.
    Refused {
        profile_id: i64,
        key: &'static str,
        code: String,
    },
    /// The code could not be exchanged for tokens.
    ExchangeFailed {
        profile_id: i64,
        code: String,
        /// The explanation and fix (message key).
        help_key: &'static str,
    },
}

/// What the admin sees after a successful authorization: the account, the permissions, and
/// whether Graph answers with the new token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Authorized {
    pub profile_id: i64,
    pub account_name: String,
    pub account_upn: String,
    pub scopes: Vec<String>,
    pub offline_access: bool,
    /// (name, owner, is default) of the account's calendars.
    pub calendars: Vec<(String, String, bool)>,
    pub graph_error: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// The first characters of the access token, to tell tokens apart; never more.
    pub token_prefix: String,
}

/// Starts and completes authorizations.
pub struct Authorizations {
    db: Db,
    tokens: Arc<TokenService>,
    key: Arc<SecretKey>,
    /// Datapump's own `/callback`, used when a profile names no redirect URI.
    default_redirect: String,
    /// How long a started authorization may take.
    ttl: Duration,
}

impl Authorizations {
    pub fn new(
        db: Db,
        tokens: Arc<TokenService>,
        key: Arc<SecretKey>,
        default_redirect: String,
        ttl: Duration,
    ) -> Self {
        Self {
            db,
            tokens,
            key,
            default_redirect,
            ttl,
        }
    }

    /// The redirect URI of a profile: its own, or Datapump's `/callback`.
    pub fn redirect_uri(&self, p: &Profile) -> String {
        p.redirect_uri
            .clone()
            .unwrap_or_else(|| self.default_redirect.clone())
    }

    /// Datapump's `/callback`, the default redirect URI.
    pub fn default_redirect(&self) -> &str {
        &self.default_redirect
    }

    /// Builds the authorization URL (PKCE S256, a fresh state; the account to sign in with as
    /// login hint, by default the one authorized before) and stores the pending transaction
    /// with its sealed verifier.
    pub async fn start(
        &self,
        profile_id: i64,
        login_hint: Option<&str>,
        by: &Actor,
    ) -> Result<Started, AuthorizeError> {
        let profile = self.db.profile(profile_id).await?;
        if profile.kind != crate::model::ProfileKind::Delegated {
            return Err(AuthorizeError::NotDelegated);
        }
        let secret = self.tokens.client_secret(&profile)?;
        let redirect = self.redirect_uri(&profile);
        let app = AppCredentials {
            client_id: &profile.client_id,
            client_secret: &secret,
            redirect_uri: &redirect,
        };
        let start = oauth::start(
            &Endpoints::from(&profile),
            &app,
            login_hint.or(profile.account_upn.as_deref()),
        )
        .map_err(AuthorizeError::Request)?;
        let state_hash = crypto::token_hash(&start.state);
        let admin_id = by.id.ok_or(AuthorizeError::NotSignedIn)?;
        let now = Utc::now();
        let audit = by.record(
            "profile.authorization_started",
            Some(profile.name.clone()),
            None,
        );
        self.db
            .insert_oauth_transaction(
                &OAuthTransaction {
                    state_hash: state_hash.clone(),
                    profile_id,
                    admin_id,
                    verifier_enc: self.key.seal(
                        &context::oauth_verifier(&state_hash),
                        start.pkce_verifier.as_bytes(),
                    ),
                    redirect_uri: redirect,
                    created_at: now,
                    expires_at: now
                        + chrono::Duration::from_std(self.ttl)
                            .unwrap_or(chrono::Duration::minutes(10)),
                    used_at: None,
                },
                &audit,
            )
            .await?;
        Ok(Started {
            url: start.url,
            state_hash,
        })
    }

    /// Completes the authorization whose state hashes to `state_hash` (the caller has checked
    /// that its session started it): valid once, unexpired, arrived where it belongs; then the
    /// code is exchanged with the PKCE verifier, the account is read and the tokens are stored
    /// through the token service.
    pub async fn complete(
        &self,
        state_hash: &str,
        reply: Reply,
        arrival: &Arrival,
        by: &Actor,
    ) -> Result<Completion, AuthorizeError> {
        let Some(tx) = self.db.oauth_transaction(state_hash).await? else {
            return Err(AuthorizeError::StateUnknown);
        };
        if tx.used_at.is_some() || !self.db.use_oauth_transaction(state_hash).await? {
            return Err(AuthorizeError::StateReused);
        }
        if tx.expires_at <= Utc::now() {
            return Err(AuthorizeError::StateExpired);
        }
        let profile = self.db.profile(tx.profile_id).await?;
        let wrong_path = arrival.path_profile.is_some_and(|id| id != tx.profile_id);
        let wrong_issuer = arrival
            .issuer
            .as_deref()
            .is_some_and(|iss| !issuer_may_be(&profile, iss));
        if wrong_path || wrong_issuer {
            // The transaction is spent: whoever mixed it up cannot try again with it.
            self.db
                .record_audit(
                    by.record(
                        "profile.authorization_failed",
                        Some(profile.name.clone()),
                        Some(
                            if wrong_path {
                                "answer arrived at another profile's redirect path"
                            } else {
                                "answer names another issuer"
                            }
                            .into(),
                        ),
                    ),
                )
                .await?;
            return Err(AuthorizeError::MixUp);
        }
        match reply {
            Reply::Error { error, description } => {
                self.refused(&profile, &error, description.as_deref(), by)
                    .await
            }
            Reply::Code(code) if code.is_empty() => Err(AuthorizeError::CodeMissing),
            Reply::Code(code) => {
                self.exchange(&profile, &tx, state_hash, &code, arrival, by)
                    .await
            }
        }
    }

    async fn refused(
        &self,
        profile: &Profile,
        error: &str,
        description: Option<&str>,
        by: &Actor,
    ) -> Result<Completion, AuthorizeError> {
        let code = description
            .and_then(|d| d.split(':').next())
            .filter(|c| c.starts_with("AADSTS"))
            .map(String::from);
        let audit = by.record(
            "profile.authorization_failed",
            Some(profile.name.clone()),
            Some(format!("{error} {}", code.clone().unwrap_or_default())),
        );
        let key = match error {
            "access_denied" => "oauth-denied",
            "consent_required" => "oauth-consent-required",
            "interaction_required" | "login_required" => "oauth-interaction-required",
            "invalid_client" | "unauthorized_client" | "invalid_request" => "oauth-app-config",
            _ => "oauth-failed",
        };
        // A refusal that changes the profile's status is recorded with that change.
        if error == "consent_required" {
            self.db
                .set_profile_status(
                    profile.id,
                    ProfileStatus::ConsentMissing,
                    (code.as_deref(), None),
                    Some(&audit),
                )
                .await?;
        } else {
            self.db.record_audit(audit).await?;
        }
        Ok(Completion::Refused {
            profile_id: profile.id,
            key,
            code: code.unwrap_or_else(|| error.chars().take(100).collect()),
        })
    }

    async fn exchange(
        &self,
        profile: &Profile,
        tx: &OAuthTransaction,
        state_hash: &str,
        code: &str,
        arrival: &Arrival,
        by: &Actor,
    ) -> Result<Completion, AuthorizeError> {
        let verifier = self
            .key
            .open_string(&context::oauth_verifier(state_hash), &tx.verifier_enc)?;
        let secret = self.tokens.client_secret(profile)?;
        let app = AppCredentials {
            client_id: &profile.client_id,
            client_secret: &secret,
            redirect_uri: &tx.redirect_uri,
        };
        let endpoints = Endpoints::from(profile);
        let client = self.tokens.client();
        let tokens = match oauth::exchange_code(client, &endpoints, &app, code, &verifier).await {
            Ok(t) => t,
            Err(e) => {
                let status = status_after(e.class());
                // A refused code says nothing about the stored authorization: no reason to
                // pause a working profile for it.
                let audit = by.record(
                    "profile.authorization_failed",
                    Some(profile.name.clone()),
                    Some(e.summary()),
                );
                if let Some(s) = status.filter(|s| *s != ProfileStatus::NeedsReauth) {
                    self.db
                        .set_profile_status(
                            profile.id,
                            s,
                            (e.code().as_deref(), Some(&e.summary())),
                            Some(&audit),
                        )
                        .await?;
                } else {
                    self.db.record_audit(audit).await?;
                }
                return Ok(Completion::ExchangeFailed {
                    profile_id: profile.id,
                    code: e.code().unwrap_or_else(|| e.to_string()),
                    help_key: status.map_or("oauth-exchange-transient", ProfileStatus::help_key),
                });
            }
        };
        // The ID token names the account's tenant: an `iss` in the answer must be its issuer.
        if let (Some(iss), Some(tid)) = (arrival.issuer.as_deref(), tokens.tenant_id.as_deref())
            && iss != issuer_of(&endpoints.login_base, tid)
        {
            self.db
                .record_audit(by.record(
                    "profile.authorization_failed",
                    Some(profile.name.clone()),
                    Some("answer names another issuer than the ID token".into()),
                ))
                .await?;
            return Err(AuthorizeError::MixUp);
        }
        let graph = client.graph(&endpoints, &tokens.access_token);
        let me = graph.me().await;
        let calendars = graph.my_calendars().await;
        let (name, upn, oid) = match &me {
            Ok(u) => (
                u.display_name.clone(),
                u.user_principal_name.clone().or(u.mail.clone()),
                Some(u.id.clone()),
            ),
            Err(_) => (None, None, None),
        };
        let scopes = tokens.scopes.join(" ");
        let authorized_by = by.name.as_deref().unwrap_or("system");
        let audit = by.record(
            "profile.authorized",
            Some(profile.name.clone()),
            Some(format!("account {}", upn.clone().unwrap_or_default())),
        );
        let expires_at = self
            .tokens
            .store_authorization(
                profile,
                &tokens,
                &Authorization {
                    account_name: name.as_deref(),
                    account_upn: upn.as_deref(),
                    account_id: oid.as_deref(),
                    account_tenant: tokens.tenant_id.as_deref(),
                    scopes: &scopes,
                    authorized_by,
                },
                &audit,
            )
            .await?;
        let graph_error = me
            .err()
            .map(|e| e.to_string())
            .or(calendars.as_ref().err().map(|e| e.to_string()));
        Ok(Completion::Authorized(Box::new(Authorized {
            profile_id: profile.id,
            account_name: name.unwrap_or_default(),
            account_upn: upn.unwrap_or_default(),
            scopes: tokens.scopes.clone(),
            offline_access: tokens.refresh_token.is_some(),
            calendars: calendars
                .unwrap_or_default()
                .into_iter()
                .map(|c| {
                    (
                        c.name,
                        c.owner
                            .and_then(|o| o.address.or(o.name))
                            .unwrap_or_default(),
                        c.is_default_calendar,
                    )
                })
                .collect(),
            graph_error,
            expires_at,
            token_prefix: tokens.access_token.chars().take(4).collect(),
        })))
    }
}

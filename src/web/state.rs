//! Shared application state handed to every handler.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::auth::throttle::ThrottlePolicy;
use crate::config::Config;
use crate::crypto::SecretKey;
use crate::profiles::authorization::Authorizations;
use crate::profiles::tokens::TokenService;
use crate::storage::Db;
use crate::sync::SyncEngine;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub key: Arc<SecretKey>,
    pub throttle: Arc<ThrottlePolicy>,
    /// Password checks in flight (bounded; one kept for known devices).
    pub hashing: Arc<crate::auth::throttle::HashPermits>,
    pub tokens: Arc<TokenService>,
    pub authorizations: Arc<Authorizations>,
    pub sync: Arc<SyncEngine>,
    /// Pushes the change feed to consumers' webhooks.
    pub webhooks: Arc<crate::webhooks::Dispatcher>,
    pub shutdown: CancellationToken,
    /// Requests of the read-only API, per token, in this instance.
    pub api_limits: Arc<crate::web::api::Limits>,
    /// API token uses not yet written.
    pub api_uses: Arc<crate::web::api::Uses>,
}

//! Datapump's client for the Microsoft identity platform and Microsoft Graph.
//!
//! Written from Microsoft's documentation, independently of the simulator: the two share no code
//! or types. Base URLs come from the profile (national clouds, or the simulator), never from
//! constants in the calls.

pub mod api;
pub mod error;
pub mod events;
pub mod oauth;

use std::sync::Once;
use std::time::Duration;

pub use self::error::{FailureClass, GraphError, GraphFailure, TokenError};

/// Where a profile's identity platform and Graph live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// e.g. `https://login.microsoftonline.com`, without a trailing slash.
    pub login_base: String,
    /// e.g. `https://graph.microsoft.com`, without a trailing slash.
    pub graph_base: String,
    /// `common`, `organizations`, a tenant id or a domain.
    pub tenant: String,
}

impl Endpoints {
    pub fn authorize_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/authorize", self.login_base, self.tenant)
    }

    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.login_base, self.tenant)
    }

    /// `https://graph.microsoft.com/v1.0`
    pub fn graph_v1(&self) -> String {
        format!("{}/v1.0", self.graph_base)
    }
}

static TLS: Once = Once::new();

/// Installs the TLS crypto provider (ring) for the process; required before any reqwest client
/// is built. Idempotent.
pub fn ensure_crypto_provider() {
    TLS.call_once(|| {
        // Several crates may try; the first provider installed wins, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The HTTP client could not be built (no TLS backend, broken system configuration).
#[derive(Debug, thiserror::Error)]
#[error("the HTTP client for Microsoft's endpoints cannot be built: {0}")]
pub struct ClientBuildError(String);

/// Datapump's one client for Microsoft: the identity platform and Graph, over one HTTP client
/// that follows no redirects (a token endpoint that redirects must not be able to send
/// credentials elsewhere) and bounds every request. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
}

impl Client {
    /// There is no fallback: a client without these limits must not be used.
    pub fn new() -> Result<Self, ClientBuildError> {
        ensure_crypto_provider();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("Datapump/", env!("CARGO_PKG_VERSION")))
            .build()
            .map(|http| Self { http })
            .map_err(|e| ClientBuildError(e.to_string()))
    }

    /// Graph calls under an access token of the profile these endpoints belong to.
    pub fn graph(&self, endpoints: &Endpoints, token: &str) -> api::Graph {
        api::Graph::new(&self.http, endpoints, token)
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

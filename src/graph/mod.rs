//! Datapump's client for the Microsoft identity platform and Microsoft Graph.
//!
//! Written from Microsoft's documentation, independently of the simulator: the two share no code
//! or types. Base URLs come from the profile (national clouds, or the simulator), never from
//! constants in the calls.

pub mod api;
pub mod error;
pub mod oauth;

use std::sync::Once;
use std::time::Duration;

pub use self::error::{FailureClass, GraphError, TokenError};

/// Where a profile's identity platform and Graph live.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The HTTP client for Microsoft's endpoints: no redirects followed (a token endpoint that
/// redirects must not be able to send credentials elsewhere), bounded timeouts.
pub fn http_client() -> reqwest::Client {
    ensure_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("Datapump/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

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

/// The largest answer read from Microsoft: far above any page Datapump asks for (200 events
/// with their bodies), small enough that a broken or hostile server cannot exhaust memory.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Reads a response body up to `limit` bytes; a longer one is an error, never truncated.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Network(oauth::describe(&e)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the answer is larger than {0} bytes; not read")]
    TooLarge(usize),
    #[error("{0}")]
    Network(String),
}

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

#[cfg(test)]
mod body_tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves one raw HTTP answer per connection.
    async fn serve(answer: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(&answer).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn an_oversized_answer_is_refused_whether_announced_or_not() {
        let body = "x".repeat(5000);
        let announced = format!("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{body}");
        let chunked = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        );
        super::ensure_crypto_provider();
        let http = reqwest::Client::new();
        for raw in [announced, chunked] {
            let url = serve(raw.into_bytes()).await;
            let small = http.get(&url).send().await.expect("answer");
            assert!(matches!(
                super::read_body(small, 1000).await,
                Err(super::BodyError::TooLarge(1000))
            ));
            let enough = http.get(&url).send().await.expect("answer");
            assert_eq!(
                super::read_body(enough, 10_000).await.map(|b| b.len()).ok(),
                Some(5000)
            );
        }
    }
}

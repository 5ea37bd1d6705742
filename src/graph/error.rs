//! Errors of the Graph client and how they are classified for the admin.

use serde::{Deserialize, Serialize};

/// An error body of the identity platform's token endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AadError {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(default)]
    pub error_codes: Vec<u32>,
    #[serde(default)]
    pub suberror: Option<String>,
    #[serde(default)]
    pub error_uri: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
}

impl std::fmt::Display for AadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.error_codes.first() {
            Some(code) => write!(f, "{} (AADSTS{code})", self.error),
            None => write!(f, "{}", self.error),
        }
    }
}

impl oauth2::ErrorResponse for AadError {}

impl AadError {
    /// The first line of the description (`AADSTS…: text`), without trace and correlation ids.
    pub fn summary(&self) -> String {
        self.error_description
            .as_deref()
            .and_then(|d| d.lines().next())
            .unwrap_or(&self.error)
            .chars()
            .take(400)
            .collect()
    }

    fn has(&self, code: u32) -> bool {
        self.error_codes.contains(&code)
            || self
                .error_description
                .as_deref()
                .is_some_and(|d| d.starts_with(&format!("AADSTS{code}:")))
    }
}

/// What an admin has to do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Sign in again (password changed, tokens revoked, expired by inactivity, MFA or CA).
    Reauthorize,
    /// Enter a new client secret (wrong, expired, missing).
    ReplaceSecret,
    /// The app id is unknown (often: registration not replicated yet).
    AppNotFound,
    /// Permissions are not consented (admin consent missing or revoked).
    ConsentMissing,
    /// Network or service trouble: retry with backoff.
    Transient,
    /// Something in the profile's settings is wrong (redirect URI, scope, tenant).
    Configuration,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the identity platform refused: {0}")]
    Rejected(Box<AadError>),
    #[error("the identity platform could not be reached: {0}")]
    Network(String),
    #[error("unexpected answer from the identity platform: {0}")]
    Unexpected(String),
}

impl TokenError {
    pub fn class(&self) -> FailureClass {
        let e = match self {
            Self::Network(_) | Self::Unexpected(_) => return FailureClass::Transient,
            Self::Rejected(e) => e,
        };
        if e.has(65001)
            || e.suberror.as_deref() == Some("consent_required")
            || e.error == "consent_required"
        {
            return FailureClass::ConsentMissing;
        }
        match e.error.as_str() {
            // A client assertion Datapump built wrong or at the wrong time (clock), not a
            // credential to replace: audience, issuer, format, time range.
            "invalid_client" if [50012, 50027, 700021, 700024].into_iter().any(|c| e.has(c)) => {
                FailureClass::Configuration
            }
            "invalid_client" if e.has(50011) || (e.has(70002) && !e.has(7000215)) => {
                FailureClass::Configuration
            }
            "invalid_client" => FailureClass::ReplaceSecret,
            "unauthorized_client" if e.has(700016) => FailureClass::AppNotFound,
            "invalid_grant" | "interaction_required" | "login_required" => {
                FailureClass::Reauthorize
            }
            "temporarily_unavailable" | "server_error" => FailureClass::Transient,
            _ if e.has(700016) => FailureClass::AppNotFound,
            _ => FailureClass::Configuration,
        }
    }

    /// `AADSTS50173`, when the platform named a code.
    pub fn code(&self) -> Option<String> {
        match self {
            Self::Rejected(e) => e.error_codes.first().map(|c| format!("AADSTS{c}")),
            _ => None,
        }
    }

    /// A one-line explanation for the admin, without trace ids.
    pub fn summary(&self) -> String {
        match self {
            Self::Rejected(e) => e.summary(),
            other => other.to_string(),
        }
    }
}

/// A Graph call that failed.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("Graph answered {status}: {code}")]
    Api {
        status: u16,
        code: String,
        message: String,
        /// Seconds, from `Retry-After` (429/503).
        retry_after: Option<f64>,
    },
    #[error("Graph could not be reached: {0}")]
    Network(String),
    #[error("unexpected answer from Graph: {0}")]
    Decode(String),
    #[error("Graph returned a link to another host ({0}); not followed")]
    ForeignLink(String),
}

/// What a failed Graph call means for whoever retries it (the import engine's policy decides
/// how long and how often).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GraphFailure {
    /// 429, 503, 504: wait as long as `Retry-After` says (seconds), or back off, then retry.
    Throttled(Option<f64>),
    /// 410: the delta token expired; only a full round helps.
    Gone,
    /// 401: the access token was refused.
    Unauthorized,
    /// 403: the account may not read this.
    Forbidden,
    /// 404: no such mailbox, calendar or event (or, for private items, not readable).
    NotFound,
    /// Any other 5xx: retry with backoff.
    ServerError,
    /// The request or its answer broke off.
    Network,
    /// Any other refusal: retrying does not help.
    Rejected,
    /// The answer could not be read, or a link pointed to another host: retrying does not help.
    Protocol,
}

impl GraphError {
    /// How the failure is to be handled.
    pub fn failure(&self) -> GraphFailure {
        match self {
            // Outlook's lost sync state is 410 `SyncStateNotFound`; directory resources say
            // `syncStateNotFound` or `resyncRequired` (graph-protocol §9.3). Every form means:
            // start over with a full round.
            Self::Api { code, .. }
                if code.eq_ignore_ascii_case("SyncStateNotFound")
                    || code.eq_ignore_ascii_case("resyncRequired") =>
            {
                GraphFailure::Gone
            }
            Self::Api {
                status: 429 | 503 | 504,
                retry_after,
                ..
            } => GraphFailure::Throttled(*retry_after),
            Self::Api { status: 410, .. } => GraphFailure::Gone,
            Self::Api { status: 401, .. } => GraphFailure::Unauthorized,
            Self::Api { status: 403, .. } => GraphFailure::Forbidden,
            Self::Api { status: 404, .. } => GraphFailure::NotFound,
            Self::Api { status: 500.., .. } => GraphFailure::ServerError,
            Self::Api { .. } => GraphFailure::Rejected,
            Self::Network(_) => GraphFailure::Network,
            Self::Decode(_) | Self::ForeignLink(_) => GraphFailure::Protocol,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(error: &str, code: u32, suberror: Option<&str>) -> TokenError {
        TokenError::Rejected(Box::new(AadError {
            error: error.into(),
            error_description: Some(format!("AADSTS{code}: text\r\nTrace ID: x")),
            error_codes: vec![code],
            suberror: suberror.map(String::from),
            ..AadError::default()
        }))
    }

    #[test]
    fn classification_follows_the_documented_codes() {
        use FailureClass::*;
        for (error, code, sub, class) in [
            ("invalid_grant", 50173, None, Reauthorize),
            ("invalid_grant", 700082, Some("bad_token"), Reauthorize),
            ("invalid_grant", 50076, Some("basic_action"), Reauthorize),
            ("interaction_required", 53003, None, Reauthorize),
            ("invalid_client", 7000215, None, ReplaceSecret),
            ("invalid_client", 7000222, None, ReplaceSecret),
            ("invalid_client", 7000218, None, ReplaceSecret),
            // Certificates: not registered or wrong signature, expired: a new credential.
            ("invalid_client", 700027, None, ReplaceSecret),
            ("invalid_client", 1000502, None, ReplaceSecret),
            ("invalid_client", 700024, None, Configuration),
            ("invalid_client", 50012, None, Configuration),
            ("unauthorized_client", 700016, None, AppNotFound),
            (
                "invalid_grant",
                65001,
                Some("consent_required"),
                ConsentMissing,
            ),
            ("temporarily_unavailable", 90033, None, Transient),
            ("invalid_scope", 70011, None, Configuration),
            ("invalid_client", 50011, None, Configuration),
        ] {
            assert_eq!(rejected(error, code, sub).class(), class, "{error} {code}");
        }
        assert_eq!(TokenError::Network("x".into()).class(), Transient);
        let e = rejected("invalid_grant", 50173, None);
        assert_eq!(e.code().as_deref(), Some("AADSTS50173"));
        assert_eq!(e.summary(), "AADSTS50173: text");
    }

    #[test]
    fn graph_failures_are_classified_by_status() {
        let api = |status, retry_after| GraphError::Api {
            status,
            code: "X".into(),
            message: String::new(),
            retry_after,
        };
        assert_eq!(
            api(429, Some(2.5)).failure(),
            GraphFailure::Throttled(Some(2.5))
        );
        assert_eq!(api(503, None).failure(), GraphFailure::Throttled(None));
        assert_eq!(api(504, None).failure(), GraphFailure::Throttled(None));
        assert_eq!(api(410, None).failure(), GraphFailure::Gone);
        let coded = |status, code: &str| GraphError::Api {
            status,
            code: code.into(),
            message: String::new(),
            retry_after: None,
        };
        assert_eq!(coded(400, "resyncRequired").failure(), GraphFailure::Gone);
        assert_eq!(
            coded(410, "SyncStateNotFound").failure(),
            GraphFailure::Gone
        );
        assert_eq!(api(401, None).failure(), GraphFailure::Unauthorized);
        assert_eq!(api(403, None).failure(), GraphFailure::Forbidden);
        assert_eq!(api(404, None).failure(), GraphFailure::NotFound);
        assert_eq!(api(500, None).failure(), GraphFailure::ServerError);
        assert_eq!(api(400, None).failure(), GraphFailure::Rejected);
        assert_eq!(
            GraphError::Network("x".into()).failure(),
            GraphFailure::Network
        );
        assert_eq!(
            GraphError::ForeignLink("evil.example".into()).failure(),
            GraphFailure::Protocol
        );
    }
}

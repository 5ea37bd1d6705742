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

impl GraphError {
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
}

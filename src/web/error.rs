//! The web layer's error type, mapped once to a status and a translated page.
//!
//! `WebError::into_response` only marks the response; the `error_pages` middleware, which knows
//! the request's language and path prefix, renders the page. Internal details are logged, never
//! shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::profiles::authorization::AuthorizeError;
use crate::storage::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("invalid or missing security token")]
    Csrf,
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

pub type WebResult<T> = Result<T, WebError>;

impl From<AuthorizeError> for WebError {
    fn from(e: AuthorizeError) -> Self {
        match e {
            AuthorizeError::StateUnknown => Self::BadRequest("oauth-state-unknown"),
            AuthorizeError::StateReused => Self::BadRequest("oauth-state-reused"),
            AuthorizeError::StateExpired => Self::BadRequest("oauth-state-expired"),
            AuthorizeError::CodeMissing => Self::BadRequest("oauth-code-missing"),
            AuthorizeError::MixUp => Self::BadRequest("oauth-mix-up"),
            AuthorizeError::NotDelegated => Self::BadRequest("oauth-not-delegated"),
            AuthorizeError::NotSignedIn => Self::Forbidden,
            AuthorizeError::Store(e) => Self::Store(e),
            e @ (AuthorizeError::Request(_) | AuthorizeError::Crypto(_)) => {
                Self::Internal(e.to_string())
            }
        }
    }
}

/// Attached to error responses; read by the `error_pages` middleware.
#[derive(Debug, Clone, Copy)]
pub struct ErrorPage {
    pub title_key: &'static str,
    pub message_key: &'static str,
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound | Self::Store(StoreError::NotFound) => StatusCode::NOT_FOUND,
            Self::Forbidden | Self::Csrf => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Store(StoreError::Conflict | StoreError::Duplicate | StoreError::LastAdmin) => {
                StatusCode::CONFLICT
            }
            Self::Store(
                StoreError::Database(_)
                | StoreError::Migrate(_)
                | StoreError::Corrupt(_)
                | StoreError::Backup(_)
                | StoreError::InUse(_),
            )
            | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn page(&self) -> ErrorPage {
        let (title_key, message_key) = match self {
            Self::NotFound | Self::Store(StoreError::NotFound) => {
                ("error-not-found-title", "error-not-found")
            }
            Self::Forbidden => ("error-forbidden-title", "error-forbidden"),
            Self::Csrf => ("error-forbidden-title", "error-csrf"),
            Self::BadRequest(key) => ("error-bad-request-title", *key),
            Self::Store(StoreError::Conflict) => ("error-conflict-title", "error-conflict"),
            Self::Store(StoreError::Duplicate) => ("error-conflict-title", "error-duplicate"),
            Self::Store(StoreError::LastAdmin) => ("error-conflict-title", "error-last-admin"),
            _ => ("error-internal-title", "error-internal"),
        };
        ErrorPage {
            title_key,
            message_key,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, "request refused");
        }
        let mut response = (status, self.to_string()).into_response();
        response.extensions_mut().insert(self.page());
        response
    }
}

impl From<crate::auth::sign_in::SignInError> for WebError {
    fn from(e: crate::auth::sign_in::SignInError) -> Self {
        match e {
            crate::auth::sign_in::SignInError::Store(e) => e.into(),
            crate::auth::sign_in::SignInError::Hash(e) => e.into(),
        }
    }
}

impl From<crate::auth::password::HashError> for WebError {
    fn from(e: crate::auth::password::HashError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<tower_sessions::session::Error> for WebError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Internal(format!("session: {e}"))
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        Self::Internal(format!("template: {e}"))
    }
}

//! How an import run fails, classified once: a Graph failure keeps the `GraphError` it came
//! from, so the engine's decisions and the admin's hint read the client's classification.

#[allow(clippy::wildcard_imports)]
use super::*;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the profile needs attention ({})", .0.as_str())]
    ProfilePaused(ProfileStatus),
    #[error("Microsoft's sign-in service is not reachable right now")]
    ProfileUnreachable,
    #[error("the run took too long and was stopped")]
    Deadline,
    /// A Graph request that failed, as the client classified it (`GraphError::failure`).
    #[error("{}", graph_detail(.0))]
    Graph(GraphError),
    /// Graph answered, but not in a way this engine can use (a page without a link).
    #[error("unexpected answer from Graph: {0}")]
    Protocol(String),
    #[error("unexpected answer from Graph: {0}")]
    Event(#[from] map::Unmappable),
    #[error("another engine took over this subscription")]
    LeaseLost,
    #[error("stopped by shutdown")]
    Interrupted,
    /// A bug: the run panicked. Recorded as failed; the subscription is scheduled again.
    #[error("internal error (the run panicked: {0})")]
    Panicked(String),
    #[error("storage: {0}")]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
}

/// What the admin reads of a Graph failure: Graph's message too, which names the cause.
fn graph_detail(e: &GraphError) -> String {
    match e {
        GraphError::Api {
            status,
            code,
            message,
            ..
        } => format!("Graph answered {status} {code}: {message}"),
        GraphError::Network(_) | GraphError::Decode(_) => e.to_string(),
        GraphError::ForeignLink(_) => "Graph returned a link to another host; not followed".into(),
    }
}

impl RunError {
    /// How Graph's failure is to be handled, when it was one.
    pub fn graph_failure(&self) -> Option<GraphFailure> {
        match self {
            Self::Graph(e) => Some(e.failure()),
            _ => None,
        }
    }

    /// The translated explanation (message key) an admin sees next to the technical detail.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Self::Graph(e) => match e.failure() {
                GraphFailure::Forbidden => "sync-hint-forbidden",
                GraphFailure::NotFound => "sync-hint-not-found",
                GraphFailure::Unauthorized => "sync-hint-unauthorized",
                GraphFailure::Throttled(_) => "sync-hint-throttled",
                GraphFailure::Network => "sync-hint-network",
                GraphFailure::Gone
                | GraphFailure::ServerError
                | GraphFailure::Rejected
                | GraphFailure::Protocol => "sync-hint-graph",
            },
            Self::ProfilePaused(_) => "sync-hint-profile",
            Self::ProfileUnreachable => "sync-hint-network",
            Self::Deadline => "sync-hint-deadline",
            Self::Protocol(_) | Self::Event(_) => "sync-hint-graph",
            Self::Store(_) | Self::Internal(_) | Self::Panicked(_) => "sync-hint-internal",
            Self::LeaseLost | Self::Interrupted => return None,
        })
    }
}

impl From<GraphError> for RunError {
    fn from(e: GraphError) -> Self {
        Self::Graph(e)
    }
}

impl From<StoreError> for RunError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::LeaseLost,
            other => Self::Store(other),
        }
    }
}

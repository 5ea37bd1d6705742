//! An import run's kind and status, as `sync_runs` records them.

use super::stored_enum;

stored_enum! {
    /// What a run does.
    pub enum RunKind as "run kind" {
        /// Changes since the last round, from the delta link.
        Delta = "delta",
        /// Everything in the window, removing what it does not see.
        Full = "full",
        /// A full round after Graph refused the delta token (410).
        Resync = "resync",
        /// A full round after the self-check found stored rows that differ from Graph.
        Repair = "repair",
    }
}

stored_enum! {
    /// Where a run stands.
    pub enum RunStatus as "run status" {
        Running = "running",
        Ok = "ok",
        /// The profile needs an admin first.
        Paused = "paused",
        /// Another engine took the subscription over.
        Aborted = "aborted",
        /// Stopped by shutdown.
        Interrupted = "interrupted",
        Error = "error",
    }
}

impl RunStatus {
    pub fn css(self) -> &'static str {
        match self {
            Self::Ok => "bar-ok",
            Self::Running => "bar-running",
            Self::Paused | Self::Interrupted | Self::Aborted => "bar-warn",
            Self::Error => "bar-bad",
        }
    }
}

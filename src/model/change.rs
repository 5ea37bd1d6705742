//! The change feed's vocabulary.

use super::stored_enum;

stored_enum! {
    /// What happened to an event.
    pub enum ChangeOp as "change operation" {
        /// Created, or its content changed: read the event's current row.
        Upsert = "upsert",
        /// Gone from the calendar (deleted, cancelled out of a room, moved out of the window,
        /// or its subscription removed with its events).
        Delete = "delete",
    }
}

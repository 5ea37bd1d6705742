//! Where a subscription's calendar comes from, and where its import stands.

use super::stored_enum;

stored_enum! {
    /// How a subscription reaches its calendar.
    pub enum SubscriptionSource as "subscription source" {
        /// The primary calendar of a mailbox (another one, or the account's own), by address.
        Mailbox = "mailbox",
        /// A calendar listed under the signed-in account's calendars, by id.
        Own = "own",
    }
}

stored_enum! {
    /// How the subscription's latest run ended (`New` before the first).
    pub enum SubscriptionStatus as "subscription status" {
        New = "new",
        Ok = "ok",
        /// The profile needs an admin first.
        Paused = "paused",
        /// Stopped by shutdown; continued at the next start.
        Interrupted = "interrupted",
        Error = "error",
    }
}

stored_enum! {
    /// Which of Graph's id forms a subscription's stored ids (`graph_id`, `series_master_id`)
    /// are in.
    pub enum ItemIds as "item id form" {
        /// Graph's default ids, which change when an item moves: subscriptions made before
        /// Datapump asked for immutable ids, until their next run translates them.
        Rest = "rest",
        /// `Prefer: IdType="ImmutableId"`: the same id for the item's life in its mailbox.
        Immutable = "immutable",
    }
}

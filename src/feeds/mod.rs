//! What Datapump publishes for readers beyond its database: change-feed entries
//! (API and webhooks) and the per-subscription ICS feed.

pub mod change;
pub mod ics;
pub mod vtimezone;

//! What Datapump publishes for readers beyond its database: the per-subscription ICS feed.

pub mod ics;

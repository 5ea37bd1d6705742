//! A change-feed entry as readers receive it, from the API and in webhook deliveries alike.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::storage::changes::EventChange;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Change {
    pub seq: i64,
    pub subscription_id: i64,
    pub event_id: i64,
    pub graph_id: String,
    pub ical_uid: Option<String>,
    /// `upsert` or `delete`.
    pub operation: &'static str,
    pub changed_at: DateTime<Utc>,
    pub start_utc: Option<DateTime<Utc>>,
    pub end_utc: Option<DateTime<Utc>>,
    pub subject: Option<String>,
}

impl From<EventChange> for Change {
    fn from(c: EventChange) -> Self {
        Self {
            seq: c.seq,
            subscription_id: c.subscription_id,
            event_id: c.event_id,
            graph_id: c.graph_id,
            ical_uid: c.ical_uid,
            operation: c.operation.as_str(),
            changed_at: c.changed_at,
            start_utc: c.start_utc,
            end_utc: c.end_utc,
            subject: c.subject,
        }
    }
}

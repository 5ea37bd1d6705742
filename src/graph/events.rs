//! Graph's event resource as `calendarView/delta` and `GET …/events/{id}` send it (requested in
//! UTC), written from Microsoft's documented event JSON; independent of the simulator.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, Default)]
pub struct EmailAddress {
    pub name: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Recipient {
    #[serde(rename = "emailAddress", default)]
    pub email_address: Option<EmailAddress>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DateTimeTimeZone {
    /// No offset, up to seven fractional digits; in the zone of `Prefer: outlook.timezone`.
    #[serde(rename = "dateTime")]
    pub date_time: String,
    #[serde(rename = "timeZone")]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResponseStatus {
    pub response: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attendee {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub status: Option<ResponseStatus>,
    pub email_address: Option<EmailAddress>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OnlineMeeting {
    #[serde(rename = "joinUrl")]
    pub join_url: Option<String>,
}

/// The fields of Graph's event resource Datapump stores.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub series_master_id: Option<String>,
    #[serde(rename = "iCalUId")]
    pub ical_uid: Option<String>,
    pub subject: Option<String>,
    pub organizer: Option<Recipient>,
    pub start: Option<DateTimeTimeZone>,
    pub end: Option<DateTimeTimeZone>,
    pub original_start_time_zone: Option<String>,
    #[serde(default)]
    pub is_all_day: bool,
    #[serde(default)]
    pub is_cancelled: bool,
    pub sensitivity: Option<String>,
    pub show_as: Option<String>,
    /// `low`, `normal` or `high`.
    pub importance: Option<String>,
    pub location: Option<Location>,
    #[serde(default)]
    pub locations: Vec<Location>,
    #[serde(default)]
    pub attendees: Vec<Attendee>,
    pub body_preview: Option<String>,
    pub web_link: Option<String>,
    pub online_meeting: Option<OnlineMeeting>,
    pub online_meeting_url: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    pub last_modified_date_time: Option<String>,
    pub change_key: Option<String>,
    #[serde(rename = "@odata.etag")]
    pub etag: Option<String>,
    /// Present on items delta reports as removed.
    #[serde(rename = "@removed", default)]
    removed: Option<serde::de::IgnoredAny>,
}

/// One page of `calendarView/delta` (or of `calendarView`), deserialized in one pass.
#[derive(Debug, Deserialize)]
pub struct DeltaPage {
    pub value: Vec<Event>,
    #[serde(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    pub delta_link: Option<String>,
    /// `calendarView` with `$count=true`: how many items the whole listing has.
    #[serde(rename = "@odata.count")]
    pub count: Option<u64>,
}

/// One item of a delta page.
pub enum DeltaItem {
    Removed(String),
    Event(Box<Event>),
}

impl Event {
    /// Delta marks removed items with `@removed` and sends only their id.
    pub fn into_item(self) -> DeltaItem {
        if self.removed.is_some() {
            DeltaItem::Removed(self.id)
        } else {
            DeltaItem::Event(Box::new(self))
        }
    }

    pub fn is_series_master(&self) -> bool {
        self.kind.as_deref() == Some("seriesMaster")
    }

    /// Occurrences come from delta without subject, organizer and the rest.
    pub fn is_minimal_occurrence(&self) -> bool {
        self.kind.as_deref() == Some("occurrence")
            && self.subject.is_none()
            && self.organizer.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removals_and_minimal_occurrences() {
        let item = |v| serde_json::from_value::<Event>(v).map(Event::into_item);
        assert!(
            matches!(item(json!({"id": "X", "@removed": {"reason": "deleted"}})), Ok(DeltaItem::Removed(id)) if id == "X")
        );
        let Ok(DeltaItem::Event(occ)) = item(
            json!({"id": "O", "type": "occurrence", "seriesMasterId": "M",
            "start": {"dateTime": "2026-06-01T09:00:00.0000000"}, "end": {"dateTime": "2026-06-01T10:00:00.0000000"}}),
        ) else {
            panic!("an event");
        };
        assert!(occ.is_minimal_occurrence());
        assert!(!occ.is_series_master());
    }
}

//! A subscription's settings as an admin types them, and their validation: one set of rules
//! for the connect page, bulk subscribe, room lists and the subscription's own page.

use serde::Deserialize;

use crate::graph::api::MAX_VIEW_DAYS;
use crate::model::StoredFields;
use crate::storage::subscriptions::SubscriptionSettings;

/// The settings form, with the calendar it is for when it subscribes one.
#[derive(Debug, Clone, Deserialize)]
pub struct SubscribeForm {
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub mailbox: String,
    #[serde(default)]
    pub calendar_id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub days_back: String,
    #[serde(default)]
    pub days_ahead: String,
    #[serde(default)]
    pub interval_minutes: String,
    pub enabled: Option<String>,
    pub mask_private: Option<String>,
    /// Present when the form shows the data-minimisation fields (the subscription's page);
    /// without it (the connect page) everything is stored and kept as the window says.
    pub minimisation: Option<String>,
    pub store_body: Option<String>,
    pub store_attendee_addresses: Option<String>,
    pub store_online_meeting: Option<String>,
    pub store_categories: Option<String>,
    /// Days after their end events are kept; empty: no rule.
    #[serde(default)]
    pub retention_days: String,
}

impl Default for SubscribeForm {
    fn default() -> Self {
        Self {
            source: String::new(),
            mailbox: String::new(),
            calendar_id: String::new(),
            display_name: String::new(),
            days_back: "7".into(),
            days_ahead: "180".into(),
            interval_minutes: "5".into(),
            enabled: Some("1".into()),
            mask_private: None,
            minimisation: None,
            store_body: Some("1".into()),
            store_attendee_addresses: Some("1".into()),
            store_online_meeting: Some("1".into()),
            store_categories: Some("1".into()),
            retention_days: String::new(),
        }
    }
}

/// Refused settings: (form field, translation key of the message), first error per field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<(&'static str, &'static str)>);

impl Invalid {
    fn add(&mut self, field: &'static str, key: &'static str) {
        if !self.0.iter().any(|(f, _)| *f == field) {
            self.0.push((field, key));
        }
    }
}

fn number(raw: &str, min: i64, max: i64) -> Option<i64> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
}

/// Minutes between imports: 1 to a day.
pub fn interval(raw: &str) -> Option<i64> {
    number(raw, 1, 1440)
}

impl SubscribeForm {
    /// The settings, or every field that is wrong.
    pub fn settings(&self) -> Result<SubscriptionSettings, Invalid> {
        let mut errors = Invalid::default();
        let name = self.display_name.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 {
            errors.add("display_name", "sub-name-invalid");
        }
        // The window is the days back, today and the days ahead: Graph reads at most
        // MAX_VIEW_DAYS of them at once.
        let back = number(&self.days_back, 0, MAX_VIEW_DAYS - 2);
        if back.is_none() {
            errors.add("days_back", "sub-days-invalid");
        }
        let ahead = number(&self.days_ahead, 1, MAX_VIEW_DAYS - 1);
        if ahead.is_none() {
            errors.add("days_ahead", "sub-days-invalid");
        }
        if let (Some(b), Some(a)) = (back, ahead)
            && b + a + 1 > MAX_VIEW_DAYS
        {
            errors.add("days_ahead", "sub-window-too-long");
        }
        let interval = interval(&self.interval_minutes);
        if interval.is_none() {
            errors.add("interval_minutes", "sub-interval-invalid");
        }
        let (fields, retention) = if self.minimisation.is_some() {
            let fields = StoredFields {
                body: self.store_body.is_some(),
                attendee_addresses: self.store_attendee_addresses.is_some(),
                online_meeting: self.store_online_meeting.is_some(),
                categories: self.store_categories.is_some(),
            };
            let raw = self.retention_days.trim();
            let retention = if raw.is_empty() {
                Some(None)
            } else {
                number(raw, 0, 36_500).map(Some)
            };
            if retention.is_none() {
                errors.add("retention_days", "sub-retention-invalid");
            }
            (fields, retention)
        } else {
            (StoredFields::default(), Some(None))
        };
        match (back, ahead, interval, retention) {
            (Some(days_back), Some(days_ahead), Some(interval_minutes), Some(retention_days))
                if errors.0.is_empty() =>
            {
                Ok(SubscriptionSettings {
                    display_name: name,
                    days_back,
                    days_ahead,
                    interval_minutes,
                    enabled: self.enabled.is_some(),
                    mask_private: self.mask_private.is_some(),
                    fields,
                    retention_days,
                })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, back: &str, ahead: &str, interval: &str) -> SubscribeForm {
        SubscribeForm {
            display_name: name.into(),
            days_back: back.into(),
            days_ahead: ahead.into(),
            interval_minutes: interval.into(),
            ..SubscribeForm::default()
        }
    }

    #[test]
    fn every_wrong_field_is_named() {
        let ok = form(" Raum Berlin ", "7", "180", "5").settings();
        assert_eq!(ok.map(|s| s.display_name), Ok("Raum Berlin".to_string()));
        let bad = form("", "-1", "x", "0").settings();
        assert_eq!(
            bad,
            Err(Invalid(vec![
                ("display_name", "sub-name-invalid"),
                ("days_back", "sub-days-invalid"),
                ("days_ahead", "sub-days-invalid"),
                ("interval_minutes", "sub-interval-invalid"),
            ]))
        );
        // Each part fits, together they exceed what Graph reads at once.
        let long = form("R", &(MAX_VIEW_DAYS - 2).to_string(), "10", "5").settings();
        assert_eq!(
            long,
            Err(Invalid(vec![("days_ahead", "sub-window-too-long")]))
        );
        assert_eq!(interval("1440"), Some(1440));
        assert_eq!(interval("1441"), None);
    }
}

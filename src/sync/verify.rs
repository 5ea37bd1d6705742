//! The self-check: delta is not a complete log (docs/graph-behaviours.md), so now and then a
//! subscription's stored rows are compared with another listing, `calendarView` over the same
//! window. What differs twice, with a delta round between the two reads (so that a change made
//! meanwhile is not taken for drift), is counted, logged with its ids and repaired by a full
//! round — which itself deletes only what a complete round did not see.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::graph::events::Event;
use crate::storage::sync::StoredVersion;
use crate::time::parse_graph_time;

/// Rows that differ from Graph's calendar view, by Graph id.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drift {
    /// In Graph's view, not stored.
    pub missing: BTreeSet<String>,
    /// Stored, not in Graph's view.
    pub extra: BTreeSet<String>,
    /// Stored with other times, or (not for occurrences) another change key.
    pub changed: BTreeSet<String>,
}

impl Drift {
    pub fn len(&self) -> usize {
        self.missing.len() + self.extra.len() + self.changed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What both reads found: drift that outlived a delta round.
    pub fn confirmed_by(&self, second: &Drift) -> Drift {
        Drift {
            missing: self
                .missing
                .intersection(&second.missing)
                .cloned()
                .collect(),
            extra: self.extra.intersection(&second.extra).cloned().collect(),
            changed: self
                .changed
                .intersection(&second.changed)
                .cloned()
                .collect(),
        }
    }
}

fn utc(t: Option<&crate::graph::events::DateTimeTimeZone>) -> Option<DateTime<Utc>> {
    t.and_then(|t| parse_graph_time(&t.date_time))
        .map(|n| DateTime::from_naive_utc_and_offset(n, Utc))
}

/// Compares Graph's view (requested in UTC) with the stored rows. An occurrence's change key is
/// not compared: whether delta's key for it (in its etag) equals the view's is not documented,
/// and its times and its series' reconciliation say what matters.
pub fn drift(view: &[Event], stored: &[StoredVersion]) -> Drift {
    let mut d = Drift::default();
    let mut seen: HashMap<&str, &Event> = HashMap::with_capacity(view.len());
    for e in view.iter().filter(|e| !e.is_series_master()) {
        seen.insert(e.id.as_str(), e);
    }
    let mut stored_ids = BTreeSet::new();
    for row in stored {
        stored_ids.insert(row.graph_id.as_str());
        let Some(e) = seen.get(row.graph_id.as_str()) else {
            d.extra.insert(row.graph_id.clone());
            continue;
        };
        let times_differ = utc(e.start.as_ref()).is_some_and(|s| s != row.start_utc)
            || utc(e.end.as_ref()).is_some_and(|t| t != row.end_utc);
        let occurrence = e.kind.as_deref() == Some("occurrence");
        let key_differs = !occurrence
            && match (&row.change_key, &e.change_key) {
                (Some(stored), Some(now)) => stored.split('|').next() != Some(now.as_str()),
                _ => false,
            };
        if times_differ || key_differs {
            d.changed.insert(row.graph_id.clone());
        }
    }
    for id in seen.keys() {
        if !stored_ids.contains(id) {
            d.missing.insert((*id).to_string());
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view_item(id: &str, kind: &str, key: &str, start: &str) -> Event {
        serde_json::from_value(json!({
            "id": id, "type": kind, "changeKey": key,
            "start": {"dateTime": format!("{start}.0000000"), "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-08T11:00:00.0000000", "timeZone": "UTC"},
        }))
        .expect("event")
    }

    fn row(id: &str, key: Option<&str>, start: &str) -> StoredVersion {
        let t = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                .expect("time")
                .and_utc()
        };
        StoredVersion {
            graph_id: id.into(),
            change_key: key.map(String::from),
            start_utc: t(start),
            end_utc: t("2026-12-08T11:00:00"),
        }
    }

    #[test]
    fn differences_by_kind() {
        let view = [
            view_item("same", "singleInstance", "k1", "2026-12-08T10:00:00"),
            view_item("renamed", "singleInstance", "k2", "2026-12-08T10:00:00"),
            view_item("moved", "exception", "k1", "2026-12-08T09:00:00"),
            // An occurrence's key is not compared, its times are.
            view_item("occ", "occurrence", "other", "2026-12-08T10:00:00"),
            view_item("new", "singleInstance", "k1", "2026-12-08T10:00:00"),
            view_item("master", "seriesMaster", "k1", "2026-12-08T10:00:00"),
        ];
        let stored = [
            row("same", Some("k1"), "2026-12-08T10:00:00"),
            row("renamed", Some("k1"), "2026-12-08T10:00:00"),
            row("moved", Some("k1"), "2026-12-08T10:00:00"),
            row("occ", Some("own|master"), "2026-12-08T10:00:00"),
            row("gone", Some("k1"), "2026-12-08T10:00:00"),
        ];
        let d = drift(&view, &stored);
        let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(d.missing, set(&["new"]));
        assert_eq!(d.extra, set(&["gone"]));
        assert_eq!(d.changed, set(&["moved", "renamed"]));
        assert_eq!(d.len(), 4);
        // Drift seen once only (changed meanwhile) is not confirmed.
        let later = Drift {
            extra: set(&["gone"]),
            ..Drift::default()
        };
        assert_eq!(d.confirmed_by(&later).len(), 1);
        assert!(drift(&view[..1], &stored[..1]).is_empty());
    }
}

//! The simulated tenant: directory objects, mailboxes, calendars, events and their expansion into
//! the instances Graph serves (single instances, occurrences, exceptions).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc, Weekday};

use super::tz;

pub const TENANT_ID: &str = "4f1b6a2e-8c3d-4e5f-9a7b-0c1d2e3f4a5b";
pub const TENANT_DOMAIN: &str = "contoso.example";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxKind {
    Person,
    Room,
    Shared,
    /// A directory user without an Exchange Online mailbox.
    NoMailbox,
}

/// Exchange's `Set-CalendarProcessing` switches that shape meetings delivered to a room
/// (documented defaults, "Set-CalendarProcessing"). `Default` is a room whose subject
/// rewriting an admin switched off, the rest as Exchange ships it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoomPolicy {
    pub add_organizer_to_subject: bool,
    pub delete_subject: bool,
    pub delete_comments: bool,
    pub remove_private_property: bool,
    /// `RemoveCanceledMeetings` (default `$false`): a meeting its organizer cancelled stays in
    /// the room's calendar, marked cancelled.
    pub remove_canceled_meetings: bool,
    /// `TentativePendingApproval` (default `$true`): a booking that waits for a delegate's
    /// approval is in the calendar as tentative.
    pub tentative_pending_approval: bool,
    /// Bookings wait for a delegate's approval (`AllBookInPolicy $false` with
    /// `ResourceDelegates`; default: booked at once).
    pub requires_approval: bool,
}

impl Default for RoomPolicy {
    fn default() -> Self {
        Self {
            add_organizer_to_subject: false,
            delete_subject: false,
            delete_comments: false,
            remove_private_property: false,
            remove_canceled_meetings: false,
            tentative_pending_approval: true,
            requires_approval: false,
        }
    }
}

impl RoomPolicy {
    /// Exchange Online's defaults for a new room mailbox.
    pub fn exchange_defaults() -> Self {
        Self {
            add_organizer_to_subject: true,
            delete_subject: true,
            delete_comments: true,
            remove_private_property: true,
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub upn: String,
    pub job_title: Option<String>,
    pub office_location: Option<String>,
    pub kind: MailboxKind,
    pub password: Option<String>,
    /// Refresh tokens issued before this instant are revoked (password reset, revoke sessions).
    pub tokens_valid_from: DateTime<Utc>,
    pub room_policy: RoomPolicy,
    /// A personal Microsoft account (outlook.com and the like): not part of the tenant's
    /// directory; signs in through `common` with the consumers tenant's id.
    pub personal: bool,
}

impl User {
    pub fn has_mailbox(&self) -> bool {
        self.kind != MailboxKind::NoMailbox
    }

    pub fn address(&self) -> String {
        self.mail.clone().unwrap_or_else(|| self.upn.clone())
    }
}

#[derive(Debug, Clone)]
pub struct Calendar {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub color: &'static str,
    pub hex_color: &'static str,
    pub is_default: bool,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Person {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attendee {
    pub person: Person,
    /// `required`, `optional` or `resource`.
    pub kind: String,
    /// `none`, `accepted`, `tentativelyAccepted`, `declined`, `notResponded`, `organizer`.
    pub response: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Location {
    pub display_name: String,
    pub address: Option<String>,
    /// `conferenceRoom`, `default`, …
    pub kind: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Pattern {
    Daily { interval: u32 },
    Weekly { interval: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum RecurrenceRange {
    EndDate { end_date: NaiveDate },
    Numbered { number_of_occurrences: u32 },
    NoEnd,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recurrence {
    pub pattern: Pattern,
    /// For weekly patterns; empty means the start date's weekday.
    #[serde(default)]
    pub days_of_week: Vec<Weekday>,
    pub range: RecurrenceRange,
}

/// One occurrence changed on its own (moved, renamed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionOverride {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub subject: Option<String>,
    pub version: u64,
    pub modified: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub calendar_id: String,
    pub ical_uid: String,
    /// The subject as stored in this calendar (a room's rewriting already applied).
    pub subject: String,
    pub body: String,
    /// Local wall-clock start and end in `time_zone`; all-day events: midnight of the dates.
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub time_zone: String,
    pub is_all_day: bool,
    pub is_cancelled: bool,
    pub sensitivity: String,
    pub show_as: String,
    pub importance: String,
    pub organizer: Person,
    pub attendees: Vec<Attendee>,
    pub location: Option<Location>,
    pub categories: Vec<String>,
    pub online_meeting_url: Option<String>,
    pub recurrence: Option<Recurrence>,
    pub exceptions: BTreeMap<NaiveDate, ExceptionOverride>,
    pub cancelled: BTreeSet<NaiveDate>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub version: u64,
    /// The tenant-wide change sequence number of the latest change (drives delta).
    pub seq: u64,
    pub deleted: bool,
    /// The change sequence number at which it was last deleted (0: never); a restored item
    /// keeps it, so delta can report the removal and the item again.
    pub deleted_seq: u64,
    /// The sequence number of the change before the latest (0: none): an item changed twice
    /// since a delta token comes twice in the next round.
    pub prev_seq: u64,
    /// How often the item moved to another folder or calendar: its REST id changes each time,
    /// its immutable id never (see `ids`).
    pub moves: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceKind {
    SingleInstance,
    Occurrence,
    Exception,
}

impl InstanceKind {
    pub fn graph_name(self) -> &'static str {
        match self {
            Self::SingleInstance => "singleInstance",
            Self::Occurrence => "occurrence",
            Self::Exception => "exception",
        }
    }
}

/// One entry of a calendar view.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub event_id: String,
    pub kind: InstanceKind,
    pub original_date: Option<NaiveDate>,
    pub start_local: NaiveDateTime,
    pub end_local: NaiveDateTime,
    pub start_utc: DateTime<Utc>,
    pub end_utc: DateTime<Utc>,
    pub subject_override: Option<String>,
    pub change_key: String,
    pub modified: DateTime<Utc>,
}

/// Deterministic Graph-looking ids: URL-safe base64 of a digest, with Exchange's `AAMk` lead.
pub fn graph_id(parts: &[&str]) -> String {
    use base64::Engine;
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let mut bytes = b"AAMkAGI2".to_vec();
    bytes.extend_from_slice(&digest);
    format!(
        "AAMk{}=",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..34])
    )
}

pub(crate) fn change_key(parts: &[&str]) -> String {
    use base64::Engine;
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    base64::engine::general_purpose::STANDARD.encode(&h.finalize()[..16])
}

impl Event {
    pub fn change_key(&self) -> String {
        change_key(&[&self.id, &self.version.to_string()])
    }

    fn zone(&self) -> chrono_tz::Tz {
        tz::resolve(&self.time_zone).unwrap_or(chrono_tz::UTC)
    }

    /// Local → UTC; all-day events are floating dates stored as midnight UTC, as Exchange does.
    pub fn utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        if self.is_all_day {
            DateTime::from_naive_utc_and_offset(local, Utc)
        } else {
            tz::to_utc(local, self.zone())
        }
    }

    /// The dates of the series' occurrences (before exceptions and cancellations) up to `until`.
    pub fn occurrence_dates(&self, until: NaiveDate) -> Vec<NaiveDate> {
        let Some(rec) = &self.recurrence else {
            return Vec::new();
        };
        let first = self.start.date();
        let (last, max_count) = match &rec.range {
            RecurrenceRange::EndDate { end_date } => ((*end_date).min(until), u32::MAX),
            RecurrenceRange::Numbered {
                number_of_occurrences,
            } => (until, *number_of_occurrences),
            RecurrenceRange::NoEnd => (until, u32::MAX),
        };
        let mut dates = Vec::new();
        match rec.pattern {
            Pattern::Daily { interval } => {
                let step = i64::from(interval.max(1));
                let mut d = first;
                while d <= last && (dates.len() as u32) < max_count {
                    dates.push(d);
                    d += Duration::days(step);
                }
            }
            Pattern::Weekly { interval } => {
                let days: BTreeSet<u32> = if rec.days_of_week.is_empty() {
                    [first.weekday().num_days_from_sunday()].into()
                } else {
                    rec.days_of_week
                        .iter()
                        .map(|w| w.num_days_from_sunday())
                        .collect()
                };
                // Weeks start on Sunday (Graph's default firstDayOfWeek).
                let week_start =
                    first - Duration::days(i64::from(first.weekday().num_days_from_sunday()));
                let step = i64::from(interval.max(1)) * 7;
                let mut ws = week_start;
                'weeks: while ws <= last {
                    for offset in &days {
                        let d = ws + Duration::days(i64::from(*offset));
                        if d < first {
                            continue;
                        }
                        if d > last || (dates.len() as u32) >= max_count {
                            break 'weeks;
                        }
                        dates.push(d);
                    }
                    ws += Duration::days(step);
                }
            }
        }
        dates
    }

    /// The instances of this event overlapping `[from, to)`.
    pub fn instances(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Instance> {
        if self.deleted {
            return Vec::new();
        }
        let duration = self.end - self.start;
        let overlaps =
            |s: DateTime<Utc>, e: DateTime<Utc>| s < to && (e > from || (s == e && s >= from));
        if self.recurrence.is_none() {
            let (s, e) = (self.utc(self.start), self.utc(self.end));
            if !overlaps(s, e) {
                return Vec::new();
            }
            return vec![Instance {
                id: self.id.clone(),
                event_id: self.id.clone(),
                kind: InstanceKind::SingleInstance,
                original_date: None,
                start_local: self.start,
                end_local: self.end,
                start_utc: s,
                end_utc: e,
                subject_override: None,
                change_key: self.change_key(),
                modified: self.modified,
            }];
        }
        // Exceptions may move an occurrence by days: look a little beyond the window.
        let until = (to + Duration::days(400)).date_naive();
        let mut out = Vec::new();
        for date in self.occurrence_dates(until) {
            if self.cancelled.contains(&date) {
                continue;
            }
            let id = graph_id(&[&self.id, &date.to_string()]);
            let (start_local, end_local, kind, subject, ck, modified) =
                match self.exceptions.get(&date) {
                    Some(x) => (
                        x.start,
                        x.end,
                        InstanceKind::Exception,
                        x.subject.clone(),
                        change_key(&[&id, &self.version.to_string(), &x.version.to_string()]),
                        x.modified.max(self.modified),
                    ),
                    None => {
                        let s = date.and_time(self.start.time());
                        (
                            s,
                            s + duration,
                            InstanceKind::Occurrence,
                            None,
                            change_key(&[&id, &self.version.to_string()]),
                            self.modified,
                        )
                    }
                };
            let (s, e) = (self.utc(start_local), self.utc(end_local));
            if !overlaps(s, e) {
                continue;
            }
            out.push(Instance {
                id,
                event_id: self.id.clone(),
                kind,
                original_date: Some(date),
                start_local,
                end_local,
                start_utc: s,
                end_utc: e,
                subject_override: subject,
                change_key: ck,
                modified,
            });
        }
        out
    }

    /// Finds the occurrence date an instance id stands for.
    pub fn occurrence_date_of(&self, instance_id: &str) -> Option<NaiveDate> {
        let until = (Utc::now() + Duration::days(3 * 365)).date_naive();
        self.occurrence_dates(until)
            .into_iter()
            .find(|d| graph_id(&[&self.id, &d.to_string()]) == instance_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(recurrence: Option<Recurrence>) -> Event {
        let start = NaiveDate::from_ymd_opt(2026, 6, 1)
            .and_then(|d| d.and_hms_opt(9, 0, 0))
            .expect("t");
        Event {
            id: "E1".into(),
            calendar_id: "C1".into(),
            ical_uid: "U1".into(),
            subject: "Daily".into(),
            body: String::new(),
            start,
            end: start + Duration::minutes(30),
            time_zone: "W. Europe Standard Time".into(),
            is_all_day: false,
            is_cancelled: false,
            sensitivity: "normal".into(),
            show_as: "busy".into(),
            importance: "normal".into(),
            organizer: Person {
                name: "A".into(),
                address: "a@x".into(),
            },
            attendees: vec![],
            location: None,
            categories: vec![],
            online_meeting_url: None,
            recurrence,
            exceptions: BTreeMap::new(),
            cancelled: BTreeSet::new(),
            created: Utc::now(),
            modified: Utc::now(),
            version: 1,
            seq: 1,
            deleted: false,
            deleted_seq: 0,
            prev_seq: 0,
            moves: 0,
        }
    }

    fn window(from: (u32, u32), to: (u32, u32)) -> (DateTime<Utc>, DateTime<Utc>) {
        let d = |(m, day): (u32, u32)| {
            NaiveDate::from_ymd_opt(2026, m, day)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| DateTime::from_naive_utc_and_offset(t, Utc))
                .expect("t")
        };
        (d(from), d(to))
    }

    #[test]
    fn weekly_series_with_exception_and_cancellation() {
        let mut e = base(Some(Recurrence {
            pattern: Pattern::Weekly { interval: 1 },
            days_of_week: vec![Weekday::Mon, Weekday::Wed],
            range: RecurrenceRange::Numbered {
                number_of_occurrences: 6,
            },
        }));
        let d = |day| NaiveDate::from_ymd_opt(2026, 6, day).expect("d");
        e.cancelled.insert(d(3));
        e.exceptions.insert(
            d(8),
            ExceptionOverride {
                start: d(9).and_hms_opt(14, 0, 0).expect("t"),
                end: d(9).and_hms_opt(15, 0, 0).expect("t"),
                subject: Some("Moved".into()),
                version: 1,
                modified: Utc::now(),
            },
        );
        let (from, to) = window((5, 1), (8, 1));
        let got = e.instances(from, to);
        let dates: Vec<_> = got.iter().map(|i| i.start_local.date()).collect();
        // Mon 1, (Wed 3 cancelled), Mon 8 moved to Tue 9, Wed 10, Mon 15, Wed 17.
        assert_eq!(dates, vec![d(1), d(9), d(10), d(15), d(17)]);
        assert_eq!(got[1].kind, InstanceKind::Exception);
        assert_eq!(got[0].kind, InstanceKind::Occurrence);
        // 09:00 in Berlin summer time is 07:00 UTC.
        assert_eq!(got[0].start_utc.format("%H:%M").to_string(), "07:00");
        // Occurrence ids are stable and distinct.
        assert_ne!(got[0].id, got[2].id);
        assert_eq!(e.occurrence_date_of(&got[0].id), Some(d(1)));
    }

    #[test]
    fn daily_series_is_clipped_by_window_and_end_date() {
        let e = base(Some(Recurrence {
            pattern: Pattern::Daily { interval: 2 },
            days_of_week: vec![],
            range: RecurrenceRange::EndDate {
                end_date: NaiveDate::from_ymd_opt(2026, 6, 30).expect("d"),
            },
        }));
        let (from, to) = window((6, 10), (6, 20));
        let got = e.instances(from, to);
        assert_eq!(got.len(), 5); // 11, 13, 15, 17, 19
        let (from, to) = window((6, 25), (8, 1));
        assert_eq!(e.instances(from, to).len(), 3); // 25, 27, 29
    }

    #[test]
    fn all_day_events_are_floating_dates() {
        let mut e = base(None);
        e.is_all_day = true;
        e.start = NaiveDate::from_ymd_opt(2026, 6, 3)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("t");
        e.end = e.start + Duration::days(1);
        e.time_zone = "Pacific Standard Time".into();
        let (from, to) = window((6, 3), (6, 4));
        let got = e.instances(from, to);
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].start_utc.format("%Y-%m-%d %H:%M").to_string(),
            "2026-06-03 00:00"
        );
    }
}

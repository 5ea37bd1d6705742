//! The simulator's mutable state and the operations on it. HTTP handlers and the test handle
//! both go through these methods.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::delta::DeltaStore;
use super::faults::{Counters, FaultRule};
use super::model::*;

/// Delegated permissions of the default app registration, as the setup guide configures them.
pub const DEFAULT_PERMISSIONS: &[&str] = &[
    "offline_access",
    "User.ReadBasic.All",
    "Calendars.Read.Shared",
    "openid",
    "profile",
];
pub const DEFAULT_CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
pub const DEFAULT_SECRET: &str = "demo-secret-value";
pub const DEFAULT_ACCOUNT: &str = "datapump@contoso.example";
pub const DEFAULT_PASSWORD: &str = "Demo-Passw0rd!";

/// Every Graph permission the simulator knows; anything else is an unknown scope.
pub const KNOWN_SCOPES: &[&str] = &[
    "offline_access",
    "openid",
    "profile",
    "email",
    "User.Read",
    "User.ReadBasic.All",
    "User.Read.All",
    "Calendars.Read",
    "Calendars.Read.Shared",
    "Calendars.ReadWrite",
    "Calendars.ReadWrite.Shared",
    "Place.Read.All",
];

/// How `/places` answers unevenly, as a directory that changes while it is read does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacesQuirk {
    /// The next page has half of `$top` although more follow.
    ShortPage,
    /// Every request sees the order shifted by one more.
    Reorder,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub rooms: usize,
    pub users: usize,
    pub events_per_room: usize,
    /// Rooms of a third building, the room list "Campus", without events: together with the
    /// others more than the 100 rooms `/places` answers at once (docs/graph-behaviours.md).
    pub campus_rooms: usize,
    pub latency: StdDuration,
    pub fault_rate: f64,
    pub auto_consent: bool,
    pub redirect_uris: Vec<String>,
    /// Fixed access-token lifetime; `None` picks 60–90 minutes like the real service.
    pub access_token_lifetime: Option<StdDuration>,
    /// How long a refresh token keeps working after it was exchanged for a new one.
    pub refresh_grace: StdDuration,
    /// Concurrent Outlook requests before 429 MailboxConcurrency; `None` = no limit.
    pub mailbox_concurrency: Option<usize>,
    /// What that limit counts: Microsoft's throttling page says "4 concurrent requests per app
    /// ID"; whether per app or per app and mailbox is contested, so both are modelled, the
    /// stricter one by default.
    pub concurrency_scope: ConcurrencyScope,
    /// Occurrences' change keys change with their series master's, so a changed series comes
    /// back whole in the next delta round (observed: "every modified recurring event would be
    /// expanded to all occurrences for subsequent sync operations", microsoft-graph-docs-contrib
    /// #6290). `false` models the stricter case that only a full round would reveal the change;
    /// Datapump copes with both.
    pub occurrence_keys_follow_master: bool,
    /// Delta tokens kept per calendar; older ones answer 410 like an evicted sync state. Graph
    /// keeps only a few generations (the observed message lists three).
    pub delta_tokens_per_calendar: usize,
    /// Outlook requests allowed per app and mailbox within a sliding window before 429:
    /// "10,000 API requests in a 10 minute period" per app ID and mailbox (throttling-limits,
    /// "Outlook service limits"); `None` = no limit. Tests shrink it.
    pub mailbox_request_budget: Option<(usize, StdDuration)>,
}

/// Which requests share the Outlook concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConcurrencyScope {
    /// All of an app's requests, whatever the mailbox (the stricter reading).
    #[default]
    App,
    /// An app's requests to one mailbox.
    AppAndMailbox,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            rooms: 8,
            users: 24,
            events_per_room: 120,
            campus_rooms: 120,
            latency: StdDuration::ZERO,
            fault_rate: 0.0,
            auto_consent: false,
            redirect_uris: vec![
                "http://localhost:8000".into(),
                "http://localhost:8000/callback".into(),
            ],
            access_token_lifetime: None,
            refresh_grace: StdDuration::from_secs(300),
            mailbox_concurrency: Some(4),
            concurrency_scope: ConcurrencyScope::App,
            delta_tokens_per_calendar: 3,
            occurrence_keys_follow_master: true,
            mailbox_request_budget: Some((10_000, StdDuration::from_secs(600))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClientSecret {
    pub value: String,
    pub expires: DateTime<Utc>,
}

/// A certificate uploaded to the app registration ("Certificates & secrets"; Graph's
/// `keyCredentials`): Entra keeps its public key and thumbprints, and its validity as the
/// credential's `startDateTime`/`endDateTime`.
#[derive(Debug, Clone)]
pub struct KeyCredential {
    pub public_key: rsa::PublicKey,
    /// SHA-1 of the DER (the `x5t` of RS256 assertions; upper-case hex in error messages).
    pub sha1: Vec<u8>,
    /// SHA-256 of the DER (the `x5t#S256` of PS256 assertions).
    pub sha256: Vec<u8>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl KeyCredential {
    /// Reads a PEM certificate as the admin center's upload does; its validity becomes the
    /// credential's.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        use rsa::pkcs8::DecodePublicKey;
        use sha2::Digest;
        use x509_cert::der::{DecodePem, Encode};
        let cert = x509_cert::Certificate::from_pem(pem).map_err(|e| e.to_string())?;
        let der = cert.to_der().map_err(|e| e.to_string())?;
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| e.to_string())?;
        let public_key = rsa::PublicKey::from_public_key_der(&spki).map_err(|e| e.to_string())?;
        let time = |t: x509_cert::time::Time| {
            DateTime::from_timestamp(t.to_unix_duration().as_secs() as i64, 0)
                .ok_or_else(|| "validity out of range".to_string())
        };
        let validity = cert.tbs_certificate().validity();
        Ok(Self {
            public_key,
            sha1: sha1::Sha1::digest(&der).to_vec(),
            sha256: sha2::Sha256::digest(&der).to_vec(),
            start: time(validity.not_before)?,
            end: time(validity.not_after)?,
        })
    }
}

/// An Exchange room list (a distribution group of rooms) and its members' user ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomList {
    pub name: String,
    pub address: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct App {
    pub client_id: String,
    pub display_name: String,
    pub secrets: Vec<ClientSecret>,
    /// Certificates for client assertions.
    pub certificates: Vec<KeyCredential>,
    pub redirect_uris: Vec<String>,
    pub permissions: BTreeSet<String>,
    pub admin_consent: bool,
    pub user_consents: HashMap<String, BTreeSet<String>>,
    /// Application permissions an administrator has granted (admin consent) for app-only
    /// access; they become the `roles` of client-credentials tokens. Without any, Entra still
    /// issues a token, only without `roles` (Microsoft: "Controlling tokens without the roles
    /// claim", client-credentials flow page), and Graph refuses every call.
    pub app_roles: BTreeSet<String>,
    /// Exchange Online's own limits on the app's mailbox access.
    pub exchange: ExchangeAccess,
}

/// Which mailboxes an app may read in Exchange Online, by user id. Microsoft: "Role Based
/// Access Control for Applications in Exchange Online" (a role assignment such as
/// `Application Calendars.Read` with a management scope; additive to a grant in Entra, which
/// is unscoped) and the legacy application access policies (`RestrictAccess` to a group,
/// limiting the Entra grant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppScope {
    /// Mailboxes an RBAC role assignment for calendars covers.
    pub rbac_calendars: Option<BTreeSet<String>>,
    /// Mailboxes an application access policy restricts the Entra grant to.
    pub access_policy: Option<BTreeSet<String>>,
}

/// The scope in force, and a change that takes effect later: Microsoft says changes to
/// either take a while to replicate (RBAC for Applications: 30 minutes to 2 hours, cached
/// permissions up to 2 hours; access policies: up to an hour or more).
#[derive(Debug, Clone, Default)]
pub struct ExchangeAccess {
    pub applied: AppScope,
    pub pending: Option<(AppScope, DateTime<Utc>)>,
}

impl ExchangeAccess {
    pub fn effective(&self, now: DateTime<Utc>) -> &AppScope {
        match &self.pending {
            Some((scope, at)) if *at <= now => scope,
            _ => &self.applied,
        }
    }
}

impl App {
    /// Scopes a user has consented to for this app (admin consent covers all configured ones).
    pub fn consented(&self, user_id: &str) -> BTreeSet<String> {
        if self.admin_consent {
            return self.permissions.clone();
        }
        self.user_consents.get(user_id).cloned().unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: String,
    pub scopes: BTreeSet<String>,
    pub challenge: Option<(String, String)>,
    pub nonce: Option<String>,
    pub expires: DateTime<Utc>,
    pub redeemed: bool,
}

#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub family: String,
    pub client_id: String,
    pub user_id: String,
    pub scopes: BTreeSet<String>,
    pub family_issued: DateTime<Utc>,
    pub last_used: DateTime<Utc>,
    pub replaced_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub client_id: String,
    /// The signed-in user; for an app-only token `app_reader(client_id)`, no user.
    pub user_id: String,
    pub scopes: BTreeSet<String>,
    pub expires: DateTime<Utc>,
}

/// The reader id of app-only tokens: no user's folder permissions apply to it.
pub fn app_reader(client_id: &str) -> String {
    format!("app:{client_id}")
}

pub fn is_app_reader(reader_id: &str) -> bool {
    reader_id.starts_with("app:")
}

/// Validated parameters of an authorization request awaiting sign-in or consent.
#[derive(Debug, Clone)]
pub struct PendingAuth {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: BTreeSet<String>,
    pub state: Option<String>,
    pub challenge: Option<(String, String)>,
    pub login_hint: Option<String>,
    /// OpenID Connect `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    pub user_id: Option<String>,
    pub created: DateTime<Utc>,
}

pub struct SimState {
    pub config: SimConfig,
    pub users: Vec<User>,
    pub calendars: Vec<Calendar>,
    pub events: HashMap<String, Event>,
    pub by_calendar: HashMap<String, Vec<String>>,
    /// (reader user id, mailbox user id): the reader may read the mailbox's primary calendar.
    pub delegations: HashSet<(String, String)>,
    /// (reader, mailbox owner): readers the owner allowed to view private items (Outlook's
    /// delegate option, `CanViewPrivateItems`). Nobody else reads private items by id.
    pub private_readers: HashSet<(String, String)>,
    /// Calendars shared with a user and added to their calendar list.
    pub shared_calendars: Vec<(String, String)>,
    pub apps: HashMap<String, App>,
    /// The tenant's room lists; tests and the control API edit their members.
    pub room_lists: Vec<RoomList>,
    pub pending: HashMap<String, PendingAuth>,
    pub codes: HashMap<String, AuthCode>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    pub access_tokens: HashMap<String, AccessToken>,
    /// The `jti`s of client assertions already redeemed, with their `exp`: each is taken once.
    pub used_assertions: HashMap<String, DateTime<Utc>>,
    pub delta: DeltaStore,
    pub faults: Vec<FaultRule>,
    /// Makes `/places` reads uneven (tests of incomplete directory reads).
    pub places_quirk: Option<PlacesQuirk>,
    /// The token endpoint leaves out the ID token although `openid` was asked for (a broken
    /// or hostile identity provider, for the test that such an answer is refused).
    pub omit_id_token: bool,
    /// `events/{id}/instances` answers its first half and no next link (a listing cut short,
    /// for tests that nothing is deleted on the strength of one).
    pub instances_cut_short: bool,
    /// The next calendarView listing ends after half its items without a next link.
    pub view_cut_short: bool,
    pub places_shift: usize,
    pub counters: Counters,
    pub in_flight: HashMap<(String, String), usize>,
    /// When each (app, mailbox) pair's recent Outlook requests arrived, oldest first (the
    /// request budget's sliding window).
    pub recent_requests: HashMap<(String, String), std::collections::VecDeque<std::time::Instant>>,
    pub seq: u64,
    pub clock_offset: Duration,
    /// Sign in as this user without showing pages (tests, demo); requires `auto_consent` or
    /// existing consent.
    pub auto_login: Option<String>,
    /// Re-send the previous delta round's changes in the next round, as Graph sometimes does.
    pub replay_delta: bool,
    pub rng_state: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SimError {
    #[error("no such user or mailbox: {0}")]
    NoUser(String),
    #[error("no such calendar: {0}")]
    NoCalendar(String),
    #[error("no such event: {0}")]
    NoEvent(String),
    #[error("no such app: {0}")]
    NoApp(String),
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// Fields of a new event (control API).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewEvent {
    /// Calendar id, or a mailbox address for its primary calendar.
    pub calendar: String,
    pub subject: String,
    #[serde(default)]
    pub body: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    #[serde(default = "utc_name")]
    pub time_zone: String,
    #[serde(default)]
    pub is_all_day: bool,
    #[serde(default = "normal")]
    pub sensitivity: String,
    /// Organizer address; defaults to the calendar's owner.
    pub organizer: Option<String>,
    #[serde(default)]
    pub attendees: Vec<String>,
    pub location: Option<String>,
    pub recurrence: Option<Recurrence>,
    #[serde(default)]
    pub categories: Vec<String>,
}

fn utc_name() -> String {
    "UTC".into()
}
fn normal() -> String {
    "normal".into()
}

/// Changes to an event (control API). On an occurrence id, `start`/`end`/`subject` create or
/// change an exception and `cancelled: true` cancels that occurrence.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPatch {
    pub subject: Option<String>,
    pub body: Option<String>,
    pub start: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
    pub time_zone: Option<String>,
    pub sensitivity: Option<String>,
    pub location: Option<String>,
    pub is_cancelled: Option<bool>,
    pub cancelled: Option<bool>,
    pub recurrence: Option<Recurrence>,
}

impl SimState {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A cheap deterministic pseudo-random number in [0, 1) for fault rates.
    pub fn random(&mut self) -> f64 {
        // xorshift64*
        let mut x = self.rng_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng_state = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// A user by id, user principal name or mail address, case-insensitively.
    pub fn find_user(&self, key: &str) -> Option<&User> {
        let k = key.trim();
        self.users.iter().find(|u| {
            u.id.eq_ignore_ascii_case(k)
                || u.upn.eq_ignore_ascii_case(k)
                || u.mail.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(k))
        })
    }

    /// A user as Graph's `/users/{id | userPrincipalName}` finds it: by object id or UPN, not
    /// by SMTP address (documented key; graph-protocol §9.4).
    pub fn find_user_by_key(&self, key: &str) -> Option<&User> {
        let k = key.trim();
        self.users.iter().find(|u| {
            !u.personal && (u.id.eq_ignore_ascii_case(k) || u.upn.eq_ignore_ascii_case(k))
        })
    }

    pub fn user_mut(&mut self, key: &str) -> Result<&mut User, SimError> {
        let id = self
            .find_user(key)
            .map(|u| u.id.clone())
            .ok_or_else(|| SimError::NoUser(key.into()))?;
        self.users
            .iter_mut()
            .find(|u| u.id == id)
            .ok_or(SimError::NoUser(id))
    }

    pub fn calendar(&self, id: &str) -> Option<&Calendar> {
        self.calendars.iter().find(|c| c.id == id)
    }

    pub fn primary_calendar(&self, user_id: &str) -> Option<&Calendar> {
        self.calendars
            .iter()
            .find(|c| c.owner_id == user_id && c.is_default)
    }

    /// A calendar id, or a mailbox address standing for its primary calendar.
    pub fn resolve_calendar(&self, key: &str) -> Result<String, SimError> {
        if let Some(c) = self.calendar(key) {
            return Ok(c.id.clone());
        }
        let user = self
            .find_user(key)
            .ok_or_else(|| SimError::NoCalendar(key.into()))?;
        self.primary_calendar(&user.id)
            .map(|c| c.id.clone())
            .ok_or_else(|| SimError::NoCalendar(key.into()))
    }

    /// Calendars listed under `/me/calendars` for a user: their own plus those shared with them.
    pub fn calendars_of(&self, user_id: &str) -> Vec<&Calendar> {
        let mut own: Vec<&Calendar> = self
            .calendars
            .iter()
            .filter(|c| c.owner_id == user_id)
            .collect();
        for (cal, reader) in &self.shared_calendars {
            if reader == user_id
                && let Some(c) = self.calendar(cal)
            {
                own.push(c);
            }
        }
        own
    }

    /// Whether `reader` may read `calendar`'s items.
    /// Whether the reader may open the owner's private and confidential items.
    pub fn may_view_private(&self, reader_id: &str, owner_id: &str) -> bool {
        // Application permissions read every item in full, private ones too (observed:
        // microsoftgraph/microsoft-graph-docs#5901); "private" limits delegates only.
        is_app_reader(reader_id)
            || reader_id == owner_id
            || self
                .private_readers
                .contains(&(reader_id.to_string(), owner_id.to_string()))
    }

    /// The user ids of a reader and a mailbox owner, by any of their keys.
    fn reader_and_mailbox(
        &self,
        reader: &str,
        mailbox: &str,
    ) -> Result<(String, String), SimError> {
        let id = |key: &str| {
            self.find_user(key)
                .map(|u| u.id.clone())
                .ok_or_else(|| SimError::NoUser(key.into()))
        };
        Ok((id(reader)?, id(mailbox)?))
    }

    /// Allows (or stops allowing) a reader to view a mailbox owner's private items.
    pub fn set_private_access(
        &mut self,
        reader: &str,
        mailbox: &str,
        allowed: bool,
    ) -> Result<(), SimError> {
        let (reader, mailbox) = self.reader_and_mailbox(reader, mailbox)?;
        if allowed {
            self.private_readers.insert((reader, mailbox));
        } else {
            self.private_readers.remove(&(reader, mailbox));
        }
        Ok(())
    }

    pub fn may_read(&self, reader_id: &str, calendar: &Calendar) -> bool {
        // App-only: Calendars.Read (checked by the caller) covers every mailbox's calendars.
        is_app_reader(reader_id)
            || calendar.owner_id == reader_id
            || (calendar.is_default
                && self
                    .delegations
                    .contains(&(reader_id.to_string(), calendar.owner_id.clone())))
            || self
                .shared_calendars
                .iter()
                .any(|(c, r)| c == &calendar.id && r == reader_id)
    }

    /// All instances of a calendar overlapping the window, ordered by start.
    pub fn instances(
        &self,
        calendar_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<Instance> {
        let mut out: Vec<Instance> = self
            .by_calendar
            .get(calendar_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.events.get(id))
            .flat_map(|e| self.instances_of(e, from, to))
            .collect();
        out.sort_by(|a, b| a.start_utc.cmp(&b.start_utc).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// An event's instances overlapping the window, with change keys as this tenant makes them.
    pub fn instances_of(&self, e: &Event, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Instance> {
        let mut out = e.instances(from, to);
        if !self.config.occurrence_keys_follow_master {
            // Whether an occurrence's change key changes with its series master is unverified
            // either way (graph-protocol §9.6): here it changes only with its own times.
            for i in out
                .iter_mut()
                .filter(|i| i.kind == super::model::InstanceKind::Occurrence)
            {
                i.change_key = super::model::change_key(&[
                    &i.id,
                    &i.start_utc.to_rfc3339(),
                    &i.end_utc.to_rfc3339(),
                ]);
            }
        }
        out
    }

    /// Finds an event or occurrence by id: the event and, for occurrences, the original date.
    pub fn find_item(&self, id: &str) -> Option<(&Event, Option<chrono::NaiveDate>)> {
        if let Some(e) = self.events.get(id) {
            return (!e.deleted).then_some((e, None));
        }
        self.events
            .values()
            .filter(|e| !e.deleted && e.recurrence.is_some())
            .find_map(|e| e.occurrence_date_of(id).map(|d| (e, Some(d))))
    }

    /// Finds an item by an id in the given form (see `ids`).
    pub fn find_item_as(
        &self,
        id: &str,
        form: super::ids::IdForm,
    ) -> Option<(&Event, Option<chrono::NaiveDate>)> {
        use super::ids::{IdForm, rest_id};
        match form {
            IdForm::Immutable => self.find_item(id),
            IdForm::Rest => self.events.values().filter(|e| !e.deleted).find_map(|e| {
                if rest_id(&e.id, e.moves) == id {
                    return Some((e, None));
                }
                e.recurrence.as_ref()?;
                let until = (Utc::now() + chrono::Duration::days(3 * 365)).date_naive();
                e.occurrence_dates(until)
                    .into_iter()
                    .find(|d| {
                        rest_id(&super::model::graph_id(&[&e.id, &d.to_string()]), e.moves) == id
                    })
                    .map(|d| (e, Some(d)))
            }),
        }
    }

    /// The simulator's key (the immutable id) of an item named in either form; the control
    /// API takes both, so tests can use what Graph answered.
    pub fn item_key(&self, id: &str) -> String {
        if self.find_item(id).is_some() {
            return id.to_string();
        }
        match self.find_item_as(id, super::ids::IdForm::Rest) {
            Some((e, None)) => e.id.clone(),
            Some((e, Some(d))) => super::model::graph_id(&[&e.id, &d.to_string()]),
            None => id.to_string(),
        }
    }

    /// Moves an event to another calendar of its mailbox, or out of its calendar and back (as
    /// deleting to Deleted Items and restoring does): its REST id changes, its immutable id
    /// does not (documented: "Obtain immutable identifiers for Outlook resources").
    pub fn move_event(&mut self, id: &str, to_calendar: Option<&str>) -> Result<(), SimError> {
        let key = self.item_key(id);
        let id = key.as_str();
        let now = self.now();
        let seq = self.next_seq();
        let Some(event) = self.events.get(id).filter(|e| !e.deleted).cloned() else {
            return Err(SimError::NoEvent(id.into()));
        };
        let target = match to_calendar {
            None => event.calendar_id.clone(),
            Some(c) => {
                let target = self.resolve_calendar(c)?;
                let same_mailbox = self.calendar(&target).map(|c| c.owner_id.clone())
                    == self
                        .calendar(&event.calendar_id)
                        .map(|c| c.owner_id.clone());
                if !same_mailbox {
                    return Err(SimError::Invalid(
                        "an item moves only within its mailbox; across mailboxes it is a new item"
                            .into(),
                    ));
                }
                target
            }
        };
        if target != event.calendar_id {
            if let Some(list) = self.by_calendar.get_mut(&event.calendar_id) {
                list.retain(|e| e != id);
            }
            self.by_calendar
                .entry(target.clone())
                .or_default()
                .push(id.to_string());
        }
        if let Some(e) = self.events.get_mut(id) {
            e.calendar_id = target;
            e.moves += 1;
            e.version += 1;
            e.modified = now;
            e.seq = seq;
        }
        Ok(())
    }

    fn owner_of_calendar(&self, calendar_id: &str) -> Option<&User> {
        self.calendar(calendar_id)
            .and_then(|c| self.user(&c.owner_id))
    }

    /// Applies a room's calendar processing to a meeting delivered to it.
    fn deliver(&self, calendar_id: &str, event: &mut Event, original_subject: &str) {
        event.subject = original_subject.to_string();
        let Some(owner) = self.owner_of_calendar(calendar_id) else {
            return;
        };
        if owner.kind != MailboxKind::Room {
            return;
        }
        let p = owner.room_policy;
        if p.add_organizer_to_subject {
            event.subject = event.organizer.name.clone();
        } else if p.delete_subject {
            event.subject = String::new();
        }
        if p.delete_comments {
            event.body = String::new();
        }
        if p.remove_private_property && event.sensitivity != "normal" {
            event.sensitivity = "normal".into();
        }
        // Waiting for a delegate's approval: in the calendar, tentative.
        if p.requires_approval && p.tentative_pending_approval {
            event.show_as = "tentative".into();
        }
    }

    /// Whether a room removes meetings their organizer cancels (`RemoveCanceledMeetings`).
    fn removes_cancelled(&self, calendar_id: &str) -> bool {
        self.owner_of_calendar(calendar_id)
            .is_some_and(|o| o.kind == MailboxKind::Room && o.room_policy.remove_canceled_meetings)
    }

    pub fn person(&self, address: &str) -> Person {
        match self.find_user(address) {
            Some(u) => Person {
                name: u.display_name.clone(),
                address: u.address(),
            },
            None => Person {
                name: address.to_string(),
                address: address.to_string(),
            },
        }
    }

    pub fn insert_event(&mut self, event: Event) {
        self.by_calendar
            .entry(event.calendar_id.clone())
            .or_default()
            .push(event.id.clone());
        self.events.insert(event.id.clone(), event);
    }

    pub fn create_event(&mut self, new: NewEvent) -> Result<String, SimError> {
        if new.end < new.start {
            return Err(SimError::Invalid("end before start".into()));
        }
        if super::tz::resolve(&new.time_zone).is_none() {
            return Err(SimError::Invalid(format!(
                "unknown time zone {}",
                new.time_zone
            )));
        }
        let calendar_id = self.resolve_calendar(&new.calendar)?;
        let owner = self
            .owner_of_calendar(&calendar_id)
            .map(|u| u.address())
            .unwrap_or_default();
        let organizer = self.person(new.organizer.as_deref().unwrap_or(&owner));
        let mut attendees: Vec<Attendee> = new
            .attendees
            .iter()
            .map(|a| {
                let person = self.person(a);
                let is_room = self
                    .find_user(a)
                    .is_some_and(|u| u.kind == MailboxKind::Room);
                Attendee {
                    person,
                    kind: if is_room { "resource" } else { "required" }.into(),
                    response: if is_room { "accepted" } else { "none" }.into(),
                }
            })
            .collect();
        let room = self
            .owner_of_calendar(&calendar_id)
            .filter(|u| u.kind == MailboxKind::Room)
            .cloned();
        if let Some(room) = &room
            && !attendees
                .iter()
                .any(|a| a.person.address.eq_ignore_ascii_case(&room.address()))
        {
            attendees.push(Attendee {
                person: Person {
                    name: room.display_name.clone(),
                    address: room.address(),
                },
                kind: "resource".into(),
                response: "accepted".into(),
            });
        }
        let location = new
            .location
            .clone()
            .map(|name| Location {
                address: self.find_user(&name).map(|u| u.address()),
                kind: if self
                    .find_user(&name)
                    .is_some_and(|u| u.kind == MailboxKind::Room)
                {
                    "conferenceRoom".into()
                } else {
                    "default".into()
                },
                display_name: self
                    .find_user(&name)
                    .map_or(name, |u| u.display_name.clone()),
            })
            .or_else(|| {
                room.as_ref().map(|r| Location {
                    display_name: r.display_name.clone(),
                    address: Some(r.address()),
                    kind: "conferenceRoom".into(),
                })
            });
        let now = self.now();
        let seq = self.next_seq();
        let serial = format!("{}-{}", self.seq, self.events.len());
        let id = graph_id(&["event", &calendar_id, &serial]);
        let mut event = Event {
            id: id.clone(),
            calendar_id: calendar_id.clone(),
            ical_uid: ical_uid(&serial),
            subject: String::new(),
            body: new.body.clone(),
            start: new.start,
            end: new.end,
            time_zone: new.time_zone.clone(),
            is_all_day: new.is_all_day,
            is_cancelled: false,
            sensitivity: new.sensitivity.clone(),
            show_as: "busy".into(),
            importance: "normal".into(),
            organizer,
            attendees,
            location,
            categories: new.categories.clone(),
            online_meeting_url: None,
            recurrence: new.recurrence.clone(),
            exceptions: Default::default(),
            cancelled: Default::default(),
            created: now,
            modified: now,
            version: 1,
            seq,
            deleted: false,
            deleted_seq: 0,
            prev_seq: 0,
            moves: 0,
        };
        self.deliver(&calendar_id, &mut event, &new.subject);
        self.insert_event(event);
        Ok(id)
    }

    pub fn update_event(&mut self, id: &str, patch: EventPatch) -> Result<(), SimError> {
        let key = self.item_key(id);
        let id = key.as_str();
        let now = self.now();
        let seq = self.next_seq();
        if let Some(event) = self.events.get(id).filter(|e| !e.deleted) {
            let mut event = event.clone();
            if let Some(tz) = &patch.time_zone {
                if super::tz::resolve(tz).is_none() {
                    return Err(SimError::Invalid(format!("unknown time zone {tz}")));
                }
                event.time_zone = tz.clone();
            }
            if let Some(s) = patch.start {
                event.start = s;
            }
            if let Some(e) = patch.end {
                event.end = e;
            }
            if event.end < event.start {
                return Err(SimError::Invalid("end before start".into()));
            }
            if let Some(b) = patch.body {
                event.body = b;
            }
            if let Some(s) = patch.sensitivity {
                event.sensitivity = s;
            }
            if let Some(c) = patch.is_cancelled {
                event.is_cancelled = c;
            }
            if let Some(l) = patch.location {
                event.location = Some(Location {
                    display_name: l,
                    address: None,
                    kind: "default".into(),
                });
            }
            if let Some(r) = patch.recurrence {
                event.recurrence = Some(r);
                event.exceptions.clear();
                event.cancelled.clear();
            }
            // An update from the organizer is delivered again: the room's rules apply anew.
            let subject = patch.subject.unwrap_or_else(|| event.subject.clone());
            let calendar_id = event.calendar_id.clone();
            self.deliver(&calendar_id, &mut event, &subject);
            // Cancelled by its organizer: a room keeps it, marked cancelled, unless it is set
            // to remove cancelled meetings.
            if patch.is_cancelled == Some(true) && self.removes_cancelled(&calendar_id) {
                event.deleted = true;
                event.deleted_seq = seq;
            }
            event.version += 1;
            event.modified = now;
            event.prev_seq = event.seq;
            event.seq = seq;
            self.events.insert(id.to_string(), event);
            return Ok(());
        }
        // An occurrence: an exception or a cancellation of that date.
        let (master_id, date) = match self.find_item(id) {
            Some((e, Some(d))) => (e.id.clone(), d),
            _ => return Err(SimError::NoEvent(id.into())),
        };
        let Some(master) = self.events.get_mut(&master_id) else {
            return Err(SimError::NoEvent(id.into()));
        };
        if patch.cancelled == Some(true) {
            master.cancelled.insert(date);
            master.exceptions.remove(&date);
        } else {
            let duration = master.end - master.start;
            let current = master.exceptions.get(&date).cloned();
            let start = patch
                .start
                .or(current.as_ref().map(|c| c.start))
                .unwrap_or_else(|| date.and_time(master.start.time()));
            let end = patch
                .end
                .or(current.as_ref().map(|c| c.end))
                .unwrap_or(start + duration);
            if end < start {
                return Err(SimError::Invalid("end before start".into()));
            }
            let version = current.as_ref().map_or(1, |c| c.version + 1);
            master.exceptions.insert(
                date,
                ExceptionOverride {
                    start,
                    end,
                    subject: patch.subject.or(current.and_then(|c| c.subject)),
                    version,
                    modified: now,
                },
            );
        }
        master.prev_seq = master.seq;
        master.seq = seq;
        Ok(())
    }

    /// Deletes a single event or a whole series; an occurrence id cancels that occurrence.
    pub fn delete_event(&mut self, id: &str) -> Result<(), SimError> {
        let key = self.item_key(id);
        let id = key.as_str();
        let now = self.now();
        let seq = self.next_seq();
        if let Some(event) = self.events.get_mut(id).filter(|e| !e.deleted) {
            event.deleted = true;
            event.modified = now;
            event.prev_seq = event.seq;
            event.seq = seq;
            event.deleted_seq = seq;
            return Ok(());
        }
        self.update_event(
            id,
            EventPatch {
                cancelled: Some(true),
                ..EventPatch::default()
            },
        )
    }

    /// Restores a deleted single event or series from Deleted Items / Recoverable Items: it
    /// comes back with its id (an immutable id survives the round trip; "Obtain immutable
    /// identifiers for Outlook resources"), and delta reports it again after its removal.
    pub fn restore_event(&mut self, id: &str) -> Result<(), SimError> {
        let key = self.item_key(id);
        let now = self.now();
        let seq = self.next_seq();
        let Some(event) = self.events.get_mut(&key).filter(|e| e.deleted) else {
            return Err(SimError::NoEvent(id.into()));
        };
        event.deleted = false;
        event.modified = now;
        event.prev_seq = event.seq;
        event.seq = seq;
        Ok(())
    }

    /// Password reset in the admin center or "revoke sessions": refresh tokens stop working.
    pub fn revoke_sessions(&mut self, user: &str) -> Result<(), SimError> {
        let now = self.now();
        self.user_mut(user)?.tokens_valid_from = now;
        Ok(())
    }

    /// Whether an app-only token may read a mailbox's calendars: granted in Entra (the token's
    /// roles) within any access policy, or granted by an RBAC role assignment covering it.
    pub fn app_may_read_calendars(&self, token: &AccessToken, mailbox_id: &str) -> bool {
        let Some(app) = self.apps.get(&token.client_id) else {
            return false;
        };
        let scope = app.exchange.effective(self.now());
        let entra = ["Calendars.Read", "Calendars.ReadWrite"]
            .iter()
            .any(|r| token.scopes.contains(*r))
            && scope
                .access_policy
                .as_ref()
                .is_none_or(|allowed| allowed.contains(mailbox_id));
        let rbac = scope
            .rbac_calendars
            .as_ref()
            .is_some_and(|covered| covered.contains(mailbox_id));
        entra || rbac
    }

    pub fn app_mut(&mut self, client_id: &str) -> Result<&mut App, SimError> {
        self.apps
            .get_mut(client_id)
            .ok_or_else(|| SimError::NoApp(client_id.into()))
    }

    pub fn expire_secrets(&mut self, client_id: &str) -> Result<(), SimError> {
        let past = self.now() - Duration::days(1);
        for s in &mut self.app_mut(client_id)?.secrets {
            s.expires = past;
        }
        Ok(())
    }

    /// Replaces all secrets with a new one (valid 24 months); returns its value.
    pub fn rotate_secret(
        &mut self,
        client_id: &str,
        value: Option<String>,
    ) -> Result<String, SimError> {
        let expires = self.now() + Duration::days(730);
        let value = value.unwrap_or_else(|| format!("sim-secret-{}", self.next_seq()));
        self.app_mut(client_id)?.secrets = vec![ClientSecret {
            value: value.clone(),
            expires,
        }];
        Ok(value)
    }

    pub fn set_consent(&mut self, client_id: &str, granted: bool) -> Result<(), SimError> {
        let app = self.app_mut(client_id)?;
        app.admin_consent = granted;
        if !granted {
            app.user_consents.clear();
        }
        Ok(())
    }

    pub fn set_delegation(
        &mut self,
        reader: &str,
        mailbox: &str,
        granted: bool,
    ) -> Result<(), SimError> {
        let (reader, mailbox) = self.reader_and_mailbox(reader, mailbox)?;
        if granted {
            self.delegations.insert((reader, mailbox));
        } else {
            self.delegations.remove(&(reader, mailbox));
        }
        Ok(())
    }

    /// Changes a room's calendar processing; it applies to meetings delivered afterwards.
    pub fn set_room_policy(&mut self, room: &str, policy: RoomPolicy) -> Result<(), SimError> {
        let user = self.user_mut(room)?;
        if user.kind != MailboxKind::Room {
            return Err(SimError::Invalid(format!("{room} is not a room mailbox")));
        }
        user.room_policy = policy;
        Ok(())
    }
}

pub fn ical_uid(serial: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(serial.as_bytes());
    format!(
        "040000008200E00074C5B7101A82E00800000000{}",
        hex::encode_upper(&digest[..24])
    )
}

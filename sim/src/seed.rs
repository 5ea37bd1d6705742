//! The default tenant `contoso.example`, generated deterministically from a seed: people with
//! German and international names (apostrophes and umlauts included), room and shared mailboxes,
//! calendars and events from six months back to twelve months ahead.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::delta::DeltaStore;
use super::faults::Counters;
use super::model::*;
use super::state::*;

const GIVEN: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannah", "Jonas", "Katrin",
    "Lukas", "Marie", "Niklas", "Olivia", "Paul", "Sophie", "Tim", "Ulrike", "Valentin", "Zoë",
    "Jürgen", "Sean", "Aylin", "Mehmet",
];
const SURNAMES: &[&str] = &[
    "Schmidt",
    "Müller",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "O'Neill",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
];
const JOBS: &[&str] = &[
    "Vertrieb",
    "Einkauf",
    "Personal",
    "IT",
    "Buchhaltung",
    "Geschäftsführung",
    "Marketing",
    "Produktion",
];
/// Room names in the order they are created; the special ones come first so that small tenants
/// still have them.
const ROOMS: &[&str] = &[
    "Raum Berlin",
    "Raum München",
    "Konferenzraum 3.OG",
    "Raum Hamburg",
    "Vorstandsraum",
    "Raum Köln",
    "Raum Frankfurt",
    "Raum Stuttgart",
    "Raum Düsseldorf",
    "Raum Leipzig",
    "Raum Dresden",
    "Raum Hannover",
    "Raum Nürnberg",
    "Raum Bremen",
];
/// The room whose calendar processing anonymizes meetings (Exchange defaults left on).
pub const ANONYMIZED_ROOM: &str = "raum.hamburg@contoso.example";
/// The room whose bookings wait for a delegate's approval.
pub const APPROVAL_ROOM: &str = "konferenzraum.3.og@contoso.example";
/// The room the service account has no permission on.
pub const FORBIDDEN_ROOM: &str = "vorstandsraum@contoso.example";
pub const SHARING_USER: &str = "anna.schmidt@contoso.example";
pub const NO_MAILBOX_USER: &str = "ex.mitarbeiter@contoso.example";

const SUBJECTS: &[&str] = &[
    "Projektbesprechung",
    "Kundentermin",
    "Jour fixe",
    "Sprint Review",
    "Bewerbungsgespräch",
    "Quartalsplanung",
    "Workshop",
    "Vertriebsmeeting",
    "Team-Meeting",
    "Budgetrunde",
    "Lieferantengespräch",
    "Schulung",
    "Onboarding",
    "Strategieklausur",
];
const CUSTOMERS: &[&str] = &[
    "Fabrikam",
    "Northwind",
    "Tailspin Toys",
    "Wide World Importers",
    "Adventure Works",
    "Litware",
    "Müller & Söhne",
];
const COLORS: &[(&str, &str)] = &[
    ("auto", ""),
    ("lightBlue", "#a6d1f5"),
    ("lightGreen", "#87d28e"),
    ("lightOrange", "#fcab73"),
    ("lightTeal", "#4fcfce"),
];

/// ASCII mail local part: umlauts transliterated, apostrophes and spaces dropped.
pub fn mail_part(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        match c {
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'ë' | 'é' | 'è' => out.push('e'),
            ' ' | '.' => out.push('.'),
            c if c.is_ascii_alphanumeric() => out.push(c),
            _ => {}
        }
    }
    out.trim_matches('.').replace("..", ".")
}

fn guid(parts: &[&str]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    let hex = hex::encode(&d[..16]);
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

struct Builder {
    rng: StdRng,
    seed: u64,
    users: Vec<User>,
    calendars: Vec<Calendar>,
    events: Vec<Event>,
    today: NaiveDate,
}

impl Builder {
    fn user(
        &mut self,
        display: &str,
        given: Option<&str>,
        surname: Option<&str>,
        mail_local: &str,
        kind: MailboxKind,
    ) -> String {
        let upn = format!("{mail_local}@{TENANT_DOMAIN}");
        let id = guid(&[&self.seed.to_string(), &upn]);
        let job = match kind {
            MailboxKind::Person => Some(JOBS[self.rng.random_range(0..JOBS.len())].to_string()),
            _ => None,
        };
        self.users.push(User {
            id: id.clone(),
            display_name: display.to_string(),
            given_name: given.map(String::from),
            surname: surname.map(String::from),
            mail: (kind != MailboxKind::NoMailbox || mail_local.contains('.')).then(|| upn.clone()),
            upn,
            job_title: job,
            office_location: None,
            kind,
            password: None,
            tokens_valid_from: Utc::now() - Duration::days(365),
            room_policy: RoomPolicy::default(),
            personal: false,
        });
        if kind != MailboxKind::NoMailbox {
            self.calendar(&id, "Kalender", true);
        }
        id
    }

    fn calendar(&mut self, owner: &str, name: &str, is_default: bool) -> String {
        let id = graph_id(&["calendar", owner, name]);
        let (color, hex) = if is_default {
            COLORS[0]
        } else {
            COLORS[1 + self.calendars.len() % (COLORS.len() - 1)]
        };
        self.calendars.push(Calendar {
            id: id.clone(),
            owner_id: owner.to_string(),
            name: name.to_string(),
            color,
            hex_color: hex,
            is_default,
            version: 1,
        });
        id
    }

    fn workday(&mut self, from_days: i64, to_days: i64) -> NaiveDate {
        let mut d = self.today + Duration::days(self.rng.random_range(from_days..to_days));
        while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            d += Duration::days(1);
        }
        d
    }

    fn person(&self, user: &User) -> Person {
        Person {
            name: user.display_name.clone(),
            address: user.address(),
        }
    }
}

/// Builds the default tenant.
/// The seeded mailbox whose SMTP address differs from its user principal name.
pub const SMTP_NOT_UPN: &str = "fuhrpark@contoso.example";
const SMTP_NOT_UPN_UPN_DOMAIN: &str = "contoso.onmicrosoft.example";

pub fn build(config: SimConfig) -> SimState {
    let today = Utc::now().date_naive();
    let mut b = Builder {
        rng: StdRng::seed_from_u64(config.seed),
        seed: config.seed,
        users: Vec::new(),
        calendars: Vec::new(),
        events: Vec::new(),
        today,
    };

    let service = b.user(
        "Datapump Service",
        Some("Datapump"),
        Some("Service"),
        "datapump",
        MailboxKind::Person,
    );
    let mut people = Vec::new();
    for i in 0..config.users.max(2) {
        let given = GIVEN[i % GIVEN.len()];
        let surname = SURNAMES[(i * 7 + i / GIVEN.len()) % SURNAMES.len()];
        let (given, surname) = if i == 0 {
            ("Anna", "Schmidt")
        } else {
            (given, surname)
        };
        let local = if i < GIVEN.len() {
            format!("{}.{}", mail_part(given), mail_part(surname))
        } else {
            format!("{}.{}{}", mail_part(given), mail_part(surname), i)
        };
        if b.users
            .iter()
            .any(|u| u.upn.starts_with(&format!("{local}@")))
        {
            continue;
        }
        let id = b.user(
            &format!("{given} {surname}"),
            Some(given),
            Some(surname),
            &local,
            MailboxKind::Person,
        );
        people.push(id);
    }
    b.user(
        "Ex Mitarbeiter",
        Some("Ex"),
        Some("Mitarbeiter"),
        "ex.mitarbeiter",
        MailboxKind::NoMailbox,
    );
    let mut rooms = Vec::new();
    for i in 0..config.rooms {
        let name = ROOMS
            .get(i)
            .map_or_else(|| format!("Raum {}", i + 1), |n| n.to_string());
        let local = mail_part(&name);
        let id = b.user(&name, None, None, &local, MailboxKind::Room);
        rooms.push(id);
    }
    let campus: Vec<String> = (1..=config.campus_rooms)
        .map(|i| {
            b.user(
                &format!("Campus {i:03}"),
                None,
                None,
                &format!("campus.{i:03}"),
                MailboxKind::Room,
            )
        })
        .collect();
    let shared: Vec<String> = [("Empfang", "empfang"), ("Fuhrpark", "fuhrpark")]
        .iter()
        .map(|(n, l)| b.user(n, None, None, l, MailboxKind::Shared))
        .collect();

    for u in &mut b.users {
        if u.id == service {
            u.password = Some(DEFAULT_PASSWORD.to_string());
        } else if u.kind == MailboxKind::Person {
            u.password = Some(format!(
                "{}-Passw0rd!",
                u.given_name.clone().unwrap_or_default()
            ));
        }
        if u.upn == ANONYMIZED_ROOM {
            u.room_policy = RoomPolicy::exchange_defaults();
        }
        // Bookings of the boardroom on the third floor wait for a delegate's approval: they are
        // in its calendar as tentative until then (`TentativePendingApproval`).
        if u.upn == APPROVAL_ROOM {
            u.room_policy.requires_approval = true;
        }
        // A mailbox whose primary SMTP address is not its UPN, as in many tenants (Microsoft
        // staff in microsoft-graph-docs #3979): found by address only through the directory.
        if u.mail.as_deref() == Some(SMTP_NOT_UPN) {
            u.upn = format!("fuhrpark@{}", SMTP_NOT_UPN_UPN_DOMAIN);
        }
    }

    // Extra calendars of the service account, and a colleague's calendar shared with it.
    let holidays = b.calendar(&service, "Feiertage", false);
    let trainings = b.calendar(&service, "Schulungen", false);

    let mut delegations = HashSet::new();
    for m in rooms.iter().chain(&campus).chain(&shared) {
        let upn = b.users.iter().find(|u| &u.id == m).map(|u| u.upn.clone());
        if upn.as_deref() != Some(FORBIDDEN_ROOM) {
            delegations.insert((service.clone(), m.clone()));
        }
    }
    let sharing_calendar = b
        .users
        .iter()
        .find(|u| u.upn == SHARING_USER)
        .map(|u| u.id.clone())
        .and_then(|id| {
            b.calendars
                .iter()
                .find(|c| c.owner_id == id && c.is_default)
        })
        .map(|c| c.id.clone());

    let mut state = SimState {
        rng_state: config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        config: config.clone(),
        users: std::mem::take(&mut b.users),
        calendars: std::mem::take(&mut b.calendars),
        events: HashMap::new(),
        by_calendar: HashMap::new(),
        delegations,
        private_readers: HashSet::new(),
        shared_calendars: sharing_calendar
            .into_iter()
            .map(|c| (c, service.clone()))
            .collect(),
        apps: HashMap::new(),
        room_lists: Vec::new(),
        pending: HashMap::new(),
        codes: HashMap::new(),
        refresh_tokens: HashMap::new(),
        access_tokens: HashMap::new(),
        used_assertions: HashMap::new(),
        delta: DeltaStore::default(),
        faults: Vec::new(),
        places_quirk: None,
        instances_cut_short: false,
        view_cut_short: false,
        omit_id_token: false,
        places_shift: 0,
        counters: Counters::default(),
        in_flight: HashMap::new(),
        recent_requests: HashMap::new(),
        seq: 0,
        clock_offset: Duration::zero(),
        auto_login: None,
        replay_delta: false,
    };
    // Two buildings, each a room list; rooms alternate between them. The campus is a third.
    let rooms: Vec<String> = state
        .users
        .iter()
        .filter(|u| u.kind == MailboxKind::Room && !u.personal && !campus.contains(&u.id))
        .map(|u| u.id.clone())
        .collect();
    state.room_lists = [
        ("Hauptgebäude", "hauptgebaeude@contoso.example", 0),
        ("Nebengebäude", "nebengebaeude@contoso.example", 1),
    ]
    .into_iter()
    .map(|(name, address, parity)| super::state::RoomList {
        name: name.into(),
        address: address.into(),
        members: rooms
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == parity)
            .map(|(_, id)| id.clone())
            .collect(),
    })
    .collect();
    if !campus.is_empty() {
        state.room_lists.push(super::state::RoomList {
            name: "Campus".into(),
            address: "campus@contoso.example".into(),
            members: campus.clone(),
        });
    }
    state.apps.insert(
        DEFAULT_CLIENT_ID.to_string(),
        App {
            client_id: DEFAULT_CLIENT_ID.to_string(),
            display_name: "Datapump".into(),
            secrets: vec![ClientSecret {
                value: DEFAULT_SECRET.into(),
                expires: Utc::now() + Duration::days(730),
            }],
            certificates: Vec::new(),
            redirect_uris: config.redirect_uris.clone(),
            permissions: DEFAULT_PERMISSIONS.iter().map(|s| s.to_string()).collect(),
            admin_consent: true,
            app_roles: BTreeSet::new(),
            exchange: ExchangeAccess::default(),
            user_consents: HashMap::new(),
        },
    );

    // Events. Each mailbox's share: rooms get `events_per_room` items, people fewer.
    let users = state.users.clone();
    let calendars = state.calendars.clone();
    let primary = |uid: &str| {
        calendars
            .iter()
            .find(|c| c.owner_id == uid && c.is_default)
            .map(|c| c.id.clone())
    };
    let mut serial = 0u64;
    let mut targets: Vec<(String, usize)> = Vec::new();
    for r in &rooms {
        if let Some(c) = primary(r) {
            targets.push((c, config.events_per_room));
        }
    }
    for m in shared.iter().chain(std::iter::once(&service)) {
        if let Some(c) = primary(m) {
            targets.push((c, 40));
        }
    }
    for p in people.iter().take(6) {
        if let Some(c) = primary(p) {
            targets.push((c, 20));
        }
    }
    targets.push((trainings.clone(), 12));
    let person_users: Vec<&User> = users
        .iter()
        .filter(|u| u.kind == MailboxKind::Person)
        .collect();
    for (calendar_id, count) in targets {
        let owner = calendars
            .iter()
            .find(|c| c.id == calendar_id)
            .and_then(|c| users.iter().find(|u| u.id == c.owner_id))
            .cloned();
        let Some(owner) = owner else { continue };
        for _ in 0..count {
            serial += 1;
            let event = random_event(&mut b, &state, &owner, &calendar_id, serial, &person_users);
            b.events.push(event);
        }
    }
    for (i, (name, month, day)) in [
        ("Neujahr", 1, 1),
        ("Tag der Arbeit", 5, 1),
        ("Tag der Deutschen Einheit", 10, 3),
        ("Heiligabend", 12, 24),
        ("1. Weihnachtstag", 12, 25),
        ("2. Weihnachtstag", 12, 26),
    ]
    .iter()
    .enumerate()
    {
        for year in [today.year(), today.year() + 1] {
            let Some(date) = NaiveDate::from_ymd_opt(year, *month, *day) else {
                continue;
            };
            serial += 1;
            let start = date.and_hms_opt(0, 0, 0).unwrap_or_default();
            let service_user = users.iter().find(|u| u.id == service).cloned();
            let organizer = service_user
                .as_ref()
                .map(|u| b.person(u))
                .unwrap_or(Person {
                    name: "Datapump Service".into(),
                    address: DEFAULT_ACCOUNT.into(),
                });
            b.events.push(Event {
                id: graph_id(&["event", &holidays, &serial.to_string()]),
                calendar_id: holidays.clone(),
                ical_uid: ical_uid(&format!("holiday-{i}-{year}")),
                subject: name.to_string(),
                body: String::new(),
                start,
                end: start + Duration::days(1),
                time_zone: "W. Europe Standard Time".into(),
                is_all_day: true,
                is_cancelled: false,
                sensitivity: "normal".into(),
                show_as: "free".into(),
                importance: "normal".into(),
                organizer,
                attendees: vec![],
                location: None,
                categories: vec!["Feiertag".into()],
                online_meeting_url: None,
                recurrence: None,
                exceptions: Default::default(),
                cancelled: Default::default(),
                created: Utc::now() - Duration::days(200),
                modified: Utc::now() - Duration::days(200),
                version: 1,
                seq: 0,
                deleted: false,
                deleted_seq: 0,
                prev_seq: 0,
                moves: 0,
            });
        }
    }
    for mut e in std::mem::take(&mut b.events) {
        e.seq = state.next_seq();
        state.insert_event(e);
    }
    add_personal_account(&mut state, today);
    state
}

/// The seeded personal Microsoft account.
pub const PERSONAL_ACCOUNT: &str = "lena.privat@outlook.example";
pub const PERSONAL_PASSWORD: &str = "Lena-Passw0rd!";

/// A personal Microsoft account with a calendar of its own, added last so that the tenant's
/// seeded data stays as it was.
fn add_personal_account(state: &mut SimState, today: NaiveDate) {
    let id = format!("{:016x}", 0x6c65_6e61_7072_6976_u64);
    state.users.push(User {
        id: id.clone(),
        display_name: "Lena Privat".into(),
        given_name: Some("Lena".into()),
        surname: Some("Privat".into()),
        mail: Some(PERSONAL_ACCOUNT.into()),
        upn: PERSONAL_ACCOUNT.into(),
        job_title: None,
        office_location: None,
        kind: MailboxKind::Person,
        password: Some(PERSONAL_PASSWORD.into()),
        tokens_valid_from: Utc::now() - Duration::days(365),
        room_policy: RoomPolicy::default(),
        personal: true,
    });
    state.calendars.push(Calendar {
        id: graph_id(&["calendar", &id, "Kalender"]),
        owner_id: id,
        name: "Kalender".into(),
        color: COLORS[0].0,
        hex_color: COLORS[0].1,
        is_default: true,
        version: 1,
    });
    for (days, subject) in [(1, "Zahnarzt"), (3, "Elternabend"), (8, "Yoga")] {
        let day = today + Duration::days(days);
        let _ = state.create_event(super::state::NewEvent {
            calendar: PERSONAL_ACCOUNT.into(),
            subject: subject.into(),
            body: String::new(),
            start: day.and_hms_opt(17, 0, 0).unwrap_or_default(),
            end: day.and_hms_opt(18, 0, 0).unwrap_or_default(),
            time_zone: "W. Europe Standard Time".into(),
            is_all_day: false,
            sensitivity: "normal".into(),
            organizer: None,
            attendees: Vec::new(),
            location: None,
            recurrence: None,
            categories: Vec::new(),
        });
    }
}

fn random_event(
    b: &mut Builder,
    state: &SimState,
    owner: &User,
    calendar_id: &str,
    serial: u64,
    people: &[&User],
) -> Event {
    let r = b.rng.random_range(0..100);
    let date = b.workday(-182, 365);
    let (tz, hour) = match b.rng.random_range(0..10) {
        0 => ("GMT Standard Time", b.rng.random_range(8..16)),
        1 => ("Pacific Standard Time", b.rng.random_range(7..10)),
        _ => ("W. Europe Standard Time", b.rng.random_range(8..18)),
    };
    let minute = [0, 15, 30, 45][b.rng.random_range(0..4)];
    let minutes = [30, 45, 60, 60, 90, 120][b.rng.random_range(0..6)];
    let start: NaiveDateTime = date.and_hms_opt(hour, minute, 0).unwrap_or_default();
    let all_day = r < 4;
    let (start, end) = if all_day {
        let s = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        (s, s + Duration::days(b.rng.random_range(1..3)))
    } else {
        (start, start + Duration::minutes(minutes))
    };
    let organizer_user = people[b.rng.random_range(0..people.len())];
    let mut attendees: Vec<Attendee> = (0..b.rng.random_range(1..4))
        .map(|_| {
            let p = people[b.rng.random_range(0..people.len())];
            Attendee {
                person: b.person(p),
                kind: if b.rng.random_bool(0.8) {
                    "required"
                } else {
                    "optional"
                }
                .into(),
                response: ["none", "accepted", "tentativelyAccepted", "declined"]
                    [b.rng.random_range(0..4)]
                .into(),
            }
        })
        .collect();
    attendees.dedup_by(|a, b| a.person == b.person);
    let is_room = owner.kind == MailboxKind::Room;
    if is_room {
        attendees.push(Attendee {
            person: b.person(owner),
            kind: "resource".into(),
            response: "accepted".into(),
        });
    }
    let subject = if b.rng.random_bool(0.5) {
        format!(
            "{} – {}",
            SUBJECTS[b.rng.random_range(0..SUBJECTS.len())],
            CUSTOMERS[b.rng.random_range(0..CUSTOMERS.len())]
        )
    } else {
        SUBJECTS[b.rng.random_range(0..SUBJECTS.len())].to_string()
    };
    let recurrence = (!all_day && (4..9).contains(&r)).then(|| {
        if b.rng.random_bool(0.3) {
            Recurrence {
                pattern: Pattern::Daily { interval: 1 },
                days_of_week: vec![],
                range: RecurrenceRange::Numbered {
                    number_of_occurrences: b.rng.random_range(5..11),
                },
            }
        } else {
            let second = [Weekday::Tue, Weekday::Thu][b.rng.random_range(0..2)];
            let mut days = vec![date.weekday()];
            if b.rng.random_bool(0.3) && second != date.weekday() {
                days.push(second);
            }
            Recurrence {
                pattern: Pattern::Weekly {
                    interval: b.rng.random_range(1..3),
                },
                days_of_week: days,
                range: if b.rng.random_bool(0.5) {
                    RecurrenceRange::Numbered {
                        number_of_occurrences: b.rng.random_range(8..21),
                    }
                } else {
                    RecurrenceRange::EndDate {
                        end_date: date + Duration::days(b.rng.random_range(60..180)),
                    }
                },
            }
        }
    });
    let created = Utc::now() - Duration::days(b.rng.random_range(1..200));
    // Now and then a meeting its organizer cancelled stays in the calendar, cancelled (a
    // series on its master; delta's occurrences do not say so, graph-protocol §9.6). Rooms keep
    // them too (`RemoveCanceledMeetings $false` by default) unless set to remove them.
    let keeps_cancelled = !is_room || !owner.room_policy.remove_canceled_meetings;
    let cancelled_series = keeps_cancelled && recurrence.is_some() && (7..9).contains(&r);
    let cancelled_single =
        keeps_cancelled && is_room && recurrence.is_none() && (9..11).contains(&r);
    let mut event = Event {
        id: graph_id(&["event", calendar_id, &serial.to_string()]),
        calendar_id: calendar_id.to_string(),
        ical_uid: ical_uid(&format!("{}-{serial}", b.seed)),
        subject: subject.clone(),
        body: format!("Agenda: {subject}. Bitte pünktlich erscheinen."),
        start,
        end,
        time_zone: if all_day {
            "W. Europe Standard Time"
        } else {
            tz
        }
        .into(),
        is_all_day: all_day,
        is_cancelled: cancelled_series || cancelled_single,
        sensitivity: if (9..14).contains(&r) {
            "private"
        } else {
            "normal"
        }
        .into(),
        show_as: if all_day { "free" } else { "busy" }.into(),
        importance: if r == 99 { "high" } else { "normal" }.into(),
        organizer: b.person(organizer_user),
        attendees,
        location: is_room.then(|| Location {
            display_name: owner.display_name.clone(),
            address: Some(owner.address()),
            kind: "conferenceRoom".into(),
        }),
        categories: if r % 7 == 0 {
            vec!["Kunde".into()]
        } else {
            vec![]
        },
        online_meeting_url: (r % 3 == 0).then(|| {
            format!("https://teams.microsoft.com/l/meetup-join/19%3ameeting_{serial}%40thread.v2/0")
        }),
        recurrence,
        exceptions: Default::default(),
        cancelled: Default::default(),
        created,
        modified: created,
        version: 1,
        seq: 0,
        deleted: false,
        deleted_seq: 0,
        prev_seq: 0,
        moves: 0,
    };
    // A series gets a moved occurrence and a cancelled one.
    let dates = event.occurrence_dates(b.today + Duration::days(400));
    if dates.len() >= 4 {
        let moved = dates[1];
        let new_start = event.start.time();
        let start = (moved + Duration::days(1)).and_time(new_start) + Duration::hours(1);
        event.exceptions.insert(
            moved,
            ExceptionOverride {
                start,
                end: start + (event.end - event.start),
                subject: Some(format!("{subject} (verschoben)")),
                version: 1,
                modified: created,
            },
        );
        event.cancelled.insert(dates[2]);
    }
    if is_room {
        let policy = owner.room_policy;
        // The seeded room flags are applied as if each meeting had been delivered.
        let p = state
            .users
            .iter()
            .find(|u| u.id == owner.id)
            .map_or(policy, |u| u.room_policy);
        if p.add_organizer_to_subject {
            event.subject = event.organizer.name.clone();
        } else if p.delete_subject {
            event.subject.clear();
        }
        if p.delete_comments {
            event.body.clear();
        }
        if p.remove_private_property {
            event.sensitivity = "normal".into();
        }
        if p.requires_approval && p.tentative_pending_approval {
            event.show_as = "tentative".into();
        }
    }
    event
}

/// Ids of every mailbox that has a calendar, for tools that walk the tenant.
pub fn mailbox_ids(state: &SimState) -> BTreeSet<String> {
    state
        .users
        .iter()
        .filter(|u| u.has_mailbox())
        .map(|u| u.id.clone())
        .collect()
}

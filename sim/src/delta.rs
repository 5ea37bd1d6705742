//! `calendarView/delta` state: rounds (paged with `$skiptoken`) and delta tokens.
//!
//! A round is computed when it starts: the list of items to send and a snapshot of every instance
//! in the window with its change key. Pages are rendered from the current data, so an item
//! changed during a round is sent as it is now, and sent again in the next round (which diffs
//! against the snapshot): replays happen, as they do with Graph. Tokens are kept per calendar in
//! a small cache; an evicted or expired one answers 410 like a lost sync state.
//!
//! Delta is not a change log, and this simulator answers the stricter way wherever sources show
//! or leave room for it (docs/graph-behaviours.md, "Delta is not a change log"):
//! - series masters come in the pages, before or after their occurrences (Microsoft staff,
//!   microsoft-graph-docs #3196: calendarView/delta "returns series masters");
//! - an occurrence that vanished from a series still there (one occurrence deleted, the series
//!   moved to another weekday: new occurrence ids) gets no `@removed`; the master and the
//!   remaining occurrences come instead (observed: stackoverflow 55641502, microsoft-graph-docs
//!   PR #4501 "No indication is given for a deleted occurrence", AvengeMedia/dankcalendar #95);
//! - a deleted series comes as its master's `@removed` only (unverified whether Graph also lists
//!   each occurrence: the stricter case);
//! - an item deleted and restored comes as `@removed` and then again, and an item changed twice
//!   comes twice ("A single entity will be contained multiple times in the response, if that
//!   entity was changed multiple times", Microsoft's delta query overview).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::model::InstanceKind;
use super::state::SimState;

#[derive(Debug, Clone)]
pub enum RoundItem {
    /// A series master, rendered in full.
    Master { event_id: String },
    Instance {
        event_id: String,
        instance_id: String,
        original_date: Option<NaiveDate>,
        kind: InstanceKind,
    },
    Removed {
        id: String,
        /// The item's moves when it was last seen: its REST id then.
        moves: u32,
    },
    /// The item is still there but moved since the last round: under a REST id it is a new
    /// item, and the old id is removed; its immutable id did not change.
    MovedAway { id: String, moves: u32 },
}

/// What a round remembers of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    change_key: String,
    /// Its event's moves (its REST id changes with each).
    moves: u32,
    event_id: String,
    kind: InstanceKind,
}

type Snapshot = HashMap<String, Seen>;

/// Whether a series' master comes before its occurrences in a round (else after): both
/// happen, fixed per series.
fn master_first(event_id: &str) -> bool {
    event_id.bytes().map(u32::from).sum::<u32>() % 2 == 0
}

/// `items` (instances) with each series' master placed before its first or after its last
/// instance in the list, for the series in `masters`.
fn with_masters(
    items: Vec<RoundItem>,
    masters: &std::collections::BTreeSet<String>,
) -> Vec<RoundItem> {
    let event_of = |item: &RoundItem| match item {
        RoundItem::Instance { event_id, .. } => Some(event_id.clone()),
        _ => None,
    };
    let mut first: HashMap<String, usize> = HashMap::new();
    let mut last: HashMap<String, usize> = HashMap::new();
    for (n, item) in items.iter().enumerate() {
        if let Some(e) = event_of(item).filter(|e| masters.contains(e)) {
            first.entry(e.clone()).or_insert(n);
            last.insert(e, n);
        }
    }
    let mut out = Vec::with_capacity(items.len() + masters.len());
    let mut placed = std::collections::BTreeSet::new();
    for (n, item) in items.into_iter().enumerate() {
        let event = event_of(&item);
        if let Some(e) = &event
            && master_first(e)
            && first.get(e) == Some(&n)
        {
            out.push(RoundItem::Master {
                event_id: e.clone(),
            });
            placed.insert(e.clone());
        }
        out.push(item);
        if let Some(e) = &event
            && !master_first(e)
            && last.get(e) == Some(&n)
        {
            out.push(RoundItem::Master {
                event_id: e.clone(),
            });
            placed.insert(e.clone());
        }
    }
    // Masters of series none of whose instances is in the list (a master-only change).
    for e in masters.iter().filter(|e| !placed.contains(*e)) {
        out.push(RoundItem::Master {
            event_id: e.clone(),
        });
    }
    out
}

#[derive(Debug, Clone)]
pub struct Round {
    pub calendar_id: String,
    pub window: (DateTime<Utc>, DateTime<Utc>),
    pub items: Arc<Vec<RoundItem>>,
    snapshot: Arc<Snapshot>,
    seq: u64,
}

#[derive(Debug, Clone)]
struct TokenState {
    calendar_id: String,
    window: (DateTime<Utc>, DateTime<Utc>),
    snapshot: Arc<Snapshot>,
    seq: u64,
    emitted: Arc<Vec<RoundItem>>,
}

#[derive(Debug, Default)]
pub struct DeltaStore {
    rounds: HashMap<String, Round>,
    round_order: VecDeque<String>,
    tokens: HashMap<String, TokenState>,
    per_calendar: HashMap<String, VecDeque<String>>,
    next: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum DeltaError {
    /// The token is unknown, evicted or expired: 410.
    SyncStateNotFound,
}

const MAX_ROUNDS: usize = 256;

/// The generation a delta token was issued as (its number), if it is one of ours.
pub fn generation_of(token: &str) -> Option<u64> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.strip_prefix('d')?.split(':').next()?.parse().ok()
}

fn opaque(prefix: &str, n: u64) -> String {
    use base64::Engine;
    let raw = format!("{prefix}{n}:{}", super::identity::random("", 32));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn snapshot_of(
    state: &SimState,
    calendar_id: &str,
    window: (DateTime<Utc>, DateTime<Utc>),
) -> (Vec<RoundItem>, Snapshot) {
    let mut items = Vec::new();
    let mut snapshot = HashMap::new();
    for i in state.instances(calendar_id, window.0, window.1) {
        let moves = state.events.get(&i.event_id).map_or(0, |e| e.moves);
        snapshot.insert(
            i.id.clone(),
            Seen {
                change_key: i.change_key.clone(),
                moves,
                event_id: i.event_id.clone(),
                kind: i.kind,
            },
        );
        items.push(RoundItem::Instance {
            event_id: i.event_id,
            instance_id: i.id,
            original_date: i.original_date,
            kind: i.kind,
        });
    }
    (items, snapshot)
}

/// The series (event ids) among `items`.
fn series_in(items: &[RoundItem]) -> std::collections::BTreeSet<String> {
    items
        .iter()
        .filter_map(|i| match i {
            RoundItem::Instance {
                event_id,
                kind: InstanceKind::Occurrence | InstanceKind::Exception,
                ..
            } => Some(event_id.clone()),
            _ => None,
        })
        .collect()
}

impl SimState {
    fn store_round(&mut self, round: Round) -> String {
        self.delta.next += 1;
        let id = opaque("r", self.delta.next);
        self.delta.rounds.insert(id.clone(), round);
        self.delta.round_order.push_back(id.clone());
        while self.delta.round_order.len() > MAX_ROUNDS {
            if let Some(old) = self.delta.round_order.pop_front() {
                self.delta.rounds.remove(&old);
            }
        }
        id
    }

    /// Starts the first round for a calendar and window.
    pub fn delta_initial(
        &mut self,
        calendar_id: &str,
        window: (DateTime<Utc>, DateTime<Utc>),
    ) -> String {
        let (items, snapshot) = snapshot_of(self, calendar_id, window);
        let masters = series_in(&items);
        let items = with_masters(items, &masters);
        let round = Round {
            calendar_id: calendar_id.to_string(),
            window,
            items: Arc::new(items),
            snapshot: Arc::new(snapshot),
            seq: self.seq,
        };
        self.store_round(round)
    }

    /// Starts a round with the changes since a delta token.
    pub fn delta_from_token(&mut self, token: &str) -> Result<String, DeltaError> {
        let previous = self
            .delta
            .tokens
            .get(token)
            .cloned()
            .ok_or(DeltaError::SyncStateNotFound)?;
        let (current, snapshot) = snapshot_of(self, &previous.calendar_id, previous.window);
        let live = |event_id: &str| {
            self.events
                .get(event_id)
                .is_some_and(|e| !e.deleted && e.calendar_id == previous.calendar_id)
        };
        let since = |seq: u64| seq > previous.seq;
        // Series whose master and every instance in the window come again: an occurrence of
        // theirs vanished (no `@removed` for it), or they were restored.
        let mut back = std::collections::BTreeSet::new();
        // Series gone whole: only the master's `@removed`.
        let mut masters_removed: Vec<(String, u32)> = Vec::new();
        let mut removals: Vec<RoundItem> = Vec::new();
        for (id, seen) in previous.snapshot.iter() {
            match snapshot.get(id) {
                None if seen.kind == InstanceKind::SingleInstance => {
                    removals.push(RoundItem::Removed {
                        id: id.clone(),
                        moves: seen.moves,
                    })
                }
                None if live(&seen.event_id) => {
                    back.insert(seen.event_id.clone());
                }
                None => {
                    if !masters_removed.iter().any(|(e, _)| e == &seen.event_id) {
                        masters_removed.push((seen.event_id.clone(), seen.moves));
                    }
                }
                Some(now) if now.moves != seen.moves => removals.push(RoundItem::MovedAway {
                    id: id.clone(),
                    moves: seen.moves,
                }),
                Some(_) => {}
            }
        }
        let restored = |event_id: &str| {
            self.events
                .get(event_id)
                .is_some_and(|e| since(e.deleted_seq))
        };
        let twice = |event_id: &str| self.events.get(event_id).is_some_and(|e| since(e.prev_seq));
        let mut changed: Vec<RoundItem> = Vec::new();
        let mut again: Vec<RoundItem> = Vec::new();
        for item in current.iter().cloned() {
            let RoundItem::Instance {
                event_id,
                instance_id,
                kind,
                ..
            } = &item
            else {
                continue;
            };
            let differs = previous.snapshot.get(instance_id) != snapshot.get(instance_id);
            if restored(event_id) {
                if *kind == InstanceKind::SingleInstance {
                    let moves = self.events.get(event_id).map_or(0, |e| e.moves);
                    changed.push(RoundItem::Removed {
                        id: instance_id.clone(),
                        moves,
                    });
                } else {
                    back.insert(event_id.clone());
                }
            }
            if differs || restored(event_id) || back.contains(event_id) {
                if twice(event_id) && differs {
                    again.push(item.clone());
                }
                changed.push(item);
            }
        }
        // A series that vanished occurrences or came back after its first instance was
        // listed: its other instances too.
        let listed: std::collections::HashSet<String> = changed
            .iter()
            .filter_map(|i| match i {
                RoundItem::Instance { instance_id, .. } => Some(instance_id.clone()),
                _ => None,
            })
            .collect();
        for item in current {
            if let RoundItem::Instance {
                event_id,
                instance_id,
                ..
            } = &item
                && back.contains(event_id)
                && !listed.contains(instance_id)
            {
                changed.push(item);
            }
        }
        // Masters: of every series with an instance listed, and of series changed since
        // (a master-only change) that have instances in the window.
        let mut masters = series_in(&changed);
        for id in self
            .by_calendar
            .get(&previous.calendar_id)
            .into_iter()
            .flatten()
        {
            if let Some(e) = self.events.get(id)
                && e.recurrence.is_some()
                && !e.deleted
                && since(e.seq)
                && !e.instances(previous.window.0, previous.window.1).is_empty()
            {
                masters.insert(e.id.clone());
            }
        }
        let mut items: Vec<RoundItem> = Vec::new();
        if self.replay_delta {
            items.extend(previous.emitted.iter().cloned());
        }
        // A restored series: its master's removal first, then the series again.
        for e in &masters {
            if restored(e) {
                let moves = self.events.get(e).map_or(0, |x| x.moves);
                items.push(RoundItem::Removed {
                    id: e.clone(),
                    moves,
                });
            }
        }
        items.extend(with_masters(changed, &masters));
        items.extend(removals);
        for (event_id, moves) in &masters_removed {
            items.push(RoundItem::Removed {
                id: event_id.clone(),
                moves: *moves,
            });
        }
        items.extend(again);
        // Items changed outside the window (or created and deleted meanwhile) come as removals
        // of ids the client never saw; clients must ignore them.
        for id in self
            .by_calendar
            .get(&previous.calendar_id)
            .into_iter()
            .flatten()
        {
            let Some(e) = self.events.get(id) else {
                continue;
            };
            if since(e.seq)
                && !snapshot.contains_key(&e.id)
                && !previous.snapshot.contains_key(&e.id)
                && !masters_removed.iter().any(|(m, _)| m == &e.id)
                && !masters.contains(&e.id)
                && e.instances(previous.window.0, previous.window.1).is_empty()
            {
                items.push(RoundItem::Removed {
                    id: e.id.clone(),
                    moves: e.moves,
                });
            }
        }
        let round = Round {
            calendar_id: previous.calendar_id.clone(),
            window: previous.window,
            items: Arc::new(items),
            snapshot: Arc::new(snapshot),
            seq: self.seq,
        };
        Ok(self.store_round(round))
    }

    pub fn delta_round(&self, round_id: &str) -> Option<&Round> {
        self.delta.rounds.get(round_id)
    }

    /// Ends a round: a new delta token for the state the round started from.
    pub fn delta_finish(&mut self, round_id: &str) -> Option<String> {
        let round = self.delta.rounds.get(round_id)?.clone();
        self.delta.next += 1;
        let token = opaque("d", self.delta.next);
        self.delta.tokens.insert(
            token.clone(),
            TokenState {
                calendar_id: round.calendar_id.clone(),
                window: round.window,
                snapshot: round.snapshot.clone(),
                seq: round.seq,
                emitted: round.items.clone(),
            },
        );
        let limit = self.config.delta_tokens_per_calendar.max(1);
        let queue = self
            .delta
            .per_calendar
            .entry(round.calendar_id)
            .or_default();
        queue.push_back(token.clone());
        while queue.len() > limit {
            if let Some(old) = queue.pop_front() {
                self.delta.tokens.remove(&old);
            }
        }
        Some(token)
    }

    /// The generations of the calendar's delta tokens still kept, newest first.
    pub fn delta_generations(&self, calendar_id: &str) -> Vec<u64> {
        self.delta
            .per_calendar
            .get(calendar_id)
            .into_iter()
            .flatten()
            .rev()
            .filter_map(|t| generation_of(t))
            .collect()
    }

    /// Forgets delta tokens (all, or one calendar's): their next use answers 410.
    pub fn expire_delta_tokens(&mut self, calendar_id: Option<&str>) -> usize {
        let before = self.delta.tokens.len();
        match calendar_id {
            Some(c) => {
                self.delta.tokens.retain(|_, t| t.calendar_id != c);
                self.delta.per_calendar.remove(c);
            }
            None => {
                self.delta.tokens.clear();
                self.delta.per_calendar.clear();
            }
        }
        before - self.delta.tokens.len()
    }
}

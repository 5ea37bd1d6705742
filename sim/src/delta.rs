//! `calendarView/delta` state: rounds (paged with `$skiptoken`) and delta tokens.
//!
//! A round is computed when it starts: the list of items to send and a snapshot of every instance
//! in the window with its change key. Pages are rendered from the current data, so an item
//! changed during a round is sent as it is now, and sent again in the next round (which diffs
//! against the snapshot): replays happen, as they do with Graph. Tokens are kept per calendar in
//! a small cache; an evicted or expired one answers 410 like a lost sync state.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::model::InstanceKind;
use super::state::SimState;

#[derive(Debug, Clone)]
pub enum RoundItem {
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

/// What a round remembers of each instance: its change key and its event's moves.
type Snapshot = HashMap<String, (String, u32)>;

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
        snapshot.insert(i.id.clone(), (i.change_key.clone(), moves));
        items.push(RoundItem::Instance {
            event_id: i.event_id,
            instance_id: i.id,
            original_date: i.original_date,
            kind: i.kind,
        });
    }
    (items, snapshot)
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
        let mut items: Vec<RoundItem> = Vec::new();
        if self.replay_delta {
            items.extend(previous.emitted.iter().cloned());
        }
        for item in current {
            if let RoundItem::Instance { instance_id, .. } = &item
                && previous.snapshot.get(instance_id) != snapshot.get(instance_id)
            {
                items.push(item);
            }
        }
        for (id, (_, moves)) in previous.snapshot.iter() {
            match snapshot.get(id) {
                None => items.push(RoundItem::Removed {
                    id: id.clone(),
                    moves: *moves,
                }),
                Some((_, now)) if now != moves => items.push(RoundItem::MovedAway {
                    id: id.clone(),
                    moves: *moves,
                }),
                Some(_) => {}
            }
        }
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
            if e.seq > previous.seq
                && !snapshot.contains_key(&e.id)
                && !previous.snapshot.contains_key(&e.id)
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

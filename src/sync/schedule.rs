//! When subscriptions are due, and which of the due ones run first.
//!
//! Each subscription has a fixed phase within its interval, taken from its id by the golden
//! ratio (a low-discrepancy sequence): 2,000 subscriptions every minute are spread evenly
//! over the minute instead of firing in the same second, and a subscription keeps its slot
//! from run to run instead of drifting by the run's duration.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::storage::sync::Due;

/// The fractional part of the golden ratio.
const PHI: f64 = 0.618_033_988_749_894_8;

/// The subscription's offset within its interval, in milliseconds.
pub fn phase_ms(id: i64, interval_ms: i64) -> i64 {
    let frac = (id as f64 * PHI).fract().abs();
    ((frac * interval_ms as f64) as i64).clamp(0, interval_ms.max(1) - 1)
}

/// The next slot of the subscription at least half an interval from `now` (so that a run
/// made on request does not have the scheduled one follow right behind it).
pub fn next_due(id: i64, interval: chrono::Duration, now: DateTime<Utc>) -> DateTime<Utc> {
    let interval_ms = interval.num_milliseconds().max(1000);
    let phase = phase_ms(id, interval_ms);
    let earliest = now.timestamp_millis() + interval_ms / 2;
    let k = (earliest - phase).div_euclid(interval_ms) + 1;
    let slot = k * interval_ms + phase;
    DateTime::from_timestamp_millis(slot).unwrap_or(now + interval)
}

/// Picks up to `free` of the due subscriptions, `(id, profile)` in due order, sharing the
/// engine fairly between profiles: round-robin over the profiles with due work, each first
/// capped at an equal share of `concurrency` (counting the runs it has going), so that one
/// profile with a thousand due rooms — or one whose app Graph throttles — cannot keep the
/// others waiting. Slots nobody else wants go to whoever has work left.
pub fn fair_pick(
    due: &[Due],
    running: &HashMap<i64, usize>,
    concurrency: usize,
    free: usize,
) -> Vec<i64> {
    let mut queues: Vec<(i64, std::collections::VecDeque<i64>)> = Vec::new();
    for &Due {
        id,
        profile_id: profile,
        ..
    } in due
    {
        match queues.iter_mut().find(|(p, _)| *p == profile) {
            Some((_, q)) => q.push_back(id),
            None => queues.push((profile, std::collections::VecDeque::from([id]))),
        }
    }
    let mut busy: Vec<i64> = running
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(p, _)| *p)
        .collect();
    busy.extend(queues.iter().map(|(p, _)| *p));
    busy.sort_unstable();
    busy.dedup();
    let cap = concurrency.max(1).div_ceil(busy.len().max(1));
    let mut taken: HashMap<i64, usize> = HashMap::new();
    let mut out = Vec::new();
    for capped in [true, false] {
        while out.len() < free {
            let mut progressed = false;
            for (profile, q) in &mut queues {
                if out.len() >= free {
                    break;
                }
                let held = running.get(profile).copied().unwrap_or(0)
                    + taken.get(profile).copied().unwrap_or(0);
                if capped && held >= cap {
                    continue;
                }
                if let Some(id) = q.pop_front() {
                    *taken.entry(*profile).or_default() += 1;
                    out.push(id);
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
    }
    out
}

/// This engine's share of the due work while other engines run beside it. Within one tick
/// window it starts at most its share of what was due when the window opened, so that an
/// engine woken early by a finished run does not take what the others would take at their
/// next tick. Work still due after two windows (the others are busy or gone) is anyone's.
#[derive(Debug)]
pub struct Share {
    window: std::time::Duration,
    ends: Option<std::time::Instant>,
    quota: usize,
    taken: usize,
}

impl Share {
    pub fn new(window: std::time::Duration) -> Self {
        Self {
            window,
            ends: None,
            quota: 0,
            taken: 0,
        }
    }

    /// How many of `due` this engine may start now, with `engines` alive (itself included).
    pub fn allowance(
        &mut self,
        at: std::time::Instant,
        now: DateTime<Utc>,
        due: &[Due],
        engines: usize,
    ) -> usize {
        if engines <= 1 {
            return usize::MAX;
        }
        if self.ends.is_none_or(|end| at >= end) {
            self.ends = Some(at + self.window);
            self.quota = due.len().div_ceil(engines);
            self.taken = 0;
        }
        let grace =
            chrono::Duration::from_std(self.window * 2).unwrap_or(chrono::Duration::seconds(2));
        let overdue = due
            .iter()
            .filter(|d| d.since.is_none_or(|since| since < now - grace))
            .count();
        self.quota.saturating_sub(self.taken).max(overdue)
    }

    /// `n` runs were started.
    pub fn took(&mut self, n: usize) {
        self.taken += n;
    }

    /// `n` of the runs started found their subscription taken by another instance.
    pub fn gave_back(&mut self, n: usize) {
        self.taken = self.taken.saturating_sub(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn two_thousand_subscriptions_spread_over_the_minute() {
        let minute = chrono::Duration::minutes(1);
        let now = Utc
            .with_ymd_and_hms(2026, 12, 2, 10, 0, 0)
            .single()
            .expect("time");
        let mut per_second = [0u32; 60];
        for id in 1..=2000 {
            let due = next_due(id, minute, now);
            assert!(
                due >= now + chrono::Duration::seconds(30)
                    && due < now + chrono::Duration::seconds(90)
            );
            per_second[usize::try_from(due.timestamp().rem_euclid(60)).expect("second")] += 1;
        }
        // 33.3 on average; the golden ratio keeps every second close to it.
        let (min, max) = (per_second.iter().min(), per_second.iter().max());
        assert!(min >= Some(&30) && max <= Some(&37), "{per_second:?}");
    }

    #[test]
    fn a_subscription_keeps_its_slot() {
        let interval = chrono::Duration::minutes(5);
        let t0 = Utc
            .with_ymd_and_hms(2026, 12, 2, 10, 0, 0)
            .single()
            .expect("time");
        let first = next_due(42, interval, t0);
        // A run that took 20 s does not push the next one back by 20 s.
        let second = next_due(42, interval, first + chrono::Duration::seconds(20));
        assert_eq!(second - first, interval);
        // "Sync now" just before the slot: the slot after it.
        let early = next_due(42, interval, second - chrono::Duration::seconds(10));
        assert_eq!(early - second, interval);
    }

    #[test]
    fn profiles_share_the_engine() {
        // Profile 1 has 100 due rooms ahead of profile 2's three.
        let mut due: Vec<Due> = (1..=100).map(|id| due_now(id, 1)).collect();
        due.extend([due_now(101, 2), due_now(102, 2), due_now(103, 2)]);
        let picked = fair_pick(&due, &HashMap::new(), 8, 8);
        assert_eq!(
            picked,
            [1, 101, 2, 102, 3, 103, 4, 5],
            "alternating, then the rest"
        );
        // Alone, a profile may use every slot.
        assert_eq!(fair_pick(&due[..100], &HashMap::new(), 8, 8).len(), 8);
        // Its running runs count against its share: the other profile goes first.
        let running = HashMap::from([(1, 4)]);
        assert_eq!(fair_pick(&due, &running, 8, 2), [101, 102]);
        assert_eq!(fair_pick(&due, &running, 8, 4), [101, 102, 103, 1]);
        // Nothing free, nothing picked.
        assert!(fair_pick(&due, &HashMap::new(), 8, 0).is_empty());
    }

    fn due_now(id: i64, profile_id: i64) -> Due {
        Due {
            id,
            profile_id,
            since: Some(Utc::now()),
        }
    }

    #[test]
    fn an_engine_takes_its_share_per_window() {
        let window = std::time::Duration::from_secs(1);
        let (at, now) = (std::time::Instant::now(), Utc::now());
        let due: Vec<Due> = (1..=7).map(|id| due_now(id, 1)).collect();
        // Alone: everything.
        assert_eq!(Share::new(window).allowance(at, now, &due, 1), usize::MAX);
        let mut share = Share::new(window);
        assert_eq!(share.allowance(at, now, &due, 2), 4);
        share.took(4);
        // Woken by a finished run within the window: the other three are the other engine's.
        assert_eq!(share.allowance(at + window / 2, now, &due[4..], 2), 0);
        // Still there two windows on: the other engine did not take them.
        let later = now + chrono::Duration::seconds(3);
        assert_eq!(share.allowance(at + window / 2, later, &due[4..], 2), 3);
        // Two of its four found their subscription taken by the other engine meanwhile: it may
        // start two others within the window.
        share.gave_back(2);
        assert_eq!(share.allowance(at + window / 2, now, &due[4..], 2), 2);
        share.took(2);
        // A new window: its share of what is due then.
        assert_eq!(share.allowance(at + window, now, &due[4..], 2), 2);
        // Never run yet: anyone's.
        let new = [Due {
            id: 9,
            profile_id: 1,
            since: None,
        }];
        share.took(2);
        assert_eq!(share.allowance(at + window, now, &new, 2), 1);
    }
}

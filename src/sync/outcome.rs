//! What a run's result means for its subscription: the run's recorded status and error, the
//! status the subscription shows, and when it runs next. A pure function, so the policy is
//! tested without a database or Graph.

use chrono::{DateTime, Utc};

use super::RunError;
use super::schedule;
use crate::model::{RunStatus, SubscriptionStatus};

/// Failing runs back off by doubling, at most this long, never more often than the interval.
const LONGEST_BACKOFF: chrono::Duration = chrono::Duration::hours(1);

#[derive(Debug, PartialEq)]
pub(super) struct NextStep {
    pub run: RunStatus,
    pub error: Option<String>,
    /// The subscription's new status; `None`: leave it (another engine took over).
    pub subscription: Option<SubscriptionStatus>,
    pub next_sync_at: DateTime<Utc>,
}

/// The next step after a run of subscription `id` (every `interval`, `failures` failed runs
/// in a row before this one) ended with `result` at `now`.
pub(super) fn next_step(
    result: &Result<(), RunError>,
    id: i64,
    interval: chrono::Duration,
    failures: i64,
    now: DateTime<Utc>,
) -> NextStep {
    let (run, error, next_sync_at) = match result {
        Ok(()) => (RunStatus::Ok, None, schedule::next_due(id, interval, now)),
        Err(RunError::ProfilePaused(s)) => (
            RunStatus::Paused,
            Some(format!("profile: {s}")),
            now + interval,
        ),
        Err(RunError::LeaseLost) => (
            RunStatus::Aborted,
            Some(RunError::LeaseLost.to_string()),
            now + interval,
        ),
        Err(RunError::Interrupted) => (RunStatus::Interrupted, None, now),
        Err(e) => {
            let factor = 2i32.saturating_pow(u32::try_from(failures).unwrap_or(6).min(6));
            let wait = (interval * factor).min(LONGEST_BACKOFF).max(interval);
            (RunStatus::Error, Some(e.to_string()), now + wait)
        }
    };
    // The subscription shows how its latest run ended; a run aborted because another engine
    // took over does not touch it.
    let subscription = match run {
        RunStatus::Ok => Some(SubscriptionStatus::Ok),
        RunStatus::Paused => Some(SubscriptionStatus::Paused),
        RunStatus::Interrupted => Some(SubscriptionStatus::Interrupted),
        RunStatus::Error => Some(SubscriptionStatus::Error),
        RunStatus::Aborted | RunStatus::Running => None,
    };
    NextStep {
        run,
        error,
        subscription,
        next_sync_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_796_000_000, 0).unwrap_or_default()
            + chrono::Duration::minutes(minutes)
    }

    #[test]
    fn each_result_sets_status_and_next_run() {
        let five = chrono::Duration::minutes(5);
        let now = at(0);
        let ok = next_step(&Ok(()), 7, five, 3, now);
        assert_eq!(
            (ok.run, ok.subscription, ok.error),
            (RunStatus::Ok, Some(SubscriptionStatus::Ok), None)
        );
        // Within the interval's slot, at least half an interval away.
        assert!(ok.next_sync_at > now + five / 2 && ok.next_sync_at <= now + five * 3 / 2);

        let paused = next_step(
            &Err(RunError::ProfilePaused(
                crate::model::ProfileStatus::ConsentMissing,
            )),
            7,
            five,
            0,
            now,
        );
        assert_eq!(paused.subscription, Some(SubscriptionStatus::Paused));
        assert_eq!(paused.next_sync_at, now + five);

        // Another engine took over: recorded as aborted, the subscription left alone.
        let lost = next_step(&Err(RunError::LeaseLost), 7, five, 0, now);
        assert_eq!((lost.run, lost.subscription), (RunStatus::Aborted, None));

        // Shutdown: due again at once.
        let stopped = next_step(&Err(RunError::Interrupted), 7, five, 0, now);
        assert_eq!(stopped.run, RunStatus::Interrupted);
        assert_eq!(stopped.next_sync_at, now);
    }

    #[test]
    fn failures_back_off_doubling_up_to_an_hour() {
        let five = chrono::Duration::minutes(5);
        let failed = |failures| {
            let step = next_step(
                &Err(RunError::Internal("x".into())),
                7,
                five,
                failures,
                at(0),
            );
            assert_eq!(step.subscription, Some(SubscriptionStatus::Error));
            (step.next_sync_at - at(0)).num_minutes()
        };
        assert_eq!([0, 1, 2, 3, 4, 9].map(failed), [5, 10, 20, 40, 60, 60]);
        // A long interval is never shortened by the cap.
        let daily = chrono::Duration::hours(24);
        let step = next_step(&Err(RunError::Internal("x".into())), 7, daily, 5, at(0));
        assert_eq!(step.next_sync_at, at(0) + daily);
    }
}

//! A panic in one import run must not take anything else down: it becomes a failed run (the
//! caller records it and releases the lease), and the scheduler forgets the run however it ends.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;

use super::RunError;

/// Runs `run`, turning a panic into `RunError::Panicked` with the panic's message. The state a
/// panicking run leaves is what its last committed page left: every page is one transaction.
pub async fn catch_panic<F>(run: F) -> Result<(), RunError>
where
    F: Future<Output = Result<(), RunError>>,
{
    AssertUnwindSafe(run)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(RunError::Panicked(message(panic.as_ref()))))
}

/// The text a panic was raised with.
pub fn message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// A subscription's place in the scheduler's set of running runs, given up when dropped: also
/// when the run's task panics or is cancelled, so the subscription is never stuck as running.
pub struct Running {
    set: Arc<Mutex<HashSet<i64>>>,
    id: i64,
}

impl Running {
    /// `None` when the subscription is running already.
    pub fn enter(set: &Arc<Mutex<HashSet<i64>>>, id: i64) -> Option<Self> {
        let mut running = set.lock().unwrap_or_else(|p| p.into_inner());
        running.insert(id).then(|| Self {
            set: set.clone(),
            id,
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// A run counted against its profile's share of the scheduler, given back when dropped.
pub struct ProfileSlot {
    counts: Arc<Mutex<HashMap<i64, usize>>>,
    profile: i64,
}

impl ProfileSlot {
    pub fn enter(counts: &Arc<Mutex<HashMap<i64, usize>>>, profile: i64) -> Self {
        *counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(profile)
            .or_default() += 1;
        Self {
            counts: counts.clone(),
            profile,
        }
    }
}

impl Drop for ProfileSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.profile) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.profile);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_run_becomes_a_failed_run_with_its_message() {
        let failed = catch_panic(async { panic!("index out of bounds") }).await;
        assert!(
            matches!(&failed, Err(RunError::Panicked(m)) if m == "index out of bounds"),
            "{failed:?}"
        );
        let id = 7;
        let formatted = catch_panic(async move { panic!("subscription {id}") }).await;
        assert!(matches!(&formatted, Err(RunError::Panicked(m)) if m == "subscription 7"));
        assert!(catch_panic(async { Ok(()) }).await.is_ok());
        assert!(matches!(
            catch_panic(async { Err(RunError::Deadline) }).await,
            Err(RunError::Deadline)
        ));
    }

    #[test]
    fn the_running_set_forgets_a_run_that_panicked() {
        let set = Arc::new(Mutex::new(HashSet::new()));
        let first = Running::enter(&set, 1);
        assert!(first.is_some());
        assert!(Running::enter(&set, 1).is_none(), "never twice at once");
        drop(first);
        let unwound = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _running = Running::enter(&set, 1);
            panic!("boom");
        }));
        assert!(unwound.is_err());
        assert!(set.lock().unwrap().is_empty());
        assert!(Running::enter(&set, 1).is_some());
    }
}

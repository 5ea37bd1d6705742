//! The hourly self-check of the engine: a subscription's rows compared with `calendarView`
//! (`verify`), drift confirmed by a second read and repaired by a full round.

#[allow(clippy::wildcard_imports)]
use super::*;

impl SyncEngine {
    /// What differs now between Graph's calendar view and the stored rows.
    pub(super) async fn drift_now(
        &self,
        ctx: &RunContext<'_>,
        subscription: i64,
    ) -> Result<verify::Drift, RunError> {
        Ok(verify::drift(
            &ctx.view_versions().await?,
            &self.db.stored_versions(subscription).await?,
        ))
    }

    /// The self-check after a round that ended well, when it is due (`verify`): a full round
    /// stands in for it; otherwise the rows are compared with Graph's calendar view, and what
    /// differs in two reads with a delta round between is counted, logged and repaired by a
    /// full round.
    pub(super) async fn self_check(
        &self,
        ctx: &mut RunContext<'_>,
        lease: &Lease,
        sub: &Subscription,
        run_id: i64,
        kind: &mut RunKind,
        full: bool,
    ) -> Result<(), RunError> {
        let Some(every) = self.policy.verify_every else {
            return Ok(());
        };
        if full {
            self.db.record_check(lease, 0).await?;
            return Ok(());
        }
        if sub.verified_at.is_some_and(|t| Utc::now() - t < dur(every)) {
            return Ok(());
        }
        let first = self.drift_now(ctx, sub.id).await?;
        let mut drift = first.clone();
        if !first.is_empty() {
            // What changed since the round is no drift: another delta round, another read.
            let cursor = self.db.cursor(sub.id).await?;
            if let Some(delta) = cursor.delta_link {
                self.db.start_round(lease, &delta, None, ctx.window).await?;
                let plan = RoundPlan {
                    lease,
                    generation: cursor.sync_generation,
                    full: false,
                    run_id,
                };
                self.round(ctx, &delta, sub, &plan).await?;
            }
            let second = self.drift_now(ctx, sub.id).await?;
            drift = first.confirmed_by(&second);
        }
        let n = i64::try_from(drift.len()).unwrap_or(i64::MAX);
        self.db.record_check(lease, n).await?;
        if drift.is_empty() {
            return Ok(());
        }
        tracing::warn!(
            drift = n,
            missing = ?drift.missing,
            extra = ?drift.extra,
            changed = ?drift.changed,
            "self-check: stored rows differ from Graph; repairing with a full round"
        );
        let generation = self.db.cursor(sub.id).await?.sync_generation + 1;
        let first_link = ctx.delta_start(ctx.window);
        self.db
            .start_round(lease, &first_link, Some(generation), ctx.window)
            .await?;
        *kind = RunKind::Repair;
        let plan = RoundPlan {
            lease,
            generation,
            full: true,
            run_id,
        };
        self.round(ctx, &first_link, sub, &plan).await
    }
}

//! One import run: claim, the profile and its limits, the rounds, and what the result means for
//! the subscription (`outcome::next_step`), logged in one span.

#[allow(clippy::wildcard_imports)]
use super::*;

impl SyncEngine {
    pub(super) async fn run_claimed(&self, id: i64, lease: Lease) -> Result<RunReport, StoreError> {
        let sub = self.db.subscription(id).await?;
        // A new mailbox may bring a new internal domain: classify before writing. Looked up
        // by the mailbox's domain, so that a round over thousands of rooms does not reread
        // every subscription for each of them (`jobs` refreshes all periodically).
        let domain = sub
            .mailbox_address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("");
        let known = domain.is_empty() || self.db.is_internal_domain(domain).await.unwrap_or(false);
        if !known && let Err(e) = self.db.refresh_internal_domains().await {
            tracing::warn!(error = %e, "could not refresh the internal domains");
        }
        // When it fell due, for the lag (due to done) in the log: the scheduler's measure.
        let due = sub.next_sync_at.unwrap_or(sub.created_at);
        let started = Utc::now();
        let run_id = self.db.start_run(id, RunKind::Delta, &self.owner).await?;
        // Every line logged during the run carries these; `kind` is known at its end (a delta
        // round can become a full one).
        let span = tracing::info_span!(
            "import",
            subscription = id,
            run = run_id,
            kind = tracing::field::Empty
        );
        let mut ctx = RunContext {
            engine: self,
            lease: lease.clone(),
            // Replaced by the shared permits once the profile (its app) is known.
            mailbox: Arc::new(tokio::sync::Semaphore::new(1)),
            budget_key: String::new(),
            profile_id: sub.profile_id,
            endpoints: Endpoints::default(),
            calendar: calendar_ref(&sub),
            ids: sub.item_ids,
            window: window(sub.effective_days_back(), sub.days_ahead, Utc::now()),
            deadline: Instant::now() + self.policy.max_run,
            stats: RunStats::default(),
            meter: Meter::default(),
        };
        let mut kind = RunKind::Delta;
        let result = match sub.profile_id {
            None => Err(RunError::Internal(
                "the subscription's profile was deleted".into(),
            )),
            Some(pid) => match self.db.profile(pid).await {
                Ok(profile) => {
                    ctx.endpoints = Endpoints::from(&profile);
                    ctx.mailbox = self.request_permits(&sub, &profile);
                    ctx.budget_key = budget_key(&sub, &profile);
                    let run = self.sync(&mut ctx, &lease, &sub, run_id, &mut kind);
                    guard::catch_panic(run).instrument(span.clone()).await
                }
                Err(e) => Err(e.into()),
            },
        };
        let now = Utc::now();
        let interval = dur(Duration::from_secs(
            u64::try_from(sub.interval_minutes.max(1)).unwrap_or(5) * 60,
        ));
        if let Err(RunError::Panicked(message)) = &result {
            tracing::error!(parent: &span, panic = %message, "import run panicked; recorded as failed");
        }
        let step = outcome::next_step(&result, id, interval, sub.failures, now);
        let (status, error, next) = (step.run, step.error, step.next_sync_at);
        let stats = ctx.meter.stats(&ctx.stats);
        self.db
            .finish_run(run_id, kind, &stats, status, error.as_deref())
            .await?;
        if let Some(outcome) = step.subscription {
            self.db
                .finish_subscription_run(
                    &lease,
                    &RunOutcome {
                        series_unreadable: if ctx.meter.unreadable() > 0 {
                            Some(true)
                        } else if result.is_ok() && kind != RunKind::Delta {
                            // A whole round saw every series readable.
                            Some(false)
                        } else {
                            None
                        },
                        status: outcome,
                        error: error.as_deref(),
                        hint: result.as_ref().err().and_then(RunError::hint),
                        next_sync_at: next,
                        success: result.is_ok(),
                    },
                )
                .await?;
            if result.is_ok() {
                self.check_anonymized(id).await?;
            }
            let forbidden = result.as_ref().err().and_then(RunError::graph_failure)
                == Some(GraphFailure::Forbidden);
            if let (true, Some(pid)) = (forbidden, sub.profile_id) {
                self.pause_app_without_access(pid).await?;
            }
        }
        span.record("kind", tracing::field::display(kind));
        match &result {
            Ok(()) => tracing::info!(
                parent: &span,
                pages = stats.pages,
                created = stats.created,
                updated = stats.updated,
                deleted = stats.deleted,
                requests = stats.requests,
                duration_ms = (Utc::now() - started).num_milliseconds(),
                lag_ms = (Utc::now() - due).num_milliseconds().max(0),
                owner = %self.owner,
                "sync finished"
            ),
            Err(e) => tracing::warn!(parent: &span, error = %e, "sync did not finish"),
        }
        Ok(RunReport {
            subscription_id: id,
            status,
            kind,
            stats,
            error,
        })
    }

    /// An application profile whose token carries no calendar role and none of whose
    /// subscriptions has ever been read: neither Entra nor Exchange (RBAC for Applications)
    /// grants it anything, so it pauses with the fix named instead of failing every room
    /// forever. A missing role alone does not pause it — in the scoped setup Exchange grants
    /// the access and the token has no role — nor does a refusal once a room was read (that
    /// room is outside the scope).
    pub(super) async fn pause_app_without_access(&self, profile_id: i64) -> Result<(), StoreError> {
        let profile = self.db.profile(profile_id).await?;
        let roles = profile.scopes();
        let has_role = [
            "Calendars.Read",
            "Calendars.ReadBasic.All",
            "Calendars.ReadWrite",
        ]
        .iter()
        .any(|r| roles.iter().any(|x| x == r));
        if profile.kind != crate::model::ProfileKind::Application
            || has_role
            || profile.status != ProfileStatus::Ok
        {
            return Ok(());
        }
        let read_once = self
            .db
            .list_subscriptions(Some(profile_id))
            .await?
            .iter()
            .any(|s| s.last_sync_at.is_some());
        if read_once {
            return Ok(());
        }
        self.db
            .set_profile_status(
                profile_id,
                ProfileStatus::ConsentMissing,
                (
                    Some("no-calendar-access"),
                    Some("Graph refused the mailboxes (403) and the token has no calendar role"),
                ),
                Some(&crate::storage::audit::AuditRecord {
                    actor: Some("system".into()),
                    action: "profile.status_changed",
                    target: Some(profile.name.clone()),
                    details: Some(format!(
                        "{} -> consent_missing: no calendar access",
                        profile.status
                    )),
                    ..crate::storage::audit::AuditRecord::default()
                }),
            )
            .await?;
        tracing::warn!(profile = %profile.name, "application profile paused: no calendar access");
        Ok(())
    }

    /// A subscription made before mailboxes were addressed by id (or whose directory lookup
    /// failed then) is resolved now, once; if the directory cannot be read, the mailbox is
    /// read by its address as before.
    pub(super) async fn resolve_mailbox(
        &self,
        ctx: &mut RunContext<'_>,
        sub: &Subscription,
    ) -> Result<(), RunError> {
        if sub.source != SubscriptionSource::Mailbox || sub.mailbox_id.is_some() {
            return Ok(());
        }
        match ctx.resolve_mailbox(&sub.mailbox_address).await {
            Ok(Some(user)) => {
                self.db.set_mailbox_id(sub.id, &user.id).await?;
                ctx.calendar = CalendarRef::Mailbox(user.id);
            }
            Ok(None) => {
                tracing::info!(
                    "the directory does not know the mailbox's address; reading it by address"
                );
            }
            Err(
                e @ (RunError::ProfilePaused(_)
                | RunError::ProfileUnreachable
                | RunError::Deadline
                | RunError::Store(_)),
            ) => {
                return Err(e);
            }
            Err(e) => {
                tracing::info!(error = %e, "directory lookup failed; reading the mailbox by address");
            }
        }
        Ok(())
    }

    /// A subscription that stored Graph's default ids (made before Datapump asked for immutable
    /// ones) switches once: its stored ids are translated by Graph and rewritten in one
    /// transaction, so rows keep their identity and nothing is imported twice; then a full
    /// round in the new form follows. If Graph cannot translate now, this run reads as before
    /// and the next one tries again.
    pub(super) async fn adopt_immutable_ids(
        &self,
        ctx: &mut RunContext<'_>,
        lease: &Lease,
        sub: &Subscription,
    ) -> Result<(), RunError> {
        if ctx.ids == ItemIds::Immutable {
            return Ok(());
        }
        let stored = self.db.stored_item_ids(sub.id).await?;
        let translated = if stored.is_empty() {
            Vec::new()
        } else {
            match ctx.translate_to_immutable(&stored).await {
                Ok(t) => t,
                Err(
                    e @ (RunError::ProfilePaused(_)
                    | RunError::ProfileUnreachable
                    | RunError::Deadline
                    | RunError::Store(_)),
                ) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "could not translate the stored ids to immutable ids; trying again next run");
                    return Ok(());
                }
            }
        };
        let rows = self.db.switch_to_immutable_ids(lease, &translated).await?;
        tracing::info!(
            rows,
            untranslated = stored.len().saturating_sub(translated.len()),
            "switched to immutable ids"
        );
        ctx.ids = ItemIds::Immutable;
        Ok(())
    }

    pub(super) async fn sync(
        &self,
        ctx: &mut RunContext<'_>,
        lease: &Lease,
        sub: &Subscription,
        run_id: i64,
        kind: &mut RunKind,
    ) -> Result<(), RunError> {
        #[cfg(test)]
        if self
            .panic_for
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&sub.id)
        {
            #[allow(clippy::panic)]
            {
                panic!("injected by a test");
            }
        }
        self.resolve_mailbox(ctx, sub).await?;
        self.adopt_immutable_ids(ctx, lease, sub).await?;
        let w = window(sub.effective_days_back(), sub.days_ahead, Utc::now());
        ctx.window = w;
        if matches!(ctx.calendar, CalendarRef::Own(_)) {
            *kind = RunKind::Full;
            return self.view_round(ctx, lease, sub, run_id).await;
        }
        let cursor = self.db.cursor(sub.id).await?;
        let same_window = cursor.window_start == Some(w.0) && cursor.window_end == Some(w.1);
        let full_due = cursor
            .last_full_sync_at
            .is_none_or(|t| Utc::now() - t > dur(self.policy.full_every));
        let mut generation = cursor.sync_generation;
        let mut full = cursor.round_full;
        // Where this round starts; the database holds the same for resuming after a crash.
        let mut link = match (&cursor.next_link, &cursor.delta_link) {
            (Some(next), _) if same_window => {
                // Resume the round a previous run left (crash or shutdown).
                if full {
                    generation = cursor.round_generation;
                }
                next.clone()
            }
            (_, Some(delta)) if same_window && !full_due => {
                self.db.start_round(lease, delta, None, w).await?;
                full = false;
                delta.clone()
            }
            _ => {
                generation = cursor.sync_generation + 1;
                let first = ctx.delta_start(w);
                self.db
                    .start_round(lease, &first, Some(generation), w)
                    .await?;
                full = true;
                first
            }
        };
        *kind = if full { RunKind::Full } else { RunKind::Delta };
        let mut restarted = false;
        loop {
            match self
                .round(
                    ctx,
                    &link,
                    sub,
                    &RoundPlan {
                        lease,
                        generation,
                        full,
                        run_id,
                    },
                )
                .await
            {
                Err(e) if !restarted && e.graph_failure() == Some(GraphFailure::Gone) => {
                    // The delta token expired: a full round that reconciles.
                    restarted = true;
                    self.db.reset_cursor(lease).await?;
                    generation = self.db.cursor(sub.id).await?.sync_generation + 1;
                    link = ctx.delta_start(w);
                    self.db
                        .start_round(lease, &link, Some(generation), w)
                        .await?;
                    full = true;
                    *kind = RunKind::Resync;
                }
                Err(e) => return Err(e),
                Ok(()) => break,
            }
        }
        self.self_check(ctx, lease, sub, run_id, kind, full).await
    }

    /// Flags a room whose upcoming subjects are mostly empty or the organizer's name.
    pub(super) async fn check_anonymized(&self, id: i64) -> Result<(), StoreError> {
        let recent = self.db.upcoming_subjects(id, 50).await?;
        let anonymized = crate::subscriptions::anonymized::looks_anonymized(
            recent
                .iter()
                .map(|(s, o)| (s.as_deref().unwrap_or(""), o.as_deref().unwrap_or(""))),
        );
        self.db.set_anonymized(id, anonymized).await
    }
}

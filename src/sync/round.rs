//! One round of a subscription: delta pages mapped, with the series they bring read once each
//! (`events/{id}/instances`), written in order; secondary calendars read whole by `calendarView`.

#[allow(clippy::wildcard_imports)]
use super::*;

/// What a round learned about the series its pages brought: each is read once per round.
#[derive(Default)]
pub(super) struct Series {
    /// Each master (the newest a page sent, else fetched); `None` when the account may not
    /// open it.
    pub(super) masters: HashMap<String, Option<Event>>,
    /// Each series' occurrences and exceptions in the window, by id; `None` when not readable.
    pub(super) instances: HashMap<String, Option<HashMap<String, Event>>>,
}

/// A series' detail, or `None` where Graph answers 404: the account may not open it (a
/// private series), which is no proof that it is gone.
pub(super) fn unless_unreadable<T>(r: Result<T, RunError>) -> Result<Option<T>, RunError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.graph_failure() == Some(GraphFailure::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

#[derive(Clone, Copy)]
pub(super) struct RoundPlan<'a> {
    pub(super) lease: &'a Lease,
    /// The generation rows are stamped with.
    pub(super) generation: i64,
    /// A full round: its last page removes the rows it did not see.
    pub(super) full: bool,
    pub(super) run_id: i64,
}

/// One delta page, mapped and ready to store: its entries in order, and the series it brought
/// back as they are now (delta rounds only; a full round's sweep removes what it did not see).
pub(super) struct Page {
    pub(super) changes: Vec<Change>,
    pub(super) series: Vec<SeriesNow>,
    pub(super) next_link: Option<String>,
    pub(super) delta_link: Option<String>,
}

impl SyncEngine {
    /// A listed calendar of the account other than a mailbox's primary one: v1.0 has no delta
    /// for it (docs/graph-behaviours.md), so every run reads its `calendarView` whole (such
    /// calendars are small) and reconciles like a full round. Where Graph sends `@odata.count`,
    /// the sweep runs when the listing has that many items (otherwise nothing is removed this
    /// run); without it, the listing is read twice and only what neither read saw is removed,
    /// so one listing cut short without a next link removes nothing.
    pub(super) async fn view_round(
        &self,
        ctx: &mut RunContext<'_>,
        lease: &Lease,
        sub: &Subscription,
        run_id: i64,
    ) -> Result<(), RunError> {
        let w = ctx.window;
        let generation = self.db.cursor(sub.id).await?.sync_generation + 1;
        let first = ctx.delta_start(w);
        self.db
            .start_round(lease, &first, Some(generation), w)
            .await?;
        let mut pages = ctx.stats;
        let series = Series::default();
        // Without a count, one listing that ends without a next link proves nothing: a second
        // one follows, and only what neither saw is removed (both stamp this generation).
        for pass in 0..2 {
            let (mut read, mut count) = (0u64, None);
            let mut link = first.clone();
            let counted = loop {
                if self.shutdown.is_cancelled() {
                    return Err(RunError::Interrupted);
                }
                let page = ctx.delta_page(&link).await?;
                count = page.count.or(count);
                read += u64::try_from(page.value.len()).unwrap_or(u64::MAX);
                let mut changes = Vec::with_capacity(page.value.len());
                for e in page.value {
                    if !e.is_series_master() {
                        changes.push(Change::Upsert(self.row(ctx, &e, sub, &series)?));
                    }
                }
                let last = page.next_link.is_none();
                let whole = last
                    && match count {
                        Some(c) => c == read,
                        None => pass == 1,
                    };
                if last && count.is_some_and(|c| c != read) {
                    tracing::warn!(
                        read,
                        count = ?count,
                        "the calendar view ended short of its count; nothing removed this run"
                    );
                }
                let cursor = PageCursor {
                    next_link: page.next_link.as_deref(),
                    delta_link: None,
                    complete_full_round: whole.then_some(generation),
                    lease_until: from_now(self.policy.lease),
                };
                let progress = ctx.meter.stats(&pages);
                let stats = self
                    .db
                    .apply_pages(
                        lease,
                        generation,
                        &[PageWrite {
                            changes: &changes,
                            series: &[],
                        }],
                        &cursor,
                        (run_id, &progress),
                    )
                    .await?;
                for s in stats {
                    pages.add_page(s);
                }
                match page.next_link {
                    Some(next) => link = next,
                    None => break count.is_some(),
                }
            };
            if counted {
                break;
            }
        }
        ctx.stats = pages;
        // Every run is a full reconciliation: the self-check has nothing to add.
        self.db.record_check(lease, 0).await?;
        Ok(())
    }

    /// Fetches and applies the pages of a round from `first` on. A fetcher keeps up to
    /// `LOOK_AHEAD` pages waiting for the writer, so that the database's latency hides behind
    /// Graph's; the writer applies the pages in order, and what has arrived while it waited for
    /// the database goes into one transaction with the link that follows the last of them, so
    /// what a crash leaves is the same as without the look-ahead: the pages up to a link, and
    /// that link. One transaction per page cost a single-writer database (SQLite) a commit per
    /// page, each rewriting the index pages the page touched. Ends with the first error (after
    /// every page before it is applied).
    pub(super) async fn round(
        &self,
        ctx: &mut RunContext<'_>,
        first: &str,
        sub: &Subscription,
        plan: &RoundPlan<'_>,
    ) -> Result<(), RunError> {
        let RoundPlan {
            lease,
            generation,
            full,
            run_id,
        } = *plan;
        let mut pages = ctx.stats;
        let shared: &RunContext<'_> = ctx;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Page, RunError>>(LOOK_AHEAD);
        let fetcher = async move {
            // Series masters and their occurrences' iCalUIds, fetched once per series and round.
            let mut series = Series::default();
            let mut link = first.to_string();
            loop {
                let page = self.fetch_page(shared, &link, sub, full, &mut series).await;
                let next = page.as_ref().ok().and_then(|p| p.next_link.clone());
                if tx.send(page).await.is_err() {
                    return;
                }
                match next {
                    Some(n) => link = n,
                    None => return,
                }
            }
        };
        let writer = async {
            while let Some(first) = rx.recv().await {
                if self.shutdown.is_cancelled() {
                    return Err(RunError::Interrupted);
                }
                // The pages that are ready, up to the round's last; an error that follows them
                // ends the round after they are applied.
                let mut batch = vec![first?];
                let mut failed = None;
                while batch.len() < LOOK_AHEAD + 1
                    && batch.last().is_some_and(|p| p.next_link.is_some())
                {
                    match rx.try_recv() {
                        Ok(Ok(page)) => batch.push(page),
                        Ok(Err(e)) => {
                            failed = Some(e);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let Some(last) = batch.last() else {
                    continue;
                };
                let complete = (full && last.delta_link.is_some()).then_some(generation);
                let cursor = PageCursor {
                    next_link: last.next_link.as_deref(),
                    delta_link: last.delta_link.as_deref(),
                    complete_full_round: complete,
                    lease_until: from_now(self.policy.lease),
                };
                let writes: Vec<PageWrite<'_>> = batch
                    .iter()
                    .map(|p| PageWrite {
                        changes: &p.changes,
                        series: &p.series,
                    })
                    .collect();
                let progress = shared.meter.stats(&pages);
                let stats = self
                    .db
                    .apply_pages(lease, generation, &writes, &cursor, (run_id, &progress))
                    .await?;
                for s in stats {
                    pages.add_page(s);
                }
                if let Some(e) = failed {
                    return Err(e);
                }
                if cursor.next_link.is_none() {
                    return Ok(());
                }
            }
            Err(RunError::Internal("the page fetcher stopped early".into()))
        };
        let result = {
            tokio::pin!(fetcher, writer);
            let mut fetching = true;
            loop {
                tokio::select! {
                    done = &mut writer => break done,
                    () = &mut fetcher, if fetching => fetching = false,
                }
            }
        };
        ctx.stats = pages;
        result
    }

    /// Fetches one delta page and maps it to rows. Every series the page brings back (its
    /// master, an occurrence or an exception) is read once per round: its master unless the
    /// page (or an earlier one) sent it, and its instances in the window, which give each
    /// occurrence its own iCalUId and, in a delta round, say what the series is now — Graph
    /// does not say which occurrences vanished when one was deleted or the series moved
    /// (docs/graph-behaviours.md). A series that cannot be read (404: private) never deletes.
    pub(super) async fn fetch_page(
        &self,
        ctx: &RunContext<'_>,
        link: &str,
        sub: &Subscription,
        full: bool,
        series: &mut Series,
    ) -> Result<Page, RunError> {
        let DeltaPage {
            value: items,
            next_link,
            delta_link,
            ..
        } = ctx.delta_page(link).await?;
        if next_link.is_none() && delta_link.is_none() {
            return Err(RunError::Protocol(
                "a page with neither nextLink nor deltaLink".into(),
            ));
        }
        let items: Vec<DeltaItem> = items.into_iter().map(|i| i.into_item()).collect();
        // The series this page brings back that the round has not read yet, in page order.
        let mut brought: Vec<String> = Vec::new();
        for item in &items {
            let mid = match item {
                DeltaItem::Event(e) if e.is_series_master() => {
                    // Sent in the page: used as is, never a row of its own.
                    series.masters.insert(e.id.clone(), Some((**e).clone()));
                    Some(&e.id)
                }
                DeltaItem::Event(e) => e.series_master_id.as_ref(),
                DeltaItem::Removed(_) => None,
            };
            if let Some(mid) = mid
                && !series.instances.contains_key(mid)
                && !brought.contains(mid)
            {
                brought.push(mid.clone());
            }
        }
        // Read side by side (the mailbox's permits keep it within Graph's limit).
        let width = self.policy.mailbox_concurrency.max(1);
        let masters_missing: Vec<String> = brought
            .iter()
            .filter(|m| !series.masters.contains_key(*m))
            .cloned()
            .collect();
        let fetched: Vec<_> = futures_util::stream::iter(masters_missing)
            .map(|mid| async move {
                let master = ctx.series_master(&mid).await;
                (mid, master)
            })
            .buffer_unordered(width)
            .collect()
            .await;
        for (mid, master) in fetched {
            // Not found is no proof the series is gone: a private series the account may not
            // open answers the same (graph-protocol §9.2).
            let master = unless_unreadable(master)?;
            series.masters.insert(mid, master);
        }
        let fetched: Vec<_> = futures_util::stream::iter(brought.clone())
            .map(|mid| async move {
                let instances = ctx.instances(&mid).await;
                (mid, instances)
            })
            .buffer_unordered(width)
            .collect()
            .await;
        for (mid, instances) in fetched {
            let instances = unless_unreadable(instances)?
                .map(|list| list.into_iter().map(|i| (i.id.clone(), i)).collect());
            series.instances.insert(mid, instances);
        }
        let mut changes = Vec::with_capacity(items.len());
        for item in items {
            match item {
                DeltaItem::Removed(id) => changes.push(Change::Remove(id)),
                DeltaItem::Event(e) if e.is_series_master() => {}
                DeltaItem::Event(e) => {
                    changes.push(Change::Upsert(self.row(ctx, &e, sub, series)?))
                }
            }
        }
        // What the series brought back are now; the full round's sweep does this for it.
        let mut now = Vec::new();
        if !full {
            for mid in brought {
                let (Some(Some(master)), Some(Some(instances))) =
                    (series.masters.get(&mid), series.instances.get(&mid))
                else {
                    continue;
                };
                // A listing that lacks what the page just sent of the series is not taken as
                // what the series is (cut short, or changed meanwhile): nothing of it is
                // deleted this round.
                let lacking = changes.iter().any(|c| {
                    matches!(c, Change::Upsert(r)
                        if r.series_master_id.as_deref() == Some(mid.as_str())
                            && !instances.contains_key(&r.graph_id))
                });
                if lacking {
                    tracing::info!(
                        series = %mid,
                        "a series' instances lack an occurrence the page sent; not reconciled this round"
                    );
                    continue;
                }
                let mut rows = Vec::new();
                for i in instances.values().filter(|i| i.is_minimal_occurrence()) {
                    let mut row = map::to_row(
                        i,
                        Some(master),
                        sub.mask_private,
                        sub.fields(),
                        self.policy.time_zone,
                    )?;
                    row.ical_uid = i.ical_uid.clone();
                    rows.push(row);
                }
                now.push(SeriesNow {
                    master_id: mid,
                    instances: instances.keys().cloned().collect(),
                    rows,
                });
            }
        }
        Ok(Page {
            changes,
            series: now,
            next_link,
            delta_link,
        })
    }

    /// One event of a page as a row; a minimal occurrence with its series' details and its
    /// own iCalUId.
    pub(super) fn row(
        &self,
        ctx: &RunContext<'_>,
        e: &Event,
        sub: &Subscription,
        series: &Series,
    ) -> Result<crate::storage::sync::EventRow, RunError> {
        let minimal = e.is_minimal_occurrence();
        let (master, unreadable) = match (minimal, &e.series_master_id) {
            (true, Some(mid)) => match series.masters.get(mid) {
                Some(Some(m)) => (Some(m), false),
                _ => (None, true),
            },
            _ => (None, false),
        };
        let mut row = map::to_row(
            e,
            master,
            sub.mask_private,
            sub.fields(),
            self.policy.time_zone,
        )?;
        if minimal {
            row.ical_uid = e
                .series_master_id
                .as_ref()
                .and_then(|mid| series.instances.get(mid))
                .and_then(Option::as_ref)
                .and_then(|list| list.get(&e.id))
                .and_then(|i| i.ical_uid.clone());
        }
        if unreadable {
            // Stored with what delta gave (times, type, series id); removed only through
            // `@removed` or a full round. Without a change key it is rewritten whenever it
            // is seen again, so its details arrive once the series becomes readable.
            row.change_key = None;
            ctx.meter.series_unreadable();
        }
        Ok(row)
    }
}

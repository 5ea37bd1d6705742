//! Subscribed room lists kept in step with Exchange: a room added to the list is subscribed
//! with the list's settings, a room removed from it is paused (its events stay), a room back
//! in the list resumes. A list that cannot be read changes nothing.

use std::collections::HashSet;

use chrono::Utc;

use super::SyncEngine;
use crate::graph::Endpoints;
use crate::graph::api::CalendarRef;
use crate::model::{StoredFields, SubscriptionSource};
use crate::storage::StoreError;
use crate::storage::audit::{Actor, AuditRecord};
use crate::storage::profiles::Profile;
use crate::storage::room_lists::RoomListSubscription;
use crate::storage::subscriptions::SubscriptionSettings;
use crate::subscriptions::{Outcome, Refusal, Request, subscribe};

/// How often each subscribed list is read again.
pub const CHECK_EVERY: chrono::Duration = chrono::Duration::minutes(15);

/// Recorded when a list was read but not provably whole: rooms were added, none paused.
pub const INCOMPLETE: &str =
    "the directory did not return the list completely; rooms were added, none paused";

/// Why a room of a list was not subscribed.
#[derive(Debug, thiserror::Error)]
pub enum NotSubscribed {
    /// The same calendar is subscribed under another address.
    #[error("subscribed already")]
    AlreadySubscribed,
    #[error("not found in the directory")]
    NotFound,
    #[error(transparent)]
    Refused(crate::subscriptions::Refusal),
}

/// What a check of one list did, by room address.
#[derive(Debug, Default)]
pub struct ListCheck {
    pub added: Vec<String>,
    pub resumed: Vec<String>,
    pub removed: Vec<String>,
    /// Rooms of the list that could not be subscribed, with the reason.
    pub failed: Vec<(String, NotSubscribed)>,
    /// The list itself could not be read: nothing changed.
    pub error: Option<String>,
}

impl SyncEngine {
    /// Checks the subscribed lists that are due. Returns how many were checked.
    pub async fn check_room_lists_if_due(&self) -> Result<usize, StoreError> {
        let now = Utc::now();
        let due = self.db.claim_due_room_lists(now, now + CHECK_EVERY).await?;
        for id in &due {
            let check = self.check_room_list(*id).await?;
            if check.error.is_some() || !check.failed.is_empty() {
                tracing::warn!(list = id, error = ?check.error, failed = check.failed.len(), "room list check incomplete");
            }
        }
        Ok(due.len())
    }

    /// Reads one subscribed list and brings its rooms' subscriptions in line with it.
    pub async fn check_room_list(&self, id: i64) -> Result<ListCheck, StoreError> {
        let list = self.db.room_list_subscribed(id).await?;
        let mut check = ListCheck::default();
        let profile = self.db.profile(list.profile_id).await?;
        let token = match self.tokens.access_token(profile.id).await {
            Ok(t) => t,
            Err(e) => {
                check.error = Some(e.to_string());
                self.db
                    .room_list_checked(id, check.error.as_deref(), Utc::now() + CHECK_EVERY)
                    .await?;
                return Ok(check);
            }
        };
        let graph = self.client.graph(&Endpoints::from(&profile), &token.token);
        let (rooms, complete) = match graph.rooms_of_list(&list.list_address).await {
            Ok(r) => (r.items, r.complete),
            Err(e) => {
                check.error = Some(e.to_string());
                self.db
                    .room_list_checked(id, check.error.as_deref(), Utc::now() + CHECK_EVERY)
                    .await?;
                return Ok(check);
            }
        };
        let subs: Vec<_> = self
            .db
            .list_subscriptions(Some(profile.id))
            .await?
            .into_iter()
            .filter(|s| s.source == SubscriptionSource::Mailbox)
            .collect();
        let mut members = HashSet::new();
        for room in &rooms {
            let Some(address) = room.email_address.as_deref().map(str::to_lowercase) else {
                continue;
            };
            members.insert(address.clone());
            match subs
                .iter()
                .find(|s| s.mailbox_address.eq_ignore_ascii_case(&address))
            {
                Some(s) if s.room_list_id == Some(id) => {
                    if s.removed_from_list_at.is_some() {
                        let audit = record(&list, "subscription.resumed", s, "back in the list");
                        self.db.back_in_room_list(s.id, &audit).await?;
                        check.resumed.push(address);
                    }
                }
                // Subscribed before, by hand: it joins the list, its settings stay.
                Some(s) if s.room_list_id.is_none() => {
                    let audit = record(&list, "subscription.updated", s, "joined the list");
                    self.db.attach_to_room_list(s.id, id, &audit).await?;
                }
                // Kept by another subscribed list.
                Some(_) => {}
                None => match self
                    .subscribe_room(
                        &graph,
                        &list,
                        &profile,
                        &address,
                        room.display_name.as_deref(),
                    )
                    .await?
                {
                    Ok(()) => check.added.push(address),
                    Err(reason) => check.failed.push((address, reason)),
                },
            }
        }
        // Only a read that proves itself whole may say a room left the list: a short page or a
        // directory that changed while it was read (docs/graph-behaviours.md) pauses nothing.
        if !complete {
            check.error = Some(INCOMPLETE.into());
        }
        for s in subs
            .iter()
            .filter(|s| complete && s.room_list_id == Some(id))
        {
            if s.removed_from_list_at.is_none()
                && !members.contains(&s.mailbox_address.to_lowercase())
            {
                let audit = record(&list, "subscription.paused", s, "no longer in the list");
                self.db.removed_from_room_list(s.id, &audit).await?;
                check.removed.push(s.mailbox_address.clone());
            }
        }
        self.db
            .room_list_checked(id, check.error.as_deref(), Utc::now() + CHECK_EVERY)
            .await?;
        Ok(check)
    }

    /// Subscribes a room of the list: its primary calendar, by its directory id where the
    /// directory can be read. `Err` with the reason when it cannot be subscribed.
    async fn subscribe_room(
        &self,
        graph: &crate::graph::api::Graph,
        list: &RoomListSubscription,
        profile: &Profile,
        address: &str,
        name: Option<&str>,
    ) -> Result<Result<(), NotSubscribed>, StoreError> {
        let settings = SubscriptionSettings {
            // The list's name for the room; empty: the mailbox's own.
            display_name: name
                .map(str::trim)
                .unwrap_or("")
                .chars()
                .take(100)
                .collect(),
            days_back: list.days_back,
            days_ahead: list.days_ahead,
            interval_minutes: list.interval_minutes,
            enabled: true,
            mask_private: list.mask_private,
            fields: StoredFields::default(),
            retention_days: None,
        };
        let via = format!("room list {}", list.list_name);
        let request = Request {
            profile,
            calendar: CalendarRef::Mailbox(address.to_string()),
            settings,
            by: &Actor {
                name: Some("system".into()),
                ..Actor::default()
            },
            via: Some(&via),
            room_list: Some(list.id),
        };
        Ok(match subscribe(&self.db, graph, request).await? {
            Outcome::Created { .. } => Ok(()),
            Outcome::AlreadySubscribed { .. } => Err(NotSubscribed::AlreadySubscribed),
            Outcome::Refused(Refusal::NotFound) => Err(NotSubscribed::NotFound),
            Outcome::Refused(refusal) => Err(NotSubscribed::Refused(refusal)),
        })
    }
}

/// The audit entry of a change a list check made to one of its rooms' subscriptions.
fn record(
    list: &RoomListSubscription,
    action: &'static str,
    s: &crate::storage::subscriptions::Subscription,
    what: &str,
) -> AuditRecord {
    AuditRecord {
        actor: Some("system".into()),
        action,
        target: Some(s.display_name.clone()),
        details: Some(format!("{what}: room list {}", list.list_name)),
        ..AuditRecord::default()
    }
}

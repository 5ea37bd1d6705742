//! Subscribing: the one place a subscription is created, with its audit entry in the same
//! transaction.

use crate::graph::api::{CalendarRef, Graph};
use crate::storage::audit::Actor;
use crate::storage::profiles::Profile;
use crate::storage::subscriptions::{NewSubscription, SubscriptionSettings};
use crate::storage::{Db, StoreError};

use super::{Refusal, Target, resolve};

/// A calendar to subscribe through a profile.
pub struct Request<'a> {
    pub profile: &'a Profile,
    pub calendar: CalendarRef,
    /// An empty display name takes the mailbox's name (or, without one, its address).
    pub settings: SubscriptionSettings,
    /// Who subscribes: shown on the subscription and in the audit log.
    pub by: &'a Actor,
    /// Where the subscription comes from, when not from a person's click ("bulk",
    /// "room list Campus"): recorded with it.
    pub via: Option<&'a str>,
    /// Subscribed as a member of this subscribed room list.
    pub room_list: Option<i64>,
}

#[derive(Debug)]
pub enum Outcome {
    Created {
        id: i64,
        target: Box<Target>,
    },
    /// The profile subscribes this calendar already (perhaps under another address).
    AlreadySubscribed {
        id: i64,
        target: Box<Target>,
    },
    Refused(Refusal),
}

/// Finds the calendar and subscribes it, unless the profile has it already.
pub async fn subscribe(db: &Db, graph: &Graph, req: Request<'_>) -> Result<Outcome, StoreError> {
    let target = match resolve(graph, req.profile, req.calendar.clone()).await {
        Ok(t) => t,
        Err(refusal) => return Ok(Outcome::Refused(refusal)),
    };
    if let Some(id) = db
        .subscription_for_calendar(req.profile.id, &target.calendar.id)
        .await?
    {
        let target = Box::new(target);
        return Ok(Outcome::AlreadySubscribed { id, target });
    }
    subscribe_known(db, target, req).await
}

/// Subscribes a calendar found before (or known otherwise: the demo subscribes a room its
/// account may not read, to show what that looks like). `req.calendar` is not read.
pub async fn subscribe_known(
    db: &Db,
    target: Target,
    req: Request<'_>,
) -> Result<Outcome, StoreError> {
    let mut settings = req.settings;
    if settings.display_name.trim().is_empty() {
        let name = target.mailbox_name.trim();
        let name = if name.is_empty() {
            target.mailbox_address.as_str()
        } else {
            name
        };
        settings.display_name = name.chars().take(100).collect();
    }
    // An admin's name, or where an automatic subscription came from.
    let created_by = match (req.by.id, req.by.name.as_deref(), req.via) {
        (Some(_), Some(name), _) => name,
        (_, _, Some(via)) => via,
        (_, Some(name), None) => name,
        (_, None, None) => "system",
    };
    let details = format!(
        "{} / {} via {}{}",
        target.mailbox_address,
        target.calendar.name,
        req.profile.name,
        req.via.map(|v| format!(" ({v})")).unwrap_or_default()
    );
    let audit = req.by.record(
        "subscription.created",
        Some(settings.display_name.clone()),
        Some(details),
    );
    let created = db
        .create_subscription(
            &NewSubscription {
                profile_id: req.profile.id,
                source: target.source,
                mailbox_id: target.mailbox_id.as_deref(),
                mailbox_address: &target.mailbox_address,
                mailbox_name: &target.mailbox_name,
                calendar_id: &target.calendar.id,
                calendar_name: &target.calendar.name,
                settings: &settings,
                created_by,
                room_list_id: req.room_list,
            },
            &audit,
        )
        .await;
    match created {
        Ok(id) => Ok(Outcome::Created {
            id,
            target: Box::new(target),
        }),
        // Subscribed meanwhile (another tab, another admin): the unique index decided.
        Err(StoreError::Duplicate) => {
            match db
                .subscription_for_calendar(req.profile.id, &target.calendar.id)
                .await?
            {
                Some(id) => Ok(Outcome::AlreadySubscribed {
                    id,
                    target: Box::new(target),
                }),
                None => Err(StoreError::Duplicate),
            }
        }
        Err(e) => Err(e),
    }
}

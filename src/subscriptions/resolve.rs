//! Finding the calendar to subscribe: another mailbox is read by its directory id (its SMTP
//! address need not be its UPN), the calendar is read through Graph so only what the profile
//! can really read is subscribed, under its real id.

use crate::graph::GraphError;
use crate::graph::api::{Calendar, CalendarRef, Graph};
use crate::model::SubscriptionSource;
use crate::storage::profiles::Profile;

/// A calendar found through a profile, ready to subscribe.
#[derive(Debug, Clone)]
pub struct Target {
    pub source: SubscriptionSource,
    /// The mailbox's directory object id, when the directory could be read.
    pub mailbox_id: Option<String>,
    pub mailbox_address: String,
    pub mailbox_name: String,
    pub calendar: Calendar,
    /// How Graph reaches the calendar (by directory id where known).
    pub graph_ref: CalendarRef,
}

/// Why a calendar cannot be subscribed.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no mailbox with this address was found")]
    NotFound,
    #[error("the address has no Exchange Online mailbox")]
    NoMailbox,
    #[error("the profile may not read this calendar")]
    Forbidden,
    #[error("a personal Microsoft account cannot read other mailboxes")]
    PersonalAccount,
    #[error("the calendar could not be read: {0}")]
    Failed(GraphError),
}

/// Finds the calendar `r` names through `graph`.
pub async fn resolve(graph: &Graph, profile: &Profile, r: CalendarRef) -> Result<Target, Refusal> {
    let (r, mailbox_id, typed) = match r {
        CalendarRef::Mailbox(_) if profile.personal_account() => {
            return Err(Refusal::PersonalAccount);
        }
        CalendarRef::Mailbox(address) => match graph.resolve_mailbox(&address).await {
            Ok(Some(user)) => (
                CalendarRef::Mailbox(user.id.clone()),
                Some(user.id),
                address,
            ),
            Ok(None) => return Err(Refusal::NotFound),
            // The directory cannot be read (permission, trouble): by address, as typed.
            Err(e) => {
                tracing::info!(error = %e, "directory lookup failed; reading the mailbox by address");
                (CalendarRef::Mailbox(address.clone()), None, address)
            }
        },
        own => (own, None, String::new()),
    };
    let calendar = match graph.calendar(&r).await {
        Ok(c) => c,
        Err(e) => return Err(refusal(e)),
    };
    let owner = calendar.owner.clone().unwrap_or_default();
    let (source, mailbox_address) = match &r {
        CalendarRef::Mailbox(_) => (
            SubscriptionSource::Mailbox,
            owner.address.clone().unwrap_or(typed),
        ),
        CalendarRef::Own(_) => (
            SubscriptionSource::Own,
            owner
                .address
                .clone()
                .or(profile.account_upn.clone())
                .unwrap_or_default(),
        ),
    };
    let mailbox_name = owner
        .name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| mailbox_address.clone());
    Ok(Target {
        source,
        mailbox_id,
        mailbox_address,
        mailbox_name,
        calendar,
        graph_ref: r,
    })
}

/// What a failed read of the calendar means for subscribing it.
fn refusal(e: GraphError) -> Refusal {
    use crate::graph::GraphFailure;
    match e.failure() {
        // Exchange's words for an address without a usable mailbox (graph-protocol §4).
        GraphFailure::NotFound
            if matches!(
                e.code(),
                Some("MailboxNotEnabledForRESTAPI" | "ResourceNotFound")
            ) =>
        {
            Refusal::NoMailbox
        }
        GraphFailure::NotFound => Refusal::NotFound,
        GraphFailure::Forbidden => Refusal::Forbidden,
        _ => Refusal::Failed(e),
    }
}

//! The scope check of an application profile: application permissions reach every mailbox
//! unless Exchange Online limits them, so the check reads one room that must be readable and
//! one mailbox that must be refused (403 `ErrorAccessDenied`). Green only when both hold.

use crate::graph::GraphFailure;
use crate::graph::api::CalendarRef;
use crate::model::ScopeResult;
use crate::storage::StoreError;
use crate::storage::audit::Actor;
use crate::storage::profiles::ScopeCheck;

use super::tokens::{TokenFailure, TokenService};

/// What one check found, with the detail shown beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeOutcome {
    pub result: ScopeResult,
    pub detail: Option<String>,
}

/// Reads `room` and `outside` with the profile's app-only token and records the result, with
/// the audit entry of who checked.
pub async fn check(
    tokens: &TokenService,
    profile_id: i64,
    room: &str,
    outside: &str,
    by: &Actor,
) -> Result<ScopeOutcome, StoreError> {
    let outcome = probe(tokens, profile_id, room, outside).await?;
    let name = tokens.db().profile(profile_id).await?.name;
    let details = format!("{}: {room} readable?, {outside} refused?", outcome.result);
    let audit = by.record("profile.scope_checked", Some(name), Some(details));
    let check = ScopeCheck {
        room,
        outside,
        result: outcome.result,
        detail: outcome.detail.as_deref(),
    };
    tokens
        .db()
        .record_scope_check(profile_id, &check, &audit)
        .await?;
    Ok(outcome)
}

async fn probe(
    tokens: &TokenService,
    profile_id: i64,
    room: &str,
    outside: &str,
) -> Result<ScopeOutcome, StoreError> {
    let failed = |detail: String| ScopeOutcome {
        result: ScopeResult::Failed,
        detail: Some(detail),
    };
    let token = match tokens.access_token(profile_id).await {
        Ok(t) => t,
        Err(TokenFailure::Store(e)) => return Err(e),
        Err(e) => return Ok(failed(e.to_string())),
    };
    let profile = tokens.db().profile(profile_id).await?;
    let graph = tokens
        .client()
        .graph(&crate::graph::Endpoints::from(&profile), &token.token);
    match graph
        .calendar(&CalendarRef::Mailbox(room.to_string()))
        .await
    {
        Ok(_) => {}
        Err(e) if e.failure() == GraphFailure::Forbidden => {
            return Ok(ScopeOutcome {
                result: ScopeResult::RoomUnreadable,
                detail: Some(format!("{room}: 403 ErrorAccessDenied")),
            });
        }
        Err(e) if e.failure() == GraphFailure::NotFound => {
            return Ok(failed(format!(
                "{room}: no such mailbox (Graph addresses mailboxes by user principal name)"
            )));
        }
        Err(e) => return Ok(failed(format!("{room}: {e}"))),
    }
    match graph
        .calendar(&CalendarRef::Mailbox(outside.to_string()))
        .await
    {
        Ok(_) => Ok(ScopeOutcome {
            result: ScopeResult::Unscoped,
            detail: Some(format!("{outside} was readable")),
        }),
        Err(e) if e.failure() == GraphFailure::Forbidden => Ok(ScopeOutcome {
            result: ScopeResult::Scoped,
            detail: None,
        }),
        // A mailbox that does not exist proves nothing about the scope.
        Err(e) if e.failure() == GraphFailure::NotFound => Ok(failed(format!(
            "{outside}: no such mailbox (name one that exists outside the rooms)"
        ))),
        Err(e) => Ok(failed(format!("{outside}: {e}"))),
    }
}

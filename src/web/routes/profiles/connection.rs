//! A profile's connection: the scope check of an application profile, disconnecting, and
//! trying again after a failure.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The scope-check form of an application profile.
#[derive(Debug, Default, Deserialize)]
pub struct ScopeForm {
    #[serde(default)]
    pub(super) room: String,
    #[serde(default)]
    pub(super) outside: String,
    #[serde(skip)]
    pub(super) error: Option<&'static str>,
}

/// A mailbox address as Graph takes it in a path: something@domain, no spaces, not too long.
fn mailbox_address(raw: &str) -> Option<String> {
    let a = raw.trim();
    let (local, domain) = a.split_once('@')?;
    (!local.is_empty()
        && domain.contains('.')
        && a.len() <= 254
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == '?' || c == '#'))
    .then(|| a.to_ascii_lowercase())
}

/// Reads the named room and the mailbox that must be refused, and shows what that proves.
pub async fn scope_check(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(mut f): Form<ScopeForm>,
) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    if profile.kind != ProfileKind::Application {
        return Err(WebError::BadRequest("scope-not-application"));
    }
    let (room, outside) = (mailbox_address(&f.room), mailbox_address(&f.outside));
    let error = match (&room, &outside) {
        (None, _) | (_, None) => Some("scope-address-invalid"),
        (Some(r), Some(o)) if r == o => Some("scope-address-same"),
        _ => None,
    };
    let (Some(room), Some(outside), None) = (room, outside, error) else {
        f.error = error;
        return show_page(
            &state,
            &session,
            p,
            id,
            false,
            Some(f),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let outcome = crate::profiles::scope::check(&state.tokens, id, &room, &outside, &actor).await?;
    let kind = match outcome.result {
        crate::model::ScopeResult::Scoped => FlashKind::Success,
        crate::model::ScopeResult::Failed => FlashKind::Info,
        _ => FlashKind::Error,
    };
    flash(&session, kind, outcome.result.label_key()).await?;
    Ok(p.redirect(&format!("/profiles/{id}")))
}

/// After the admin fixed the cause outside Datapump (consent granted, replication done): try
/// again now.
/// Disconnects the account: its tokens are deleted at once (Datapump stops reading with it),
/// the profile and its subscriptions stay, paused until the profile is authorized again.
pub async fn disconnect(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    let audit = actor.record(
        "profile.disconnected",
        Some(profile.name.clone()),
        profile.account_upn.clone(),
    );
    state.db.disconnect_profile(id, &audit).await?;
    state.tokens.forget(id);
    flash(&session, FlashKind::Success, "profile-disconnected").await?;
    Ok(p.redirect(&format!("/profiles/{id}")))
}

pub async fn retry(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    // Application profiles have no refresh token: a retry asks for a new app-only token.
    if profile.kind == ProfileKind::Delegated && profile.refresh_token_enc.is_none() {
        flash(&session, FlashKind::Info, "help-new").await?;
        return Ok(p.redirect(&format!("/profiles/{id}")));
    }
    let audit = actor.record("profile.retried", Some(profile.name.clone()), None);
    state.db.retry_profile(id, &audit).await?;
    match state.tokens.force_refresh(id).await {
        Ok(_) => flash(&session, FlashKind::Success, "profile-refresh-ok").await?,
        Err(_) => flash(&session, FlashKind::Error, "profile-refresh-failed").await?,
    }
    Ok(p.redirect(&format!("/profiles/{id}")))
}

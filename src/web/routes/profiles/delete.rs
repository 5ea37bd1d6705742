//! Deleting a profile, with or without the events its subscriptions imported.

#[allow(clippy::wildcard_imports)]
use super::*;

#[derive(Template)]
#[template(path = "profiles/delete.html")]
pub struct DeleteTemplate {
    p: Page,
    v: ProfileView,
}

pub async fn delete_form(
    State(state): State<AppState>,
    p: Page,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    let counts = state.db.subscription_counts().await?;
    page::ok(&DeleteTemplate {
        p,
        v: ProfileView::counted(profile, &state, &counts),
    })
}

#[derive(Deserialize)]
pub struct DeleteForm {
    /// With subscriptions: `keep` or `remove` their imported events.
    events: Option<String>,
}

pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(f): Form<DeleteForm>,
) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    let subscriptions = state.db.list_subscriptions(Some(id)).await?;
    let keep = match (subscriptions.is_empty(), f.events.as_deref()) {
        (true, _) => true,
        (false, Some("keep")) => true,
        (false, Some("remove")) => false,
        (false, _) => {
            let counts = state.db.subscription_counts().await?;
            return page::render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &DeleteTemplate {
                    p,
                    v: ProfileView::counted(profile, &state, &counts),
                },
            );
        }
    };
    let audit = |removed: u64| {
        let details = (removed > 0).then(|| {
            format!(
                "{removed} subscription(s) removed, imported events {}",
                if keep { "kept" } else { "removed" }
            )
        });
        actor.record("profile.deleted", Some(profile.name.clone()), details)
    };
    state.db.delete_profile(id, keep, audit).await?;
    state.tokens.forget(id);
    flash_args(
        &session,
        FlashKind::Success,
        "profile-deleted",
        &[("name", &profile.name)],
    )
    .await?;
    Ok(p.redirect("/profiles"))
}

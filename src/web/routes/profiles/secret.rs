//! Replacing a profile's client secret.

#[allow(clippy::wildcard_imports)]
use super::*;

#[derive(Template)]
#[template(path = "profiles/secret.html")]
pub struct SecretTemplate {
    pub(super) p: Page,
    pub(super) v: ProfileView,
    pub(super) expires_on: String,
    pub(super) errors: FormErrors,
    /// A refused certificate upload: the message.
    pub(super) upload_error: Option<&'static str>,
}

pub async fn secret_form(
    State(state): State<AppState>,
    p: Page,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    page::ok(&SecretTemplate {
        p,
        v: ProfileView::new(profile, &state),
        expires_on: profiles::default_secret_expiry().to_string(),
        errors: FormErrors::default(),
        upload_error: None,
    })
}

#[derive(Deserialize)]
pub struct SecretForm {
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    secret_expires_on: String,
}

pub async fn replace_secret(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(f): Form<SecretForm>,
) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    let mut v = Validation::default();
    profiles::check_secret(&f.client_secret, &mut v);
    let expires = NaiveDate::parse_from_str(f.secret_expires_on.trim(), "%Y-%m-%d");
    if expires.is_err() {
        v.errors.push(("secret_expires_on", "profile-date-invalid"));
    }
    let Ok(expires) = expires
        .map_err(|_| ())
        .and_then(|d| if v.errors.is_empty() { Ok(d) } else { Err(()) })
    else {
        return page::render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SecretTemplate {
                p,
                v: ProfileView::new(profile, &state),
                expires_on: f.secret_expires_on,
                errors: errors_of(&v),
                upload_error: None,
            },
        );
    };
    let sealed = state.tokens.seal(
        crate::crypto::context::ProfileColumn::ClientSecret,
        &profile.uuid,
        f.client_secret.trim(),
    );
    let audit = ("profile.secret_replaced", format!("expires on {expires}"));
    let credential = StoredCredential::secret(&sealed);
    let after =
        changes::replace_credential(&state.db, id, credential, expires, &actor, audit).await?;
    flash(&session, FlashKind::Success, "profile-secret-replaced").await?;
    // Try it right away, so the admin sees whether the new secret works.
    if after.status == ProfileStatus::Ok {
        match state.tokens.force_refresh(id).await {
            Ok(_) => flash(&session, FlashKind::Success, "profile-refresh-ok").await?,
            Err(_) => flash(&session, FlashKind::Error, "profile-refresh-failed").await?,
        }
    }
    Ok(p.redirect(&format!("/profiles/{id}")))
}

//! A profile's settings: the new-profile and edit forms, validated and saved.

#[allow(clippy::wildcard_imports)]
use super::*;

#[derive(Template)]
#[template(path = "profiles/form.html")]
pub struct FormTemplate {
    p: Page,
    is_new: bool,
    id: i64,
    input: ProfileInput,
    errors: FormErrors,
    default_redirect: String,
    clouds: &'static [Cloud],
}

fn form(
    p: Page,
    state: &AppState,
    is_new: bool,
    id: i64,
    input: ProfileInput,
    errors: FormErrors,
    status: StatusCode,
) -> WebResult<Response> {
    page::render(
        status,
        &FormTemplate {
            p,
            is_new,
            id,
            input,
            errors,
            default_redirect: state.authorizations.default_redirect().to_string(),
            clouds: Cloud::ALL,
        },
    )
}

#[derive(Deserialize)]
pub struct NewQuery {
    kind: Option<String>,
}

pub async fn new_form(
    State(state): State<AppState>,
    p: Page,
    axum::extract::Query(q): axum::extract::Query<NewQuery>,
) -> WebResult<Response> {
    let kind = q
        .kind
        .and_then(|k| k.parse().ok())
        .unwrap_or(ProfileKind::Delegated);
    let input = ProfileInput {
        kind: kind.as_str().into(),
        // No default tenant for an application: it must be named.
        tenant: match kind {
            ProfileKind::Delegated => "common".into(),
            ProfileKind::Application => String::new(),
        },
        cloud: "global".into(),
        // Microsoft recommends certificates over secrets for apps without a user.
        credential: match kind {
            ProfileKind::Delegated => "secret".into(),
            ProfileKind::Application => "certificate".into(),
        },
        secret_expires_on: profiles::default_secret_expiry().to_string(),
        ..ProfileInput::default()
    };
    form(
        p,
        &state,
        true,
        0,
        input,
        FormErrors::default(),
        StatusCode::OK,
    )
}

async fn warn_all(session: &Session, warnings: &[&'static str]) -> WebResult<()> {
    for w in warnings {
        flash(session, FlashKind::Info, w).await?;
    }
    Ok(())
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Form(mut input): Form<ProfileInput>,
) -> WebResult<Response> {
    let (settings, v) = match profiles::validate(&input, true) {
        Ok(ok) => ok,
        Err(v) => {
            input.client_secret.clear();
            return form(
                p,
                &state,
                true,
                0,
                input,
                errors_of(&v),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let uuid = uuid::Uuid::new_v4().to_string();
    let mut settings = settings;
    let generated = match input.credential_kind() {
        Some(CredentialKind::Certificate) => {
            let c = super::certificate::generate(&settings.name)?;
            settings.secret_expires_on = c.info().not_after.date_naive();
            Some(c)
        }
        _ => None,
    };
    let (sealed, certificate) = match &generated {
        Some(c) => {
            let (sealed, der) = super::certificate::sealed(&state, &uuid, c)?;
            (sealed, Some(der))
        }
        None => (
            state.tokens.seal(
                crate::crypto::context::ProfileColumn::ClientSecret,
                &uuid,
                input.client_secret.trim(),
            ),
            None,
        ),
    };
    let credential = StoredCredential {
        kind: input.credential_kind().unwrap_or(CredentialKind::Secret),
        sealed: &sealed,
        certificate: certificate.as_deref(),
    };
    let audit = actor.record(
        "profile.created",
        Some(settings.name.clone()),
        Some(format!(
            "client id {}, tenant {}, cloud {}, credential {}",
            settings.client_id,
            settings.tenant,
            settings.cloud,
            credential.kind.as_str()
        )),
    );
    let profile = match state
        .db
        .create_profile_with(&settings, &uuid, credential, Some(&audit))
        .await
    {
        Ok(p) => p,
        Err(StoreError::Duplicate) => {
            input.client_secret.clear();
            let mut errors = FormErrors::default();
            errors.add("name", "profile-name-taken");
            return form(
                p,
                &state,
                true,
                0,
                input,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(c) = &generated {
        flash_args(
            &session,
            FlashKind::Info,
            "certificate-generated",
            &[("thumbprint", &c.info().thumbprint)],
        )
        .await?;
    }
    flash_args(
        &session,
        FlashKind::Success,
        match profile.kind {
            ProfileKind::Delegated => "profile-created",
            ProfileKind::Application => "profile-created-app",
        },
        &[("name", &profile.name)],
    )
    .await?;
    warn_all(&session, &v.warnings).await?;
    Ok(p.redirect(&format!("/profiles/{}", profile.id)))
}

pub async fn edit_form(
    State(state): State<AppState>,
    p: Page,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    form(
        p,
        &state,
        false,
        id,
        input_of(&profile),
        FormErrors::default(),
        StatusCode::OK,
    )
}

pub async fn update(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(mut input): Form<ProfileInput>,
) -> WebResult<Response> {
    let before = state.db.profile(id).await?;
    // Never echoed back into the form.
    let secret = std::mem::take(&mut input.client_secret);
    // A profile keeps its kind.
    input.kind = before.kind.as_str().into();
    let (settings, v) = match profiles::validate(&input, false) {
        Ok(ok) => ok,
        Err(v) => {
            return form(
                p,
                &state,
                false,
                id,
                input,
                errors_of(&v),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let version = input.version.unwrap_or(before.version);
    // A new cloud or address gets the secret only from the admin who enters it again.
    let new_secret = match secret.trim() {
        // A certificate's key never leaves Datapump: its assertions name the endpoint.
        "" if profiles::addresses_changed(&before, &settings)
            && before.credential == CredentialKind::Secret =>
        {
            let mut errors = FormErrors::default();
            errors.add("client_secret", "profile-secret-again");
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return form(p, &state, false, id, input, errors, status);
        }
        "" => None,
        entered => {
            let mut check = profiles::Validation::default();
            profiles::check_secret(entered, &mut check);
            if !check.errors.is_empty() {
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                return form(p, &state, false, id, input, errors_of(&check), status);
            }
            Some(state.tokens.seal(
                crate::crypto::context::ProfileColumn::ClientSecret,
                &before.uuid,
                entered,
            ))
        }
    };
    let credential = new_secret.as_deref().map(StoredCredential::secret);
    match changes::save_settings(&state.db, &before, &settings, version, credential, &actor).await {
        Ok(after) => {
            flash_args(
                &session,
                FlashKind::Success,
                "profile-saved",
                &[("name", &after.name)],
            )
            .await?;
            if after.status == ProfileStatus::New && before.status != ProfileStatus::New {
                flash(
                    &session,
                    FlashKind::Info,
                    "profile-reauthorize-after-change",
                )
                .await?;
            }
            warn_all(&session, &v.warnings).await?;
            Ok(p.redirect(&format!("/profiles/{id}")))
        }
        Err(StoreError::Conflict) => {
            let current = state.db.profile(id).await?;
            let mut errors = FormErrors::default();
            errors.add("form", "profile-conflict");
            form(
                p,
                &state,
                false,
                id,
                input_of(&current),
                errors,
                StatusCode::CONFLICT,
            )
        }
        Err(StoreError::Duplicate) => {
            let mut errors = FormErrors::default();
            errors.add("name", "profile-name-taken");
            form(
                p,
                &state,
                false,
                id,
                input,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(e.into()),
    }
}

//! Certificate credentials of application profiles: a new key pair generated here, or a PEM or
//! PFX file uploaded; the public certificate for download, to upload to the app registration.

use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tower_sessions::Session;

use super::SecretTemplate;
use crate::crypto::certificate::{CertificateCredential, CertificateError, encode_der};
use crate::crypto::context::ProfileColumn;
use crate::model::{CredentialKind, ProfileKind, ProfileStatus};
use crate::profiles::changes;
use crate::storage::profiles::StoredCredential;
use crate::web::auth::Actor;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{self, FlashKind, FormErrors, Page, flash, flash_args};
use crate::web::profile_view::ProfileView;
use crate::web::state::AppState;

/// Lifetime of a generated certificate: two years, as the client secrets of the setup guide.
const GENERATED_DAYS: u32 = 730;

/// A new key pair and self-signed certificate named after the profile.
pub fn generate(profile_name: &str) -> WebResult<CertificateCredential> {
    CertificateCredential::generate(
        &format!("Datapump {profile_name}"),
        Utc::now(),
        GENERATED_DAYS,
    )
    .map_err(|e| WebError::Internal(e.to_string()))
}

/// The private key sealed for the profile `uuid`, and the certificate as stored.
pub fn sealed(
    state: &AppState,
    uuid: &str,
    c: &CertificateCredential,
) -> WebResult<(String, String)> {
    let pem = c
        .private_key_pem()
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok((
        state.tokens.seal(ProfileColumn::PrivateKey, uuid, &pem),
        encode_der(c.certificate_der()),
    ))
}

/// The public certificate, for "Certificates & secrets → Upload certificate" in Entra.
pub async fn download(State(state): State<AppState>, Path(id): Path<i64>) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    let view = ProfileView::new(profile, &state);
    let (Some(_), Some(der)) = (
        &view.certificate,
        view.p
            .certificate
            .as_deref()
            .and_then(crate::crypto::certificate::decode_der),
    ) else {
        return Err(WebError::NotFound);
    };
    let pem = crate::crypto::certificate::pem_of(&der);
    let file: String = view
        .p
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-pem-file".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"datapump-{file}.pem\""),
            ),
        ],
        pem,
    )
        .into_response())
}

/// Stores `c` as the profile's credential and tells the admin what to do next.
async fn store(
    state: &AppState,
    session: &Session,
    p: &Page,
    actor: &Actor,
    id: i64,
    c: &CertificateCredential,
    how: &str,
) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    let (sealed, der) = sealed(state, &profile.uuid, c)?;
    let credential = StoredCredential {
        kind: CredentialKind::Certificate,
        sealed: &sealed,
        certificate: Some(&der),
    };
    let expires = c.info().not_after.date_naive();
    let details = format!(
        "{how}; thumbprint {}, valid until {expires}",
        c.info().thumbprint
    );
    let audit = ("profile.certificate_replaced", details);
    let after =
        changes::replace_credential(&state.db, id, credential, expires, actor, audit).await?;
    state.tokens.forget(id);
    flash_args(
        session,
        FlashKind::Success,
        "certificate-stored",
        &[("thumbprint", &c.info().thumbprint)],
    )
    .await?;
    // Try it right away where the profile is in use, so the admin sees whether Entra knows it.
    if after.status == ProfileStatus::Ok {
        match state.tokens.force_refresh(id).await {
            Ok(_) => flash(session, FlashKind::Success, "profile-refresh-ok").await?,
            Err(_) => flash(session, FlashKind::Error, "certificate-not-accepted-yet").await?,
        }
    }
    Ok(p.redirect(&format!("/profiles/{id}")))
}

async fn application_profile(state: &AppState, id: i64) -> WebResult<()> {
    match state.db.profile(id).await?.kind {
        ProfileKind::Application => Ok(()),
        ProfileKind::Delegated => Err(WebError::BadRequest("certificate-delegated")),
    }
}

/// A new key pair: the old credential stops being used at once.
pub async fn regenerate(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    application_profile(&state, id).await?;
    let name = state.db.profile(id).await?.name;
    let c = generate(&name)?;
    store(&state, &session, &p, &actor, id, &c, "generated").await
}

/// Reads the upload: the file (PEM or PFX) and the PFX password.
async fn read_upload(mut form: Multipart) -> Result<(Vec<u8>, String), &'static str> {
    let mut file = None;
    let mut password = String::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| "certificate-upload-unreadable")?
    {
        match field.name() {
            Some("file") => {
                file = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|_| "certificate-upload-unreadable")?
                        .to_vec(),
                );
            }
            Some("password") => {
                password = field
                    .text()
                    .await
                    .map_err(|_| "certificate-upload-unreadable")?;
            }
            _ => {}
        }
    }
    match file {
        Some(f) if !f.is_empty() => Ok((f, password)),
        _ => Err("certificate-upload-missing"),
    }
}

fn message(e: &CertificateError) -> &'static str {
    match e {
        CertificateError::Unreadable => "certificate-error-unreadable",
        CertificateError::NoCertificate => "certificate-error-no-certificate",
        CertificateError::NoPrivateKey => "certificate-error-no-key",
        CertificateError::PfxLocked => "certificate-error-locked",
        CertificateError::KeyMismatch => "certificate-error-mismatch",
        CertificateError::NotRsa => "certificate-error-not-rsa",
        CertificateError::KeyTooShort(_) => "certificate-error-short",
        CertificateError::BadValidity | CertificateError::Create(_) => {
            "certificate-error-unreadable"
        }
        CertificateError::PfxTooCostly => "certificate-error-too-costly",
    }
}

/// Opening a PFX derives keys for tens of milliseconds or more: on a blocking thread, one
/// upload at a time, so that uploads never stall the requests and imports beside them.
static PARSING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

async fn parse_upload(
    file: Vec<u8>,
    password: String,
) -> Result<CertificateCredential, &'static str> {
    let _permit = PARSING
        .acquire()
        .await
        .map_err(|_| "certificate-error-unreadable")?;
    tokio::task::spawn_blocking(move || {
        let c = match std::str::from_utf8(&file) {
            Ok(text) if text.contains("-----BEGIN ") => CertificateCredential::from_pem(text),
            _ => CertificateCredential::from_pfx(&file, &password),
        };
        c.map_err(|e| message(&e))
    })
    .await
    .map_err(|_| "certificate-error-unreadable")?
}

/// An uploaded certificate with its private key: checked (key belongs to the certificate,
/// RSA of 2048 bits or more, not expired) before anything is stored.
pub async fn upload(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    form: Multipart,
) -> WebResult<Response> {
    application_profile(&state, id).await?;
    let parsed = match read_upload(form).await {
        Ok((file, password)) => parse_upload(file, password).await.and_then(|c| {
            if c.info().not_after <= Utc::now() {
                Err("certificate-error-expired")
            } else {
                Ok(c)
            }
        }),
        Err(e) => Err(e),
    };
    match parsed {
        Ok(c) => store(&state, &session, &p, &actor, id, &c, "uploaded").await,
        Err(key) => {
            let profile = state.db.profile(id).await?;
            page::render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &SecretTemplate {
                    p,
                    v: ProfileView::new(profile, &state),
                    expires_on: crate::profiles::default_secret_expiry().to_string(),
                    errors: FormErrors::default(),
                    upload_error: Some(key),
                },
            )
        }
    }
}

//! Profiles: create, edit, replace the client secret, delete; authorize ("Test") through the
//! OAuth code flow with PKCE and finish it at `/callback`, at the root route, or from an address
//! the admin pastes.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::crypto;
use crate::model::CredentialKind;
use crate::model::profile::{APP_ROLES_OPTIONAL, APP_ROLES_REQUIRED};
use crate::profiles::authorization::{Arrival, AuthorizeError, Authorized, Completion, Reply};
use crate::profiles::changes;
use crate::profiles::{
    self, Cloud, ProfileInput, ProfileKind, ProfileStatus, REQUIRED_SCOPES, SecretWarning,
    Validation,
};
use crate::storage::StoreError;
use crate::storage::profiles::{Profile, StoredCredential};
use crate::web::auth::Actor;
use crate::web::auth::SignedIn;
use crate::web::error::{WebError, WebResult};
use crate::web::headers::ExtraFormAction;
use crate::web::page::{self, FlashKind, FormErrors, Page, flash, flash_args};
use crate::web::state::AppState;

const PENDING_KEY: &str = "oauth_pending";
const RESULT_KEY: &str = "auth_result";

/// A profile prepared for display.
pub struct ProfileView {
    pub p: Profile,
    pub status: ProfileStatus,
    pub warning: SecretWarning,
    pub days_left: i64,
    pub redirect_uri: String,
    /// The profile's own redirect path (`/callback/{id}`), which takes only its answers.
    pub own_redirect_uri: String,
    /// Days since the last successful refresh, when more than a week.
    pub stale_days: Option<i64>,
    /// Live subscriptions through this profile.
    pub subscriptions: i64,
    /// The certificate of a certificate credential (`None` also when it cannot be read).
    pub certificate: Option<crate::crypto::certificate::CertificateInfo>,
}

impl ProfileView {
    /// With the number of subscriptions the profile serves.
    pub fn counted(p: Profile, state: &AppState, counts: &HashMap<i64, i64>) -> Self {
        let n = counts.get(&p.id).copied().unwrap_or(0);
        Self {
            subscriptions: n,
            ..Self::new(p, state)
        }
    }

    pub fn new(p: Profile, state: &AppState) -> Self {
        let today = Utc::now().date_naive();
        let stale_days = p
            .last_refresh_at
            .map(|t| (Utc::now() - t).num_days())
            .filter(|d| *d >= 7 && p.refresh_token_enc.is_some());
        Self {
            status: p.status,
            warning: profiles::secret_warning(p.secret_expires_on, today),
            days_left: (p.secret_expires_on - today).num_days(),
            redirect_uri: state.authorizations.redirect_uri(&p),
            own_redirect_uri: format!("{}/{}", state.authorizations.default_redirect(), p.id),
            stale_days,
            subscriptions: 0,
            certificate: match p.credential {
                CredentialKind::Certificate => p
                    .certificate
                    .as_deref()
                    .and_then(crate::crypto::certificate::decode_der)
                    .and_then(|d| crate::crypto::certificate::info_of(&d).ok()),
                CredentialKind::Secret => None,
            },
            p,
        }
    }

    /// Where a tenant admin grants the app's permissions for the whole tenant (documented:
    /// "Grant tenant-wide admin consent to an application", the admin consent URL). Shown
    /// while an application profile lacks consent or is unknown in the tenant.
    pub fn admin_consent_url(&self) -> Option<String> {
        let wanted = matches!(
            self.status,
            ProfileStatus::AppNotFound | ProfileStatus::ConsentMissing
        );
        (self.is_app() && wanted).then(|| {
            format!(
                "{}/{}/adminconsent?client_id={}",
                self.p.login_base.trim_end_matches('/'),
                self.p.tenant,
                self.p.client_id
            )
        })
    }

    pub fn uses_certificate(&self) -> bool {
        self.p.credential == CredentialKind::Certificate
    }

    pub fn warning_key(&self) -> Option<&'static str> {
        match self.warning {
            SecretWarning::None => None,
            SecretWarning::Expired => Some("secret-expired"),
            SecretWarning::Days7 | SecretWarning::Days30 | SecretWarning::Days60 => {
                Some("secret-expires-soon")
            }
        }
    }

    pub fn warning_css(&self) -> &'static str {
        match self.warning {
            SecretWarning::Expired | SecretWarning::Days7 => "bad",
            _ => "warn",
        }
    }

    pub fn cloud_key(&self) -> &'static str {
        self.p.cloud.label_key()
    }

    /// The status's explanation; application profiles have no account to authorize.
    pub fn help_key(&self) -> &'static str {
        let code = self.p.status_code.as_deref();
        match (self.is_app(), self.status) {
            (true, ProfileStatus::SecretInvalid) if self.uses_certificate() => match code {
                Some("AADSTS700027") => "help-cert-not-registered",
                Some("AADSTS1000502") => "help-cert-expired",
                _ => "help-cert-invalid",
            },
            (true, ProfileStatus::ConfigError) if code == Some("AADSTS700024") => {
                "help-assertion-time"
            }
            (true, ProfileStatus::New) if self.uses_certificate() => "help-app-new-certificate",
            (true, ProfileStatus::New) => "help-app-new",
            (true, ProfileStatus::ConsentMissing) if code == Some("no-calendar-access") => {
                "help-app-no-calendar-access"
            }
            (true, ProfileStatus::ConsentMissing) => "help-app-consent-missing",
            (true, ProfileStatus::AppNotFound) => "help-app-not-installed",
            (true, ProfileStatus::NeedsReauth) => "help-app-token-refused",
            _ => self.status.help_key(),
        }
    }

    pub fn scope(&self) -> Option<crate::model::ScopeResult> {
        self.p.scope_result.0
    }

    /// The app's service principal as its token named it, or what to look up in Entra.
    fn service_principal(&self) -> &str {
        self.p
            .account_id
            .as_deref()
            .unwrap_or("<Object ID of the enterprise application>")
    }

    /// The room of the last scope check, or an example address.
    fn probe_room(&self) -> &str {
        self.p
            .scope_probe_room
            .as_deref()
            .unwrap_or("room@contoso.com")
    }

    /// Exchange Online PowerShell for RBAC for Applications (Microsoft: "Role Based Access
    /// Control for Applications in Exchange Online"), filled in with this profile's ids: the
    /// service principal, a management scope over the room mailboxes, the role assignment,
    /// and Microsoft's own test.
    pub fn rbac_powershell(&self) -> String {
        let app = &self.p.client_id;
        let sp = self.service_principal();
        let name = powershell_quoted(&format!("Datapump {}", self.p.name));
        let scope = powershell_quoted(&format!("Datapump rooms ({})", self.p.name));
        let room = self.probe_room();
        format!(
            "Connect-ExchangeOnline\n\
             New-ServicePrincipal -AppId {app} -ObjectId {sp} -DisplayName {name}\n\
             New-ManagementScope -Name {scope} -RecipientRestrictionFilter \"RecipientTypeDetails -eq 'RoomMailbox'\"\n\
             New-ManagementRoleAssignment -App {sp} -Role \"Application Calendars.Read\" -CustomResourceScope {scope}\n\
             Test-ServicePrincipalAuthorization -Identity {sp} -Resource {room}"
        )
    }

    /// The same role assignment scoped to one room list (an Exchange distribution group of
    /// rooms) instead of every room mailbox: a management scope over its members.
    pub fn room_list_powershell(&self, list: &str) -> String {
        let sp = self.service_principal();
        let group = powershell_quoted(list);
        let scope = powershell_quoted(&format!("Datapump {list} ({})", self.p.name));
        format!(
            "$list = Get-DistributionGroup -Identity {group}\n\
             New-ManagementScope -Name {scope} -RecipientRestrictionFilter \"MemberOfGroup -eq '$($list.DistinguishedName)'\"\n\
             New-ManagementRoleAssignment -App {sp} -Role \"Application Calendars.Read\" -CustomResourceScope {scope}"
        )
    }

    /// The legacy form, for tenants that already limit apps with application access policies
    /// (Microsoft says not to create new ones): a mail-enabled security group of the rooms.
    pub fn access_policy_powershell(&self) -> String {
        let app = &self.p.client_id;
        let room = self.probe_room();
        format!(
            "Connect-ExchangeOnline\n\
             New-ApplicationAccessPolicy -AppId {app} -PolicyScopeGroupId rooms@contoso.com -AccessRight RestrictAccess -Description \"Datapump: room calendars only\"\n\
             Test-ApplicationAccessPolicy -Identity {room} -AppId {app}"
        )
    }

    pub fn is_app(&self) -> bool {
        self.p.kind == ProfileKind::Application
    }

    /// Application profiles: each permission Datapump needs or uses, whether the last token
    /// carried it, and whether it is required. Empty while no token could be read.
    pub fn app_roles(&self) -> Vec<(&'static str, bool, bool)> {
        if !self.is_app() || self.p.granted_scopes.is_none() {
            return Vec::new();
        }
        let granted = self.p.scopes();
        let has = |r: &str| granted.iter().any(|g| g.eq_ignore_ascii_case(r));
        // Calendars.ReadBasic.All reads the calendars too, without bodies and attachments.
        APP_ROLES_REQUIRED
            .iter()
            .map(|r| match *r {
                "Calendars.Read" if !has(r) && has("Calendars.ReadBasic.All") => {
                    ("Calendars.ReadBasic.All", true, true)
                }
                r => (r, has(r), true),
            })
            .chain(APP_ROLES_OPTIONAL.iter().map(|r| (*r, has(r), false)))
            .collect()
    }

    pub fn missing_scopes(&self) -> Vec<(&'static str, &'static str)> {
        if self.is_app() || self.p.granted_scopes.is_none() {
            return Vec::new();
        }
        let granted = self.p.scopes();
        REQUIRED_SCOPES
            .iter()
            .filter(|(s, _)| !granted.iter().any(|g| g.eq_ignore_ascii_case(s)))
            .copied()
            .collect()
    }
}

/// A PowerShell string literal: single quotes, inner ones doubled.
fn powershell_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn login_origin(p: &Profile) -> Vec<String> {
    url::Url::parse(&p.login_base)
        .map(|u| vec![u.origin().ascii_serialization()])
        .unwrap_or_default()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    hash: String,
    profile_id: i64,
}

#[derive(Template)]
#[template(path = "profiles/list.html")]
pub struct ListTemplate {
    p: Page,
    profiles: Vec<ProfileView>,
}

pub async fn list(State(state): State<AppState>, p: Page) -> WebResult<Response> {
    let counts = state.db.subscription_counts().await?;
    let profiles = state
        .db
        .list_profiles()
        .await?
        .into_iter()
        .map(|x| ProfileView::counted(x, &state, &counts))
        .collect();
    page::ok(&ListTemplate { p, profiles })
}

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

fn errors_of(v: &Validation) -> FormErrors {
    let mut errors = FormErrors::default();
    for (field, key) in &v.errors {
        errors.add(field, *key);
    }
    errors
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
            let c = super::certificates::generate(&settings.name)?;
            settings.secret_expires_on = c.info().not_after.date_naive();
            Some(c)
        }
        _ => None,
    };
    let (sealed, certificate) = match &generated {
        Some(c) => {
            let (sealed, der) = super::certificates::sealed(&state, &uuid, c)?;
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
    let profile = match state
        .db
        .create_profile_with(&settings, &uuid, credential)
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
    state
        .db
        .record_audit(actor.record(
            "profile.created",
            Some(profile.name.clone()),
            Some(format!(
                "client id {}, tenant {}, cloud {}, credential {}",
                profile.client_id,
                profile.tenant,
                profile.cloud,
                profile.credential.as_str()
            )),
        ))
        .await?;
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

#[derive(Template)]
#[template(path = "profiles/show.html")]
pub struct ShowTemplate {
    p: Page,
    v: ProfileView,
    result: Option<Authorized>,
    pending: bool,
    paste_error: bool,
    /// A refused scope-check form: the message, and what was entered.
    scope_error: Option<&'static str>,
    scope_room: String,
    scope_outside: String,
    /// Application profiles: the room lists of their subscribed rooms (from the directory).
    room_lists: Vec<String>,
}

async fn pending_for(session: &Session, id: i64) -> WebResult<bool> {
    let list: Vec<Pending> = session.get(PENDING_KEY).await?.unwrap_or_default();
    Ok(list.iter().any(|x| x.profile_id == id))
}

async fn show_page(
    state: &AppState,
    session: &Session,
    p: Page,
    id: i64,
    paste_error: bool,
    scope_form: Option<ScopeForm>,
    status: StatusCode,
) -> WebResult<Response> {
    let profile = state.db.profile(id).await?;
    let result: Option<Authorized> = session.remove(RESULT_KEY).await?;
    let result = result.filter(|r| r.profile_id == id);
    let pending = pending_for(session, id).await?;
    let origins = login_origin(&profile);
    let room_lists = if profile.kind == ProfileKind::Application {
        let mine: std::collections::HashSet<i64> = state
            .db
            .list_subscriptions(Some(id))
            .await?
            .iter()
            .map(|s| s.id)
            .collect();
        let mut lists: Vec<String> = state
            .db
            .list_rooms()
            .await?
            .into_iter()
            .filter(|r| mine.contains(&r.subscription_id))
            .filter_map(|r| r.room_list)
            .collect();
        lists.sort();
        lists.dedup();
        lists
    } else {
        Vec::new()
    };
    let (scope_room, scope_outside) = match &scope_form {
        Some(f) => (f.room.clone(), f.outside.clone()),
        None => (
            profile.scope_probe_room.clone().unwrap_or_default(),
            profile.scope_probe_outside.clone().unwrap_or_default(),
        ),
    };
    let mut response = page::render(
        status,
        &ShowTemplate {
            p,
            v: ProfileView::counted(profile, state, &state.db.subscription_counts().await?),
            result,
            pending,
            paste_error,
            scope_error: scope_form.and_then(|f| f.error),
            scope_room,
            scope_outside,
            room_lists,
        },
    )?;
    response.extensions_mut().insert(ExtraFormAction(origins));
    Ok(response)
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    show_page(&state, &session, p, id, false, None, StatusCode::OK).await
}

fn input_of(profile: &Profile) -> ProfileInput {
    ProfileInput {
        kind: profile.kind.as_str().into(),
        name: profile.name.clone(),
        tenant: profile.tenant.clone(),
        client_id: profile.client_id.clone(),
        credential: profile.credential.as_str().into(),
        client_secret: String::new(),
        secret_expires_on: profile.secret_expires_on.to_string(),
        cloud: profile.cloud.as_str().to_string(),
        login_base: profile.login_base.clone(),
        graph_base: profile.graph_base.clone(),
        redirect_uri: profile.redirect_uri.clone().unwrap_or_default(),
        notes: profile.notes.clone(),
        version: Some(profile.version),
    }
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
    state.db.delete_profile(id, keep).await?;
    state.tokens.forget(id);
    let details = (!subscriptions.is_empty()).then(|| {
        format!(
            "{} subscription(s) removed, imported events {}",
            subscriptions.len(),
            if keep { "kept" } else { "removed" }
        )
    });
    state
        .db
        .record_audit(actor.record("profile.deleted", Some(profile.name.clone()), details))
        .await?;
    flash_args(
        &session,
        FlashKind::Success,
        "profile-deleted",
        &[("name", &profile.name)],
    )
    .await?;
    Ok(p.redirect("/profiles"))
}

/// "Test": starts the authorization-code flow with PKCE and sends the browser to Microsoft.
pub async fn authorize(
    State(state): State<AppState>,
    session: Session,
    actor: Actor,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let started = state.authorizations.start(id, None, &actor).await?;
    let mut pending: Vec<Pending> = session.get(PENDING_KEY).await?.unwrap_or_default();
    pending.push(Pending {
        hash: started.state_hash,
        profile_id: id,
    });
    let keep = pending.len().saturating_sub(5);
    pending.drain(..keep);
    session.insert(PENDING_KEY, pending).await?;
    Ok(Redirect::to(&started.url).into_response())
}

/// The parameters Microsoft sends back to the redirect URI.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// RFC 9207's issuer identifier, when the identity provider sends one.
    pub iss: Option<String>,
}

impl CallbackParams {
    pub fn is_callback(&self) -> bool {
        self.state.is_some() || self.code.is_some() || self.error.is_some()
    }

    fn from_map(map: &HashMap<String, String>) -> Self {
        Self {
            code: map.get("code").cloned(),
            state: map.get("state").cloned(),
            error: map.get("error").cloned(),
            error_description: map.get("error_description").cloned(),
            iss: map.get("iss").cloned(),
        }
    }
}

pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    axum::extract::Query(params): axum::extract::Query<CallbackParams>,
) -> WebResult<Response> {
    answered(&state, &session, &me, p, actor, params, None).await
}

/// A profile's own redirect path, `/callback/{id}`: only that profile's answers are taken.
pub async fn profile_callback(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    axum::extract::Query(params): axum::extract::Query<CallbackParams>,
) -> WebResult<Response> {
    answered(&state, &session, &me, p, actor, params, Some(id)).await
}

async fn answered(
    state: &AppState,
    session: &Session,
    me: &crate::web::auth::CurrentAdmin,
    p: Page,
    actor: Actor,
    params: CallbackParams,
    path_profile: Option<i64>,
) -> WebResult<Response> {
    let mut response = finish(state, session, me, p, actor, params, path_profile).await?;
    // The address holds the authorization code: the next page must not pass it on.
    response.headers_mut().insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    Ok(response)
}

/// Completes an authorization from its callback parameters: the state must belong to this
/// browser session; the authorization service checks the rest and stores the result.
pub async fn finish(
    state: &AppState,
    session: &Session,
    me: &crate::web::auth::CurrentAdmin,
    p: Page,
    actor: Actor,
    params: CallbackParams,
    path_profile: Option<i64>,
) -> WebResult<Response> {
    if me.role != crate::storage::admins::Role::Admin {
        return Err(WebError::Forbidden);
    }
    let Some(raw_state) = params.state.as_deref().filter(|s| !s.is_empty()) else {
        return Err(WebError::BadRequest("oauth-state-missing"));
    };
    let hash = crypto::token_hash(raw_state);
    let mut pending: Vec<Pending> = session.get(PENDING_KEY).await?.unwrap_or_default();
    let Some(position) = pending.iter().position(|x| x.hash == hash) else {
        tracing::warn!("authorization callback with a state this session did not start");
        return Err(WebError::BadRequest("oauth-state-unknown"));
    };
    let reply = match (params.error, params.code) {
        (Some(error), _) => Reply::Error {
            error,
            description: params.error_description,
        },
        (None, code) => Reply::Code(code.unwrap_or_default()),
    };
    let arrival = Arrival {
        path_profile,
        issuer: params.iss,
    };
    let completion = state
        .authorizations
        .complete(&hash, reply, &arrival, &actor)
        .await;
    if !matches!(
        completion,
        Err(AuthorizeError::StateUnknown | AuthorizeError::StateReused)
    ) {
        pending.remove(position);
        session.insert(PENDING_KEY, pending).await?;
    }
    match completion? {
        Completion::Authorized(result) => {
            let target = format!("/profiles/{}", result.profile_id);
            session.insert(RESULT_KEY, *result).await?;
            Ok(p.redirect(&target))
        }
        Completion::Refused {
            profile_id,
            key,
            code,
        } => {
            flash_args(session, FlashKind::Error, key, &[("code", &code)]).await?;
            Ok(p.redirect(&format!("/profiles/{profile_id}")))
        }
        Completion::ExchangeFailed {
            profile_id,
            code,
            help_key,
        } => {
            flash_args(
                session,
                FlashKind::Error,
                "oauth-exchange-failed",
                &[("code", &code)],
            )
            .await?;
            flash(session, FlashKind::Info, help_key).await?;
            Ok(p.redirect(&format!("/profiles/{profile_id}")))
        }
    }
}

#[derive(Deserialize)]
pub struct PasteForm {
    #[serde(default)]
    address: String,
}

/// Finishes an authorization from the address the browser ended up on (when the registered
/// redirect URI is not reachable from the admin's browser, e.g. the guide's localhost).
pub async fn complete_pasted(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(f): Form<PasteForm>,
) -> WebResult<Response> {
    let raw = f.address.trim();
    let query = match url::Url::parse(raw) {
        Ok(u) => u.query().unwrap_or("").to_string(),
        Err(_) => raw.trim_start_matches('?').to_string(),
    };
    let map: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let params = CallbackParams::from_map(&map);
    if params.state.is_none() || (params.code.is_none() && params.error.is_none()) {
        return show_page(
            &state,
            &session,
            p,
            id,
            true,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    finish(&state, &session, &me, p, actor, params, None).await
}

/// The scope-check form of an application profile.
#[derive(Debug, Default, Deserialize)]
pub struct ScopeForm {
    #[serde(default)]
    room: String,
    #[serde(default)]
    outside: String,
    #[serde(skip)]
    error: Option<&'static str>,
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
    let outcome = crate::profiles::scope::check(&state.tokens, id, &room, &outside).await?;
    state
        .db
        .record_audit(actor.record(
            "profile.scope_checked",
            Some(profile.name.clone()),
            Some(format!(
                "{}: {room} readable?, {outside} refused?",
                outcome.result
            )),
        ))
        .await?;
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
    state.db.disconnect_profile(id).await?;
    state.tokens.forget(id);
    state
        .db
        .record_audit(actor.record(
            "profile.disconnected",
            Some(profile.name.clone()),
            profile.account_upn.clone(),
        ))
        .await?;
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
    state
        .db
        .set_profile_status(id, ProfileStatus::Ok, None, None)
        .await?;
    state.db.reset_backoff(id).await?;
    state
        .db
        .record_audit(actor.record("profile.retried", Some(profile.name.clone()), None))
        .await?;
    match state.tokens.force_refresh(id).await {
        Ok(_) => flash(&session, FlashKind::Success, "profile-refresh-ok").await?,
        Err(_) => flash(&session, FlashKind::Error, "profile-refresh-failed").await?,
    }
    Ok(p.redirect(&format!("/profiles/{id}")))
}

//! Who is signed in. The `identify` middleware reads the session, enforces the idle and absolute
//! timeouts, checks the admin still exists, is enabled and has the same security stamp (a
//! password change, disabling or a role change rotates it), and stores the result in the request.
//! Routes then declare the access they need; `guard` enforces it.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use tower_sessions::Session;

use super::error::WebError;
use super::state::AppState;
use crate::i18n::Lang;
use crate::storage::admins::{Admin, Role};
use crate::storage::sessions::ADMIN_ID_KEY;

const STAMP_KEY: &str = "stamp";
const AUTH_AT_KEY: &str = "auth_at";
const SEEN_AT_KEY: &str = "seen_at";
/// When the admin last entered their password in this session (sign-in, re-authentication or
/// a password change); sensitive actions need it recent.
const VERIFIED_AT_KEY: &str = "verified_at";
/// How long an entered password covers sensitive actions (ASVS 7.5.1).
pub const REAUTH_WINDOW_SECS: i64 = 5 * 60;
/// Set when a session ended by timeout, so the login page can say why.
const EXPIRED_KEY: &str = "expired";
pub const LANG_COOKIE: &str = "datapump_lang";

#[derive(Debug, Clone)]
pub struct CurrentAdmin {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub language: Option<String>,
    /// Their own zone for showing times; `None`: the instance's.
    pub time_zone: Option<chrono_tz::Tz>,
    /// The password was entered in this session within `REAUTH_WINDOW_SECS`.
    pub verified_recently: bool,
}

impl CurrentAdmin {
    fn new(a: &Admin, verified_recently: bool) -> Self {
        Self {
            id: a.id,
            username: a.username.clone(),
            role: a.role,
            language: a.language.clone(),
            time_zone: a.time_zone.0,
            verified_recently,
        }
    }
}

/// The request's identity (None when anonymous), inserted by `identify`.
#[derive(Debug, Clone, Default)]
pub struct Identity(pub Option<CurrentAdmin>);

/// The access a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in admin, for their own session and account (logout, own password).
    SignedIn,
    /// Any signed-in admin; viewers included. Read-only pages.
    Viewer,
    /// Admins with the admin role. Every change to shared data.
    Admin,
    /// Admins with the admin role who entered their password within the last five minutes:
    /// client secrets, connecting and disconnecting accounts, changing other admins. Others
    /// are sent to the re-authentication page first and nothing is done.
    Recent,
}

impl Access {
    /// The role this access needs, whatever the re-authentication.
    pub fn needs_admin_role(self) -> bool {
        matches!(self, Self::Admin | Self::Recent)
    }
}

/// The hash of the request's device cookie (a browser that signed in before), if it has one.
pub fn device_of(state: &AppState, headers: &axum::http::HeaderMap) -> Option<String> {
    use crate::auth::throttle;
    let name = super::cookie_name(&state.config, throttle::DEVICE_COOKIE);
    throttle::device_token(super::cookie_value(headers, &name)).map(throttle::device_hash)
}

/// Establishes a signed-in session: a fresh session id (no fixation), the admin's stamp and the
/// times the timeouts are measured from.
pub async fn sign_in(session: &Session, admin: &Admin) -> Result<(), WebError> {
    session.cycle_id().await?;
    super::csrf::rotate(session).await?;
    let now = Utc::now().timestamp();
    session.insert(ADMIN_ID_KEY, admin.id).await?;
    session.insert(STAMP_KEY, &admin.security_stamp).await?;
    session.insert(AUTH_AT_KEY, now).await?;
    session.insert(SEEN_AT_KEY, now).await?;
    session.insert(VERIFIED_AT_KEY, now).await?;
    Ok(())
}

/// Records that the admin just entered their password again.
pub async fn mark_verified(session: &Session) -> Result<(), WebError> {
    session
        .insert(VERIFIED_AT_KEY, Utc::now().timestamp())
        .await?;
    Ok(())
}

/// Re-binds the current session to the admin's new stamp (after changing one's own password).
pub async fn refresh_stamp(session: &Session, admin: &Admin) -> Result<(), WebError> {
    session.cycle_id().await?;
    session.insert(STAMP_KEY, &admin.security_stamp).await?;
    Ok(())
}

pub async fn sign_out(session: &Session) -> Result<(), WebError> {
    session.flush().await?;
    Ok(())
}

/// True once after a session ended by timeout.
pub async fn take_expired_notice(session: &Session) -> Result<bool, WebError> {
    Ok(session.remove::<bool>(EXPIRED_KEY).await?.unwrap_or(false))
}

async fn load_identity(
    state: &AppState,
    session: &Session,
) -> Result<Option<CurrentAdmin>, WebError> {
    let Some(admin_id) = session.get::<i64>(ADMIN_ID_KEY).await? else {
        return Ok(None);
    };
    let now = Utc::now().timestamp();
    let auth_at = session.get::<i64>(AUTH_AT_KEY).await?.unwrap_or(0);
    let seen_at = session.get::<i64>(SEEN_AT_KEY).await?.unwrap_or(0);
    let idle = i64::try_from(state.config.session_idle_timeout.as_secs()).unwrap_or(i64::MAX);
    let max = i64::try_from(state.config.session_max_lifetime.as_secs()).unwrap_or(i64::MAX);
    if now - seen_at >= idle || now - auth_at >= max {
        session.flush().await?;
        session.insert(EXPIRED_KEY, true).await?;
        return Ok(None);
    }
    let stamp = session.get::<String>(STAMP_KEY).await?;
    let admin = match state.db.admin_by_id(admin_id).await {
        Ok(a) => a,
        Err(crate::storage::StoreError::NotFound) => {
            session.flush().await?;
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    if admin.disabled || stamp.as_deref() != Some(admin.security_stamp.as_str()) {
        session.flush().await?;
        return Ok(None);
    }
    session.insert(SEEN_AT_KEY, now).await?;
    let verified_at = session.get::<i64>(VERIFIED_AT_KEY).await?.unwrap_or(0);
    let recent = (0..REAUTH_WINDOW_SECS).contains(&(now - verified_at));
    Ok(Some(CurrentAdmin::new(&admin, recent)))
}

fn cookie_lang(parts: &Parts) -> Option<Lang> {
    super::cookie_value(&parts.headers, LANG_COOKIE).and_then(Lang::parse)
}

/// Middleware: resolves the identity and the language of the request.
pub async fn identify(
    State(state): State<AppState>,
    session: Session,
    request: Request,
    next: Next,
) -> Result<Response, WebError> {
    let admin = load_identity(&state, &session).await?;
    let (mut parts, body) = request.into_parts();
    let lang = admin
        .as_ref()
        .and_then(|a| a.language.as_deref())
        .and_then(Lang::parse)
        .or_else(|| cookie_lang(&parts))
        .or_else(|| {
            parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::negotiate)
        })
        .unwrap_or_default();
    parts.extensions.insert(lang);
    parts.extensions.insert(Identity(admin));
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// Where the app is published: the origin and the path prefix of its public URL.
#[derive(Debug, Clone)]
pub struct Site {
    pub origin: String,
    pub prefix: String,
}

/// Middleware factory: enforces `access` for one route.
pub async fn guard(
    access: Access,
    site: Site,
    request: Request,
    next: Next,
) -> Result<Response, WebError> {
    let prefix = &site.prefix;
    let identity = request
        .extensions()
        .get::<Identity>()
        .and_then(|i| i.0.clone());
    let allowed = match (access, &identity) {
        (Access::Public, _) => true,
        (_, None) => {
            // Come back here after login, for pages; a form post starts over from its page.
            let next_path = if request.method() == Method::GET {
                request
                    .uri()
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string()
            } else {
                "/".to_string()
            };
            let target = format!(
                "{prefix}/login?next={}",
                url::form_urlencoded::byte_serialize(next_path.as_bytes()).collect::<String>()
            );
            return Ok(Redirect::to(&target).into_response());
        }
        (Access::SignedIn | Access::Viewer, Some(_)) => true,
        (Access::Admin, Some(admin)) => admin.role == Role::Admin,
        (Access::Recent, Some(admin)) if admin.role == Role::Admin => {
            if !admin.verified_recently {
                let back = return_path(&request, &site);
                let target = format!(
                    "{prefix}/reauth?next={}",
                    url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
                );
                return Ok(Redirect::to(&target).into_response());
            }
            true
        }
        (Access::Recent, Some(_)) => false,
    };
    if !allowed {
        tracing::warn!(
            admin = identity.as_ref().map(|a| a.username.as_str()),
            path = %request.uri().path(),
            "access refused: role too low"
        );
        return Err(WebError::Forbidden);
    }
    Ok(next.run(request).await)
}

/// Where to continue after re-authentication: the page itself for a GET; for a form post, the
/// page that sent it (the same-origin `Referer`, only its path), since the post is not replayed.
fn return_path(request: &Request, site: &Site) -> String {
    if request.method() == Method::GET {
        let full = request.uri().path_and_query().map_or("/", |p| p.as_str());
        return safe_next(Some(full));
    }
    let referer = request
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url::Url::parse(v).ok())
        .filter(|u| u.origin().ascii_serialization() == site.origin);
    let Some(referer) = referer else {
        return "/".to_string();
    };
    let path = referer.path();
    let Some(rest) = path.strip_prefix(site.prefix.as_str()) else {
        return "/".to_string();
    };
    let rest = if rest.is_empty() { "/" } else { rest };
    match referer.query() {
        Some(q) => safe_next(Some(&format!("{rest}?{q}"))),
        None => safe_next(Some(rest)),
    }
}

/// Extractor for handlers behind a guard: the signed-in admin.
pub struct SignedIn(pub CurrentAdmin);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, WebError> {
        parts
            .extensions
            .get::<Identity>()
            .and_then(|i| i.0.clone())
            .map(SignedIn)
            .ok_or(WebError::Forbidden)
    }
}

/// Accepts only app-internal paths as post-login destinations (no open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control) =>
        {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

/// Who made a request, for the audit log: the signed-in admin (if any) and the client address.
pub use crate::storage::audit::Actor;

impl FromRequestParts<AppState> for Actor {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, WebError> {
        let admin = parts.extensions.get::<Identity>().and_then(|i| i.0.clone());
        let ip = parts
            .extensions
            .get::<super::client_ip::ClientIp>()
            .and_then(|c| c.to_string_opt());
        Ok(Self {
            id: admin.as_ref().map(|a| a.id),
            name: admin.map(|a| a.username),
            ip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_internal_only() {
        assert_eq!(safe_next(Some("/admins?x=1")), "/admins?x=1");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}

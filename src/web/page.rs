//! What every page template needs: language, path prefix, the signed-in admin, the CSRF token
//! and pending flash messages. Handlers take `Page` as an extractor and hand it to templates.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::auth::{CurrentAdmin, Identity};
use super::csrf;
use super::error::{WebError, WebResult};
use super::state::AppState;
use super::static_files;
use crate::i18n::Lang;
use crate::storage::admins::Role;

const FLASH_KEY: &str = "flash";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub key: String,
    #[serde(default)]
    pub args: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FlashKind {
    Success,
    Info,
    Error,
}

impl FlashKind {
    pub fn css(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Info => "info",
            Self::Error => "error",
        }
    }
}

/// Queues a message for the next page shown to this session.
pub async fn flash(session: &Session, kind: FlashKind, key: &str) -> WebResult<()> {
    flash_args(session, kind, key, &[]).await
}

pub async fn flash_args(
    session: &Session,
    kind: FlashKind,
    key: &str,
    args: &[(&str, &str)],
) -> WebResult<()> {
    let mut pending: Vec<Flash> = session.get(FLASH_KEY).await?.unwrap_or_default();
    pending.push(Flash {
        kind,
        key: key.to_string(),
        args: args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    });
    session.insert(FLASH_KEY, pending).await?;
    Ok(())
}

/// A flash message translated for display.
pub struct ShownFlash {
    pub css: &'static str,
    pub text: String,
}

#[derive(Clone)]
pub struct Page {
    pub lang: Lang,
    pub prefix: String,
    pub admin: Option<CurrentAdmin>,
    pub csrf_token: String,
    pub flashes: Vec<Flash>,
    /// Path of the current request without prefix; used for the language switcher's return.
    pub path: String,
    /// Where times are shown: the admin's own zone, else the instance's.
    pub zone: chrono_tz::Tz,
    /// The instance's zone (`DATAPUMP_TIME_ZONE`), for admins who chose none.
    pub instance_zone: chrono_tz::Tz,
}

impl Page {
    /// Builds the context from request parts; takes pending flash messages.
    pub async fn build(parts: &Parts, state: &AppState) -> WebResult<Self> {
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
        let admin = parts.extensions.get::<Identity>().and_then(|i| i.0.clone());
        let (csrf_token, flashes) = match parts.extensions.get::<Session>() {
            Some(session) => (
                csrf::token(session, parts.extensions.get::<csrf::AnonymousToken>()).await?,
                session
                    .remove::<Vec<Flash>>(FLASH_KEY)
                    .await?
                    .unwrap_or_default(),
            ),
            None => (String::new(), Vec::new()),
        };
        let zone = admin
            .as_ref()
            .and_then(|a| a.time_zone)
            .unwrap_or(state.config.sync_policy.time_zone);
        Ok(Self {
            lang,
            prefix: state.config.public_url.prefix().to_string(),
            zone,
            instance_zone: state.config.sync_policy.time_zone,
            admin,
            csrf_token,
            flashes,
            path: parts.uri.path().to_string(),
        })
    }

    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    pub fn t1(&self, key: &str, name: &'static str, value: impl std::fmt::Display) -> String {
        self.lang.t_args(key, &[(name, value.to_string())])
    }

    pub fn t2(
        &self,
        key: &str,
        n1: &'static str,
        v1: impl std::fmt::Display,
        n2: &'static str,
        v2: impl std::fmt::Display,
    ) -> String {
        self.lang
            .t_args(key, &[(n1, v1.to_string()), (n2, v2.to_string())])
    }

    #[allow(clippy::too_many_arguments)]
    pub fn t3(
        &self,
        key: &str,
        n1: &'static str,
        v1: impl std::fmt::Display,
        n2: &'static str,
        v2: impl std::fmt::Display,
        n3: &'static str,
        v3: impl std::fmt::Display,
    ) -> String {
        self.lang.t_args(
            key,
            &[
                (n1, v1.to_string()),
                (n2, v2.to_string()),
                (n3, v3.to_string()),
            ],
        )
    }

    /// An app path with the deployment prefix, for links and form actions.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.prefix, path)
    }

    pub fn static_url(&self, file: &str) -> String {
        format!(
            "{}/static/{}?v={}",
            self.prefix,
            file,
            static_files::version(file)
        )
    }

    pub fn shown_flashes(&self) -> Vec<ShownFlash> {
        self.flashes
            .iter()
            .map(|f| {
                let args: Vec<(&'static str, String)> = f
                    .args
                    .iter()
                    .filter_map(|(k, v)| Some((flash_arg_name(k)?, v.clone())))
                    .collect();
                ShownFlash {
                    css: f.kind.css(),
                    text: self.lang.t_args(&f.key, &args),
                }
            })
            .collect()
    }

    pub fn is_admin(&self) -> bool {
        self.admin.as_ref().is_some_and(|a| a.role == Role::Admin)
    }

    pub fn signed_in(&self) -> bool {
        self.admin.is_some()
    }

    pub fn username(&self) -> &str {
        self.admin.as_ref().map_or("", |a| a.username.as_str())
    }

    /// Marks the navigation entry of the current section.
    pub fn nav_class(&self, section: &str) -> &'static str {
        let current = if section == "/" {
            self.path == "/"
        } else {
            self.path == section || self.path.starts_with(&format!("{section}/"))
        };
        if current { "current" } else { "" }
    }

    /// A stored (UTC) time in the viewer's zone, with the zone's abbreviation (CET, CEST, UTC)
    /// so that nobody has to guess which clock it is.
    pub fn time(&self, at: &DateTime<Utc>) -> String {
        let local = at.with_timezone(&self.zone);
        match self.lang {
            Lang::De => local.format("%d.%m.%Y %H:%M %Z").to_string(),
            Lang::En => local.format("%Y-%m-%d %H:%M %Z").to_string(),
        }
    }

    /// The admin's own zone, if they chose one.
    pub fn own_zone(&self) -> Option<chrono_tz::Tz> {
        self.admin.as_ref().and_then(|a| a.time_zone)
    }

    /// Every zone an admin may choose (IANA names, sorted).
    pub fn zones(&self) -> &'static [chrono_tz::Tz] {
        &chrono_tz::TZ_VARIANTS
    }

    pub fn opt_time(&self, at: &Option<DateTime<Utc>>) -> String {
        at.as_ref()
            .map_or_else(|| "—".to_string(), |t| self.time(t))
    }

    pub fn role_name(&self, role: &Role) -> String {
        self.t(match role {
            Role::Admin => "role-admin",
            Role::Viewer => "role-viewer",
        })
    }

    pub fn languages(&self) -> [Lang; 2] {
        Lang::ALL
    }

    /// Redirect (303) to an app path, with the prefix.
    pub fn redirect(&self, path: &str) -> Response {
        Redirect::to(&self.url(path)).into_response()
    }
}

/// Flash arguments are stored by name; Fluent wants `'static` names, so only known ones pass.
fn flash_arg_name(name: &str) -> Option<&'static str> {
    [
        "name",
        "count",
        "minutes",
        "url",
        "code",
        "matched",
        "updated",
        "reasons",
        "thumbprint",
        "unchanged",
        "missing",
    ]
    .into_iter()
    .find(|n| *n == name)
}

impl FromRequestParts<AppState> for Page {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Page::build(parts, state).await
    }
}

/// Field-level validation messages (translation keys), shown next to the fields.
#[derive(Debug, Default, Clone)]
pub struct FormErrors(BTreeMap<&'static str, String>);

impl FormErrors {
    pub fn add(&mut self, field: &'static str, key: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| key.into());
    }

    pub fn get(&self, field: &str) -> Option<&String> {
        self.0.get(field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<crate::subscriptions::Invalid> for FormErrors {
    fn from(invalid: crate::subscriptions::Invalid) -> Self {
        let mut errors = Self::default();
        for (field, key) in invalid.0 {
            errors.add(field, key);
        }
        errors
    }
}

/// Renders a template into an HTML response with the given status.
pub fn render(status: StatusCode, template: &impl Template) -> WebResult<Response> {
    let html = template.render()?;
    let mut response = (status, Html(html)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(response)
}

pub fn ok(template: &impl Template) -> WebResult<Response> {
    render(StatusCode::OK, template)
}

//! Profiles: one Entra ID app registration and the Microsoft 365 account authorized through it.
//! Validation of what an admin enters, the clouds, the status model and its guidance.

pub mod authorization;
pub mod changes;
pub mod scope;
pub mod tokens;

use chrono::{NaiveDate, Utc};

use crate::graph::{Endpoints, FailureClass};
use crate::storage::profiles::Profile;

pub use crate::model::{Cloud, CredentialKind, ProfileKind, ProfileSettings, ProfileStatus};

/// The status a failure of the identity platform puts the profile in; `None` for transient
/// failures, which are retried with backoff and keep the status.
pub fn status_after(class: FailureClass) -> Option<ProfileStatus> {
    match class {
        FailureClass::Reauthorize => Some(ProfileStatus::NeedsReauth),
        FailureClass::ReplaceSecret => Some(ProfileStatus::SecretInvalid),
        FailureClass::AppNotFound => Some(ProfileStatus::AppNotFound),
        FailureClass::ConsentMissing => Some(ProfileStatus::ConsentMissing),
        FailureClass::Configuration => Some(ProfileStatus::ConfigError),
        FailureClass::Transient => None,
    }
}

impl From<&Profile> for Endpoints {
    fn from(p: &Profile) -> Self {
        Self {
            login_base: p.login_base.clone(),
            graph_base: p.graph_base.clone(),
            tenant: p.tenant.clone(),
        }
    }
}

impl From<&ProfileSettings> for Endpoints {
    fn from(s: &ProfileSettings) -> Self {
        Self {
            login_base: s.login_base.clone(),
            graph_base: s.graph_base.clone(),
            tenant: s.tenant.clone(),
        }
    }
}

/// Whether saving `s` moves the profile to another app registration (app, tenant or cloud):
/// the stored tokens belong to the old one, and the profile must be authorized again.
pub fn registration_changed(before: &Profile, s: &ProfileSettings) -> bool {
    before.tenant != s.tenant
        || before.client_id != s.client_id
        || before.login_base != s.login_base
        || before.graph_base != s.graph_base
}

/// How urgent the secret's expiry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretWarning {
    None,
    Days60,
    Days30,
    Days7,
    Expired,
}

pub fn secret_warning(expires_on: NaiveDate, today: NaiveDate) -> SecretWarning {
    let days = (expires_on - today).num_days();
    match days {
        d if d < 0 => SecretWarning::Expired,
        d if d <= 7 => SecretWarning::Days7,
        d if d <= 30 => SecretWarning::Days30,
        d if d <= 60 => SecretWarning::Days60,
        _ => SecretWarning::None,
    }
}

/// What the profile form submits, before validation.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ProfileInput {
    /// `delegated` (default) or `application`; only read for a new profile.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub tenant: String,
    #[serde(default)]
    pub client_id: String,
    /// `secret` (default) or `certificate` (application profiles; Datapump generates it).
    #[serde(default)]
    pub credential: String,
    #[serde(default)]
    pub client_secret: String,
    #[serde(default)]
    pub secret_expires_on: String,
    #[serde(default)]
    pub cloud: String,
    #[serde(default)]
    pub login_base: String,
    #[serde(default)]
    pub graph_base: String,
    #[serde(default)]
    pub redirect_uri: String,
    #[serde(default)]
    pub notes: String,
    pub version: Option<i64>,
}

impl ProfileInput {
    /// The credential the form asks for; `None` for a value the form does not offer.
    pub fn credential_kind(&self) -> Option<CredentialKind> {
        match self.credential.trim() {
            "" => Some(CredentialKind::Secret),
            c => c.parse().ok(),
        }
    }
}

use crate::model::is_guid;

fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && s.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A custom sign-in or Graph address: an http(s) origin with a path at most. The client secret
/// and tokens are sent there, so it must be https; plain http only to this machine (a local
/// simulator or test double).
fn base_url(raw: &str) -> Result<String, &'static str> {
    let trimmed = raw.trim().trim_end_matches('/');
    let u = url::Url::parse(trimmed).map_err(|_| "profile-url-invalid")?;
    let ok = matches!(u.scheme(), "http" | "https")
        && u.host_str().is_some()
        && u.query().is_none()
        && u.fragment().is_none();
    if !ok {
        return Err("profile-url-invalid");
    }
    if u.scheme() == "http" && !is_loopback(&u) {
        return Err("profile-url-https-required");
    }
    Ok(trimmed.to_string())
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether saving `s` sends the profile's secret somewhere else: another cloud, sign-in or
/// Graph address. Then the secret must be entered again, so that a stored secret can never be
/// redirected to a host of an admin's choosing and read there.
pub fn addresses_changed(before: &Profile, s: &ProfileSettings) -> bool {
    before.cloud != s.cloud
        || before.login_base != s.login_base
        || before.graph_base != s.graph_base
}

/// Field errors (translation keys) and warnings from validating a profile form.
#[derive(Debug, Default)]
pub struct Validation {
    pub errors: Vec<(&'static str, &'static str)>,
    pub warnings: Vec<&'static str>,
}

/// Validates the form; `secret_required` for a new profile.
pub fn validate(
    input: &ProfileInput,
    secret_required: bool,
) -> Result<(ProfileSettings, Validation), Validation> {
    let mut v = Validation::default();
    let name = input.name.trim().to_string();
    if name.is_empty() {
        v.errors.push(("name", "profile-name-required"));
    } else if name.chars().count() > 100 {
        v.errors.push(("name", "profile-name-too-long"));
    }
    let kind = match input.kind.trim() {
        "" => ProfileKind::Delegated,
        k => k.parse().unwrap_or_else(|_| {
            v.errors.push(("kind", "profile-kind-invalid"));
            ProfileKind::Delegated
        }),
    };
    let tenant = match input.tenant.trim().to_ascii_lowercase() {
        t if t.is_empty() && kind == ProfileKind::Delegated => "common".to_string(),
        t => t,
    };
    let alias = ["common", "organizations", "consumers"].contains(&tenant.as_str());
    if kind == ProfileKind::Application && (alias || tenant.is_empty()) {
        // No user names the tenant: the token endpoint refuses /common and /consumers
        // (AADSTS9001023), and /organizations would leave the tenant to chance.
        v.errors
            .push(("tenant", "profile-tenant-specific-required"));
    } else if !(alias || is_guid(&tenant) || is_domain(&tenant)) {
        v.errors.push(("tenant", "profile-tenant-invalid"));
    }
    let client_id = input.client_id.trim().to_ascii_lowercase();
    if !is_guid(&client_id) {
        v.errors.push(("client_id", "profile-client-id-invalid"));
    }
    let credential = input.credential_kind();
    if credential.is_none()
        || (credential == Some(CredentialKind::Certificate) && kind != ProfileKind::Application)
    {
        v.errors.push(("credential", "profile-credential-invalid"));
    }
    if secret_required && credential == Some(CredentialKind::Secret) {
        check_secret(&input.client_secret, &mut v);
    }
    let expires = if input.secret_expires_on.trim().is_empty() {
        default_secret_expiry()
    } else {
        match NaiveDate::parse_from_str(input.secret_expires_on.trim(), "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => {
                v.errors.push(("secret_expires_on", "profile-date-invalid"));
                default_secret_expiry()
            }
        }
    };
    let cloud = input.cloud.trim().parse().unwrap_or(Cloud::Global);
    let (login_base, graph_base) = match cloud.bases() {
        Some((l, g)) => (l.to_string(), g.to_string()),
        None => {
            let login = base_url(&input.login_base);
            let graph = base_url(&input.graph_base);
            if let Err(key) = &login {
                v.errors.push(("login_base", key));
            }
            if let Err(key) = &graph {
                v.errors.push(("graph_base", key));
            }
            (login.unwrap_or_default(), graph.unwrap_or_default())
        }
    };
    let redirect_uri = match input.redirect_uri.trim() {
        // No sign-in, no redirect.
        _ if kind == ProfileKind::Application => None,
        "" => None,
        raw => match url::Url::parse(raw) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.fragment().is_none() =>
            {
                let local = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
                if u.scheme() == "http" && !local {
                    v.warnings.push("profile-redirect-http-warning");
                }
                Some(raw.to_string())
            }
            _ => {
                v.errors.push(("redirect_uri", "profile-url-invalid"));
                None
            }
        },
    };
    if input.notes.chars().count() > 2000 {
        v.errors.push(("notes", "profile-notes-too-long"));
    }
    if !v.errors.is_empty() {
        return Err(v);
    }
    Ok((
        ProfileSettings {
            kind,
            name,
            tenant,
            client_id,
            secret_expires_on: expires,
            cloud,
            login_base,
            graph_base,
            redirect_uri,
            notes: input.notes.trim().to_string(),
        },
        v,
    ))
}

/// A client secret value: present, plausible, and not the secret's *ID* (a common mistake that
/// Entra answers with AADSTS7000215).
pub fn check_secret(secret: &str, v: &mut Validation) {
    let s = secret.trim();
    if s.is_empty() {
        v.errors.push(("client_secret", "profile-secret-required"));
    } else if s.len() > 1024 {
        v.errors.push(("client_secret", "profile-secret-too-long"));
    } else if is_guid(s) {
        v.errors
            .push(("client_secret", "profile-secret-looks-like-id"));
    }
}

/// Entra's usual lifetime of a client secret: 24 months.
pub fn default_secret_expiry() -> NaiveDate {
    let today = Utc::now().date_naive();
    today
        .checked_add_months(chrono::Months::new(24))
        .unwrap_or(today)
}

/// The scopes a working profile needs, and the feature each one enables.
pub const REQUIRED_SCOPES: &[(&str, &str)] = &[
    ("User.ReadBasic.All", "scope-impact-user-read"),
    ("Calendars.Read.Shared", "scope-impact-calendars"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProfileInput {
        ProfileInput {
            name: "Zentrale".into(),
            tenant: "".into(),
            client_id: "6731DE76-14a6-49ae-97bc-6eba6914391e".into(),
            client_secret: "abc~secret".into(),
            cloud: "global".into(),
            ..Default::default()
        }
    }

    #[test]
    fn valid_input_gets_defaults() {
        let (s, v) = validate(&input(), true).expect("valid");
        assert_eq!(s.tenant, "common");
        assert_eq!(s.client_id, "6731de76-14a6-49ae-97bc-6eba6914391e");
        assert_eq!(s.login_base, "https://login.microsoftonline.com");
        assert!(v.warnings.is_empty());
        assert_eq!(s.secret_expires_on, default_secret_expiry());
    }

    #[test]
    fn invalid_fields_are_named() {
        let bad = ProfileInput {
            name: " ".into(),
            tenant: "evil.example/x?".into(),
            client_id: "not-a-guid".into(),
            client_secret: "6731de76-14a6-49ae-97bc-6eba6914391e".into(),
            secret_expires_on: "31.12.2026".into(),
            cloud: "custom".into(),
            login_base: "ftp://x".into(),
            graph_base: "".into(),
            redirect_uri: "not a url".into(),
            ..Default::default()
        };
        let v = validate(&bad, true).expect_err("invalid");
        let fields: Vec<&str> = v.errors.iter().map(|(f, _)| *f).collect();
        for f in [
            "name",
            "tenant",
            "client_id",
            "client_secret",
            "secret_expires_on",
            "login_base",
            "graph_base",
            "redirect_uri",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
        assert!(
            v.errors
                .contains(&("client_secret", "profile-secret-looks-like-id"))
        );
    }

    #[test]
    fn http_redirect_outside_localhost_warns() {
        let mut i = input();
        i.redirect_uri = "http://intranet.example/callback".into();
        let (_, v) = validate(&i, true).expect("valid");
        assert_eq!(v.warnings, vec!["profile-redirect-http-warning"]);
        i.redirect_uri = "http://localhost:8000".into();
        assert!(validate(&i, true).expect("valid").1.warnings.is_empty());
    }

    #[test]
    fn secret_warnings() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).expect("d");
        let w = |days| secret_warning(today + chrono::Duration::days(days), today);
        assert_eq!(w(90), SecretWarning::None);
        assert_eq!(w(60), SecretWarning::Days60);
        assert_eq!(w(30), SecretWarning::Days30);
        assert_eq!(w(7), SecretWarning::Days7);
        assert_eq!(w(-1), SecretWarning::Expired);
    }
}

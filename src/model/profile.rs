//! A profile's cloud, status and settings, and the rules by which its status moves.

use chrono::NaiveDate;

use super::stored_enum;

/// The tenant id personal Microsoft accounts sign in with, the `tid` of their ID tokens
/// (graph-protocol §1.5).
pub const CONSUMERS_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

stored_enum! {
    /// Microsoft's clouds; each has its own login and Graph hosts and its own app registrations.
    pub enum Cloud as "cloud" {
        Global = "global",
        UsGovL4 = "usgov",
        UsGovL5 = "usgov-dod",
        China = "china",
        Custom = "custom",
    }
}

impl Cloud {
    pub fn label_key(self) -> &'static str {
        match self {
            Self::Global => "cloud-global",
            Self::UsGovL4 => "cloud-usgov",
            Self::UsGovL5 => "cloud-usgov-dod",
            Self::China => "cloud-china",
            Self::Custom => "cloud-custom",
        }
    }

    /// (login base, Graph base) of the cloud; `None` for custom.
    pub fn bases(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Global => Some((
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
            )),
            Self::UsGovL4 => Some((
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us",
            )),
            Self::UsGovL5 => Some((
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us",
            )),
            Self::China => Some((
                "https://login.partner.microsoftonline.cn",
                "https://microsoftgraph.chinacloudapi.cn",
            )),
            Self::Custom => None,
        }
    }
}

stored_enum! {
    /// How a profile signs in. Fixed when the profile is created.
    pub enum ProfileKind as "profile kind" {
        /// A Microsoft 365 account authorizes once (authorization code); Datapump reads what
        /// that account may read (delegated permissions, refresh tokens).
        Delegated = "delegated",
        /// The app registration itself (client credentials, no user): application
        /// permissions an admin granted, scoped in Exchange Online.
        Application = "application",
    }
}

impl ProfileKind {
    pub fn label_key(self) -> &'static str {
        match self {
            Self::Delegated => "kind-delegated",
            Self::Application => "kind-application",
        }
    }

    /// For tables: a word or two.
    pub fn short_key(self) -> &'static str {
        match self {
            Self::Delegated => "kind-delegated-short",
            Self::Application => "kind-application-short",
        }
    }
}

stored_enum! {
    /// How an application profile proves itself to the identity platform. Delegated profiles
    /// always use a client secret.
    pub enum CredentialKind as "credential kind" {
        Secret = "secret",
        /// An X.509 certificate: its private key signs a client assertion (RFC 7523).
        Certificate = "certificate",
    }
}

stored_enum! {
    /// What the last scope check of an application profile found.
    pub enum ScopeResult as "scope result" {
        /// The room was read and the mailbox outside the scope was refused.
        Scoped = "scoped",
        /// The mailbox that must be refused was read: the app can read every mailbox.
        Unscoped = "unscoped",
        /// The room itself could not be read (scope too narrow, or not applied yet).
        RoomUnreadable = "room_unreadable",
        /// The check could not be made (token, network, unknown mailbox).
        Failed = "failed",
    }
}

impl ScopeResult {
    pub fn label_key(self) -> &'static str {
        match self {
            Self::Scoped => "scope-scoped",
            Self::Unscoped => "scope-unscoped",
            Self::RoomUnreadable => "scope-room-unreadable",
            Self::Failed => "scope-failed",
        }
    }

    pub fn css(self) -> &'static str {
        match self {
            Self::Scoped => "ok",
            Self::Failed => "warn",
            Self::Unscoped | Self::RoomUnreadable => "bad",
        }
    }
}

/// The application permission an application profile reads calendars with (in the token when
/// granted in Entra; absent when granted, scoped, by Exchange Online's RBAC for Applications),
/// and those it uses when granted.
pub const APP_ROLES_REQUIRED: &[&str] = &["Calendars.Read"];
pub const APP_ROLES_OPTIONAL: &[&str] = &["Place.Read.All", "User.ReadBasic.All"];

stored_enum! {
    /// Where a profile stands; decides whether it may call the token endpoint.
    pub enum ProfileStatus as "profile status" {
        /// Created, not authorized yet.
        New = "new",
        Ok = "ok",
        NeedsReauth = "needs_reauth",
        SecretInvalid = "secret_invalid",
        AppNotFound = "app_not_found",
        ConsentMissing = "consent_missing",
        /// The identity platform keeps failing with network or service errors; retried with
        /// backoff.
        Unreachable = "unreachable",
        /// The profile's settings are wrong (redirect URI, scope, tenant).
        ConfigError = "config_error",
    }
}

impl ProfileStatus {
    /// A paused profile does not call the token endpoint until an admin acts.
    pub fn is_paused(self) -> bool {
        !matches!(self, Self::Ok | Self::Unreachable)
    }

    /// After a new client secret: the failures a secret can cure are over; the profile works
    /// again if it holds an authorization, and waits for one otherwise.
    pub fn after_new_secret(self, authorized: bool) -> Self {
        match self {
            Self::SecretInvalid | Self::AppNotFound | Self::ConfigError | Self::Unreachable => {
                if authorized {
                    Self::Ok
                } else {
                    Self::New
                }
            }
            other => other,
        }
    }

    /// After `failures` transient failures in a row: a working profile shows as unreachable
    /// from `threshold` on (it keeps being retried).
    pub fn after_transient_failures(self, failures: i64, threshold: i64) -> Self {
        if self == Self::Ok && failures >= threshold {
            Self::Unreachable
        } else {
            self
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Self::New => "status-new",
            Self::Ok => "status-ok",
            Self::NeedsReauth => "status-needs-reauth",
            Self::SecretInvalid => "status-secret-invalid",
            Self::AppNotFound => "status-app-not-found",
            Self::ConsentMissing => "status-consent-missing",
            Self::Unreachable => "status-unreachable",
            Self::ConfigError => "status-config-error",
        }
    }

    /// The explanation and fix shown to the admin.
    pub fn help_key(self) -> &'static str {
        match self {
            Self::New => "help-new",
            Self::Ok => "help-ok",
            Self::NeedsReauth => "help-needs-reauth",
            Self::SecretInvalid => "help-secret-invalid",
            Self::AppNotFound => "help-app-not-found",
            Self::ConsentMissing => "help-consent-missing",
            Self::Unreachable => "help-unreachable",
            Self::ConfigError => "help-config-error",
        }
    }

    pub fn css(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::New | Self::Unreachable => "warn",
            _ => "bad",
        }
    }
}

/// Validated settings of a profile (the secret is handled separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSettings {
    /// Only read when the profile is created.
    pub kind: ProfileKind,
    pub name: String,
    pub tenant: String,
    pub client_id: String,
    pub secret_expires_on: NaiveDate,
    pub cloud: Cloud,
    pub login_base: String,
    pub graph_base: String,
    pub redirect_uri: Option<String>,
    pub notes: String,
}

#[cfg(test)]
mod tests {
    use super::ProfileStatus::*;

    #[test]
    fn a_new_secret_cures_what_a_secret_can_cure() {
        for s in [SecretInvalid, AppNotFound, ConfigError, Unreachable] {
            assert_eq!(s.after_new_secret(true), Ok);
            assert_eq!(s.after_new_secret(false), New);
        }
        for s in [New, Ok, NeedsReauth, ConsentMissing] {
            assert_eq!(s.after_new_secret(true), s);
        }
    }

    #[test]
    fn transient_failures_make_a_working_profile_unreachable_at_the_threshold() {
        assert_eq!(Ok.after_transient_failures(4, 5), Ok);
        assert_eq!(Ok.after_transient_failures(5, 5), Unreachable);
        assert_eq!(NeedsReauth.after_transient_failures(9, 5), NeedsReauth);
        assert!(!Ok.is_paused() && !Unreachable.is_paused() && New.is_paused());
    }
}

//! A profile prepared for display (the profiles pages and the dashboard), with the PowerShell
//! an admin runs to grant or scope its access.

use std::collections::HashMap;

use chrono::Utc;

use crate::model::CredentialKind;
use crate::model::profile::{APP_ROLES_OPTIONAL, APP_ROLES_REQUIRED};
use crate::profiles::{self, ProfileKind, ProfileStatus, REQUIRED_SCOPES, SecretWarning};
use crate::storage::profiles::Profile;
use crate::web::state::AppState;

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

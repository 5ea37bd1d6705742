//! Changes an admin makes to a profile, with the status rules they imply computed here (the
//! storage layer only writes what it is told, fenced against concurrent changes). Each change
//! is stored with its audit entry in one transaction.

use super::{ProfileSettings, ProfileStatus, registration_changed};
use crate::model::CredentialKind;
use crate::storage::audit::Actor;
use crate::storage::profiles::{NewCredential, Profile, StoredCredential};
use crate::storage::{Db, StoreError};

/// The token service may change the status while a credential is stored; the change is made
/// against the status it was computed from, and computed again this often when that moved.
const STATUS_RACES: usize = 5;

/// Saves edited settings read at `version`, with the secret entered alongside (if any), as one
/// change: a refused save ("name taken", `Conflict` when someone saved in between) leaves the
/// old secret in place. Moving to another app registration (app, tenant or cloud) drops the
/// tokens, which belong to the old one: the profile is new again and must be authorized.
pub async fn save_settings(
    db: &Db,
    before: &Profile,
    s: &ProfileSettings,
    version: i64,
    secret: Option<StoredCredential<'_>>,
    by: &Actor,
) -> Result<Profile, StoreError> {
    if before.version != version {
        return Err(StoreError::Conflict);
    }
    let reset = registration_changed(before, s).then_some(ProfileStatus::New);
    let audit = by.record(
        "profile.updated",
        Some(s.name.clone()),
        Some(describe(before, s, secret.is_some())),
    );
    for _ in 0..STATUS_RACES {
        let credential = match secret {
            None => None,
            Some(credential) => {
                let now = db.profile(before.id).await?;
                if now.version != version {
                    return Err(StoreError::Conflict);
                }
                Some(new_credential(&now, credential, s.secret_expires_on))
            }
        };
        match db
            .update_profile(before.id, s, version, reset, credential, &audit)
            .await
        {
            // A status that moved meanwhile: computed again; an edit in between: the next
            // read says so.
            Err(StoreError::Conflict) if secret.is_some() => continue,
            other => return other,
        }
    }
    Err(StoreError::Conflict)
}

/// Stores a new (sealed) credential, a client secret or a certificate, with the audit entry
/// `action` and its `details`. The status follows [`ProfileStatus::after_new_secret`].
pub async fn replace_credential(
    db: &Db,
    id: i64,
    credential: StoredCredential<'_>,
    expires_on: chrono::NaiveDate,
    by: &Actor,
    (action, details): (&'static str, String),
) -> Result<Profile, StoreError> {
    for _ in 0..STATUS_RACES {
        let p = db.profile(id).await?;
        let audit = by.record(action, Some(p.name.clone()), Some(details.clone()));
        let change = new_credential(&p, credential, expires_on);
        match db.replace_credential(id, change, &audit).await {
            Err(StoreError::Conflict) => continue,
            other => return other,
        }
    }
    Err(StoreError::Conflict)
}

fn new_credential<'a>(
    p: &Profile,
    credential: StoredCredential<'a>,
    expires_on: chrono::NaiveDate,
) -> NewCredential<'a> {
    NewCredential {
        credential,
        expires_on,
        from: (p.status, p.token_version),
        to: p.status.after_new_secret(p.is_authorized()),
    }
}

/// What an edit changes, for the audit log (never a secret's value).
fn describe(before: &Profile, s: &ProfileSettings, new_secret: bool) -> String {
    let mut changes = Vec::new();
    for (field, a, b) in [
        ("name", &before.name, &s.name),
        ("tenant", &before.tenant, &s.tenant),
        ("client id", &before.client_id, &s.client_id),
        ("cloud", &before.cloud.to_string(), &s.cloud.to_string()),
        ("login", &before.login_base, &s.login_base),
        ("graph", &before.graph_base, &s.graph_base),
    ] {
        if a != b {
            changes.push(format!("{field}: {a} -> {b}"));
        }
    }
    if before.redirect_uri != s.redirect_uri {
        changes.push("redirect URI changed".into());
    }
    if new_secret {
        changes.push("client secret replaced".into());
    }
    // A certificate's expiry is its own; the form's date applies to secrets.
    if before.credential == CredentialKind::Secret
        && before.secret_expires_on != s.secret_expires_on
    {
        changes.push(format!(
            "secret expiry: {} -> {}",
            before.secret_expires_on, s.secret_expires_on
        ));
    }
    changes.join("; ")
}

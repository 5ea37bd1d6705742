//! Changes an admin makes to a profile, with the status rules they imply computed here (the
//! storage layer only writes what it is told, fenced against concurrent changes).

use super::{ProfileSettings, ProfileStatus, registration_changed};
use crate::storage::profiles::{Profile, StoredCredential};
use crate::storage::{Db, StoreError};

/// Saves edited settings read at `version` (`Conflict` when someone saved in between). Moving
/// to another app registration (app, tenant or cloud) drops the tokens, which belong to the
/// old one: the profile is new again and must be authorized.
pub async fn save_settings(
    db: &Db,
    before: &Profile,
    s: &ProfileSettings,
    version: i64,
) -> Result<Profile, StoreError> {
    if before.version != version {
        return Err(StoreError::Conflict);
    }
    let reset = registration_changed(before, s).then_some(ProfileStatus::New);
    db.update_profile(before.id, s, version, reset).await
}

/// Stores a new (sealed) credential: a client secret or a certificate. The status follows
/// [`ProfileStatus::after_new_secret`]; the token service may change the status at the same
/// moment, so the change is made against the status it was computed from, and computed again
/// when that moved.
pub async fn replace_credential(
    db: &Db,
    id: i64,
    credential: StoredCredential<'_>,
    expires_on: chrono::NaiveDate,
) -> Result<Profile, StoreError> {
    for _ in 0..5 {
        let p = db.profile(id).await?;
        let to = p.status.after_new_secret(p.is_authorized());
        match db
            .replace_credential(id, credential, expires_on, (p.status, p.token_version), to)
            .await
        {
            Err(StoreError::Conflict) => continue,
            other => return other,
        }
    }
    Err(StoreError::Conflict)
}

//! Signing in: the throttle's reservation, the password check under the hashing permits, a
//! stronger hash where the stored one is old, the audit entries and the device cookie's token.
//! The web handler only reads the form and turns the outcome into a page or a session.

use std::path::Path;
use std::time::Duration;

use super::password::{self, HashError, Verified};
use super::throttle::{Decision, HashPermits, ThrottlePolicy};
use crate::storage::admins::Admin;
use crate::storage::audit::Actor;
use crate::storage::{Db, StoreError};

/// What signing in needs of the running instance.
pub struct Gate<'a> {
    pub db: &'a Db,
    pub throttle: &'a ThrottlePolicy,
    pub hashing: &'a HashPermits,
    /// Where the data lives, and the free space below which anonymous attempts are not audited.
    pub data_dir: &'a Path,
    pub min_free_disk_mb: u64,
}

/// One attempt as it arrived.
pub struct Credentials<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// Who asked, for the audit log (its address; nobody is signed in yet).
    pub from: &'a Actor,
    /// The hash of the request's device cookie token, if it has one.
    pub device: Option<&'a str>,
}

pub enum Outcome {
    /// Signed in; `new_device` is the token of a device cookie to set, when this device is new
    /// for the username.
    SignedIn {
        admin: Box<Admin>,
        new_device: Option<String>,
    },
    /// Too many failed attempts from devices this username has not signed in from.
    Refused { retry_after: Duration },
    /// Too many attempts everywhere: come back later.
    Busy,
    /// Wrong username or password, or a disabled account (not told apart).
    Failed,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// A username as the audit log keeps it from a failed attempt: anyone can type anything, so
/// only its first 64 characters.
pub fn audit_name(username: &str) -> String {
    username.chars().take(64).collect()
}

/// Checks an attempt and records what happened.
pub async fn sign_in(gate: &Gate<'_>, c: &Credentials<'_>) -> Result<Outcome, SignInError> {
    let ip = c.from.ip.as_deref();
    let attempt = gate
        .throttle
        .reserve(gate.db, c.username, ip, c.device)
        .await?;
    match attempt.decision {
        Decision::Refuse { retry_after } => {
            let detail =
                "too many failed attempts from devices this username has not signed in from";
            anonymous_audit(gate, c, "login.refused", Some(detail.into())).await?;
            return Ok(Outcome::Refused { retry_after });
        }
        Decision::Busy => return Ok(Outcome::Busy),
        Decision::Allow { delay } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
    }
    let admin = gate.db.admin_by_username(c.username).await?;
    let verified = {
        let _permit = gate.hashing.acquire(attempt.known_device).await;
        match &admin {
            Some(a) => password::verify(c.password, &a.password_hash).await?,
            None => {
                password::verify_dummy(c.password).await;
                Verified::No
            }
        }
    };
    let admin = match (admin, verified) {
        (Some(a), Verified::Yes) if !a.disabled => a,
        (Some(a), Verified::YesRehashed(new_hash)) if !a.disabled => {
            gate.db.upgrade_password_hash(a.id, &new_hash).await?;
            a
        }
        _ => {
            // The reserved attempt stays: it is the failure's record.
            anonymous_audit(gate, c, "login.failure", None).await?;
            let name = crate::storage::audit::escape_control(&audit_name(c.username));
            tracing::info!(username = %name, "login failed");
            return Ok(Outcome::Failed);
        }
    };
    let new_device = gate
        .throttle
        .succeeded(gate.db, &attempt, c.username, c.device)
        .await?;
    let by = Actor {
        id: Some(admin.id),
        name: Some(admin.username.clone()),
        ip: c.from.ip.clone(),
    };
    let audit = by.record("login.success", Some(admin.username.clone()), None);
    gate.db.record_login(admin.id, &audit).await?;
    Ok(Outcome::SignedIn {
        admin: Box::new(admin),
        new_device,
    })
}

/// Audits an attempt nobody is signed in for: at most the throttle's cap a minute, and none
/// while the data's file system is below the free-space floor, so that anonymous requests
/// cannot fill the disk.
async fn anonymous_audit(
    gate: &Gate<'_>,
    c: &Credentials<'_>,
    action: &'static str,
    details: Option<String>,
) -> Result<(), StoreError> {
    if crate::disk::has_room(gate.data_dir, gate.min_free_disk_mb)
        && gate.throttle.audit_failure(gate.db).await?
    {
        let record = c.from.record(action, Some(audit_name(c.username)), details);
        gate.db.record_audit(record).await
    } else {
        tracing::warn!(
            action,
            "sign-in attempt not audited: over the audit log's cap or low on disk"
        );
        Ok(())
    }
}

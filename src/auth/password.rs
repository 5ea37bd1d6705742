//! Password hashing (Argon2id with OWASP parameters) and the password policy.
//!
//! Hashing is CPU- and memory-heavy by design, so it runs on the blocking pool behind a small
//! semaphore: a flood of login attempts queues up instead of exhausting memory.

use std::sync::{Arc, LazyLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

/// Minimum length; no composition rules (ASVS 6.2.5), long passphrases welcome.
pub const MIN_LEN: usize = 12;
/// Upper bound that keeps hashing cheap enough to not be a denial-of-service lever.
pub const MAX_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyViolation {
    TooShort,
    TooLong,
    Common,
    ContainsUsername,
}

impl PolicyViolation {
    /// Translation key of the message shown next to the field.
    pub fn message_key(self) -> &'static str {
        match self {
            Self::TooShort => "password-too-short",
            Self::TooLong => "password-too-long",
            Self::Common => "password-too-common",
            Self::ContainsUsername => "password-contains-username",
        }
    }
}

/// Checks a new password against the policy.
pub fn check_policy(password: &str, username: &str) -> Result<(), PolicyViolation> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(PolicyViolation::TooShort);
    }
    if chars > MAX_LEN {
        return Err(PolicyViolation::TooLong);
    }
    let lower = password.to_lowercase();
    let user = username.trim().to_lowercase();
    // zxcvbn knows tens of thousands of leaked passwords, words and names, keyboard walks,
    // repeats and dates; "safely unguessable" (3 of 4) is what it recommends for accounts that
    // matter.
    let estimate = zxcvbn::zxcvbn(password, &[user.as_str(), "datapump"]);
    if estimate.score() < zxcvbn::Score::Three {
        return Err(PolicyViolation::Common);
    }
    if user.chars().count() >= 3 && lower.contains(&user) {
        return Err(PolicyViolation::ContainsUsername);
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing task failed")]
    Task,
}

static PERMITS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(2)));

/// A hash of a random password, verified against for unknown usernames so that a login for a
/// missing user takes as long as one for an existing user.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_blocking(&crate::crypto::random_token()).unwrap_or_else(|_| String::new())
});

fn hash_blocking(password: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError::Hash(e.to_string()))
}

async fn on_blocking_pool<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HashError> {
    let _permit = PERMITS.acquire().await.map_err(|_| HashError::Task)?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| HashError::Task)
}

pub async fn hash(password: &str) -> Result<String, HashError> {
    let password = password.to_owned();
    on_blocking_pool(move || hash_blocking(&password)).await?
}

/// Outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, and the stored hash uses weaker parameters than today's: store this one instead.
    YesRehashed(String),
}

pub async fn verify(password: &str, stored_hash: &str) -> Result<Verified, HashError> {
    let password = password.to_owned();
    let stored = stored_hash.to_owned();
    on_blocking_pool(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return Ok(Verified::No);
        };
        if Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_err()
        {
            return Ok(Verified::No);
        }
        if is_weaker_than_default(&stored) {
            return hash_blocking(&password).map(Verified::YesRehashed);
        }
        Ok(Verified::Yes)
    })
    .await?
}

/// Spends the time of a verification without a real hash (unknown username).
pub async fn verify_dummy(password: &str) {
    let dummy = DUMMY_HASH.clone();
    let _ = verify(password, &dummy).await;
}

fn is_weaker_than_default(stored: &str) -> bool {
    let default = argon2::Params::default();
    let expected = format!(
        "$argon2id$v=19$m={},t={},p={}$",
        default.m_cost(),
        default.t_cost(),
        default.p_cost()
    );
    !stored.starts_with(&expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert_eq!(check_policy("short", "x"), Err(PolicyViolation::TooShort));
        assert_eq!(
            check_policy("password1234", "x"),
            Err(PolicyViolation::Common)
        );
        assert_eq!(
            check_policy("aaaaaaaaaaaaaaaa", "x"),
            Err(PolicyViolation::Common)
        );
        // Leaked passwords, keyboard walks and years, far beyond a short hand-made list.
        for weak in [
            "1qaz2wsx3edc",
            "trustno1trustno1",
            "jennifer1990!",
            "Datapump2026!",
        ] {
            assert_eq!(
                check_policy(weak, "x"),
                Err(PolicyViolation::Common),
                "{weak}"
            );
        }
        assert_eq!(
            check_policy("my name is alice, really", "Alice"),
            Err(PolicyViolation::ContainsUsername)
        );
        let long: String = "correct horse battery staple ".repeat(3);
        assert_eq!(check_policy(&long, "bob"), Ok(()));
        let too_long = "ab".repeat(MAX_LEN);
        assert_eq!(
            check_policy(&too_long, "bob"),
            Err(PolicyViolation::TooLong)
        );
        let sixty_four: String = "Tr0ub4dor&3-horse".repeat(4).chars().take(64).collect();
        assert_eq!(check_policy(&sixty_four, "bob"), Ok(()));
    }

    #[tokio::test]
    async fn hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let h = hash("correct horse battery").await.expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(
            verify("correct horse battery", &h).await.expect("verify"),
            Verified::Yes
        );
        assert_eq!(verify("wrong", &h).await.expect("verify"), Verified::No);
        assert_eq!(
            verify("anything", "not a hash").await.expect("verify"),
            Verified::No
        );
    }

    #[tokio::test]
    async fn weak_hash_is_upgraded() {
        let weak_params = argon2::Params::new(8 * 1024, 1, 1, None).expect("params");
        let weak = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            weak_params,
        )
        .hash_password(b"correct horse battery")
        .expect("hash")
        .to_string();
        match verify("correct horse battery", &weak)
            .await
            .expect("verify")
        {
            Verified::YesRehashed(new) => {
                assert!(new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"))
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[test]
    fn two_hundred_characters_round_trip() {
        let pw: String = "Zß9!".repeat(50);
        let h = hash_blocking(&pw).expect("hash");
        let parsed = PasswordHash::new(&h).expect("parse");
        assert!(
            Argon2::default()
                .verify_password(pw.as_bytes(), &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(&pw.as_bytes()[..pw.len() - 1], &parsed)
                .is_err()
        );
    }
}

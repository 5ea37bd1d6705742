//! Every sealing context: the associated data a sealed value is bound to, naming where it is
//! stored, so a value copied into another row or column does not open. Changing one of these
//! makes what was sealed under it unreadable: they are part of the storage format.

/// The sealed columns of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileColumn {
    ClientSecret,
    RefreshToken,
    AccessToken,
    /// The private key of a certificate credential, in the column a secret would take.
    PrivateKey,
}

impl ProfileColumn {
    fn name(self) -> &'static str {
        match self {
            Self::ClientSecret => "client_secret",
            Self::RefreshToken => "refresh_token",
            Self::AccessToken => "access_token",
            Self::PrivateKey => "private_key",
        }
    }
}

/// A profile's secret or token, bound to the profile's uuid.
pub fn profile(column: ProfileColumn, uuid: &str) -> String {
    format!("profiles:{}:{uuid}", column.name())
}

/// The PKCE verifier of a pending authorization, bound to the hash of its `state`.
pub fn oauth_verifier(state_hash: &str) -> String {
    format!("oauth_transactions:verifier:{state_hash}")
}

/// A consumer's webhook signing secret, bound to its API token's id.
pub fn webhook_secret(token_id: i64) -> String {
    format!("webhooks:secret:{token_id}")
}

/// The value that proves the key file matches the database.
pub const KEY_CANARY: &str = "settings:key_canary";
/// The `settings` row holding the canary sealed under [`KEY_CANARY`].
pub const CANARY_SETTING: &str = "key_canary";
/// What the canary holds.
pub const CANARY_TEXT: &[u8] = b"datapump key check";

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored format: these strings must never change.
    #[test]
    fn contexts_are_stable() {
        assert_eq!(
            profile(ProfileColumn::ClientSecret, "u"),
            "profiles:client_secret:u"
        );
        assert_eq!(
            profile(ProfileColumn::RefreshToken, "u"),
            "profiles:refresh_token:u"
        );
        assert_eq!(
            profile(ProfileColumn::AccessToken, "u"),
            "profiles:access_token:u"
        );
        assert_eq!(
            profile(ProfileColumn::PrivateKey, "u"),
            "profiles:private_key:u"
        );
        assert_eq!(oauth_verifier("h"), "oauth_transactions:verifier:h");
        assert_eq!(webhook_secret(7), "webhooks:secret:7");
        assert_eq!(KEY_CANARY, "settings:key_canary");
    }
}

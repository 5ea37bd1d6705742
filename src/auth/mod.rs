//! Admin authentication: password hashing and policy, login throttling, account rules.

pub mod password;
pub mod sign_in;
pub mod throttle;

/// Checks a username: 1–64 characters of letters, digits and `. _ - @`. Returns a translation
/// key for the message shown next to the field.
pub fn validate_username(username: &str) -> Result<(), &'static str> {
    let name = username.trim();
    if name.is_empty() {
        return Err("username-required");
    }
    if name.chars().count() > 64 {
        return Err("username-too-long");
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err("username-invalid");
    }
    Ok(())
}

/// Checks a new username and password pair (setup, a new admin): each refused field with the
/// translation key of its message.
pub fn check_new_credentials(
    username: &str,
    password: &str,
    confirm: &str,
) -> Vec<(&'static str, &'static str)> {
    let mut refused = Vec::new();
    if let Err(key) = validate_username(username) {
        refused.push(("username", key));
    }
    if let Err(v) = password::check_policy(password, username) {
        refused.push(("password", v.message_key()));
    } else if password != confirm {
        refused.push(("password_confirm", "password-mismatch"));
    }
    refused
}

#[cfg(test)]
mod tests {
    #[test]
    fn usernames() {
        assert!(super::validate_username("anna.müller@corp").is_ok());
        assert_eq!(super::validate_username("  "), Err("username-required"));
        assert_eq!(super::validate_username("a b"), Err("username-invalid"));
        assert_eq!(
            super::validate_username(&"x".repeat(65)),
            Err("username-too-long")
        );
    }
}

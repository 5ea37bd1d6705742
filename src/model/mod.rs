//! The states and kinds Datapump stores, as types: what the database holds in text columns is
//! decoded into these enums, and an unknown value is an error, never a default. No I/O here;
//! every layer (storage included) may use these types.

pub mod change;
pub mod profile;
pub mod run;
pub mod subscription;

pub use self::change::ChangeOp;
pub use self::profile::{
    CONSUMERS_TENANT_ID, Cloud, CredentialKind, ProfileKind, ProfileSettings, ProfileStatus,
    ScopeResult,
};
pub use self::run::{RunKind, RunStatus};
pub use self::subscription::{
    ItemIds, RoomSource, StoredFields, SubscriptionSource, SubscriptionStatus,
};

/// A stored text that names no known value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

/// An enum stored as text: `as_str` gives the stored form, `TryFrom<String>` (what
/// `#[sqlx(try_from = "String")]` uses) and `FromStr` refuse anything else.
/// An optional stored enum (a nullable column); a value that is not one of the enum's is an
/// error, not `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Optional<T>(pub Option<T>);

impl<T: std::str::FromStr<Err = UnknownValue>> TryFrom<Option<String>> for Optional<T> {
    type Error = UnknownValue;
    fn try_from(v: Option<String>) -> Result<Self, UnknownValue> {
        v.map(|s| s.parse()).transpose().map(Optional)
    }
}

macro_rules! stored_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident as $what:literal {
        $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The form stored in the database and used in forms and URLs.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::model::UnknownValue;

            fn from_str(s: &str) -> Result<Self, $crate::model::UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::model::UnknownValue {
                        kind: $what,
                        value: other.chars().take(64).collect(),
                    }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::model::UnknownValue;

            fn try_from(s: String) -> Result<Self, $crate::model::UnknownValue> {
                s.parse()
            }
        }

        /// Compares with the stored form, as tests and templates do.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use stored_enum;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every enum's stored form reads back as itself; anything else is refused.
    #[test]
    fn stored_forms_round_trip_and_unknown_text_is_an_error() {
        fn check<T>(all: &[T])
        where
            T: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + TryFrom<String>,
        {
            for v in all {
                assert_eq!(T::try_from(v.to_string()).ok(), Some(*v));
            }
            assert!(T::try_from("surely-not-a-state".to_string()).is_err());
            assert!(T::try_from(String::new()).is_err());
        }
        check(Cloud::ALL);
        check(ProfileStatus::ALL);
        check(SubscriptionSource::ALL);
        check(SubscriptionStatus::ALL);
        check(RunStatus::ALL);
        check(RunKind::ALL);
        check(ItemIds::ALL);
        let e = "nope".parse::<ProfileStatus>().unwrap_err();
        assert_eq!(e.to_string(), "unknown profile status \"nope\"");
    }
}

/// Whether `s` is a GUID in its usual text form (8-4-4-4-12 hex digits): Entra's tenant,
/// client and object ids. Here, not in `profiles`, so that the Graph client (a layer below
/// profiles) can use it too.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod guid_tests {
    #[test]
    fn guids() {
        assert!(super::is_guid("6731de76-14a6-49ae-97bc-6eba6914391e"));
        assert!(!super::is_guid("6731de76-14a6-49ae-97bc-6eba6914391"));
        assert!(!super::is_guid("6731de76_14a6-49ae-97bc-6eba6914391e"));
        assert!(!super::is_guid("contoso.com"));
    }
}

//! The `Email` value object.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not an acceptable email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Not of the form `local@domain`.
    #[error("an email address looks like name@example.com")]
    Shape,
    /// Over 254 characters, or a local part over 64.
    #[error("the email address is too long")]
    TooLong,
    /// The part after `@` is not a valid domain.
    #[error("the email domain is not valid: {0}")]
    Domain(#[from] crate::domain_name::DomainNameError),
}

/// A checked email address; the domain is lower-cased, the local part kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Checks an address.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let input = input.trim();
        if input.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = input.rsplit_once('@').ok_or(EmailError::Shape)?;
        if local.is_empty() || local.contains('@') {
            return Err(EmailError::Shape);
        }
        if local.len() > 64 {
            return Err(EmailError::TooLong);
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c);
        if !local.chars().all(allowed)
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(EmailError::Shape);
        }
        let domain = crate::domain_name::DomainName::parse(domain)?;
        Ok(Self(format!("{local}@{domain}")))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness: the whole address lower-cased.
    pub fn canonical(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an address reads as once its data subject's key is destroyed (crypto-shredded).
pub const ERASED: &str = "[erased]";

impl Email {
    /// The placeholder of an erased address: stored events and views read it back, no input
    /// makes it ([`Email::parse`] refuses it).
    pub fn erased() -> Self {
        Self(ERASED.to_owned())
    }

    /// Whether this is an erased address.
    pub fn is_erased(&self) -> bool {
        self.0 == ERASED
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        // Reading back: an erased address stays erased.
        if value == ERASED {
            return Ok(Self::erased());
        }
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_ordinary_addresses() {
        assert_eq!(Email::parse(" Ann.Lee@Example.COM ").unwrap().as_str(), "Ann.Lee@example.com");
        assert_eq!(Email::parse("Ann@example.com").unwrap().canonical(), "ann@example.com");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in ["", "ann", "@example.com", "ann@", "a b@example.com", "ann@localhost", ".a@example.com"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_output_reparses(input in "\\PC{0,300}") {
            if let Ok(email) = Email::parse(&input) {
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
            }
        }
    }
}

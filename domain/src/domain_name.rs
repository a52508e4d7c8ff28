//! The `DomainName` value object: a fully qualified host name a site answers for.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not an acceptable domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainNameError {
    /// Empty input.
    #[error("the domain is empty")]
    Empty,
    /// Longer than the 253 characters DNS allows.
    #[error("the domain is longer than 253 characters")]
    TooLong,
    /// A single label (not a fully qualified name).
    #[error("the domain needs at least two labels, like example.com")]
    SingleLabel,
    /// A label outside 1–63 characters.
    #[error("label `{0}` must be 1 to 63 characters long")]
    LabelLength(String),
    /// A label with a character outside letters, digits and hyphen.
    #[error("label `{0}` may only hold letters, digits and hyphens")]
    LabelCharacters(String),
    /// A label starting or ending with a hyphen.
    #[error("label `{0}` must not start or end with a hyphen")]
    LabelHyphen(String),
    /// An internationalized name that does not convert to a valid ASCII (punycode) form.
    #[error("not a valid internationalized domain name")]
    Idna,
    /// A top-level label made of digits only.
    #[error("the top-level label must not be all digits")]
    NumericTld,
}

/// A valid, lower-cased DNS host name (ASCII form). Holding one means it has been checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainName(String);

impl DomainName {
    /// Checks and normalizes a host name: one trailing dot dropped, lower case, and an
    /// internationalized name (or an `xn--` label) converted and checked by IDNA (UTS #46,
    /// strict STD3 rules) to its ASCII form, which is what is stored and compared.
    pub fn parse(input: &str) -> Result<Self, DomainNameError> {
        let trimmed = input.strip_suffix('.').unwrap_or(input);
        let name = if trimmed.is_ascii() && !trimmed.to_ascii_lowercase().contains("xn--") {
            trimmed.to_ascii_lowercase()
        } else if trimmed.is_empty() {
            String::new()
        } else {
            idna::domain_to_ascii_strict(trimmed).map_err(|_| DomainNameError::Idna)?
        };
        if name.is_empty() {
            return Err(DomainNameError::Empty);
        }
        if name.len() > 253 {
            return Err(DomainNameError::TooLong);
        }
        let labels: Vec<&str> = name.split('.').collect();
        if labels.len() < 2 {
            return Err(DomainNameError::SingleLabel);
        }
        for label in &labels {
            if label.is_empty() || label.len() > 63 {
                return Err(DomainNameError::LabelLength((*label).to_owned()));
            }
            if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(DomainNameError::LabelCharacters((*label).to_owned()));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(DomainNameError::LabelHyphen((*label).to_owned()));
            }
        }
        if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
            return Err(DomainNameError::NumericTld);
        }
        Ok(Self(name))
    }

    /// The normalized name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DomainName {
    type Error = DomainNameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DomainName> for String {
    fn from(value: DomainName) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_normalizes_ordinary_names() {
        assert_eq!(DomainName::parse("Shop.Example.COM.").unwrap().as_str(), "shop.example.com");
        assert_eq!(DomainName::parse("xn--bcher-kva.example").unwrap().as_str(), "xn--bcher-kva.example");
        assert_eq!(DomainName::parse("Bücher.Example").unwrap().as_str(), "xn--bcher-kva.example");
        assert_eq!(DomainName::parse("пример.рф").unwrap().as_str(), "xn--e1afmkfd.xn--p1ai");
    }

    #[test]
    fn rejects_malformed_names() {
        assert_eq!(DomainName::parse(""), Err(DomainNameError::Empty));
        assert_eq!(DomainName::parse("localhost"), Err(DomainNameError::SingleLabel));
        assert!(matches!(DomainName::parse("a..b"), Err(DomainNameError::LabelLength(_))));
        assert!(matches!(DomainName::parse("-a.com"), Err(DomainNameError::LabelHyphen(_))));
        assert!(matches!(DomainName::parse("a_b.com"), Err(DomainNameError::LabelCharacters(_))));
        assert_eq!(DomainName::parse("1.2.3.4"), Err(DomainNameError::NumericTld));
        assert_eq!(DomainName::parse("xn--zz.example"), Err(DomainNameError::Idna));
        assert_eq!(DomainName::parse("a_b.пример"), Err(DomainNameError::Idna));
        assert_eq!(DomainName::parse(&format!("{}.com", "a.".repeat(130))), Err(DomainNameError::TooLong));
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_output_reparses(input in "\\PC{0,300}") {
            if let Ok(name) = DomainName::parse(&input) {
                prop_assert_eq!(DomainName::parse(name.as_str()), Ok(name.clone()));
                prop_assert!(name.as_str().len() <= 253);
            }
        }
    }
}

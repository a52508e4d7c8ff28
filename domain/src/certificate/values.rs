//! What a certificate covers, how its names are checked, and why an attempt starts or fails.

use serde::{Deserialize, Serialize};

use crate::domain_name::DomainName;

/// What a certificate covers: the site's domain, optionally every name directly below it,
/// and the custom domains verified for the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateNames {
    /// The site's own domain.
    pub primary: DomainName,
    /// Whether `*.<primary>` is covered too.
    pub wildcard: bool,
    /// The site's verified custom domains.
    pub aliases: Vec<DomainName>,
}

impl CertificateNames {
    /// Every name, the primary first, each once.
    pub fn all(&self) -> Vec<String> {
        let mut names = vec![self.primary.to_string()];
        if self.wildcard {
            names.push(format!("*.{}", self.primary));
        }
        for alias in &self.aliases {
            if !names.contains(&alias.to_string()) {
                names.push(alias.to_string());
            }
        }
        names
    }
}

/// How the CA checked that Berth controls the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChallengeMethod {
    /// A file served by the site's node on port 80.
    Http01,
    /// A TXT record in a zone Berth serves.
    Dns01,
}

impl ChallengeMethod {
    /// The ACME name (`http-01`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http01 => "http-01",
            Self::Dns01 => "dns-01",
        }
    }
}

/// Why an issuance was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The tenant asked.
    Requested,
    /// A new site got its first certificate on its own.
    Automatic,
    /// The site's names changed (a custom domain was verified).
    NamesChanged,
    /// The live certificate nears its expiry.
    Renewal,
    /// The last attempt failed.
    Retry,
}

impl Reason {
    /// Every value, in the order the APIs list them.
    pub const ALL: [Self; 5] =
        [Self::Requested, Self::Automatic, Self::NamesChanged, Self::Renewal, Self::Retry];

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Automatic => "automatic",
            Self::NamesChanged => "names_changed",
            Self::Renewal => "renewal",
            Self::Retry => "retry",
        }
    }
}

/// Why an attempt failed, for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCode {
    /// A name neither resolves to the site's node nor lies in a zone Berth serves.
    NotPointed,
    /// The CA could not be reached or answered with a server error.
    CaUnavailable,
    /// The CA refused the order (a rate limit, a policy).
    OrderRefused,
    /// The CA could not validate a challenge.
    ChallengeFailed,
    /// The site's node could not serve an HTTP-01 challenge.
    NodeFailed,
    /// The site is not on a node (yet).
    NotPlaced,
    /// Anything else (and every code a newer version may add).
    #[serde(other)]
    Unknown,
}

impl FailureCode {
    /// Every value, in the order the APIs list them.
    pub const ALL: [Self; 7] = [
        Self::NotPointed,
        Self::CaUnavailable,
        Self::OrderRefused,
        Self::ChallengeFailed,
        Self::NodeFailed,
        Self::NotPlaced,
        Self::Unknown,
    ];

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotPointed => "not_pointed",
            Self::CaUnavailable => "ca_unavailable",
            Self::OrderRefused => "order_refused",
            Self::ChallengeFailed => "challenge_failed",
            Self::NodeFailed => "node_failed",
            Self::NotPlaced => "not_placed",
            Self::Unknown => "unknown",
        }
    }
}

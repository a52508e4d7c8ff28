//! Custom domain events: a public, versioned contract (a released variant is never reshaped;
//! a change gets a new version and an upcaster).

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::VerificationToken;
use crate::domain_name::DomainName;
use crate::ids::{SiteId, TenantId};

/// Something that happened to a custom domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CustomDomainEvent {
    /// A tenant asked for the domain to serve one of its sites; it is verified once the TXT
    /// record `_berth-challenge.<domain>` holds the token.
    Claimed {
        /// The domain.
        domain: DomainName,
        /// The site it is to serve.
        site_id: SiteId,
        /// The site's owner.
        tenant_id: TenantId,
        /// What the TXT record must hold.
        token: VerificationToken,
        /// When the claim lapses unless verified.
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    /// Time to look for the TXT record again.
    CheckDue {
        /// The claiming site.
        site_id: SiteId,
        /// Which look this is, from 1.
        attempt: u32,
    },
    /// The TXT record was not there (or held another value); the next look is scheduled.
    CheckFailed {
        /// The claiming site.
        site_id: SiteId,
        /// Which look it was.
        attempt: u32,
        /// What was found instead.
        reason: String,
        /// When the next look is due.
        #[serde(with = "time::serde::rfc3339")]
        next_check_at: OffsetDateTime,
    },
    /// The TXT record held the token: the domain is the site's, and no other tenant's; every
    /// other pending claim is dropped.
    Verified {
        /// The site it serves.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// The other claims dropped.
        dropped: Vec<SiteId>,
    },
    /// The claim was not verified in time.
    ClaimExpired {
        /// The claiming site.
        site_id: SiteId,
    },
    /// The tenant took the domain off the site (verified or not).
    Removed {
        /// The site.
        site_id: SiteId,
        /// Whether it had been verified (and so served).
        verified: bool,
    },
}

impl DomainEvent for CustomDomainEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Claimed { .. } => "CustomDomainClaimed",
            Self::CheckDue { .. } => "CustomDomainCheckDue",
            Self::CheckFailed { .. } => "CustomDomainCheckFailed",
            Self::Verified { .. } => "CustomDomainVerified",
            Self::ClaimExpired { .. } => "CustomDomainClaimExpired",
            Self::Removed { .. } => "CustomDomainRemoved",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::event::Versioned for CustomDomainEvent {}

//! Custom domain commands, and the rules that decide them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Claim, CustomDomain, CustomDomainError, CustomDomainEvent as E, VerificationToken};
use crate::domain_name::DomainName;
use crate::ids::{SiteId, TenantId};

/// What can be asked of a custom domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CustomDomainCommand {
    /// Claim the domain for a site (a repeat by the same site keeps its first token).
    Claim {
        /// The domain.
        domain: DomainName,
        /// The site.
        site_id: SiteId,
        /// The site's own domain (a site cannot claim it again).
        site_domain: DomainName,
        /// The site's owner.
        tenant_id: TenantId,
        /// A fresh token, used unless the site's claim has one already.
        token: VerificationToken,
        /// When a new claim lapses unless verified.
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    /// Look for the TXT record again (a timer's command): due at `now`.
    Check {
        /// The claiming site.
        site_id: SiteId,
        /// When the look is due.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
    /// Record that the TXT record holds the site's token.
    RecordVerified {
        /// The site.
        site_id: SiteId,
    },
    /// Record that a look found no matching TXT record.
    RecordMissing {
        /// The site.
        site_id: SiteId,
        /// The look it was.
        attempt: u32,
        /// What was found.
        reason: String,
        /// When to look again.
        #[serde(with = "time::serde::rfc3339")]
        next_check_at: OffsetDateTime,
    },
    /// Take the domain off the site.
    Remove {
        /// The site.
        site_id: SiteId,
    },
}

/// The most sites that may wait to verify one domain at once.
pub const MAX_CLAIMS: usize = 10;

pub(super) fn decide(
    state: &CustomDomain,
    command: CustomDomainCommand,
) -> Result<Vec<E>, CustomDomainError> {
    match command {
        CustomDomainCommand::Claim { domain, site_id, site_domain, tenant_id, token, expires_at } => {
            if domain == site_domain {
                return Err(CustomDomainError::IsPrimary);
            }
            match &state.verified {
                Some(holder) if holder.site_id == site_id => return Ok(Vec::new()),
                Some(_) => return Err(CustomDomainError::ClaimedElsewhere),
                None => {}
            }
            if state.claims.contains_key(&site_id) {
                return Ok(Vec::new());
            }
            if state.claims.len() >= MAX_CLAIMS {
                return Err(CustomDomainError::TooManyClaims(MAX_CLAIMS));
            }
            Ok(vec![E::Claimed { domain, site_id, tenant_id, token, expires_at }])
        }
        CustomDomainCommand::Check { site_id, now } => {
            let Some(claim) = state.claims.get(&site_id) else { return Ok(Vec::new()) };
            Ok(vec![if now >= claim.expires_at {
                E::ClaimExpired { site_id }
            } else {
                E::CheckDue { site_id, attempt: claim.attempts + 1 }
            }])
        }
        CustomDomainCommand::RecordVerified { site_id } => {
            if state.verified.as_ref().is_some_and(|h| h.site_id == site_id) {
                return Ok(Vec::new());
            }
            let Some(claim) = state.claims.get(&site_id) else { return Err(CustomDomainError::NoClaim) };
            let dropped = state.claims.keys().filter(|s| **s != site_id).copied().collect();
            Ok(vec![E::Verified { site_id, tenant_id: claim.tenant_id, dropped }])
        }
        CustomDomainCommand::RecordMissing { site_id, attempt, reason, next_check_at } => {
            let Some(claim) = state.claims.get(&site_id) else { return Ok(Vec::new()) };
            if attempt <= claim.attempts {
                return Ok(Vec::new());
            }
            let next_check_at = next_check_at.min(claim.expires_at);
            Ok(vec![E::CheckFailed { site_id, attempt, reason, next_check_at }])
        }
        CustomDomainCommand::Remove { site_id } => {
            let verified = state.verified.as_ref().is_some_and(|h| h.site_id == site_id);
            if !verified && !state.claims.contains_key(&site_id) {
                return Err(CustomDomainError::NoClaim);
            }
            Ok(vec![E::Removed { site_id, verified }])
        }
    }
}

impl Claim {
    pub(super) fn new(tenant_id: TenantId, token: VerificationToken, expires_at: OffsetDateTime) -> Self {
        Self { tenant_id, token, expires_at, attempts: 0 }
    }
}

//! The custom domain aggregate: one host name that tenants ask to point at their sites, keyed
//! by the name itself, so every claim on a name meets every other in one place.
//!
//! A site claims the domain and gets a token; the domains saga looks for the TXT record
//! `_berth-challenge.<domain>` holding it, on a durable timer, until it is there or the claim
//! lapses. Several sites may wait at once (nobody can squat a name by claiming it first); the
//! first whose token appears wins: the domain is verified for it, every other claim is
//! dropped, and from then on no other site can claim it. Verification takes the name as a
//! platform-wide unique value, the same one a site's own domain takes, so a verified custom
//! domain and a site's domain can never be the same name.

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;

pub use command::{CustomDomainCommand, MAX_CLAIMS};
pub use error::CustomDomainError;
pub use event::CustomDomainEvent;

use std::collections::BTreeMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain_name::DomainName;
use crate::ids::{SiteId, TenantId};
use crate::timer::{TimerChange, TimerKey};
use crate::unique::{Unique, UniqueChange, UniqueScope};

/// The TXT record a claim is verified by, below the domain.
pub const CHALLENGE_LABEL: &str = "_berth-challenge";

/// What the TXT record must hold: 16 to 64 lower-case letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VerificationToken(String);

/// A string that is not a verification token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a verification token is 16 to 64 lower-case letters and digits")]
pub struct TokenError;

impl VerificationToken {
    /// Checks a token (the edge makes them from random bytes).
    pub fn parse(token: &str) -> Result<Self, TokenError> {
        let ok = (16..=64).contains(&token.len())
            && token.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if ok {
            Ok(Self(token.to_owned()))
        } else {
            Err(TokenError)
        }
    }

    /// The token.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The TXT record's value: `berth-verification=<token>`.
    pub fn txt_value(&self) -> String {
        format!("berth-verification={}", self.0)
    }
}

impl TryFrom<String> for VerificationToken {
    type Error = TokenError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<VerificationToken> for String {
    fn from(value: VerificationToken) -> Self {
        value.0
    }
}

/// The site a domain is verified for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The site.
    pub site_id: SiteId,
    /// Its owner.
    pub tenant_id: TenantId,
}

/// A site waiting for its token to appear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The site's owner.
    pub tenant_id: TenantId,
    /// What the TXT record must hold.
    pub token: VerificationToken,
    /// When the claim lapses.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Looks so far.
    pub attempts: u32,
}

/// The custom domain's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomDomain {
    domain: Option<DomainName>,
    verified: Option<Holder>,
    claims: BTreeMap<SiteId, Claim>,
}

impl CustomDomain {
    /// The site the domain is verified for, if any.
    pub fn verified(&self) -> Option<&Holder> {
        self.verified.as_ref()
    }

    /// The pending claim of `site`, if any.
    pub fn claim_of(&self, site: SiteId) -> Option<&Claim> {
        self.claims.get(&site)
    }

    /// The domain, once claimed.
    pub fn domain(&self) -> Option<&DomainName> {
        self.domain.as_ref()
    }
}

/// The timer that looks for `site`'s token on the domain with aggregate id `id`. The domain
/// is hashed into the key: a key is at most 200 characters, a domain up to 253.
pub fn check_timer(id: &str, site: SiteId) -> TimerKey {
    let hash = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, id.as_bytes());
    TimerKey::parse(&format!("domain-check:{site}:{hash}"))
        .unwrap_or_else(|_| TimerKey::for_id("domain-check", hash))
}

impl crate::aggregate::Consequences for CustomDomain {
    fn uniques(&self, event: &CustomDomainEvent) -> Vec<UniqueChange> {
        let Some(domain) = &self.domain else { return Vec::new() };
        let unique = |site: &SiteId| {
            Unique::new(UniqueScope::Domain, domain.as_str(), format!("custom-domain:{site}"))
        };
        match event {
            CustomDomainEvent::Verified { site_id, .. } => vec![UniqueChange::Claim(unique(site_id))],
            CustomDomainEvent::Removed { site_id, verified: true } => {
                vec![UniqueChange::Release(unique(site_id))]
            }
            _ => Vec::new(),
        }
    }

    fn timers(id: &str, event: &CustomDomainEvent) -> Vec<TimerChange<CustomDomainCommand>> {
        match event {
            CustomDomainEvent::CheckFailed { site_id, next_check_at, .. } => vec![TimerChange::Schedule {
                key: check_timer(id, *site_id),
                due_at: *next_check_at,
                command: CustomDomainCommand::Check { site_id: *site_id, now: *next_check_at },
            }],
            CustomDomainEvent::Verified { site_id, dropped, .. } => std::iter::once(site_id)
                .chain(dropped)
                .map(|site| TimerChange::Cancel { key: check_timer(id, *site) })
                .collect(),
            // Not on `ClaimExpired`: only the check timer's own firing expires a claim, and
            // cancelling the timer being fired would keep its firing from ever committing.
            CustomDomainEvent::Removed { site_id, .. } => {
                vec![TimerChange::Cancel { key: check_timer(id, *site_id) }]
            }
            _ => Vec::new(),
        }
    }
}

impl Aggregate for CustomDomain {
    const TYPE: &'static str = "custom_domain";
    type Command = CustomDomainCommand;
    type Event = CustomDomainEvent;
    type Error = CustomDomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: CustomDomainCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), CustomDomainError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: CustomDomainEvent) {
        use CustomDomainEvent as E;
        match event {
            E::Claimed { domain, site_id, tenant_id, token, expires_at } => {
                self.domain = Some(domain);
                self.claims.insert(site_id, Claim::new(tenant_id, token, expires_at));
            }
            E::CheckDue { .. } => {}
            E::CheckFailed { site_id, attempt, .. } => {
                if let Some(claim) = self.claims.get_mut(&site_id) {
                    claim.attempts = attempt;
                }
            }
            E::Verified { site_id, tenant_id, .. } => {
                self.claims.clear();
                self.verified = Some(Holder { site_id, tenant_id });
            }
            E::ClaimExpired { site_id } => {
                self.claims.remove(&site_id);
            }
            E::Removed { site_id, verified } => {
                self.claims.remove(&site_id);
                if verified {
                    self.verified = None;
                }
            }
        }
    }
}

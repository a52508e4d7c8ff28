//! The domains saga: a claimed custom domain is verified by its TXT record
//! `_berth-challenge.<domain>`, looked for at once and then on a durable timer with a growing
//! interval until it is there or the claim lapses; a verified domain becomes an alias of its
//! site, the site's node serves it, and the site's certificate is issued again to cover it.
//! Removing a domain takes it off the node; the certificate drops it at its next issue.

use std::sync::Arc;
use std::time::Duration;

use berth_domain::certificate::{Certificate, CertificateCommand, CertificateNames, Reason};
use berth_domain::custom_domain::{CustomDomain, CustomDomainCommand, CustomDomainEvent, CHALLENGE_LABEL};
use berth_domain::event::Event;
use berth_domain::ids::SiteId;
use berth_domain::site::{Site, SiteCommand, SiteError, SiteEvent, SiteStatus};
use berth_eventstore::clock::Clock;
use berth_eventstore::execute::ExecuteError;
use berth_eventstore::recorded::Recorded;
use serde::{Deserialize, Serialize};

use crate::context::SagaContext;
use crate::dns::resolver::Resolver;
use crate::node::tls::SiteAliases;
use crate::node::{saga_metadata, NodeCallError, NodeWork, TargetError};
use crate::outcome::{record, step, Step};
use crate::saga::{Outcome, Saga, Tuning};

const SAGA: &str = "domains";

/// The domains saga (consumes custom domain and site events).
pub struct Domains {
    work: NodeWork,
    clock: Arc<dyn Clock>,
    resolver: Arc<dyn Resolver>,
    settings: DomainsSettings,
}

/// `[sagas.domains]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DomainsSettings {
    /// Seconds before the second look for a TXT record; doubled after each look.
    pub check_interval_secs: u64,
    /// The longest wait between two looks, in seconds.
    pub check_max_interval_secs: u64,
    /// Domains worked on at once per sagas process.
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a step whose worker died.
    pub takeover_secs: u64,
}

impl Default for DomainsSettings {
    fn default() -> Self {
        Self { check_interval_secs: 60, check_max_interval_secs: 3600, concurrency: 4, takeover_secs: 30 }
    }
}

impl Saga for Domains {
    const NAME: &'static str = SAGA;
    const AGGREGATES: &'static [&'static str] = &["custom_domain", "site"];
    type Settings = DomainsSettings;

    fn build(context: &SagaContext, settings: &DomainsSettings) -> Self {
        Self {
            work: NodeWork::new(context),
            clock: context.clock.clone(),
            resolver: context.resolver.clone(),
            settings: settings.clone(),
        }
    }

    fn tuning(settings: &DomainsSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        match &event.event {
            Event::CustomDomain(e) => matches!(
                e,
                CustomDomainEvent::Claimed { .. }
                    | CustomDomainEvent::CheckDue { .. }
                    | CustomDomainEvent::Verified { .. }
                    | CustomDomainEvent::Removed { verified: true, .. }
            ),
            Event::Site(e) => matches!(e, SiteEvent::AliasAdded { .. } | SiteEvent::AliasRemoved { .. }),
            _ => false,
        }
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let domain = event.aggregate_id.as_str();
        let result = match &event.event {
            Event::CustomDomain(CustomDomainEvent::Claimed { site_id, .. }) => {
                self.check(event, domain, *site_id, 1).await
            }
            Event::CustomDomain(CustomDomainEvent::CheckDue { site_id, attempt }) => {
                self.check(event, domain, *site_id, *attempt).await
            }
            Event::CustomDomain(CustomDomainEvent::Verified { site_id, .. }) => {
                self.alias(event, domain, *site_id, true).await
            }
            Event::CustomDomain(CustomDomainEvent::Removed { site_id, .. }) => {
                self.alias(event, domain, *site_id, false).await
            }
            Event::Site(SiteEvent::AliasAdded { .. }) => self.serve(event, true).await,
            Event::Site(SiteEvent::AliasRemoved { .. }) => self.serve(event, false).await,
            _ => Ok(()),
        };
        result.err().unwrap_or(Outcome::Done)
    }
}

impl Domains {
    /// One look for the site's token.
    #[tracing::instrument(skip_all, fields(domain, site_id = %site_id, attempt))]
    async fn check(&self, event: &Recorded, domain: &str, site_id: SiteId, attempt: u32) -> Step<()> {
        let state = self.work.store.load::<CustomDomain>(domain).await.map_err(Outcome::later)?.aggregate;
        let Some(claim) = state.claim_of(site_id) else { return Ok(()) };
        let wanted = claim.token.txt_value();
        let name = format!("{CHALLENGE_LABEL}.{domain}");
        let meta = saga_metadata(event, SAGA, &format!("check:{attempt}"));
        let found = match self.resolver.txt(&name).await {
            Ok(texts) if texts.iter().any(|t| t.trim() == wanted) => None,
            Ok(texts) if texts.is_empty() => Some(format!("no TXT record at {name}")),
            Ok(texts) => Some(format!("the TXT record at {name} holds {texts:?}, not \"{wanted}\"")),
            Err(error) => Some(error.to_string()),
        };
        let Some(reason) = found else {
            let command = CustomDomainCommand::RecordVerified { site_id };
            return match self
                .work
                .store
                .execute::<CustomDomain>(domain, command, &meta, self.work.retry)
                .await
            {
                Ok(_) | Err(ExecuteError::Rejected(_)) => Ok(()),
                // The name is some site's own domain: the claim can never be verified.
                Err(ExecuteError::Taken { .. }) => {
                    self.missing(domain, site_id, attempt, "the domain is in use by another site", &meta)
                        .await
                }
                Err(other) => Err(Outcome::later(other)),
            };
        };
        self.missing(domain, site_id, attempt, &reason, &meta).await
    }

    async fn missing(
        &self,
        domain: &str,
        site_id: SiteId,
        attempt: u32,
        reason: &str,
        meta: &berth_eventstore::metadata::CommandMetadata,
    ) -> Step<()> {
        let base = self.settings.check_interval_secs.max(1);
        let wait = base
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
            .min(self.settings.check_max_interval_secs.max(base));
        let next_check_at =
            self.clock.now() + time::Duration::seconds(i64::try_from(wait).unwrap_or(i64::MAX));
        let command =
            CustomDomainCommand::RecordMissing { site_id, attempt, reason: reason.to_owned(), next_check_at };
        step(record::<CustomDomain>(&self.work.store, self.work.retry, domain, command, meta, &[]).await)
    }

    /// A verified domain becomes an alias of its site; a removed one stops being one.
    async fn alias(&self, event: &Recorded, domain: &str, site_id: SiteId, add: bool) -> Step<()> {
        let Ok(name) = berth_domain::domain_name::DomainName::parse(domain) else { return Ok(()) };
        let command = if add {
            SiteCommand::AddAlias { domain: name }
        } else {
            SiteCommand::RemoveAlias { domain: name }
        };
        let meta = saga_metadata(event, SAGA, "alias");
        match self.work.store.execute::<Site>(&site_id.to_string(), command, &meta, self.work.retry).await {
            // Still being set up: come back when the site is live.
            Err(ExecuteError::Rejected(SiteError::Busy(what))) => {
                Err(Outcome::RetryLater(format!("the site is busy: {what}")))
            }
            Ok(_) | Err(ExecuteError::Rejected(_)) => Ok(()),
            Err(other) => Err(Outcome::later(other)),
        }
    }

    /// The site's node serves its aliases as they are now; an added one is then put on the
    /// site's certificate, a removed one taken off what its next issue covers.
    #[tracing::instrument(skip_all, fields(site_id = %event.aggregate_id))]
    async fn serve(&self, event: &Recorded, added: bool) -> Step<()> {
        let Some(site_id) = event.aggregate_uuid().map(SiteId::from_uuid) else { return Ok(()) };
        let id = site_id.to_string();
        let site = self.work.store.load::<Site>(&id).await.map_err(Outcome::later)?.aggregate;
        let (Some(placement), true) =
            (site.node(), matches!(site.status(), SiteStatus::Active | SiteStatus::Suspended))
        else {
            return Ok(());
        };
        let verb = SiteAliases { site: site_id, aliases: site.aliases().to_vec() };
        match self.work.call(placement.node_id, verb, &saga_metadata(event, SAGA, "host-key")).await {
            Ok(_) => {}
            Err(NodeCallError::Target(TargetError::Store(error))) => return Err(Outcome::later(error)),
            // The node is down or refuses: the event comes back, and the node catches up then.
            Err(error) => return Err(Outcome::later(error)),
        }
        let certificate = self.work.store.load::<Certificate>(&id).await.map_err(Outcome::later)?.aggregate;
        let (Some(names), Some(tenant_id), false) =
            (certificate.names(), site.tenant_id(), certificate.retired())
        else {
            return Ok(());
        };
        let names = CertificateNames { aliases: site.aliases().to_vec(), ..names.clone() };
        // An added name is certified at once; a removed one leaves at the next issue.
        let command = if added {
            let hsts = certificate.hsts();
            CertificateCommand::Request { site_id, tenant_id, names, hsts, reason: Reason::NamesChanged }
        } else {
            CertificateCommand::SetNames { names }
        };
        let meta = saga_metadata(event, SAGA, "certificate");
        step(record::<Certificate>(&self.work.store, self.work.retry, &id, command, &meta, &[]).await)
    }
}

//! The certificates saga: issuing a site's certificate through the ACME CA, installing it on
//! the site's node, a first certificate for every new site (a setting), and retiring a deleted
//! site's certificate. Renewals and retries arrive as issuance requests from the certificate's
//! own durable timers; every outcome is a command on the certificate.
//!
//! HTTP-01 is answered by the node's nginx when every name resolves to the site's node; DNS-01
//! through a zone Berth serves for the tenant otherwise, and always for a wildcard ([`issue`]).

mod challenge;
mod issue;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_domain::certificate::{
    Certificate, CertificateCommand, CertificateEvent, CertificateNames, Reason,
};
use berth_domain::event::Event;
use berth_domain::ids::SiteId;
use berth_domain::site::{Site, SiteEvent};
use berth_eventstore::clock::Clock;
use berth_eventstore::feed::FeedNotifier;
use berth_eventstore::recorded::Recorded;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::acme::client::{AcmeCa, AcmeSettings};
use crate::acme::CertificateAuthority;
use crate::context::SagaContext;
use crate::dns::resolver::Resolver;
use crate::node::tls::SiteTls;
use crate::node::{saga_metadata, NodeCallError, NodeWork, TargetError};
use crate::outcome::{record, step, Step};
use crate::saga::{Outcome, Saga, Tuning};

const SAGA: &str = "certificates";

/// The certificates saga (consumes certificate and site events).
pub struct Certificates {
    work: NodeWork,
    feed: FeedNotifier,
    clock: Arc<dyn Clock>,
    resolver: Arc<dyn Resolver>,
    ca: Arc<dyn CertificateAuthority>,
    settings: CertificateSettings,
}

/// `[sagas.certificates]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CertificateSettings {
    /// The ACME CA's directory URL.
    pub directory: String,
    /// A PEM root certificate to trust for the directory only (a test CA such as pebble);
    /// empty: the system's roots.
    pub ca_file: String,
    /// Contact URIs for the ACME account, comma-separated (`mailto:ops@example.com`).
    pub contact: String,
    /// Whether a new site gets a certificate by itself once it is live.
    pub auto_issue: bool,
    /// Days before expiry that renewal starts.
    pub renew_before_days: u32,
    /// Seconds before the first retry of a failed attempt; doubled for each failure after.
    pub retry_base_secs: u64,
    /// The longest wait between two attempts, in seconds.
    pub retry_max_secs: u64,
    /// Seconds a DNS-01 challenge record may take to reach the DNS server.
    pub challenge_timeout_secs: u64,
    /// Certificates worked on at once per sagas process.
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a step whose worker died.
    pub takeover_secs: u64,
}

impl Default for CertificateSettings {
    fn default() -> Self {
        Self {
            directory: "https://acme-v02.api.letsencrypt.org/directory".to_owned(),
            ca_file: String::new(),
            contact: String::new(),
            auto_issue: true,
            renew_before_days: 30,
            retry_base_secs: 300,
            retry_max_secs: 6 * 3600,
            challenge_timeout_secs: 60,
            concurrency: 4,
            takeover_secs: 120,
        }
    }
}

impl Saga for Certificates {
    const NAME: &'static str = SAGA;
    const AGGREGATES: &'static [&'static str] = &["certificate", "site"];
    type Settings = CertificateSettings;

    fn build(context: &SagaContext, settings: &CertificateSettings) -> Self {
        let acme = AcmeSettings {
            directory: settings.directory.clone(),
            ca_file: Some(settings.ca_file.trim()).filter(|f| !f.is_empty()).map(PathBuf::from),
            contact: settings
                .contact
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
        };
        let ca = AcmeCa::new(
            acme,
            context.store.clone(),
            context.pool.clone(),
            context.vault.clone(),
            context.retry,
        );
        Self {
            work: NodeWork::new(context),
            feed: context.feed.clone(),
            clock: context.clock.clone(),
            resolver: context.resolver.clone(),
            ca: Arc::new(ca),
            settings: settings.clone(),
        }
    }

    fn tuning(settings: &CertificateSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(
            event.event,
            Event::Certificate(
                CertificateEvent::IssuanceRequested { .. }
                    | CertificateEvent::Issued { .. }
                    | CertificateEvent::InstallRetried { .. }
            ) | Event::Site(SiteEvent::Activated { .. } | SiteEvent::Deleted { .. })
        )
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let Some(site_id) = event.aggregate_uuid().map(SiteId::from_uuid) else {
            return Outcome::Failed(format!("`{}` is not a site id", event.aggregate_id));
        };
        let result = match &event.event {
            Event::Certificate(CertificateEvent::IssuanceRequested { attempt, .. }) => {
                self.issue(event, site_id, *attempt).await
            }
            Event::Certificate(_) => self.install(event, site_id).await,
            Event::Site(SiteEvent::Activated { .. }) => self.first(event, site_id).await,
            Event::Site(SiteEvent::Deleted { .. }) => self.retire(event, site_id).await,
            _ => Ok(()),
        };
        result.err().unwrap_or(Outcome::Done)
    }
}

impl Certificates {
    async fn load(&self, site_id: SiteId) -> Step<Certificate> {
        Ok(self.work.store.load::<Certificate>(&site_id.to_string()).await.map_err(Outcome::later)?.aggregate)
    }

    async fn site(&self, site_id: SiteId) -> Step<Site> {
        Ok(self.work.store.load::<Site>(&site_id.to_string()).await.map_err(Outcome::later)?.aggregate)
    }

    /// When the next attempt after `failures` failures in a row starts.
    fn retry_at(&self, failures: u32) -> OffsetDateTime {
        let base = self.settings.retry_base_secs.max(1);
        let wait = base.saturating_mul(1u64 << failures.min(20)).min(self.settings.retry_max_secs.max(base));
        self.clock.now() + time::Duration::seconds(i64::try_from(wait).unwrap_or(i64::MAX))
    }

    /// A new site's first certificate, if the provider wants one for every site.
    async fn first(&self, event: &Recorded, site_id: SiteId) -> Step<()> {
        if !self.settings.auto_issue || self.load(site_id).await?.exists() {
            return Ok(());
        }
        let site = self.site(site_id).await?;
        let (Some(domain), Some(tenant_id)) = (site.domain(), site.tenant_id()) else { return Ok(()) };
        let names =
            CertificateNames { primary: domain.clone(), wildcard: false, aliases: site.aliases().to_vec() };
        let command =
            CertificateCommand::Request { site_id, tenant_id, names, hsts: false, reason: Reason::Automatic };
        let meta = saga_metadata(event, SAGA, "first");
        step(
            record::<Certificate>(
                &self.work.store,
                self.work.retry,
                &site_id.to_string(),
                command,
                &meta,
                &[],
            )
            .await,
        )
    }

    async fn retire(&self, event: &Recorded, site_id: SiteId) -> Step<()> {
        let certificate = self.load(site_id).await?;
        if !certificate.exists() || certificate.retired() {
            return Ok(());
        }
        let meta = saga_metadata(event, SAGA, "retire");
        step(
            record::<Certificate>(
                &self.work.store,
                self.work.retry,
                &site_id.to_string(),
                CertificateCommand::Retire,
                &meta,
                &[],
            )
            .await,
        )
    }

    /// Puts the latest certificate on the site's node. The one before serves until the node
    /// has the new one (a graceful reload), so a renewal never takes the site down.
    #[tracing::instrument(skip_all, fields(site_id = %site_id))]
    async fn install(&self, event: &Recorded, site_id: SiteId) -> Step<()> {
        let certificate = self.load(site_id).await?;
        let (Some(live), Some(names)) = (certificate.current(), certificate.names()) else { return Ok(()) };
        if live.installed || certificate.retired() {
            return Ok(());
        }
        let site = self.site(site_id).await?;
        let Some(placement) = site.node() else { return Ok(()) };
        let pem = self.work.vault.open(&self.work.pool, live.key_id).await.map_err(Outcome::later)?;
        let verb = SiteTls { site: site_id, hsts: certificate.hsts(), wildcard: names.wildcard, pem };
        let started = Instant::now();
        let id = site_id.to_string();
        let serial = live.serial.clone();
        let command =
            match self.work.call(placement.node_id, verb, &saga_metadata(event, SAGA, "host-key")).await {
                Ok(_) => CertificateCommand::RecordInstalled { serial, took_ms: elapsed_ms(started) },
                Err(NodeCallError::Target(TargetError::Store(error))) => return Err(Outcome::later(error)),
                Err(error) => {
                    tracing::warn!(%error, "the node could not install the certificate");
                    CertificateCommand::RecordInstallFailed {
                        serial,
                        reason: error.to_string(),
                        retry_at: self.retry_at(0),
                    }
                }
            };
        let meta = saga_metadata(event, SAGA, "installed");
        step(record::<Certificate>(&self.work.store, self.work.retry, &id, command, &meta, &[]).await)
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

//! The provisioning saga: a requested site is placed on a node, set up there over SSH,
//! verified over HTTP and activated; deletion, suspension and resumption are carried out on
//! its node the same way. Every step is an event with its timing.
//!
//! A step that fails after the SSH bridge's retries ends in a recorded failure with its reason,
//! and the node capacity reserved for the site is released in the same commit, so no site is
//! left "provisioning" and no capacity leaks.

use std::time::{Duration, Instant};

use berth_domain::allocation::{self, NodeLoad};
use berth_domain::ids::{NodeId, SiteId};
use berth_domain::node::{Node, NodeCommand};
use berth_domain::site::{Operation, Placement, Site, SiteCommand, SiteStatus};
use berth_eventstore::append::SideWrite;
use berth_eventstore::consumer::HandlerError;
use berth_eventstore::feed::FeedEvent;
use berth_eventstore::steps::Step;
use berth_eventstore::unit_of_work::{UnitError, UnitOfWork};
use berth_projections::nodes;

use super::{retry_later, saga_metadata, NodeCallError, NodeWork, Script, TargetError};

const SAGA: &str = "provisioning";

/// The provisioning saga's step runner (consumes site events).
pub struct Provisioning {
    work: NodeWork,
    http: reqwest::Client,
}

impl Provisioning {
    /// The saga over `work`.
    pub fn new(work: NodeWork) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a plain HTTP client builds");
        Self { work, http }
    }
}

impl Step for Provisioning {
    async fn run(&self, event: &FeedEvent) -> Result<(), HandlerError> {
        if event.aggregate_type != "site" {
            return Ok(());
        }
        let Ok(site_id) = event.aggregate_id.parse::<uuid::Uuid>().map(SiteId::from_uuid) else {
            return Ok(());
        };
        match event.event_type.as_str() {
            "SiteCreated" | "SiteProvisioningRetried" => self.provision(event, site_id).await,
            "SiteDeletionRequested" => self.operate(event, site_id, Operation::Delete).await,
            "SiteSuspensionRequested" => self.operate(event, site_id, Operation::Suspend).await,
            "SiteResumptionRequested" => self.operate(event, site_id, Operation::Resume).await,
            _ => Ok(()),
        }
    }
}

/// How a step ended when it did not succeed.
enum Failure {
    /// Record it on the site (and release its capacity).
    Final(String),
    /// Leave it to a redelivery (storage trouble, a lost race).
    Later(HandlerError),
}

impl From<NodeCallError> for Failure {
    fn from(error: NodeCallError) -> Self {
        match error {
            NodeCallError::Target(TargetError::Store(e)) => Self::Later(retry_later(e)),
            other => Self::Final(other.to_string()),
        }
    }
}

impl Provisioning {
    async fn load_site(&self, site_id: SiteId) -> Result<Site, HandlerError> {
        Ok(self.work.store.load::<Site>(&site_id.to_string()).await.map_err(retry_later)?.aggregate)
    }

    #[tracing::instrument(skip_all, fields(site_id = %site_id))]
    async fn provision(&self, event: &FeedEvent, site_id: SiteId) -> Result<(), HandlerError> {
        let site = self.load_site(site_id).await?;
        if !matches!(site.status(), SiteStatus::Requested | SiteStatus::Provisioning) {
            return Ok(());
        }
        let (placement, site) = match site.node() {
            Some(placement) => (placement.clone(), site),
            None => match self.allocate(event, site_id, &site).await? {
                // Placing it moved the site on: read it again.
                Some(placement) => (placement, self.load_site(site_id).await?),
                None => return Ok(()),
            },
        };
        let node_id = placement.node_id;
        if site.status() != SiteStatus::Provisioning {
            return Ok(());
        }
        if !site.provisioned() {
            let started = Instant::now();
            match self.create_on_node(node_id, site_id, &site, event).await {
                Ok(()) => {}
                Err(Failure::Final(reason)) => {
                    return self.fail(event, site_id, Some(node_id), "provision", reason).await
                }
                Err(Failure::Later(error)) => return Err(error),
            }
            let took_ms = elapsed_ms(started);
            let command = SiteCommand::RecordProvisioned { took_ms };
            self.site_command(event, site_id, "provisioned", command).await?;
        }
        let started = Instant::now();
        if let Err(reason) = self.verify(&placement, &site).await {
            // Take down what the node set up, so the failed site leaves nothing half-made.
            let args = ["site-delete", "--site", &site_id.to_string()];
            let meta = saga_metadata(event, SAGA, "host-key");
            if let Err(error) = self.work.script(node_id, Script::Run(&args), &meta).await {
                tracing::warn!(%error, "could not clean up after a failed verification");
            }
            return self.fail(event, site_id, Some(node_id), "verify", reason).await;
        }
        let command = SiteCommand::Activate { took_ms: elapsed_ms(started) };
        self.site_command(event, site_id, "activated", command).await
    }

    /// Reserves capacity on the best node and places the site there, in one commit. `None`
    /// when the site no longer needs it or no node can take it (recorded as a failure).
    async fn allocate(
        &self,
        event: &FeedEvent,
        site_id: SiteId,
        site: &Site,
    ) -> Result<Option<Placement>, HandlerError> {
        let started = Instant::now();
        let Some(kind) = site.kind() else { return Ok(None) };
        let demand = allocation::demand(kind);
        let mut excluded: Vec<NodeId> = Vec::new();
        for _ in 0..32 {
            let loads: Vec<NodeLoad> = nodes::loads(&self.work.pool)
                .await
                .map_err(retry_later)?
                .into_iter()
                .filter(|n| !excluded.contains(&n.id))
                .collect();
            let Some(node_id) = allocation::place(&loads, kind) else {
                let reason = format!("no ready node has room for a {} site", kind.as_str());
                self.fail(event, site_id, None, "allocate", reason).await?;
                return Ok(None);
            };
            let node =
                self.work.store.load::<Node>(&node_id.to_string()).await.map_err(retry_later)?.aggregate;
            let Some(spec) = node.spec() else {
                excluded.push(node_id);
                continue;
            };
            let placement = Placement {
                node_id,
                node_name: spec.name.as_str().to_owned(),
                address: spec.address.clone(),
            };
            let mut unit = UnitOfWork::new(&self.work.store);
            if unit
                .decide::<Node>(&node_id.to_string(), NodeCommand::Allocate { site_id, demand }, &())
                .await
                .is_err()
            {
                // The view was behind: the node is full, draining or down after all.
                excluded.push(node_id);
                continue;
            }
            let assign = SiteCommand::AssignNode {
                node_id,
                node_name: placement.node_name.clone(),
                address: placement.address.clone(),
                took_ms: elapsed_ms(started),
            };
            if unit.decide::<Site>(&site_id.to_string(), assign, &()).await.is_err() {
                return Ok(None);
            }
            let meta = saga_metadata(event, SAGA, &format!("allocate:{node_id}"));
            match unit.commit(&meta).await {
                Ok(_) => {
                    metrics::histogram!("berth_provisioning_step_seconds", "step" => "allocate")
                        .record(started.elapsed().as_secs_f64());
                    return Ok(Some(placement));
                }
                // Another site took room on the node meanwhile: decide again on fresh state.
                Err(UnitError::Conflict) => continue,
                Err(other) => return Err(retry_later(other)),
            }
        }
        Err("placement kept losing races; will retry".into())
    }

    async fn create_on_node(
        &self,
        node_id: NodeId,
        site_id: SiteId,
        site: &Site,
        event: &FeedEvent,
    ) -> Result<(), Failure> {
        let (Some(kind), Some(domain)) = (site.kind(), site.domain()) else {
            return Err(Failure::Final("the site has no kind or domain".into()));
        };
        let id = site_id.to_string();
        let mut args =
            vec!["site-create", "--site", &id, "--domain", domain.as_str(), "--kind", kind.as_str()];
        if let Some(php) = site.php_version() {
            args.extend(["--php", php.as_str()]);
        }
        let started = Instant::now();
        let meta = saga_metadata(event, SAGA, "host-key");
        let result = self.work.script(node_id, Script::Run(&args), &meta).await;
        metrics::histogram!("berth_provisioning_step_seconds", "step" => "provision")
            .record(started.elapsed().as_secs_f64());
        result.map(drop).map_err(Failure::from)
    }

    /// Asks the node for the site's domain until it answers with 2xx or 3xx (a new WordPress
    /// answers with a redirect to its installer).
    async fn verify(&self, placement: &Placement, site: &Site) -> Result<(), String> {
        let domain = site.domain().map(|d| d.as_str().to_owned()).unwrap_or_default();
        let url = format!("http://{}/", host_for_url(&placement.address));
        let deadline = Instant::now() + self.work.settings.verify_timeout;
        loop {
            let last = match self.http.get(&url).header(reqwest::header::HOST, &domain).send().await {
                Ok(response) if response.status().is_success() || response.status().is_redirection() => {
                    return Ok(())
                }
                Ok(response) => format!("the node answered {} for {domain}", response.status()),
                Err(error) => format!("no HTTP answer from {}: {error}", placement.address),
            };
            if Instant::now() > deadline {
                return Err(last);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Records a provisioning failure, releasing the site's capacity in the same commit.
    async fn fail(
        &self,
        event: &FeedEvent,
        site_id: SiteId,
        node_id: Option<NodeId>,
        step: &str,
        reason: String,
    ) -> Result<(), HandlerError> {
        tracing::warn!(site_id = %site_id, step, reason, "provisioning failed");
        metrics::counter!("berth_provisioning_failures_total", "step" => step.to_owned()).increment(1);
        let mut unit = UnitOfWork::new(&self.work.store);
        let command = SiteCommand::FailProvisioning { step: step.to_owned(), reason };
        if unit.decide::<Site>(&site_id.to_string(), command, &()).await.is_err() {
            return Ok(());
        }
        if let Some(node_id) = node_id {
            unit.decide::<Node>(&node_id.to_string(), NodeCommand::Release { site_id }, &())
                .await
                .map_err(retry_later)?;
        }
        unit.commit(&saga_metadata(event, SAGA, "failed")).await.map_err(retry_later)?;
        Ok(())
    }

    async fn site_command(
        &self,
        event: &FeedEvent,
        site_id: SiteId,
        step: &str,
        command: SiteCommand,
    ) -> Result<(), HandlerError> {
        self.work.record::<Site>(&site_id.to_string(), command, &saga_metadata(event, SAGA, step)).await
    }

    /// Carries out a suspension, resumption or deletion on the site's node.
    #[tracing::instrument(skip_all, fields(site_id = %site_id, operation = operation.as_str()))]
    async fn operate(
        &self,
        event: &FeedEvent,
        site_id: SiteId,
        operation: Operation,
    ) -> Result<(), HandlerError> {
        let site = self.load_site(site_id).await?;
        if site.pending() != Some(operation) {
            return Ok(());
        }
        let started = Instant::now();
        let outcome = match site.node() {
            // Never placed (failed at allocation): nothing on any node to change.
            None => Ok(()),
            Some(placement) => self.run_operation(placement.node_id, site_id, operation, event).await,
        };
        let meta = saga_metadata(event, SAGA, operation.as_str());
        match outcome {
            Ok(()) => {
                let took_ms = elapsed_ms(started);
                let mut unit = UnitOfWork::new(&self.work.store);
                let done = SiteCommand::CompleteOperation { operation, took_ms };
                if unit.decide::<Site>(&site_id.to_string(), done, &()).await.is_err() {
                    return Ok(());
                }
                if operation == Operation::Delete {
                    if let Some(placement) = site.node() {
                        let release = NodeCommand::Release { site_id };
                        unit.decide::<Node>(&placement.node_id.to_string(), release, &())
                            .await
                            .map_err(retry_later)?;
                    }
                    // The domain becomes free only now that no node serves it.
                    if let Some(domain) = site.domain() {
                        unit.side_write(SideWrite::Release {
                            scope: "domain".into(),
                            value: domain.to_string(),
                            owner: format!("site:{site_id}"),
                        });
                    }
                }
                unit.commit(&meta).await.map_err(retry_later)?;
                Ok(())
            }
            Err(Failure::Final(reason)) => {
                tracing::warn!(reason, "site operation failed");
                let command = SiteCommand::FailOperation { operation, reason };
                self.site_command(event, site_id, &format!("{}-failed", operation.as_str()), command).await
            }
            Err(Failure::Later(error)) => Err(error),
        }
    }

    async fn run_operation(
        &self,
        node_id: NodeId,
        site_id: SiteId,
        operation: Operation,
        event: &FeedEvent,
    ) -> Result<(), Failure> {
        let verb = match operation {
            Operation::Suspend => "site-suspend",
            Operation::Resume => "site-resume",
            Operation::Delete => "site-delete",
        };
        let args = [verb, "--site", &site_id.to_string()];
        let meta = saga_metadata(event, SAGA, "host-key");
        self.work.script(node_id, Script::Run(&args), &meta).await.map(drop).map_err(Failure::from)
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// An address as the host part of a URL (IPv6 literals in brackets).
fn host_for_url(address: &str) -> String {
    if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]")
    } else {
        address.to_owned()
    }
}

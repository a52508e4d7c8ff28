//! The provisioning saga: a requested site is placed on a node, set up there over SSH,
//! verified over HTTP and activated; deletion, suspension and resumption are carried out on
//! its node the same way. Every step is an event with its timing.
//!
//! A step that fails after the SSH bridge's retries ends in a recorded failure with its reason,
//! and the node capacity reserved for the site is released in the same commit, so no site is
//! left "provisioning" and no capacity leaks.

use std::time::{Duration, Instant};

use berth_domain::allocation::{self, NodeLoad};
use berth_domain::event::Event;
use berth_domain::ids::{NodeId, SiteId};
use berth_domain::node::{Node, NodeCommand};
use berth_domain::site::{
    FailureCode, Operation, Placement, ProvisioningStep, Site, SiteCommand, SiteEvent, SiteStatus,
};
use berth_eventstore::recorded::Recorded;
use berth_eventstore::unit_of_work::{UnitError, UnitOfWork};
use berth_projections::nodes;
use serde::{Deserialize, Serialize};

use super::contract::{SiteCreate, SiteDelete, SiteResume, SiteSuspend};
use super::{saga_metadata, NodeCallError, NodeWork, TargetError};
use crate::context::SagaContext;
use crate::saga::{Outcome, Saga, Tuning};
use crate::ssh::ShellError;

const SAGA: &str = "provisioning";

/// The provisioning saga (consumes site events).
pub struct Provisioning {
    work: NodeWork,
    http: reqwest::Client,
    backups: crate::backup::Backups,
    clock: std::sync::Arc<dyn berth_eventstore::clock::Clock>,
}

/// `[sagas.provisioning]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvisioningSettings {
    /// Sites worked on at once per sagas process.
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a step whose worker died.
    pub takeover_secs: u64,
}

impl Default for ProvisioningSettings {
    fn default() -> Self {
        Self { concurrency: 8, takeover_secs: 30 }
    }
}

impl Saga for Provisioning {
    const NAME: &'static str = SAGA;
    const AGGREGATES: &'static [&'static str] = &["site"];
    type Settings = ProvisioningSettings;

    fn build(context: &SagaContext, _: &ProvisioningSettings) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a plain HTTP client builds");
        Self {
            work: NodeWork::new(context),
            http,
            backups: context.backups.clone(),
            clock: context.clock.clone(),
        }
    }

    fn tuning(settings: &ProvisioningSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(
            event.event,
            Event::Site(
                SiteEvent::Created { .. }
                    | SiteEvent::ProvisioningRetried
                    | SiteEvent::DeletionRequested
                    | SiteEvent::SuspensionRequested
                    | SiteEvent::ResumptionRequested
            )
        )
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let Some(site_id) = event.aggregate_uuid().map(SiteId::from_uuid) else {
            return Outcome::Failed(format!("`{}` is not a site id", event.aggregate_id));
        };
        let result = match &event.event {
            Event::Site(SiteEvent::Created { .. } | SiteEvent::ProvisioningRetried) => {
                self.provision(event, site_id).await
            }
            Event::Site(SiteEvent::DeletionRequested) => {
                self.operate(event, site_id, Operation::Delete).await
            }
            Event::Site(SiteEvent::SuspensionRequested) => {
                self.operate(event, site_id, Operation::Suspend).await
            }
            Event::Site(SiteEvent::ResumptionRequested) => {
                self.operate(event, site_id, Operation::Resume).await
            }
            _ => Ok(()),
        };
        match result {
            Ok(()) => Outcome::Done,
            Err(outcome) => outcome,
        }
    }
}

/// A step's early end: an [`Outcome`] other than done.
type Step<T> = Result<T, Outcome>;

/// How a node-side step ended when it did not succeed.
enum Failure {
    /// Record it on the site (and release its capacity).
    Final(FailureCode, String),
    /// Leave it to a redelivery (storage trouble, a lost race).
    Later(Outcome),
}

/// The failure code for a node call that failed for good.
fn failure_code(error: &NodeCallError) -> FailureCode {
    match error {
        NodeCallError::Target(TargetError::Blocked(_)) => FailureCode::NodeBlocked,
        NodeCallError::Target(_) => FailureCode::Unknown,
        NodeCallError::Script(super::scripts::ScriptError::Shell(shell)) => match shell {
            ShellError::HostKeyMismatch { .. } => FailureCode::HostKeyMismatch,
            ShellError::Unreachable(_) => FailureCode::NodeUnreachable,
            ShellError::Auth(_) => FailureCode::AuthRefused,
            ShellError::Timeout => FailureCode::Timeout,
        },
        NodeCallError::Script(super::scripts::ScriptError::Failed { code, .. }) => {
            FailureCode::from_name(code.as_str())
        }
        NodeCallError::Script(_) => FailureCode::Unknown,
    }
}

impl From<NodeCallError> for Failure {
    fn from(error: NodeCallError) -> Self {
        match error {
            // The node is fine; Berth's own storage is not: try again, do not fail the site.
            NodeCallError::Target(TargetError::Store(e)) => Self::Later(Outcome::later(e)),
            other => Self::Final(failure_code(&other), other.to_string()),
        }
    }
}

impl Provisioning {
    async fn load_site(&self, site_id: SiteId) -> Step<Site> {
        Ok(self.work.store.load::<Site>(&site_id.to_string()).await.map_err(Outcome::later)?.aggregate)
    }

    #[tracing::instrument(skip_all, fields(site_id = %site_id))]
    async fn provision(&self, event: &Recorded, site_id: SiteId) -> Step<()> {
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
                Err(Failure::Final(code, reason)) => {
                    return self
                        .fail(event, site_id, Some(node_id), ProvisioningStep::Provision, code, reason)
                        .await
                }
                Err(Failure::Later(outcome)) => return Err(outcome),
            }
            let took_ms = elapsed_ms(started);
            let command = SiteCommand::RecordProvisioned { took_ms };
            self.site_command(event, site_id, "provisioned", command).await?;
        }
        let started = Instant::now();
        if let Err(reason) = self.verify(&placement, &site).await {
            // Take down what the node set up, so the failed site leaves nothing half-made.
            let meta = saga_metadata(event, SAGA, "host-key");
            if let Err(error) = self.work.call(node_id, SiteDelete { site: site_id }, &meta).await {
                tracing::warn!(%error, "could not clean up after a failed verification");
            }
            let (step, code) = (ProvisioningStep::Verify, FailureCode::NotServing);
            return self.fail(event, site_id, Some(node_id), step, code, reason).await;
        }
        let command = SiteCommand::Activate { took_ms: elapsed_ms(started) };
        self.site_command(event, site_id, "activated", command).await
    }

    /// Reserves capacity on the best node and places the site there, in one commit. `None`
    /// when the site no longer needs it or no node can take it (recorded as a failure). A
    /// storage failure anywhere here is "retry later", never "the node is full".
    async fn allocate(&self, event: &Recorded, site_id: SiteId, site: &Site) -> Step<Option<Placement>> {
        let started = Instant::now();
        let Some(kind) = site.kind() else { return Ok(None) };
        let demand = allocation::demand(kind);
        let mut excluded: Vec<NodeId> = Vec::new();
        for _ in 0..32 {
            let loads: Vec<NodeLoad> = nodes::loads(&self.work.pool)
                .await
                .map_err(Outcome::later)?
                .into_iter()
                .filter(|n| !excluded.contains(&n.id))
                // A staging copy goes on its production site's node, so copying it is local.
                .filter(|n| site.staging_of().is_none_or(|of| of.node_id == n.id))
                .collect();
            let Some(node_id) = allocation::place(&loads, kind) else {
                let reason = format!("no ready node has room for a {} site", kind.as_str());
                let (step, code) = (ProvisioningStep::Allocate, FailureCode::NoRoom);
                self.fail(event, site_id, None, step, code, reason).await?;
                return Ok(None);
            };
            let node =
                self.work.store.load::<Node>(&node_id.to_string()).await.map_err(Outcome::later)?.aggregate;
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
            match unit.decide::<Node>(&node_id.to_string(), NodeCommand::Allocate { site_id, demand }).await {
                Ok(_) => {}
                // The view was behind: the node is full, draining or down after all.
                Err(UnitError::Rejected(_)) => {
                    excluded.push(node_id);
                    continue;
                }
                Err(other) => return Err(Outcome::later(other)),
            }
            let assign = SiteCommand::AssignNode {
                node_id,
                node_name: placement.node_name.clone(),
                address: placement.address.clone(),
                took_ms: elapsed_ms(started),
            };
            match unit.decide::<Site>(&site_id.to_string(), assign).await {
                Ok(_) => {}
                // Placed already, or deleted meanwhile: nothing more to do here.
                Err(UnitError::Rejected(_)) => return Ok(None),
                Err(other) => return Err(Outcome::later(other)),
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
                Err(other) => return Err(Outcome::later(other)),
            }
        }
        Err(Outcome::later("placement kept losing races"))
    }

    async fn create_on_node(
        &self,
        node_id: NodeId,
        site_id: SiteId,
        site: &Site,
        event: &Recorded,
    ) -> Result<(), Failure> {
        let (Some(kind), Some(domain)) = (site.kind(), site.domain()) else {
            return Err(Failure::Final(FailureCode::Unknown, "the site has no kind or domain".into()));
        };
        let resources = self
            .work
            .site_resources(site.tenant_id())
            .await
            .map_err(|e| Failure::Later(Outcome::later(e)))?;
        let verb = SiteCreate {
            site: site_id,
            domain: domain.clone(),
            kind,
            php: site.php_version(),
            resources,
            noindex: site.staging_of().is_some(),
        };
        let started = Instant::now();
        let meta = saga_metadata(event, SAGA, "host-key");
        let result = self.work.call(node_id, verb, &meta).await;
        metrics::histogram!("berth_provisioning_step_seconds", "step" => "provision")
            .record(started.elapsed().as_secs_f64());
        let created = result.map_err(Failure::from)?;
        tracing::debug!(user = %created.user, root = %created.root, new = created.created, "site set up on its node");
        Ok(())
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
        event: &Recorded,
        site_id: SiteId,
        node_id: Option<NodeId>,
        step: ProvisioningStep,
        code: FailureCode,
        reason: String,
    ) -> Step<()> {
        tracing::warn!(site_id = %site_id, step = step.as_str(), code = code.as_str(), reason, "provisioning failed");
        metrics::counter!("berth_provisioning_failures_total", "step" => step.as_str(), "code" => code.as_str())
            .increment(1);
        let mut unit = UnitOfWork::new(&self.work.store);
        let command = SiteCommand::FailProvisioning { step, code, reason };
        match unit.decide::<Site>(&site_id.to_string(), command).await {
            Ok(_) => {}
            // Failed already, or the site moved on: nothing to record.
            Err(UnitError::Rejected(_)) => return Ok(()),
            Err(other) => return Err(Outcome::later(other)),
        }
        if let Some(node_id) = node_id {
            unit.decide::<Node>(&node_id.to_string(), NodeCommand::Release { site_id })
                .await
                .map_err(Outcome::later)?;
        }
        unit.commit(&saga_metadata(event, SAGA, "failed")).await.map_err(Outcome::later)?;
        Ok(())
    }

    async fn site_command(
        &self,
        event: &Recorded,
        site_id: SiteId,
        step: &str,
        command: SiteCommand,
    ) -> Step<()> {
        match self.work.record::<Site>(&site_id.to_string(), command, &saga_metadata(event, SAGA, step)).await
        {
            Outcome::Done => Ok(()),
            other => Err(other),
        }
    }

    /// Carries out a suspension, resumption or deletion on the site's node.
    #[tracing::instrument(skip_all, fields(site_id = %site_id, operation = operation.as_str()))]
    async fn operate(&self, event: &Recorded, site_id: SiteId, operation: Operation) -> Step<()> {
        let site = self.load_site(site_id).await?;
        if site.pending() != Some(operation) {
            return Ok(());
        }
        if operation == Operation::Delete {
            crate::backup::before_delete::ensure(
                &self.work,
                &self.backups,
                &*self.clock,
                event,
                site_id,
                &site,
            )
            .await?;
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
                match unit.decide::<Site>(&site_id.to_string(), done).await {
                    Ok(_) => {}
                    Err(UnitError::Rejected(_)) => return Ok(()),
                    Err(other) => return Err(Outcome::later(other)),
                }
                // The domain is given back by the site's own `Deleted` event, now that no
                // node serves it; the node's capacity in the same commit.
                if let (Operation::Delete, Some(placement)) = (operation, site.node()) {
                    let release = NodeCommand::Release { site_id };
                    unit.decide::<Node>(&placement.node_id.to_string(), release)
                        .await
                        .map_err(Outcome::later)?;
                }
                unit.commit(&meta).await.map_err(Outcome::later)?;
                Ok(())
            }
            Err(Failure::Final(_, reason)) => {
                tracing::warn!(reason, "site operation failed");
                let command = SiteCommand::FailOperation { operation, reason };
                self.site_command(event, site_id, &format!("{}-failed", operation.as_str()), command).await
            }
            Err(Failure::Later(outcome)) => Err(outcome),
        }
    }

    async fn run_operation(
        &self,
        node_id: NodeId,
        site_id: SiteId,
        operation: Operation,
        event: &Recorded,
    ) -> Result<(), Failure> {
        let meta = saga_metadata(event, SAGA, "host-key");
        let site = site_id;
        let result = match operation {
            Operation::Suspend => self.work.call(node_id, SiteSuspend { site }, &meta).await.map(drop),
            Operation::Resume => self.work.call(node_id, SiteResume { site }, &meta).await.map(drop),
            Operation::Delete => self.work.call(node_id, SiteDelete { site }, &meta).await.map(drop),
        };
        result.map_err(Failure::from)
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

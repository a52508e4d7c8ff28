//! Work on nodes: bootstrap, site provisioning and operations, health probes.
//!
//! Every step reads the aggregates it acts on, does its node-side work through a
//! [`NodeShell`], and reports the outcome as a command whose id is derived from the event that
//! started it and the step, so a redelivered event repeats no command. Node scripts are
//! idempotent, so repeating their side of a step is safe.
//!
//! Node-side work is typed: [`contract`] has the requests and verbs, [`reply`] one answer type
//! per verb, [`scripts`] the calling and the errors, [`bundle`] the scripts themselves; the
//! verbs for certificates and aliases are in [`tls`], the usage samples in [`usage`]. A step calls [`NodeWork::call`] with a
//! verb and gets that verb's reply.

pub mod backup;
pub mod bootstrap;
pub mod bundle;
pub mod contract;
pub mod deploy;
pub mod health;
pub mod provision;
pub mod reply;
pub mod scripts;
pub mod sftp;
pub mod tls;
pub mod usage;

use std::sync::Arc;
use std::time::Duration;

use berth_domain::aggregate::Consequences;
use berth_domain::ids::NodeId;
use berth_domain::node::{Node, NodeCommand};
use berth_eventstore::execute::{ExecuteError, RetryPolicy};
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::recorded::Recorded;
use berth_eventstore::steps::Outcome;
use berth_eventstore::store::EventStore;
use berth_eventstore::vault::{Vault, VaultError};
use sqlx::PgPool;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::ssh::{NodeShell, ShellError, Target};
use contract::NodeVerb;
use scripts::{ErrorCode, ScriptError};

/// How node work is tuned (the `[nodes]` settings every node saga shares).
#[derive(Debug, Clone)]
pub struct NodeWorkSettings {
    /// How long the verification step waits for the node to answer for a new site.
    pub verify_timeout: Duration,
}

/// What every node step needs.
#[derive(Clone)]
pub struct NodeWork {
    /// The event store, to load aggregates and record outcomes.
    pub store: EventStore,
    /// The database (views, read-only, and sealed secrets).
    pub pool: PgPool,
    /// Opens node keys.
    pub vault: Vault,
    /// Runs commands on nodes.
    pub shell: Arc<dyn NodeShell>,
    /// Tuning.
    pub settings: NodeWorkSettings,
    /// How hard outcomes retry a lost race.
    pub retry: RetryPolicy,
}

impl NodeWork {
    /// Node work over the shared parts of the sagas role.
    pub fn new(context: &crate::context::SagaContext) -> Self {
        Self {
            store: context.store.clone(),
            pool: context.pool.clone(),
            vault: context.vault.clone(),
            shell: context.shell.clone(),
            settings: context.nodes.clone(),
            retry: context.retry,
        }
    }
}

/// Why a node could not be worked on.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// No such node.
    #[error("node {0} is not registered")]
    Unknown(NodeId),
    /// Its host key changed; work is stopped until an operator re-pins it.
    #[error("work on node {0} is stopped: it presented another host key")]
    Blocked(NodeId),
    /// Its key could not be opened.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] berth_eventstore::error::StoreError),
}

/// Why a node script call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum NodeCallError {
    /// The node could not be worked on at all.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The script could not run, or it failed.
    #[error(transparent)]
    Script(#[from] ScriptError),
}

impl NodeCallError {
    /// Whether the node presented another host key.
    pub fn is_host_key_mismatch(&self) -> bool {
        matches!(self, Self::Script(ScriptError::Shell(ShellError::HostKeyMismatch { .. })))
    }

    /// The node scripts' error code, when they ran and refused or failed.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Script(error) => error.code(),
            Self::Target(_) => None,
        }
    }
}

impl NodeWork {
    /// How to reach `node_id`, with its private key opened.
    pub async fn target(&self, node_id: NodeId) -> Result<Target, TargetError> {
        let node = self.store.load::<Node>(&node_id.to_string()).await?.aggregate;
        let spec = node.spec().ok_or(TargetError::Unknown(node_id))?;
        if node.blocked() {
            return Err(TargetError::Blocked(node_id));
        }
        let secret = self.vault.open(&self.pool, spec.key_id).await?;
        let seed: [u8; 32] = secret.as_slice().try_into().map_err(|_| VaultError::Unsealable(spec.key_id))?;
        Ok(Target {
            node_id,
            address: spec.address.clone(),
            port: spec.ssh_port,
            user: spec.ssh_user.clone(),
            host_key: spec.host_key.clone(),
            private_key: Arc::new(Zeroizing::new(seed)),
        })
    }

    /// Runs `verb` on `node_id` and returns its reply. A node that presents another host key
    /// is recorded here, for every caller alike (`meta` is that record's metadata).
    pub async fn call<V: NodeVerb>(
        &self,
        node_id: NodeId,
        verb: V,
        meta: &CommandMetadata,
    ) -> Result<V::Reply, NodeCallError> {
        let target = self.target(node_id).await?;
        let result = scripts::call(&*self.shell, &target, &verb).await;
        if let Err(ScriptError::Shell(ShellError::HostKeyMismatch { presented })) = &result {
            self.record_mismatch(node_id, presented, meta).await;
        }
        Ok(result?)
    }

    /// Records that `node_id` presented another host key: all work on it stops, and the
    /// alert `BerthNodeHostKeyMismatch` fires from the gauge set here.
    async fn record_mismatch(&self, node_id: NodeId, presented: &str, meta: &CommandMetadata) {
        metrics::gauge!("berth_node_host_key_mismatch", "node" => node_id.to_string()).set(1.0);
        tracing::error!(node_id = %node_id, presented, "node presented another host key; work on it stopped");
        let command = NodeCommand::RecordHostKeyMismatch { presented: presented.to_owned() };
        let result = self.store.execute::<Node>(&node_id.to_string(), command, meta, self.retry).await;
        if let Err(error) = result {
            tracing::error!(%error, node_id = %node_id, "could not record the host key mismatch");
        }
    }
}

impl NodeWork {
    /// What each site of `tenant` may use on its node: its running subscription's plan's
    /// limits, or the defaults without one.
    pub async fn site_resources(
        &self,
        tenant: Option<berth_domain::ids::TenantId>,
    ) -> Result<berth_domain::plan::SiteResources, berth_eventstore::error::StoreError> {
        let Some(tenant) = tenant else { return Ok(Default::default()) };
        let running = berth_eventstore::billing::running_subscription(&self.store, tenant).await?;
        Ok(running.and_then(|(_, s)| s.plan().map(|terms| terms.limits.site)).unwrap_or_default())
    }
}

/// Metadata for a command a saga issues in reaction to `event` at `step`: its id is derived
/// from both, so a repeated step repeats no command; it is caused by the event and carries its
/// tenant, correlation and request ids on.
pub fn saga_metadata(event: &Recorded, saga: &str, step: &str) -> CommandMetadata {
    let name = format!("{}:{saga}:{step}", event.event_id);
    let command_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes());
    CommandMetadata {
        tenant_id: event.tenant_id,
        actor: format!("saga:{saga}"),
        command_id,
        correlation_id: event.meta.correlation_id.unwrap_or(event.event_id),
        causation_id: Some(event.event_id),
        request_id: event.meta.request_id.clone(),
        credential: None,
        within_tenant: false,
    }
}

impl NodeWork {
    /// Records a saga's outcome as `command` on the aggregate `id`. A refusal means the state
    /// moved on (the site was deleted meanwhile, say) and is an answer, not an error; a storage
    /// failure or a lost race is retried with the event, never read as a refusal.
    pub async fn record<A: Consequences>(
        &self,
        id: &str,
        command: A::Command,
        meta: &CommandMetadata,
    ) -> Outcome {
        match self.store.execute::<A>(id, command, meta, self.retry).await {
            Ok(_) => Outcome::Done,
            Err(ExecuteError::Rejected(refusal)) => {
                tracing::debug!(%refusal, aggregate = A::TYPE, id, "outcome not recorded: the state moved on");
                Outcome::Done
            }
            Err(error) => Outcome::later(error),
        }
    }
}

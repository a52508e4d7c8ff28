//! The sagas the `sagas` role runs.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use berth_eventstore::consumer::ConsumerSettings;
use berth_eventstore::steps::run_steps;
use berth_eventstore::store::EventStore;
use berth_eventstore::vault::Vault;
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::node::bootstrap::Bootstrap;
use crate::node::provision::Provisioning;
use crate::node::{health, NodeWork, NodeWorkSettings};
use crate::ssh::{SshBridge, SshSettings};

/// How the node sagas are tuned.
#[derive(Debug, Clone)]
pub struct NodeSagaSettings {
    /// The SSH bridge's timeouts and retries.
    pub ssh: SshSettings,
    /// Verification and probing.
    pub work: NodeWorkSettings,
    /// Sites worked on at once per process.
    pub concurrency: usize,
    /// How long a step may go without a sign of life before another process takes it over.
    pub takeover: Duration,
}

/// What every saga needs to run.
#[derive(Clone)]
pub struct SagaContext {
    /// The database (event store and saga deadlines).
    pub pool: PgPool,
    /// The event store sagas record outcomes in.
    pub store: EventStore,
    /// JetStream, where sagas consume events.
    pub jetstream: jetstream::Context,
    /// The event stream's name.
    pub stream: String,
    /// The event subjects' prefix.
    pub subject_prefix: String,
    /// Opens node keys.
    pub vault: Vault,
    /// Node saga tuning.
    pub nodes: NodeSagaSettings,
}

/// Starts every registered saga on `tasks` and returns how many: provisioning (site events),
/// node bootstrap (node events) and the node health prober.
pub fn start_all(context: &SagaContext, tasks: &mut JoinSet<()>, shutdown: &CancellationToken) -> usize {
    let work = NodeWork {
        store: context.store.clone(),
        pool: context.pool.clone(),
        vault: context.vault.clone(),
        shell: Arc::new(SshBridge::new(context.nodes.ssh.clone())),
        settings: context.nodes.work.clone(),
    };
    let consumer = |name: &str, aggregate: &str| {
        let mut settings = ConsumerSettings::new(name, format!("{}.*.{aggregate}.*", context.subject_prefix));
        settings.ack_wait = context.nodes.takeover;
        settings
    };
    tasks.spawn(run_steps(
        context.pool.clone(),
        context.jetstream.clone(),
        context.stream.clone(),
        consumer("saga_provisioning", "site"),
        Arc::new(Provisioning::new(work.clone())),
        context.nodes.concurrency,
        shutdown.clone(),
    ));
    tasks.spawn(run_steps(
        context.pool.clone(),
        context.jetstream.clone(),
        context.stream.clone(),
        consumer("saga_nodes", "node"),
        Arc::new(Bootstrap::new(work.clone())),
        context.nodes.concurrency,
        shutdown.clone(),
    ));
    tasks.spawn(health::run(work, shutdown.clone()));
    3
}

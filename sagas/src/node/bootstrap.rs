//! Node bootstrap: upload the node scripts, let them install or check what the node needs,
//! and mark the node ready (or record why not).

use std::time::Duration;

use berth_domain::event::Event;
use berth_domain::ids::NodeId;
use berth_domain::node::{Node, NodeCommand, NodeEvent};
use berth_eventstore::recorded::Recorded;
use serde::{Deserialize, Serialize};

use super::{bundle, contract, saga_metadata, NodeCallError, NodeWork, TargetError};
use crate::context::SagaContext;
use crate::saga::{Outcome, Saga, Tuning};

/// The name its commands' metadata and ids carry (kept from before sagas had their own
/// registry names, so redelivered events keep their command ids).
const ACTOR: &str = "nodes";

/// The bootstrap saga (consumes node events).
pub struct Bootstrap {
    work: NodeWork,
}

/// `[sagas.bootstrap]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BootstrapSettings {
    /// Nodes bootstrapped at once per sagas process.
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a bootstrap whose worker died.
    pub takeover_secs: u64,
}

impl Default for BootstrapSettings {
    fn default() -> Self {
        Self { concurrency: 4, takeover_secs: 30 }
    }
}

impl Saga for Bootstrap {
    const NAME: &'static str = "bootstrap";
    const AGGREGATES: &'static [&'static str] = &["node"];
    type Settings = BootstrapSettings;

    fn build(context: &SagaContext, _: &BootstrapSettings) -> Self {
        Self { work: NodeWork::new(context) }
    }

    fn tuning(settings: &BootstrapSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(event.event, Event::Node(NodeEvent::BootstrapRequested))
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let Some(node_id) = event.aggregate_uuid().map(NodeId::from_uuid) else {
            return Outcome::Failed(format!("`{}` is not a node id", event.aggregate_id));
        };
        let meta = saga_metadata(event, ACTOR, "host-key");
        let command = match self.work.call(node_id, contract::Bootstrap, &meta).await {
            Ok(reply) if reply.version == bundle::version() => {
                NodeCommand::MarkReady { scripts_version: reply.version }
            }
            Ok(reply) => NodeCommand::FailBootstrap {
                reason: format!(
                    "the node runs scripts version {:?}, not {}",
                    reply.version,
                    bundle::version()
                ),
            },
            Err(NodeCallError::Target(TargetError::Store(error))) => return Outcome::later(error),
            Err(error) if error.is_host_key_mismatch() => {
                NodeCommand::FailBootstrap { reason: "the node presented another host key".into() }
            }
            Err(error) => NodeCommand::FailBootstrap { reason: error.to_string() },
        };
        if let NodeCommand::FailBootstrap { reason } = &command {
            tracing::warn!(node_id = %node_id, reason, "bootstrap failed");
        }
        let meta = saga_metadata(event, ACTOR, "bootstrap");
        self.work.record::<Node>(&node_id.to_string(), command, &meta).await
    }
}

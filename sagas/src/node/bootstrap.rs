//! Node bootstrap: upload the node scripts, let them install or check what the node needs,
//! and mark the node ready (or record why not).

use berth_domain::ids::NodeId;
use berth_domain::node::{Node, NodeCommand};
use berth_eventstore::consumer::HandlerError;
use berth_eventstore::feed::FeedEvent;
use berth_eventstore::steps::Step;

use super::{retry_later, saga_metadata, scripts, NodeCallError, NodeWork, Script, TargetError};

const SAGA: &str = "nodes";

/// The bootstrap step runner (consumes node events).
pub struct Bootstrap {
    work: NodeWork,
}

impl Bootstrap {
    /// The step over `work`.
    pub fn new(work: NodeWork) -> Self {
        Self { work }
    }
}

impl Step for Bootstrap {
    async fn run(&self, event: &FeedEvent) -> Result<(), HandlerError> {
        if event.aggregate_type != "node" || event.event_type != "NodeBootstrapRequested" {
            return Ok(());
        }
        let Ok(node_id) = event.aggregate_id.parse::<uuid::Uuid>().map(NodeId::from_uuid) else {
            return Ok(());
        };
        let meta = saga_metadata(event, SAGA, "host-key");
        let command = match self.work.script(node_id, Script::Install, &meta).await {
            Ok(answer) => {
                let version = answer["version"].as_str().unwrap_or_default().to_owned();
                if version == scripts::VERSION.trim() {
                    NodeCommand::MarkReady { scripts_version: version }
                } else {
                    NodeCommand::FailBootstrap {
                        reason: format!(
                            "the node runs scripts version {version:?}, not {}",
                            scripts::VERSION.trim()
                        ),
                    }
                }
            }
            Err(NodeCallError::Target(TargetError::Store(error))) => return Err(retry_later(error)),
            Err(error) if error.is_host_key_mismatch() => {
                NodeCommand::FailBootstrap { reason: "the node presented another host key".into() }
            }
            Err(error) => NodeCommand::FailBootstrap { reason: error.to_string() },
        };
        if let NodeCommand::FailBootstrap { reason } = &command {
            tracing::warn!(node_id = %node_id, reason, "bootstrap failed");
        }
        let meta = saga_metadata(event, SAGA, "bootstrap");
        self.work.record::<Node>(&node_id.to_string(), command, &meta).await
    }
}

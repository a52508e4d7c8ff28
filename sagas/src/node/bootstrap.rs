//! Node bootstrap: upload the node scripts, let them install or check what the node needs,
//! and mark the node ready (or record why not).

use berth_domain::ids::NodeId;
use berth_domain::node::{Node, NodeCommand};
use berth_eventstore::consumer::HandlerError;
use berth_eventstore::feed::FeedEvent;
use berth_eventstore::steps::Step;

use super::scripts::{self, ScriptError};
use super::{retry_later, saga_metadata, NodeWork, TargetError};
use crate::ssh::ShellError;

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
        let outcome = match self.work.target(node_id).await {
            Ok(target) => scripts::install(&*self.work.shell, &target).await.map_err(|e| match e {
                ScriptError::Shell(ShellError::HostKeyMismatch { presented }) => Err(presented),
                other => Ok(other.to_string()),
            }),
            Err(TargetError::Store(error)) => return Err(retry_later(error)),
            Err(other) => Err(Ok(other.to_string())),
        };
        let command = match outcome {
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
            Err(Err(presented)) => {
                let meta = saga_metadata(event, SAGA, "host-key");
                self.work.record_mismatch(node_id, &presented, &meta).await;
                NodeCommand::FailBootstrap { reason: "the node presented another host key".into() }
            }
            Err(Ok(reason)) => NodeCommand::FailBootstrap { reason },
        };
        if let NodeCommand::FailBootstrap { reason } = &command {
            tracing::warn!(node_id = %node_id, reason, "bootstrap failed");
        }
        let meta = saga_metadata(event, SAGA, "bootstrap");
        self.work.record::<Node>(&node_id.to_string(), command, &meta).await
    }
}

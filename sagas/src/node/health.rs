//! Health probes: every node that takes or holds sites is asked for its health report on an
//! interval. Samples become Prometheus gauges; only changes of state (healthy, degraded, down)
//! become events.

use std::time::Duration;

use berth_domain::allocation::Health;
use berth_domain::ids::NodeId;
use berth_domain::node::{Node, NodeCommand};
use berth_eventstore::metadata::CommandMetadata;
use berth_projections::nodes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::scripts::ScriptError;
use super::{NodeCallError, NodeWork, Script};
use crate::context::SagaContext;
use crate::saga::Worker;
use crate::ssh::ShellError;

/// Free memory or disk below this share of the total makes a node degraded.
const LOW_SHARE: f64 = 0.10;

/// The health prober: a worker, not driven by events.
pub struct HealthProbe {
    work: NodeWork,
    interval: Duration,
}

/// `[sagas.health]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthSettings {
    /// Seconds between health probes of each node.
    pub probe_interval_secs: u64,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self { probe_interval_secs: 15 }
    }
}

impl Worker for HealthProbe {
    const NAME: &'static str = "health";
    type Settings = HealthSettings;

    fn build(context: &SagaContext, settings: &HealthSettings) -> Self {
        Self {
            work: NodeWork::new(context),
            interval: Duration::from_secs(settings.probe_interval_secs.max(1)),
        }
    }

    async fn run(self, shutdown: CancellationToken) {
        run(self.work, self.interval, shutdown).await;
    }
}

/// Probes every watched node each `interval` until `shutdown`.
async fn run(work: NodeWork, interval: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let watched = match nodes::watched(&work.pool).await {
            Ok(watched) => watched,
            Err(error) => {
                tracing::warn!(%error, "cannot list nodes to probe");
                continue;
            }
        };
        let probes = watched.into_iter().map(|node_id| probe(&work, node_id));
        futures::future::join_all(probes).await;
    }
}

/// Probes one node and records what changed.
pub async fn probe(work: &NodeWork, node_id: NodeId) {
    let label = node_id.to_string();
    let meta = CommandMetadata::new(None, "saga:health");
    let probe = work.script(node_id, Script::Run(&["health"]), &meta);
    let answer = match tokio::time::timeout(Duration::from_secs(30), probe).await {
        Ok(answer) => answer,
        Err(_) => Err(NodeCallError::Script(ScriptError::Shell(ShellError::Timeout))),
    };
    let (health, reason) = match answer {
        Ok(report) => {
            record_samples(&label, &report);
            judge(&report)
        }
        // Not probed (unknown, blocked), or blocked just now: nothing to judge.
        Err(NodeCallError::Target(error)) => {
            tracing::debug!(%error, node_id = %node_id, "not probing");
            return;
        }
        Err(error) if error.is_host_key_mismatch() => return,
        Err(error) => (Health::Down, error.to_string()),
    };
    metrics::gauge!("berth_node_up", "node" => label.clone()).set(if health == Health::Down {
        0.0
    } else {
        1.0
    });
    let command = NodeCommand::RecordHealth { health, reason };
    if let Err(error) = work.store.execute::<Node>(&label, command, &meta, work.retry).await {
        tracing::warn!(%error, node_id = %node_id, "could not record node health");
    }
}

fn record_samples(node: &str, report: &Value) {
    for (name, key) in [
        ("berth_node_load1", "load1"),
        ("berth_node_memory_total_mb", "memory_total_mb"),
        ("berth_node_memory_available_mb", "memory_available_mb"),
        ("berth_node_disk_total_mb", "disk_total_mb"),
        ("berth_node_disk_free_mb", "disk_free_mb"),
        ("berth_node_sites", "sites"),
    ] {
        if let Some(value) = report[key].as_f64() {
            metrics::gauge!(name, "node" => node.to_owned()).set(value);
        }
    }
}

/// Healthy, degraded or down, with the reason, from a health report.
pub fn judge(report: &Value) -> (Health, String) {
    let mut problems = Vec::new();
    if let Some(services) = report["services"].as_object() {
        for (service, state) in services {
            if state.as_str() != Some("up") {
                problems.push(format!("{service} is down"));
            }
        }
    }
    let share = |free: &str, total: &str| match (report[free].as_f64(), report[total].as_f64()) {
        (Some(free), Some(total)) if total > 0.0 => Some(free / total),
        _ => None,
    };
    if share("memory_available_mb", "memory_total_mb").is_some_and(|s| s < LOW_SHARE) {
        problems.push("memory is low".to_owned());
    }
    if share("disk_free_mb", "disk_total_mb").is_some_and(|s| s < LOW_SHARE) {
        problems.push("disk is nearly full".to_owned());
    }
    let cpus = report["cpus"].as_f64().unwrap_or(1.0).max(1.0);
    if report["load5"].as_f64().is_some_and(|load| load > 2.0 * cpus) {
        problems.push("load is high".to_owned());
    }
    if problems.is_empty() {
        (Health::Healthy, "all services up".to_owned())
    } else {
        (Health::Degraded, problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reports_are_judged_by_services_memory_disk_and_load() {
        let good = json!({"cpus": 2, "load5": 0.5, "memory_total_mb": 1000, "memory_available_mb": 500,
            "disk_total_mb": 1000, "disk_free_mb": 500, "services": {"nginx": "up", "mariadb": "up"}});
        assert_eq!(judge(&good).0, Health::Healthy);
        let mut bad = good.clone();
        bad["services"]["mariadb"] = json!("down");
        bad["disk_free_mb"] = json!(50);
        let (health, reason) = judge(&bad);
        assert_eq!(health, Health::Degraded);
        assert!(reason.contains("mariadb is down") && reason.contains("disk"), "{reason}");
    }
}

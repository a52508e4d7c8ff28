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
use tokio_util::sync::CancellationToken;

use super::contract;
use super::reply::HealthReport;
use super::scripts::ScriptError;
use super::{NodeCallError, NodeWork};
use crate::context::SagaContext;
use crate::saga::Worker;
use crate::ssh::ShellError;

/// The health prober: a worker, not driven by events.
pub struct HealthProbe {
    work: NodeWork,
    interval: Duration,
    limits: Limits,
}

/// Where a node that answers stops being healthy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Free memory or disk below this share of the total makes a node degraded.
    pub low_free_share: f64,
    /// A five-minute load above this many times the node's CPUs makes it degraded.
    pub high_load_per_cpu: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { low_free_share: 0.10, high_load_per_cpu: 2.0 }
    }
}

/// `[sagas.health]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthSettings {
    /// Seconds between health probes of each node.
    pub probe_interval_secs: u64,
    /// Free memory or disk below this share of the total makes a node degraded.
    pub low_free_share: f64,
    /// A five-minute load above this many times the node's CPUs makes it degraded.
    pub high_load_per_cpu: f64,
}

impl Default for HealthSettings {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            probe_interval_secs: 15,
            low_free_share: limits.low_free_share,
            high_load_per_cpu: limits.high_load_per_cpu,
        }
    }
}

impl Worker for HealthProbe {
    const NAME: &'static str = "health";
    type Settings = HealthSettings;

    fn build(context: &SagaContext, settings: &HealthSettings) -> Self {
        Self {
            work: NodeWork::new(context),
            interval: Duration::from_secs(settings.probe_interval_secs.max(1)),
            limits: Limits {
                low_free_share: settings.low_free_share,
                high_load_per_cpu: settings.high_load_per_cpu,
            },
        }
    }

    async fn run(self, shutdown: CancellationToken) {
        run(self.work, self.interval, self.limits, shutdown).await;
    }
}

/// Probes every watched node each `interval` until `shutdown`.
async fn run(work: NodeWork, interval: Duration, limits: Limits, shutdown: CancellationToken) {
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
        let probes = watched.into_iter().map(|node_id| probe(&work, node_id, limits));
        futures::future::join_all(probes).await;
    }
}

/// Probes one node and records what changed.
pub async fn probe(work: &NodeWork, node_id: NodeId, limits: Limits) {
    let label = node_id.to_string();
    let meta = CommandMetadata::new(None, "saga:health");
    let probe = work.call(node_id, contract::Health, &meta);
    let answer = match tokio::time::timeout(Duration::from_secs(30), probe).await {
        Ok(answer) => answer,
        Err(_) => Err(NodeCallError::Script(ScriptError::Shell(ShellError::Timeout))),
    };
    let (health, reason) = match answer {
        Ok(report) => {
            record_samples(&label, &report);
            judge(&report, limits)
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

fn record_samples(node: &str, report: &HealthReport) {
    // Gauges are floats; MiB and site counts stay far below where f64 loses integers.
    let samples = [
        ("berth_node_load1", report.load1),
        ("berth_node_memory_total_mb", report.memory_total_mb as f64),
        ("berth_node_memory_available_mb", report.memory_available_mb as f64),
        ("berth_node_disk_total_mb", report.disk_total_mb as f64),
        ("berth_node_disk_free_mb", report.disk_free_mb as f64),
        ("berth_node_sites", report.sites as f64),
    ];
    for (name, value) in samples {
        metrics::gauge!(name, "node" => node.to_owned()).set(value);
    }
}

/// Healthy, degraded or down, with the reason, from a health report.
pub fn judge(report: &HealthReport, limits: Limits) -> (Health, String) {
    let mut problems: Vec<String> =
        report.services.down().into_iter().map(|service| format!("{service} is down")).collect();
    let share = |free: u64, total: u64| (total > 0).then(|| free as f64 / total as f64);
    if share(report.memory_available_mb, report.memory_total_mb).is_some_and(|s| s < limits.low_free_share) {
        problems.push("memory is low".to_owned());
    }
    if share(report.disk_free_mb, report.disk_total_mb).is_some_and(|s| s < limits.low_free_share) {
        problems.push("disk is nearly full".to_owned());
    }
    let cpus = f64::from(report.cpus.max(1));
    if report.load5 > limits.high_load_per_cpu * cpus {
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
    use super::super::reply::{ServiceState, Services};
    use super::*;

    fn good() -> HealthReport {
        let up = ServiceState::Up;
        HealthReport {
            load1: 0.4,
            load5: 0.5,
            cpus: 2,
            memory_total_mb: 1000,
            memory_available_mb: 500,
            disk_total_mb: 1000,
            disk_free_mb: 500,
            services: Services { nginx: up, php_fpm: up, mariadb: up },
            sites: 3,
            version: "2".to_owned(),
        }
    }

    #[test]
    fn a_report_with_everything_up_and_room_to_spare_is_healthy() {
        assert_eq!(judge(&good(), Limits::default()), (Health::Healthy, "all services up".to_owned()));
    }

    #[test]
    fn reports_are_judged_by_services_memory_disk_and_load() {
        let mut bad = good();
        bad.services.mariadb = ServiceState::Down;
        bad.disk_free_mb = 50;
        bad.memory_available_mb = 20;
        bad.load5 = 4.5;

        let (health, reason) = judge(&bad, Limits::default());

        assert_eq!(health, Health::Degraded);
        assert_eq!(reason, "mariadb is down; memory is low; disk is nearly full; load is high");
    }

    #[test]
    fn a_report_with_zero_totals_or_cpus_is_not_misjudged() {
        let odd = HealthReport { memory_total_mb: 0, disk_total_mb: 0, cpus: 0, load5: 1.5, ..good() };

        assert_eq!(judge(&odd, Limits::default()).0, Health::Healthy);
    }
}

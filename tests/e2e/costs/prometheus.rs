//! The real Prometheus of the local peers scrapes a Berth under test (through the targets file
//! `deploy/peers` points it at); every dashboard panel's query answers there with data; the
//! rules are covered by promtool tests; a node filled past 90 % raises the critical capacity
//! alert in Alertmanager.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_domain::php::SiteKind;
use reqwest::Method;
use serde_json::{json, Value};

use super::fleet::{placed_site, quiet_at, ready_node};
use crate::billing::http::Billing;
use crate::nodes_harness::wait_for;

fn peer(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is unset: eval \"$(deploy/dev env)\" first"))
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// This test's entry in Prometheus's targets file, taken out again when dropped. Other test
/// runs share the file, so entries are added and removed by their label, never overwritten.
struct Target {
    file: PathBuf,
    label: String,
}

impl Target {
    fn add(address: &str, label: &str) -> Self {
        let file = PathBuf::from(peer("BERTH_DEV_PROMETHEUS_TARGETS_FILE"));
        let target = Self { file, label: label.to_owned() };
        target.edit(|list| list.push(json!({"targets": [address], "labels": {"berth_test": label}})));
        target
    }

    fn edit(&self, change: impl FnOnce(&mut Vec<Value>)) {
        let text = std::fs::read_to_string(&self.file).unwrap_or_else(|_| "[]".to_owned());
        let mut list: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
        change(&mut list);
        let next = self.file.with_extension(format!("json.{}", self.label));
        std::fs::write(&next, serde_json::to_vec_pretty(&list).unwrap()).unwrap();
        std::fs::rename(&next, &self.file).unwrap();
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let label = self.label.clone();
        self.edit(|list| list.retain(|t| t["labels"]["berth_test"] != label.as_str()));
    }
}

/// A PromQL instant query against the real Prometheus: its result list, or why it failed.
async fn query(http: &reqwest::Client, expr: &str) -> Result<Vec<Value>, String> {
    let url = format!("{}/api/v1/query", peer("BERTH_DEV_PROMETHEUS_URL"));
    let answer: Value = http
        .get(url)
        .query(&[("query", expr)])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    if answer["status"] != "success" {
        return Err(format!("{expr}: {answer}"));
    }
    Ok(answer["data"]["result"].as_array().cloned().unwrap_or_default())
}

/// Berth on a clock at now with a fleet: a full 2 vCPU node in a region of this test's own, a
/// half-full one, tenants with costs and revenue, and the cost model; scraped by Prometheus.
async fn scraped_fleet(region: &str) -> (Billing, Target, berth_domain::ids::NodeId) {
    // A day ahead, so the reservations made now fall in the last week's growth.
    let now = (time::OffsetDateTime::now_utc() + time::Duration::days(1)).replace_nanosecond(0).unwrap();
    let billing = quiet_at(
        &[
            ("BERTH_SAGAS__USAGE__ENABLED", "true"),
            ("BERTH_SAGAS__USAGE__INTERVAL_SECS", "2"),
            ("BERTH_NODES__SSH_ATTEMPTS", "1"),
            ("BERTH_NODES__SSH_CONNECT_TIMEOUT_SECS", "1"),
        ],
        now,
    )
    .await;
    let full = ready_node(&billing, &format!("{region}-full"), region, (2, 4096, 40), 2_000).await;
    let half = ready_node(&billing, &format!("{region}-half"), region, (4, 8192, 80), 4_000).await;
    let (tenant, _) = billing.register("Scraped").await;
    let store = billing.env.store();
    for _ in 0..4 {
        placed_site(&store, tenant.parse().unwrap(), SiteKind::Wordpress, full).await;
    }
    placed_site(&store, tenant.parse().unwrap(), SiteKind::Php, half).await;
    let model = json!({"currency": "EUR", "storage_gb_month_minor": 4, "bandwidth_gb_minor": 2, "platform_monthly_minor": 5_000,
        "budgets": [{"category": "compute", "amount_minor": 8_000, "threshold_percent": 80}]});
    let (status, answer) =
        billing.send(Method::PUT, "/v1/ops/cost-model", &billing.operator, Some(model)).await;
    assert_eq!(status, 202, "{answer}");
    let address = billing.command.trim_start_matches("http://").to_owned();
    let target = Target::add(&address, region);
    (billing, target, half)
}

#[test]
fn promtool_checks_the_cost_rules_and_their_tests_cover_every_rule() {
    let dir = repo("deploy/prometheus");
    for args in [["check", "rules", "costs.yml"], ["test", "rules", "costs_test.yml"]] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("promtool (deploy/dev setup)");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rules = std::fs::read_to_string(dir.join("costs.yml")).unwrap();
    let tests = std::fs::read_to_string(dir.join("costs_test.yml")).unwrap();
    let names = |prefix: &str| -> Vec<String> {
        rules.lines().filter_map(|l| l.trim().strip_prefix(prefix).map(|n| n.trim().to_owned())).collect()
    };
    let (alerts, records) = (names("- alert:"), names("- record:"));
    assert_eq!(alerts.len(), 7, "{alerts:?}");
    for alert in &alerts {
        assert!(tests.contains(&format!("alertname: {alert}")), "no promtool test for {alert}");
    }
    // A recording rule is tested directly, or through the alerts built on it.
    for record in &records {
        let used = tests.contains(&format!("expr: {record}")) || rules.matches(record.as_str()).count() > 1;
        assert!(used, "no promtool test reaches {record}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_panel_answers_from_the_real_prometheus_scraping_berth() {
    // Arrange: the dashboards hold to the schema they are written in.
    let schema = repo("deploy/grafana/dashboard.schema.json");
    let boards =
        ["cost-analysis.json", "capacity-planning.json"].map(|b| repo(&format!("deploy/grafana/{b}")));
    let check = Command::new("python3")
        .arg("-c")
        .arg(
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             for board in sys.argv[2:]:\n    jsonschema.validate(json.load(open(board)), schema, cls=jsonschema.Draft202012Validator)",
        )
        .arg(&schema)
        .args(&boards)
        .output()
        .expect("python3 with jsonschema");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let region = format!("t{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
    let (billing, _target, _) = scraped_fleet(&region).await;
    let http = reqwest::Client::new();
    // Prometheus has scraped Berth more than once (forecasts need two samples).
    let scraped = format!(
        "count_over_time(berth_capacity_headroom_ratio{{berth_test=\"{region}\",resource=\"cpu\"}}[5m])"
    );
    let scraped = &scraped;
    let http_ref = &http;
    wait_for(Duration::from_secs(60), || async move {
        let result = query(http_ref, scraped).await.ok()?;
        let count: f64 = result.first()?["value"][1].as_str()?.parse().ok()?;
        (count >= 3.0).then_some(())
    })
    .await;
    let storage = format!("berth_storage_bytes{{berth_test=\"{region}\",kind=\"database\"}}");
    let storage = &storage;
    wait_for(Duration::from_secs(60), || async move {
        (!query(http_ref, storage).await.ok()?.is_empty()).then_some(())
    })
    .await;

    // Act and assert: every target of every panel answers without error and with data.
    let mut checked = 0;
    for board in &boards {
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(board).unwrap()).unwrap();
        let panels = dashboard["panels"].as_array().unwrap();
        let ids: std::collections::HashSet<i64> = panels.iter().map(|p| p["id"].as_i64().unwrap()).collect();
        assert_eq!(ids.len(), panels.len(), "panel ids repeat in {board:?}");
        for panel in panels {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap();
                let result = query(&http, expr).await.unwrap_or_else(|e| panic!("{}: {e}", panel["title"]));
                assert!(!result.is_empty(), "{} answers no data: {expr}", panel["title"]);
                checked += 1;
            }
        }
    }
    assert!(checked >= 25, "{checked} queries");
    billing.stop().await;
}

/// The expression after `key` (`- alert: Name` or `- record: name`) in costs.yml.
fn rule_expr(rules: &str, key: &str) -> String {
    let mut lines = rules.lines().skip_while(|l| l.trim() != key).skip(1);
    let line = lines.find(|l| l.trim().starts_with("expr:")).unwrap_or_else(|| panic!("no {key}"));
    line.trim().trim_start_matches("expr:").trim().to_owned()
}

/// Fills the test region's CPU past 90 %: 2250 of 6000 millicores are reserved; seven more
/// WordPress sites on the half-full node make it 4 × 500 + 250 + 7 × 500 = 5750 (95.8 %).
async fn fill_past_90(billing: &Billing, half: berth_domain::ids::NodeId) {
    let store = billing.env.store();
    let (tenant, _) = billing.register("Crowded").await;
    for _ in 0..7 {
        placed_site(&store, tenant.parse().unwrap(), SiteKind::Wordpress, half).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_filled_past_90_percent_meets_the_critical_rule_in_the_real_prometheus() {
    // Arrange
    let rules = std::fs::read_to_string(repo("deploy/prometheus/costs.yml")).unwrap();
    let record = rule_expr(&rules, "- record: berth:capacity_utilization:ratio");
    let critical = rule_expr(&rules, "- alert: BerthCapacityCritical")
        .replace("berth:capacity_utilization:ratio", &format!("({record})"));
    let region = format!("t{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
    let (billing, _target, half) = scraped_fleet(&region).await;
    let http = reqwest::Client::new();
    let (http_ref, critical_ref, region_ref) = (&http, &critical, &region);
    let holds = || async move {
        let result = query(http_ref, critical_ref).await.unwrap();
        result
            .iter()
            .any(|r| r["metric"]["region"] == region_ref.as_str() && r["metric"]["resource"] == "cpu")
    };
    let scraped = format!("berth_capacity_headroom_ratio{{region=\"{region}\",resource=\"cpu\"}}");
    let scraped = &scraped;
    wait_for(Duration::from_secs(60), || async move {
        (!query(http_ref, scraped).await.ok()?.is_empty()).then_some(())
    })
    .await;
    assert!(!holds().await, "37.5 % reserved is not critical");

    // Act
    fill_past_90(&billing, half).await;

    // Assert: the rule's expression, as Prometheus evaluates it, holds for the region's CPU.
    wait_for(Duration::from_secs(60), || async move { holds().await.then_some(()) }).await;
    billing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_filled_past_90_percent_raises_the_critical_capacity_alert_in_alertmanager() {
    // Arrange: the running Prometheus evaluates deploy/prometheus/costs.yml.
    let http = reqwest::Client::new();
    let rules: Value = http
        .get(format!("{}/api/v1/rules", peer("BERTH_DEV_PROMETHEUS_URL")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let loaded = rules["data"]["groups"].as_array().into_iter().flatten().any(|g| g["name"] == "berth-costs");
    assert!(loaded, "the local Prometheus has not loaded deploy/prometheus/costs.yml: run deploy/peers up from a tree holding it");
    let region = format!("t{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
    let (billing, _target, half) = scraped_fleet(&region).await;

    // Act
    fill_past_90(&billing, half).await;

    // Assert: the expression holds in Prometheus, and Alertmanager holds the alert.
    let expr =
        format!("1 - max by (region, resource) (berth_capacity_headroom_ratio{{region=\"{region}\"}}) > 0.9");
    let expr = &expr;
    let http_ref = &http;
    wait_for(Duration::from_secs(60), || async move {
        let result = query(http_ref, expr).await.ok()?;
        result.iter().any(|r| r["metric"]["resource"] == "cpu").then_some(())
    })
    .await;
    let alerts = format!("{}/api/v2/alerts", peer("BERTH_DEV_ALERTMANAGER_URL"));
    let alerts = &alerts;
    let region_ref = &region;
    let alert = wait_for(Duration::from_secs(150), || async move {
        let list: Vec<Value> = http_ref
            .get(alerts)
            .query(&[
                ("filter", "alertname=\"BerthCapacityCritical\"".to_owned()),
                ("filter", format!("region=\"{region_ref}\"")),
            ])
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        list.into_iter().find(|a| a["labels"]["resource"] == "cpu")
    })
    .await;
    assert_eq!(alert["labels"]["severity"], "critical", "{alert}");
    billing.stop().await;
}

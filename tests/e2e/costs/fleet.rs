//! A known fleet — two nodes with their prices, three sites of two tenants, a stored backup,
//! transfer readings, invoices — and the cost, revenue and margin tables computed by hand,
//! in the API and on `/metrics`; bad cost models are problems naming the field.

use berth_domain::allocation::demand;
use berth_domain::backup::{Backup, BackupCommand, BackupKind, BackupTrigger, Manifest, Sha256Hex};
use berth_domain::domain_name::DomainName;
use berth_domain::ids::{BackupId, NodeId, SiteId, TenantId};
use berth_domain::node::{Node, NodeCommand};
use berth_domain::php::{PhpVersion, SiteKind};
use berth_domain::site::SiteCommand;
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::store::EventStore;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use super::harness::{metrics, series};
use crate::billing::http::{line, romanian_company, Billing, BERTH_TOML};
use crate::common::run_site;

/// A host key of the right shape; no node answers at these addresses (node work is off).
const HOST_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEy6pT0v+Cp7B88Qojxfi/N0x7M3EEv7SzlMUCUVneSW";

/// Berth with billing set up and no node work: the fleet is written through commands.
pub async fn quiet(extra: &[(&str, &str)]) -> Billing {
    quiet_at(extra, crate::billing::http::START).await
}

/// What a world without node work runs with.
pub const QUIET: &[(&str, &str)] = &[
    ("BERTH_SAGAS__BOOTSTRAP__ENABLED", "false"),
    ("BERTH_SAGAS__HEALTH__ENABLED", "false"),
    ("BERTH_SAGAS__USAGE__ENABLED", "false"),
    ("BERTH_SAGAS__BACKUPS__ENABLED", "false"),
    ("BERTH_SAGAS__BACKUP_SCHEDULE__ENABLED", "false"),
    ("BERTH_TELEMETRY__COST_CACHE_SECS", "0"),
];

/// Like [`quiet`], the clock at `at`.
pub async fn quiet_at(extra: &[(&str, &str)], at: time::OffsetDateTime) -> Billing {
    let mut vars = QUIET.to_vec();
    vars.extend(extra.iter().copied());
    Billing::start_at(BERTH_TOML, &vars, at).await
}

/// Registers a node in `region` with `vcpus`, `memory_mb`, `disk_gb` at `cost_minor` EUR a
/// month through the API, and marks it ready as a finished bootstrap would.
pub async fn ready_node(
    billing: &Billing,
    name: &str,
    region: &str,
    size: (u32, u64, u64),
    cost_minor: i64,
) -> NodeId {
    static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);
    let address = format!("192.0.2.{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let body = json!({
        "name": name, "address": address, "ssh_port": 22, "ssh_user": "root",
        "host_key": HOST_KEY, "capacity": {"vcpus": size.0, "memory_mb": size.1, "disk_gb": size.2},
        "provider": "test", "region": region, "monthly_cost": {"amount_minor": cost_minor, "currency": "EUR"}
    });
    let (status, registered) = billing.send(Method::POST, "/v1/nodes", &billing.operator, Some(body)).await;
    assert_eq!(status, 202, "{registered}");
    let id: NodeId = registered["id"].as_str().unwrap().parse().unwrap();
    let store = billing.env.store();
    for command in [NodeCommand::RequestBootstrap, NodeCommand::MarkReady { scripts_version: "6".to_owned() }]
    {
        store.execute::<Node>(&id.to_string(), command, &ops(), RetryPolicy::default()).await.unwrap();
    }
    id
}

fn ops() -> CommandMetadata {
    CommandMetadata::new(None, "operator:test")
}

/// A site of `kind` for `tenant`, with its reservation on `node`.
pub async fn placed_site(store: &EventStore, tenant: TenantId, kind: SiteKind, node: NodeId) -> SiteId {
    let id = SiteId::from_uuid(Uuid::now_v7());
    let domain = DomainName::parse(&format!("s{}.example.com", id.as_uuid().simple())).unwrap();
    let php_version = (kind != SiteKind::Static).then_some(PhpVersion::V8_3);
    let command = SiteCommand::Create { site_id: id, tenant_id: tenant, domain, kind, php_version };
    run_site(store, tenant, id, command, RetryPolicy::default()).await.expect("create site");
    let allocate = NodeCommand::Allocate { site_id: id, demand: demand(kind) };
    store.execute::<Node>(&node.to_string(), allocate, &ops(), RetryPolicy::default()).await.unwrap();
    id
}

async fn stored_backup(
    store: &EventStore,
    tenant: TenantId,
    site: SiteId,
    size: u64,
    now: time::OffsetDateTime,
) {
    let backup = BackupId::from_uuid(Uuid::now_v7()).to_string();
    let manifest = Manifest {
        size,
        sha256: Sha256Hex::parse(&"ab".repeat(32)).unwrap(),
        object_key: format!("berth/{tenant}/{backup}"),
        kind: BackupKind::Full,
        parts: 1,
        key_id: Uuid::now_v7(),
    };
    let request = BackupCommand::Request {
        site_id: site,
        tenant_id: tenant,
        kind: BackupKind::Full,
        trigger: BackupTrigger::OnDemand,
        note: None,
        now,
        keep_until: None,
        restore_id: None,
    };
    let taken = BackupCommand::RecordTaken { attempt: 1, manifest, now };
    for command in [request, taken, BackupCommand::RecordVerified { attempt: 1, now }] {
        // Each command its own id: one id twice is a repeat, and appends nothing.
        let meta = CommandMetadata::new(Some(tenant.as_uuid()), "saga:test");
        store.execute::<Backup>(&backup, command, &meta, RetryPolicy::default()).await.unwrap();
    }
}

fn tenant_row<'a>(report: &'a Value, tenant: &str) -> &'a Value {
    report["tenants"].as_array().unwrap().iter().find(|t| t["tenant"] == tenant).unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_fleet_has_the_costs_revenue_and_margins_computed_by_hand() {
    // Arrange: node A (4 vCPU, 8 GiB, 80 GiB) at 40.00 and node B (2, 4, 40) at 20.00 EUR.
    let billing = quiet(&[]).await;
    billing.rate("EUR", "4.9763").await;
    let a = ready_node(&billing, "fleet-a", "fsn1", (4, 8192, 80), 4_000).await;
    let b = ready_node(&billing, "fleet-b", "fsn1", (2, 4096, 40), 2_000).await;
    let store = billing.env.store();
    let (first, first_token) = billing.register("First").await;
    let (second, second_token) = billing.register("Second").await;
    let (t1, t2): (TenantId, TenantId) = (first.parse().unwrap(), second.parse().unwrap());
    // First: a WordPress and a static site on A, and a 2.5 GB backup; second: a PHP site on B.
    let wordpress = placed_site(&store, t1, SiteKind::Wordpress, a).await;
    placed_site(&store, t1, SiteKind::Static, a).await;
    placed_site(&store, t2, SiteKind::Php, b).await;
    stored_backup(&store, t1, wordpress, 2_500_000_000, billing.clock_now()).await;
    // Second transferred 1.5 GB this period; first is invoiced 100.00, second 30.00 net.
    let subscription =
        billing.read("/v1/subscription", &second_token).await["id"].as_str().unwrap().to_owned();
    let reading = json!({"metric": "transfer_gb", "quantity": "1.5", "key": "transfer:2030-09-02"});
    let (status, answer) =
        billing.post(&format!("/v1/subscriptions/{subscription}/usage"), &billing.operator, reading).await;
    assert_eq!(status, 202, "{answer}");
    for (tenant, token, net) in [(&first, &first_token, 10_000), (&second, &second_token, 3_000)] {
        billing.profile(token, romanian_company("EUR")).await;
        let id = billing.draft(tenant, "invoice", "EUR", json!([line("Găzduire", net, "EUR", "1")])).await;
        let (status, answer) = billing.issue(&id, json!({})).await;
        assert_eq!(status, 202, "{answer}");
    }
    // Storage 0.04 a GB-month, transfer 0.02 a GB, overhead 50.00; compute's budget 80.00.
    let model = json!({"currency": "EUR", "storage_gb_month_minor": 4, "bandwidth_gb_minor": 2,
        "platform_monthly_minor": 5_000, "budgets": [{"category": "compute", "amount_minor": 8_000, "threshold_percent": 80}]});
    let (status, answer) =
        billing.send(Method::PUT, "/v1/ops/cost-model", &billing.operator, Some(model)).await;
    assert_eq!(status, 202, "{answer}");

    // Act: the month's tables, once every view holds the fleet.
    // By hand: WordPress on A bears (1/8 + 1/16 + 1/8) / 3 of 40.00 = 4.1667 → 4.17; static on A
    // (1/80 + 1/128 + 1/80) / 3 of 40.00 = 0.4375 → 0.44; PHP on B 5/48 of 20.00 = 2.083 → 2.08.
    // Backup 2.5 GB × 0.04 = 0.10; transfer 1.5 GB × 0.02 = 0.03.
    let report = billing
        .until("/v1/ops/costs?month=2030-09", &billing.operator, "the fleet's tables", |r| {
            r["model_set"] == true
                && r["revenue_minor"] == 13_000
                && tenant_row(r, &first)["storage_minor"] == 10
                && tenant_row(r, &second)["bandwidth_minor"] == 3
                && tenant_row(r, &second)["compute_minor"] == 208
        })
        .await;

    // Assert: per tenant, per category, per plan, in the API.
    let one = tenant_row(&report, &first);
    assert_eq!(
        (one["sites"].as_i64(), one["compute_minor"].as_i64(), one["cost_minor"].as_i64()),
        (Some(2), Some(461), Some(471))
    );
    assert_eq!((one["revenue_minor"].as_i64(), one["margin_minor"].as_i64()), (Some(10_000), Some(9_529)));
    let two = tenant_row(&report, &second);
    assert_eq!((two["cost_minor"].as_i64(), two["margin_minor"].as_i64()), (Some(211), Some(2_789)));
    let categories: Vec<(String, i64)> = report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["category"].as_str().unwrap().to_owned(), c["cost_minor"].as_i64().unwrap()))
        .collect();
    let want = [("compute", 6_000), ("storage", 10), ("bandwidth", 3), ("platform", 5_000)];
    assert_eq!(categories, want.map(|(c, m)| (c.to_owned(), m)));
    assert_eq!(report["total_cost_minor"], 11_013);
    assert_eq!(report["idle_compute_minor"], 6_000 - 461 - 208);
    assert_eq!(report["margin_minor"], 13_000 - 11_013);
    assert_eq!(report["categories"][0]["utilization"], 0.75);
    assert_eq!(
        report["plans"],
        json!([{"plan": "starter", "tenants": 2, "cost_minor": 682, "revenue_minor": 13_000, "margin_minor": 12_318}])
    );

    // And the same on /metrics, in euros.
    let text = metrics(&billing).await;
    let at = |name: &str, labels: &[(&str, &str)]| series(&text, name, labels);
    assert_eq!(at("berth_tenant_cost_monthly", &[("tenant", &first)]), Some(4.71), "{text}");
    assert_eq!(at("berth_tenant_revenue_monthly", &[("tenant", &first)]), Some(100.0));
    assert_eq!(at("berth_tenant_margin_monthly", &[("tenant", &second)]), Some(27.89));
    assert_eq!(at("berth_infrastructure_cost_monthly", &[("category", "compute")]), Some(60.0));
    assert_eq!(at("berth_infrastructure_cost_monthly", &[("category", "platform")]), Some(50.0));
    assert_eq!(at("berth_budget_utilization_ratio", &[("category", "compute")]), Some(0.75));
    let node_a = a.to_string();
    assert_eq!(at("berth_node_capacity", &[("node", &node_a), ("resource", "cpu")]), Some(4.0));
    assert_eq!(
        at("berth_node_allocated", &[("node", &node_a), ("resource", "memory")]),
        Some(576.0 * 1024.0 * 1024.0)
    );
    // Free: A has 3450 of 4000 millicores, B 1750 of 2000: 5200 of 6000.
    assert_eq!(
        at("berth_capacity_headroom_ratio", &[("region", "fsn1"), ("resource", "cpu")]),
        Some(5_200.0 / 6_000.0)
    );
    // The costs view rebuilt from the log equals the live one.
    crate::projections::catch_up(&billing.env).await;
    crate::projections::assert_equals_rebuild(&billing.env).await;
    billing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negative_price_an_unknown_currency_or_a_threshold_beyond_100_is_a_problem_naming_the_field() {
    let billing = quiet(&[]).await;
    let good = json!({"currency": "EUR", "storage_gb_month_minor": 4, "bandwidth_gb_minor": 2, "platform_monthly_minor": 0,
        "budgets": [{"category": "storage", "amount_minor": 100, "threshold_percent": 50}]});
    let cases = [
        ("/storage_gb_month_minor", json!(-1), "storage_gb_month_minor"),
        ("/currency", json!("JPY"), "currency"),
        ("/currency", json!("euro"), "currency"),
        ("/budgets/0/threshold_percent", json!(101), "budgets.0.threshold_percent"),
        ("/budgets/0/threshold_percent", json!(-5), "budgets.0.threshold_percent"),
        ("/budgets/0/amount_minor", json!(-100), "budgets.0.amount_minor"),
        ("/budgets/0/category", json!("coffee"), "budgets.0.category"),
    ];
    for (pointer, value, field) in cases {
        let mut body = good.clone();
        *body.pointer_mut(pointer).unwrap() = value.clone();
        let response = billing
            .http
            .put(format!("{}/v1/ops/cost-model", billing.command))
            .bearer_auth(&billing.operator)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{pointer} = {value}");
        let kind = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert_eq!(kind, "application/problem+json", "{pointer}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["field"], field, "{pointer} = {value}: {problem}");
    }
    // Nothing was written: the model is still unset; a good one is taken.
    let model = billing.read("/v1/ops/cost-model", &billing.operator).await;
    assert_eq!(model["set"], false, "{model}");
    let (status, answer) =
        billing.send(Method::PUT, "/v1/ops/cost-model", &billing.operator, Some(good)).await;
    assert_eq!(status, 202, "{answer}");
    billing.until("/v1/ops/cost-model", &billing.operator, "the model", |m| m["set"] == true).await;
    billing.stop().await;
}

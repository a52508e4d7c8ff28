//! The cost and capacity series of `/metrics`, computed from the views
//! (`berth_projections::costs`) and kept for `telemetry.cost_cache_secs` (60 s), so a scrape
//! costs a copy of a string, not the cost tables; a stale cache is served while one task
//! computes the series again. Labels are ids, never names or emails. Money is in major units of the
//! cost model's currency (minor units / 100).
//!
//! `berth_infrastructure_cost_monthly{category}`, `berth_budget_utilization_ratio{category}`,
//! `berth_budget_monthly{category}`, `berth_budget_threshold_ratio{category}`, `berth_tenant_cost_monthly{tenant}`,
//! `berth_tenant_revenue_monthly{tenant}`, `berth_tenant_margin_monthly{tenant}`,
//! `berth_revenue_monthly`, `berth_node_capacity{node,region,resource}`,
//! `berth_node_allocated{node,region,resource}`, `berth_capacity_headroom_ratio{resource,region}`
//! and `berth_capacity_exhaustion_days{resource,region}` (only where it runs out). CPU is in
//! cores, memory and disk in bytes.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_eventstore::clock::Clock;
use berth_projections::costs::capacity::{capacity, CapacityReport};
use berth_projections::costs::report::{report, CostReport, Month};
use sqlx::PgPool;
use tokio::sync::Mutex;
use uuid::Uuid;

/// The cached cost and capacity series of one process.
pub struct CostGauges {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    cache: Mutex<Option<(Instant, String)>>,
    refreshing: AtomicBool,
}

impl CostGauges {
    /// Series from `pool`'s views, kept `ttl`.
    pub fn new(pool: PgPool, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Self { pool, clock, ttl, cache: Mutex::new(None), refreshing: AtomicBool::new(false) }
    }

    /// The series as text. While the cache is fresh, from it; once it is stale, still from it
    /// while one task computes them again in the background, so no scrape waits for the
    /// tables but a process's first (or every one, with a ttl of 0). A failed computation
    /// keeps what the cache held.
    pub async fn render(self: &Arc<Self>) -> String {
        if self.ttl.is_zero() {
            return self.refresh().await.unwrap_or_default();
        }
        let cached = self.cache.lock().await.clone();
        match cached {
            Some((at, text)) if at.elapsed() < self.ttl => text,
            Some((_, text)) => {
                if !self.refreshing.swap(true, Ordering::AcqRel) {
                    let this = Arc::clone(self);
                    tokio::spawn(async move {
                        this.refresh().await;
                        this.refreshing.store(false, Ordering::Release);
                    });
                }
                text
            }
            None => self.refresh().await.unwrap_or_default(),
        }
    }

    /// Computes the series and caches them; `None` when that failed.
    async fn refresh(&self) -> Option<String> {
        match tokio::time::timeout(Duration::from_secs(10), self.compute()).await {
            Ok(Ok(text)) => {
                *self.cache.lock().await = Some((Instant::now(), text.clone()));
                Some(text)
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot compute the cost and capacity series");
                self.cache.lock().await.as_ref().map(|(_, t)| t.clone())
            }
            Err(_) => {
                tracing::warn!("the cost and capacity series took over 10 s");
                self.cache.lock().await.as_ref().map(|(_, t)| t.clone())
            }
        }
    }

    async fn compute(&self) -> Result<String, sqlx::Error> {
        let now = self.clock.now();
        let mut conn = self.pool.acquire().await?;
        let costs = report(&mut conn, Month::of(now.date())).await?;
        let fleet = capacity(&mut conn, now).await?;
        let nodes: Vec<NodeRow> = sqlx::query_as(
            "SELECT n.id, n.region, n.millicores, n.memory_mb, n.disk_gb,
                    COALESCE(sum(a.millicores), 0)::bigint, COALESCE(sum(a.memory_mb), 0)::bigint,
                    COALESCE(sum(a.disk_gb), 0)::bigint
               FROM proj_nodes.nodes n LEFT JOIN proj_nodes.node_allocations a ON a.node_id = n.id
              WHERE n.state IN ('ready', 'draining') AND NOT n.blocked GROUP BY n.id ORDER BY n.id",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut out = String::with_capacity(256 + costs.tenants.len() * 300 + nodes.len() * 600);
        money(&mut out, &costs);
        nodes_text(&mut out, &nodes);
        headroom(&mut out, &fleet);
        Ok(out)
    }
}

type NodeRow = (Uuid, String, i64, i64, i64, i64, i64, i64);

/// Which amount of a tenant's row a series shows.
type TenantValue = fn(&berth_projections::costs::report::TenantCost) -> i64;

/// A label value as the text format quotes it (a region is an operator's free text).
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

#[expect(clippy::cast_precision_loss, reason = "gauges in major units; amounts stay far below 2^53")]
fn major(minor: i64) -> f64 {
    minor as f64 / 100.0
}

fn money(out: &mut String, costs: &CostReport) {
    header(
        out,
        "berth_infrastructure_cost_monthly",
        "The month's cost per category, in the cost model's currency.",
    );
    for c in &costs.categories {
        let _ = writeln!(
            out,
            "berth_infrastructure_cost_monthly{{category=\"{}\"}} {}",
            c.category,
            major(c.cost_minor)
        );
    }
    header(
        out,
        "berth_budget_utilization_ratio",
        "The month's cost over its category's budget (1 is the whole budget).",
    );
    for c in costs.categories.iter().filter(|c| c.utilization.is_some()) {
        let _ = writeln!(
            out,
            "berth_budget_utilization_ratio{{category=\"{}\"}} {}",
            c.category,
            c.utilization.unwrap_or_default()
        );
    }
    header(out, "berth_budget_monthly", "A category's monthly budget, in the cost model's currency.");
    for c in &costs.categories {
        if let Some(budget) = c.budget_minor {
            let _ = writeln!(out, "berth_budget_monthly{{category=\"{}\"}} {}", c.category, major(budget));
        }
    }
    header(out, "berth_budget_threshold_ratio", "The share of its budget at which a category warns.");
    for c in &costs.categories {
        if let Some(t) = c.threshold_percent {
            let _ = writeln!(
                out,
                "berth_budget_threshold_ratio{{category=\"{}\"}} {}",
                c.category,
                f64::from(t) / 100.0
            );
        }
    }
    header(out, "berth_revenue_monthly", "What the month invoiced, net of VAT, less credit notes.");
    let _ = writeln!(out, "berth_revenue_monthly {}", major(costs.revenue_minor));
    let tenant_series: [(&str, &str, TenantValue); 3] = [
        (
            "berth_tenant_cost_monthly",
            "Each tenant's share of the nodes, its backups and its transfer.",
            |t| t.cost_minor,
        ),
        ("berth_tenant_revenue_monthly", "What each tenant was invoiced in the month, net of VAT.", |t| {
            t.revenue_minor
        }),
        ("berth_tenant_margin_monthly", "Each tenant's revenue less its cost.", |t| t.margin_minor),
    ];
    for (name, help, value) in tenant_series {
        header(out, name, help);
        for t in &costs.tenants {
            let _ = writeln!(out, "{name}{{tenant=\"{}\"}} {}", t.tenant, major(value(t)));
        }
    }
}

#[expect(clippy::cast_precision_loss, reason = "capacities in base units stay far below 2^53")]
fn nodes_text(out: &mut String, nodes: &[NodeRow]) {
    let units = |cpu: i64, mem: i64, disk: i64| {
        [("cpu", cpu as f64 / 1000.0), ("memory", (mem * 1024 * 1024) as f64), ("disk", (disk << 30) as f64)]
    };
    for (name, help, allocated) in [
        ("berth_node_capacity", "What a node has: CPU in cores, memory and disk in bytes.", false),
        (
            "berth_node_allocated",
            "What sites reserved on a node: CPU in cores, memory and disk in bytes.",
            true,
        ),
    ] {
        header(out, name, help);
        for (id, region, cpu, mem, disk, a_cpu, a_mem, a_disk) in nodes {
            let region = escape(region);
            let values = if allocated { units(*a_cpu, *a_mem, *a_disk) } else { units(*cpu, *mem, *disk) };
            for (resource, value) in values {
                let _ = writeln!(
                    out,
                    "{name}{{node=\"{id}\",region=\"{region}\",resource=\"{resource}\"}} {value}"
                );
            }
        }
    }
}

#[expect(clippy::cast_precision_loss, reason = "days to exhaustion, a forecast")]
fn headroom(out: &mut String, fleet: &CapacityReport) {
    header(out, "berth_capacity_headroom_ratio", "The free share of a region's capacity of a resource.");
    for region in &fleet.regions {
        let name = escape(&region.region);
        for r in &region.resources {
            let ratio = berth_domain::cost_model::share::ratio(r.free, r.capacity);
            let _ = writeln!(
                out,
                "berth_capacity_headroom_ratio{{region=\"{name}\",resource=\"{}\"}} {ratio}",
                r.resource
            );
        }
    }
    header(
        out,
        "berth_capacity_exhaustion_days",
        "Days until a region runs out of a resource at its recent growth.",
    );
    let today = fleet.as_of.date();
    for region in &fleet.regions {
        let name = escape(&region.region);
        for r in &region.resources {
            if let Some(day) = r.exhausted_on {
                let days = (day - today).whole_days() as f64;
                let _ = writeln!(
                    out,
                    "berth_capacity_exhaustion_days{{region=\"{name}\",resource=\"{}\"}} {days}",
                    r.resource
                );
            }
        }
    }
}

//! The monthly cost and capacity report: once a month has ended on Berth's clock, its cost,
//! revenue and margin tables (`berth_projections::costs::report`) and the fleet's capacity
//! with its recommendations are mailed to the operators' addresses (`[sagas.cost_report] to`)
//! as a PDF and two CSV files (tenants; capacity). The mail's key is the month
//! (`cost-report:2027-01`), so each month is mailed once whichever process or round gets there
//! first; the worker looks every `interval_secs`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use berth_documents::{PdfRenderer, ReportTable, TableReport};
use berth_eventstore::clock::Clock;
use berth_eventstore::shutdown::pause;
use berth_projections::costs::capacity::{capacity, CapacityReport};
use berth_projections::costs::report::{report, CostReport, Month};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::context::SagaContext;
use crate::mail::{catalog, Attachment, Outbox, OutgoingMail};
use crate::saga::Worker;

/// The report mailer: a worker on its own schedule.
pub struct CostReportMail {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    outbox: Outbox,
    pdf: Arc<Result<PdfRenderer, String>>,
    to: Vec<String>,
    interval: Duration,
}

/// `[sagas.cost_report]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostReportSettings {
    /// Where the report goes (none: no report is mailed).
    pub to: Vec<String>,
    /// Seconds between two looks at the clock.
    pub interval_secs: u64,
}

impl Default for CostReportSettings {
    fn default() -> Self {
        Self { to: Vec::new(), interval_secs: 600 }
    }
}

impl Worker for CostReportMail {
    const NAME: &'static str = "cost_report";
    type Settings = CostReportSettings;

    fn build(context: &SagaContext, settings: &CostReportSettings) -> Self {
        Self {
            pool: context.pool.clone(),
            clock: context.clock.clone(),
            outbox: context.mail.outbox.clone(),
            pdf: context.pdf.clone(),
            to: settings.to.clone(),
            interval: Duration::from_secs(settings.interval_secs.max(1)),
        }
    }

    async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            if !self.to.is_empty() {
                if let Err(error) = self.mail_last_month().await {
                    tracing::warn!(%error, "cannot mail the monthly cost report");
                }
            }
            pause(&shutdown, self.interval).await;
        }
    }
}

/// Why a report could not be mailed this round.
#[derive(Debug, thiserror::Error)]
enum ReportError {
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    #[error("no PDF renderer: {0}")]
    NoRenderer(String),
    #[error(transparent)]
    Pdf(#[from] berth_documents::PdfError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
}

impl CostReportMail {
    async fn mail_last_month(&self) -> Result<(), ReportError> {
        let now = self.clock.now();
        let this_month = Month::of(now.date());
        let month = Month::of(this_month.first.previous_day().unwrap_or(this_month.first));
        let key = format!("cost-report:{}", month.label());
        let queued: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM mail_outbox WHERE key = $1")
            .bind(&key)
            .fetch_optional(&self.pool)
            .await?;
        if queued.is_some() {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        let costs = report(&mut conn, month).await?;
        let fleet = capacity(&mut conn, now).await?;
        drop(conn);
        let renderer = self.pdf.as_ref().as_ref().map_err(|e| ReportError::NoRenderer(e.clone()))?;
        let pdf = renderer.render_tables(&tables(&costs, &fleet))?;
        // One line per region that needs a node; empty when none does.
        let recommendations: Vec<String> = fleet
            .regions
            .iter()
            .filter_map(|r| r.recommendation.as_ref().map(|t| format!("Recommended: {t}.")))
            .collect();
        let label = month.label();
        let mail = OutgoingMail {
            key,
            tenant_id: None,
            to: self.to.clone(),
            template: catalog::COST_REPORT,
            context: json!({
                "month": label,
                "total_cost": amount(costs.total_cost_minor, &costs.currency),
                "revenue": amount(costs.revenue_minor, &costs.currency),
                "margin": amount(costs.margin_minor, &costs.currency),
                "tenants": costs.tenants.len(),
                "recommendations": recommendations.join("\n"),
            }),
            attachments: vec![
                Attachment {
                    filename: format!("costs-{label}.pdf"),
                    content_type: "application/pdf".to_owned(),
                    bytes: pdf,
                },
                Attachment {
                    filename: format!("tenants-{label}.csv"),
                    content_type: "text/csv".to_owned(),
                    bytes: tenants_csv(&costs).into_bytes(),
                },
                Attachment {
                    filename: format!("capacity-{label}.csv"),
                    content_type: "text/csv".to_owned(),
                    bytes: capacity_csv(&fleet).into_bytes(),
                },
            ],
        };
        self.outbox.enqueue(&self.pool, mail).await?;
        Ok(())
    }
}

/// Minor units as `1234.56 EUR`.
fn amount(minor: i64, currency: &str) -> String {
    format!("{} {currency}", decimal(minor))
}

/// Minor units as `1234.56` (`-0.05` below zero).
fn decimal(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.unsigned_abs() / 100, minor.unsigned_abs() % 100)
}

/// One row per tenant: `tenant,plan,sites,compute,storage,bandwidth,cost,revenue,margin`, in
/// the model's currency with two decimals.
pub fn tenants_csv(costs: &CostReport) -> String {
    let mut out = String::from("tenant,plan,sites,compute,storage,bandwidth,cost,revenue,margin\n");
    for t in &costs.tenants {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            t.tenant,
            t.plan.as_deref().unwrap_or(""),
            t.sites,
            decimal(t.compute_minor),
            decimal(t.storage_minor),
            decimal(t.bandwidth_minor),
            decimal(t.cost_minor),
            decimal(t.revenue_minor),
            decimal(t.margin_minor)
        );
    }
    out
}

/// One row per region and resource: `region,resource,unit,capacity,allocated,free,
/// growth_per_day_7d,exhausted_on`.
pub fn capacity_csv(fleet: &CapacityReport) -> String {
    let mut out =
        String::from("region,resource,unit,capacity,allocated,free,growth_per_day_7d,exhausted_on\n");
    for region in &fleet.regions {
        for r in &region.resources {
            let day = r.exhausted_on.map(|d| d.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{:.2},{day}",
                region.region, r.resource, r.unit, r.capacity, r.allocated, r.free, r.growth_per_day_7d
            );
        }
    }
    out
}

fn tables(costs: &CostReport, fleet: &CapacityReport) -> TableReport {
    let cell = |minor: i64| decimal(minor);
    let columns = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let categories = ReportTable {
        title: "Cost by category".to_owned(),
        columns: columns(&["category", "cost", "budget", "used"]),
        rows: costs
            .categories
            .iter()
            .map(|c| {
                vec![
                    c.category.clone(),
                    cell(c.cost_minor),
                    c.budget_minor.map(cell).unwrap_or_default(),
                    c.utilization.map(|u| format!("{:.0} %", u * 100.0)).unwrap_or_default(),
                ]
            })
            .collect(),
    };
    let plans = ReportTable {
        title: "Margin by plan".to_owned(),
        columns: columns(&["plan", "tenants", "cost", "revenue", "margin"]),
        rows: costs
            .plans
            .iter()
            .map(|p| {
                vec![
                    p.plan.clone(),
                    p.tenants.to_string(),
                    cell(p.cost_minor),
                    cell(p.revenue_minor),
                    cell(p.margin_minor),
                ]
            })
            .collect(),
    };
    let tenants = ReportTable {
        title: "Cost and margin per tenant".to_owned(),
        columns: columns(&["tenant", "sites", "cost", "revenue", "margin"]),
        rows: costs
            .tenants
            .iter()
            .map(|t| {
                vec![
                    t.tenant.to_string(),
                    t.sites.to_string(),
                    cell(t.cost_minor),
                    cell(t.revenue_minor),
                    cell(t.margin_minor),
                ]
            })
            .collect(),
    };
    let capacity = ReportTable {
        title: "Capacity".to_owned(),
        columns: columns(&["region / resource", "capacity", "allocated", "free", "runs out"]),
        rows: fleet
            .regions
            .iter()
            .flat_map(|region| {
                region.resources.iter().map(move |r| {
                    vec![
                        format!("{} {} ({})", region.region, r.resource, r.unit),
                        r.capacity.to_string(),
                        r.allocated.to_string(),
                        r.free.to_string(),
                        r.exhausted_on.map(|d| d.to_string()).unwrap_or_else(|| "—".to_owned()),
                    ]
                })
            })
            .collect(),
    };
    let mut lines = vec![
        format!(
            "Total cost {}, revenue {}, margin {} ({} idle compute).",
            amount(costs.total_cost_minor, &costs.currency),
            amount(costs.revenue_minor, &costs.currency),
            amount(costs.margin_minor, &costs.currency),
            amount(costs.idle_compute_minor, &costs.currency)
        ),
        format!("Capacity as of {}.", fleet.as_of.date()),
    ];
    lines.extend(
        fleet.regions.iter().filter_map(|r| r.recommendation.as_ref().map(|t| format!("Recommended: {t}."))),
    );
    TableReport {
        title: format!("Berth cost and capacity report, {}", costs.month),
        lines,
        tables: vec![categories, plans, tenants, capacity],
    }
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn amounts_read_as_decimals() {
        assert_eq!(decimal(123_456), "1234.56");
        assert_eq!(decimal(5), "0.05");
        assert_eq!(decimal(-5), "-0.05");
        assert_eq!(decimal(-12_345), "-123.45");
    }
}

//! The cost, revenue and margin tables of a month, from the views: the cost model, the nodes
//! and their reservations, stored backups, transfer readings and issued documents.
//!
//! Costs are the month's run rate as the fleet stands when asked (nodes, reservations and
//! stored backups are current state); revenue is what was invoiced in the month, net of VAT,
//! less credit notes, in the model's currency; transfer is what the readings of billing periods
//! overlapping the month hold. A site bears its share of its node ([`share::site_share`]); what
//! no reservation covers is the platform's idle compute, and the overhead is the platform's.

use std::collections::BTreeMap;

use berth_domain::allocation::Resources;
use berth_domain::cost_model::share::{bandwidth_cost, ratio, site_share, storage_cost};
use berth_domain::cost_model::{CostCategory, CostTerms};
use berth_domain::money::Currency;
use serde::Serialize;
use sqlx::PgConnection;
use time::{Date, Month as CalendarMonth};
use uuid::Uuid;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    /// Its first day.
    pub first: Date,
    /// Its last day.
    pub last: Date,
}

impl Month {
    /// The month holding `day`.
    pub fn of(day: Date) -> Self {
        let first = day.replace_day(1).unwrap_or(day);
        let last = first.replace_day(day.month().length(day.year())).unwrap_or(day);
        Self { first, last }
    }

    /// Reads `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Self> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let month = CalendarMonth::try_from(month.parse::<u8>().ok()?).ok()?;
        let day = Date::from_calendar_date(year.parse().ok()?, month, 1).ok()?;
        Some(Self::of(day))
    }

    /// `YYYY-MM`.
    pub fn label(&self) -> String {
        format!("{:04}-{:02}", self.first.year(), u8::from(self.first.month()))
    }
}

/// One category's monthly cost against its budget.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct CategoryCost {
    /// `compute`, `storage`, `bandwidth` or `platform`.
    pub category: String,
    /// The month's cost, minor units.
    pub cost_minor: i64,
    /// Its budget, if one is set.
    pub budget_minor: Option<i64>,
    /// The budget's alert threshold in percent, if one is set.
    pub threshold_percent: Option<u8>,
    /// Cost over budget (1.0 is the whole budget), if one is set.
    pub utilization: Option<f64>,
}

/// One tenant's cost, revenue and margin.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct TenantCost {
    /// The tenant.
    pub tenant: Uuid,
    /// Its plan's code, if it has a subscription.
    pub plan: Option<String>,
    /// The sites holding a reservation.
    pub sites: i64,
    /// Its sites' shares of their nodes.
    pub compute_minor: i64,
    /// Its stored backups' bytes.
    pub backup_bytes: i64,
    /// What they cost.
    pub storage_minor: i64,
    /// Thousandths of a GB transferred.
    pub transfer_thousandths: i64,
    /// What that cost.
    pub bandwidth_minor: i64,
    /// Everything together.
    pub cost_minor: i64,
    /// What it was invoiced in the month, net of VAT, less credit notes.
    pub revenue_minor: i64,
    /// Revenue less cost.
    pub margin_minor: i64,
}

/// One plan's tenants together.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PlanMargin {
    /// The plan's code (`none`: tenants without a subscription).
    pub plan: String,
    /// How many tenants.
    pub tenants: i64,
    /// Their cost.
    pub cost_minor: i64,
    /// Their revenue.
    pub revenue_minor: i64,
    /// Revenue less cost.
    pub margin_minor: i64,
}

/// The month's tables.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct CostReport {
    /// `YYYY-MM`.
    pub month: String,
    /// The currency of every amount.
    pub currency: String,
    /// Whether a cost model is set (without one, only the nodes' prices count).
    pub model_set: bool,
    /// Every category.
    pub categories: Vec<CategoryCost>,
    /// All categories together.
    pub total_cost_minor: i64,
    /// The part of the nodes' prices no reservation covers.
    pub idle_compute_minor: i64,
    /// All revenue of the month.
    pub revenue_minor: i64,
    /// Revenue less every cost.
    pub margin_minor: i64,
    /// Per tenant, by id.
    pub tenants: Vec<TenantCost>,
    /// Per plan, by code.
    pub plans: Vec<PlanMargin>,
}

/// The model in force, if one was set.
pub async fn terms(conn: &mut PgConnection) -> Result<Option<CostTerms>, sqlx::Error> {
    let row: Option<(serde_json::Value,)> =
        sqlx::query_as("SELECT terms FROM proj_costs.model ORDER BY id LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|(terms,)| serde_json::from_value(terms).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .transpose()
}

type AllocationRow = (Uuid, Option<Uuid>, i64, i64, i64, i64, i64, i64, i64);

/// The tables of `month`.
pub async fn report(conn: &mut PgConnection, month: Month) -> Result<CostReport, sqlx::Error> {
    let model = terms(conn).await?;
    let currency = model.as_ref().map_or_else(|| Currency::parse("EUR").ok(), |m| Some(m.currency()));
    let currency = currency.map(|c| c.as_str().to_owned()).unwrap_or_default();
    let (storage_price, bandwidth_price, overhead) = model.as_ref().map_or((0, 0, 0), |m| {
        (m.storage_gb_month_minor(), m.bandwidth_gb_minor(), m.platform_monthly_minor())
    });

    let (node_costs,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(sum(cost_minor), 0)::bigint FROM proj_nodes.nodes WHERE state <> 'decommissioned'",
    )
    .fetch_one(&mut *conn)
    .await?;
    let allocations: Vec<AllocationRow> = sqlx::query_as(
        "SELECT a.site_id, s.tenant, n.cost_minor, n.millicores, n.memory_mb, n.disk_gb, a.millicores, a.memory_mb, a.disk_gb
           FROM proj_nodes.node_allocations a
           JOIN proj_nodes.nodes n ON n.id = a.node_id AND n.state <> 'decommissioned'
           LEFT JOIN proj_costs.sites s ON s.site_id = a.site_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let backups: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT tenant, sum(size_bytes)::bigint FROM proj_costs.backups WHERE stored GROUP BY tenant",
    )
    .fetch_all(&mut *conn)
    .await?;
    let transfer: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT tenant, sum(thousandths)::bigint FROM proj_usage.all_meters
          WHERE metric = 'transfer_gb' AND period_start <= $2 AND period_end >= $1 GROUP BY tenant",
    )
    .bind(month.first)
    .bind(month.last)
    .fetch_all(&mut *conn)
    .await?;
    let revenue: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT tenant, sum(CASE kind WHEN 'credit_note' THEN -net_minor ELSE net_minor END)::bigint
           FROM proj_all_invoices.invoices
          WHERE kind IN ('invoice', 'credit_note') AND issue_date BETWEEN $1 AND $2 AND currency = $3
            AND net_minor IS NOT NULL AND status NOT IN ('draft', 'discarded')
          GROUP BY tenant",
    )
    .bind(month.first)
    .bind(month.last)
    .bind(&currency)
    .fetch_all(&mut *conn)
    .await?;
    let plans: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (tenant) tenant, plan_code FROM proj_revenue.subscription_revenue
          WHERE tenant IS NOT NULL ORDER BY tenant, (status = 'ended'), updated_at DESC",
    )
    .fetch_all(&mut *conn)
    .await?;

    let mut tenants: BTreeMap<Uuid, TenantCost> = BTreeMap::new();
    let blank = |tenant| TenantCost {
        tenant,
        plan: None,
        sites: 0,
        compute_minor: 0,
        backup_bytes: 0,
        storage_minor: 0,
        transfer_thousandths: 0,
        bandwidth_minor: 0,
        cost_minor: 0,
        revenue_minor: 0,
        margin_minor: 0,
    };
    let resources = |m: i64, mem: i64, d: i64| Resources {
        millicores: u64::try_from(m).unwrap_or(0),
        memory_mb: u64::try_from(mem).unwrap_or(0),
        disk_gb: u64::try_from(d).unwrap_or(0),
    };
    let mut covered = 0;
    for (_, tenant, cost, nm, nmem, nd, sm, smem, sd) in allocations {
        let share = site_share(cost, resources(nm, nmem, nd), resources(sm, smem, sd));
        covered += share;
        if let Some(tenant) = tenant {
            let row = tenants.entry(tenant).or_insert_with(|| blank(tenant));
            row.sites += 1;
            row.compute_minor += share;
        }
    }
    let mut stored_total: i64 = 0;
    for (tenant, bytes) in backups {
        stored_total += bytes;
        let row = tenants.entry(tenant).or_insert_with(|| blank(tenant));
        row.backup_bytes = bytes;
        row.storage_minor = storage_cost(u64::try_from(bytes).unwrap_or(0), storage_price);
    }
    let mut transfer_total: i64 = 0;
    for (tenant, thousandths) in transfer {
        transfer_total += thousandths;
        let row = tenants.entry(tenant).or_insert_with(|| blank(tenant));
        row.transfer_thousandths = thousandths;
        row.bandwidth_minor = bandwidth_cost(thousandths, bandwidth_price);
    }
    for (tenant, net) in revenue {
        tenants.entry(tenant).or_insert_with(|| blank(tenant)).revenue_minor = net;
    }
    for (tenant, plan) in plans {
        if let Some(row) = tenants.get_mut(&tenant) {
            row.plan = Some(plan);
        }
    }
    let mut by_plan: BTreeMap<String, PlanMargin> = BTreeMap::new();
    for row in tenants.values_mut() {
        row.cost_minor = row.compute_minor + row.storage_minor + row.bandwidth_minor;
        row.margin_minor = row.revenue_minor - row.cost_minor;
        let plan = row.plan.clone().unwrap_or_else(|| "none".to_owned());
        let entry = by_plan.entry(plan.clone()).or_insert(PlanMargin {
            plan,
            tenants: 0,
            cost_minor: 0,
            revenue_minor: 0,
            margin_minor: 0,
        });
        entry.tenants += 1;
        entry.cost_minor += row.cost_minor;
        entry.revenue_minor += row.revenue_minor;
        entry.margin_minor += row.margin_minor;
    }

    let amounts = [
        (CostCategory::Compute, node_costs),
        (CostCategory::Storage, storage_cost(u64::try_from(stored_total).unwrap_or(0), storage_price)),
        (CostCategory::Bandwidth, bandwidth_cost(transfer_total, bandwidth_price)),
        (CostCategory::Platform, overhead),
    ];
    let categories: Vec<CategoryCost> = amounts
        .into_iter()
        .map(|(category, cost_minor)| {
            let budget =
                model.as_ref().and_then(|m| m.budgets().iter().find(|b| b.category == category).copied());
            CategoryCost {
                category: category.as_str().to_owned(),
                cost_minor,
                budget_minor: budget.map(|b| b.amount_minor),
                threshold_percent: budget.map(|b| b.threshold_percent),
                utilization: budget.map(|b| ratio(cost_minor, b.amount_minor)),
            }
        })
        .collect();
    let total_cost_minor: i64 = categories.iter().map(|c| c.cost_minor).sum();
    let revenue_minor: i64 = tenants.values().map(|t| t.revenue_minor).sum();
    Ok(CostReport {
        month: month.label(),
        currency,
        model_set: model.is_some(),
        categories,
        total_cost_minor,
        idle_compute_minor: node_costs - covered,
        revenue_minor,
        margin_minor: revenue_minor - total_cost_minor,
        tenants: tenants.into_values().collect(),
        plans: by_plan.into_values().collect(),
    })
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::Month;

    #[test]
    fn months_read_as_their_first_and_last_days() {
        let february = Month::parse("2028-02").unwrap();
        assert_eq!((february.first, february.last), (date!(2028 - 02 - 01), date!(2028 - 02 - 29)));
        assert_eq!(february.label(), "2028-02");
        for bad in ["2028-13", "2028-2", "28-02", "2028/02", "", "2028-00"] {
            assert!(Month::parse(bad).is_none(), "{bad}");
        }
    }
}

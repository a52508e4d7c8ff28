//! The fleet's capacity per region and resource: what the nodes have, what sites reserved,
//! what is free, how fast reservations grew over the last 7 and 30 days (from the
//! reservations' history in the log) and the day the free capacity runs out at the 7-day rate
//! (the 30-day one when the last week saw no growth), with a recommendation where a region
//! runs out within [`HORIZON_DAYS`] or is above 80 % of any resource.
//!
//! Counted are nodes that are ready or draining and not blocked; free capacity is on ready
//! nodes only, since a draining node takes no new sites.

use std::collections::BTreeMap;

use berth_domain::capacity::{exhaustion, rate_per_day, Change};
use serde::Serialize;
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};

/// How far ahead a region's running out calls for a new node.
pub const HORIZON_DAYS: i64 = 90;

/// The utilization above which a region calls for a new node whatever its growth.
pub const CROWDED: f64 = 0.8;

/// One resource of one region.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ResourceCapacity {
    /// `cpu`, `memory` or `disk`.
    pub resource: String,
    /// `millicores`, `MiB` or `GiB`.
    pub unit: String,
    /// What the nodes have.
    pub capacity: i64,
    /// What sites reserved.
    pub allocated: i64,
    /// What ready nodes still have.
    pub free: i64,
    /// Allocated over capacity.
    pub utilization: f64,
    /// Net reserved per day over the last 7 days.
    pub growth_per_day_7d: f64,
    /// Net reserved per day over the last 30 days.
    pub growth_per_day_30d: f64,
    /// The day the free capacity runs out at that rate (none: it does not).
    #[serde(with = "iso_date::option")]
    #[schema(value_type = Option<String>, format = Date)]
    pub exhausted_on: Option<Date>,
}

/// One region.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RegionCapacity {
    /// The region, as nodes were registered with it.
    pub region: String,
    /// The nodes counted.
    pub nodes: i64,
    /// CPU, memory and disk.
    pub resources: Vec<ResourceCapacity>,
    /// What to do, if anything ("add one node of 4 vCPU / 8 GB in fsn1 before 2027-01-14").
    pub recommendation: Option<String>,
}

/// The fleet's capacity, as of a day.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct CapacityReport {
    /// When it was computed.
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    /// Per region, by name.
    pub regions: Vec<RegionCapacity>,
}

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

const RESOURCES: [(&str, &str); 3] = [("cpu", "millicores"), ("memory", "MiB"), ("disk", "GiB")];

type NodeRow = (String, bool, i64, i64, i64, i64, i64, i64);

/// The capacity report at `now`.
pub async fn capacity(conn: &mut PgConnection, now: OffsetDateTime) -> Result<CapacityReport, sqlx::Error> {
    let nodes: Vec<NodeRow> = sqlx::query_as(
        "SELECT n.region, n.state = 'ready', n.millicores, n.memory_mb, n.disk_gb,
                COALESCE(sum(a.millicores), 0)::bigint, COALESCE(sum(a.memory_mb), 0)::bigint, COALESCE(sum(a.disk_gb), 0)::bigint
           FROM proj_nodes.nodes n LEFT JOIN proj_nodes.node_allocations a ON a.node_id = n.id
          WHERE n.state IN ('ready', 'draining') AND NOT n.blocked
          GROUP BY n.id ORDER BY n.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let history: Vec<(String, OffsetDateTime, i64, i64, i64)> = sqlx::query_as(
        "SELECT n.region, r.at, r.millicores, r.memory_mb, r.disk_gb
           FROM proj_costs.reservations r JOIN proj_nodes.nodes n ON n.id = r.node_id
          WHERE r.at > $1 - interval '30 days'",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;

    #[derive(Default)]
    struct Sums {
        nodes: i64,
        capacity: [i64; 3],
        allocated: [i64; 3],
        free: [i64; 3],
        sizes: BTreeMap<(i64, i64), i64>,
        history: [Vec<Change>; 3],
    }
    let mut regions: BTreeMap<String, Sums> = BTreeMap::new();
    for (region, ready, cpu, mem, disk, a_cpu, a_mem, a_disk) in nodes {
        let sums = regions.entry(region).or_default();
        sums.nodes += 1;
        *sums.sizes.entry((cpu, mem)).or_default() += 1;
        for (i, (total, used)) in [(cpu, a_cpu), (mem, a_mem), (disk, a_disk)].into_iter().enumerate() {
            sums.capacity[i] += total;
            sums.allocated[i] += used;
            if ready {
                sums.free[i] += (total - used).max(0);
            }
        }
    }
    for (region, at, cpu, mem, disk) in history {
        if let Some(sums) = regions.get_mut(&region) {
            for (i, amount) in [cpu, mem, disk].into_iter().enumerate() {
                sums.history[i].push(Change { at, amount });
            }
        }
    }
    let today = now.date();
    let regions = regions
        .into_iter()
        .map(|(region, sums)| {
            let resources: Vec<ResourceCapacity> = RESOURCES
                .iter()
                .enumerate()
                .map(|(i, (name, unit))| {
                    let week = rate_per_day(&sums.history[i], now, 7);
                    let month = rate_per_day(&sums.history[i], now, 30);
                    let rate = if week > 0.0 { week } else { month };
                    ResourceCapacity {
                        resource: (*name).to_owned(),
                        unit: (*unit).to_owned(),
                        capacity: sums.capacity[i],
                        allocated: sums.allocated[i],
                        free: sums.free[i],
                        utilization: berth_domain::cost_model::share::ratio(
                            sums.allocated[i],
                            sums.capacity[i],
                        ),
                        growth_per_day_7d: week,
                        growth_per_day_30d: month,
                        exhausted_on: exhaustion(sums.free[i], rate, today),
                    }
                })
                .collect();
            // The region's most common node size (the larger on a tie) is what to add more of.
            let size = sums.sizes.iter().max_by_key(|(size, count)| (**count, **size)).map(|(size, _)| *size);
            let recommendation = recommend(&region, size, &resources, today);
            RegionCapacity { region, nodes: sums.nodes, resources, recommendation }
        })
        .collect();
    Ok(CapacityReport { as_of: now, regions })
}

/// "add one node of 4 vCPU / 8 GB in fsn1 before 2027-01-14" when the region runs out within
/// the horizon (before the first day a resource runs out) or is crowded (before today).
fn recommend(
    region: &str,
    size: Option<(i64, i64)>,
    resources: &[ResourceCapacity],
    today: Date,
) -> Option<String> {
    let (millicores, memory_mb) = size?;
    let horizon = today + time::Duration::days(HORIZON_DAYS);
    let runs_out = resources.iter().filter_map(|r| r.exhausted_on).filter(|d| *d <= horizon).min();
    let crowded = resources.iter().any(|r| r.utilization > CROWDED);
    let before = match (runs_out, crowded) {
        (Some(day), _) => day,
        (None, true) => today,
        (None, false) => return None,
    };
    let vcpus = millicores / 1000;
    let gb = memory_mb / 1024;
    Some(format!("add one node of {vcpus} vCPU / {gb} GB in {region} before {before}"))
}

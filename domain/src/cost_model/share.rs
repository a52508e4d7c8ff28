//! How costs are shared out: a site bears the part of its node's monthly price that its
//! reservation is of the node, averaged over CPU, memory and disk (a node's unreserved part is
//! the platform's idle cost, borne by no tenant); backups cost their stored bytes times the
//! price per GB-month; transfer its GB times the price per GB. Every amount is rounded half up
//! to a minor unit, once, where it is computed.

use crate::allocation::Resources;

/// `numerator / denominator` rounded half up (both non-negative, denominator positive).
fn round_half_up(numerator: i128, denominator: i128) -> i64 {
    let rounded = (numerator * 2 + denominator) / (denominator * 2);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// The site's share of its node's monthly price: the price times the mean of its shares of
/// the node's CPU, memory and disk. A node without capacity in a dimension leaves it out.
pub fn site_share(node_cost_minor: i64, node: Resources, site: Resources) -> i64 {
    let dims =
        [(site.millicores, node.millicores), (site.memory_mb, node.memory_mb), (site.disk_gb, node.disk_gb)];
    let dims: Vec<(u64, u64)> = dims.into_iter().filter(|(_, total)| *total > 0).collect();
    if dims.is_empty() || node_cost_minor <= 0 {
        return 0;
    }
    // Σ site_i / total_i over a common denominator Π total_i.
    let product: i128 = dims.iter().map(|(_, t)| i128::from(*t)).product();
    let sum: i128 = dims.iter().map(|(s, t)| i128::from(*s) * (product / i128::from(*t))).sum();
    let count = i128::try_from(dims.len()).unwrap_or(1);
    round_half_up(i128::from(node_cost_minor) * sum, product * count)
}

/// What `bytes` of backups cost in a month at `price_gb_month_minor` per GB (10^9 bytes).
pub fn storage_cost(bytes: u64, price_gb_month_minor: i64) -> i64 {
    round_half_up(i128::from(bytes) * i128::from(price_gb_month_minor.max(0)), 1_000_000_000)
}

/// What `thousandths` of a GB transferred cost at `price_gb_minor` per GB.
pub fn bandwidth_cost(thousandths: i64, price_gb_minor: i64) -> i64 {
    round_half_up(i128::from(thousandths.max(0)) * i128::from(price_gb_minor.max(0)), 1000)
}

/// `part` of `whole` as a ratio (0 when `whole` is 0).
#[expect(clippy::cast_precision_loss, reason = "a ratio for gauges, not money")]
pub fn ratio(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

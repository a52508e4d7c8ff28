//! `/metrics` with the cost and capacity series over a large fleet: tenants, sites, nodes,
//! reservations, backups, revenue and transfer seeded straight into the views, then scraped
//! with the series computed at every scrape (`telemetry.cost_cache_secs = 0`: the cost of
//! computing them) and with the default 60 s cache (what a scrape costs in production).

use std::time::{Duration, Instant};

use berth_domain::cost_model::{CostCategory, CostTerms};
use berth_domain::money::Currency;

use super::quantile_ms;
use super::world::{Server, World};

/// What the scrapes measured.
pub struct Scrapes {
    /// The median scrape.
    pub p50_ms: f64,
    /// The 99th percentile.
    pub p99_ms: f64,
    /// The body's size.
    pub bytes: usize,
}

/// Seeds `tenants` tenants with `per` sites each on `tenants * per / 100` nodes (a hundred
/// WordPress sites each), a stored backup, an invoice and a transfer reading per tenant.
pub async fn seed(world: &World, tenants: i64, per: i64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ready,): (bool,) = sqlx::query_as(
            "SELECT to_regclass('proj_costs.model') IS NOT NULL AND to_regclass('proj_usage.all_meters') IS NOT NULL
                AND to_regclass('proj_all_invoices.invoices') IS NOT NULL AND to_regclass('proj_revenue.subscription_revenue') IS NOT NULL",
        )
        .fetch_one(&world.pool)
        .await?;
        if ready {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the views were not created within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let nodes = (tenants * per / 100).max(1);
    let terms = CostTerms::new(
        Currency::parse("EUR")?,
        4,
        2,
        50_000,
        vec![(CostCategory::Compute, 10_000_000, 80), (CostCategory::Storage, 100_000, 80)],
    )?;
    let statements: [(&str, &[i64]); 8] = [
        (
            "INSERT INTO proj_nodes.nodes (id, name, address, ssh_port, ssh_user, host_key, key_id, provider, region,
                 cost_minor, currency, millicores, memory_mb, disk_gb, state, version, created_at, updated_at)
             SELECT md5('node' || n)::uuid, 'bench-' || n, '10.99.' || (n / 250) || '.' || (n % 250), 22, 'root', 'ssh-ed25519 AAAA',
                    gen_random_uuid(), 'bench', 'r' || (n % 4), 20000, 'EUR', 64000, 65536, 1200, 'ready', 2, now(), now()
               FROM generate_series(1, $1) n",
            &[nodes],
        ),
        (
            "INSERT INTO proj_nodes.node_allocations (node_id, site_id, millicores, memory_mb, disk_gb)
             SELECT md5('node' || (((t * $2 + s) % $3) + 1))::uuid, md5('site' || t || '-' || s)::uuid, 500, 512, 10
               FROM generate_series(1, $1) t, generate_series(1, $2) s",
            &[tenants, per, nodes],
        ),
        (
            "INSERT INTO proj_costs.sites (site_id, tenant, kind, created_at)
             SELECT md5('site' || t || '-' || s)::uuid, md5('tenant' || t)::uuid, 'wordpress', now() - (random() * interval '30 days')
               FROM generate_series(1, $1) t, generate_series(1, $2) s",
            &[tenants, per],
        ),
        (
            "INSERT INTO proj_costs.reservations (node_id, sequence, site_id, at, millicores, memory_mb, disk_gb)
             SELECT md5('node' || (((t * $2 + s) % $3) + 1))::uuid, t * $2 + s, md5('site' || t || '-' || s)::uuid,
                    now() - (random() * interval '30 days'), 500, 512, 10
               FROM generate_series(1, $1) t, generate_series(1, $2) s",
            &[tenants, per, nodes],
        ),
        (
            "INSERT INTO proj_costs.backups (backup_id, tenant, size_bytes, stored)
             SELECT md5('backup' || t)::uuid, md5('tenant' || t)::uuid, 1000000000, true FROM generate_series(1, $1) t",
            &[tenants],
        ),
        (
            "INSERT INTO proj_revenue.subscription_revenue (subscription_id, tenant, plan_code, currency, period, status, mrr_minor, version, updated_at)
             SELECT md5('sub' || t)::uuid, md5('tenant' || t)::uuid, 'pro', 'EUR', 'month', 'active', 2900, 1, now()
               FROM generate_series(1, $1) t",
            &[tenants],
        ),
        (
            "INSERT INTO proj_all_invoices.invoices (id, tenant, kind, status, currency, lines, issue_date, net_minor, version, created_at, updated_at)
             SELECT md5('invoice' || t)::uuid, md5('tenant' || t)::uuid, 'invoice', 'issued', 'EUR', 1, current_date, 2900, 2, now(), now()
               FROM generate_series(1, $1) t",
            &[tenants],
        ),
        (
            "INSERT INTO proj_usage.all_meters (subscription_id, tenant, period_start, period_end, metric, thousandths)
             SELECT md5('sub' || t)::uuid, md5('tenant' || t)::uuid, date_trunc('month', now())::date,
                    (date_trunc('month', now()) + interval '1 month - 1 day')::date, 'transfer_gb', 1500
               FROM generate_series(1, $1) t",
            &[tenants],
        ),
    ];
    for (sql, binds) in statements {
        let mut query = sqlx::query(sql);
        for value in binds {
            query = query.bind(*value);
        }
        query.execute(&world.pool).await?;
    }
    sqlx::query(
        "INSERT INTO proj_costs.model (id, terms, version, updated_at) VALUES ('platform', $1, 1, now())",
    )
    .bind(serde_json::to_value(&terms)?)
    .execute(&world.pool)
    .await?;
    for table in
        ["proj_nodes.nodes", "proj_nodes.node_allocations", "proj_costs.sites", "proj_costs.reservations"]
    {
        sqlx::query(&format!("ANALYZE {table}")).execute(&world.pool).await?;
    }
    Ok(())
}

/// `count` scrapes of the server's `/metrics`, one after another.
pub async fn scrape(server: &Server, count: usize) -> anyhow::Result<Scrapes> {
    let url = format!("{}/metrics", server.command);
    let mut latencies = Vec::with_capacity(count);
    let mut bytes = 0;
    for _ in 0..count {
        let begun = Instant::now();
        let body = server.http.get(&url).send().await?.error_for_status()?.bytes().await?;
        latencies.push(begun.elapsed());
        bytes = body.len();
        anyhow::ensure!(
            std::str::from_utf8(&body).is_ok_and(|t| t.contains("berth_tenant_margin_monthly{")),
            "/metrics holds no cost series"
        );
    }
    Ok(Scrapes { p50_ms: quantile_ms(&mut latencies, 0.5), p99_ms: quantile_ms(&mut latencies, 0.99), bytes })
}

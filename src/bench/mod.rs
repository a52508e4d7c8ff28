//! `berth bench`: Berth measured against the engines it stands on, side by side in one run.
//!
//! An absolute figure on a shared machine says little, so every figure is printed with its
//! ratio to the matching limit measured in the same run: raw single-row insert transactions
//! into a table shaped like `events`, and raw acknowledged JetStream publishes. Everything runs
//! on loopback in a database and streams of its own, created at the start and dropped at the
//! end; every phase is bounded in time. `--quick` uses smaller counts and shorter windows.

mod audit;
mod billing_run;
mod costs;
mod invoices;
mod limits;
mod load;
mod peer;
mod pipeline;
mod profile;
mod queries;
mod scale;
mod timers;
mod world;

use std::time::Duration;

use crate::settings::Settings;
use world::World;

/// How big a run is.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// How long each throughput window lasts.
    pub window: Duration,
    /// JetStream publishes for the raw limit.
    pub publishes: usize,
    /// Events in the relay backlog.
    pub relay_backlog: usize,
    /// Events in the log before the rebuild.
    pub rebuild_events: i64,
    /// Tenants and sites seeded for the query load.
    pub tenants: i64,
    /// Sites seeded per tenant.
    pub sites_per_tenant: i64,
    /// Events on the long aggregate.
    pub long_aggregate: usize,
    /// Timers falling due at once.
    pub timers: usize,
    /// Subscriptions renewed and charged in the billing run.
    pub billing_run: usize,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                window: Duration::from_secs(3),
                publishes: 50_000,
                relay_backlog: 5_000,
                rebuild_events: 50_000,
                tenants: 1_000,
                sites_per_tenant: 10,
                long_aggregate: 2_000,
                timers: 2_000,
                billing_run: 500,
            }
        } else {
            Self {
                window: Duration::from_secs(15),
                publishes: 300_000,
                relay_backlog: 50_000,
                rebuild_events: 1_000_000,
                tenants: 10_000,
                sites_per_tenant: 10,
                long_aggregate: 10_000,
                timers: 10_000,
                billing_run: 10_000,
            }
        }
    }
}

/// One printed figure.
struct Figure {
    name: String,
    value: f64,
    unit: &'static str,
    ratio: Option<(f64, &'static str, f64)>,
}

/// Prints the figures of a run, one per line, as they are measured.
struct Report;

impl Report {
    fn add(
        &self,
        name: impl Into<String>,
        value: f64,
        unit: &'static str,
        ratio: Option<(&'static str, f64)>,
    ) {
        let figure = Figure {
            name: name.into(),
            value,
            unit,
            ratio: ratio.map(|(what, limit)| (value / limit, what, limit)),
        };
        println!("{}", render(&figure));
    }
}

fn render(figure: &Figure) -> String {
    let value =
        if figure.value >= 100.0 { format!("{:.0}", figure.value) } else { format!("{:.2}", figure.value) };
    match figure.ratio {
        Some((ratio, what, limit)) => {
            format!("{}: {value}{}  ratio {ratio:.2} of {what} {limit:.0}", figure.name, figure.unit)
        }
        None => format!("{}: {value}{}", figure.name, figure.unit),
    }
}

/// Runs the whole benchmark against the services `settings` point at.
pub async fn run(settings: &Settings, quick: bool, only: Option<&str>) -> anyhow::Result<()> {
    let plan = Plan::new(quick);
    let world = World::create(settings).await?;
    let result = match only {
        None => measure(&world, plan).await,
        Some("billing") => billing_phase(&world, plan).await,
        Some("metrics") => metrics_phase(&world).await,
        Some(other) => {
            Err(anyhow::anyhow!("--only {other}: the phases that run alone are: billing, metrics"))
        }
    };
    world.destroy().await;
    result
}

async fn measure(world: &World, plan: Plan) -> anyhow::Result<()> {
    let report = Report;
    println!(
        "# berth bench{} — every ratio is to a limit measured in this same run",
        if plan.window.as_secs() < 10 { " --quick" } else { "" }
    );
    println!("# berth serve runs without the provisioning saga: no node takes part in the bench");

    let insert_limit = limits::raw_inserts(world, 64, plan.window).await?;
    report.add("raw insert tx/s (64 clients)", insert_limit, "", None);
    let publish_limit = limits::raw_publishes(world, 256, plan.publishes).await?;
    report.add("raw JetStream publishes/s (256 in flight)", publish_limit, "", None);

    let peer = peer::Peer::create(world, world::CONNECTIONS).await?;
    let peer_one = peer.commands(1, plan.window).await?;
    report.add(
        "cqrs-es peer commands/s (1 client)",
        peer_one.rate,
        "",
        Some(("raw insert tx/s", insert_limit)),
    );
    report.add("cqrs-es peer latency p50 (1 client)", peer_one.p50_ms, " ms", None);
    let peer_many = peer.commands(64, plan.window).await?;
    report.add(
        "cqrs-es peer commands/s (64 clients)",
        peer_many.rate,
        "",
        Some(("raw insert tx/s", insert_limit)),
    );
    report.add("cqrs-es peer latency p99 (64 clients)", peer_many.p99_ms, " ms", None);
    drop(peer);

    let server = world.spawn_server().await?;
    report.add("berth serve resident memory, idle", server.rss_mb(), " MB", None);
    // One tenant per client of the largest load: a tenant's site creations queue on its quota.
    let tokens = load::tenants(&server, 64).await?;
    let one = load::commands(&server, &tokens, 1, plan.window, world).await?;
    report.add("commands/s (1 client)", one.rate, "", Some(("raw insert tx/s", insert_limit)));
    report.add("commands/s (1 client), of the peer", one.rate, "", Some(("cqrs-es peer", peer_one.rate)));
    report.add("command latency p50 (1 client)", one.p50_ms, " ms", None);
    let before = profile::Scrape::take(&server.http, &server.command).await?;
    let many = load::commands(&server, &tokens, 64, plan.window, world).await?;
    let after = profile::Scrape::take(&server.http, &server.command).await?;
    report.add("commands/s (64 clients)", many.rate, "", Some(("raw insert tx/s", insert_limit)));
    report.add("commands/s (64 clients), of the peer", many.rate, "", Some(("cqrs-es peer", peer_many.rate)));
    report.add("command latency p50 (64 clients)", many.p50_ms, " ms", None);
    report.add("command latency p99 (64 clients)", many.p99_ms, " ms", None);
    report.add("relay lag p99 during the 64-client load", many.relay_lag_p99_ms, " ms", None);
    report.add("projection lag p99 during the 64-client load", many.projection_lag_p99_ms, " ms", None);
    report.add("berth serve resident memory, under load", many.peak_rss_mb, " MB", None);
    let mean = |name: &str, label: &str| after.mean_ms_since(&before, name, label);
    println!(
        "{}",
        profile::line(
            "profile of POST /v1/sites at 64 clients (server means)",
            &[
                ("http", mean("berth_http_request_duration_seconds", "route=\"/v1/sites\"")),
                ("auth", mean("berth_auth_seconds", "")),
                ("load (each aggregate)", mean("berth_command_stage_seconds", "stage=\"load\"")),
                ("decide", mean("berth_command_stage_seconds", "stage=\"decide\"")),
                ("append", mean("berth_command_stage_seconds", "stage=\"append\"")),
            ],
        )
    );

    // Issuing takes the next number of one series: every client contends for the same row.
    let sixteen = load::commands(&server, &tokens, 16, plan.window, world).await?;
    report.add("commands/s (16 clients)", sixteen.rate, "", Some(("raw insert tx/s", insert_limit)));
    let billing = invoices::setup(world, &server).await?;
    let issued = invoices::issue(&server, &billing, 16, plan.window).await?;
    report.add(
        "invoices issued/s (16 clients)",
        issued.rate,
        "",
        Some(("commands/s (16 clients)", sixteen.rate)),
    );
    report.add("issue latency p99 (16 clients)", issued.p99_ms, " ms", None);

    let (long, fresh) = pipeline::long_aggregate(world, plan.long_aggregate).await?;
    report.add(format!("command on a {}-event aggregate, p50", plan.long_aggregate), long, " ms", None);
    report.add("command on a fresh aggregate, p50", fresh, " ms", None);
    report.add("long / fresh", long / fresh, "×", None);

    let steady = pipeline::steady(&server, &tokens, 1_000.0, plan.window, world).await?;
    report.add("steady load achieved", steady.rate, " cmd/s", None);
    report.add("commit-to-JetStream lag p50 at 1,000 cmd/s", steady.jetstream_p50_ms, " ms", None);
    report.add("commit-to-JetStream lag p99 at 1,000 cmd/s", steady.jetstream_p99_ms, " ms", None);
    report.add("commit-to-read-model lag p50 at 1,000 cmd/s", steady.read_model_p50_ms, " ms", None);
    report.add("commit-to-read-model lag p99 at 1,000 cmd/s", steady.read_model_p99_ms, " ms", None);
    let sample = queries::seed(world, plan.tenants, plan.sites_per_tenant).await?;
    let before = profile::Scrape::take(&server.http, &server.query).await?;
    let list = queries::load(&server, &sample, 16, plan.window, queries::Kind::List).await?;
    let after = profile::Scrape::take(&server.http, &server.query).await?;
    report.add(
        format!(
            "site list req/s (16 clients, {} tenants, {} sites)",
            plan.tenants,
            plan.tenants * plan.sites_per_tenant
        ),
        list.rate,
        "",
        None,
    );
    report.add("site list p99", list.p99_ms, " ms", None);
    let mean = |name: &str, label: &str| after.mean_ms_since(&before, name, label);
    println!(
        "{}",
        profile::line(
            "profile of GET /v1/sites at 16 clients (server means)",
            &[
                ("http", mean("berth_http_request_duration_seconds", "route=\"/v1/sites\"")),
                ("auth", mean("berth_auth_seconds", "")),
                ("acquire", mean("berth_query_stage_seconds", "stage=\"acquire\"")),
                ("scope", mean("berth_query_stage_seconds", "stage=\"scope\"")),
            ],
        )
    );
    let detail = queries::load(&server, &sample, 16, plan.window, queries::Kind::Detail).await?;
    report.add("site detail req/s (16 clients)", detail.rate, "", None);
    report.add("site detail p99", detail.p99_ms, " ms", None);
    drop(server);

    let split = scale::command_processes(world, 64, plan.window).await?;
    report.add("commands/s (64 clients), split roles, 1 command-API process", split.one, "", None);
    report.add(
        "commands/s (64 clients), split roles, 2 command-API processes",
        split.two,
        "",
        Some(("1 process", split.one)),
    );
    let (primary, replica) = scale::replica_reads(world, &sample, 16, plan.window).await?;
    report.add("site detail req/s (16 clients), query API reading the primary", primary, "", None);
    match replica {
        Some(replica) => report.add(
            "site detail req/s (16 clients), query API reading a streaming replica",
            replica,
            "",
            Some(("the primary", primary)),
        ),
        None => println!("# no database.read_url: replica reads not measured (deploy/cluster up starts one)"),
    }

    let relay = pipeline::relay_backlog(world, plan.relay_backlog).await?;
    report.add(
        "relay events/s (draining a backlog)",
        relay,
        "",
        Some(("raw JetStream publishes/s", publish_limit)),
    );
    let rebuild = pipeline::rebuild(world, plan.rebuild_events).await?;
    report.add(
        format!("rebuild events/s (audit trail over {} events)", plan.rebuild_events),
        rebuild,
        "",
        None,
    );
    let verified = audit::verify(world).await?;
    report.add(
        format!("audit verify, chains and seals ({} events)", verified.events),
        verified.rate,
        " events/s",
        None,
    );
    report.add("chaining events written without hashes", verified.backfill_rate, " events/s", None);
    let (hashed, unhashed) = audit::append_cost(world, 64, plan.window).await?;
    report.add("site creations/s through the store, 64 tasks, hashed", hashed, "", None);
    report.add("the same without hashes", unhashed, "", None);
    report.add("hashed / unhashed", hashed / unhashed, "×", None);
    let timers = timers::fire_rate(world, plan.timers).await?;
    report.add(format!("timers fired/s ({} due at once)", plan.timers), timers, "", None);
    metrics_phase(world).await?;
    billing_phase(world, plan).await
}

/// `/metrics` with the cost and capacity series of 1,000 tenants and 10,000 sites on 100
/// nodes: computed at every scrape, then from the cache.
async fn metrics_phase(world: &World) -> anyhow::Result<()> {
    let report = Report;
    let (tenants, per) = (1_000, 10);
    let computing = world.spawn("serve", &[("BERTH_TELEMETRY__COST_CACHE_SECS", "0")]).await?;
    costs::seed(world, tenants, per).await?;
    let every = costs::scrape(&computing, 30).await?;
    drop(computing);
    // A 1 s cache, so the scrapes span many expiries: each is served from the cache while one
    // task computes the series again.
    let cached = world.spawn("serve", &[("BERTH_TELEMETRY__COST_CACHE_SECS", "1")]).await?;
    let first = costs::scrape(&cached, 1).await?;
    let warm = costs::scrape(&cached, 500).await?;
    drop(cached);
    let fleet = format!("{tenants} tenants, {} sites", tenants * per);
    report.add(format!("/metrics computing the cost series, p50 ({fleet})"), every.p50_ms, " ms", None);
    report.add(format!("/metrics computing the cost series, p99 ({fleet})"), every.p99_ms, " ms", None);
    report.add("/metrics first scrape of a process (fills the cache)", first.p50_ms, " ms", None);
    report.add("/metrics from the cache, refreshed behind the scrapes, p50", warm.p50_ms, " ms", None);
    report.add("/metrics from the cache, refreshed behind the scrapes, p99", warm.p99_ms, " ms", None);
    report.add("/metrics body", warm.bytes as f64 / 1024.0, " KiB", None);
    Ok(())
}

/// The billing run, against the local Stripe (`deploy/dev services` runs it).
async fn billing_phase(world: &World, plan: Plan) -> anyhow::Result<()> {
    let Ok(stripe) = std::env::var("BERTH_DEV_STRIPE_MOCK_URL") else {
        println!("billing run: skipped, BERTH_DEV_STRIPE_MOCK_URL is not set (eval \"$(deploy/dev env)\")");
        return Ok(());
    };
    let run = billing_run::run(world, plan.billing_run, &stripe).await?;
    let report = Report;
    let n = run.subscriptions;
    report.add(format!("billing run: {n} renewals due at once, all invoiced"), run.issued_secs, " s", None);
    report.add(format!("billing run: {n} renewals due at once, all paid by card"), run.paid_secs, " s", None);
    report.add("billing run: invoices issued and paid/s", n as f64 / run.paid_secs, "", None);
    Ok(())
}

/// The value at quantile `q` of `samples` (sorted in place), in milliseconds.
pub(crate) fn quantile_ms(samples: &mut [Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_unstable();
    let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[index].as_secs_f64() * 1000.0
}

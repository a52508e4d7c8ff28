//! Gapless numbers: documents issued at once, and by a process killed with SIGKILL in the
//! middle and started again, are numbered exactly 1..N in their series.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use berth_domain::billing::DocumentKind;
use berth_domain::ids::{InvoiceId, TenantId};
use berth_domain::series::NumberSeries;
use berth_eventstore::billing::issue_document;
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::store::EventStore;
use futures::StreamExt;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use super::{by, line, money, request, romanian_company, World};
use crate::common::kill9;

const COUNT: usize = 200;

/// Two hundred issuers racing for one series need more than the default attempts: each round
/// of the race has one winner. The bound is the caller's to choose.
const PATIENT: RetryPolicy = RetryPolicy { max_attempts: 1_000, base_delay: Duration::from_millis(1) };

async fn drafts(world: &World, tenant: TenantId) -> Vec<InvoiceId> {
    let mut ids = Vec::with_capacity(COUNT);
    for i in 0..COUNT {
        let lines = vec![line(&format!("Găzduire web, luna {i}"), money(2_900 + i as i64, "RON"), 1000)];
        ids.push(world.draft(tenant, DocumentKind::Invoice, "RON", lines, None, None).await);
    }
    ids
}

/// The command id of issuing `invoice`: the same on every try, so a repeat after a crash is
/// recognised as the command that already ran.
fn issue_command(tenant: TenantId, invoice: InvoiceId) -> CommandMetadata {
    let mut meta = by(tenant);
    meta.command_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("issue:{invoice}").as_bytes());
    meta.correlation_id = meta.command_id;
    meta
}

/// Every draft is issued, the series gave out exactly 1..=COUNT, each number once, and each
/// invoice carries the number its series gave it.
async fn assert_gapless(world: &World, drafts: &[InvoiceId]) {
    let series = world.store.load::<NumberSeries>("BRT").await.unwrap().aggregate;
    assert_eq!(series.taken(), COUNT as u64);
    let taken: Vec<(String, i64)> = sqlx::query_as(
        "SELECT payload->'NumberTaken'->>'document', (payload->'NumberTaken'->'number'->>'sequence')::bigint
           FROM events WHERE aggregate_type = 'series' AND aggregate_id = 'BRT' AND event_type = 'SeriesNumberTaken'
          ORDER BY sequence",
    )
    .fetch_all(&world.env.pool)
    .await
    .unwrap();
    let sequences: Vec<i64> = taken.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        sequences,
        (1..=COUNT as i64).collect::<Vec<_>>(),
        "numbers in the order the series gave them"
    );
    let documents: BTreeSet<&str> = taken.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(documents.len(), COUNT, "no document took two numbers");
    let mut numbers = BTreeSet::new();
    for id in drafts {
        let invoice = world.invoice(*id).await;
        let document = invoice.document().unwrap_or_else(|| panic!("{id} was not issued"));
        let given = taken.iter().find(|(d, _)| *d == id.to_string()).expect("the series numbered it");
        assert_eq!(document.number().sequence() as i64, given.1);
        assert_eq!(document.number().series().as_str(), "BRT");
        assert!(numbers.insert(document.number().sequence()), "duplicate number {}", document.number());
    }
    assert_eq!(numbers.len(), COUNT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_invoices_issued_at_once_are_numbered_one_to_two_hundred() {
    let world = World::new().await;
    let tenant = world.tenant(romanian_company(), "RON").await;
    let drafts = drafts(&world, tenant).await;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(COUNT));
    let mut tasks = Vec::new();
    for id in drafts.clone() {
        let (store, start) = (world.store.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            let request = request(&store, id).await;
            start.wait().await;
            issue_document(&store, &request, &issue_command(tenant, id), PATIENT).await
        }));
    }
    for task in tasks {
        let issued = task.await.unwrap().expect("issued");
        assert!(!issued.duplicate);
    }
    assert_gapless(&world, &drafts).await;
    // The issuers waiting for the series were committed together, several to a transaction,
    // each under its own command record, and every chain (the series' across those commits
    // too) still checks out.
    let issues: Vec<Uuid> = drafts.iter().map(|id| issue_command(tenant, *id).command_id).collect();
    let (commits, records): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT transaction_id), (SELECT count(*) FROM commands WHERE command_id = ANY($1))
           FROM events WHERE aggregate_type = 'series' AND event_type = 'SeriesNumberTaken'",
    )
    .bind(&issues)
    .fetch_one(&world.env.pool)
    .await
    .unwrap();
    eprintln!("{COUNT} documents issued in {commits} commits");
    assert!(commits < COUNT as i64, "waiting issuers are committed together ({commits} commits)");
    assert_eq!(records, COUNT as i64, "each document has its own command record");
    let report = berth_eventstore::verify::verify_log(&world.env.pool, None).await.unwrap();
    assert!(report.findings.is_empty(), "the chains check out: {:?}", report.findings);
    world.env.cleanup().await;
}

const CHILD_DB: &str = "BERTH_TEST_ISSUER_DATABASE_URL";
const CHILD_DRAFTS: &str = "BERTH_TEST_ISSUER_DRAFTS";
const CHILD_TENANT: &str = "BERTH_TEST_ISSUER_TENANT";
const CHILD_PACE_MS: &str = "BERTH_TEST_ISSUER_PACE_MS";

/// The issuing process of the SIGKILL test: this test binary started again to run only this
/// test, which issues the drafts listed in a file through the issuing function, 8 at a time.
/// Without the variables (a plain `--ignored` run) it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of numbers_stay_gapless_when_the_issuing_process_is_killed_midway"]
async fn issuing_child() {
    let (Ok(db), Ok(drafts), Ok(tenant)) =
        (std::env::var(CHILD_DB), std::env::var(CHILD_DRAFTS), std::env::var(CHILD_TENANT))
    else {
        return;
    };
    let pace =
        Duration::from_millis(std::env::var(CHILD_PACE_MS).ok().and_then(|p| p.parse().ok()).unwrap_or(0));
    let tenant = TenantId::from_uuid(tenant.parse().unwrap());
    let pool = PgPoolOptions::new().max_connections(10).connect(&db).await.unwrap();
    let store = EventStore::new(pool, 100);
    let ids: Vec<InvoiceId> = std::fs::read_to_string(drafts)
        .unwrap()
        .lines()
        .map(|l| InvoiceId::from_uuid(l.parse().unwrap()))
        .collect();
    futures::stream::iter(ids)
        .for_each_concurrent(8, |id| {
            let store = store.clone();
            async move {
                let request = request(&store, id).await;
                issue_document(&store, &request, &issue_command(tenant, id), PATIENT).await.expect("issued");
                tokio::time::sleep(pace).await;
            }
        })
        .await;
}

fn spawn_child(
    world: &World,
    drafts: &std::path::Path,
    tenant: TenantId,
    pace_ms: u64,
) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["billing::numbering::issuing_child", "--exact", "--ignored", "--test-threads=1"])
        .env(CHILD_DB, &world.env.db_url)
        .env(CHILD_DRAFTS, drafts)
        .env(CHILD_TENANT, tenant.to_string())
        .env(CHILD_PACE_MS, pace_ms.to_string())
        .kill_on_drop(true)
        .stdin(Stdio::null());
    if std::env::var_os("TEST_LOG").is_none() {
        command.stdout(Stdio::null()).stderr(Stdio::null());
    }
    command.spawn().expect("spawn the issuing child")
}

async fn numbers_taken(world: &World) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'series' AND event_type = 'SeriesNumberTaken'",
    )
    .fetch_one(&world.env.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_stay_gapless_when_the_issuing_process_is_killed_midway() {
    let world = World::new().await;
    let tenant = world.tenant(romanian_company(), "RON").await;
    let drafts = drafts(&world, tenant).await;
    let file = std::env::temp_dir().join(format!("berth-drafts-{}", world.env.db_name));
    std::fs::write(&file, drafts.iter().map(|d| format!("{d}\n")).collect::<String>()).unwrap();

    // The first run is paced so that it is surely killed in the middle.
    let mut child = spawn_child(&world, &file, tenant, 40);
    let deadline = Instant::now() + Duration::from_secs(120);
    while numbers_taken(&world).await < 40 {
        assert!(Instant::now() < deadline, "the child issued nothing");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child ended early: {status}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    kill9(&mut child).await;
    let at_kill = numbers_taken(&world).await;
    eprintln!("the issuing child was killed after {at_kill} of {COUNT} numbers");
    assert!(at_kill < COUNT as i64, "the child finished before it was killed ({at_kill} numbers)");

    let mut again = spawn_child(&world, &file, tenant, 0);
    let status = tokio::time::timeout(Duration::from_secs(300), again.wait())
        .await
        .expect("the restart finished")
        .unwrap();
    assert!(status.success(), "the restarted child failed: {status}");
    assert_gapless(&world, &drafts).await;
    std::fs::remove_file(&file).ok();
    world.env.cleanup().await;
}

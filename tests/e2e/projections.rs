use std::time::Duration;

use berth_domain::ids::TenantId;
use berth_domain::site::{SiteCommand, SiteLabel};
use berth_eventstore::execute::RetryPolicy;
use berth_projections::rebuild;
use berth_projections::runtime::{self, Step};
use uuid::Uuid;

use crate::common::{create_site, run_site, TestEnv};

/// Every table of every registered projection (`proj_<name>.<table>`), optionally only those
/// with a `column`: the registry, not a list kept here, says what the views are.
pub async fn view_tables(env: &TestEnv, column: Option<&str>) -> Vec<String> {
    let schemas: Vec<String> = berth_projections::all()
        .iter()
        .map(|p| berth_projections::projection::live_schema(p.name()))
        .collect();
    sqlx::query_scalar(
        "SELECT DISTINCT table_schema || '.' || table_name FROM information_schema.columns
          WHERE table_schema = ANY($1) AND ($2::text IS NULL OR column_name = $2) ORDER BY 1",
    )
    .bind(&schemas)
    .bind(column)
    .fetch_all(&env.pool)
    .await
    .unwrap()
}

/// Every row of the live projections, as text, table by table, rows in a stable order.
pub async fn dump(env: &TestEnv) -> Vec<(String, Vec<String>)> {
    let mut rows = Vec::new();
    for table in view_tables(env, None).await {
        let query = format!("SELECT t::text FROM {table} t ORDER BY 1");
        rows.push((table, sqlx::query_scalar(&query).fetch_all(&env.pool).await.unwrap()));
    }
    rows
}

/// Asserts that rebuilding every projection from scratch gives the same rows as the live ones.
pub async fn assert_equals_rebuild(env: &TestEnv) {
    let live = dump(env).await;
    assert!(live.iter().any(|(_, rows)| !rows.is_empty()), "the views are empty");
    // Rebuilt as the projectors build: opening sealed personal data with the world's keys.
    berth_eventstore::personal::scoped(Some(env.keys()), async {
        for projection in berth_projections::all() {
            rebuild::rebuild(&env.pool, projection.as_ref(), 1000).await.unwrap();
        }
    })
    .await;
    let rebuilt = dump(env).await;
    assert_eq!(live.len(), rebuilt.len(), "a rebuild has other tables");
    for ((table, live), (_, rebuilt)) in live.iter().zip(&rebuilt) {
        let differ: Vec<_> = live.iter().zip(rebuilt).filter(|(l, r)| l != r).take(3).collect();
        assert!(
            live.len() == rebuilt.len() && differ.is_empty(),
            "table {table}: the live view differs from a rebuild ({} rows live, {} rebuilt): {differ:?}",
            live.len(),
            rebuilt.len()
        );
    }
}

/// Where the last event of this database is in the feed.
async fn last_event(env: &TestEnv) -> (i64, i64) {
    sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM events
          ORDER BY events.transaction_id DESC, events.global_position DESC LIMIT 1",
    )
    .fetch_one(&env.pool)
    .await
    .unwrap()
}

/// Whether every projection's checkpoint has passed the last event of this database (the
/// projections running elsewhere, in their own processes).
pub async fn all_caught_up(env: &TestEnv) -> bool {
    let (last_tx, last_position) = last_event(env).await;
    for projection in berth_projections::all() {
        let name = berth_projections::projection::checkpoint_name(projection.name());
        let Ok(at) = berth_eventstore::checkpoint::load(&env.pool, &name).await else { return false };
        if (at.transaction_id, at.global_position) < (last_tx, last_position) {
            return false;
        }
    }
    true
}

/// Applies every event to every projection. An empty batch alone is not enough: while another
/// test's transaction is open on the same server, the feed holds events back (by design), so
/// keep stepping until each checkpoint has passed the last event of this database.
pub async fn catch_up(env: &TestEnv) {
    let (last_tx, last_position) = last_event(env).await;
    for projection in berth_projections::all() {
        runtime::install(&env.pool, projection.as_ref()).await.unwrap();
        let name = berth_projections::projection::checkpoint_name(projection.name());
        let mut conn = runtime::connect(&env.pool, projection.as_ref()).await.unwrap();
        loop {
            if runtime::step(&mut conn, projection.as_ref(), 100).await.unwrap() == Step::Applied(0) {
                let at = berth_eventstore::checkpoint::load(&env.pool, &name).await.unwrap();
                if (at.transaction_id, at.global_position) >= (last_tx, last_position) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
}

/// The projections reflect the commands, and a rebuild that runs while the live tables are read
/// swaps in identical tables without readers ever seeing them missing or empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_swaps_in_identical_tables_while_readers_keep_reading() {
    let env = TestEnv::new().await;
    let store = env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let mut sites = Vec::new();
    for i in 0..40 {
        let site = create_site(&store, tenant).await;
        let label = SiteLabel::parse(&format!("site {i}")).unwrap();
        run_site(
            &store,
            tenant,
            site,
            SiteCommand::Update { php_version: None, label: Some(label) },
            RetryPolicy::default(),
        )
        .await
        .unwrap();
        sites.push(site);
    }
    let failed = SiteCommand::FailProvisioning {
        step: berth_domain::site::ProvisioningStep::Allocate,
        code: berth_domain::site::FailureCode::NoRoom,
        reason: "no node".into(),
    };
    run_site(&store, tenant, sites[0], failed, RetryPolicy::default()).await.unwrap();
    run_site(&store, tenant, sites[0], SiteCommand::Delete, RetryPolicy::default()).await.unwrap();
    catch_up(&env).await;

    let (status, label, version): (String, Option<String>, i64) =
        sqlx::query_as("SELECT status, label, version FROM proj_sites.sites WHERE id = $1")
            .bind(sites[0].as_uuid())
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), label.as_deref(), version), ("deleting", Some("site 0"), 4));
    let audited: (String, String) = sqlx::query_as(
        "SELECT actor, action FROM proj_audit.audit_entries ORDER BY global_position DESC LIMIT 1",
    )
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(audited, ("user:test".to_owned(), "SiteDeletionRequested".to_owned()));

    // Readers poll the live table during the rebuild.
    let pool = env.pool.clone();
    let reader = tokio::spawn(async move {
        let mut reads = 0;
        for _ in 0..400 {
            let count: i64 =
                sqlx::query_scalar("SELECT count(*) FROM proj_sites.sites").fetch_one(&pool).await.unwrap();
            assert_eq!(count, 40, "a reader saw a half-built view");
            reads += 1;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        reads
    });
    assert_equals_rebuild(&env).await;
    assert_eq!(reader.await.unwrap(), 400);
    env.cleanup().await;
}

/// `berth replay --projection NAME` rebuilds from the command line; an unknown name is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_command_rebuilds_a_projection() {
    let env = TestEnv::new().await;
    let store = env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    for _ in 0..5 {
        create_site(&store, tenant).await;
    }
    catch_up(&env).await;
    let before = dump(&env).await;

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["replay", "--projection", "sites"])
        .envs(env.env_vars())
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("rebuilt sites: 5 events"));
    assert_eq!(dump(&env).await, before);

    let unknown = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["replay", "--projection", "nope"])
        .envs(env.env_vars())
        .output()
        .await
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr)
        .contains("no projection named `nope`; known: audit, identity, sites"));
    env.cleanup().await;
}

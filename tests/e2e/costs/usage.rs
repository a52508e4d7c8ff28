//! Usage from the nodes: the sampled disk and database sizes of a site match what `du` and
//! MariaDB report on its node, bytes served follow its access log, and each day's storage
//! becomes one reading on the tenant's subscription.

use std::time::Duration;

use berth_domain::usage::Usage;

use super::harness::{active_site, add_node, metrics, near, series, start};
use crate::nodes_harness::{one_at_a_time, site_user, wait_for, LocalNode};

/// Runs `command` on `node`, which must succeed; its output, trimmed.
fn on(node: &LocalNode, command: &str) -> String {
    let (ok, out) = node.shell(command);
    assert!(ok, "{command} failed: {out}");
    out.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sampled_sizes_match_du_and_mariadb_and_each_day_is_one_storage_reading() {
    // Arrange: a WordPress site on a node, with 3 MB of its own files and a table of ~2 MB.
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("cu1").await;
    let billing = start(&[]).await;
    let node_id = add_node(&billing, &node, (2, 4096, 40)).await;
    let (tenant, token) = billing.register("Usage").await;
    let subscription = billing.read("/v1/subscription", &token).await["id"].as_str().unwrap().to_owned();
    let site = active_site(&billing, &token, "blog.usage.test", "wordpress").await;
    let dir = format!("{}/srv/sites/{site}", node.root);
    on(&node, &format!("head -c 3000000 /dev/urandom > {dir}/public/blob.bin"));
    let database = site_user(&site);
    let mariadb =
        format!("mariadb --socket={}/run/mysqld.sock -u root --batch --skip-column-names", node.root);
    on(
        &node,
        &format!(
            "{mariadb} {database} -e \"CREATE TABLE filler (id INT PRIMARY KEY, pad CHAR(200)) ENGINE=InnoDB;
             INSERT INTO filler SELECT seq, REPEAT('x', 200) FROM seq_1_to_8000; ANALYZE TABLE filler;\""
        ),
    );
    // Bytes served: what the node sends for the installer page, fetched three times.
    let mut fetched = 0;
    for _ in 0..3 {
        let (status, body, _) = node.get("blog.usage.test", "/wp-admin/install.php").await;
        assert_eq!(status, 200);
        fetched += body.len();
    }

    // Act and assert: the gauges follow du and information_schema within 5 %.
    let labels = [("site", site.as_str()), ("node", node_id.as_str())];
    let (disk, db) = wait_for(Duration::from_secs(60), || async {
        let du: f64 = on(&node, &format!("du -sb {dir} | cut -f1")).parse().unwrap();
        let size: f64 = on(
            &node,
            &format!(
                "{mariadb} -e \"SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{database}'\""
            ),
        )
        .parse()
        .unwrap();
        let text = metrics(&billing).await;
        let got_disk = series(&text, "berth_site_disk_bytes", &labels)?;
        let got_db = series(&text, "berth_site_database_bytes", &labels)?;
        let served = series(&text, "berth_site_served_bytes", &labels)?;
        (near(got_disk, du, 0.05) && near(got_db, size, 0.05) && served >= fetched as f64).then_some((du, size))
    })
    .await;
    assert!(disk > 3_000_000.0 && db > 1_000_000.0, "the blob and the table are counted: {disk} {db}");
    let text = metrics(&billing).await;
    for (kind, want) in [("site", disk), ("database", db), ("backup", 0.0)] {
        let got = series(&text, "berth_storage_bytes", &[("tenant", tenant.as_str()), ("kind", kind)]);
        assert!(got.is_some_and(|g| (g - want).abs() <= want * 0.05), "{kind}: {got:?} for {want}");
    }

    // The next day's reading holds files and database together, once, however many rounds ran.
    billing.clock_to(billing.clock_now() + time::Duration::days(1));
    // In thousandths of a GB, rounded up: within 5 % and the one thousandth rounding adds.
    let want = (disk + db) / 1e6;
    let usage = format!("/v1/subscriptions/{subscription}/usage");
    let meters = billing
        .until(&usage, &token, "the day's storage reading", |u| {
            u["meters"].as_array().into_iter().flatten().any(|m| {
                m["metric"] == "storage_gb"
                    && m["thousandths"].as_f64().is_some_and(|t| (t - want).abs() <= want * 0.05 + 1.0)
            })
        })
        .await;
    let pool = &billing.env.pool;
    let readings = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM events WHERE aggregate_type = 'usage' AND aggregate_id = $1",
        )
        .bind(&subscription)
        .fetch_one(pool)
        .await
        .unwrap()
    };
    wait_for(Duration::from_secs(30), || async { (readings().await == 2).then_some(()) }).await;
    // Another round surely ran once the served bytes of one more fetch show: still two readings.
    let served = series(&metrics(&billing).await, "berth_site_served_bytes", &labels).unwrap();
    let (_, body, _) = node.get("blog.usage.test", "/wp-admin/install.php").await;
    wait_for(Duration::from_secs(30), || async {
        let now = series(&metrics(&billing).await, "berth_site_served_bytes", &labels)?;
        (now >= served + body.len() as f64).then_some(())
    })
    .await;
    assert_eq!(readings().await, 2, "one reading a day, not one a round ({meters})");
    let loaded = billing.env.store().load::<Usage>(&subscription).await.unwrap();
    assert_eq!(loaded.version, 2, "the aggregate holds those readings only");
    billing.stop().await;
}

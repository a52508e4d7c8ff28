//! A storage failure is never read as a refusal: while PostgreSQL keeps dropping the sagas'
//! connections, a site being placed is not failed as "no room"; once PostgreSQL is back, it
//! ends active on its node.

use std::time::Duration;

use berth::app::Roles;

use crate::api::Api;
use crate::common::kill9;
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, spawn_role, wait_for_status, LocalNode,
    NODE_SETTINGS,
};

/// Ends every connection of the process whose `application_name` starts with `name`; how many.
async fn terminate(api: &Api, name: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name LIKE $1 || '%' AND pid <> pg_backend_pid()) ended",
    )
    .bind(name)
    .fetch_one(&api.env.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_site_placed_while_postgres_drops_the_sagas_connections_still_ends_active() {
    // Arrange: a ready node, and the sagas in a process of their own.
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tfault").await;
    let api = Api::start_roles(NODE_SETTINGS, Roles { sagas: false, ..Roles::ALL }).await;
    let mut sagas = spawn_role(&api, "sagas", &[]);
    let sagas_name = format!("berth sagas {}", sagas.id().unwrap());
    let operator = operator_token(&api).await;
    add_node(&api, &operator, &node, (2, 4096, 40)).await;
    let owner = api.register("Faulty").await;

    // Act: keep ending the sagas' database connections while the site is being placed, until
    // they have been ended many times over several redeliveries of its event.
    let site = create_site(&api, &owner.token, "fault.tolerant.test", "static", None).await;
    let mut ended = 0;
    let mut pace = tokio::time::interval(Duration::from_millis(20));
    while ended < 15 {
        pace.tick().await;
        ended += terminate(&api, &sagas_name).await;
    }

    // Assert: placed once PostgreSQL answers again, never failed for lack of room.
    let done = wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await;
    assert_eq!(done["status"], "active", "{done}");
    let steps = done["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["outcome"] == "ok"), "no step failed: {done}");
    assert_eq!(node.get("fault.tolerant.test", "/").await.0, 200);
    kill9(&mut sagas).await;
    api.stop().await;
}

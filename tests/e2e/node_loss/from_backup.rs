//! A node destroyed with its sites: evacuated from their verified backups, then retired. A
//! site with no backup stays, then is lost, deletable, and its domain free again; another
//! tenant's site is never touched; the node's name and address can be registered again.

use berth::app::Roles;
use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{
    entry, evacuate, evacuated, held, post, serves_post, verified_backup, wordpress_with_post,
};
use crate::api::Api;
use crate::backups::harness::{backup_settings, storage, test_prefix};
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, registration, wait_for, wait_for_status, LocalNode,
    NODE_SETTINGS,
};

async fn mail_keys(api: &Api, like: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT key FROM mail_outbox WHERE key LIKE $1 ORDER BY id")
        .bind(like)
        .fetch_all(&api.env.pool)
        .await
        .unwrap()
}

async fn site_events(api: &Api, site: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT event_type FROM events WHERE aggregate_type = 'site' AND aggregate_id = $1 ORDER BY sequence",
    )
    .bind(site)
    .fetch_all(&api.env.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_destroyed_node_is_evacuated_from_backups_and_retired_leaving_its_unbacked_site_lost() {
    let _serial = one_at_a_time().await;
    let (node_a, node_b) = (LocalNode::up("tnla").await, LocalNode::up("tnlb").await);
    let config = storage(&test_prefix());
    let backups = backup_settings(&config);
    let mut settings: Vec<(&str, &str)> = NODE_SETTINGS.to_vec();
    settings.extend(backups.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let api = Api::start_roles(&settings, Roles::ALL).await;
    let operator = operator_token(&api).await;
    let a = add_node(&api, &operator, &node_a, (4, 8192, 80)).await;

    // Two WordPress sites with a post each, backed up; a static site never backed up.
    let owner = api.register("Harbour").await;
    let (one, one_post) =
        wordpress_with_post(&api, &owner.token, &node_a, "one.loss.test", "Tide tables").await;
    let (two, two_post) =
        wordpress_with_post(&api, &owner.token, &node_a, "two.loss.test", "Ferry times").await;
    let bare = create_site(&api, &owner.token, "bare.loss.test", "static", None).await;
    assert_eq!(wait_for_status(&api, &owner.token, &bare, &["active", "failed"]).await["status"], "active");
    verified_backup(&api, &owner.token, &one).await;
    verified_backup(&api, &owner.token, &two).await;

    // Node B joins; A is destroyed, and Berth sees it down.
    let b = add_node(&api, &operator, &node_b, (4, 8192, 80)).await;
    node_a.purge().await;
    wait_for(std::time::Duration::from_secs(60), || async {
        let (_, view) = api.read(&format!("/v1/nodes/{a}"), &operator).await;
        (view["health"] == "down").then_some(())
    })
    .await;
    // Another tenant's site lands on B, the only node up.
    let other = api.register("Elsewhere").await;
    let theirs = create_site(&api, &other.token, "theirs.loss.test", "static", None).await;
    let before = wait_for_status(&api, &other.token, &theirs, &["active", "failed"]).await;
    assert_eq!(before["node"]["id"], b.as_str(), "{before}");
    let their_events = site_events(&api, &theirs).await;

    // Bad input names the field.
    let (status, problem) =
        post(&api, &operator, &format!("/v1/nodes/{a}/evacuate"), json!({"mode": "teleport"})).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["field"], "mode", "{problem}");

    let evacuation = evacuate(&api, &operator, &a, "from_backup").await;
    let view = evacuated(&api, &operator, &evacuation).await;
    eprintln!(
        "evacuation of 2 WordPress sites from backup: median per site {} ms, total {} ms",
        view["median_site_ms"], view["total_ms"]
    );
    assert_eq!(view["counts"], json!({"waiting": 0, "moving": 0, "moved": 2, "failed": 1}), "{view}");
    for site in [&one, &two] {
        let moved = entry(&view, site);
        assert_eq!(moved["target_node_id"], b.as_str(), "{moved}");
        let steps: Vec<&str> =
            moved["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
        assert_eq!(
            steps,
            ["start", "backup", "place", "provision", "restore", "certificate", "switch"],
            "{moved}"
        );
    }
    let failed = entry(&view, &bare);
    assert_eq!(
        (failed["status"].as_str(), failed["step"].as_str()),
        (Some("failed"), Some("backup")),
        "{failed}"
    );
    assert_eq!(failed["reason"], "the site has no verified backup", "{failed}");

    // Each moved site serves its post from B; the tenant sees where it is and how it got there.
    assert!(serves_post(&node_b, "one.loss.test", &one_post, "Tide tables").await);
    assert!(serves_post(&node_b, "two.loss.test", &two_post, "Ferry times").await);
    let (_, detail) = api.read(&format!("/v1/sites/{one}"), &owner.token).await;
    assert_eq!(
        (detail["status"].as_str(), detail["node"]["id"].as_str()),
        (Some("active"), Some(b.as_str()))
    );
    assert!(detail["evacuation"].is_null(), "{detail}");
    // A holds only the site that could not move; B the moved ones and the other tenant's.
    assert_eq!(held(&api, &operator, &a).await, std::slice::from_ref(&bare));
    assert_eq!(held(&api, &operator, &b).await.len(), 3);
    let (_, detail) = api.read(&format!("/v1/sites/{bare}"), &owner.token).await;
    assert_eq!(detail["last_error"], "the site has no verified backup", "{detail}");

    // A is gone for good: the site left on it is lost, with no backup to restore it from.
    let (status, accepted) =
        post(&api, &operator, &format!("/v1/nodes/{a}/retire"), json!({"reason": "the VPS was destroyed"}))
            .await;
    assert_eq!(status, 202, "{accepted}");
    let lost = wait_for_status(&api, &owner.token, &bare, &["lost"]).await;
    assert_eq!(lost["lost"]["node_id"], a.as_str(), "{lost}");
    assert!(lost["lost"]["latest_backup_at"].is_null(), "{lost}");
    assert!(held(&api, &operator, &a).await.is_empty(), "A's capacity is released");

    // The tenant's calls on it answer 409 naming the state; deleting it works without A.
    let response =
        api.send(Method::POST, &format!("/v1/sites/{bare}/suspend"), Some(&owner.token), None).await;
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("lost"), "{problem}");
    let (status, problem) = post(&api, &owner.token, &format!("/v1/sites/{bare}/recover"), json!({})).await;
    assert_eq!(status, 202, "a lost site can be asked back: {problem}");
    let back = wait_for_status(&api, &owner.token, &bare, &["lost"]).await;
    assert!(back["last_error"].as_str().unwrap().contains("no verified backup"), "{back}");
    let response = api.send(Method::DELETE, &format!("/v1/sites/{bare}"), Some(&owner.token), None).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    wait_for_status(&api, &owner.token, &bare, &["deleted"]).await;
    let again = create_site(&api, &other.token, "bare.loss.test", "static", None).await;
    assert_eq!(wait_for_status(&api, &other.token, &again, &["active", "failed"]).await["status"], "active");

    // The other tenant's site saw nothing of it.
    assert_eq!(site_events(&api, &theirs).await, their_events);
    let (_, after) = api.read(&format!("/v1/sites/{theirs}"), &other.token).await;
    assert_eq!(after["version"], before["version"]);

    // One mail per event to the owner: two sites moved, one lost; none to the other tenant.
    let moved = mail_keys(&api, "site_evacuated:%").await;
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert_eq!(mail_keys(&api, "site_lost:%").await.len(), 1);
    let to_other: i64 =
        sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE tenant_id = $1 AND key LIKE 'site_%'")
            .bind(other.tenant_id.parse::<uuid::Uuid>().unwrap())
            .fetch_one(&api.env.pool)
            .await
            .unwrap();
    assert_eq!(to_other, 0);

    // The gone node's name and address are free for its replacement.
    let response = api
        .send(Method::POST, "/v1/nodes", Some(&operator), Some(registration(&node_a, (4, 8192, 80))))
        .await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    api.stop().await;
}

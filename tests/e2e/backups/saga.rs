//! Backups through the API and the backups saga: asked for over HTTP, taken from a real
//! WordPress site on a node, stored in s3s-fs and verified; another tenant's site is 404.

use std::time::Duration;

use berth::app::Roles;
use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{actions, backup_settings, install_wordpress, storage, test_prefix};
use crate::api::Api;
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, site_action, wait_for, wait_for_status, LocalNode,
    NODE_SETTINGS,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_on_demand_backup_is_taken_stored_and_verified() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tbks").await;
    let config = storage(&test_prefix());
    let backups = backup_settings(&config);
    let mut settings: Vec<(&str, &str)> = NODE_SETTINGS.to_vec();
    settings.extend(backups.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let api = Api::start_roles(&settings, Roles::ALL).await;
    let operator = operator_token(&api).await;
    add_node(&api, &operator, &node, (4, 8192, 80)).await;
    let owner = api.register("Backups").await;
    let site = create_site(&api, &owner.token, "blog.saga.test", "wordpress", Some("8.2")).await;
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await["status"], "active");
    install_wordpress(&node.address, "blog.saga.test").await;

    let response = api
        .send(
            Method::POST,
            &format!("/v1/sites/{site}/backups"),
            Some(&owner.token),
            Some(json!({"kind": "full", "note": "first"})),
        )
        .await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let accepted: Value = response.json().await.unwrap();
    let backup = accepted["id"].as_str().unwrap().to_owned();

    let trail = wait_for(Duration::from_secs(120), || async {
        let trail = actions(&api, &owner.token, &backup).await;
        let last = trail.last().map(|e| e["action"].as_str().unwrap_or("").to_owned());
        assert_ne!(last.as_deref(), Some("BackupFailed"), "the backup failed: {trail:?}");
        (last.as_deref() == Some("BackupVerified")).then_some(trail)
    })
    .await;
    let names: Vec<&str> = trail.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(names, ["BackupRequested", "BackupTaken", "BackupVerified"]);

    let store = berth_sagas::backup::store::connect(&config).unwrap();
    let tenant: berth_domain::ids::TenantId = owner.tenant_id.parse().unwrap();
    let key = berth_sagas::backup::store::object_key(&config.prefix, tenant, backup.parse().unwrap());
    let meta = store.head(&key).await.expect("the object is stored under the tenant's prefix");
    assert!(meta.size > 1000, "{meta:?}");

    // Another tenant cannot back up this site: it does not exist for them.
    let other = api.register("Other").await;
    let response = api
        .send(
            Method::POST,
            &format!("/v1/sites/{site}/backups"),
            Some(&other.token),
            Some(json!({"kind": "full"})),
        )
        .await;
    assert_eq!(response.status(), 404);
    let response = api
        .send(
            Method::POST,
            &format!("/v1/sites/{site}/backups"),
            Some(&owner.token),
            Some(json!({"kind": "all"})),
        )
        .await;
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["field"], "kind", "{problem}");
    // Deleting the site takes a backup first, held for keep_after_delete_days.
    site_action(&api, &owner.token, &site, "delete").await;
    wait_for_status(&api, &owner.token, &site, &["deleted"]).await;
    let (status, page) = api.read(&format!("/v1/sites/{site}/backups"), &owner.token).await;
    assert_eq!(status, 200, "{page}");
    let last = page["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["trigger"], "before_delete", "{page}");
    assert_eq!(last["status"], "verified", "{page}");
    assert!(!last["keep_until"].is_null(), "{last}");

    let prefix = berth_sagas::backup::store::tenant_prefix(&config.prefix, tenant);
    let listed: Vec<_> = futures::StreamExt::collect::<Vec<_>>(store.list(Some(&prefix))).await;
    assert_eq!(listed.len(), 2, "the on-demand backup and the one before deletion");
    for object in listed {
        store.delete(&object.unwrap().location).await.unwrap();
    }
    api.stop().await;
}

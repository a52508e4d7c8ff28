//! Backups when things fail: the sagas process killed during an upload, object storage down
//! and back, a full disk on the node. Each failure is an event with its reason, nothing half
//! written ever counts as verified, and the retry completes the backup.

use berth::app::Roles;
use object_store::ObjectStore;
use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{
    actions, backup_settings, install_wordpress, storage, test_prefix, wait_for_action, wait_for_entry, Proxy,
};
use crate::api::Api;
use crate::common::kill9;
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, spawn_role, wait_for, wait_for_status, LocalNode,
    NODE_SETTINGS,
};

async fn back_up(api: &Api, token: &str, site: &str, kind: &str) -> String {
    let response = api
        .send(Method::POST, &format!("/v1/sites/{site}/backups"), Some(token), Some(json!({"kind": kind})))
        .await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    accepted["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sagas_process_killed_during_an_upload_leaves_no_verified_half_object() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tbkk").await;
    let config = storage(&test_prefix());
    let mut extra = backup_settings(&config);
    extra.push(("BERTH_SAGAS__BACKUPS__TAKEOVER_SECS".to_owned(), "5".to_owned()));
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let api = Api::start_roles(NODE_SETTINGS, Roles { sagas: false, ..Roles::ALL }).await;
    let mut first = spawn_role(&api, "sagas", &extra);
    let operator = operator_token(&api).await;
    add_node(&api, &operator, &node, (4, 8192, 80)).await;
    let owner = api.register("Killed").await;
    let site = create_site(&api, &owner.token, "big.killed.test", "static", None).await;
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await["status"], "active");
    // 160 MB that do not compress, so the upload takes a while.
    let docroot = format!("{}/srv/sites/{site}/public", node.root);
    let (ok, _) = node.shell(&format!("head -c 160M /dev/urandom > {docroot}/video.bin"));
    assert!(ok);

    let backup = back_up(&api, &owner.token, &site, "files").await;
    // Killed while the node's archive streams into the upload.
    let streaming = format!("pgrep -f '[t]ar --create .* -C {}/srv/sites/{site} public'", node.root);
    wait_for(std::time::Duration::from_secs(60), || async { node.shell(&streaming).0.then_some(()) }).await;
    kill9(&mut first).await;

    let store = berth_sagas::backup::store::connect(&config).unwrap();
    let tenant: berth_domain::ids::TenantId = owner.tenant_id.parse().unwrap();
    let key = berth_sagas::backup::store::object_key(&config.prefix, tenant, backup.parse().unwrap());
    assert!(
        matches!(store.head(&key).await, Err(object_store::Error::NotFound { .. })),
        "an upload that never completed leaves no object"
    );
    let trail = actions(&api, &owner.token, &backup).await;
    let names: Vec<&str> = trail.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(names, ["BackupRequested"], "nothing was recorded for the half-written object");

    // Another sagas process takes the step over and completes the backup.
    let mut second = spawn_role(&api, "sagas", &extra);
    let trail = wait_for_action(&api, &owner.token, &backup, "BackupVerified", "BackupFailed").await;
    let taken = trail.iter().find(|e| e["action"] == "BackupTaken").unwrap();
    let size = taken["details"]["manifest"]["size"].as_u64().unwrap();
    assert!(size > 160 * 1024 * 1024, "the whole archive is stored: {size}");
    assert_eq!(store.head(&key).await.unwrap().size, size);
    kill9(&mut second).await;
    store.delete(&key).await.unwrap();
    let _ = node.shell(&format!("rm -f {docroot}/video.bin"));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn storage_down_and_a_full_disk_are_recorded_and_retried() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tbkf").await;
    let config = storage(&test_prefix());
    let target = config.endpoint.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let proxy = Proxy::start(target, false).await;
    let mut extra = backup_settings(&config);
    extra.retain(|(k, _)| k != "BERTH_BACKUPS__ENDPOINT");
    extra.push(("BERTH_BACKUPS__ENDPOINT".to_owned(), format!("http://{}", proxy.addr)));
    extra.push(("BERTH_BACKUPS__MAX_ATTEMPTS".to_owned(), "50".to_owned()));
    let mut settings: Vec<(&str, &str)> = NODE_SETTINGS.to_vec();
    settings.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let api = Api::start_roles(&settings, Roles::ALL).await;
    let operator = operator_token(&api).await;
    add_node(&api, &operator, &node, (4, 8192, 80)).await;
    let owner = api.register("Faults").await;
    let site = create_site(&api, &owner.token, "blog.faults.test", "wordpress", Some("8.2")).await;
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await["status"], "active");
    install_wordpress(&node.address, "blog.faults.test").await;

    // Storage is down: the failure is recorded with its reason and a retry time.
    let backup = back_up(&api, &owner.token, &site, "full").await;
    let failed = wait_for_entry(&api, &owner.token, &backup, |e| e["action"] == "BackupFailed").await;
    assert_eq!(failed["details"]["reason"], "upload_failed", "{failed}");
    assert!(!failed["details"]["retry_at"].is_null(), "{failed}");
    // Back up: a retry completes it.
    proxy.set_up(true);
    wait_for_action(&api, &owner.token, &backup, "BackupVerified", "nothing").await;
    let (_, view) = api.read(&format!("/v1/backups/{backup}"), &owner.token).await;
    assert_eq!(view["status"], "verified", "{view}");
    assert!(view["attempt"].as_i64().unwrap() >= 2, "{view}");

    // A full disk on the node: disk_full, and nothing is left in the bucket.
    node.run("fill").await;
    let full = back_up(&api, &owner.token, &site, "full").await;
    let failed = wait_for_entry(&api, &owner.token, &full, |e| e["action"] == "BackupFailed").await;
    assert_eq!(failed["details"]["reason"], "disk_full", "{failed}");
    let store = berth_sagas::backup::store::connect(&config).unwrap();
    let tenant: berth_domain::ids::TenantId = owner.tenant_id.parse().unwrap();
    let key = berth_sagas::backup::store::object_key(&config.prefix, tenant, full.parse().unwrap());
    assert!(matches!(store.head(&key).await, Err(object_store::Error::NotFound { .. })), "no partial object");
    node.run("unfill").await;
    wait_for_action(&api, &owner.token, &full, "BackupVerified", "nothing").await;

    // Operators see every failure, with its reason.
    let (status, page) = api.read("/v1/ops/backups/failures?limit=200", &operator).await;
    assert_eq!(status, 200, "{page}");
    let reasons: Vec<(&str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["tenant"] == owner.tenant_id.as_str())
        .map(|f| (f["target_id"].as_str().unwrap(), f["reason"].as_str().unwrap()))
        .collect();
    assert!(reasons.contains(&(backup.as_str(), "upload_failed")), "{page}");
    assert!(reasons.contains(&(full.as_str(), "disk_full")), "{page}");
    let (status, _) = api.read("/v1/ops/backups/failures", &owner.token).await;
    assert_eq!(status, 403, "a tenant does not see the platform's failures");

    let prefix = berth_sagas::backup::store::tenant_prefix(&config.prefix, tenant);
    let listed: Vec<_> = futures::StreamExt::collect::<Vec<_>>(store.list(Some(&prefix))).await;
    for object in listed {
        store.delete(&object.unwrap().location).await.unwrap();
    }
    api.stop().await;
}

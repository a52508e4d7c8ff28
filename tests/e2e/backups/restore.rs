//! RestoreBackup through the API on a real WordPress site: a deleted post and file come back;
//! another tenant's backup is 404; a damaged object is refused before anything changes; a
//! restore to a point in time picks the backup taken then or before.

use berth::app::Roles;
use futures::StreamExt;
use object_store::{ObjectStore, PutPayload};
use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{
    actions, backup_settings, install_wordpress, shell_quote, storage, test_prefix, wait_for_action,
};
use crate::api::Api;
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, site_user, wait_for_status, LocalNode,
    NODE_SETTINGS,
};

const UPLOAD: &str = "wp-content/uploads/2026/12/harbour.bin";

fn sql(node: &LocalNode, database: &str, query: &str) -> String {
    let command = format!(
        "mariadb --socket=\"$BERTH_NODE_ROOT/run/mysqld.sock\" -u root --batch --skip-column-names {database} -e {}",
        shell_quote(query)
    );
    let (ok, out) = node.shell(&command);
    assert!(ok, "SQL failed: {query}");
    out.trim().to_owned()
}

async fn post(api: &Api, token: &str, path: &str, body: Value) -> (u16, Value) {
    let response = api.send(Method::POST, path, Some(token), Some(body)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restore_brings_back_a_deleted_post_and_file_and_refuses_a_damaged_object() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tbkr").await;
    let config = storage(&test_prefix());
    let backups = backup_settings(&config);
    let mut settings: Vec<(&str, &str)> = NODE_SETTINGS.to_vec();
    settings.extend(backups.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let api = Api::start_roles(&settings, Roles::ALL).await;
    let operator = operator_token(&api).await;
    add_node(&api, &operator, &node, (4, 8192, 80)).await;
    let owner = api.register("Restores").await;
    let domain = "blog.restore.test";
    let site = create_site(&api, &owner.token, domain, "wordpress", Some("8.2")).await;
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await["status"], "active");
    install_wordpress(&node.address, domain).await;
    let db = site_user(&site);
    sql(
        &node,
        &db,
        "INSERT INTO wp_posts (post_author, post_date, post_date_gmt, post_content, post_title, post_excerpt, \
         post_status, post_name, to_ping, pinged, post_modified, post_modified_gmt, post_content_filtered, \
         post_type, guid) VALUES (1, NOW(), UTC_TIMESTAMP(), 'Tide tables for December', 'Tides', '', 'publish', \
         'tides', '', '', NOW(), UTC_TIMESTAMP(), '', 'post', '')",
    );
    let post_id = sql(&node, &db, "SELECT ID FROM wp_posts WHERE post_name = 'tides'");
    let file_path = format!("{}/srv/sites/{site}/public/{UPLOAD}", node.root);
    let file: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(40_503) >> 7) as u8).collect();
    std::fs::create_dir_all(std::path::Path::new(&file_path).parent().unwrap()).unwrap();
    std::fs::write(&file_path, &file).unwrap();

    let (status, accepted) =
        post(&api, &owner.token, &format!("/v1/sites/{site}/backups"), json!({"kind": "full"})).await;
    assert_eq!(status, 202, "{accepted}");
    let backup = accepted["id"].as_str().unwrap().to_owned();
    wait_for_action(&api, &owner.token, &backup, "BackupVerified", "BackupFailed").await;

    // The post and the file are lost.
    sql(&node, &db, &format!("DELETE FROM wp_posts WHERE ID = {post_id}"));
    std::fs::remove_file(&file_path).unwrap();

    // Another tenant's backup id is as unknown as a missing one.
    let other = api.register("Elsewhere").await;
    let (status, _) =
        post(&api, &other.token, &format!("/v1/backups/{backup}/restore"), json!({"what": "full"})).await;
    assert_eq!(status, 404);

    let (status, accepted) =
        post(&api, &owner.token, &format!("/v1/backups/{backup}/restore"), json!({"what": "full"})).await;
    assert_eq!(status, 202, "{accepted}");
    let restore = accepted["id"].as_str().unwrap().to_owned();
    let trail = wait_for_action(&api, &owner.token, &restore, "RestoreCompleted", "RestoreFailed").await;
    let steps: Vec<&str> = trail.iter().filter_map(|e| e["details"]["step"].as_str()).collect();
    assert_eq!(
        steps,
        [
            "verify_checksum",
            "safety_backup",
            "maintenance_on",
            "restore_files",
            "restore_database",
            "swap",
            "check_site",
            "maintenance_off"
        ],
        "{trail:?}"
    );

    // The read side: the restore with its steps, the site's backups, the storage in use.
    let version = trail.last().unwrap()["target"]["version"].as_i64().unwrap();
    let (status, view) =
        api.read(&format!("/v1/restores/{restore}?min_version={version}"), &owner.token).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["status"], "completed", "{view}");
    assert_eq!(view["steps"].as_array().unwrap().len(), 8, "{view}");
    let (status, page) = api.read(&format!("/v1/sites/{site}/backups"), &owner.token).await;
    assert_eq!(status, 200, "{page}");
    let listed: Vec<(&str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["trigger"].as_str().unwrap(), b["status"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, [("on_demand", "verified"), ("before_restore", "verified")], "{page}");
    let (_, storage_used) = api.read("/v1/backup-storage", &owner.token).await;
    assert_eq!(storage_used["objects"], 2, "{storage_used}");
    assert!(storage_used["bytes"].as_i64().unwrap() > 10_000, "{storage_used}");
    let (status, _) = api.read(&format!("/v1/backups/{backup}"), &other.token).await;
    assert_eq!(status, 404, "another tenant does not see the backup");

    assert_eq!(sql(&node, &db, &format!("SELECT post_title FROM wp_posts WHERE ID = {post_id}")), "Tides");
    let (status, body, _) = node.get(domain, &format!("/?p={post_id}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Tide tables for December"), "the post is served again");
    let served = reqwest::Client::new()
        .get(format!("http://{}/{UPLOAD}", node.address))
        .header("Host", domain)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(served.as_ref() == file.as_slice(), "the file is back, byte for byte");

    // Into another site of the tenant: a working copy, at the other site's own address.
    let copy = create_site(&api, &owner.token, "copy.restore.test", "wordpress", Some("8.2")).await;
    assert_eq!(wait_for_status(&api, &owner.token, &copy, &["active", "failed"]).await["status"], "active");
    let (status, accepted) = post(
        &api,
        &owner.token,
        &format!("/v1/backups/{backup}/restore"),
        json!({"what": "full", "target_site_id": copy}),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let into_copy = accepted["id"].as_str().unwrap().to_owned();
    wait_for_action(&api, &owner.token, &into_copy, "RestoreCompleted", "RestoreFailed").await;
    let (status, body, _) = node.get("copy.restore.test", &format!("/?p={post_id}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Tide tables for December"), "the copy serves the post");
    let home =
        sql(&node, &site_user(&copy), "SELECT option_value FROM wp_options WHERE option_name = 'home'");
    assert_eq!(home, "http://copy.restore.test", "the copy answers at its own address");
    let (status, _) = post(
        &api,
        &other.token,
        &format!("/v1/backups/{backup}/restore"),
        json!({"what": "full", "target_site_id": copy}),
    )
    .await;
    assert_eq!(status, 404, "another tenant cannot restore into the copy either");

    // One byte flipped in the stored object: the restore is refused at its first step and the
    // site keeps serving exactly what it served.
    let store = berth_sagas::backup::store::connect(&config).unwrap();
    let tenant: berth_domain::ids::TenantId = owner.tenant_id.parse().unwrap();
    let key = berth_sagas::backup::store::object_key(&config.prefix, tenant, backup.parse().unwrap());
    let mut stored = store.get(&key).await.unwrap().bytes().await.unwrap().to_vec();
    let middle = stored.len() / 2;
    stored[middle] ^= 0x40;
    store.put(&key, PutPayload::from(stored)).await.unwrap();
    let (_, before, _) = node.get(domain, &format!("/?p={post_id}")).await;
    let (status, accepted) =
        post(&api, &owner.token, &format!("/v1/backups/{backup}/restore"), json!({"what": "full"})).await;
    assert_eq!(status, 202, "{accepted}");
    let refused = accepted["id"].as_str().unwrap().to_owned();
    let trail = wait_for_action(&api, &owner.token, &refused, "RestoreFailed", "RestoreCompleted").await;
    let failure = &trail.last().unwrap()["details"];
    assert_eq!(failure["step"], "verify_checksum", "{failure}");
    assert_eq!(failure["reason"], "checksum_mismatch", "{failure}");
    assert_eq!(actions(&api, &owner.token, &refused).await.len(), 2, "nothing ran after the check");
    let (status, after, _) = node.get(domain, &format!("/?p={post_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(after, before, "the site serves exactly what it served");

    // To a point in time: the latest verified backup taken then or before. Just after the
    // first backup that is the on-demand one (the safety backup came later), damaged now, so
    // this restore too stops at its check.
    let (_, page) = api.read(&format!("/v1/sites/{site}/backups"), &owner.token).await;
    let items = page["items"].as_array().unwrap();
    let first = items.iter().find(|b| b["backup_id"] == backup.as_str()).unwrap();
    let at = first["verified_at"].as_str().unwrap().to_owned();
    let path = format!("/v1/sites/{site}/restore");
    let (status, accepted) = post(&api, &owner.token, &path, json!({"at": at, "what": "full"})).await;
    assert_eq!(status, 202, "{accepted}");
    let picked = accepted["id"].as_str().unwrap().to_owned();
    wait_for_action(&api, &owner.token, &picked, "RestoreFailed", "RestoreCompleted").await;
    let (_, view) = api.read(&format!("/v1/restores/{picked}"), &owner.token).await;
    assert_eq!(view["backup_id"], backup.as_str(), "{view}");
    let earliest = items.iter().filter_map(|b| b["requested_at"].as_str()).min().unwrap();
    let before = time::OffsetDateTime::parse(earliest, &time::format_description::well_known::Rfc3339)
        .unwrap()
        - time::Duration::hours(1);
    let before = before.format(&time::format_description::well_known::Rfc3339).unwrap();
    let (status, problem) = post(&api, &owner.token, &path, json!({"at": before, "what": "full"})).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("at")), "{problem}");
    let (status, problem) = post(&api, &owner.token, &path, json!({"at": "yesterday", "what": "full"})).await;
    assert_eq!((status, problem["field"].as_str()), (400, Some("at")), "{problem}");
    let (status, _) = post(&api, &other.token, &path, json!({"at": at, "what": "full"})).await;
    assert_eq!(status, 404, "another tenant's site is unknown");

    for entry in store
        .list(Some(&berth_sagas::backup::store::tenant_prefix(&config.prefix, tenant)))
        .collect::<Vec<_>>()
        .await
    {
        store.delete(&entry.unwrap().location).await.unwrap();
    }
    api.stop().await;
}

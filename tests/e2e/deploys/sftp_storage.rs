//! The plan's storage limit on SFTP uploads, on a real node with OpenSSH's `sftp`: once the
//! tenant's storage reaches the limit (a sparse file stands in for gigabytes of uploads), the
//! account may still read but an upload is refused and the listing says so with the storage
//! and the limit; back under the limit, uploads work again.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth::app::Roles;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::Api;
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, wait_for, wait_for_status, LocalNode, NODE_SETTINGS,
};

const DOMAIN: &str = "files.sftpquota.test";

/// Puts `local` as `remote` over SFTP as `login`: whether it succeeded, and what sftp said.
fn put(node: &LocalNode, key: &Path, login: &str, local: &Path, remote: &str) -> (bool, String) {
    let batch = key.with_extension("batch");
    std::fs::write(&batch, format!("put {} {remote}\n", local.display())).unwrap();
    let out = Command::new("sftp")
        .args(["-q", "-b"])
        .arg(&batch)
        .arg("-i")
        .arg(key)
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
        .args(["-o", "IdentitiesOnly=yes"])
        .arg(format!("{login}@{}", node.address))
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Whether the node has `login` in the read-only SFTP group.
fn read_only(node: &LocalNode, login: &str) -> bool {
    let (ok, groups) = node.shell(&format!("id -nG {login}"));
    ok && groups.split_whitespace().any(|g| g == "berth-sftp-ro")
}

async fn account(api: &Api, token: &str, site: &str) -> Value {
    let (status, page) = api.read(&format!("/v1/sites/{site}/sftp-users"), token).await;
    assert_eq!(status, 200, "{page}");
    page["items"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_past_the_plans_storage_limit_are_refused_and_the_listing_shows_the_usage() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tsfq").await;
    let mut settings: Vec<(&str, &str)> = NODE_SETTINGS.to_vec();
    settings.push(("BERTH_BILLING__TRIAL_PLAN", "capped"));
    settings.push(("BERTH_SAGAS__USAGE__INTERVAL_SECS", "1"));
    let api = Api::start_roles(&settings, Roles::ALL).await;
    let operator = operator_token(&api).await;
    let plan = json!({
        "code": "capped", "name": "Capped",
        "prices": [{"period": "month", "price": {"amount_minor": 1000, "currency": "EUR"}}],
        "limits": {"sites": 5, "storage_gb": 1, "support": "standard", "backups": {
            "frequency": "daily", "retention_days": 7}},
        "trial_days": 30, "overage": []
    });
    let response = api.send(Method::POST, "/v1/plans", Some(&operator), Some(plan)).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    add_node(&api, &operator, &node, (4, 8192, 80)).await;
    let owner = api.register("Quota").await;
    let site = create_site(&api, &owner.token, DOMAIN, "static", None).await;
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await["status"], "active");

    let dir = std::env::temp_dir().join(format!("berth-sftpq-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("id_ed25519");
    assert!(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap()
        .success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let body = json!({"name": "deploy", "public_key": public.trim()});
    let response =
        api.send(Method::POST, &format!("/v1/sites/{site}/sftp-users"), Some(&owner.token), Some(body)).await;
    assert_eq!(response.status(), 202);
    let ready = wait_for(Duration::from_secs(60), || async {
        let first = account(&api, &owner.token, &site).await;
        (first["status"].is_string() && first["status"] != "pending").then_some(first)
    })
    .await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["uploads_locked"], false, "{ready}");
    let login = ready["login"].as_str().unwrap().to_owned();
    let page = dir.join("index.html");
    std::fs::write(&page, "<p>under the limit</p>").unwrap();
    let (ok, out) = put(&node, &key, &login, &page, "index.html");
    assert!(ok, "{out}");

    // Two gigabytes as du counts them (a sparse file), against a limit of one.
    let big = format!("\"$BERTH_NODE_ROOT/srv/sites/{site}/public/archive.bin\"");
    assert!(node.shell(&format!("truncate -s 2G {big}")).0);
    let locked = wait_for(Duration::from_secs(60), || async {
        let first = account(&api, &owner.token, &site).await;
        (first["uploads_locked"] == true).then_some(first)
    })
    .await;
    assert!(locked["storage_used_bytes"].as_i64().unwrap() >= 2_000_000_000, "{locked}");
    assert_eq!(locked["storage_limit_bytes"], 1_000_000_000_i64, "{locked}");
    // The node locks the account a moment after the event.
    wait_for(Duration::from_secs(30), || async { read_only(&node, &login).then_some(()) }).await;
    std::fs::write(&page, "<p>past the limit</p>").unwrap();
    let (ok, refused) = put(&node, &key, &login, &page, "more.html");
    assert!(!ok, "an upload past the limit went through");
    assert!(refused.to_lowercase().contains("permission denied"), "{refused}");
    // An account added while the site is locked is read-only from the start.
    let body = json!({"name": "late", "public_key": public.trim()});
    let response =
        api.send(Method::POST, &format!("/v1/sites/{site}/sftp-users"), Some(&owner.token), Some(body)).await;
    assert_eq!(response.status(), 202);
    let late = wait_for(Duration::from_secs(60), || async {
        let (_, page) = api.read(&format!("/v1/sites/{site}/sftp-users"), &owner.token).await;
        let late = page["items"].as_array()?.iter().find(|a| a["name"] == "late")?.clone();
        (late["status"] == "ready").then_some(late)
    })
    .await;
    assert_eq!(late["uploads_locked"], true, "{late}");
    let late_login = late["login"].as_str().unwrap().to_owned();
    assert!(read_only(&node, &late_login));
    let (ok, _) = put(&node, &key, &late_login, &page, "late.html");
    assert!(!ok, "the late account uploaded past the limit");
    let (status, body, _) = node.get(DOMAIN, "/more.html").await;
    assert_eq!(status, 404, "nothing past the limit was written: {body}");
    assert_eq!(node.get(DOMAIN, "/late.html").await.0, 404);
    let (status, body, _) = node.get(DOMAIN, "/").await;
    assert_eq!((status, body.as_str()), (200, "<p>under the limit</p>"), "what was there is still served");

    // Back under the limit, uploads work again.
    assert!(node.shell(&format!("rm -f {big}")).0);
    let unlocked = wait_for(Duration::from_secs(60), || async {
        let first = account(&api, &owner.token, &site).await;
        (first["uploads_locked"] == false).then_some(first)
    })
    .await;
    assert!(unlocked["storage_used_bytes"].as_i64().unwrap() < 1_000_000_000, "{unlocked}");
    wait_for(Duration::from_secs(30), || async {
        (!read_only(&node, &login) && !read_only(&node, &late_login)).then_some(())
    })
    .await;
    let (ok, out) = put(&node, &key, &login, &page, "more.html");
    assert!(ok, "{out}");
    let (status, body, _) = node.get(DOMAIN, "/more.html").await;
    assert_eq!((status, body.as_str()), (200, "<p>past the limit</p>"));
    let _ = std::fs::remove_dir_all(&dir);
    api.stop().await;
}

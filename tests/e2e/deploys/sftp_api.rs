//! SFTP accounts through the API: added to a static site on a registered node, the account
//! uploads a page that is then served; bad names, keys and passwords are problems naming the
//! field; another tenant's site is 404; a removed account is gone from the list.

use std::process::Command;
use std::time::Duration;

use berth::app::Roles;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::Api;
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, wait_for, wait_for_status, LocalNode, NODE_SETTINGS,
};

const DOMAIN: &str = "files.sftpapi.test";

async fn post(api: &Api, token: &str, site: &str, body: Value) -> (u16, Value) {
    let response =
        api.send(Method::POST, &format!("/v1/sites/{site}/sftp-users"), Some(token), Some(body)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_sftp_account_made_through_the_api_uploads_a_page_that_is_served() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tsfa").await;
    let api = Api::start_roles(NODE_SETTINGS, Roles::ALL).await;
    let operator = operator_token(&api).await;
    add_node(&api, &operator, &node, (4, 8192, 80)).await;
    let owner = api.register("Uploaders").await;
    let site = create_site(&api, &owner.token, DOMAIN, "static", None).await;
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await["status"], "active");

    for (body, field) in [
        (json!({"name": "Not A Name", "public_key": "ssh-ed25519 AAAA"}), "name"),
        (json!({"name": "deploy", "public_key": "ssh-ed25519 bm90IGEga2V5"}), "public_key"),
        (json!({"name": "deploy", "password": "short"}), "password"),
        (json!({"name": "deploy"}), "public_key"),
    ] {
        let (status, problem) = post(&api, &owner.token, &site, body.clone()).await;
        assert_eq!((status, problem["field"].as_str()), (400, Some(field)), "{body}: {problem}");
    }
    let other = api.register("Elsewhere").await;
    let (status, _) =
        post(&api, &other.token, &site, json!({"name": "deploy", "password": "a long password"})).await;
    assert_eq!(status, 404);

    let dir = std::env::temp_dir().join(format!("berth-sftp-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("id_ed25519");
    assert!(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap()
        .success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let (status, answer) =
        post(&api, &owner.token, &site, json!({"name": "deploy", "public_key": public.trim()})).await;
    assert_eq!(status, 202, "{answer}");
    let (status, again) =
        post(&api, &owner.token, &site, json!({"name": "deploy", "public_key": public.trim()})).await;
    assert_eq!(status, 409, "{again}");
    let account = wait_for(Duration::from_secs(60), || async {
        let (_, page) = api.read(&format!("/v1/sites/{site}/sftp-users"), &owner.token).await;
        let first = page["items"].as_array().and_then(|i| i.first()).cloned()?;
        (first["status"] != "pending").then_some(first)
    })
    .await;
    assert_eq!(account["status"], "ready", "{account}");
    let login = account["login"].as_str().unwrap().to_owned();

    let page = dir.join("index.html");
    std::fs::write(&page, "<p>put there by sftp</p>").unwrap();
    let batch = dir.join("batch");
    std::fs::write(&batch, format!("put {} index.html\n", page.display())).unwrap();
    let out = Command::new("sftp")
        .args(["-q", "-b"])
        .arg(&batch)
        .arg("-i")
        .arg(&key)
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
        .arg(format!("{login}@{}", node.address))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (status, body, _) = node.get(DOMAIN, "/").await;
    assert_eq!((status, body.as_str()), (200, "<p>put there by sftp</p>"));

    let response = api
        .send(Method::DELETE, &format!("/v1/sites/{site}/sftp-users/deploy"), Some(&owner.token), None)
        .await;
    assert_eq!(response.status(), 202);
    wait_for(Duration::from_secs(60), || async {
        let (_, page) = api.read(&format!("/v1/sites/{site}/sftp-users"), &owner.token).await;
        page["items"].as_array().is_some_and(|i| i.is_empty()).then_some(())
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    api.stop().await;
}

//! A staging copy that cannot be made: production's node has no room for it, so its making
//! fails at its first step with the reason, production serves as it did, the copy cannot be
//! promoted, and deleting it lets the site be deleted.

use std::time::Duration;

use berth::app::Roles;
use reqwest::Method;
use serde_json::Value;

use crate::api::Api;
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, wait_for, wait_for_status, LocalNode, NODE_SETTINGS,
};

async fn send(api: &Api, token: &str, method: Method, path: &str) -> (u16, Value) {
    let response = api.send(method, path, Some(token), None).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_without_room_on_productions_node_fails_and_leaves_production_as_it_was() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tstf").await;
    let api = Api::start_roles(NODE_SETTINGS, Roles::ALL).await;
    let operator = operator_token(&api).await;
    // Room for one static site (1 GB of disk), not for its copy.
    add_node(&api, &operator, &node, (1, 1024, 1)).await;
    let owner = api.register("Crowded").await;
    let domain = "shop.crowded.test";
    let site = create_site(&api, &owner.token, domain, "static", None).await;
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await["status"], "active");
    let (_, before, _) = node.get(domain, "/").await;

    let (status, accepted) =
        send(&api, &owner.token, Method::POST, &format!("/v1/sites/{site}/staging")).await;
    assert_eq!(status, 202, "{accepted}");
    let copy = accepted["id"].as_str().unwrap().to_owned();
    let detail = wait_for(Duration::from_secs(60), || async {
        let (_, detail) = api.read(&format!("/v1/sites/{site}"), &owner.token).await;
        (detail["staging"]["status"] == "failed").then_some(detail)
    })
    .await;
    let error = detail["staging"]["last_error"].as_str().unwrap();
    assert!(error.contains("no ready node has room"), "{detail}");
    let failed: Vec<&Value> =
        detail["steps"].as_array().unwrap().iter().filter(|s| s["step"] == "staging_provision").collect();
    assert_eq!(failed.len(), 1, "{detail}");
    assert_eq!(failed[0]["outcome"], "failed", "{detail}");
    assert_eq!(detail["status"], "active", "{detail}");
    let (_, copy_detail) = api.read(&format!("/v1/sites/{copy}"), &owner.token).await;
    assert_eq!(
        (copy_detail["status"].as_str(), copy_detail["error_code"].as_str()),
        (Some("failed"), Some("no_room"))
    );
    let (status, after, _) = node.get(domain, "/").await;
    assert_eq!((status, after), (200, before), "production serves what it served");

    // A failed copy is not promoted, and production is not deleted before it.
    let (status, problem) =
        send(&api, &owner.token, Method::POST, &format!("/v1/sites/{site}/staging/promote")).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (409, Some("https://berth.dev/problems/staging-not-ready")),
        "{problem}"
    );
    let (status, problem) = send(&api, &owner.token, Method::DELETE, &format!("/v1/sites/{site}")).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (409, Some("https://berth.dev/problems/site-has-staging")),
        "{problem}"
    );

    let (status, accepted) =
        send(&api, &owner.token, Method::DELETE, &format!("/v1/sites/{site}/staging")).await;
    assert_eq!(status, 202, "{accepted}");
    wait_for(Duration::from_secs(60), || async {
        let (_, detail) = api.read(&format!("/v1/sites/{site}"), &owner.token).await;
        detail["staging"].is_null().then_some(())
    })
    .await;
    let (status, accepted) = send(&api, &owner.token, Method::DELETE, &format!("/v1/sites/{site}")).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["deleted"]).await["status"], "deleted");
    api.stop().await;
}

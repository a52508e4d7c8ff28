//! Nodes failing: an unknown PHP version, a full disk, a stopped sshd, a changed host key,
//! concurrent creations on small nodes, and a sagas process killed mid-provisioning. Each ends
//! in a clear event and state; no site is stuck provisioning and no capacity leaks.

use std::time::Duration;

use berth::app::Roles;
use reqwest::Method;
use serde_json::Value;

use crate::api::{problem, Api};
use crate::common::kill9;
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, site_action, spawn_role, wait_for, wait_for_status,
    wait_for_status_after, LocalNode, NODE_SETTINGS,
};

async fn allocated_sites(api: &Api, operator: &str, node: &str) -> usize {
    let (_, view) = api.read(&format!("/v1/nodes/{node}"), operator).await;
    view["site_list"].as_array().map_or(0, Vec::len)
}

/// An unknown PHP version and a full disk fail provisioning with the node's reason and release
/// the capacity; sshd stopped after placement fails it too, and a retry once sshd is back
/// succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_failures_end_in_clear_states_and_release_capacity() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tfail").await;
    let mut settings = NODE_SETTINGS.to_vec();
    settings.push(("BERTH_SAGAS__HEALTH__PROBE_INTERVAL_SECS", "3600"));
    let api = Api::start_roles(&settings, Roles::ALL).await;
    let operator = operator_token(&api).await;
    let node_id = add_node(&api, &operator, &node, (4, 8192, 80)).await;
    let owner = api.register("Failures").await;

    // PHP 8.4 is a version Berth knows, but this node has no php-fpm for it.
    let php = create_site(&api, &owner.token, "php.fail.test", "php", Some("8.4")).await;
    let site = wait_for_status(&api, &owner.token, &php, &["active", "failed"]).await;
    assert_eq!(site["status"], "failed");
    assert!(site["last_error"].as_str().unwrap().contains("unsupported_php"), "{site}");
    assert_eq!(site["steps"].as_array().unwrap().last().unwrap()["step"], "provision");
    assert_eq!(allocated_sites(&api, &operator, &node_id).await, 0, "capacity leaked");

    // A full disk (a tiny tmpfs over the node's site directory).
    node.run("fill").await;
    let full = create_site(&api, &owner.token, "full.fail.test", "static", None).await;
    let site = wait_for_status(&api, &owner.token, &full, &["active", "failed"]).await;
    node.run("unfill").await;
    assert_eq!(site["status"], "failed");
    assert!(site["last_error"].as_str().unwrap().contains("disk_full"), "{site}");
    assert_eq!(allocated_sites(&api, &operator, &node_id).await, 0, "capacity leaked");

    // sshd stops after the site was placed (probes are off here, so the node is not known to
    // be down yet): provisioning fails with the node unreachable, its capacity released.
    let live = create_site(&api, &owner.token, "live.fail.test", "static", None).await;
    assert_eq!(wait_for_status(&api, &owner.token, &live, &["active", "failed"]).await["status"], "active");
    node.run("sshd-stop").await;
    let cut = create_site(&api, &owner.token, "cut.fail.test", "static", None).await;
    let site = wait_for_status(&api, &owner.token, &cut, &["active", "failed"]).await;
    assert_eq!(site["status"], "failed");
    assert!(site["last_error"].as_str().unwrap().contains("unreachable"), "{site}");
    assert_eq!(site["steps"].as_array().unwrap().last().unwrap()["step"], "provision");
    assert_eq!(allocated_sites(&api, &operator, &node_id).await, 1, "only the live site holds capacity");

    // sshd back: a retry succeeds.
    node.run("sshd-start").await;
    let retried = site_action(&api, &owner.token, &cut, "retry").await;
    let site = wait_for_status_after(&api, &owner.token, &cut, retried, &["active", "failed"]).await;
    assert_eq!(site["status"], "active", "{site}");
    assert!(site["last_error"].is_null());
    assert_eq!(node.get("cut.fail.test", "/").await.0, 200);
    // A retry of an active site, or a suspension of a failed one, is refused.
    let again = api.send(Method::POST, &format!("/v1/sites/{cut}/retry"), Some(&owner.token), None).await;
    problem(again, 409).await;
    let suspend = api.send(Method::POST, &format!("/v1/sites/{php}/suspend"), Some(&owner.token), None).await;
    problem(suspend, 409).await;
    // Deleting the failed sites works (nothing to remove but what the node may hold).
    for id in [&php, &full] {
        site_action(&api, &owner.token, id, "delete").await;
        wait_for_status(&api, &owner.token, id, &["deleted"]).await;
    }
    assert_eq!(allocated_sites(&api, &operator, &node_id).await, 2);
    api.stop().await;
}

/// A node that presents another host key than the pinned one is refused: the site fails, the
/// mismatch is recorded, work on the node stops and the alert's gauge is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_presenting_another_host_key_is_refused() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tkey").await;
    let api = Api::start_roles(NODE_SETTINGS, Roles::ALL).await;
    let operator = operator_token(&api).await;
    let node_id = add_node(&api, &operator, &node, (2, 4096, 40)).await;
    let owner = api.register("Host Keys").await;
    let rekeyed = node.run("rekey").await;
    let presented =
        rekeyed.lines().find_map(|l| l.strip_prefix("host_key=")).unwrap().trim_matches('\'').to_owned();
    assert_ne!(presented, node.host_key);

    let site = create_site(&api, &owner.token, "key.fail.test", "static", None).await;
    let failed = wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await;
    assert_eq!(failed["status"], "failed");
    // Whoever meets the new key first refuses it: the site's provisioning ("host key"), or the
    // health probe, which blocks the node so the site finds no ready node. Either way the node
    // is blocked with the key it presented (below).
    let reason = failed["last_error"].as_str().unwrap();
    assert!(reason.contains("host key") || reason.contains("no ready node"), "{failed}");
    let view: Value = wait_for(Duration::from_secs(10), || async {
        let (_, view) = api.read(&format!("/v1/nodes/{node_id}"), &operator).await;
        (view["blocked"] == true).then_some(view)
    })
    .await;
    assert_eq!(
        view["presented_key"].as_str().unwrap(),
        presented.split(' ').take(2).collect::<Vec<_>>().join(" ")
    );
    assert_eq!(view["allocated"]["millicores"], 0);
    // No more work on it: new sites are not placed there, bootstrap is refused.
    let next = create_site(&api, &owner.token, "next.fail.test", "static", None).await;
    let next = wait_for_status(&api, &owner.token, &next, &["active", "failed"]).await;
    assert!(next["last_error"].as_str().unwrap().contains("no ready node"), "{next}");
    let bootstrap =
        api.send(Method::POST, &format!("/v1/nodes/{node_id}/bootstrap"), Some(&operator), None).await;
    problem(bootstrap, 409).await;
    let metrics =
        api.http.get(format!("{}/metrics", api.command)).send().await.unwrap().text().await.unwrap();
    let gauge = format!("berth_node_host_key_mismatch{{node=\"{node_id}\"}} 1");
    assert!(metrics.contains(&gauge), "no {gauge} in /metrics");
    api.stop().await;
}

/// Concurrent creations on two small nodes never reserve more than they have; a draining node
/// takes no new sites and retires only once empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creations_never_over_allocate() {
    let _serial = one_at_a_time().await;
    let (a, b) = tokio::join!(LocalNode::up("tcca"), LocalNode::up("tccb"));
    let api = Api::start_roles(NODE_SETTINGS, Roles::ALL).await;
    let operator = operator_token(&api).await;
    // 3 GiB of disk each: three static sites (1 GiB each) per node.
    let (ida, idb) = tokio::join!(
        add_node(&api, &operator, &a, (1, 4096, 3)),
        add_node(&api, &operator, &b, (1, 4096, 3))
    );
    let owner = api.register("Crowded").await;
    let creations = (0..9).map(|n| {
        let (api, token) = (&api, owner.token.clone());
        async move { create_site(api, &token, &format!("s{n}.crowd.test"), "static", None).await }
    });
    let ids = futures::future::join_all(creations).await;
    let mut outcomes = Vec::new();
    for id in &ids {
        outcomes.push(wait_for_status(&api, &owner.token, id, &["active", "failed"]).await);
    }
    let active = outcomes.iter().filter(|s| s["status"] == "active").count();
    assert_eq!(active, 6, "{outcomes:?}");
    for site in outcomes.iter().filter(|s| s["status"] == "failed") {
        assert!(site["last_error"].as_str().unwrap().contains("no ready node has room"), "{site}");
    }
    for id in [&ida, &idb] {
        let (_, view) = api.read(&format!("/v1/nodes/{id}"), &operator).await;
        assert_eq!(view["allocated"]["disk_gb"], 3, "{view}");
        assert_eq!(view["site_list"].as_array().unwrap().len(), 3);
    }
    // Drain a: it keeps its sites, takes no new ones, and cannot retire while it holds any.
    assert_eq!(
        api.send(Method::POST, &format!("/v1/nodes/{ida}/drain"), Some(&operator), None).await.status(),
        202
    );
    let retire =
        api.send(Method::POST, &format!("/v1/nodes/{ida}/decommission"), Some(&operator), None).await;
    assert!(problem(retire, 409).await["detail"].as_str().unwrap().contains("still holds 3 sites"));
    let on_a: Vec<&String> = ids
        .iter()
        .zip(&outcomes)
        .filter(|(_, s)| s["node"]["id"] == ida.as_str() && s["status"] == "active")
        .map(|(id, _)| id)
        .collect();
    for id in &on_a {
        site_action(&api, &owner.token, id, "delete").await;
    }
    for id in &on_a {
        wait_for_status(&api, &owner.token, id, &["deleted"]).await;
    }
    // Room on a again, but it is draining: a new site fails rather than going there.
    let late = create_site(&api, &owner.token, "late.crowd.test", "static", None).await;
    let late = wait_for_status(&api, &owner.token, &late, &["active", "failed"]).await;
    assert_eq!(late["status"], "failed");
    let retire =
        api.send(Method::POST, &format!("/v1/nodes/{ida}/decommission"), Some(&operator), None).await;
    assert_eq!(retire.status(), 202);
    api.stop().await;
}

/// The sagas process dies mid-provisioning; another one takes the step over after the ack
/// deadline, and the site ends active with one reservation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_sagas_process_is_taken_over() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("ttake").await;
    let api = Api::start_roles(NODE_SETTINGS, Roles { sagas: false, ..Roles::ALL }).await;
    let spawn = || spawn_role(&api, "sagas", &[]);
    let mut first = spawn();
    let operator = operator_token(&api).await;
    let node_id = add_node(&api, &operator, &node, (2, 4096, 40)).await;
    let owner = api.register("Takeover").await;
    let site = create_site(&api, &owner.token, "take.over.test", "wordpress", Some("8.2")).await;
    // Kill it as soon as the site is placed: provisioning on the node is under way.
    wait_for(Duration::from_secs(30), || async {
        let (_, detail) = api.read(&format!("/v1/sites/{site}"), &owner.token).await;
        (!detail["node"].is_null()).then_some(())
    })
    .await;
    kill9(&mut first).await;
    let mut second = spawn();
    let done = wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await;
    assert_eq!(done["status"], "active", "{done}");
    let allocations = done["steps"].as_array().unwrap().iter().filter(|s| s["step"] == "allocate").count();
    assert_eq!(allocations, 1);
    assert_eq!(allocated_sites(&api, &operator, &node_id).await, 1);
    assert_eq!(node.get("take.over.test", "/").await.0, 302);
    kill9(&mut second).await;
    api.stop().await;
}

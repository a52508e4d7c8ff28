//! Custom domains end to end, against PowerDNS (as the domain owner's own DNS), pebble and a
//! namespaced node: a claimed domain is not served while its TXT record is missing, is
//! verified once it is set, then served by the site's node over HTTPS with a certificate that
//! names it; another tenant cannot claim it any more, and removing it takes it off the node
//! and, at the certificate's next issue, off the certificate.

use std::time::Duration;

use berth::app::Roles;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::{problem, Api};
use crate::certs_harness::{
    borrowed, create_zone, https, node_and_peer_settings, unique_zone, wait_certificate, wait_served, Peers,
};
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, wait_for, wait_for_status, LocalNode,
};

async fn domain_view(api: &Api, token: &str, site: &str, domain: &str) -> Value {
    api.read(&format!("/v1/sites/{site}/domains/{domain}"), token).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_custom_domain_is_refused_until_verified_then_served_and_cannot_be_claimed_again() {
    let _serial = one_at_a_time().await;
    let peers = Peers::from_env();
    let root = peers.root();
    let node = LocalNode::up("dom1").await;
    let settings = node_and_peer_settings(&peers, &peers.directory);
    let api = Api::start_roles(&borrowed(&settings), Roles::ALL).await;
    let operator = operator_token(&api).await;
    add_node(&api, &operator, &node, (2, 4096, 40)).await;
    let owner = api.register("Shop Owner").await;
    let rival = api.register("Rival").await;
    let zone = unique_zone("d");
    let _zone = peers.clean_up(&zone);
    create_zone(&api, &owner.token, &zone).await;
    let primary = format!("www.{zone}");
    let site = create_site(&api, &owner.token, &primary, "static", None).await;
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await["status"], "active");
    let first = wait_certificate(&api, &owner.token, &site, |c| c["status"] == "active").await;
    let rival_site =
        create_site(&api, &rival.token, &format!("rival.{}", unique_zone("r")), "static", None).await;

    // The customer's domain lives at their own DNS provider (a zone on PowerDNS Berth does not
    // manage), already pointed at the node.
    let customer = unique_zone("x");
    let _customer = peers.clean_up(&customer);
    let custom = format!("shop.{customer}");
    peers.foreign_zone(&customer).await;
    peers.pdns_set(&customer, &custom, "A", &[&node.address]).await;

    // Bad input names its field; a site cannot claim its own domain.
    let add = |token: String, site: String, domain: String| {
        let api = &api;
        async move {
            api.send(
                Method::POST,
                &format!("/v1/sites/{site}/domains"),
                Some(&token),
                Some(json!({"domain": domain})),
            )
            .await
        }
    };
    assert_eq!(
        problem(add(owner.token.clone(), site.clone(), "not a domain".into()).await, 400).await["field"],
        "domain"
    );
    let own = problem(add(owner.token.clone(), site.clone(), primary.clone()).await, 422).await;
    assert_eq!(own["type"], "https://berth.dev/problems/domain-is-primary");
    problem(add(rival.token.clone(), site.clone(), custom.clone()).await, 404).await;

    // The claim answers the records to set; without the TXT record the domain is not served.
    let claimed = add(owner.token.clone(), site.clone(), custom.clone()).await;
    assert_eq!(claimed.status(), 202);
    let claim: Value = claimed.json().await.unwrap();
    let txt = claim["records"].as_array().unwrap().iter().find(|r| r["type"] == "TXT").unwrap().clone();
    assert_eq!(txt["name"], format!("_berth-challenge.{custom}"));
    assert_eq!(txt["value"], format!("berth-verification={}", claim["token"].as_str().unwrap()));
    assert!(claim["records"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["type"] == "A" && r["value"] == node.address.as_str()));
    // A rival may wait too while nobody has verified (claiming first squats nothing).
    let waiting = add(rival.token.clone(), rival_site.clone(), custom.clone()).await;
    assert_eq!(waiting.status(), 202);
    let pending = wait_for(Duration::from_secs(30), || async {
        let view = domain_view(&api, &owner.token, &site, &custom).await;
        (view["checks"].as_i64().unwrap_or(0) >= 2).then_some(view)
    })
    .await;
    assert_eq!(pending["status"], "pending");
    assert!(pending["last_error"].as_str().unwrap().contains("no TXT record"), "{pending}");
    assert_eq!(node.get(&custom, "/").await.0, 404, "the node serves a domain that is not verified");

    // The owner sets the record: verified, served over HTTP and over HTTPS with a certificate
    // that names it.
    peers
        .pdns_set(
            &customer,
            &format!("_berth-challenge.{custom}"),
            "TXT",
            &[&format!("\"{}\"", txt["value"].as_str().unwrap())],
        )
        .await;
    let verified = wait_for(Duration::from_secs(60), || async {
        let view = domain_view(&api, &owner.token, &site, &custom).await;
        (view["status"] == "verified").then_some(view)
    })
    .await;
    assert!(verified["verified_at"].is_string());
    let covered = wait_certificate(&api, &owner.token, &site, |c| {
        c["status"] == "active"
            && c["serial"] != first["serial"]
            && c["covers"].as_array().is_some_and(|n| n.contains(&json!(custom)))
    })
    .await;
    assert_eq!(covered["attempt_reason"], "names_changed");
    assert_eq!(https(&root, &custom, &node.address, "/").0, 200);
    assert_eq!(https(&root, &primary, &node.address, "/").0, 200);

    // The rival's waiting claim was dropped, and a new one is refused.
    let rival_view = domain_view(&api, &rival.token, &rival_site, &custom).await;
    assert_eq!(rival_view["status"], "dropped", "{rival_view}");
    let refused = problem(add(rival.token.clone(), rival_site.clone(), custom.clone()).await, 409).await;
    insta::assert_json_snapshot!("custom_domain_claimed_elsewhere", refused);

    // Removing the domain takes it off the node; the certificate keeps it until its next issue.
    let removed = api
        .send(Method::DELETE, &format!("/v1/sites/{site}/domains/{custom}"), Some(&owner.token), None)
        .await;
    assert_eq!(removed.status(), 202);
    wait_for(Duration::from_secs(30), || async { (node.get(&custom, "/").await.0 == 404).then_some(()) })
        .await;
    assert_eq!(node.get(&primary, "/").await.0, 301, "the site itself still redirects to HTTPS");
    let (_, list) = api.read(&format!("/v1/sites/{site}/domains"), &owner.token).await;
    assert_eq!(list, json!([]));
    let next = wait_certificate(&api, &owner.token, &site, |c| c["names"] == json!([primary.clone()])).await;
    assert_eq!(next["serial"], covered["serial"], "no new certificate until the next issue");
    // The next issue leaves the removed domain out.
    let reissued = api
        .send(Method::POST, &format!("/v1/sites/{site}/certificate"), Some(&owner.token), Some(json!({})))
        .await;
    assert_eq!(reissued.status(), 202);
    let without = wait_certificate(&api, &owner.token, &site, |c| {
        c["status"] == "active" && c["serial"] != covered["serial"]
    })
    .await;
    assert_eq!(without["covers"], json!([primary.clone()]), "{without}");
    wait_served(&primary, &node.address, &without).await;
    assert_eq!(peers.pdns(Method::DELETE, &format!("/zones/{customer}."), None).await, 204);
    let _ = std::fs::remove_file(root);
    api.stop().await;
}

//! A node destroyed with its sites: evacuated from their verified backups, then retired. A
//! site with no backup stays, then is lost, deletable, and its domain free again; another
//! tenant's site is never touched; the node's name and address can be registered again.

use berth::app::Roles;
use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{
    entry, evacuate, evacuated, held, open_stream, post, serves_post, stream_until, verified_backup,
    wordpress_with_post,
};
use crate::api::Api;
use crate::backups::harness::{backup_settings, storage, test_prefix};
use crate::certs_harness::{create_zone, unique_zone, Peers};
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, registration, wait_for, wait_for_status,
    wait_for_status_after, LocalNode, NODE_SETTINGS,
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
    let nodes = [LocalNode::up("tnla").await, LocalNode::up("tnlb").await, LocalNode::up("tnlc").await];
    let node_a = &nodes[0];
    let config = storage(&test_prefix());
    let backups = backup_settings(&config);
    let peers = Peers::from_env();
    let mut settings: Vec<(&str, &str)> = NODE_SETTINGS.to_vec();
    settings.extend(backups.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    settings.extend([
        ("BERTH_DNS__API_URL", peers.pdns_api.as_str()),
        ("BERTH_DNS__API_KEY", peers.pdns_key.as_str()),
        ("BERTH_DNS__RESOLVER", peers.pdns_dns.as_str()),
        ("BERTH_DNS__NAMESERVERS", "ns1.berth.test"),
    ]);
    let api = Api::start_roles(&settings, Roles::ALL).await;
    let operator = operator_token(&api).await;
    let a = add_node(&api, &operator, node_a, (4, 8192, 80)).await;

    // Three WordPress sites with a post each, backed up, the first in a zone Berth serves; a
    // static site never backed up.
    let owner = api.register("Harbour").await;
    let zone = unique_zone("l");
    let _cleanup = peers.clean_up(&zone);
    create_zone(&api, &owner.token, &zone).await;
    let domains = [format!("one.{zone}"), "two.loss.test".to_owned(), "three.loss.test".to_owned()];
    let titles = ["Tide tables", "Ferry times", "Lighthouse hours"];
    let mut wordpress = Vec::new();
    for (domain, title) in domains.iter().zip(titles) {
        wordpress.push(wordpress_with_post(&api, &owner.token, node_a, domain, title).await);
    }
    let bare = create_site(&api, &owner.token, "bare.loss.test", "static", None).await;
    assert_eq!(wait_for_status(&api, &owner.token, &bare, &["active", "failed"]).await["status"], "active");
    for (site, _) in &wordpress {
        verified_backup(&api, &owner.token, site).await;
    }
    wait_for(std::time::Duration::from_secs(30), || async {
        (peers.dig(&domains[0], "A") == [node_a.address.as_str()]).then_some(())
    })
    .await;

    // Nodes B and C join, with room for two WordPress sites each; A is destroyed, and Berth
    // sees it down.
    let b = add_node(&api, &operator, &nodes[1], (2, 2048, 25)).await;
    let c = add_node(&api, &operator, &nodes[2], (2, 2048, 25)).await;
    node_a.purge().await;
    wait_for(std::time::Duration::from_secs(60), || async {
        let (_, view) = api.read(&format!("/v1/nodes/{a}"), &operator).await;
        (view["health"] == "down").then_some(())
    })
    .await;
    // Another tenant's site lands on a node that is up.
    let other = api.register("Elsewhere").await;
    let theirs = create_site(&api, &other.token, "theirs.loss.test", "static", None).await;
    let before = wait_for_status(&api, &other.token, &theirs, &["active", "failed"]).await;
    assert_ne!(before["node"]["id"], a.as_str(), "{before}");
    let their_events = site_events(&api, &theirs).await;

    // Bad input names the field.
    let (status, problem) =
        post(&api, &operator, &format!("/v1/nodes/{a}/evacuate"), json!({"mode": "teleport"})).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["field"], "mode", "{problem}");

    let mut stream = open_stream(&api, &owner.token).await;
    let evacuation = evacuate(&api, &operator, &a, "from_backup").await;
    let view = evacuated(&api, &operator, &evacuation).await;
    eprintln!(
        "evacuation of 3 WordPress sites from backup: median per site {} ms, total {} ms",
        view["median_site_ms"], view["total_ms"]
    );
    assert_eq!(view["counts"], json!({"waiting": 0, "moving": 0, "moved": 3, "failed": 1}), "{view}");
    for ((site, post_id), (domain, title)) in wordpress.iter().zip(domains.iter().zip(titles)) {
        let moved = entry(&view, site);
        let steps: Vec<&str> =
            moved["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
        assert_eq!(
            steps,
            ["start", "backup", "place", "provision", "restore", "certificate", "switch"],
            "{moved}"
        );
        // It serves its post from B or C, and says so.
        let target = moved["target_node_id"].as_str().unwrap();
        assert!(target == b || target == c, "{moved}");
        let node = if target == b { &nodes[1] } else { &nodes[2] };
        assert!(serves_post(node, domain, post_id, title).await, "{domain} from {}", node.name);
        let (_, detail) = api.read(&format!("/v1/sites/{site}"), &owner.token).await;
        assert_eq!(
            (detail["status"].as_str(), detail["node"]["id"].as_str()),
            (Some("active"), Some(target))
        );
        assert!(detail["evacuation"].is_null(), "{detail}");
        if domain.ends_with(&zone) {
            // Berth serves its zone: its address record follows it.
            wait_for(std::time::Duration::from_secs(30), || async {
                (peers.dig(domain, "A") == [node.address.as_str()]).then_some(())
            })
            .await;
        }
    }
    // The tenant's live stream told of each move.
    let told: Vec<(&str, &str)> =
        wordpress.iter().map(|(site, _)| ("SiteEvacuated", site.as_str())).collect();
    stream_until(&mut stream, &told).await;
    let failed = entry(&view, &bare);
    assert_eq!(
        (failed["status"].as_str(), failed["step"].as_str()),
        (Some("failed"), Some("backup")),
        "{failed}"
    );
    assert_eq!(failed["reason"], "the site has no verified backup", "{failed}");
    // A holds only the site that could not move; B and C the moved ones and the other tenant's.
    assert_eq!(held(&api, &operator, &a).await, std::slice::from_ref(&bare));
    assert_eq!(held(&api, &operator, &b).await.len() + held(&api, &operator, &c).await.len(), 4);
    let (_, detail) = api.read(&format!("/v1/sites/{bare}"), &owner.token).await;
    assert_eq!(detail["last_error"], "the site has no verified backup", "{detail}");

    // A is gone for good: the site left on it is lost, with no backup to restore it from.
    let (status, accepted) =
        post(&api, &operator, &format!("/v1/nodes/{a}/retire"), json!({"reason": "the VPS was destroyed"}))
            .await;
    assert_eq!(status, 202, "{accepted}");
    let lost = wait_for_status(&api, &owner.token, &bare, &["lost"]).await;
    stream_until(&mut stream, &[("SiteLost", bare.as_str())]).await;
    assert_eq!(lost["lost"]["node_id"], a.as_str(), "{lost}");
    assert!(lost["lost"]["latest_backup_at"].is_null(), "{lost}");
    assert!(held(&api, &operator, &a).await.is_empty(), "A's capacity is released");

    // The tenant's calls on it answer 409 naming the state; deleting it works without A.
    let response =
        api.send(Method::POST, &format!("/v1/sites/{bare}/suspend"), Some(&owner.token), None).await;
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("lost"), "{problem}");
    let (status, accepted) = post(&api, &owner.token, &format!("/v1/sites/{bare}/recover"), json!({})).await;
    assert_eq!(status, 202, "a lost site can be asked back: {accepted}");
    let version = accepted["version"].as_i64().unwrap();
    let back = wait_for_status_after(&api, &owner.token, &bare, version, &["lost"]).await;
    assert_eq!(back["last_error"], "the site has no verified backup", "{back}");
    assert!(back["evacuation"].is_null(), "{back}");
    let response = api.send(Method::DELETE, &format!("/v1/sites/{bare}"), Some(&owner.token), None).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    wait_for_status(&api, &owner.token, &bare, &["deleted"]).await;
    let again = create_site(&api, &other.token, "bare.loss.test", "static", None).await;
    assert_eq!(wait_for_status(&api, &other.token, &again, &["active", "failed"]).await["status"], "active");

    // The other tenant's site saw nothing of it.
    assert_eq!(site_events(&api, &theirs).await, their_events);
    let (_, after) = api.read(&format!("/v1/sites/{theirs}"), &other.token).await;
    assert_eq!(after["version"], before["version"]);

    // One mail per event to the owner: three sites moved, one lost; none to the other tenant.
    let moved = mail_keys(&api, "site_evacuated:%").await;
    assert_eq!(moved.len(), 3, "{moved:?}");
    assert_eq!(mail_keys(&api, "site_lost:%").await.len(), 1);
    let to_other: i64 =
        sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE tenant_id = $1 AND key LIKE 'site_%'")
            .bind(other.tenant_id.parse::<uuid::Uuid>().unwrap())
            .fetch_one(&api.env.pool)
            .await
            .unwrap();
    assert_eq!(to_other, 0);

    // The gone node's name and address are free for its replacement.
    let response =
        api.send(Method::POST, "/v1/nodes", Some(&operator), Some(registration(node_a, (4, 8192, 80)))).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    api.stop().await;
}

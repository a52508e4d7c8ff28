//! A draining node that still answers, evacuated live: a fresh backup of each site is taken and
//! restored on the node with room, so a post written just before is there afterwards. The site
//! that finds no room stays where it is, serving, and nothing of it is left half-moved.

use berth::app::Roles;
use serde_json::json;

use super::harness::{add_post, entry, evacuate, evacuated, held, post, serves_post, wordpress_with_post};
use crate::api::Api;
use crate::backups::harness::{backup_settings, storage, test_prefix};
use crate::nodes_harness::{
    add_node, one_at_a_time, operator_token, site_action, wait_for, wait_for_status, LocalNode, NODE_SETTINGS,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_draining_node_is_evacuated_live_and_the_site_without_room_stays_where_it_is() {
    let _serial = one_at_a_time().await;
    let (node_c, node_d) = (LocalNode::up("tnlc").await, LocalNode::up("tnld").await);
    let config = storage(&test_prefix());
    let backups = backup_settings(&config);
    let mut settings: Vec<(&str, &str)> = NODE_SETTINGS.to_vec();
    settings.extend(backups.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    settings.push(("BERTH_SAGAS__EVACUATION__CONCURRENCY", "1"));
    let api = Api::start_roles(&settings, Roles::ALL).await;
    let operator = operator_token(&api).await;
    let c = add_node(&api, &operator, &node_c, (4, 8192, 80)).await;
    let owner = api.register("Quayside").await;
    let (first, _) =
        wordpress_with_post(&api, &owner.token, &node_c, "first.live.test", "Harbour lights").await;
    let (second, _) =
        wordpress_with_post(&api, &owner.token, &node_c, "second.live.test", "Pier notes").await;
    // D has room for one WordPress site only.
    let d = add_node(&api, &operator, &node_d, (1, 1000, 15)).await;
    let (status, drained) = post(&api, &operator, &format!("/v1/nodes/{c}/drain"), json!({})).await;
    assert_eq!(status, 202, "{drained}");

    // Written after every earlier backup, just before the evacuation.
    let first_post = add_post(&node_c, &first, "Written late");
    let second_post = add_post(&node_c, &second, "Also late");

    let evacuation = evacuate(&api, &operator, &c, "live").await;
    let view = evacuated(&api, &operator, &evacuation).await;
    eprintln!(
        "live evacuation of 2 WordPress sites: median per site {} ms, total {} ms",
        view["median_site_ms"], view["total_ms"]
    );
    assert_eq!(view["counts"], json!({"waiting": 0, "moving": 0, "moved": 1, "failed": 1}), "{view}");
    let (moved, stayed) = if entry(&view, &first)["status"] == "moved" {
        (
            (&first, &first_post, "first.live.test", "Written late"),
            (&second, &second_post, "second.live.test", "Also late"),
        )
    } else {
        (
            (&second, &second_post, "second.live.test", "Also late"),
            (&first, &first_post, "first.live.test", "Written late"),
        )
    };
    let failed = entry(&view, stayed.0);
    assert_eq!(failed["step"], "place", "{failed}");
    assert!(failed["reason"].as_str().unwrap().starts_with("no ready node has room"), "{failed}");

    // The moved site serves the late post from D, and is gone from C.
    assert!(serves_post(&node_d, moved.2, moved.1, moved.3).await, "no content lost in the move");
    let (status, _, _) = node_c.get(moved.2, "/").await;
    assert_ne!(status, 200, "the old node no longer serves the moved site");
    // The one that stayed serves on C as before, and nothing of it is on D.
    assert!(serves_post(&node_c, stayed.2, stayed.1, stayed.3).await);
    let (_, detail) = api.read(&format!("/v1/sites/{}", stayed.0), &owner.token).await;
    assert_eq!(
        (detail["status"].as_str(), detail["node"]["id"].as_str()),
        (Some("active"), Some(c.as_str()))
    );
    assert!(detail["last_error"].as_str().unwrap().starts_with("no ready node has room"), "{detail}");
    assert_eq!(held(&api, &operator, &c).await, std::slice::from_ref(stayed.0));
    assert_eq!(held(&api, &operator, &d).await, std::slice::from_ref(moved.0));

    // C is then lost for good: the site left on it is lost with the backup taken for its move,
    // and once room is made on D it is restored there from that backup, serving again.
    let (status, accepted) =
        post(&api, &operator, &format!("/v1/nodes/{c}/retire"), json!({"reason": "gone"})).await;
    assert_eq!(status, 202, "{accepted}");
    let lost = wait_for_status(&api, &owner.token, stayed.0, &["lost"]).await;
    assert!(lost["lost"]["latest_backup_at"].is_string(), "{lost}");
    site_action(&api, &owner.token, moved.0, "delete").await;
    wait_for_status(&api, &owner.token, moved.0, &["deleted"]).await;
    let version = site_action(&api, &owner.token, stayed.0, "recover").await;
    let restored = wait_for(std::time::Duration::from_secs(180), || async {
        let (_, site) = api.read(&format!("/v1/sites/{}", stayed.0), &owner.token).await;
        let over = site["version"].as_i64().unwrap_or(0) > version && site["evacuation"].is_null();
        over.then_some(site)
    })
    .await;
    assert_eq!(
        (restored["status"].as_str(), restored["node"]["id"].as_str()),
        (Some("active"), Some(d.as_str()))
    );
    assert!(restored["lost"].is_null(), "{restored}");
    assert!(serves_post(&node_d, stayed.2, stayed.1, stayed.3).await, "restored from the backup of its move");
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT key FROM mail_outbox WHERE key LIKE 'site_%' ORDER BY id")
            .fetch_all(&api.env.pool)
            .await
            .unwrap();
    let templates: Vec<&str> = keys.iter().map(|k| k.split(':').next().unwrap()).collect();
    assert_eq!(templates, ["site_evacuated", "site_lost", "site_restored"], "one mail per event");
    api.stop().await;
}

//! Nodes over SSH, end to end: real network-namespaced nodes (sshd, nginx, php-fpm, MariaDB),
//! registered and bootstrapped through the API, serving the sites Berth provisions on them.

use std::time::{Duration, Instant};

use berth::app::Roles;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::{problem, Api};
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, site_action, site_user, wait_for, wait_for_status,
    LocalNode, NODE_SETTINGS,
};

fn steps(site: &Value) -> Vec<(String, String)> {
    site["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap().to_owned(), s["outcome"].as_str().unwrap().to_owned()))
        .collect()
}

/// Three nodes register and bootstrap; a WordPress and a static site created through the API
/// are placed on different nodes, served there, suspended and resumed; deleting the WordPress
/// site removes its vhost, pool, user and database and gives its capacity back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_serve_wordpress_and_static_sites() {
    let _serial = one_at_a_time().await;
    let (a, b, c) = tokio::join!(LocalNode::up("t3a"), LocalNode::up("t3b"), LocalNode::up("t3c"));
    let api = Api::start_roles(NODE_SETTINGS, Roles::ALL).await;
    let operator = operator_token(&api).await;
    let (ida, idb, idc) = tokio::join!(
        add_node(&api, &operator, &a, (2, 4096, 40)),
        add_node(&api, &operator, &b, (2, 4096, 40)),
        add_node(&api, &operator, &c, (2, 4096, 40)),
    );
    let owner = api.register("Three Nodes").await;

    let started = Instant::now();
    let wp = create_site(&api, &owner.token, "blog.three.test", "wordpress", Some("8.2")).await;
    let wp_site = wait_for_status(&api, &owner.token, &wp, &["active", "failed"]).await;
    let wp_took = started.elapsed();
    assert_eq!(wp_site["status"], "active", "{wp_site}");
    let started = Instant::now();
    let st = create_site(&api, &owner.token, "www.three.test", "static", None).await;
    let st_site = wait_for_status(&api, &owner.token, &st, &["active", "failed"]).await;
    let st_took = started.elapsed();
    assert_eq!(st_site["status"], "active", "{st_site}");
    eprintln!("CreateSite to active: wordpress {wp_took:?}, static {st_took:?}");

    // The detail names the node and the steps, each with its timing.
    assert_eq!(
        steps(&wp_site),
        [("allocate", "ok"), ("provision", "ok"), ("verify", "ok")]
            .map(|(s, o)| (s.to_owned(), o.to_owned()))
    );
    assert!(wp_site["steps"].as_array().unwrap().iter().all(|s| s["took_ms"].is_i64()));
    let nodes = [(&ida, &a), (&idb, &b), (&idc, &c)];
    let on = |site: &Value| {
        let id = site["node"]["id"].as_str().unwrap().to_owned();
        let (_, node) = nodes.iter().find(|(nid, _)| **nid == id).expect("a known node");
        assert_eq!(site["node"]["address"], node.address.as_str());
        assert_eq!(site["node"]["name"], node.name.as_str());
        id
    };
    let (wp_node_id, st_node_id) = (on(&wp_site), on(&st_site));
    assert_ne!(wp_node_id, st_node_id, "equal nodes take turns");
    let wp_node = nodes.iter().find(|(id, _)| **id == wp_node_id).unwrap().1;
    let st_node = nodes.iter().find(|(id, _)| **id == st_node_id).unwrap().1;

    // The nodes really serve them: WordPress's installer for its domain, the static page for its.
    let (status, _, location) = wp_node.get("blog.three.test", "/").await;
    assert_eq!(status, 302);
    assert!(location.as_deref().unwrap_or("").contains("/wp-admin/install.php"), "{location:?}");
    let (status, body, _) = wp_node.get("blog.three.test", "/wp-admin/install.php").await;
    assert_eq!(status, 200);
    assert!(body.contains("WordPress") && body.contains("language"), "not the installer: {body:.300}");
    let (status, body, _) = st_node.get("www.three.test", "/").await;
    assert_eq!((status, body.contains("www.three.test")), (200, true), "{body:.300}");

    // Operators see capacity, reservations, health and the sites per node.
    let (_, list) = api.read("/v1/nodes", &operator).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    let (_, node) = api.read(&format!("/v1/nodes/{wp_node_id}"), &operator).await;
    assert_eq!(node["capacity"]["millicores"], 2000);
    assert_eq!(node["allocated"]["millicores"], 500);
    assert_eq!(node["site_list"][0]["domain"], "blog.three.test");
    wait_for(Duration::from_secs(30), || async {
        let (_, node) = api.read(&format!("/v1/nodes/{wp_node_id}"), &operator).await;
        (node["health"] == "healthy").then_some(())
    })
    .await;

    // Suspend: the node answers 503; resume: served again.
    site_action(&api, &owner.token, &st, "suspend").await;
    wait_for_status(&api, &owner.token, &st, &["suspended"]).await;
    assert_eq!(st_node.get("www.three.test", "/").await.0, 503);
    site_action(&api, &owner.token, &st, "resume").await;
    wait_for_status(&api, &owner.token, &st, &["active"]).await;
    assert_eq!(st_node.get("www.three.test", "/").await.0, 200);

    // Delete: vhost, pool, user and database go; the capacity and the domain come back.
    let user = site_user(&wp);
    let vhost = format!("{}/etc/nginx/sites/{wp}.conf", wp_node.root);
    let pool = format!("{}/etc/php/8.2/pools/berth-{wp}.conf", wp_node.root);
    let databases =
        format!("mariadb --socket={}/run/mysqld.sock -u root -N -e 'SHOW DATABASES'", wp_node.root);
    assert!(std::path::Path::new(&vhost).exists() && std::path::Path::new(&pool).exists());
    assert!(wp_node.shell(&format!("id {user}")).0);
    assert!(wp_node.shell(&databases).1.contains(&user));
    site_action(&api, &owner.token, &wp, "delete").await;
    let deleted = wait_for_status(&api, &owner.token, &wp, &["deleted"]).await;
    assert_eq!(steps(&deleted).last().unwrap(), &("delete".to_owned(), "ok".to_owned()));
    assert!(!std::path::Path::new(&vhost).exists() && !std::path::Path::new(&pool).exists());
    assert!(!wp_node.shell(&format!("id {user}")).0, "the site user is still there");
    assert!(!wp_node.shell(&databases).1.contains(&user), "the database is still there");
    assert_eq!(wp_node.get("blog.three.test", "/").await.0 / 100, 4);
    let (_, node) = api.read(&format!("/v1/nodes/{wp_node_id}"), &operator).await;
    assert_eq!(node["allocated"]["millicores"], 0);
    let again = create_site(&api, &owner.token, "blog.three.test", "static", None).await;
    assert_eq!(wait_for_status(&api, &owner.token, &again, &["active", "failed"]).await["status"], "active");

    // A node whose sshd stops is probed down and its sites are marked impacted; back up, not.
    st_node.run("sshd-stop").await;
    wait_for(Duration::from_secs(30), || async {
        let (_, node) = api.read(&format!("/v1/nodes/{st_node_id}"), &operator).await;
        (node["health"] == "down").then_some(())
    })
    .await;
    let impacted = wait_for(Duration::from_secs(10), || async {
        let (_, site) = api.read(&format!("/v1/sites/{st}"), &owner.token).await;
        (site["impacted"] == true).then_some(site)
    })
    .await;
    assert_eq!(impacted["status"], "active");
    st_node.run("sshd-start").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, site) = api.read(&format!("/v1/sites/{st}"), &owner.token).await;
        if site["impacted"] == false {
            break;
        }
        let (_, node) = api.read(&format!("/v1/nodes/{st_node_id}"), &operator).await;
        assert!(Instant::now() < deadline, "still impacted; the node: {node}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    api.stop().await;
}

/// Node routes belong to operators; bad registrations are refused naming the field, and
/// nothing is appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_routes_are_for_operators_and_check_their_input() {
    let api = Api::start().await;
    let operator = operator_token(&api).await;
    let owner = api.register("Not An Operator").await;
    let body = json!({
        "name": "nowhere", "address": "10.255.255.2", "ssh_port": 22,
        "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
        "capacity": {"vcpus": 2, "memory_mb": 2048, "disk_gb": 40},
        "provider": "local", "region": "test", "monthly_cost": {"amount_minor": 1500, "currency": "EUR"}
    });
    let before = api.changes_and_security().await.0;
    let refused = api.send(Method::POST, "/v1/nodes", Some(&owner.token), Some(body.clone())).await;
    problem(refused, 403).await;
    assert_eq!(api.read("/v1/nodes", &owner.token).await.0, 403);
    assert_eq!(api.send(Method::POST, "/v1/nodes", None, Some(body.clone())).await.status(), 401);
    for (path, value, field) in [
        ("host_key", Value::from("ssh-dss AAAA"), "host_key"),
        ("host_key", Value::from("ssh-ed25519 bm90IGEga2V5"), "host_key"),
        ("address", Value::from("not an address!"), "address"),
        ("name", Value::from(""), "name"),
        ("ssh_user", Value::from("root; rm -rf /"), "ssh_user"),
    ] {
        let mut bad = body.clone();
        bad[path] = value;
        let answer =
            problem(api.send(Method::POST, "/v1/nodes", Some(&operator), Some(bad)).await, 400).await;
        assert_eq!(answer["field"], field, "{answer}");
    }
    let mut bad = body.clone();
    bad["monthly_cost"]["currency"] = Value::from("EURO");
    let answer = problem(api.send(Method::POST, "/v1/nodes", Some(&operator), Some(bad)).await, 400).await;
    assert_eq!(answer["field"], "monthly_cost.currency");
    let mut bad = body.clone();
    bad["capacity"]["vcpus"] = Value::from(0);
    problem(api.send(Method::POST, "/v1/nodes", Some(&operator), Some(bad)).await, 400).await;
    assert_eq!(api.changes_and_security().await.0, before, "refused registrations appended something");

    // A registration: the public key is returned, the private one is sealed, never in an event.
    let response = api.send(Method::POST, "/v1/nodes", Some(&operator), Some(body.clone())).await;
    assert_eq!(response.status(), 202);
    let registered: Value = response.json().await.unwrap();
    let public = registered["ssh_public_key"].as_str().unwrap();
    assert!(public.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"), "{public}");
    let payloads: Vec<(String,)> =
        sqlx::query_as("SELECT payload::text FROM events").fetch_all(&api.env.pool).await.unwrap();
    let (key_id,): (uuid::Uuid,) =
        sqlx::query_as("SELECT id FROM sealed_secrets").fetch_one(&api.env.pool).await.unwrap();
    let vault = berth_eventstore::vault::Vault::new(&api.env.master_key).unwrap();
    let seed = vault.open(&api.env.pool, key_id).await.unwrap();
    let seed: [u8; 32] = seed.as_slice().try_into().unwrap();
    assert_eq!(
        public.split(' ').take(2).collect::<Vec<_>>().join(" "),
        berth_eventstore::vault::public_line(&seed)
    );
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    assert!(payloads.iter().any(|(p,)| p.contains(&key_id.to_string())), "events refer to the key by id");
    assert!(payloads.iter().all(|(p,)| !p.contains(&hex)), "the private key is in an event");
    let wrong = berth_eventstore::vault::Vault::new(&berth_eventstore::vault::Vault::generate_key()).unwrap();
    assert!(wrong.open(&api.env.pool, key_id).await.is_err(), "another master key opens the seal");
    // Name and address are unique; unknown ids are 404; a node with no sites retires.
    let mut same_name = body.clone();
    same_name["address"] = Value::from("10.255.255.3");
    problem(api.send(Method::POST, "/v1/nodes", Some(&operator), Some(same_name)).await, 409).await;
    let id = registered["id"].as_str().unwrap();
    let unknown = format!("/v1/nodes/{}/drain", uuid::Uuid::now_v7());
    problem(api.send(Method::POST, &unknown, Some(&operator), None).await, 404).await;
    assert_eq!(
        api.send(Method::POST, &format!("/v1/nodes/{id}/drain"), Some(&owner.token), None).await.status(),
        403
    );
    assert_eq!(
        api.send(Method::POST, &format!("/v1/nodes/{id}/drain"), Some(&operator), None).await.status(),
        202
    );
    let retired =
        api.send(Method::POST, &format!("/v1/nodes/{id}/decommission"), Some(&operator), None).await;
    assert_eq!(retired.status(), 202);
    let (_, view) = api.read(&format!("/v1/nodes/{id}?min_version=3"), &operator).await;
    assert_eq!(view["state"], "decommissioned");
    // Its name and address are free again (a replacement VPS often keeps the address).
    let again = api.send(Method::POST, "/v1/nodes", Some(&operator), Some(body)).await;
    assert_eq!(again.status(), 202);
    api.stop().await;
}

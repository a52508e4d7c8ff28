//! Staging copies through the API on a real WordPress site: the copy serves the same post at
//! its staging name and tells search engines to stay away; a change made on the copy reaches
//! production by a promotion; deleting the copy frees its site; bad requests are refused
//! naming the problem, and another tenant's site is unknown. In a zone Berth serves, the copy
//! gets its own address record and certificate, and gives them back when it is deleted.

use std::time::Duration;

use berth::app::Roles;
use futures::StreamExt;
use object_store::ObjectStore;
use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{backup_settings, install_wordpress, shell_quote, storage, test_prefix};
use crate::api::Api;
use crate::certs_harness::{
    borrowed, create_zone, https, node_and_peer_settings, unique_zone, wait_certificate, Peers,
};
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, site_user, wait_for, wait_for_status, LocalNode,
    NODE_SETTINGS,
};

fn sql(node: &LocalNode, database: &str, query: &str) -> String {
    let command = format!(
        "mariadb --socket=\"$BERTH_NODE_ROOT/run/mysqld.sock\" -u root --batch --skip-column-names {database} -e {}",
        shell_quote(query)
    );
    let (ok, out) = node.shell(&command);
    assert!(ok, "SQL failed: {query}");
    out.trim().to_owned()
}

fn option(node: &LocalNode, site: &str, name: &str) -> String {
    sql(node, &site_user(site), &format!("SELECT option_value FROM wp_options WHERE option_name = '{name}'"))
}

async fn send(api: &Api, token: &str, method: Method, path: &str) -> (u16, Value) {
    let response = api.send(method, path, Some(token), None).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The page at `path` for `domain` on the node: status, body and its `X-Robots-Tag`.
async fn page(node: &LocalNode, domain: &str, path: &str) -> (u16, String, Option<String>) {
    let response = reqwest::Client::new()
        .get(format!("http://{}{path}", node.address))
        .header("Host", domain)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    let robots = response.headers().get("x-robots-tag").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (response.status().as_u16(), response.text().await.unwrap_or_default(), robots)
}

/// Waits until production's staging copy is in one of `statuses` after a step named `after`.
async fn wait_for_staging(api: &Api, token: &str, site: &str, after: &str, statuses: &[&str]) -> Value {
    wait_for(Duration::from_secs(300), || async {
        let (status, detail) = api.read(&format!("/v1/sites/{site}"), token).await;
        assert_eq!(status, 200, "{detail}");
        let staged = detail["staging"]["status"].as_str().is_some_and(|s| statuses.contains(&s));
        let stepped = detail["steps"].as_array().unwrap().iter().any(|s| s["step"] == after);
        (staged && stepped).then_some(detail)
    })
    .await
}

fn steps_of(detail: &Value) -> Vec<(String, String)> {
    detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["step"].as_str().unwrap().starts_with("staging_"))
        .map(|s| (s["step"].as_str().unwrap().to_owned(), s["outcome"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_staging_copy_serves_the_post_and_a_change_made_there_reaches_production_by_a_promotion() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tstg").await;
    let config = storage(&test_prefix());
    let backups = backup_settings(&config);
    let mut settings: Vec<(&str, &str)> = NODE_SETTINGS.to_vec();
    settings.extend(backups.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let api = Api::start_roles(&settings, Roles::ALL).await;
    let operator = operator_token(&api).await;
    add_node(&api, &operator, &node, (4, 8192, 80)).await;
    let owner = api.register("Staging").await;
    let other = api.register("Elsewhere").await;
    let domain = "blog.staging.test";
    let site = create_site(&api, &owner.token, domain, "wordpress", Some("8.2")).await;
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await["status"], "active");
    install_wordpress(&node.address, domain).await;
    sql(
        &node,
        &site_user(&site),
        "UPDATE wp_options SET option_value = '1' WHERE option_name = 'blog_public'",
    );
    sql(
        &node,
        &site_user(&site),
        "INSERT INTO wp_posts (post_author, post_date, post_date_gmt, post_content, post_title, post_excerpt, \
         post_status, post_name, to_ping, pinged, post_modified, post_modified_gmt, post_content_filtered, \
         post_type, guid) VALUES (1, NOW(), UTC_TIMESTAMP(), 'Harbour lights at dusk', 'Lights', '', 'publish', \
         'lights', '', '', NOW(), UTC_TIMESTAMP(), '', 'post', '')",
    );
    let post = sql(&node, &site_user(&site), "SELECT ID FROM wp_posts WHERE post_name = 'lights'");

    // Another tenant's site is as unknown as a missing one, for every staging route.
    for (method, path) in [
        (Method::POST, format!("/v1/sites/{site}/staging")),
        (Method::POST, format!("/v1/sites/{site}/staging/promote")),
        (Method::DELETE, format!("/v1/sites/{site}/staging")),
    ] {
        let (status, problem) = send(&api, &other.token, method, &path).await;
        assert_eq!(status, 404, "{path}: {problem}");
    }
    // Promoting or deleting a copy the site does not have.
    let (status, problem) =
        send(&api, &owner.token, Method::POST, &format!("/v1/sites/{site}/staging/promote")).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (409, Some("https://berth.dev/problems/no-staging")),
        "{problem}"
    );

    let started = std::time::Instant::now();
    let (status, accepted) =
        send(&api, &owner.token, Method::POST, &format!("/v1/sites/{site}/staging")).await;
    assert_eq!(status, 202, "{accepted}");
    let copy = accepted["id"].as_str().unwrap().to_owned();
    // A second copy while the first is being made.
    let (status, problem) =
        send(&api, &owner.token, Method::POST, &format!("/v1/sites/{site}/staging")).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (409, Some("https://berth.dev/problems/staging-exists")),
        "{problem}"
    );
    let detail = wait_for_staging(&api, &owner.token, &site, "staging_ready", &["ready", "failed"]).await;
    let copied_in = started.elapsed();
    assert_eq!(detail["staging"]["status"], "ready", "{detail}");
    assert_eq!(detail["staging"]["site_id"], copy.as_str(), "{detail}");
    assert_eq!(detail["staging"]["domain"], "staging.blog.staging.test", "{detail}");
    assert_eq!(
        steps_of(&detail),
        [
            ("staging_start", "ok"),
            ("staging_provision", "ok"),
            ("staging_backup", "ok"),
            ("staging_restore", "ok"),
            ("staging_ready", "ok")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned())),
        "{detail}"
    );

    // The copy: a site of the tenant, marked as staging, on production's node.
    let (_, copy_detail) = api.read(&format!("/v1/sites/{copy}"), &owner.token).await;
    assert_eq!(copy_detail["staging_of"], site.as_str(), "{copy_detail}");
    assert_eq!(copy_detail["node"]["id"], detail["node"]["id"], "{copy_detail}");
    let (_, list) = api.read("/v1/sites", &owner.token).await;
    let marked: Vec<(&str, &Value)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["domain"].as_str().unwrap(), &s["staging_of"]))
        .collect();
    assert!(marked.contains(&("staging.blog.staging.test", &Value::String(site.clone()))), "{list}");
    assert!(marked.contains(&(domain, &Value::Null)), "{list}");

    // It serves the same post at its own name, asking search engines to stay away.
    let staging = "staging.blog.staging.test";
    let (status, body, robots) = page(&node, staging, &format!("/?p={post}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Harbour lights at dusk"), "the copy serves the post");
    assert_eq!(robots.as_deref(), Some("noindex, nofollow"));
    assert_eq!(option(&node, &copy, "home"), "http://staging.blog.staging.test");
    assert_eq!(option(&node, &copy, "blog_public"), "0");
    let (_, _, robots) = page(&node, domain, &format!("/?p={post}")).await;
    assert_eq!(robots, None, "production is indexed as before");

    // A copy of the copy is refused.
    let (status, problem) =
        send(&api, &owner.token, Method::POST, &format!("/v1/sites/{copy}/staging")).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (422, Some("https://berth.dev/problems/site-is-staging")),
        "{problem}"
    );

    // A change on staging, then the promotion: production serves it.
    sql(
        &node,
        &site_user(&copy),
        &format!(
            "UPDATE wp_posts SET post_content = 'Harbour lights at dawn, from staging' WHERE ID = {post}"
        ),
    );
    let started = std::time::Instant::now();
    let (status, accepted) =
        send(&api, &owner.token, Method::POST, &format!("/v1/sites/{site}/staging/promote")).await;
    assert_eq!(status, 202, "{accepted}");
    let detail = wait_for_staging(&api, &owner.token, &site, "staging_promoted", &["ready"]).await;
    let promoted_in = started.elapsed();
    let failed: Vec<_> = steps_of(&detail).into_iter().filter(|(_, outcome)| outcome != "ok").collect();
    assert!(failed.is_empty(), "{detail}");
    let (status, body, robots) = page(&node, domain, &format!("/?p={post}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Harbour lights at dawn, from staging"), "production serves the change");
    assert_eq!(robots, None, "production is still indexed");
    assert_eq!(option(&node, &site, "home"), "http://blog.staging.test");
    assert_eq!(option(&node, &site, "blog_public"), "1", "production keeps its search engine setting");
    // The safety backup of production taken before the swap, verified.
    let (_, backups) = api.read(&format!("/v1/sites/{site}/backups"), &owner.token).await;
    let triggers: Vec<(&str, &str)> = backups["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["trigger"].as_str().unwrap(), b["status"].as_str().unwrap()))
        .collect();
    assert!(triggers.contains(&("before_restore", "verified")), "{backups}");
    let timings: Vec<String> = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["step"].as_str().unwrap().starts_with("staging_"))
        .map(|s| format!("{} {}", s["step"].as_str().unwrap(), s["took_ms"]))
        .collect();
    eprintln!("staging copy ready in {copied_in:?}; promoted in {promoted_in:?}; steps (ms): {timings:?}");

    // Deleting the copy frees its site; production may then be deleted or copied again.
    let (status, accepted) =
        send(&api, &owner.token, Method::DELETE, &format!("/v1/sites/{site}/staging")).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(wait_for_status(&api, &owner.token, &copy, &["deleted"]).await["status"], "deleted");
    wait_for(Duration::from_secs(60), || async {
        let (_, detail) = api.read(&format!("/v1/sites/{site}"), &owner.token).await;
        detail["staging"].is_null().then_some(())
    })
    .await;
    let (gone, _) = node.shell(&format!("test -e \"$BERTH_NODE_ROOT/srv/sites/{copy}\""));
    assert!(!gone, "the copy's files are gone");
    let databases = sql(&node, "", "SHOW DATABASES");
    assert!(!databases.contains(&site_user(&copy)), "the copy's database is gone: {databases}");
    let (status, problem) =
        send(&api, &owner.token, Method::DELETE, &format!("/v1/sites/{site}/staging")).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (409, Some("https://berth.dev/problems/no-staging")),
        "{problem}"
    );
    let (status, _, _) = page(&node, domain, "/").await;
    assert_eq!(status, 200, "production serves on");
    // The copy's name is free again: a site of its own may take it, and then no copy can.
    create_site(&api, &owner.token, staging, "static", None).await;
    let (status, problem) =
        send(&api, &owner.token, Method::POST, &format!("/v1/sites/{site}/staging")).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (409, Some("https://berth.dev/problems/taken")),
        "{problem}"
    );

    let store = berth_sagas::backup::store::connect(&config).unwrap();
    let tenant: berth_domain::ids::TenantId = owner.tenant_id.parse().unwrap();
    let prefix = berth_sagas::backup::store::tenant_prefix(&config.prefix, tenant);
    for entry in store.list(Some(&prefix)).collect::<Vec<_>>().await {
        store.delete(&entry.unwrap().location).await.unwrap();
    }
    api.stop().await;
}

/// The staging copy of a site in a zone Berth serves: its name gets its address record and its
/// own certificate (HTTP-01 against pebble), served with the noindex header over HTTPS; deleting
/// the copy takes the record away and retires the certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_staging_copy_gets_its_own_address_record_and_certificate_and_gives_them_back() {
    let _serial = one_at_a_time().await;
    let peers = Peers::from_env();
    let root = peers.root();
    let config = storage(&test_prefix());
    let mut settings = node_and_peer_settings(&peers, &peers.directory);
    settings.extend(backup_settings(&config));
    let api = Api::start_roles(&borrowed(&settings), Roles::ALL).await;
    let node = LocalNode::up("tstc").await;
    let operator = operator_token(&api).await;
    add_node(&api, &operator, &node, (4, 8192, 80)).await;
    let owner = api.register("Staged").await;
    let zone = unique_zone("s");
    let _cleanup = peers.clean_up(&zone);
    create_zone(&api, &owner.token, &zone).await;
    let domain = format!("www.{zone}");
    let site = create_site(&api, &owner.token, &domain, "static", None).await;
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await["status"], "active");
    wait_certificate(&api, &owner.token, &site, |c| c["status"] == "active").await;

    let (status, accepted) =
        send(&api, &owner.token, Method::POST, &format!("/v1/sites/{site}/staging")).await;
    assert_eq!(status, 202, "{accepted}");
    let copy = accepted["id"].as_str().unwrap().to_owned();
    let detail = wait_for_staging(&api, &owner.token, &site, "staging_ready", &["ready", "failed"]).await;
    assert_eq!(detail["staging"]["status"], "ready", "{detail}");
    let staging = format!("staging.{domain}");
    assert_eq!(peers.dig(&staging, "A"), vec![node.address.clone()], "the copy's name resolves to the node");
    let certificate = wait_certificate(&api, &owner.token, &copy, |c| c["status"] == "active").await;
    assert_eq!(certificate["covers"], json!([staging.clone()]), "{certificate}");
    assert_eq!(certificate["method"], "http-01", "{certificate}");
    let (status, headers) = https(&root, &staging, &node.address, "/");
    assert_eq!(status, 200, "{headers}");
    assert!(headers.contains("x-robots-tag: noindex, nofollow"), "{headers}");
    let (status, headers) = https(&root, &domain, &node.address, "/");
    assert_eq!(status, 200, "{headers}");
    assert!(!headers.contains("x-robots-tag"), "{headers}");

    let (status, accepted) =
        send(&api, &owner.token, Method::DELETE, &format!("/v1/sites/{site}/staging")).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(wait_for_status(&api, &owner.token, &copy, &["deleted"]).await["status"], "deleted");
    wait_certificate(&api, &owner.token, &copy, |c| c["status"] == "retired").await;
    wait_for(Duration::from_secs(30), || async { peers.dig(&staging, "A").is_empty().then_some(()) }).await;
    assert_eq!(https(&root, &domain, &node.address, "/").0, 200, "production serves on");

    let store = berth_sagas::backup::store::connect(&config).unwrap();
    let tenant: berth_domain::ids::TenantId = owner.tenant_id.parse().unwrap();
    let prefix = berth_sagas::backup::store::tenant_prefix(&config.prefix, tenant);
    for entry in store.list(Some(&prefix)).collect::<Vec<_>>().await {
        store.delete(&entry.unwrap().location).await.unwrap();
    }
    api.stop().await;
}

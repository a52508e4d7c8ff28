//! What the node loss tests share: WordPress sites with a post, and waiting on an evacuation.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::api::Api;
use crate::backups::harness::{install_wordpress, shell_quote};
use crate::nodes_harness::{create_site, site_user, wait_for, wait_for_status, LocalNode};

/// Runs SQL in `database` on `node`; its output, trimmed.
pub fn sql(node: &LocalNode, database: &str, query: &str) -> String {
    let command = format!(
        "mariadb --socket=\"$BERTH_NODE_ROOT/run/mysqld.sock\" -u root --batch --skip-column-names {database} -e {}",
        shell_quote(query)
    );
    let (ok, out) = node.shell(&command);
    assert!(ok, "SQL failed: {query}");
    out.trim().to_owned()
}

/// A WordPress site on `node`, installed, with a published post titled `title`: its id and the
/// post's id.
pub async fn wordpress_with_post(
    api: &Api,
    token: &str,
    node: &LocalNode,
    domain: &str,
    title: &str,
) -> (String, String) {
    let site = create_site(api, token, domain, "wordpress", Some("8.2")).await;
    assert_eq!(wait_for_status(api, token, &site, &["active", "failed"]).await["status"], "active");
    install_wordpress(&node.address, domain).await;
    let post = add_post(node, &site, title);
    (site, post)
}

/// Publishes a post titled `title` in the site's database on `node`; its id.
pub fn add_post(node: &LocalNode, site: &str, title: &str) -> String {
    let db = site_user(site);
    let slug = title.to_lowercase().replace(' ', "-");
    sql(
        node,
        &db,
        &format!(
            "INSERT INTO wp_posts (post_author, post_date, post_date_gmt, post_content, post_title, post_excerpt, \
             post_status, post_name, to_ping, pinged, post_modified, post_modified_gmt, post_content_filtered, \
             post_type, guid) VALUES (1, NOW(), UTC_TIMESTAMP(), 'The body of {title}', '{title}', '', 'publish', \
             '{slug}', '', '', NOW(), UTC_TIMESTAMP(), '', 'post', '')"
        ),
    );
    sql(node, &db, &format!("SELECT ID FROM wp_posts WHERE post_name = '{slug}'"))
}

/// Whether `node` serves the post `post` of `domain` with its title.
pub async fn serves_post(node: &LocalNode, domain: &str, post: &str, title: &str) -> bool {
    let (status, body, _) = node.get(domain, &format!("/?p={post}")).await;
    status == 200 && body.contains(&format!("The body of {title}"))
}

/// POSTs `body` to `path`: the status and the answer.
pub async fn post(api: &Api, token: &str, path: &str, body: Value) -> (u16, Value) {
    let response = api.send(Method::POST, path, Some(token), Some(body)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Takes a full backup of `site` and waits until it is verified.
pub async fn verified_backup(api: &Api, token: &str, site: &str) -> String {
    let (status, accepted) =
        post(api, token, &format!("/v1/sites/{site}/backups"), json!({"kind": "full"})).await;
    assert_eq!(status, 202, "{accepted}");
    let backup = accepted["id"].as_str().unwrap().to_owned();
    crate::backups::harness::wait_for_action(api, token, &backup, "BackupVerified", "BackupFailed").await;
    backup
}

/// Asks for the evacuation of `node` in `mode`; its id.
pub async fn evacuate(api: &Api, operator: &str, node: &str, mode: &str) -> String {
    let (status, accepted) =
        post(api, operator, &format!("/v1/nodes/{node}/evacuate"), json!({"mode": mode})).await;
    assert_eq!(status, 202, "{accepted}");
    accepted["id"].as_str().unwrap().to_owned()
}

/// Waits until the evacuation `id` has no site waiting or moving; its view.
pub async fn evacuated(api: &Api, operator: &str, id: &str) -> Value {
    wait_for(Duration::from_secs(420), || async {
        let (status, view) = api.read(&format!("/v1/evacuations/{id}"), operator).await;
        (status == 200 && view["status"] == "completed").then_some(view)
    })
    .await
}

/// The evacuation's entry for `site`.
pub fn entry<'a>(view: &'a Value, site: &str) -> &'a Value {
    view["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["site_id"] == site)
        .unwrap_or_else(|| panic!("{site} in {view}"))
}

/// The ids of the sites the node holds (its reservations).
pub async fn held(api: &Api, operator: &str, node: &str) -> Vec<String> {
    let (status, view) = api.read(&format!("/v1/nodes/{node}"), operator).await;
    assert_eq!(status, 200, "{view}");
    view["site_list"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
}

/// The tenant's live event stream, opened now.
pub async fn open_stream(
    api: &Api,
    token: &str,
) -> impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin {
    let response =
        api.http.get(format!("{}/v1/events/stream", api.query)).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes_stream()
}

/// Reads the stream until `wanted` (event type, aggregate id) pairs have all arrived.
pub async fn stream_until(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    wanted: &[(&str, &str)],
) {
    use futures::StreamExt;
    let mut buffer = String::new();
    let mut missing: Vec<(String, String)> =
        wanted.iter().map(|(k, a)| ((*k).to_owned(), (*a).to_owned())).collect();
    while !missing.is_empty() {
        if let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let field =
                |name: &str| frame.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned());
            if let (Some(kind), Some(data)) = (field("event:"), field("data:")) {
                let data: Value = serde_json::from_str(&data).unwrap();
                let aggregate = data["aggregate_id"].as_str().unwrap_or_default().to_owned();
                missing.retain(|(k, a)| !(*k == kind && *a == aggregate));
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .unwrap_or_else(|_| panic!("still missing on the stream: {missing:?}"));
        buffer.push_str(&String::from_utf8_lossy(&chunk.expect("stream open").unwrap()));
    }
}

//! What the cost tests share: Berth on a manual clock with billing set up (the billing tests'
//! world), local nodes registered through the API, and gauges read from `/metrics`.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::billing::http::{Billing, BERTH_TOML};
use crate::nodes_harness::{registration, wait_for, LocalNode, NODE_SETTINGS};

/// Berth with billing, node work and the usage sampler every second, and `extra` on top.
pub async fn start(extra: &[(&str, &str)]) -> Billing {
    let mut vars: Vec<(&str, &str)> = NODE_SETTINGS.to_vec();
    vars.extend([("BERTH_SAGAS__PROVISIONING__ENABLED", "true"), ("BERTH_SAGAS__USAGE__INTERVAL_SECS", "1")]);
    vars.extend(extra.iter().copied());
    Billing::start_with(BERTH_TOML, &vars).await
}

/// Registers, authorizes and bootstraps `node` with `capacity` (vCPUs, MiB, GiB); its id once
/// it is ready.
pub async fn add_node(billing: &Billing, node: &LocalNode, capacity: (u32, u64, u64)) -> String {
    let (status, registered) =
        billing.send(Method::POST, "/v1/nodes", &billing.operator, Some(registration(node, capacity))).await;
    assert_eq!(status, 202, "{registered}");
    let id = registered["id"].as_str().unwrap().to_owned();
    node.authorize(registered["ssh_public_key"].as_str().unwrap()).await;
    let (status, _) =
        billing.send(Method::POST, &format!("/v1/nodes/{id}/bootstrap"), &billing.operator, None).await;
    assert_eq!(status, 202);
    wait_for(Duration::from_secs(90), || async {
        let (_, view) = billing.get(&format!("/v1/nodes/{id}"), &billing.operator).await;
        assert!(view["last_error"].is_null(), "bootstrap failed: {view}");
        (view["state"] == "ready").then_some(())
    })
    .await;
    id
}

/// Creates a site of `kind` for `domain` and waits until it is active; its id.
pub async fn active_site(billing: &Billing, token: &str, domain: &str, kind: &str) -> String {
    let mut body = json!({"domain": domain, "type": kind});
    if kind != "static" {
        body["php_version"] = json!("8.2");
    }
    let (status, accepted) = billing.post("/v1/sites", token, body).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_owned();
    let site = wait_for(Duration::from_secs(120), || async {
        let (status, site) = billing.get(&format!("/v1/sites/{id}"), token).await;
        (status == 200 && ["active", "failed"].contains(&site["status"].as_str().unwrap_or("")))
            .then_some(site)
    })
    .await;
    assert_eq!(site["status"], "active", "{site}");
    id
}

/// Berth's `/metrics` as text.
pub async fn metrics(billing: &Billing) -> String {
    let url = format!("{}/metrics", billing.command);
    billing.http.get(&url).send().await.unwrap().text().await.unwrap()
}

/// The value of the series `name` whose labels include every `label="value"` in `labels`.
pub fn series(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (set, value) = match rest.strip_prefix('{') {
            Some(inner) => inner.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        labels.iter().all(|(k, v)| set.split(',').any(|pair| pair == format!("{k}=\"{v}\""))).then_some(())?;
        value.trim().parse().ok()
    })
}

/// Whether `got` is within `share` of `want` (both non-negative).
pub fn near(got: f64, want: f64, share: f64) -> bool {
    (got - want).abs() <= want * share
}

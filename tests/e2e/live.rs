use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::Api;

/// The audit trail lists each change with when, who, what, the target and the request id;
/// filters by actor and target; pages newest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_lists_each_change_with_its_actor() {
    let api = Api::start().await;
    let owner = api.register("Audited").await;
    let created = api
        .http
        .post(format!("{}/v1/sites", api.command))
        .bearer_auth(&owner.token)
        .header("x-request-id", "req-audit-1")
        .json(&json!({"domain": "a.audited.test", "type": "static"}))
        .send()
        .await
        .unwrap();
    let site = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let token = api
        .send(Method::POST, "/v1/tokens", Some(&owner.token), Some(json!({"name": "bot", "role": "member"})))
        .await;
    let token: Value = token.json().await.unwrap();
    let bot = token["token"].as_str().unwrap();
    api.send(Method::PATCH, &format!("/v1/sites/{site}"), Some(bot), Some(json!({"label": "by the bot"})))
        .await;
    api.create_site(bot, "b.audited.test").await;

    let user = format!("user:{}", owner.user_id);
    let bot_actor = format!("token:{}", token["id"].as_str().unwrap());
    let mut entries = Vec::new();
    for _ in 0..50 {
        let (_, page) = api.read("/v1/audit", &owner.token).await;
        entries = page["items"].as_array().unwrap().clone();
        if entries.len() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let summary: Vec<(String, String)> = entries
        .iter()
        .map(|e| (e["actor"].as_str().unwrap().to_owned(), e["action"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        summary,
        // A site is admitted to the tenant's quota in its creation's commit; registration
        // starts the trial of billing.trial_plan (here Enterprise, billed at once: its period's
        // timer is scheduled).
        vec![
            (bot_actor.clone(), "SiteQuotaSiteAdmitted".to_owned()),
            (bot_actor.clone(), "SiteCreated".to_owned()),
            (bot_actor.clone(), "SiteUpdated".to_owned()),
            (user.clone(), "TokenIssued".to_owned()),
            (user.clone(), "SiteQuotaSiteAdmitted".to_owned()),
            (user.clone(), "SiteCreated".to_owned()),
            (user.clone(), "TimerScheduled".to_owned()),
            (user.clone(), "Subscribed".to_owned()),
            (user.clone(), "OrganizationRegistered".to_owned()),
            (user.clone(), "UserRegistered".to_owned()),
        ]
    );
    let site_created = &entries[5];
    assert_eq!(site_created["request_id"], "req-audit-1");
    assert_eq!(site_created["target"], json!({"type": "site", "id": site, "version": 1}));
    assert!(site_created["at"].as_str().unwrap().ends_with('Z'));

    let (_, by_bot) = api.read(&format!("/v1/audit?actor={bot_actor}"), &owner.token).await;
    assert_eq!(by_bot["items"].as_array().unwrap().len(), 3, "its site's admission, creation and change");
    let (_, on_site) = api.read(&format!("/v1/audit?target={site}"), &owner.token).await;
    assert_eq!(on_site["items"].as_array().unwrap().len(), 2);
    let (_, first_page) = api.read("/v1/audit?limit=6", &owner.token).await;
    let cursor = first_page["next_cursor"].as_str().unwrap();
    let (_, second_page) = api.read(&format!("/v1/audit?limit=6&cursor={cursor}"), &owner.token).await;
    assert_eq!(second_page["items"].as_array().unwrap().len(), 4);
    assert!(second_page["next_cursor"].is_null());
    api.stop().await;
}

/// Reads SSE frames until `count` events arrived; returns their (id, event type, aggregate id).
async fn next_events(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
    count: usize,
) -> Vec<(String, String, String)> {
    let mut events = Vec::new();
    while events.len() < count {
        if let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let field =
                |name: &str| frame.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned());
            if let (Some(id), Some(kind), Some(data)) = (field("id:"), field("event:"), field("data:")) {
                let data: Value = serde_json::from_str(&data).unwrap();
                events.push((id, kind, data["aggregate_id"].as_str().unwrap().to_owned()));
            }
            continue;
        }
        let chunk =
            tokio::time::timeout(Duration::from_secs(15), stream.next()).await.expect("SSE event in time");
        buffer.push_str(&String::from_utf8_lossy(&chunk.expect("stream open").unwrap()));
    }
    events
}

/// The live stream delivers the tenant's events (only its own), and a client that reconnects
/// with Last-Event-ID misses nothing and sees nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_resumes_after_a_disconnect_without_missing_an_event() {
    let api = Api::start().await;
    let owner = api.register("Streamer").await;
    let stranger = api.register("Stranger").await;
    let open = |last: Option<String>| {
        let mut request = api.http.get(format!("{}/v1/events/stream", api.query)).bearer_auth(&owner.token);
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last);
        }
        request.send()
    };
    // The stream starts at "now": let the relay publish the registrations first, or they
    // would arrive as new.
    let so_far = api.events().await as u64;
    assert_eq!(api.env.wait_for_stream(so_far, Duration::from_secs(20)).await, so_far);
    let response = open(None).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();

    let mut sites = Vec::new();
    for i in 0..3 {
        api.create_site(&stranger.token, &format!("s{i}.stranger.test")).await;
        sites.push(api.create_site(&owner.token, &format!("s{i}.streamer.test")).await);
    }
    // Each site comes with its admission to the tenant's quota, in the same commit.
    let first = next_events(&mut stream, &mut buffer, 6).await;
    let created = |events: &[(String, String, String)]| -> Vec<String> {
        events.iter().filter(|e| e.1 == "SiteCreated").map(|e| e.2.clone()).collect()
    };
    assert_eq!(created(&first), sites);
    assert!(first.iter().all(|e| e.1 == "SiteCreated" || e.1 == "SiteQuotaSiteAdmitted"), "{first:?}");
    drop(stream);

    // While disconnected, more happens.
    for i in 3..5 {
        sites.push(api.create_site(&owner.token, &format!("s{i}.streamer.test")).await);
    }
    let last_seen = first.last().unwrap().0.clone();
    let mut resumed = open(Some(last_seen.clone())).await.unwrap().bytes_stream();
    let mut buffer = String::new();
    let after = next_events(&mut resumed, &mut buffer, 4).await;
    assert_eq!(created(&after), sites[3..].to_vec());
    let ids: Vec<u64> = first.iter().chain(after.iter()).map(|e| e.0.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase and none repeats: {ids:?}");
    api.stop().await;
}

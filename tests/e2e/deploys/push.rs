//! Git-push deployments of a small PHP app onto a real node: a signed push is served, a second
//! push and a rollback switch releases while a client polling throughout sees no error, a
//! failed build leaves the previous release serving (with the step and the log's end in the
//! history, and a mail to the owner), a forged signature queues nothing, a repeated delivery
//! deploys nothing twice, and of two quick pushes the last is what serves.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth::app::Roles;
use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{configure, deliver_push, GitRepo};
use crate::api::Api;
use crate::backups::harness::{backup_settings, storage, test_prefix};
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, wait_for, wait_for_status, LocalNode, NODE_SETTINGS,
};

const DOMAIN: &str = "shop.deploy.test";

fn page(text: &str) -> String {
    format!("<?php\nheader('Content-Type: text/plain');\necho \"{text}\";\n")
}

/// Waits until the deployment has ended; its view.
async fn finished(api: &Api, token: &str, id: &str) -> Value {
    wait_for(Duration::from_secs(180), || async {
        let (status, view) = api.read(&format!("/v1/deployments/{id}"), token).await;
        (status == 200
            && ["succeeded", "failed", "superseded"].contains(&view["status"].as_str().unwrap_or("")))
        .then_some(view)
    })
    .await
}

/// Waits until the node serves `text` for the site.
async fn serves(node: &LocalNode, text: &str) {
    wait_for(Duration::from_secs(180), || async {
        let (status, body, _) = node.get(DOMAIN, "/").await;
        (status == 200 && body == text).then_some(())
    })
    .await;
}

/// A client that asks the site for its page back to back until stopped; the answers that were
/// not one of `pages` with 200.
fn poll(
    node: &LocalNode,
    pages: &'static [&'static str],
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(u32, Vec<String>)> {
    let url = format!("http://{}/", node.address);
    tokio::spawn(async move {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let (mut asked, mut wrong) = (0u32, Vec::new());
        while !stop.load(Ordering::SeqCst) {
            asked += 1;
            match client.get(&url).header("Host", DOMAIN).send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body = r.text().await.unwrap_or_default();
                    if status != 200 || !pages.contains(&body.as_str()) {
                        wrong.push(format!("{status}: {body}"));
                    }
                }
                Err(error) => wrong.push(error.to_string()),
            }
        }
        (asked, wrong)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushes_deploy_switch_without_errors_roll_back_and_a_failed_build_changes_nothing() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tdep").await;
    let repo = GitRepo::new();
    let cache = std::env::temp_dir().join(format!("berth-git-{}", uuid::Uuid::now_v7().simple()));
    let config = storage(&test_prefix());
    let backups = backup_settings(&config);
    let mut settings: Vec<(&str, &str)> = NODE_SETTINGS.to_vec();
    settings.extend(backups.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let cache_dir = cache.display().to_string();
    settings.extend([
        ("BERTH_DEPLOYS__ALLOW_FILE_URLS", "true"),
        ("BERTH_DEPLOYS__CACHE_DIR", cache_dir.as_str()),
    ]);
    let api = Api::start_roles(&settings, Roles::ALL).await;
    let operator = operator_token(&api).await;
    add_node(&api, &operator, &node, (4, 8192, 80)).await;
    let owner = api.register("Deploys").await;
    let site = create_site(&api, &owner.token, DOMAIN, "php", Some("8.2")).await;
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await["status"], "active");

    // The repository is set: a deploy key to add and a secret, shown once.
    let one = repo.commit(&[("index.php", &page("release one"))], "First release");
    let (status, answer) =
        configure(&api, &owner.token, &site, json!({"url": repo.url, "branch": "main"})).await;
    assert_eq!(status, 202, "{answer}");
    assert!(answer["public_key"].as_str().unwrap().starts_with("ssh-ed25519 "), "{answer}");
    let secret = answer["webhook_secret"].as_str().expect("the secret, once").to_owned();

    // A push to another branch is ignored; a forged signature is refused and queues nothing.
    let (status, ignored) = deliver_push(&api, &site, &secret, "feature", &one, "d-feature").await;
    assert_eq!((status, ignored["outcome"].as_str()), (202, Some("ignored")), "{ignored}");
    let (status, forged) = deliver_push(&api, &site, "not the secret", "main", &one, "d-forged").await;
    assert_eq!(status, 401, "{forged}");
    assert_eq!(forged["status"], 401, "a problem+json body: {forged}");

    // The first push is served.
    let pushed = Instant::now();
    let (status, queued) = deliver_push(&api, &site, &secret, "main", &one, "d-1").await;
    assert_eq!((status, queued["outcome"].as_str()), (202, Some("queued")), "{queued}");
    let first = queued["deployment_id"].as_str().unwrap().to_owned();
    let view = finished(&api, &owner.token, &first).await;
    assert_eq!(view["status"], "succeeded", "{view}");
    serves(&node, "release one").await;
    println!("push to live: {:?}", pushed.elapsed());
    assert_eq!(view["commit_id"], one.as_str());
    assert_eq!(view["author"], "Ada Lovelace");
    assert_eq!(view["message"], "First release");
    assert_eq!(view["trigger"], "push");
    let steps: Vec<&str> =
        view["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["fetch", "upload", "build", "switch", "health_check"], "{view}");
    let (status, page_list) = api.read(&format!("/v1/sites/{site}/deployments"), &owner.token).await;
    assert_eq!(status, 200, "{page_list}");
    // The forged delivery queued nothing: the one deployment is the signed push's.
    assert_eq!(page_list["items"].as_array().unwrap().len(), 1, "{page_list}");

    // The same delivery again deploys nothing.
    let (status, again) = deliver_push(&api, &site, &secret, "main", &one, "d-1").await;
    assert_eq!((status, again["outcome"].as_str()), (202, Some("duplicate")), "{again}");

    // A second push, then a rollback, while a client asks throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let poller = poll(&node, &["release one", "release two"], stop.clone());
    let two = repo.commit(&[("index.php", &page("release two"))], "Second release");
    let (_, queued) = deliver_push(&api, &site, &secret, "main", &two, "d-2").await;
    let second = queued["deployment_id"].as_str().unwrap().to_owned();
    assert_eq!(finished(&api, &owner.token, &second).await["status"], "succeeded");
    serves(&node, "release two").await;
    let response =
        api.send(Method::POST, &format!("/v1/deployments/{first}/rollback"), Some(&owner.token), None).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let back: Value = response.json().await.unwrap();
    let back = finished(&api, &owner.token, back["id"].as_str().unwrap()).await;
    assert_eq!(back["status"], "succeeded", "{back}");
    assert_eq!(back["trigger"], "rollback");
    assert_eq!(back["release"], first.as_str());
    serves(&node, "release one").await;
    stop.store(true, Ordering::SeqCst);
    let (asked, wrong) = poller.await.unwrap();
    assert!(asked > 10, "the client asked {asked} times");
    assert!(wrong.is_empty(), "{} of {asked} requests failed: {wrong:?}", wrong.len());

    // A build that fails leaves the release serving, and says where and why.
    let (status, answer) = configure(
        &api,
        &owner.token,
        &site,
        json!({"url": repo.url, "branch": "main", "build": {"commands": ["echo compiling; echo 'syntax error in app.js' >&2; exit 3"]}}),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert!(answer["webhook_secret"].is_null(), "the secret is shown only once: {answer}");
    let three = repo.commit(&[("index.php", &page("release three"))], "Third release");
    let (_, queued) = deliver_push(&api, &site, &secret, "main", &three, "d-3").await;
    let failed = finished(&api, &owner.token, queued["deployment_id"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["failed_step"], "build", "{failed}");
    assert_eq!(failed["exit_code"], 3, "{failed}");
    assert!(failed["log_tail"].as_str().unwrap().contains("syntax error in app.js"), "{failed}");
    assert!(failed["log_key"].as_str().is_some(), "the full log is stored: {failed}");
    // The full log reads back as text: the build's output, its first line as well as its last.
    let id = queued["deployment_id"].as_str().unwrap();
    let log = api
        .http
        .get(format!("{}/v1/deployments/{id}/log", api.query))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(log.status(), 200);
    assert!(log.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = log.text().await.unwrap();
    assert!(text.contains("compiling") && text.contains("syntax error in app.js"), "{text}");
    // While it ran, each step's output went out as its own event, on the live stream too.
    let printed: Vec<(String, String)> = sqlx::query_as(
        "SELECT payload #>> '{DeploymentOutput,step}', payload #>> '{DeploymentOutput,output}' FROM events
          WHERE event_type = 'DeploymentOutput' AND payload #>> '{DeploymentOutput,deployment_id}' = $1
          ORDER BY global_position",
    )
    .bind(id)
    .fetch_all(&api.env.pool)
    .await
    .unwrap();
    assert!(printed.iter().any(|(step, output)| step == "fetch" && output.contains(&three)), "{printed:?}");
    let stranger = api.register("Log Stranger").await;
    let refused = api
        .http
        .get(format!("{}/v1/deployments/{id}/log", api.query))
        .bearer_auth(&stranger.token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404, "another tenant reads the log");
    let (status, body, _) = node.get(DOMAIN, "/").await;
    assert_eq!((status, body.as_str()), (200, "release one"));
    let mails = crate::mail::wait_for_messages(&owner.email, 1, Duration::from_secs(60)).await;
    assert!(mails[0]["subject"].as_str().unwrap_or("").contains(DOMAIN), "{:?}", mails[0]);

    // Of pushes in quick succession, the last is what serves.
    configure(&api, &owner.token, &site, json!({"url": repo.url, "branch": "main"})).await;
    let four = repo.commit(&[("index.php", &page("release four"))], "Fourth release");
    let five = repo.commit(&[("index.php", &page("release five"))], "Fifth release");
    let six = repo.commit(&[("index.php", &page("release six"))], "Sixth release");
    let mut ids = Vec::new();
    for (commit, delivery) in [(&four, "d-4"), (&five, "d-5"), (&six, "d-6")] {
        let (status, queued) = deliver_push(&api, &site, &secret, "main", commit, delivery).await;
        assert_eq!(status, 202, "{queued}");
        ids.push(queued["deployment_id"].as_str().unwrap().to_owned());
    }
    let last = finished(&api, &owner.token, &ids[2]).await;
    assert_eq!(
        (last["status"].as_str(), last["commit_id"].as_str()),
        (Some("succeeded"), Some(six.as_str())),
        "{last}"
    );
    serves(&node, "release six").await;
    let statuses: Vec<String> = {
        let mut all = Vec::new();
        for id in &ids {
            all.push(finished(&api, &owner.token, id).await["status"].as_str().unwrap().to_owned());
        }
        all
    };
    assert!(statuses[1] == "superseded" || statuses[1] == "succeeded", "{statuses:?}");

    // Push to live, five times in a row.
    let mut took = Vec::new();
    for n in 7..12 {
        let text = format!("release {n}");
        let commit = repo.commit(&[("index.php", &page(&text))], &format!("Release {n}"));
        let pushed = Instant::now();
        let (_, queued) = deliver_push(&api, &site, &secret, "main", &commit, &format!("d-{n}")).await;
        assert_eq!(queued["outcome"], "queued", "{queued}");
        serves(&node, &text).await;
        took.push(pushed.elapsed());
    }
    took.sort();
    println!("push to live over 5 pushes: median {:?}, max {:?}, all {took:?}", took[2], took[4]);

    // Another tenant sees none of it.
    let other = api.register("Elsewhere").await;
    assert_eq!(api.read(&format!("/v1/deployments/{first}"), &other.token).await.0, 404);
    let response =
        api.send(Method::POST, &format!("/v1/deployments/{first}/rollback"), Some(&other.token), None).await;
    assert_eq!(response.status(), 404);
    let _ = std::fs::remove_dir_all(&cache);
    api.stop().await;
}

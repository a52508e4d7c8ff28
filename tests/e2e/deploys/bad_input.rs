//! What the repository and deployment routes refuse, as problem+json naming the field: remote
//! helpers and (outside test set-ups) local paths as URLs, ref names git would read as ranges
//! or options, build settings out of bounds, WordPress sites, another tenant's site, and
//! webhooks for a site without a repository.

use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{configure, deliver_push};
use crate::api::Api;
use crate::nodes_harness::create_site;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_repositories_refs_and_build_settings_are_refused_naming_the_field() {
    let api = Api::start().await;
    let owner = api.register("Refusals").await;
    let site = create_site(&api, &owner.token, "app.refusals.test", "php", Some("8.2")).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"url": "ext::sh -c touch% /tmp/pwned", "branch": "main"}), "url"),
        (json!({"url": "file:///srv/git/app.git", "branch": "main"}), "url"),
        (json!({"url": "http://example.com/app.git", "branch": "main"}), "url"),
        (json!({"url": "-uhttps://x/y", "branch": "main"}), "url"),
        (json!({"url": "https://github.com/acme/app.git", "branch": "main..evil"}), "branch"),
        (json!({"url": "https://github.com/acme/app.git", "branch": "--upload-pack=x"}), "branch"),
        (
            json!({"url": "https://github.com/acme/app.git", "branch": "main", "build": {"public_dir": "../../etc"}}),
            "build.public_dir",
        ),
        (
            json!({"url": "https://github.com/acme/app.git", "branch": "main", "build": {"keep_releases": 0}}),
            "build.keep_releases",
        ),
        (
            json!({"url": "https://github.com/acme/app.git", "branch": "main", "build": {"commands": ["a\nb"]}}),
            "build.commands.0",
        ),
        (
            json!({"url": "https://github.com/acme/app.git", "branch": "main", "build": {"commands": [" "]}}),
            "build.commands",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = configure(&api, &owner.token, &site, body.clone()).await;
        assert_eq!(status, 400, "{body}: {problem}");
        assert_eq!(problem["field"], field, "{body}: {problem}");
    }
    // Nothing was set by any of them.
    let response = api
        .send(Method::POST, &format!("/v1/sites/{site}/deploy"), Some(&owner.token), Some(json!({})))
        .await;
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "https://berth.dev/problems/repository-not-configured", "{problem}");
    let (status, _) = deliver_push(&api, &site, "whatever", "main", &"a".repeat(40), "d-none").await;
    assert_eq!(status, 404, "a site without a repository takes no webhooks");

    let good = json!({"url": "https://github.com/acme/app.git", "branch": "main"});
    let (status, answer) = configure(&api, &owner.token, &site, good.clone()).await;
    assert_eq!(status, 202, "{answer}");
    let response = api
        .send(
            Method::POST,
            &format!("/v1/sites/{site}/deploy"),
            Some(&owner.token),
            Some(json!({"ref": "v1..v2"})),
        )
        .await;
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["field"], "ref", "{problem}");

    // A WordPress site is not deployed from a repository; another tenant's site does not exist.
    let blog = create_site(&api, &owner.token, "blog.refusals.test", "wordpress", Some("8.2")).await;
    let (status, problem) = configure(&api, &owner.token, &blog, good.clone()).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"], "https://berth.dev/problems/site-not-deployable", "{problem}");
    let other = api.register("Elsewhere").await;
    let (status, _) = configure(&api, &other.token, &site, good).await;
    assert_eq!(status, 404);
    assert_eq!(api.read(&format!("/v1/sites/{site}/repository"), &other.token).await.0, 404);
    api.stop().await;
}

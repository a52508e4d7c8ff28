//! The API contract integrators build on: unique operation ids and schema names, conditional
//! requests (ETag, If-None-Match, If-Match), Location on every command's answer, and rate-limit
//! headers on every authenticated answer.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api::{problem, Api};

async fn document(api: &Api, base: &str) -> Value {
    api.http.get(format!("{base}/openapi.json")).send().await.unwrap().json().await.unwrap()
}

/// The names of the types deriving `ToSchema` in `dirs` (or their `#[schema(as = ..)]`), with
/// where each is declared: two with one name would silently share one schema in the document.
fn schema_names(dirs: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for dir in dirs {
        let mut stack = vec![std::path::PathBuf::from(format!("{}/{dir}", env!("CARGO_MANIFEST_DIR")))];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = source.lines().collect();
            for (at, line) in lines.iter().enumerate() {
                if !(line.contains("ToSchema") && line.contains("derive")) {
                    continue;
                }
                let declaration =
                    lines[at..].iter().find(|l| l.contains("struct ") || l.contains("enum ")).unwrap();
                let renamed = lines[at..]
                    .iter()
                    .take_while(|l| !l.contains("struct ") && !l.contains("enum "))
                    .find_map(|l| {
                        l.split("schema(as = ").nth(1).map(|r| r.trim_end_matches(")]").to_owned())
                    });
                let declared = declaration
                    .split_whitespace()
                    .skip_while(|w| *w != "struct" && *w != "enum")
                    .nth(1)
                    .unwrap()
                    .trim_end_matches(['{', '(', ';'])
                    .split('<')
                    .next()
                    .unwrap()
                    .to_owned();
                names.entry(renamed.unwrap_or(declared)).or_default().push(path.display().to_string());
            }
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operation_ids_and_schema_names_are_unique() {
    let api = Api::start().await;
    for base in [api.command.clone(), api.query.clone()] {
        let doc = document(&api, &base).await;
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id =
                    operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no id"));
                assert!(ids.insert(id.to_owned()), "{base}: operationId `{id}` is used twice");
                assert!(
                    operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                    "{method} {path}: no summary"
                );
                assert!(operation["security"].is_array(), "{method} {path}: no security");
            }
        }
        assert_eq!(doc["servers"][0]["url"], base, "servers name where the API is");
    }
    for (side, dirs) in
        [("command", ["command-api/src", "http/src"]), ("query", ["query-api/src", "http/src"])]
    {
        let twice: Vec<_> = schema_names(&dirs).into_iter().filter(|(_, at)| at.len() > 1).collect();
        assert!(twice.is_empty(), "{side} API schema names used twice: {twice:?}");
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_have_etags_and_changes_take_if_match() {
    // Arrange
    let api = Api::start().await;
    let owner = api.register("Conditional").await;
    let created = api
        .send(
            Method::POST,
            "/v1/sites",
            Some(&owner.token),
            Some(json!({"domain": "etag.cond.test", "type": "static"})),
        )
        .await;
    assert_eq!(created.status(), 202);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let accepted: Value = created.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    assert_eq!(location, format!("{}/v1/sites/{id}?min_version=1", api.query), "Location names the view");

    // The detail answers its version as an ETag, and 304 to a caller that holds it.
    let read = api.http.get(&location).bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(read.status(), 200, "{:?}", read.headers());
    assert_eq!(read.headers()["etag"], "\"1\"");
    let held = api
        .http
        .get(&location)
        .bearer_auth(&owner.token)
        .header("If-None-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(held.headers()["etag"], "\"1\"");

    // A change for the current version goes through; a second one for the same, now stale,
    // version is refused and changes nothing.
    let patch = |if_match: &'static str, label: &'static str| {
        api.http
            .patch(format!("{}/v1/sites/{id}", api.command))
            .bearer_auth(&owner.token)
            .header("If-Match", if_match)
            .json(&json!({"label": label}))
            .send()
    };
    let first = patch("\"1\"", "first").await.unwrap();
    assert_eq!(first.status(), 202);
    let before = api.events().await;
    let stale = patch("\"1\"", "second").await.unwrap();
    insta::assert_json_snapshot!("stale_if_match", problem(stale, 412).await);
    assert_eq!(api.events().await, before);
    let bad = patch("1", "third").await.unwrap();
    assert_eq!(problem(bad, 400).await["field"], "If-Match");
    api.stop().await;

    // A provider that requires If-Match refuses a change without it.
    let strict = Api::start_with(&[("BERTH_COMMAND_API__REQUIRE_IF_MATCH", "true")]).await;
    let owner = strict.register("Strict").await;
    let id = strict.create_site(&owner.token, "strict.cond.test").await;
    let blind = strict.send(Method::DELETE, &format!("/v1/sites/{id}"), Some(&owner.token), None).await;
    insta::assert_json_snapshot!("if_match_required", problem(blind, 428).await);
    strict.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticated_answers_carry_rate_limit_headers() {
    let api =
        Api::start_with(&[("BERTH_LIMITS__API_PER_MINUTE", "3"), ("BERTH_LIMITS__AUTH_PER_MINUTE", "100")])
            .await;
    let owner = api.register("Limited").await;
    let read = |_: usize| api.http.get(format!("{}/v1/sites", api.query)).bearer_auth(&owner.token).send();
    let first = read(0).await.unwrap();
    assert_eq!(first.headers()["ratelimit-policy"], "\"per-token\";q=3;w=60");
    let remaining = first.headers()["ratelimit"].to_str().unwrap().to_owned();
    assert!(remaining.starts_with("\"per-token\";r=2;t="), "{remaining}");
    read(1).await.unwrap();
    read(2).await.unwrap();
    let refused = read(3).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers()["ratelimit"].to_str().unwrap().starts_with("\"per-token\";r=0;"));
    assert!(refused.headers().contains_key("retry-after"));
    api.stop().await;
}

/// A read waiting for a version tells "not yet" from "never": once the view has taken in every
/// committed event, a version beyond the resource's is a 400 and an unknown id a 404, at once
/// rather than a 503 after the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_never_written_is_not_waited_for() {
    let api = Api::start().await;
    let owner = api.register("Never").await;
    let id = api.create_site(&owner.token, "never.cond.test").await;

    let (status, body) =
        api.read(&format!("/v1/sites/{id}?min_version=9223372036854775806"), &owner.token).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("min_version")), "{body}");
    let unknown = uuid::Uuid::now_v7();
    let (status, body) = api.read(&format!("/v1/sites/{unknown}?min_version=0"), &owner.token).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = api.read("/v1/tenant?min_version=9223372036854775806", &owner.token).await;
    assert_eq!(status, 400, "{body}");
    api.stop().await;
}

//! Every error is `application/problem+json`, with a problem type of its own and the field or
//! parameter at fault: bodies, query strings, paths, unknown routes and methods, media types,
//! domain refusals. The bodies are pinned by snapshots: they are part of the contract.

use reqwest::Method;
use serde_json::{json, Value};

use crate::api::{problem, Api};

/// A problem answered for `path` on the query API.
async fn read_problem(api: &Api, path: &str, token: &str, status: u16) -> Value {
    let response = api.http.get(format!("{}{path}", api.query)).bearer_auth(token).send().await.unwrap();
    problem(response, status).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_with_control_characters_are_refused_naming_the_field() {
    let api = Api::start().await;
    let owner = api.register("Controls").await;
    let site = api.create_site(&owner.token, "nul.controls.test").await;
    let before = api.events().await;
    let patch = api
        .send(
            Method::PATCH,
            &format!("/v1/sites/{site}"),
            Some(&owner.token),
            Some(json!({"label": "a\u{0}b"})),
        )
        .await;
    insta::assert_json_snapshot!("nul_in_a_body", problem(patch, 400).await);
    assert_eq!(api.events().await, before, "nothing was appended");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_strings_are_checked_parameter_by_parameter() {
    let api = Api::start().await;
    let owner = api.register("Queries").await;
    let t = &owner.token;
    insta::assert_json_snapshot!("nul_in_a_query", read_problem(&api, "/v1/audit?actor=a%00b", t, 400).await);
    insta::assert_json_snapshot!("nul_in_target", read_problem(&api, "/v1/audit?target=a%00b", t, 400).await);
    insta::assert_json_snapshot!(
        "limit_out_of_range",
        read_problem(&api, "/v1/sites?limit=99999999999999999999", t, 400).await
    );
    insta::assert_json_snapshot!("negative_limit", read_problem(&api, "/v1/sites?limit=-1", t, 400).await);
    insta::assert_json_snapshot!(
        "unknown_parameter",
        read_problem(&api, "/v1/sites?colour=red", t, 400).await
    );
    let site = api.create_site(t, "versions.queries.test").await;
    insta::assert_json_snapshot!(
        "negative_min_version",
        read_problem(&api, &format!("/v1/sites/{site}?min_version=-1"), t, 400).await
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_methods_and_media_types_answer_with_problems() {
    let api = Api::start().await;
    let owner = api.register("Routes").await;
    let unknown = api.send(Method::GET, "/v1/nothing-here", Some(&owner.token), None).await;
    insta::assert_json_snapshot!("unknown_route", problem(unknown, 404).await);
    let wrong_method = api.send(Method::PUT, "/v1/sites", Some(&owner.token), None).await;
    insta::assert_json_snapshot!("method_not_allowed", problem(wrong_method, 405).await);
    let read_method =
        api.http.delete(format!("{}/v1/sites", api.query)).bearer_auth(&owner.token).send().await.unwrap();
    problem(read_method, 405).await;
    let before = api.events().await;
    let patch_document = api
        .http
        .post(format!("{}/v1/sites", api.command))
        .bearer_auth(&owner.token)
        .header("content-type", "application/json-patch+json")
        .body(r#"{"domain":"patched.routes.test","type":"static"}"#)
        .send()
        .await
        .unwrap();
    insta::assert_json_snapshot!("json_patch_is_not_json", problem(patch_document, 415).await);
    assert_eq!(api.events().await, before, "a patch document created nothing");
    let stream = api
        .http
        .get(format!("{}/v1/events/stream", api.query))
        .bearer_auth(&owner.token)
        .header("Last-Event-ID", "18446744073709551615")
        .send()
        .await
        .unwrap();
    insta::assert_json_snapshot!("last_event_id_overflow", problem(stream, 400).await);
    let anonymous = api.http.get(format!("{}/v1/sites", api.query)).send().await.unwrap();
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer realm=\"berth\"");
    insta::assert_json_snapshot!("no_token", problem(anonymous, 401).await);
    api.stop().await;
}

/// Domain refusals keep their own problem type: a broken rule is 422, a state conflict 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_themselves() {
    let api = Api::start().await;
    let owner = api.register("Refusals").await;
    let (admin, _, _) = api.invite_and_join(&owner, "admin@refusals.test", "admin").await;
    let too_high =
        api.send(Method::POST, "/v1/tokens", Some(&admin), Some(json!({"name": "x", "role": "owner"}))).await;
    insta::assert_json_snapshot!("role_too_high", problem(too_high, 422).await);
    // Without sagas a new site stays requested: it is busy being provisioned.
    let site = api.create_site(&owner.token, "busy.refusals.test").await;
    let busy = api.send(Method::POST, &format!("/v1/sites/{site}/suspend"), Some(&owner.token), None).await;
    insta::assert_json_snapshot!("site_busy", problem(busy, 409).await);
    let taken = api
        .send(
            Method::POST,
            "/v1/sites",
            Some(&owner.token),
            Some(json!({"domain": "busy.refusals.test", "type": "static"})),
        )
        .await;
    insta::assert_json_snapshot!("domain_taken", problem(taken, 409).await);
    api.stop().await;
}

//! `POST /v1/auth/logout`: a user's own session ends at once and for good (its token is refused
//! by the next request, also on a second process with its own credential cache), the security
//! log records it, and only a login session can sign out.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::api::{problem, Api};
use crate::common::eventually;
use crate::nodes_harness::operator_token;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_session_everywhere_and_is_in_the_security_log() {
    let api = Api::start().await;
    let owner = api.register("Sign Out").await;
    // A second session of the same user, and an API token, are untouched by the first's end.
    let login = api
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": owner.email, "password": "a long enough password"})),
        )
        .await;
    assert_eq!(login.status(), 200);
    let other: Value = login.json().await.unwrap();
    let other = other["token"].as_str().unwrap().to_owned();
    let issued = api
        .send(Method::POST, "/v1/tokens", Some(&owner.token), Some(json!({"name": "ci", "role": "admin"})))
        .await;
    assert_eq!(issued.status(), 202);
    let issued: Value = issued.json().await.unwrap();
    let api_token = issued["token"].as_str().unwrap().to_owned();
    assert_eq!(api.read("/v1/tenant?min_version=1", &owner.token).await.0, 200);

    let out = api.send(Method::POST, "/v1/auth/logout", Some(&owner.token), None).await;
    assert_eq!(out.status(), 204, "{}", out.text().await.unwrap());
    assert_eq!(api.read("/v1/tenant", &owner.token).await.0, 401, "the ended session still reads");
    let again = api.send(Method::POST, "/v1/auth/logout", Some(&owner.token), None).await;
    assert_eq!(again.status(), 401, "a session ends once");
    assert_eq!(api.read("/v1/tenant", &other).await.0, 200, "the user's other session ends too early");

    // An API token is revoked, not signed out; an operator has no session.
    let refused = api.send(Method::POST, "/v1/auth/logout", Some(&api_token), None).await;
    let body = problem(refused, 400).await;
    assert_eq!(body["field"], "Authorization", "{body}");
    let operator = operator_token(&api).await;
    let refused = api.send(Method::POST, "/v1/auth/logout", Some(&operator), None).await;
    problem(refused, 403).await;

    // The security log has the sign-out, with where it came from.
    let logged = eventually(Duration::from_secs(10), || async {
        let (_, page) = api.read("/v1/security-log?kind=LoggedOut", &other).await;
        page["items"].as_array().is_some_and(|items| {
            items.iter().any(|e| e["user_id"] == owner.user_id.as_str() && e["address"] == "127.0.0.1")
        })
    })
    .await;
    assert!(logged, "no LoggedOut entry in the security log");
    api.stop().await;
}

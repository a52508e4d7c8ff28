use reqwest::Method;
use serde_json::json;

use crate::api::{problem, Api};

/// Register, log in, read the tenant; invite a member who joins, changes role and is removed
/// (their session dies with the membership).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_register_log_in_and_manage_their_team() {
    let api = Api::start().await;
    let owner = api.register("Acme Hosting").await;

    let login = api
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": owner.email, "password": "a long enough password"})),
        )
        .await;
    assert_eq!(login.status(), 200);
    let login: serde_json::Value = login.json().await.unwrap();
    assert_eq!(login["tenant_id"], owner.tenant_id.as_str());
    let session = login["token"].as_str().unwrap();
    let wrong = api
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": owner.email, "password": "not the password"})),
        )
        .await;
    problem(wrong, 401).await;

    // Registration answers no version; the organization's first is 1.
    let (status, tenant) = api.read("/v1/tenant?min_version=1", session).await;
    assert_eq!(status, 200);
    assert_eq!(tenant["name"], "Acme Hosting");
    assert_eq!(tenant["counts"]["members"], 1);

    // A new member joins by invitation.
    let (member_token, member_id, invitation_id) =
        api.invite_and_join(&owner, "dev@acme.test", "member").await;
    let (_, members) = api.read("/v1/members", &owner.token).await;
    let roles: Vec<(String, String)> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap().to_owned(), m["role"].as_str().unwrap().to_owned()))
        .collect();
    assert!(roles.contains(&("dev@acme.test".to_owned(), "member".to_owned())), "{roles:?}");
    let (_, invitations) = api.read("/v1/invitations", &owner.token).await;
    assert_eq!(invitations["items"][0]["id"], invitation_id.as_str());
    assert_eq!(invitations["items"][0]["status"], "accepted");

    // Role change takes effect on the member's live session: a viewer may no longer create sites.
    let changed = api
        .send(
            Method::PATCH,
            &format!("/v1/members/{member_id}"),
            Some(&owner.token),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(changed.status(), 202);
    let denied = api
        .send(
            Method::POST,
            "/v1/sites",
            Some(&member_token),
            Some(json!({"domain": "x.acme.test", "type": "static"})),
        )
        .await;
    problem(denied, 403).await;

    // Removal ends the member's session.
    let removed =
        api.send(Method::DELETE, &format!("/v1/members/{member_id}"), Some(&owner.token), None).await;
    assert_eq!(removed.status(), 202);
    let (status, _) = api.read("/v1/tenant", &member_token).await;
    assert_eq!(status, 401);

    // The last owner cannot leave.
    let last =
        api.send(Method::DELETE, &format!("/v1/members/{}", owner.user_id), Some(&owner.token), None).await;
    let body = problem(last, 409).await;
    assert!(body["detail"].as_str().unwrap().contains("at least one owner"));
    api.stop().await;
}

/// API tokens: shown once, listed without their secret, revocable, optionally expiring, and
/// never above their creator's role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_are_shown_once_listed_and_revoked() {
    let api = Api::start().await;
    let owner = api.register("Tokens Inc").await;
    let issued = api
        .send(Method::POST, "/v1/tokens", Some(&owner.token), Some(json!({"name": "ci", "role": "member"})))
        .await;
    assert_eq!(issued.status(), 202);
    let issued: serde_json::Value = issued.json().await.unwrap();
    let token = issued["token"].as_str().unwrap();
    api.wait_for_tenant(&owner.token, issued["version"].as_i64().unwrap()).await;
    assert!(token.starts_with("brt_"));
    api.create_site(token, "from-ci.tokens.test").await;

    let (_, listed) = api.read("/v1/tokens", &owner.token).await;
    assert_eq!(listed["items"][0]["name"], "ci");
    assert!(!listed.to_string().contains(token), "the secret never appears in a listing");

    let expired = api
        .send(
            Method::POST,
            "/v1/tokens",
            Some(&owner.token),
            Some(json!({"name": "old", "role": "viewer", "expires_at": "2001-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(problem(expired, 400).await["field"], "expires_at");

    let revoked = api
        .send(
            Method::DELETE,
            &format!("/v1/tokens/{}", issued["id"].as_str().unwrap()),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(revoked.status(), 202);
    let (status, _) = api.read("/v1/sites", token).await;
    assert_eq!(status, 401);

    // An admin cannot mint an owner token.
    let (admin, _, _) = api.invite_and_join(&owner, "admin@tokens.test", "admin").await;
    let too_high =
        api.send(Method::POST, "/v1/tokens", Some(&admin), Some(json!({"name": "x", "role": "owner"}))).await;
    assert_eq!(problem(too_high, 422).await["type"], "https://berth.dev/problems/role-too-high");
    api.stop().await;
}

/// `berth operator add` creates a platform operator and prints a token shown once; operators
/// are not tenant users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_are_added_from_the_command_line() {
    let api = Api::start().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["operator", "add", "--email", "ops@provider.test"])
        .envs(api.env.env_vars())
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let token = stdout.lines().find_map(|l| l.strip_prefix("token ")).unwrap().to_owned();
    assert!(token.starts_with("bro_"));
    let denied = api
        .send(Method::POST, "/v1/sites", Some(&token), Some(json!({"domain": "ops.test", "type": "static"})))
        .await;
    problem(denied, 403).await;

    let twice = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["operator", "add", "--email", "OPS@provider.test"])
        .envs(api.env.env_vars())
        .output()
        .await
        .unwrap();
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("already taken"));
    api.stop().await;
}

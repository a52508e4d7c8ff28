use reqwest::Method;
use serde_json::{json, Value};

use crate::api::{problem, Account, Api};

struct Estate {
    owner: Account,
    site: String,
    token_id: String,
    invitation_id: String,
    member_id: String,
}

async fn estate(api: &Api, name: &str) -> Estate {
    let owner = api.register(name).await;
    let slug = name.to_lowercase();
    let site = api.create_site(&owner.token, &format!("www.{slug}.test")).await;
    let token = api
        .send(
            Method::POST,
            "/v1/tokens",
            Some(&owner.token),
            Some(json!({"name": "deploy", "role": "member"})),
        )
        .await;
    let token_id = token.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let invitation = api
        .send(
            Method::POST,
            "/v1/invitations",
            Some(&owner.token),
            Some(json!({"email": format!("later@{slug}.test"), "role": "viewer"})),
        )
        .await;
    let invitation_id = invitation.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let (_, member_id, _) = api.invite_and_join(&owner, &format!("dev@{slug}.test"), "member").await;
    Estate { owner, site, token_id, invitation_id, member_id }
}

/// Every route of one organization, tried with the other's ids: all 404, nothing appended;
/// every list shows only the caller's own tenant, and row-level security holds even for a
/// query that forgets its tenant filter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_organizations_cannot_see_or_touch_each_other() {
    let api = Api::start().await;
    let a = estate(&api, "Alpha").await;
    let b = estate(&api, "Bravo").await;
    let before = api.events().await;

    let commands: Vec<(Method, String, Option<Value>)> = vec![
        (Method::PATCH, format!("/v1/sites/{}", b.site), Some(json!({"php_version": "8.4"}))),
        (Method::DELETE, format!("/v1/sites/{}", b.site), None),
        (Method::DELETE, format!("/v1/tokens/{}", b.token_id), None),
        (Method::DELETE, format!("/v1/invitations/{}", b.invitation_id), None),
        (Method::PATCH, format!("/v1/members/{}", b.member_id), Some(json!({"role": "viewer"}))),
        (Method::DELETE, format!("/v1/members/{}", b.member_id), None),
        (Method::DELETE, format!("/v1/members/{}", b.owner.user_id), None),
    ];
    for (method, path, body) in commands {
        let response = api.send(method.clone(), &path, Some(&a.owner.token), body).await;
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    let (status, _) = api.read(&format!("/v1/sites/{}", b.site), &a.owner.token).await;
    assert_eq!(status, 404);
    let (status, _) = api.read(&format!("/v1/sites/{}?min_version=1", b.site), &a.owner.token).await;
    assert_ne!(status, 200);
    assert_eq!(api.events().await, before, "nothing was appended");

    // Lists and the audit trail show only the caller's tenant.
    for path in
        ["/v1/sites", "/v1/members", "/v1/tokens", "/v1/invitations", "/v1/audit?limit=200", "/v1/tenant"]
    {
        let (status, body) = api.read(path, &a.owner.token).await;
        assert_eq!(status, 200, "{path}");
        let text = body.to_string();
        for foreign in
            [&b.site, &b.token_id, &b.invitation_id, &b.member_id, &b.owner.user_id, &b.owner.tenant_id]
        {
            assert!(!text.contains(foreign.as_str()), "{path} leaks {foreign}");
        }
        assert!(!text.contains("Bravo") && !text.contains("bravo.test"), "{path} leaks Bravo's data");
    }

    // Row-level security: as the query API's role, a query without a tenant filter still only
    // sees the tenant set for the transaction.
    let mut tx = api.env.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE berth_reader").execute(&mut *tx).await.unwrap();
    sqlx::query("SELECT set_config('berth.tenant_id', $1, true)")
        .bind(&a.owner.tenant_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let tenant_tables = crate::projections::view_tables(&api.env, Some("tenant_id")).await;
    assert!(tenant_tables.len() >= 5, "{tenant_tables:?}");
    for table in tenant_tables {
        let foreign: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE tenant_id <> $1::uuid"))
                .bind(&a.owner.tenant_id)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!(foreign, 0, "{table} shows another tenant's rows");
    }
    tx.rollback().await.unwrap();

    // And the views built live from all of this equal a rebuild from the log.
    crate::projections::assert_equals_rebuild(&api.env).await;
    api.stop().await;
}

/// A Viewer is denied every command with 403, and nothing is appended but the security log's
/// record of each refusal; reading is allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_is_denied_every_command() {
    let api = Api::start().await;
    let home = estate(&api, "Viewed").await;
    let (viewer, viewer_id, _) = api.invite_and_join(&home.owner, "viewer@viewed.test", "viewer").await;
    let (changes, denials) = api.changes_and_security().await;
    let commands: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, "/v1/sites".into(), Some(json!({"domain": "new.viewed.test", "type": "static"}))),
        (Method::PATCH, format!("/v1/sites/{}", home.site), Some(json!({"php_version": "8.4"}))),
        (Method::DELETE, format!("/v1/sites/{}", home.site), None),
        (Method::POST, "/v1/tokens".into(), Some(json!({"name": "mine", "role": "viewer"}))),
        (Method::DELETE, format!("/v1/tokens/{}", home.token_id), None),
        (Method::POST, "/v1/invitations".into(), Some(json!({"email": "x@viewed.test", "role": "viewer"}))),
        (Method::DELETE, format!("/v1/invitations/{}", home.invitation_id), None),
        (Method::PATCH, format!("/v1/members/{}", home.member_id), Some(json!({"role": "viewer"}))),
        (Method::DELETE, format!("/v1/members/{}", home.member_id), None),
        (Method::DELETE, format!("/v1/members/{viewer_id}"), None),
    ];
    let commands_sent = commands.len();
    for (method, path, body) in commands {
        let response = api.send(method.clone(), &path, Some(&viewer), body).await;
        let body = problem(response, 403).await;
        assert!(body["detail"].as_str().unwrap().contains("viewer"), "{method} {path}: {body}");
    }
    let refusals = i64::try_from(commands_sent).unwrap();
    assert_eq!(
        api.changes_and_security().await,
        (changes, denials + refusals),
        "one AccessDenied per refusal, nothing else"
    );
    let (status, sites) = api.read("/v1/sites", &viewer).await;
    assert_eq!(status, 200);
    assert_eq!(sites["items"][0]["id"], home.site.as_str());
    api.stop().await;
}

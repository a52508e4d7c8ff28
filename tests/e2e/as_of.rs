//! `?as_of=` answers a detail as it was at an instant, folded from the log.

use berth::app::Roles;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::api::{problem, Api};
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, site_action, wait_for_status, LocalNode,
    NODE_SETTINGS,
};

/// The database's clock now (the one `recorded_at` is stamped with), as RFC 3339.
async fn now(api: &Api) -> String {
    let at: OffsetDateTime = sqlx::query_scalar("SELECT now()").fetch_one(&api.env.pool).await.unwrap();
    at.format(&Rfc3339).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_site_and_its_tenant_as_they_were_before_and_after_a_suspension() {
    // Arrange: an active site on a local node.
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tasof").await;
    let api = Api::start_roles(NODE_SETTINGS, Roles::ALL).await;
    let operator = operator_token(&api).await;
    add_node(&api, &operator, &node, (2, 4096, 40)).await;
    let owner = api.register("Past States").await;
    let before_site = now(&api).await;
    let id = create_site(&api, &owner.token, "asof.past.test", "static", None).await;
    wait_for_status(&api, &owner.token, &id, &["active"]).await;
    let active = now(&api).await;

    // Act: suspend it; a member joins.
    site_action(&api, &owner.token, &id, "suspend").await;
    wait_for_status(&api, &owner.token, &id, &["suspended"]).await;
    let suspended = now(&api).await;
    api.invite_and_join(&owner, "later@past.test", "member").await;

    // Assert: each instant answers the state then, with where it stands in the log.
    let at = |t: &str| format!("/v1/sites/{id}?as_of={}", t.replace('+', "%2B"));
    let (status, then) = api.read(&at(&active), &owner.token).await;
    assert_eq!(status, 200, "{then}");
    assert_eq!(then["status"], "active", "{then}");
    assert_eq!(then["node"]["name"], node.name.as_str());
    let active_version = then["as_of"]["version"].as_i64().unwrap();
    assert!(then["as_of"]["global_position"].as_i64().unwrap() > 0);
    let (_, later) = api.read(&at(&suspended), &owner.token).await;
    assert_eq!(later["status"], "suspended", "{later}");
    assert!(later["as_of"]["version"].as_i64().unwrap() > active_version);
    let (status, _) = api.read(&at(&before_site), &owner.token).await;
    assert_eq!(status, 404, "the site did not exist yet");
    let (_, live) = api.read(&format!("/v1/sites/{id}"), &owner.token).await;
    assert!(live.get("as_of").is_none(), "a live read has no as_of: {live}");

    let tenant = |t: &str| format!("/v1/tenant?as_of={}", t.replace('+', "%2B"));
    let (_, then) = api.read(&tenant(&active), &owner.token).await;
    assert_eq!(
        (then["counts"]["members"].as_i64(), then["counts"]["sites_by_status"]["active"].as_i64()),
        (Some(1), Some(1)),
        "{then}"
    );
    let (_, now_) = api.read(&tenant(&now(&api).await), &owner.token).await;
    assert_eq!(now_["counts"]["members"], 2, "{now_}");
    assert_eq!(now_["counts"]["sites_by_status"]["suspended"], 1, "{now_}");

    // Bad input names the parameter.
    let bad = api
        .http
        .get(format!("{}/v1/sites/{id}?as_of=last+tuesday", api.query))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(bad, 400).await["field"], "as_of");
    let both = format!("{}/v1/sites/{id}?as_of={}&min_version=1", api.query, active.replace('+', "%2B"));
    let both = api.http.get(both).bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(problem(both, 400).await["field"], "as_of");
    api.stop().await;
}

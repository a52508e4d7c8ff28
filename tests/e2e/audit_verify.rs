//! `berth audit verify` against a log and views changed by hand with plain SQL: each change is
//! found and named; an untouched log passes and its replay equals the live views.

use std::time::Duration;

use berth::app::Roles;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::api::Api;
use crate::common::eventually;

/// Runs `berth audit verify` (with `args`) against `api`'s world: its exit status and output.
async fn verify(api: &Api, args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["audit", "verify"])
        .args(args)
        .envs(api.env.env_vars())
        .env("BERTH_LOG__FILTER", "error")
        .output()
        .await
        .expect("run berth audit verify");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

async fn sql(api: &Api, statement: &str, id: Uuid) {
    sqlx::query(statement).bind(id).execute(&api.env.pool).await.unwrap();
}

/// The id of event `sequence` of `aggregate_type` `aggregate_id`.
async fn event_id(api: &Api, aggregate_type: &str, aggregate_id: &str, sequence: i64) -> Uuid {
    sqlx::query_scalar(
        "SELECT event_id FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(sequence)
    .fetch_one(&api.env.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_with_the_log_or_a_view_is_found_and_named() {
    // Arrange: a tenant with sites changed a few times, every event sealed.
    let settings = [
        ("BERTH_LIMITS__API_PER_MINUTE", "100000"),
        ("BERTH_LIMITS__AUTH_PER_MINUTE", "100000"),
        ("BERTH_SAGAS__PROVISIONING__ENABLED", "false"),
        ("BERTH_SAGAS__SEALER__EVERY_EVENTS", "4"),
        ("BERTH_SAGAS__SEALER__EVERY_SECS", "1"),
    ];
    let api = Api::start_roles(&settings, Roles::ALL).await;
    let owner = api.register("Audited").await;
    let mut sites = Vec::new();
    for n in 0..3 {
        let id = api.create_site(&owner.token, &format!("s{n}.audited.test")).await;
        for label in ["one", "two"] {
            let path = format!("/v1/sites/{id}");
            let answer =
                api.send(Method::PATCH, &path, Some(&owner.token), Some(json!({"label": label}))).await;
            assert_eq!(answer.status(), 202);
        }
        sites.push(id);
    }
    let sealed = eventually(Duration::from_secs(30), || async {
        let (events, sealed): (i64, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM events), (SELECT max(event_count) FROM audit_seals)",
        )
        .fetch_one(&api.env.pool)
        .await
        .unwrap();
        sealed == Some(events)
    })
    .await;
    assert!(sealed, "the sealer did not seal the whole log");
    let (ok, report) = verify(&api, &[]).await;
    assert!(ok, "an untouched log must verify:\n{report}");
    assert!(report.contains("view sites:") && report.contains("agrees"), "{report}");
    let (ok, report) = verify(&api, &["--tenant", &owner.tenant_id]).await;
    assert!(ok, "{report}");

    // An edited payload is named by its event id; put back, the log verifies again.
    let edited = event_id(&api, "site", &sites[0], 2).await;
    sql(
        &api,
        "UPDATE events SET payload = jsonb_set(payload, '{Updated,label}', '\"forged\"') WHERE event_id = $1",
        edited,
    )
    .await;
    let (ok, report) = verify(&api, &[]).await;
    assert!(!ok && report.contains(&format!("event {edited}")), "{report}");
    sql(
        &api,
        "UPDATE events SET payload = jsonb_set(payload, '{Updated,label}', '\"one\"') WHERE event_id = $1",
        edited,
    )
    .await;
    let (ok, report) = verify(&api, &[]).await;
    assert!(ok, "restored, the log verifies again:\n{report}");

    // Two events swapped: both named.
    let (first, second) =
        (event_id(&api, "site", &sites[1], 2).await, event_id(&api, "site", &sites[1], 3).await);
    let swap = "UPDATE events e SET payload = o.payload FROM events o
                 WHERE e.aggregate_type = 'site' AND o.aggregate_type = 'site' AND e.aggregate_id = o.aggregate_id
                   AND e.aggregate_id = (SELECT aggregate_id FROM events WHERE event_id = $1)
                   AND e.sequence IN (2, 3) AND o.sequence IN (2, 3) AND e.sequence <> o.sequence";
    sql(&api, swap, first).await;
    let (ok, report) = verify(&api, &[]).await;
    assert!(!ok && report.contains(&first.to_string()) && report.contains(&second.to_string()), "{report}");
    sql(&api, swap, first).await;

    // A view row changed by hand: the table and the row are named.
    sqlx::query("UPDATE proj_sites.sites SET label = 'by hand' WHERE id = $1")
        .bind(sites[2].parse::<Uuid>().unwrap())
        .execute(&api.env.pool)
        .await
        .unwrap();
    let (ok, report) = verify(&api, &[]).await;
    assert!(!ok && report.contains("sites.sites") && report.contains("by hand"), "{report}");
    sqlx::query("UPDATE proj_sites.sites SET label = 'two' WHERE id = $1")
        .bind(sites[2].parse::<Uuid>().unwrap())
        .execute(&api.env.pool)
        .await
        .unwrap();
    let (ok, report) = verify(&api, &[]).await;
    assert!(ok, "{report}");

    // An event deleted from the middle of a history is named by its place; one deleted from
    // the end of another is caught by the seal that covered it.
    let middle = event_id(&api, "site", &sites[0], 2).await;
    sql(&api, "DELETE FROM events WHERE event_id = $1", middle).await;
    let last = event_id(&api, "site", &sites[2], 3).await;
    sql(&api, "DELETE FROM events WHERE event_id = $1", last).await;
    let (ok, report) = verify(&api, &[]).await;
    assert!(!ok, "{report}");
    assert!(report.contains(&format!("site/{}: event #2 is missing", sites[0])), "{report}");
    assert!(report.contains("seal ") && report.contains("the log now gives"), "{report}");
    api.stop().await;
}

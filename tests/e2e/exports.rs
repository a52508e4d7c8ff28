//! Exports of a tenant's events: written by `berth export`, checked offline by `berth export
//! verify` with the published key; one byte changed or one line removed and it fails. The
//! query API streams the same lines to the tenant's owners and to operators, resumably.

use std::path::Path;

use crate::api::{problem, Api};
use crate::nodes_harness::operator_token;

async fn berth(api: &Api, args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .envs(api.env.env_vars())
        .env("BERTH_LOG__FILTER", "error")
        .output()
        .await
        .expect("run berth");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("events.jsonl")).unwrap().lines().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_verifies_offline_and_any_change_to_it_is_found() {
    // Arrange: a tenant with some history, and another tenant.
    let api = Api::start().await;
    let owner = api.register("Exported").await;
    let other = api.register("Bystander").await;
    for n in 0..3 {
        api.create_site(&owner.token, &format!("s{n}.exported.test")).await;
    }
    api.create_site(&other.token, "other.bystander.test").await;
    let dir = std::env::temp_dir().join(format!("berth-export-{}", api.env.db_name));

    // Act: export, and fetch the published key.
    let (ok, text) =
        berth(&api, &["export", "--tenant", &owner.tenant_id, "--out", dir.to_str().unwrap()]).await;
    assert!(ok, "{text}");
    let operator = operator_token(&api).await;
    let (status, keys) = api.read("/v1/audit/key", &operator).await;
    assert_eq!(status, 200, "{keys}");
    let key = keys[0]["public_key"].as_str().unwrap().to_owned();

    // Assert: it verifies with the published key; it holds this tenant's events only.
    let (ok, text) = berth(&api, &["export", "verify", dir.to_str().unwrap(), "--key", &key]).await;
    assert!(ok, "{text}");
    let exported = lines(&dir);
    let tenant_events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE tenant_id = $1::uuid")
        .bind(&owner.tenant_id)
        .fetch_one(&api.env.pool)
        .await
        .unwrap();
    assert_eq!(exported.len() as i64, tenant_events);
    assert!(exported.iter().all(|l| !l.contains("bystander")));

    // One byte changed: found. One line removed: found. A key that is not the published one: found.
    let original = std::fs::read(dir.join("events.jsonl")).unwrap();
    let mut changed = original.clone();
    let at = changed.iter().position(|b| *b == b'1').unwrap();
    changed[at] = b'2';
    std::fs::write(dir.join("events.jsonl"), &changed).unwrap();
    let (ok, text) = berth(&api, &["export", "verify", dir.to_str().unwrap(), "--key", &key]).await;
    assert!(!ok && text.contains("FINDING"), "{text}");
    std::fs::write(dir.join("events.jsonl"), format!("{}\n", exported[1..].join("\n"))).unwrap();
    let (ok, text) = berth(&api, &["export", "verify", dir.to_str().unwrap(), "--key", &key]).await;
    assert!(!ok && text.contains("FINDING"), "{text}");
    std::fs::write(dir.join("events.jsonl"), &original).unwrap();
    let (ok, text) =
        berth(&api, &["export", "verify", dir.to_str().unwrap(), "--key", &"ab".repeat(32)]).await;
    assert!(!ok && text.contains("signature"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_and_operators_stream_a_tenant_export_and_resume_it() {
    let api = Api::start().await;
    let owner = api.register("Streamed").await;
    for n in 0..4 {
        api.create_site(&owner.token, &format!("s{n}.streamed.test")).await;
    }
    let (http, base) = (api.http.clone(), api.query.clone());
    let get = |query: String, token: String| {
        let (http, url) = (http.clone(), format!("{base}/v1/exports/events{query}"));
        async move { http.get(url).bearer_auth(token).send().await.unwrap() }
    };

    // The whole export, as NDJSON, each line hashing to its hash after its predecessor.
    let answer = get(String::new(), owner.token.clone()).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/x-ndjson");
    let body = answer.text().await.unwrap();
    let all: Vec<berth_projections::export::ExportLine> =
        body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(all.len() >= 6, "{body}");
    assert!(all.iter().all(berth_projections::export::ExportLine::hash_checks));

    // Resumed after the third line: the rest, and nothing else.
    let after = format!("?after={}.{}", all[2].transaction_id, all[2].global_position);
    let rest = get(after, owner.token.clone()).await.text().await.unwrap();
    assert_eq!(rest.lines().count(), all.len() - 3);

    // An operator names the tenant; without one, or with a window the wrong way round, 400.
    let operator = operator_token(&api).await;
    let by_operator =
        get(format!("?tenant={}", owner.tenant_id), operator.clone()).await.text().await.unwrap();
    assert_eq!(by_operator.lines().count(), all.len());
    assert_eq!(problem(get(String::new(), operator).await, 400).await["field"], "tenant");
    let backwards = "?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z".to_owned();
    assert_eq!(problem(get(backwards, owner.token.clone()).await, 400).await["field"], "to");
    let malformed = "?from=yesterday".to_owned();
    assert_eq!(problem(get(malformed, owner.token.clone()).await, 400).await["field"], "from");

    // An admin is not an owner; another tenant's id is not found.
    let (admin, _, _) = api.invite_and_join(&owner, "admin@streamed.test", "admin").await;
    problem(get(String::new(), admin).await, 403).await;
    let stranger = api.register("Stranger").await;
    problem(get(format!("?tenant={}", owner.tenant_id), stranger.token).await, 404).await;
    api.stop().await;
}

//! An Idempotency-Key claim never outlives its request: a client that hangs up, and a server
//! killed with SIGKILL while requests are in flight, both leave keys that a retry resolves,
//! with exactly one site per key in the end.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::api::Api;
use crate::common::{kill9, TestEnv};

/// POSTs `body` with `key` until the answer is not "in flight" (following its Retry-After, as
/// a client would), and returns the status and body.
async fn post_until_settled(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> (u16, Value) {
    for _ in 0..120 {
        let response =
            http.post(url).bearer_auth(token).header("Idempotency-Key", key).json(body).send().await.unwrap();
        let status = response.status().as_u16();
        let wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        match (status, wait) {
            (409, Some(seconds)) if answer["type"].as_str().is_some_and(|t| t.ends_with("in-flight")) => {
                tokio::time::sleep(Duration::from_secs(seconds)).await;
            }
            _ => return (status, answer),
        }
    }
    panic!("{key} stayed in flight");
}

/// Writes a whole request on a raw connection and hangs up without reading the answer.
async fn post_and_hang_up(addr: &str, token: &str, key: &str, body: &Value) {
    let body = body.to_string();
    let request = format!(
        "POST /v1/sites HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
}

async fn created_sites(env: &TestEnv) -> Vec<String> {
    sqlx::query_scalar("SELECT aggregate_id FROM events WHERE event_type = 'SiteCreated' ORDER BY 1")
        .fetch_all(&env.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_leaves_a_key_its_retry_resolves() {
    // Arrange
    let api = Api::start().await;
    let owner = api.register("Hang Up").await;
    let addr = api.command.trim_start_matches("http://").to_owned();
    let body = |n: usize| json!({"domain": format!("s{n}.hang-up.test"), "type": "static"});

    // Act: thirty requests whose clients leave before the answer, then their retries.
    for n in 0..30 {
        post_and_hang_up(&addr, &owner.token, &format!("hang-up-{n}"), &body(n)).await;
    }
    let url = format!("{}/v1/sites", api.command);
    let mut answered = HashSet::new();
    for n in 0..30 {
        let (status, answer) =
            post_until_settled(&api.http, &url, &owner.token, &format!("hang-up-{n}"), &body(n)).await;
        assert_eq!(status, 202, "hang-up-{n}: {answer}");
        answered.insert(answer["id"].as_str().unwrap().to_owned());
    }

    // Assert: one site per key, and each retry learned its id.
    let created: HashSet<String> = created_sites(&api.env).await.into_iter().collect();
    assert_eq!(created.len(), 30);
    assert_eq!(answered, created);
    // The list has no min_version: give the view the time to take them all in.
    let listed = crate::common::eventually(Duration::from_secs(10), || async {
        let (_, page) = api.read("/v1/sites?limit=100", &owner.token).await;
        page["items"].as_array().is_some_and(|items| items.len() == 30)
    })
    .await;
    assert!(listed, "the site list never showed the 30 sites");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_when_the_server_is_killed_are_resolved_by_their_retries() {
    // Arrange: the command API in a process of its own, on a port that outlives it.
    let env = TestEnv::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let start = || {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"));
        child
            .arg("command-api")
            .envs(env.env_vars())
            .env("BERTH_COMMAND_API__ADDR", &addr)
            .env("BERTH_COMMAND_API__IDEMPOTENCY_LAPSE_SECS", "2")
            .env("BERTH_LIMITS__API_PER_MINUTE", "100000")
            .env("BERTH_LIMITS__AUTH_PER_MINUTE", "100000")
            .env("RUST_LOG", "error")
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        child.spawn().unwrap()
    };
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let ready = || async { http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) };
    let mut server = start();
    assert!(crate::common::eventually(Duration::from_secs(30), ready).await);
    let registered: Value = http
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({"name": "Killed", "email": "owner@killed.test", "password": "a long enough password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = registered["token"].as_str().unwrap().to_owned();
    let url = format!("{base}/v1/sites");
    let body = |n: usize| json!({"domain": format!("s{n}.killed.test"), "type": "static"});

    // Act: a hundred requests at once; the server is killed while they run.
    let mut in_flight = tokio::task::JoinSet::new();
    for n in 0..100 {
        let (http, url, token, body) = (http.clone(), url.clone(), token.clone(), body(n));
        in_flight.spawn(async move {
            let sent = http
                .post(&url)
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("killed-{n}"))
                .json(&body);
            sent.send().await.ok().map(|r| r.status().as_u16())
        });
    }
    crate::common::eventually(Duration::from_secs(10), || async { !created_sites(&env).await.is_empty() })
        .await;
    kill9(&mut server).await;
    while in_flight.join_next().await.is_some() {}
    let before_retry = created_sites(&env).await.len();
    let mut server = start();
    assert!(crate::common::eventually(Duration::from_secs(30), ready).await);
    let mut answered = HashSet::new();
    for n in 0..100 {
        let (status, answer) =
            post_until_settled(&http, &url, &token, &format!("killed-{n}"), &body(n)).await;
        assert_eq!(status, 202, "killed-{n}: {answer}");
        answered.insert(answer["id"].as_str().unwrap().to_owned());
    }

    // Assert: exactly one site per key, whichever of them the first server had created.
    let created: HashSet<String> = created_sites(&env).await.into_iter().collect();
    assert!(before_retry < 100, "the server was killed after every request had finished");
    assert_eq!(created.len(), 100);
    assert_eq!(answered, created);
    let replayed = http
        .request(Method::POST, &url)
        .bearer_auth(&token)
        .header("Idempotency-Key", "killed-0")
        .json(&body(0))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    kill9(&mut server).await;
    env.cleanup().await;
}

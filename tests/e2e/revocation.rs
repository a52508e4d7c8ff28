//! Credentials are cached in every API process, and a revoked, removed or demoted credential is
//! refused on the very next request by every one of them: the in-process APIs and a second
//! command API and query API, each a process of its own.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::process::Child;

use crate::api::Api;
use crate::common::eventually;

/// The four API endpoints of one deployment: the in-process pair and a spawned pair.
struct Fleet {
    api: Api,
    commands: [String; 2],
    queries: [String; 2],
    _children: Vec<Child>,
}

fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("127.0.0.1:{port}")
}

impl Fleet {
    async fn start() -> Self {
        let api = Api::start().await;
        let spawn = |role: &str, var: &str, addr: &str| {
            let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"));
            child
                .arg(role)
                .envs(api.env.env_vars())
                .env(var, addr)
                .env("BERTH_LIMITS__API_PER_MINUTE", "100000")
                .env("BERTH_LIMITS__AUTH_PER_MINUTE", "100000")
                .env("RUST_LOG", "error")
                .kill_on_drop(true)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            child.spawn().expect("spawn berth")
        };
        let (command_addr, query_addr) = (free_addr(), free_addr());
        let children = vec![
            spawn("command-api", "BERTH_COMMAND_API__ADDR", &command_addr),
            spawn("query-api", "BERTH_QUERY_API__ADDR", &query_addr),
        ];
        let commands = [api.command.clone(), format!("http://{command_addr}")];
        let queries = [api.query.clone(), format!("http://{query_addr}")];
        for base in commands.iter().chain(&queries) {
            let ready = || async {
                api.http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200)
            };
            assert!(eventually(Duration::from_secs(30), ready).await, "{base} did not become ready");
        }
        Self { api, commands, queries, _children: children }
    }

    /// Creates a site through the command API `at` with `token`; the answer's status.
    async fn create_site(&self, at: usize, token: &str, domain: &str) -> StatusCode {
        let body = json!({"domain": domain, "type": "static"});
        let url = format!("{}/v1/sites", self.commands[at]);
        self.api.http.post(url).bearer_auth(token).json(&body).send().await.unwrap().status()
    }

    /// Lists sites through the query API `at` with `token`; the answer's status.
    async fn list_sites(&self, at: usize, token: &str) -> StatusCode {
        let url = format!("{}/v1/sites", self.queries[at]);
        self.api.http.get(url).bearer_auth(token).send().await.unwrap().status()
    }

    /// Uses `token` on all four processes, so each has it cached.
    async fn warm(&self, token: &str, label: &str) {
        for at in 0..2 {
            let status = self.create_site(at, token, &format!("{label}-{at}.revoke.test")).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{label} on command API {at}");
            assert_eq!(self.list_sites(at, token).await, StatusCode::OK, "{label} on query API {at}");
        }
    }

    /// How many requests the process at `base` authenticated from its cache.
    async fn cache_hits(&self, base: &str) -> f64 {
        let text = self.api.http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("berth_credential_cache_total{outcome=\"hit\"} "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    /// Events in the log whose payload mentions `text`.
    async fn events_naming(&self, text: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE strpos(payload::text, $1) > 0")
            .bind(text)
            .fetch_one(&self.api.env.pool)
            .await
            .unwrap()
    }

    async fn send(
        &self,
        at: usize,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> StatusCode {
        let mut request =
            self.api.http.request(method, format!("{}{path}", self.commands[at])).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap().status()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_on_the_next_request_by_every_process() {
    // Arrange: a token every process has seen and cached.
    let fleet = Fleet::start().await;
    let owner = fleet.api.register("Revoked").await;
    let issued = fleet
        .api
        .send(Method::POST, "/v1/tokens", Some(&owner.token), Some(json!({"name": "ci", "role": "admin"})))
        .await;
    assert_eq!(issued.status(), 202);
    let issued: Value = issued.json().await.unwrap();
    let token = issued["token"].as_str().unwrap().to_owned();
    fleet.warm(&token, "token").await;
    fleet.warm(&token, "again").await;
    for base in [&fleet.commands[1], &fleet.queries[1]] {
        assert!(fleet.cache_hits(base).await > 0.0, "{base} served no request from its cache");
    }

    // Act: revoked through the second command API.
    let path = format!("/v1/tokens/{}", issued["id"].as_str().unwrap());
    let revoked = fleet.send(1, Method::DELETE, &path, &owner.token, None).await;
    assert!(revoked.is_success(), "revoke answered {revoked}");

    // Assert: the very next request on each process is refused; nothing was created.
    for at in 0..2 {
        let created = fleet.create_site(at, &token, &format!("after-{at}.revoke.test")).await;
        assert_eq!(created, StatusCode::UNAUTHORIZED, "command API {at} took a revoked token");
        assert_eq!(fleet.list_sites(at, &token).await, StatusCode::UNAUTHORIZED, "query API {at}");
    }
    assert_eq!(fleet.events_naming("after-").await, 0, "a refused command left events");
    fleet.api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_or_demoted_member_loses_their_power_on_the_next_request_everywhere() {
    // Arrange: two admins whose sessions every process has cached.
    let fleet = Fleet::start().await;
    let owner = fleet.api.register("Removed").await;
    let (leaving, leaving_id, _) = fleet.api.invite_and_join(&owner, "leaving@removed.test", "admin").await;
    let (demoted, demoted_id, _) = fleet.api.invite_and_join(&owner, "demoted@removed.test", "admin").await;
    fleet.warm(&leaving, "leaving").await;
    fleet.warm(&demoted, "demoted").await;

    // Act: one removed through the second command API, the other made a viewer through the first.
    let removed =
        fleet.send(1, Method::DELETE, &format!("/v1/members/{leaving_id}"), &owner.token, None).await;
    assert!(removed.is_success(), "remove answered {removed}");
    let role = Some(json!({"role": "viewer"}));
    let changed =
        fleet.send(0, Method::PATCH, &format!("/v1/members/{demoted_id}"), &owner.token, role).await;
    assert!(changed.is_success(), "role change answered {changed}");

    // Assert: the removed member is refused everywhere; the viewer may read but not write.
    for at in 0..2 {
        let created = fleet.create_site(at, &leaving, &format!("gone-{at}.removed.test")).await;
        assert_eq!(created, StatusCode::UNAUTHORIZED, "command API {at} took a removed member");
        assert_eq!(fleet.list_sites(at, &leaving).await, StatusCode::UNAUTHORIZED, "query API {at}");
        let created = fleet.create_site(at, &demoted, &format!("viewer-{at}.removed.test")).await;
        assert!(
            matches!(created, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
            "command API {at} let a viewer create a site: {created}"
        );
        assert_eq!(fleet.list_sites(at, &demoted).await, StatusCode::OK, "query API {at}");
    }
    // A demoted member's next attempt, with the stale entry gone, is a plain 403.
    assert_eq!(fleet.create_site(1, &demoted, "again.removed.test").await, StatusCode::FORBIDDEN);
    assert_eq!(fleet.events_naming("gone-").await + fleet.events_naming("viewer-").await, 0);
    fleet.api.stop().await;
}

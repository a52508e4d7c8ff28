//! A running Berth (all roles, in this process) and an HTTP client for its two APIs.

use berth::app::{Application, Roles};
use berth::settings::Settings;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::common::TestEnv;

/// Berth serving a test's private world.
pub struct Api {
    pub env: TestEnv,
    pub command: String,
    pub query: String,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A registered organization's owner.
#[derive(Debug, Clone)]
pub struct Account {
    pub tenant_id: String,
    pub user_id: String,
    pub token: String,
    pub email: String,
}

impl Api {
    /// Berth with generous rate limits.
    pub async fn start() -> Self {
        Self::start_with(&[
            ("BERTH_LIMITS__API_PER_MINUTE", "100000"),
            ("BERTH_LIMITS__AUTH_PER_MINUTE", "100000"),
        ])
        .await
    }

    /// Berth with extra settings and every role but the sagas: without nodes, sites stay
    /// requested, which is what the API tests look at.
    pub async fn start_with(extra: &[(&str, &str)]) -> Self {
        Self::start_roles(extra, Roles { sagas: false, ..Roles::ALL }).await
    }

    /// Berth with extra settings and the given roles.
    pub async fn start_roles(extra: &[(&str, &str)], roles: Roles) -> Self {
        let clock = berth_eventstore::clock::SystemClock::shifted(time::Duration::ZERO);
        Self::start_with_clock(extra, roles, clock).await
    }

    /// Like [`Api::start_roles`], reading "now" from `clock` (a test moves a manual one).
    pub async fn start_with_clock(
        extra: &[(&str, &str)],
        roles: Roles,
        clock: std::sync::Arc<dyn berth_eventstore::clock::Clock>,
    ) -> Self {
        let env = TestEnv::new().await;
        let mut vars = env.env_vars();
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let settings = Settings::load_from(None, vars).unwrap();
        let app = Application::build_with_clock(settings, roles, clock).await.unwrap();
        let command = format!("http://{}", app.command_api_addr().unwrap());
        let query = format!("http://{}", app.query_api_addr().unwrap());
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Self { env, command, query, http: reqwest::Client::new(), shutdown, running }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.running.await;
        self.env.cleanup().await;
    }

    /// A request to the command API.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.http.request(method, format!("{}{path}", self.command));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// A GET on the query API, answered as JSON with its status.
    /// A view not caught up yet (or not installed yet) answers 503 with `Retry-After`; like any
    /// client, this retries (a few times) before giving the answer back.
    pub async fn read(&self, path: &str, token: &str) -> (u16, Value) {
        for attempt in 0.. {
            let response =
                self.http.get(format!("{}{path}", self.query)).bearer_auth(token).send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if status != 503 || attempt == 5 {
                return (status, body);
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        unreachable!("the loop returns")
    }

    /// Registers an organization and returns its owner.
    pub async fn register(&self, organization: &str) -> Account {
        let email = format!(
            "owner-{}@{}.test",
            uuid::Uuid::now_v7().simple(),
            organization.to_lowercase().replace(' ', "-")
        );
        let response = self
            .send(
                Method::POST,
                "/v1/auth/register",
                None,
                Some(json!({"name": organization, "email": email, "password": "a long enough password"})),
            )
            .await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        Account {
            tenant_id: body["tenant_id"].as_str().unwrap().to_owned(),
            user_id: body["user_id"].as_str().unwrap().to_owned(),
            token: body["token"].as_str().unwrap().to_owned(),
            email,
        }
    }

    /// Creates a site and returns its id (after the query side has it).
    pub async fn create_site(&self, token: &str, domain: &str) -> String {
        let body = json!({"domain": domain, "type": "wordpress", "php_version": "8.3"});
        let response = self.send(Method::POST, "/v1/sites", Some(token), Some(body)).await;
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
        let accepted: Value = response.json().await.unwrap();
        let id = accepted["id"].as_str().unwrap().to_owned();
        let (status, body) =
            self.read(&format!("/v1/sites/{id}?min_version={}", accepted["version"]), token).await;
        assert_eq!(status, 200, "{body}");
        id
    }

    /// Invites `email` with `role`, accepts as a new user, and returns their session token and id.
    pub async fn invite_and_join(
        &self,
        owner: &Account,
        email: &str,
        role: &str,
    ) -> (String, String, String) {
        let invited = self
            .send(
                Method::POST,
                "/v1/invitations",
                Some(&owner.token),
                Some(json!({"email": email, "role": role})),
            )
            .await;
        assert_eq!(invited.status(), 202);
        let invited: Value = invited.json().await.unwrap();
        let accepted = self
            .send(
                Method::POST,
                "/v1/invitations/accept",
                None,
                Some(json!({"token": invited["token"], "email": email, "password": "another long password"})),
            )
            .await;
        assert_eq!(accepted.status(), 200, "{}", accepted.text().await.unwrap());
        let joined: Value = accepted.json().await.unwrap();
        self.wait_for_tenant(&owner.token, joined["version"].as_i64().unwrap()).await;
        (
            joined["token"].as_str().unwrap().to_owned(),
            joined["user_id"].as_str().unwrap().to_owned(),
            invited["id"].as_str().unwrap().to_owned(),
        )
    }

    /// Waits until the tenant's views reflect organization version `version`.
    pub async fn wait_for_tenant(&self, token: &str, version: i64) {
        let (status, body) = self.read(&format!("/v1/tenant?min_version={version}"), token).await;
        assert_eq!(status, 200, "the tenant view did not reach version {version}: {body}");
    }

    /// Events in the log.
    pub async fn events(&self) -> i64 {
        self.env.event_count().await
    }

    /// Events in the log other than the security log's (which records refused requests too),
    /// and the security log's.
    pub async fn changes_and_security(&self) -> (i64, i64) {
        sqlx::query_as(
            "SELECT count(*) FILTER (WHERE aggregate_type <> 'security'),
                    count(*) FILTER (WHERE aggregate_type = 'security') FROM events",
        )
        .fetch_one(&self.env.pool)
        .await
        .unwrap()
    }
}

/// Asserts a problem+json answer with `status`, returning its body.
pub async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    body
}

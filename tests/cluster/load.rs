//! Load through the HTTP APIs, the way clients make it: sites created through the command
//! APIs in turn, each read back through the query APIs with `min_version`. Every answer that
//! is not the expected one is kept, so a test can say which requests failed.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What a load did.
#[derive(Debug, Default)]
pub struct Tally {
    /// Requests answered as expected.
    pub ok: usize,
    /// Every other answer (or transport error), described.
    pub failures: Vec<String>,
}

/// Registers a tenant through `command` and returns its owner's token.
pub async fn register(http: &reqwest::Client, command: &str, name: &str) -> String {
    let body = json!({"name": name, "email": format!("{name}@load.test"), "password": "a long password"});
    let response =
        http.post(format!("{command}/v1/auth/register")).json(&body).send().await.expect("register");
    assert_eq!(response.status(), 201, "registration answered {}", response.text().await.unwrap_or_default());
    let body: Value = response.json().await.expect("registration body");
    body["token"].as_str().expect("a token").to_owned()
}

/// A running load.
pub struct Load {
    stop: CancellationToken,
    clients: Vec<JoinHandle<Tally>>,
}

impl Load {
    /// `clients` clients, each creating sites through `commands` in turn and reading each one
    /// back through `queries` at the version its creation answered.
    pub fn start(commands: &[String], queries: &[String], tokens: &[String], clients: usize) -> Self {
        let stop = CancellationToken::new();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        let clients = (0..clients)
            .map(|client| {
                let (stop, http) = (stop.clone(), http.clone());
                let (commands, queries) = (commands.to_vec(), queries.to_vec());
                let token = tokens[client % tokens.len()].clone();
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    let mut n = 0usize;
                    while !stop.is_cancelled() {
                        let command = &commands[(client + n) % commands.len()];
                        let query = &queries[(client + n) % queries.len()];
                        let domain = format!("c{client}-{n}.load.test");
                        round(&http, command, query, &token, &domain, &mut tally).await;
                        n += 1;
                    }
                    tally
                })
            })
            .collect();
        Self { stop, clients }
    }

    /// Stops the clients (each finishes the request it is in) and adds up what they saw.
    pub async fn stop(self) -> Tally {
        self.stop.cancel();
        let mut total = Tally::default();
        for client in self.clients {
            let tally = client.await.expect("a load client panicked");
            total.ok += tally.ok;
            total.failures.extend(tally.failures);
        }
        total
    }
}

async fn round(
    http: &reqwest::Client,
    command: &str,
    query: &str,
    token: &str,
    domain: &str,
    tally: &mut Tally,
) {
    let created = http
        .post(format!("{command}/v1/sites"))
        .bearer_auth(token)
        .json(&json!({"domain": domain, "type": "static"}))
        .send()
        .await;
    let body: Value = match created {
        Ok(response) if response.status() == 202 => {
            tally.ok += 1;
            response.json().await.unwrap_or_default()
        }
        Ok(response) => {
            let status = response.status();
            tally.failures.push(format!(
                "POST {command}/v1/sites: {status} {}",
                response.text().await.unwrap_or_default()
            ));
            return;
        }
        Err(error) => {
            tally.failures.push(format!("POST {command}/v1/sites: {error}"));
            return;
        }
    };
    let (id, version) = (body["id"].as_str().unwrap_or_default(), body["version"].as_i64().unwrap_or(1));
    let read =
        http.get(format!("{query}/v1/sites/{id}?min_version={version}")).bearer_auth(token).send().await;
    match read {
        Ok(response) if response.status() == 200 => {
            let site: Value = response.json().await.unwrap_or_default();
            if site["version"].as_i64().unwrap_or(0) >= version && site["domain"] == domain {
                tally.ok += 1;
            } else {
                tally.failures.push(format!("GET {query}/v1/sites/{id}?min_version={version}: read {site}"));
            }
        }
        Ok(response) => {
            let status = response.status();
            tally.failures.push(format!(
                "GET {query}/v1/sites/{id}: {status} {}",
                response.text().await.unwrap_or_default()
            ));
        }
        Err(error) => tally.failures.push(format!("GET {query}/v1/sites/{id}: {error}")),
    }
}

//! Invoices issued over HTTP against a running `berth serve`: each client creates a draft for
//! the bench's tenant and issues it, which takes the next number of the one invoice series —
//! the row every client contends for.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{json, Value};

use super::quantile_ms;
use super::world::{Server, World};

/// Who issues and to whom.
pub struct Billing {
    operator: String,
    tenant: String,
}

/// Adds an operator (as `berth operator add` does) and a tenant with a Romanian company's
/// billing profile.
pub async fn setup(world: &World, server: &Server) -> anyhow::Result<Billing> {
    use berth_command_api::secrets::{new_token, token_digest};
    use berth_domain::email::Email;
    use berth_domain::ids::OperatorId;
    use berth_domain::operator::{Operator, OperatorCommand};
    use berth_eventstore::credentials::CredentialWrite;
    use berth_eventstore::execute::RetryPolicy;
    use berth_eventstore::metadata::CommandMetadata;

    let store = berth_eventstore::store::EventStore::new(world.pool.clone(), 0);
    let operator_id = OperatorId::from_uuid(uuid::Uuid::now_v7());
    let operator = new_token("bro");
    let writes =
        [CredentialWrite::Operator { operator: operator_id, digest: token_digest(&operator) }.into()];
    let email = Email::parse("ops@bench.test").map_err(|e| anyhow::anyhow!("{e}"))?;
    let command = OperatorCommand::Add { operator_id, email };
    store
        .execute_with::<Operator>(
            &operator_id.to_string(),
            command,
            &CommandMetadata::new(None, "system:bench"),
            RetryPolicy::default(),
            &writes,
        )
        .await
        .map_err(|e| anyhow::anyhow!("adding the bench's operator: {e}"))?;

    let body = json!({"name": "Bench buyer", "email": "buyer@bench.test", "password": "benchmark password"});
    let response =
        server.http.post(format!("{}/v1/auth/register", server.command)).json(&body).send().await?;
    anyhow::ensure!(response.status().as_u16() == 201, "registration failed: {}", response.text().await?);
    let registered: Value = response.json().await?;
    let (tenant, token) = (registered["tenant_id"].as_str(), registered["token"].as_str());
    let (tenant, token) = (tenant.unwrap_or_default().to_owned(), token.unwrap_or_default());
    let profile = json!({"kind": "company", "legal_name": "Bench Buyer SRL",
        "address": {"lines": ["Bd. Unirii 10"], "city": "SECTOR3", "postal_code": "030167", "subdivision": "RO-B", "country": "RO"},
        "vat_id": "RO14399840", "email": "facturi@bench.test", "currency": "RON"});
    let response = server
        .http
        .put(format!("{}/v1/billing-profile", server.command))
        .bearer_auth(token)
        .json(&profile)
        .send()
        .await?;
    anyhow::ensure!(response.status().as_u16() == 202, "billing profile: {}", response.text().await?);
    Ok(Billing { operator, tenant })
}

/// What an issuing load measured.
pub struct IssueLoad {
    pub rate: f64,
    pub p99_ms: f64,
}

async fn post(http: &reqwest::Client, url: String, token: &str, body: Value) -> anyhow::Result<Value> {
    let response = http.post(url).bearer_auth(token).json(&body).send().await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status == 202, "answered {status}: {body}");
    Ok(body)
}

/// `clients` clients each drafting and issuing invoices as fast as they are answered, for
/// `window`; the rate counts issued invoices, the latency is the issue command's.
pub async fn issue(
    server: &Server,
    billing: &Billing,
    clients: usize,
    window: Duration,
) -> anyhow::Result<IssueLoad> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, command) = (server.http.clone(), server.command.clone());
        let (operator, tenant) = (billing.operator.clone(), billing.tenant.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < window {
                let draft = json!({"tenant_id": tenant, "kind": "invoice", "currency": "RON", "lines": [
                    {"description": "Găzduire", "quantity": "1", "unit": "month",
                     "unit_price": {"amount_minor": 14_900, "currency": "RON"}, "rate": "standard"}]});
                let created =
                    post(&http, format!("{command}/v1/invoices"), &operator, draft).await.context("draft")?;
                let id = created["id"].as_str().unwrap_or_default();
                let issuing = Instant::now();
                // Issuers race for the series' next number; a lost race (409 conflict) is
                // tried again, as a client would, and counts in the latency.
                loop {
                    let url = format!("{command}/v1/invoices/{id}/issue");
                    let response = http.post(url).bearer_auth(&operator).json(&json!({})).send().await?;
                    match response.status().as_u16() {
                        202 => break,
                        409 => continue,
                        status => anyhow::bail!("issue: answered {status}: {}", response.text().await?),
                    }
                }
                latencies.push(issuing.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    Ok(IssueLoad { rate, p99_ms: quantile_ms(&mut latencies, 0.99) })
}

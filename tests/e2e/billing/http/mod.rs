//! Billing through the two APIs, with every role running (the renewal, VIES and quota sagas
//! included) on a clock the tests move: the seller and series from `berth.toml`, plans, the
//! site limit where it bites, a subscription's changes mid-period, documents from draft to PDF
//! and e-Factura XML, bad input, and the operators' revenue and VAT views.

mod as_of;
mod documents;
mod gdpr;
mod input;
mod killed;
mod lifecycle;
mod limits;
mod mail;
mod operators;
mod setup;
mod usage;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth::app::{Application, Roles};
use berth::settings::Settings;
use berth_command_api::secrets::{new_token, token_digest};
use berth_domain::email::Email;
use berth_domain::ids::OperatorId;
use berth_domain::operator::{Operator, OperatorCommand};
use berth_eventstore::clock::ManualClock;
use berth_eventstore::credentials::CredentialWrite;
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::metadata::CommandMetadata;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::macros::datetime;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common::{eventually, TestEnv};

/// The day the tests start on: a Sunday, the first of a 30-day month. (In the future, so that
/// sessions made at the test clock's time are still valid by the database's clock.)
pub const START: OffsetDateTime = datetime!(2030-09-01 09:00 UTC);

/// `berth.toml`'s billing part as an operator writes it: the seller, its series, and which VAT
/// ids the VIES stand-in knows.
pub const BERTH_TOML: &str = r#"
[billing.seller]
legal_name = "Berth Găzduire SRL"
address_lines = ["Str. Memorandumului 28"]
city = "Cluj-Napoca"
postal_code = "400114"
county = "RO-CJ"
vat_id = "RO18547290"
registration = "J12/3456/2020"
email = "facturare@berth-hosting.ro"
iban = "RO49AAAA1B31007593840000"
bank_name = "Banca Transilvania"

[billing.series]
invoice = { prefix = "BRT" }
credit_note = { prefix = "BRTCN" }
proforma = { prefix = "PRO" }

[sagas.vies]
known_valid = ["DE123456789"]
known_invalid = ["DE987654321"]
"#;

/// Berth with every role, on a manual clock.
pub struct Billing {
    pub env: TestEnv,
    pub clock: Arc<ManualClock>,
    pub command: String,
    pub query: String,
    pub http: reqwest::Client,
    pub operator: String,
    pub config: PathBuf,
    shutdown: CancellationToken,
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// The variables every billing test runs Berth with.
pub fn variables(env: &TestEnv) -> Vec<(String, String)> {
    let mut vars = env.env_vars();
    for (k, v) in [
        ("BERTH_LIMITS__API_PER_MINUTE", "1000000"),
        ("BERTH_LIMITS__AUTH_PER_MINUTE", "1000000"),
        // No node takes part: sites stay requested.
        ("BERTH_SAGAS__PROVISIONING__ENABLED", "false"),
        ("BERTH_SAGAS__TIMERS__POLL_MS", "100"),
        // The default: Starter's 14-day trial, with its five sites.
        ("BERTH_BILLING__TRIAL_PLAN", "starter"),
    ] {
        vars.push((k.to_owned(), v.to_owned()));
    }
    vars
}

/// Writes `toml` to a file of `env`'s own.
pub fn config_file(env: &TestEnv, toml: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("berth-{}.toml", env.db_name));
    std::fs::write(&path, toml).unwrap();
    path
}

impl Billing {
    /// Berth with [`BERTH_TOML`] and the clock at [`START`].
    pub async fn start() -> Self {
        Self::start_with(BERTH_TOML, &[]).await
    }

    /// Berth with `toml` as its settings file and `extra` variables.
    pub async fn start_with(toml: &str, extra: &[(&str, &str)]) -> Self {
        Self::start_at(toml, extra, START).await
    }

    /// Like [`Billing::start_with`], the clock at `at`.
    pub async fn start_at(toml: &str, extra: &[(&str, &str)], at: OffsetDateTime) -> Self {
        let env = TestEnv::new().await;
        let config = config_file(&env, toml);
        let clock = ManualClock::at(at);
        let (command, query, shutdown, running) = Self::run(&env, &config, &clock, extra).await;
        let operator = operator_token(&env).await;
        Self {
            env,
            clock,
            command,
            query,
            http: reqwest::Client::new(),
            operator,
            config,
            shutdown,
            running: Some(running),
        }
    }

    async fn run(
        env: &TestEnv,
        config: &Path,
        clock: &Arc<ManualClock>,
        extra: &[(&str, &str)],
    ) -> (String, String, CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>) {
        let mut vars = variables(env);
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let settings = Settings::load_from(Some(config), vars).expect("settings");
        let app =
            Application::build_with_clock(settings, Roles::ALL, clock.clone()).await.expect("application");
        let command = format!("http://{}", app.command_api_addr().unwrap());
        let query = format!("http://{}", app.query_api_addr().unwrap());
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        (command, query, shutdown, running)
    }

    /// Stops Berth and starts it again with `toml` on the same database and clock.
    pub async fn restart_with(&mut self, toml: &str) {
        self.halt().await;
        std::fs::write(&self.config, toml).unwrap();
        let (command, query, shutdown, running) = Self::run(&self.env, &self.config, &self.clock, &[]).await;
        (self.command, self.query, self.shutdown, self.running) = (command, query, shutdown, Some(running));
    }

    /// Stops Berth and waits until it has stopped.
    pub async fn halt(&mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            let _ = running.await;
        }
    }

    pub async fn stop(mut self) {
        self.halt().await;
        std::fs::remove_file(&self.config).ok();
        self.env.cleanup().await;
    }

    /// A command: its status and JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.command)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A POST command.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, token, Some(body)).await
    }

    /// A read: its status and JSON body.
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response =
            self.http.get(format!("{}{path}", self.query)).bearer_auth(token).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A read that must succeed, waiting while the view is being installed or catching up (a
    /// resource the view has not taken in yet is 404 until it has).
    pub async fn read(&self, path: &str, token: &str) -> Value {
        let last = &Mutex::new((StatusCode::OK, Value::Null));
        let answered = eventually(Duration::from_secs(20), move || async move {
            let answer = self.get(path, token).await;
            let served = answer.0 == StatusCode::OK;
            *last.lock().unwrap() = answer;
            served
        })
        .await;
        let (status, body) = last.lock().unwrap().clone();
        assert!(answered && status == StatusCode::OK, "GET {path}: {status} {body}");
        body
    }

    /// Reads `path` until `check` holds of it (a saga's work shows up moments later).
    pub async fn until(&self, path: &str, token: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let last = &Mutex::new(Value::Null);
        let check = &check;
        let held = eventually(Duration::from_secs(60), move || async move {
            let (status, body) = self.get(path, token).await;
            let holds = status == StatusCode::OK && check(&body);
            *last.lock().unwrap() = body;
            holds
        })
        .await;
        let last = last.lock().unwrap().clone();
        assert!(held, "{what}: GET {path} still answers {last}");
        last
    }

    /// Registers a tenant: its id and its owner's token.
    pub async fn register(&self, name: &str) -> (String, String) {
        let email = format!("owner-{}@billing.test", Uuid::now_v7().simple());
        let body = json!({"name": name, "email": email, "password": "a long enough password"});
        let response =
            self.http.post(format!("{}/v1/auth/register", self.command)).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let body: Value = response.json().await.unwrap();
        (body["tenant_id"].as_str().unwrap().to_owned(), body["token"].as_str().unwrap().to_owned())
    }

    /// Sets the tenant's billing profile and waits for the view to show it.
    pub async fn profile(&self, token: &str, profile: Value) {
        let (status, body) = self.send(Method::PUT, "/v1/billing-profile", token, Some(profile)).await;
        assert_eq!(status, 202, "{body}");
        self.read(&format!("/v1/billing-profile?min_version={}", body["version"]), token).await;
    }

    /// Records a rate to lei for `currency` on the clock's day (operators only).
    pub async fn rate(&self, currency: &str, rate: &str) {
        let day = self.clock_now().date().to_string();
        let body = json!({"rate": rate, "date": day});
        let (status, answer) = self
            .send(Method::PUT, &format!("/v1/exchange-rates/{currency}"), &self.operator, Some(body))
            .await;
        assert_eq!(status, 202, "{answer}");
    }

    /// A draft of `kind` for `tenant` in `currency` with `lines`; its id.
    pub async fn draft(&self, tenant: &str, kind: &str, currency: &str, lines: Value) -> String {
        let body = json!({"tenant_id": tenant, "kind": kind, "currency": currency, "lines": lines});
        let (status, answer) = self.post("/v1/invoices", &self.operator, body).await;
        assert_eq!(status, 202, "{answer}");
        answer["id"].as_str().unwrap().to_owned()
    }

    /// Issues the draft `id` with `body` (dates, rate); the answer.
    pub async fn issue(&self, id: &str, body: Value) -> (StatusCode, Value) {
        self.post(&format!("/v1/invoices/{id}/issue"), &self.operator, body).await
    }

    /// The document `id` as `token` reads it, once the view has version `version`.
    pub async fn invoice(&self, id: &str, token: &str, version: &Value) -> Value {
        self.read(&format!("/v1/invoices/{id}?min_version={version}"), token).await
    }

    /// Moves the test clock forward to `at`.
    pub fn clock_to(&self, at: OffsetDateTime) {
        assert!(at > self.clock_now(), "the clock only moves forward");
        self.clock.set(at);
    }

    pub fn clock_now(&self) -> OffsetDateTime {
        berth_eventstore::clock::Clock::now(&*self.clock)
    }
}

/// A line of `price_minor` × `quantity` months at the standard rate.
pub fn line(description: &str, price_minor: i64, currency: &str, quantity: &str) -> Value {
    json!({"description": description, "quantity": quantity, "unit": "month",
           "unit_price": {"amount_minor": price_minor, "currency": currency}, "rate": "standard"})
}

/// A Romanian company's billing profile.
pub fn romanian_company(currency: &str) -> Value {
    json!({"kind": "company", "legal_name": "Țesătoria Ștefănescu SRL",
           "address": {"lines": ["Bd. Unirii 10"], "city": "SECTOR3", "postal_code": "030167", "subdivision": "RO-B", "country": "RO"},
           "vat_id": "RO14399840", "registration": "J40/1234/2015", "email": "facturi@tesatoria.ro", "currency": currency})
}

/// An operator and their token, made the way `berth operator add` makes them.
async fn operator_token(env: &TestEnv) -> String {
    let operator = OperatorId::from_uuid(Uuid::now_v7());
    let token = new_token("bro");
    let writes = [CredentialWrite::Operator { operator, digest: token_digest(&token) }.into()];
    let add = OperatorCommand::Add {
        operator_id: operator,
        email: Email::parse(&format!("ops-{operator}@billing.test")).unwrap(),
    };
    env.store()
        .execute_with::<Operator>(
            &operator.to_string(),
            add,
            &CommandMetadata::new(None, "system:test"),
            RetryPolicy::default(),
            &writes,
        )
        .await
        .unwrap();
    token
}

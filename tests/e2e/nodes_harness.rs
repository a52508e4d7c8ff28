//! Local nodes for the node tests: network namespaces made by `deploy/dev-node`, each with its
//! own sshd, nginx, php-fpm and MariaDB (root required), and helpers to register them with a
//! running Berth and to wait for sites.

use std::process::Command as StdCommand;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::api::Api;

/// The settings node tests run Berth with: quick probes, few and short SSH retries.
pub const NODE_SETTINGS: &[(&str, &str)] = &[
    ("BERTH_LIMITS__API_PER_MINUTE", "100000"),
    ("BERTH_LIMITS__AUTH_PER_MINUTE", "100000"),
    ("BERTH_SAGAS__HEALTH__PROBE_INTERVAL_SECS", "1"),
    // Test nodes share the host's disk and cores, which a parallel build fills and loads.
    ("BERTH_SAGAS__HEALTH__LOW_FREE_SHARE", "0.001"),
    ("BERTH_SAGAS__HEALTH__HIGH_LOAD_PER_CPU", "1000"),
    ("BERTH_NODES__SSH_ATTEMPTS", "2"),
    ("BERTH_NODES__SSH_BACKOFF_MS", "200"),
    ("BERTH_NODES__SSH_CONNECT_TIMEOUT_SECS", "5"),
    ("BERTH_SAGAS__PROVISIONING__TAKEOVER_SECS", "3"),
    ("BERTH_SAGAS__BOOTSTRAP__TAKEOVER_SECS", "3"),
    ("BERTH_NODES__VERIFY_TIMEOUT_SECS", "20"),
    // Tests of certificates switch it on again, with the local CA.
    ("BERTH_SAGAS__CERTIFICATES__AUTO_ISSUE", "false"),
];

/// Node tests run one at a time: each starts several nodes' worth of sshd, nginx, php-fpm and
/// MariaDB, and two cores shared with the rest of the suite are not enough for all at once.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

fn script() -> String {
    format!("{}/deploy/dev-node", env!("CARGO_MANIFEST_DIR"))
}

/// One local node; taken down (and its users and files purged) when dropped.
pub struct LocalNode {
    pub name: String,
    pub address: String,
    pub ssh_port: u16,
    pub root: String,
    pub host_key: String,
}

fn dev_node(args: &[&str]) -> String {
    let output = StdCommand::new(script()).args(args).output().expect("run deploy/dev-node");
    assert!(
        output.status.success(),
        "deploy/dev-node {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim_matches('\'').to_owned())
        .unwrap_or_else(|| panic!("deploy/dev-node printed no {key}: {out}"))
}

impl LocalNode {
    /// Starts (or takes over) the node `name`.
    pub async fn up(name: &str) -> Self {
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || {
            let out = dev_node(&["up", &name]);
            Self {
                address: field(&out, "address"),
                ssh_port: field(&out, "ssh_port").parse().unwrap(),
                root: field(&out, "root"),
                host_key: field(&out, "host_key"),
                name,
            }
        })
        .await
        .unwrap()
    }

    /// Runs a `deploy/dev-node` verb on this node.
    pub async fn run(&self, verb: &str) -> String {
        let (verb, name) = (verb.to_owned(), self.name.clone());
        tokio::task::spawn_blocking(move || dev_node(&[&verb, &name])).await.unwrap()
    }

    /// Destroys the node as a provider losing the VPS would: everything stopped, its files and
    /// users gone (`deploy/dev-node down NAME --purge`).
    pub async fn purge(&self) {
        let name = self.name.clone();
        tokio::task::spawn_blocking(move || dev_node(&["down", &name, "--purge"])).await.unwrap();
    }

    /// Adds a key to the node's `authorized_keys`.
    pub async fn authorize(&self, key: &str) {
        let (key, name) = (key.to_owned(), self.name.clone());
        tokio::task::spawn_blocking(move || dev_node(&["authorize", &name, &key])).await.unwrap();
    }

    /// An HTTP GET to the node for `domain`, redirects not followed: status and body.
    pub async fn get(&self, domain: &str, path: &str) -> (u16, String, Option<String>) {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let response = client
            .get(format!("http://{}{path}", self.address))
            .header("Host", domain)
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
        (status, response.text().await.unwrap_or_default(), location)
    }

    /// Runs a shell command inside the node's network namespace (as root on this machine).
    pub fn shell(&self, command: &str) -> (bool, String) {
        let output = StdCommand::new("bash")
            .arg("-c")
            .arg(command)
            .env("BERTH_NODE_ROOT", &self.root)
            .output()
            .expect("bash");
        (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        let _ = StdCommand::new(script()).args(["down", &self.name, "--purge"]).output();
    }
}

/// Starts `berth <role>` as a child process against `api`'s world with the node test settings
/// and `extra` on top (later settings win).
pub fn spawn_role(api: &Api, role: &str, extra: &[(&str, &str)]) -> tokio::process::Child {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"));
    child
        .arg(role)
        .envs(api.env.env_vars())
        .envs(NODE_SETTINGS.iter().copied())
        .envs(extra.iter().copied())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    if std::env::var_os("TEST_LOG").is_none() {
        child.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    }
    child.spawn().expect("spawn berth")
}

/// A fresh platform operator's token (through `berth operator add`, as a provider would).
pub async fn operator_token(api: &Api) -> String {
    let email = format!("ops-{}@berth.test", uuid::Uuid::now_v7().simple());
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["operator", "add", "--email", &email])
        .envs(api.env.env_vars())
        .env("RUST_LOG", "error")
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout.lines().find_map(|l| l.strip_prefix("token ")).expect("a token line").trim().to_owned()
}

/// The registration body for `node` with `vcpus`, `memory_mb` and `disk_gb`.
pub fn registration(node: &LocalNode, capacity: (u32, u64, u64)) -> Value {
    json!({
        "name": node.name, "address": node.address, "ssh_port": node.ssh_port, "ssh_user": "root",
        "host_key": node.host_key,
        "capacity": {"vcpus": capacity.0, "memory_mb": capacity.1, "disk_gb": capacity.2},
        "provider": "local", "region": "test", "monthly_cost": {"amount_minor": 1500, "currency": "EUR"}
    })
}

/// Registers, authorizes and bootstraps `node`; returns its id once it is ready.
pub async fn add_node(api: &Api, operator: &str, node: &LocalNode, capacity: (u32, u64, u64)) -> String {
    let response =
        api.send(Method::POST, "/v1/nodes", Some(operator), Some(registration(node, capacity))).await;
    assert_eq!(response.status(), 202);
    let registered: Value = response.json().await.unwrap();
    let id = registered["id"].as_str().unwrap().to_owned();
    node.authorize(registered["ssh_public_key"].as_str().unwrap()).await;
    let bootstrap = api.send(Method::POST, &format!("/v1/nodes/{id}/bootstrap"), Some(operator), None).await;
    assert_eq!(bootstrap.status(), 202);
    let ready = wait_for(Duration::from_secs(60), || async {
        let (_, view) = api.read(&format!("/v1/nodes/{id}"), operator).await;
        assert!(view["last_error"].is_null(), "bootstrap failed: {view}");
        (view["state"] == "ready").then_some(view)
    })
    .await;
    assert_eq!(ready["scripts_version"], berth_sagas::node::bundle::version());
    id
}

/// Polls `check` every 200 ms until it gives a value, or panics after `within`.
pub async fn wait_for<T, F, Fut>(within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "not within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Creates a site; returns its id.
pub async fn create_site(api: &Api, token: &str, domain: &str, kind: &str, php: Option<&str>) -> String {
    let mut body = json!({"domain": domain, "type": kind});
    if let Some(php) = php {
        body["php_version"] = json!(php);
    }
    let response = api.send(Method::POST, "/v1/sites", Some(token), Some(body)).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let accepted: Value = response.json().await.unwrap();
    accepted["id"].as_str().unwrap().to_owned()
}

/// Waits until the site's status is one of `statuses` (settled, nothing pending); its detail.
pub async fn wait_for_status(api: &Api, token: &str, id: &str, statuses: &[&str]) -> Value {
    wait_for_status_after(api, token, id, 0, statuses).await
}

/// Like [`wait_for_status`], looking only at versions after `version` (a command's answer).
pub async fn wait_for_status_after(
    api: &Api,
    token: &str,
    id: &str,
    version: i64,
    statuses: &[&str],
) -> Value {
    wait_for(Duration::from_secs(90), || async {
        let (status, site) = api.read(&format!("/v1/sites/{id}"), token).await;
        (status == 200
            && site["version"].as_i64().unwrap_or(0) > version
            && statuses.contains(&site["status"].as_str().unwrap_or(""))
            && site["pending"].is_null())
        .then_some(site)
    })
    .await
}

/// Sends a site action (`suspend`, `resume`, `retry`) or a deletion; expects 202 and returns
/// the version it reached.
pub async fn site_action(api: &Api, token: &str, id: &str, action: &str) -> i64 {
    let response = match action {
        "delete" => api.send(Method::DELETE, &format!("/v1/sites/{id}"), Some(token), None).await,
        _ => api.send(Method::POST, &format!("/v1/sites/{id}/{action}"), Some(token), None).await,
    };
    assert_eq!(response.status(), 202, "{action}: {}", response.text().await.unwrap());
    let accepted: Value = response.json().await.unwrap();
    accepted["version"].as_i64().unwrap()
}

/// The Linux user, database and vhost name of a site on its node.
pub fn site_user(id: &str) -> String {
    let hex = id.replace('-', "");
    format!("b{}", &hex[hex.len() - 20..])
}

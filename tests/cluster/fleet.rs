//! The scale-out harness: the loopback cluster of `deploy/cluster` (three NATS nodes and a
//! PostgreSQL replica), and Berth's roles as separate child processes, each with a port of its
//! own for its API or its telemetry.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, MutexGuard, OnceCell};

use crate::common::{eventually, TestEnv};

/// What `deploy/cluster env` says about the running cluster.
pub struct Cluster {
    /// The three NATS servers, comma-separated.
    pub nats_url: String,
    /// The replica, `postgres://…/berth` (another database name is swapped in per test).
    pub replica_url: String,
    /// Node 1's HTTP monitor (`http://127.0.0.1:18222`); the others' ports follow.
    monitor: String,
    script: PathBuf,
    logs: PathBuf,
}

static CLUSTER: OnceCell<Cluster> = OnceCell::const_new();
static EXCLUSIVE: Mutex<()> = Mutex::const_new(());

/// The cluster, started by `deploy/cluster up` on first use (it is idempotent: a running
/// cluster is reused).
pub async fn cluster() -> &'static Cluster {
    CLUSTER
        .get_or_init(|| async {
            let script = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/cluster"));
            run(&script, &["up"]).await;
            let env = run(&script, &["env"]).await;
            let value = |key: &str| {
                env.lines()
                    .find_map(|l| l.strip_prefix(&format!("export {key}='")))
                    .and_then(|v| v.strip_suffix('\''))
                    .unwrap_or_else(|| panic!("deploy/cluster env prints {key}"))
                    .to_owned()
            };
            Cluster {
                nats_url: value("BERTH_CLUSTER_NATS_URL"),
                replica_url: value("BERTH_CLUSTER_REPLICA_URL"),
                monitor: value("BERTH_CLUSTER_NATS_MONITOR"),
                script,
                logs: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.dev/cluster/log")),
            }
        })
        .await
}

/// Held by each test that disturbs what the others share or that times what they share: it
/// stops or kills NATS nodes, pauses the replica's replay, or holds the feed horizon of the
/// whole PostgreSQL server (a process stopped inside a transaction); or it bounds a publish
/// gap or a read's wait. Such tests take turns.
pub async fn exclusive() -> MutexGuard<'static, ()> {
    EXCLUSIVE.lock().await
}

async fn run(script: &PathBuf, args: &[&str]) -> String {
    let output = tokio::time::timeout(Duration::from_secs(180), Command::new(script).args(args).output())
        .await
        .unwrap_or_else(|_| panic!("deploy/cluster {args:?} took over 3 minutes"))
        .expect("deploy/cluster runs");
    assert!(
        output.status.success(),
        "deploy/cluster {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl Cluster {
    /// Sends SIGKILL to NATS node `node` (1-3), as a crash would.
    pub async fn kill(&self, node: u8) {
        run(&self.script, &["nats-kill", &node.to_string()]).await;
    }

    /// Stops NATS node `node` gracefully.
    pub async fn stop(&self, node: u8) {
        run(&self.script, &["nats-stop", &node.to_string()]).await;
    }

    /// Starts every stopped node again and waits for the cluster to be healthy.
    pub async fn restore(&self) {
        run(&self.script, &["nats-up"]).await;
    }

    /// Waits until JetStream's meta group is whole again: a leader that reports both other
    /// nodes current (a node just restarted is healthy before it has caught up, and a stream
    /// placed on three nodes waits for it).
    pub async fn settled(&self, within: Duration) -> bool {
        let (base, port) = self.monitor.rsplit_once(':').expect("a monitor URL with a port");
        let port: u16 = port.parse().expect("a monitor port");
        let http = reqwest::Client::new();
        eventually(within, || async {
            for node in 0..3 {
                let url = format!("{base}:{}/jsz", port + node);
                let Ok(answer) = http.get(&url).timeout(Duration::from_secs(2)).send().await else {
                    continue;
                };
                let meta =
                    answer.json::<serde_json::Value>().await.unwrap_or_default()["meta_cluster"].clone();
                if let Some(replicas) = meta["replicas"].as_array() {
                    return replicas.len() == 2 && replicas.iter().all(|r| r["current"] == true);
                }
            }
            false
        })
        .await
    }

    /// The client URL of node `node`.
    pub fn url_of(&self, node: u8) -> String {
        self.nats_url.split(',').nth(usize::from(node) - 1).expect("nodes 1-3").to_owned()
    }

    /// When a node's log last said it became the leader of `stream`, if it did after `since`:
    /// the servers' own record of an election, to the microsecond.
    pub fn leader_elected(&self, stream: &str, since: OffsetDateTime) -> Option<OffsetDateTime> {
        let zone = local_offset();
        let wanted = format!("JetStream cluster new stream leader for '$G > {stream}'");
        let format =
            time::macros::format_description!("[year]/[month]/[day] [hour]:[minute]:[second].[subsecond]");
        (1..=3)
            .filter_map(|n| std::fs::read_to_string(self.logs.join(format!("nats-{n}.log"))).ok())
            .flat_map(|log| {
                log.lines()
                    .filter(|l| l.ends_with(&wanted))
                    .filter_map(|l| {
                        // `[pid] 2026/12/01 11:26:01.676224 [INF] ...`
                        let stamp = l.split(' ').skip(1).take(2).collect::<Vec<_>>().join(" ");
                        time::PrimitiveDateTime::parse(&stamp, &format).ok().map(|t| t.assume_offset(zone))
                    })
                    .collect::<Vec<_>>()
            })
            .filter(|at| *at > since)
            .min()
    }

    /// The replica's URL for `database`.
    pub fn replica_for(&self, database: &str) -> String {
        let (base, _) = self.replica_url.rsplit_once('/').expect("a database in the URL");
        format!("{base}/{database}")
    }
}

/// The machine's UTC offset, which nats-server writes its log times in.
fn local_offset() -> time::UtcOffset {
    let out = std::process::Command::new("date").arg("+%z").output().expect("date runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let text = text.trim();
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let (hours, minutes) = (text[1..3].parse::<i8>().unwrap_or(0), text[3..5].parse::<i8>().unwrap_or(0));
    time::UtcOffset::from_hms(sign * hours, sign * minutes, 0).expect("an offset")
}

/// The node number of a server name (`berth-c2` is node 2).
pub fn node_named(server: &str) -> u8 {
    server.strip_prefix("berth-c").and_then(|n| n.parse().ok()).expect("a deploy/cluster server name")
}

/// A free port on loopback (the child binds it a moment later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// `env`'s settings with `extra` on top.
pub fn vars(env: &TestEnv, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars = env.env_vars();
    for (key, value) in extra {
        vars.retain(|(k, _)| k != key);
        vars.push(((*key).to_owned(), (*value).to_owned()));
    }
    vars
}

/// One Berth role running as a child process.
pub struct Role {
    /// `command-api`, `query-api`, `relay`, `projections` or `sagas`.
    pub name: &'static str,
    /// Where it answers HTTP: its API, or its telemetry listener.
    pub base: String,
    child: Child,
}

impl Role {
    /// Starts `berth <name>` with `vars`, on a port of its own.
    pub fn start(vars: &[(String, String)], name: &'static str) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        let key = match name {
            "command-api" => "BERTH_COMMAND_API__ADDR",
            "query-api" => "BERTH_QUERY_API__ADDR",
            _ => "BERTH_TELEMETRY__ADDR",
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
        command
            .arg(name)
            .envs(vars.iter().cloned())
            .env(key, &addr)
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .stdin(Stdio::null());
        if std::env::var_os("TEST_LOG").is_none() {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let child = command.spawn().expect("spawn berth");
        Self { name, base: format!("http://{addr}"), child }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the role is running")
    }

    /// Waits until `/readyz` answers 200.
    pub async fn ready(&self, within: Duration) -> bool {
        let http = reqwest::Client::new();
        let url = format!("{}/readyz", self.base);
        eventually(within, || async { http.get(&url).send().await.is_ok_and(|r| r.status() == 200) }).await
    }

    /// Its `/metrics` text (empty if it does not answer).
    pub async fn metrics(&self) -> String {
        let response = reqwest::Client::new()
            .get(format!("{}/metrics", self.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match response {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to the process.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// Kills it (SIGKILL) and reaps it.
    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Starts each of `names` and waits until every one is ready.
pub async fn start_all(vars: &[(String, String)], names: &[&'static str]) -> Vec<Role> {
    let roles: Vec<Role> = names.iter().map(|name| Role::start(vars, name)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for role in &roles {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(role.ready(left).await, "berth {} did not become ready", role.name);
    }
    roles
}

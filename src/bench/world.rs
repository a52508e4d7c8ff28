//! The bench's private world: a database and streams of its own, and `berth serve` as a child
//! process pointed at them.

use std::net::TcpListener;
use std::process::Stdio;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tokio::process::{Child, Command};

use crate::settings::Settings;

/// Connections in the pool of Berth's server, and of the peer's.
pub const CONNECTIONS: u32 = 64;

/// The database and stream names of one run.
pub struct World {
    admin: PgPool,
    pub database: String,
    pub database_url: String,
    pub pool: PgPool,
    pub nats_url: String,
    pub jetstream: async_nats::jetstream::Context,
    pub stream: String,
    pub subject_prefix: String,
    /// The run's own master key: the bench needs none configured.
    pub master_key: String,
}

impl World {
    pub async fn create(settings: &Settings) -> anyhow::Result<Self> {
        let tag = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
        let admin_options = PgConnectOptions::from_str(settings.database.url.expose_secret())?;
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(admin_options.clone())
            .await
            .context("cannot reach PostgreSQL (start it with `deploy/dev services`)")?;
        let database = format!("berth_bench_{tag}");
        sqlx::query(&format!("CREATE DATABASE {database}")).execute(&admin).await?;
        let options = admin_options.database(&database);
        let pool = PgPoolOptions::new().max_connections(80).connect_with(options).await?;
        berth_eventstore::migrate::run(&pool).await?;
        let base = settings
            .database
            .url
            .expose_secret()
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .unwrap_or_default();
        let client = async_nats::connect(&settings.nats.url)
            .await
            .context("cannot reach NATS (start it with `deploy/dev services`)")?;
        Ok(Self {
            admin,
            database_url: format!("{base}/{database}"),
            database,
            pool,
            nats_url: settings.nats.url.clone(),
            jetstream: async_nats::jetstream::new(client),
            stream: format!("BENCH_{tag}"),
            subject_prefix: format!("bench{tag}.evt"),
            master_key: berth_eventstore::vault::Vault::generate_key(),
        })
    }

    pub async fn destroy(self) {
        let _ = self.jetstream.delete_stream(&self.stream).await;
        let _ = self.jetstream.delete_stream(format!("{}_RAW", self.stream)).await;
        self.pool.close().await;
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database))
            .execute(&self.admin)
            .await;
    }

    /// The settings a Berth process of this run reads: its database and streams, a throwaway
    /// master key of its own, and no rate limits.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        [
            ("BERTH_DATABASE__URL", self.database_url.clone()),
            ("BERTH_DATABASE__MAX_CONNECTIONS", CONNECTIONS.to_string()),
            ("BERTH_NATS__URL", self.nats_url.clone()),
            ("BERTH_NATS__STREAM", self.stream.clone()),
            ("BERTH_NATS__SUBJECT_PREFIX", self.subject_prefix.clone()),
            ("BERTH_LIMITS__API_PER_MINUTE", "1000000000".to_owned()),
            ("BERTH_LIMITS__AUTH_PER_MINUTE", "1000000".to_owned()),
            ("BERTH_LOG__FILTER", "warn".to_owned()),
            ("BERTH_SECRETS__MASTER_KEY", self.master_key.clone()),
            // No node takes part in a run: placing its sites would only fail, on the same cores.
            ("BERTH_SAGAS__PROVISIONING__ENABLED", "false".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Starts `berth serve` against this world and waits until it is ready.
    pub async fn spawn_server(&self) -> anyhow::Result<Server> {
        let free = || TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let (command_port, query_port) = (free()?, free()?);
        let child = Command::new(std::env::current_exe()?)
            .arg("serve")
            .envs(self.env_vars())
            .env("BERTH_COMMAND_API__ADDR", format!("127.0.0.1:{command_port}"))
            .env("BERTH_QUERY_API__ADDR", format!("127.0.0.1:{query_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let server = Server {
            child,
            command: format!("http://127.0.0.1:{command_port}"),
            query: format!("http://127.0.0.1:{query_port}"),
            http: reqwest::Client::builder().pool_max_idle_per_host(256).build()?,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = server
                .http
                .get(format!("{}/readyz", server.query))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(server);
            }
            anyhow::ensure!(Instant::now() < deadline, "berth serve did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A running `berth serve`.
pub struct Server {
    child: Child,
    pub command: String,
    pub query: String,
    pub http: reqwest::Client,
}

impl Server {
    /// A handle that only talks to the command API (for load tasks; it owns no process).
    pub fn client_only(command: String, http: reqwest::Client) -> ClientOnly {
        ClientOnly { command, http }
    }

    /// Resident memory of the server process, in MB.
    pub fn rss_mb(&self) -> f64 {
        let Some(pid) = self.child.id() else { return f64::NAN };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

/// What a load task needs to send commands.
pub struct ClientOnly {
    pub command: String,
    pub http: reqwest::Client,
}

//! The test harness: a fresh database and a private JetStream stream per test, helpers to
//! spawn `berth` roles as real processes, and readers for what ended up where.

use std::process::Stdio;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use berth::app::{Application, Roles};
use berth::settings::Settings;
use berth_domain::domain_name::DomainName;
use berth_domain::ids::{SiteId, TenantId};
use berth_domain::php::{PhpVersion, SiteKind};
use berth_domain::site::{Site, SiteCommand, SiteError};
use berth_eventstore::execute::{CommandOutcome, ExecuteError, RetryPolicy};
use berth_eventstore::feed::FeedNotifier;
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::relay::{Relay, RelaySettings};
use berth_eventstore::store::EventStore;
use berth_eventstore::stream::{self, StreamSettings};
use futures::StreamExt;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::process::{Child, Command};
use uuid::Uuid;

/// One test's private world: its own database and its own stream.
pub struct TestEnv {
    pub db_name: String,
    pub db_url: String,
    pub pool: PgPool,
    pub nats_url: String,
    pub jetstream: jetstream::Context,
    pub stream: StreamSettings,
    /// This world's vault key (sealed node keys).
    pub master_key: String,
}

fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must point at a PostgreSQL superuser (run `deploy/dev test`)")
}

impl TestEnv {
    pub async fn new() -> Self {
        let nats_url = std::env::var("NATS_URL")
            .expect("NATS_URL must point at nats-server -js (run `deploy/dev test`)");
        Self::on_nats(&nats_url, 1).await
    }

    /// A world whose stream lives on the NATS servers `nats_url` lists (comma-separated), with
    /// `replicas` copies.
    pub async fn on_nats(nats_url: &str, replicas: usize) -> Self {
        let admin_url = admin_url();
        let nats_url = nats_url.to_owned();
        let tag = Uuid::now_v7().simple().to_string();
        let tag = &tag[tag.len() - 12..];
        let db_name = format!("berth_test_{tag}");
        let admin =
            PgPoolOptions::new().max_connections(1).connect(&admin_url).await.expect("admin connection");
        sqlx::query(&format!("CREATE DATABASE {db_name}"))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let db_url = replace_database(&admin_url, &db_name);
        let pool = PgPoolOptions::new().max_connections(40).connect(&db_url).await.expect("test database");
        {
            // The migrations create a cluster-wide role if it is missing; two databases
            // migrating at the same moment on a fresh cluster would both try.
            static MIGRATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
            let _one = MIGRATING.lock().await;
            berth_eventstore::migrate::run(&pool).await.expect("migrations");
        }
        let servers: Vec<&str> = nats_url.split(',').collect();
        let client = async_nats::connect(servers).await.expect("NATS");
        let jetstream = jetstream::new(client);
        let stream = StreamSettings {
            name: format!("T_{tag}"),
            subject_prefix: format!("t{tag}.evt"),
            replicas,
            ..StreamSettings::default()
        };
        let master_key = berth_eventstore::vault::Vault::generate_key();
        Self { db_name, db_url, pool, nats_url, jetstream, stream, master_key }
    }

    /// Settings pointing a Berth process at this test's database and stream, APIs on port 0.
    pub fn settings(&self) -> Settings {
        Settings::load_from(None, self.env_vars()).expect("settings")
    }

    /// The `BERTH_*` variables for a child process.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let replicas = self.stream.replicas.to_string();
        let (smtp_host, smtp_port) = sink_address();
        [
            // Mail goes to the local SMTP sink (deploy/peers); tests tell theirs apart by
            // recipients of their own.
            ("BERTH_MAIL__HOST", smtp_host.as_str()),
            ("BERTH_MAIL__PORT", smtp_port.as_str()),
            ("BERTH_MAIL__TLS", "none"),
            ("BERTH_MAIL__FROM_ADDRESS", "berth@berth.test"),
            ("BERTH_NATS__REPLICAS", replicas.as_str()),
            ("BERTH_DATABASE__URL", self.db_url.as_str()),
            ("BERTH_NATS__URL", self.nats_url.as_str()),
            ("BERTH_NATS__STREAM", self.stream.name.as_str()),
            ("BERTH_NATS__SUBJECT_PREFIX", self.stream.subject_prefix.as_str()),
            ("BERTH_COMMAND_API__ADDR", "127.0.0.1:0"),
            ("BERTH_QUERY_API__ADDR", "127.0.0.1:0"),
            ("BERTH_TELEMETRY__ADDR", "127.0.0.1:0"),
            ("BERTH_EVENTSTORE__POLL_INTERVAL_MS", "100"),
            ("BERTH_DATABASE__MAX_CONNECTIONS", "10"),
            ("BERTH_SECRETS__MASTER_KEY", self.master_key.as_str()),
            // Registration starts a trial of this plan; tests about sites create more of them
            // than Starter's five. The billing tests choose their own.
            ("BERTH_BILLING__TRIAL_PLAN", "enterprise"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Runs a relay in this process until `shutdown`.
    pub fn start_relay(&self, shutdown: &tokio_util::sync::CancellationToken) -> tokio::task::JoinHandle<()> {
        let notifier = FeedNotifier::start(self.pool.clone(), Duration::from_millis(100), shutdown.clone());
        let relay = Relay::new(
            self.pool.clone(),
            self.jetstream.clone(),
            self.stream.clone(),
            RelaySettings::default(),
            notifier,
        );
        tokio::spawn(relay.run(shutdown.clone()))
    }

    pub fn store(&self) -> EventStore {
        EventStore::new(self.pool.clone(), 100)
    }

    /// This world's subject keys (what a Berth process on it seals and opens personal data with).
    pub fn keys(&self) -> berth_eventstore::personal::Keys {
        let vault = berth_eventstore::vault::Vault::new(&self.master_key).expect("the test master key");
        berth_eventstore::personal::Keys::new(self.pool.clone(), vault, 10)
    }

    /// Starts `berth <role>` as a child process against this test's world.
    pub fn spawn(&self, role: &str) -> Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
        command
            .arg(role)
            .envs(self.env_vars())
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .stdin(Stdio::null());
        if std::env::var_os("TEST_LOG").is_none() {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        command.spawn().expect("spawn berth")
    }

    /// Builds the application in this process (all roles, APIs on free ports).
    pub async fn app(&self, roles: Roles) -> Application {
        Application::build(self.settings(), roles).await.expect("application")
    }

    /// Every message on this test's stream, in stream order, decoded.
    pub async fn stream_contents(&self) -> Vec<stream::WireEvent> {
        let Ok(stream_handle) = self.jetstream.get_stream(&self.stream.name).await else {
            return Vec::new();
        };
        let mut stream_handle = stream_handle;
        let total = stream_handle.info().await.expect("stream info").state.messages;
        let consumer = stream_handle
            .create_consumer(jetstream::consumer::pull::OrderedConfig::default())
            .await
            .expect("ordered consumer");
        let mut messages = consumer.messages().await.expect("messages");
        let mut out = Vec::new();
        while (out.len() as u64) < total {
            let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
                .await
                .expect("stream read timed out")
                .expect("stream ended")
                .expect("message");
            out.push(stream::decode(&message.payload).expect("decodable message"));
        }
        out
    }

    /// The number of events in the log.
    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&self.pool).await.unwrap()
    }

    /// Waits until the stream holds `count` messages.
    pub async fn wait_for_stream(&self, count: u64, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        loop {
            let have = match self.jetstream.get_stream(&self.stream.name).await {
                Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
                Err(_) => 0,
            };
            if have >= count || Instant::now() > deadline {
                return have;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Drops the stream and the database.
    pub async fn cleanup(self) {
        let _ = self.jetstream.delete_stream(&self.stream.name).await;
        self.pool.close().await;
        if let Ok(admin) = PgPoolOptions::new().max_connections(1).connect(&admin_url()).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db_name))
                .execute(&admin)
                .await;
        }
    }
}

fn replace_database(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("database URL has a path");
    format!("{base}/{db}")
}

/// The local SMTP sink's host and port (deploy/peers' settings, or its defaults).
pub fn sink_address() -> (String, String) {
    let host = std::env::var("BERTH_DEV_SMTP_HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    let port = std::env::var("BERTH_DEV_SMTP_PORT").unwrap_or_else(|_| "52525".to_owned());
    (host, port)
}

/// Sends SIGKILL to a child.
pub async fn kill9(child: &mut Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}

/// Polls `check` until it is true or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Creates a WordPress site for `tenant` and returns its id.
pub async fn create_site(store: &EventStore, tenant: TenantId) -> SiteId {
    let id = SiteId::from_uuid(Uuid::now_v7());
    let domain = DomainName::parse(&format!("s{}.example.com", id.as_uuid().simple())).unwrap();
    let command = SiteCommand::Create {
        site_id: id,
        tenant_id: tenant,
        domain,
        kind: SiteKind::Wordpress,
        php_version: Some(PhpVersion::V8_3),
    };
    run_site(store, tenant, id, command, RetryPolicy::default()).await.expect("create site");
    id
}

/// Runs a site command with fresh metadata.
pub async fn run_site(
    store: &EventStore,
    tenant: TenantId,
    id: SiteId,
    command: SiteCommand,
    retry: RetryPolicy,
) -> Result<CommandOutcome, ExecuteError<SiteError>> {
    let meta = CommandMetadata::new(Some(tenant.as_uuid()), "user:test");
    store.execute::<Site>(&id.to_string(), command, &meta, retry).await
}

/// A TCP proxy that can be cut, to take a dependency away from one process without stopping it
/// for the other tests.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(target: std::net::SocketAddr) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (up_in, links_in) = (up.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up_in.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links_in.lock().unwrap().push(link);
            }
        });
        Self { addr, up, links }
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

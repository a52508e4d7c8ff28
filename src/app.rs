//! Wiring the roles together. `Application::build` connects and binds; `run_until_stopped`
//! runs every selected role until the shutdown token fires, then drains them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use berth_eventstore::clock::{Clock, SystemClock};
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::feed::FeedNotifier;
use berth_eventstore::relay::{Relay, RelaySettings};
use berth_eventstore::store::EventStore;
use berth_eventstore::stream::StreamSettings;
use berth_eventstore::vault::Vault;
use berth_http::contract::Side;
use berth_http::ratelimit::RateLimiter;
use berth_projections::runtime::{self, ProjectorSettings};
use berth_sagas::context::SagaContext;
use berth_sagas::dns::resolver::UdpResolver;
use berth_sagas::mail::outbox::MAIL_CHANNEL;
use berth_sagas::mail::smtp::{MailSender, SmtpSender};
use berth_sagas::mail::templates::Templates;
use berth_sagas::mail::{Mail, Outbox};
use berth_sagas::node::NodeWorkSettings;
use berth_sagas::registry;
use berth_sagas::ssh::{SshBridge, SshSettings};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::listeners::{addr, Listeners};
use crate::ops::{self, OpsState};
use crate::settings::Settings;
use crate::{connect, telemetry};

/// Which roles a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// The HTTP write side.
    pub command_api: bool,
    /// The HTTP read side.
    pub query_api: bool,
    /// The feed-to-JetStream relay.
    pub relay: bool,
    /// The projectors.
    pub projections: bool,
    /// The sagas.
    pub sagas: bool,
}

impl Roles {
    /// Every role (`berth serve`).
    pub const ALL: Self =
        Self { command_api: true, query_api: true, relay: true, projections: true, sagas: true };
    /// No role; combine with struct update syntax.
    pub const NONE: Self =
        Self { command_api: false, query_api: false, relay: false, projections: false, sagas: false };

    fn label(self) -> &'static str {
        match self {
            Self::ALL => "serve",
            Self { command_api: true, .. } => "command-api",
            Self { query_api: true, .. } => "query-api",
            Self { relay: true, .. } => "relay",
            Self { projections: true, .. } => "projections",
            _ => "sagas",
        }
    }
}

/// A built, not yet running, Berth process.
pub struct Application {
    settings: Settings,
    roles: Roles,
    pool: PgPool,
    replica: Option<PgPool>,
    nats: async_nats::Client,
    listeners: Listeners,
    vault: Option<Vault>,
    clock: Arc<dyn Clock>,
    templates: Arc<Templates>,
}

impl Application {
    /// Connects to PostgreSQL and NATS and binds the API listeners of the selected roles.
    pub async fn build(settings: Settings, roles: Roles) -> anyhow::Result<Self> {
        let clock = SystemClock::shifted(time::Duration::seconds(settings.clock.offset_secs));
        Self::build_with_clock(settings, roles, clock).await
    }

    /// Like [`Application::build`], reading "now" from `clock` (tests move a manual one).
    pub async fn build_with_clock(
        settings: Settings,
        roles: Roles,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        // Configuration errors are found before anything connects: a missing master key, a
        // saga setting that does not read.
        settings.check_sagas().map_err(anyhow::Error::msg).context("invalid saga settings")?;
        let templates =
            Arc::new(settings.check_mail().map_err(anyhow::Error::msg).context("invalid mail settings")?);
        settings.billing.policy().context("invalid billing settings")?;
        // The projectors and the query API open sealed personal data with it too; without a
        // master key they read erased fields as `[erased]`.
        let vault = match roles.command_api || roles.sagas {
            true => Some(vault(&settings)?),
            false if settings.secrets.master_key.expose_secret().trim().is_empty() => None,
            false => Some(vault(&settings)?),
        };
        let pool = connect::postgres(&settings, roles.label()).await?;
        let replica = match roles.query_api {
            true => {
                connect::read_replica(&settings, "query-api reads", berth_query_api::scope::Reads::prepare)
                    .await?
            }
            false => None,
        };
        let nats = connect::nats(&settings).await?;
        let listeners = Listeners::bind(&settings, roles).await?;
        Ok(Self { settings, roles, pool, replica, nats, listeners, vault, clock, templates })
    }

    /// Where the command API listens (port 0 in settings picks a free one).
    pub fn command_api_addr(&self) -> Option<SocketAddr> {
        addr(&self.listeners.command)
    }

    /// Where the query API listens.
    pub fn query_api_addr(&self) -> Option<SocketAddr> {
        addr(&self.listeners.query)
    }

    /// Where a process without an API serves `/metrics`, `/healthz` and `/readyz`.
    pub fn telemetry_addr(&self) -> Option<SocketAddr> {
        addr(&self.listeners.telemetry)
    }

    /// Where the operators' `/metrics` listens, if `telemetry.operator_addr` is set.
    pub fn operator_metrics_addr(&self) -> Option<SocketAddr> {
        addr(&self.listeners.operator)
    }

    /// Where the web console listens, if `console.addr` is set and both APIs run here.
    pub fn console_addr(&self) -> Option<SocketAddr> {
        addr(&self.listeners.console)
    }

    /// The PostgreSQL pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs the selected roles until `shutdown` fires, then stops them gracefully.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self { settings, roles, pool, replica, nats, listeners, vault, clock, templates } = self;
        let Listeners {
            command: command_listener,
            query: query_listener,
            telemetry: telemetry_listener,
            operator: operator_listener,
            console: console_listener,
        } = listeners;
        let (mut command_app, mut query_app) = (None, None);
        let mut tasks = JoinSet::new();
        let poll = Duration::from_millis(settings.eventstore.poll_interval_ms);
        let notifier = FeedNotifier::start(pool.clone(), poll, shutdown.clone());
        let jetstream = jetstream::new(nats.clone());
        let stream = StreamSettings {
            name: settings.nats.stream.clone(),
            subject_prefix: settings.nats.subject_prefix.clone(),
            replicas: settings.nats.replicas,
            duplicate_window: Duration::from_secs(settings.nats.duplicate_window_secs),
        };
        let ops_state = OpsState {
            pool: pool.clone(),
            replica: replica.clone(),
            nats: nats.clone(),
            metrics: telemetry::metrics(),
            clock: clock.clone(),
            costs: Arc::new(crate::cost_metrics::CostGauges::new(
                pool.clone(),
                clock.clone(),
                Duration::from_secs(settings.telemetry.cost_cache_secs),
            )),
            costs_everywhere: operator_listener.is_none(),
        };
        let retry = RetryPolicy { max_attempts: settings.eventstore.max_attempts, ..RetryPolicy::default() };
        // One PDF renderer for the documents the query API serves and the ones mail attaches.
        let pdf = Arc::new(berth_documents::PdfRenderer::with_dejavu().map_err(|error| {
            tracing::error!(%error, "invoice PDFs cannot be rendered");
            error.to_string()
        }));
        let billing = settings.billing.policy()?;
        // Personal data in events is sealed with per-subject keys, under the vault.
        let keys = vault.clone().map(|vault| {
            let keys =
                berth_eventstore::personal::Keys::new(pool.clone(), vault, settings.billing.retention_years);
            keys.start(shutdown.clone());
            keys
        });
        let payments = crate::connect::payments(&settings.payments)?;
        // One object storage client: the sagas store backups and deployment logs in it, the
        // query API reads the logs back.
        let backups = crate::connect::backups(&settings.backups)?;
        // One store for the process's writers: they share its turns on hot aggregates.
        let mut store = EventStore::new(pool.clone(), settings.eventstore.snapshot_every);
        if let Some(keys) = &keys {
            store = store.with_keys(keys.clone());
        }
        if roles.command_api {
            // The write side brings the log in line with `[billing]` before it takes commands.
            crate::billing::apply(&store, &settings.billing, &clock).await.context("applying [billing]")?;
        }

        let api_limiter = Arc::new(RateLimiter::new(settings.limits.api_per_minute));
        let credentials = berth_projections::identity::CredentialCache::default();
        if command_listener.is_some() || query_listener.is_some() {
            credentials.start(pool.clone(), shutdown.clone());
        }
        let public = |configured: &str, listener: &Option<TcpListener>, fallback: std::net::SocketAddr| {
            if configured.is_empty() {
                let addr = listener.as_ref().and_then(|l| l.local_addr().ok()).unwrap_or(fallback);
                format!("http://{addr}")
            } else {
                configured.trim_end_matches('/').to_owned()
            }
        };
        let command_url =
            public(&settings.command_api.public_url, &command_listener, settings.command_api.addr);
        let query_url = public(&settings.query_api.public_url, &query_listener, settings.query_api.addr);
        if let Some(listener) = command_listener {
            let state = berth_command_api::AppState {
                store: store.clone(),
                pool: pool.clone(),
                auth_limiter: Arc::new(RateLimiter::new(settings.limits.auth_per_minute)),
                retry,
                body_limit: settings.command_api.body_limit_bytes,
                session_ttl: Duration::from_secs(settings.auth.session_ttl_hours * 3600),
                vault: vault.clone().context("the command API needs the vault")?,
                clock: clock.clone(),
                idempotency_lapse: Duration::from_secs(settings.command_api.idempotency_lapse_secs.max(1)),
                links: berth_command_api::Links::new(query_url.clone()),
                require_if_match: settings.command_api.require_if_match,
                credentials: credentials.clone(),
                totp_issuer: settings.auth.totp_issuer.clone(),
                login_burst: berth_command_api::security::LoginBurst {
                    failures: settings.auth.login_failure_burst.max(1),
                    window: time::Duration::seconds(
                        i64::try_from(settings.auth.login_failure_window_secs).unwrap_or(i64::MAX),
                    ),
                },
                billing: billing.clone(),
                payments: payments.clone(),
                webhooks: berth_command_api::WebhookKeys {
                    secrets: settings
                        .payments
                        .webhook_secrets
                        .expose_secret()
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| secrecy::SecretString::from(s.to_owned()))
                        .collect(),
                    tolerance_secs: settings.payments.webhook_tolerance_secs.max(1),
                },
                allow_file_urls: settings.deploys.allow_file_urls,
            };
            let api = berth_command_api::router(state);
            let doc = ops::describe(
                <berth_command_api::ApiDoc as utoipa::OpenApi>::openapi(),
                Side::Command,
                &command_url,
            );
            let limit = settings.command_api.body_limit_bytes;
            let app = ops::wrap(api, ops_state.clone(), limit, api_limiter.clone(), doc);
            command_app = Some(app.clone());
            tasks.spawn(serve(listener, app, shutdown.clone(), "command API"));
        }
        if let Some(listener) = query_listener {
            let reads = match replica.clone() {
                // On a replica, "caught up" and a token's liveness are also asked of the
                // primary (see `Reads::on_replica`).
                Some(replica) => berth_query_api::scope::Reads::on_replica(replica, pool.clone()),
                None => berth_query_api::scope::Reads::new(
                    connect::postgres_with(
                        &settings,
                        "query-api reads",
                        berth_query_api::scope::Reads::prepare,
                    )
                    .await?,
                ),
            };
            let api = berth_query_api::router(berth_query_api::AppState {
                pool: pool.clone(),
                reads,
                jetstream: jetstream.clone(),
                stream: stream.name.clone(),
                subject_prefix: stream.subject_prefix.clone(),
                credentials: credentials.clone(),
                pdf: pdf.clone(),
                keys: keys.clone(),
                clock: clock.clone(),
                logs: backups.storage.as_ref().map(|storage| storage.store.clone()),
            });
            let doc = ops::describe(
                <berth_query_api::ApiDoc as utoipa::OpenApi>::openapi(),
                Side::Query,
                &query_url,
            );
            let limit = settings.query_api.body_limit_bytes;
            let app = ops::wrap(api, ops_state.clone(), limit, api_limiter.clone(), doc);
            query_app = Some(app.clone());
            tasks.spawn(serve(listener, app, shutdown.clone(), "query API"));
        }
        if let (Some(listener), Some(command), Some(query)) = (console_listener, command_app, query_app) {
            let app = crate::console::router(command, query, &settings.console);
            tasks.spawn(serve(listener, app, shutdown.clone(), "web console"));
        }
        if let Some(listener) = telemetry_listener {
            tasks.spawn(serve(listener, ops::telemetry(ops_state.clone()), shutdown.clone(), "telemetry"));
        }
        if let Some(listener) = operator_listener {
            let token = settings.telemetry.operator_token.expose_secret().trim().to_owned();
            let app = ops::operator_metrics(ops_state.clone(), (!token.is_empty()).then_some(token));
            tasks.spawn(serve(listener, app, shutdown.clone(), "operators' metrics"));
        }
        if roles.relay {
            let relay_settings = RelaySettings {
                ack_timeout: Duration::from_millis(settings.nats.ack_timeout_ms.max(1)),
                ..RelaySettings::default()
            };
            let relay =
                Relay::new(pool.clone(), jetstream.clone(), stream.clone(), relay_settings, notifier.clone());
            tasks.spawn(relay.run(shutdown.clone()));
        }
        if roles.projections {
            for projection in berth_projections::all() {
                let run = runtime::run(
                    pool.clone(),
                    projection,
                    notifier.clone(),
                    ProjectorSettings {
                        batch_size: settings.projections.batch_size.max(1),
                        batch_max: Duration::from_millis(settings.projections.batch_max_ms),
                        settle: Duration::from_millis(settings.projections.settle_ms),
                    },
                    shutdown.clone(),
                );
                tasks.spawn(berth_eventstore::personal::scoped(keys.clone(), run));
            }
        }
        if roles.sagas {
            let nodes = &settings.nodes;
            let ssh = SshSettings {
                connect_timeout: Duration::from_secs(nodes.ssh_connect_timeout_secs),
                command_timeout: Duration::from_secs(nodes.ssh_command_timeout_secs),
                attempts: nodes.ssh_attempts.max(1),
                backoff: Duration::from_millis(nodes.ssh_backoff_ms),
                ..SshSettings::default()
            };
            let context = SagaContext {
                pool: pool.clone(),
                store: store.clone(),
                retry,
                vault: vault.clone().context("the sagas need the vault")?,
                clock: clock.clone(),
                feed: notifier.clone(),
                timer_wakeups: FeedNotifier::start_on(
                    pool.clone(),
                    berth_eventstore::timers::TIMERS_CHANNEL,
                    poll,
                    shutdown.clone(),
                ),
                shell: Arc::new(SshBridge::new(ssh)),
                nodes: NodeWorkSettings { verify_timeout: Duration::from_secs(nodes.verify_timeout_secs) },
                jetstream: jetstream.clone(),
                stream: stream.name.clone(),
                subject_prefix: stream.subject_prefix.clone(),
                billing: billing.clone(),
                dns: connect::dns_provider(&settings),
                resolver: Arc::new(UdpResolver::new(connect::resolver_addr(&settings)?)),
                payments: payments.clone(),
                mail: mail(&settings, templates, &pool, &clock, poll, &shutdown)?,
                pdf: pdf.clone(),
                backups: backups.clone(),
                deploys: berth_sagas::deploy::Deploys {
                    git: settings.deploys.git(),
                    build_memory_mb: settings.deploys.build_memory_mb,
                    build_cpu_secs: settings.deploys.build_cpu_secs,
                    storage: backups.storage.clone(),
                },
            };
            let entries: Vec<_> =
                registry::all().into_iter().filter(|e| e.enabled(settings.sagas.get(e.name))).collect();
            for entry in &entries {
                entry
                    .start(&context, settings.sagas.get(entry.name), &mut tasks, &shutdown)
                    .map_err(anyhow::Error::msg)?;
            }
            let names: Vec<&str> = entries.iter().map(|e| e.name).collect();
            tracing::info!(sagas = ?names, "sagas started");
        }
        tracing::info!(role = roles.label(), "berth is running");
        shutdown.cancelled().await;
        tracing::info!("shutting down");
        let drain = async {
            while let Some(result) = tasks.join_next().await {
                if let Err(error) = result {
                    tracing::error!(%error, "a task panicked");
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(20), drain).await.is_err() {
            tracing::warn!("tasks did not stop within 20 s; exiting anyway");
        }
        pool.close().await;
        if let Some(replica) = replica {
            replica.close().await;
        }
        Ok(())
    }
}

/// The vault, from `secrets.master_key`, with a clear error when it is missing or malformed.
fn vault(settings: &Settings) -> anyhow::Result<Vault> {
    let key = settings.secrets.master_key.expose_secret();
    if key.trim().is_empty() {
        anyhow::bail!(
            "secrets.master_key is not set: the command API and the sagas need it to seal node keys; \
             make one with `berth secrets new-key` and set BERTH_SECRETS__MASTER_KEY (deploy/dev does this)"
        );
    }
    Vault::new(key).context("secrets.master_key")
}

/// The outbox, the SMTP client and the delivery workers' wake-ups, from `[mail]`.
fn mail(
    settings: &Settings,
    templates: Arc<Templates>,
    pool: &PgPool,
    clock: &Arc<dyn Clock>,
    poll: Duration,
    shutdown: &CancellationToken,
) -> anyhow::Result<Mail> {
    let sender = SmtpSender::new(&settings.mail).context("invalid mail settings")?;
    Ok(Mail {
        outbox: Outbox::new(templates, clock.clone()),
        sender: sender.map(|s| Arc::new(s) as Arc<dyn MailSender>),
        retry: settings.mail.retry(),
        wakeups: FeedNotifier::start_on(pool.clone(), MAIL_CHANNEL, poll, shutdown.clone()),
    })
}

async fn serve(listener: TcpListener, app: axum::Router, shutdown: CancellationToken, what: &'static str) {
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(%addr, "{what} listening");
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(error) =
        axum::serve(listener, service).with_graceful_shutdown(shutdown.cancelled_owned()).await
    {
        tracing::error!(%error, "{what} stopped");
    }
}

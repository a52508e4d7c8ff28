//! The command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::app::{Application, Roles};
use crate::settings::Settings;
use crate::{connect, telemetry};

/// Berth: an event-sourced hosting platform.
#[derive(Debug, Parser)]
#[command(name = "berth", version)]
pub struct Cli {
    /// A TOML settings file (environment variables `BERTH_SECTION__KEY` override it).
    #[arg(long, env = "BERTH_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every role in one process.
    Serve,
    /// Run only the HTTP write side.
    CommandApi,
    /// Run only the HTTP read side.
    QueryApi,
    /// Run only the relay from PostgreSQL to JetStream.
    Relay,
    /// Run only the projectors.
    Projections,
    /// Run only the sagas.
    Sagas,
    /// Apply the database migrations.
    Migrate,
    /// Measure Berth against PostgreSQL's and JetStream's own limits (needs the services).
    Bench {
        /// Smaller counts and shorter windows (under two minutes).
        #[arg(long)]
        quick: bool,
        /// Run one phase alone: `billing` (the billing run against the local Stripe) or `metrics`
        /// (`/metrics` with the cost series of 1,000 tenants and 10,000 sites).
        #[arg(long)]
        only: Option<String>,
    },
    /// Manage platform operators (the provider's own staff).
    Operator {
        /// What to do.
        #[command(subcommand)]
        action: OperatorAction,
    },
    /// Secrets Berth keeps for itself.
    Secrets {
        /// What to do.
        #[command(subcommand)]
        action: SecretsAction,
    },
    /// Rebuild projections from the start of the log and swap them in.
    Replay {
        /// The projection's name (see `berth registry`), or `all`.
        #[arg(long)]
        projection: String,
    },
    /// The auditor's tools: check the log and the views against each other.
    Audit {
        /// What to do.
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Export a tenant's events with a signed manifest (`berth export verify DIR` checks one).
    Export(ExportArgs),
    /// Personal data: seal what was written before sealing existed.
    Gdpr {
        /// What to do.
        #[command(subcommand)]
        action: GdprAction,
    },
    /// List what Berth is made of: its views, its sagas and workers with their settings, and
    /// every registered aggregate type.
    Registry,
    /// Print an API's OpenAPI document (what clients are generated from), without starting it.
    Openapi {
        /// `command` or `query`.
        #[arg(long, value_parser = ["command", "query"])]
        api: String,
    },
}

/// Operator subcommands.
#[derive(Debug, Subcommand)]
pub enum OperatorAction {
    /// Create an operator and print their token (shown once).
    Add {
        /// The operator's email.
        #[arg(long)]
        email: String,
    },
}

/// `berth export`'s arguments.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ExportArgs {
    /// Check an export instead.
    #[command(subcommand)]
    pub verify: Option<ExportVerify>,
    /// The tenant.
    #[arg(long, required = true)]
    pub tenant: Option<uuid::Uuid>,
    /// Events recorded at or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Events recorded before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// The directory to write `events.jsonl` and `manifest.json` to.
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
}

/// `berth export verify`.
#[derive(Debug, Subcommand)]
pub enum ExportVerify {
    /// Check an export offline: its signature, its digest, and every event's hash and chain.
    Verify {
        /// The export's directory.
        dir: PathBuf,
        /// The published public key, hex (`GET /v1/audit/key`); without it the manifest's own.
        #[arg(long)]
        key: Option<String>,
    },
}

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Check every aggregate's hash chain and every signed seal, then rebuild every view from
    /// position zero into scratch tables and compare them with the live ones; exits non-zero
    /// on any finding.
    Verify {
        /// Only this tenant: its aggregates' chains, its events replayed, its rows compared.
        #[arg(long)]
        tenant: Option<uuid::Uuid>,
    },
}

/// GDPR subcommands.
#[derive(Debug, Subcommand)]
pub enum GdprAction {
    /// Seal the personal data of events written before it was sealed (once, after upgrading):
    /// their stored hashes stay, the log attests their new forms, `berth audit verify` passes.
    EncryptExisting {
        /// Events read per round.
        #[arg(long, default_value_t = 1000)]
        batch: i64,
    },
}

/// Secrets subcommands.
#[derive(Debug, Subcommand)]
pub enum SecretsAction {
    /// Print a new random master key (base64 of 32 bytes) for `secrets.master_key`.
    NewKey,
}

/// Parses the command line and runs it; the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Export(ExportArgs { verify: Some(ExportVerify::Verify { dir, key }), .. }) = &cli.command
    {
        return crate::audit::export_verify(dir, key.as_deref());
    }
    if let Command::Secrets { action: SecretsAction::NewKey } = cli.command {
        println!("{}", berth_eventstore::vault::Vault::generate_key());
        return Ok(());
    }
    let mut settings = Settings::load(cli.config.as_deref()).context("invalid configuration")?;
    if matches!(cli.command, Command::Bench { .. }) {
        // The report is the output; only trouble should interrupt it.
        settings.log.filter = "error".to_owned();
    }
    telemetry::init_logs(&settings.log);
    for name in Settings::unknown_variables(std::env::vars()) {
        tracing::warn!(variable = %name, "unknown BERTH_ variable ignored");
    }
    let roles = match cli.command {
        Command::Serve => Roles::ALL,
        Command::CommandApi => Roles { command_api: true, ..Roles::NONE },
        Command::QueryApi => Roles { query_api: true, ..Roles::NONE },
        Command::Relay => Roles { relay: true, ..Roles::NONE },
        Command::Projections => Roles { projections: true, ..Roles::NONE },
        Command::Sagas => Roles { sagas: true, ..Roles::NONE },
        Command::Migrate => {
            let pool = connect::postgres(&unhurried(settings), "migrate").await?;
            berth_eventstore::migrate::run(&pool).await.context("migration failed")?;
            println!("migrations applied");
            return Ok(());
        }
        Command::Replay { projection } => return replay(&unhurried(settings), &projection).await,
        Command::Registry => {
            print_registry();
            return Ok(());
        }
        Command::Openapi { api } => {
            println!("{}", serde_json::to_string_pretty(&openapi(&settings, &api))?);
            return Ok(());
        }
        Command::Bench { quick, only } => return crate::bench::run(&settings, quick, only.as_deref()).await,
        Command::Operator { action: OperatorAction::Add { email } } => {
            return add_operator(&settings, &email).await
        }
        Command::Secrets { .. } => return Ok(()),
        Command::Export(ExportArgs { tenant: Some(tenant), from, to, out: Some(out), .. }) => {
            return crate::audit::export(&unhurried(settings), tenant, from.as_deref(), to.as_deref(), &out)
                .await
        }
        Command::Export(_) => anyhow::bail!("berth export needs --tenant and --out"),
        Command::Gdpr { action: GdprAction::EncryptExisting { batch } } => {
            return crate::audit::encrypt_existing(&unhurried(settings), batch).await
        }
        Command::Audit { action: AuditAction::Verify { tenant } } => {
            return crate::audit::verify(&unhurried(settings), tenant).await
        }
    };
    let app = Application::build(settings, roles).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    app.run_until_stopped(shutdown).await
}

/// Settings for an operator's one-off command (a migration, a rebuild, an audit, an export),
/// which reads the whole log in one statement or holds a snapshot: a statement of it may
/// rightly run for minutes on a large log, so no `statement_timeout`. It still cannot sit idle
/// in a transaction.
fn unhurried(mut settings: Settings) -> Settings {
    settings.database.statement_timeout_ms = 0;
    settings
}

async fn replay(settings: &Settings, name: &str) -> anyhow::Result<()> {
    let chosen: Vec<_> =
        berth_projections::all().into_iter().filter(|p| name == "all" || p.name() == name).collect();
    if chosen.is_empty() {
        let known: Vec<&str> = berth_projections::all().iter().map(|p| p.name()).collect();
        anyhow::bail!("no projection named `{name}`; known: {}, or all", known.join(", "));
    }
    let pool = connect::postgres(settings, "replay").await?;
    let keys = crate::audit::keys(settings, &pool);
    berth_eventstore::personal::scoped(keys, replay_all(&pool, chosen)).await
}

async fn replay_all(
    pool: &sqlx::PgPool,
    chosen: Vec<Box<dyn berth_projections::Projection>>,
) -> anyhow::Result<()> {
    let pool = pool.clone();
    for projection in chosen {
        let name = projection.name();
        let report = berth_projections::rebuild::rebuild(
            &pool,
            projection.as_ref(),
            berth_projections::rebuild::DEFAULT_BATCH,
        )
        .await
        .with_context(|| format!("rebuilding `{name}` failed"))?;
        let rate = report.events as f64 / report.elapsed.as_secs_f64().max(1e-9);
        println!("rebuilt {name}: {} events in {:.2?} ({rate:.0} events/s)", report.events, report.elapsed);
    }
    Ok(())
}

/// An API's OpenAPI document, with `servers` from the settings.
fn openapi(settings: &Settings, api: &str) -> serde_json::Value {
    use berth_http::contract::Side;
    use utoipa::OpenApi as _;
    let url = |public: &str, addr: std::net::SocketAddr| {
        if public.is_empty() {
            format!("http://{addr}")
        } else {
            public.trim_end_matches('/').to_owned()
        }
    };
    match api {
        "command" => crate::ops::describe(
            berth_command_api::ApiDoc::openapi(),
            Side::Command,
            &url(&settings.command_api.public_url, settings.command_api.addr),
        ),
        _ => crate::ops::describe(
            berth_query_api::ApiDoc::openapi(),
            Side::Query,
            &url(&settings.query_api.public_url, settings.query_api.addr),
        ),
    }
}

/// `berth registry`: the registries, as the binary sees them.
fn print_registry() {
    println!("views (berth replay --projection NAME):");
    for projection in berth_projections::all() {
        println!("  {:<12} layout v{}", projection.name(), projection.schema_version());
    }
    println!("sagas and workers ([sagas.NAME] settings, defaults shown):");
    for entry in berth_sagas::registry::all() {
        let consumes = if entry.consumes.is_empty() {
            "a worker".to_owned()
        } else {
            format!("consumes {}", entry.consumes.join(", "))
        };
        println!("  {:<12} {consumes}; {}", entry.name, entry.default_settings());
    }
    println!("aggregates: {}", berth_domain::event::AGGREGATE_TYPES.join(", "));
}

async fn add_operator(settings: &Settings, email: &str) -> anyhow::Result<()> {
    use berth_command_api::secrets::{new_token, token_digest};
    use berth_domain::email::Email;
    use berth_domain::ids::OperatorId;
    use berth_domain::operator::{Operator, OperatorCommand};
    use berth_eventstore::credentials::CredentialWrite;
    use berth_eventstore::execute::RetryPolicy;
    use berth_eventstore::metadata::CommandMetadata;

    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let pool = connect::postgres(settings, "operator").await?;
    let store = berth_eventstore::store::EventStore::new(pool, settings.eventstore.snapshot_every);
    let operator_id = OperatorId::from_uuid(uuid::Uuid::now_v7());
    let token = new_token("bro");
    // The email is claimed by the operator's own `Added` event; the token rides along.
    let writes = [CredentialWrite::Operator { operator: operator_id, digest: token_digest(&token) }.into()];
    let meta = CommandMetadata::new(None, "system:cli");
    let command = OperatorCommand::Add { operator_id, email };
    store
        .execute_with::<Operator>(&operator_id.to_string(), command, &meta, RetryPolicy::default(), &writes)
        .await
        .map_err(|e| anyhow::anyhow!("cannot add the operator: {e}"))?;
    println!("operator {operator_id}");
    println!("token {token}");
    println!("(the token is shown once; store it now)");
    Ok(())
}

/// Cancels `shutdown` on SIGTERM or Ctrl-C.
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                shutdown.cancel();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    shutdown.cancel();
}

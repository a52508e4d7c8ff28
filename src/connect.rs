//! Reaching PostgreSQL and NATS at start, with errors that say what is missing and how to
//! start it.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::settings::Settings;

const HOW_TO_START: &str = "start the local services with `deploy/dev services`";

/// Opens the PostgreSQL pool; `role` names the process in `pg_stat_activity`.
pub async fn postgres(settings: &Settings, role: &str) -> anyhow::Result<PgPool> {
    postgres_with(settings, role, |options| options).await
}

/// Like [`postgres`], with `prepare` applied to the pool's options (a read pool's connections
/// switch role when they connect).
pub async fn postgres_with(
    settings: &Settings,
    role: &str,
    prepare: impl FnOnce(PgPoolOptions) -> PgPoolOptions,
) -> anyhow::Result<PgPool> {
    let url = settings.database.url.expose_secret();
    let options = PgConnectOptions::from_str(url)
        .context("BERTH_DATABASE__URL is not a valid postgres:// URL")?
        .application_name(&format!("berth {role} {}", std::process::id()));
    let place = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(default database)")
    );
    let pool = prepare(PgPoolOptions::new())
        .max_connections(settings.database.max_connections)
        .acquire_timeout(Duration::from_secs(settings.database.acquire_timeout_secs))
        // A broken connection shows up as an error on use (and the pool replaces it); pinging
        // before every acquire would add a round trip to every query.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .with_context(|| {
            format!(
                "cannot reach PostgreSQL at {place}; {HOW_TO_START}, or point BERTH_DATABASE__URL at a running server"
            )
        })?;
    Ok(pool)
}

/// Connects to NATS (JetStream must be enabled on the server).
pub async fn nats(settings: &Settings) -> anyhow::Result<async_nats::Client> {
    let url = &settings.nats.url;
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .name(format!("berth {}", std::process::id()))
        .connect(url.as_str())
        .await
        .with_context(|| {
            format!("cannot reach NATS at {url}; {HOW_TO_START} (nats-server -js), or point BERTH_NATS__URL at a running server")
        })?;
    Ok(client)
}

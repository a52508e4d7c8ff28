//! Reaching PostgreSQL and NATS at start, with errors that say what is missing and how to
//! start it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use async_nats::connection::State;
use async_nats::ServerAddr;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use berth_sagas::dns::powerdns::{NoDnsServer, PowerDns, PowerDnsSettings};
use berth_sagas::dns::resolver::system_resolver;
use berth_sagas::dns::DnsProvider;

use crate::settings::{DatabaseSettings, NatsSettings, PaymentSettings, Settings};

const HOW_TO_START: &str = "start the local services with `deploy/dev services`";

/// Opens the PostgreSQL pool of the primary; `role` names the process in `pg_stat_activity`.
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
    pool(&settings.database, &settings.database.url, role, "BERTH_DATABASE__URL", prepare).await
}

/// Opens the pool the query API reads from: the replica of `database.read_url` (with `prepare`
/// applied, as for [`postgres_with`]), or `None` when none is set (then it reads from the
/// primary).
pub async fn read_replica(
    settings: &Settings,
    role: &str,
    prepare: impl FnOnce(PgPoolOptions) -> PgPoolOptions,
) -> anyhow::Result<Option<PgPool>> {
    let url = &settings.database.read_url;
    if url.expose_secret().trim().is_empty() {
        return Ok(None);
    }
    let role = format!("{role} (replica)");
    Ok(Some(pool(&settings.database, url, &role, "BERTH_DATABASE__READ_URL", prepare).await?))
}

async fn pool(
    database: &DatabaseSettings,
    url: &SecretString,
    role: &str,
    variable: &str,
    prepare: impl FnOnce(PgPoolOptions) -> PgPoolOptions,
) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url.expose_secret())
        .with_context(|| format!("{variable} is not a valid postgres:// URL"))?
        .application_name(&format!("berth {role} {}", std::process::id()))
        // Set in the startup packet, so they hold on every connection of the pool from its
        // first statement, whatever the server's own defaults: no Berth session can sit in a
        // transaction (holding back the feed's xmin horizon for every reader) for longer.
        .options([
            ("statement_timeout", database.statement_timeout_ms),
            ("idle_in_transaction_session_timeout", database.idle_in_transaction_timeout_ms),
        ]);
    let place = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(default database)")
    );
    let pool = prepare(PgPoolOptions::new())
        .max_connections(database.max_connections)
        .acquire_timeout(Duration::from_secs(database.acquire_timeout_secs))
        // A broken connection shows up as an error on use (and the pool replaces it); pinging
        // before every acquire would add a round trip to every query.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .with_context(|| {
            format!(
                "cannot reach PostgreSQL at {place}; {HOW_TO_START}, or point {variable} at a running server"
            )
        })?;
    Ok(pool)
}

/// The servers listed in `nats.url`, each checked.
pub fn nats_servers(settings: &NatsSettings) -> anyhow::Result<Vec<ServerAddr>> {
    let servers = settings
        .url
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            ServerAddr::from_str(s)
                .map_err(|e| anyhow::anyhow!("nats.url: `{}` is not a NATS server address: {e}", redact(s)))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!servers.is_empty(), "nats.url lists no server");
    Ok(servers)
}

/// `nats.url` as it can be printed: passwords blanked.
pub fn nats_display(settings: &NatsSettings) -> String {
    settings.url.split(',').map(str::trim).map(redact).collect::<Vec<_>>().join(",")
}

fn redact(server: &str) -> String {
    match server.rsplit_once('@') {
        Some((credentials, host)) => {
            let scheme = credentials.split_once("://").map_or("", |(s, _)| s);
            let separator = if scheme.is_empty() { "" } else { "://" };
            format!("{scheme}{separator}***@{host}")
        }
        None => server.to_owned(),
    }
}

/// Connects to NATS (JetStream must be enabled on the servers).
///
/// Any listed server will do: the client tries them all, and keeps trying in the background
/// (`retry_on_initial_connect`) until one answers or `nats.connect_wait_secs` have passed, so a
/// process starts while one server of a cluster is down or restarting. Once connected it
/// reconnects by itself, to whichever server answers, for as long as it runs.
pub async fn nats(settings: &Settings) -> anyhow::Result<async_nats::Client> {
    let nats = &settings.nats;
    let servers = nats_servers(nats)?;
    let shown = nats_display(nats);
    let last_error: Arc<Mutex<Option<String>>> = Arc::default();
    let seen = last_error.clone();
    let mut options = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .name(format!("berth {}", std::process::id()))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .require_tls(nats.tls_required)
        .event_callback(move |event| {
            let seen = seen.clone();
            async move {
                if let async_nats::Event::ClientError(error) = event {
                    *seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error.to_string());
                }
            }
        });
    if !nats.credentials_file.is_empty() {
        options = options
            .credentials_file(&nats.credentials_file)
            .await
            .with_context(|| format!("nats.credentials_file: cannot read {}", nats.credentials_file))?;
    }
    if !nats.tls_ca_file.is_empty() {
        options = options.add_root_certificates(PathBuf::from(&nats.tls_ca_file));
    }
    match (nats.tls_cert_file.is_empty(), nats.tls_key_file.is_empty()) {
        (true, true) => {}
        (false, false) => {
            options = options.add_client_certificate(
                PathBuf::from(&nats.tls_cert_file),
                PathBuf::from(&nats.tls_key_file),
            );
        }
        _ => anyhow::bail!("nats.tls_cert_file and nats.tls_key_file go together: set both or neither"),
    }
    let client =
        options.connect(servers).await.with_context(|| format!("cannot connect to NATS at {shown}"))?;
    let connected = async {
        while client.connection_state() != State::Connected {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(nats.connect_wait_secs), connected).await.is_err() {
        let why = last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        anyhow::bail!(
            "cannot reach NATS at {shown} within {} s ({}); {HOW_TO_START} (nats-server -js), or point BERTH_NATS__URL at running servers",
            nats.connect_wait_secs,
            why.unwrap_or_else(|| "no server answered".to_owned())
        );
    }
    Ok(client)
}

/// The payment provider `settings` name, if any (an empty `stripe_url`: none).
pub fn payments(
    settings: &PaymentSettings,
) -> anyhow::Result<Option<Arc<dyn berth_payments::PaymentGateway>>> {
    if settings.stripe_url.trim().is_empty() {
        return Ok(None);
    }
    if settings.stripe_secret_key.expose_secret().is_empty() {
        anyhow::bail!("payments.stripe_secret_key: required when payments.stripe_url is set");
    }
    let mut url = settings.stripe_url.trim().to_owned();
    if !url.ends_with('/') {
        url.push('/');
    }
    let gateway = berth_payments::StripeGateway::new(&berth_payments::StripeSettings {
        url,
        secret_key: settings.stripe_secret_key.clone(),
        timeout: Duration::from_secs(settings.timeout_secs.max(1)),
    })
    .map_err(|e| anyhow::anyhow!("payments: {e}"))?;
    Ok(Some(Arc::new(gateway)))
}

/// The sagas' backup storage from `[backups]` (none when no endpoint is set).
pub fn backups(settings: &crate::settings::BackupSettings) -> anyhow::Result<berth_sagas::backup::Backups> {
    let storage = match settings.storage() {
        None => None,
        Some(config) => Some(berth_sagas::backup::BackupStorage {
            store: berth_sagas::backup::store::connect(&config).context("the backup storage settings")?,
            prefix: config.prefix.clone(),
            part_size: config.part_size,
        }),
    };
    Ok(berth_sagas::backup::Backups { storage, policy: settings.policy() })
}

/// PowerDNS from `[dns]`, or a stand-in that says none is configured.
pub fn dns_provider(settings: &Settings) -> Arc<dyn DnsProvider> {
    let dns = &settings.dns;
    if dns.api_url.trim().is_empty() {
        return Arc::new(NoDnsServer);
    }
    Arc::new(PowerDns::new(PowerDnsSettings {
        api_url: dns.api_url.trim().to_owned(),
        api_key: dns.api_key.expose_secret().to_owned(),
        server_id: dns.server_id.clone(),
        nameservers: dns
            .nameservers
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect(),
    }))
}

/// `dns.resolver`, or this machine's resolver.
pub fn resolver_addr(settings: &Settings) -> anyhow::Result<SocketAddr> {
    let configured = settings.dns.resolver.trim();
    if configured.is_empty() {
        return system_resolver().context("dns.resolver is empty and /etc/resolv.conf names no nameserver");
    }
    configured.parse().with_context(|| format!("dns.resolver `{configured}` is not an address and port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nats(url: &str) -> NatsSettings {
        let mut settings = Settings::load_from(None, Vec::new()).unwrap().nats;
        settings.url = url.to_owned();
        settings
    }

    #[test]
    fn a_list_of_servers_is_read_and_each_one_checked() {
        let servers =
            nats_servers(&nats("nats://a:14222, nats://b:14223,tls://c:14224")).expect("three servers");
        assert_eq!(servers.len(), 3);
        assert!(servers[2].tls_required());
        let error = nats_servers(&nats("nats://a:14222,http://b:1")).unwrap_err().to_string();
        assert!(error.contains("nats.url") && error.contains("http://b:1"), "{error}");
        assert!(nats_servers(&nats(" , ")).is_err());
    }

    #[test]
    fn passwords_never_reach_a_message() {
        let shown = nats_display(&nats("nats://berth:secret@a:4222,b:4223"));
        assert_eq!(shown, "nats://***@a:4222,b:4223");
    }
}

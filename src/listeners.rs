//! The listeners a process binds before it runs: each API of its roles, telemetry for a
//! process without an API, the operators' metrics, and the web console.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::app::Roles;
use crate::settings::Settings;

/// The bound listeners; `None` where the roles or settings ask for none.
pub struct Listeners {
    /// The command API.
    pub command: Option<TcpListener>,
    /// The query API.
    pub query: Option<TcpListener>,
    /// `/metrics`, `/healthz` and `/readyz` of a process without an API.
    pub telemetry: Option<TcpListener>,
    /// The operators' `/metrics`.
    pub operator: Option<TcpListener>,
    /// The web console: only in a process that runs both APIs, which it serves beside itself.
    pub console: Option<TcpListener>,
}

impl Listeners {
    /// Binds what `roles` and `settings` ask for, with errors naming the setting.
    pub async fn bind(settings: &Settings, roles: Roles) -> anyhow::Result<Self> {
        let command = match roles.command_api {
            true => Some(bind(settings.command_api.addr, "command API").await?),
            false => None,
        };
        let query = match roles.query_api {
            true => Some(bind(settings.query_api.addr, "query API").await?),
            false => None,
        };
        // A process without an API still serves its metrics and health, on a port of its own.
        let telemetry = match roles.command_api || roles.query_api {
            true => None,
            false => Some(bind(settings.telemetry.addr, "telemetry (/metrics, /healthz, /readyz)").await?),
        };
        let operator =
            optional(&settings.telemetry.operator_addr, "telemetry.operator_addr", "operators' metrics")
                .await?;
        let console = match roles.command_api && roles.query_api {
            true => optional(&settings.console.addr, "console.addr", "web console").await?,
            false => {
                if !settings.console.addr.trim().is_empty() {
                    tracing::info!("the web console runs only in a process with both APIs (`berth serve`)");
                }
                None
            }
        };
        Ok(Self { command, query, telemetry, operator, console })
    }
}

/// Where `listener` listens.
pub fn addr(listener: &Option<TcpListener>) -> Option<SocketAddr> {
    listener.as_ref().and_then(|l| l.local_addr().ok())
}

async fn optional(configured: &str, setting: &str, what: &str) -> anyhow::Result<Option<TcpListener>> {
    match configured.trim() {
        "" => Ok(None),
        addr => {
            let addr = addr.parse().with_context(|| format!("{setting} `{addr}` is not an address"))?;
            Ok(Some(bind(addr, what).await?))
        }
    }
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| format!("cannot listen for the {what} on {addr}"))
}

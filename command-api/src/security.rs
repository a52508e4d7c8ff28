//! Writing the security log: one stream per account (the user's id), or for an address no
//! account has, a stream whose id is derived from that address. A burst of failed logins for
//! one account is counted from its own stream, so every command-API process sees the same
//! burst.

use std::net::SocketAddr;

use axum::http::HeaderMap;
use berth_domain::ids::UserId;
use berth_domain::security::{AccountSecurity, Origin, SecurityCommand};
use berth_eventstore::execute::CommandOutcome;
use berth_eventstore::metadata::CommandMetadata;
use berth_http::ApiError;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::AppState;

/// The origin of a request: its client address and user agent.
pub fn origin(client: SocketAddr, headers: &HeaderMap) -> Origin {
    let agent = headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok());
    Origin::new(client.ip().to_string(), agent)
}

/// The stream for failed logins to an address no account has: an id derived from it.
pub fn unknown_account(canonical_email: &str) -> Uuid {
    let digest = Sha256::digest(format!("unknown-account:{canonical_email}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Appends `command` to the security stream `stream`, in `tenant` when the event concerns one.
pub async fn record(
    state: &AppState,
    stream: Uuid,
    tenant: Option<Uuid>,
    actor: String,
    request_id: Option<String>,
    command: SecurityCommand,
) -> Result<CommandOutcome, ApiError> {
    let mut meta = CommandMetadata::new(tenant, actor);
    meta.request_id = request_id;
    Ok(state.store.execute::<AccountSecurity>(&stream.to_string(), command, &meta, state.retry).await?)
}

/// Records a failed login and raises the burst counter when the account has had
/// `state.login_burst.failures` of them within the window. The caller's answer stays the
/// refusal whatever happens here, so a failure to write is logged, not returned.
pub async fn record_failure(
    state: &AppState,
    stream: Uuid,
    user: Option<UserId>,
    reason: &str,
    origin: Origin,
    request_id: Option<String>,
) {
    metrics::counter!("berth_login_failures_total").increment(1);
    let command = SecurityCommand::RecordFailure { user_id: user, reason: reason.to_owned(), origin };
    let actor = user.map_or_else(|| "anonymous".to_owned(), |u| format!("user:{u}"));
    if let Err(error) = record(state, stream, None, actor, request_id, command).await {
        tracing::warn!(%error, "could not record a failed login");
        return;
    }
    let burst = &state.login_burst;
    let since = state.clock.now() - burst.window;
    let recent: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "SELECT count(*) FROM (
             SELECT recorded_at FROM events
              WHERE aggregate_type = 'security' AND aggregate_id = $1 AND event_type = 'LoginFailed'
              ORDER BY sequence DESC LIMIT $2) recent
          WHERE recorded_at >= $3",
    )
    .bind(stream.to_string())
    .bind(i64::from(burst.failures))
    .bind(since)
    .fetch_one(&state.pool)
    .await;
    match recent {
        Ok(n) if n >= i64::from(burst.failures) => {
            metrics::counter!("berth_login_failure_bursts_total").increment(1);
            tracing::warn!(account = %stream, failures = n, "a burst of failed logins for one account");
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "could not count recent failed logins"),
    }
}

/// When failed logins for one account count as a burst.
#[derive(Debug, Clone, Copy)]
pub struct LoginBurst {
    /// This many failures…
    pub failures: u32,
    /// …within this long.
    pub window: time::Duration,
}

/// Records a refused request of an authenticated caller (a 403) in their security stream.
pub async fn access_denied(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let header = request.headers().get(axum::http::header::AUTHORIZATION).cloned();
    let (method, path) = (request.method().to_string(), request.uri().path().to_owned());
    let request_id = crate::auth::request_id(request.headers());
    let response = next.run(request).await;
    if response.status() != axum::http::StatusCode::FORBIDDEN {
        return response;
    }
    let Some(header) = header else { return response };
    let principal = berth_projections::identity::authenticate_bearer(
        &state.pool,
        &state.credentials,
        Some(header.as_bytes()),
    )
    .await;
    let Ok(principal) = principal else { return response };
    let (stream, actor) = match principal.user_id {
        Some(user) => (user, format!("user:{user}")),
        None => (principal.credential_id, format!("token:{}", principal.credential_id)),
    };
    let reason = response.status().canonical_reason().unwrap_or("Forbidden").to_owned();
    let command = SecurityCommand::RecordDenied { actor: actor.clone(), method, path, reason };
    if let Err(error) = record(&state, stream, principal.tenant_id, actor, request_id, command).await {
        tracing::warn!(%error, "could not record a refused request");
    }
    response
}

//! `GET /v1/me/export`: a signed-in person's own data (GDPR art. 15 and 20), as JSON.
//!
//! Read from the log and the credential tables, not from views (a view may lag, and the log
//! is the record): the profile (email), memberships, sessions and API tokens (metadata only,
//! never secrets), the security log of the account, the invitations sent to the person's
//! address, and the events the person caused (`actor = user:<id>`), each opened with the
//! subject keys (another person's erased data reads `[erased]`).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use berth_eventstore::credentials::CredentialKind;
use berth_http::ApiError;
use serde::Serialize;
use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AppState;

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/me/export", get(export))
}

/// A person signed in with a session (an API token acts for a tenant, not a person).
pub struct Person {
    user_id: Uuid,
}

impl FromRequestParts<AppState> for Person {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = crate::auth::bearer(parts, state).await?;
        match (principal.kind, principal.user_id) {
            (CredentialKind::Session, Some(user_id)) => Ok(Self { user_id }),
            _ => Err(ApiError::Forbidden(
                "a person's export is for that person, signed in (not an API token)".into(),
            )),
        }
    }
}

/// A person's data.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PersonalExport {
    /// When this export was made.
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    /// The person: id, email, when registered.
    #[schema(value_type = Object)]
    pub profile: Value,
    /// Organizations the person belongs to, with the role.
    #[schema(value_type = Vec<Object>)]
    pub memberships: Vec<Value>,
    /// Sessions and tokens (kind, tenant, created, expires, revoked; never secrets).
    #[schema(value_type = Vec<Object>)]
    pub credentials: Vec<Value>,
    /// The account's security log: logins, failures, second-factor changes.
    #[schema(value_type = Vec<Object>)]
    pub security_log: Vec<Value>,
    /// Invitations sent to the person's address.
    #[schema(value_type = Vec<Object>)]
    pub invitations: Vec<Value>,
    /// What the person did: the events their commands recorded.
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<Value>,
}

type EventRow = (i64, String, String, String, Value, OffsetDateTime, Option<Uuid>);

fn event_json(
    (position, aggregate_type, aggregate_id, event_type, payload, recorded_at, tenant): EventRow,
) -> Value {
    json!({
        "global_position": position, "tenant_id": tenant, "aggregate_type": aggregate_type,
        "aggregate_id": aggregate_id, "event_type": event_type, "payload": payload,
        "recorded_at": berth_eventstore::chain::timestamp(recorded_at),
    })
}

async fn opened(rows: Vec<EventRow>) -> Result<Vec<Value>, ApiError> {
    let mut rows = rows;
    if let Some(keys) = berth_eventstore::personal::current() {
        let mut payloads: Vec<Value> = rows.iter_mut().map(|r| std::mem::take(&mut r.4)).collect();
        keys.open_many(&mut payloads).await.map_err(|e| ApiError::Internal(e.to_string()))?;
        for (row, payload) in rows.iter_mut().zip(payloads) {
            row.4 = payload;
        }
    }
    Ok(rows.into_iter().map(event_json).collect())
}

const EVENTS: &str = "SELECT global_position, aggregate_type, aggregate_id, event_type, payload, recorded_at, tenant_id FROM events";

/// Download your own data.
///
/// Your profile, memberships, sessions and tokens, security log, invitations and your actions,
/// as one JSON document.
#[utoipa::path(get, path = "/v1/me/export", operation_id = "export_my_data", tag = "identity",
    responses((status = 200, description = "Everything Berth holds about you", body = PersonalExport),
              (status = 403, description = "Not a signed-in person", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn export(State(state): State<AppState>, person: Person) -> Result<Json<PersonalExport>, ApiError> {
    let id = person.user_id;
    let pool = &state.pool;
    let registered: Vec<EventRow> = sqlx::query_as(&format!(
        "{EVENTS} WHERE aggregate_type = 'user' AND aggregate_id = $1 ORDER BY sequence"
    ))
    .bind(id.to_string())
    .fetch_all(pool)
    .await?;
    let registered = opened(registered).await?;
    let email = registered
        .iter()
        .find_map(|e| e.pointer("/payload/Registered/email").and_then(Value::as_str).map(str::to_owned))
        .ok_or(ApiError::NotFound)?;
    let profile = json!({
        "user_id": id, "email": email,
        "registered_at": registered.first().and_then(|e| e.get("recorded_at")).cloned(),
    });
    let memberships: Vec<(Uuid, String, OffsetDateTime)> = sqlx::query_as(
        "SELECT tenant_id, role, joined_at FROM memberships WHERE user_id = $1 ORDER BY joined_at",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let memberships = memberships
        .into_iter()
        .map(|(tenant, role, joined)| json!({"tenant_id": tenant, "role": role, "joined_at": berth_eventstore::chain::timestamp(joined)}))
        .collect();
    type CredentialRow = (
        Uuid,
        String,
        Option<Uuid>,
        Option<String>,
        OffsetDateTime,
        Option<OffsetDateTime>,
        Option<OffsetDateTime>,
    );
    let credentials: Vec<CredentialRow> = sqlx::query_as(
        "SELECT id, kind, tenant_id, role, created_at, expires_at, revoked_at FROM credentials
          WHERE user_id = $1 AND kind <> 'password' ORDER BY created_at",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let stamp = |t: Option<OffsetDateTime>| t.map(berth_eventstore::chain::timestamp);
    let credentials = credentials
        .into_iter()
        .map(|(cid, kind, tenant, role, created, expires, revoked)| {
            json!({"id": cid, "kind": kind, "tenant_id": tenant, "role": role,
                   "created_at": stamp(Some(created)), "expires_at": stamp(expires), "revoked_at": stamp(revoked)})
        })
        .collect();
    let security: Vec<EventRow> = sqlx::query_as(&format!(
        "{EVENTS} WHERE aggregate_type = 'security' AND aggregate_id = $1 ORDER BY sequence"
    ))
    .bind(id.to_string())
    .fetch_all(pool)
    .await?;
    // Invitations name the address, sealed under its subject: found by the subject's id.
    let invitations = match berth_eventstore::personal::current() {
        Some(keys) => {
            let pattern = format!("%\"s\": \"{}\"%", keys.email_subject(&email));
            let rows: Vec<EventRow> = sqlx::query_as(&format!(
                "{EVENTS} WHERE aggregate_type = 'organization' AND event_type IN ('MemberInvited', 'InvitationAccepted')
                   AND payload::text LIKE $1 ORDER BY global_position"
            ))
            .bind(pattern)
            .fetch_all(pool)
            .await?;
            opened(rows).await?
        }
        None => Vec::new(),
    };
    let actions: Vec<EventRow> = sqlx::query_as(&format!(
        "{EVENTS} WHERE metadata ->> 'actor' = $1 ORDER BY global_position LIMIT 10000"
    ))
    .bind(format!("user:{id}"))
    .fetch_all(pool)
    .await?;
    Ok(Json(PersonalExport {
        exported_at: OffsetDateTime::now_utc(),
        profile,
        memberships,
        credentials,
        security_log: opened(security).await?,
        invitations,
        actions: opened(actions).await?,
    }))
}

//! `POST /v1/ops/people/{id}/erase`: an operator erases a person's personal data by
//! destroying their subject keys (crypto-shredding); see DESIGN.md, "Personal data".
//!
//! Checks, in order: the id names a registered person (else 404 `person-unknown`); a reason
//! is given (400 naming `reason`); the person is not the only owner of an organization
//! (409 `sole-owner`: ownership goes to someone else first, or the organization is closed,
//! since an organization needs someone who answers for it and its invoices); not already
//! erased (409 `already-erased`). Then one command, in one transaction: the `data_subject`
//! aggregate records `DataSubjectErased` (subject ids and the reason, no personal data) and the
//! event store destroys the keys of `person:<id>` and of the person's email address, then
//! scrubs what the views and the mail outbox held in plain text. The person's credentials
//! (password, sessions, API tokens they made) stop working in the same request.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use berth_domain::error::RefusalKind;
use berth_domain::privacy::{DataSubject, SubjectCommand};
use berth_domain::user::User;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Operator;
use crate::AppState;

/// The people routes (operators only).
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/ops/people/{id}/erase", post(erase))
}

/// `POST /v1/ops/people/{id}/erase` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    /// Why: the request's reference (a ticket, a letter), not personal data; kept in the log.
    #[schema(min_length = 1, max_length = 500, example = "GDPR art. 17 request #2026-114")]
    pub reason: Option<String>,
}

/// What an erasure did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Erased {
    /// The person.
    pub person_id: Uuid,
    /// How many subject keys were destroyed.
    pub keys_destroyed: usize,
    /// The erasure's version in the `data_subject` stream.
    pub version: i64,
}

fn refused(code: &'static str, kind: RefusalKind, detail: String) -> ApiError {
    ApiError::Refused { code, kind, detail, field: None }
}

/// Erase a person (operators only).
///
/// Destroys their subject keys so every view, export, stream and replay shows `[erased]` for
/// their personal data.
#[utoipa::path(post, path = "/v1/ops/people/{id}/erase", operation_id = "erase_person", tag = "operations",
    params(("id" = Uuid, Path, description = "The person (user id)")), request_body = EraseBody,
    responses((status = 200, description = "Erased", body = Erased),
              (status = 404, description = "No such person (`person-unknown`)", body = berth_http::Problem, content_type = "application/problem+json"),
              (status = 409, description = "Refused: the person is an organization's only owner, or already erased", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn erase(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<EraseBody>,
) -> Result<Json<Erased>, ApiError> {
    let unknown = || refused("person-unknown", RefusalKind::NotFound, format!("no person has the id `{id}`"));
    let person: Uuid = id.parse().map_err(|_| unknown())?;
    let reason = body.reason.as_deref().map(str::trim).unwrap_or_default();
    if reason.is_empty() {
        return Err(ApiError::field("reason", "give the reason for the erasure (the request's reference)"));
    }
    if reason.chars().count() > 500 {
        return Err(ApiError::field("reason", "at most 500 characters"));
    }
    let keys = state.store.keys().ok_or_else(|| ApiError::Internal("personal data is not sealed".into()))?;
    let user =
        state.store.load::<User>(&person.to_string()).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(email) = user.aggregate.email() else {
        return Err(unknown());
    };
    let sole: Option<Uuid> = sqlx::query_scalar(
        "SELECT m.tenant_id FROM memberships m
          WHERE m.user_id = $1 AND m.role = 'owner'
            AND NOT EXISTS (SELECT 1 FROM memberships o
                             WHERE o.tenant_id = m.tenant_id AND o.role = 'owner' AND o.user_id <> $1)
          ORDER BY m.tenant_id LIMIT 1",
    )
    .bind(person)
    .fetch_optional(&state.pool)
    .await?;
    if let Some(tenant) = sole {
        return Err(refused(
            "sole-owner",
            RefusalKind::Conflict,
            format!(
                "this person is the only owner of organization {tenant}: make another member an owner first"
            ),
        ));
    }
    let subject = format!("person:{person}");
    let mut subjects = vec![subject.clone()];
    if !email.is_erased() {
        subjects.push(keys.email_subject(email.as_str()));
    }
    let command = SubjectCommand::Erase { subjects: subjects.clone(), reason: reason.to_owned() };
    let outcome =
        state.store.execute::<DataSubject>(&subject, command, &operator.metadata(), state.retry).await?;
    // The person can no longer sign in or act: every credential of theirs stops working.
    let mut tx = state.pool.begin().await?;
    sqlx::query("DELETE FROM credentials WHERE user_id = $1 AND kind = 'password'")
        .bind(person)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE credentials SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(person)
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(berth_eventstore::credential_cache::CHANNEL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(%person, keys = subjects.len(), "person erased");
    Ok(Json(Erased { person_id: person, keys_destroyed: subjects.len(), version: outcome.version }))
}

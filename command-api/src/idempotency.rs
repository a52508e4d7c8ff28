//! `Idempotency-Key` on POST: a retry with the same key and body gets the first answer and
//! appends nothing; the same key with another body is a 422; a retry while the first is still
//! running is a 409.
//!
//! A claim never outlives its request. The request runs in a task of its own, so a client that
//! hangs up does not cancel it: the command finishes and its answer is recorded for the retry.
//! A claim whose process died (SIGKILL) lapses after `idempotency_lapse`; a retry then takes it
//! over and runs the request again, which is safe: the command id derives from the key, and
//! the id of a resource the request creates is minted once, with the claim, so the retry
//! addresses the same resource and gets the first outcome if it had committed.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_http::ApiError;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::secrets::hex;
use crate::AppState;

/// What a request with an Idempotency-Key carries to its handler: the command id every try of
/// it runs as, and the id of the resource it creates (the same on every try).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyContext {
    /// The command id, derived from the caller and the key.
    pub command_id: Uuid,
    /// The id minted for a resource the request creates.
    pub resource_id: Uuid,
}

/// A stable command id for an idempotency key within a scope (the caller).
pub fn command_id_for(scope: &str, key: &str) -> Uuid {
    let digest = Sha256::digest(format!("{scope}\n{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The middleware; installed on the command router.
pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match handle(state, request, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn handle(state: AppState, request: Request, next: Next) -> Result<Response, Response> {
    let Some(key) = request.headers().get("idempotency-key").cloned() else {
        return Ok(next.run(request).await);
    };
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    let key = key
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::field("Idempotency-Key", "must be 1 to 255 visible ASCII characters").into_response()
        })?
        .to_owned();
    let scope = {
        let auth = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .map(HeaderValue::as_bytes)
            .unwrap_or(b"");
        hex(&Sha256::digest(auth))
    };
    let (mut parts, body) = request.into_parts();
    let bytes =
        to_bytes(body, state.body_limit).await.map_err(|_| ApiError::PayloadTooLarge.into_response())?;
    let request_hash = {
        let mut hasher = Sha256::new();
        hasher.update(parts.method.as_str());
        hasher.update(parts.uri.path());
        hasher.update(&bytes);
        hex(&hasher.finalize())
    };
    let claim = Claim { state: state.clone(), scope, key };
    let resource_id = match claim.take(&request_hash).await.map_err(IntoResponse::into_response)? {
        Taken::Ours(resource_id) => resource_id,
        Taken::Answered(replay) => return Ok(replay),
    };
    parts
        .extensions
        .insert(IdempotencyContext { command_id: command_id_for(&claim.scope, &claim.key), resource_id });
    // Runs to the end and records its answer even if this future is dropped (the client hung
    // up): the retry then finds the answer instead of a claim that never settles.
    let request = Request::from_parts(parts, Body::from(bytes));
    let task = tokio::spawn(async move {
        let response = next.run(request).await;
        claim.settle(response).await
    });
    task.await.map_err(|error| ApiError::Internal(error.to_string()).into_response())
}

/// One caller's claim on one key.
struct Claim {
    state: AppState,
    scope: String,
    key: String,
}

/// What taking a claim found.
enum Taken {
    /// The claim is this request's; the resource id to create with.
    Ours(Uuid),
    /// The first request's answer, to replay.
    Answered(Response),
}

impl Claim {
    /// Takes the claim: a new one, or one whose request died without answering.
    async fn take(&self, request_hash: &str) -> Result<Taken, ApiError> {
        let lapse = self.state.idempotency_lapse.as_secs_f64();
        let fresh: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO idempotency_keys (scope, key, request_hash, status, body, resource_id, lease_until)
             VALUES ($1, $2, $3, 0, 'null', $4, now() + make_interval(secs => $5))
             ON CONFLICT DO NOTHING RETURNING resource_id",
        )
        .bind(&self.scope)
        .bind(&self.key)
        .bind(request_hash)
        .bind(Uuid::now_v7())
        .bind(lapse)
        .fetch_optional(&self.state.pool)
        .await?;
        if let Some(resource_id) = fresh {
            return Ok(Taken::Ours(resource_id));
        }
        let (stored_hash, status, body, headers): (
            String,
            i32,
            serde_json::Value,
            Option<serde_json::Value>,
        ) = sqlx::query_as(
            "SELECT request_hash, status, body, headers FROM idempotency_keys WHERE scope = $1 AND key = $2",
        )
        .bind(&self.scope)
        .bind(&self.key)
        .fetch_one(&self.state.pool)
        .await?;
        if stored_hash != request_hash {
            return Err(ApiError::IdempotencyMismatch);
        }
        if status != 0 {
            let status = StatusCode::from_u16(u16::try_from(status).unwrap_or(500)).unwrap_or(StatusCode::OK);
            let mut replay = (status, axum::Json(body)).into_response();
            let replayed = replay.headers_mut();
            for (name, value) in headers.as_ref().and_then(|h| h.as_object()).into_iter().flatten() {
                if let (Ok(name), Some(Ok(value))) = (
                    axum::http::HeaderName::try_from(name.as_str()),
                    value.as_str().map(HeaderValue::from_str),
                ) {
                    replayed.insert(name, value);
                }
            }
            replayed.insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(Taken::Answered(replay));
        }
        // Still unanswered: take it over only once its lease has lapsed (its request died).
        let lapsed: Option<Uuid> = sqlx::query_scalar(
            "UPDATE idempotency_keys SET lease_until = now() + make_interval(secs => $3),
                    resource_id = COALESCE(resource_id, gen_random_uuid())
              WHERE scope = $1 AND key = $2 AND status = 0 AND (lease_until IS NULL OR lease_until < now())
             RETURNING resource_id",
        )
        .bind(&self.scope)
        .bind(&self.key)
        .bind(lapse)
        .fetch_optional(&self.state.pool)
        .await?;
        lapsed.map(Taken::Ours).ok_or(ApiError::IdempotencyInFlight)
    }

    /// Records the answer for retries (or gives the key back after a server error, which was
    /// not the client's fault), and passes the answer on.
    async fn settle(self, response: Response) -> Response {
        let (parts, body) = response.into_parts();
        let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
        let outcome = if parts.status.is_server_error() {
            sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status = 0")
                .bind(&self.scope)
                .bind(&self.key)
                .execute(&self.state.pool)
                .await
        } else {
            let stored: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
            let headers: serde_json::Map<String, serde_json::Value> = ["location", "content-type", "etag"]
                .into_iter()
                .filter_map(|name| {
                    let value = parts.headers.get(name)?.to_str().ok()?;
                    Some((name.to_owned(), serde_json::Value::String(value.to_owned())))
                })
                .collect();
            sqlx::query(
                "UPDATE idempotency_keys SET status = $3, body = $4, headers = $5, lease_until = NULL
                  WHERE scope = $1 AND key = $2",
            )
            .bind(&self.scope)
            .bind(&self.key)
            .bind(i32::from(parts.status.as_u16()))
            .bind(stored)
            .bind(serde_json::Value::Object(headers))
            .execute(&self.state.pool)
            .await
        };
        if let Err(error) = outcome {
            tracing::warn!(%error, "could not record the idempotent response");
        }
        Response::from_parts(parts, Body::from(bytes))
    }
}

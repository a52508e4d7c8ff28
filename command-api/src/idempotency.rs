//! `Idempotency-Key` on POST: a retry with the same key and body gets the first answer and
//! appends nothing; the same key with another body is a 422; a retry while the first is still
//! running is a 409.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::secrets::hex;
use crate::AppState;

/// The middleware; installed on the command router.
pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match handle(&state, request, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn handle(state: &AppState, request: Request, next: Next) -> Result<Response, Response> {
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
    let (parts, body) = request.into_parts();
    let bytes =
        to_bytes(body, state.body_limit).await.map_err(|_| ApiError::PayloadTooLarge.into_response())?;
    let request_hash = {
        let mut hasher = Sha256::new();
        hasher.update(parts.method.as_str());
        hasher.update(parts.uri.path());
        hasher.update(&bytes);
        hex(&hasher.finalize())
    };
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, body) VALUES ($1, $2, $3, 0, 'null')
         ON CONFLICT DO NOTHING",
    )
    .bind(&scope)
    .bind(&key)
    .bind(&request_hash)
    .execute(&state.pool)
    .await
    .map_err(|e| ApiError::from(e).into_response())?
    .rows_affected()
        == 1;
    if !claimed {
        let (stored_hash, status, body): (String, i32, serde_json::Value) = sqlx::query_as(
            "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
        )
        .bind(&scope)
        .bind(&key)
        .fetch_one(&state.pool)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
        if stored_hash != request_hash {
            return Err(ApiError::IdempotencyMismatch.into_response());
        }
        if status == 0 {
            return Err(ApiError::IdempotencyInFlight.into_response());
        }
        let status = StatusCode::from_u16(u16::try_from(status).unwrap_or(500)).unwrap_or(StatusCode::OK);
        let mut replay = (status, axum::Json(body)).into_response();
        replay.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(replay);
    }

    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let outcome = if parts.status.is_server_error() {
        // Let the client retry a failure that was not its fault.
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2")
            .bind(&scope)
            .bind(&key)
            .execute(&state.pool)
            .await
    } else {
        let stored: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        sqlx::query("UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND key = $2")
            .bind(&scope)
            .bind(&key)
            .bind(i32::from(parts.status.as_u16()))
            .bind(stored)
            .execute(&state.pool)
            .await
    };
    if let Err(error) = outcome {
        tracing::warn!(%error, "could not record the idempotent response");
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

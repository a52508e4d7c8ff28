//! `berth-query-api`: the HTTP read side.
//!
//! Serves read models built by `berth-projections`, scoped to the caller's tenant. The
//! operational routes (`/healthz`, `/readyz`, `/metrics`) are added by the `berth` binary.
#![forbid(unsafe_code)]

pub mod error;

use axum::Router;
use sqlx::PgPool;

/// What every query handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The read-model database.
    pub pool: PgPool,
}

/// The query API's routes.
pub fn router(state: AppState) -> Router {
    Router::new().fallback(error::not_found).with_state(state)
}

//! `berth-command-api`: the HTTP write side.
//!
//! Requests become typed commands here and run through the event store's single entry point
//! (`EventStore::execute`). Bad input is answered with `application/problem+json` before
//! anything is appended. The operational routes (`/healthz`, `/readyz`, `/metrics`) are added
//! by the `berth` binary, which serves this router.
#![forbid(unsafe_code)]

pub mod error;

use axum::Router;
use berth_eventstore::store::EventStore;

/// What every command handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The event store commands run against.
    pub store: EventStore,
}

/// The command API's routes.
pub fn router(state: AppState) -> Router {
    Router::new().fallback(error::not_found).with_state(state)
}

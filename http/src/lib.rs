//! `berth-http`: what the command API and the query API share at the HTTP edge, so that both
//! answer alike: [`error::ApiError`], the one place where failures become RFC 9457 problem
//! details (`application/problem+json`), and [`extract`], extractors whose every rejection —
//! a bad body, query string or path — is such a problem naming the offending part.
//!
//! [`conditional`] holds ETags and `If-Match`/`If-None-Match`, and [`contract`] adds to each
//! OpenAPI document the parts every operation shares (problem responses, headers, servers).
//!
//! It sits below both APIs (which never import each other) and above the domain and the
//! event store, whose errors it maps.
#![forbid(unsafe_code)]

pub mod conditional;
pub mod contract;
pub mod date;
pub mod error;
pub mod extract;
pub mod ratelimit;
pub mod schema;

pub use error::{ApiError, Problem};

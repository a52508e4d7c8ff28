//! `berth`: the one binary, and the startup code it shares with the end-to-end tests.
//!
//! `berth serve` runs every role in one process; `berth command-api`, `query-api`, `relay`,
//! `projections` and `sagas` run one role each, and the single process is the same code as the
//! split roles. Layout: [`cli`] parses the command line, [`settings`] loads typed config,
//! [`connect`] reaches PostgreSQL and NATS with errors that say how to fix them, [`app`] wires
//! the roles together and [`ops`] adds `/healthz`, `/readyz` and `/metrics` to both APIs (or
//! serves them alone on `telemetry.addr` in a process without one), with [`horizon`]'s metric;
//! [`billing`] reads `[billing]` and applies it at start.
#![forbid(unsafe_code)]

pub mod app;
pub mod audit;
pub mod bench;
pub mod billing;
pub mod cli;
pub mod connect;
pub mod console;
pub mod cost_metrics;
pub mod horizon;
pub mod listeners;
pub mod ops;
pub mod settings;
pub mod telemetry;

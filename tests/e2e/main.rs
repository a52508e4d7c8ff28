//! End-to-end tests against real PostgreSQL and NATS JetStream (`deploy/dev test` starts them
//! and exports `DATABASE_URL` and `NATS_URL`). Each test gets its own database and stream.

mod commands;
mod common;
mod consumer;
mod feed;
mod outage;
mod projections;
mod relay;
mod startup;

//! End-to-end tests against real PostgreSQL and NATS JetStream (`deploy/dev test` starts them
//! and exports `DATABASE_URL` and `NATS_URL`). Each test gets its own database and stream.

mod api;
mod as_of;
mod audit_verify;
mod backups;
mod billing;
mod certificates;
mod certs_harness;
mod commands;
mod common;
mod consumer;
mod contract;
mod custom_domains;
mod dns;
mod exports;
mod feed;
mod idempotency;
mod identity;
mod isolation;
mod live;
mod mail;
mod node_failures;
mod node_loss;
mod nodes;
mod nodes_harness;
mod openapi;
mod outage;
mod problems;
mod projections;
mod relay;
mod revocation;
mod sites_api;
mod startup;
mod storage_faults;
mod timers;
mod two_factor;

//! `berth-sagas`: process managers for work that spans aggregates or touches the world.
//!
//! Every saga is a JetStream durable consumer (`berth_eventstore::consumer`) that keeps its
//! own state as events and reports outcomes back as commands. [`registry`] lists the sagas the
//! `sagas` role runs.
//!
//! The adapters that touch the world live here too: [`ssh`] runs commands on nodes over SSH
//! (russh) with a pinned host key; [`node`] holds the node sagas (bootstrap, provisioning,
//! health) built on it and on the node scripts in `deploy/node/`.
#![forbid(unsafe_code)]

pub mod node;
pub mod registry;
pub mod ssh;

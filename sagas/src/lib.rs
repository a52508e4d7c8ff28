//! `berth-sagas`: process managers for work that spans aggregates or touches the world.
//!
//! Every saga is a JetStream durable consumer (`berth_eventstore::consumer`) that keeps its
//! own state as events and reports outcomes back as commands. [`registry`] lists the sagas the
//! `sagas` role runs.
#![forbid(unsafe_code)]

pub mod registry;

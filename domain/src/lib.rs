//! `berth-domain`: the heart of Berth, and the bottom of the workspace.
//!
//! Aggregates, their commands and events, value objects and pure policies live here. Nothing
//! in this crate performs I/O, reads a clock or draws a random number: ids and times arrive
//! with the command, so every decision is a pure function of the history and the input. The
//! event store (`berth-eventstore`) loads and persists these aggregates; everything else
//! reads the events they emit.
//!
//! Layout: one module per aggregate (`organization`, `user`, `site`), value objects in their
//! own modules (`ids`, `domain_name`, `email`, `php`), and the permission matrix in `role`.
#![forbid(unsafe_code)]

pub mod allocation;
pub mod domain_name;
pub mod email;
pub mod ids;
pub mod money;
pub mod name;
pub mod node;
pub mod operator;
pub mod organization;
pub mod php;
pub mod role;
pub mod site;
pub mod user;

//! `berth-sagas`: process managers for work that spans aggregates or touches the world.
//!
//! A saga ([`saga::Saga`]) consumes typed events from a durable JetStream consumer, keeps its
//! state as events and reports every outcome back as a command; a worker ([`saga::Worker`])
//! runs on its own schedule (firing timers, probing nodes). Both are listed once in
//! [`registry`], which the binary, settings validation and the tests iterate over;
//! [`context`] holds what they are built from.
//!
//! The adapters that touch the world live here too: [`ssh`] runs commands on nodes over SSH
//! (russh) with a pinned host key; [`node`] holds the node sagas (bootstrap, provisioning,
//! health) built on it and on the node scripts in `deploy/node/`; [`timers`] fires durable
//! timers; [`dns`] puts zones on the DNS server (PowerDNS) and looks names up; [`acme`]
//! speaks to the certificate authority, for the [`certificates`] saga; [`domains`] verifies
//! custom domains; [`vies`] checks tenants' VAT ids (a trait, with a faithful fake until VIES
//! can be reached); [`billing`] holds the billing sagas (renewal and proration documents, VIES
//! checks, the site quota); [`mail`] queues and sends mail over SMTP, and holds the sagas that
//! mail invoices and certificate expiry notices; [`deploy`] puts sites' code on their nodes from
//! their git repositories; [`sftp`] makes sites' SFTP accounts on their nodes. Every saga reports its outcomes the same way
//! ([`outcome`]).
#![forbid(unsafe_code)]

pub mod acme;
pub mod backup;
pub mod billing;
pub mod certificates;
pub mod context;
pub mod cost_report;
pub mod deploy;
pub mod dns;
pub mod domains;
pub mod evacuation;
pub mod mail;
pub mod node;
pub mod outcome;
pub mod registry;
pub mod restore;
pub mod saga;
pub mod sealing;
pub mod sftp;
pub mod ssh;
pub mod staging;
pub mod timers;
pub mod usage;
pub mod vies;

//! `berth-projections`: the read models and the machinery that keeps them current.
//!
//! Each projection lives in its own PostgreSQL schema (`proj_<name>`) whose tables it owns and
//! creates from code, because a rebuild must be able to create them anew. The [`runtime`]
//! follows the commit-ordered feed and applies each batch together with the projection's
//! checkpoint in one transaction; [`rebuild`] replays the log into a fresh schema and swaps it
//! in atomically. Views receive typed events (decoded once through the domain's event
//! registry) and are listed in one registry, [`projection::all`]; each is a module of its own.
//! Every table with a `tenant_id` gets row-level security, enforced for the `berth_reader` role
//! the query API reads as.
#![forbid(unsafe_code)]

pub mod all_invoices;
pub mod audit;
pub mod backup_failures;
pub mod backups;
pub mod billing_profiles;
pub mod billing_setup;
pub mod certificate_watch;
pub mod certificates;
pub mod compare;
pub mod costs;
pub mod deployments;
pub mod domains;
pub mod evacuations;
pub mod identity;
pub mod invoices;
pub mod nodes;
pub mod payments;
pub mod plans;
pub mod projection;
pub mod rebuild;
pub mod restores;
pub mod revenue;
pub mod runtime;
mod scan;
pub mod security;
pub mod sftp_accounts;
mod site_moves;
mod site_staging;
pub mod sites;
pub mod subscriptions;
pub mod timers;
pub mod usage;
pub mod vat_report;
pub mod zones;

pub use projection::{all, Projection};

/// The log's export format and the tenant's events as exports read them: the query API
/// streams them to a tenant's owners.
pub use berth_eventstore::export;

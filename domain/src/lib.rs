//! `berth-domain`: the heart of Berth, and the bottom of the workspace.
//!
//! Aggregates, their commands and events, value objects and pure policies live here. Nothing
//! in this crate performs I/O, reads a clock or draws a random number: ids and times arrive
//! with the command, so every decision is a pure function of the history and the input. The
//! event store (`berth-eventstore`) loads and persists these aggregates; everything else
//! reads the events they emit.
//!
//! Layout: one module per aggregate (`organization`, `user`, `operator`, `site`, `node`,
//! `timer`, `zone`, `custom_domain`, `certificate`, `acme_account`, and for billing `seller`,
//! `series`, `plan`, `billing_profile`, `subscription`, `invoice`, `coupon`, `usage`,
//! `exchange_rate`, and `site_quota`, which holds a tenant's plan limit on sites; and for backups
//! `backup`, with its retention policy, `restore` and `backup_schedule`; and `repository`, a
//! site's git repository and its deployments, and `sftp`, a site's SFTP accounts), the billing
//! rules they share in `billing`, value objects in their own modules (`ids`, `domain_name`, `email`, `php`, `money`),
//! the permission matrix in `role`, and the joints every aggregate shares: [`aggregate`] (what
//! an event implies: unique values and timers), [`error`] (how a refusal is classified) and
//! [`event`] (the registry every stored event is decoded and upcast through).
#![forbid(unsafe_code)]

pub mod acme_account;
pub mod aggregate;
pub mod allocation;
pub mod backup;
pub mod backup_schedule;
pub mod billing;
pub mod billing_profile;
pub mod capacity;
pub mod certificate;
pub mod cost_model;
pub mod coupon;
pub mod custom_domain;
pub mod domain_name;
pub mod dunning;
pub mod email;
pub mod error;
pub mod evacuation;
pub mod event;
pub mod exchange_rate;
pub mod ids;
pub mod invoice;
pub mod money;
pub mod name;
pub mod node;
pub mod operator;
pub mod organization;
pub mod payment_account;
pub mod php;
pub mod plan;
pub mod privacy;
pub mod repository;
pub mod restore;
pub mod role;
pub mod security;
pub mod seller;
pub mod series;
pub mod sftp;
pub mod site;
pub mod site_quota;
pub mod subscription;
pub mod timer;
pub mod unique;
pub mod usage;
pub mod user;
pub mod webhook;
pub mod zone;

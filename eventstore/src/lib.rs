//! `berth-eventstore`: the event log and everything that reads it in order.
//!
//! Berth's system of record is one PostgreSQL table, `events` (postgres-es's layout, extended
//! with `global_position`, `transaction_id` and `recorded_at`). This crate owns it:
//!
//! - [`store`] loads aggregates (snapshot + newer events, read through postgres-es) and
//!   appends events, the command record and a wake-up notification in one transaction;
//! - [`execute`] is the one entry point that runs a command: idempotent by command id, with a
//!   bounded retry when another writer got to the aggregate first;
//! - [`feed`] is the commit-ordered, gap-safe read of the whole log, with LISTEN/NOTIFY
//!   wake-ups and a polling fallback; [`checkpoint`] stores where each reader has got to;
//! - [`relay`] publishes the feed to NATS JetStream under an advisory-lock leadership;
//! - [`recorded`] decodes stored events through the domain's event registry into the typed
//!   envelopes views and sagas receive;
//! - [`consumer`] sets up durable JetStream pull consumers and settles their failures, and
//!   [`steps`] is the saga runtime built on them (work outside the database: SSH, HTTP);
//! - [`timers`] keeps the durable timers aggregates declare, and fires them once; [`clock`] is
//!   where "now" comes from;
//! - [`credentials`] holds credentials and memberships (written with the events that change
//!   them) and the lookups that authenticate with them; [`credential_cache`] keeps recent
//!   bearer tokens in memory, evicted by notification the moment one loses power;
//! - [`migrate`] applies the SQL migrations in `migrations/`;
//! - [`vault`] keeps secrets (node SSH keys) encrypted at rest, outside the events;
//! - [`billing`] issues documents with their gapless numbers and subscribes with a coupon,
//!   each as one unit of work over several aggregates.
//!
//! Projections (`berth-projections`) build on [`feed`] and [`checkpoint`]; the APIs build on
//! [`execute`].
#![forbid(unsafe_code)]

pub mod append;
pub mod billing;
pub mod chain;
pub mod checkpoint;
pub mod clock;
pub mod consumer;
pub mod credential_cache;
pub mod credentials;
pub mod error;
pub mod execute;
pub mod export;
pub mod feed;
pub mod lag;
pub mod metadata;
pub mod migrate;
pub mod personal;
pub mod recorded;
pub mod relay;
pub mod reseal;
pub mod sealer;
pub mod shutdown;
pub mod steps;
pub mod store;
pub mod stream;
pub mod timers;
pub mod turns;
pub mod two_factor;
pub mod unit_of_work;
pub mod vault;
pub mod verify;

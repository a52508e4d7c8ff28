//! What every saga and worker is built from.

use std::sync::Arc;

use async_nats::jetstream;
use berth_eventstore::clock::Clock;
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::feed::FeedNotifier;
use berth_eventstore::store::EventStore;
use berth_eventstore::vault::Vault;
use sqlx::PgPool;

use crate::dns::resolver::Resolver;
use crate::dns::DnsProvider;
use crate::mail::Mail;
use crate::node::NodeWorkSettings;
use crate::ssh::NodeShell;

/// The shared parts of the sagas role in one process.
#[derive(Clone)]
pub struct SagaContext {
    /// The database (event store, timers, views read-only).
    pub pool: PgPool,
    /// The event store sagas record outcomes in.
    pub store: EventStore,
    /// How hard a saga's command retries a lost race.
    pub retry: RetryPolicy,
    /// JetStream, where sagas consume events.
    pub jetstream: jetstream::Context,
    /// The event stream's name.
    pub stream: String,
    /// The event subjects' prefix.
    pub subject_prefix: String,
    /// Opens node keys.
    pub vault: Vault,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// Wakes workers when the log moves.
    pub feed: FeedNotifier,
    /// Wakes the timer workers when a timer is scheduled.
    pub timer_wakeups: FeedNotifier,
    /// Runs commands on nodes (the SSH bridge, or a stand-in in tests).
    pub shell: Arc<dyn NodeShell>,
    /// How node work is done (verification, timeouts).
    pub nodes: NodeWorkSettings,
    /// When the documents the billing saga issues are due.
    pub billing: berth_eventstore::billing::BillingPolicy,
    /// The authoritative DNS server zones are put on.
    pub dns: Arc<dyn DnsProvider>,
    /// Looks names up (custom domain tokens, where a site's domain points).
    pub resolver: Arc<dyn Resolver>,
    /// Charges cards (none: no payment provider is configured, invoices are paid by transfer).
    pub payments: Option<Arc<dyn berth_payments::PaymentGateway>>,
    /// Outgoing mail: the outbox any saga queues mail in, and the server it goes out through.
    pub mail: Mail,
    /// Renders issued documents as PDF (or why it cannot: a font it needs is missing); the
    /// same renderer the query API serves them with.
    pub pdf: Arc<Result<berth_documents::PdfRenderer, String>>,
    /// Where backups go and how they are retried.
    pub backups: crate::backup::Backups,
    /// How deployments fetch and build code, and where their logs go.
    pub deploys: crate::deploy::Deploys,
}

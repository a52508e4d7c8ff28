//! The one registry of sagas and workers: the binary starts them from it, settings are
//! validated and documented from it, and the tests iterate over it. A new saga is its module
//! plus one line in [`all`].

use std::sync::Arc;

use berth_eventstore::consumer::ConsumerSettings;
use berth_eventstore::steps::{run_steps, run_steps_on_each};
use serde_json::Value;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::backup::gauges::BackupGauges;
use crate::backup::saga::BackupSaga;
use crate::backup::schedule::ScheduleSaga;
use crate::billing::collection::Collection;
use crate::billing::quota::QuotaRelease;
use crate::billing::renewal::Renewal;
use crate::billing::vat::VatCheck;
use crate::certificates::Certificates;
use crate::context::SagaContext;
use crate::cost_report::CostReportMail;
use crate::deploy::saga::DeploySaga;
use crate::dns::drift::DriftCheck;
use crate::dns::zones::Zones;
use crate::domains::Domains;
use crate::evacuation::loss::NodeLoss;
use crate::evacuation::Evacuation;
use crate::mail::backup::BackupMail;
use crate::mail::billing::BillingMail;
use crate::mail::certificate::CertificateMail;
use crate::mail::delivery::MailDelivery;
use crate::mail::deploy::DeployMail;
use crate::mail::invoice::InvoiceMail;
use crate::mail::site_moves::SiteMoveMail;
use crate::node::bootstrap::Bootstrap;
use crate::node::health::HealthProbe;
use crate::node::provision::Provisioning;
use crate::restore::RestoreSaga;
use crate::saga::{Saga, Worker};
use crate::sealing::Sealing;
use crate::sftp::SftpSaga;
use crate::staging::StagingSaga;
use crate::timers::TimerFiring;
use crate::usage::UsageSampling;

/// Every saga and worker, in the order they start.
pub fn all() -> Vec<Entry> {
    vec![
        saga::<Provisioning>(),
        saga::<Bootstrap>(),
        worker::<HealthProbe>(),
        worker::<UsageSampling>(),
        worker::<TimerFiring>(),
        saga::<Renewal>(),
        saga::<Collection>(),
        saga::<VatCheck>(),
        saga::<QuotaRelease>(),
        worker::<Sealing>(),
        saga::<Zones>(),
        worker::<DriftCheck>(),
        saga::<Certificates>(),
        saga::<Domains>(),
        worker::<MailDelivery>(),
        saga::<InvoiceMail>(),
        saga::<CertificateMail>(),
        saga::<BillingMail>(),
        saga::<BackupMail>(),
        saga::<BackupSaga>(),
        saga::<RestoreSaga>(),
        saga::<ScheduleSaga>(),
        worker::<BackupGauges>(),
        saga::<NodeLoss>(),
        saga::<Evacuation>(),
        saga::<SiteMoveMail>(),
        worker::<CostReportMail>(),
        saga::<DeploySaga>(),
        saga::<DeployMail>(),
        saga::<SftpSaga>(),
        saga::<StagingSaga>(),
    ]
}

/// A registered saga or worker, with what the registry needs to validate and start it.
pub struct Entry {
    /// Its name (settings section `[sagas.<name>]`).
    pub name: &'static str,
    /// The aggregate types whose events it consumes (empty for a worker).
    pub consumes: &'static [&'static str],
    defaults: fn() -> Value,
    check: fn(Option<&Value>) -> Result<(), String>,
    start: Starter,
}

/// Starts an entry from its settings section on a task set.
type Starter = fn(&SagaContext, Option<&Value>, &mut JoinSet<()>, &CancellationToken) -> Result<(), String>;

impl Entry {
    /// Its settings with every default, as they would be written in `berth.toml`.
    pub fn default_settings(&self) -> Value {
        (self.defaults)()
    }

    /// Checks its settings section (`None` when absent: the defaults apply).
    pub fn validate(&self, section: Option<&Value>) -> Result<(), String> {
        enabled(section).map_err(|e| format!("sagas.{}: {e}", self.name))?;
        (self.check)(own(section).as_ref()).map_err(|e| format!("sagas.{}: {e}", self.name))
    }

    /// Whether its section leaves it switched on (`enabled = false` switches it off, for a
    /// process that must not run it: a benchmark without nodes, say).
    pub fn enabled(&self, section: Option<&Value>) -> bool {
        enabled(section).unwrap_or(true)
    }

    /// Starts it on `tasks` with its settings section.
    pub fn start(
        &self,
        context: &SagaContext,
        section: Option<&Value>,
        tasks: &mut JoinSet<()>,
        shutdown: &CancellationToken,
    ) -> Result<(), String> {
        (self.start)(context, own(section).as_ref(), tasks, shutdown)
            .map_err(|e| format!("sagas.{}: {e}", self.name))
    }
}

/// The `enabled` switch every section may hold.
fn enabled(section: Option<&Value>) -> Result<bool, String> {
    match section.and_then(|s| s.get("enabled")) {
        None => Ok(true),
        Some(Value::Bool(on)) => Ok(*on),
        Some(other) => Err(format!("enabled must be true or false, not {other}")),
    }
}

/// The section without the switch: what the saga's own settings type reads.
fn own(section: Option<&Value>) -> Option<Value> {
    section.map(|s| match s {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(k, _)| *k != "enabled").map(|(k, v)| (k.clone(), v.clone())).collect(),
        ),
        other => other.clone(),
    })
}

/// Every setting key the registry knows, as `sagas.<name>.<key>`.
pub fn known_keys() -> Vec<String> {
    all()
        .iter()
        .flat_map(|entry| {
            let mut keys: Vec<String> = match entry.default_settings() {
                Value::Object(map) => map.keys().map(|k| format!("sagas.{}.{k}", entry.name)).collect(),
                _ => Vec::new(),
            };
            keys.push(format!("sagas.{}.enabled", entry.name));
            keys
        })
        .collect()
}

fn parse<T: crate::saga::SagaSettings>(section: Option<&Value>) -> Result<T, String> {
    match section {
        None => Ok(T::default()),
        Some(value) => serde_json::from_value(value.clone()).map_err(|e| e.to_string()),
    }
}

fn defaults<T: crate::saga::SagaSettings>() -> Value {
    serde_json::to_value(T::default()).unwrap_or(Value::Null)
}

fn saga<S: Saga>() -> Entry {
    Entry {
        name: S::NAME,
        consumes: S::AGGREGATES,
        defaults: defaults::<S::Settings>,
        check: |section| parse::<S::Settings>(section).map(drop),
        start: |context, section, tasks, shutdown| {
            let settings = parse::<S::Settings>(section)?;
            let tuning = S::tuning(&settings);
            // JetStream (before 2.10) filters one subject per consumer: a saga of several
            // aggregate types has a consumer per type, so it never receives the events of the
            // others. They all go by the saga's name for what was processed, and take over from
            // the one consumer of every event that such a saga had before.
            let name = format!("saga_{}", S::NAME);
            let consumer = |aggregate: &str| {
                let mut consumer = ConsumerSettings::new(
                    name.clone(),
                    format!("{}.*.{aggregate}.*", context.subject_prefix),
                );
                consumer.ack_wait = tuning.takeover;
                consumer
            };
            let step = Arc::new(SagaStep(S::build(context, &settings)));
            let (pool, jetstream, stream) =
                (context.pool.clone(), context.jetstream.clone(), context.stream.clone());
            let keys = context.store.keys().cloned();
            if let [one] = S::AGGREGATES {
                let run = run_steps(
                    pool,
                    jetstream,
                    stream,
                    consumer(one),
                    step,
                    tuning.concurrency,
                    shutdown.clone(),
                );
                tasks.spawn(berth_eventstore::personal::scoped(keys, run));
            } else {
                let consumers = S::AGGREGATES
                    .iter()
                    .map(|aggregate| ConsumerSettings {
                        durable: Some(format!("{name}_{aggregate}")),
                        replaces: Some(name.clone()),
                        ..consumer(aggregate)
                    })
                    .collect();
                let run = run_steps_on_each(
                    pool,
                    jetstream,
                    stream,
                    consumers,
                    step,
                    tuning.concurrency,
                    shutdown.clone(),
                );
                tasks.spawn(berth_eventstore::personal::scoped(keys, run));
            }
            Ok(())
        },
    }
}

fn worker<W: Worker>() -> Entry {
    Entry {
        name: W::NAME,
        consumes: &[],
        defaults: defaults::<W::Settings>,
        check: |section| parse::<W::Settings>(section).map(drop),
        start: |context, section, tasks, shutdown| {
            let settings = parse::<W::Settings>(section)?;
            tasks.spawn(W::build(context, &settings).run(shutdown.clone()));
            Ok(())
        },
    }
}

/// Adapts a [`Saga`] to the event store's step runtime.
struct SagaStep<S>(S);

impl<S: Saga> berth_eventstore::steps::Step for SagaStep<S> {
    fn wants(&self, event: &berth_eventstore::recorded::Recorded) -> bool {
        S::AGGREGATES.contains(&event.aggregate_type.as_str()) && self.0.wants(event)
    }

    async fn run(&self, event: &berth_eventstore::recorded::Recorded) -> berth_eventstore::steps::Outcome {
        self.0.handle(event).await
    }
}

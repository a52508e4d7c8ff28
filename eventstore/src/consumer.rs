//! Durable JetStream pull consumers: their settings, decoding, and how a failed message is
//! settled (redelivered after a growing delay, or after the last allowed delivery written to
//! `dead_letters` and terminated). The saga runtime in [`crate::steps`] is built on them.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, consumer::DeliverPolicy, AckKind};
use sqlx::PgPool;

use crate::feed::FeedEvent;
use crate::stream;

/// How a consumer is set up on the stream.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// The durable name; also the name used for dedup and dead letters.
    pub name: String,
    /// The subjects it receives (`berth.evt.>` for everything).
    pub filter_subject: String,
    /// Deliveries before giving up on a message.
    pub max_deliver: i64,
    /// Delay before each redelivery after a failure; the last one repeats.
    pub backoff: Vec<Duration>,
    /// How long the server waits for an acknowledgement before redelivering.
    pub ack_wait: Duration,
    /// The aggregate types it handles when its filter takes more (empty: every one). A message
    /// of another type is acknowledged from its subject alone, without reading its body.
    pub aggregates: Vec<String>,
    /// The JetStream consumer's own name, when it is not `name`: a saga of several aggregate
    /// types reads each type through a consumer of its own, all under the saga's `name` for
    /// what was processed and what was given up on.
    pub durable: Option<String>,
    /// A consumer this one takes over from: created fresh, it starts after everything that one
    /// had settled (whatever was delivered past that again is recognised as processed).
    pub replaces: Option<String>,
}

impl ConsumerSettings {
    /// Settings with the defaults: 60 deliveries, 1 s, 2 s, 5 s, 10 s, 30 s apart and then every
    /// 60 s, so a passing outage (PostgreSQL restarting, a node rebooting) is waited out for
    /// about an hour before an event is given up on.
    pub fn new(name: impl Into<String>, filter_subject: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            filter_subject: filter_subject.into(),
            max_deliver: 60,
            backoff: [1, 2, 5, 10, 30, 60].into_iter().map(Duration::from_secs).collect(),
            ack_wait: Duration::from_secs(30),
            aggregates: Vec::new(),
            durable: None,
            replaces: None,
        }
    }

    /// The JetStream consumer's name.
    pub fn durable_name(&self) -> &str {
        self.durable.as_deref().unwrap_or(&self.name)
    }

    /// Whether a message on `subject` (`<prefix>.<tenant>.<aggregate type>.<aggregate id>`) may
    /// be for this consumer.
    pub fn takes_subject(&self, subject: &str) -> bool {
        if self.aggregates.is_empty() {
            return true;
        }
        let mut tokens = subject.rsplit('.');
        let aggregate = tokens.nth(1).unwrap_or_default();
        self.aggregates.iter().any(|a| a == aggregate)
    }

    fn delay_after(&self, delivered: i64) -> Duration {
        let index = usize::try_from(delivered.saturating_sub(1)).unwrap_or_default();
        self.backoff.get(index).or(self.backoff.last()).copied().unwrap_or(Duration::from_secs(1))
    }
}

/// What happened to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Handled and acknowledged.
    Handled,
    /// Seen before by this consumer; acknowledged without handling.
    Duplicate,
    /// Failed; will be redelivered.
    Retry,
    /// Failed for the last time; recorded in `dead_letters`.
    DeadLettered,
}

/// The most messages the whole durable consumer may have delivered and not yet settled, over
/// every process that reads it. Each process bounds itself far lower (it only asks for as many
/// messages as it has room for, see [`crate::steps`]); this only caps a fleet of them, and is
/// NATS's own default written out.
pub const MAX_ACK_PENDING: i64 = 1000;

/// Creates the durable consumer `settings` describes, or brings an existing one to this
/// configuration (so a changed `ack_wait` or limit takes effect on the next start).
pub(crate) async fn durable(
    jetstream: &jetstream::Context,
    stream_name: &str,
    settings: &ConsumerSettings,
) -> Result<jetstream::consumer::PullConsumer, async_nats::Error> {
    let stream = jetstream.get_stream(stream_name).await?;
    let name = settings.durable_name();
    let mut config = pull::Config {
        durable_name: Some(name.to_owned()),
        filter_subject: settings.filter_subject.clone(),
        ack_policy: AckPolicy::Explicit,
        ack_wait: settings.ack_wait,
        max_deliver: settings.max_deliver,
        max_ack_pending: MAX_ACK_PENDING,
        ..Default::default()
    };
    match stream.consumer_info(name).await {
        // Where a consumer starts cannot change; the rest of its settings are brought up to date.
        Ok(info) => config.deliver_policy = info.config.deliver_policy,
        Err(_) => {
            if let Some(Ok(old)) = match &settings.replaces {
                Some(old) => Some(stream.consumer_info(old).await),
                None => None,
            } {
                let start_sequence = old.ack_floor.stream_sequence + 1;
                tracing::info!(
                    consumer = name,
                    replaces = old.name,
                    start_sequence,
                    "taking over from a consumer"
                );
                config.deliver_policy = DeliverPolicy::ByStartSequence { start_sequence };
            }
        }
    }
    Ok(stream.create_consumer(config).await?)
}

/// Creates every consumer of `consumers` (each taking over from the one it replaces), then
/// deletes the consumers they replace.
pub(crate) async fn take_over(
    jetstream: &jetstream::Context,
    stream_name: &str,
    consumers: &[ConsumerSettings],
) -> Result<(), async_nats::Error> {
    for settings in consumers {
        durable(jetstream, stream_name, settings).await?;
    }
    let stream = jetstream.get_stream(stream_name).await?;
    let mut replaced: Vec<&str> = consumers.iter().filter_map(|c| c.replaces.as_deref()).collect();
    replaced.dedup();
    for old in replaced {
        if stream.consumer_info(old).await.is_ok() {
            stream.delete_consumer(old).await?;
            tracing::info!(consumer = old, "replaced by one consumer per aggregate type; deleted");
        }
    }
    Ok(())
}

/// Decodes a message's event; one that does not decode is dead-lettered and terminated
/// (`None`): no number of redeliveries would make it readable.
pub(crate) async fn decode(
    pool: &PgPool,
    settings: &ConsumerSettings,
    message: &jetstream::Message,
) -> Result<Option<FeedEvent>, async_nats::Error> {
    match stream::decode(&message.payload) {
        Ok(event) => Ok(Some(event)),
        Err(error) => {
            let info = message.info()?;
            let (delivered, sequence) = (info.delivered, info.stream_sequence);
            dead_letter(pool, settings, message, None, delivered, sequence, &error.to_string()).await?;
            message.ack_with(AckKind::Term).await?;
            Ok(None)
        }
    }
}

/// Settles a message whose handling failed: redelivered after the backoff, or, after the last
/// allowed delivery, recorded in `dead_letters` and terminated.
pub(crate) async fn settle_failure(
    pool: &PgPool,
    settings: &ConsumerSettings,
    message: &jetstream::Message,
    event: &FeedEvent,
    error: &str,
) -> Result<Disposition, async_nats::Error> {
    let info = message.info()?;
    let (delivered, sequence) = (info.delivered, info.stream_sequence);
    if delivered >= settings.max_deliver {
        tracing::error!(%error, consumer = %settings.name, event_id = %event.event_id, "giving up on event");
        let id = Some(event.event_id);
        dead_letter(pool, settings, message, id, delivered, sequence, error).await?;
        message.ack_with(AckKind::Term).await?;
        Ok(Disposition::DeadLettered)
    } else {
        tracing::warn!(%error, consumer = %settings.name, event_id = %event.event_id, delivered, "event failed; will retry");
        message.ack_with(AckKind::Nak(Some(settings.delay_after(delivered)))).await?;
        Ok(Disposition::Retry)
    }
}

pub(crate) async fn dead_letter(
    pool: &PgPool,
    settings: &ConsumerSettings,
    message: &jetstream::Message,
    event_id: Option<uuid::Uuid>,
    delivered: i64,
    stream_sequence: u64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO dead_letters (consumer, event_id, subject, stream_sequence, deliveries, error, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&settings.name)
    .bind(event_id)
    .bind(message.subject.as_str())
    .bind(i64::try_from(stream_sequence).unwrap_or(i64::MAX))
    .bind(delivered)
    .bind(error)
    .bind(message.payload.as_ref())
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ConsumerSettings;

    #[test]
    fn a_consumer_of_some_aggregates_takes_their_subjects_only() {
        let mut settings = ConsumerSettings::new("saga_collection", "berth.evt.*.*.*");
        assert!(settings.takes_subject("berth.evt.platform.series.BRT"), "no list takes everything");
        settings.aggregates = vec!["invoice".to_owned(), "dunning".to_owned()];
        assert!(settings.takes_subject("berth.evt.0192b0c4-0000-7000-8000-000000000001.invoice.abc"));
        assert!(settings.takes_subject("berth.evt.platform.dunning.abc"));
        assert!(!settings.takes_subject("berth.evt.platform.series.BRT"));
        assert!(!settings.takes_subject("berth.evt.platform.invoice_view.x"), "whole tokens only");
    }
}

//! The JetStream side of the log: stream configuration, subjects and the wire message.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::feed::FeedEvent;

/// Where events are published.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// The stream's name (`BERTH_EVENTS` in production).
    pub name: String,
    /// The subject prefix (`berth.evt`): events go to `<prefix>.<tenant>.<type>.<id>`.
    pub subject_prefix: String,
    /// Stream replicas (3 on a JetStream cluster, 1 on a single server).
    pub replicas: usize,
    /// How long JetStream remembers a `Nats-Msg-Id` to drop a republished event.
    pub duplicate_window: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            name: "BERTH_EVENTS".to_owned(),
            subject_prefix: "berth.evt".to_owned(),
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
        }
    }
}

impl StreamSettings {
    /// The subject of one event.
    pub fn subject_for(&self, event: &FeedEvent) -> String {
        let tenant = event.tenant_id.map_or_else(|| "platform".to_owned(), |t| t.to_string());
        format!(
            "{}.{}.{}.{}",
            self.subject_prefix,
            token(&tenant),
            token(&event.aggregate_type),
            token(&event.aggregate_id)
        )
    }

    /// Creates the stream, or brings an existing one to this configuration.
    pub async fn ensure(&self, context: &jetstream::Context) -> Result<stream::Info, async_nats::Error> {
        let config = stream::Config {
            name: self.name.clone(),
            subjects: vec![format!("{}.>", self.subject_prefix)],
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            duplicate_window: self.duplicate_window,
            retention: stream::RetentionPolicy::Limits,
            discard: stream::DiscardPolicy::Old,
            ..Default::default()
        };
        Ok(context.create_or_update_stream(config).await?)
    }
}

/// A subject token: no dots, wildcards or whitespace.
fn token(raw: &str) -> String {
    raw.chars().map(|c| if c == '.' || c == '*' || c == '>' || c.is_whitespace() { '_' } else { c }).collect()
}

/// The body of a message on the stream: the event with its feed coordinates.
pub type WireEvent = FeedEvent;

/// Decodes a message body published by the relay.
pub fn decode(payload: &[u8]) -> Result<WireEvent, serde_json::Error> {
    serde_json::from_slice(payload)
}

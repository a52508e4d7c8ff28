//! Events as views and sagas receive them: decoded once, through the domain's event registry
//! (upcasting older versions), with their metadata typed.

use berth_domain::event::{DecodeError, Event};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::feed::{FeedEvent, FeedPosition};

/// Who and what caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// `user:<id>`, `token:<id>`, `operator:<id>`, `saga:<name>`, `timer:<key>` or `system:...`.
    pub actor: String,
    /// The command that appended it.
    pub command_id: Option<Uuid>,
    /// The id shared by everything one user action set off.
    pub correlation_id: Option<Uuid>,
    /// The event or command that caused it.
    pub causation_id: Option<Uuid>,
    /// The HTTP request id at the edge.
    pub request_id: Option<String>,
}

/// A stored event with its place in the feed and its typed payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// Where it is in the feed.
    pub position: FeedPosition,
    /// Its id.
    pub event_id: Uuid,
    /// The tenant it belongs to (`None` for platform-level aggregates).
    pub tenant_id: Option<Uuid>,
    /// The aggregate type (`site`).
    pub aggregate_type: String,
    /// The aggregate id.
    pub aggregate_id: String,
    /// Its sequence within its aggregate, from 1.
    pub sequence: i64,
    /// Its type as stored (`SiteCreated`).
    pub event_type: String,
    /// When it was recorded.
    pub recorded_at: OffsetDateTime,
    /// Who and what caused it.
    pub meta: EventMeta,
    /// The event, in its current version.
    pub event: Event,
    /// The payload as stored (for the audit trail, which shows it as it was written).
    pub stored_payload: serde_json::Value,
}

impl Recorded {
    /// Decodes a feed or stream event through the registry.
    pub fn decode(raw: &FeedEvent) -> Result<Self, DecodeError> {
        let event =
            Event::decode(&raw.aggregate_type, &raw.event_type, &raw.event_version, raw.payload.clone())?;
        let text = |key: &str| raw.meta(key).map(str::to_owned);
        let id = |key: &str| raw.meta(key).and_then(|v| v.parse().ok());
        Ok(Self {
            position: raw.position(),
            event_id: raw.event_id,
            tenant_id: raw.tenant_id,
            aggregate_type: raw.aggregate_type.clone(),
            aggregate_id: raw.aggregate_id.clone(),
            sequence: raw.sequence,
            event_type: raw.event_type.clone(),
            recorded_at: raw.recorded_at,
            meta: EventMeta {
                actor: text("actor").unwrap_or_else(|| "unknown".to_owned()),
                command_id: id("command_id"),
                correlation_id: id("correlation_id"),
                causation_id: id("causation_id"),
                request_id: text("request_id"),
            },
            event,
            stored_payload: raw.payload.clone(),
        })
    }

    /// The aggregate id as a UUID, for aggregates keyed by one.
    pub fn aggregate_uuid(&self) -> Option<Uuid> {
        self.aggregate_id.parse().ok()
    }

    /// Decodes a batch, keeping the events that read and reporting the others (logged and
    /// counted in `berth_events_undecodable_total`; the reader goes on without them).
    pub fn decode_all(raw: &[FeedEvent], reader: &str) -> Vec<Self> {
        raw.iter()
            .filter_map(|event| match Self::decode(event) {
                Ok(recorded) => Some(recorded),
                Err(error) => {
                    tracing::error!(%error, event_id = %event.event_id, reader, "event does not decode; skipped");
                    metrics::counter!("berth_events_undecodable_total", "reader" => reader.to_owned()).increment(1);
                    None
                }
            })
            .collect()
    }
}

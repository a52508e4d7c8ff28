//! `/v1/events/stream`: the tenant's events as Server-Sent Events, live from JetStream (for a
//! platform operator, every event: nodes', tenants', the platform's).
//!
//! Each event's SSE id is its JetStream sequence. A client that reconnects with
//! `Last-Event-ID` (browsers do this by themselves) resumes right after the last event it saw,
//! so a disconnect loses nothing. Without it, the stream starts with events from now on.

use std::convert::Infallible;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull::OrderedConfig, DeliverPolicy};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use berth_http::extract::ApiQuery;
use futures::{Stream, StreamExt};
use serde::Deserialize;

use crate::auth::Viewer;
use crate::AppState;
use berth_http::ApiError;

/// The live stream route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events/stream", get(stream))
}

/// `GET /v1/events/stream` parameters (for clients that cannot set headers).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    /// Same as the `Last-Event-ID` header, for clients that cannot set headers.
    #[param(pattern = "^[0-9]{1,20}$")]
    pub last_event_id: Option<String>,
}

/// One event on the live stream: the `data` of each Server-Sent Event, as JSON.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StreamEvent {
    /// The id of the transaction that wrote it (the feed orders by this, then the position).
    pub transaction_id: i64,
    /// Its position in the whole log.
    pub global_position: i64,
    /// Its id.
    pub event_id: uuid::Uuid,
    /// The tenant it belongs to.
    pub tenant_id: Option<uuid::Uuid>,
    /// The aggregate type (`site`, `organization`, `timer`, …).
    pub aggregate_type: String,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// Its sequence within the aggregate, from 1.
    pub sequence: i64,
    /// Its type (`SiteCreated`), also the SSE `event` field.
    pub event_type: String,
    /// The version of its payload's shape.
    pub event_version: String,
    /// The event as stored: `{"<Variant>": {<fields>}}`.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Who and what caused it: `actor`, `command_id`, `correlation_id`, `causation_id`,
    /// `request_id`, `recorded_at`.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub metadata: serde_json::Value,
    /// When it was recorded.
    #[schema(format = DateTime)]
    pub recorded_at: String,
}

/// The tenant's events (an operator's: all events), live, as Server-Sent Events.
///
/// Each SSE `id` is the stream sequence, `event` the event type and `data` a `StreamEvent`
/// (see the schema). Reconnecting with `Last-Event-ID` resumes right after that event.
#[utoipa::path(get, path = "/v1/events/stream", operation_id = "stream_events", tag = "events",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event (an SSE id from this stream)"), StreamParams),
    responses((status = 200, description = "Server-Sent Events: id = stream sequence, event = event type, data = a StreamEvent", content_type = "text/event-stream", body = String)),
    security(("bearer" = [])))]
async fn stream(
    State(state): State<AppState>,
    reader: Viewer,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(params.last_event_id)
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::field("Last-Event-ID", "not an id from this stream"))
        })
        .transpose()?;
    let deliver_policy = match last {
        Some(sequence) => {
            let start_sequence = sequence
                .checked_add(1)
                .ok_or_else(|| ApiError::field("Last-Event-ID", "not an id from this stream"))?;
            DeliverPolicy::ByStartSequence { start_sequence }
        }
        None => DeliverPolicy::New,
    };
    let stream = state.jetstream.get_stream(&state.stream).await.map_err(|_| ApiError::Unavailable)?;
    let config = OrderedConfig {
        filter_subject: match &reader {
            Viewer::Tenant(tenant) => format!("{}.{}.>", state.subject_prefix, tenant.tenant_id),
            Viewer::Operator(_) => format!("{}.>", state.subject_prefix),
        },
        deliver_policy,
        ..Default::default()
    };
    let consumer = stream.create_consumer(config).await.map_err(|_| ApiError::Unavailable)?;
    let messages = consumer.messages().await.map_err(|_| ApiError::Unavailable)?;
    // NATS holds the payloads as the log does, personal data sealed: opened here, per event,
    // so an erased person reads `[erased]` on a replay too.
    let keys = berth_eventstore::personal::current();
    let events = messages.filter_map(move |message| {
        let keys = keys.clone();
        async move {
            let message = message.ok()?;
            let sequence = message.info().ok()?.stream_sequence;
            let mut body: serde_json::Value = serde_json::from_slice(&message.payload).ok()?;
            if let (Some(keys), Some(payload)) = (keys.as_ref(), body.get_mut("payload")) {
                if berth_eventstore::personal::is_sealed(payload) && keys.open(payload).await.is_err() {
                    return None;
                }
            }
            let kind = body.get("event_type").and_then(|t| t.as_str()).unwrap_or("event").to_owned();
            Some(Ok(Event::default().id(sequence.to_string()).event(kind).data(body.to_string())))
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

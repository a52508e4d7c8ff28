//! `/v1/events/stream`: the tenant's events as Server-Sent Events, live from JetStream.
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

use crate::auth::Reader;
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
    /// Same as the `Last-Event-ID` header.
    pub last_event_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/events/stream", tag = "events", params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event"), StreamParams), responses((status = 200, description = "Server-Sent Events: id = stream sequence, event = event type, data = the event", content_type = "text/event-stream", body = String), (status = 400, description = "Bad parameter, naming it", body = berth_http::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = berth_http::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = berth_http::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = berth_http::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable, or not caught up yet", body = berth_http::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn stream(
    State(state): State<AppState>,
    reader: Reader,
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
        filter_subject: format!("{}.{}.>", state.subject_prefix, reader.tenant_id),
        deliver_policy,
        ..Default::default()
    };
    let consumer = stream.create_consumer(config).await.map_err(|_| ApiError::Unavailable)?;
    let messages = consumer.messages().await.map_err(|_| ApiError::Unavailable)?;
    let events = messages.filter_map(|message| async move {
        let message = message.ok()?;
        let sequence = message.info().ok()?.stream_sequence;
        let body: serde_json::Value = serde_json::from_slice(&message.payload).ok()?;
        let kind = body.get("event_type").and_then(|t| t.as_str()).unwrap_or("event").to_owned();
        Some(Ok(Event::default().id(sequence.to_string()).event(kind).data(body.to_string())))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

//! `?as_of=<RFC 3339>` on details: the state at that instant, folded from the log with the
//! domain's own aggregates (upcasting old event versions), not read from the live view. The
//! log is read under row-level security, so only the caller's tenant's events are folded.

use berth_domain::event::{decode_as, Versioned};
use berth_http::ApiError;
use cqrs_es::Aggregate;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::PgConnection;
use time::OffsetDateTime;

/// The parameters of a detail that can also be read as it was.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AsOfParams {
    /// Wait (up to 5 s) until the view reflects at least this version (read your own write).
    #[param(minimum = 0)]
    pub min_version: Option<i64>,
    /// The state at this instant (RFC 3339), folded from the log rather than read from the view.
    #[param(format = DateTime)]
    pub as_of: Option<String>,
}

/// Where a past state stands in the log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AsOf {
    /// The instant asked for.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The aggregate's version then: its last event at or before that instant.
    pub version: i64,
    /// That event's transaction (the feed's order).
    pub transaction_id: i64,
    /// That event's position in the log.
    pub global_position: i64,
}

/// An aggregate as it was.
pub struct Folded<A> {
    /// Its state.
    pub state: A,
    /// Where that is in the log.
    pub as_of: AsOf,
    /// When its first event was recorded.
    pub first_at: OffsetDateTime,
    /// When its last event then was recorded.
    pub last_at: OffsetDateTime,
}

/// Parses an `as_of` parameter; it cannot be combined with `min_version`.
pub fn parse(as_of: Option<&str>, min_version: Option<i64>) -> Result<Option<OffsetDateTime>, ApiError> {
    let Some(text) = as_of else { return Ok(None) };
    if min_version.is_some() {
        return Err(ApiError::field(
            "as_of",
            "a past state has no min_version to wait for; send one or the other",
        ));
    }
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(Some)
        .map_err(|_| ApiError::field("as_of", "must be an RFC 3339 time, such as 2026-01-31T12:00:00Z"))
}

type Row = (String, String, serde_json::Value, i64, i64, i64, OffsetDateTime);

/// Folds every event of `A` `aggregate_id` recorded at or before `at`; `None` if it had none.
pub async fn fold<A>(
    conn: &mut PgConnection,
    aggregate_id: &str,
    at: OffsetDateTime,
) -> Result<Option<Folded<A>>, ApiError>
where
    A: Aggregate,
    A::Event: Versioned + DeserializeOwned,
{
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT event_type, event_version, payload, sequence, transaction_id::text::bigint, global_position, recorded_at
           FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND recorded_at <= $3 ORDER BY sequence",
    )
    .bind(A::TYPE)
    .bind(aggregate_id)
    .bind(at)
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = rows;
    open_payloads(rows.iter_mut().map(|r| &mut r.2)).await?;
    Ok(fold_rows::<A>(rows, at))
}

/// Folds every aggregate of type `A` of the caller's tenant as it was at `at`.
pub async fn fold_all<A>(conn: &mut PgConnection, at: OffsetDateTime) -> Result<Vec<Folded<A>>, ApiError>
where
    A: Aggregate,
    A::Event: Versioned + DeserializeOwned,
{
    type Keyed = (String, String, String, serde_json::Value, i64, i64, i64, OffsetDateTime);
    let rows: Vec<Keyed> = sqlx::query_as(
        "SELECT aggregate_id, event_type, event_version, payload, sequence, transaction_id::text::bigint,
                global_position, recorded_at
           FROM events WHERE aggregate_type = $1 AND recorded_at <= $2 ORDER BY aggregate_id, sequence",
    )
    .bind(A::TYPE)
    .bind(at)
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = rows;
    open_payloads(rows.iter_mut().map(|r| &mut r.3)).await?;
    let mut folded = Vec::new();
    let mut current: Option<(String, Vec<Row>)> = None;
    for (id, event_type, version, payload, sequence, tx, position, recorded) in rows {
        match current.as_mut() {
            Some((open, events)) if *open == id => {
                events.push((event_type, version, payload, sequence, tx, position, recorded))
            }
            _ => {
                if let Some((_, events)) = current.take() {
                    folded.extend(fold_rows::<A>(events, at));
                }
                current = Some((id, vec![(event_type, version, payload, sequence, tx, position, recorded)]));
            }
        }
    }
    if let Some((_, events)) = current {
        folded.extend(fold_rows::<A>(events, at));
    }
    Ok(folded)
}

/// Opens the sealed personal data in `payloads` with the request's keys.
async fn open_payloads<'a>(
    payloads: impl Iterator<Item = &'a mut serde_json::Value>,
) -> Result<(), ApiError> {
    let Some(keys) = berth_eventstore::personal::current() else { return Ok(()) };
    let mut slots: Vec<&mut serde_json::Value> =
        payloads.filter(|p| berth_eventstore::personal::is_sealed(p)).collect();
    if slots.is_empty() {
        return Ok(());
    }
    let mut values: Vec<serde_json::Value> = slots.iter_mut().map(|p| std::mem::take(&mut **p)).collect();
    keys.open_many(&mut values).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    for (slot, value) in slots.into_iter().zip(values) {
        *slot = value;
    }
    Ok(())
}

fn fold_rows<A>(rows: Vec<Row>, at: OffsetDateTime) -> Option<Folded<A>>
where
    A: Aggregate,
    A::Event: Versioned + DeserializeOwned,
{
    let first_at = rows.first()?.6;
    let mut state = A::default();
    let mut as_of = AsOf { at, version: 0, transaction_id: 0, global_position: 0 };
    let mut last_at = first_at;
    for (event_type, event_version, payload, sequence, transaction_id, global_position, recorded_at) in rows {
        // An event that does not decode is one this build does not know: the state is
        // folded from what it does.
        match decode_as::<A::Event>(&event_type, &event_version, payload) {
            Ok(event) => state.apply(event),
            Err(error) => tracing::warn!(%error, event_type, "event skipped in a past state"),
        }
        as_of = AsOf { at, version: sequence, transaction_id, global_position };
        last_at = recorded_at;
    }
    Some(Folded { state, as_of, first_at, last_at })
}

//! `berth gdpr encrypt-existing`: seals the personal data of events written before payloads
//! were sealed, without rewriting history.
//!
//! What stays: every event's id, position, aggregate, sequence, type, version, metadata,
//! recording time and stored `hash` (the hash written at append, over the plain form), so the
//! chains link as they did and every signed seal (folded from stored hashes) still verifies.
//! What changes: the personal fields of the payload, replaced by envelopes, and nothing else.
//! Each event is checked against its stored hash first (a payload changed by hand is
//! refused, not laundered); the hash of its new form after the same predecessor is recorded
//! in the log itself, by a `LegacyPayloadsSealed` event (chained and sealed like any other),
//! and in `resealed_events` for exports. `berth audit verify` accepts a re-encoded event whose
//! present form hashes to a form hash the log attests; any other change is still found. The
//! views that copy payloads verbatim (the audit trail, the security log) are rebuilt after.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::chain::{self, Hash, Link, GENESIS};
use crate::error::StoreError;
use crate::metadata::CommandMetadata;
use crate::personal;
use crate::store::EventStore;

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resealed {
    /// Events whose personal fields were sealed.
    pub events: usize,
    /// Events refused because they no longer match their stored hash (ids).
    pub refused: Vec<Uuid>,
}

type Row = (
    Uuid,
    String,
    String,
    i64,
    String,
    String,
    Value,
    Value,
    OffsetDateTime,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

/// Seals every plain event's personal data, `batch` events per transaction.
pub async fn encrypt_existing(store: &EventStore, batch: i64) -> Result<Resealed, StoreError> {
    let keys =
        store.keys().ok_or_else(|| StoreError::Corrupt("sealing needs the master key".into()))?.clone();
    let pool = store.pool().clone();
    // Unhashed events are chained first, so every event has a hash to check against.
    chain::backfill(&pool).await?;
    let mut done = Resealed::default();
    let mut after = 0i64;
    loop {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT e.event_id, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, e.event_version, e.payload,
                    e.metadata, e.recorded_at, e.hash,
                    (SELECT p.hash FROM events p WHERE p.aggregate_type = e.aggregate_type
                        AND p.aggregate_id = e.aggregate_id AND p.sequence = e.sequence - 1)
               FROM events e
              WHERE e.global_position > $1 AND e.aggregate_type NOT IN ('operator', 'data_subject')
              ORDER BY e.global_position LIMIT $2",
        )
        .bind(after)
        .bind(batch.max(1))
        .fetch_all(&pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = sqlx::query_scalar("SELECT global_position FROM events WHERE event_id = $1")
            .bind(last.0)
            .fetch_one(&pool)
            .await?;
        let mut changed: Vec<(Uuid, Value, Value, Hash)> = Vec::new();
        for (event_id, kind, id, sequence, event_type, version, payload, metadata, recorded_at, hash, prev) in
            rows
        {
            if personal::sites(&keys, &kind, &id, &event_type, &payload).is_empty() {
                continue;
            }
            let prev =
                if sequence <= 1 { GENESIS } else { chain::from_bytes(prev.as_deref()).unwrap_or(GENESIS) };
            let link = |payload: &Value| {
                Link {
                    aggregate_type: &kind,
                    aggregate_id: &id,
                    sequence,
                    event_type: &event_type,
                    event_version: &version,
                    payload,
                    metadata: &metadata,
                    recorded_at,
                }
                .hash(&prev)
            };
            if chain::from_bytes(hash.as_deref()) != Some(link(&payload)) {
                tracing::error!(%event_id, "event does not match its stored hash; not re-encoded");
                done.refused.push(event_id);
                continue;
            }
            let mut sealed = payload.clone();
            keys.seal(&mut [(kind.as_str(), id.as_str(), event_type.as_str(), &mut sealed)]).await?;
            let form = link(&sealed);
            changed.push((event_id, payload, sealed, form));
        }
        if changed.is_empty() {
            continue;
        }
        // The log attests the new forms first; then the payloads change, guarded on their
        // old content (a concurrent change makes the row count come short and is reported).
        let attested: Vec<(Uuid, String)> =
            changed.iter().map(|(id, _, _, form)| (*id, chain::hex(form))).collect();
        let run = format!("legacy-reseal:{}", Uuid::now_v7());
        store
            .execute::<berth_domain::privacy::DataSubject>(
                &run,
                berth_domain::privacy::SubjectCommand::RecordResealed { events: attested },
                &CommandMetadata::new(None, "system:gdpr-encrypt-existing"),
                crate::execute::RetryPolicy::default(),
            )
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = pool.begin().await?;
        for (event_id, old, new, form) in &changed {
            let updated = sqlx::query("UPDATE events SET payload = $2 WHERE event_id = $1 AND payload = $3")
                .bind(event_id)
                .bind(new)
                .bind(old)
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 1 {
                sqlx::query(
                    "INSERT INTO resealed_events (event_id, form_hash) VALUES ($1, $2)
                     ON CONFLICT (event_id) DO UPDATE SET form_hash = EXCLUDED.form_hash, sealed_at = now()",
                )
                .bind(event_id)
                .bind(form.to_vec())
                .execute(&mut *tx)
                .await?;
                done.events += 1;
            } else {
                done.refused.push(*event_id);
            }
        }
        tx.commit().await?;
    }
    Ok(done)
}

/// The form hashes the log attests for re-encoded events (`LegacyPayloadsSealed` events).
pub async fn attested(pool: &PgPool) -> Result<HashMap<Uuid, HashSet<String>>, StoreError> {
    let payloads: Vec<Value> = sqlx::query_scalar(
        "SELECT payload FROM events WHERE aggregate_type = 'data_subject' AND event_type = 'LegacyPayloadsSealed'",
    )
    .fetch_all(pool)
    .await?;
    let mut out: HashMap<Uuid, HashSet<String>> = HashMap::new();
    for payload in payloads {
        let pairs = payload
            .pointer("/LegacyPayloadsSealed/events")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for pair in pairs {
            let (Some(id), Some(form)) = (
                pair.get(0).and_then(Value::as_str).and_then(|s| s.parse::<Uuid>().ok()),
                pair.get(1).and_then(Value::as_str),
            ) else {
                continue;
            };
            out.entry(id).or_default().insert(form.to_owned());
        }
    }
    Ok(out)
}

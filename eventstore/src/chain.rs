//! Tamper evidence, per aggregate: every event's hash covers its canonical form and the hash
//! of the event before it in its aggregate, so changing, removing or reordering an event breaks
//! the chain from there on. Hashes are computed when the event is appended, from what the
//! writer already holds (the previous hash comes with the aggregate's load): no lock beyond
//! the aggregate's own.
//!
//! The canonical form is a JSON object with these members, keys sorted by code point, no
//! whitespace, strings escaped as JSON requires (and control characters as `\u00XX` except
//! `\b \f \n \r \t`):
//!
//! `aggregate_id`, `aggregate_type`, `event_type`, `event_version`, `metadata` (the stored
//! object), `payload` (the stored object), `prev` (the previous event's hash in lowercase hex;
//! 64 zeros for an aggregate's first event), `recorded_at` (UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ`),
//! `sequence` (a number).
//!
//! The hash is SHA-256 of its UTF-8 bytes. Python reproduces it with
//! `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::error::StoreError;

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The `prev` of an aggregate's first event.
pub const GENESIS: Hash = [0; 32];

/// The stored fields of one event that its hash covers.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    /// The aggregate type.
    pub aggregate_type: &'a str,
    /// The aggregate id.
    pub aggregate_id: &'a str,
    /// The sequence within the aggregate.
    pub sequence: i64,
    /// The event type.
    pub event_type: &'a str,
    /// The payload version.
    pub event_version: &'a str,
    /// The payload as stored.
    pub payload: &'a Value,
    /// The metadata as stored.
    pub metadata: &'a Value,
    /// When it was recorded (microseconds: what PostgreSQL keeps).
    pub recorded_at: OffsetDateTime,
}

impl Link<'_> {
    /// The canonical form of this event after `prev`.
    pub fn canonical(&self, prev: &Hash) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("{\"aggregate_id\":");
        push_string(&mut out, self.aggregate_id);
        out.push_str(",\"aggregate_type\":");
        push_string(&mut out, self.aggregate_type);
        out.push_str(",\"event_type\":");
        push_string(&mut out, self.event_type);
        out.push_str(",\"event_version\":");
        push_string(&mut out, self.event_version);
        out.push_str(",\"metadata\":");
        push_value(&mut out, self.metadata);
        out.push_str(",\"payload\":");
        push_value(&mut out, self.payload);
        out.push_str(",\"prev\":\"");
        out.push_str(&hex(prev));
        out.push_str("\",\"recorded_at\":");
        push_string(&mut out, &timestamp(self.recorded_at));
        out.push_str(",\"sequence\":");
        out.push_str(&self.sequence.to_string());
        out.push('}');
        out
    }

    /// This event's hash after `prev`.
    pub fn hash(&self, prev: &Hash) -> Hash {
        Sha256::digest(self.canonical(prev).as_bytes()).into()
    }
}

/// A time as the chain writes it: UTC with six fractional digits.
pub fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

/// `at` without its nanoseconds: a recording time as PostgreSQL will store it, so that what is
/// hashed at append is what is read back.
pub fn to_micros(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(at.nanosecond() / 1000 * 1000).unwrap_or(at)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A hash from the database (`None`, or another length, is no hash).
pub fn from_bytes(bytes: Option<&[u8]>) -> Option<Hash> {
    bytes.and_then(|b| b.try_into().ok())
}

/// `value` in the canonical form: keys sorted by code point, no whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    push_value(&mut out, value);
    out
}

fn push_string(out: &mut String, text: &str) {
    // serde_json escapes exactly as the canonical form says.
    out.push_str(&serde_json::to_string(text).unwrap_or_default());
}

fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (n, key) in keys.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                push_string(out, key);
                out.push(':');
                push_value(out, &map[key]);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                push_value(out, item);
            }
            out.push(']');
        }
        Value::String(text) => push_string(out, text),
        other => out.push_str(&other.to_string()),
    }
}

/// Chains the events of one aggregate that have no hash yet (written before hashes existed, or
/// by a writer that did not know the previous hash): every event of the aggregate is read in
/// order, hashed after the one before, and the missing hashes are stored. Returns the hash of
/// its last event. Existing hashes are never overwritten: a stored hash that does not match is
/// for `audit verify` to report.
pub async fn heal(
    conn: &mut PgConnection,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Hash, StoreError> {
    type Row = (i64, String, String, Value, Value, OffsetDateTime, Option<Vec<u8>>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT sequence, event_type, event_version, payload, metadata, recorded_at, hash FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut prev = GENESIS;
    let (mut sequences, mut hashes) = (Vec::new(), Vec::new());
    for (sequence, event_type, event_version, payload, metadata, recorded_at, stored) in &rows {
        let link = Link {
            aggregate_type,
            aggregate_id,
            sequence: *sequence,
            event_type,
            event_version,
            payload,
            metadata,
            recorded_at: *recorded_at,
        };
        let hash = from_bytes(stored.as_deref()).unwrap_or_else(|| {
            let hash = link.hash(&prev);
            sequences.push(*sequence);
            hashes.push(hash.to_vec());
            hash
        });
        prev = hash;
    }
    if !sequences.is_empty() {
        sqlx::query(
            "UPDATE events e SET hash = h.hash FROM UNNEST($3::bigint[], $4::bytea[]) AS h(sequence, hash)
              WHERE e.aggregate_type = $1 AND e.aggregate_id = $2 AND e.sequence = h.sequence AND e.hash IS NULL",
        )
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(&sequences)
        .bind(&hashes)
        .execute(&mut *conn)
        .await?;
    }
    Ok(prev)
}

/// The hash of the event before sequence `sequence` of an aggregate, given what a statement
/// found for it: none before the first event, and a chain healed first if it was missing.
pub async fn before(
    conn: &mut PgConnection,
    aggregate_type: &str,
    aggregate_id: &str,
    sequence: i64,
    found: Option<Vec<u8>>,
) -> Result<Hash, StoreError> {
    if sequence <= 1 {
        return Ok(GENESIS);
    }
    match from_bytes(found.as_deref()) {
        Some(hash) => Ok(hash),
        None => heal(conn, aggregate_type, aggregate_id).await,
    }
}

/// Chains every event that has no hash yet (run with the migrations, and by the sealer when it
/// meets one): in batches, in aggregate order, each after the hash of the event before it.
pub async fn backfill(pool: &PgPool) -> Result<usize, StoreError> {
    type Row = (String, String, i64, String, String, Value, Value, OffsetDateTime, Option<Vec<u8>>);
    let mut chained = 0;
    loop {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, e.event_version, e.payload, e.metadata,
                    e.recorded_at,
                    (SELECT p.hash FROM events p WHERE p.aggregate_type = e.aggregate_type
                        AND p.aggregate_id = e.aggregate_id AND p.sequence = e.sequence - 1)
               FROM events e WHERE e.hash IS NULL
              ORDER BY e.aggregate_type, e.aggregate_id, e.sequence LIMIT 5000",
        )
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            return Ok(chained);
        }
        let (mut kinds, mut ids, mut sequences, mut hashes) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut last: Option<(String, String, i64, Hash)> = None;
        for (kind, id, sequence, event_type, event_version, payload, metadata, recorded_at, stored_prev) in
            &rows
        {
            let prev = match &last {
                // Its predecessor is in this batch: its hash was just computed.
                Some((k, i, s, h)) if k == kind && i == id && *s + 1 == *sequence => *h,
                _ => from_bytes(stored_prev.as_deref()).unwrap_or(GENESIS),
            };
            let link = Link {
                aggregate_type: kind,
                aggregate_id: id,
                sequence: *sequence,
                event_type,
                event_version,
                payload,
                metadata,
                recorded_at: *recorded_at,
            };
            let hash = link.hash(&prev);
            kinds.push(kind.clone());
            ids.push(id.clone());
            sequences.push(*sequence);
            hashes.push(hash.to_vec());
            last = Some((kind.clone(), id.clone(), *sequence, hash));
        }
        sqlx::query(
            "UPDATE events e SET hash = h.hash
               FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bytea[]) AS h(t, i, s, hash)
              WHERE e.aggregate_type = h.t AND e.aggregate_id = h.i AND e.sequence = h.s AND e.hash IS NULL",
        )
        .bind(&kinds)
        .bind(&ids)
        .bind(&sequences)
        .bind(&hashes)
        .execute(pool)
        .await?;
        chained += rows.len();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn link<'a>(payload: &'a Value, metadata: &'a Value) -> Link<'a> {
        Link {
            aggregate_type: "site",
            aggregate_id: "a\"b",
            sequence: 2,
            event_type: "SiteCreated",
            event_version: "1",
            payload,
            metadata,
            recorded_at: OffsetDateTime::from_unix_timestamp_nanos(1_764_547_200_123_456_000).unwrap(),
        }
    }

    #[test]
    fn the_canonical_form_sorts_keys_and_has_no_whitespace() {
        let payload = json!({"Created": {"z": [1, {"b": true, "a": null}], "a": "é\n"}});
        let metadata = json!({"actor": "user:1", "event_id": "x"});
        let text = link(&payload, &metadata).canonical(&GENESIS);
        assert_eq!(
            text,
            format!(
                "{{\"aggregate_id\":\"a\\\"b\",\"aggregate_type\":\"site\",\"event_type\":\"SiteCreated\",\
                 \"event_version\":\"1\",\"metadata\":{{\"actor\":\"user:1\",\"event_id\":\"x\"}},\
                 \"payload\":{{\"Created\":{{\"a\":\"é\\n\",\"z\":[1,{{\"a\":null,\"b\":true}}]}}}},\
                 \"prev\":\"{}\",\"recorded_at\":\"2025-12-01T00:00:00.123456Z\",\"sequence\":2}}",
                "0".repeat(64)
            )
        );
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let (payload, metadata) = (json!({"a": 1}), json!({"actor": "x"}));
        let base = link(&payload, &metadata);
        let hash = base.hash(&GENESIS);
        let other_payload = json!({"a": 2});
        assert_ne!(Link { payload: &other_payload, ..base }.hash(&GENESIS), hash);
        assert_ne!(Link { sequence: 3, ..base }.hash(&GENESIS), hash);
        assert_ne!(base.hash(&[1; 32]), hash);
        assert_eq!(base.hash(&GENESIS), hash, "deterministic");
    }

    #[test]
    fn recording_times_keep_microseconds() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_000_000_123_456_789).unwrap();
        assert_eq!(to_micros(at).nanosecond(), 123_456_000);
    }
}

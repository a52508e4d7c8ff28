//! Exports of a tenant's events that can be checked without Berth.
//!
//! An export is a directory: `events.jsonl`, one [`ExportLine`] per event in feed order, each
//! with its hash and the hash of the event before it in its aggregate; and `manifest.json`,
//! which names the tenant, the window, the count, the first and last positions and the
//! SHA-256 of `events.jsonl`, and is signed with the sealer's key. `verify` checks all of it
//! offline with the public key alone (`GET /v1/audit/key` publishes it).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::chain::{self, Link};

/// The tenant's events after a feed position, recorded within a window, in feed order, with
/// the hash of each one's predecessor: `$1` tenant, `$2`/`$3` after (transaction id, global
/// position), `$4`/`$5` recorded from/before (either may be null), `$6` at most. Used by the
/// command-line export and by the query API's streamed one (under row-level security).
pub const TENANT_EVENTS: &str = "
    SELECT e.transaction_id::text::bigint AS transaction_id, e.global_position, e.event_id, e.tenant_id,
           e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, e.event_version, e.payload, e.metadata,
           e.recorded_at, e.hash,
           (SELECT p.hash FROM events p WHERE p.aggregate_type = e.aggregate_type
               AND p.aggregate_id = e.aggregate_id AND p.sequence = e.sequence - 1) AS prev,
           (SELECT r.form_hash FROM resealed_events r WHERE r.event_id = e.event_id) AS resealed
      FROM events e
     WHERE e.tenant_id = $1
       AND (e.transaction_id, e.global_position) > ($2::bigint::text::xid8, $3)
       AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       AND ($4::timestamptz IS NULL OR e.recorded_at >= $4)
       AND ($5::timestamptz IS NULL OR e.recorded_at < $5)
     ORDER BY e.transaction_id, e.global_position
     LIMIT $6";

/// One event of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportLine {
    /// The writing transaction (the feed orders by it, then the position).
    pub transaction_id: i64,
    /// Its position in the whole log.
    pub global_position: i64,
    /// Its id.
    pub event_id: Uuid,
    /// Its tenant.
    pub tenant_id: Option<Uuid>,
    /// The aggregate type.
    pub aggregate_type: String,
    /// The aggregate id.
    pub aggregate_id: String,
    /// Its sequence in the aggregate.
    pub sequence: i64,
    /// Its type.
    pub event_type: String,
    /// Its payload's version.
    pub event_version: String,
    /// The payload as stored.
    pub payload: Value,
    /// The metadata as stored.
    pub metadata: Value,
    /// When it was recorded, as the chain writes it.
    pub recorded_at: String,
    /// Its hash (hex).
    pub hash: String,
    /// The hash of the aggregate's event before it (hex; zeros for the first).
    pub prev: String,
    /// The payload with its sealed personal data opened (`[erased]` where the key is
    /// destroyed), when it holds any. Not part of the hash: `payload` is what was hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened: Option<Value>,
    /// For an event written before personal data was sealed and re-encoded since: the hash
    /// of its present payload form, as the log's `LegacyPayloadsSealed` event records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resealed: Option<String>,
}

/// Fills in `opened` for the lines whose payloads hold sealed personal data, with the task's
/// keys (see [`crate::personal::current`]).
pub async fn open_lines(lines: &mut [ExportLine]) -> Result<(), crate::error::StoreError> {
    open_lines_with(crate::personal::current().as_ref(), lines).await
}

/// Fills in `opened` with `keys` (none: nothing to open with).
pub async fn open_lines_with(
    keys: Option<&crate::personal::Keys>,
    lines: &mut [ExportLine],
) -> Result<(), crate::error::StoreError> {
    let Some(keys) = keys else { return Ok(()) };
    let sealed: Vec<usize> =
        (0..lines.len()).filter(|&i| crate::personal::is_sealed(&lines[i].payload)).collect();
    if sealed.is_empty() {
        return Ok(());
    }
    let mut payloads: Vec<Value> = sealed.iter().map(|&i| lines[i].payload.clone()).collect();
    keys.open_many(&mut payloads).await?;
    for (i, payload) in sealed.into_iter().zip(payloads) {
        lines[i].opened = Some(payload);
    }
    Ok(())
}

/// A row of [`TENANT_EVENTS`].
#[derive(sqlx::FromRow)]
struct Row {
    transaction_id: i64,
    global_position: i64,
    event_id: Uuid,
    tenant_id: Option<Uuid>,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: Value,
    metadata: Value,
    recorded_at: OffsetDateTime,
    hash: Option<Vec<u8>>,
    prev: Option<Vec<u8>>,
    resealed: Option<Vec<u8>>,
}

impl From<Row> for ExportLine {
    fn from(row: Row) -> Self {
        let prev = if row.sequence <= 1 { Some(chain::GENESIS.to_vec()) } else { row.prev };
        Self {
            transaction_id: row.transaction_id,
            global_position: row.global_position,
            event_id: row.event_id,
            tenant_id: row.tenant_id,
            aggregate_type: row.aggregate_type,
            aggregate_id: row.aggregate_id,
            sequence: row.sequence,
            event_type: row.event_type,
            event_version: row.event_version,
            payload: row.payload,
            metadata: row.metadata,
            recorded_at: chain::timestamp(row.recorded_at),
            hash: row.hash.as_deref().map(chain::hex).unwrap_or_default(),
            prev: prev.as_deref().map(chain::hex).unwrap_or_default(),
            opened: None,
            resealed: row.resealed.as_deref().map(chain::hex),
        }
    }
}

impl ExportLine {
    /// Whether the line hashes to its `hash` after its `prev`.
    pub fn hash_checks(&self) -> bool {
        let (Ok(recorded_at), Some(prev)) = (
            OffsetDateTime::parse(&self.recorded_at, &time::format_description::well_known::Rfc3339),
            unhex(&self.prev),
        ) else {
            return false;
        };
        let link = Link {
            aggregate_type: &self.aggregate_type,
            aggregate_id: &self.aggregate_id,
            sequence: self.sequence,
            event_type: &self.event_type,
            event_version: &self.event_version,
            payload: &self.payload,
            metadata: &self.metadata,
            recorded_at,
        };
        let hash = chain::hex(&link.hash(&prev));
        // A re-encoded legacy event: its stored hash (which the chain links) was over the plain
        // form; its present form hashes to the recorded `resealed` hash instead.
        hash == self.hash || self.resealed.as_deref() == Some(hash.as_str())
    }
}

/// A window of an export: after a position, recorded from and before given times.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    /// After this (transaction id, global position).
    pub after: (i64, i64),
    /// Recorded at or after.
    pub from: Option<OffsetDateTime>,
    /// Recorded before.
    pub to: Option<OffsetDateTime>,
}

/// Up to `limit` of `tenant`'s events in `window`.
pub async fn tenant_events<'e>(
    executor: impl PgExecutor<'e>,
    tenant: Uuid,
    window: Window,
    limit: i64,
) -> Result<Vec<ExportLine>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(TENANT_EVENTS)
        .bind(tenant)
        .bind(window.after.0)
        .bind(window.after.1)
        .bind(window.from)
        .bind(window.to)
        .bind(limit)
        .fetch_all(executor)
        .await?;
    Ok(rows.into_iter().map(ExportLine::from).collect())
}

/// The manifest's members, without its signature.
pub fn manifest(
    tenant: Uuid,
    window: Window,
    lines: &[ExportLine],
    events_sha256: &str,
    key_id: &str,
    public_key: &[u8],
) -> Value {
    let at = |l: Option<&ExportLine>| {
        l.map(|l| json!({"transaction_id": l.transaction_id, "global_position": l.global_position}))
    };
    json!({
        "format": "berth-export/1",
        "tenant": tenant,
        "from": window.from.map(chain::timestamp),
        "to": window.to.map(chain::timestamp),
        "count": lines.len(),
        "first": at(lines.first()),
        "last": at(lines.last()),
        "events_sha256": events_sha256,
        "key_id": key_id,
        "public_key": chain::hex(public_key),
    })
}

/// The bytes a manifest's signature covers: its canonical form without `signature`.
pub fn signed_bytes(manifest: &Value) -> Vec<u8> {
    let mut unsigned = manifest.clone();
    if let Some(map) = unsigned.as_object_mut() {
        map.remove("signature");
    }
    chain::canonical_json(&unsigned).into_bytes()
}

/// Writes `tenant`'s events in `window` to `out` (`events.jsonl`, `manifest.json` signed with
/// the sealer's key); how many.
pub async fn write(
    pool: &sqlx::PgPool,
    vault: &crate::vault::Vault,
    tenant: Uuid,
    window: Window,
    out: &Path,
) -> Result<usize, crate::error::StoreError> {
    use ring::signature::KeyPair as _;
    let io = |e: std::io::Error| crate::error::StoreError::Corrupt(format!("{}: {e}", out.display()));
    let (key_id, key) = crate::sealer::signing_key(pool, vault).await?;
    std::fs::create_dir_all(out).map_err(io)?;
    let (mut lines, mut body) = (Vec::new(), Vec::new());
    let mut cursor = window;
    loop {
        let mut batch = tenant_events(pool, tenant, cursor, 5000).await?;
        open_lines(&mut batch).await?;
        let Some(last) = batch.last() else { break };
        cursor.after = (last.transaction_id, last.global_position);
        for line in &batch {
            body.extend(serde_json::to_vec(line).unwrap_or_default());
            body.push(b'\n');
        }
        lines.extend(batch);
    }
    let digest = chain::hex(&Sha256::digest(&body));
    let mut manifest = manifest(tenant, window, &lines, &digest, &key_id, key.public_key().as_ref());
    let signature = key.sign(&signed_bytes(&manifest));
    manifest["signature"] = Value::String(chain::hex(signature.as_ref()));
    std::fs::write(out.join("events.jsonl"), &body).map_err(io)?;
    std::fs::write(out.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap_or_default())
        .map_err(io)?;
    Ok(lines.len())
}

/// What checking an export found wrong (nothing, when it checks out).
pub fn verify(dir: &Path, public_key: Option<&[u8]>) -> Result<usize, Vec<String>> {
    let mut problems = Vec::new();
    let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| vec![format!("{name}: {e}")]);
    let manifest: Value = serde_json::from_slice(&read("manifest.json")?)
        .map_err(|e| vec![format!("manifest.json does not parse: {e}")])?;
    let events = read("events.jsonl")?;
    let key = match public_key {
        Some(key) => key.to_vec(),
        None => manifest["public_key"].as_str().and_then(unhex_vec).unwrap_or_default(),
    };
    let signature = manifest["signature"].as_str().and_then(unhex_vec).unwrap_or_default();
    let verifier = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &key);
    if verifier.verify(&signed_bytes(&manifest), &signature).is_err() {
        problems.push("the manifest's signature does not verify with the public key".to_owned());
    }
    let digest = chain::hex(&Sha256::digest(&events));
    if manifest["events_sha256"].as_str() != Some(digest.as_str()) {
        problems.push(format!("events.jsonl has SHA-256 {digest}, not the manifest's"));
    }
    let mut count = 0usize;
    let mut last_of: std::collections::HashMap<(String, String), (i64, String)> =
        std::collections::HashMap::new();
    for (n, text) in events.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        count += 1;
        let line: ExportLine = match serde_json::from_slice(text) {
            Ok(line) => line,
            Err(e) => {
                problems.push(format!("line {}: does not parse: {e}", n + 1));
                continue;
            }
        };
        if !line.hash_checks() {
            problems.push(format!("line {}: event {} does not hash to its hash", n + 1, line.event_id));
        }
        let key = (line.aggregate_type.clone(), line.aggregate_id.clone());
        if let Some((sequence, hash)) = last_of.get(&key) {
            if *sequence + 1 == line.sequence && *hash != line.prev {
                problems.push(format!(
                    "line {}: event {} does not follow the one before it",
                    n + 1,
                    line.event_id
                ));
            }
        }
        last_of.insert(key, (line.sequence, line.hash.clone()));
    }
    if manifest["count"].as_u64() != Some(count as u64) {
        problems.push(format!("events.jsonl has {count} events, the manifest says {}", manifest["count"]));
    }
    if problems.is_empty() {
        Ok(count)
    } else {
        Err(problems)
    }
}

fn unhex(text: &str) -> Option<chain::Hash> {
    unhex_vec(text).and_then(|v| v.try_into().ok())
}

/// Bytes from hex.
pub fn unhex_vec(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

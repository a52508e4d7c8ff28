//! Checking the log against itself: every aggregate's chain, then every seal.

use std::collections::HashMap;

use futures::TryStreamExt;
use serde_json::Value;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::chain::{self, Hash, Link, GENESIS};
use crate::error::StoreError;
use crate::sealer::{self, fold_hash};

/// Something the log does not agree with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The event does not hash to what was stored when it was appended: it was changed since.
    Edited {
        /// The event.
        event_id: Uuid,
        /// Its aggregate, `type/id`.
        aggregate: String,
        /// Its sequence.
        sequence: i64,
    },
    /// An aggregate's history has a hole: the event before `sequence` is gone.
    Missing {
        /// The aggregate, `type/id`.
        aggregate: String,
        /// The first sequence missing.
        sequence: i64,
    },
    /// The event carries no hash.
    Unhashed {
        /// The event.
        event_id: Uuid,
    },
    /// The log up to a seal is not what was sealed: an event before it was removed, added,
    /// reordered or rewritten along with its chain.
    SealMismatch {
        /// The seal.
        seal: i64,
        /// What it says: the count and running hash.
        sealed: (i64, String),
        /// What the log gives now.
        found: (i64, String),
    },
    /// A seal whose signature does not check out with its key.
    BadSignature {
        /// The seal.
        seal: i64,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Edited { event_id, aggregate, sequence } => {
                write!(f, "event {event_id} ({aggregate} #{sequence}) was changed after it was appended")
            }
            Self::Missing { aggregate, sequence } => write!(f, "{aggregate}: event #{sequence} is missing"),
            Self::Unhashed { event_id } => write!(f, "event {event_id} has no hash"),
            Self::SealMismatch { seal, sealed, found } => write!(
                f,
                "seal {seal}: sealed {} events with running hash {}, the log now gives {} events and {}",
                sealed.0, sealed.1, found.0, found.1
            ),
            Self::BadSignature { seal } => write!(f, "seal {seal}: the signature does not verify"),
        }
    }
}

/// What checking the log found.
#[derive(Debug, Default)]
pub struct LogReport {
    /// Events whose chains were checked.
    pub events: u64,
    /// Seals checked.
    pub seals: usize,
    /// Events after the last seal (covered by their chains only, until the next seal).
    pub unsealed: i64,
    /// What does not agree.
    pub findings: Vec<Finding>,
}

/// Checks every chain (only the aggregates of `tenant` with one), then every seal.
pub async fn verify_log(pool: &PgPool, tenant: Option<Uuid>) -> Result<LogReport, StoreError> {
    let mut report = LogReport::default();
    check_chains(pool, tenant, &mut report).await?;
    check_seals(pool, &mut report).await?;
    Ok(report)
}

type ChainRow = (String, String, i64, String, String, Value, Value, OffsetDateTime, Option<Vec<u8>>, Uuid);

async fn check_chains(pool: &PgPool, tenant: Option<Uuid>, report: &mut LogReport) -> Result<(), StoreError> {
    let mut rows = sqlx::query_as::<_, ChainRow>(
        "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash, event_id
           FROM events
          WHERE $1::uuid IS NULL OR (aggregate_type, aggregate_id) IN
                (SELECT aggregate_type, aggregate_id FROM events WHERE tenant_id = $1)
          ORDER BY aggregate_type, aggregate_id, sequence",
    )
    .bind(tenant)
    .fetch(pool);
    // Events re-encoded since they were written: the forms the log attests for them.
    let attested = crate::reseal::attested(pool).await?;
    // The previous event of the aggregate being read: its key, sequence and stored hash.
    let mut previous: Option<(String, String, i64, Option<Hash>)> = None;
    while let Some((
        kind,
        id,
        sequence,
        event_type,
        event_version,
        payload,
        metadata,
        recorded_at,
        hash,
        event_id,
    )) = rows.try_next().await?
    {
        report.events += 1;
        let aggregate = format!("{kind}/{id}");
        let same = previous.as_ref().is_some_and(|(k, i, _, _)| *k == kind && *i == id);
        let expected = if same { previous.as_ref().map_or(0, |p| p.2) + 1 } else { 1 };
        if sequence != expected {
            report.findings.push(Finding::Missing { aggregate: aggregate.clone(), sequence: expected });
        }
        // Each event is checked against the hash stored on the one before it, so a change is
        // reported where it was made, not on every event after it.
        let prev = match (&previous, same) {
            (Some((_, _, s, Some(h))), true) if *s == sequence - 1 => Some(*h),
            (_, false) if sequence == 1 => Some(GENESIS),
            _ => None,
        };
        let stored = chain::from_bytes(hash.as_deref());
        match (stored, prev) {
            (None, _) => report.findings.push(Finding::Unhashed { event_id }),
            (Some(stored), Some(prev)) => {
                let link = Link {
                    aggregate_type: &kind,
                    aggregate_id: &id,
                    sequence,
                    event_type: &event_type,
                    event_version: &event_version,
                    payload: &payload,
                    metadata: &metadata,
                    recorded_at,
                };
                let hash = link.hash(&prev);
                let resealed =
                    || attested.get(&event_id).is_some_and(|forms| forms.contains(&chain::hex(&hash)));
                if hash != stored && !resealed() {
                    report.findings.push(Finding::Edited { event_id, aggregate, sequence });
                }
            }
            // The event before it is missing or unhashed: reported for that one.
            (Some(_), None) => {}
        }
        previous = Some((kind, id, sequence, stored));
    }
    Ok(())
}

async fn check_seals(pool: &PgPool, report: &mut LogReport) -> Result<(), StoreError> {
    let seals = sealer::seals(pool).await?;
    let keys: HashMap<String, Vec<u8>> =
        sealer::public_keys(pool).await?.into_iter().map(|(id, key, _)| (id, key)).collect();
    let mut rows = sqlx::query_as::<_, (i64, i64, Option<Vec<u8>>)>(
        "SELECT transaction_id::text::bigint, global_position, hash FROM events ORDER BY transaction_id, global_position",
    )
    .fetch(pool);
    let (mut running, mut count) = (GENESIS, 0i64);
    let mut pending = seals.iter().peekable();
    let settle = |seal: &sealer::Seal, running: &Hash, count: i64, findings: &mut Vec<Finding>| {
        if !keys.get(&seal.key_id).is_some_and(|key| seal.signed_by(key)) {
            findings.push(Finding::BadSignature { seal: seal.seal });
        }
        if seal.count != count || seal.running_hash != *running {
            findings.push(Finding::SealMismatch {
                seal: seal.seal,
                sealed: (seal.count, chain::hex(&seal.running_hash)),
                found: (count, chain::hex(running)),
            });
        }
    };
    while let Some((transaction_id, global_position, hash)) = rows.try_next().await? {
        // Seals that end before this event are settled with what was folded so far.
        while let Some(seal) = pending.next_if(|s| {
            (s.position.transaction_id, s.position.global_position) < (transaction_id, global_position)
        }) {
            settle(seal, &running, count, &mut report.findings);
            report.seals += 1;
        }
        running = fold_hash(&running, &chain::from_bytes(hash.as_deref()).unwrap_or(GENESIS));
        count += 1;
    }
    for seal in pending {
        settle(seal, &running, count, &mut report.findings);
        report.seals += 1;
    }
    report.unsealed = count - seals.last().map_or(0, |s| s.count);
    Ok(())
}

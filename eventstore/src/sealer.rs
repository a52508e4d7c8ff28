//! Seals: signed checkpoints of the whole log.
//!
//! The chains prove each aggregate's history hangs together; they cannot show that an
//! aggregate's last events were removed, or that a whole aggregate was. The sealer folds every
//! event's hash, in feed order, into a running hash (`R = SHA-256(R || hash)`, from 32 zero
//! bytes) and every `every_events` events or `every_secs` seconds signs where it stands: the
//! feed position, the count and the running hash. A later change anywhere before a seal
//! changes what a re-fold finds there, and only the sealer's private key (sealed in the vault)
//! makes a new signature. One sealer is active at a time (an advisory lock, as for the relay).

use std::time::{Duration, Instant};

use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::chain::{self, Hash, GENESIS};
use crate::error::StoreError;
use crate::feed::{FeedNotifier, FeedPosition};
use crate::shutdown::pause;
use crate::vault::{Vault, VaultError};

/// The advisory lock key that elects the active sealer (ASCII "BERTHSEL").
pub const LOCK_KEY: i64 = 0x4245_5254_4853_454c;

/// What a sealed secret holding the signing key is for.
const PURPOSE: &str = "audit-seal-key";

/// `[sagas.sealer]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SealerSettings {
    /// Seal after this many new events…
    pub every_events: i64,
    /// …or this many seconds after the first unsealed one, whichever comes first.
    pub every_secs: u64,
    /// Events read per round.
    pub batch: i64,
}

impl Default for SealerSettings {
    fn default() -> Self {
        Self { every_events: 1000, every_secs: 60, batch: 5000 }
    }
}

/// A signed checkpoint of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    /// Its number, from 1.
    pub seal: i64,
    /// The feed position of the last event it covers.
    pub position: FeedPosition,
    /// How many events it covers.
    pub count: i64,
    /// The running hash after the last one.
    pub running_hash: Hash,
    /// When it was made.
    pub sealed_at: OffsetDateTime,
    /// The key that signed it.
    pub key_id: String,
    /// The Ed25519 signature of [`Seal::message`].
    pub signature: Vec<u8>,
}

impl Seal {
    /// What is signed: a JSON object, keys sorted, no whitespace, of `count`, `global_position`,
    /// `key_id`, `running_hash` (hex), `seal`, `sealed_at` (as in the chain) and
    /// `transaction_id`.
    pub fn message(&self) -> String {
        format!(
            "{{\"count\":{},\"global_position\":{},\"key_id\":{},\"running_hash\":\"{}\",\"seal\":{},\"sealed_at\":\"{}\",\"transaction_id\":{}}}",
            self.count,
            self.position.global_position,
            serde_json::to_string(&self.key_id).unwrap_or_default(),
            chain::hex(&self.running_hash),
            self.seal,
            chain::timestamp(self.sealed_at),
            self.position.transaction_id
        )
    }

    /// Whether `public_key` (Ed25519, 32 bytes) signed it.
    pub fn signed_by(&self, public_key: &[u8]) -> bool {
        let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key);
        key.verify(self.message().as_bytes(), &self.signature).is_ok()
    }
}

/// The next running hash.
pub fn fold_hash(running: &Hash, event_hash: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(running);
    hasher.update(event_hash);
    hasher.finalize().into()
}

/// Every seal, in order.
pub async fn seals(pool: &PgPool) -> Result<Vec<Seal>, sqlx::Error> {
    type Row = (i64, i64, i64, i64, Vec<u8>, OffsetDateTime, String, Vec<u8>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seal, transaction_id::text::bigint, global_position, event_count, running_hash, sealed_at, key_id, signature
           FROM audit_seals ORDER BY seal",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seal, transaction_id, global_position, count, hash, sealed_at, key_id, signature)| Seal {
            seal,
            position: FeedPosition { transaction_id, global_position },
            count,
            running_hash: chain::from_bytes(Some(&hash)).unwrap_or(GENESIS),
            sealed_at,
            key_id,
            signature,
        })
        .collect())
}

/// The public keys seals are signed with, by key id.
pub async fn public_keys(pool: &PgPool) -> Result<Vec<(String, Vec<u8>, OffsetDateTime)>, sqlx::Error> {
    sqlx::query_as("SELECT key_id, public_key, created_at FROM audit_keys ORDER BY created_at")
        .fetch_all(pool)
        .await
}

/// The sealer's signing key, made (and its public half published) on first use.
pub async fn signing_key(pool: &PgPool, vault: &Vault) -> Result<(String, Ed25519KeyPair), StoreError> {
    let existing: Option<String> =
        sqlx::query_scalar("SELECT key_id FROM audit_keys ORDER BY created_at DESC LIMIT 1")
            .fetch_optional(pool)
            .await?;
    let key_id = match existing {
        Some(id) => id,
        None => {
            let id = Uuid::now_v7();
            let seed: [u8; 32] = rand::random();
            let pair =
                Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let crate::append::SideWrite::Secret(secret) = vault.seal(id, PURPOSE, &seed) else {
                unreachable!("the vault seals secrets")
            };
            let mut tx = pool.begin().await?;
            secret.store(&mut *tx).await?;
            sqlx::query("INSERT INTO audit_keys (key_id, public_key) VALUES ($1, $2)")
                .bind(id.to_string())
                .bind(pair.public_key().as_ref())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            id.to_string()
        }
    };
    let id: Uuid = key_id.parse().map_err(|_| StoreError::Corrupt(format!("seal key id {key_id}")))?;
    let seed = vault.open(pool, id).await.map_err(|e| match e {
        VaultError::Database(e) => StoreError::from(e),
        other => StoreError::Corrupt(other.to_string()),
    })?;
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok((key_id, pair))
}

/// The sealer.
pub struct Sealer {
    pool: PgPool,
    vault: Vault,
    notifier: FeedNotifier,
    settings: SealerSettings,
}

/// Where the sealer stands: after the last seal, plus what it folded since.
struct Fold {
    seal: i64,
    position: FeedPosition,
    count: i64,
    running: Hash,
    sealed_count: i64,
    first_unsealed: Option<Instant>,
}

impl Sealer {
    /// A sealer over `pool`'s log.
    pub fn new(pool: PgPool, vault: Vault, notifier: FeedNotifier, settings: SealerSettings) -> Self {
        Self { pool, vault, notifier, settings }
    }

    /// Runs until `shutdown`: waits to be the active sealer, then seals as the log grows.
    pub async fn run(mut self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            match self.lead(&shutdown).await {
                Ok(()) => {}
                Err(error) => tracing::warn!(%error, "sealer stopped; will try again"),
            }
            pause(&shutdown, Duration::from_secs(1)).await;
        }
    }

    async fn lead(&mut self, shutdown: &CancellationToken) -> Result<(), StoreError> {
        let mut lock = self.pool.acquire().await?;
        let leader: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LOCK_KEY)
            .fetch_one(&mut *lock)
            .await?;
        if !leader {
            return Ok(());
        }
        let result = self.seal_while_leader(&mut lock, shutdown).await;
        // The lock lives as long as this connection: close it rather than pool it.
        drop(lock.detach());
        result
    }

    async fn seal_while_leader(
        &mut self,
        lock: &mut PgConnection,
        shutdown: &CancellationToken,
    ) -> Result<(), StoreError> {
        let (key_id, key) = signing_key(&self.pool, &self.vault).await?;
        let last = seals(&self.pool).await?.pop();
        let mut fold = match last {
            Some(s) => Fold {
                seal: s.seal,
                position: s.position,
                count: s.count,
                running: s.running_hash,
                sealed_count: s.count,
                first_unsealed: None,
            },
            None => Fold {
                seal: 0,
                position: FeedPosition::START,
                count: 0,
                running: GENESIS,
                sealed_count: 0,
                first_unsealed: None,
            },
        };
        let mut checked = Instant::now();
        while !shutdown.is_cancelled() {
            if checked.elapsed() > Duration::from_secs(1) {
                sqlx::query("SELECT 1").execute(&mut *lock).await?;
                checked = Instant::now();
            }
            let read = self.fold_next(&mut fold).await?;
            let due_by_count = fold.count - fold.sealed_count >= self.settings.every_events.max(1);
            let due_by_time = fold
                .first_unsealed
                .is_some_and(|at| at.elapsed() >= Duration::from_secs(self.settings.every_secs.max(1)));
            if due_by_count || due_by_time {
                self.write_seal(&mut fold, &key_id, &key).await?;
                continue;
            }
            if read < self.settings.batch {
                let wait =
                    fold.first_unsealed.map_or(Duration::from_secs(self.settings.every_secs.max(1)), |at| {
                        Duration::from_secs(self.settings.every_secs.max(1)).saturating_sub(at.elapsed())
                    });
                tokio::select! {
                    () = self.notifier.wait(shutdown) => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
        Ok(())
    }

    /// Folds the next batch of the feed (stopping where a seal is due); how many it read.
    async fn fold_next(&self, fold: &mut Fold) -> Result<i64, StoreError> {
        let room = (self.settings.every_events.max(1) - (fold.count - fold.sealed_count)).max(1);
        let limit = self.settings.batch.max(1).min(room);
        type Row = (i64, i64, String, String, Option<Vec<u8>>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT transaction_id::text::bigint, global_position, aggregate_type, aggregate_id, hash FROM events
              WHERE (transaction_id, global_position) > ($1::bigint::text::xid8, $2)
                AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
              ORDER BY transaction_id, global_position LIMIT $3",
        )
        .bind(fold.position.transaction_id)
        .bind(fold.position.global_position)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let read = crate::store::to_i64(rows.len());
        for (transaction_id, global_position, aggregate_type, aggregate_id, hash) in rows {
            let hash = match chain::from_bytes(hash.as_deref()) {
                Some(hash) => hash,
                // Written without a hash (by hand, or before the chain): chain it, then fold again.
                None => {
                    tracing::info!(
                        aggregate_type,
                        aggregate_id,
                        "an event without a hash: chaining it first"
                    );
                    chain::backfill(&self.pool).await?;
                    return Ok(self.settings.batch);
                }
            };
            fold.running = fold_hash(&fold.running, &hash);
            fold.count += 1;
            fold.position = FeedPosition { transaction_id, global_position };
            fold.first_unsealed.get_or_insert_with(Instant::now);
        }
        Ok(read)
    }

    async fn write_seal(
        &self,
        fold: &mut Fold,
        key_id: &str,
        key: &Ed25519KeyPair,
    ) -> Result<(), StoreError> {
        let mut seal = Seal {
            seal: fold.seal + 1,
            position: fold.position,
            count: fold.count,
            running_hash: fold.running,
            sealed_at: chain::to_micros(OffsetDateTime::now_utc()),
            key_id: key_id.to_owned(),
            signature: Vec::new(),
        };
        seal.signature = key.sign(seal.message().as_bytes()).as_ref().to_vec();
        sqlx::query(
            "INSERT INTO audit_seals (seal, transaction_id, global_position, event_count, running_hash, sealed_at, key_id, signature)
             VALUES ($1, $2::bigint::text::xid8, $3, $4, $5, $6, $7, $8)",
        )
        .bind(seal.seal)
        .bind(seal.position.transaction_id)
        .bind(seal.position.global_position)
        .bind(seal.count)
        .bind(seal.running_hash.to_vec())
        .bind(seal.sealed_at)
        .bind(&seal.key_id)
        .bind(&seal.signature)
        .execute(&self.pool)
        .await?;
        metrics::counter!("berth_audit_seals_total").increment(1);
        tracing::debug!(seal = seal.seal, count = seal.count, "log sealed");
        fold.seal = seal.seal;
        fold.sealed_count = fold.count;
        fold.first_unsealed = None;
        Ok(())
    }
}

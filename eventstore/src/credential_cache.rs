//! Bearer tokens resolved from memory: a request that carries a token seen recently costs no
//! round trip to authenticate.
//!
//! Correctness never waits out a timer. Every write that takes a credential's power away
//! (revoking a token or invitation, ending or changing a membership) notifies
//! [`CHANNEL`] in its own transaction, and every process clears its cache when the
//! notification arrives — and whenever its listening connection was lost, since notifications
//! may have been missed meanwhile. A lookup that raced a notification does not store its
//! (possibly stale) answer: each lookup notes the cache's generation before reading and only
//! stores if nothing was cleared since. Entries also expire with their credential and after a
//! minute at most, as a backstop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::credentials::{authenticate, Principal};
use crate::shutdown::pause;

/// The NOTIFY channel of credential changes that take power away.
pub const CHANNEL: &str = "berth_credentials";

/// How long an entry may be served without a notification, at most.
const BACKSTOP: Duration = Duration::from_secs(60);

/// Bounded so a flood of distinct tokens cannot grow it without end.
const CAPACITY: usize = 100_000;

struct Entry {
    principal: Principal,
    expires_at: Option<OffsetDateTime>,
    stored: Instant,
}

/// The cache; clones share it.
#[derive(Clone, Default)]
pub struct CredentialCache {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    generation: Arc<AtomicU64>,
    listening: Arc<std::sync::atomic::AtomicBool>,
}

impl CredentialCache {
    /// The principal behind a token's `digest`, from memory or the database.
    pub async fn authenticate(&self, pool: &PgPool, digest: &str) -> Result<Option<Principal>, sqlx::Error> {
        // Until the listener is up, nothing could evict an entry: read the database.
        let listening = self.listening.load(Ordering::Acquire);
        if listening {
            if let Some(principal) = self.cached(digest) {
                metrics::counter!("berth_credential_cache_total", "outcome" => "hit").increment(1);
                return Ok(Some(principal));
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let found = authenticate(pool, digest).await?;
        metrics::counter!("berth_credential_cache_total", "outcome" => "miss").increment(1);
        if let (true, Some((principal, expires_at))) = (listening, &found) {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if self.generation.load(Ordering::Acquire) == generation {
                if entries.len() >= CAPACITY {
                    entries.clear();
                }
                let entry =
                    Entry { principal: principal.clone(), expires_at: *expires_at, stored: Instant::now() };
                entries.insert(digest.to_owned(), entry);
            }
        }
        Ok(found.map(|(principal, _)| principal))
    }

    fn cached(&self, digest: &str) -> Option<Principal> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(digest)?;
        let fresh = entry.stored.elapsed() < BACKSTOP
            && entry.expires_at.is_none_or(|at| at > OffsetDateTime::now_utc());
        fresh.then(|| entry.principal.clone())
    }

    /// Forgets everything (a credential lost power somewhere).
    pub fn clear(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Listens for credential changes on `pool`'s database until `shutdown`.
    pub fn start(&self, pool: PgPool, shutdown: CancellationToken) {
        let cache = self.clone();
        tokio::spawn(async move {
            while !shutdown.is_cancelled() {
                if let Err(error) = cache.listen(&pool, &shutdown).await {
                    tracing::warn!(%error, "credential listener lost its connection; retrying");
                }
                cache.listening.store(false, Ordering::Release);
                cache.clear();
                pause(&shutdown, Duration::from_secs(1)).await;
            }
        });
    }

    async fn listen(&self, pool: &PgPool, shutdown: &CancellationToken) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        // Anything cached before this point may have missed a notification.
        self.clear();
        self.listening.store(true, Ordering::Release);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                notification = listener.try_recv() => match notification? {
                    Some(_) => self.clear(),
                    // The connection dropped: notifications may have been missed.
                    None => {
                        self.listening.store(false, Ordering::Release);
                        self.clear();
                        return Ok(());
                    }
                },
            }
        }
    }
}

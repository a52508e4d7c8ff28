//! Personal data in events, sealed with a key per data subject (crypto-shredding).
//!
//! At append, the string fields that hold personal data (see [`sites`]) are replaced in the
//! payload by an envelope, `{"$pii": {"s": subject, "n": nonce, "c": ciphertext}}`: AES-256-GCM
//! under the subject's key, with the subject id as associated data. The log, its hashes and
//! everything copied from it verbatim (NATS, the audit trail, exports) hold only envelopes.
//! Readers open envelopes before decoding ([`Keys::open`]): a live key gives the string back,
//! a destroyed one gives [`ERASED`]. Subject keys live in `subject_keys`, sealed under the
//! vault's master key; destroying one is erasure. Keys are cached per process; a destruction
//! notifies [`CHANNEL`] and every process clears its cache (and does not cache while its
//! listener is down), so no process keeps opening what was shredded.
//!
//! Subjects: `email:<keyed digest>` for every email address (wherever it appears, so erasing
//! a person shreds their address in invitations, memberships and billing profiles alike);
//! `retention:invoice:<id>` for an issued document's buyer (kept for the legal retention
//! period, then shredded by a timer); `party:<tenant>` for a natural person's billing profile;
//! `person:<user id>` for a login's client address and user agent in the security log.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use serde_json::{json, Map, Value};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::StoreError;
use crate::feed::FeedEvent;
use crate::shutdown::pause;
use crate::vault::Vault;

/// What a shredded field reads as.
pub const ERASED: &str = berth_domain::email::ERASED;

/// The NOTIFY channel of destroyed subject keys.
pub const CHANNEL: &str = "berth_subject_keys";

/// The member that marks a sealed value.
pub const ENVELOPE: &str = "$pii";

/// Bounded: cleared when full.
const CAPACITY: usize = 100_000;

type Cached = HashMap<String, Option<Arc<LessSafeKey>>>;

/// A `subject_keys` row: subject, nonce, sealed key (both `None` once destroyed).
type KeyRow = (String, Option<Vec<u8>>, Option<Vec<u8>>);

/// The subject keys: created on first use, cached, destroyed on erasure. Clones share the
/// cache.
#[derive(Clone)]
pub struct Keys {
    pool: PgPool,
    vault: Vault,
    cache: Arc<Mutex<Cached>>,
    generation: Arc<AtomicU64>,
    listening: Arc<AtomicBool>,
    retention_years: i32,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// A string field of a payload that holds personal data: where, and whose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// A JSON pointer to the string.
    pub pointer: String,
    /// The data subject.
    pub subject: String,
}

impl Keys {
    /// Keys over `pool`, sealed by `vault`; issued documents' buyers are retained for
    /// `retention_years`.
    pub fn new(pool: PgPool, vault: Vault, retention_years: u32) -> Self {
        Self {
            pool,
            vault,
            cache: Arc::default(),
            generation: Arc::default(),
            listening: Arc::default(),
            retention_years: i32::try_from(retention_years).unwrap_or(10),
        }
    }

    /// The vault.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// How long issued documents' buyers are kept.
    pub fn retention_years(&self) -> i32 {
        self.retention_years
    }

    /// The subject id of an email address.
    pub fn email_subject(&self, email: &str) -> String {
        format!("email:{}", self.vault.subject_digest(&email.trim().to_lowercase()))
    }

    /// Listens for destroyed keys until `shutdown`, clearing the cache on each (and whenever
    /// the connection was lost). Until it listens, nothing is cached.
    pub fn start(&self, shutdown: CancellationToken) {
        let keys = self.clone();
        tokio::spawn(async move {
            while !shutdown.is_cancelled() {
                let mut listener = match PgListener::connect_with(&keys.pool).await {
                    Ok(listener) => listener,
                    Err(error) => {
                        tracing::warn!(%error, "subject key listener cannot connect; retrying");
                        pause(&shutdown, Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if let Err(error) = listener.listen(CHANNEL).await {
                    tracing::warn!(%error, "cannot listen for destroyed subject keys; retrying");
                    pause(&shutdown, Duration::from_secs(1)).await;
                    continue;
                }
                keys.clear();
                keys.listening.store(true, Ordering::Release);
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        received = listener.recv() => match received {
                            Ok(_) => keys.clear(),
                            Err(error) => {
                                tracing::warn!(%error, "subject key listener lost; clearing the cache");
                                break;
                            }
                        },
                    }
                }
                keys.listening.store(false, Ordering::Release);
                keys.clear();
            }
        });
    }

    /// Forgets every cached key.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// The keys of `subjects` (`None`: destroyed, or never made when `create` is false), from
    /// the cache or in one query, creating the missing ones when `create`.
    async fn keys(&self, subjects: &HashSet<String>, create: bool) -> Result<Cached, StoreError> {
        let mut found = Cached::new();
        let listening = self.listening.load(Ordering::Acquire);
        let mut missing = Vec::new();
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            for subject in subjects {
                match cache.get(subject) {
                    Some(key) if listening => {
                        found.insert(subject.clone(), key.clone());
                    }
                    _ => missing.push(subject.clone()),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let mut loaded = self.load(&missing).await?;
        if create {
            let absent: Vec<&String> = missing.iter().filter(|s| !loaded.contains_key(*s)).collect();
            if !absent.is_empty() {
                let mut names = Vec::new();
                let mut nonces = Vec::new();
                let mut sealed = Vec::new();
                for subject in absent {
                    let key = Zeroizing::new(rand::random::<[u8; 32]>());
                    let (nonce, ciphertext) = self.vault.seal_raw(aad_id(subject), &*key);
                    names.push(subject.clone());
                    nonces.push(nonce);
                    sealed.push(ciphertext);
                }
                sqlx::query(
                    "INSERT INTO subject_keys (subject, nonce, sealed_key)
                     SELECT * FROM UNNEST($1::text[], $2::bytea[], $3::bytea[]) ON CONFLICT (subject) DO NOTHING",
                )
                .bind(&names)
                .bind(&nonces)
                .bind(&sealed)
                .execute(&self.pool)
                .await?;
                // Of two writers at once, one key won: read back which.
                loaded.extend(self.load(&names).await?);
            }
        }
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let keep = listening && self.generation.load(Ordering::Acquire) == generation;
        if keep && cache.len() + loaded.len() > CAPACITY {
            cache.clear();
        }
        for subject in missing {
            let key = loaded.remove(&subject).flatten();
            // A key absent from the table is not cached: it may be created next.
            if keep && (key.is_some() || create) {
                cache.insert(subject.clone(), key.clone());
            }
            found.insert(subject, key);
        }
        Ok(found)
    }

    /// The rows of `subjects`: a key, or `None` when destroyed (absent subjects are left out).
    async fn load(
        &self,
        subjects: &[String],
    ) -> Result<HashMap<String, Option<Arc<LessSafeKey>>>, StoreError> {
        let rows: Vec<KeyRow> =
            sqlx::query_as("SELECT subject, nonce, sealed_key FROM subject_keys WHERE subject = ANY($1)")
                .bind(subjects)
                .fetch_all(&self.pool)
                .await?;
        let mut out = HashMap::new();
        for (subject, nonce, sealed) in rows {
            let key = match (nonce, sealed) {
                (Some(nonce), Some(sealed)) => {
                    let raw = self
                        .vault
                        .open_raw(aad_id(&subject), &nonce, &sealed)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let unbound = UnboundKey::new(&AES_256_GCM, &raw)
                        .map_err(|_| StoreError::Corrupt("subject key".into()))?;
                    Some(Arc::new(LessSafeKey::new(unbound)))
                }
                _ => None,
            };
            out.insert(subject, key);
        }
        Ok(out)
    }

    /// Seals the personal fields of `payloads` (aggregate type, aggregate id, event type,
    /// payload), one key lookup for all of them. The retention subjects newly seen are
    /// returned (their timers are due to be scheduled).
    pub async fn seal(&self, payloads: &mut [(&str, &str, &str, &mut Value)]) -> Result<(), StoreError> {
        let mut planned = Vec::with_capacity(payloads.len());
        let mut subjects = HashSet::new();
        for (aggregate_type, aggregate_id, event_type, payload) in payloads.iter() {
            let found = sites(self, aggregate_type, aggregate_id, event_type, payload);
            subjects.extend(found.iter().map(|s| s.subject.clone()));
            planned.push(found);
        }
        if subjects.is_empty() {
            return Ok(());
        }
        let keys = self.keys(&subjects, true).await?;
        for ((_, _, _, payload), found) in payloads.iter_mut().zip(planned) {
            for site in found {
                let Some(slot) = payload.pointer_mut(&site.pointer) else { continue };
                let Some(text) = slot.as_str() else { continue };
                *slot = match keys.get(&site.subject).cloned().flatten() {
                    Some(key) => envelope(&key, &site.subject, text),
                    None => Value::String(ERASED.to_owned()),
                };
            }
        }
        Ok(())
    }

    /// Opens every envelope in `payload`.
    pub async fn open(&self, payload: &mut Value) -> Result<(), StoreError> {
        self.open_many(std::slice::from_mut(payload)).await
    }

    /// Opens every envelope in `payloads`, one key lookup for all of them.
    pub async fn open_many(&self, payloads: &mut [Value]) -> Result<(), StoreError> {
        let mut subjects = HashSet::new();
        for payload in payloads.iter() {
            collect_subjects(payload, &mut subjects);
        }
        if subjects.is_empty() {
            return Ok(());
        }
        let keys = self.keys(&subjects, false).await?;
        for payload in payloads.iter_mut() {
            replace_envelopes(payload, &keys);
        }
        Ok(())
    }

    /// Opens the payloads of feed events.
    pub async fn open_feed(&self, events: &mut [FeedEvent]) -> Result<(), StoreError> {
        let mut subjects = HashSet::new();
        for event in events.iter() {
            collect_subjects(&event.payload, &mut subjects);
        }
        if subjects.is_empty() {
            return Ok(());
        }
        let keys = self.keys(&subjects, false).await?;
        for event in events.iter_mut() {
            replace_envelopes(&mut event.payload, &keys);
        }
        Ok(())
    }

    /// Every plaintext sealed under `subjects` in the log, while their keys still open, with
    /// its subject: what a scrub of the views after their destruction looks for. Reads the
    /// whole log (an operator's action or a retention timer, not a hot path).
    pub async fn plaintexts(&self, subjects: &[String]) -> Result<Vec<(String, String)>, StoreError> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let patterns: Vec<String> = subjects.iter().map(|s| format!("%\"s\": \"{s}\"%")).collect();
        let payloads: Vec<Value> =
            sqlx::query_scalar("SELECT payload FROM events WHERE payload::text LIKE ANY($1)")
                .bind(&patterns)
                .fetch_all(&self.pool)
                .await?;
        let wanted: HashSet<String> = subjects.iter().cloned().collect();
        let keys = self.keys(&wanted, false).await?;
        let mut out = HashSet::new();
        for payload in &payloads {
            collect_plaintexts(payload, &keys, &wanted, &mut out);
        }
        let mut out: Vec<(String, String)> =
            out.into_iter().filter(|(_, s)| !s.trim().is_empty() && s != ERASED).collect();
        out.sort();
        Ok(out)
    }
}

tokio::task_local! {
    static CURRENT: Keys;
}

/// Runs `work` with `keys` as the task's keys (see [`current`]): how the projectors, rebuilds
/// and saga steps, deep below their callers, find the keys to open payloads with.
pub async fn scoped<F: std::future::Future>(keys: Option<Keys>, work: F) -> F::Output {
    match keys {
        Some(keys) => CURRENT.scope(keys, work).await,
        None => work.await,
    }
}

/// The keys of the running task, if it was started with them ([`scoped`]).
pub fn current() -> Option<Keys> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Opens the envelopes of `events` with the task's keys, when it has them and they hold any.
pub async fn open_feed_current(events: &mut [FeedEvent]) -> Result<(), StoreError> {
    if !events.iter().any(|e| is_sealed(&e.payload)) {
        return Ok(());
    }
    match current() {
        Some(keys) => keys.open_feed(events).await,
        // Without keys (no master key) sealed fields read as erased, and the events still decode.
        None => {
            events.iter_mut().for_each(|e| replace_envelopes(&mut e.payload, &Cached::new()));
            Ok(())
        }
    }
}

/// The id a subject's key is sealed under (the vault's associated data).
fn aad_id(subject: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("berth-subject-key:{subject}").as_bytes())
}

fn envelope(key: &LessSafeKey, subject: &str, text: &str) -> Value {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let mut sealed = text.as_bytes().to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(subject.as_bytes()),
        &mut sealed,
    )
    .expect("a field under AES-GCM's size limit seals");
    json!({ ENVELOPE: { "s": subject, "n": STANDARD.encode(nonce), "c": STANDARD.encode(sealed) } })
}

/// The subject of an envelope, if `value` is one.
fn envelope_subject(value: &Map<String, Value>) -> Option<&str> {
    if value.len() != 1 {
        return None;
    }
    value.get(ENVELOPE)?.get("s")?.as_str()
}

fn open_envelope(inner: &Value, key: Option<&LessSafeKey>) -> String {
    let opened = (|| {
        let key = key?;
        let subject = inner.get("s")?.as_str()?;
        let nonce = STANDARD.decode(inner.get("n")?.as_str()?).ok()?;
        let mut sealed = STANDARD.decode(inner.get("c")?.as_str()?).ok()?;
        let nonce = Nonce::try_assume_unique_for_key(&nonce).ok()?;
        let plain = key.open_in_place(nonce, Aad::from(subject.as_bytes()), &mut sealed).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    })();
    opened.unwrap_or_else(|| ERASED.to_owned())
}

fn collect_subjects(value: &Value, out: &mut HashSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(subject) = envelope_subject(map) {
                out.insert(subject.to_owned());
            } else {
                map.values().for_each(|v| collect_subjects(v, out));
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_subjects(v, out)),
        _ => {}
    }
}

fn collect_plaintexts(
    value: &Value,
    keys: &Cached,
    wanted: &HashSet<String>,
    out: &mut HashSet<(String, String)>,
) {
    match value {
        Value::Object(map) => {
            if let Some(subject) = envelope_subject(map) {
                if wanted.contains(subject) {
                    let key = keys.get(subject).cloned().flatten();
                    out.insert((subject.to_owned(), open_envelope(&map[ENVELOPE], key.as_deref())));
                }
            } else {
                map.values().for_each(|v| collect_plaintexts(v, keys, wanted, out));
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_plaintexts(v, keys, wanted, out)),
        _ => {}
    }
}

fn replace_envelopes(value: &mut Value, keys: &Cached) {
    match value {
        Value::Object(map) => {
            if let Some(subject) = envelope_subject(map) {
                let key = keys.get(subject).cloned().flatten();
                *value = Value::String(open_envelope(&map[ENVELOPE], key.as_deref()));
            } else {
                map.values_mut().for_each(|v| replace_envelopes(v, keys));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_envelopes(v, keys)),
        _ => {}
    }
}

/// Whether `payload` holds an envelope.
pub fn is_sealed(payload: &Value) -> bool {
    let mut subjects = HashSet::new();
    collect_subjects(payload, &mut subjects);
    !subjects.is_empty()
}

/// The subject of an issued document's retained buyer.
pub fn retention_subject(invoice: &str) -> String {
    format!("retention:invoice:{invoice}")
}

mod scrub;
mod sites;
pub(crate) mod staged;
#[cfg(test)]
mod tests;

pub use scrub::*;
pub use sites::*;

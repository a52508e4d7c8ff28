//! Secrets at rest: sealed with AES-256-GCM under the master key, stored by id in
//! `sealed_secrets`, never in an event.
//!
//! The master key comes from the settings (`[secrets] master_key`, base64 of 32 bytes); losing
//! it loses every sealed secret, which for node keys means re-authorizing a new key on each
//! node. Node SSH key pairs are generated here because the command API registers nodes and
//! the sagas use their keys, and this crate is the one both depend on.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::signature::{Ed25519KeyPair, KeyPair};
use sqlx::PgPool;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::append::SideWrite;
use crate::error::StoreError;

/// A secret sealed under the master key, to be stored with the command that makes it.
#[derive(Clone)]
pub struct SealedSecret {
    id: Uuid,
    purpose: String,
    nonce: Vec<u8>,
    sealed: Vec<u8>,
}

// Written by hand: even sealed bytes stay out of logs.
impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("id", &self.id)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

impl SealedSecret {
    /// Stores it in `sealed_secrets`.
    /// The id it is stored under.
    pub fn id(&self) -> Uuid {
        self.id
    }

    pub(crate) async fn store<'e>(&self, executor: impl sqlx::PgExecutor<'e>) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sealed_secrets (id, purpose, nonce, ciphertext) VALUES ($1, $2, $3, $4)")
            .bind(self.id)
            .bind(&self.purpose)
            .bind(&self.nonce)
            .bind(&self.sealed)
            .execute(executor)
            .await?;
        Ok(())
    }
}

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The master key setting is not base64 of 32 bytes.
    #[error("the master key must be base64 of 32 bytes (make one with `berth secrets new-key`)")]
    BadMasterKey,
    /// No secret with that id.
    #[error("no sealed secret {0}")]
    Missing(Uuid),
    /// The stored value does not open with this master key (wrong key, or tampered).
    #[error("sealed secret {0} does not open with this master key")]
    Unsealable(Uuid),
    /// Storage failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Seals and opens secrets with the master key.
#[derive(Clone)]
pub struct Vault {
    key: Arc<LessSafeKey>,
    /// Derived from the master key: names data subjects by a keyed digest (an email address's
    /// subject id must not be the address, nor a plain hash anyone could look up).
    subject_ids: Arc<ring::hmac::Key>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vault(..)")
    }
}

impl Vault {
    /// A vault with the master key given as base64 of 32 bytes.
    pub fn new(master_key: &str) -> Result<Self, VaultError> {
        let bytes = Zeroizing::new(STANDARD.decode(master_key.trim()).map_err(|_| VaultError::BadMasterKey)?);
        if bytes.len() != 32 {
            return Err(VaultError::BadMasterKey);
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| VaultError::BadMasterKey)?;
        let derived =
            ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes), b"berth subject ids v1");
        let subject_ids = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref());
        Ok(Self { key: Arc::new(LessSafeKey::new(key)), subject_ids: Arc::new(subject_ids) })
    }

    /// A new random master key, base64.
    pub fn generate_key() -> String {
        let key = Zeroizing::new(rand::random::<[u8; 32]>());
        STANDARD.encode(*key)
    }

    /// Seals `secret` under `id` and returns the write that stores it; commit it together
    /// with the events that refer to `id`.
    pub fn seal(&self, id: Uuid, purpose: &str, secret: &[u8]) -> SideWrite {
        SideWrite::Secret(self.sealed(id, purpose, secret))
    }

    /// Seals `secret` under `id`, to be stored by the caller.
    pub fn sealed(&self, id: Uuid, purpose: &str, secret: &[u8]) -> SealedSecret {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut sealed = secret.to_vec();
        // Sealing only fails for inputs beyond AES-GCM's limit (64 GiB), far above any key.
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(id.as_bytes()),
                &mut sealed,
            )
            .expect("a secret under AES-GCM's size limit seals");
        SealedSecret { id, purpose: purpose.to_owned(), nonce: nonce_bytes.to_vec(), sealed }
    }

    /// The secret under `id`; if there is none yet, `make`'s is sealed and stored first. Of
    /// two callers at once, one stores its secret and both get that one. For secrets that no
    /// event introduces, such as a tenant's backup key (its id derives from the tenant).
    pub async fn open_or_create(
        &self,
        pool: &PgPool,
        id: Uuid,
        purpose: &str,
        make: impl FnOnce() -> Zeroizing<Vec<u8>>,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        match self.open(pool, id).await {
            Err(VaultError::Missing(_)) => {}
            other => return other,
        }
        let sealed = self.sealed(id, purpose, &make());
        sqlx::query(
            "INSERT INTO sealed_secrets (id, purpose, nonce, ciphertext) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(sealed.id)
        .bind(&sealed.purpose)
        .bind(&sealed.nonce)
        .bind(&sealed.sealed)
        .execute(pool)
        .await?;
        self.open(pool, id).await
    }

    /// A keyed digest of `value` (hex), stable for this master key: the subject id of personal
    /// data named by a value, such as an email address.
    pub fn subject_digest(&self, value: &str) -> String {
        crate::chain::hex(ring::hmac::sign(&self.subject_ids, value.as_bytes()).as_ref())
    }

    /// Seals `secret` with `id` as associated data: its nonce and ciphertext, for a caller
    /// that stores them itself (the subject keys).
    pub fn seal_raw(&self, id: Uuid, secret: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let sealed = self.sealed(id, "", secret);
        (sealed.nonce, sealed.sealed)
    }

    /// Opens what [`Vault::seal_raw`] sealed under `id`.
    pub fn open_raw(&self, id: Uuid, nonce: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| VaultError::Unsealable(id))?;
        let mut sealed = sealed.to_vec();
        let opened = self
            .key
            .open_in_place(nonce, Aad::from(id.as_bytes()), &mut sealed)
            .map_err(|_| VaultError::Unsealable(id))?;
        let secret = Zeroizing::new(opened.to_vec());
        sealed.iter_mut().for_each(|b| *b = 0);
        Ok(secret)
    }

    /// Opens the secret stored under `id`.
    pub async fn open(&self, pool: &PgPool, id: Uuid) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let row: Option<(Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT nonce, ciphertext FROM sealed_secrets WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
        let (nonce, mut sealed) = row.ok_or(VaultError::Missing(id))?;
        let nonce = Nonce::try_assume_unique_for_key(&nonce).map_err(|_| VaultError::Unsealable(id))?;
        let opened = self
            .key
            .open_in_place(nonce, Aad::from(id.as_bytes()), &mut sealed)
            .map_err(|_| VaultError::Unsealable(id))?;
        let secret = Zeroizing::new(opened.to_vec());
        sealed.iter_mut().for_each(|b| *b = 0);
        Ok(secret)
    }
}

/// An Ed25519 key pair for one node: the 32-byte seed (secret) and the OpenSSH public line.
pub struct SshKeyPair {
    /// The private seed; seal it, never log it.
    pub seed: Zeroizing<[u8; 32]>,
    /// `ssh-ed25519 AAAA... comment`, to put in the node's `authorized_keys`.
    pub public_line: String,
}

impl SshKeyPair {
    /// A new random key pair, its public line ending in `comment`.
    pub fn generate(comment: &str) -> Self {
        let seed = Zeroizing::new(rand::random::<[u8; 32]>());
        let public_line = format!("{} {comment}", public_line(&seed));
        Self { seed, public_line }
    }
}

/// The OpenSSH public key line (`ssh-ed25519 <base64>`) of an Ed25519 seed.
pub fn public_line(seed: &[u8; 32]) -> String {
    let pair = Ed25519KeyPair::from_seed_unchecked(seed).expect("any 32 bytes are an Ed25519 seed");
    // RFC 8709: string "ssh-ed25519", string key (32 bytes), each with a u32 length prefix.
    let mut blob = Vec::with_capacity(51);
    for field in [b"ssh-ed25519".as_slice(), pair.public_key().as_ref()] {
        blob.extend_from_slice(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
        blob.extend_from_slice(field);
    }
    format!("ssh-ed25519 {}", STANDARD.encode(blob))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_line_is_a_valid_openssh_ed25519_key() {
        let pair = SshKeyPair::generate("berth");
        let key = berth_domain::node::HostKey::parse(&pair.public_line).unwrap();
        assert_eq!(key.kind(), "ssh-ed25519");
        assert!(pair.public_line.ends_with(" berth"));
        // The RFC 8032 test vector 1: this seed has this public key.
        let seed: [u8; 32] = [
            0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
            0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
        ];
        let blob = STANDARD.decode(public_line(&seed).split(' ').nth(1).unwrap()).unwrap();
        assert_eq!(
            blob[19..].iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
    }

    #[test]
    fn bad_master_keys_are_refused() {
        assert!(matches!(Vault::new("short"), Err(VaultError::BadMasterKey)));
        assert!(matches!(Vault::new(&STANDARD.encode([1u8; 16])), Err(VaultError::BadMasterKey)));
        assert!(Vault::new(&Vault::generate_key()).is_ok());
    }
}

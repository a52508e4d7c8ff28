//! Generating, hashing and checking secrets: bearer tokens and passwords.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

/// A fresh bearer token: a recognizable prefix and 256 random bits, hex-encoded.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex(&bytes))
}

pub use berth_projections::identity::token_digest;

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Whether `password` matches the stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

/// A stand-in hash, verified against when an account does not exist, so that a wrong email
/// costs as much time as a wrong password.
pub fn dummy_verify(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
    let _ = verify_password(password, phc);
}

/// A UUIDv7 for another resource created with `base` (the owner registered with a tenant):
/// the same timestamp, so ids keep their time order, and the remaining bits from a hash of
/// `base` and `purpose`, so a retry derives the same id.
pub fn derived_id(base: uuid::Uuid, purpose: &str) -> uuid::Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest([base.as_bytes().as_slice(), purpose.as_bytes()].concat());
    let mut bytes = *base.as_bytes();
    bytes[6..].copy_from_slice(&digest[..10]);
    uuid::Builder::from_bytes(bytes)
        .with_version(uuid::Version::SortRand)
        .with_variant(uuid::Variant::RFC4122)
        .into_uuid()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let phc = hash_password("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery staple", &phc));
        assert!(!verify_password("Correct horse battery staple", &phc));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn derived_ids_keep_the_time_and_differ_by_purpose() {
        let base = uuid::Uuid::now_v7();
        let (owner, other) = (derived_id(base, "owner"), derived_id(base, "other"));
        assert_eq!(owner, derived_id(base, "owner"));
        assert_ne!(owner, other);
        assert_eq!(owner.get_version_num(), 7);
        assert_eq!(owner.get_timestamp(), base.get_timestamp());
    }

    #[test]
    fn tokens_are_random_and_digests_stable() {
        let (a, b) = (new_token("brt"), new_token("brt"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(token_digest(&a), token_digest(&a));
        assert_eq!(token_digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}

//! Time-based one-time codes (RFC 6238: HMAC-SHA1, six digits, 30-second steps) and recovery
//! codes.

use rand::RngCore;
use totp_rs::{Algorithm, TOTP};

use berth_domain::ids::UserId;

use crate::secrets::token_digest;

/// Seconds per code.
pub const STEP_SECS: u64 = 30;
/// How many recovery codes an enrolment gets.
pub const RECOVERY_CODES: u8 = 10;

/// A new secret: 160 random bits, as RFC 4226 recommends.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    secret
}

/// The generator for `secret`, labelled with the issuer and the account's email.
pub fn generator(secret: Vec<u8>, issuer: &str, account: &str) -> Result<TOTP, String> {
    let issuer = issuer.replace(':', " ");
    let account = account.replace(':', " ");
    TOTP::new(Algorithm::SHA1, 6, 1, STEP_SECS, secret, Some(issuer), account).map_err(|e| e.to_string())
}

/// Whether `code` has the shape of a TOTP code (six digits).
pub fn looks_like_totp(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// The time step `code` is valid for at `unix` seconds: the current one or either neighbour
/// (a clock off by up to 30 s).
pub fn matching_step(totp: &TOTP, code: &str, unix: u64) -> Option<i64> {
    let now = unix / STEP_SECS;
    [now, now.saturating_sub(1), now + 1].into_iter().find_map(|step| {
        let expected = totp.generate(step * STEP_SECS);
        constant_time_eq(expected.as_bytes(), code.as_bytes())
            .then(|| i64::try_from(step).unwrap_or(i64::MAX))
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// New recovery codes: `xxxxx-xxxxx` of lowercase base32 (50 random bits each).
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rand::rng().fill_bytes(&mut bytes);
            let chars: Vec<char> = bytes.iter().map(|b| ALPHABET[usize::from(b % 32)] as char).collect();
            format!("{}-{}", chars[..5].iter().collect::<String>(), chars[5..].iter().collect::<String>())
        })
        .collect()
}

/// The stored digest of a recovery code of `user` (case and spaces do not matter).
pub fn recovery_digest(user: UserId, code: &str) -> String {
    let normal: String = code.trim().to_ascii_lowercase().chars().filter(|c| !c.is_whitespace()).collect();
    token_digest(&format!("recovery:{user}:{normal}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_rfc_6238_sha1_test_vectors() {
        // RFC 6238, appendix B: the ASCII secret "12345678901234567890", eight digits there;
        // six digits are the last six of the same value.
        let totp = generator(b"12345678901234567890".to_vec(), "Berth", "a@b.test").unwrap();
        assert_eq!(totp.generate(59), "287082");
        assert_eq!(totp.generate(1_111_111_109), "081804");
        assert_eq!(totp.generate(2_000_000_000), "279037");
    }

    #[test]
    fn a_code_is_accepted_in_its_step_and_the_neighbours_only() {
        let totp = generator(new_secret(), "Berth", "a@b.test").unwrap();
        let at = 1_800_000_000;
        let code = totp.generate(at);
        assert_eq!(matching_step(&totp, &code, at), Some((at / 30) as i64));
        assert!(matching_step(&totp, &code, at + 30).is_some());
        assert_eq!(matching_step(&totp, &code, at + 90), None);
        assert!(looks_like_totp(&code) && !looks_like_totp("12345a") && !looks_like_totp("1234567"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_digested_without_case() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes.iter().collect::<std::collections::BTreeSet<_>>().len(), 10);
        let user = UserId::from_uuid(uuid::Uuid::nil());
        assert_eq!(recovery_digest(user, &codes[0].to_uppercase()), recovery_digest(user, &codes[0]));
    }
}

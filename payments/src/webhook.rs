//! Stripe's webhooks: the `Stripe-Signature` check and what a delivered event says.
//!
//! The signature is HMAC-SHA256, keyed with the endpoint's secret, of `<t>.<raw body>`, in
//! hex, as `v1=` in the header (`t=1700000000,v1=ab..,v1=cd..`). During a secret rotation Stripe
//! signs with both secrets, so any `v1` matching any configured secret passes. The timestamp
//! must be within the tolerance of now, so a captured delivery cannot be replayed later.

use ring::hmac;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Stripe-Signature` header.
    #[error("the Stripe-Signature header is missing")]
    Missing,
    /// The header has no timestamp or no `v1` signature.
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    /// Signed too long ago (or too far ahead).
    #[error("the signature's timestamp is {age} s from now, more than the {tolerance} s allowed")]
    Stale {
        /// Seconds between the timestamp and now.
        age: i64,
        /// Seconds allowed.
        tolerance: i64,
    },
    /// No signature matches any secret.
    #[error("no signature matches the endpoint's secret")]
    Mismatch,
}

/// Checks `header` (the `Stripe-Signature` value) over `body` with any of `secrets`, at
/// `now` (Unix seconds), allowing `tolerance` seconds either way.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(decode_hex(value)),
            _ => {}
        }
    }
    let (Some(timestamp), false) = (timestamp, signatures.is_empty()) else {
        return Err(SignatureError::Malformed);
    };
    let age = now.saturating_sub(timestamp).saturating_abs();
    if age > tolerance {
        return Err(SignatureError::Stale { age, tolerance });
    }
    let mut signed = Vec::with_capacity(body.len() + 12);
    signed.extend_from_slice(timestamp.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    let matches = secrets.iter().any(|secret| {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes());
        signatures.iter().any(|signature| hmac::verify(&key, &signed, signature).is_ok())
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header value Stripe would send for `body` at `timestamp` (for tests and the bench).
pub fn sign(body: &[u8], secret: &str, timestamp: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = timestamp.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(body);
    let tag = hmac::sign(&key, &signed);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// A delivered event, as far as Berth reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// `evt_...`: processed once.
    pub id: String,
    /// `payment_intent.succeeded`, ...
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    /// What it says about a payment Berth made, if anything.
    pub notice: Notice,
}

/// What an event says about one of Berth's payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A PaymentIntent succeeded.
    Succeeded(IntentFacts),
    /// A PaymentIntent's attempt failed.
    Failed {
        /// The PaymentIntent.
        intent: IntentFacts,
        /// The provider's code.
        code: String,
        /// Its words.
        message: String,
    },
    /// Nothing Berth acts on (another type, or a payment Berth did not make).
    Ignored(String),
}

/// A PaymentIntent's facts, from the object in the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentFacts {
    /// `pi_...`.
    pub payment_intent: String,
    /// Received (succeeded) or asked (failed), in minor units.
    pub amount_minor: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    /// Berth's invoice, from the metadata.
    pub invoice: uuid::Uuid,
    /// The collection attempt, from the metadata.
    pub attempt: Option<u32>,
}

/// Why a body is not a Stripe event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Stripe event: {0}")]
pub struct EventError(pub String);

/// Reads a delivered event.
pub fn parse(body: &[u8]) -> Result<WebhookEvent, EventError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| EventError(e.to_string()))?;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let id = text(&value, "id").filter(|id| id.starts_with("evt")).ok_or(EventError("no `id`".into()))?;
    let kind = text(&value, "type").ok_or(EventError("no `type`".into()))?;
    let created = value.get("created").and_then(Value::as_i64).unwrap_or_default();
    let object = value.pointer("/data/object").cloned().unwrap_or(Value::Null);
    let notice = match kind.as_str() {
        "payment_intent.succeeded" | "payment_intent.payment_failed" => match facts(&object, &kind) {
            Some(intent) if kind.ends_with("succeeded") => Notice::Succeeded(intent),
            Some(intent) => {
                let error = object.get("last_payment_error").cloned().unwrap_or(Value::Null);
                Notice::Failed {
                    intent,
                    code: text(&error, "code").unwrap_or_else(|| "card_declined".to_owned()),
                    message: text(&error, "message").unwrap_or_else(|| "the payment failed".to_owned()),
                }
            }
            None => Notice::Ignored("a PaymentIntent Berth did not make".to_owned()),
        },
        other => Notice::Ignored(format!("`{other}` is not acted on")),
    };
    Ok(WebhookEvent { id, kind, created, notice })
}

fn facts(object: &Value, kind: &str) -> Option<IntentFacts> {
    let metadata = object.get("metadata")?;
    let invoice = metadata.get("invoice")?.as_str()?.parse().ok()?;
    let amount = if kind.ends_with("succeeded") { "amount_received" } else { "amount" };
    Some(IntentFacts {
        payment_intent: object.get("id")?.as_str()?.to_owned(),
        amount_minor: object.get(amount)?.as_i64()?,
        currency: object.get("currency")?.as_str()?.to_ascii_uppercase(),
        invoice,
        attempt: metadata.get("attempt").and_then(Value::as_str).and_then(|a| a.parse().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(values: &[&str]) -> Vec<SecretString> {
        values.iter().map(|v| SecretString::from((*v).to_owned())).collect()
    }

    #[test]
    fn a_signature_made_with_any_configured_secret_passes_within_the_tolerance() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, "whsec_new", 1_700_000_000);
        let both = secrets(&["whsec_old", "whsec_new"]);
        assert_eq!(verify(Some(&header), body, &both, 1_700_000_100, 300), Ok(()));
        // Two v1 values (Stripe during a rotation), one of them right.
        let old = sign(body, "whsec_old", 1_700_000_000);
        let rotated = format!("{header},{}", old.split_once(',').unwrap().1);
        assert_eq!(verify(Some(&rotated), body, &secrets(&["whsec_old"]), 1_700_000_000, 300), Ok(()));
    }

    #[test]
    fn a_forged_stale_or_broken_signature_is_refused() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, "whsec_a", 1_700_000_000);
        let mine = secrets(&["whsec_b"]);
        assert_eq!(verify(Some(&header), body, &mine, 1_700_000_000, 300), Err(SignatureError::Mismatch));
        let right = secrets(&["whsec_a"]);
        assert_eq!(
            verify(Some(&header), body, &right, 1_700_000_301, 300),
            Err(SignatureError::Stale { age: 301, tolerance: 300 })
        );
        assert_eq!(verify(Some(&header), b"{}", &right, 1_700_000_000, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(None, body, &right, 0, 300), Err(SignatureError::Missing));
        assert_eq!(verify(Some("t=1,v1=zz"), body, &right, 1, 300), Err(SignatureError::Malformed));
        assert_eq!(verify(Some("v1=00"), body, &right, 1, 300), Err(SignatureError::Malformed));
    }

    #[test]
    fn a_payment_intent_event_names_berths_invoice() {
        let body = br#"{"id":"evt_9","type":"payment_intent.succeeded","created":5,
            "data":{"object":{"id":"pi_1","amount":1200,"amount_received":1200,"currency":"ron",
            "metadata":{"invoice":"0190f000-0000-7000-8000-000000000001","attempt":"2"}}}}"#;
        let event = parse(body).unwrap();
        let Notice::Succeeded(facts) = event.notice else { panic!("{event:?}") };
        assert_eq!((facts.amount_minor, facts.currency.as_str(), facts.attempt), (1200, "RON", Some(2)));
        let other = parse(br#"{"id":"evt_2","type":"customer.created","data":{"object":{}}}"#).unwrap();
        assert!(matches!(other.notice, Notice::Ignored(_)));
        assert!(parse(b"not json").is_err());
    }
}

//! Sealing, opening and finding personal data.

use super::*;

#[test]
fn envelopes_open_with_their_key_and_read_erased_without() {
    let raw = [7u8; 32];
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &raw).unwrap());
    let sealed = envelope(&key, "email:abc", "ann@example.com");
    let Value::Object(map) = &sealed else { panic!() };
    assert_eq!(envelope_subject(map), Some("email:abc"));
    assert_eq!(open_envelope(&map[ENVELOPE], Some(&key)), "ann@example.com");
    assert_eq!(open_envelope(&map[ENVELOPE], None), ERASED);
    let other = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[8u8; 32]).unwrap());
    assert_eq!(open_envelope(&map[ENVELOPE], Some(&other)), ERASED);
}

#[test]
fn regex_escape_quotes_specials() {
    assert_eq!(regex_escape("a.b+c@x-y.ro"), "a\\.b\\+c@x\\-y\\.ro");
}

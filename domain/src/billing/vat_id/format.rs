//! The shape of each member state's VAT number, after the prefix, written out by hand.
//!
//! These are the published formats (the same ones VIES describes); they catch typing mistakes
//! before an id is sent for verification. Only Romania's check digit is verified here.

/// Checks `number` (the id without its prefix) for the member state `prefix`; on failure,
/// says in words what was expected.
pub(super) fn check(prefix: &str, number: &str) -> Result<(), &'static str> {
    let n = number.as_bytes();
    let (ok, expected) = match prefix {
        "AT" => (n.len() == 9 && n[0] == b'U' && digits(&n[1..]), "U and 8 digits"),
        "BE" => (n.len() == 10 && digits(n) && matches!(n[0], b'0' | b'1'), "10 digits starting with 0 or 1"),
        "BG" => (matches!(n.len(), 9 | 10) && digits(n), "9 or 10 digits"),
        "CY" => (n.len() == 9 && digits(&n[..8]) && n[8].is_ascii_uppercase(), "8 digits and a letter"),
        "CZ" => (matches!(n.len(), 8..=10) && digits(n), "8, 9 or 10 digits"),
        "DE" => (n.len() == 9 && digits(n), "9 digits"),
        "DK" => (n.len() == 8 && digits(n), "8 digits"),
        "EE" => (n.len() == 9 && digits(n), "9 digits"),
        "EL" => (n.len() == 9 && digits(n), "9 digits"),
        "ES" => (spanish(n), "9 characters: 7 digits between a letter or digit at each end, not all digits"),
        "FI" => (n.len() == 8 && digits(n), "8 digits"),
        "FR" => (french(n), "2 letters or digits (not I or O) and 9 digits"),
        "HR" => (n.len() == 11 && digits(n), "11 digits"),
        "HU" => (n.len() == 8 && digits(n), "8 digits"),
        "IE" => (irish(n), "7 digits and 1 or 2 letters, or a digit, a letter, 5 digits and a letter"),
        "IT" => (n.len() == 11 && digits(n), "11 digits"),
        "LT" => (matches!(n.len(), 9 | 12) && digits(n), "9 or 12 digits"),
        "LU" => (n.len() == 8 && digits(n), "8 digits"),
        "LV" => (n.len() == 11 && digits(n), "11 digits"),
        "MT" => (n.len() == 8 && digits(n), "8 digits"),
        "NL" => {
            (n.len() == 12 && digits(&n[..9]) && n[9] == b'B' && digits(&n[10..]), "9 digits, B and 2 digits")
        }
        "PL" => (n.len() == 10 && digits(n), "10 digits"),
        "PT" => (n.len() == 9 && digits(n), "9 digits"),
        "RO" => {
            (matches!(n.len(), 2..=10) && digits(n) && n[0] != b'0', "2 to 10 digits, not starting with 0")
        }
        "SE" => (n.len() == 12 && digits(n) && n.ends_with(b"01"), "12 digits ending in 01"),
        "SI" => (n.len() == 8 && digits(n), "8 digits"),
        "SK" => (n.len() == 10 && digits(n), "10 digits"),
        _ => (false, "a known EU format"),
    };
    if ok {
        Ok(())
    } else {
        Err(expected)
    }
}

fn digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

fn letter_or_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

/// `X9999999X`: either end may be a letter or a digit, but not both digits.
fn spanish(n: &[u8]) -> bool {
    n.len() == 9
        && letter_or_digit(n[0])
        && letter_or_digit(n[8])
        && digits(&n[1..8])
        && (n[0].is_ascii_uppercase() || n[8].is_ascii_uppercase())
}

/// Two check characters (letters other than I and O, or digits) and the 9-digit SIREN.
fn french(n: &[u8]) -> bool {
    let key = |b: u8| b.is_ascii_digit() || (b.is_ascii_uppercase() && b != b'I' && b != b'O');
    n.len() == 11 && key(n[0]) && key(n[1]) && digits(&n[2..])
}

/// `1234567X`, `1234567XX` (the second letter from A to I or W), or the old `1X23456X`.
fn irish(n: &[u8]) -> bool {
    let letter = |b: u8| b.is_ascii_uppercase();
    match n.len() {
        8 if digits(&n[..7]) => letter(n[7]),
        8 => {
            n[0].is_ascii_digit()
                && (letter(n[1]) || n[1] == b'+' || n[1] == b'*')
                && digits(&n[2..7])
                && letter(n[7])
        }
        9 => digits(&n[..7]) && letter(n[7]) && matches!(n[8], b'A'..=b'I' | b'W'),
        _ => false,
    }
}

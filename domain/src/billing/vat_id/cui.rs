//! The check digit of a Romanian CUI (cod unic de înregistrare), as ANAF computes it.
//!
//! The last digit of a CUI checks the others: pad the rest on the left with zeros to nine
//! digits, multiply digit by digit with the key 7 5 3 2 1 7 5 3 2 and add up, multiply the sum
//! by 10 and take the remainder modulo 11; a remainder of 10 counts as 0. The CUI is valid when
//! the result equals its last digit.

/// ANAF's weights, one per position of the nine-digit padded body.
const KEY: [u32; 9] = [7, 5, 3, 2, 1, 7, 5, 3, 2];

/// Whether `cui` (2 to 10 ASCII digits, format already checked) ends in its check digit.
pub(super) fn check_digit_ok(cui: &str) -> bool {
    let digits: Vec<u32> = cui.bytes().map(|b| u32::from(b - b'0')).collect();
    let Some((&check, body)) = digits.split_last() else {
        return false;
    };
    if body.len() > KEY.len() {
        return false;
    }
    // Right-align the body under the key: padding zeros contribute nothing.
    let offset = KEY.len() - body.len();
    let sum: u32 = body.iter().zip(&KEY[offset..]).map(|(d, k)| d * k).sum();
    let computed = (sum * 10) % 11;
    (if computed == 10 { 0 } else { computed }) == check
}

//! Parsing record values per type into the canonical presentation form: host names absolute
//! with their final dot, TXT as quoted strings of at most 255 bytes, CAA values quoted.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::record::{RecordError, RecordType};

/// The longest TXT text accepted, in bytes.
const TXT_MAX: usize = 4096;

pub(super) fn parse(rtype: RecordType, input: &str) -> Result<String, RecordError> {
    let bad = |reason: &str| RecordError::BadValue { rtype: rtype.as_str(), reason: reason.to_owned() };
    let input = input.trim();
    if input.is_empty() {
        return Err(bad("it is empty"));
    }
    match rtype {
        RecordType::A => input
            .parse::<Ipv4Addr>()
            .map(|a| a.to_string())
            .map_err(|_| bad("expected an IPv4 address such as 192.0.2.10")),
        RecordType::Aaaa => input
            .parse::<Ipv6Addr>()
            .map(|a| a.to_string())
            .map_err(|_| bad("expected an IPv6 address such as 2001:db8::10")),
        RecordType::Cname => host(input, false).ok_or_else(|| bad("expected a host name")),
        RecordType::Mx => {
            let [priority, exchange] = words::<2>(input).ok_or_else(|| bad("expected `priority host`"))?;
            let priority = number(priority).ok_or_else(|| bad("the priority must be 0 to 65535"))?;
            let exchange = host(exchange, true).ok_or_else(|| bad("the exchange must be a host name"))?;
            Ok(format!("{priority} {exchange}"))
        }
        RecordType::Srv => {
            let [priority, weight, port, target] =
                words::<4>(input).ok_or_else(|| bad("expected `priority weight port target`"))?;
            let numbers = [priority, weight, port].map(number);
            let [Some(priority), Some(weight), Some(port)] = numbers else {
                return Err(bad("priority, weight and port must be 0 to 65535"));
            };
            let target = host(target, true).ok_or_else(|| bad("the target must be a host name"))?;
            Ok(format!("{priority} {weight} {port} {target}"))
        }
        RecordType::Txt => {
            let text = if input.starts_with('"') {
                unquote_all(input).map_err(|r| bad(&r))?
            } else {
                input.to_owned()
            };
            if text.len() > TXT_MAX {
                return Err(bad(&format!("the text is over {TXT_MAX} bytes")));
            }
            if !text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                return Err(bad("the text must be printable ASCII"));
            }
            Ok(quote_chunks(&text))
        }
        RecordType::Caa => {
            let mut parts = input.splitn(3, char::is_whitespace);
            let (Some(flags), Some(tag), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad("expected `flags tag value`"));
            };
            let flags = match flags {
                "0" => 0,
                "128" => 128,
                _ => return Err(bad("the flags must be 0 or 128 (critical)")),
            };
            let tag = tag.to_ascii_lowercase();
            if !["issue", "issuewild", "iodef"].contains(&tag.as_str()) {
                return Err(bad("the tag must be issue, issuewild or iodef"));
            }
            let value = value.trim();
            let value = if value.starts_with('"') {
                unquote_all(value).map_err(|r| bad(&r))?
            } else {
                value.to_owned()
            };
            if value.is_empty() && tag == "iodef" {
                return Err(bad("an iodef value is a mailto: or https: URL"));
            }
            if tag == "iodef" && !(value.starts_with("mailto:") || value.starts_with("https://")) {
                return Err(bad("an iodef value is a mailto: or https: URL"));
            }
            if value.len() > 255
                || !value.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
            {
                return Err(bad("the value must be printable ASCII without quotes, at most 255 bytes"));
            }
            Ok(format!("{flags} {tag} \"{value}\""))
        }
    }
}

/// Exactly `N` words separated by whitespace.
fn words<const N: usize>(input: &str) -> Option<[&str; N]> {
    let parts: Vec<&str> = input.split_whitespace().collect();
    parts.try_into().ok()
}

fn number(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A host name as an absolute name with its final dot; `.` itself (no host: a null MX, an
/// SRV "not offered here") only where `root_ok`.
fn host(input: &str, root_ok: bool) -> Option<String> {
    if input == "." {
        return root_ok.then(|| ".".to_owned());
    }
    let name = input.strip_suffix('.').unwrap_or(input).to_ascii_lowercase();
    if name.is_empty() || name.len() > 253 || !name.contains('.') {
        return None;
    }
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    labels_ok.then(|| format!("{name}."))
}

/// The text of one or more quoted strings (`"a" "b"` is `ab`), with `\"`, `\\` and `\DDD`.
fn unquote_all(input: &str) -> Result<String, String> {
    let mut out = Vec::new();
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err("a quoted string is not closed".to_owned()),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let digits = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(u8::is_ascii_digit));
                            if let Some(digits) = digits {
                                let code: u32 =
                                    std::str::from_utf8(digits).unwrap_or("0").parse().unwrap_or(256);
                                out.push(u8::try_from(code).map_err(|_| "an escape is over \\255")?);
                                i += 4;
                            } else {
                                out.push(*bytes.get(i + 1).ok_or("a quoted string ends in a backslash")?);
                                i += 2;
                            }
                        }
                        Some(b) => {
                            out.push(*b);
                            i += 1;
                        }
                    }
                }
            }
            _ => return Err("text outside quotes; quote every string or none".to_owned()),
        }
    }
    String::from_utf8(out).map_err(|_| "the text is not UTF-8".to_owned())
}

/// `text` as quoted strings of at most 255 bytes each (a DNS character-string's limit).
fn quote_chunks(text: &str) -> String {
    if text.is_empty() {
        return "\"\"".to_owned();
    }
    text.as_bytes()
        .chunks(255)
        .map(|chunk| {
            let chunk = String::from_utf8_lossy(chunk);
            format!("\"{}\"", chunk.replace('\\', "\\\\").replace('"', "\\\""))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ok(rtype: RecordType, input: &str) -> String {
        parse(rtype, input).unwrap_or_else(|e| panic!("{rtype} {input:?}: {e}"))
    }

    #[test]
    fn values_take_their_canonical_form() {
        assert_eq!(ok(RecordType::A, " 192.0.2.1 "), "192.0.2.1");
        assert_eq!(ok(RecordType::Aaaa, "2001:DB8:0:0::1"), "2001:db8::1");
        assert_eq!(ok(RecordType::Cname, "Target.Example.com"), "target.example.com.");
        assert_eq!(ok(RecordType::Mx, "10   mail.example.com."), "10 mail.example.com.");
        assert_eq!(ok(RecordType::Mx, "0 ."), "0 .");
        assert_eq!(ok(RecordType::Srv, "10 5 5060 sip.example.com"), "10 5 5060 sip.example.com.");
        assert_eq!(ok(RecordType::Txt, "v=spf1 -all"), "\"v=spf1 -all\"");
        assert_eq!(ok(RecordType::Txt, "\"v=spf1 \" \"-all\""), "\"v=spf1 -all\"");
        assert_eq!(ok(RecordType::Txt, "say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(ok(RecordType::Caa, "0 issue letsencrypt.org"), "0 issue \"letsencrypt.org\"");
        assert_eq!(
            ok(RecordType::Caa, "128 IODEF \"mailto:ops@example.com\""),
            "128 iodef \"mailto:ops@example.com\""
        );
        let long = "x".repeat(300);
        assert_eq!(ok(RecordType::Txt, &long), format!("\"{}\" \"{}\"", "x".repeat(255), "x".repeat(45)));
    }

    #[test]
    fn malformed_values_are_refused() {
        for (rtype, input) in [
            (RecordType::A, "192.0.2.300"),
            (RecordType::A, "::1"),
            (RecordType::Aaaa, "192.0.2.1"),
            (RecordType::Cname, "localhost"),
            (RecordType::Cname, "a..b.com"),
            (RecordType::Mx, "mail.example.com"),
            (RecordType::Mx, "65536 mail.example.com"),
            (RecordType::Mx, "-1 mail.example.com"),
            (RecordType::Srv, "1 2 mail.example.com"),
            (RecordType::Txt, "caf\u{e9}"),
            (RecordType::Txt, "\"unclosed"),
            (RecordType::Caa, "1 issue ca.example"),
            (RecordType::Caa, "0 issuer ca.example"),
            (RecordType::Caa, "0 iodef ops@example.com"),
        ] {
            assert!(parse(rtype, input).is_err(), "{rtype} {input:?} was accepted");
        }
    }

    proptest! {
        /// Whatever is accepted is a fixed point: parsing the canonical form gives it back, which
        /// is what lets Berth compare its records with the server's answers as text.
        #[test]
        fn canonical_forms_parse_to_themselves(input in "\\PC{0,80}", pick in 0usize..7) {
            let rtype = RecordType::ALL[pick];
            if let Ok(canonical) = parse(rtype, &input) {
                prop_assert_eq!(parse(rtype, &canonical), Ok(canonical.clone()));
            }
        }
    }
}

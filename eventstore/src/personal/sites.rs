//! Where personal data sits in an event payload, and under which subject it is sealed.

use super::*;

/// Where personal data is in one event's payload. The one place that knows: every email
/// address anywhere (members named `email` or `owner_email`), an issued document's buyer
/// (name, registration, street, city, postal code: under the document's retention subject),
/// and a natural person's billing profile (the same fields, under `party:<tenant>`).
/// Operators (the provider's own staff) are not data subjects here.
pub fn sites(
    keys: &Keys,
    aggregate_type: &str,
    aggregate_id: &str,
    event_type: &str,
    payload: &Value,
) -> Vec<Site> {
    let mut out = Vec::new();
    if aggregate_type == "operator" || aggregate_type == "data_subject" {
        return out;
    }
    emails(keys, payload, &mut String::new(), &mut out);
    // A login's client address and user agent: the account's (the stream is keyed by it).
    if aggregate_type == "security" {
        if let Some((variant, body)) = payload.as_object().and_then(|m| m.iter().next()) {
            for field in ["address", "user_agent"] {
                if body
                    .pointer(&format!("/origin/{field}"))
                    .and_then(Value::as_str)
                    .is_some_and(|s| s != ERASED)
                {
                    let pointer =
                        format!("/{}/origin/{field}", variant.replace('~', "~0").replace('/', "~1"));
                    out.push(Site { pointer, subject: format!("person:{aggregate_id}") });
                }
            }
        }
    }
    let party = match (aggregate_type, event_type) {
        ("invoice", "InvoiceIssued") => Some(("/Issued/document/buyer", retention_subject(aggregate_id))),
        ("billing_profile", "BillingProfileSet")
            if payload.pointer("/Set/party/kind").and_then(Value::as_str) == Some("person") =>
        {
            Some(("/Set/party", format!("party:{aggregate_id}")))
        }
        _ => None,
    };
    if let Some((base, subject)) = party {
        if let Some(party) = payload.pointer(base) {
            let mut fields: Vec<String> =
                ["legal_name", "registration", "address/city", "address/postal_code"]
                    .iter()
                    .map(|f| format!("{base}/{f}"))
                    .collect();
            if let Some(lines) = party.pointer("/address/lines").and_then(Value::as_array) {
                fields.extend((0..lines.len()).map(|i| format!("{base}/address/lines/{i}")));
            }
            for pointer in fields {
                if payload.pointer(&pointer).and_then(Value::as_str).is_some_and(|s| s != ERASED) {
                    out.push(Site { pointer, subject: subject.clone() });
                }
            }
        }
    }
    out
}

fn emails(keys: &Keys, value: &Value, path: &mut String, out: &mut Vec<Site>) {
    match value {
        Value::Object(map) => {
            if envelope_subject(map).is_some() {
                return;
            }
            for (name, member) in map {
                let len = path.len();
                path.push('/');
                path.push_str(&name.replace('~', "~0").replace('/', "~1"));
                match member {
                    Value::String(text) if (name == "email" || name == "owner_email") && text != ERASED => {
                        out.push(Site { pointer: path.clone(), subject: keys.email_subject(text) });
                    }
                    _ => emails(keys, member, path, out),
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                emails(keys, item, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

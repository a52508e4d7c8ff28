//! `HostKey`: a node's SSH host key, pinned at registration as an OpenSSH public key line.

use serde::{Deserialize, Serialize};

/// Why a host key line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostKeyError {
    /// Not `<type> <base64> [comment]`.
    #[error("a host key looks like `ssh-ed25519 AAAAC3Nza... [comment]`")]
    Shape,
    /// A key type Berth does not accept.
    #[error("unsupported host key type `{0}`; use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa")]
    Type(String),
    /// The key body is not base64, or does not name the same type inside.
    #[error("the key body is not a valid {0} key")]
    Body(String),
}

/// A checked OpenSSH public host key (type and base64 body; the comment is dropped).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostKey {
    kind: String,
    body: String,
}

const TYPES: &[&str] =
    &["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"];

impl HostKey {
    /// Parses `<type> <base64> [comment]`.
    pub fn parse(line: &str) -> Result<Self, HostKeyError> {
        let mut parts = line.split_whitespace();
        let (Some(kind), Some(body)) = (parts.next(), parts.next()) else {
            return Err(HostKeyError::Shape);
        };
        if !TYPES.contains(&kind) {
            return Err(HostKeyError::Type(kind.to_owned()));
        }
        // The body's first field is the key type again, length-prefixed (RFC 4253 §6.6).
        let decoded = base64_decode(body).ok_or_else(|| HostKeyError::Body(kind.to_owned()))?;
        let named = decoded
            .get(..4)
            .map(|len| u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize)
            .and_then(|len| decoded.get(4..4 + len));
        if named != Some(kind.as_bytes()) {
            return Err(HostKeyError::Body(kind.to_owned()));
        }
        Ok(Self { kind: kind.to_owned(), body: body.to_owned() })
    }

    /// The key type, such as `ssh-ed25519`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The OpenSSH line without comment.
    pub fn line(&self) -> String {
        format!("{} {}", self.kind, self.body)
    }
}

impl TryFrom<String> for HostKey {
    type Error = HostKeyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<HostKey> for String {
    fn from(value: HostKey) -> Self {
        value.line()
    }
}

/// Standard base64 with padding; `None` on anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || chunk[..4 - pad].contains(&b'=') {
            return None;
        }
        let mut n = 0u32;
        for c in &chunk[..4 - pad] {
            n = (n << 6) | value(*c)?;
        }
        n <<= 6 * pad as u32;
        let three = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&three[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // An ed25519 public key line as ssh-keygen prints it.
    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl root@node1";

    #[test]
    fn parses_an_openssh_line_and_drops_the_comment() {
        let key = HostKey::parse(ED25519).unwrap();
        assert_eq!(key.kind(), "ssh-ed25519");
        assert!(!key.line().contains("root@node1"));
        assert_eq!(HostKey::parse(&key.line()), Ok(key));
    }

    #[test]
    fn refuses_other_shapes() {
        assert_eq!(HostKey::parse("ssh-ed25519"), Err(HostKeyError::Shape));
        assert!(matches!(HostKey::parse("ssh-dss AAAAB3NzaC1kc3M="), Err(HostKeyError::Type(_))));
        assert!(matches!(HostKey::parse("ssh-ed25519 not*base64"), Err(HostKeyError::Body(_))));
        // A valid ed25519 body presented as an RSA key.
        let body = ED25519.split_whitespace().nth(1).unwrap();
        assert!(matches!(HostKey::parse(&format!("ssh-rsa {body}")), Err(HostKeyError::Body(_))));
    }
}

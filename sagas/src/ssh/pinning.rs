//! The russh client handler: the pinned host key is checked before anything is sent.

use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use russh::client;
use russh::keys::PublicKeyOrCertificate;
use tracing::debug;

/// The russh handler: checks the pinned host key and remembers a refused one.
pub(super) struct Client {
    pub(super) pinned: String,
    pub(super) presented: Arc<StdMutex<Option<String>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(&mut self, server_key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let line = openssh_line(server_key);
        if line == self.pinned {
            return Ok(true);
        }
        debug!(presented = %line, "host key does not match the pinned one");
        *self.presented.lock().unwrap_or_else(PoisonError::into_inner) = Some(line);
        Ok(false)
    }
}

/// The key as `type base64`, the form [`berth_domain::node::HostKey::line`] pins.
fn openssh_line(key: &PublicKeyOrCertificate) -> String {
    let full = match key {
        PublicKeyOrCertificate::PublicKey { key, .. } => key.to_openssh(),
        PublicKeyOrCertificate::Certificate(certificate) => certificate.to_openssh(),
    };
    match full {
        Ok(full) => full.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
        Err(error) => format!("<unencodable key: {error}>"),
    }
}

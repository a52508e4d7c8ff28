//! The SFTP verbs of the node scripts (`deploy/node/sftp.sh`): one struct per verb, tied to
//! its reply type. The key or password goes on stdin, never in argv.

use berth_domain::ids::SiteId;
use serde::Deserialize;

use super::contract::{NodeRequest, NodeVerb};

/// How an account logs in: its public key (one OpenSSH line) or its password.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// `ssh-ed25519 AAAA... comment`.
    Key(String),
    /// The password itself (hashed on the node).
    Password(zeroize::Zeroizing<String>),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Key(key) => f.debug_tuple("Key").field(key).finish(),
            Self::Password(_) => f.write_str("Password(..)"),
        }
    }
}

/// `sftp-user-add`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftpUserAdd {
    /// The site.
    pub site: SiteId,
    /// What the account logs in as (checked by the caller: a safe user name).
    pub login: String,
    /// How.
    pub credential: Credential,
}

/// The answer to `sftp-user-add`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SftpUserAdded {
    /// The login.
    pub login: String,
    /// `key` or `password`.
    pub method: String,
    /// Where a session starts, inside the chroot.
    pub root: String,
}

/// `sftp-user-remove`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftpUserRemove {
    /// The site.
    pub site: SiteId,
    /// The login.
    pub login: String,
}

/// The answer to `sftp-user-remove`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SftpUserRemoved {
    /// Whether there was such an account.
    pub existed: bool,
}

/// `sftp-lock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SftpLock {
    /// The site.
    pub site: SiteId,
    /// Whether its accounts may only read.
    pub locked: bool,
}

/// The answer to `sftp-lock`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SftpLocked {
    /// Whether the accounts may only read now.
    pub locked: bool,
    /// How many accounts the site has on the node.
    pub accounts: u32,
}

impl NodeVerb for SftpLock {
    type Reply = SftpLocked;
    fn request(&self) -> NodeRequest {
        NodeRequest::SftpLock { site: self.site, locked: self.locked }
    }
}

impl NodeVerb for SftpUserAdd {
    type Reply = SftpUserAdded;
    fn request(&self) -> NodeRequest {
        let method = match self.credential {
            Credential::Key(_) => "key",
            Credential::Password(_) => "password",
        };
        NodeRequest::SftpUserAdd { site: self.site, login: self.login.clone(), method }
    }

    fn stdin(&self) -> Option<&[u8]> {
        Some(match &self.credential {
            Credential::Key(key) => key.as_bytes(),
            Credential::Password(password) => password.as_bytes(),
        })
    }
}

impl NodeVerb for SftpUserRemove {
    type Reply = SftpUserRemoved;
    fn request(&self) -> NodeRequest {
        NodeRequest::SftpUserRemove { site: self.site, login: self.login.clone() }
    }
}

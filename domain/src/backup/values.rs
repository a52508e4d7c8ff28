//! What a backup holds, why it was taken, why it failed, and the manifest of what was stored.

use serde::{Deserialize, Serialize};

/// What a backup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    /// The site's own files and its database.
    Full,
    /// The site's own files only.
    Files,
    /// The database dump only.
    Database,
}

impl BackupKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Full, Self::Files, Self::Database];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Files => "files",
            Self::Database => "database",
        }
    }

    /// Whether it holds the site's files.
    pub fn has_files(self) -> bool {
        matches!(self, Self::Full | Self::Files)
    }

    /// Whether it holds a database dump.
    pub fn has_database(self) -> bool {
        matches!(self, Self::Full | Self::Database)
    }

    /// Whether everything `part` needs is in a backup of this kind.
    pub fn covers(self, part: Self) -> bool {
        (!part.has_files() || self.has_files()) && (!part.has_database() || self.has_database())
    }
}

/// Why a backup was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupTrigger {
    /// Someone asked for it.
    OnDemand,
    /// The plan's schedule.
    Scheduled,
    /// Taken of the current state before a restore overwrites it.
    BeforeRestore,
    /// Taken before the site is deleted; kept for a while after.
    BeforeDelete,
}

/// Why an attempt at a backup failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The node ran out of disk while making the archive or the dump.
    DiskFull,
    /// `mysqldump` failed, or its output is incomplete.
    DumpFailed,
    /// The object store refused or lost the upload.
    UploadFailed,
    /// What was read back is not what was written.
    ChecksumMismatch,
    /// The node could not be reached or did not answer.
    NodeUnreachable,
}

impl FailureReason {
    /// Every reason.
    pub const ALL: [Self; 5] =
        [Self::DiskFull, Self::DumpFailed, Self::UploadFailed, Self::ChecksumMismatch, Self::NodeUnreachable];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DiskFull => "disk_full",
            Self::DumpFailed => "dump_failed",
            Self::UploadFailed => "upload_failed",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::NodeUnreachable => "node_unreachable",
        }
    }
}

/// A SHA-256 digest as 64 lower-case hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

/// A string that is not a SHA-256 digest in hexadecimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a SHA-256 digest is 64 lower-case hexadecimal digits")]
pub struct Sha256HexError;

impl Sha256Hex {
    /// Checks a digest.
    pub fn parse(hex: &str) -> Result<Self, Sha256HexError> {
        let digit = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if hex.len() != 64 || !hex.chars().all(digit) {
            return Err(Sha256HexError);
        }
        Ok(Self(hex.to_owned()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sha256Hex {
    type Error = Sha256HexError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Sha256Hex> for String {
    fn from(value: Sha256Hex) -> Self {
        value.0
    }
}

/// What was stored: enough to find the object again and to prove it is intact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The stored (encrypted) object's size in bytes.
    pub size: u64,
    /// The stored object's SHA-256.
    pub sha256: Sha256Hex,
    /// Its key in the bucket, under the tenant's prefix.
    pub object_key: String,
    /// What it holds.
    pub kind: BackupKind,
    /// How many parts it was uploaded in (1: a single put).
    pub parts: u32,
    /// The sealed key it is encrypted with (never the key itself).
    pub key_id: uuid::Uuid,
}

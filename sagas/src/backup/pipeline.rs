//! Taking a backup and proving it: the node streams `tar | zstd`, the control plane seals it
//! in chunks, hashes and counts what it stores, and uploads it in parts; reading it back
//! checks size and SHA-256 before a single byte is opened, and the opened archive goes back to
//! the node, which unpacks it and loads its dump into a scratch database.
//!
//! Nothing here decides: each function reports what happened ([`Taken`], [`ReadBack`]) or a
//! [`Failure`] with the domain's reason; the saga turns that into commands.

use std::sync::Arc;

use berth_domain::backup::{BackupKind, FailureReason, Sha256Hex};
use berth_domain::ids::{BackupId, SiteId};
use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::crypt::{CryptError, Opener, Sealer};
use crate::node::backup::{BackupCheck, BackupChecked, BackupClean, BackupPrepare, BackupStream};
use crate::node::scripts::{self, ErrorCode, ScriptError};
use crate::ssh::{NodeShell, Target};

/// Parts uploaded at once.
pub const UPLOAD_CONCURRENCY: usize = 2;
/// Chunks in flight between the node and the upload (each at most an SSH packet's worth).
const CHANNEL_DEPTH: usize = 64;

/// Why taking or checking a backup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", reason.as_str())]
pub struct Failure {
    /// The domain's reason.
    pub reason: FailureReason,
    /// What happened, for people.
    pub detail: String,
}

impl Failure {
    fn new(reason: FailureReason, detail: impl Into<String>) -> Self {
        Self { reason, detail: detail.into() }
    }

    fn from_node(error: &ScriptError) -> Self {
        let reason = match error {
            ScriptError::Shell(_) | ScriptError::Garbled { .. } | ScriptError::Upload { .. } => {
                FailureReason::NodeUnreachable
            }
            ScriptError::Failed { code: ErrorCode::DiskFull, .. } => FailureReason::DiskFull,
            _ => FailureReason::DumpFailed,
        };
        Self::new(reason, error.to_string())
    }

    fn upload(error: impl std::fmt::Display) -> Self {
        Self::new(FailureReason::UploadFailed, error.to_string())
    }
}

/// What was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// Bytes stored.
    pub size: u64,
    /// Their SHA-256.
    pub sha256: Sha256Hex,
    /// Parts uploaded.
    pub parts: u32,
}

/// One backup to take or check: where it comes from and where it goes.
pub struct Job<'a> {
    /// Runs the node's verbs.
    pub shell: &'a dyn NodeShell,
    /// The site's node.
    pub target: &'a Target,
    /// The bucket.
    pub store: Arc<dyn ObjectStore>,
    /// The object.
    pub path: Path,
    /// The tenant's backup key (32 bytes).
    pub key: &'a [u8],
    /// The site.
    pub site: SiteId,
    /// The backup.
    pub backup: BackupId,
    /// What it holds.
    pub kind: BackupKind,
    /// Bytes per uploaded part.
    pub part_size: usize,
}

/// Takes the backup: dump on the node, stream, seal, upload. A failed upload is aborted, so no
/// partial object is left; the staging directory on the node is removed either way.
pub async fn take(job: &Job<'_>) -> Result<Taken, Failure> {
    let prepare = BackupPrepare { site: job.site, backup: job.backup, kind: job.kind };
    let prepared = scripts::call(job.shell, job.target, &prepare).await;
    let result = match prepared {
        Ok(_) => stream_and_upload(job).await,
        Err(error) => Err(Failure::from_node(&error)),
    };
    let clean = BackupClean { site: job.site, backup: job.backup };
    if let Err(error) = scripts::call(job.shell, job.target, &clean).await {
        tracing::warn!(%error, backup = %job.backup, "the node's staging directory was not removed");
    }
    result
}

async fn stream_and_upload(job: &Job<'_>) -> Result<Taken, Failure> {
    let mut sealer = Sealer::new(job.key).map_err(Failure::upload)?;
    let upload = job.store.put_multipart(&job.path).await.map_err(Failure::upload)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, job.part_size);
    let (sink, mut chunks) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
    let verb = BackupStream { site: job.site, backup: job.backup, kind: job.kind };
    let node = scripts::call_stream(job.shell, job.target, &verb, None, Some(sink));
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let consume = async {
        while let Some(chunk) = chunks.recv().await {
            let sealed = sealer.update(&chunk).map_err(Failure::upload)?;
            hasher.update(&sealed);
            size += sealed.len() as u64;
            writer.write(&sealed);
            writer.wait_for_capacity(UPLOAD_CONCURRENCY).await.map_err(Failure::upload)?;
        }
        // Dropping the receiver here stops the node's stream if the upload failed above.
        Ok::<(), Failure>(())
    };
    let (node_result, consumed) = tokio::join!(node, consume);
    let outcome = match (node_result, consumed) {
        (_, Err(failure)) => Err(failure),
        (Err(error), Ok(())) => Err(Failure::from_node(&error)),
        (Ok(_), Ok(())) => Ok(()),
    };
    if let Err(failure) = outcome {
        if let Err(error) = writer.abort().await {
            tracing::warn!(%error, "aborting the multipart upload failed");
        }
        return Err(failure);
    }
    let last = sealer.finish().map_err(Failure::upload)?;
    hasher.update(&last);
    size += last.len() as u64;
    writer.write(&last);
    writer.finish().await.map_err(Failure::upload)?;
    let parts = u32::try_from(size.div_ceil(job.part_size as u64).max(1)).unwrap_or(u32::MAX);
    let sha256 = Sha256Hex::parse(&hex(&hasher.finalize())).map_err(Failure::upload)?;
    Ok(Taken { size, sha256, parts })
}

/// What reading an object back found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBack {
    /// Bytes read.
    pub size: u64,
    /// Their SHA-256.
    pub sha256: Sha256Hex,
}

/// Reads the object back whole and measures it: size and SHA-256 of what is stored.
pub async fn read_back(store: &dyn ObjectStore, path: &Path) -> Result<ReadBack, Failure> {
    let body = super::store::read_ranges(store, path).await.map_err(Failure::upload)?;
    let mut body = std::pin::pin!(body);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(Failure::upload)?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
    }
    let sha256 = Sha256Hex::parse(&hex(&hasher.finalize())).map_err(Failure::upload)?;
    Ok(ReadBack { size, sha256 })
}

/// Checks a stored backup against its manifest: the size and SHA-256 of the object first,
/// then the opened archive on the node (it unpacks, and its dump loads into a scratch
/// database). A mismatch is `checksum_mismatch`, a dump that does not load `dump_failed`.
pub async fn verify(job: &Job<'_>, size: u64, sha256: &Sha256Hex) -> Result<BackupChecked, Failure> {
    let found = read_back(job.store.as_ref(), &job.path).await?;
    if found.size != size || &found.sha256 != sha256 {
        return Err(Failure::new(
            FailureReason::ChecksumMismatch,
            format!(
                "stored {} bytes with SHA-256 {}, expected {size} bytes with {}",
                found.size,
                found.sha256.as_str(),
                sha256.as_str()
            ),
        ));
    }
    let verb = BackupCheck { site: job.site, backup: job.backup };
    let checked = open_to_node(job, &verb).await?;
    Ok(checked)
}

/// Streams the opened archive to a node verb that reads it on stdin.
pub async fn open_to_node<V: crate::node::contract::NodeVerb>(
    job: &Job<'_>,
    verb: &V,
) -> Result<V::Reply, Failure> {
    let mut opener = Opener::new(job.key).map_err(damaged)?;
    let body = super::store::read_ranges(job.store.as_ref(), &job.path).await.map_err(Failure::upload)?;
    let mut body = std::pin::pin!(body);
    let (feed, input) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
    let node = scripts::call_stream(job.shell, job.target, verb, Some(input), None);
    let produce = async move {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(Failure::upload)?;
            let plain = opener.update(&chunk).map_err(damaged)?;
            if !plain.is_empty() && feed.send(Bytes::from(plain)).await.is_err() {
                return Ok(());
            }
        }
        let plain = opener.finish().map_err(damaged)?;
        let _ = feed.send(Bytes::from(plain)).await;
        Ok::<(), Failure>(())
        // `feed` drops here: the node sees end-of-file.
    };
    let (reply, produced) = tokio::join!(node, produce);
    produced?;
    reply.map_err(|error| Failure::from_node(&error))
}

fn damaged(error: CryptError) -> Failure {
    Failure::new(FailureReason::ChecksumMismatch, error.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! Where backups are kept: an S3-compatible bucket, reached with `object_store` using
//! credentials only the control plane holds. Every object lives under the tenant's prefix.

use std::sync::Arc;
use std::time::Duration;

use berth_domain::ids::{BackupId, TenantId};
use bytes::Bytes;
use futures::stream::{self, Stream, StreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{BackoffConfig, GetOptions, GetRange, ObjectStore, RetryConfig};
use zeroize::Zeroizing;

/// How to reach the bucket.
#[derive(Clone)]
pub struct StorageConfig {
    /// The S3 endpoint (`http://127.0.0.1:9000`; a plain-HTTP one is allowed for local peers).
    pub endpoint: String,
    /// The region.
    pub region: String,
    /// The bucket.
    pub bucket: String,
    /// The access key id.
    pub access_key: String,
    /// The secret access key.
    pub secret_key: Zeroizing<String>,
    /// The key prefix every object goes under (`berth`); may be empty.
    pub prefix: String,
    /// Retries of one request before it counts as failed.
    pub retries: usize,
    /// How long one request may keep retrying.
    pub retry_timeout: Duration,
    /// Bytes per part of a multipart upload (at least 5 MiB, S3's minimum).
    pub part_size: usize,
}

// Written by hand so the secret can never reach a log line.
impl std::fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("secret_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The least S3 accepts for every part but the last.
pub const MIN_PART: usize = 5 * 1024 * 1024;

/// The object store `config` names.
pub fn connect(config: &StorageConfig) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: config.retries,
        retry_timeout: config.retry_timeout,
    };
    let store = AmazonS3Builder::new()
        .with_endpoint(&config.endpoint)
        .with_region(&config.region)
        .with_bucket_name(&config.bucket)
        .with_access_key_id(&config.access_key)
        .with_secret_access_key(config.secret_key.as_str())
        .with_allow_http(config.endpoint.starts_with("http://"))
        .with_virtual_hosted_style_request(false)
        // Signing the payload means a SHA-256 of every part on this side and again on the
        // storage's. Backups are sealed (AES-256-GCM, each chunk authenticated) and read back
        // and hashed after upload, so the signature would prove nothing they do not; the
        // request itself stays signed.
        .with_unsigned_payload(true)
        .with_retry(retry)
        .build()?;
    Ok(Arc::new(store))
}

/// Bytes asked for by one ranged read.
const READ_RANGE: u64 = 8 * 1024 * 1024;
/// Ranged reads in flight at once.
const READ_CONCURRENCY: usize = 4;

/// The whole object, in order, fetched as consecutive byte ranges with several in flight at
/// once. One GET streams at whatever one connection (and, on s3s-fs, one file reader handing
/// out 4 KiB at a time) manages; S3 serves ranges of one object in parallel, so reading an
/// archive back takes a fraction of the time. Every range asks for the ETag the object had
/// when it was first looked at, so an object replaced halfway (a retried backup) fails the
/// read instead of mixing two versions. At most `READ_CONCURRENCY` ranges are held at a time.
pub async fn read_ranges<'a>(
    store: &'a dyn ObjectStore,
    path: &'a Path,
) -> Result<impl Stream<Item = Result<Bytes, object_store::Error>> + Send + 'a, object_store::Error> {
    let meta = store.head(path).await?;
    let size = meta.size;
    let e_tag = meta.e_tag;
    let starts = (0..size.div_ceil(READ_RANGE)).map(|n| n * READ_RANGE);
    Ok(stream::iter(starts)
        .map(move |start| {
            let options = GetOptions {
                if_match: e_tag.clone(),
                range: Some(GetRange::Bounded(start..(start + READ_RANGE).min(size))),
                ..GetOptions::default()
            };
            async move { store.get_opts(path, options).await?.bytes().await }
        })
        .buffered(READ_CONCURRENCY))
}

/// The object of one backup: `<prefix>/<tenant>/<backup>.bk`, ids in their 32-digit form. One
/// key per backup, whatever the attempt: a retry replaces what an earlier one stored. Kept
/// short, because some S3 implementations (s3s-fs) make file names out of whole keys.
pub fn object_key(prefix: &str, tenant: TenantId, backup: BackupId) -> Path {
    let tail = format!("{}/{}.bk", tenant.as_uuid().simple(), backup.as_uuid().simple());
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        Path::from(tail)
    } else {
        Path::from(format!("{prefix}/{tail}"))
    }
}

/// The prefix of everything a tenant has stored.
pub fn tenant_prefix(prefix: &str, tenant: TenantId) -> Path {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        Path::from(tenant.as_uuid().simple().to_string())
    } else {
        Path::from(format!("{prefix}/{}", tenant.as_uuid().simple()))
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn objects_live_under_the_tenants_prefix() {
        let tenant = TenantId::from_uuid(Uuid::from_u128(1));
        let key = object_key("/berth/", tenant, BackupId::from_uuid(Uuid::from_u128(3)));
        assert!(key.as_ref().starts_with(tenant_prefix("berth", tenant).as_ref()));
        assert_eq!(
            key.as_ref(),
            "berth/00000000000000000000000000000001/00000000000000000000000000000003.bk"
        );
    }
}

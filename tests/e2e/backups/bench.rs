//! Backup and restore throughput on a real node, next to plain `tar | zstd` of the same files
//! on the same node in the same run. Ignored by default (it writes 200 MB); run it with
//! `cargo test --release --test e2e backups::bench -- --ignored --nocapture`.
//!
//! Besides the two figures the goal is about, it times what bounds them: the node's stream over
//! SSH with nothing else, the bucket alone (a multipart upload and a ranged read of as many
//! bytes as the stored object), each verb of the restore, and the whole backup and restore
//! again with an in-memory store in place of the bucket.

use std::sync::Arc;
use std::time::Instant;

use berth_domain::backup::BackupKind;
use berth_domain::ids::{BackupId, RestoreId};
use berth_sagas::backup::crypt::generate_key;
use berth_sagas::backup::pipeline;
use berth_sagas::backup::store::{self, StorageConfig};
use berth_sagas::node::backup::{BackupPrepare, BackupStream, RestoreFinish, RestoreStage, RestoreSwap};
use berth_sagas::node::scripts;
use futures::StreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, WriteMultipart};

use super::harness::{storage, test_prefix, WordpressNode};
use crate::nodes_harness::one_at_a_time;

const MB: f64 = 1024.0 * 1024.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: writes 200 MB and takes a minute"]
async fn backup_and_restore_throughput_against_tar_and_zstd() {
    let _serial = one_at_a_time().await;
    let wp = WordpressNode::up("tbkb", "bench.backup.test").await;
    let docroot = wp.docroot(wp.site);
    // Half incompressible (media), half text-like (compresses well), 200 MB in all.
    let (ok, _) = wp.node.shell(&format!(
        "mkdir -p {docroot}/wp-content/uploads/bench && head -c 100M /dev/urandom > {docroot}/wp-content/uploads/bench/media.bin \
         && yes 'Lorem ipsum dolor sit amet, consectetur adipiscing elit' | head -c 100M > {docroot}/wp-content/uploads/bench/text.txt"
    ));
    assert!(ok);
    let (_, out) = wp.node.shell(&format!("du -sb {docroot} | cut -f1"));
    let size: f64 = out.trim().parse::<f64>().unwrap() / MB;

    let started = Instant::now();
    let (ok, _) = wp.node.shell(&format!("tar -C {docroot}/.. -cf - public | zstd -q -3 -c > /dev/null"));
    assert!(ok);
    let plain = started.elapsed().as_secs_f64();
    let ssh_only = stream_alone(&wp).await;

    let config = storage(&test_prefix());
    let object_store = store::connect(&config).unwrap();
    let key = generate_key().unwrap();
    let bucket = take_and_restore(&wp, Arc::clone(&object_store), &config, &key).await;
    // The same with the bucket swapped for memory: Berth's own part (dump, SSH, sealing,
    // hashing, unpacking) with the storage's cost taken out.
    let memory = take_and_restore(&wp, Arc::new(InMemory::new()), &config, &key).await;
    // Last, so its writes do not slow the restores' (the kernel writes both back to disk).
    let (written, read) =
        storage_alone(object_store.as_ref(), &bucket.path, bucket.stored, bucket.part_size).await;

    let stored = bucket.stored as f64 / MB;
    eprintln!("site: {size:.0} MB; stored object {stored:.0} MB");
    eprintln!("tar | zstd on the node: {:.1} MB/s", size / plain);
    eprintln!("the node's stream over SSH alone: {:.1} MB/s", size / ssh_only);
    eprintln!(
        "object storage alone, {stored:.0} MB: multipart upload {:.2} s, ranged read {:.2} s \
         (as a pace for the site: {:.2}x and {:.2}x of tar | zstd)",
        written,
        read,
        plain / written,
        plain / read
    );
    for (store, run) in [("s3s-fs", &bucket), ("memory instead of a bucket", &memory)] {
        let (backup, restored) = (run.backup, run.restored);
        eprintln!(
            "{store}: backup (dump, stream, seal, upload) {:.1} MB/s, {:.2}x of tar | zstd; \
             restore (download, open, stage, swap, finish) {:.1} MB/s, {:.2}x",
            size / backup,
            plain / backup,
            size / restored,
            plain / restored
        );
        eprintln!(
            "{store}: restore steps: stage {:.2} s, swap {:.2} s, finish {:.2} s",
            run.staged,
            run.swapped - run.staged,
            restored - run.swapped
        );
    }
    object_store.delete(&bucket.path).await.unwrap();
    let (_, _) = wp.node.shell(&format!("rm -rf {docroot}/wp-content/uploads/bench"));
}

/// One backup and one restore of it, timed (seconds from the start of each).
struct Run {
    path: Path,
    stored: u64,
    part_size: usize,
    backup: f64,
    staged: f64,
    swapped: f64,
    restored: f64,
}

async fn take_and_restore(
    wp: &WordpressNode,
    bucket: Arc<dyn ObjectStore>,
    config: &StorageConfig,
    key: &[u8],
) -> Run {
    let job = wp.job(bucket, config, key, BackupId::from_uuid(uuid::Uuid::now_v7()), BackupKind::Full);
    let started = Instant::now();
    let taken = pipeline::take(&job).await.expect("the backup is taken");
    let backup = started.elapsed().as_secs_f64();

    let (site, restore, what) = (wp.site, RestoreId::from_uuid(uuid::Uuid::now_v7()), BackupKind::Full);
    let started = Instant::now();
    pipeline::open_to_node(&job, &RestoreStage { site, restore, what }).await.expect("staged");
    let staged = started.elapsed().as_secs_f64();
    scripts::call(&wp.bridge, &wp.target, &RestoreSwap { site, restore, what }).await.expect("swapped");
    let swapped = started.elapsed().as_secs_f64();
    scripts::call(&wp.bridge, &wp.target, &RestoreFinish { site, restore }).await.expect("finished");
    let restored = started.elapsed().as_secs_f64();
    Run {
        path: job.path.clone(),
        stored: taken.size,
        part_size: job.part_size,
        backup,
        staged,
        swapped,
        restored,
    }
}

/// The node's backup stream over SSH, its chunks dropped as they come: seconds.
async fn stream_alone(wp: &WordpressNode) -> f64 {
    let backup = BackupId::from_uuid(uuid::Uuid::now_v7());
    let prepare = BackupPrepare { site: wp.site, backup, kind: BackupKind::Full };
    scripts::call(&wp.bridge, &wp.target, &prepare).await.expect("prepared");
    let (sink, mut chunks) = tokio::sync::mpsc::channel(64);
    let started = Instant::now();
    let drain = async move { while chunks.recv().await.is_some() {} };
    let verb = BackupStream { site: wp.site, backup, kind: BackupKind::Full };
    let (streamed, ()) =
        tokio::join!(scripts::call_stream(&wp.bridge, &wp.target, &verb, None, Some(sink)), drain);
    streamed.expect("streamed");
    started.elapsed().as_secs_f64()
}

/// The bucket with nothing else: `bytes` uploaded in parts as a backup uploads them (then
/// deleted), and the stored object read back in ranges as a restore reads it.
async fn storage_alone(store: &dyn ObjectStore, object: &Path, bytes: u64, part_size: usize) -> (f64, f64) {
    let scratch = Path::from(format!("{object}.scratch"));
    let piece = vec![0x5a_u8; 64 * 1024];
    let started = Instant::now();
    let mut writer =
        WriteMultipart::new_with_chunk_size(store.put_multipart(&scratch).await.unwrap(), part_size);
    for _ in 0..bytes.div_ceil(piece.len() as u64) {
        writer.write(&piece);
        writer.wait_for_capacity(pipeline::UPLOAD_CONCURRENCY).await.unwrap();
    }
    writer.finish().await.unwrap();
    let written = started.elapsed();
    store.delete(&scratch).await.unwrap();

    let started = Instant::now();
    let mut body = std::pin::pin!(store::read_ranges(store, object).await.unwrap());
    while let Some(chunk) = body.next().await {
        chunk.unwrap();
    }
    (written.as_secs_f64(), started.elapsed().as_secs_f64())
}

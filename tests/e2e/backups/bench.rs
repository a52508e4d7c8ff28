//! Backup and restore throughput on a real node, next to plain `tar | zstd` of the same files
//! on the same node in the same run. Ignored by default (it writes 200 MB); run it with
//! `cargo test --test e2e backups::bench -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::Instant;

use berth_domain::backup::BackupKind;
use berth_domain::ids::{BackupId, RestoreId};
use berth_sagas::backup::crypt::generate_key;
use berth_sagas::backup::pipeline;
use berth_sagas::backup::store;
use berth_sagas::node::backup::{BackupPrepare, BackupStream, RestoreFinish, RestoreStage, RestoreSwap};
use berth_sagas::node::scripts;
use object_store::ObjectStore;

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

    // The node's stream over SSH alone, its chunks dropped as they come.
    let backup_id = BackupId::from_uuid(uuid::Uuid::now_v7());
    let prepare = BackupPrepare { site: wp.site, backup: backup_id, kind: BackupKind::Full };
    scripts::call(&wp.bridge, &wp.target, &prepare).await.expect("prepared");
    let (sink, mut chunks) = tokio::sync::mpsc::channel(64);
    let started = Instant::now();
    let drain = async move { while chunks.recv().await.is_some() {} };
    let verb = BackupStream { site: wp.site, backup: backup_id, kind: BackupKind::Full };
    let (streamed, ()) =
        tokio::join!(scripts::call_stream(&wp.bridge, &wp.target, &verb, None, Some(sink)), drain);
    streamed.expect("streamed");
    let ssh_only = started.elapsed().as_secs_f64();

    let config = storage(&test_prefix());
    let object_store = store::connect(&config).unwrap();
    let key = generate_key().unwrap();
    let job = wp.job(
        Arc::clone(&object_store),
        &config,
        &key,
        BackupId::from_uuid(uuid::Uuid::now_v7()),
        BackupKind::Full,
    );
    let started = Instant::now();
    let taken = pipeline::take(&job).await.expect("the backup is taken");
    let backup = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let restore = RestoreId::from_uuid(uuid::Uuid::now_v7());
    let what = BackupKind::Full;
    pipeline::open_to_node(&job, &RestoreStage { site: wp.site, restore, what }).await.expect("staged");
    scripts::call(&wp.bridge, &wp.target, &RestoreSwap { site: wp.site, restore, what })
        .await
        .expect("swapped");
    scripts::call(&wp.bridge, &wp.target, &RestoreFinish { site: wp.site, restore }).await.expect("finished");
    let restored = started.elapsed().as_secs_f64();

    eprintln!("site: {size:.0} MB; stored object {:.0} MB", taken.size as f64 / MB);
    eprintln!("tar | zstd on the node: {:.1} MB/s", size / plain);
    eprintln!("the node's stream over SSH alone: {:.1} MB/s", size / ssh_only);
    eprintln!(
        "backup (dump, stream, seal, upload): {:.1} MB/s, {:.2}x of tar | zstd",
        size / backup,
        plain / backup
    );
    eprintln!(
        "restore (download, open, stage, swap): {:.1} MB/s, {:.2}x of tar | zstd",
        size / restored,
        plain / restored
    );
    object_store.delete(&job.path).await.unwrap();
    let (_, _) = wp.node.shell(&format!("rm -rf {docroot}/wp-content/uploads/bench"));
}

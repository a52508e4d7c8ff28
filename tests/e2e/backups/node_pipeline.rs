//! The backup pipeline on a real WordPress site: archive on the node, sealed and uploaded to
//! s3s-fs, read back and checked, restored into fresh locations and swapped in.

use std::sync::Arc;

use berth_domain::backup::{BackupKind, FailureReason};
use berth_domain::ids::{BackupId, RestoreId};
use berth_sagas::backup::crypt::generate_key;
use berth_sagas::backup::pipeline::{self, Job};
use berth_sagas::backup::store;
use berth_sagas::node::backup::{RestoreFinish, RestoreStage, RestoreSwap, SiteMaintenance};
use berth_sagas::node::scripts;
use object_store::{ObjectStore, PutPayload};
use sha2::{Digest, Sha256};

use super::harness::{storage, test_prefix, WordpressNode};
use crate::nodes_harness::one_at_a_time;

const POST: &str = "INSERT INTO wp_posts (post_author, post_date, post_date_gmt, post_content, post_title, \
    post_excerpt, post_status, post_name, to_ping, pinged, post_modified, post_modified_gmt, \
    post_content_filtered, post_type, guid) VALUES (1, NOW(), UTC_TIMESTAMP(), 'Harbour log entry', \
    'Harbour log', '', 'publish', 'harbour-log', '', '', NOW(), UTC_TIMESTAMP(), '', 'post', '')";
const UPLOAD: &str = "wp-content/uploads/2026/12/photo.bin";

fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// Writes an uploaded file into the site, as WordPress would; returns its bytes.
fn upload(wp: &WordpressNode) -> Vec<u8> {
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let path = format!("{}/{UPLOAD}", wp.docroot(wp.site));
    std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    bytes
}

async fn restore(wp: &WordpressNode, job: &Job<'_>, what: BackupKind) -> Result<(), scripts::ScriptError> {
    let restore = RestoreId::from_uuid(uuid::Uuid::now_v7());
    let site = job.site;
    scripts::call(&wp.bridge, &wp.target, &SiteMaintenance { site, on: true }).await?;
    let staged = pipeline::open_to_node(job, &RestoreStage { site, restore, what }).await;
    let outcome = match staged {
        Ok(_) => {
            scripts::call(&wp.bridge, &wp.target, &RestoreSwap { site, restore, what }).await.map(|_| ())
        }
        Err(failure) => panic!("staging failed: {failure}"),
    };
    scripts::call(&wp.bridge, &wp.target, &RestoreFinish { site, restore }).await?;
    scripts::call(&wp.bridge, &wp.target, &SiteMaintenance { site, on: false }).await?;
    outcome
}

#[tokio::test]
async fn a_post_and_an_uploaded_file_come_back_after_a_restore() {
    let _serial = one_at_a_time().await;
    let wp = WordpressNode::up("tbk1", "blog.backup.test").await;
    wp.sql(POST);
    let post = wp.sql("SELECT ID FROM wp_posts WHERE post_name = 'harbour-log'");
    let file = upload(&wp);
    let (status, body, _) = wp.node.get(&wp.domain, &format!("/?p={post}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Harbour log entry"), "the post is served before the backup");

    let config = storage(&test_prefix());
    let store = store::connect(&config).unwrap();
    let key = generate_key().unwrap();
    let job = wp.job(
        Arc::clone(&store),
        &config,
        &key,
        BackupId::from_uuid(uuid::Uuid::now_v7()),
        BackupKind::Full,
    );
    let taken = pipeline::take(&job).await.expect("the backup is taken");
    let checked = pipeline::verify(&job, taken.size, &taken.sha256).await.expect("the backup verifies");
    assert!(checked.tables >= 10, "the dump loaded into a scratch database: {checked:?}");
    let scratch =
        wp.sql_in("information_schema", "SELECT COUNT(*) FROM SCHEMATA WHERE SCHEMA_NAME LIKE 'bchk%'");
    assert_eq!(scratch, "0", "the scratch database is dropped");

    wp.sql(&format!("DELETE FROM wp_posts WHERE ID = {post}"));
    std::fs::remove_file(format!("{}/{UPLOAD}", wp.docroot(wp.site))).unwrap();
    let (status, _, _) = wp.node.get(&wp.domain, &format!("/{UPLOAD}")).await;
    assert_ne!(status, 200, "the file is gone before the restore (WordPress answers for it)");
    let (_, body, _) = wp.node.get(&wp.domain, &format!("/?p={post}")).await;
    assert!(!body.contains("Harbour log entry"), "the post is gone before the restore");

    restore(&wp, &job, BackupKind::Full).await.expect("the restore goes through");

    assert_eq!(wp.sql(&format!("SELECT post_title FROM wp_posts WHERE ID = {post}")), "Harbour log");
    let (status, body, _) = wp.node.get(&wp.domain, &format!("/?p={post}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Harbour log entry"), "the post is served again");
    let served = reqwest::Client::new()
        .get(format!("http://{}/{UPLOAD}", wp.node.address))
        .header("Host", &wp.domain)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(sha256(&served), sha256(&file), "the uploaded file is back, byte for byte");
    let on_disk = std::fs::read(format!("{}/{UPLOAD}", wp.docroot(wp.site))).unwrap();
    assert_eq!(sha256(&on_disk), sha256(&file));
    store.delete(&job.path).await.unwrap();
}

#[tokio::test]
async fn a_flipped_byte_or_a_broken_dump_changes_nothing() {
    let _serial = one_at_a_time().await;
    let wp = WordpressNode::up("tbk2", "shop.backup.test").await;
    wp.sql(POST);
    let config = storage(&test_prefix());
    let store = store::connect(&config).unwrap();
    let key = generate_key().unwrap();
    let job = wp.job(
        Arc::clone(&store),
        &config,
        &key,
        BackupId::from_uuid(uuid::Uuid::now_v7()),
        BackupKind::Full,
    );
    let taken = pipeline::take(&job).await.expect("the backup is taken");

    // One byte flipped in the stored object.
    let mut stored = store.get(&job.path).await.unwrap().bytes().await.unwrap().to_vec();
    let middle = stored.len() / 2;
    stored[middle] ^= 0x01;
    store.put(&job.path, PutPayload::from(stored)).await.unwrap();
    let refused = pipeline::verify(&job, taken.size, &taken.sha256).await.unwrap_err();
    assert_eq!(refused.reason, FailureReason::ChecksumMismatch, "{refused}");
    let opened = pipeline::open_to_node(
        &job,
        &RestoreStage {
            site: wp.site,
            restore: RestoreId::from_uuid(uuid::Uuid::now_v7()),
            what: BackupKind::Full,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(opened.reason, FailureReason::ChecksumMismatch, "a damaged segment never reaches the node");

    // A backup whose dump does not load: the site serves what it served before.
    let (_, before, _) = wp.node.get(&wp.domain, "/").await;
    let broken = "-- a dump cut short\nCREATE TABLE wp_posts (\n-- Dump completed\n";
    let archive = tar_zst_with_dump(&wp, broken);
    let broken_job = wp.job(
        Arc::clone(&store),
        &config,
        &key,
        BackupId::from_uuid(uuid::Uuid::now_v7()),
        BackupKind::Database,
    );
    put_sealed(store.as_ref(), &broken_job, &key, &archive).await;
    let staged = pipeline::open_to_node(
        &broken_job,
        &RestoreStage {
            site: wp.site,
            restore: RestoreId::from_uuid(uuid::Uuid::now_v7()),
            what: BackupKind::Database,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(staged.reason, FailureReason::DumpFailed, "{staged}");
    let (status, after, _) = wp.node.get(&wp.domain, "/").await;
    assert_eq!(status, 200);
    assert_eq!(after, before, "the site serves exactly what it served before");
    let left = wp.sql_in(
        "information_schema",
        &format!("SELECT COUNT(*) FROM SCHEMATA WHERE SCHEMA_NAME LIKE '{}_r%'", wp.database),
    );
    assert_eq!(left, "0", "no fresh database is left behind");
    store.delete(&job.path).await.unwrap();
    store.delete(&broken_job.path).await.unwrap();
}

/// A `tar | zstd` archive holding only `database.sql` with `dump`, made on this machine.
fn tar_zst_with_dump(wp: &WordpressNode, dump: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("berth-broken-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("database.sql"), dump).unwrap();
    let (ok, _) = wp.node.shell(&format!(
        "tar -C {} -cf - database.sql | zstd -q -c > {}/a.tar.zst",
        dir.display(),
        dir.display()
    ));
    assert!(ok);
    let bytes = std::fs::read(dir.join("a.tar.zst")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    bytes
}

async fn put_sealed(store: &dyn ObjectStore, job: &Job<'_>, key: &[u8], plain: &[u8]) {
    let mut sealer = berth_sagas::backup::crypt::Sealer::new(key).unwrap();
    let mut sealed = sealer.update(plain).unwrap();
    sealed.extend(sealer.finish().unwrap());
    store.put(&job.path, PutPayload::from(sealed)).await.unwrap();
}

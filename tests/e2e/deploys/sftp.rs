//! SFTP accounts on a real node, with OpenSSH's `sftp` client: a file uploaded into a static
//! site is served over HTTP, and the account sees nothing outside its chroot — not the node's
//! files, not another site's.

use std::process::Command;
use std::sync::Arc;

use berth_domain::domain_name::DomainName;
use berth_domain::ids::{NodeId, SiteId};
use berth_domain::node::HostKey;
use berth_domain::php::SiteKind;
use berth_sagas::node::contract::{Bootstrap, SiteCreate};
use berth_sagas::node::scripts;
use berth_sagas::node::sftp::{Credential, SftpUserAdd, SftpUserRemove};
use berth_sagas::ssh::{SshBridge, SshSettings, Target};
use zeroize::Zeroizing;

use crate::nodes_harness::{one_at_a_time, LocalNode};

/// Runs `batch` with OpenSSH's sftp as `login`; whether every command succeeded, and the output.
fn sftp(node: &LocalNode, key: &std::path::Path, login: &str, batch: &str) -> (bool, String) {
    let file = key.with_extension("batch");
    std::fs::write(&file, batch).unwrap();
    let out = Command::new("sftp")
        .args(["-q", "-b"])
        .arg(&file)
        .arg("-i")
        .arg(key)
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
        .args(["-o", "IdentitiesOnly=yes", "-P", &node.ssh_port.to_string()])
        .arg(format!("{login}@{}", node.address))
        .output()
        .expect("sftp");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sftp_upload_is_served_and_the_account_stays_in_its_chroot() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tsft").await;
    let seed: [u8; 32] = rand::random();
    node.authorize(&berth_eventstore::vault::public_line(&seed)).await;
    let target = Target {
        node_id: NodeId::from_uuid(uuid::Uuid::now_v7()),
        address: node.address.clone(),
        port: node.ssh_port,
        user: "root".to_owned(),
        host_key: HostKey::parse(&node.host_key).unwrap(),
        private_key: Arc::new(Zeroizing::new(seed)),
    };
    let bridge = SshBridge::new(SshSettings::default());
    scripts::call(&bridge, &target, &Bootstrap).await.expect("bootstrap");
    let (site, other) = (SiteId::from_uuid(uuid::Uuid::now_v7()), SiteId::from_uuid(uuid::Uuid::now_v7()));
    for (id, domain) in [(site, "files.sftp.test"), (other, "other.sftp.test")] {
        let create = SiteCreate {
            site: id,
            domain: DomainName::parse(domain).unwrap(),
            kind: SiteKind::Static,
            php: None,
            resources: Default::default(),
            noindex: false,
        };
        scripts::call(&bridge, &target, &create).await.expect("site-create");
    }
    std::fs::write(format!("{}/srv/sites/{other}/public/secret.txt", node.root), "the other site's").unwrap();

    let dir = std::env::temp_dir().join(format!("berth-sftp-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("id_ed25519");
    let made =
        Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap();
    assert!(made.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap().trim().to_owned();
    let login = format!("s{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let added = scripts::call(
        &bridge,
        &target,
        &SftpUserAdd { site, login: login.clone(), credential: Credential::Key(public) },
    )
    .await
    .expect("sftp-user-add");
    assert_eq!(added.root, "/public");

    // An upload lands in the site's document root and is served.
    let page = dir.join("index.html");
    std::fs::write(&page, "<h1>uploaded over sftp</h1>").unwrap();
    let (ok, out) = sftp(&node, &key, &login, &format!("put {} index.html\n", page.display()));
    let log = std::fs::read_to_string(format!("{}/log/sshd.log", node.root)).unwrap_or_default();
    assert!(ok, "{out}\nsshd: {log}");
    let (status, body, _) = node.get("files.sftp.test", "/index.html").await;
    assert_eq!((status, body.as_str()), (200, "<h1>uploaded over sftp</h1>"));

    // Outside the chroot there is nothing to read: not the node's files, not another site's.
    let copy = dir.join("copy");
    for path in
        ["/etc/passwd".to_owned(), format!("/../{other}/public/secret.txt"), "../../etc/hostname".to_owned()]
    {
        let (ok, out) = sftp(&node, &key, &login, &format!("get {path} {}\n", copy.display()));
        assert!(!ok, "{path} was readable: {out}");
        assert!(!copy.exists(), "{path} was copied");
    }
    let (ok, listing) = sftp(&node, &key, &login, "ls -1 /\n");
    assert!(ok, "{listing}");
    assert!(
        listing.contains("public") && !listing.contains(&other.to_string()) && !listing.contains("etc"),
        "{listing}"
    );

    // Removed, the account no longer logs in.
    let removed =
        scripts::call(&bridge, &target, &SftpUserRemove { site, login: login.clone() }).await.unwrap();
    assert!(removed.existed);
    let (ok, _) = sftp(&node, &key, &login, "ls\n");
    assert!(!ok, "a removed account logged in");
    let _ = std::fs::remove_dir_all(&dir);
}

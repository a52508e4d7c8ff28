//! A plan's per-site limits on a real node: `site-create` writes php-fpm's `pm.max_children`,
//! PHP's `memory_limit` and upload size, and nginx's body limit from them, and a second call
//! with other limits (a plan change) rewrites them; PHP itself reports the memory limit.

use std::sync::Arc;

use berth_domain::domain_name::DomainName;
use berth_domain::ids::{NodeId, SiteId};
use berth_domain::node::HostKey;
use berth_domain::php::{PhpVersion, SiteKind};
use berth_domain::plan::SiteResources;
use berth_sagas::node::contract::{Bootstrap, SiteCreate};
use berth_sagas::node::scripts;
use berth_sagas::ssh::{SshBridge, SshSettings, Target};
use zeroize::Zeroizing;

use crate::nodes_harness::{one_at_a_time, LocalNode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sites_php_pool_and_vhost_follow_its_plans_limits() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tlim").await;
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
    let site = SiteId::from_uuid(uuid::Uuid::now_v7());
    let create = |resources| SiteCreate {
        site,
        domain: DomainName::parse("limits.plan.test").unwrap(),
        kind: SiteKind::Php,
        php: Some(PhpVersion::V8_2),
        resources,
        noindex: false,
    };
    let small =
        SiteResources { php_workers: 3, php_memory_mb: 96, upload_mb: 12, ..SiteResources::default() };
    scripts::call(&bridge, &target, &create(small)).await.expect("site-create");
    let pool = format!("{}/etc/php/8.2/pools/berth-{site}.conf", node.root);
    let vhost = format!("{}/etc/nginx/sites/{site}.conf", node.root);
    let text = std::fs::read_to_string(&pool).unwrap();
    assert!(text.contains("pm.max_children = 3\n"), "{text}");
    assert!(text.contains("php_admin_value[memory_limit] = 96M\n"), "{text}");
    assert!(text.contains("php_admin_value[upload_max_filesize] = 12M\n"), "{text}");
    assert!(std::fs::read_to_string(&vhost).unwrap().contains("client_max_body_size 12m;"));
    let probe = format!("{}/srv/sites/{site}/public/limit.php", node.root);
    std::fs::write(&probe, "<?php echo ini_get('memory_limit');").unwrap();
    let (status, body, _) = node.get("limits.plan.test", "/limit.php").await;
    assert_eq!((status, body.as_str()), (200, "96M"));

    // A plan with more room: the same call rewrites both files.
    let large =
        SiteResources { php_workers: 12, php_memory_mb: 512, upload_mb: 200, ..SiteResources::default() };
    scripts::call(&bridge, &target, &create(large)).await.expect("site-create again");
    let text = std::fs::read_to_string(&pool).unwrap();
    assert!(text.contains("pm.max_children = 12\n") && text.contains("memory_limit] = 512M\n"), "{text}");
    assert!(std::fs::read_to_string(&vhost).unwrap().contains("client_max_body_size 200m;"));
    let body = crate::nodes_harness::wait_for(std::time::Duration::from_secs(30), || async {
        let (status, body, _) = node.get("limits.plan.test", "/limit.php").await;
        (status == 200 && body == "512M").then_some(body)
    })
    .await;
    assert_eq!(body, "512M");
}

//! A Laravel-shaped app (an `artisan` that migrates from `database/migrations/` and caches its
//! config, and a `public/index.php` reading the site's database) deployed by hand: its
//! migration ran against the site's own database, and the page served reads what it made.

use std::time::Duration;

use berth::app::Roles;
use object_store::ObjectStore;
use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{configure, GitRepo};
use crate::api::Api;
use crate::backups::harness::{backup_settings, shell_quote, storage, test_prefix};
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, site_user, wait_for, wait_for_status, LocalNode,
    NODE_SETTINGS,
};

const DOMAIN: &str = "app.laravel.test";

const ARTISAN: &str = r#"<?php
// A stand-in for Laravel's artisan: the two commands a deployment runs.
$dsn = 'mysql:unix_socket=' . getenv('DB_SOCKET') . ';dbname=' . getenv('DB_DATABASE');
$command = $argv[1] ?? '';
if ($command === 'migrate') {
    $db = new PDO($dsn, getenv('DB_USERNAME'), getenv('DB_PASSWORD'));
    $db->exec('CREATE TABLE IF NOT EXISTS migrations (migration VARCHAR(191) PRIMARY KEY)');
    foreach (glob(__DIR__ . '/database/migrations/*.sql') as $file) {
        $name = basename($file, '.sql');
        $seen = $db->prepare('SELECT COUNT(*) FROM migrations WHERE migration = ?');
        $seen->execute([$name]);
        if ($seen->fetchColumn() > 0) { continue; }
        $db->exec(file_get_contents($file));
        $db->prepare('INSERT INTO migrations VALUES (?)')->execute([$name]);
        echo "Migrated: $name\n";
    }
} elseif ($command === 'config:cache') {
    @mkdir(__DIR__ . '/bootstrap/cache', 0775, true);
    file_put_contents(__DIR__ . '/bootstrap/cache/config.php', '<?php return ' . var_export(['database' => getenv('DB_DATABASE')], true) . ";\n");
    echo "Configuration cached successfully.\n";
} else {
    fwrite(STDERR, "unknown command $command\n");
    exit(1);
}
"#;

const INDEX: &str = r#"<?php
header('Content-Type: text/plain');
$config = require __DIR__ . '/../bootstrap/cache/config.php';
$db = new PDO('mysql:unix_socket=' . getenv('DB_SOCKET') . ';dbname=' . getenv('DB_DATABASE'), getenv('DB_USERNAME'), getenv('DB_PASSWORD'));
$names = $db->query('SELECT name FROM widgets ORDER BY id')->fetchAll(PDO::FETCH_COLUMN);
echo 'widgets: ' . implode(',', $names) . '; config for ' . $config['database'];
"#;

const MIGRATION: &str = "CREATE TABLE widgets (id INT PRIMARY KEY, name VARCHAR(50));
INSERT INTO widgets VALUES (1, 'sprocket'), (2, 'flange');
";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_laravel_app_deploys_and_its_migration_runs_against_the_sites_database() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tdel").await;
    let repo = GitRepo::new();
    let cache = std::env::temp_dir().join(format!("berth-git-{}", uuid::Uuid::now_v7().simple()));
    let config = storage(&test_prefix());
    let backups = backup_settings(&config);
    let mut settings: Vec<(&str, &str)> = NODE_SETTINGS.to_vec();
    settings.extend(backups.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let cache_dir = cache.display().to_string();
    settings.extend([
        ("BERTH_DEPLOYS__ALLOW_FILE_URLS", "true"),
        ("BERTH_DEPLOYS__CACHE_DIR", cache_dir.as_str()),
    ]);
    let api = Api::start_roles(&settings, Roles::ALL).await;
    let operator = operator_token(&api).await;
    add_node(&api, &operator, &node, (4, 8192, 80)).await;
    let owner = api.register("Artisans").await;
    let site = create_site(&api, &owner.token, DOMAIN, "laravel", Some("8.2")).await;
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await["status"], "active");
    let commit = repo.commit(
        &[
            ("artisan", ARTISAN),
            ("public/index.php", INDEX),
            ("database/migrations/2026_12_01_000000_create_widgets.sql", MIGRATION),
        ],
        "Widgets",
    );
    let (status, answer) =
        configure(&api, &owner.token, &site, json!({"url": repo.url, "branch": "main"})).await;
    assert_eq!(status, 202, "{answer}");

    let response = api
        .send(Method::POST, &format!("/v1/sites/{site}/deploy"), Some(&owner.token), Some(json!({})))
        .await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let accepted: Value = response.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap().to_owned();
    let view = wait_for(Duration::from_secs(180), || async {
        let (status, view) = api.read(&format!("/v1/deployments/{id}"), &owner.token).await;
        (status == 200 && ["succeeded", "failed"].contains(&view["status"].as_str().unwrap_or("")))
            .then_some(view)
    })
    .await;
    assert_eq!(view["status"], "succeeded", "{view}");
    assert_eq!(
        (view["trigger"].as_str(), view["commit_id"].as_str()),
        (Some("manual"), Some(commit.as_str()))
    );

    // The page is served from the release's public/ and reads what the migration made.
    let database = site_user(&site);
    let (status, body, _) = node.get(DOMAIN, "/").await;
    assert_eq!(
        (status, body.as_str()),
        (200, format!("widgets: sprocket,flange; config for {database}").as_str())
    );
    let query = "SELECT migration FROM migrations";
    let command = format!(
        "mariadb --socket=\"$BERTH_NODE_ROOT/run/mysqld.sock\" -u root --batch --skip-column-names {database} -e {}",
        shell_quote(query)
    );
    let (ok, out) = node.shell(&command);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "2026_12_01_000000_create_widgets");

    // The full log is kept, with what artisan printed.
    let store = berth_sagas::backup::store::connect(&config).unwrap();
    let key = view["log_key"].as_str().expect("a log key").to_owned();
    let log = store.get(&object_store::path::Path::from(key.as_str())).await.unwrap().bytes().await.unwrap();
    let log = String::from_utf8_lossy(&log);
    assert!(log.contains("Migrated: 2026_12_01_000000_create_widgets"), "{log}");
    assert!(log.contains("Configuration cached successfully."), "{log}");
    store.delete(&object_store::path::Path::from(key.as_str())).await.unwrap();
    let _ = std::fs::remove_dir_all(&cache);
    api.stop().await;
}

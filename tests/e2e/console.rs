//! The web console in a real browser: `tests/console/run.mjs` drives Debian's Chromium with
//! playwright-core against `berth serve` (every role, the console listener on) and a namespaced
//! node. An operator registers and bootstraps the node by clicking; a new user registers,
//! creates a WordPress site, watches it go active, opens it on the node, backs it up, restores
//! it and downloads an invoice PDF; another tenant's site id typed into the address bar is "not
//! found"; a Viewer sees no action buttons and a forced request shows the API's refusal;
//! signing out ends the session at the API. Every main page is checked with axe-core (no
//! serious or critical violation) and screenshotted at desktop and phone width into the build's
//! temporary directory, and a page that breaks the Content-Security-Policy or throws fails it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth::app::{Application, Roles};
use berth::settings::Settings;
use tokio_util::sync::CancellationToken;

use crate::backups::harness::{backup_settings, storage, test_prefix};
use crate::common::TestEnv;
use crate::nodes_harness::{one_at_a_time, LocalNode, NODE_SETTINGS};

/// Where the npm packages are (`deploy/dev test` installs them): `BERTH_DEV_CONSOLE_TOOLS`, by
/// default `~/.cache/berth/node-console`.
fn tools() -> PathBuf {
    let dir = std::env::var_os("BERTH_DEV_CONSOLE_TOOLS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/berth/node-console")
    });
    for package in ["playwright-core", "axe-core"] {
        assert!(
            dir.join("node_modules").join(package).is_dir(),
            "{package} is not in {} (BERTH_DEV_CONSOLE_TOOLS): `deploy/dev test` installs it from tests/console/package.json",
            dir.display()
        );
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(Path::new(&chromium).exists(), "no Chromium at {chromium}: `deploy/dev test` installs Debian's");
    dir
}

async fn operator_token(env: &TestEnv) -> String {
    let email = format!("ops-{}@console.test", uuid::Uuid::now_v7().simple());
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["operator", "add", "--email", &email])
        .envs(env.env_vars())
        .env("RUST_LOG", "error")
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout.lines().find_map(|l| l.strip_prefix("token ")).expect("a token line").trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_and_operators_run_berth_from_the_console_in_a_browser() {
    let tools = tools();
    let _serial = one_at_a_time().await;
    let env = TestEnv::new().await;
    let mut vars = env.env_vars();
    vars.extend(NODE_SETTINGS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    vars.extend(backup_settings(&storage(&test_prefix())));
    vars.push(("BERTH_CONSOLE__ADDR".to_owned(), "127.0.0.1:0".to_owned()));
    // The demonstration seller and series of `deploy/dev run`, so that invoices can be issued.
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/dev.toml");
    let settings = Settings::load_from(Some(&config), vars).expect("settings");
    let app = Application::build(settings, Roles::ALL).await.expect("application");
    let console = app.console_addr().expect("the console listens");
    let command = app.command_api_addr().unwrap();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let operator = operator_token(&env).await;
    let node = LocalNode::up("console1").await;
    let domain = format!("wp-{}.console.test", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-shots");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console/run.mjs");
    let run = tokio::process::Command::new("node")
        .arg(&script)
        .env("CONSOLE_TOOLS", &tools)
        .env("CONSOLE_URL", format!("http://{console}"))
        .env("COMMAND_URL", format!("http://{command}"))
        .env("OPERATOR_TOKEN", &operator)
        .env("NODE_NAME", &node.name)
        .env("NODE_ADDRESS", &node.address)
        .env("NODE_SSH_PORT", node.ssh_port.to_string())
        .env("NODE_HOST_KEY", &node.host_key)
        .env("SITE_DOMAIN", &domain)
        .env("DEV_NODE", Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/dev-node"))
        .env("SHOTS", &shots)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(900), run)
        .await
        .expect("the browser run took more than 15 minutes")
        .expect("node runs");
    let log =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{log}");
    shutdown.cancel();
    let _ = running.await;
    assert!(output.status.success(), "the console's browser run failed:\n{log}");
    for page in ["tenant-site", "tenant-billing", "operator-node", "viewer-site"] {
        for width in ["desktop", "phone"] {
            assert!(
                shots.join(format!("{page}-{width}.png")).is_file(),
                "no screenshot of {page} at {width} width"
            );
        }
    }
    env.cleanup().await;
}

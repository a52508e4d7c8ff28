//! The SSH bridge against a real OpenSSH server, started privately on loopback per test.
//!
//! Needs `/usr/sbin/sshd` (Debian's openssh-server) and root, as on the CI machine. Sessions
//! see `BERTH_NODE_ROOT` pointing into the test's directory, so the node scripts can be
//! uploaded and called as on a node without touching this machine's `/opt`.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_domain::ids::{NodeId, SiteId};
use berth_domain::node::HostKey;
use berth_sagas::node::bundle;
use berth_sagas::node::contract::{SiteSuspend, Version};
use berth_sagas::node::scripts::{self, ErrorCode, ScriptError};
use berth_sagas::ssh::{NodeShell, ShellError, SshBridge, SshSettings, Target};
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::PrivateKey;
use tokio::process::{Child, Command};
use zeroize::Zeroizing;

/// A private sshd: its directory, port and host key.
struct Sshd {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Sshd {
    /// Starts an sshd that accepts the given public key lines.
    async fn start(authorized: &[String]) -> Self {
        let dir = std::env::temp_dir().join(format!("berth-sshd-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        // sshd refuses to start without its privilege separation directory.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let keygen = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.join("host"))
            .status()
            .unwrap();
        assert!(keygen.success());
        std::fs::write(dir.join("authorized_keys"), authorized.join("\n") + "\n").unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // HOME is the test directory: bash, started by sshd, reads $HOME/.bashrc even for a
        // command, and the machine's own root profile has no business in these tests.
        let config = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {dir}/host\nPidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {dir}/authorized_keys\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
             LogLevel ERROR\nSetEnv HOME={dir} BERTH_NODE_ROOT={dir}/node\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        let mut sshd = Self { dir, port, child: None };
        sshd.spawn().await;
        sshd
    }

    /// Starts (again) the server process on the same port and key, and waits until it listens.
    async fn spawn(&mut self) {
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(self.dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("TEST_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(Instant::now() < deadline, "sshd did not start listening");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server and every session process it forked, as if the node went down.
    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                kill_descendants(pid);
            }
            child.kill().await.unwrap();
        }
    }

    /// The server's real public key, `type base64`.
    fn host_line(&self) -> String {
        let line = std::fs::read_to_string(self.dir.join("host.pub")).unwrap();
        line.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    }

    fn target(&self, seed: [u8; 32]) -> Target {
        Target {
            node_id: NodeId::from_uuid(uuid::Uuid::now_v7()),
            address: "127.0.0.1".to_owned(),
            port: self.port,
            user: current_user(),
            host_key: HostKey::parse(&self.host_line()).unwrap(),
            private_key: Arc::new(Zeroizing::new(seed)),
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(pid) = self.child.as_ref().and_then(Child::id) {
            kill_descendants(pid);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Each session sshd forks starts its own session (setsid), so killing the listener alone
/// would leave the bridge's connection up; find them through /proc by parent id instead.
fn kill_descendants(pid: u32) {
    let mut found = Vec::new();
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(Path::new("/proc").join(child.to_string()).join("stat"))
            else {
                continue;
            };
            // The parent id is the second field after the parenthesised command name.
            let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
            if ppid == Some(parent.to_string().as_str()) {
                found.push(child);
                parents.push(child);
            }
        }
    }
    for child in found {
        let _ = std::process::Command::new("kill").arg("-KILL").arg(child.to_string()).status();
    }
}

fn current_user() -> String {
    let output = std::process::Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn random_seed() -> [u8; 32] {
    let mut seed = [0; 32];
    std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut seed).unwrap();
    seed
}

/// The OpenSSH public key line of an ed25519 seed.
fn public_line(seed: &[u8; 32]) -> String {
    PrivateKey::from(Ed25519Keypair::from_seed(seed)).public_key().to_openssh().unwrap()
}

fn settings() -> SshSettings {
    SshSettings {
        connect_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(30),
        attempts: 3,
        backoff: Duration::from_millis(50),
        channels_per_node: 8,
    }
}

#[tokio::test]
async fn returns_the_exit_status_and_both_outputs() {
    let seed = random_seed();
    let sshd = Sshd::start(&[public_line(&seed)]).await;
    let bridge = SshBridge::new(settings());

    let output = bridge.run(&sshd.target(seed), "echo hi; echo err >&2; exit 3", None).await.unwrap();

    assert_eq!(output.exit_status, 3);
    assert_eq!(output.stdout, b"hi\n");
    assert_eq!(output.stderr, b"err\n");
}

#[tokio::test]
async fn feeds_stdin_to_the_command() {
    let seed = random_seed();
    let sshd = Sshd::start(&[public_line(&seed)]).await;
    let bridge = SshBridge::new(settings());
    let target = sshd.target(seed);
    let mut large = vec![0; 1 << 20];
    std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut large).unwrap();

    let small = bridge.run(&target, "cat", Some(b"hello\n")).await.unwrap();
    let echoed = bridge.run(&target, "cat", Some(&large)).await.unwrap();
    let unread = bridge.run(&target, "true", Some(&large)).await.unwrap();
    // More than russh's 2 MiB receive window, so the window must be replenished as we read.
    let long = bridge.run(&target, "head -c 5000000 /dev/zero", None).await.unwrap();

    assert_eq!(small.stdout, b"hello\n");
    assert_eq!(echoed.exit_status, 0);
    assert!(echoed.stdout == large, "1 MiB came back as {} bytes", echoed.stdout.len());
    assert_eq!(unread.exit_status, 0);
    assert_eq!(long.stdout.len(), 5_000_000);
}

#[test]
fn debug_output_of_a_target_hides_the_key() {
    let seed = [7; 32];
    let target = Target {
        node_id: NodeId::from_uuid(uuid::Uuid::now_v7()),
        address: "127.0.0.1".to_owned(),
        port: 22,
        user: "root".to_owned(),
        host_key: HostKey::parse(&public_line(&random_seed())).unwrap(),
        private_key: Arc::new(Zeroizing::new(seed)),
    };

    let shown = format!("{target:?}");

    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(!shown.contains("7, 7, 7"), "{shown}");
}

#[tokio::test]
async fn concurrent_commands_share_one_session() {
    let seed = random_seed();
    let sshd = Sshd::start(&[public_line(&seed)]).await;
    let bridge = SshBridge::new(settings());
    let target = sshd.target(seed);
    let commands: Vec<String> = (0..20).map(|n| format!("sleep 0.1; echo {n}")).collect();
    // The first command opens the session (a just-started sshd may need a second try).
    assert_eq!(bridge.run(&target, "true", None).await.unwrap().exit_status, 0);
    let connects = bridge.connect_attempts();

    let outputs =
        futures::future::join_all(commands.iter().map(|command| bridge.run(&target, command, None))).await;

    for (n, output) in outputs.into_iter().enumerate() {
        let output = output.unwrap();
        assert_eq!((output.exit_status, output.stdout), (0, format!("{n}\n").into_bytes()));
    }
    assert_eq!(bridge.connect_attempts(), connects, "the 20 commands opened no new session");
    assert_eq!(bridge.connections().await, 1);
}

#[tokio::test]
async fn refuses_a_node_that_presents_another_host_key_without_retrying() {
    let seed = random_seed();
    let sshd = Sshd::start(&[public_line(&seed)]).await;
    let bridge = SshBridge::new(SshSettings { backoff: Duration::from_secs(2), ..settings() });
    let pinned = HostKey::parse(&public_line(&random_seed())).unwrap();
    let target = Target { host_key: pinned, ..sshd.target(seed) };

    let error = bridge.run(&target, "echo never", None).await.unwrap_err();

    match error {
        ShellError::HostKeyMismatch { ref presented } => assert_eq!(*presented, sshd.host_line()),
        ref other => panic!("expected a host key mismatch, got {other:?}"),
    }
    assert!(!error.is_transient());
    assert_eq!(bridge.connect_attempts(), 1);
}

#[tokio::test]
async fn reports_a_down_node_after_the_attempts_and_reconnects_when_it_is_back() {
    let seed = random_seed();
    let mut sshd = Sshd::start(&[public_line(&seed)]).await;
    let bridge = SshBridge::new(settings());
    let target = sshd.target(seed);
    bridge.run(&target, "true", None).await.unwrap();

    sshd.stop().await;
    // Wait until the bridge has seen its session end, so every attempt below is a connect.
    let deadline = Instant::now() + Duration::from_secs(5);
    while bridge.connections().await > 0 {
        assert!(Instant::now() < deadline, "the session outlived the server");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let down = bridge.run(&target, "true", None).await.unwrap_err();
    assert!(matches!(down, ShellError::Unreachable(_)), "got {down:?}");
    assert!(down.is_transient());
    assert_eq!(bridge.connect_attempts(), 1 + 3);

    sshd.spawn().await;
    let back = bridge.run(&target, "echo back", None).await.unwrap();
    assert_eq!(back.stdout, b"back\n");
    assert_eq!(bridge.connections().await, 1);
}

#[tokio::test]
async fn stops_waiting_for_a_command_after_the_command_timeout() {
    let seed = random_seed();
    let sshd = Sshd::start(&[public_line(&seed)]).await;
    // Long enough that `true` finishes on a loaded two-core CI machine, far below the sleep.
    let bridge = SshBridge::new(SshSettings { command_timeout: Duration::from_secs(1), ..settings() });
    let target = sshd.target(seed);
    bridge.run(&target, "true", None).await.unwrap();

    let started = Instant::now();
    let error = bridge.run(&target, "sleep 10", None).await.unwrap_err();

    assert!(matches!(error, ShellError::Timeout), "got {error:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    // Not retried, and the session stays usable.
    assert_eq!(bridge.connect_attempts(), 1);
    assert_eq!(bridge.run(&target, "echo after", None).await.unwrap().stdout, b"after\n");
}

#[tokio::test]
async fn reports_a_key_the_node_does_not_authorize() {
    let sshd = Sshd::start(&[public_line(&random_seed())]).await;
    let bridge = SshBridge::new(settings());

    let error = bridge.run(&sshd.target(random_seed()), "echo never", None).await.unwrap_err();

    assert!(matches!(error, ShellError::Auth(_)), "got {error:?}");
    assert!(!error.is_transient());
    assert_eq!(bridge.connect_attempts(), 1);
}

/// The node scripts go up as one bundle, replacing the single script of version 1; repeated
/// uploads keep only the live bundle and the one before it; the call reads a typed answer.
#[tokio::test]
async fn uploads_the_node_scripts_and_reads_typed_answers() {
    let seed = random_seed();
    let sshd = Sshd::start(&[public_line(&seed)]).await;
    let bridge = SshBridge::new(settings());
    let target = sshd.target(seed);
    let opt = sshd.dir.join("node/opt/berth");
    std::fs::create_dir_all(opt.join("bin")).unwrap();
    std::fs::write(opt.join("bin/berth-node"), "#!/bin/sh\necho version 1\n").unwrap();

    for _ in 0..3 {
        bundle::upload(&bridge, &target).await.unwrap();
    }
    let reply = scripts::call(&bridge, &target, &Version).await.unwrap();
    let site: SiteId = "0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d".parse().unwrap();
    let refused = scripts::call(&bridge, &target, &SiteSuspend { site }).await.unwrap_err();

    assert_eq!(reply.version, bundle::version());
    assert!(matches!(refused, ScriptError::Failed { temporary: false, .. }), "{refused:?}");
    assert_eq!(refused.code(), Some(&ErrorCode::NotFound));
    let entry = std::fs::read_link(opt.join("bin/berth-node")).unwrap();
    assert_eq!(entry, Path::new("../current/berth-node"));
    let current = opt.join(std::fs::read_link(opt.join("current")).unwrap());
    for file in bundle::FILES {
        assert_eq!(std::fs::read_to_string(current.join(file.name)).unwrap(), file.text, "{}", file.name);
    }
    let kept = std::fs::read_dir(opt.join("bundles")).unwrap().count();
    assert_eq!(kept, 2, "the live bundle and the one before it");
}

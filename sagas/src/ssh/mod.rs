//! The SSH bridge: how sagas run commands on managed nodes.
//!
//! Sagas talk to [`NodeShell`], so tests and other adapters can stand in; [`SshBridge`] is the
//! real one. It keeps one authenticated session per node and runs each command on a channel of
//! it, because a handshake costs several round trips and a key exchange while a channel costs
//! one round trip. Every new connection checks the node's pinned host key before anything is
//! sent, and a mismatch is never retried: it means someone else may be answering for the node.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::{Duration, Instant};

use berth_domain::ids::NodeId;
use berth_domain::node::HostKey;
use futures::future::BoxFuture;
use futures::FutureExt;
use russh::client::{self, Handle, Msg};
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};
use russh::{cipher, Preferred};
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Sig};
use tokio::sync::{Mutex, Semaphore};
use tracing::{debug, Instrument};
use zeroize::Zeroizing;

mod pinning;

use pinning::Client;
mod stream;

pub use stream::{ChunkSink, Chunks};

/// Where and how to reach one node.
#[derive(Clone)]
pub struct Target {
    /// The node, for logs and for keeping one session per node.
    pub node_id: NodeId,
    /// Host name or IP address.
    pub address: String,
    /// SSH port.
    pub port: u16,
    /// The login user.
    pub user: String,
    /// The host key pinned when the node was registered.
    pub host_key: HostKey,
    /// The ed25519 seed (32 bytes) Berth generated for this node; wiped when the last copy drops.
    pub private_key: Arc<Zeroizing<[u8; 32]>>,
}

// Written by hand so the seed can never reach a log line.
impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("node_id", &self.node_id)
            .field("address", &self.address)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("host_key", &self.host_key.line())
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The exit status; 255 when the command was killed by a signal, as ssh(1) reports it.
    pub exit_status: u32,
    /// Everything written to standard output.
    pub stdout: Vec<u8>,
    /// Everything written to standard error.
    pub stderr: Vec<u8>,
}

/// Why a command could not be run to completion.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The node presented another host key than the pinned one: stop all work on it.
    #[error("the node presented host key `{presented}` instead of the pinned one")]
    HostKeyMismatch {
        /// The presented key as an OpenSSH line, `type base64`.
        presented: String,
    },
    /// Could not connect, the connection dropped or a channel failed; retried already.
    #[error("node unreachable: {0}")]
    Unreachable(String),
    /// Authentication refused: Berth's key is not authorized on the node.
    #[error("authentication refused: {0}")]
    Auth(String),
    /// The command did not finish within the command timeout.
    #[error("the command did not finish in time")]
    Timeout,
}

impl ShellError {
    /// Whether a later attempt may succeed without anyone changing the node or its record.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable(_) | Self::Timeout)
    }

    /// The `outcome` label of the command metric.
    fn outcome(&self) -> &'static str {
        match self {
            Self::HostKeyMismatch { .. } => "host_key_mismatch",
            Self::Unreachable(_) => "unreachable",
            Self::Auth(_) => "auth",
            Self::Timeout => "timeout",
        }
    }
}

/// Runs commands on nodes (a trait so tests and other adapters can stand in).
pub trait NodeShell: Send + Sync + 'static {
    /// Runs `command` (a shell command line) on the target, with `stdin` fed to it if given,
    /// and returns its output. A command that exits non-zero is an [`Output`], not an error.
    fn run<'a>(
        &'a self,
        target: &'a Target,
        command: &'a str,
        stdin: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<Output, ShellError>>;

    /// Runs `command` with bulk data: `input`'s chunks are fed to its stdin as they come (then
    /// end-of-file), and with `output` each chunk of its stdout is handed over as it arrives
    /// (the returned [`Output`] then holds no stdout), so neither side is ever held whole in
    /// memory. A full `output` channel slows the command down rather than buffering. This
    /// default gathers everything and calls [`NodeShell::run`]; [`SshBridge`] streams.
    fn stream<'a>(
        &'a self,
        target: &'a Target,
        command: &'a str,
        input: Option<Chunks>,
        output: Option<ChunkSink>,
    ) -> BoxFuture<'a, Result<Output, ShellError>> {
        stream::gathered(self, target, command, input, output).boxed()
    }
}

/// Timeouts, retries and limits of the [`SshBridge`].
#[derive(Debug, Clone)]
pub struct SshSettings {
    /// For the TCP connect, handshake and authentication together, and for opening a channel.
    pub connect_timeout: Duration,
    /// For one command, from the exec request until its output is read.
    pub command_timeout: Duration,
    /// Tries in total for a transient failure before the command started (at least one).
    pub attempts: u32,
    /// The first pause between tries; it doubles after each.
    pub backoff: Duration,
    /// Commands running at once on one node; keep it under sshd's `MaxSessions` (10).
    pub channels_per_node: usize,
}

impl Default for SshSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(600),
            attempts: 3,
            backoff: Duration::from_millis(500),
            channels_per_node: 8,
        }
    }
}

/// Runs commands over SSH, sharing one session per node.
pub struct SshBridge {
    settings: SshSettings,
    config: Arc<client::Config>,
    pools: StdMutex<HashMap<PoolKey, Arc<NodePool>>>,
    connect_attempts: AtomicU64,
}

/// Everything that decides which session a command may share: a changed address, user or
/// pinned key must not reuse a session opened under the old ones.
#[derive(Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    node_id: NodeId,
    address: String,
    port: u16,
    user: String,
    host_key: String,
}

/// One node's session and the permits for its channels.
struct NodePool {
    channels: Semaphore,
    // An async mutex so that the commands arriving while the session is being (re)opened wait
    // for that one connection instead of each opening their own.
    session: Mutex<Option<Arc<Handle<Client>>>>,
}

/// The ciphers offered, best first: AES-GCM is sealed and opened in hardware on any server
/// CPU with AES-NI (both OpenSSH and this client use it there), so it costs the node and the
/// control plane less per byte than ChaCha20-Poly1305, which stays as the fallback.
const CIPHERS: &[cipher::Name] =
    &[cipher::AES_256_GCM, cipher::CHACHA20_POLY1305, cipher::AES_256_CTR, cipher::AES_128_CTR];

/// How one try failed: whether trying again is safe.
enum Failure {
    /// Nothing ran on the node yet.
    Retryable(ShellError),
    /// The command may have run, or trying again cannot help.
    Final(ShellError),
}

impl SshBridge {
    /// A bridge with no sessions yet; they open on first use.
    pub fn new(settings: SshSettings) -> Self {
        let config = client::Config {
            // Keepalives notice a silently dead peer, so its session is replaced.
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_max: 3,
            nodelay: true,
            preferred: Preferred { cipher: Cow::Borrowed(CIPHERS), ..Preferred::default() },
            ..client::Config::default()
        };
        Self {
            settings,
            config: Arc::new(config),
            pools: StdMutex::new(HashMap::new()),
            connect_attempts: AtomicU64::new(0),
        }
    }

    /// How many nodes have an open session now.
    pub async fn connections(&self) -> usize {
        let pools: Vec<_> =
            self.pools.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect();
        let mut live = 0;
        for pool in pools {
            if pool.session.lock().await.as_ref().is_some_and(|session| !session.is_closed()) {
                live += 1;
            }
        }
        live
    }

    /// How many connections were attempted since the bridge was made, for diagnostics.
    pub fn connect_attempts(&self) -> u64 {
        self.connect_attempts.load(Ordering::Relaxed)
    }

    async fn run_with_retries(
        &self,
        target: &Target,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<Output, ShellError> {
        let pool = self.pool(target);
        let _permit = pool
            .channels
            .acquire()
            .await
            .map_err(|_| ShellError::Unreachable("the node's channel pool is closed".to_owned()))?;
        let mut delay = self.settings.backoff;
        let mut attempt = 1;
        loop {
            match self.run_once(&pool, target, command, stdin).await {
                Ok(output) => return Ok(output),
                Err(Failure::Retryable(error)) if attempt < self.settings.attempts => {
                    debug!(attempt, %error, ?delay, "transient failure; trying again");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
                Err(Failure::Retryable(error) | Failure::Final(error)) => return Err(error),
            }
        }
    }

    async fn run_once(
        &self,
        pool: &NodePool,
        target: &Target,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<Output, Failure> {
        let session = self.session(pool, target).await.map_err(|error| match error {
            ShellError::Unreachable(_) => Failure::Retryable(error),
            _ => Failure::Final(error),
        })?;
        let opened =
            tokio::time::timeout(self.settings.connect_timeout, session.channel_open_session()).await;
        let channel = match opened {
            Ok(Ok(channel)) => channel,
            // A live session whose server refuses one more channel (sshd's MaxSessions also
            // counts channels whose close is still in flight) is kept: the retry waits and
            // asks again on it. Only a closed session is replaced.
            Ok(Err(error)) if !session.is_closed() => {
                return Err(Failure::Retryable(ShellError::Unreachable(format!(
                    "opening a channel: {error}"
                ))))
            }
            Ok(Err(error)) => {
                return Err(drop_session(pool, &session, format!("opening a channel: {error}")).await)
            }
            Err(_) => {
                return Err(drop_session(pool, &session, "opening a channel timed out".to_owned()).await)
            }
        };
        let (mut reader, writer) = channel.split();
        if let Err(error) = writer.exec(true, command).await {
            // The request never left: the session is gone, so nothing ran.
            return Err(drop_session(pool, &session, format!("sending the command: {error}")).await);
        }
        let exchange = async {
            let feed = feed(&writer, stdin);
            let collect = collect(&mut reader);
            tokio::pin!(feed, collect);
            tokio::select! {
                output = &mut collect => output,
                () = &mut feed => collect.await,
            }
        };
        match tokio::time::timeout(self.settings.command_timeout, exchange).await {
            Ok(result) => result.map_err(Failure::Final),
            Err(_) => {
                // Best effort: the process may ignore the signal, but the channel must go so
                // its slot under sshd's MaxSessions is freed.
                let cleanup = async {
                    let _ = writer.signal(Sig::KILL).await;
                    let _ = writer.close().await;
                };
                // A wedged session must not hold the caller past its timeout for long.
                let _ = tokio::time::timeout(self.settings.connect_timeout, cleanup).await;
                Err(Failure::Final(ShellError::Timeout))
            }
        }
    }

    fn pool(&self, target: &Target) -> Arc<NodePool> {
        let key = PoolKey {
            node_id: target.node_id,
            address: target.address.clone(),
            port: target.port,
            user: target.user.clone(),
            host_key: target.host_key.line(),
        };
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = pools.get(&key) {
            return Arc::clone(pool);
        }
        // The node's record changed: its old session must not linger under the old key.
        pools.retain(|old, _| old.node_id != key.node_id);
        let pool = Arc::new(NodePool {
            channels: Semaphore::new(self.settings.channels_per_node.max(1)),
            session: Mutex::new(None),
        });
        pools.insert(key, Arc::clone(&pool));
        pool
    }

    /// The node's open session, opening one if there is none or it has closed.
    async fn session(&self, pool: &NodePool, target: &Target) -> Result<Arc<Handle<Client>>, ShellError> {
        let mut slot = pool.session.lock().await;
        if let Some(session) = slot.as_ref().filter(|session| !session.is_closed()) {
            return Ok(Arc::clone(session));
        }
        *slot = None;
        let session = Arc::new(self.connect(target).await?);
        *slot = Some(Arc::clone(&session));
        Ok(session)
    }

    async fn connect(&self, target: &Target) -> Result<Handle<Client>, ShellError> {
        self.connect_attempts.fetch_add(1, Ordering::Relaxed);
        let presented = Arc::new(StdMutex::new(None));
        let client = Client { pinned: target.host_key.line(), presented: Arc::clone(&presented) };
        let attempt = async {
            let address = (target.address.as_str(), target.port);
            let mut handle =
                client::connect(Arc::clone(&self.config), address, client).await.map_err(|error| {
                    // russh reports a refused key as a generic error; the handler kept the key.
                    match presented.lock().unwrap_or_else(PoisonError::into_inner).take() {
                        Some(presented) => ShellError::HostKeyMismatch { presented },
                        None => ShellError::Unreachable(format!("connecting: {error}")),
                    }
                })?;
            let key = PrivateKey::from(Ed25519Keypair::from_seed(&target.private_key));
            let key = PrivateKeyWithHashAlg::new(Arc::new(key), None);
            match handle.authenticate_publickey(target.user.clone(), key).await {
                Ok(result) if result.success() => Ok(handle),
                Ok(_) => Err(ShellError::Auth(format!("the node refused Berth's key for `{}`", target.user))),
                Err(error) => Err(ShellError::Unreachable(format!("authenticating: {error}"))),
            }
        };
        let result = tokio::time::timeout(self.settings.connect_timeout, attempt)
            .await
            .unwrap_or_else(|_| Err(ShellError::Unreachable("connecting timed out".to_owned())));
        let outcome = result.as_ref().map_or_else(ShellError::outcome, |_| "ok");
        metrics::counter!("berth_ssh_connects_total", "outcome" => outcome).increment(1);
        debug!(outcome, "connected");
        result
    }
}

impl NodeShell for SshBridge {
    fn stream<'a>(
        &'a self,
        target: &'a Target,
        command: &'a str,
        input: Option<Chunks>,
        output: Option<ChunkSink>,
    ) -> BoxFuture<'a, Result<Output, ShellError>> {
        let span = tracing::debug_span!("ssh_stream", node_id = %target.node_id);
        async move { self.stream_with_retries(target, command, input, output).await }.instrument(span).boxed()
    }

    fn run<'a>(
        &'a self,
        target: &'a Target,
        command: &'a str,
        stdin: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<Output, ShellError>> {
        let span = tracing::debug_span!("ssh_command", node_id = %target.node_id);
        async move {
            let started = Instant::now();
            let result = self.run_with_retries(target, command, stdin).await;
            let outcome = match &result {
                Ok(output) if output.exit_status == 0 => "ok",
                Ok(_) => "exit_nonzero",
                Err(error) => error.outcome(),
            };
            metrics::counter!("berth_ssh_commands_total", "outcome" => outcome).increment(1);
            metrics::histogram!("berth_ssh_command_seconds").record(started.elapsed().as_secs_f64());
            debug!(outcome, "command finished");
            result
        }
        .instrument(span)
        .boxed()
    }
}

/// Forgets `session` if it is still the node's current one, so the next try reconnects.
async fn drop_session(pool: &NodePool, session: &Arc<Handle<Client>>, reason: String) -> Failure {
    let mut slot = pool.session.lock().await;
    if slot.as_ref().is_some_and(|current| Arc::ptr_eq(current, session)) {
        *slot = None;
    }
    Failure::Retryable(ShellError::Unreachable(reason))
}

/// Sends `stdin` and then end-of-file. Errors are only logged: a command may well exit
/// without reading its input, and its output says what happened.
async fn feed(writer: &ChannelWriteHalf<Msg>, stdin: Option<&[u8]>) {
    if let Some(input) = stdin {
        if let Err(error) = writer.data(input).await {
            debug!(%error, "the command did not take all of its input");
            return;
        }
    }
    if let Err(error) = writer.eof().await {
        debug!(%error, "could not close the command's input");
    }
}

/// Reads the channel until it closes.
async fn collect(reader: &mut ChannelReadHalf) -> Result<Output, ShellError> {
    let (mut stdout, mut stderr, mut status) = (Vec::new(), Vec::new(), None);
    while let Some(message) = reader.wait().await {
        match message {
            ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
            // Extended data type 1 is stderr (RFC 4254 §5.2).
            ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                debug!(?signal_name, "the command was killed by a signal");
                status = status.or(Some(255));
            }
            ChannelMsg::Failure => {
                return Err(ShellError::Unreachable("the node refused to run the command".to_owned()))
            }
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    let exit_status = status.ok_or_else(|| {
        ShellError::Unreachable("the connection ended before the command reported its status".to_owned())
    })?;
    Ok(Output { exit_status, stdout, stderr })
}

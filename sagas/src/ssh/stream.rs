//! Bulk data over a node's session: a backup archive read from a command's stdout, or an
//! archive fed to a restore's stdin, chunk by chunk through bounded channels.
//!
//! Like [`NodeShell::run`], a failure before the command started (no session, no channel) is
//! tried again; once the command runs it is not, since its input has been consumed. There is
//! no overall time limit, because an archive's size has none: the command must instead show
//! progress (a chunk, its exit) within the command timeout.

use bytes::Bytes;
use russh::{ChannelMsg, ChannelReadHalf, Sig};
use tokio::sync::mpsc;
use tracing::debug;

use super::{drop_session, Failure, NodePool, NodeShell, Output, ShellError, SshBridge, Target};

/// Chunks of data going to a command's stdin.
pub type Chunks = mpsc::Receiver<Bytes>;

/// Where a command's stdout chunks go.
pub type ChunkSink = mpsc::Sender<Bytes>;

/// [`NodeShell::stream`] for a shell that cannot stream: gathers the input, runs the command,
/// then hands its stdout over in chunks.
pub(super) async fn gathered<S: NodeShell + ?Sized>(
    shell: &S,
    target: &Target,
    command: &str,
    input: Option<Chunks>,
    output: Option<ChunkSink>,
) -> Result<Output, ShellError> {
    let stdin = match input {
        Some(mut chunks) => {
            let mut all = Vec::new();
            while let Some(chunk) = chunks.recv().await {
                all.extend_from_slice(&chunk);
            }
            Some(all)
        }
        None => None,
    };
    let mut result = shell.run(target, command, stdin.as_deref()).await?;
    if let Some(sink) = output {
        for chunk in result.stdout.chunks(64 * 1024) {
            if sink.send(Bytes::copy_from_slice(chunk)).await.is_err() {
                break;
            }
        }
        result.stdout.clear();
    }
    Ok(result)
}

impl SshBridge {
    pub(super) async fn stream_with_retries(
        &self,
        target: &Target,
        command: &str,
        mut input: Option<Chunks>,
        output: Option<ChunkSink>,
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
            match self.stream_once(&pool, target, command, &mut input, output.as_ref()).await {
                Ok(result) => {
                    let outcome = if result.exit_status == 0 { "ok" } else { "exit_nonzero" };
                    metrics::counter!("berth_ssh_commands_total", "outcome" => outcome).increment(1);
                    return Ok(result);
                }
                Err(Failure::Retryable(error)) if attempt < self.settings.attempts => {
                    debug!(attempt, %error, ?delay, "transient failure before the stream started; trying again");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
                Err(Failure::Retryable(error) | Failure::Final(error)) => {
                    metrics::counter!("berth_ssh_commands_total", "outcome" => error.outcome()).increment(1);
                    return Err(error);
                }
            }
        }
    }

    async fn stream_once(
        &self,
        pool: &NodePool,
        target: &Target,
        command: &str,
        input: &mut Option<Chunks>,
        output: Option<&ChunkSink>,
    ) -> Result<Output, Failure> {
        let session = self.session(pool, target).await.map_err(|error| match error {
            ShellError::Unreachable(_) => Failure::Retryable(error),
            _ => Failure::Final(error),
        })?;
        let channel =
            match tokio::time::timeout(self.settings.connect_timeout, session.channel_open_session()).await {
                Ok(Ok(channel)) => channel,
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
            return Err(drop_session(pool, &session, format!("sending the command: {error}")).await);
        }
        let idle = self.settings.command_timeout;
        let feed = async {
            if let Some(chunks) = input.as_mut() {
                while let Some(chunk) = chunks.recv().await {
                    if let Err(error) = writer.data(&chunk[..]).await {
                        debug!(%error, "the command did not take all of its input");
                        return;
                    }
                }
            }
            if let Err(error) = writer.eof().await {
                debug!(%error, "could not close the command's input");
            }
        };
        let collect = read_all(&mut reader, output, idle);
        tokio::pin!(feed, collect);
        let result = tokio::select! {
            result = &mut collect => result,
            () = &mut feed => collect.await,
        };
        if result.is_err() {
            let _ = writer.signal(Sig::KILL).await;
            let _ = writer.close().await;
        }
        result.map_err(Failure::Final)
    }
}

/// Reads the channel until it closes, handing stdout to `output` if given.
async fn read_all(
    reader: &mut ChannelReadHalf,
    output: Option<&ChunkSink>,
    idle: std::time::Duration,
) -> Result<Output, ShellError> {
    let (mut stdout, mut stderr, mut status) = (Vec::new(), Vec::new(), None);
    loop {
        let Ok(message) = tokio::time::timeout(idle, reader.wait()).await else {
            return Err(ShellError::Timeout);
        };
        let Some(message) = message else { break };
        match message {
            ChannelMsg::Data { data } => match output {
                Some(sink) => {
                    if sink.send(Bytes::copy_from_slice(&data)).await.is_err() {
                        // The receiver gave up (its upload failed): stop the command.
                        return Err(ShellError::Unreachable("the stream's reader went away".to_owned()));
                    }
                }
                None => stdout.extend_from_slice(&data),
            },
            ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            ChannelMsg::ExitSignal { .. } => status = status.or(Some(255)),
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

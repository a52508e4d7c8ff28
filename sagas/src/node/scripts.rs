//! Calling the node scripts: a [`NodeVerb`] becomes one `berth-node` command line, and its
//! one-line JSON answer becomes the verb's reply type or a [`ScriptError`].

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::bundle;
use super::contract::{NodeRequest, NodeVerb};
use crate::ssh::{ChunkSink, Chunks, NodeShell, ShellError, Target};

/// Where the entry point lives on a node, relative to `$BERTH_NODE_ROOT` (empty on a real VPS).
const ENTRY: &str = "\"${BERTH_NODE_ROOT:-}/opt/berth/bin/berth-node\"";

/// Why the node scripts refused or failed, as they name it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(from = "String")]
pub enum ErrorCode {
    /// The site asks for a PHP version the node does not have.
    UnsupportedPhp,
    /// The node's disk is (nearly) full.
    DiskFull,
    /// An argument was refused.
    BadInput,
    /// A service (nginx, php-fpm, MariaDB, apt) did not answer.
    ServiceDown,
    /// Another operation held the node lock for too long.
    Busy,
    /// No such site on the node.
    NotFound,
    /// A database dump failed, is incomplete or does not load.
    DumpFailed,
    /// After a restore's swap the site did not answer (the swap was undone).
    SiteCheckFailed,
    /// Anything else that went wrong (and what an error answer without a code reads as).
    #[default]
    Failed,
    /// A code this side does not know (a newer script, say).
    Other(String),
}

impl ErrorCode {
    /// The code as the scripts write it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::UnsupportedPhp => "unsupported_php",
            Self::DiskFull => "disk_full",
            Self::BadInput => "bad_input",
            Self::ServiceDown => "service_down",
            Self::Busy => "busy",
            Self::NotFound => "not_found",
            Self::DumpFailed => "dump_failed",
            Self::SiteCheckFailed => "site_check_failed",
            Self::Failed => "failed",
            Self::Other(code) => code,
        }
    }
}

impl From<String> for ErrorCode {
    fn from(code: String) -> Self {
        match code.as_str() {
            "unsupported_php" => Self::UnsupportedPhp,
            "disk_full" => Self::DiskFull,
            "bad_input" => Self::BadInput,
            "service_down" => Self::ServiceDown,
            "busy" => Self::Busy,
            "not_found" => Self::NotFound,
            "dump_failed" => Self::DumpFailed,
            "site_check_failed" => Self::SiteCheckFailed,
            "failed" => Self::Failed,
            _ => Self::Other(code),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a script call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The node could not be reached or the command not run.
    #[error(transparent)]
    Shell(#[from] ShellError),
    /// The script ran and refused or failed.
    #[error("{code}: {message}")]
    Failed {
        /// The script's error code.
        code: ErrorCode,
        /// Its message.
        message: String,
        /// Whether trying again later may work (exit status 75).
        temporary: bool,
    },
    /// The script printed something that is not its JSON answer.
    #[error("the node script answered unreadably (exit {status}): {output}")]
    Garbled {
        /// Exit status.
        status: u32,
        /// What it printed, shortened.
        output: String,
    },
    /// The script succeeded, but its answer does not have the verb's reply type.
    #[error("the node's answer to `{verb}` does not fit the contract: {detail}")]
    Mismatch {
        /// The verb.
        verb: &'static str,
        /// What serde found wrong.
        detail: String,
    },
    /// The scripts could not be uploaded.
    #[error("upload_failed: {message}")]
    Upload {
        /// What the upload printed, shortened.
        message: String,
    },
}

impl ScriptError {
    /// The script's error code, when it ran and refused or failed.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Failed { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Runs `verb` on the target and reads its reply. Bootstrap uploads the scripts first and runs
/// once; every other verb is tried again (three times in all, two seconds apart) when the
/// script says its failure is temporary (exit 75: a service not answering yet, its lock held).
pub async fn call<V: NodeVerb>(
    shell: &dyn NodeShell,
    target: &Target,
    verb: &V,
) -> Result<V::Reply, ScriptError> {
    let request = verb.request();
    if request.installs_bundle() {
        bundle::upload(shell, target).await?;
        return call_once(shell, target, &request, verb.stdin()).await;
    }
    let mut tries = 1;
    loop {
        match call_once(shell, target, &request, verb.stdin()).await {
            Err(ScriptError::Failed { temporary: true, .. }) if tries < 3 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            outcome => return outcome,
        }
    }
}

/// Runs `verb` with bulk data: `input` fed to its stdin, its stdout handed to `output` chunk
/// by chunk (see [`NodeShell::stream`]). Not tried again: the data is consumed. A verb whose
/// stdout is data answers on the first line of its stderr.
pub async fn call_stream<V: NodeVerb>(
    shell: &dyn NodeShell,
    target: &Target,
    verb: &V,
    input: Option<Chunks>,
    output: Option<ChunkSink>,
) -> Result<V::Reply, ScriptError> {
    let request = verb.request();
    let result = shell.stream(target, &command_line(&request), input, output).await?;
    if request.answers_on_stderr() {
        let first = result.stderr.split(|b| *b == b'\n').next().unwrap_or_default();
        return read_answer(request.verb(), result.exit_status, first, &result.stderr);
    }
    read_answer(request.verb(), result.exit_status, &result.stdout, &result.stderr)
}

async fn call_once<R: DeserializeOwned>(
    shell: &dyn NodeShell,
    target: &Target,
    request: &NodeRequest,
    stdin: Option<&[u8]>,
) -> Result<R, ScriptError> {
    let output = shell.run(target, &command_line(request), stdin).await?;
    read_answer(request.verb(), output.exit_status, &output.stdout, &output.stderr)
}

/// The remote command line. The arguments are value objects already, and quoting each one
/// for the shell keeps it one word whatever a future value object allows.
fn command_line(request: &NodeRequest) -> String {
    std::iter::once(ENTRY.to_owned())
        .chain(request.argv().iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes one argument for the remote shell.
fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// Every answer's common part.
#[derive(Deserialize)]
struct Envelope {
    ok: bool,
}

/// An error answer.
#[derive(Deserialize)]
struct Refusal {
    #[serde(default)]
    error: ErrorCode,
    #[serde(default)]
    message: String,
}

fn read_answer<R: DeserializeOwned>(
    verb: &'static str,
    status: u32,
    stdout: &[u8],
    stderr: &[u8],
) -> Result<R, ScriptError> {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    match serde_json::from_str::<Envelope>(line) {
        Ok(Envelope { ok: true }) if status == 0 => serde_json::from_str(line)
            .map_err(|error| ScriptError::Mismatch { verb, detail: error.to_string() }),
        Ok(Envelope { ok: false }) => {
            let refusal = serde_json::from_str(line)
                .unwrap_or(Refusal { error: ErrorCode::Failed, message: String::new() });
            Err(ScriptError::Failed {
                code: refusal.error,
                message: refusal.message,
                temporary: status == 75,
            })
        }
        _ => Err(ScriptError::Garbled {
            status,
            output: shorten(if stdout.is_empty() { stderr } else { stdout }),
        }),
    }
}

/// At most 300 characters of what a command printed, for messages.
pub(super) fn shorten(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.trim().chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::super::reply::{SiteToggled, VersionReply};
    use super::*;

    fn read<R: DeserializeOwned>(status: u32, stdout: &str) -> Result<R, ScriptError> {
        read_answer("test", status, stdout.as_bytes(), b"")
    }

    #[test]
    fn a_success_is_read_from_the_last_line_into_the_reply_type() {
        let reply: VersionReply = read(0, "stray\n{\"ok\":true,\"version\":\"2\"}\n\n").unwrap();

        assert_eq!(reply.version, "2");
    }

    #[test]
    fn known_codes_map_to_their_variants_and_exit_75_is_temporary() {
        let cases = [
            ("unsupported_php", 2, ErrorCode::UnsupportedPhp, false),
            ("disk_full", 2, ErrorCode::DiskFull, false),
            ("bad_input", 2, ErrorCode::BadInput, false),
            ("not_found", 2, ErrorCode::NotFound, false),
            ("failed", 2, ErrorCode::Failed, false),
            ("service_down", 75, ErrorCode::ServiceDown, true),
            ("busy", 75, ErrorCode::Busy, true),
            ("quota_exceeded", 2, ErrorCode::Other("quota_exceeded".into()), false),
        ];
        for (code, status, expected, temporary) in cases {
            let line = format!("{{\"ok\":false,\"error\":\"{code}\",\"message\":\"because\"}}");

            let error = read::<VersionReply>(status, &line).unwrap_err();

            assert_eq!(error.code(), Some(&expected), "{code}");
            assert!(matches!(error, ScriptError::Failed { temporary: t, .. } if t == temporary), "{code}");
            assert_eq!(error.to_string(), format!("{code}: because"));
        }
    }

    #[test]
    fn an_error_answer_without_a_code_is_a_plain_failure() {
        let error = read::<VersionReply>(2, "{\"ok\":false,\"error\":7}").unwrap_err();

        assert_eq!(error.code(), Some(&ErrorCode::Failed));
    }

    #[test]
    fn output_that_is_no_answer_is_garbled() {
        assert!(matches!(read::<VersionReply>(127, ""), Err(ScriptError::Garbled { status: 127, .. })));
        assert!(matches!(read::<VersionReply>(0, "{\"version\":\"2\"}"), Err(ScriptError::Garbled { .. })));
        // A success line with a failing exit status is not trusted either.
        assert!(matches!(
            read::<VersionReply>(2, "{\"ok\":true,\"version\":\"2\"}"),
            Err(ScriptError::Garbled { .. })
        ));
    }

    #[test]
    fn a_success_of_the_wrong_shape_is_a_mismatch() {
        let error = read::<SiteToggled>(0, "{\"ok\":true,\"version\":\"2\"}").unwrap_err();

        assert!(matches!(error, ScriptError::Mismatch { verb: "test", .. }), "{error:?}");
    }

    #[test]
    fn the_command_line_quotes_every_argument() {
        assert_eq!(command_line(&NodeRequest::Health), format!("{ENTRY} 'health'"));
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}

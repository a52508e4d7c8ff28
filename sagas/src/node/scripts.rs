//! The node scripts (`deploy/node/berth-node`), shipped inside the binary and uploaded to each
//! node at bootstrap, and how their one-line JSON answers are read.

use serde_json::Value;

use crate::ssh::{NodeShell, ShellError, Target};

/// The script, as uploaded.
pub const SCRIPT: &str = include_str!("../../../deploy/node/berth-node");

/// Its version; a node reporting another one is bootstrapped again.
pub const VERSION: &str = include_str!("../../../deploy/node/VERSION");

/// Where the script lives on a node, relative to `$BERTH_NODE_ROOT` (empty on a real VPS).
const PATH: &str = "\"${BERTH_NODE_ROOT:-}/opt/berth/bin/berth-node\"";

/// Why a script call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The node could not be reached or the command not run.
    #[error(transparent)]
    Shell(#[from] ShellError),
    /// The script ran and refused or failed.
    #[error("{code}: {message}")]
    Failed {
        /// The script's error code (`unsupported_php`, `disk_full`, ...).
        code: String,
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
}

/// Quotes one argument for the remote shell.
fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// Runs `berth-node <args>` on the target and returns its JSON answer.
async fn call(shell: &dyn NodeShell, target: &Target, args: &[&str]) -> Result<Value, ScriptError> {
    let command = std::iter::once(PATH.to_owned()).chain(args.iter().map(|a| quote(a))).collect::<Vec<_>>();
    let output = shell.run(target, &command.join(" "), None).await?;
    read_answer(output.exit_status, &output.stdout, &output.stderr)
}

/// Like [`call`], trying again (three times in all, two seconds apart) when the script says
/// its failure is temporary (exit 75: a service not answering yet, its lock held).
pub async fn call_patiently(
    shell: &dyn NodeShell,
    target: &Target,
    args: &[&str],
) -> Result<Value, ScriptError> {
    let mut tries = 1;
    loop {
        match call(shell, target, args).await {
            Err(ScriptError::Failed { temporary: true, .. }) if tries < 3 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            outcome => return outcome,
        }
    }
}

/// Uploads the script (atomically: written aside, then renamed) and runs its bootstrap.
pub async fn install(shell: &dyn NodeShell, target: &Target) -> Result<Value, ScriptError> {
    let upload = "set -e; d=\"${BERTH_NODE_ROOT:-}/opt/berth/bin\"; mkdir -p \"$d\"; \
                  cat > \"$d/berth-node.tmp\"; chmod 755 \"$d/berth-node.tmp\"; mv \"$d/berth-node.tmp\" \"$d/berth-node\"";
    let output = shell.run(target, upload, Some(SCRIPT.as_bytes())).await?;
    if output.exit_status != 0 {
        return Err(ScriptError::Failed {
            code: "upload_failed".into(),
            message: shorten(&output.stderr),
            temporary: false,
        });
    }
    call(shell, target, &["bootstrap"]).await
}

fn read_answer(status: u32, stdout: &[u8], stderr: &[u8]) -> Result<Value, ScriptError> {
    let line = String::from_utf8_lossy(stdout);
    let answer: Option<Value> =
        line.lines().rev().find(|l| !l.trim().is_empty()).and_then(|l| serde_json::from_str(l).ok());
    match answer {
        Some(value) if status == 0 && value["ok"] == Value::Bool(true) => Ok(value),
        Some(value) if value["ok"] == Value::Bool(false) => Err(ScriptError::Failed {
            code: value["error"].as_str().unwrap_or("failed").to_owned(),
            message: value["message"].as_str().unwrap_or_default().to_owned(),
            temporary: status == 75,
        }),
        _ => Err(ScriptError::Garbled {
            status,
            output: shorten(if stdout.is_empty() { stderr } else { stdout }),
        }),
    }
}

fn shorten(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_from_the_last_line() {
        assert!(read_answer(0, b"{\"ok\":true,\"version\":\"1\"}\n", b"").is_ok());
        let refused =
            read_answer(2, b"{\"ok\":false,\"error\":\"unsupported_php\",\"message\":\"no php7.4\"}", b"");
        assert!(
            matches!(refused, Err(ScriptError::Failed { code, temporary: false, .. }) if code == "unsupported_php")
        );
        let busy = read_answer(75, b"{\"ok\":false,\"error\":\"service_down\",\"message\":\"x\"}", b"");
        assert!(matches!(busy, Err(ScriptError::Failed { temporary: true, .. })));
        assert!(matches!(read_answer(127, b"", b"not found"), Err(ScriptError::Garbled { .. })));
    }

    #[test]
    fn arguments_are_quoted_for_the_shell() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_version_is_baked_into_the_script() {
        let line = format!("\nBERTH_NODE_VERSION={}\n", VERSION.trim());
        assert!(SCRIPT.contains(&line), "deploy/node/VERSION and the script's BERTH_NODE_VERSION disagree");
    }
}

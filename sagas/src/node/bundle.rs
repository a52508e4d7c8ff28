//! The node scripts (`deploy/node/`), shipped inside the binary and uploaded to a node right
//! before its bootstrap.
//!
//! The upload is atomic for the bundle as a whole, because the entry point sources the other
//! files at start: a call must never combine a new `berth-node` with an old `lib.sh`. All
//! files go into a fresh directory first; then two symlinks are moved into place, each by one
//! rename:
//!
//! ```text
//! opt/berth/bundles/v2.Ab3xYz/{berth-node,json.sh,lib.sh,...}
//! opt/berth/current        -> bundles/v2.Ab3xYz
//! opt/berth/bin/berth-node -> ../current/berth-node
//! ```
//!
//! The entry point resolves its own directory through those links once, so a call that
//! started before the switch keeps reading the bundle it started from. The bundle just
//! replaced is kept for such calls; older ones are removed.

use super::scripts::{shorten, ScriptError};
use crate::ssh::{NodeShell, Target};

/// One file of the bundle.
#[derive(Debug, Clone, Copy)]
pub struct BundleFile {
    /// Its name, in `deploy/node/` and on the node.
    pub name: &'static str,
    /// Its content.
    pub text: &'static str,
}

/// Every file of the bundle; the first is the entry point.
pub const FILES: &[BundleFile] = &[
    BundleFile { name: "berth-node", text: include_str!("../../../deploy/node/berth-node") },
    BundleFile { name: "json.sh", text: include_str!("../../../deploy/node/json.sh") },
    BundleFile { name: "lib.sh", text: include_str!("../../../deploy/node/lib.sh") },
    BundleFile { name: "services.sh", text: include_str!("../../../deploy/node/services.sh") },
    BundleFile { name: "bootstrap.sh", text: include_str!("../../../deploy/node/bootstrap.sh") },
    BundleFile { name: "site-files.sh", text: include_str!("../../../deploy/node/site-files.sh") },
    BundleFile { name: "site.sh", text: include_str!("../../../deploy/node/site.sh") },
    BundleFile { name: "tls.sh", text: include_str!("../../../deploy/node/tls.sh") },
    BundleFile { name: "health.sh", text: include_str!("../../../deploy/node/health.sh") },
    BundleFile { name: "usage.sh", text: include_str!("../../../deploy/node/usage.sh") },
    BundleFile { name: "backup.sh", text: include_str!("../../../deploy/node/backup.sh") },
    BundleFile { name: "restore.sh", text: include_str!("../../../deploy/node/restore.sh") },
    BundleFile { name: "deploy.sh", text: include_str!("../../../deploy/node/deploy.sh") },
    BundleFile { name: "sftp.sh", text: include_str!("../../../deploy/node/sftp.sh") },
];

/// The bundle's version as written in `deploy/node/VERSION` (with its newline).
pub const VERSION: &str = include_str!("../../../deploy/node/VERSION");

/// The bundle's version; a node reporting another one is bootstrapped again.
pub fn version() -> &'static str {
    VERSION.trim()
}

/// Uploads the bundle to the target, as laid out in the module documentation.
pub async fn upload(shell: &dyn NodeShell, target: &Target) -> Result<(), ScriptError> {
    let stdin: Vec<u8> = FILES.iter().flat_map(|file| file.text.bytes()).collect();
    let output = shell.run(target, &upload_command(), Some(&stdin)).await?;
    if output.exit_status != 0 {
        let message = if output.stderr.is_empty() { &output.stdout } else { &output.stderr };
        return Err(ScriptError::Upload { message: shorten(message) });
    }
    Ok(())
}

/// The shell command that receives the bundle: the files arrive back to back on stdin, each
/// cut off by its length (GNU `head -c` reads no further than it writes), and each checked
/// for its length once written, so a short upload never goes live. Plain POSIX shell plus
/// GNU coreutils, as on any Debian node.
fn upload_command() -> String {
    let mut script = String::from(
        r#"set -e
base="${BERTH_NODE_ROOT:-}/opt/berth"
mkdir -p "$base/bundles" "$base/bin"
"#,
    );
    script.push_str(&format!("new=$(mktemp -d \"$base/bundles/v{}.XXXXXX\")\n", version()));
    script.push_str(
        r#"live=
trap '[ -n "$live" ] || rm -rf "$new"' EXIT
take() { head -c "$2" >"$new/$1"; [ "$(wc -c <"$new/$1")" -eq "$2" ] || { echo "short upload of $1" >&2; exit 1; }; }
"#,
    );
    for file in FILES {
        script.push_str(&format!("take {} {}\n", file.name, file.text.len()));
    }
    let entry = FILES[0].name;
    script.push_str(&format!(
        r#"chmod 644 "$new"/*
chmod 755 "$new" "$new/{entry}"
old=$(readlink "$base/current" 2>/dev/null || true)
ln -sfn "bundles/${{new##*/}}" "$base/current.new"
mv -fT "$base/current.new" "$base/current"
ln -sfn "../current/{entry}" "$base/bin/{entry}.new"
mv -fT "$base/bin/{entry}.new" "$base/bin/{entry}"
live=1
for d in "$base"/bundles/*; do
    case "bundles/${{d##*/}}" in "bundles/${{new##*/}}" | "$old") ;; *) rm -rf "$d" ;; esac
done
"#
    ));
    script
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use berth_domain::php::{PhpVersion, SiteKind};

    use super::*;

    fn node_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/node")
    }

    #[test]
    fn the_version_is_baked_into_the_entry_point() {
        let line = format!("\nBERTH_NODE_VERSION={}\n", version());
        assert!(
            FILES[0].text.contains(&line),
            "deploy/node/VERSION and the script's BERTH_NODE_VERSION disagree"
        );
    }

    /// A script added to deploy/node/ but not embedded here would be missing on every node.
    #[test]
    fn every_script_in_deploy_node_is_in_the_bundle_and_sourced() {
        let mut on_disk: Vec<String> = std::fs::read_dir(node_dir())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sh") || name == "berth-node")
            .collect();
        on_disk.sort();
        let mut bundled: Vec<String> = FILES.iter().map(|file| file.name.to_owned()).collect();
        bundled.sort();

        assert_eq!(on_disk, bundled);
        for file in &FILES[1..] {
            let line = format!("source \"$BERTH_NODE_DIR/{}\"", file.name);
            assert!(FILES[0].text.contains(&line), "berth-node does not source {}", file.name);
        }
    }

    /// The node checks kinds and PHP versions against fixed lists; they must be the domain's.
    #[test]
    fn the_scripts_accept_exactly_the_domains_kinds_and_php_versions() {
        let lib = FILES.iter().find(|file| file.name == "lib.sh").unwrap().text;
        let list = |name: &str| -> Vec<String> {
            let line = lib.lines().find_map(|l| l.strip_prefix(&format!("{name}=("))).unwrap();
            line.trim_end_matches(')').split_whitespace().map(str::to_owned).collect()
        };
        // Spelled out with an exhaustive match, so a new kind in the domain fails to compile
        // here until the scripts know it too.
        let kinds = [SiteKind::Static, SiteKind::Php, SiteKind::Laravel, SiteKind::Wordpress];
        for kind in kinds {
            match kind {
                SiteKind::Static | SiteKind::Php | SiteKind::Laravel | SiteKind::Wordpress => {}
            }
        }

        assert_eq!(list("PHP_SUPPORTED"), PhpVersion::ALL.map(|v| v.as_str().to_owned()));
        assert_eq!(list("SITE_KINDS"), kinds.map(|k| k.as_str().to_owned()));
    }

    #[test]
    fn the_upload_takes_each_file_by_its_length() {
        let command = upload_command();
        for file in FILES {
            assert!(command.contains(&format!("\ntake {} {}\n", file.name, file.text.len())), "{command}");
        }
    }
}

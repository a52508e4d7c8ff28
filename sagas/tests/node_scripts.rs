//! The node scripts' safety, checked by running them with bash: the JSON emitter against
//! hostile strings (read back with serde_json), arguments refused before anything is touched,
//! undo steps that never re-parse their words, and the SQL quoting helpers.
//!
//! Runs the scripts from `deploy/node/` on this machine; the entry point needs root, as on the
//! CI machine, and works under a private `BERTH_NODE_ROOT`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/node")
}

/// Runs `script` with bash after sourcing the named files of `deploy/node/`; `args` become
/// `$1`, `$2`, ... and reach the script as they are, never through a shell's parser.
fn bash_with(sources: &[&str], script: &str, args: &[&str]) -> Output {
    let mut prelude = String::from("set -euo pipefail\n");
    for file in sources {
        prelude.push_str(&format!("source {}\n", node_dir().join(file).display()));
    }
    Command::new("bash").arg("-c").arg(prelude + script).arg("test").args(args).output().expect("bash runs")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "bash failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).expect("the emitter passes UTF-8 through")
}

/// A private node root that is removed afterwards.
struct Root(PathBuf);

impl Root {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("berth-node-test-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn is_empty(&self) -> bool {
        std::fs::read_dir(&self.0).unwrap().next().is_none()
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every byte bash can hold in a string that means something to JSON, a shell or a terminal.
fn hostile_strings() -> Vec<String> {
    let mut all: Vec<String> = [
        "plain",
        "",
        "\"",
        "\\",
        "\\\"",
        "\"\\\"\\\\\"",
        "line\nbreak",
        "\r\n",
        "tab\there",
        "$(touch /tmp/berth-json-pwned)",
        "`touch /tmp/berth-json-pwned`",
        "${HOME} $HOME $((1+1)) $'\\n'",
        "'single' \"double\"",
        "& &amp; \\& %s %d %n",
        "\\u0000 \\n \\\\n",
        "ș ț Ș Ț ă î â",
        "emoji 😀🚀 and 👩‍💻",
        "日本語のテキスト",
        "}{\"ok\":true}",
        "-- ; DROP TABLE sites; --",
    ]
    .map(str::to_owned)
    .to_vec();
    // Every control character (bash strings cannot hold NUL), one by one and all together,
    // including 0x01 and 0x7f, which bash uses as markers inside its own pattern matching.
    let controls: String = (1u8..32).chain([127]).map(char::from).collect();
    all.extend(controls.chars().map(|c| format!("a{c}b")));
    all.push(controls);
    all
}

#[test]
fn hostile_strings_come_back_unchanged_through_the_emitter() {
    for value in hostile_strings() {
        let output = bash_with(&["json.sh"], r#"json_object str value "$1"; echo"#, &[&value]);
        let line = stdout(&output);

        #[derive(Deserialize)]
        struct Object {
            value: String,
        }
        let parsed: Object = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("{value:?} gave unparsable JSON {line:?}: {error}"));

        assert_eq!(parsed.value, value);
        assert_eq!(line.matches('\n').count(), 1, "{value:?} broke the one-line answer: {line:?}");
    }
    assert!(!Path::new("/tmp/berth-json-pwned").exists(), "a value was run as a command");
}

#[test]
fn objects_and_arrays_are_built_from_typed_values() {
    let script = r#"json_object str s "$1" opt none "" opt some "$1" num n -1.5e3 bool b false \
        json list "$(json_array str "$1" "$2")" json empty "$(json_array num)""#;
    let hostile = "\"}]\\\n$(id)ș😀";

    let line = stdout(&bash_with(&["json.sh"], script, &[hostile, "second"]));
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();

    assert_eq!(
        value,
        serde_json::json!({"s": hostile, "none": null, "some": hostile, "n": -1500.0, "b": false,
            "list": [hostile, "second"], "empty": []})
    );
}

#[test]
fn malformed_values_are_refused_rather_than_emitted() {
    for (script, what) in [
        (r#"json_object num n "1; rm -rf /""#, "a non-number as num"),
        (r#"json_object num n 01"#, "a number JSON does not allow"),
        (r#"json_object bool b yes"#, "a non-boolean as bool"),
        (r#"json_object json j 'true'"#, "a bare value as json"),
        (r#"json_object str 'k"y' v"#, "a key that needs escaping"),
        (r#"json_object str k"#, "a triple cut short"),
        (r#"json_object blob k v"#, "an unknown type"),
    ] {
        let output = bash_with(&["json.sh"], &format!("{script} || exit 9"), &[]);

        assert_eq!(output.status.code(), Some(9), "{what} was accepted");
        assert!(output.stdout.is_empty(), "{what} printed {:?}", String::from_utf8_lossy(&output.stdout));
    }
}

/// The node's answer to one call of the entry point.
#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    error: Option<String>,
    message: Option<String>,
}

fn berth_node(root: &Root, args: &[&str]) -> (Option<i32>, Answer) {
    let output = Command::new(node_dir().join("berth-node"))
        .args(args)
        .env("BERTH_NODE_ROOT", &root.0)
        .env("BERTH_SERVICE_MODE", "dev")
        .output()
        .expect("berth-node runs");
    let line = String::from_utf8(output.stdout).unwrap();
    let answer = serde_json::from_str(&line).unwrap_or_else(|error| panic!("{args:?}: {line:?}: {error}"));
    (output.status.code(), answer)
}

#[test]
fn bad_arguments_are_refused_before_anything_is_touched() {
    let site = "0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d";
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "site-create",
            "--site",
            "$(touch /tmp/berth-arg-pwned)",
            "--domain",
            "a.example",
            "--kind",
            "static",
        ],
        vec!["site-create", "--site", site, "--domain", "a.example; reboot", "--kind", "static"],
        vec![
            "site-create",
            "--site",
            site,
            "--domain",
            "a.example\nserver_name b.example",
            "--kind",
            "static",
        ],
        vec!["site-create", "--site", site, "--domain", "localhost", "--kind", "static"],
        vec!["site-create", "--site", site, "--domain", "a.example", "--kind", "perl"],
        vec!["site-create", "--site", site, "--domain", "a.example", "--kind", "php", "--php", "8.2'; --"],
        vec!["site-create", "--site", site, "--domain", "a.example", "--kind", "php", "--php", "7.4"],
        vec!["site-create", "--site", site, "--site", site, "--domain", "a.example", "--kind", "static"],
        vec!["site-create", "--site", site, "--user", "root", "--domain", "a.example", "--kind", "static"],
        vec!["site-delete", "--site", "../../etc"],
        vec!["site-delete", "--site"],
        vec!["site-suspend", "site", site],
        vec!["site-resume", "--site", "0190F3A2-7C4E-7D1A-9B3C-5E6F7A8B9C0D; id"],
        vec!["health", "--verbose", "1"],
        vec!["challenge-put", "--token", "../../../../etc/passwd", "--content", "x.y"],
        vec![
            "challenge-put",
            "--token",
            "AAAAAAAAAAAAAAAAAAAA",
            "--content",
            "BBBBBBBBBBBBBBBBBBBB.thumbprint0123456789",
        ],
        vec!["challenge-put", "--token", "AAAAAAAAAAAAAAAAAAAA"],
        vec!["challenge-remove", "--token", "AAAAAAAAAAAAAAAAAAAA$(id)"],
        vec!["site-tls", "--site", site, "--hsts", "yes", "--wildcard", "0"],
        vec!["site-tls", "--site", site, "--hsts", "1"],
        vec!["site-aliases", "--site", site, "--aliases", "a.example,b.example;reboot"],
        vec!["site-aliases", "--site", site, "--aliases", "a.example,,b.example"],
        vec!["site-aliases", "--site", site],
        vec!["`touch /tmp/berth-arg-pwned`"],
    ];
    for args in cases {
        let root = Root::new();

        let (status, answer) = berth_node(&root, &args);

        assert_eq!(
            (status, answer.ok, answer.error.as_deref()),
            (Some(2), false, Some("bad_input")),
            "{args:?}"
        );
        assert!(root.is_empty(), "{args:?} touched the node root");
    }
    assert!(!Path::new("/tmp/berth-arg-pwned").exists(), "an argument was run as a command");
}

#[test]
fn an_error_message_carries_a_hostile_argument_intact() {
    let root = Root::new();
    let hostile = "--k\"ey\n\\$(id)\u{1}ș😀";

    let (status, answer) = berth_node(&root, &["version", hostile, "x"]);

    assert_eq!((status, answer.error.as_deref()), (Some(2), Some("bad_input")));
    assert_eq!(answer.message.unwrap(), format!("unknown argument '{hostile}'"));
}

#[test]
fn undo_steps_run_their_words_as_they_were_given() {
    let root = Root::new();
    let dir = root.0.to_str().unwrap();
    // Paths that a shell would split, expand or run if an undo step were ever re-parsed.
    let script = r#"
        exec 3>&1
        d=$1
        # Anything run by mistake would leave its file here.
        cd "$d"
        for name in "a b" '$(touch pwned)' "it's \"q\"" '`touch pwned2`;x' '; touch pwned3'; do
            touch "$d/$name"
            undo_push remove_path "$d/$name"
        done
        echo saved >"$d/saved"
        echo changed >"$d/target"
        undo_push restore_file "$d/saved" "$d/target"
        fail failed "rolled back"
    "#;

    let output = bash_with(&["json.sh", "lib.sh"], script, &[dir]);

    assert_eq!(output.status.code(), Some(2));
    let remaining: Vec<String> = std::fs::read_dir(&root.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(remaining, ["target"], "rolled back in reverse, nothing else created");
    assert_eq!(std::fs::read_to_string(root.0.join("target")).unwrap(), "saved\n");
}

#[test]
fn only_functions_can_be_undo_steps() {
    let output = bash_with(&["json.sh", "lib.sh"], "exec 3>&1; undo_push 'rm -rf /tmp/x'", &[]);

    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stdout).contains("is not a function"));
}

#[test]
fn sql_helpers_quote_only_what_they_can_prove_safe() {
    let script = r#"
        for v in "$@"; do
            printf '%s|%s|%s\n' "$(sql_name "$v" || echo -)" "$(sql_account "$v" || echo -)" "$(sql_text "$v" || echo -)"
        done
    "#;
    let values = ["b0123456789abcdef0123", "Ab9.x-_", "a'b", "a`b", "a\\b", "a b", "a;b", "x\ny", "", "ș"];

    let out = stdout(&bash_with(&["lib.sh", "services.sh"], script, &values));
    let lines: Vec<&str> = out.lines().collect();

    assert_eq!(
        lines,
        [
            "`b0123456789abcdef0123`|'b0123456789abcdef0123'@'localhost'|'b0123456789abcdef0123'",
            "-|-|'Ab9.x-_'",
            "-|-|-",
            "-|-|-",
            "-|-|-",
            "-|-|-",
            "-|-|-",
            "-|-|-",
            "-|-|''",
            "-|-|-",
        ]
    );
}

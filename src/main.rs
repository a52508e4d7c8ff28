//! The `berth` binary: see the `berth` library crate for the roles and commands.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    berth::cli::main()
}

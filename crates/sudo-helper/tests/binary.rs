//! The built `ferrohub-sudospawner` itself, run directly (no sudo): what it
//! answers before any rule file is read. Also makes `cargo test` build and
//! place the binary, which `crates/cli/tests/nonroot_hub.rs` runs through
//! real sudo.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrohub-sudospawner"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refusal may come before stdin is read; a closed pipe is fine then.
    let _ignored = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn answer(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn help_names_the_rule_file() {
    let help = run(&["--help"], "");
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("/etc/ferrohub/sudo-helper.toml"), "{text}");
}

#[test]
fn an_unknown_argument_is_refused_with_a_json_answer() {
    let output = run(&["--rules=/tmp/mine.toml"], "{}");
    assert_eq!(output.status.code(), Some(1));
    let answer = answer(&output);
    assert_eq!(answer["ok"], false);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("unknown argument"),
        "{answer}"
    );
}

#[test]
fn run_by_root_it_refuses_before_reading_anything() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (CI runs as root)");
        return;
    }
    let request = r#"{"action": "spawn", "args": [], "env": {}}"#;
    let output = run(&["--logging=debug"], request);
    assert_eq!(output.status.code(), Some(1));
    let answer = answer(&output);
    assert_eq!(answer["ok"], false);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("refusing to run as root"),
        "{answer}"
    );
}

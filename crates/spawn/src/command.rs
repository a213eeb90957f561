//! The server's command line: `Spawner.cmd + Spawner.args`, optionally wrapped
//! in `LocalProcessSpawner.shell_cmd`, and where its program is found.
//!
//! The program is looked up in the `PATH` of the environment built for the
//! server (as Python's `Popen(env=...)` does), not the hub's, so a `PATH` set in
//! `Spawner.environment` chooses the server's Python.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where a program is looked for when the environment has no `PATH` (Python's `os.defpath`).
pub const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// `cmd + args`, or `shell_cmd + ["<cmd args, shell-quoted>"]` when a shell
/// wrapper is configured (e.g. `["bash", "-l", "-c"]` for a login environment).
pub fn command_line(cmd: &[String], args: &[String], shell_cmd: &[String]) -> Vec<String> {
    let plain: Vec<String> = cmd.iter().chain(args).cloned().collect();
    if shell_cmd.is_empty() {
        return plain;
    }
    let script = plain
        .iter()
        .map(|word| shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ");
    shell_cmd.iter().cloned().chain([script]).collect()
}

/// Quotes one word for a POSIX shell exactly as Python's `shlex.quote` does,
/// so logged command lines look like upstream's.
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if word.is_empty() {
        "''".to_owned()
    } else if word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r#"'"'"'"#))
    }
}

/// Finds the executable for `program`: a name with a `/` is used as given,
/// anything else is searched in the `PATH` of `env`. The error says what was
/// searched, for the `Launch` error the hub shows.
pub fn resolve_program(program: &str, env: &BTreeMap<String, String>) -> Result<PathBuf, String> {
    if program.is_empty() {
        return Err("the command is empty (check Spawner.cmd)".to_owned());
    }
    if program.contains('/') {
        let path = PathBuf::from(program);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(format!("{program} does not exist or is not executable"))
        };
    }
    let search = env.get("PATH").map_or(DEFAULT_PATH, String::as_str);
    search
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| format!("{program} not found on the server's PATH ({search})"))
}

/// A regular file with at least one execute bit (exec itself decides the rest).
fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn plain_command_is_cmd_then_args() {
        let line = command_line(
            &strings(&["jupyterhub-singleuser"]),
            &strings(&["--allow-root", "--debug"]),
            &[],
        );
        assert_eq!(
            line,
            strings(&["jupyterhub-singleuser", "--allow-root", "--debug"])
        );
    }

    #[test]
    fn shell_cmd_gets_the_quoted_command_as_one_argument() {
        let line = command_line(
            &strings(&["jupyterhub-singleuser"]),
            &strings(&["--NotebookApp.x=it's", ""]),
            &strings(&["bash", "-l", "-c"]),
        );
        assert_eq!(
            line,
            strings(&[
                "bash",
                "-l",
                "-c",
                r#"jupyterhub-singleuser '--NotebookApp.x=it'"'"'s' ''"#
            ])
        );
    }

    #[test]
    fn quoting_matches_shlex() {
        assert_eq!(
            shell_quote("plain-word_1.2,3:4@5%6+7=8/9"),
            "plain-word_1.2,3:4@5%6+7=8/9"
        );
        assert_eq!(shell_quote("two words"), "'two words'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote("é"), "'é'");
    }

    #[test]
    fn names_are_found_on_the_servers_path() {
        let env = BTreeMap::from([("PATH".to_owned(), "/nonexistent:/bin".to_owned())]);
        assert_eq!(
            resolve_program("sh", &env).unwrap(),
            PathBuf::from("/bin/sh")
        );
    }

    #[test]
    fn without_path_the_python_default_is_searched() {
        assert_eq!(
            resolve_program("sh", &BTreeMap::new()).unwrap(),
            PathBuf::from("/bin/sh")
        );
    }

    #[test]
    fn a_missing_program_names_itself_and_the_path() {
        let env = BTreeMap::from([("PATH".to_owned(), "/usr/bin".to_owned())]);
        let error = resolve_program("no-such-server-xyz", &env).unwrap_err();
        assert!(error.contains("no-such-server-xyz"), "{error}");
        assert!(error.contains("/usr/bin"), "{error}");
    }

    #[test]
    fn paths_are_used_as_given_but_must_be_executable() {
        assert_eq!(
            resolve_program("/bin/sh", &BTreeMap::new()).unwrap(),
            PathBuf::from("/bin/sh")
        );
        assert!(resolve_program("/etc/passwd", &BTreeMap::new()).is_err());
        assert!(resolve_program("/nonexistent/x", &BTreeMap::new()).is_err());
    }
}

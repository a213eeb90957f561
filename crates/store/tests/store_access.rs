//! Every query goes through `Store::reader`, `Store::writer` or
//! `Store::activity_writer`, and every function that writes uses one of the
//! writers. The hub caches resolved credentials until the store's generation
//! changes, so a write that bypassed `writer` would leave revoked rights in
//! the cache: this test keeps that from creeping back in.

use std::path::Path;

/// Functions allowed to write without advancing the generation: activity
/// timestamps, a managed service's pid and a share code's use count, none of
/// which changes what a credential may do.
const ACTIVITY_ONLY: &[&str] = &[
    "touch_spawner",
    "touch_token",
    "touch_user",
    "set_service_pid",
    "record_share_code_exchange",
];

fn functions(source: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in source.lines() {
        let trimmed = line.trim_start();
        let starts = [
            "pub async fn ",
            "pub(crate) async fn ",
            "async fn ",
            "pub fn ",
            "fn ",
        ]
        .iter()
        .find_map(|prefix| trimmed.strip_prefix(prefix));
        if let Some(rest) =
            starts.filter(|_| line.starts_with("    ") && !line.starts_with("        "))
        {
            if let Some(done) = current.take() {
                out.push(done);
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            current = Some((name, String::new()));
        }
        if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out.extend(current);
    out
}

#[test]
fn no_query_bypasses_the_generation() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&path).unwrap();
        for (name, body) in functions(&source) {
            let is_accessor = file == "lib.rs"
                && [
                    "reader",
                    "writer",
                    "activity_writer",
                    "close",
                    "deref",
                    "connect",
                    "begin",
                ]
                .contains(&name.as_str());
            if body.contains("self.pool") && !is_accessor {
                problems.push(format!("{file}: {name} uses self.pool directly"));
            }
            let writes = ["INSERT INTO", "UPDATE ", "DELETE FROM", ".begin()"]
                .iter()
                .any(|w| body.contains(w));
            let activity = ACTIVITY_ONLY.contains(&name.as_str());
            if writes
                && !activity
                && !is_accessor
                && !body.contains("writer()")
                && file != "migrate.rs"
                && file != "dialect.rs"
            {
                problems.push(format!("{file}: {name} writes without self.writer()"));
            }
            if activity && body.contains("self.writer()") {
                problems.push(format!(
                    "{file}: {name} is activity-only but bumps the generation"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

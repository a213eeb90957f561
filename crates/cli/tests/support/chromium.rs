//! Real headless Chromium: runs a scenario script from `tests/browser/`
//! (Node + playwright-core, both installed by scripts/setup.sh) and returns
//! the one JSON line it prints about what the user saw.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

/// Where scripts/setup.sh puts playwright-core (`FERROHUB_BROWSER`).
pub fn playwright_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("FERROHUB_BROWSER").unwrap_or_else(|_| "/opt/ferrohub/browser".into()),
    )
}

/// The Chromium the scripts drive (`FERROHUB_CHROMIUM`, default Debian's).
pub fn chromium_bin() -> PathBuf {
    PathBuf::from(std::env::var("FERROHUB_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()))
}

/// Runs `tests/browser/{script}` with `params` (plus a screenshot path for
/// failures), checks that it finished and that no page threw or logged a
/// console error, and returns its result object.
pub async fn run(script: &str, params: Value) -> Value {
    let playwright = playwright_dir().join("node_modules/playwright-core");
    assert!(
        playwright.exists(),
        "{} is missing; run scripts/setup.sh",
        playwright.display()
    );
    let chromium = chromium_bin();
    assert!(
        chromium.exists(),
        "{} is missing; run scripts/setup.sh",
        chromium.display()
    );
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser")
        .join(script);
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-failures");
    std::fs::create_dir_all(&shots).unwrap();
    let screenshot = shots.join(format!(
        "{}-{}.png",
        script.trim_end_matches(".mjs"),
        std::process::id()
    ));
    let mut params = params;
    params["screenshot"] = Value::from(screenshot.display().to_string());
    params["artifacts"] = Value::from(
        artifacts_dir()
            .join(script.trim_end_matches(".mjs"))
            .display()
            .to_string(),
    );

    let child = tokio::process::Command::new("node")
        .arg(&path)
        .arg(params.to_string())
        .env("FERROHUB_BROWSER", playwright_dir())
        .env("FERROHUB_CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node (Node.js 20) is on PATH");
    let output = tokio::time::timeout(Duration::from_secs(240), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish in 240 s"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let result: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| {
            panic!(
                "{script} printed no result ({}); stdout:\n{stdout}\nstderr:\n{stderr}",
                output.status
            )
        });
    eprintln!("{script}: {result:#}");
    assert!(
        result["ok"] == true,
        "{script} failed at {} (screenshot {}): {}\npage text: {}\nstderr:\n{stderr}",
        result["failedAt"],
        result["screenshot"],
        result["error"].as_str().unwrap_or_default(),
        result["failedPageText"].as_str().unwrap_or_default(),
    );
    assert_eq!(
        result["pageErrors"],
        Value::Array(vec![]),
        "{script}: uncaught JavaScript errors in the pages"
    );
    assert_eq!(
        result["consoleErrors"],
        Value::Array(vec![]),
        "{script}: console errors in the pages"
    );
    assert_eq!(
        result.get("externalRequests"),
        None,
        "{script}: pages fetched something from outside the hub"
    );
    check_audits(script, &result);
    result
}

/// Where page screenshots go (`FERROHUB_ARTIFACTS`, default
/// `<target>/test-artifacts/pages`), one folder per script.
pub fn artifacts_dir() -> PathBuf {
    std::env::var_os("FERROHUB_ARTIFACTS").map_or_else(
        || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../test-artifacts/pages"),
        PathBuf::from,
    )
}

/// Every page a script audited (`t.audit(name)` in lib.mjs) has no serious
/// or critical axe-core violation and does not scroll sideways at a phone's
/// width, in light and dark colours.
fn check_audits(script: &str, result: &Value) {
    let audits = result["audits"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut problems = Vec::new();
    for audit in audits {
        for check in audit["checks"].as_array().into_iter().flatten() {
            let at = format!(
                "{} ({}) {} {}",
                audit["name"], audit["path"], check["scheme"], check["viewport"]
            );
            for violation in check["violations"].as_array().into_iter().flatten() {
                let impact = violation["impact"].as_str().unwrap_or_default();
                if matches!(impact, "serious" | "critical") {
                    problems.push(format!("{at}: {impact} {violation}"));
                }
            }
            if check["overflow"].as_i64().unwrap_or(0) > 0 {
                problems.push(format!(
                    "{at}: the page is {} px wider than the window",
                    check["overflow"]
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{script}: accessibility or layout problems:\n{}",
        problems.join("\n")
    );
}

//! Branding and overrides: `JupyterHub.template_paths` (a replaced login page
//! and one block of the built-in `page.html` overridden), `template_vars`,
//! `logo_file` at `/hub/logo`, the built-in static files with cache-busting,
//! and the start-up refusals for a bad template directory, template or logo.
//! Real hub binary and real headless Chromium.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::process::Command;

use serde_json::json;
use support::TestHub;

/// A login page of our own (it still posts the built-in form fields) and a
/// page.html that keeps the built-in one and adds a footer.
fn custom_templates(dir: &std::path::Path) {
    std::fs::write(
        dir.join("login.html"),
        r#"{% extends "page.html" %}
{% block title %}Physics 101 - sign in{% endblock %}
{% block main %}
<h1>{{ course }} hub</h1>
<p id="welcome">Sign in with your department account.</p>
<form method="post" action="{{ hub }}login?next={{ next | urlencode }}">
  <input type="hidden" name="_xsrf" value="{{ xsrf }}">
  <label for="custom-user">Department account</label>
  <input id="custom-user" type="text" name="username" autocomplete="username">
  <label for="custom-password">Password</label>
  <input id="custom-password" type="password" name="password" autocomplete="current-password">
  <button id="custom-submit" type="submit">Enter</button>
</form>
{% endblock %}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("page.html"),
        r#"{% extends "templates/page.html" %}
{% block footer %}<footer id="site-footer" class="site">Run by the {{ department }} ({{ course }})</footer>{% endblock %}
"#,
    )
    .unwrap();
}

/// A 3×2 PNG (red pixels), written by hand so the test needs no image tool.
fn tiny_png() -> Vec<u8> {
    const PNG: &str = "89504e470d0a1a0a0000000d49484452000000030000000208020000\
        001216f14d0000001049444154789c63f8cfc000410c70160041d205fb87f0b9480000000049454e44ae426082";
    (0..PNG.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&PNG[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn overridden_templates_logo_and_static_files_in_a_browser() {
    let assets = tempfile::tempdir().unwrap();
    let templates = assets.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    custom_templates(&templates);
    let logo = assets.path().join("logo.png");
    std::fs::write(&logo, tiny_png()).unwrap();
    let hub = TestHub::start(&[(
        "JupyterHub",
        &format!(
            "template_paths = [{templates:?}]\nlogo_file = {logo:?}\n\
             template_vars = {{ course = \"Physics 101\", department = \"Physics department\", \
             announcement = \"Maintenance on <b>Friday</b>\" }}",
            templates = templates.display().to_string(),
            logo = logo.display().to_string(),
        ),
    )]);
    let seen = support::chromium::run(
        "branding.mjs",
        json!({"url": hub.public_url(), "user": "hana", "password": "pw"}),
    )
    .await;

    let login = &seen["login"];
    assert_eq!(login["title"], "Physics 101 - sign in");
    assert_eq!(login["heading"], "Physics 101 hub");
    assert_eq!(login["welcome"], "Sign in with your department account.");
    assert_eq!(
        login["footer"],
        "Run by the Physics department (Physics 101)"
    );
    // template_vars' announcement is the admin's HTML, as upstream's.
    assert_eq!(login["announcement"], "Maintenance on Friday");
    assert_eq!(login["logoWidth"], 3, "the configured 3×2 logo: {login}");
    assert_eq!(login["logoAlt"], "ferrohub home");
    assert_eq!(login["headerBackground"], "rgb(36, 41, 47)");
    let favicon = login["favicon"].as_str().unwrap();
    assert!(
        favicon.starts_with("/hub/static/favicon.svg?v="),
        "{favicon}"
    );

    // The built-in home page, in the overridden page.html, after a login
    // through the custom form.
    let home = &seen["home"];
    assert_eq!(home["heading"], "Your server");
    assert_eq!(home["navUser"], "hana");
    assert_eq!(
        home["footer"],
        "Run by the Physics department (Physics 101)"
    );

    let loaded = seen["loaded"].as_array().unwrap();
    for (path, kind) in [
        ("/hub/static/style.css", "text/css; charset=utf-8"),
        ("/hub/logo", "image/png"),
    ] {
        assert!(
            loaded
                .iter()
                .any(|r| r["path"] == path && r["status"] == 200 && r["type"] == kind),
            "{path} not loaded as {kind}: {loaded:?}"
        );
    }

    // Over HTTP: the logo is the configured file, byte for byte; a versioned
    // asset may be cached for a year, an unversioned one is revalidated.
    let http = reqwest::Client::new();
    let base = hub.public_url();
    let logo_bytes = http
        .get(format!("{base}/hub/logo"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(logo_bytes.as_ref(), tiny_png().as_slice());
    let style = loaded
        .iter()
        .find(|r| r["path"] == "/hub/static/style.css")
        .unwrap();
    let versioned = http
        .get(format!(
            "{base}/hub/static/style.css{}",
            text(&style["query"])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(versioned.status(), 200);
    assert_eq!(
        versioned.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = versioned.headers()["etag"].clone();
    let plain = http
        .get(format!("{base}/hub/static/style.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.headers()["cache-control"], "no-cache");
    let revalidated = http
        .get(format!("{base}/hub/static/style.css"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    let stale = http
        .get(format!("{base}/hub/static/style.css?v=0000000000000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        stale.headers()["cache-control"],
        "no-cache",
        "an old version is not cached for a year"
    );
    let missing = http
        .get(format!("{base}/hub/static/../Cargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let missing = http
        .get(format!("{base}/hub/static/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(
        missing.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "a readable page"
    );
}

fn text(value: &serde_json::Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// Runs the hub with one bad `[JupyterHub]` line and returns its exit code
/// and standard error.
fn refused_start(line: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ferrohub.toml");
    std::fs::write(
        &config,
        format!(
            "[JupyterHub]\nbind_url = \"http://127.0.0.1:{}\"\nhub_port = {}\n\
             authenticator_class = \"dummy\"\n{line}\n[ConfigurableHTTPProxy]\napi_url = \"http://127.0.0.1:{}\"\n",
            support::free_port(),
            support::free_port(),
            support::free_port()
        ),
    )
    .unwrap();
    let out = Command::new(support::ferrohub_bin())
        .arg("-f")
        .arg(&config)
        .current_dir(dir.path())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_templates_or_logo_stop_the_hub_with_their_name() {
    let (code, stderr) = refused_start("template_paths = [\"/nonexistent/templates\"]");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "JupyterHub.template_paths: /nonexistent/templates is not a readable directory"
        ),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("home.html"), "{% block main %}never closed").unwrap();
    let (code, stderr) = refused_start(&format!(
        "template_paths = [{:?}]",
        dir.path().display().to_string()
    ));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("template home.html:"), "{stderr}");

    let (code, stderr) = refused_start("logo_file = \"/nonexistent/logo.png\"");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("JupyterHub.logo_file /nonexistent/logo.png"),
        "{stderr}"
    );
}

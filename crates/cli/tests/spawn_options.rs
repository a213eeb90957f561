//! The spawn page's options form and `Spawner.profile_list`, end to end: the
//! profile a user picks (by form, by `opt-*` query argument, or through the
//! REST API) changes what really runs, seen from inside the server by code
//! run in a kernel of the real `jupyterhub-singleuser`; unknown profiles are
//! refused; `user_options` survive a hub restart; a custom `options_form`
//! delivers its fields. Also the browser test (`browser/spawn_options_*.mjs`).
//! Real parts: the ferrohub binary, ferrohub-proxy, jupyterhub-singleuser,
//! headless Chromium.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use nix::sys::signal::Signal;
use reqwest::Method;
use serde_json::{Value, json};
use support::browser::{Browser, hidden_xsrf};
use support::{TestHub, eventually};

/// Two profiles that differ in environment; the second also in
/// `default_url` and limits, written with KubeSpawner's key name.
const PROFILES: &str = r#"profile_list = [
  { display_name = "Small CPU", description = "One core for light work", spawner_override = { environment = { FERROHUB_PROFILE = "small" } } },
  { display_name = "Big GPU", slug = "gpu", description = "Lands on its own workspace", kubespawner_override = { environment = { FERROHUB_PROFILE = "gpu" }, default_url = "/lab/workspaces/gpu", mem_limit = "1G", cpu_limit = 2 } },
]"#;

/// `user`'s server model once it is ready (through `browser`'s login cookie).
async fn ready_model(browser: &Browser, user: &str) -> Value {
    eventually(150, "the server to be ready", || async {
        let model: Value = browser
            .hub_api(Method::GET, &format!("/users/{user}"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (model["servers"][""]["ready"] == true).then_some(model)
    })
    .await
}

/// Opens `user`'s server root (OAuth and all); the path it lands on.
async fn landing_path(hub: &TestHub, browser: &Browser, user: &str) -> String {
    let page = browser
        .follow
        .get(format!("{}/user/{user}/", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "{user}'s server root");
    page.url().path().to_owned()
}

/// The environment variables a kernel on `user`'s server sees, as Python's repr.
async fn kernel_env(browser: &Browser, user: &str, names: &[&str]) -> Vec<String> {
    let mut seen = Vec::new();
    for name in names {
        // (A None result would print nothing, so an unset variable reads "unset".)
        let code = format!("import os; os.environ.get({name:?}, 'unset')");
        seen.push(browser.run_code(user, &code).await);
    }
    seen
}

/// Logs `user` in with a fresh browser.
async fn signed_in(hub: &TestHub, user: &str) -> Browser {
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login(user, "pw", None).await.status(), 302);
    browser
}

#[tokio::test(flavor = "multi_thread")]
async fn profiles_change_what_runs_and_survive_a_hub_restart() {
    let mut hub = TestHub::start(&[("Spawner", PROFILES)]);

    // alice sees the form instead of a spawn, picks "Small CPU" and submits it.
    let alice = signed_in(&hub, "alice").await;
    let form = alice
        .single
        .get(format!("{}/hub/spawn", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    assert!(html.contains("<h1>Server Options</h1>"), "{html}");
    for shown in [
        r#"value="small-cpu""#,
        r#"value="gpu""#,
        "Small CPU",
        "Big GPU",
        "One core for light work",
        "Lands on its own workspace",
    ] {
        assert!(html.contains(shown), "form lacks {shown}: {html}");
    }
    assert!(
        hub.server_pids("alice").is_empty(),
        "showing the form starts nothing"
    );
    let xsrf = hidden_xsrf(&html).expect("the form has an _xsrf field");
    let submitted = alice
        .single
        .post(format!("{}/hub/spawn", hub.public_url()))
        .form(&[
            ("_xsrf", xsrf.as_str()),
            ("_spawn_form", "1"),
            ("profile", "small-cpu"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 302);
    let model = ready_model(&alice, "alice").await;
    assert_eq!(
        model["servers"][""]["user_options"],
        json!({"profile": "small-cpu"})
    );

    // bob starts directly with ?opt-profile=gpu: no form.
    let bob = signed_in(&hub, "bob").await;
    let direct = bob
        .single
        .get(format!("{}/hub/spawn?opt-profile=gpu", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 302, "opt-profile starts without the form");
    let location = direct.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location == "/hub/spawn-pending/bob" || location == "/user/bob/",
        "{location}"
    );
    let model = ready_model(&bob, "bob").await;
    assert_eq!(
        model["servers"][""]["user_options"],
        json!({"profile": "gpu"})
    );

    // From inside each server: the profile's environment and limits, and
    // the profile's default_url is where bob lands.
    assert_eq!(landing_path(&hub, &alice, "alice").await, "/user/alice/lab");
    assert_eq!(
        landing_path(&hub, &bob, "bob").await,
        "/user/bob/lab/workspaces/gpu"
    );
    let names = ["FERROHUB_PROFILE", "MEM_LIMIT", "CPU_LIMIT"];
    assert_eq!(
        kernel_env(&alice, "alice", &names).await,
        ["'small'", "'unset'", "'unset'"]
    );
    assert_eq!(
        kernel_env(&bob, "bob", &names).await,
        ["'gpu'", "'1073741824'", "'2.0'"]
    );

    // An unknown profile is refused everywhere, naming the choices, and
    // starts nothing.
    let carol = signed_in(&hub, "carol").await;
    let choices = "No such profile: nope. Options available: small-cpu, gpu";
    let by_query = carol
        .single
        .get(format!("{}/hub/spawn?opt-profile=nope", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 400);
    let page = by_query.text().await.unwrap();
    assert!(page.contains(choices), "{page}");
    assert!(page.contains("Server Options"), "the form again: {page}");
    let xsrf = hidden_xsrf(&page).unwrap();
    let by_form = carol
        .single
        .post(format!("{}/hub/spawn", hub.public_url()))
        .form(&[
            ("_xsrf", xsrf.as_str()),
            ("_spawn_form", "1"),
            ("profile", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(by_form.status(), 400);
    assert!(by_form.text().await.unwrap().contains(choices));
    let by_api = carol
        .hub_api(Method::POST, "/users/carol/server")
        .json(&json!({"profile": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_api.status(), 400);
    assert_eq!(
        by_api.json::<Value>().await.unwrap(),
        json!({"status": 400, "message": choices})
    );
    let not_text = carol
        .hub_api(Method::POST, "/users/carol/server")
        .json(&json!({"user_options": {"profile": ["gpu"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_text.status(), 400);
    let carol_model: Value = carol
        .hub_api(Method::GET, "/users/carol")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(carol_model["servers"], json!({}), "{carol_model}");
    assert!(hub.server_pids("carol").is_empty());

    // The hub dies (SIGKILL: the servers keep running) and comes back:
    // the servers are re-adopted with the options they were started with.
    let (alice_pid, bob_pid) = (hub.server_pids("alice"), hub.server_pids("bob"));
    hub.kill(Signal::SIGKILL);
    hub.launch();
    let model = ready_model(&alice, "alice").await;
    assert_eq!(
        model["servers"][""]["user_options"],
        json!({"profile": "small-cpu"})
    );
    let model = ready_model(&bob, "bob").await;
    assert_eq!(
        model["servers"][""]["user_options"],
        json!({"profile": "gpu"})
    );
    assert_eq!(hub.server_pids("alice"), alice_pid, "not spawned again");
    assert_eq!(hub.server_pids("bob"), bob_pid, "not spawned again");

    // Stopped and started again without options (the home page's button):
    // the stored profile is used again, after the restart too.
    bob.stop_server("bob").await;
    eventually(60, "bob's server to exit", || async {
        hub.server_pids("bob").is_empty().then_some(())
    })
    .await;
    let again = bob
        .hub_api(Method::POST, "/users/bob/server")
        .send()
        .await
        .unwrap();
    assert!(matches!(again.status().as_u16(), 201 | 202));
    ready_model(&bob, "bob").await;
    let pid = hub.server_pids("bob")[0];
    assert_eq!(
        TestHub::process_env(pid, "FERROHUB_PROFILE").as_deref(),
        Some("gpu")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_options_form_delivers_its_fields_as_user_options() {
    let snippet = r#"<label for="colour">Colour</label><input id="colour" name="colour"><label for="letter">Letters</label><select id="letter" name="letter" multiple><option value="A">A</option><option value="B">B</option></select>"#;
    let hub = TestHub::start(&[("Spawner", &format!("options_form = '{snippet}'"))]);
    let dora = signed_in(&hub, "dora").await;
    let form = dora
        .single
        .get(format!("{}/hub/spawn", hub.public_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        form.contains(snippet),
        "the snippet as written, unescaped: {form}"
    );

    // The home page's start button posts only its XSRF token: with a form
    // configured it is sent to the form instead of starting.
    let xsrf = hidden_xsrf(&form).unwrap();
    let from_home = dora
        .single
        .post(format!("{}/hub/spawn", hub.public_url()))
        .form(&[("_xsrf", xsrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(from_home.status(), 302);
    assert_eq!(from_home.headers()["location"], "/hub/spawn");
    assert!(hub.server_pids("dora").is_empty());

    let submitted = dora
        .single
        .post(format!("{}/hub/spawn", hub.public_url()))
        .form(&[
            ("_xsrf", xsrf.as_str()),
            ("_spawn_form", "1"),
            ("colour", "red"),
            ("letter", "A"),
            ("letter", "B"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 302);
    let model = ready_model(&dora, "dora").await;
    assert_eq!(
        model["servers"][""]["user_options"],
        json!({"colour": ["red"], "letter": ["A", "B"]}),
        "upstream's passthrough: every field a list of strings"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_picks_the_second_profile_and_reaches_the_server() {
    let hub = TestHub::start(&[("Spawner", PROFILES)]);
    let seen = support::chromium::run(
        "spawn_options_profiles.mjs",
        json!({"url": hub.public_url(), "user": "erin", "password": "pw"}),
    )
    .await;
    assert_eq!(seen["formPath"], "/hub/spawn", "{seen}");
    assert_eq!(seen["heading"], "Server Options");
    assert_eq!(seen["legend"], "Choose a profile");
    assert_eq!(
        seen["choices"],
        json!([
            {"label": "Small CPU", "value": "small-cpu", "checked": true, "description": "One core for light work"},
            {"label": "Big GPU", "value": "gpu", "checked": false, "description": "Lands on its own workspace"},
        ]),
        "labels and descriptions tied to their radio buttons"
    );
    assert_eq!(
        seen["refusal"],
        "Error: No such profile: nope. Options available: small-cpu, gpu"
    );
    assert_eq!(seen["refusalRole"], "alert");
    assert_eq!(seen["chosen"], "gpu");
    assert_eq!(seen["finalPath"], "/user/erin/lab/workspaces/gpu");
    assert_eq!(seen["labTitle"], "JupyterLab (gpu)", "the gpu workspace");
    let audited: Vec<&str> = seen["audits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        audited,
        [
            "spawn-form",
            "spawn-form-unknown-profile",
            "spawn-form-second-chosen"
        ]
    );

    let api = support::api::Api::new(&hub);
    let token = support::api::token_for(&hub, "erin");
    let (_, model) = api.get(&token, "/users/erin").await;
    assert_eq!(
        model["servers"][""]["user_options"],
        json!({"profile": "gpu"})
    );
    let pid = hub.server_pids("erin")[0];
    assert_eq!(
        TestHub::process_env(pid, "FERROHUB_PROFILE").as_deref(),
        Some("gpu")
    );
}

//! One person's whole visit in real Chromium, across the pages of issue 12:
//! sign in, pick a profile, watch the progress bar, land in JupyterLab,
//! create and delete a named server from home, make a scoped token and
//! revoke it, revoke their server's OAuth application. Real hub,
//! ferrohub-proxy and jupyterhub-singleuser; the profile is checked from
//! inside the server through a real kernel afterwards.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use serde_json::{Value, json};
use support::TestHub;
use support::api::{Api, token_for};

#[tokio::test(flavor = "multi_thread")]
async fn a_user_picks_a_profile_watches_progress_and_manages_servers_and_tokens() {
    let hub = TestHub::start(&[
        (
            "JupyterHub",
            "allow_named_servers = true\nnamed_server_limit_per_user = 2",
        ),
        (
            "Spawner",
            r#"profile_list = [
  { display_name = "Quick", description = "A small server", spawner_override = { environment = { JOURNEY_PROFILE = "quick" } } },
  { display_name = "Analysis", slug = "analysis", description = "For long computations", spawner_override = { environment = { JOURNEY_PROFILE = "analysis" } } },
]"#,
        ),
    ]);
    let user = "ines";
    let seen = support::chromium::run(
        "journey.mjs",
        json!({"url": hub.public_url(), "user": user, "password": "pw"}),
    )
    .await;

    assert_eq!(seen["formHeading"], "Server Options");
    let profiles = seen["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 2, "{profiles:?}");
    assert!(
        seen["pendingHeading"]
            .as_str()
            .unwrap()
            .contains("starting"),
        "{seen}"
    );

    // The bar moved: several distinct values, never backwards, and it ended full.
    let values: Vec<u64> = seen["progressValues"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    let mut distinct = values.clone();
    distinct.dedup();
    assert!(
        distinct.len() >= 3,
        "the bar took too few steps: {values:?}"
    );
    assert!(values.windows(2).all(|w| w[0] <= w[1]), "{values:?}");
    assert_eq!(values.last(), Some(&100), "{values:?}");
    assert!(
        seen["labPath"]
            .as_str()
            .unwrap()
            .starts_with("/user/ines/lab"),
        "{seen}"
    );
    assert!(seen["labTitle"].as_str().unwrap().starts_with("JupyterLab"));

    assert!(
        seen["namedLanding"]
            .as_str()
            .unwrap()
            .starts_with("/user/ines/scratch/"),
        "{seen}"
    );
    assert!(
        seen["namedRow"].as_str().unwrap().contains("scratch"),
        "{seen}"
    );
    assert_eq!(seen["namedRowsAfterDelete"], 0);

    assert_eq!(seen["tokenUse"], json!({"own": 200, "list": 403}));
    assert_eq!(seen["tokenAfterRevoke"], 403);

    let client = "jupyterhub-user-ines";
    assert!(
        seen["applicationsBefore"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == client),
        "{seen}"
    );
    assert!(
        !seen["applicationsAfter"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == client),
        "{seen}"
    );

    // The hub agrees: the default server runs with the chosen profile, the
    // named one is gone, no token of the page or of the server's OAuth
    // client is left.
    let api = Api::new(&hub);
    let admin = token_for(&hub, user);
    let (status, model) = api.get(&admin, "/users/ines").await;
    assert_eq!(status, 200);
    let servers = model["servers"].as_object().unwrap();
    assert_eq!(servers.keys().collect::<Vec<_>>(), vec![""], "{model}");
    assert_eq!(servers[""]["user_options"], json!({"profile": "analysis"}));
    let (_, tokens) = api.get(&admin, "/users/ines/tokens").await;
    let tokens = tokens["api_tokens"].as_array().unwrap();
    assert!(
        tokens.iter().all(|t| t["note"] != "dashboard"
            && !t["oauth_client"]
                .as_str()
                .unwrap_or("")
                .contains("/user/ines/")),
        "{tokens:?}"
    );

    // From inside the server: the profile's environment.
    let browser = support::browser::Browser::new(&hub.public_url());
    assert_eq!(browser.login(user, "pw", None).await.status(), 302);
    let opened = browser
        .follow
        .get(format!("{}/user/{user}/", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200, "the server, through OAuth again");
    let env = browser
        .run_code(
            user,
            "import os; os.environ.get('JOURNEY_PROFILE', 'unset')",
        )
        .await;
    assert_eq!(env, "'analysis'");
}

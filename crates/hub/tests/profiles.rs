//! `Spawner.profile_list` through the REST API, in process
//! (`ferrohub_hub::testing`): the profile a start names (or the default one)
//! becomes the effective settings the spawner is asked to run, and a profile
//! that does not exist is refused before anything is stored or started.

use std::collections::BTreeMap;

use ferrohub_config::{ByteSize, Config, Profile, SpawnerOverride};
use ferrohub_hub::testing::TestApp;
use http::{Method, StatusCode};
use serde_json::json;

fn profile(display_name: &str, slug: &str, default: bool, over: SpawnerOverride) -> Profile {
    Profile {
        display_name: display_name.to_owned(),
        slug: slug.to_owned(),
        description: String::new(),
        default,
        spawner_override: over,
    }
}

fn with_profiles(config: &mut Config) {
    config.jupyterhub.allow_named_servers = true;
    config.spawner.environment = BTreeMap::from([("BASE".into(), "kept".into())]);
    config.spawner.profile_list = vec![
        profile(
            "Small",
            "small",
            false,
            SpawnerOverride {
                environment: Some(BTreeMap::from([("SIZE".into(), "small".into())])),
                ..SpawnerOverride::default()
            },
        ),
        profile(
            "GPU",
            "gpu",
            true,
            SpawnerOverride {
                environment: Some(BTreeMap::from([("SIZE".into(), "gpu".into())])),
                args: Some(vec!["--gpu".into()]),
                default_url: Some("/lab/tree/gpu".into()),
                mem_limit: Some(ByteSize(1 << 30)),
                ..SpawnerOverride::default()
            },
        ),
    ];
}

#[tokio::test]
async fn the_named_or_default_profile_is_what_the_spawner_runs() {
    let app = TestApp::new(with_profiles).await.expect("test app");
    for name in ["alice", "bob"] {
        app.create_user(name, false).await.expect("user");
    }
    let alice = app.token("alice", &["servers"]).await.expect("token");
    let started = app
        .call(
            Method::POST,
            "/users/alice/server",
            Some(&alice),
            Some(&json!({"profile": "small"})),
        )
        .await;
    assert!(started.status.is_success(), "{}", started.text);
    let request = app.spawner().requests().pop().expect("a start request");
    assert_eq!(request.username, "alice");
    assert_eq!(request.user_options, json!({"profile": "small"}));
    let settings = request.settings;
    assert_eq!(settings.environment["SIZE"], "small");
    assert_eq!(settings.environment["BASE"], "kept", "merged, not replaced");
    assert_eq!(settings.args, Vec::<String>::new());
    assert_eq!(
        (settings.default_url.as_str(), settings.mem_limit),
        ("", None)
    );

    // No profile named: the default one (marked `default`), as KubeSpawner.
    let bob = app.token("bob", &["servers"]).await.expect("token");
    let started = app
        .call(Method::POST, "/users/bob/server", Some(&bob), None)
        .await;
    assert!(started.status.is_success(), "{}", started.text);
    let settings = app.spawner().requests().pop().expect("request").settings;
    assert_eq!(settings.environment["SIZE"], "gpu");
    assert_eq!(settings.args, ["--gpu"]);
    assert_eq!(settings.default_url, "/lab/tree/gpu");
    assert_eq!(settings.mem_limit, Some(1 << 30));
}

#[tokio::test]
async fn unknown_profiles_are_refused_before_anything_is_stored() {
    let app = TestApp::new(with_profiles).await.expect("test app");
    let alice_record = app.create_user("alice", false).await.expect("alice");
    let token = app.token("alice", &["servers"]).await.expect("token");
    let choices = "No such profile: tpu. Options available: small, gpu";
    let bad = json!({"user_options": {"profile": "tpu"}});
    for (method, path) in [
        (Method::POST, "/users/alice/server"),
        (Method::POST, "/users/alice/servers/nb"),
        (Method::PUT, "/users/alice/servers/nb"),
    ] {
        let answer = app
            .call(method.clone(), path, Some(&token), Some(&bad))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{method} {path}");
        assert_eq!(answer.json(), json!({"status": 400, "message": choices}));
    }
    let store = app.store();
    assert!(
        store
            .spawner(alice_record.id, "nb")
            .await
            .expect("read")
            .is_none(),
        "no named server was created"
    );
    let default = store.spawner(alice_record.id, "").await.expect("read");
    assert!(default.is_none_or(|s| s.user_options == json!({})));

    // A stopped named server cannot be given a bad profile either.
    let created = app
        .call(
            Method::PUT,
            "/users/alice/servers/nb",
            Some(&token),
            Some(&json!({"user_options": {"profile": "gpu"}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let patched = app
        .call(
            Method::PATCH,
            "/users/alice/servers/nb",
            Some(&token),
            Some(&bad),
        )
        .await;
    assert_eq!(patched.status, StatusCode::BAD_REQUEST, "{}", patched.text);
    let not_text = app
        .call(
            Method::POST,
            "/users/alice/servers/nb",
            Some(&token),
            Some(&json!({"user_options": {"profile": 7}})),
        )
        .await;
    assert_eq!(not_text.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        store
            .spawner(alice_record.id, "nb")
            .await
            .expect("read")
            .expect("nb")
            .user_options,
        json!({"profile": "gpu"})
    );
    assert!(app.spawner().requests().is_empty(), "nothing was started");
}

#[tokio::test]
async fn without_a_profile_list_options_pass_through_and_change_nothing() {
    let app = TestApp::new(|_| {}).await.expect("test app");
    app.create_user("carol", false).await.expect("carol");
    let token = app.token("carol", &["servers"]).await.expect("token");
    let started = app
        .call(
            Method::POST,
            "/users/carol/server",
            Some(&token),
            Some(&json!({"profile": "anything", "n": [1]})),
        )
        .await;
    assert!(started.status.is_success(), "{}", started.text);
    let request = app.spawner().requests().pop().expect("request");
    assert_eq!(
        request.user_options,
        json!({"profile": "anything", "n": [1]})
    );
    assert_eq!(
        request.settings,
        ferrohub_spawn::ServerSettings::from_config(&Config::default().spawner)
    );
}

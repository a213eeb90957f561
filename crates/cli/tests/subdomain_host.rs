//! `JupyterHub.subdomain_host` (issue 15): each user's server on its own host.
//! The hub runs as `http://hub.test:<port>`; headless Chromium resolves
//! `hub.test` and every `*.hub.test` to the loopback interface, signs alice
//! and bob in at the hub's host and runs code in JupyterLab on
//! `http://<user>.hub.test:<port>/user/<user>/` (real jupyterhub-singleuser,
//! OAuth across the two hosts, the kernel's websocket on the user's host),
//! then checks where its cookie store keeps and sends each cookie, and that
//! alice opening bob's host gets no access to bob's server.

mod support;

use serde_json::{Value, json};
use support::TestHub;
use support::certs::curl;

fn names(cookies: &Value) -> Vec<String> {
    cookies
        .as_array()
        .unwrap_or_else(|| panic!("not a cookie list: {cookies}"))
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn users_servers_run_on_their_own_hosts_in_chromium() {
    let port = support::free_port();
    let hub_origin = format!("http://hub.test:{port}");
    let hub = TestHub::start_on(
        Some(port),
        "dummy",
        "simple",
        &[
            (
                "JupyterHub",
                &format!(
                    "subdomain_host = \"http://hub.test:{port}\"\n\
                     services = [{{ name = \"announce\", url = \"http://127.0.0.1:9\" }}]\n"
                ),
            ),
            ("Authenticator", "admin_users = [\"root\"]"),
        ],
        &[],
    );
    let server_url = |user: &str| format!("http://{user}.hub.test:{port}/user/{user}/");
    let browse = |user: &str, other: Option<String>| {
        json!({
            "url": hub_origin,
            "serverUrl": server_url(user),
            "user": user,
            "password": "pw",
            "otherServer": other,
            "chromiumArgs": ["--host-resolver-rules=MAP *.hub.test 127.0.0.1, MAP hub.test 127.0.0.1"],
            "allowedOrigins": [format!("http://alice.hub.test:{port}"), format!("http://bob.hub.test:{port}")],
        })
    };

    // bob first, so his server runs when alice tries it.
    let bob = support::chromium::run("lab_subdomains.mjs", browse("bob", None)).await;
    assert_eq!(bob["output"], "42 bob");
    let seen = support::chromium::run(
        "lab_subdomains.mjs",
        browse("alice", Some(format!("{}lab", server_url("bob")))),
    )
    .await;

    // Signed in at the hub's host, JupyterLab and its kernel on alice's.
    assert_eq!(seen["loginOrigin"], hub_origin);
    assert!(
        seen["labUrl"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}lab", server_url("alice"))),
        "{seen}"
    );
    assert_eq!(seen["labTitle"], "JupyterLab");
    assert_eq!(seen["output"], "42 alice");
    let channels = format!("ws://alice.hub.test:{port}/user/alice/api/kernels/");
    assert!(
        seen["websockets"].as_array().unwrap().iter().any(|ws| {
            ws["url"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&channels)
                && ws["received"].as_u64() > Some(2)
                && ws.get("error").is_none()
        }),
        "no working kernel websocket on {channels}: {}",
        seen["websockets"]
    );

    // Where Chromium keeps each cookie: the hub's login cookie on the hub's
    // host only, alice's server cookie on alice's host only (no Domain, so
    // not on any other subdomain), the session id on the hub's domain (as
    // upstream, so servers can read it).
    let cookies = seen["cookies"].as_array().unwrap();
    let domain_of = |name: &str| {
        cookies
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no cookie {name}: {cookies:?}"))["domain"]
            .clone()
    };
    assert_eq!(domain_of("jupyterhub-hub-login"), "hub.test");
    assert_eq!(domain_of("jupyterhub-user-alice"), "alice.hub.test");
    assert_eq!(domain_of("jupyterhub-session-id"), ".hub.test");
    assert!(names(&seen["sentToHub"]).contains(&"jupyterhub-hub-login".to_owned()));
    let own = names(&seen["sentToOwnServer"]);
    assert!(own.contains(&"jupyterhub-user-alice".to_owned()), "{own:?}");
    assert!(!own.contains(&"jupyterhub-hub-login".to_owned()), "{own:?}");
    // Nothing of alice's server, nor her hub login, is sent to bob's host.
    let to_bob = &seen["sentToOtherServer"];
    assert_eq!(names(to_bob), ["jupyterhub-session-id"], "{to_bob}");

    // Opening bob's server as alice: bob's server sends her to the hub's
    // OAuth, which refuses her (403), as upstream.
    assert_eq!(seen["otherStatus"], 403, "{seen}");
    let refusal = seen["otherPageText"].as_str().unwrap();
    assert!(
        refusal.contains("alice is not allowed to access") && !refusal.starts_with('{'),
        "not the hub's error page: {refusal}"
    );
    let landed = seen["otherLandedOn"].as_str().unwrap();
    assert!(
        landed.starts_with(&format!("{hub_origin}/hub/api/oauth2/authorize")),
        "{landed}"
    );

    // A server that is not running, asked for on its user's host: the hub
    // (the proxy's default route) sends the browser to the hub's own host,
    // where its login cookie is.
    let carol = format!("carol.hub.test:{port}:127.0.0.1");
    let (ok, location, err) = curl(&[
        "--resolve",
        &carol,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        &format!("{}lab?x=1", server_url("carol")),
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        location,
        format!("302 {hub_origin}/hub/user/carol/lab?x=1"),
        "not sent back to the hub's host"
    );

    // The proxy routes by host: one route per user's (and service's) host,
    // the hub on `/` for every host.
    let routes = hub.routes().await;
    let keys: Vec<&String> = routes.as_object().unwrap().keys().collect();
    for key in [
        "/",
        "/alice.hub.test/user/alice",
        "/bob.hub.test/user/bob",
        "/announce--service.hub.test/services/announce",
    ] {
        assert!(
            keys.iter().any(|k| k.as_str() == key),
            "no route {key}: {keys:?}"
        );
    }
    let pid = hub.proxy_pid().expect("proxy pid file");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        cmdline.split(|b| *b == 0).any(|a| a == b"--host-routing"),
        "the proxy was started without --host-routing"
    );
    // The REST API gives her server's URL on her host, as upstream.
    let api = support::api::Api::new(&hub);
    // ... and the routing table with upstream's host routespecs (no leading `/`).
    let (status, table) = api
        .get(&support::api::token_for(&hub, "root"), "/proxy")
        .await;
    assert_eq!(status, 200, "{table}");
    let alice_route = "alice.hub.test/user/alice/";
    assert_eq!(table[alice_route]["routespec"], alice_route, "{table}");
    assert!(table.get("/").is_some(), "the hub's route: {table}");
    let (status, model) = api
        .get(&support::api::token_for(&hub, "alice"), "/users/alice")
        .await;
    assert_eq!(status, 200, "{model}");
    assert_eq!(model["server"], server_url("alice"), "{model}");
    assert_eq!(model["servers"][""]["url"], server_url("alice"), "{model}");
    assert_eq!(
        model["servers"][""]["full_url"],
        server_url("alice"),
        "{model}"
    );

    // alice's server learnt where the hub is and where it lives itself.
    let server = *hub.server_pids("alice").first().expect("alice's server");
    assert_eq!(
        TestHub::process_env(server, "JUPYTERHUB_HOST").as_deref(),
        Some(hub_origin.as_str())
    );
    assert_eq!(
        TestHub::process_env(server, "JUPYTERHUB_OAUTH_CALLBACK_URL"),
        Some(format!("{}oauth_callback", server_url("alice")))
    );
}

//! A managed service as an OAuth client, as JupyterHub's own service helpers
//! use it: routed by the proxy at `/services/<name>/`, a confirmation page
//! before a user's identity is handed over, and access only with
//! `access:services`.

mod support;

use serde_json::Value;
use support::TestHub;
use support::browser::Browser;

#[tokio::test(flavor = "multi_thread")]
async fn a_service_logs_users_in_through_the_hub() {
    let python = support::venv().join("bin/python");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/whoami_service.py");
    let port = support::free_port();
    let config = format!(
        r#"services = [{{ name = "whoami", url = "http://127.0.0.1:{port}", command = ["{python}", "{script}"] }}]
load_roles = [{{ name = "user", scopes = ["self"] }}, {{ name = "whoami-users", scopes = ["access:services!service=whoami"], users = ["alice"] }}]"#,
        python = python.display(),
        script = script.display(),
    );
    let hub = TestHub::start(&[("JupyterHub", &config)]);
    let alice = Browser::new(&hub.public_url());
    let bob = Browser::new(&hub.public_url());
    assert_eq!(alice.login("alice", "pw", None).await.status(), 302);
    assert_eq!(bob.login("bob", "pw", None).await.status(), 302);
    let service = format!("{}/services/whoami/", hub.public_url());

    // The proxy routes the service's prefix once it is up; the service sends
    // alice to the hub, which asks her to confirm before identifying her.
    support::eventually(30, "the service to be routed", || async {
        let response = alice.single.get(&service).send().await.ok()?;
        (response.status() == 302).then_some(())
    })
    .await;
    let confirmed = alice.get_confirming_oauth(&service, "only you").await;
    assert_eq!(confirmed.url().path(), "/services/whoami/");
    let me: Value = confirmed.json().await.unwrap();
    assert_eq!(me["name"], "alice", "{me}");
    assert_eq!(me["kind"], "user");

    // Once authorized, no second confirmation.
    let again = alice.follow.get(&service).send().await.unwrap();
    assert_eq!(again.url().path(), "/services/whoami/");

    // Bob lacks access:services for it: the hub refuses to identify him to it.
    let refused = bob.follow.get(&service).send().await.unwrap();
    assert_eq!(refused.status(), 403, "{}", refused.url());
    assert!(
        refused
            .url()
            .path()
            .starts_with("/hub/api/oauth2/authorize")
    );
}

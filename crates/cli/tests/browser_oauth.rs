//! Signing in through OpenID Connect in a real browser (headless Chromium)
//! against the real hub, its proxy, a real `jupyterhub-singleuser` and a
//! real OpenID Connect provider (npm `oidc-provider`): the login page's
//! "Sign in with" button, the provider's login and consent, JupyterLab;
//! then the error pages of failed redirect logins (an error from the
//! provider, a callback with no state of this browser, a user outside
//! `allowed_groups`), each audited (axe-core, light and dark, desktop and
//! phone). Script: `tests/browser/oauth_login_lab.mjs`.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use serde_json::{Value, json};
use support::oidc::{CLIENT_ID, CLIENT_SECRET, OidcOptions, OidcProvider};
use support::{TestHub, free_port};

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_with_the_provider_lands_in_jupyterlab_and_failures_get_clear_pages() {
    let port = free_port();
    let provider = OidcProvider::start_with(&OidcOptions {
        redirect_uris: vec![format!("http://127.0.0.1:{port}/hub/oauth_callback")],
        ..OidcOptions::default()
    });
    let oauth = format!(
        r#"client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
oidc_issuer = "{issuer}"
login_service = "Example ID"
scope = ["openid", "profile", "email"]
username_claim = "preferred_username"
allowed_groups = ["staff"]"#,
        issuer = provider.issuer
    );
    let hub = TestHub::start_on(
        Some(port),
        "generic-oauth",
        "simple",
        &[
            ("GenericOAuthenticator", &oauth),
            ("Authenticator", "manage_groups = true"),
        ],
        &[],
    );
    let seen = support::chromium::run(
        "oauth_login_lab.mjs",
        json!({
            "url": hub.public_url(),
            "issuer": provider.issuer,
            "allowedOrigins": [provider.issuer],
            "user": "alice",
            "refusedUser": "bob",
        }),
    )
    .await;

    assert_eq!(seen["loginPath"], "/hub/login", "{seen}");
    assert_eq!(seen["button"], "Sign in with Example ID");
    assert_eq!(seen["passwordFields"], 0, "no password form");
    assert_eq!(seen["labPath"], "/user/alice/lab", "{}", hub.log());
    assert!(text(&seen["labTitle"]).contains("JupyterLab"), "{seen}");

    let provider_error = &seen["providerError"];
    assert_eq!(provider_error["status"], 400, "{provider_error}");
    assert_eq!(provider_error["heading"], "400: Bad Request");
    assert!(
        text(&provider_error["text"]).contains("OAuth error: The user cancelled the sign-in"),
        "{provider_error}"
    );
    let state_error = &seen["stateError"];
    assert_eq!(state_error["status"], 400, "{state_error}");
    assert!(
        text(&state_error["text"]).contains("OAuth state missing from cookies"),
        "{state_error}"
    );
    let refused = &seen["refused"];
    assert_eq!(refused["heading"], "403: Forbidden", "{refused}");
    assert!(
        text(&refused["text"]).contains("not currently authorized to use this hub"),
        "{refused}"
    );
    let audited: Vec<&str> = seen["audits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| text(&a["name"]))
        .collect();
    assert_eq!(
        audited,
        [
            "oauth-login",
            "oauth-error-provider",
            "oauth-error-state",
            "oauth-refused"
        ]
    );
}

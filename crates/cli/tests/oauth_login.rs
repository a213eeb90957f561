//! OAuth2 / OpenID Connect logins over HTTP, end to end: the real ferrohub
//! binary and ferrohub-proxy against a real OpenID Connect provider (npm
//! `oidc-provider`, tests/idp/oidc_provider.mjs), one per test, whose
//! client is registered with the hub's `/hub/oauth_callback`. The client is
//! reqwest without redirect following, so every hop is checked.
//!
//! Shown here: the login page's "Sign in with" button; a login through the
//! provider with `next`; `admin_groups` making alice an admin and
//! `manage_groups` putting her in group staff; `allowed_groups` refusing
//! bob with a clear page; a forged `state`, a missing state cookie, a
//! replayed code, an error from the provider, and ID tokens with a wrong
//! audience, an expired one and a forged signature each refused with a
//! clear page and no login; logout going to `logout_redirect_url`; an
//! expired access token refreshed before a spawn (the server's environment
//! gets the new token, through `Spawner.auth_state_env`, and no token or
//! secret reaches the log) while one that cannot be refreshed refuses the
//! spawn; `auto_login` and `auto_login_oauth2_authorize` going straight to
//! the provider; and each preset
//! (GitHub, GitLab, Google, Azure AD) logging in against the same provider
//! with its URLs overridden.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::time::Duration;

use reqwest::Method;
use support::api::Api;
use support::oidc::{self, CLIENT_ID, CLIENT_SECRET, OidcOptions, OidcProvider, Tamper};
use support::{TestHub, free_port};

/// The API token of a service allowed to read users (with `auth_state`)
/// and groups and to start servers, for checks. A service, not an admin
/// user: with `enable_auth_state`, a user without `auth_state` (one made
/// from configuration) fails the refresh check on every request, tokens
/// included, as upstream.
const ADMIN_TOKEN: &str = "oauth-login-test-checker-0123456789";

/// The `[JupyterHub]` lines that register that service.
fn checker_service() -> String {
    format!(
        r#"services = [{{ name = "checker", api_token = "{ADMIN_TOKEN}" }}]
load_roles = [{{ name = "checker", scopes = ["admin:users", "admin:auth_state", "admin:groups", "admin:servers"], services = ["checker"] }}]"#
    )
}
/// Where logout sends the browser in these tests (nothing listens there).
const SIGNED_OUT: &str = "http://127.0.0.1:9/signed-out";

/// A provider and a hub whose OAuth client it knows.
struct Setup {
    provider: OidcProvider,
    hub: TestHub,
}

impl Setup {
    /// Starts a provider for a hub on a fresh port, then the hub with
    /// `authenticator_class = class` and `sections` (`{issuer}` in a body
    /// is replaced by the provider's URL, `{callback}` by the hub's
    /// callback URL).
    fn start(
        class: &str,
        sections: &[(&str, &str)],
        ttl: Option<u64>,
        env: &[(&str, &str)],
    ) -> Self {
        let port = free_port();
        let callback = format!("http://127.0.0.1:{port}/hub/oauth_callback");
        let provider = OidcProvider::start_with(&OidcOptions {
            redirect_uris: vec![callback.clone()],
            access_token_ttl_secs: ttl,
        });
        let bodies: Vec<(String, String)> = sections
            .iter()
            .map(|(name, body)| {
                (
                    (*name).to_owned(),
                    body.replace("{issuer}", &provider.issuer)
                        .replace("{callback}", &callback),
                )
            })
            .collect();
        let sections: Vec<(&str, &str)> = bodies
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_str()))
            .collect();
        let mut sections: Vec<(&str, &str)> = sections;
        let tokens = checker_service();
        sections.push(("JupyterHub", &tokens));
        let hub = TestHub::start_on(Some(port), class, "simple", &sections, env);
        Self { provider, hub }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.hub.public_url())
    }
}

/// The `[GenericOAuthenticator]` body most tests use: discovery from the
/// issuer, the OIDC scopes, groups from the userinfo's `groups` claim.
fn generic(extra: &str) -> String {
    format!(
        r#"client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
oidc_issuer = "{{issuer}}"
scope = ["openid", "profile", "email"]
username_claim = "preferred_username"
logout_redirect_url = "{SIGNED_OUT}"
{extra}"#
    )
}

const AUTHENTICATOR: &str = r#"admin_users = ["hubadmin"]
manage_groups = true"#;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location in a {} answer", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The value a `Set-Cookie` of `response` gives cookie `name` (`""` when
/// it clears it), if it sets it at all.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        })
}

/// Begins a login at `/hub/oauth_login` (with `next`), signs in at the
/// provider as `user`, and returns the callback URL the provider sent the
/// browser to (not yet fetched) and the state cookie the hub set.
async fn to_callback(
    s: &Setup,
    client: &reqwest::Client,
    user: &str,
    next: &str,
) -> (String, String) {
    let start = client
        .get(s.url(&format!(
            "/hub/oauth_login?next={}",
            support::browser::urlencode(next)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302, "{}", s.hub.log());
    let authorize = location(&start);
    assert!(
        authorize.starts_with(&format!("{}/auth?", s.provider.issuer)),
        "{authorize}"
    );
    for part in [
        "code_challenge_method=S256",
        "code_challenge=",
        "nonce=",
        "response_type=code",
    ] {
        assert!(authorize.contains(part), "{part} missing from {authorize}");
    }
    let state_cookie = set_cookie(&start, "oauthenticator-state").expect("a state cookie");
    let cookie_line = start
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("oauthenticator-state="))
        .unwrap();
    assert!(cookie_line.contains("HttpOnly"), "{cookie_line}");
    let callback = oidc::login(client, &authorize, user).await;
    assert!(
        callback.starts_with(&s.url("/hub/oauth_callback?")),
        "{callback}; provider log: {}",
        s.provider.log()
    );
    (callback, state_cookie)
}

/// The whole login as `user`; the callback's answer.
async fn log_in(s: &Setup, client: &reqwest::Client, user: &str, next: &str) -> reqwest::Response {
    let (callback, _) = to_callback(s, client, user, next).await;
    client.get(&callback).send().await.unwrap()
}

/// Checks a refusal page: status, HTML with `text`, no login cookie, and
/// no internals (tokens, stack traces) in it.
async fn refused(response: reqwest::Response, status: u16, text: &str) {
    assert_eq!(response.status(), status);
    assert!(set_cookie(&response, "jupyterhub-hub-login").is_none());
    let page = response.text().await.unwrap();
    assert!(page.contains(text), "{text:?} not in {page}");
    assert!(page.contains("<html"), "not a page: {page}");
    for secret in [CLIENT_SECRET, "eyJ", "access_token", "panicked"] {
        assert!(!page.contains(secret), "{secret:?} leaked into {page}");
    }
}

#[tokio::test]
async fn oidc_login_admin_and_groups_from_claims_and_refusals() {
    let s = Setup::start(
        "generic-oauth",
        &[
            (
                "GenericOAuthenticator",
                &generic(
                    r#"admin_groups = ["staff"]
allowed_groups = ["staff"]"#,
                ),
            ),
            ("Authenticator", AUTHENTICATOR),
        ],
        None,
        &[],
    );
    let http = client();

    // The login page offers the provider instead of a password form.
    let page = http.get(s.url("/hub/login")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Sign in with OAuth 2.0"), "{page}");
    assert!(
        page.contains(r#"id="service_login" href="&#x2f;hub&#x2f;oauth_login"#),
        "{page}"
    );
    assert!(!page.contains("password"), "{page}");

    // alice (group staff) logs in and lands where she asked to go.
    let done = log_in(&s, &http, "alice", "/hub/token").await;
    assert_eq!(done.status(), 302, "{}", s.hub.log());
    assert_eq!(location(&done), "/hub/token");
    assert!(set_cookie(&done, "jupyterhub-hub-login").is_some_and(|v| !v.is_empty()));
    assert_eq!(
        set_cookie(&done, "oauthenticator-state").as_deref(),
        Some(""),
        "the state cookie is single-use"
    );
    let home = http.get(s.url("/hub/home")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("alice"));

    // admin_groups made her an admin, manage_groups put her in staff.
    let api = Api::new(&s.hub);
    let admin_token = ADMIN_TOKEN;
    let (status, alice) = api.get(admin_token, "/users/alice").await;
    assert_eq!(status, 200, "{alice}");
    assert_eq!(alice["admin"], true, "{alice}");
    assert_eq!(alice["groups"], serde_json::json!(["staff"]), "{alice}");
    let (_, group) = api.get(admin_token, "/groups/staff").await;
    assert_eq!(group["users"], serde_json::json!(["alice"]), "{group}");

    // bob (group students) is not in allowed_groups: a clear 403 page, no user.
    let other = client();
    let bob = log_in(&s, &other, "bob", "/hub/home").await;
    refused(bob, 403, "not currently authorized to use this hub").await;
    let (status, _) = api.get(admin_token, "/users/bob").await;
    assert_eq!(status, 404);

    // Logout goes to logout_redirect_url.
    let out = http.get(s.url("/hub/logout")).send().await.unwrap();
    assert_eq!(out.status(), 302);
    assert_eq!(location(&out), SIGNED_OUT);
    let home = http.get(s.url("/hub/home")).send().await.unwrap();
    assert_eq!(home.status(), 302, "logged out");
}

#[tokio::test]
async fn forged_state_replayed_code_and_provider_errors_are_refused() {
    let s = Setup::start(
        "generic-oauth",
        &[
            ("GenericOAuthenticator", &generic("allow_all = true")),
            ("Authenticator", AUTHENTICATOR),
        ],
        None,
        &[],
    );

    // A forged state: the provider's redirect with another state id.
    let http = client();
    let (callback, _) = to_callback(&s, &http, "alice", "/hub/home").await;
    let forged_state = base64_url(br#"{"state_id": "0123456789abcdef"}"#);
    let forged = replace_param(&callback, "state", &forged_state);
    refused(
        http.get(&forged).send().await.unwrap(),
        400,
        "OAuth state mismatch",
    )
    .await;

    // No state cookie at all (another browser, or cookies blocked).
    let (callback, state_cookie) = to_callback(&s, &client(), "alice", "/hub/home").await;
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    refused(
        bare.get(&callback).send().await.unwrap(),
        400,
        "OAuth state missing from cookies",
    )
    .await;
    // A cookie not signed by this hub is no state either.
    let unsigned = bare
        .get(&callback)
        .header(
            "cookie",
            format!(
                "oauthenticator-state={}",
                base64_url(br#"{"state_id":"x"}"#)
            ),
        )
        .send()
        .await
        .unwrap();
    refused(unsigned, 400, "OAuth state missing from cookies").await;

    // With the right cookie the code works once...
    let with_cookie = |url: &str| {
        bare.get(url)
            .header("cookie", format!("oauthenticator-state={state_cookie}"))
            .send()
    };
    let first = with_cookie(&callback).await.unwrap();
    assert_eq!(first.status(), 302, "{}", s.hub.log());
    assert!(set_cookie(&first, "jupyterhub-hub-login").is_some());
    // ...and replaying it (cookie and all) is refused by the provider.
    let replay = with_cookie(&callback).await.unwrap();
    refused(replay, 403, "did not accept this sign-in").await;
    let log = s.hub.log();
    assert!(log.contains("invalid_grant"), "{log}");

    // The provider reporting an error (the user cancelled) instead of a code.
    let cancelled = client()
        .get(s.url(
            "/hub/oauth_callback?error=access_denied&error_description=End-User+aborted+interaction&state=x",
        ))
        .send()
        .await
        .unwrap();
    refused(cancelled, 400, "OAuth error: End-User aborted interaction").await;
    // No code: refused before anything else is looked at.
    let no_code = client()
        .get(s.url("/hub/oauth_callback?state=x"))
        .send()
        .await
        .unwrap();
    refused(no_code, 400, "OAuth callback made without a code").await;
}

#[tokio::test]
async fn id_tokens_with_a_wrong_audience_expiry_or_signature_are_refused() {
    let s = Setup::start(
        "generic-oauth",
        &[
            (
                "GenericOAuthenticator",
                // The callback URL configured rather than derived.
                &generic("allow_all = true\noauth_callback_url = \"{callback}\""),
            ),
            ("Authenticator", AUTHENTICATOR),
        ],
        None,
        &[],
    );
    for (how, logged) in [
        (Tamper::WrongAudience, "InvalidAudience"),
        (Tamper::ExpiredIdToken, "ExpiredSignature"),
        (Tamper::BadSignature, "InvalidSignature"),
    ] {
        s.provider.tamper(how).await;
        let answer = log_in(&s, &client(), "alice", "/hub/home").await;
        refused(answer, 403, "answer failed the hub").await;
        let log = s.hub.log();
        assert!(
            log.contains(logged),
            "{how:?}: {logged} not in the log:\n{log}"
        );
    }
    // A genuine token again: the same user gets in.
    s.provider.tamper(Tamper::None).await;
    let answer = log_in(&s, &client(), "alice", "/hub/home").await;
    assert_eq!(answer.status(), 302, "{}", s.hub.log());
    assert!(set_cookie(&answer, "jupyterhub-hub-login").is_some());
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_before_a_spawn() {
    let key = "3333333333333333333333333333333333333333333333333333333333333333";
    let s = Setup::start(
        "generic-oauth",
        &[
            (
                "GenericOAuthenticator",
                &generic("allow_all = true\nenable_auth_state = true"),
            ),
            ("Authenticator", AUTHENTICATOR),
            (
                "Spawner",
                r#"auth_state_env = { OAUTH_ACCESS_TOKEN = "access_token" }"#,
            ),
        ],
        Some(4),
        &[("JUPYTERHUB_CRYPT_KEY", key)],
    );
    let http = client();
    let done = log_in(&s, &http, "alice", "/hub/home").await;
    assert_eq!(done.status(), 302, "{}", s.hub.log());
    let api = Api::new(&s.hub);
    let admin_token = ADMIN_TOKEN;
    let (_, alice) = api.get(admin_token, "/users/alice").await;
    let first = alice["auth_state"]["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token in {alice}"))
        .to_owned();
    assert!(alice["auth_state"]["refresh_token"].is_string(), "{alice}");
    assert_eq!(
        alice["auth_state"]["oauth_user"]["preferred_username"],
        "alice"
    );

    // The access token lives 4 s; refresh_pre_spawn (on by default with
    // auth_state) renews it before the server starts.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let start = api
        .call(admin_token, Method::POST, "/users/alice/server")
        .send()
        .await
        .unwrap();
    assert!(
        [201, 202].contains(&start.status().as_u16()),
        "{} {}",
        start.status(),
        s.hub.log()
    );
    let pid = support::eventually(120, "alice's server", || async {
        s.hub.server_pids("alice").first().copied()
    })
    .await;
    let in_server = TestHub::process_env(pid, "OAUTH_ACCESS_TOKEN").expect("token in env");
    let (_, alice) = api.get(admin_token, "/users/alice").await;
    let stored = alice["auth_state"]["access_token"].as_str().unwrap();
    assert_ne!(in_server, first, "the server got the expired token");
    assert_eq!(in_server, stored, "the server got the refreshed token");
    let log = s.hub.log();
    assert!(log.contains("access token refreshed"), "{log}");
    for secret in [first.as_str(), stored, CLIENT_SECRET] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
    api.call(admin_token, Method::DELETE, "/users/alice/server")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_access_token_that_cannot_be_refreshed_stops_the_spawn() {
    let key = "4444444444444444444444444444444444444444444444444444444444444444";
    let s = Setup::start(
        "generic-oauth",
        &[
            (
                "GenericOAuthenticator",
                &generic("allow_all = true\nenable_auth_state = true"),
            ),
            ("Authenticator", AUTHENTICATOR),
        ],
        Some(2),
        &[("JUPYTERHUB_CRYPT_KEY", key)],
    );
    let http = client();
    let done = log_in(&s, &http, "alice", "/hub/home").await;
    assert_eq!(done.status(), 302, "{}", s.hub.log());
    // The access token expires and the provider is gone: no refresh.
    let Setup { provider, hub } = s;
    drop(provider);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let api = Api::new(&hub);
    let start = api
        .call(ADMIN_TOKEN, Method::POST, "/users/alice/server")
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 403, "{}", hub.log());
    let body: serde_json::Value = start.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("auth has expired for alice, login again"),
        "{body}"
    );
    assert!(hub.server_pids("alice").is_empty());
}

#[tokio::test]
async fn presets_log_in_against_the_provider_with_urls_overridden() {
    // (class, section, own options, the user name alice gets)
    let presets = [
        // Client credentials in an HTTP Basic header instead of the form.
        (
            "github",
            "GitHubOAuthenticator",
            "basic_auth = true",
            "GitHub",
            "alice",
        ),
        // Client credentials from $OAUTH_CLIENT_ID / $OAUTH_CLIENT_SECRET.
        ("gitlab", "GitLabOAuthenticator", "", "GitLab", "alice"),
        (
            "google",
            "GoogleOAuthenticator",
            "",
            "Google",
            "alice@example.org",
        ),
        (
            "azuread",
            "AzureAdOAuthenticator",
            // The fixture's ID tokens carry no profile claims (OIDC's
            // default): the name comes from `sub`; the keys from discovery.
            "tenant_id = \"t1\"\nusername_claim = \"sub\"\noidc_issuer = \"{issuer}\"",
            "Azure AD",
            "alice",
        ),
    ];
    for (class, section, own, service, name) in presets {
        let from_env = class == "gitlab";
        let credentials = if from_env {
            String::new()
        } else {
            format!("client_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"")
        };
        let env: &[(&str, &str)] = if from_env {
            &[
                ("OAUTH_CLIENT_ID", CLIENT_ID),
                ("OAUTH_CLIENT_SECRET", CLIENT_SECRET),
            ]
        } else {
            &[]
        };
        let body = format!(
            r#"{credentials}
authorize_url = "{{issuer}}/auth"
token_url = "{{issuer}}/token"
{userdata}
scope = ["openid", "profile", "email"]
allow_all = true
{own}"#,
            userdata = if class == "azuread" {
                ""
            } else {
                r#"userdata_url = "{issuer}/me""#
            },
        );
        let s = Setup::start(
            class,
            &[(section, &body), ("Authenticator", AUTHENTICATOR)],
            None,
            env,
        );
        let http = client();
        let page = http.get(s.url("/hub/login")).send().await.unwrap();
        let page = page.text().await.unwrap();
        assert!(
            page.contains(&format!("Sign in with {service}")),
            "{class}: {page}"
        );
        let done = log_in(&s, &http, "alice", "/hub/home").await;
        assert_eq!(done.status(), 302, "{class}: {}", s.hub.log());
        assert_eq!(location(&done), "/hub/home", "{class}");
        let api = Api::new(&s.hub);
        let (status, user) = api.get(ADMIN_TOKEN, &format!("/users/{name}")).await;
        assert_eq!(status, 200, "{class}: {user} {}", s.hub.log());
    }
}

#[tokio::test]
async fn auto_login_and_auto_login_oauth2_authorize_go_straight_to_the_provider() {
    let s = Setup::start(
        "generic-oauth",
        &[
            (
                "GenericOAuthenticator",
                &generic("allow_all = true\nauto_login = true\nauto_login_oauth2_authorize = true"),
            ),
            ("Authenticator", AUTHENTICATOR),
        ],
        None,
        &[],
    );
    let http = client();
    // auto_login: the login page is skipped, `next` kept.
    let login = http
        .get(s.url("/hub/login?next=%2Fhub%2Ftoken"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 302);
    assert_eq!(location(&login), "/hub/oauth_login?next=%2Fhub%2Ftoken");

    // An application using the hub as its OAuth provider sends a signed-out
    // browser to /hub/api/oauth2/authorize: straight to oauth_login, and
    // back to the authorization after the provider.
    let authorize = "/hub/api/oauth2/authorize?client_id=service-app&response_type=code&state=s1";
    let answer = http.get(s.url(authorize)).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let to_login = location(&answer);
    assert!(
        to_login.starts_with("/hub/oauth_login?next=%2Fhub%2Fapi%2Foauth2%2Fauthorize%3F"),
        "{to_login}"
    );
    let start = http.get(s.url(&to_login)).send().await.unwrap();
    let callback = oidc::login(&http, &location(&start), "alice").await;
    let done = http.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), 302, "{}", s.hub.log());
    assert_eq!(location(&done), authorize);
}

#[tokio::test]
async fn the_oauth_routes_exist_only_for_a_redirect_login() {
    let hub = TestHub::start(&[]);
    for path in ["/hub/oauth_login", "/hub/oauth_callback?code=x&state=y"] {
        let status = reqwest::get(format!("{}{path}", hub.public_url()))
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404, "{path}");
    }
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// `url` with query parameter `name` set to `value` (encoded).
fn replace_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.into()
}

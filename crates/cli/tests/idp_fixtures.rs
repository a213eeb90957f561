//! The identity-provider fixtures in `support::oidc` and `support::ldap`
//! work with real clients: a real oidc-provider (discovery, the whole
//! authorization-code flow, `/token`, `/me`) and a private real slapd
//! (`ldapwhoami` binds, plain and with StartTLS). The OAuth/OIDC and LDAP
//! authenticator tests build on these fixtures.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::process::{Command, Output};

use serde_json::Value;
use support::{ldap, oidc};

fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The query parameter `name` of `url` (the values here need no decoding).
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}

#[tokio::test]
async fn oidc_discovery_document_names_the_endpoints() {
    let provider = oidc::shared();
    let doc: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        provider.issuer
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(doc["issuer"], provider.issuer.as_str());
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{}/auth", provider.issuer)
    );
    assert_eq!(doc["token_endpoint"], format!("{}/token", provider.issuer));
    assert_eq!(doc["userinfo_endpoint"], format!("{}/me", provider.issuer));
    let claims = doc["claims_supported"].as_array().unwrap();
    for claim in ["preferred_username", "email", "groups"] {
        assert!(claims.iter().any(|c| c == claim), "{claim} missing: {doc}");
    }
}

/// Runs the code flow for `user` and returns `/token`'s answer and `/me`'s.
async fn code_flow(provider: &oidc::OidcProvider, user: &str) -> (Value, Value) {
    let redirect_uri = oidc::SHARED_REDIRECT_URI;
    let browser = no_redirect_client();
    let callback = oidc::login(
        &browser,
        &provider.authorize_url(redirect_uri, "st4te"),
        user,
    )
    .await;
    assert!(
        callback.starts_with(&format!("{redirect_uri}?")),
        "{callback}"
    );
    assert_eq!(query_param(&callback, "state").as_deref(), Some("st4te"));
    let code = query_param(&callback, "code").unwrap_or_else(|| panic!("no code: {callback}"));

    // The hub's side: a plain client (no cookies), authenticated with the secret.
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/token", provider.issuer))
        .basic_auth(oidc::CLIENT_ID, Some(oidc::CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect_uri),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}: {}",
        response.status(),
        provider.log()
    );
    let tokens: Value = response.json().await.unwrap();
    let me: Value = http
        .get(format!("{}/me", provider.issuer))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (tokens, me)
}

#[tokio::test]
async fn oidc_code_flow_gives_tokens_and_userinfo_with_groups() {
    let provider = oidc::shared();
    let (tokens, me) = code_flow(provider, "alice").await;
    assert_eq!(tokens["token_type"], "Bearer", "{tokens}");
    assert!(tokens["id_token"].is_string(), "{tokens}");
    assert_eq!(me["sub"], "alice", "{me}");
    assert_eq!(me["preferred_username"], "alice", "{me}");
    assert_eq!(me["email"], "alice@example.org", "{me}");
    assert_eq!(me["groups"], serde_json::json!(["staff"]), "{me}");

    let (_, me) = code_flow(provider, "bob").await;
    assert_eq!(me["groups"], serde_json::json!(["students"]), "{me}");
}

#[tokio::test]
async fn oidc_token_endpoint_refuses_a_wrong_secret_and_a_reused_code() {
    let provider = oidc::shared();
    let browser = no_redirect_client();
    let url = provider.authorize_url(oidc::SHARED_REDIRECT_URI, "x");
    let callback = oidc::login(&browser, &url, "alice").await;
    let code = query_param(&callback, "code").unwrap();
    let exchange = |secret: &'static str| {
        reqwest::Client::new()
            .post(format!("{}/token", provider.issuer))
            .basic_auth(oidc::CLIENT_ID, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", oidc::SHARED_REDIRECT_URI),
            ])
            .send()
    };
    assert_eq!(exchange("wrong-secret").await.unwrap().status(), 401);
    assert!(
        exchange(oidc::CLIENT_SECRET)
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert_eq!(exchange(oidc::CLIENT_SECRET).await.unwrap().status(), 400);
}

#[test]
fn oidc_provider_is_killed_on_drop() {
    let provider = oidc::OidcProvider::start(&["http://127.0.0.1:9/cb"]);
    let pid = provider.pid();
    let proc_dir = format!("/proc/{pid}");
    assert!(std::path::Path::new(&proc_dir).exists());
    drop(provider);
    assert!(
        !std::path::Path::new(&proc_dir).exists(),
        "node {pid} still runs"
    );
}

fn ldapwhoami(server: &ldap::Slapd, dn: &str, password: &str, start_tls: bool) -> Output {
    let mut command = Command::new("ldapwhoami");
    command
        .args(["-x", "-H", &server.url, "-D", dn, "-w", password])
        .env("LDAPTLS_CACERT", &server.ca_cert)
        .env("LDAPTLS_REQCERT", "demand");
    if start_tls {
        command.arg("-ZZ");
    }
    command
        .output()
        .expect("run ldapwhoami (ldap-utils; scripts/setup.sh)")
}

#[test]
fn ldap_binds_with_the_right_password_only() {
    let server = ldap::shared();
    for (uid, password, _) in ldap::USERS {
        let out = ldapwhoami(server, &ldap::user_dn(uid), password, false);
        assert!(
            out.status.success(),
            "{uid}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("dn:{}", ldap::user_dn(uid))
        );
    }
    let out = ldapwhoami(server, &ldap::user_dn("alice"), "bobpw", false);
    assert_eq!(out.status.code(), Some(49), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid credentials"));
    let out = ldapwhoami(server, &ldap::user_dn("nobody"), "x", false);
    assert_eq!(out.status.code(), Some(49), "{out:?}");
}

#[test]
fn ldap_start_tls_with_the_generated_certificate() {
    let server = ldap::shared();
    let out = ldapwhoami(server, &ldap::user_dn("alice"), "alicepw", true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A client that does not trust the certificate must refuse it.
    let out = Command::new("ldapwhoami")
        .args([
            "-x",
            "-ZZ",
            "-H",
            &server.url,
            "-D",
            &ldap::user_dn("alice"),
            "-w",
            "alicepw",
        ])
        .env("LDAPTLS_CACERT", "/dev/null")
        .env("LDAPTLS_REQCERT", "demand")
        .output()
        .unwrap();
    assert!(!out.status.success(), "untrusted certificate accepted");
}

#[test]
fn ldap_groups_and_admin_search() {
    let server = ldap::shared();
    let out = Command::new("ldapsearch")
        .args([
            "-x",
            "-LLL",
            "-H",
            &server.url,
            "-D",
            ldap::ADMIN_DN,
            "-w",
            ldap::ADMIN_PASSWORD,
        ])
        .args([
            "-b",
            &format!("ou=groups,{}", ldap::SUFFIX),
            "(member=*)",
            "cn",
            "member",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("cn: staff") && text.contains(&format!("member: {}", ldap::user_dn("alice"))),
        "{text}"
    );
    assert!(
        text.contains("cn: students")
            && text.contains(&format!("member: {}", ldap::user_dn("bob"))),
        "{text}"
    );
}

#[test]
fn slapd_is_killed_on_drop() {
    let server = ldap::Slapd::start();
    let (pid, port) = (server.pid(), server.port);
    drop(server);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "slapd {pid} still runs"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

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

/// The claims of a JWT, read without checking anything.
fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn oidc_tamper_hook_changes_only_the_id_token() {
    use oidc::Tamper;
    let provider = oidc::OidcProvider::start(&[oidc::SHARED_REDIRECT_URI]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (genuine, _) = code_flow(&provider, "alice").await;
    let claims = jwt_claims(genuine["id_token"].as_str().unwrap());
    assert_eq!(claims["aud"], oidc::CLIENT_ID, "{claims}");
    assert_eq!(claims["sub"], "alice", "{claims}");

    provider.tamper(Tamper::WrongAudience).await;
    let (tokens, me) = code_flow(&provider, "alice").await;
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "some-other-client", "{claims}");
    assert_eq!(me["sub"], "alice", "the access token stays genuine: {me}");

    provider.tamper(Tamper::ExpiredIdToken).await;
    let (tokens, _) = code_flow(&provider, "alice").await;
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert!(claims["exp"].as_u64().unwrap() < now, "{claims}");
    assert_eq!(claims["aud"], oidc::CLIENT_ID, "{claims}");

    provider.tamper(Tamper::BadSignature).await;
    let (tokens, _) = code_flow(&provider, "alice").await;
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "bob", "{claims}");

    provider.tamper(Tamper::None).await;
    let (tokens, _) = code_flow(&provider, "alice").await;
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["sub"],
        "alice"
    );

    let refused = reqwest::Client::new()
        .post(format!("{}/__test/tamper", provider.issuer))
        .body("everything")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn oidc_short_access_tokens_come_with_a_working_refresh_token() {
    let provider = oidc::OidcProvider::start_with(&oidc::OidcOptions {
        redirect_uris: vec![oidc::SHARED_REDIRECT_URI.to_owned()],
        access_token_ttl_secs: Some(2),
    });
    let (tokens, _) = code_flow(&provider, "bob").await;
    assert!(tokens["expires_in"].as_u64().unwrap() <= 2, "{tokens}");
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let http = reqwest::Client::new();
    let userinfo = |token: String| {
        http.get(format!("{}/me", provider.issuer))
            .bearer_auth(token)
            .send()
    };
    let expired = userinfo(tokens["access_token"].as_str().unwrap().to_owned())
        .await
        .unwrap();
    assert_eq!(expired.status(), 401, "the old access token has expired");
    let refreshed: Value = http
        .post(format!("{}/token", provider.issuer))
        .basic_auth(oidc::CLIENT_ID, Some(oidc::CLIENT_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh = refreshed["access_token"].as_str().unwrap().to_owned();
    assert_ne!(fresh, tokens["access_token"].as_str().unwrap());
    let me: Value = userinfo(fresh).await.unwrap().json().await.unwrap();
    assert_eq!(me["sub"], "bob", "{me}");
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

//! `LDAPAuthenticator` end to end: the real hub binary (with its proxy) logs
//! users in through `POST /hub/login` against a real, private OpenLDAP
//! (`support::ldap`: alice/alicepw in `staff`, bob/bobpw in `students`), as
//! jupyterhub-ldapauthenticator 2.x would: direct bind through a list of DN
//! templates, search-then-bind (`lookup_dn`), `use_lookup_dn_username`,
//! `allowed_groups`, `search_filter`, `auth_state_attributes` in the REST
//! API's `auth_state`;
//! names built to inject into DNs and filters never log in as anyone;
//! StartTLS is verified against the test CA (and refused without it), ldaps
//! works on its own port; and a silent server neither blocks the hub (its
//! `/hub/health` keeps answering) nor holds a login past its deadline.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use support::browser::Browser;
use support::{TestHub, ldap};

const PEOPLE: &str = "ou=people,dc=example,dc=org";
const STAFF: &str = "cn=staff,ou=groups,dc=example,dc=org";
const STUDENTS: &str = "cn=students,ou=groups,dc=example,dc=org";
/// A 32-byte `JUPYTERHUB_CRYPT_KEY`, hex.
const CRYPT_KEY: &str = "3333333333333333333333333333333333333333333333333333333333333333";

/// `[LDAPAuthenticator]` for the shared slapd with StartTLS (upstream's
/// default strategy) trusting the fixture's CA, plus `extra` lines.
fn ldap_section(extra: &str) -> String {
    let server = ldap::shared();
    format!(
        "server_address = \"127.0.0.1\"\nserver_port = {}\ntls_strategy = \"before_bind\"\n\
         tls_kwargs = {{ ca_certs_file = \"{}\" }}\n{extra}",
        server.port,
        server.ca_cert.display()
    )
}

/// A hub with the LDAP back end: `[LDAPAuthenticator]` is `ldap` as is,
/// `[Authenticator]` gets `authenticator`.
fn hub_with(ldap: &str, authenticator: &str) -> TestHub {
    TestHub::start_with(
        "ldap",
        "simple",
        &[
            ("LDAPAuthenticator", ldap),
            ("Authenticator", authenticator),
        ],
    )
}

/// Logs in through the real form in a fresh browser; the status (302 is
/// success) and the browser, signed in on success.
async fn login(hub: &TestHub, user: &str, password: &str) -> (u16, Browser) {
    let browser = Browser::new(&hub.public_url());
    let response = browser.login(user, password, None).await;
    let status = response.status().as_u16();
    if status == 403 {
        let page = response.text().await.unwrap();
        assert!(
            page.contains("Invalid username or password"),
            "a refusal shows the login form's message: {page}"
        );
    }
    (status, browser)
}

/// Who the browser is signed in as (`GET /hub/api/user`).
async fn who_am_i(browser: &Browser) -> String {
    let response = browser.hub_api(Method::GET, "/user").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let model: Value = response.json().await.unwrap();
    model["name"].as_str().unwrap().to_owned()
}

/// Asserts `user`/`password` logs in, as `expected`.
async fn assert_logs_in_as(hub: &TestHub, user: &str, password: &str, expected: &str) {
    let (status, browser) = login(hub, user, password).await;
    assert_eq!(status, 302, "{user:?} should log in; log:\n{}", hub.log());
    assert_eq!(who_am_i(&browser).await, expected);
}

/// Asserts `user`/`password` is refused as a wrong login (403, no session).
async fn assert_refused(hub: &TestHub, user: &str, password: &str) {
    let (status, browser) = login(hub, user, password).await;
    assert_eq!(
        status,
        403,
        "{user:?} with {password:?} must be refused; log:\n{}",
        hub.log()
    );
    let me = browser.hub_api(Method::GET, "/user").send().await.unwrap();
    assert_eq!(me.status(), 403, "{user:?} got a session");
}

async fn health_status(hub: &TestHub) -> u16 {
    reqwest::get(format!("http://127.0.0.1:{}/hub/health", hub.hub_port))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_bind_tries_each_template_in_turn() {
    // The first template names no existing entry, so every login needs the
    // second one.
    let templates = format!(
        "bind_dn_template = [\"uid={{username}},ou=nobody,dc=example,dc=org\", \"\", \
         \"uid={{username}},{PEOPLE}\"]"
    );
    let hub = hub_with(&ldap_section(&templates), "allow_all = true");
    assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
    assert_logs_in_as(&hub, "bob", "bobpw", "bob").await;
    // Wrong passwords, another user's password, blank passwords (which
    // would be an anonymous bind) and unknown users are refused.
    assert_refused(&hub, "alice", "wrong").await;
    assert_refused(&hub, "alice", "bobpw").await;
    assert_refused(&hub, "bob", "").await;
    assert_refused(&hub, "bob", "   ").await;
    assert_refused(&hub, "nobody", "alicepw").await;
    // The default valid_username_regex refuses an upper-case login name, as
    // upstream (before the hub lowercases it).
    assert_refused(&hub, "Alice", "alicepw").await;
    assert!(
        hub.log()
            .contains("Ignoring blank 'bind_dn_template' entry!"),
        "upstream's warning for the blank template"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_then_bind_finds_the_users_dn() {
    let lookup = format!(
        "lookup_dn = true\nuser_search_base = \"{PEOPLE}\"\nuser_attribute = \"uid\"\n\
         lookup_dn_user_dn_attribute = \"uid\"\n"
    );
    // With the directory manager as search user, and the found DN as the
    // bind DN (no bind_dn_template).
    let admin = format!(
        "{lookup}lookup_dn_search_user = \"{}\"\nlookup_dn_search_password = \"{}\"",
        ldap::ADMIN_DN,
        ldap::ADMIN_PASSWORD
    );
    let hub = hub_with(&ldap_section(&admin), "allow_all = true");
    assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
    assert_logs_in_as(&hub, "bob", "bobpw", "bob").await;
    assert_refused(&hub, "bob", "alicepw").await;
    assert_refused(&hub, "nobody", "x").await;
    drop(hub);

    // Anonymous search (no search user), then a bind_dn_template filled
    // with the looked-up value.
    let anonymous = format!("{lookup}bind_dn_template = \"uid={{username}},{PEOPLE}\"");
    let hub = hub_with(&ldap_section(&anonymous), "allow_all = true");
    assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
    assert_refused(&hub, "alice", "bobpw").await;
    drop(hub);

    // A search user with a wrong password is the server set-up's fault, not
    // the user's: an error page (500), and the hub keeps running.
    let broken = format!(
        "{lookup}lookup_dn_search_user = \"{}\"\nlookup_dn_search_password = \"wrong\"",
        ldap::ADMIN_DN
    );
    let hub = hub_with(&ldap_section(&broken), "allow_all = true");
    let (status, _) = login(&hub, "alice", "alicepw").await;
    assert_eq!(status, 500);
    assert!(
        hub.log().contains("lookup_dn_search_user"),
        "the log names the cause: {}",
        hub.log()
    );
    assert_eq!(health_status(&hub).await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn use_lookup_dn_username_names_the_user_by_the_looked_up_attribute() {
    let lookup = format!(
        "lookup_dn = true\nuser_search_base = \"{PEOPLE}\"\nuser_attribute = \"uid\"\n\
         lookup_dn_user_dn_attribute = \"employeeNumber\"\n"
    );
    let hub = hub_with(
        &ldap_section(&format!("{lookup}use_lookup_dn_username = true")),
        "allow_all = true",
    );
    assert_logs_in_as(&hub, "alice", "alicepw", "e2001").await;
    assert_logs_in_as(&hub, "bob", "bobpw", "e2002").await;
    drop(hub);
    // Off (upstream 2's default): the login name, with the same lookup.
    let hub = hub_with(&ldap_section(&lookup), "allow_all = true");
    assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_groups_admit_members_and_refuse_others() {
    let config =
        format!("bind_dn_template = \"uid={{username}},{PEOPLE}\"\nallowed_groups = [\"{STAFF}\"]");
    // No allow_all, no allowed_users: only the group admits.
    let hub = hub_with(&ldap_section(&config), "");
    assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
    // bob's password is right, but he is in `students` only.
    assert_refused(&hub, "bob", "bobpw").await;
    assert!(hub.log().contains("is not allowed"), "{}", hub.log());
    drop(hub);
    // allowed_users admits beyond the groups, as upstream.
    let hub = hub_with(&ldap_section(&config), "allowed_users = [\"bob\"]");
    assert_logs_in_as(&hub, "bob", "bobpw", "bob").await;
    assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
}

/// upstream's `search_filter`: after the bind, a search under
/// `user_search_base` must find the user exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn search_filter_must_find_the_user_exactly_once() {
    let config = format!(
        "bind_dn_template = \"uid={{username}},{PEOPLE}\"\nuser_search_base = \"{PEOPLE}\"\n\
         user_attribute = \"uid\"\nattributes = [\"uid\", \"mail\"]\n\
         search_filter = \"(&(objectClass=inetOrgPerson)({{userattr}}={{username}})(employeeNumber=e2001))\""
    );
    let hub = hub_with(&ldap_section(&config), "allow_all = true");
    assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
    // bob's password is right, but the filter does not find him.
    assert_refused(&hub, "bob", "bobpw").await;
    assert!(
        hub.log().contains("search_filter found 0 entries"),
        "{}",
        hub.log()
    );
}

/// Names that would match another entry or widen a search if they reached
/// a DN or a filter unescaped. `valid_username_regex = ""` lets every name
/// through to the server (upstream relies on escaping since 2.0), so this
/// checks the escaping itself: each is refused with a real user's password.
/// Unescaped, `alic\65` is alice's DN (`\65` is `e` in RFC 4514) and, like
/// `al*`, matches alice in a filter.
#[tokio::test(flavor = "multi_thread")]
async fn names_built_for_injection_never_log_in_as_anyone() {
    const NAMES: [&str; 10] = [
        "*",
        "al*",
        "a*e",
        "alice)(uid=*",
        "*)(|(uid=*",
        "alic\\65",
        "alice\\",
        "\\2a",
        "alice,ou=people,dc=example,dc=org",
        "alice+uid=bob",
    ];
    let template = format!("bind_dn_template = \"uid={{username}},{PEOPLE}\"\n");
    let lookup = format!(
        "lookup_dn = true\nuser_search_base = \"{PEOPLE}\"\nuser_attribute = \"uid\"\n\
         lookup_dn_user_dn_attribute = \"uid\"\nlookup_dn_search_user = \"{}\"\n\
         lookup_dn_search_password = \"{}\"\n",
        ldap::ADMIN_DN,
        ldap::ADMIN_PASSWORD
    );
    // Group membership is searched with the name in the filter too
    // (`memberUid={uid}`).
    let groups = format!("allowed_groups = [\"{STAFF}\", \"{STUDENTS}\"]\n");
    for (what, config) in [("bind_dn_template", template), ("lookup_dn", lookup)] {
        let config = format!("{config}{groups}valid_username_regex = \"\"");
        let hub = hub_with(&ldap_section(&config), "");
        for name in NAMES {
            for password in ["alicepw", "bobpw"] {
                let (status, _) = login(&hub, name, password).await;
                assert_eq!(
                    status,
                    403,
                    "{what}: {name:?} with {password:?}; log:\n{}",
                    hub.log()
                );
            }
        }
        assert!(
            !hub.log().contains("user logged in"),
            "{what}: someone logged in:\n{}",
            hub.log()
        );
        // The plain names still work on the same hub.
        assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
        assert_logs_in_as(&hub, "bob", "bobpw", "bob").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn start_tls_verifies_the_server_certificate() {
    let server = ldap::shared();
    let template = format!("bind_dn_template = \"uid={{username}},{PEOPLE}\"");
    // Trusting the test CA (ldap_section): logs in over StartTLS.
    let hub = hub_with(&ldap_section(&template), "allow_all = true");
    assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
    drop(hub);

    // Without the CA (the system's CAs only): the handshake fails, the login
    // is an error page naming nobody, the log says why, the hub stays up.
    let untrusted = format!(
        "server_address = \"127.0.0.1\"\nserver_port = {}\n{template}",
        server.port
    );
    let hub = hub_with(&untrusted, "allow_all = true");
    let (status, browser) = login(&hub, "alice", "alicepw").await;
    assert_eq!(status, 500, "log:\n{}", hub.log());
    let me = browser.hub_api(Method::GET, "/user").send().await.unwrap();
    assert_eq!(me.status(), 403, "no session after a failed handshake");
    assert!(
        hub.log().contains("UnknownIssuer"),
        "the log names the certificate problem:\n{}",
        hub.log()
    );
    assert_eq!(health_status(&hub).await, 200);
    drop(hub);

    // `validate = 0` (ssl.CERT_NONE, upstream ldap3's default) accepts it.
    let unverified = format!("{untrusted}\ntls_kwargs = {{ validate = 0 }}");
    let hub = hub_with(&unverified, "allow_all = true");
    assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
    drop(hub);

    // A name the certificate is not for fails, unless valid_names lists it.
    let ca = server.ca_cert.display();
    let by_name = format!(
        "server_address = \"localhost\"\nserver_port = {}\n{template}\n\
         tls_kwargs = {{ ca_certs_file = \"{ca}\" }}",
        server.port
    );
    let hub = hub_with(&by_name, "allow_all = true");
    let (status, _) = login(&hub, "alice", "alicepw").await;
    assert_eq!(
        status, 500,
        "certificate for 127.0.0.1 accepted for localhost"
    );
    assert!(
        hub.log().contains("certificate not valid for name"),
        "{}",
        hub.log()
    );
    drop(hub);
    let also_valid = format!(
        "server_address = \"localhost\"\nserver_port = {}\n{template}\n\
         tls_kwargs = {{ ca_certs_file = \"{ca}\", valid_names = [\"127.0.0.1\"] }}",
        server.port
    );
    let hub = hub_with(&also_valid, "allow_all = true");
    assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ldaps_on_connect_and_insecure_strategies() {
    let server = ldap::shared();
    let template = format!("bind_dn_template = \"uid={{username}},{PEOPLE}\"");
    let ca = server.ca_cert.display();
    let ldaps = format!(
        "server_address = \"127.0.0.1\"\nserver_port = {}\ntls_strategy = \"on_connect\"\n\
         tls_kwargs = {{ ca_certs_file = \"{ca}\" }}\n{template}",
        server.ldaps_port
    );
    let hub = hub_with(&ldaps, "allow_all = true");
    assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
    assert_refused(&hub, "alice", "wrong").await;
    drop(hub);

    // TLS from the first byte really is used: on the plain port it fails.
    let ldaps_on_plain_port = format!(
        "server_address = \"127.0.0.1\"\nserver_port = {}\ntls_strategy = \"on_connect\"\n\
         tls_kwargs = {{ ca_certs_file = \"{ca}\" }}\n{template}",
        server.port
    );
    let hub = hub_with(&ldaps_on_plain_port, "allow_all = true");
    assert_eq!(login(&hub, "alice", "alicepw").await.0, 500);
    drop(hub);

    // An ldaps:// URL as server_address (as ldap3 accepts) is TLS on
    // connect whatever tls_strategy says; its port wins over server_port.
    let url = format!(
        "server_address = \"{}\"\nserver_port = {}\n\
         tls_kwargs = {{ ca_certs_file = \"{ca}\" }}\n{template}",
        server.ldaps_url, server.port
    );
    let hub = hub_with(&url, "allow_all = true");
    assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
    drop(hub);

    // The deprecated use_ssl = true means on_connect.
    let use_ssl = format!(
        "server_address = \"127.0.0.1\"\nserver_port = {}\nuse_ssl = true\n\
         tls_kwargs = {{ ca_certs_file = \"{ca}\" }}\n{template}",
        server.ldaps_port
    );
    let hub = hub_with(&use_ssl, "allow_all = true");
    assert_logs_in_as(&hub, "bob", "bobpw", "bob").await;
    assert!(hub.log().contains("use_ssl is deprecated"), "{}", hub.log());
    drop(hub);

    let insecure = format!(
        "server_address = \"127.0.0.1\"\nserver_port = {}\ntls_strategy = \"insecure\"\n{template}",
        server.port
    );
    let hub = hub_with(&insecure, "allow_all = true");
    assert_logs_in_as(&hub, "alice", "alicepw", "alice").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_state_holds_the_groups_and_attributes_upstream_returns() {
    let config = format!(
        "bind_dn_template = \"uid={{username}},{PEOPLE}\"\n\
         allowed_groups = [\"{STAFF}\", \"{STUDENTS}\"]\n\
         auth_state_attributes = [\"mail\", \"employeeNumber\"]"
    );
    let hub = TestHub::start_with_env(
        "ldap",
        "simple",
        &[
            ("LDAPAuthenticator", &ldap_section(&config)),
            (
                "Authenticator",
                "enable_auth_state = true\nadmin_users = [\"alice\"]",
            ),
        ],
        &[("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY)],
    );
    let (status, alice) = login(&hub, "alice", "alicepw").await;
    assert_eq!(status, 302, "{}", hub.log());
    assert_logs_in_as(&hub, "bob", "bobpw", "bob").await;
    let auth_state = |user: &'static str| {
        let alice = &alice;
        async move {
            let answer = alice
                .hub_api(Method::GET, &format!("/users/{user}"))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
            answer.json::<Value>().await.unwrap()["auth_state"].clone()
        }
    };
    assert_eq!(
        auth_state("alice").await,
        json!({
            "ldap_groups": [STAFF],
            "user_attributes": {"mail": ["alice@example.org"], "employeeNumber": ["e2001"]},
        })
    );
    assert_eq!(
        auth_state("bob").await,
        json!({
            "ldap_groups": [STUDENTS],
            "user_attributes": {"mail": ["bob@example.org"], "employeeNumber": ["e2002"]},
        })
    );
}

/// A server that accepts connections and never answers: the StartTLS
/// request waits, the login ends at the connection deadline with an error
/// page, and meanwhile the hub answers `/hub/health` as fast as ever. A port
/// nobody listens on fails at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_ldap_server_neither_blocks_the_hub_nor_holds_logins() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    // Keep accepted connections open (and unanswered) until the test ends.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming() {
            held.push(stream);
        }
    });
    let config = format!(
        "server_address = \"127.0.0.1\"\nserver_port = {port}\n\
         bind_dn_template = \"uid={{username}},{PEOPLE}\""
    );
    let hub = hub_with(&config, "allow_all = true");
    let url = hub.public_url();
    let started = Instant::now();
    let logins: Vec<_> = ["alice", "bob", "carol"]
        .into_iter()
        .map(|user| {
            let url = url.clone();
            tokio::spawn(async move {
                let browser = Browser::new(&url);
                browser.login(user, "pw", None).await.status().as_u16()
            })
        })
        .collect();
    let client = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{}/hub/health", hub.hub_port);
    let mut slowest = Duration::ZERO;
    let mut polls = 0;
    while !logins.iter().all(tokio::task::JoinHandle::is_finished) {
        let asked = Instant::now();
        let status = client.get(&health).send().await.unwrap().status();
        slowest = slowest.max(asked.elapsed());
        polls += 1;
        assert_eq!(status, 200);
        assert!(started.elapsed() < Duration::from_secs(15), "logins hang");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    for login in logins {
        assert_eq!(login.await.unwrap(), 500, "log:\n{}", hub.log());
    }
    assert!(
        took >= Duration::from_secs(4),
        "the logins ended before the 5 s connection deadline ({took:?}): not the silent server?"
    );
    assert!(polls > 50, "health was polled throughout ({polls} polls)");
    assert!(
        slowest < Duration::from_millis(250),
        "/hub/health took {slowest:?} while logins waited on LDAP"
    );
    assert!(hub.log().contains("cannot connect"), "{}", hub.log());
    drop(hub);

    // Nobody listening: refused at once, an error page, not a hang.
    let closed = support::free_port();
    let config = format!(
        "server_address = \"127.0.0.1\"\nserver_port = {closed}\n\
         bind_dn_template = \"uid={{username}},{PEOPLE}\""
    );
    let hub = hub_with(&config, "allow_all = true");
    let started = Instant::now();
    assert_eq!(login(&hub, "alice", "alicepw").await.0, 500);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(health_status(&hub).await, 200);
}

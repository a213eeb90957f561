//! Policy tests on the dummy back end (plus one scripted back end for admin
//! decisions), through the same `Auth::from_config` / `login` calls the hub makes.

use async_trait::async_trait;
use ferrohub_config::{AuthenticatorConfig, Config};

use super::Auth;
use crate::{AuthError, Authenticator, LoginOutcome};

/// An `Auth` on `DummyAuthenticator` with the `[Authenticator]` section set by `edit`.
fn dummy(edit: impl FnOnce(&mut AuthenticatorConfig)) -> Auth {
    let mut config = Config::default();
    config.jupyterhub.authenticator_class = "dummy".into();
    edit(&mut config.authenticator);
    Auth::from_config(&config).expect("valid config")
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|&name| name.to_owned()).collect()
}

/// Logs in with any password as a user not yet in the database.
async fn login(auth: &Auth, name: &str) -> LoginOutcome {
    auth.login(name, "any password", false).await.unwrap()
}

fn accepted(name: &str, admin: Option<bool>) -> LoginOutcome {
    LoginOutcome::Accepted {
        name: name.to_owned(),
        admin,
        auth_state: None,
        groups: None,
    }
}

/// Asserts a refusal whose log reason mentions `why`.
#[track_caller]
fn assert_rejected(outcome: &LoginOutcome, why: &str) {
    match outcome {
        LoginOutcome::Rejected(reason) => assert!(reason.contains(why), "reason: {reason}"),
        LoginOutcome::Accepted { .. } | LoginOutcome::Throttled { .. } => {
            panic!("expected a refusal ({why}), got {outcome:?}")
        }
    }
}

#[tokio::test]
async fn dummy_allows_everyone_by_default() {
    let auth = dummy(|_| {});
    assert_eq!(auth.backend_name(), "DummyAuthenticator");
    assert_eq!(login(&auth, "anyone").await, accepted("anyone", None));
}

#[tokio::test]
async fn dummy_with_allowed_users_allows_only_them() {
    let auth = dummy(|c| c.allowed_users = names(&["alice"]));
    assert_eq!(login(&auth, "alice").await, accepted("alice", None));
    assert_rejected(&login(&auth, "mallory").await, "not allowed");
}

#[tokio::test]
async fn explicit_allow_all_false_allows_nobody_without_lists() {
    let auth = dummy(|c| c.allow_all = Some(false));
    assert_rejected(&login(&auth, "alice").await, "not allowed");
}

#[tokio::test]
async fn blocked_beats_allowed_allow_all_and_admin() {
    let auth = dummy(|c| {
        c.allowed_users = names(&["bob"]);
        c.admin_users = names(&["root-ish"]);
        c.blocked_users = names(&["Bob", "root-ish"]);
    });
    assert_rejected(&login(&auth, "bob").await, "blocked");
    assert_rejected(&login(&auth, "root-ish").await, "blocked");

    let everyone = dummy(|c| {
        c.allow_all = Some(true);
        c.blocked_users = names(&["eve"]);
    });
    assert_rejected(&login(&everyone, "EVE").await, "blocked");
    assert_eq!(login(&everyone, "alice").await, accepted("alice", None));
}

#[tokio::test]
async fn admin_users_are_allowed_and_made_admin() {
    // Without any allowed_users (and allow_all off) admins still get in.
    let auth = dummy(|c| {
        c.allow_all = Some(false);
        c.admin_users = names(&["Ada"]);
    });
    assert_eq!(login(&auth, "ada").await, accepted("ada", Some(true)));
    assert_rejected(&login(&auth, "bob").await, "not allowed");

    // Allowed non-admins get `None`: login never demotes on config alone.
    let auth = dummy(|c| {
        c.admin_users = names(&["ada"]);
        c.allowed_users = names(&["bob"]);
    });
    assert_eq!(login(&auth, "ada").await, accepted("ada", Some(true)));
    assert_eq!(login(&auth, "bob").await, accepted("bob", None));
}

#[tokio::test]
async fn existing_users_allowed_by_default_only_when_allowed_users_is_set() {
    let with_list = dummy(|c| c.allowed_users = names(&["alice"]));
    let outcome = with_list.login("olduser", "pw", true).await.unwrap();
    assert_eq!(outcome, accepted("olduser", None));
    let outcome = with_list.login("olduser", "pw", false).await.unwrap();
    assert_rejected(&outcome, "not allowed");

    let without_list = dummy(|c| c.allow_all = Some(false));
    let outcome = without_list.login("olduser", "pw", true).await.unwrap();
    assert_rejected(&outcome, "not allowed");
}

#[tokio::test]
async fn allow_existing_users_can_be_set_either_way() {
    let on = dummy(|c| {
        c.allow_all = Some(false);
        c.allow_existing_users = Some(true);
    });
    assert_eq!(
        on.login("olduser", "pw", true).await.unwrap(),
        accepted("olduser", None)
    );
    assert_rejected(
        &on.login("newuser", "pw", false).await.unwrap(),
        "not allowed",
    );

    let off = dummy(|c| {
        c.allowed_users = names(&["alice"]);
        c.allow_existing_users = Some(false);
    });
    assert_rejected(
        &off.login("olduser", "pw", true).await.unwrap(),
        "not allowed",
    );
    assert_eq!(
        off.login("alice", "pw", true).await.unwrap(),
        accepted("alice", None)
    );
}

#[tokio::test]
async fn names_are_normalized_in_login_and_config() {
    let auth = dummy(|c| {
        c.allowed_users = names(&["ALICE"]);
        c.admin_users = names(&["Ada"]);
    });
    assert_eq!(auth.normalize_username("Alice"), "alice");
    assert_eq!(login(&auth, "Alice").await, accepted("alice", None));
    assert_eq!(login(&auth, "ADA").await, accepted("ada", Some(true)));
}

#[tokio::test]
async fn invalid_names_are_refused() {
    let auth = dummy(|_| {});
    for bad in ["a/b", "../etc", "..", ".", "", " bob", "bo\nb"] {
        assert_rejected(&login(&auth, bad).await, "invalid user name");
    }
}

#[test]
fn invalid_names_in_config_are_config_errors() {
    let mut config = Config::default();
    config.jupyterhub.authenticator_class = "dummy".into();
    config.authenticator.admin_users = names(&["ok", "../root"]);
    let err = Auth::from_config(&config).err().expect("must fail");
    assert!(matches!(err, AuthError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("admin_users"), "{err}");
}

#[tokio::test]
async fn shared_password_is_enforced() {
    let mut config = Config::default();
    config.jupyterhub.authenticator_class = "DummyAuthenticator".into();
    config.dummy_authenticator.password = "open sesame".into();
    let auth = Auth::from_config(&config).unwrap();
    assert_eq!(
        auth.login("bob", "open sesame", false).await.unwrap(),
        accepted("bob", None)
    );
    let outcome = auth.login("bob", "open sesam", false).await.unwrap();
    assert_rejected(&outcome, "wrong user name or password");
}

#[test]
fn authenticator_class_names_pick_the_back_end() {
    let backend_of = |class: &str| {
        let mut config = Config::default();
        config.jupyterhub.authenticator_class = class.into();
        config.ldap_authenticator.server_address = "127.0.0.1".into();
        config.ldap_authenticator.tls_strategy = ferrohub_config::TlsStrategy::Insecure;
        config.ldap_authenticator.bind_dn_template = vec!["uid={username},dc=x".into()];
        Auth::from_config(&config).map(|auth| auth.backend_name())
    };
    for class in [
        "pam",
        "default",
        "PAMAuthenticator",
        "jupyterhub.auth.PAMAuthenticator",
    ] {
        assert_eq!(backend_of(class).unwrap(), "PAMAuthenticator", "{class}");
    }
    for class in [
        "dummy",
        "DummyAuthenticator",
        "jupyterhub.auth.DummyAuthenticator",
    ] {
        assert_eq!(backend_of(class).unwrap(), "DummyAuthenticator", "{class}");
    }
    for class in [
        "shared-password",
        "SharedPasswordAuthenticator",
        "jupyterhub.authenticators.shared.SharedPasswordAuthenticator",
    ] {
        assert_eq!(
            backend_of(class).unwrap(),
            "SharedPasswordAuthenticator",
            "{class}"
        );
    }
    for class in [
        "null",
        "NullAuthenticator",
        "jupyterhub.auth.NullAuthenticator",
    ] {
        assert_eq!(backend_of(class).unwrap(), "NullAuthenticator", "{class}");
    }
    for class in [
        "ldap",
        "ldapauthenticator",
        "LDAPAuthenticator",
        "ldapauthenticator.LDAPAuthenticator",
        "ldapauthenticator.ldapauthenticator.LDAPAuthenticator",
    ] {
        assert_eq!(backend_of(class).unwrap(), "LDAPAuthenticator", "{class}");
    }
    let err = backend_of("firstuseauthenticator.FirstUseAuthenticator").expect_err("unknown class");
    let text = err.to_string();
    assert!(matches!(err, AuthError::Config(_)));
    assert!(
        text.starts_with(
            "unknown authenticator_class \"firstuseauthenticator.FirstUseAuthenticator\""
        ),
        "{text}"
    );
    assert!(
        text.contains("choose one of") && text.contains("\"pam\"") && text.contains("\"dummy\""),
        "{text}"
    );
}

#[test]
fn startup_users_are_normalized_deduplicated_and_admin_wins() {
    let auth = dummy(|c| {
        c.admin_users = names(&["Ada", "ada"]);
        c.allowed_users = names(&["bob", "BOB", "ADA", "eve"]);
        c.blocked_users = names(&["Eve"]);
    });
    assert_eq!(
        auth.startup_users(),
        vec![("ada".to_owned(), true), ("bob".to_owned(), false)]
    );
}

/// A back end that vouches for everyone and whose admin answer is scripted.
struct Scripted(Result<Option<bool>, ()>);

#[async_trait]
impl Authenticator for Scripted {
    fn name(&self) -> &'static str {
        "Scripted"
    }
    async fn authenticate(&self, username: &str, _: &str) -> Result<Option<String>, AuthError> {
        Ok(Some(username.to_owned()))
    }
    async fn admin_status(&self, _: &str) -> Result<Option<bool>, AuthError> {
        self.0
            .map_err(|()| AuthError::Backend("group lookup failed".into()))
    }
}

fn scripted(answer: Result<Option<bool>, ()>, edit: impl FnOnce(&mut AuthenticatorConfig)) -> Auth {
    let mut config = AuthenticatorConfig::default();
    edit(&mut config);
    Auth::new(Box::new(Scripted(answer)), &config).unwrap()
}

#[tokio::test]
async fn backend_admin_decision_applies_unless_admin_users_grants() {
    let grant = scripted(Ok(Some(true)), |c| c.allow_all = Some(true));
    assert_eq!(login(&grant, "gina").await, accepted("gina", Some(true)));

    let revoke = scripted(Ok(Some(false)), |c| {
        c.allow_all = Some(true);
        c.admin_users = names(&["ada"]);
    });
    assert_eq!(login(&revoke, "gina").await, accepted("gina", Some(false)));
    assert_eq!(login(&revoke, "ada").await, accepted("ada", Some(true)));
}

#[tokio::test]
async fn backend_admin_failure_is_an_error_not_a_login() {
    let broken = scripted(Err(()), |c| c.allow_all = Some(true));
    let err = broken.login("gina", "pw", false).await.unwrap_err();
    assert!(matches!(err, AuthError::Backend(_)), "{err:?}");
    // Not-allowed users never reach the admin check.
    let broken = scripted(Err(()), |c| c.allow_all = Some(false));
    assert_rejected(&login(&broken, "gina").await, "not allowed");
}

#[test]
fn default_backend_is_not_allow_all() {
    // A non-dummy back end with no allow config lets nobody in.
    let auth = scripted(Ok(None), |_| {});
    assert!(!auth.allow_all);
}

/// Dummy back end with a shared password and the given backoff numbers.
fn throttled_dummy(per_user: u32, per_address: u32) -> Auth {
    let mut config = Config::default();
    config.jupyterhub.authenticator_class = "dummy".into();
    config.dummy_authenticator.password = "open sesame".into();
    config.authenticator.login_failures_per_user = per_user;
    config.authenticator.login_failures_per_address = per_address;
    config.authenticator.login_backoff_initial_seconds = 0.3;
    config.authenticator.login_backoff_max_seconds = 0.3;
    Auth::from_config(&config).unwrap()
}

fn is_throttled(outcome: &LoginOutcome) -> bool {
    matches!(outcome, LoginOutcome::Throttled { .. })
}

#[tokio::test]
async fn wrong_passwords_throttle_the_name_even_with_the_right_one_then_it_works() {
    let auth = throttled_dummy(2, 0);
    for _ in 0..2 {
        let outcome = auth.login("Bob", "guess", false).await.unwrap();
        assert_rejected(&outcome, "wrong user name or password");
    }
    // The name is normalized: "bob" is the same name as "Bob".
    let outcome = auth.login("bob", "open sesame", false).await.unwrap();
    assert!(is_throttled(&outcome), "{outcome:?}");
    // Another name is not affected.
    assert_eq!(
        auth.login("carol", "open sesame", false).await.unwrap(),
        accepted("carol", None)
    );
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert_eq!(
        auth.login("bob", "open sesame", false).await.unwrap(),
        accepted("bob", None)
    );
    // Success cleared the record: one wrong password is free again.
    assert_rejected(
        &auth.login("bob", "guess", false).await.unwrap(),
        "wrong user name or password",
    );
    assert_eq!(
        auth.login("bob", "open sesame", false).await.unwrap(),
        accepted("bob", None)
    );
}

#[tokio::test]
async fn a_right_password_refused_by_policy_is_not_a_failure() {
    let mut config = Config::default();
    config.jupyterhub.authenticator_class = "dummy".into();
    config.authenticator.blocked_users = names(&["eve"]);
    config.authenticator.login_failures_per_user = 1;
    let auth = Auth::from_config(&config).unwrap();
    for _ in 0..5 {
        assert_rejected(&auth.login("eve", "pw", false).await.unwrap(), "blocked");
    }
}

#[tokio::test]
async fn an_address_is_throttled_across_names() {
    let auth = throttled_dummy(0, 3);
    let nat = Some("192.0.2.1".parse().unwrap());
    for name in ["a", "b", "c"] {
        let outcome = auth.login_from(nat, name, "guess", false).await.unwrap();
        assert_rejected(&outcome, "wrong user name or password");
    }
    let outcome = auth
        .login_from(nat, "d", "open sesame", false)
        .await
        .unwrap();
    assert!(is_throttled(&outcome), "{outcome:?}");
    let elsewhere = Some("192.0.2.2".parse().unwrap());
    assert_eq!(
        auth.login_from(elsewhere, "d", "open sesame", false)
            .await
            .unwrap(),
        accepted("d", None)
    );
}

/// A back end that is always saturated.
struct Saturated;

#[async_trait]
impl Authenticator for Saturated {
    fn name(&self) -> &'static str {
        "Saturated"
    }
    async fn authenticate(&self, _: &str, _: &str) -> Result<Option<String>, AuthError> {
        Err(AuthError::Busy)
    }
}

#[tokio::test]
async fn a_saturated_backend_is_a_throttled_login_not_an_error_nor_a_failure() {
    let config = AuthenticatorConfig {
        login_failures_per_user: 1,
        // Were "busy" a failure, the next answer would carry this 5 s delay.
        login_backoff_initial_seconds: 5.0,
        ..AuthenticatorConfig::default()
    };
    let auth = Auth::new(Box::new(Saturated), &config).unwrap();
    for _ in 0..3 {
        let outcome = auth.login("gina", "pw", false).await.unwrap();
        assert_eq!(
            outcome,
            LoginOutcome::Throttled {
                retry_after: crate::BUSY_RETRY_AFTER
            }
        );
    }
}

/// A back end that logs in elsewhere, as an OAuth one does.
struct External;

#[async_trait]
impl Authenticator for External {
    fn name(&self) -> &'static str {
        "External"
    }
    async fn authenticate(&self, _: &str, _: &str) -> Result<Option<String>, AuthError> {
        Ok(None)
    }
    fn login_url(&self, hub_base: &str) -> String {
        format!("{hub_base}oauth_login")
    }
    fn login_service(&self) -> &str {
        "Example SSO"
    }
}

#[test]
fn the_login_seam_defaults_to_the_form_and_passes_a_back_ends_own_url_through() {
    let form = dummy(|c| c.auto_login = true);
    assert!(form.auto_login());
    assert_eq!(form.login_url("/hub/"), "/hub/login");
    assert_eq!(form.login_service(), "");
    assert_eq!(form.custom_html("/hub/"), "");
    assert!(!dummy(|_| {}).auto_login(), "off by default, as upstream");

    let external = Auth::new(Box::new(External), &AuthenticatorConfig::default()).unwrap();
    assert_eq!(external.login_url("/base/hub/"), "/base/hub/oauth_login");
    assert_eq!(external.login_service(), "Example SSO");
}

/// A back end that vouches for "Carol" with an `auth_state`, as an OAuth or
/// LDAP back end does.
struct WithState;

#[async_trait]
impl Authenticator for WithState {
    fn name(&self) -> &'static str {
        "WithState"
    }
    async fn authenticate(&self, _: &str, _: &str) -> Result<Option<String>, AuthError> {
        Ok(Some("ignored".to_owned()))
    }
    async fn authenticate_model(
        &self,
        _: &str,
        password: &str,
    ) -> Result<Option<crate::Authenticated>, AuthError> {
        Ok((password == "right").then(|| crate::Authenticated {
            auth_state: Some(serde_json::json!({"access_token": "t0k"})),
            ..crate::Authenticated::named("Carol")
        }))
    }
}

#[tokio::test]
async fn username_map_applies_to_logins_and_configured_lists() {
    let auth = dummy(|c| {
        c.allow_all = Some(false);
        c.username_map = [("jdoe@example.org".to_owned(), "jdoe".to_owned())].into();
        c.allowed_users = names(&["JDoe@example.org"]);
    });
    assert_eq!(auth.normalize_username("JDOE@example.org"), "jdoe");
    assert_eq!(
        login(&auth, "jdoe@Example.org").await,
        accepted("jdoe", None)
    );
    assert_eq!(auth.startup_users(), vec![("jdoe".to_owned(), false)]);
}

#[tokio::test]
async fn username_pattern_refuses_logins_and_is_checked_on_the_lists() {
    let auth = dummy(|c| c.username_pattern = "[a-z]+$".into());
    assert_eq!(login(&auth, "alice").await, accepted("alice", None));
    assert_rejected(&login(&auth, "alice2").await, "username_pattern");
    assert!(auth.validate_username("bob").is_ok());
    let err = auth.add_user("bob7").await.unwrap_err().to_string();
    assert!(err.contains("username_pattern"), "{err}");

    let mut config = Config::default();
    config.jupyterhub.authenticator_class = "dummy".into();
    config.authenticator.username_pattern = "[a-z]+$".into();
    config.authenticator.admin_users = names(&["admin1"]);
    let err = Auth::from_config(&config)
        .err()
        .expect("admin1 breaks the pattern");
    assert!(err.to_string().contains("admin_users"), "{err}");
}

/// A back end that vouches for everyone and admits only `member` beyond the
/// allow lists (as `allowed_groups` does).
struct GroupGate;

#[async_trait]
impl Authenticator for GroupGate {
    fn name(&self) -> &'static str {
        "GroupGate"
    }
    async fn authenticate(&self, username: &str, _: &str) -> Result<Option<String>, AuthError> {
        Ok(Some(username.to_owned()))
    }
    async fn check_allowed(&self, username: &str) -> Result<bool, AuthError> {
        Ok(username == "member")
    }
    fn canonical_username(&self, name: &str) -> Option<String> {
        // As pam_normalize_username: an alias resolves to its account.
        (name == "Alias").then(|| "member".to_owned())
    }
}

#[tokio::test]
async fn the_auth_state_a_back_end_returns_comes_with_the_login() {
    let config = AuthenticatorConfig {
        allow_all: Some(true),
        ..AuthenticatorConfig::default()
    };
    let auth = Auth::new(Box::new(WithState), &config).unwrap();
    let outcome = auth.login("whoever", "right", false).await.unwrap();
    assert_eq!(
        outcome,
        LoginOutcome::Accepted {
            name: "carol".to_owned(),
            admin: None,
            auth_state: Some(serde_json::json!({"access_token": "t0k"})),
            groups: None,
        }
    );
    assert_rejected(
        &auth.login("whoever", "wrong", false).await.unwrap(),
        "authentication failed",
    );
    // The built-in back ends have none.
    assert_eq!(
        login(&dummy(|c| c.allow_all = Some(true)), "dan").await,
        accepted("dan", None)
    );
}

#[tokio::test]
async fn the_back_ends_allow_rule_adds_to_allowed_users_and_blocked_still_wins() {
    let mut config = AuthenticatorConfig {
        allowed_users: names(&["listed"]),
        ..AuthenticatorConfig::default()
    };
    let auth = Auth::new(Box::new(GroupGate), &config).unwrap();
    assert_eq!(login(&auth, "member").await, accepted("member", None));
    assert_eq!(login(&auth, "listed").await, accepted("listed", None));
    assert_rejected(&login(&auth, "other").await, "not allowed");
    // The back end's canonical name replaces lowercasing.
    assert_eq!(login(&auth, "Alias").await, accepted("member", None));

    config.blocked_users = names(&["member"]);
    let auth = Auth::new(Box::new(GroupGate), &config).unwrap();
    assert_rejected(&login(&auth, "member").await, "blocked");
}

#[tokio::test]
async fn shared_password_admins_and_users_through_the_policy() {
    let mut config = Config::default();
    config.jupyterhub.authenticator_class = "shared-password".into();
    config.authenticator.admin_users = names(&["Boss"]);
    config.authenticator.allow_all = Some(true);
    config.shared_password_authenticator.user_password = Some("user-pass".into());
    config.shared_password_authenticator.admin_password = Some("z".repeat(32));
    let auth = Auth::from_config(&config).unwrap();
    let admin_password = "z".repeat(32);
    assert_eq!(
        auth.login("boss", &admin_password, false).await.unwrap(),
        accepted("boss", Some(true))
    );
    assert_eq!(
        auth.login("carol", "user-pass", false).await.unwrap(),
        accepted("carol", Some(false))
    );
    assert_rejected(
        &auth.login("BOSS", "user-pass", false).await.unwrap(),
        "wrong user name or password",
    );
}

#[tokio::test]
async fn null_authenticator_lets_nobody_log_in() {
    let mut config = Config::default();
    config.jupyterhub.authenticator_class = "null".into();
    config.authenticator.allow_all = Some(true);
    let auth = Auth::from_config(&config).unwrap();
    assert_rejected(
        &auth.login("anyone", "", false).await.unwrap(),
        "wrong user name or password",
    );
    assert!(auth.custom_html("/hub/").contains("API tokens"));
}

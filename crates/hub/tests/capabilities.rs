//! Capabilities keep their operations closed (`crate::capability`, issue 11):
//! for groups, tokens, shares, services and OAuth, in process
//! (`ferrohub_hub::testing`), a caller without the capability is refused
//! with upstream's status and the database is left as it was, and a caller
//! whose scope is narrowed to one resource (`groups!group=a`) can act on
//! that one and not on its neighbour. The token page and the accept-share
//! page, which go through the same services, are checked the same way.
//!
//! Every token belongs to `root`, who holds every built-in scope, so a
//! token's effective scopes are exactly its own: what is tested is the
//! capability check, not the intersection with the owner's scopes.
//!
//! At the end, a source check keeps handlers from growing their own checks
//! again: no file under `src/api` or `src/pages` calls `.require(` or names
//! a scope in a string literal; scopes are typed constants, and checks are
//! capabilities made in `src/capability*`.

use std::path::{Path, PathBuf};

use ferrohub_config::{Config, RoleConfig};
use ferrohub_hub::testing::{Answer, TestApp};
use ferrohub_store::{OAuthClient, ShareTarget, SpawnerRecord, TokenOwner, UserRecord};
use http::{Method, StatusCode};
use serde_json::json;

const ROOT: &str = "root";

/// Every built-in scope that names a permission (not the meta scopes).
fn everything() -> Vec<String> {
    ferrohub_rbac::all_scope_names()
        .filter(|s| !["self", "inherit", "(no_scope)"].contains(s))
        .map(str::to_owned)
        .collect()
}

/// A hub where `root` is an admin holding every scope, users alice, bob and
/// carol, and groups `a` and `b` (alice in neither).
async fn hub() -> TestApp {
    let app = TestApp::new(|c: &mut Config| {
        c.authenticator.admin_users = vec![ROOT.into()];
        c.jupyterhub.load_roles = vec![RoleConfig {
            name: "everything".into(),
            description: "every built-in scope".into(),
            scopes: Some(everything()),
            users: Some(vec![ROOT.into()]),
            ..RoleConfig::default()
        }];
    })
    .await
    .expect("test hub starts");
    for user in ["alice", "bob", "carol"] {
        app.create_user(user, false).await.expect("user created");
    }
    for group in ["a", "b"] {
        app.add_to_group(group, &[]).await.expect("group created");
    }
    app
}

/// A token of `root` with exactly `scopes`.
async fn token(app: &TestApp, scopes: &[&str]) -> String {
    app.token(ROOT, scopes).await.expect("token stored")
}

async fn user(app: &TestApp, name: &str) -> UserRecord {
    app.user(name).await.expect("user exists")
}

#[track_caller]
fn expect(answer: &Answer, status: u16, what: &str) {
    assert_eq!(
        answer.status.as_u16(),
        status,
        "{what}: expected {status}, got {} {}",
        answer.status,
        answer.text
    );
}

async fn groups_of(app: &TestApp, name: &str) -> Vec<String> {
    let id = user(app, name).await.id;
    app.store()
        .group_names_of_user(id)
        .await
        .expect("groups read")
}

#[tokio::test]
async fn groups_need_their_capability_and_a_narrowed_scope_reaches_one_group() {
    let app = hub().await;
    let store = app.store();

    // No admin:groups at all: 403, and no group is made.
    let reader = token(&app, &["read:groups"]).await;
    let answer = app
        .call(Method::POST, "/groups/c", Some(&reader), None)
        .await;
    expect(&answer, 403, "create a group with read:groups");
    assert!(store.group_by_name("c").await.unwrap().is_none());
    let answer = app
        .call(
            Method::POST,
            "/groups",
            Some(&reader),
            Some(&json!({"groups": ["c"]})),
        )
        .await;
    expect(&answer, 403, "create groups with read:groups");
    assert!(store.group_by_name("c").await.unwrap().is_none());

    // delete:groups on b only: a is hidden (404) and stays.
    let delete_b = token(&app, &["delete:groups!group=b"]).await;
    let answer = app
        .call(Method::DELETE, "/groups/a", Some(&delete_b), None)
        .await;
    expect(&answer, 404, "delete a with delete:groups!group=b");
    assert!(store.group_by_name("a").await.unwrap().is_some());

    // groups!group=a: members of a change, b is hidden and unchanged.
    let edit_a = token(&app, &["groups!group=a"]).await;
    let add = json!({"users": ["alice"]});
    let answer = app
        .call(Method::POST, "/groups/a/users", Some(&edit_a), Some(&add))
        .await;
    expect(&answer, 200, "add alice to a with groups!group=a");
    let answer = app
        .call(Method::POST, "/groups/b/users", Some(&edit_a), Some(&add))
        .await;
    expect(&answer, 404, "add alice to b with groups!group=a");
    assert_eq!(groups_of(&app, "alice").await, vec!["a".to_owned()]);
    let answer = app
        .call(
            Method::PUT,
            "/groups/b/properties",
            Some(&edit_a),
            Some(&json!({"k": "v"})),
        )
        .await;
    expect(&answer, 404, "set b's properties with groups!group=a");
    let b = store.group_by_name("b").await.unwrap().unwrap();
    assert_eq!(b.properties, json!({}), "b's properties unchanged");
    let answer = app
        .call(Method::DELETE, "/groups/a/users", Some(&edit_a), Some(&add))
        .await;
    expect(&answer, 200, "remove alice from a with groups!group=a");
    assert!(groups_of(&app, "alice").await.is_empty());
}

async fn tokens_of(app: &TestApp, name: &str) -> Vec<i64> {
    let id = user(app, name).await.id;
    let tokens = app.store().tokens_of_owner(TokenOwner::User(id)).await;
    tokens.expect("tokens read").iter().map(|t| t.id).collect()
}

#[tokio::test]
async fn tokens_need_their_capability_and_a_narrowed_scope_reaches_one_user() {
    let app = hub().await;
    app.token("bob", &["inherit"]).await.unwrap();
    let bobs = tokens_of(&app, "bob").await;
    let bob_token = format!("/users/bob/tokens/a{}", bobs[0]);

    // read:tokens does not issue or revoke: 403 (upstream's own check for
    // creation never says 404), nothing written.
    let reader = token(&app, &["read:tokens"]).await;
    let answer = app
        .call(Method::POST, "/users/alice/tokens", Some(&reader), None)
        .await;
    expect(&answer, 403, "create alice's token with read:tokens");
    assert!(tokens_of(&app, "alice").await.is_empty());
    let answer = app
        .call(Method::DELETE, &bob_token, Some(&reader), None)
        .await;
    expect(&answer, 403, "revoke bob's token with read:tokens");
    assert_eq!(tokens_of(&app, "bob").await, bobs);

    // tokens!user=alice: alice's tokens, not bob's.
    let alice_only = token(&app, &["tokens!user=alice"]).await;
    let answer = app
        .call(Method::POST, "/users/alice/tokens", Some(&alice_only), None)
        .await;
    expect(&answer, 201, "create alice's token with tokens!user=alice");
    let made = answer.json()["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(tokens_of(&app, "alice").await.len(), 1);
    let answer = app
        .call(Method::POST, "/users/bob/tokens", Some(&alice_only), None)
        .await;
    expect(&answer, 403, "create bob's token with tokens!user=alice");
    let answer = app
        .call(Method::DELETE, &bob_token, Some(&alice_only), None)
        .await;
    expect(&answer, 404, "revoke bob's token with tokens!user=alice");
    assert_eq!(tokens_of(&app, "bob").await, bobs);
    let answer = app
        .call(
            Method::DELETE,
            &format!("/users/alice/tokens/{made}"),
            Some(&alice_only),
            None,
        )
        .await;
    expect(&answer, 204, "revoke alice's token with tokens!user=alice");
    assert!(tokens_of(&app, "alice").await.is_empty());
}

async fn lab(app: &TestApp, owner: &str) -> SpawnerRecord {
    let id = user(app, owner).await.id;
    app.store()
        .create_spawner(id, "lab")
        .await
        .expect("server created")
}

#[tokio::test]
async fn shares_need_their_capability_and_a_narrowed_scope_reaches_one_server() {
    let app = hub().await;
    let store = app.store();
    let (alice_lab, bob_lab) = (lab(&app, "alice").await, lab(&app, "bob").await);
    let carol = ShareTarget::User(user(&app, "carol").await.id);
    let with_carol = json!({"user": "carol"});

    // read:shares grants nothing: 403, no share.
    let reader = token(&app, &["read:shares"]).await;
    let answer = app
        .call(
            Method::POST,
            "/shares/alice/lab",
            Some(&reader),
            Some(&with_carol),
        )
        .await;
    expect(&answer, 403, "share alice/lab with read:shares");
    assert!(
        store
            .share_for(alice_lab.id, carol)
            .await
            .unwrap()
            .is_none()
    );

    // shares on alice/lab (and the scopes it passes on): alice's lab only.
    let alice_lab_only = token(
        &app,
        &[
            "shares!server=alice/lab",
            "access:servers!server=alice/lab",
            "read:users:name",
        ],
    )
    .await;
    let answer = app
        .call(
            Method::POST,
            "/shares/alice/lab",
            Some(&alice_lab_only),
            Some(&with_carol),
        )
        .await;
    expect(&answer, 200, "share alice/lab with shares!server=alice/lab");
    assert!(
        store
            .share_for(alice_lab.id, carol)
            .await
            .unwrap()
            .is_some()
    );
    let answer = app
        .call(
            Method::POST,
            "/shares/bob/lab",
            Some(&alice_lab_only),
            Some(&with_carol),
        )
        .await;
    expect(&answer, 404, "share bob/lab with shares!server=alice/lab");
    assert!(store.share_for(bob_lab.id, carol).await.unwrap().is_none());
    let answer = app
        .call(
            Method::POST,
            "/share-codes/bob/lab",
            Some(&alice_lab_only),
            None,
        )
        .await;
    expect(
        &answer,
        404,
        "share code of bob/lab with shares!server=alice/lab",
    );
    let bob_id = user(&app, "bob").await.id;
    let (_, codes) = store
        .share_codes_of(bob_id, Some(bob_lab.id), 0, 100)
        .await
        .unwrap();
    assert_eq!(codes, 0, "no share code on bob/lab");

    // Leaving a share needs users:shares on the recipient.
    let leave = "/users/carol/shared/alice/lab";
    let reader = token(&app, &["read:users:shares"]).await;
    let answer = app.call(Method::DELETE, leave, Some(&reader), None).await;
    expect(&answer, 403, "leave carol's share with read:users:shares");
    let bobs = token(&app, &["users:shares!user=bob"]).await;
    let answer = app.call(Method::DELETE, leave, Some(&bobs), None).await;
    expect(
        &answer,
        404,
        "leave carol's share with users:shares!user=bob",
    );
    assert!(
        store
            .share_for(alice_lab.id, carol)
            .await
            .unwrap()
            .is_some()
    );
    let carols = token(&app, &["users:shares!user=carol"]).await;
    let answer = app.call(Method::DELETE, leave, Some(&carols), None).await;
    expect(
        &answer,
        204,
        "leave carol's share with users:shares!user=carol",
    );
    assert!(
        store
            .share_for(alice_lab.id, carol)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn services_need_their_capability_and_a_narrowed_scope_reaches_one_service() {
    let app = hub().await;
    let store = app.store();
    let empty = json!({});

    let reader = token(&app, &["read:services"]).await;
    let answer = app
        .call(Method::POST, "/services/s1", Some(&reader), Some(&empty))
        .await;
    expect(&answer, 403, "add s1 with read:services");
    assert!(store.service_by_name("s1").await.unwrap().is_none());

    let s1_only = token(&app, &["admin:services!service=s1"]).await;
    let answer = app
        .call(Method::POST, "/services/s1", Some(&s1_only), Some(&empty))
        .await;
    expect(&answer, 201, "add s1 with admin:services!service=s1");
    assert!(store.service_by_name("s1").await.unwrap().is_some());
    let answer = app
        .call(Method::POST, "/services/s2", Some(&s1_only), Some(&empty))
        .await;
    expect(&answer, 404, "add s2 with admin:services!service=s1");
    assert!(store.service_by_name("s2").await.unwrap().is_none());

    let answer = app
        .call(Method::DELETE, "/services/s1", Some(&reader), None)
        .await;
    expect(&answer, 403, "remove s1 with read:services");
    assert!(store.service_by_name("s1").await.unwrap().is_some());
    let answer = app
        .call(Method::DELETE, "/services/s1", Some(&s1_only), None)
        .await;
    expect(&answer, 200, "remove s1 with admin:services!service=s1");
    assert!(store.service_by_name("s1").await.unwrap().is_none());
}

/// The OAuth client a spawn registers for `owner`'s lab server.
async fn lab_client(app: &TestApp, owner: &str) -> OAuthClient {
    let client = OAuthClient {
        identifier: format!("jupyterhub-user-{owner}-lab"),
        description: format!("Server at /user/{owner}/lab/"),
        secret: "stored-hash-of-the-server-token".into(),
        redirect_uri: format!("http://127.0.0.1:9/user/{owner}/lab/oauth_callback"),
        allowed_scopes: vec![format!("access:servers!server={owner}/lab")],
    };
    app.store()
        .upsert_oauth_client(&client)
        .await
        .expect("client stored");
    client
}

/// `GET /hub/api/oauth2/authorize` for `client` with `cookie` (a login cookie value).
async fn authorize(app: &TestApp, client: &OAuthClient, cookie: &str) -> (StatusCode, String) {
    let query = serde_urlencoded::to_string([
        ("client_id", client.identifier.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("response_type", "code"),
        ("state", "xyz"),
    ])
    .expect("query encodes");
    let request = http::Request::builder()
        .uri(format!("{}/oauth2/authorize?{query}", app.api_prefix()))
        .header(
            http::header::COOKIE,
            format!("jupyterhub-hub-login={cookie}"),
        )
        .body(axum::body::Body::empty())
        .expect("request builds");
    let response = app.request(request).await;
    let location = response
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status(), location)
}

#[tokio::test]
async fn oauth_needs_access_to_the_clients_server() {
    let app = hub().await;
    let alice_lab = lab(&app, "alice").await;
    lab(&app, "bob").await;
    let (alice_client, bob_client) = (
        lab_client(&app, "alice").await,
        lab_client(&app, "bob").await,
    );
    let carol = user(&app, "carol").await;
    let cookie = app.login_cookie(&carol);

    // carol may not access alice's server: 403, no code issued.
    let (status, location) = authorize(&app, &alice_client, &cookie).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "authorize alice/lab without access"
    );
    assert!(
        !location.contains("code="),
        "no code without access: {location}"
    );

    // Shared access to alice/lab: alice's client may ask (confirmation
    // page), bob's still may not.
    app.store()
        .upsert_share(
            alice_lab.user_id,
            alice_lab.id,
            ShareTarget::User(carol.id),
            &["access:servers!server=alice/lab".to_owned()],
        )
        .await
        .unwrap();
    let (status, location) = authorize(&app, &alice_client, &cookie).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "authorize alice/lab with a share: {location}"
    );
    let (status, location) = authorize(&app, &bob_client, &cookie).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "authorize bob/lab with alice's share"
    );
    assert!(
        !location.contains("code="),
        "no code without access: {location}"
    );
    let tokens = app
        .store()
        .tokens_of_owner(TokenOwner::User(carol.id))
        .await;
    assert!(tokens.unwrap().is_empty(), "carol got no token");
}

/// A browser page request under `/hub/` with `user`'s login cookie; `form`
/// is posted url-encoded. Answers the status, the `Location` and the body.
async fn page(
    app: &TestApp,
    method: Method,
    path: &str,
    user: &UserRecord,
    form: Option<&[(&str, &str)]>,
) -> (StatusCode, String, String) {
    let hub = app.api_prefix().trim_end_matches("api").to_owned();
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("{hub}{path}"))
        .header(
            http::header::COOKIE,
            format!("jupyterhub-hub-login={}", app.login_cookie(user)),
        );
    let body = match form {
        Some(fields) => {
            builder = builder.header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
            serde_urlencoded::to_string(fields).expect("form encodes")
        }
        None => String::new(),
    };
    let request = builder
        .body(axum::body::Body::from(body))
        .expect("request builds");
    let response = app.request(request).await;
    let status = response.status();
    let location = response
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body read");
    (
        status,
        location,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// The `_xsrf` value of the first form on a page.
fn xsrf_field(html: &str) -> String {
    let start = html
        .find(r#"name="_xsrf" value=""#)
        .map(|i| i + r#"name="_xsrf" value=""#.len())
        .expect("page has an XSRF field");
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_token_page_needs_the_tokens_scope() {
    // Users get the `user` role with read:hub only: no `tokens` on themselves.
    let app = TestApp::new(|c: &mut Config| {
        c.jupyterhub.load_roles = vec![RoleConfig {
            name: "user".into(),
            description: "users without tokens".into(),
            scopes: Some(vec!["read:hub".into()]),
            ..RoleConfig::default()
        }];
    })
    .await
    .expect("test hub starts");
    let alice = app.create_user("alice", false).await.expect("user created");
    let (status, _, html) = page(&app, Method::GET, "token", &alice, None).await;
    assert_eq!(status, StatusCode::OK, "the page itself shows: {html}");
    let xsrf = xsrf_field(&html);
    let form = [
        ("_xsrf", xsrf.as_str()),
        ("note", "n"),
        ("expires_in", "3600"),
    ];
    let (status, _, html) = page(&app, Method::POST, "token", &alice, Some(&form)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("You may not manage API tokens"), "{html}");
    assert!(tokens_of(&app, "alice").await.is_empty(), "no token made");

    // With the default roles the same form makes a token.
    let app = hub().await;
    let alice = user(&app, "alice").await;
    let (_, _, html) = page(&app, Method::GET, "token", &alice, None).await;
    let xsrf = xsrf_field(&html);
    let form = [
        ("_xsrf", xsrf.as_str()),
        ("note", "n"),
        ("expires_in", "3600"),
    ];
    let (status, _, html) = page(&app, Method::POST, "token", &alice, Some(&form)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(tokens_of(&app, "alice").await.len(), 1, "one token made");
}

#[tokio::test]
async fn a_share_code_is_accepted_only_by_someone_else() {
    let app = hub().await;
    let store = app.store();
    let alice_lab = lab(&app, "alice").await;
    let (alice, carol) = (user(&app, "alice").await, user(&app, "carol").await);
    let scopes = ["access:servers!server=alice/lab".to_owned()];
    let (_, secret) = store
        .create_share_code(alice.id, alice_lab.id, &scopes, None)
        .await
        .expect("code stored");
    let path = format!("accept-share?code={secret}");

    // One's own code: 403 on the page, nothing shared.
    let (status, _, html) = page(&app, Method::GET, &path, &alice, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(
        store
            .share_for(alice_lab.id, ShareTarget::User(alice.id))
            .await
            .unwrap()
            .is_none()
    );

    // An unknown code posted: 400, nothing shared.
    let (_, _, html) = page(&app, Method::GET, &path, &carol, None).await;
    let xsrf = xsrf_field(&html);
    let wrong = [("_xsrf", xsrf.as_str()), ("code", "not-a-code-of-anyone")];
    let (status, _, html) = page(&app, Method::POST, "accept-share", &carol, Some(&wrong)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    let carols = ShareTarget::User(carol.id);
    assert!(
        store
            .share_for(alice_lab.id, carols)
            .await
            .unwrap()
            .is_none()
    );

    // carol's acceptance makes the share and goes to the server.
    let right = [("_xsrf", xsrf.as_str()), ("code", secret.as_str())];
    let (status, location, html) =
        page(&app, Method::POST, "accept-share", &carol, Some(&right)).await;
    assert_eq!(status, StatusCode::FOUND, "{html}");
    assert!(location.ends_with("/user/alice/lab/"), "{location}");
    assert!(
        store
            .share_for(alice_lab.id, carols)
            .await
            .unwrap()
            .is_some()
    );
}

// ---------------------------------------------------------------------------
// The source check.

/// Files that may still check scopes themselves, and why (none today).
const EXEMPT: &[(&str, &str)] = &[];

/// The problems of one file's source: calls of the check methods, and string
/// literals that start with a scope name (`"admin:users"`, `"read:users:name!user=…"`,
/// `"groups!group=…"`). Plain words that are also scope names (`"users"`,
/// `"groups"`) are JSON keys as often as scopes, so only the `!` filter form
/// of those counts.
fn problems_in(source: &str) -> Vec<String> {
    let scopes: Vec<&str> = ferrohub_rbac::all_scope_names().collect();
    let mut problems = Vec::new();
    for (number, line) in source.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        for call in [".require(", ".require_any_form("] {
            if code.contains(call) {
                problems.push(format!("line {}: calls {call}", number + 1));
            }
        }
        for scope in &scopes {
            let qualified = scope.contains(':') || scope.contains('-');
            let mut forms = vec![format!("\"{scope}!")];
            if qualified {
                forms.extend([format!("\"{scope}\""), format!("\"{scope} ")]);
            }
            if forms.iter().any(|f| code.contains(f.as_str())) {
                problems.push(format!("line {}: scope literal {scope:?}", number + 1));
            }
        }
    }
    problems
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source directory readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn handlers_name_no_scopes_and_make_no_checks_of_their_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for dir in ["api", "pages"] {
        rust_files(&src.join(dir), &mut files);
    }
    assert!(files.len() > 10, "found only {files:?}");
    let mut problems = Vec::new();
    for path in files {
        let relative = path
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        if EXEMPT.iter().any(|(file, _)| *file == relative) {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("source readable");
        for problem in problems_in(&source) {
            problems.push(format!("src/{relative} {problem}"));
        }
    }
    assert!(
        problems.is_empty(),
        "handlers must obtain capabilities (src/capability*) and name scopes by \
         ferrohub_rbac::scopes constants:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_source_check_finds_what_it_forbids() {
    assert_eq!(
        problems_in("    who.require(&state, &[scopes::GROUPS], Target::Hub).await?;").len(),
        1
    );
    assert_eq!(problems_in("    who.require_any_form(&[x])?;").len(), 1);
    assert_eq!(problems_in(r#"    let s = ["admin:users"];"#).len(), 1);
    assert_eq!(
        problems_in(r#"    format!("read:users:name!user={name}")"#).len(),
        1
    );
    assert_eq!(
        problems_in(r#"    "list:users may only be filtered""#).len(),
        1
    );
    assert_eq!(problems_in(r#"    format!("groups!group={g}")"#).len(), 1);
    // JSON keys that happen to be scope names, comments and constants pass.
    assert!(problems_in(r#"    json!({"users": [], "groups": [], "servers": {}})"#).is_empty());
    assert!(problems_in("    // needs \"admin:users\" on the user").is_empty());
    assert!(problems_in("    who.on_group::<EditGroup>(&state, &name).await?;").is_empty());
    assert!(problems_in("    scopes::ADMIN_USERS.as_str()").is_empty());
}

#[test]
fn exemptions_are_real_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (file, why) in EXEMPT {
        assert!(!why.is_empty());
        assert!(
            src.join(file).is_file(),
            "exempt file {file} does not exist"
        );
    }
}

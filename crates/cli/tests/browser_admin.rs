//! The admin page (`/hub/admin`) in a real browser: headless Chromium driving
//! `tests/browser/admin_*.mjs` against a real hub, its ferrohub-proxy and real
//! jupyterhub-singleuser servers. The scripts report what the admin saw; these
//! tests check it and then ask the REST API what really happened.

mod support;

use serde_json::{Value, json};
use support::TestHub;
use support::api::{Api, token_for};
use support::browser::Browser;

const ADMIN: &str = "boss";

fn admin_hub() -> TestHub {
    TestHub::start(&[("Authenticator", &format!("admin_users = [\"{ADMIN}\"]"))])
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_adds_users_and_starts_and_stops_their_servers() {
    let hub = admin_hub();
    let users = ["team-amy", "team-ben", "team-cal"];
    let seen = support::chromium::run(
        "admin_servers.mjs",
        json!({
            "url": hub.public_url(),
            "admin": ADMIN,
            "password": "pw",
            "users": users,
            "filter": "team-",
            "rename": "team-cid",
        }),
    )
    .await;

    assert_eq!(seen["loginNext"], "/hub/admin");
    let list = &seen["list"];
    assert_eq!(list["title"], "Admin - ferrohub");
    assert_eq!(list["heading"], "Admin");
    assert_eq!(
        list["navLinks"],
        json!(["Home", "Token", "Admin", "Log out"])
    );
    assert_eq!(list["summary"], "Showing 1–1 of 1 users");
    assert_eq!(list["rows"], 1, "only the admin so far");
    assert_eq!(seen["addDialogFocused"], "add-usernames");
    assert_eq!(
        seen["added"],
        "Added 3 users: team-amy, team-ben, team-cal."
    );

    let filtered = &seen["filtered"];
    assert_eq!(strings(&filtered["names"]), users);
    assert_eq!(filtered["summary"], "Showing 1–3 of 3 users");
    assert!(
        filtered["url"]
            .as_str()
            .unwrap()
            .ends_with("/hub/admin?name_filter=team-"),
        "the view is kept in the address: {filtered}"
    );

    // One row's buttons.
    assert_eq!(seen["firstStarting"], "starting");
    assert_eq!(seen["firstOpen"], "/user/team-amy/");
    assert_eq!(seen["firstStopped"], "Stopped team-amy's server.");

    // Start All: every row went through "starting" to "running".
    let start_all = &seen["startAll"];
    assert_eq!(
        start_all["status"],
        "Start All finished: 3 of 3 running.",
        "{start_all}"
    );
    assert_eq!(start_all["error"], false);
    for user in users {
        let states = strings(&start_all["seen"][format!("{user}/")]);
        assert_eq!(states.last(), Some(&"running"), "{user}: {states:?}");
        assert!(states.contains(&"starting"), "{user}: {states:?}");
    }
    assert_eq!(
        seen["apiAfterStartAll"],
        json!({"team-amy": true, "team-ben": true, "team-cal": true})
    );

    let stop_all = &seen["stopAll"];
    assert_eq!(
        stop_all["status"],
        "Stop All finished: 3 of 3 stopped.",
        "{stop_all}"
    );
    for user in users {
        let states = strings(&stop_all["seen"][format!("{user}/")]);
        assert_eq!(states.last(), Some(&"stopped"), "{user}: {states:?}");
    }

    // Edit and delete.
    assert_eq!(
        strings(&seen["afterEdit"]["names"]),
        ["team-amy", "team-ben", "team-cid"]
    );
    assert_eq!(seen["afterEdit"]["admin"], "Yes");
    assert!(
        seen["confirmText"]
            .as_str()
            .unwrap()
            .starts_with("Delete the user \"team-ben\"?"),
        "{seen}"
    );
    assert_eq!(
        strings(&seen["afterCancel"]),
        ["team-amy", "team-ben", "team-cid"]
    );
    assert_eq!(strings(&seen["afterDelete"]["names"]), ["team-amy", "team-cid"]);
    assert_eq!(seen["afterDelete"]["summary"], "Showing 1–2 of 2 users");
    assert_eq!(seen["dialogs"], json!([]), "no alert() or confirm() popped up");

    // The hub agrees: no server left running, the rename and the deletion happened.
    let api = Api::new(&hub);
    let token = token_for(&hub, ADMIN);
    for user in ["team-amy", "team-cid"] {
        let (status, model) = api.get(&token, &format!("/users/{user}")).await;
        assert_eq!(status, 200, "{user}");
        assert_eq!(model["servers"], json!({}), "{user}: {model}");
        assert!(hub.server_pids(user).is_empty(), "{user}");
    }
    let (_, cid) = api.get(&token, "/users/team-cid").await;
    assert_eq!(cid["admin"], true);
    assert_eq!(api.get(&token, "/users/team-cal").await.0, 404);
    assert_eq!(api.get(&token, "/users/team-ben").await.0, 404);
    let routes = hub.routes().await;
    assert!(
        routes.as_object().unwrap().keys().all(|r| !r.starts_with("/user/")),
        "{routes}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_page_needs_admin_ui() {
    let hub = admin_hub();
    let url = format!("{}/hub/admin", hub.public_url());

    // Signed out: to the login page, coming back here.
    let stranger = Browser::new(&hub.public_url());
    let response = stranger.single.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        "/hub/login?next=%2Fhub%2Fadmin"
    );

    // A signed-in user without admin-ui: a readable 403 page, no Admin link.
    let plain = Browser::new(&hub.public_url());
    assert_eq!(plain.login("pat", "pw", None).await.status(), 302);
    let response = plain.single.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("The admin page needs the admin-ui permission, which you do not have."),
        "{html}"
    );
    assert!(!html.contains("admin.js"), "{html}");
    assert!(!html.contains(">Admin</a>"), "{html}");
    let home = plain
        .single
        .get(format!("{}/hub/home", hub.public_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!home.contains(">Admin</a>"), "{home}");

    // The admin: the shell, its script and the XSRF token the script sends.
    let admin = Browser::new(&hub.public_url());
    assert_eq!(admin.login(ADMIN, "pw", None).await.status(), 302);
    let response = admin.single.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains(">Admin</a>"), "{html}");
    assert!(html.contains("admin.js?v="), "{html}");
    let xsrf = html
        .split("data-xsrf=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert!(xsrf.len() >= 16, "{xsrf}");
    let script = admin
        .single
        .get(format!("{}/hub/static/admin.js", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(!script.text().await.unwrap().contains("innerHTML"));

    // The page's token lets the cookie write through the API, and nothing else does.
    let create = |xsrf: Option<&str>| {
        let mut request = admin
            .single
            .post(format!("{}/hub/api/users/quinn", hub.public_url()));
        if let Some(xsrf) = xsrf {
            request = request.header("X-XSRFToken", xsrf);
        }
        request.send()
    };
    assert_eq!(create(None).await.unwrap().status(), 403);
    assert_eq!(create(Some("forged")).await.unwrap().status(), 403);
    assert_eq!(create(Some(&xsrf)).await.unwrap().status(), 201);
}

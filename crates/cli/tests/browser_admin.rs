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
    TestHub::start(&[
        ("Authenticator", &format!("admin_users = [\"{ADMIN}\"]")),
        ("JupyterHub", "allow_named_servers = true"),
    ])
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
    assert_eq!(list["summary"], "Showing 1–1 of 1 user");
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

    // A named server's row: stopped and started again from its buttons.
    assert!(
        [201, 202].contains(&seen["namedCreated"].as_u64().unwrap()),
        "{seen}"
    );
    assert_eq!(
        seen["namedRows"],
        json!([["", "stopped"], ["nb", "running"]])
    );
    assert_eq!(seen["namedStopping"], "stopping");
    assert_eq!(seen["namedStopped"], "Stopped server nb of team-amy.");
    assert_eq!(seen["focusAfterStop"], "Start server nb of team-amy");
    assert_eq!(seen["namedStarting"], "starting");
    assert_eq!(seen["namedOpen"], "/user/team-amy/nb/");
    assert_eq!(seen["namedStarted"], "Started server nb of team-amy.");

    // Start All: every row went through "starting" to "running".
    let start_all = &seen["startAll"];
    assert_eq!(
        start_all["status"], "Start All finished: 3 of 3 running.",
        "{start_all}"
    );
    assert_eq!(start_all["error"], false);
    for user in users {
        let states = strings(&start_all["seen"][format!("{user}/")]);
        assert_eq!(states, ["stopped", "starting", "running"], "{user}");
    }
    assert_eq!(
        seen["apiAfterStartAll"],
        json!({"team-amy": true, "team-ben": true, "team-cal": true})
    );

    let stop_all = &seen["stopAll"];
    assert_eq!(
        stop_all["status"], "Stop All finished: 4 of 4 stopped.",
        "{stop_all}"
    );
    for row in ["team-amy/", "team-amy/nb", "team-ben/", "team-cal/"] {
        let states = strings(&stop_all["seen"][row]);
        assert_eq!(states, ["running", "stopping", "stopped"], "{row}");
    }
    assert_eq!(seen["afterRemove"], json!([""]), "the named server is gone");

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
    assert_eq!(
        strings(&seen["afterDelete"]["names"]),
        ["team-amy", "team-cid"]
    );
    assert_eq!(seen["afterDelete"]["summary"], "Showing 1–2 of 2 users");
    assert_eq!(
        seen["dialogs"],
        json!([]),
        "no alert() or confirm() popped up"
    );

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
        routes
            .as_object()
            .unwrap()
            .keys()
            .all(|r| !r.starts_with("/user/")),
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

/// The first `n` of `names` in the order the API sorts by name (bytes).
fn first_by_name(names: &[String], n: usize, descending: bool) -> Vec<String> {
    let mut sorted = names.to_vec();
    sorted.sort();
    if descending {
        sorted.reverse();
    }
    sorted.into_iter().take(n).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_sorts_and_filters_two_thousand_users_shows_markup_as_text_and_edits_groups() {
    let hub = admin_hub();
    let api = Api::new(&hub);
    let token = token_for(&hub, ADMIN);
    let markup = ["<img src=x onerror=alert(1)>", "a&b \"q\" <b>x"];
    let mut everyone: Vec<String> = (0..2000).map(|i| format!("user-{i:04}")).collect();
    everyone.extend(markup.iter().map(|m| (*m).to_owned()));
    // Fast set-up: the users in one request, two of them with an activity.
    let created = api
        .call(&token, reqwest::Method::POST, "/users")
        .json(&json!({ "usernames": everyone }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    for (user, when) in [
        ("user-0005", "2020-01-01T00:00:00Z"),
        ("user-0007", "2021-01-01T00:00:00Z"),
    ] {
        let response = api
            .call(
                &token,
                reqwest::Method::POST,
                &format!("/users/{user}/activity"),
            )
            .json(&json!({ "last_activity": when }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{user}");
    }
    everyone.push(ADMIN.to_owned());
    let total = everyone.len();
    assert_eq!(total, 2003);

    let seen = support::chromium::run(
        "admin_many.mjs",
        json!({
            "url": hub.public_url(),
            "admin": ADMIN,
            "password": "pw",
            "markup": markup,
            "members": ["user-0001", "user-0002"],
            "missing": "nobody",
        }),
    )
    .await;

    // The first page, in id order: the admin came first, then the batch
    // (which the hub creates in name order).
    let first = &seen["first"];
    assert_eq!(first["summary"], "Showing 1–50 of 2,003 users");
    assert_eq!(first["page"], "Page 1 of 41");
    assert_eq!(first["prevDisabled"], true);
    assert_eq!(first["sort"], json!(["none", "none"]));
    let names = strings(&first["names"]);
    assert_eq!(names.len(), 50);
    assert_eq!(names[0], ADMIN);
    assert_eq!(names[1..4], [markup[0], markup[1], "user-0000"]);

    let page_names = |key: &str| -> Vec<String> {
        strings(&seen[key]["names"])
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        page_names("nameAscending"),
        first_by_name(&everyone, 50, false)
    );
    assert_eq!(seen["nameAscending"]["url"], "?sort=name");
    assert_eq!(
        page_names("nameDescending"),
        first_by_name(&everyone, 50, true)
    );
    assert_eq!(seen["nameDescending"]["url"], "?sort=-name");
    assert_eq!(seen["otherHeader"], "none");
    // Users never seen sort last both ways (the admin has just signed in).
    let ascending = page_names("activityAscending");
    assert_eq!(ascending[..3], ["user-0005", "user-0007", ADMIN]);
    let descending = page_names("activityDescending");
    assert_eq!(descending[..3], [ADMIN, "user-0007", "user-0005"]);
    assert_eq!(seen["activityDescending"]["url"], "?sort=-last_activity");
    for key in ["nameAscending", "nameDescending", "activityAscending"] {
        assert_eq!(seen[key]["summary"], "Showing 1–50 of 2,003 users", "{key}");
    }

    assert_eq!(
        seen["secondPage"]["summary"],
        "Showing 51–100 of 2,003 users"
    );
    assert_eq!(seen["secondPage"]["page"], "Page 2 of 41");
    assert_eq!(seen["sortResetsOffset"], "Showing 1–50 of 2,003 users");

    let filtered = page_names("filtered");
    assert_eq!(seen["filtered"]["summary"], "Showing 1–50 of 100 users");
    assert_eq!(
        filtered,
        (100..150)
            .map(|i| format!("user-{i:04}"))
            .collect::<Vec<_>>(),
        "filtered, still sorted by name"
    );
    assert_eq!(
        page_names("filteredSecond"),
        (150..200)
            .map(|i| format!("user-{i:04}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(seen["filteredSecond"]["nextDisabled"], true);

    assert_eq!(seen["active"]["summary"], "No users match the filter.");
    assert_eq!(seen["active"]["names"], json!([]));
    assert_eq!(seen["inactive"]["summary"], "Showing 1–50 of 2,003 users");
    assert_eq!(seen["pageSize"]["summary"], "Showing 1–10 of 2,003 users");
    assert_eq!(seen["pageSize"]["page"], "Page 1 of 201");

    // Markup shown as text, never as elements, and no script ran.
    for (shown, name) in seen["markup"].as_array().unwrap().iter().zip(markup) {
        assert_eq!(shown["name"], name);
        assert_eq!(shown["data"], name);
        assert_eq!(shown["editing"], name);
        assert_eq!(shown["images"], 0, "{shown}");
        assert_eq!(shown["startName"], format!("Start {name}'s server"));
    }
    assert_eq!(seen["dialogs"], json!([]), "no alert() ran");
    assert_eq!(
        seen["addExisting"],
        "Could not add users: All 1 users already exist"
    );

    // Groups, as the admin saw them and as the API has them.
    assert_eq!(seen["groupsHash"], "#groups");
    assert_eq!(seen["groupsTabSelected"], "true");
    assert_eq!(seen["members"], json!([markup[0], "user-0001"]));
    assert_eq!(seen["memberImages"], 0);
    assert_eq!(seen["missingMember"], "No such user: nobody");
    assert_eq!(
        seen["badProperties"],
        "Properties must be a JSON object, for example {\"course\": \"physics\"}."
    );
    let properties = json!({"course": "physics 101", "seats": 30});
    assert_eq!(seen["propertiesShown"], properties);
    assert_eq!(
        seen["groupConfirm"],
        "Delete the group \"scratch\"? Its members stay, without this group."
    );
    assert_eq!(seen["groupsLeft"], json!(["physics"]));
    assert_eq!(seen["groupsSummary"], "Showing 1–1 of 1 group");

    let (status, physics) = api.get(&token, "/groups/physics").await;
    assert_eq!(status, 200);
    let mut members = strings(&physics["users"]);
    members.sort_unstable();
    assert_eq!(members, [markup[0], "user-0001"]);
    assert_eq!(physics["properties"], properties);
    assert_eq!(api.get(&token, "/groups/scratch").await.0, 404);
    let (_, marked) = api
        .get(
            &token,
            &format!("/users/{}", support::browser::urlencode(markup[0])),
        )
        .await;
    assert_eq!(marked["groups"], json!(["physics"]));
}

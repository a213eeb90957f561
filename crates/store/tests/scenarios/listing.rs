//! `GET /users`: filters, sorting (NULL activity last both ways), pagination
//! totals and filtered-scope visibility; renames, counts and user look-ups.

use std::collections::BTreeSet;

use chrono::TimeDelta;
use ferrohub_store::{
    OAuthClient, ServerAddress, ServerState, Store, StoreError, UserQuery, UserRecord, UserSort,
    Visibility,
};
use serde_json::json;

use crate::support::{TestDb, db_now};

/// Names of a page and its total, for compact assertions.
async fn page(store: &Store, query: &UserQuery) -> (Vec<String>, i64) {
    let (users, total) = store.list_users_page(query).await.unwrap();
    (users.into_iter().map(|u| u.name).collect(), total)
}

fn all() -> UserQuery {
    UserQuery {
        limit: 100,
        ..UserQuery::default()
    }
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

pub async fn users_query(db: &TestDb) {
    let store = db.store().await;
    store.prepare().await.unwrap();
    let t0 = db_now() - TimeDelta::hours(5);
    let mut users: Vec<UserRecord> = Vec::new();
    for name in ["ann", "bob", "carol", "dave", "erin_5", "erinx5"] {
        users.push(store.create_user(name, false).await.unwrap());
    }
    let id = |name: &str| users.iter().find(|u| u.name == name).unwrap().id;
    for (name, hours) in [("ann", 2), ("carol", 1), ("erin_5", 3), ("erinx5", 0)] {
        store
            .touch_user(id(name), &(t0 + TimeDelta::hours(hours)))
            .await
            .unwrap();
    }
    let ids_order = ["ann", "bob", "carol", "dave", "erin_5", "erinx5"];

    // Order: id (default), name, last activity with never-active users last both ways.
    assert_eq!(page(&store, &all()).await, (names(&ids_order), 6));
    let by_id_desc = UserQuery {
        descending: true,
        ..all()
    };
    let mut reversed = ids_order;
    reversed.reverse();
    assert_eq!(page(&store, &by_id_desc).await, (names(&reversed), 6));
    let by_name_desc = UserQuery {
        sort: UserSort::Name,
        descending: true,
        ..all()
    };
    assert_eq!(page(&store, &by_name_desc).await.0, names(&reversed));
    let by_activity = UserQuery {
        sort: UserSort::LastActivity,
        ..all()
    };
    assert_eq!(
        page(&store, &by_activity).await.0,
        names(&["erinx5", "carol", "ann", "erin_5", "bob", "dave"])
    );
    let by_activity_desc = UserQuery {
        descending: true,
        ..by_activity.clone()
    };
    assert_eq!(
        page(&store, &by_activity_desc).await.0,
        names(&["erin_5", "ann", "carol", "erinx5", "dave", "bob"]),
        "NULL last_activity sorts last when descending too"
    );

    // Pagination: the total ignores offset and limit.
    let window = |offset, limit| UserQuery {
        offset,
        limit,
        ..all()
    };
    assert_eq!(
        page(&store, &window(2, 2)).await,
        (names(&["carol", "dave"]), 6)
    );
    assert_eq!(page(&store, &window(10, 2)).await, (Vec::new(), 6));
    assert_eq!(page(&store, &window(0, 0)).await, (Vec::new(), 6));
    assert_eq!(
        page(&store, &window(-3, 1)).await,
        (names(&["ann"]), 6),
        "a negative offset reads as 0"
    );
    let activity_page = UserQuery {
        offset: 3,
        limit: 2,
        ..by_activity
    };
    assert_eq!(
        page(&store, &activity_page).await,
        (names(&["erin_5", "bob"]), 6)
    );

    // Name filter: case-insensitive substring; LIKE wildcards match themselves.
    let filtered = |filter: &str| UserQuery {
        name_filter: Some(filter.to_owned()),
        ..all()
    };
    assert_eq!(
        page(&store, &filtered("ERIN")).await,
        (names(&["erin_5", "erinx5"]), 2)
    );
    assert_eq!(
        page(&store, &filtered("n_5")).await,
        (names(&["erin_5"]), 1)
    );
    assert_eq!(page(&store, &filtered("%")).await, (Vec::new(), 0));
    assert_eq!(
        page(&store, &filtered("A")).await,
        (names(&["ann", "carol", "dave"]), 3)
    );

    // State: active = has a server row.
    let carol_client = "jupyterhub-user-carol";
    store
        .upsert_oauth_client(&OAuthClient {
            identifier: carol_client.to_owned(),
            description: String::new(),
            secret: String::new(),
            redirect_uri: "/user/carol/oauth_callback".to_owned(),
            allowed_scopes: Vec::new(),
        })
        .await
        .unwrap();
    let carol_default = store.spawner(id("carol"), "").await.unwrap().unwrap();
    let address = ServerAddress {
        proto: "http".to_owned(),
        ip: "127.0.0.1".to_owned(),
        port: 50_001,
        base_url: "/user/carol/".to_owned(),
    };
    store
        .record_server_started(carol_default.id, &address, &json!({}), carol_client)
        .await
        .unwrap();
    let active = UserQuery {
        state: Some(ServerState::Active),
        ..all()
    };
    assert_eq!(page(&store, &active).await, (names(&["carol"]), 1));
    let inactive = UserQuery {
        state: Some(ServerState::Inactive),
        name_filter: Some("a".to_owned()),
        ..all()
    };
    assert_eq!(page(&store, &inactive).await, (names(&["ann", "dave"]), 2));
    assert_eq!(store.count_active_spawners().await.unwrap(), 1);

    // Visibility: named users OR members of named groups.
    let team = store.create_group("team", &json!({})).await.unwrap();
    store
        .add_group_members(team.id, &[id("dave"), id("erinx5")])
        .await
        .unwrap();
    let visible = |users: &[&str], groups: &[&str]| UserQuery {
        visible: Some(Visibility {
            users: set(users),
            groups: set(groups),
        }),
        ..all()
    };
    assert_eq!(
        page(&store, &visible(&["ann"], &["team"])).await,
        (names(&["ann", "dave", "erinx5"]), 3)
    );
    assert_eq!(
        page(&store, &visible(&["ann", "dave"], &[])).await,
        (names(&["ann", "dave"]), 2)
    );
    assert_eq!(
        page(&store, &visible(&[], &["team", "no-such-group"])).await,
        (names(&["dave", "erinx5"]), 2)
    );
    assert_eq!(page(&store, &visible(&[], &[])).await, (Vec::new(), 0));
    let visible_page = UserQuery {
        limit: 1,
        offset: 1,
        name_filter: Some("e".to_owned()),
        ..visible(&["ann"], &["team"])
    };
    assert_eq!(
        page(&store, &visible_page).await,
        (names(&["erinx5"]), 2),
        "visibility, filter and window combine"
    );

    renames(&store, id("bob"), id("ann")).await;
    counts_and_lookups(&store, t0, &users).await;
    store.close().await;
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| (*n).to_owned()).collect()
}

async fn renames(store: &Store, bob: i64, ann: i64) {
    store.rename_user(bob, "robert").await.unwrap();
    assert_eq!(store.user_by_name("bob").await.unwrap(), None);
    assert_eq!(
        store.user_by_name("robert").await.unwrap().map(|u| u.id),
        Some(bob)
    );
    match store.rename_user(bob, "ann").await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("ann"), "{what}"),
        other => panic!("rename onto a taken name: expected Conflict, got {other:?}"),
    }
    assert_eq!(
        store.user_by_id(ann).await.unwrap().map(|u| u.name),
        Some("ann".to_owned())
    );
    assert_eq!(
        store.user_by_id(bob).await.unwrap().map(|u| u.name),
        Some("robert".to_owned())
    );
}

async fn counts_and_lookups(
    store: &Store,
    t0: ferrohub_core::time::Timestamp,
    users: &[UserRecord],
) {
    assert_eq!(store.count_users().await.unwrap(), 6);
    let since = t0 + TimeDelta::minutes(90);
    assert_eq!(store.count_users_active_since(&since).await.unwrap(), 2);
    assert_eq!(store.count_users_active_since(&t0).await.unwrap(), 4);

    let found = store
        .users_by_names(&names(&["dave", "nobody", "ann", "dave"]))
        .await
        .unwrap();
    let found: Vec<&str> = found.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(found, ["ann", "dave"]);
    assert!(store.users_by_names(&[]).await.unwrap().is_empty());

    let dave = users.iter().find(|u| u.name == "dave").unwrap();
    assert!(store.list_admin_users().await.unwrap().is_empty());
    store.set_admin(dave.id, true).await.unwrap();
    let admins: Vec<String> = store
        .list_admin_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(admins, ["dave"]);

    assert_eq!(dave.user_info, None, "new users have no user_info");
    let info = json!({"email": "dave@example.org", "uid": 1001});
    store.set_user_info(dave.id, Some(&info)).await.unwrap();
    let read = store.user_by_id(dave.id).await.unwrap().unwrap();
    assert_eq!(read.user_info, Some(info));
    store.set_user_info(dave.id, None).await.unwrap();
    assert_eq!(
        store.user_by_id(dave.id).await.unwrap().unwrap().user_info,
        None
    );

    // encrypted_auth_state: bytes in, the same bytes out (any byte value).
    assert_eq!(store.encrypted_auth_state(dave.id).await.unwrap(), None);
    let token: Vec<u8> = b"gAAAAAB-token=="
        .iter()
        .copied()
        .chain([0u8, 0xff, 0x80])
        .collect();
    store
        .set_encrypted_auth_state(dave.id, Some(&token))
        .await
        .unwrap();
    assert_eq!(
        store.encrypted_auth_state(dave.id).await.unwrap(),
        Some(token)
    );
    store.set_encrypted_auth_state(dave.id, None).await.unwrap();
    assert_eq!(store.encrypted_auth_state(dave.id).await.unwrap(), None);
    assert_eq!(store.encrypted_auth_state(i64::MAX).await.unwrap(), None);
}

//! Groups and their members; roles, grants, membership sync and the one-query
//! scope union (a user's roles plus their groups' roles).

use ferrohub_store::{RoleHolder, RoleKind, Store, StoreError};
use serde_json::json;
use sqlx::AnyPool;

use crate::scenarios::servers::service;
use crate::support::{TestDb, count, sql};

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

async fn group_names(store: &Store, user_id: i64) -> Vec<String> {
    store.group_names_of_user(user_id).await.unwrap()
}

pub async fn groups_and_roles(db: &TestDb) {
    let store = db.store().await;
    store.prepare().await.unwrap();
    let raw = db.raw().await;
    let ann = store.create_user("ann", false).await.unwrap().id;
    let bob = store.create_user("bob", false).await.unwrap().id;
    let cat = store.create_user("cat", false).await.unwrap().id;

    let staff = store
        .create_group("staff", &json!({"room": 101}))
        .await
        .unwrap();
    assert_eq!(staff.name, "staff");
    assert_eq!(staff.properties, json!({"room": 101}));
    match store.create_group("staff", &json!({})).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("staff"), "{what}"),
        other => panic!("duplicate group: expected Conflict, got {other:?}"),
    }
    assert_eq!(
        store.group_by_name("staff").await.unwrap(),
        Some(staff.clone())
    );
    assert_eq!(
        store.group_by_id(staff.id).await.unwrap(),
        Some(staff.clone())
    );
    assert_eq!(store.group_by_name("nope").await.unwrap(), None);
    let devs = store.create_group("devs", &json!({})).await.unwrap();
    let ops = store.create_group("ops", &json!({})).await.unwrap();

    // Membership: idempotent adds, removals ignore non-members, sorted names both ways.
    store
        .add_group_members(staff.id, &[bob, ann])
        .await
        .unwrap();
    store.add_group_members(staff.id, &[bob]).await.unwrap();
    assert_eq!(
        store.group_member_names(staff.id).await.unwrap(),
        ["ann", "bob"]
    );
    store
        .remove_group_members(staff.id, &[bob, cat])
        .await
        .unwrap();
    assert_eq!(store.group_member_names(staff.id).await.unwrap(), ["ann"]);
    assert_eq!(group_names(&store, ann).await, ["staff"]);
    store
        .set_user_groups(ann, &[ops.id, devs.id])
        .await
        .unwrap();
    assert_eq!(group_names(&store, ann).await, ["devs", "ops"], "replaced");
    assert!(store.group_member_names(staff.id).await.unwrap().is_empty());
    assert!(group_names(&store, bob).await.is_empty());

    // Paging, by id, with an optional visibility filter.
    let page = |visible: Option<Vec<&'static str>>, offset, limit| {
        let store = store.clone();
        async move {
            let visible = visible.map(|v| v.into_iter().map(str::to_owned).collect());
            let (groups, total) = store
                .list_groups_page(visible.as_ref(), offset, limit)
                .await
                .unwrap();
            (
                groups.into_iter().map(|g| g.name).collect::<Vec<_>>(),
                total,
            )
        }
    };
    assert_eq!(page(None, 0, 2).await, (strings(&["staff", "devs"]), 3));
    assert_eq!(page(None, 2, 2).await, (strings(&["ops"]), 3));
    assert_eq!(
        page(Some(vec!["ops", "nope"]), 0, 10).await,
        (strings(&["ops"]), 1)
    );
    assert_eq!(page(Some(vec![]), 0, 10).await, (Vec::new(), 0));

    store
        .set_group_properties(devs.id, &json!({"lang": ["rust"]}))
        .await
        .unwrap();
    assert_eq!(
        store
            .group_by_name("devs")
            .await
            .unwrap()
            .unwrap()
            .properties,
        json!({"lang": ["rust"]})
    );
    corrupt_json_is_reported(&store, &raw).await;

    roles(&store, &raw, [ann, bob, cat], devs.id).await;

    assert!(store.delete_group(ops.id).await.unwrap());
    assert!(!store.delete_group(ops.id).await.unwrap());
    assert_eq!(group_names(&store, ann).await, ["devs"]);
    assert_eq!(store.group_by_name("ops").await.unwrap(), None);
    raw.close().await;
    store.close().await;
}

/// Bad JSON in a column is an error naming the column, never a panic or a default.
async fn corrupt_json_is_reported(store: &Store, raw: &AnyPool) {
    sqlx::query("UPDATE groups SET properties = '{not json' WHERE name = 'devs'")
        .execute(raw)
        .await
        .unwrap();
    match store.group_by_name("devs").await {
        Err(StoreError::Corrupt { what, .. }) => assert_eq!(what, "groups.properties"),
        other => panic!("corrupt properties: expected Corrupt, got {other:?}"),
    }
    sqlx::query("UPDATE groups SET properties = NULL WHERE name = 'devs'")
        .execute(raw)
        .await
        .unwrap();
    assert_eq!(
        store
            .group_by_name("devs")
            .await
            .unwrap()
            .unwrap()
            .properties,
        json!({}),
        "NULL reads as an empty object"
    );
}

async fn roles(store: &Store, raw: &AnyPool, [ann, bob, cat]: [i64; 3], devs: i64) {
    let reader = store
        .upsert_role("reader", "reads things", &strings(&["read:users"]))
        .await
        .unwrap();
    assert_eq!(reader.description.as_deref(), Some("reads things"));
    assert_eq!(reader.scopes, ["read:users"]);
    assert!(!reader.managed_by_auth);
    let updated = store
        .upsert_role("reader", "", &strings(&["read:users", "read:groups"]))
        .await
        .unwrap();
    assert_eq!(updated.id, reader.id, "updated in place");
    assert_eq!(updated.description, None);
    assert_eq!(updated.scopes, ["read:users", "read:groups"]);
    let grouper = store
        .upsert_role(
            "grouper",
            "",
            &strings(&["read:groups!group=devs", "read:users"]),
        )
        .await
        .unwrap();
    let svc_role = store
        .upsert_role("svc", "", &strings(&["list:services"]))
        .await
        .unwrap();
    let user_role = store
        .upsert_role("user", "", &strings(&["self"]))
        .await
        .unwrap();
    let names: Vec<String> = store
        .list_roles()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["grouper", "reader", "svc", "user"]);
    assert_eq!(store.role_by_name("nope").await.unwrap(), None);

    // managed_by_auth survives a config upsert.
    sqlx::query("UPDATE roles SET managed_by_auth = TRUE WHERE name = 'svc'")
        .execute(raw)
        .await
        .unwrap();
    let svc_again = store
        .upsert_role("svc", "services", &strings(&["list:services"]))
        .await
        .unwrap();
    assert!(svc_again.managed_by_auth);

    // Direct and group grants; the union is sorted and distinct.
    store
        .grant_role(RoleHolder::User(ann), reader.id)
        .await
        .unwrap();
    store
        .grant_role(RoleHolder::User(ann), reader.id)
        .await
        .unwrap();
    store
        .grant_role(RoleHolder::Group(devs), grouper.id)
        .await
        .unwrap();
    assert_eq!(
        store.user_role_scopes(ann).await.unwrap(),
        ["read:groups", "read:groups!group=devs", "read:users"]
    );
    assert!(store.user_role_scopes(bob).await.unwrap().is_empty());
    let role_names = |holder| {
        let store = store.clone();
        async move {
            store
                .roles_of(holder)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(role_names(RoleHolder::User(ann)).await, ["reader"]);
    assert_eq!(role_names(RoleHolder::Group(devs)).await, ["grouper"]);
    store
        .revoke_role(RoleHolder::User(ann), reader.id)
        .await
        .unwrap();
    store
        .revoke_role(RoleHolder::User(ann), reader.id)
        .await
        .unwrap();
    assert_eq!(
        store.user_role_scopes(ann).await.unwrap(),
        ["read:groups!group=devs", "read:users"],
        "still held through the group"
    );

    // Exact membership per kind; kept grants keep their managed_by_auth flag.
    let announcer = store.upsert_service(&service("announcer")).await.unwrap();
    store
        .set_role_members(reader.id, RoleKind::User, &[ann, bob])
        .await
        .unwrap();
    sqlx::query(sql(
        raw,
        "UPDATE user_role_map SET managed_by_auth = TRUE WHERE user_id = $1",
    ))
    .bind(bob)
    .execute(raw)
    .await
    .unwrap();
    store
        .set_role_members(reader.id, RoleKind::User, &[bob, cat])
        .await
        .unwrap();
    store
        .set_role_members(reader.id, RoleKind::Group, &[devs])
        .await
        .unwrap();
    store
        .set_role_members(reader.id, RoleKind::Service, &[announcer.id])
        .await
        .unwrap();
    let members = store.role_member_ids(reader.id).await.unwrap();
    let mut expected_users = vec![bob, cat];
    expected_users.sort_unstable();
    assert_eq!(members.users, expected_users);
    assert_eq!(members.groups, [devs]);
    assert_eq!(members.services, [announcer.id]);
    let sql = "SELECT COUNT(*) FROM user_role_map WHERE managed_by_auth = TRUE AND user_id = $1";
    assert_eq!(count(raw, sql, Some(bob)).await, 1, "kept grant untouched");
    store
        .set_role_members(reader.id, RoleKind::Group, &[])
        .await
        .unwrap();
    assert!(
        store
            .role_member_ids(reader.id)
            .await
            .unwrap()
            .groups
            .is_empty()
    );

    store
        .grant_role(RoleHolder::Service(announcer.id), svc_role.id)
        .await
        .unwrap();
    assert_eq!(
        store.service_role_scopes(announcer.id).await.unwrap(),
        ["list:services", "read:groups", "read:users"]
    );
    assert_eq!(
        role_names(RoleHolder::Service(announcer.id)).await,
        ["reader", "svc"]
    );

    assert_eq!(
        store.grant_role_to_all_users(user_role.id).await.unwrap(),
        3
    );
    assert_eq!(
        store.grant_role_to_all_users(user_role.id).await.unwrap(),
        0
    );
    assert_eq!(
        store
            .role_member_ids(user_role.id)
            .await
            .unwrap()
            .users
            .len(),
        3
    );
    assert!(
        store
            .user_role_scopes(cat)
            .await
            .unwrap()
            .contains(&"self".to_owned())
    );

    assert!(store.delete_role(grouper.id).await.unwrap());
    assert!(!store.delete_role(grouper.id).await.unwrap());
    assert_eq!(store.user_role_scopes(ann).await.unwrap(), ["self"]);
    let sql = "SELECT COUNT(*) FROM group_role_map WHERE role_id = $1";
    assert_eq!(count(raw, sql, Some(grouper.id)).await, 0);
}

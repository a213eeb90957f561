//! The store's two counters, which the hub's caches key on: every write
//! through `writer()` advances `generation()` (what a credential may do could
//! have changed), every activity write advances `activity_generation()`
//! (what a view showing `last_activity` shows could have changed), and reads
//! advance neither. A write that did not advance its counter would leave the
//! hub serving a stale cached answer.

use ferrohub_core::time;
use ferrohub_store::{RoleHolder, Store};

async fn store() -> Store {
    let store = Store::connect("sqlite:///:memory:").await.expect("connect");
    store.prepare().await.expect("schema");
    store
}

/// `(generation, activity_generation)` now.
fn counters(store: &Store) -> (u64, u64) {
    (store.generation(), store.activity_generation())
}

#[tokio::test]
async fn writes_and_activity_writes_advance_their_own_counter() {
    let store = store().await;
    let alice = store.create_user("alice", false).await.expect("alice");
    let spawner = store
        .spawner(alice.id, "")
        .await
        .unwrap()
        .expect("default spawner");

    // Reads move nothing.
    let before = counters(&store);
    store.user_by_id(alice.id).await.unwrap();
    store.spawners_of(alice.id).await.unwrap();
    store.group_names_of_user(alice.id).await.unwrap();
    assert_eq!(counters(&store), before, "reads");

    // Permission-relevant writes: the generation, not the activity generation.
    let group = store
        .create_group("students", &serde_json::json!({}))
        .await
        .unwrap();
    let (g1, a1) = counters(&store);
    assert!(g1 > before.0, "create_group advances the generation");
    assert_eq!(a1, before.1, "create_group is not an activity write");
    store
        .add_group_members(group.id, &[alice.id])
        .await
        .unwrap();
    let (g2, a2) = counters(&store);
    assert!(g2 > g1, "group membership advances the generation");
    assert_eq!(a2, a1);
    let role = store.role_by_name("admin").await.unwrap();
    if let Some(role) = role {
        store
            .grant_role(RoleHolder::User(alice.id), role.id)
            .await
            .unwrap();
        assert!(
            store.generation() > g2,
            "a role grant advances the generation"
        );
    }
    let (g3, a3) = counters(&store);
    store.set_admin(alice.id, true).await.unwrap();
    assert!(
        store.generation() > g3,
        "the admin flag advances the generation"
    );
    assert_eq!(store.activity_generation(), a3);

    // Activity writes: the activity generation only.
    let now = time::now();
    let (g, a) = counters(&store);
    store.touch_user(alice.id, &now).await.unwrap();
    assert_eq!(
        store.generation(),
        g,
        "touch_user must not advance the generation"
    );
    assert!(
        store.activity_generation() > a,
        "touch_user advances the activity generation"
    );
    let (g, a) = counters(&store);
    store.touch_spawner(spawner.id, &now).await.unwrap();
    assert_eq!(
        store.generation(),
        g,
        "touch_spawner must not advance the generation"
    );
    assert!(
        store.activity_generation() > a,
        "touch_spawner advances the activity generation"
    );
    let (g, a) = counters(&store);
    store.set_service_pid(-1, Some(1)).await.unwrap();
    assert_eq!(
        store.generation(),
        g,
        "set_service_pid must not advance the generation"
    );
    assert!(
        store.activity_generation() > a,
        "set_service_pid advances the activity generation"
    );
}

/// The listing's total is reused while nothing was written, and counted
/// again after any write or for another filter.
#[tokio::test]
async fn the_user_count_follows_every_write() {
    let store = store().await;
    let page = |name_filter: Option<&str>| ferrohub_store::UserQuery {
        name_filter: name_filter.map(str::to_owned),
        limit: 2,
        ..ferrohub_store::UserQuery::default()
    };
    for name in ["ann", "ben", "cat"] {
        store.create_user(name, false).await.unwrap();
    }
    let total = |store: &Store, filter| {
        let store = store.clone();
        async move { store.list_users_page(&page(filter)).await.unwrap().1 }
    };
    assert_eq!(total(&store, None).await, 3);
    assert_eq!(total(&store, None).await, 3, "again, nothing written");
    assert_eq!(total(&store, Some("a")).await, 2, "another filter");
    let dan = store.create_user("dan", false).await.unwrap();
    assert_eq!(total(&store, None).await, 4, "after a user was created");
    store.delete_user(dan.id).await.unwrap();
    assert_eq!(total(&store, None).await, 3, "after a user was deleted");
    let ann = store.user_by_name("ann").await.unwrap().unwrap();
    store.rename_user(ann.id, "zed").await.unwrap();
    assert_eq!(total(&store, Some("a")).await, 1, "after a rename");
}

//! Write transactions that read before they write (group membership, server
//! records) run concurrently without failing, on every database. On SQLite
//! there is no "database is locked": the store begins them with `BEGIN
//! IMMEDIATE`, so each waits for the write lock instead of failing when
//! another write commits in between.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

#[allow(dead_code, reason = "this test uses a part of the shared support")]
mod support;

use std::sync::Arc;

use tokio::sync::Barrier;

use crate::support::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_read_then_write_transactions_all_succeed() {
    concurrent_read_then_write_transactions_all_succeed(&TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_read_then_write_transactions_all_succeed() {
    concurrent_read_then_write_transactions_all_succeed(
        &TestDb::postgres("store_concurrent").await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_concurrent_read_then_write_transactions_all_succeed() {
    concurrent_read_then_write_transactions_all_succeed(&TestDb::mysql("store_concurrent").await)
        .await;
}

async fn concurrent_read_then_write_transactions_all_succeed(db: &TestDb) {
    let store = ferrohub_store::Store::connect(&db.db_url).await.unwrap();
    store.prepare().await.unwrap();
    let group = store
        .create_group("crowd", &serde_json::json!({}))
        .await
        .unwrap();
    let mut users = Vec::new();
    for i in 0..24 {
        users.push(store.create_user(&format!("u{i}"), false).await.unwrap());
    }
    let barrier = Arc::new(Barrier::new(users.len()));
    let tasks: Vec<_> = users
        .iter()
        .map(|user| {
            let (store, barrier, user_id) = (store.clone(), Arc::clone(&barrier), user.id);
            tokio::spawn(async move {
                barrier.wait().await;
                let spawner = store
                    .spawner(user_id, "")
                    .await?
                    .expect("default server row");
                for _ in 0..5 {
                    // Reads the row, then writes: the case that used to fail.
                    store.record_server_stopped(spawner.id).await?;
                    store.set_user_groups(user_id, &[group.id]).await?;
                    store.set_user_groups(user_id, &[]).await?;
                }
                store.set_user_groups(user_id, &[group.id]).await
            })
        })
        .collect();
    let mut failures = Vec::new();
    for task in tasks {
        if let Err(e) = task.await.unwrap() {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let members = store.group_member_names(group.id).await.unwrap();
    assert_eq!(members.len(), users.len());
}

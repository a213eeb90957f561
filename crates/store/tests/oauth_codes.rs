//! One OAuth code, one token (issue 11, hole 10): concurrent redemptions of a
//! code on a real SQLite file, a real PostgreSQL and a real MariaDB server; exactly one gets
//! the code, the others find nothing, and none fails.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

#[allow(dead_code, reason = "this test uses a part of the shared support")]
mod support;

use std::sync::Arc;

use ferrohub_core::token;
use ferrohub_store::{OAuthClient, OAuthCode, Store};
use tokio::sync::Barrier;

use crate::support::TestDb;

const CLIENT: &str = "service-probe";
/// Redemptions racing for each code.
const RACERS: usize = 20;
/// Codes raced for (the race is by chance; several make it likely to show).
const CODES: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_one_code_one_redemption() {
    one_code_one_redemption(&TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_one_code_one_redemption() {
    one_code_one_redemption(&TestDb::postgres("store_oauth_code_race").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_one_code_one_redemption() {
    one_code_one_redemption(&TestDb::mysql("store_oauth_code_race").await).await;
}

async fn one_code_one_redemption(db: &TestDb) {
    let store = db.store().await;
    store.prepare().await.unwrap();
    let alice = store.create_user("alice", false).await.unwrap();
    store
        .upsert_oauth_client(&OAuthClient {
            identifier: CLIENT.to_owned(),
            description: "probe".to_owned(),
            secret: token::hash_token("probe-secret", 1),
            redirect_uri: "/services/probe/oauth_callback".to_owned(),
            allowed_scopes: Vec::new(),
        })
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    for round in 0..CODES {
        let code = OAuthCode {
            client_id: CLIENT.to_owned(),
            code: token::random_alphanumeric(30),
            expires_at: now + 300,
            redirect_uri: "/services/probe/oauth_callback".to_owned(),
            session_id: Some("s".to_owned()),
            user_id: alice.id,
            scopes: vec!["read:users:name!user=alice".to_owned()],
            code_challenge: None,
            code_challenge_method: None,
        };
        store.create_oauth_code(&code).await.unwrap();
        let results = race(&store, &code.code, now).await;
        let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(
            errors.is_empty(),
            "round {round}: redemptions failed: {errors:?}"
        );
        let winners: Vec<&OAuthCode> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().and_then(Option::as_ref))
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(winners[0], &code);
    }
    // Over-long codes are not looked up.
    assert_eq!(
        store
            .take_oauth_code(&"c".repeat(token::MAX_SECRET_LEN + 1), now)
            .await
            .unwrap(),
        None
    );
    store.close().await;
}

/// [`RACERS`] redemptions of `code`, released together.
async fn race(store: &Store, code: &str, now: i64) -> Vec<Result<Option<OAuthCode>, String>> {
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, code, barrier) = (store.clone(), code.to_owned(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .take_oauth_code(&code, now)
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

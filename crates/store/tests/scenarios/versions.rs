//! Schema versions: an old database must be upgraded explicitly (with a
//! back-up for SQLite), a newer one is refused.

use ferrohub_store::{Dialect, SCHEMA_VERSION, SchemaStatus, Store, StoreError};

use crate::support::TestDb;

/// `migrate_to(1)`, refuse, upgrade (keeping data), then pretend a newer ferrohub wrote it.
pub async fn upgrade_and_refuse(db: &TestDb) {
    const {
        assert!(
            SCHEMA_VERSION > 1,
            "these checks need an upgrade step to exist"
        );
    };
    let store = db.store().await;
    store.migrate_to(1).await.expect("migrate_to(1)");
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Older(1));
    let old = store
        .create_user("olduser", true)
        .await
        .expect("a user at version 1");

    match store.prepare().await {
        Err(err @ StoreError::NeedsUpgrade { found: 1, expected }) => {
            assert_eq!(expected, SCHEMA_VERSION);
            let message = err.to_string();
            assert!(message.contains("ferrohub upgrade-db"), "{message}");
        }
        other => panic!("prepare on version 1: expected NeedsUpgrade, got {other:?}"),
    }
    assert_eq!(
        store.schema_status().await.unwrap(),
        SchemaStatus::Older(1),
        "prepare changed nothing"
    );

    let backup = store.upgrade().await.expect("upgrade");
    match db.dialect() {
        Dialect::Sqlite => check_sqlite_backup(backup.as_deref(), db, &old.name).await,
        Dialect::Postgres | Dialect::MySql => {
            assert_eq!(backup, None, "no file back-up for a database server");
        }
    }
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Current);
    store.prepare().await.expect("prepare after upgrade");
    assert_eq!(
        store.user_by_name("olduser").await.unwrap(),
        Some(old.clone())
    );
    assert_eq!(
        store.upgrade().await.unwrap(),
        None,
        "nothing to back up when current"
    );
    // Version 2's unique index on (user, server name) is in force.
    store.create_spawner(old.id, "x").await.unwrap();
    assert!(matches!(
        store.create_spawner(old.id, "x").await,
        Err(StoreError::Conflict(_))
    ));
    store.close().await;

    let newer = SCHEMA_VERSION + 1;
    let raw = db.raw().await;
    sqlx::query(crate::support::sql(
        &raw,
        "UPDATE ferrohub_schema SET version = $1",
    ))
    .bind(newer)
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;
    let store = db.store().await;
    assert_eq!(
        store.schema_status().await.unwrap(),
        SchemaStatus::Newer(newer)
    );
    for result in [store.prepare().await, store.upgrade().await.map(drop)] {
        match result {
            Err(StoreError::TooNew { found, expected }) => {
                assert_eq!((found, expected), (newer, SCHEMA_VERSION));
            }
            other => panic!("newer schema: expected TooNew, got {other:?}"),
        }
    }
    store.close().await;
}

async fn check_sqlite_backup(backup: Option<&std::path::Path>, db: &TestDb, user: &str) {
    let backup = backup.expect("upgrading a SQLite file makes a back-up");
    let main = db.sqlite_path.as_deref().unwrap();
    assert_eq!(
        backup.parent(),
        main.parent(),
        "back-up next to the database"
    );
    assert_ne!(backup, main);
    let bytes = std::fs::read(backup).expect("back-up file exists");
    assert!(bytes.starts_with(b"SQLite format 3\0"), "not a SQLite file");

    let old = Store::connect(&format!("sqlite:///{}", backup.display()))
        .await
        .expect("open the back-up");
    assert_eq!(old.schema_status().await.unwrap(), SchemaStatus::Older(1));
    assert!(
        old.user_by_name(user).await.unwrap().is_some(),
        "back-up has the data"
    );
    old.close().await;
}

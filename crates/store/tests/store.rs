//! ferrohub-store against real databases: a SQLite file and a private
//! PostgreSQL server (see `support/postgres.rs`). The same scenarios run on both.

mod scenarios;
mod support;

use ferrohub_store::{Store, StoreError};

use crate::support::TestDb;

#[tokio::test]
async fn sqlite_exercise() {
    scenarios::basics::exercise(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_exercise() {
    scenarios::basics::exercise(&TestDb::postgres("store_exercise").await).await;
}

#[tokio::test]
async fn sqlite_schema_versions() {
    scenarios::versions::upgrade_and_refuse(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_schema_versions() {
    scenarios::versions::upgrade_and_refuse(&TestDb::postgres("store_versions").await).await;
}

#[tokio::test]
async fn sqlite_adopts_upstream_database() {
    scenarios::upstream::adopt(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in [
        "mysql://hub@localhost/jupyterhub",
        "sqlite://",
        "not a url:",
    ] {
        assert!(
            matches!(Store::connect(url).await, Err(StoreError::BadUrl(_))),
            "{url}"
        );
    }
}

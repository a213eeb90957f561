//! ferrohub-store against real databases: a SQLite file, a private
//! PostgreSQL server and a private MariaDB server (see `support/postgres.rs`
//! and `support/mysql.rs`). The same scenarios run on all three.

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
async fn mysql_exercise() {
    scenarios::basics::exercise(&TestDb::mysql("store_exercise").await).await;
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
async fn mysql_schema_versions() {
    scenarios::versions::upgrade_and_refuse(&TestDb::mysql("store_versions").await).await;
}

#[tokio::test]
async fn sqlite_users_query() {
    scenarios::listing::users_query(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_users_query() {
    scenarios::listing::users_query(&TestDb::postgres("store_users_query").await).await;
}

#[tokio::test]
async fn mysql_users_query() {
    scenarios::listing::users_query(&TestDb::mysql("store_users_query").await).await;
}

#[tokio::test]
async fn sqlite_named_servers() {
    scenarios::servers::named_servers(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_named_servers() {
    scenarios::servers::named_servers(&TestDb::postgres("store_named_servers").await).await;
}

#[tokio::test]
async fn mysql_named_servers() {
    scenarios::servers::named_servers(&TestDb::mysql("store_named_servers").await).await;
}

#[tokio::test]
async fn sqlite_token_lists() {
    scenarios::servers::token_lists(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_token_lists() {
    scenarios::servers::token_lists(&TestDb::postgres("store_token_lists").await).await;
}

#[tokio::test]
async fn mysql_token_lists() {
    scenarios::servers::token_lists(&TestDb::mysql("store_token_lists").await).await;
}

#[tokio::test]
async fn sqlite_groups_and_roles() {
    scenarios::groups_roles::groups_and_roles(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_groups_and_roles() {
    scenarios::groups_roles::groups_and_roles(&TestDb::postgres("store_groups_roles").await).await;
}

#[tokio::test]
async fn mysql_groups_and_roles() {
    scenarios::groups_roles::groups_and_roles(&TestDb::mysql("store_groups_roles").await).await;
}

#[tokio::test]
async fn sqlite_services() {
    scenarios::services::services(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_services() {
    scenarios::services::services(&TestDb::postgres("store_services").await).await;
}

#[tokio::test]
async fn mysql_services() {
    scenarios::services::services(&TestDb::mysql("store_services").await).await;
}

#[tokio::test]
async fn sqlite_shares() {
    scenarios::sharing::shares(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_shares() {
    scenarios::sharing::shares(&TestDb::postgres("store_shares").await).await;
}

#[tokio::test]
async fn mysql_shares() {
    scenarios::sharing::shares(&TestDb::mysql("store_shares").await).await;
}

#[tokio::test]
async fn sqlite_deleting_a_user_cascades() {
    scenarios::sharing::deleting_a_user_cascades(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_deleting_a_user_cascades() {
    scenarios::sharing::deleting_a_user_cascades(&TestDb::postgres("store_user_cascade").await)
        .await;
}

#[tokio::test]
async fn mysql_deleting_a_user_cascades() {
    scenarios::sharing::deleting_a_user_cascades(&TestDb::mysql("store_user_cascade").await).await;
}

#[tokio::test]
async fn sqlite_adopts_upstream_database() {
    scenarios::upstream::adopt(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in [
        "mssql://hub@localhost/jupyterhub",
        "sqlite://",
        "not a url:",
    ] {
        assert!(
            matches!(Store::connect(url).await, Err(StoreError::BadUrl(_))),
            "{url}"
        );
    }
}

//! Spawner rows: one per (user, server name), with the running server's address.

use ferrohub_core::time::{self, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, ServerAddress, SpawnerRecord, Store, conflict_or, json_text, parse_json};

// DATETIME columns of upstream SQLite databases are CAST (see `users::USER_COLUMNS`).
const SPAWNER_SELECT: &str = "SELECT s.id, s.user_id, s.name, s.display_name, s.user_options, s.state, CAST(s.started AS TEXT) AS started, \
     CAST(s.last_activity AS TEXT) AS last_activity, s.oauth_client_id, \
     v.proto, v.ip, v.port, v.base_url FROM spawners s LEFT JOIN servers v ON v.id = s.server_id";

/// The `servers` columns (`proto, ip, port, base_url`) of a LEFT JOIN; `None` without a row.
pub(crate) fn server_from_row(row: &AnyRow) -> Result<Option<ServerAddress>> {
    let proto: Option<String> = row.try_get("proto")?;
    Ok(match proto {
        Some(proto) => Some(ServerAddress {
            proto,
            ip: row.try_get::<Option<String>, _>("ip")?.unwrap_or_default(),
            port: u16::try_from(row.try_get::<Option<i64>, _>("port")?.unwrap_or(0)).unwrap_or(0),
            base_url: row
                .try_get::<Option<String>, _>("base_url")?
                .unwrap_or_default(),
        }),
        None => None,
    })
}

fn spawner_from_row(row: &AnyRow) -> Result<SpawnerRecord> {
    let server = server_from_row(row)?;
    Ok(SpawnerRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row
            .try_get::<Option<String>, _>("name")?
            .unwrap_or_default(),
        display_name: row
            .try_get::<Option<String>, _>("display_name")?
            .unwrap_or_default(),
        user_options: parse_json(
            "spawners.user_options",
            row.try_get("user_options")?,
            serde_json::json!({}),
        )?,
        state: parse_json(
            "spawners.state",
            row.try_get("state")?,
            serde_json::json!({}),
        )?,
        started: row
            .try_get::<Option<String>, _>("started")?
            .as_deref()
            .and_then(time::from_db),
        last_activity: row
            .try_get::<Option<String>, _>("last_activity")?
            .as_deref()
            .and_then(time::from_db),
        oauth_client_id: row.try_get("oauth_client_id")?,
        server,
    })
}

impl Store {
    /// The spawner row of a user's server, if it exists.
    pub async fn spawner(&self, user_id: i64, name: &str) -> Result<Option<SpawnerRecord>> {
        let sql = format!("{SPAWNER_SELECT} WHERE s.user_id = $1 AND s.name = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(name)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(spawner_from_row).transpose()
    }

    /// All spawner rows of a user, default first.
    pub async fn spawners_of(&self, user_id: i64) -> Result<Vec<SpawnerRecord>> {
        let sql = format!("{SPAWNER_SELECT} WHERE s.user_id = $1 ORDER BY s.name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(spawner_from_row).collect()
    }

    /// The spawners of many users at once, by user id, each user's sorted by name.
    pub async fn spawners_of_users(
        &self,
        user_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<SpawnerRecord>>> {
        let sql = format!(
            "{SPAWNER_SELECT} WHERE s.user_id IN {} ORDER BY s.name",
            crate::id_list(user_ids)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.reader())
            .await?;
        let mut out: std::collections::HashMap<i64, Vec<SpawnerRecord>> =
            std::collections::HashMap::new();
        for row in &rows {
            let spawner = spawner_from_row(row)?;
            out.entry(spawner.user_id).or_default().push(spawner);
        }
        Ok(out)
    }

    /// Every spawner that has a server row (running or starting), for re-adoption at start-up.
    pub async fn active_spawners(&self) -> Result<Vec<SpawnerRecord>> {
        let sql = format!("{SPAWNER_SELECT} WHERE s.server_id IS NOT NULL ORDER BY s.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(spawner_from_row).collect()
    }

    /// Creates a (named) spawner row; `Conflict` if it exists.
    pub async fn create_spawner(&self, user_id: i64, name: &str) -> Result<SpawnerRecord> {
        sqlx::query(
            "INSERT INTO spawners (user_id, name, display_name, state) VALUES ($1, $2, $2, '{}')",
        )
        .bind(user_id)
        .bind(name)
        .execute(&*self.writer())
        .await
        .map_err(|e| conflict_or(e, || format!("server {name:?}")))?;
        self.spawner(user_id, name)
            .await?
            .ok_or(crate::StoreError::Sqlx(sqlx::Error::RowNotFound))
    }

    /// A spawner row by id.
    pub async fn spawner_by_id(&self, spawner_id: i64) -> Result<Option<SpawnerRecord>> {
        let sql = format!("{SPAWNER_SELECT} WHERE s.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(spawner_id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(spawner_from_row).transpose()
    }

    /// Whose server an OAuth client belongs to: `(user name, server name)`, so
    /// tokens issued to a running server carry its access scope.
    pub async fn spawner_by_oauth_client(
        &self,
        client_id: &str,
    ) -> Result<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT u.name AS user_name, s.name AS server_name FROM spawners s JOIN users u ON u.id = s.user_id \
             WHERE s.oauth_client_id = $1 ORDER BY s.id LIMIT 1",
        )
        .bind(client_id)
        .fetch_optional(self.reader())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some((
            row.try_get::<Option<String>, _>("user_name")?
                .unwrap_or_default(),
            row.try_get::<Option<String>, _>("server_name")?
                .unwrap_or_default(),
        )))
    }

    /// Persists the options of a spawn, reused when the next start brings none.
    pub async fn set_user_options(
        &self,
        spawner_id: i64,
        options: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query("UPDATE spawners SET user_options = $1 WHERE id = $2")
            .bind(json_text(options, "{}"))
            .bind(spawner_id)
            .execute(&*self.writer())
            .await?;
        Ok(())
    }

    /// Sets the server's human-readable name.
    pub async fn set_display_name(&self, spawner_id: i64, display_name: &str) -> Result<()> {
        sqlx::query("UPDATE spawners SET display_name = $1 WHERE id = $2")
            .bind(display_name)
            .bind(spawner_id)
            .execute(&*self.writer())
            .await?;
        Ok(())
    }

    /// Renames a (stopped) server; `Conflict` if its user already has a server of that name.
    pub async fn rename_spawner(&self, spawner_id: i64, new_name: &str) -> Result<()> {
        sqlx::query("UPDATE spawners SET name = $1 WHERE id = $2")
            .bind(new_name)
            .bind(spawner_id)
            .execute(&*self.writer())
            .await
            .map_err(|e| conflict_or(e, || format!("server {new_name:?}")))?;
        Ok(())
    }

    /// Deletes a spawner row for good (`DELETE .../servers/{name}` with `remove`),
    /// with its servers row, shares and share codes, and its OAuth client (with
    /// that client's tokens) if a stop did not already remove it. Returns whether it existed.
    pub async fn delete_spawner(&self, spawner_id: i64) -> Result<bool> {
        let pool = self.writer();
        let mut tx = pool.begin().await?;
        let client: Option<String> =
            sqlx::query("SELECT oauth_client_id FROM spawners WHERE id = $1")
                .bind(spawner_id)
                .fetch_optional(&mut tx)
                .await?
                .map(|row| row.try_get("oauth_client_id"))
                .transpose()?
                .flatten();
        sqlx::query(
            "DELETE FROM servers WHERE id IN (SELECT server_id FROM spawners WHERE id = $1)",
        )
        .bind(spawner_id)
        .execute(&mut tx)
        .await?;
        for sql in [
            "DELETE FROM shares WHERE spawner_id = $1",
            "DELETE FROM share_codes WHERE spawner_id = $1",
        ] {
            sqlx::query(sql).bind(spawner_id).execute(&mut tx).await?;
        }
        // Never the hub's own client: it owns every API token.
        if let Some(client) = client.filter(|c| c != crate::BUILTIN_CLIENT) {
            for sql in [
                "UPDATE spawners SET oauth_client_id = NULL WHERE oauth_client_id = $1",
                "DELETE FROM api_tokens WHERE client_id = $1",
                "DELETE FROM oauth_codes WHERE client_id = $1",
                "DELETE FROM oauth_clients WHERE identifier = $1",
            ] {
                sqlx::query(sql).bind(&client).execute(&mut tx).await?;
            }
        }
        let done = sqlx::query("DELETE FROM spawners WHERE id = $1")
            .bind(spawner_id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// How many named servers (not the default one) a user has, for `named_server_limit_per_user`.
    pub async fn count_named_spawners(&self, user_id: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM spawners WHERE user_id = $1 AND name IS NOT NULL AND name <> ''",
        )
        .bind(user_id)
        .fetch_one(self.reader())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// How many servers are active (have a servers row), for metrics and `active_server_limit`.
    pub async fn count_active_spawners(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM spawners WHERE server_id IS NOT NULL")
            .fetch_one(self.reader())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Records a server being started: its address, the spawner state, the
    /// OAuth client, and `started`/`last_activity` = now.
    pub async fn record_server_started(
        &self,
        spawner_id: i64,
        address: &ServerAddress,
        state: &serde_json::Value,
        oauth_client_id: &str,
    ) -> Result<()> {
        let pool = self.writer();
        let now = time::to_db(&time::now());
        let mut tx = pool.begin().await?;
        sqlx::query(
            "DELETE FROM servers WHERE id IN (SELECT server_id FROM spawners WHERE id = $1)",
        )
        .bind(spawner_id)
        .execute(&mut tx)
        .await?;
        let server_id: i64 = crate::dialect::insert_id(&mut tx, sqlx::query(
            "INSERT INTO servers (proto, ip, port, base_url, cookie_name) VALUES ($1, $2, $3, $4, 'cookie') RETURNING id",
        )
        .bind(&address.proto)
        .bind(&address.ip)
        .bind(i64::from(address.port))
        .bind(&address.base_url))
        .await?;
        sqlx::query(
            "UPDATE spawners SET server_id = $1, state = $2, started = CAST($3 AS TIMESTAMP), last_activity = CAST($3 AS TIMESTAMP), oauth_client_id = $4 WHERE id = $5",
        )
        .bind(server_id)
        .bind(state.to_string())
        .bind(&now)
        .bind(oauth_client_id)
        .bind(spawner_id)
        .execute(&mut tx)
        .await
        .map_err(|e| conflict_or(e, || format!("OAuth client {oauth_client_id}")))?;
        tx.commit().await?;
        Ok(())
    }

    /// Saves the spawner's state.
    pub async fn save_spawner_state(
        &self,
        spawner_id: i64,
        state: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query("UPDATE spawners SET state = $1 WHERE id = $2")
            .bind(state.to_string())
            .bind(spawner_id)
            .execute(&*self.writer())
            .await?;
        Ok(())
    }

    /// Records a server gone: removes its address, clears state and `started`,
    /// and deletes its OAuth client, which takes the client's tokens and codes with it.
    pub async fn record_server_stopped(&self, spawner_id: i64) -> Result<()> {
        let pool = self.writer();
        let mut tx = pool.begin().await?;
        let row = sqlx::query("SELECT server_id, oauth_client_id FROM spawners WHERE id = $1")
            .bind(spawner_id)
            .fetch_optional(&mut tx)
            .await?;
        let Some(row) = row else { return Ok(()) };
        let server_id: Option<i64> = row.try_get("server_id")?;
        let client: Option<String> = row.try_get("oauth_client_id")?;
        sqlx::query(
            "UPDATE spawners SET server_id = NULL, state = '{}', started = NULL, oauth_client_id = NULL WHERE id = $1",
        )
        .bind(spawner_id)
        .execute(&mut tx)
        .await?;
        if let Some(server_id) = server_id {
            sqlx::query("DELETE FROM servers WHERE id = $1")
                .bind(server_id)
                .execute(&mut tx)
                .await?;
        }
        if let Some(client) = client {
            for sql in [
                "DELETE FROM api_tokens WHERE client_id = $1",
                "DELETE FROM oauth_codes WHERE client_id = $1",
                "DELETE FROM oauth_clients WHERE identifier = $1",
            ] {
                sqlx::query(sql).bind(&client).execute(&mut tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Moves a spawner's `last_activity` forward (never back).
    pub async fn touch_spawner(&self, spawner_id: i64, when: &Timestamp) -> Result<()> {
        let when = time::to_db(when);
        sqlx::query(
            "UPDATE spawners SET last_activity = CAST($1 AS TIMESTAMP) WHERE id = $2 \
             AND (last_activity IS NULL OR last_activity < CAST($1 AS TIMESTAMP))",
        )
        .bind(&when)
        .bind(spawner_id)
        .execute(&*self.activity_writer())
        .await?;
        Ok(())
    }
}

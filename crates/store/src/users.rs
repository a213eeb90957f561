//! Users and their default spawner row.

use ferrohub_core::time::{self, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, UserRecord, conflict_or};

// Upstream SQLite databases declare these BOOLEAN/DATETIME, types the Any driver
// refuses to read: a CAST expression has no declared type, so its value type is used.
const USER_COLUMNS: &str = "id, name, CAST(admin AS BIGINT) AS admin, CAST(created AS TEXT) AS created, \
     CAST(last_activity AS TEXT) AS last_activity, cookie_id";

fn user_from_row(row: &AnyRow) -> Result<UserRecord> {
    Ok(UserRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        admin: row.try_get::<Option<i64>, _>("admin")?.unwrap_or(0) != 0,
        created: row
            .try_get::<Option<String>, _>("created")?
            .as_deref()
            .and_then(time::from_db),
        last_activity: row
            .try_get::<Option<String>, _>("last_activity")?
            .as_deref()
            .and_then(time::from_db),
        cookie_id: row.try_get("cookie_id")?,
    })
}

impl Store {
    /// Creates a user and its default (`""`) spawner row; `Conflict` if the name exists.
    pub async fn create_user(&self, name: &str, admin: bool) -> Result<UserRecord> {
        let now = time::to_db(&time::now());
        let cookie_id = ferrohub_core::token::new_token();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO users (name, admin, created, cookie_id, state, user_info) VALUES ($1, $2, $3, $4, '{}', NULL) RETURNING id",
        )
        .bind(name)
        .bind(i64::from(admin))
        .bind(&now)
        .bind(&cookie_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || format!("user {name}")))?;
        let id: i64 = row.try_get("id")?;
        sqlx::query(
            "INSERT INTO spawners (user_id, name, display_name, state) VALUES ($1, '', '', '{}')",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.user_by_id(id)
            .await?
            .ok_or(crate::StoreError::Sqlx(sqlx::Error::RowNotFound))
    }

    /// Looks a user up by name.
    pub async fn user_by_name(&self, name: &str) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Looks a user up by id.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Looks a user up by the id bound into their login cookie.
    pub async fn user_by_cookie_id(&self, cookie_id: &str) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE cookie_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(cookie_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// All users, by name.
    pub async fn list_users(&self) -> Result<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Sets the admin flag.
    pub async fn set_admin(&self, user_id: i64, admin: bool) -> Result<()> {
        sqlx::query("UPDATE users SET admin = $1 WHERE id = $2")
            .bind(i64::from(admin))
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes a user; their spawners, tokens and codes go with them (cascade).
    /// Returns whether a user was deleted.
    pub async fn delete_user(&self, user_id: i64) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // Servers rows are not cascaded from users: remove the user's first.
        sqlx::query(
            "DELETE FROM servers WHERE id IN (SELECT server_id FROM spawners WHERE user_id = $1)",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        for sql in [
            "DELETE FROM api_tokens WHERE user_id = $1",
            "DELETE FROM oauth_codes WHERE user_id = $1",
            "DELETE FROM spawners WHERE user_id = $1",
        ] {
            sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
        }
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Moves a user's `last_activity` forward (never back).
    pub async fn touch_user(&self, user_id: i64, when: &Timestamp) -> Result<()> {
        let when = time::to_db(when);
        sqlx::query("UPDATE users SET last_activity = $1 WHERE id = $2 AND (last_activity IS NULL OR last_activity < $1)")
            .bind(&when)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

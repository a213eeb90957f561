//! Services: external or hub-managed processes with API tokens, an optional
//! proxied URL (a `servers` row) and an optional OAuth client.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::spawners::server_from_row;
use crate::{
    Result, ServerAddress, ServiceRecord, Store, StoreError, conflict_or, flag, json_text,
    parse_json,
};

// BOOLEAN columns of upstream SQLite databases are CAST (see `users::USER_COLUMNS`);
// `user` is a reserved word in PostgreSQL, hence quoted.
const SERVICE_SELECT: &str = "SELECT sv.id, sv.name, CAST(sv.admin AS INTEGER) AS admin, sv.url, \
     sv.oauth_client_allowed_scopes, sv.info, CAST(sv.display AS INTEGER) AS display, \
     CAST(sv.oauth_no_confirm AS INTEGER) AS oauth_no_confirm, sv.command, sv.cwd, sv.environment, \
     sv.\"user\" AS run_as, sv.timeout, CAST(sv.from_config AS INTEGER) AS from_config, sv.pid, \
     sv.oauth_client_id, v.proto, v.ip, v.port, v.base_url \
     FROM services sv LEFT JOIN servers v ON v.id = sv._server_id";

/// What to store for a service (by name); runtime state (pid, server) is set separately.
#[derive(Debug, Clone, PartialEq)]
pub struct NewService {
    /// Unique service name.
    pub name: String,
    /// Deprecated admin flag.
    pub admin: bool,
    /// Where the service listens, if proxied.
    pub url: Option<String>,
    /// Scopes its OAuth client may request.
    pub oauth_client_allowed_scopes: Vec<String>,
    /// Free-form JSON shown in the service model.
    pub info: serde_json::Value,
    /// Whether the home page lists it.
    pub display: bool,
    /// Skip the OAuth confirmation page.
    pub oauth_no_confirm: bool,
    /// Command of a managed service.
    pub command: Vec<String>,
    /// Working directory of a managed service.
    pub cwd: Option<String>,
    /// Extra environment of a managed service.
    pub environment: serde_json::Value,
    /// System user to run as.
    pub user: Option<String>,
    /// Seconds to wait for it to come up.
    pub timeout: i64,
    /// Defined in the configuration rather than through the API.
    pub from_config: bool,
    /// Its OAuth client (must exist), if already known.
    pub oauth_client_id: Option<String>,
}

fn service_from_row(row: &AnyRow) -> Result<ServiceRecord> {
    Ok(ServiceRecord {
        id: row.try_get("id")?,
        name: row
            .try_get::<Option<String>, _>("name")?
            .unwrap_or_default(),
        admin: flag(row, "admin")?,
        url: row.try_get("url")?,
        oauth_client_allowed_scopes: parse_json(
            "services.oauth_client_allowed_scopes",
            row.try_get("oauth_client_allowed_scopes")?,
            Vec::new(),
        )?,
        info: parse_json("services.info", row.try_get("info")?, serde_json::json!({}))?,
        display: flag(row, "display")?,
        oauth_no_confirm: flag(row, "oauth_no_confirm")?,
        command: parse_json("services.command", row.try_get("command")?, Vec::new())?,
        cwd: row.try_get("cwd")?,
        environment: parse_json(
            "services.environment",
            row.try_get("environment")?,
            serde_json::json!({}),
        )?,
        user: row.try_get("run_as")?,
        timeout: row.try_get::<Option<i64>, _>("timeout")?.unwrap_or(30),
        from_config: flag(row, "from_config")?,
        pid: row.try_get("pid")?,
        oauth_client_id: row.try_get("oauth_client_id")?,
        server: server_from_row(row)?,
    })
}

impl Store {
    /// Creates a service or updates its definition, by name; its pid and server
    /// row are kept. Returns the stored record.
    pub async fn upsert_service(&self, new: &NewService) -> Result<ServiceRecord> {
        sqlx::query(
            "INSERT INTO services (name, admin, url, oauth_client_allowed_scopes, info, display, \
             oauth_no_confirm, command, cwd, environment, \"user\", timeout, from_config, oauth_client_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (name) DO UPDATE SET admin = excluded.admin, url = excluded.url, \
             oauth_client_allowed_scopes = excluded.oauth_client_allowed_scopes, info = excluded.info, \
             display = excluded.display, oauth_no_confirm = excluded.oauth_no_confirm, \
             command = excluded.command, cwd = excluded.cwd, environment = excluded.environment, \
             \"user\" = excluded.\"user\", timeout = excluded.timeout, \
             from_config = excluded.from_config, oauth_client_id = excluded.oauth_client_id",
        )
        .bind(&new.name)
        .bind(new.admin)
        .bind(new.url.as_deref())
        .bind(json_text(&new.oauth_client_allowed_scopes, "[]"))
        .bind(json_text(&new.info, "{}"))
        .bind(new.display)
        .bind(new.oauth_no_confirm)
        .bind(json_text(&new.command, "[]"))
        .bind(new.cwd.as_deref())
        .bind(json_text(&new.environment, "{}"))
        .bind(new.user.as_deref())
        .bind(new.timeout)
        .bind(new.from_config)
        .bind(new.oauth_client_id.as_deref())
        .execute(&*self.writer())
        .await
        .map_err(|e| conflict_or(e, || format!("service {}", new.name)))?;
        self.service_by_name(&new.name)
            .await?
            .ok_or(StoreError::Sqlx(sqlx::Error::RowNotFound))
    }

    /// Looks a service up by name.
    pub async fn service_by_name(&self, name: &str) -> Result<Option<ServiceRecord>> {
        let sql = format!("{SERVICE_SELECT} WHERE sv.name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(service_from_row).transpose()
    }

    /// Looks a service up by id (a token's owner).
    pub async fn service_by_id(&self, service_id: i64) -> Result<Option<ServiceRecord>> {
        let sql = format!("{SERVICE_SELECT} WHERE sv.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(service_id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(service_from_row).transpose()
    }

    /// Every service, by name.
    pub async fn list_services(&self) -> Result<Vec<ServiceRecord>> {
        let sql = format!("{SERVICE_SELECT} ORDER BY sv.name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(service_from_row).collect()
    }

    /// Deletes a service with its server row, tokens and role grants (its
    /// OAuth client is the caller's: `delete_oauth_client`). Returns whether it existed.
    pub async fn delete_service(&self, service_id: i64) -> Result<bool> {
        let pool = self.writer();
        let mut tx = pool.begin().await?;
        sqlx::query(
            "DELETE FROM servers WHERE id IN (SELECT _server_id FROM services WHERE id = $1)",
        )
        .bind(service_id)
        .execute(&mut tx)
        .await?;
        for sql in [
            "DELETE FROM api_tokens WHERE service_id = $1",
            "DELETE FROM service_role_map WHERE service_id = $1",
        ] {
            sqlx::query(sql).bind(service_id).execute(&mut tx).await?;
        }
        let done = sqlx::query("DELETE FROM services WHERE id = $1")
            .bind(service_id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records the process id of a managed service (`None` once it exited).
    pub async fn set_service_pid(&self, service_id: i64, pid: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE services SET pid = $1 WHERE id = $2")
            .bind(pid)
            .bind(service_id)
            .execute(&*self.activity_writer())
            .await?;
        Ok(())
    }

    /// Links the service to its OAuth client (which must exist), or unlinks it.
    pub async fn set_service_oauth_client(
        &self,
        service_id: i64,
        client_id: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE services SET oauth_client_id = $1 WHERE id = $2")
            .bind(client_id)
            .bind(service_id)
            .execute(&*self.writer())
            .await?;
        Ok(())
    }

    /// Replaces the service's proxy target: its old `servers` row is deleted and,
    /// with an address, a new one is made and referenced.
    pub async fn set_service_server(
        &self,
        service_id: i64,
        address: Option<&ServerAddress>,
    ) -> Result<()> {
        let pool = self.writer();
        let mut tx = pool.begin().await?;
        let old: Option<i64> = sqlx::query("SELECT _server_id FROM services WHERE id = $1")
            .bind(service_id)
            .fetch_optional(&mut tx)
            .await?
            .map(|row| row.try_get("_server_id"))
            .transpose()?
            .flatten();
        sqlx::query("UPDATE services SET _server_id = NULL WHERE id = $1")
            .bind(service_id)
            .execute(&mut tx)
            .await?;
        if let Some(old) = old {
            sqlx::query("DELETE FROM servers WHERE id = $1")
                .bind(old)
                .execute(&mut tx)
                .await?;
        }
        if let Some(address) = address {
            let server_id: i64 = crate::dialect::insert_id(&mut tx, sqlx::query(
                "INSERT INTO servers (proto, ip, port, base_url, cookie_name) VALUES ($1, $2, $3, $4, 'cookie') RETURNING id",
            )
            .bind(&address.proto)
            .bind(&address.ip)
            .bind(i64::from(address.port))
            .bind(&address.base_url))
            .await?;
            sqlx::query("UPDATE services SET _server_id = $1 WHERE id = $2")
                .bind(server_id)
                .bind(service_id)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

//! OAuth clients (one per running server) and single-use authorization codes.

use sqlx::Row;

use crate::{OAuthClient, OAuthCode, Result, Store, parse_json};

/// The client that owns API tokens not issued through OAuth (upstream's `jupyterhub`).
pub const BUILTIN_CLIENT: &str = "jupyterhub";

impl Store {
    /// Creates the built-in `jupyterhub` client (empty secret: never usable for OAuth).
    pub(crate) async fn ensure_builtin_client(&self) -> Result<()> {
        sqlx::query(
            "INSERT INTO oauth_clients (identifier, description, secret, redirect_uri, allowed_scopes) \
             VALUES ($1, 'JupyterHub', '', '', '[]') ON CONFLICT (identifier) DO NOTHING",
        )
        .bind(BUILTIN_CLIENT)
        .execute(&*self.writer())
        .await?;
        Ok(())
    }

    /// Creates or replaces a client by identifier.
    pub async fn upsert_oauth_client(&self, client: &OAuthClient) -> Result<()> {
        let scopes = serde_json::to_string(&client.allowed_scopes).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO oauth_clients (identifier, description, secret, redirect_uri, allowed_scopes) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (identifier) DO UPDATE SET description = $2, secret = $3, redirect_uri = $4, allowed_scopes = $5",
        )
        .bind(&client.identifier)
        .bind(&client.description)
        .bind(&client.secret)
        .bind(&client.redirect_uri)
        .bind(scopes)
        .execute(&*self.writer())
        .await?;
        Ok(())
    }

    /// Looks a client up.
    pub async fn oauth_client(&self, identifier: &str) -> Result<Option<OAuthClient>> {
        let row = sqlx::query(
            "SELECT identifier, description, secret, redirect_uri, allowed_scopes FROM oauth_clients WHERE identifier = $1",
        )
        .bind(identifier)
        .fetch_optional(self.reader())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(OAuthClient {
            identifier: row.try_get("identifier")?,
            description: row
                .try_get::<Option<String>, _>("description")?
                .unwrap_or_default(),
            secret: row
                .try_get::<Option<String>, _>("secret")?
                .unwrap_or_default(),
            redirect_uri: row
                .try_get::<Option<String>, _>("redirect_uri")?
                .unwrap_or_default(),
            allowed_scopes: parse_json(
                "oauth_clients.allowed_scopes",
                row.try_get("allowed_scopes")?,
                Vec::new(),
            )?,
        }))
    }

    /// Every client identifier, sorted, so the hub can delete clients that
    /// belong to no current server or service (as upstream does at start-up).
    pub async fn list_oauth_client_ids(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT identifier FROM oauth_clients WHERE identifier IS NOT NULL ORDER BY identifier",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| Ok(row.try_get("identifier")?))
            .collect()
    }

    /// Deletes a client with its tokens and codes.
    pub async fn delete_oauth_client(&self, identifier: &str) -> Result<()> {
        let pool = self.writer();
        let mut tx = pool.begin().await?;
        for sql in [
            "UPDATE spawners SET oauth_client_id = NULL WHERE oauth_client_id = $1",
            "UPDATE services SET oauth_client_id = NULL WHERE oauth_client_id = $1",
            "DELETE FROM api_tokens WHERE client_id = $1",
            "DELETE FROM oauth_codes WHERE client_id = $1",
            "DELETE FROM oauth_clients WHERE identifier = $1",
        ] {
            sqlx::query(sql).bind(identifier).execute(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores a new authorization code.
    pub async fn create_oauth_code(&self, code: &OAuthCode) -> Result<()> {
        sqlx::query(
            "INSERT INTO oauth_codes (client_id, code, expires_at, redirect_uri, session_id, user_id, scopes, code_challenge, code_challenge_method) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&code.client_id)
        .bind(&code.code)
        .bind(code.expires_at)
        .bind(&code.redirect_uri)
        .bind(code.session_id.as_deref())
        .bind(code.user_id)
        .bind(serde_json::to_string(&code.scopes).unwrap_or_else(|_| "[]".into()))
        .bind(code.code_challenge.as_deref())
        .bind(code.code_challenge_method.as_deref())
        .execute(&*self.writer())
        .await?;
        Ok(())
    }

    /// Removes and returns a code (codes are single use), if it exists and
    /// has not expired at `now` (unix seconds). The row is looked up, then
    /// deleted by id in the same transaction, and only the redemption whose
    /// delete removed it gets it: of any number of concurrent redemptions of a
    /// code exactly one wins, on every database (two transactions may both see
    /// the row, but the second delete waits for the first and then finds
    /// nothing; MySQL has no `DELETE .. RETURNING`). An expired code is
    /// consumed too.
    pub async fn take_oauth_code(&self, code: &str, now: i64) -> Result<Option<OAuthCode>> {
        if !ferrohub_core::token::within_length_cap(code) {
            return Ok(None);
        }
        let pool = self.writer();
        let mut tx = pool.begin().await?;
        let row = sqlx::query(
            "SELECT id, client_id, code, expires_at, redirect_uri, session_id, user_id, scopes, \
             code_challenge, code_challenge_method FROM oauth_codes WHERE code = $1 ORDER BY id LIMIT 1",
        )
        .bind(code)
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let deleted = sqlx::query("DELETE FROM oauth_codes WHERE id = $1")
            .bind(row.try_get::<i64, _>("id")?)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        if deleted.rows_affected() != 1 {
            // Another redemption deleted it between our look-up and our delete.
            return Ok(None);
        }
        let record = OAuthCode {
            client_id: row
                .try_get::<Option<String>, _>("client_id")?
                .unwrap_or_default(),
            code: row
                .try_get::<Option<String>, _>("code")?
                .unwrap_or_default(),
            expires_at: row.try_get::<Option<i64>, _>("expires_at")?.unwrap_or(0),
            redirect_uri: row
                .try_get::<Option<String>, _>("redirect_uri")?
                .unwrap_or_default(),
            session_id: row.try_get("session_id")?,
            user_id: row.try_get::<Option<i64>, _>("user_id")?.unwrap_or(0),
            scopes: parse_json("oauth_codes.scopes", row.try_get("scopes")?, Vec::new())?,
            code_challenge: row.try_get("code_challenge")?,
            code_challenge_method: row.try_get("code_challenge_method")?,
        };
        Ok((record.expires_at >= now).then_some(record))
    }
}

//! API tokens, stored as salted hashes and found by their 4-character prefix.

use ferrohub_core::time::{self, Timestamp};
use ferrohub_core::token;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, TokenOwner, TokenRecord, parse_json};

// DATETIME columns of upstream SQLite databases are CAST (see `users::USER_COLUMNS`).
const TOKEN_COLUMNS: &str = "id, user_id, service_id, hashed, client_id, session_id, scopes, note, \
     CAST(created AS TEXT) AS created, CAST(expires_at AS TEXT) AS expires_at, \
     CAST(last_activity AS TEXT) AS last_activity";

/// What to store for a new token (the token text itself is only hashed).
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    /// The token in clear, as given to its owner.
    pub token: &'a str,
    /// Hash rounds: 1 for generated tokens, 16384 for user-chosen ones.
    pub rounds: u32,
    /// Owner.
    pub owner: TokenOwner,
    /// Issuing OAuth client (`jupyterhub` for API tokens).
    pub client_id: &'a str,
    /// Browser session (OAuth tokens).
    pub session_id: Option<&'a str>,
    /// Scopes.
    pub scopes: &'a [String],
    /// Note shown in token lists.
    pub note: Option<&'a str>,
    /// Expiry.
    pub expires_at: Option<Timestamp>,
}

/// The owner column and id of a token owner (a constant fragment for SQL).
fn owner_column(owner: TokenOwner) -> (&'static str, i64) {
    match owner {
        TokenOwner::User(id) => ("user_id", id),
        TokenOwner::Service(id) => ("service_id", id),
    }
}

fn token_from_row(row: &AnyRow) -> Result<TokenRecord> {
    let user_id: Option<i64> = row.try_get("user_id")?;
    let service_id: Option<i64> = row.try_get("service_id")?;
    let owner = match (user_id, service_id) {
        (Some(id), _) => TokenOwner::User(id),
        (None, Some(id)) => TokenOwner::Service(id),
        (None, None) => {
            return Err(crate::StoreError::Corrupt {
                what: "api_tokens owner",
                reason: "token without owner".into(),
            });
        }
    };
    let ts = |col: &str| -> Result<Option<Timestamp>> {
        Ok(row
            .try_get::<Option<String>, _>(col)?
            .as_deref()
            .and_then(time::from_db))
    };
    Ok(TokenRecord {
        id: row.try_get("id")?,
        owner,
        client_id: row
            .try_get::<Option<String>, _>("client_id")?
            .unwrap_or_default(),
        session_id: row.try_get("session_id")?,
        scopes: parse_json("api_tokens.scopes", row.try_get("scopes")?, Vec::new())?,
        note: row.try_get("note")?,
        created: ts("created")?,
        expires_at: ts("expires_at")?,
        last_activity: ts("last_activity")?,
    })
}

impl Store {
    /// Stores a token's hash; returns its id.
    pub async fn create_token(&self, new: &NewToken<'_>) -> Result<i64> {
        let (user_id, service_id) = match new.owner {
            TokenOwner::User(id) => (Some(id), None),
            TokenOwner::Service(id) => (None, Some(id)),
        };
        let scopes = serde_json::to_string(new.scopes).unwrap_or_else(|_| "[]".into());
        let hashed = crate::hashing::hash_secret(new.token, new.rounds)
            .await
            .ok_or(StoreError::ShuttingDown)?;
        let query = sqlx::query(
            "INSERT INTO api_tokens (user_id, service_id, hashed, prefix, client_id, session_id, created, expires_at, note, scopes) \
             VALUES ($1, $2, $3, $4, $5, $6, CAST($7 AS TIMESTAMP), CAST($8 AS TIMESTAMP), $9, $10) RETURNING id",
        )
        .bind(user_id)
        .bind(service_id)
        .bind(hashed)
        .bind(token::token_prefix(new.token))
        .bind(new.client_id)
        .bind(new.session_id)
        .bind(time::to_db(&time::now()))
        .bind(new.expires_at.as_ref().map(time::to_db))
        .bind(new.note)
        .bind(scopes);
        Ok(crate::dialect::insert_id(&*self.writer(), query).await?)
    }

    /// Finds the unexpired token matching `token` (prefix look-up, then a
    /// constant-time hash comparison).
    pub async fn find_token(&self, token: &str) -> Result<Option<TokenRecord>> {
        if token.len() < token::PREFIX_LEN {
            return Ok(None);
        }
        // Over the cap: no token, and not worth a query or a hash (issue 11, hole 1).
        if !token::within_length_cap(token) {
            return Ok(None);
        }
        let now = time::to_db(&time::now());
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE prefix = $1 AND (expires_at IS NULL OR expires_at >= CAST($2 AS TIMESTAMP))"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token::token_prefix(token))
            .bind(now)
            .fetch_all(self.reader())
            .await?;
        for row in &rows {
            let hashed: Option<String> = row.try_get("hashed")?;
            // Off the async workers when the hash is a 16,384-round one.
            if let Some(hashed) = hashed
                && crate::hashing::verify_secret(&hashed, token).await
            {
                return token_from_row(row).map(Some);
            }
        }
        Ok(None)
    }

    /// Every token of an owner, after deleting the owner's expired ones; ordered
    /// as upstream lists them: by last use (never-used first), then creation.
    pub async fn tokens_of_owner(&self, owner: TokenOwner) -> Result<Vec<TokenRecord>> {
        let (column, id) = owner_column(owner);
        let now = time::to_db(&time::now());
        let delete = format!(
            "DELETE FROM api_tokens WHERE {column} = $1 AND expires_at IS NOT NULL AND expires_at < CAST($2 AS TIMESTAMP)"
        );
        sqlx::query(sqlx::AssertSqlSafe(delete))
            .bind(id)
            .bind(&now)
            .execute(&*self.writer())
            .await?;
        let select = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE {column} = $1 \
             ORDER BY CASE WHEN last_activity IS NULL THEN 0 ELSE 1 END, last_activity, \
             CASE WHEN created IS NULL THEN 0 ELSE 1 END, created, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(select))
            .bind(id)
            .fetch_all(&*self.writer())
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// A token by id (the API's `a<id>`), expired or not: the record carries
    /// `expires_at` and listing purges expired ones.
    pub async fn token_by_id(&self, token_id: i64) -> Result<Option<TokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    /// Deletes every token of `owner` issued by an OAuth client (revoking one
    /// OAuth token revokes the whole grant). Returns how many were deleted.
    pub async fn delete_client_tokens(&self, owner: TokenOwner, client_id: &str) -> Result<u64> {
        let (column, id) = owner_column(owner);
        let sql = format!("DELETE FROM api_tokens WHERE {column} = $1 AND client_id = $2");
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(client_id)
            .execute(&*self.writer())
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes every expired token (periodic purge). Returns how many were deleted.
    pub async fn delete_expired_tokens(&self) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM api_tokens WHERE expires_at IS NOT NULL AND expires_at < CAST($1 AS TIMESTAMP)")
                .bind(time::to_db(&time::now()))
                .execute(&*self.writer())
                .await?;
        Ok(done.rows_affected())
    }

    /// Records a use of a token.
    pub async fn touch_token(&self, token_id: i64, when: &Timestamp) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_activity = CAST($1 AS TIMESTAMP) WHERE id = $2")
            .bind(time::to_db(when))
            .bind(token_id)
            .execute(&*self.activity_writer())
            .await?;
        Ok(())
    }

    /// Deletes every token of a user issued in a browser session (logout).
    pub async fn delete_session_tokens(&self, user_id: i64, session_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1 AND session_id = $2")
            .bind(user_id)
            .bind(session_id)
            .execute(&*self.writer())
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes a token by id.
    pub async fn delete_token(&self, token_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(token_id)
            .execute(&*self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

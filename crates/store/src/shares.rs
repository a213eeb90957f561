//! Shares (access to a server granted to a user or group) and share codes
//! (links that grant a share to whoever accepts them).

use std::collections::BTreeSet;

use ferrohub_core::time::{self, Timestamp};
use ferrohub_core::token;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{
    Arg, Result, ShareCodeRecord, ShareRecord, ShareTarget, Store, StoreError, bind_args,
    json_text, opt_ts, page_bounds, parse_json, req_ts,
};

// DATETIME columns of upstream SQLite databases are CAST (see `users::USER_COLUMNS`).
const SHARE_FROM: &str = "FROM shares sh JOIN users o ON o.id = sh.owner_id \
     JOIN spawners sp ON sp.id = sh.spawner_id \
     LEFT JOIN users u ON u.id = sh.user_id LEFT JOIN groups g ON g.id = sh.group_id";
const SHARE_COLUMNS: &str = "sh.id, CAST(sh.created_at AS TEXT) AS created_at, sh.scopes, \
     CAST(sh.expires_at AS TEXT) AS expires_at, sh.owner_id, o.name AS owner_name, sh.spawner_id, \
     sp.name AS server_name, sh.user_id, u.name AS user_name, sh.group_id, g.name AS group_name";
const SHARE_CODE_COLUMNS: &str = "id, owner_id, spawner_id, scopes, CAST(created_at AS TEXT) AS created_at, \
     CAST(expires_at AS TEXT) AS expires_at, exchange_count, \
     CAST(last_exchanged_at AS TEXT) AS last_exchanged_at, hashed";
/// Shares that reach a user: directly, or through one of their groups (`$1` = user id).
const SHARES_OF_USER: &str =
    "(sh.user_id = $1 OR sh.group_id IN (SELECT group_id FROM user_group_map WHERE user_id = $1))";

/// The scopes a user holds through shares.
#[derive(Debug, Clone, Default)]
pub struct ShareGrants {
    /// Scope strings, each filtered to its server, sorted and distinct.
    pub scopes: Vec<String>,
    /// When the first of the shares behind them expires, if any does.
    pub next_expiry: Option<Timestamp>,
}

/// A share's scopes filtered to its server as it is named *now*.
///
/// Shares point at their server by id, and their scopes are always read
/// through this, so a share of `alice/nb1` follows that server when it or its
/// owner is renamed, and never grants whatever later takes the old name (a
/// new `nb1`, or a new user called `alice`). Whatever filter a stored scope
/// carries (older rows store `!server=<owner>/<server>`) is replaced.
fn bound_to_server(scopes: Vec<String>, owner: &str, server: &str) -> Vec<String> {
    normalized(scopes.into_iter().map(|scope| {
        let base = scope
            .split_once('!')
            .map_or(scope.as_str(), |(base, _)| base);
        format!("{base}!server={owner}/{server}")
    }))
}

fn share_from_row(row: &AnyRow) -> Result<ShareRecord> {
    let named = |id: &str, name: &str| -> Result<Option<(i64, String)>> {
        match row.try_get::<Option<i64>, _>(id)? {
            Some(id) => Ok(Some((
                id,
                row.try_get::<Option<String>, _>(name)?.unwrap_or_default(),
            ))),
            None => Ok(None),
        }
    };
    let owner_name = row
        .try_get::<Option<String>, _>("owner_name")?
        .unwrap_or_default();
    let server_name = row
        .try_get::<Option<String>, _>("server_name")?
        .unwrap_or_default();
    let stored = parse_json("shares.scopes", row.try_get("scopes")?, Vec::new())?;
    Ok(ShareRecord {
        id: row.try_get("id")?,
        created_at: req_ts(row, "created_at", "shares.created_at")?,
        scopes: bound_to_server(stored, &owner_name, &server_name),
        expires_at: opt_ts(row, "expires_at")?,
        owner_id: row.try_get("owner_id")?,
        owner_name,
        spawner_id: row.try_get("spawner_id")?,
        server_name,
        user: named("user_id", "user_name")?,
        group: named("group_id", "group_name")?,
    })
}

fn share_code_from_row(row: &AnyRow) -> Result<ShareCodeRecord> {
    Ok(ShareCodeRecord {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        spawner_id: row.try_get("spawner_id")?,
        scopes: parse_json("share_codes.scopes", row.try_get("scopes")?, Vec::new())?,
        created_at: req_ts(row, "created_at", "share_codes.created_at")?,
        expires_at: opt_ts(row, "expires_at")?,
        exchange_count: row
            .try_get::<Option<i64>, _>("exchange_count")?
            .unwrap_or(0),
        last_exchanged_at: opt_ts(row, "last_exchanged_at")?,
    })
}

/// The target column and id of a share target (a constant fragment for SQL).
fn target_column(target: ShareTarget) -> (&'static str, i64) {
    match target {
        ShareTarget::User(id) => ("user_id", id),
        ShareTarget::Group(id) => ("group_id", id),
    }
}

/// Scopes as stored: sorted and distinct, like upstream's JSON list of a set.
fn normalized(scopes: impl IntoIterator<Item = String>) -> Vec<String> {
    scopes
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// URL-safe base64 without padding (upstream's `secrets.token_urlsafe`).
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let n = (u32::from(group[0]) << 16) | (u32::from(group[1]) << 8) | u32::from(group[2]);
        // n bytes of input carry n + 1 six-bit digits.
        for digit in 0..=chunk.len() {
            let index = (n >> (18 - 6 * digit)) & 63;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

impl Store {
    /// One page (by id) of shares matching `filter` (a constant fragment over
    /// `$1..$n` = `args`), and how many match in all.
    async fn shares_page(
        &self,
        filter: &str,
        mut args: Vec<Arg>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ShareRecord>, i64)> {
        let count_sql = format!("SELECT COUNT(*) AS n {SHARE_FROM} WHERE {filter}");
        let total: i64 = bind_args(sqlx::query(sqlx::AssertSqlSafe(count_sql)), &args)
            .fetch_one(self.reader())
            .await?
            .try_get("n")?;
        let (offset, limit) = page_bounds(offset, limit);
        let n = args.len();
        let page_sql = format!(
            "SELECT {SHARE_COLUMNS} {SHARE_FROM} WHERE {filter} ORDER BY sh.id LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        args.extend([Arg::Int(limit), Arg::Int(offset)]);
        let rows = bind_args(sqlx::query(sqlx::AssertSqlSafe(page_sql)), &args)
            .fetch_all(self.reader())
            .await?;
        let shares = rows.iter().map(share_from_row).collect::<Result<_>>()?;
        Ok((shares, total))
    }

    /// A share by id.
    pub async fn share_by_id(&self, share_id: i64) -> Result<Option<ShareRecord>> {
        let sql = format!("SELECT {SHARE_COLUMNS} {SHARE_FROM} WHERE sh.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(share_id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(share_from_row).transpose()
    }

    /// Grants `scopes` on a server to a user or group: added to the existing
    /// share of that (server, target) if there is one (union, stored sorted),
    /// else a new share. Returns the share as stored.
    pub async fn upsert_share(
        &self,
        owner_id: i64,
        spawner_id: i64,
        target: ShareTarget,
        scopes: &[String],
    ) -> Result<ShareRecord> {
        let pool = self.writer();
        let (column, target_id) = target_column(target);
        let _serialised = self.share_lock.lock().await;
        let mut tx = pool.begin().await?;
        let select = format!(
            "SELECT id, scopes FROM shares WHERE spawner_id = $1 AND {column} = $2 ORDER BY id LIMIT 1"
        );
        let existing = sqlx::query(sqlx::AssertSqlSafe(select))
            .bind(spawner_id)
            .bind(target_id)
            .fetch_optional(&mut tx)
            .await?;
        let id = match existing {
            Some(row) => {
                let id: i64 = row.try_get("id")?;
                let old: Vec<String> =
                    parse_json("shares.scopes", row.try_get("scopes")?, Vec::new())?;
                let merged = normalized(old.into_iter().chain(scopes.iter().cloned()));
                sqlx::query("UPDATE shares SET scopes = $1 WHERE id = $2")
                    .bind(json_text(&merged, "[]"))
                    .bind(id)
                    .execute(&mut tx)
                    .await?;
                id
            }
            None => {
                let insert = format!(
                    "INSERT INTO shares (created_at, scopes, owner_id, spawner_id, {column}) \
                     VALUES (CAST($1 AS TIMESTAMP), $2, $3, $4, $5) RETURNING id"
                );
                let query = sqlx::query(sqlx::AssertSqlSafe(insert))
                    .bind(time::to_db(&time::now()))
                    .bind(json_text(&normalized(scopes.iter().cloned()), "[]"))
                    .bind(owner_id)
                    .bind(spawner_id)
                    .bind(target_id);
                crate::dialect::insert_id(&mut tx, query).await?
            }
        };
        tx.commit().await?;
        self.share_by_id(id)
            .await?
            .ok_or(StoreError::Sqlx(sqlx::Error::RowNotFound))
    }

    /// Replaces a share's scopes (partial revocation); stored sorted and distinct.
    pub async fn set_share_scopes(&self, share_id: i64, scopes: &[String]) -> Result<()> {
        let _serialised = self.share_lock.lock().await;
        sqlx::query("UPDATE shares SET scopes = $1 WHERE id = $2")
            .bind(json_text(&normalized(scopes.iter().cloned()), "[]"))
            .bind(share_id)
            .execute(&*self.writer())
            .await?;
        Ok(())
    }

    /// Deletes a share. Returns whether it existed.
    pub async fn delete_share(&self, share_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM shares WHERE id = $1")
            .bind(share_id)
            .execute(&*self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The share of a server with one user or group, if any.
    pub async fn share_for(
        &self,
        spawner_id: i64,
        target: ShareTarget,
    ) -> Result<Option<ShareRecord>> {
        let (column, target_id) = target_column(target);
        let sql = format!(
            "SELECT {SHARE_COLUMNS} {SHARE_FROM} WHERE sh.spawner_id = $1 AND sh.{column} = $2 ORDER BY sh.id LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(spawner_id)
            .bind(target_id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(share_from_row).transpose()
    }

    /// One page of the shares of an owner's servers (or of one of them), and the total.
    pub async fn shares_of_owner(
        &self,
        owner_id: i64,
        spawner_id: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ShareRecord>, i64)> {
        match spawner_id {
            Some(spawner_id) => {
                self.shares_page(
                    "sh.owner_id = $1 AND sh.spawner_id = $2",
                    vec![Arg::Int(owner_id), Arg::Int(spawner_id)],
                    offset,
                    limit,
                )
                .await
            }
            None => {
                self.shares_page("sh.owner_id = $1", vec![Arg::Int(owner_id)], offset, limit)
                    .await
            }
        }
    }

    /// One page of the shares a user was granted, directly or through their
    /// groups (`GET /users/{name}/shared`), and the total.
    pub async fn shares_for_user(
        &self,
        user_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ShareRecord>, i64)> {
        self.shares_page(SHARES_OF_USER, vec![Arg::Int(user_id)], offset, limit)
            .await
    }

    /// One page of the shares granted to a group, and the total.
    pub async fn shares_for_group(
        &self,
        group_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ShareRecord>, i64)> {
        self.shares_page("sh.group_id = $1", vec![Arg::Int(group_id)], offset, limit)
            .await
    }

    /// Revokes every share of a server. Returns how many were deleted.
    pub async fn delete_shares_of_spawner(&self, spawner_id: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM shares WHERE spawner_id = $1")
            .bind(spawner_id)
            .execute(&*self.writer())
            .await?;
        Ok(done.rows_affected())
    }

    /// For RBAC: the scopes of every unexpired share reaching the user
    /// (directly or through a group), sorted and distinct, and when the first
    /// of those shares expires (so a cached result is not used past it).
    pub async fn share_scopes_for_user(&self, user_id: i64) -> Result<ShareGrants> {
        let sql = format!(
            "SELECT sh.scopes, CAST(sh.expires_at AS TEXT) AS expires_at, \
             o.name AS owner_name, sp.name AS server_name \
             FROM shares sh JOIN spawners sp ON sp.id = sh.spawner_id \
             JOIN users o ON o.id = sp.user_id WHERE {SHARES_OF_USER} \
             AND (sh.expires_at IS NULL OR sh.expires_at > CAST($2 AS TIMESTAMP))"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(time::to_db(&time::now()))
            .fetch_all(self.reader())
            .await?;
        let mut all = BTreeSet::new();
        let mut next_expiry: Option<Timestamp> = None;
        for row in &rows {
            let scopes: Vec<String> =
                parse_json("shares.scopes", row.try_get("scopes")?, Vec::new())?;
            let owner: String = row.try_get("owner_name")?;
            let server: String = row.try_get("server_name")?;
            all.extend(bound_to_server(scopes, &owner, &server));
            if let Some(expires) = opt_ts(row, "expires_at")? {
                next_expiry = Some(next_expiry.map_or(expires, |t| t.min(expires)));
            }
        }
        Ok(ShareGrants {
            scopes: all.into_iter().collect(),
            next_expiry,
        })
    }

    /// Creates a share code; returns it with the code in clear (43 URL-safe
    /// characters, 256 random bits), which is stored only as a salted hash.
    pub async fn create_share_code(
        &self,
        owner_id: i64,
        spawner_id: i64,
        scopes: &[String],
        expires_at: Option<Timestamp>,
    ) -> Result<(ShareCodeRecord, String)> {
        let code = base64_url(&token::random_bytes::<32>());
        let query = sqlx::query(
            "INSERT INTO share_codes (hashed, prefix, exchange_count, created_at, scopes, expires_at, owner_id, spawner_id) \
             VALUES ($1, $2, 0, CAST($3 AS TIMESTAMP), $4, CAST($5 AS TIMESTAMP), $6, $7) RETURNING id",
        )
        .bind(token::hash_token(&code, token::GENERATED_TOKEN_ROUNDS))
        .bind(token::token_prefix(&code))
        .bind(time::to_db(&time::now()))
        .bind(json_text(&normalized(scopes.iter().cloned()), "[]"))
        .bind(expires_at.as_ref().map(time::to_db))
        .bind(owner_id)
        .bind(spawner_id);
        let id = crate::dialect::insert_id(&*self.writer(), query).await?;
        let record = self
            .share_code_by_id(id)
            .await?
            .ok_or(StoreError::Sqlx(sqlx::Error::RowNotFound))?;
        Ok((record, code))
    }

    /// A share code by id (expired or not).
    pub async fn share_code_by_id(&self, code_id: i64) -> Result<Option<ShareCodeRecord>> {
        let sql = format!("SELECT {SHARE_CODE_COLUMNS} FROM share_codes WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(code_id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(share_code_from_row).transpose()
    }

    /// The unexpired share code matching `code` (prefix look-up, then a
    /// constant-time hash comparison).
    pub async fn find_share_code(&self, code: &str) -> Result<Option<ShareCodeRecord>> {
        if code.len() < token::PREFIX_LEN || !token::within_length_cap(code) {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {SHARE_CODE_COLUMNS} FROM share_codes WHERE prefix = $1 \
             AND (expires_at IS NULL OR expires_at >= CAST($2 AS TIMESTAMP))"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token::token_prefix(code))
            .bind(time::to_db(&time::now()))
            .fetch_all(self.reader())
            .await?;
        for row in &rows {
            let hashed: Option<String> = row.try_get("hashed")?;
            if hashed.is_some_and(|h| token::verify_token(&h, code)) {
                return share_code_from_row(row).map(Some);
            }
        }
        Ok(None)
    }

    /// Counts an acceptance of a code and records when it happened.
    pub async fn record_share_code_exchange(&self, code_id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE share_codes SET exchange_count = COALESCE(exchange_count, 0) + 1, \
             last_exchanged_at = CAST($1 AS TIMESTAMP) WHERE id = $2",
        )
        .bind(time::to_db(&time::now()))
        .bind(code_id)
        .execute(&*self.activity_writer())
        .await?;
        Ok(())
    }

    /// One page (by id) of an owner's share codes (of all servers or one), and the total.
    pub async fn share_codes_of(
        &self,
        owner_id: i64,
        spawner_id: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ShareCodeRecord>, i64)> {
        let (filter, mut args) = match spawner_id {
            Some(spawner_id) => (
                "owner_id = $1 AND spawner_id = $2",
                vec![Arg::Int(owner_id), Arg::Int(spawner_id)],
            ),
            None => ("owner_id = $1", vec![Arg::Int(owner_id)]),
        };
        let count_sql = format!("SELECT COUNT(*) AS n FROM share_codes WHERE {filter}");
        let total: i64 = bind_args(sqlx::query(sqlx::AssertSqlSafe(count_sql)), &args)
            .fetch_one(self.reader())
            .await?
            .try_get("n")?;
        let (offset, limit) = page_bounds(offset, limit);
        let n = args.len();
        let page_sql = format!(
            "SELECT {SHARE_CODE_COLUMNS} FROM share_codes WHERE {filter} ORDER BY id LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        args.extend([Arg::Int(limit), Arg::Int(offset)]);
        let rows = bind_args(sqlx::query(sqlx::AssertSqlSafe(page_sql)), &args)
            .fetch_all(self.reader())
            .await?;
        let codes = rows
            .iter()
            .map(share_code_from_row)
            .collect::<Result<_>>()?;
        Ok((codes, total))
    }

    /// Deletes a share code. Returns whether it existed.
    pub async fn delete_share_code(&self, code_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM share_codes WHERE id = $1")
            .bind(code_id)
            .execute(&*self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes every share code of a server. Returns how many were deleted.
    pub async fn delete_share_codes_of_spawner(&self, spawner_id: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM share_codes WHERE spawner_id = $1")
            .bind(spawner_id)
            .execute(&*self.writer())
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes every expired share code (periodic purge). Returns how many were deleted.
    pub async fn delete_expired_share_codes(&self) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM share_codes WHERE expires_at IS NOT NULL AND expires_at < CAST($1 AS TIMESTAMP)")
                .bind(time::to_db(&time::now()))
                .execute(&*self.writer())
                .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_url_matches_the_rfc_alphabet_without_padding() {
        assert_eq!(base64_url(b"Man"), "TWFu");
        assert_eq!(base64_url(b"Ma"), "TWE");
        assert_eq!(base64_url(b"M"), "TQ");
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64_url(&[0u8; 32]).len(), 43);
    }
}

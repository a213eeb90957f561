//! Users and their default spawner row; the paged, filtered user listing.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ferrohub_core::time::{self, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{
    Arg, Dialect, Result, Store, StoreError, UserRecord, bind_args, conflict_or, json_text,
    page_bounds, parse_json, placeholders,
};

// Upstream SQLite databases declare these BOOLEAN/DATETIME, types the Any driver
// refuses to read: a CAST expression has no declared type, so its value type is used.
const USER_COLUMNS: &str = "id, name, CAST(admin AS INTEGER) AS admin, CAST(created AS TEXT) AS created, \
     CAST(last_activity AS TEXT) AS last_activity, cookie_id, user_info";

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
        user_info: parse_json("users.user_info", row.try_get("user_info")?, None)?,
    })
}

/// Server-state filter of `GET /users?state=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Users with at least one active (pending or ready) server.
    Active,
    /// Users without any active server.
    Inactive,
}

/// Sort column of `GET /users?sort=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UserSort {
    /// Creation order (upstream's default).
    #[default]
    Id,
    /// User name.
    Name,
    /// Last activity; users never seen sort last in both directions.
    LastActivity,
}

/// What a filtered `list:users!user=..`/`!group=..` scope lets the caller see:
/// users named in `users` or members of a group in `groups`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    /// Visible user names.
    pub users: BTreeSet<String>,
    /// Groups whose members are visible.
    pub groups: BTreeSet<String>,
}

/// One page of `GET /users`: filters, order and window, all applied in SQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Case-insensitive substring of the name (`%` and `_` match themselves).
    pub name_filter: Option<String>,
    /// Keep only users with (or without) an active server.
    pub state: Option<ServerState>,
    /// Sort column; ties are broken by id.
    pub sort: UserSort,
    /// Reverse the order (NULL `last_activity` still last).
    pub descending: bool,
    /// Rows to skip.
    pub offset: i64,
    /// Maximum rows returned.
    pub limit: i64,
    /// Restrict to what a filtered scope allows; `None` = everyone.
    pub visible: Option<Visibility>,
}

/// The last count of a user listing: paging through users (the admin page,
/// the idle culler) asks the same `COUNT(*)` for every page. Which users
/// exist, their names and whether they have a server change only through
/// `Store::writer`, so the count stays right while the generation is the one
/// it was counted at; [`COUNT_MAX_AGE`] bounds it against writes from another
/// process sharing the database.
#[derive(Debug)]
pub(crate) struct CachedCount {
    generation: u64,
    counted: Instant,
    filter: String,
    args: Vec<Arg>,
    total: i64,
}

/// The longest a count is reused.
const COUNT_MAX_AGE: Duration = Duration::from_secs(10);

impl CachedCount {
    fn get(&self, generation: u64, filter: &str, args: &[Arg]) -> Option<i64> {
        (self.generation == generation
            && self.counted.elapsed() < COUNT_MAX_AGE
            && self.filter == filter
            && self.args == args)
            .then_some(self.total)
    }
}

/// Escapes LIKE wildcards so a name filter is a plain substring (escape char `\`).
fn like_pattern(filter: &str) -> String {
    let mut out = String::with_capacity(filter.len() + 2);
    out.push('%');
    for c in filter.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The WHERE clause (constant fragments, numbered placeholders) and its values;
/// `None` when the visibility admits nobody.
fn user_filter(query: &UserQuery) -> Option<(String, Vec<Arg>)> {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Arg> = Vec::new();
    if let Some(filter) = &query.name_filter {
        args.push(Arg::Text(like_pattern(filter)));
        clauses.push(format!(
            "LOWER(name) LIKE LOWER(${}) ESCAPE '\\'",
            args.len()
        ));
    }
    match query.state {
        Some(ServerState::Active) => clauses.push(
            "EXISTS (SELECT 1 FROM spawners s WHERE s.user_id = u.id AND s.server_id IS NOT NULL)"
                .to_owned(),
        ),
        Some(ServerState::Inactive) => clauses.push(
            "NOT EXISTS (SELECT 1 FROM spawners s WHERE s.user_id = u.id AND s.server_id IS NOT NULL)"
                .to_owned(),
        ),
        None => {}
    }
    if let Some(visible) = &query.visible {
        let mut either = Vec::new();
        if !visible.users.is_empty() {
            either.push(format!(
                "name IN ({})",
                placeholders(args.len() + 1, visible.users.len())
            ));
            args.extend(visible.users.iter().cloned().map(Arg::Text));
        }
        if !visible.groups.is_empty() {
            either.push(format!(
                "id IN (SELECT m.user_id FROM user_group_map m JOIN groups g ON g.id = m.group_id WHERE g.name IN ({}))",
                placeholders(args.len() + 1, visible.groups.len())
            ));
            args.extend(visible.groups.iter().cloned().map(Arg::Text));
        }
        if either.is_empty() {
            return None;
        }
        clauses.push(format!("({})", either.join(" OR ")));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    Some((sql, args))
}

/// ORDER BY for a user query: NULL activity last both ways, ties by id.
fn user_order(query: &UserQuery) -> String {
    let dir = if query.descending { "DESC" } else { "ASC" };
    match query.sort {
        UserSort::Id => format!("id {dir}"),
        UserSort::Name => format!("name {dir}, id {dir}"),
        UserSort::LastActivity => format!(
            "CASE WHEN last_activity IS NULL THEN 1 ELSE 0 END, last_activity {dir}, id {dir}"
        ),
    }
}

impl Store {
    /// Creates a user and its default (`""`) spawner row; `Conflict` if the name exists.
    pub async fn create_user(&self, name: &str, admin: bool) -> Result<UserRecord> {
        let pool = self.writer();
        let now = time::to_db(&time::now());
        let cookie_id = ferrohub_core::token::new_token();
        let mut tx = pool.begin().await?;
        let id: i64 = crate::dialect::insert_id(&mut tx, sqlx::query(
            "INSERT INTO users (name, admin, created, cookie_id, state, user_info) VALUES ($1, $2, CAST($3 AS TIMESTAMP), $4, '{}', NULL) RETURNING id",
        )
        .bind(name)
        .bind(admin)
        .bind(&now)
        .bind(&cookie_id))
        .await
        .map_err(|e| conflict_or(e, || format!("user {name}")))?;
        sqlx::query(
            "INSERT INTO spawners (user_id, name, display_name, state) VALUES ($1, '', '', '{}')",
        )
        .bind(id)
        .execute(&mut tx)
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
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Looks a user up by id.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Looks a user up by the id bound into their login cookie.
    pub async fn user_by_cookie_id(&self, cookie_id: &str) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE cookie_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(cookie_id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// All users, by name.
    pub async fn list_users(&self) -> Result<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// One page of users matching `query`, and how many match in all (for
    /// the pagination `total`), in two queries; one while the count of the
    /// same filter is known at this generation (`CachedCount`).
    pub async fn list_users_page(&self, query: &UserQuery) -> Result<(Vec<UserRecord>, i64)> {
        let Some((filter, mut args)) = user_filter(query) else {
            return Ok((Vec::new(), 0));
        };
        let total = self.count_users_matching(&filter, &args).await?;
        let (offset, limit) = page_bounds(query.offset, query.limit);
        let n = args.len();
        let page_sql = format!(
            "SELECT {USER_COLUMNS} FROM users u{filter} ORDER BY {} LIMIT ${} OFFSET ${}",
            user_order(query),
            n + 1,
            n + 2
        );
        args.extend([Arg::Int(limit), Arg::Int(offset)]);
        if self.url.dialect() == Dialect::Sqlite {
            return Ok((self.sqlite_page(&page_sql, query, &args).await?, total));
        }
        let rows = bind_args(sqlx::query(sqlx::AssertSqlSafe(page_sql)), &args)
            .fetch_all(self.reader())
            .await?;
        let users = rows.iter().map(user_from_row).collect::<Result<_>>()?;
        Ok((users, total))
    }

    /// A page of users from SQLite as one row holding a JSON array. sqlx hands
    /// SQLite rows one at a time from the connection's thread to ours, two
    /// thread switches per row; for a page of 200 that was most of the
    /// listing's cost, so the database packs the page into one value instead.
    async fn sqlite_page(
        &self,
        page_sql: &str,
        query: &UserQuery,
        args: &[Arg],
    ) -> Result<Vec<UserRecord>> {
        /// One user as `json_array` lays it out (the order of `USER_COLUMNS`).
        #[derive(serde::Deserialize)]
        struct PackedUser(
            i64,
            String,
            Option<i64>,
            Option<String>,
            Option<String>,
            String,
            Option<String>,
        );
        let sql = format!(
            "SELECT json_group_array(json_array(id, name, admin, created, last_activity, \
             cookie_id, user_info) ORDER BY {}) AS page FROM ({page_sql})",
            user_order(query)
        );
        let packed: String = bind_args(sqlx::query(sqlx::AssertSqlSafe(sql)), args)
            .fetch_one(self.reader())
            .await?
            .try_get("page")?;
        let rows: Vec<PackedUser> =
            serde_json::from_str(&packed).map_err(|e| StoreError::Corrupt {
                what: "users page",
                reason: e.to_string(),
            })?;
        rows.into_iter()
            .map(
                |PackedUser(id, name, admin, created, last_activity, cookie_id, user_info)| {
                    Ok(UserRecord {
                        id,
                        name,
                        admin: admin.unwrap_or(0) != 0,
                        created: created.as_deref().and_then(time::from_db),
                        last_activity: last_activity.as_deref().and_then(time::from_db),
                        cookie_id,
                        user_info: parse_json("users.user_info", user_info, None)?,
                    })
                },
            )
            .collect()
    }

    /// `COUNT(*)` of the users a WHERE clause selects, from [`CachedCount`]
    /// when current.
    async fn count_users_matching(&self, filter: &str, args: &[Arg]) -> Result<i64> {
        // Read before counting: a write that lands meanwhile makes it stale.
        let generation = self.generation();
        let cached = self
            .user_count
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .and_then(|c| c.get(generation, filter, args));
        if let Some(total) = cached {
            return Ok(total);
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM users u{filter}");
        let total: i64 = bind_args(sqlx::query(sqlx::AssertSqlSafe(count_sql)), args)
            .fetch_one(self.reader())
            .await?
            .try_get("n")?;
        *self
            .user_count
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(CachedCount {
            generation,
            counted: Instant::now(),
            filter: filter.to_owned(),
            args: args.to_vec(),
            total,
        });
        Ok(total)
    }

    /// The users with these names (unknown names are skipped), by name; for
    /// group membership requests naming users.
    pub async fn users_by_names(&self, names: &[String]) -> Result<Vec<UserRecord>> {
        let mut users = Vec::new();
        // Chunks keep the bound parameters well under both dialects' limits.
        for chunk in names.chunks(500) {
            let sql = format!(
                "SELECT {USER_COLUMNS} FROM users WHERE name IN ({})",
                placeholders(1, chunk.len())
            );
            let args: Vec<Arg> = chunk.iter().cloned().map(Arg::Text).collect();
            let rows = bind_args(sqlx::query(sqlx::AssertSqlSafe(sql)), &args)
                .fetch_all(self.reader())
                .await?;
            for row in &rows {
                users.push(user_from_row(row)?);
            }
        }
        users.sort_by(|a, b| a.name.cmp(&b.name));
        users.dedup_by_key(|u| u.id);
        Ok(users)
    }

    /// Users with the admin flag, by name (kept in step with the admin role at start-up).
    pub async fn list_admin_users(&self) -> Result<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE admin = TRUE ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Renames a user; `Conflict` if the new name is taken.
    pub async fn rename_user(&self, user_id: i64, new_name: &str) -> Result<()> {
        sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
            .bind(new_name)
            .bind(user_id)
            .execute(&*self.writer())
            .await
            .map_err(|e| conflict_or(e, || format!("user {new_name}")))?;
        Ok(())
    }

    /// Stores what the authenticator returned about the user (`None` clears it).
    pub async fn set_user_info(
        &self,
        user_id: i64,
        user_info: Option<&serde_json::Value>,
    ) -> Result<()> {
        sqlx::query("UPDATE users SET user_info = $1 WHERE id = $2")
            .bind(user_info.map(|v| json_text(v, "null")))
            .bind(user_id)
            .execute(&*self.writer())
            .await?;
        Ok(())
    }

    /// The user's `users.encrypted_auth_state`: a Fernet token as upstream
    /// stores it (the store never sees the plaintext), `None` if unset.
    pub async fn encrypted_auth_state(&self, user_id: i64) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT encrypted_auth_state FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(self.reader())
            .await?;
        match row {
            Some(row) => Ok(row.try_get::<Option<Vec<u8>>, _>("encrypted_auth_state")?),
            None => Ok(None),
        }
    }

    /// Stores (or with `None` clears) the user's encrypted `auth_state`.
    pub async fn set_encrypted_auth_state(&self, user_id: i64, token: Option<&[u8]>) -> Result<()> {
        sqlx::query("UPDATE users SET encrypted_auth_state = $1 WHERE id = $2")
            .bind(token.map(<[u8]>::to_vec))
            .bind(user_id)
            .execute(&*self.writer())
            .await?;
        Ok(())
    }

    /// How many users exist (metrics, first-start detection).
    pub async fn count_users(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(self.reader())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// How many users were active at or after `since` (the active-users metric).
    pub async fn count_users_active_since(&self, since: &Timestamp) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM users WHERE last_activity >= CAST($1 AS TIMESTAMP)",
        )
        .bind(time::to_db(since))
        .fetch_one(self.reader())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Sets the admin flag.
    pub async fn set_admin(&self, user_id: i64, admin: bool) -> Result<()> {
        sqlx::query("UPDATE users SET admin = $1 WHERE id = $2")
            .bind(admin)
            .bind(user_id)
            .execute(&*self.writer())
            .await?;
        Ok(())
    }

    /// Deletes a user with everything that hangs off them: spawners and their
    /// servers, tokens, codes, shares (theirs, to them, of their servers), share
    /// codes, group memberships and role grants. Explicit, so it holds even where
    /// foreign keys are not enforced. Returns whether a user was deleted.
    pub async fn delete_user(&self, user_id: i64) -> Result<bool> {
        let pool = self.writer();
        let mut tx = pool.begin().await?;
        // Servers rows are not cascaded from users: remove the user's first.
        sqlx::query(
            "DELETE FROM servers WHERE id IN (SELECT server_id FROM spawners WHERE user_id = $1)",
        )
        .bind(user_id)
        .execute(&mut tx)
        .await?;
        for sql in [
            "DELETE FROM api_tokens WHERE user_id = $1",
            "DELETE FROM oauth_codes WHERE user_id = $1",
            "DELETE FROM shares WHERE owner_id = $1 OR user_id = $1 \
             OR spawner_id IN (SELECT id FROM spawners WHERE user_id = $1)",
            "DELETE FROM share_codes WHERE owner_id = $1 \
             OR spawner_id IN (SELECT id FROM spawners WHERE user_id = $1)",
            "DELETE FROM user_group_map WHERE user_id = $1",
            "DELETE FROM user_role_map WHERE user_id = $1",
            "DELETE FROM spawners WHERE user_id = $1",
        ] {
            sqlx::query(sql).bind(user_id).execute(&mut tx).await?;
        }
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Moves a user's `last_activity` forward (never back).
    pub async fn touch_user(&self, user_id: i64, when: &Timestamp) -> Result<()> {
        let when = time::to_db(when);
        sqlx::query(
            "UPDATE users SET last_activity = CAST($1 AS TIMESTAMP) WHERE id = $2 \
             AND (last_activity IS NULL OR last_activity < CAST($1 AS TIMESTAMP))",
        )
        .bind(&when)
        .bind(user_id)
        .execute(&*self.activity_writer())
        .await?;
        Ok(())
    }
}

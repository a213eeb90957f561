//! One set of queries, three SQL dialects.
//!
//! The store's SQL is written once, in PostgreSQL's dialect (which SQLite
//! mostly shares): `$n` placeholders (any order, repeated), `ON CONFLICT`,
//! `excluded.col`, `CAST(.. AS TEXT)`/`CAST(.. AS INTEGER)` and `INSERT ..
//! RETURNING id`. Columns have upstream's types: on PostgreSQL booleans are
//! BOOLEAN and timestamps TIMESTAMP, which refuse the TEXT the store binds,
//! so every timestamp value written or compared is `CAST($n AS TIMESTAMP)`,
//! booleans are bound as Rust `bool` (and `TRUE`/`FALSE` literals) and read
//! as `CAST(col AS INTEGER)`. Timestamps are read as `CAST(col AS TEXT)`:
//! on PostgreSQL `2026-12-07 12:00:00.123456` (ISO, as sqlx sets `DateStyle`
//! to `ISO, MDY` on every connection), which `time::from_db` reads.
//!
//! Each statement goes through [`Db`] (the pool) or [`Tx`] (a transaction),
//! which translate it in one place for the others: on SQLite
//! ([`to_sqlite`]) the timestamp casts are dropped (SQLite's CAST to
//! TIMESTAMP would turn the text into a number); on MySQL ([`to_mysql`]) the
//! dialect is rewritten and the bound values re-ordered to match its `?`
//! placeholders. Double-quoted identifiers (`"user"`) and `\` in string
//! literals need no translation: every MySQL connection runs with
//! `ANSI_QUOTES` and `NO_BACKSLASH_ESCAPES` ([`MYSQL_SESSION`]).

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::{Any, AnyPool, AssertSqlSafe, Either, Execute, Executor, Row, SqlSafeStr, SqlStr};

use crate::Dialect;

/// Run on every new MySQL connection: standard double-quoted identifiers,
/// backslash as an ordinary character in literals (as in SQLite and
/// PostgreSQL), errors rather than silent truncation, and PostgreSQL's
/// isolation level: InnoDB's default, REPEATABLE READ, takes gap locks, and
/// concurrent membership updates (delete a user's rows, insert new ones)
/// then fail with deadlocks.
pub(crate) const MYSQL_SESSION: &[&str] = &[
    "SET SESSION sql_mode = \
     CONCAT(@@sql_mode, ',ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES')",
    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
];

/// The connection pool and the dialect its SQL is translated to.
#[derive(Debug)]
pub(crate) struct Db {
    inner: AnyPool,
    dialect: Dialect,
}

impl Db {
    pub(crate) fn new(inner: AnyPool, dialect: Dialect) -> Self {
        Self { inner, dialect }
    }

    /// The pool itself (transactions, closing).
    pub(crate) fn any_pool(&self) -> &AnyPool {
        &self.inner
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }
}

/// A transaction whose statements are translated like the pool's; rolled
/// back when dropped without [`Tx::commit`].
#[derive(Debug)]
pub(crate) struct Tx {
    inner: sqlx::Transaction<'static, Any>,
    dialect: Dialect,
}

impl Tx {
    pub(crate) fn new(inner: sqlx::Transaction<'static, Any>, dialect: Dialect) -> Self {
        Self { inner, dialect }
    }

    /// Commits the transaction.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }
}

/// Something queries run on, and the dialect they must be written in.
pub(crate) trait Dialected {
    fn sql_dialect(&self) -> Dialect;
}

impl Dialected for &Db {
    fn sql_dialect(&self) -> Dialect {
        self.dialect
    }
}

impl Dialected for &mut Tx {
    fn sql_dialect(&self) -> Dialect {
        self.dialect
    }
}

/// Runs an `INSERT .. RETURNING id` of one row and returns the new id. MySQL
/// has no `RETURNING` (MariaDB only since 10.5): there [`to_mysql`] drops the
/// clause and the id is the connection's last insert id.
pub(crate) async fn insert_id<'c, 'q, E>(
    executor: E,
    query: sqlx::query::Query<'q, Any, AnyArguments>,
) -> Result<i64, sqlx::Error>
where
    E: Executor<'c, Database = Any> + Dialected,
{
    if executor.sql_dialect() == Dialect::MySql {
        let done = executor.execute(query).await?;
        return done.last_insert_id().ok_or_else(|| {
            sqlx::Error::Protocol("the server reported no id for the inserted row".into())
        });
    }
    executor.fetch_one(query).await?.try_get("id")
}

/// A query translated for SQLite or MySQL: its SQL and its values (in `?`
/// order on MySQL).
type Translated = (SqlStr, Option<AnyArguments>);

/// The marker of a timestamp value in the store's SQL: `CAST($n AS TIMESTAMP)`.
const TIMESTAMP_CAST: &str = " AS TIMESTAMP)";

/// Takes the SQL and values out of `query` and translates both for
/// `dialect` (SQLite or MySQL). On SQLite a statement without a timestamp
/// cast is handed on as it is, uncopied.
fn translate<'q, E: Execute<'q, Any>>(
    mut query: E,
    dialect: Dialect,
) -> Result<Translated, sqlx::Error> {
    let arguments = query.take_arguments().map_err(sqlx::Error::Encode)?;
    let sql = query.sql();
    if dialect != Dialect::MySql {
        if !sql.as_str().contains(TIMESTAMP_CAST) {
            return Ok((sql, arguments));
        }
        let text = to_sqlite(sql.as_str());
        return Ok((AssertSqlSafe(text).into_sql_str(), arguments));
    }
    let (text, order) = to_mysql(sql.as_str());
    let arguments = match arguments {
        Some(arguments) => Some(reorder(arguments, &order)?),
        None => None,
    };
    Ok((AssertSqlSafe(text).into_sql_str(), arguments))
}

/// The values for `?` placeholders that stand for `$order[0], $order[1], ...`.
fn reorder(arguments: AnyArguments, order: &[usize]) -> Result<AnyArguments, sqlx::Error> {
    let values = arguments.values.0;
    let mut out = AnyArguments::default();
    for &number in order {
        let value = number
            .checked_sub(1)
            .and_then(|index| values.get(index))
            .ok_or_else(|| {
                sqlx::Error::Protocol(format!(
                    "placeholder ${number} has no bound value ({} bound)",
                    values.len()
                ))
            })?;
        out.values.0.push(value.clone());
    }
    Ok(out)
}

/// `CAST($n AS TIMESTAMP)` → `$n`: SQLite and MySQL take the text form of a
/// timestamp as it is (and SQLite's cast would make a number of it).
fn strip_timestamp_casts(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find("CAST($") {
        let after = &rest[at + "CAST(".len()..];
        let digits = after[1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len() - 1);
        let placeholder = &after[..=digits];
        if digits > 0 && after[placeholder.len()..].starts_with(TIMESTAMP_CAST) {
            out.push_str(&rest[..at]);
            out.push_str(placeholder);
            rest = &after[placeholder.len() + TIMESTAMP_CAST.len()..];
        } else {
            out.push_str(&rest[..at + "CAST($".len()]);
            rest = &rest[at + "CAST($".len()..];
        }
    }
    out.push_str(rest);
    out
}

/// Translates the store's SQL to SQLite's: timestamp casts dropped.
pub(crate) fn to_sqlite(sql: &str) -> String {
    strip_timestamp_casts(sql)
}

/// Translates the store's SQL to MySQL's: `$n` → `?` (returning the `n` of
/// each `?` in order), `CAST($n AS TIMESTAMP)` → `$n`, `CAST(.. AS TEXT)` →
/// `AS CHAR`, `AS INTEGER`/`AS BIGINT` → `AS SIGNED`, `ON CONFLICT .. DO NOTHING` → `INSERT IGNORE`, `ON CONFLICT (..)
/// DO UPDATE SET` → `ON DUPLICATE KEY UPDATE` with `excluded.c` →
/// `VALUES(c)`, and a trailing `RETURNING id` is dropped (see [`insert_id`]).
/// Quoted literals and identifiers are copied unchanged.
pub(crate) fn to_mysql(sql: &str) -> (String, Vec<usize>) {
    let mut text = strip_timestamp_casts(sql)
        .replace(" AS TEXT)", " AS CHAR)")
        .replace(" AS INTEGER)", " AS SIGNED)")
        .replace(" AS BIGINT)", " AS SIGNED)");
    if let Some(at) = text.find(" ON CONFLICT") {
        let tail = &text[at + " ON CONFLICT".len()..];
        let after_target = tail
            .trim_start()
            .strip_prefix('(')
            .and_then(|rest| rest.split_once(')'))
            .map_or(tail.trim_start(), |(_, rest)| rest.trim_start());
        if let Some(rest) = after_target.strip_prefix("DO NOTHING") {
            let rest = rest.to_owned();
            text.truncate(at);
            text.push_str(&rest);
            text = text.replacen("INSERT INTO ", "INSERT IGNORE INTO ", 1);
        } else if let Some(rest) = after_target.strip_prefix("DO UPDATE SET") {
            let rest = excluded_to_values(rest);
            text.truncate(at);
            text.push_str(" ON DUPLICATE KEY UPDATE");
            text.push_str(&rest);
        }
    }
    if text.trim_start().starts_with("INSERT ")
        && let Some(stripped) = text.trim_end().strip_suffix(" RETURNING id")
    {
        text = stripped.to_owned();
    }
    placeholders_to_mysql(&text)
}

/// `excluded.c` / `excluded."c"` → `VALUES(c)` / `VALUES("c")`.
fn excluded_to_values(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find("excluded.") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "excluded.".len()..];
        let len = if let Some(quoted) = after.strip_prefix('"') {
            quoted.find('"').map_or(after.len(), |end| end + 2)
        } else {
            after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len())
        };
        out.push_str("VALUES(");
        out.push_str(&after[..len]);
        out.push(')');
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Names the store uses as plain identifiers that MySQL 8 reserves (the
/// `groups` table; `member`, an alias), quoted wherever they stand as a word.
const MYSQL_RESERVED: &[&str] = &["groups", "member"];

/// `$n` → `?` outside quotes, and [`MYSQL_RESERVED`] words quoted; the `n`s
/// in order of appearance.
fn placeholders_to_mysql(sql: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(sql.len());
    let mut order = Vec::new();
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut number = 0usize;
                while let Some(digit) = chars.peek().and_then(|d| d.to_digit(10)) {
                    number = number.saturating_mul(10).saturating_add(digit as usize);
                    chars.next();
                }
                order.push(number);
                out.push('?');
            }
            None if is_word(c) && !out.ends_with(is_word) && !out.ends_with('.') => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek().filter(|&&next| is_word(next)) {
                    word.push(next);
                    chars.next();
                }
                if MYSQL_RESERVED.contains(&word.as_str()) {
                    out.push('"');
                    out.push_str(&word);
                    out.push('"');
                } else {
                    out.push_str(&word);
                }
            }
            None => out.push(c),
        }
    }
    (out, order)
}

/// A stream holding only `error`.
fn failed_stream<'e>(
    error: sqlx::Error,
) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>> {
    Box::pin(futures_util::stream::once(async move { Err(error) }))
}

impl<'c> Executor<'c> for &'c Db {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        if self.dialect == Dialect::Postgres {
            return self.inner.fetch_many(query);
        }
        match translate(query, self.dialect) {
            Ok(translated) => self.inner.fetch_many(translated),
            Err(error) => failed_stream(error),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        if self.dialect == Dialect::Postgres {
            return self.inner.fetch_optional(query);
        }
        match translate(query, self.dialect) {
            Ok(translated) => self.inner.fetch_optional(translated),
            Err(error) => Box::pin(async move { Err(error) }),
        }
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement, sqlx::Error>>
    where
        'c: 'e,
    {
        self.inner.prepare_with(sql, parameters)
    }
}

impl<'c> Executor<'c> for &'c mut Tx {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        if self.dialect == Dialect::Postgres {
            return self.inner.fetch_many(query);
        }
        match translate(query, self.dialect) {
            Ok(translated) => self.inner.fetch_many(translated),
            Err(error) => failed_stream(error),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        if self.dialect == Dialect::Postgres {
            return self.inner.fetch_optional(query);
        }
        match translate(query, self.dialect) {
            Ok(translated) => self.inner.fetch_optional(translated),
            Err(error) => Box::pin(async move { Err(error) }),
        }
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement, sqlx::Error>>
    where
        'c: 'e,
    {
        self.inner.prepare_with(sql, parameters)
    }
}

#[cfg(test)]
mod tests {
    use super::{to_mysql, to_sqlite};

    #[test]
    fn timestamp_casts_are_dropped_on_sqlite_and_mysql() {
        let sql = "UPDATE t SET a = CAST($1 AS TIMESTAMP), b = CAST($12 AS TIMESTAMP) \
                   WHERE c < CAST($1 AS TIMESTAMP) AND d = CAST($2 AS TEXT) AND e = 'CAST($3'";
        assert_eq!(
            to_sqlite(sql),
            "UPDATE t SET a = $1, b = $12 WHERE c < $1 AND d = CAST($2 AS TEXT) AND e = 'CAST($3'"
        );
        let (mysql, order) = to_mysql(sql);
        assert_eq!(
            mysql,
            "UPDATE t SET a = ?, b = ? WHERE c < ? AND d = CAST(? AS CHAR) AND e = 'CAST($3'"
        );
        assert_eq!(order, [1, 12, 1, 2]);
        assert_eq!(
            to_mysql("SELECT CAST(admin AS INTEGER) AS admin FROM users").0,
            "SELECT CAST(admin AS SIGNED) AS admin FROM users"
        );
    }

    #[test]
    fn placeholders_become_question_marks_in_order() {
        let (sql, order) = to_mysql("UPDATE t SET a = $2, b = '$1' WHERE id = $1 OR x = $10");
        assert_eq!(sql, "UPDATE t SET a = ?, b = '$1' WHERE id = ? OR x = ?");
        assert_eq!(order, [2, 1, 10]);
    }

    #[test]
    fn casts_and_returning() {
        let (sql, order) = to_mysql(
            "INSERT INTO users (name, admin) VALUES ($1, CAST($2 AS BIGINT)) RETURNING id",
        );
        assert_eq!(
            sql,
            "INSERT INTO users (name, admin) VALUES (?, CAST(? AS SIGNED))"
        );
        assert_eq!(order, [1, 2]);
        let (sql, _) = to_mysql("SELECT CAST(created AS TEXT) AS created FROM users");
        assert_eq!(sql, "SELECT CAST(created AS CHAR) AS created FROM users");
        // Only an INSERT's trailing clause is dropped.
        let (sql, _) = to_mysql("DELETE FROM t WHERE id = $1 RETURNING id");
        assert!(sql.ends_with("RETURNING id"), "{sql}");
    }

    #[test]
    fn words_mysql_8_reserves_are_quoted() {
        let (sql, _) = to_mysql(
            "SELECT g.name, user_id AS member FROM groups g JOIN user_group_map m \
             ON m.group_id = g.id WHERE g.name = 'groups' ORDER BY member",
        );
        assert_eq!(
            sql,
            "SELECT g.name, user_id AS \"member\" FROM \"groups\" g JOIN user_group_map m \
             ON m.group_id = g.id WHERE g.name = 'groups' ORDER BY \"member\""
        );
    }

    #[test]
    fn upserts() {
        let (sql, order) = to_mysql("INSERT INTO m (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING");
        assert_eq!(sql, "INSERT IGNORE INTO m (a, b) VALUES (?, ?)");
        assert_eq!(order, [1, 2]);
        let (sql, _) = to_mysql("INSERT INTO c (i) VALUES ($1) ON CONFLICT (i) DO NOTHING");
        assert_eq!(sql, "INSERT IGNORE INTO c (i) VALUES (?)");
        let (sql, order) = to_mysql(
            "INSERT INTO c (i, d) VALUES ($1, $2) ON CONFLICT (i) DO UPDATE SET d = $2, \
             \"user\" = excluded.\"user\", e = excluded.e",
        );
        assert_eq!(
            sql,
            "INSERT INTO c (i, d) VALUES (?, ?) ON DUPLICATE KEY UPDATE d = ?, \
             \"user\" = VALUES(\"user\"), e = VALUES(e)"
        );
        assert_eq!(order, [1, 2, 2]);
    }
}

//! Groups and their members (`user_group_map`).

use std::collections::BTreeSet;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{
    Arg, GroupRecord, Result, Store, bind_args, conflict_or, json_text, page_bounds, parse_json,
    placeholders,
};

const GROUP_COLUMNS: &str = "id, name, properties";

fn group_from_row(row: &AnyRow) -> Result<GroupRecord> {
    Ok(GroupRecord {
        id: row.try_get("id")?,
        name: row
            .try_get::<Option<String>, _>("name")?
            .unwrap_or_default(),
        properties: parse_json(
            "groups.properties",
            row.try_get("properties")?,
            serde_json::json!({}),
        )?,
    })
}

/// The non-NULL `name` column of each row.
fn names(rows: &[AnyRow]) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(name) = row.try_get::<Option<String>, _>("name")? {
            out.push(name);
        }
    }
    Ok(out)
}

impl Store {
    /// Creates a group; `Conflict` if the name exists.
    pub async fn create_group(
        &self,
        name: &str,
        properties: &serde_json::Value,
    ) -> Result<GroupRecord> {
        let properties = json_text(properties, "{}");
        let query =
            sqlx::query("INSERT INTO groups (name, properties) VALUES ($1, $2) RETURNING id")
                .bind(name)
                .bind(&properties);
        let id = crate::dialect::insert_id(&*self.writer(), query)
            .await
            .map_err(|e| conflict_or(e, || format!("group {name}")))?;
        Ok(GroupRecord {
            id,
            name: name.to_owned(),
            properties: parse_json("groups.properties", Some(properties), serde_json::json!({}))?,
        })
    }

    /// Looks a group up by name.
    pub async fn group_by_name(&self, name: &str) -> Result<Option<GroupRecord>> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM groups WHERE name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(group_from_row).transpose()
    }

    /// Looks a group up by id.
    pub async fn group_by_id(&self, group_id: i64) -> Result<Option<GroupRecord>> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM groups WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(group_id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(group_from_row).transpose()
    }

    /// One page of groups by id, and how many there are in all. `visible`
    /// restricts to those names (a filtered `list:groups!group=..` scope).
    pub async fn list_groups_page(
        &self,
        visible: Option<&BTreeSet<String>>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<GroupRecord>, i64)> {
        let mut args: Vec<Arg> = Vec::new();
        let filter = match visible {
            Some(names) if names.is_empty() => return Ok((Vec::new(), 0)),
            Some(names) => {
                args.extend(names.iter().cloned().map(Arg::Text));
                format!(" WHERE name IN ({})", placeholders(1, names.len()))
            }
            None => String::new(),
        };
        let count_sql = format!("SELECT COUNT(*) AS n FROM groups{filter}");
        let total: i64 = bind_args(sqlx::query(sqlx::AssertSqlSafe(count_sql)), &args)
            .fetch_one(self.reader())
            .await?
            .try_get("n")?;
        let (offset, limit) = page_bounds(offset, limit);
        let n = args.len();
        let page_sql = format!(
            "SELECT {GROUP_COLUMNS} FROM groups{filter} ORDER BY id LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        args.extend([Arg::Int(limit), Arg::Int(offset)]);
        let rows = bind_args(sqlx::query(sqlx::AssertSqlSafe(page_sql)), &args)
            .fetch_all(self.reader())
            .await?;
        let groups = rows.iter().map(group_from_row).collect::<Result<_>>()?;
        Ok((groups, total))
    }

    /// Deletes a group with its memberships, role grants and shares. Returns whether it existed.
    pub async fn delete_group(&self, group_id: i64) -> Result<bool> {
        let pool = self.writer();
        let mut tx = pool.begin().await?;
        for sql in [
            "DELETE FROM shares WHERE group_id = $1",
            "DELETE FROM user_group_map WHERE group_id = $1",
            "DELETE FROM group_role_map WHERE group_id = $1",
        ] {
            sqlx::query(sql).bind(group_id).execute(&mut tx).await?;
        }
        let done = sqlx::query("DELETE FROM groups WHERE id = $1")
            .bind(group_id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces a group's properties (`PUT /groups/{name}/properties`).
    pub async fn set_group_properties(
        &self,
        group_id: i64,
        properties: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query("UPDATE groups SET properties = $1 WHERE id = $2")
            .bind(json_text(properties, "{}"))
            .bind(group_id)
            .execute(&*self.writer())
            .await?;
        Ok(())
    }

    /// Adds users to a group; members already in it are left as they are.
    pub async fn add_group_members(&self, group_id: i64, user_ids: &[i64]) -> Result<()> {
        let pool = self.writer();
        let mut tx = pool.begin().await?;
        for &user_id in user_ids {
            sqlx::query(
                "INSERT INTO user_group_map (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(user_id)
            .bind(group_id)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes users from a group; non-members are ignored.
    pub async fn remove_group_members(&self, group_id: i64, user_ids: &[i64]) -> Result<()> {
        let pool = self.writer();
        let mut tx = pool.begin().await?;
        for &user_id in user_ids {
            sqlx::query("DELETE FROM user_group_map WHERE user_id = $1 AND group_id = $2")
                .bind(user_id)
                .bind(group_id)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The names of a group's members, sorted (the group model's `users`).
    pub async fn group_member_names(&self, group_id: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT u.name FROM users u JOIN user_group_map m ON m.user_id = u.id \
             WHERE m.group_id = $1 ORDER BY u.name",
        )
        .bind(group_id)
        .fetch_all(self.reader())
        .await?;
        names(&rows)
    }

    /// The names of a user's groups, sorted (the user model's `groups`).
    pub async fn group_names_of_user(&self, user_id: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT g.name FROM groups g JOIN user_group_map m ON m.group_id = g.id \
             WHERE m.user_id = $1 ORDER BY g.name",
        )
        .bind(user_id)
        .fetch_all(self.reader())
        .await?;
        names(&rows)
    }

    /// The group names of many users at once (listing users without a query per user).
    pub async fn group_names_of_users(
        &self,
        user_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<String>>> {
        let sql = format!(
            "SELECT m.user_id AS owner, g.name FROM groups g JOIN user_group_map m ON m.group_id = g.id \
             WHERE m.user_id IN {} ORDER BY g.name",
            crate::id_list(user_ids)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.reader())
            .await?;
        crate::names_by_owner(&rows)
    }

    /// Makes `group_ids` exactly the user's groups (`PATCH /users/{name}` with `groups`).
    pub async fn set_user_groups(&self, user_id: i64, group_ids: &[i64]) -> Result<()> {
        let pool = self.writer();
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM user_group_map WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut tx)
            .await?;
        for &group_id in group_ids {
            sqlx::query(
                "INSERT INTO user_group_map (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(user_id)
            .bind(group_id)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

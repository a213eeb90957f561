//! Roles and who holds them: users, groups (whose members inherit them) and services.

use std::collections::BTreeSet;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{
    Result, RoleHolder, RoleKind, RoleMembers, RoleRecord, Store, conflict_or, flag, json_text,
    parse_json,
};

// managed_by_auth is BOOLEAN in upstream SQLite databases (see `users::USER_COLUMNS`).
const ROLE_COLUMNS: &str =
    "r.id, r.name, r.description, r.scopes, CAST(r.managed_by_auth AS INTEGER) AS managed_by_auth";

fn role_from_row(row: &AnyRow) -> Result<RoleRecord> {
    Ok(RoleRecord {
        id: row.try_get("id")?,
        name: row
            .try_get::<Option<String>, _>("name")?
            .unwrap_or_default(),
        description: row.try_get("description")?,
        scopes: parse_json("roles.scopes", row.try_get("scopes")?, Vec::new())?,
        managed_by_auth: flag(row, "managed_by_auth")?,
    })
}

/// The mapping table of a kind of holder and its id column (constant SQL fragments).
fn role_map(kind: RoleKind) -> (&'static str, &'static str) {
    match kind {
        RoleKind::User => ("user_role_map", "user_id"),
        RoleKind::Group => ("group_role_map", "group_id"),
        RoleKind::Service => ("service_role_map", "service_id"),
    }
}

/// The union of the JSON scope lists in the `scopes` column of `rows`, sorted.
fn union_scopes(rows: &[AnyRow], what: &'static str) -> Result<Vec<String>> {
    let mut all = BTreeSet::new();
    for row in rows {
        let scopes: Vec<String> = parse_json(what, row.try_get("scopes")?, Vec::new())?;
        all.extend(scopes);
    }
    Ok(all.into_iter().collect())
}

impl Store {
    /// Creates a role or updates its description and scopes (config sync at
    /// every start); `managed_by_auth` of an existing role is kept. An empty
    /// description is stored as none.
    pub async fn upsert_role(
        &self,
        name: &str,
        description: &str,
        scopes: &[String],
    ) -> Result<RoleRecord> {
        let description = (!description.is_empty()).then_some(description);
        sqlx::query(
            "INSERT INTO roles (name, description, scopes, managed_by_auth) VALUES ($1, $2, $3, FALSE) \
             ON CONFLICT (name) DO UPDATE SET description = $2, scopes = $3",
        )
        .bind(name)
        .bind(description)
        .bind(json_text(scopes, "[]"))
        .execute(&*self.writer())
        .await
        .map_err(|e| conflict_or(e, || format!("role {name}")))?;
        self.role_by_name(name)
            .await?
            .ok_or(crate::StoreError::Sqlx(sqlx::Error::RowNotFound))
    }

    /// Looks a role up by name.
    pub async fn role_by_name(&self, name: &str) -> Result<Option<RoleRecord>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM roles r WHERE r.name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(role_from_row).transpose()
    }

    /// Every role, by name.
    pub async fn list_roles(&self) -> Result<Vec<RoleRecord>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM roles r ORDER BY r.name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(role_from_row).collect()
    }

    /// Deletes a role and every grant of it. Returns whether it existed.
    pub async fn delete_role(&self, role_id: i64) -> Result<bool> {
        let pool = self.writer();
        let mut tx = pool.begin().await?;
        for sql in [
            "DELETE FROM user_role_map WHERE role_id = $1",
            "DELETE FROM group_role_map WHERE role_id = $1",
            "DELETE FROM service_role_map WHERE role_id = $1",
        ] {
            sqlx::query(sql).bind(role_id).execute(&mut tx).await?;
        }
        let done = sqlx::query("DELETE FROM roles WHERE id = $1")
            .bind(role_id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// The roles a user, group or service holds directly, by name.
    pub async fn roles_of(&self, holder: RoleHolder) -> Result<Vec<RoleRecord>> {
        let (table, column) = role_map(holder.kind());
        let sql = format!(
            "SELECT {ROLE_COLUMNS} FROM roles r JOIN {table} m ON m.role_id = r.id \
             WHERE m.{column} = $1 ORDER BY r.name"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(holder.id())
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(role_from_row).collect()
    }

    /// The role names of many users at once (listing users without a query per user).
    pub async fn role_names_of_users(
        &self,
        user_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<String>>> {
        let sql = format!(
            "SELECT m.user_id AS owner, r.name FROM roles r JOIN user_role_map m ON m.role_id = r.id \
             WHERE m.user_id IN {} ORDER BY r.name",
            crate::id_list(user_ids)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.reader())
            .await?;
        crate::names_by_owner(&rows)
    }

    /// Grants a role; granting it again changes nothing.
    pub async fn grant_role(&self, holder: RoleHolder, role_id: i64) -> Result<()> {
        let (table, column) = role_map(holder.kind());
        let sql = format!(
            "INSERT INTO {table} ({column}, role_id, managed_by_auth) VALUES ($1, $2, FALSE) ON CONFLICT DO NOTHING"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(holder.id())
            .bind(role_id)
            .execute(&*self.writer())
            .await?;
        Ok(())
    }

    /// Revokes a role; revoking one not held changes nothing.
    pub async fn revoke_role(&self, holder: RoleHolder, role_id: i64) -> Result<()> {
        let (table, column) = role_map(holder.kind());
        let sql = format!("DELETE FROM {table} WHERE {column} = $1 AND role_id = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(holder.id())
            .bind(role_id)
            .execute(&*self.writer())
            .await?;
        Ok(())
    }

    /// Grants a role to every user (the `user` role); returns how many new grants were made.
    pub async fn grant_role_to_all_users(&self, role_id: i64) -> Result<u64> {
        // SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT (parsing ambiguity).
        let done = sqlx::query(
            "INSERT INTO user_role_map (user_id, role_id, managed_by_auth) \
             SELECT id, CAST($1 AS BIGINT), FALSE FROM users WHERE 1 = 1 ON CONFLICT DO NOTHING",
        )
        .bind(role_id)
        .execute(&*self.writer())
        .await?;
        Ok(done.rows_affected())
    }

    /// Everyone holding a role directly, in one query.
    pub async fn role_member_ids(&self, role_id: i64) -> Result<RoleMembers> {
        let rows = sqlx::query(
            "SELECT 1 AS kind, user_id AS member FROM user_role_map WHERE role_id = $1 \
             UNION ALL SELECT 2 AS kind, group_id AS member FROM group_role_map WHERE role_id = $1 \
             UNION ALL SELECT 3 AS kind, service_id AS member FROM service_role_map WHERE role_id = $1 \
             ORDER BY kind, member",
        )
        .bind(role_id)
        .fetch_all(self.reader())
        .await?;
        let mut members = RoleMembers::default();
        for row in &rows {
            let member: i64 = row.try_get("member")?;
            match row.try_get::<i64, _>("kind")? {
                1 => members.users.push(member),
                2 => members.groups.push(member),
                _ => members.services.push(member),
            }
        }
        Ok(members)
    }

    /// Makes `ids` exactly the role's holders of one kind (config `load_roles`
    /// members); grants kept keep their `managed_by_auth` flag.
    pub async fn set_role_members(&self, role_id: i64, kind: RoleKind, ids: &[i64]) -> Result<()> {
        let pool = self.writer();
        let (table, column) = role_map(kind);
        let wanted: BTreeSet<i64> = ids.iter().copied().collect();
        let mut tx = pool.begin().await?;
        let select = format!("SELECT {column} AS member FROM {table} WHERE role_id = $1");
        let rows = sqlx::query(sqlx::AssertSqlSafe(select))
            .bind(role_id)
            .fetch_all(&mut tx)
            .await?;
        let mut current = BTreeSet::new();
        for row in &rows {
            current.insert(row.try_get::<i64, _>("member")?);
        }
        let delete = format!("DELETE FROM {table} WHERE {column} = $1 AND role_id = $2");
        for &gone in current.difference(&wanted) {
            sqlx::query(sqlx::AssertSqlSafe(delete.clone()))
                .bind(gone)
                .bind(role_id)
                .execute(&mut tx)
                .await?;
        }
        let insert = format!(
            "INSERT INTO {table} ({column}, role_id, managed_by_auth) VALUES ($1, $2, FALSE) ON CONFLICT DO NOTHING"
        );
        for &new in wanted.difference(&current) {
            sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
                .bind(new)
                .bind(role_id)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The hot path of every request: the union of the scopes of the user's
    /// roles and of their groups' roles, sorted, in one query.
    pub async fn user_role_scopes(&self, user_id: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT r.scopes FROM roles r WHERE r.id IN (\
                 SELECT role_id FROM user_role_map WHERE user_id = $1 \
                 UNION SELECT gr.role_id FROM group_role_map gr \
                 JOIN user_group_map ug ON ug.group_id = gr.group_id WHERE ug.user_id = $1)",
        )
        .bind(user_id)
        .fetch_all(self.reader())
        .await?;
        union_scopes(&rows, "roles.scopes")
    }

    /// The union of the scopes of a service's roles, sorted.
    pub async fn service_role_scopes(&self, service_id: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT r.scopes FROM roles r JOIN service_role_map m ON m.role_id = r.id WHERE m.service_id = $1",
        )
        .bind(service_id)
        .fetch_all(self.reader())
        .await?;
        union_scopes(&rows, "roles.scopes")
    }
}

//! Shares (union of grants, via groups, expiry, paging) and share codes
//! (found by code, counted, expired); what deleting a user or group takes along.

use chrono::TimeDelta;
use ferrohub_core::token;
use ferrohub_store::{RoleHolder, ShareRecord, ShareTarget, Store, TokenOwner};
use serde_json::json;
use sqlx::{AnyPool, Row};

use crate::support::{TestDb, count, db_now, sql};

const DEFAULT_ACCESS: &str = "access:servers!server=olga/";
const DEFAULT_READ: &str = "read:servers!server=olga/";
const LAB_ACCESS: &str = "access:servers!server=olga/lab";

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn ids(shares: &[ShareRecord]) -> Vec<i64> {
    shares.iter().map(|s| s.id).collect()
}

pub async fn shares(db: &TestDb) {
    let store = db.store().await;
    store.prepare().await.unwrap();
    let raw = db.raw().await;
    let olga = store.create_user("olga", false).await.unwrap();
    let pete = store.create_user("pete", false).await.unwrap();
    let quin = store.create_user("quin", false).await.unwrap();
    let team = store.create_group("team", &json!({})).await.unwrap();
    store.add_group_members(team.id, &[quin.id]).await.unwrap();
    let default = store.spawner(olga.id, "").await.unwrap().unwrap();
    let lab = store.create_spawner(olga.id, "lab").await.unwrap();

    let before = db_now();
    let first = store
        .upsert_share(
            olga.id,
            default.id,
            ShareTarget::User(pete.id),
            &strings(&[DEFAULT_ACCESS]),
        )
        .await
        .unwrap();
    assert_eq!(first.scopes, [DEFAULT_ACCESS]);
    assert_eq!(
        (first.owner_id, first.owner_name.as_str()),
        (olga.id, "olga")
    );
    assert_eq!(
        (first.spawner_id, first.server_name.as_str()),
        (default.id, "")
    );
    assert_eq!(first.user, Some((pete.id, "pete".to_owned())));
    assert_eq!(first.group, None);
    assert_eq!(first.expires_at, None);
    assert!(first.created_at >= before && first.created_at <= db_now());

    let merged = store
        .upsert_share(
            olga.id,
            default.id,
            ShareTarget::User(pete.id),
            &strings(&[DEFAULT_READ]),
        )
        .await
        .unwrap();
    assert_eq!(merged.id, first.id, "a second grant adds to the share");
    assert_eq!(
        merged.scopes,
        [DEFAULT_ACCESS, DEFAULT_READ],
        "union, sorted"
    );
    assert_eq!(merged.created_at, first.created_at);

    let to_team = store
        .upsert_share(
            olga.id,
            default.id,
            ShareTarget::Group(team.id),
            &strings(&[DEFAULT_ACCESS]),
        )
        .await
        .unwrap();
    assert_eq!(to_team.group, Some((team.id, "team".to_owned())));
    assert_eq!(to_team.user, None);
    let lab_share = store
        .upsert_share(
            olga.id,
            lab.id,
            ShareTarget::User(pete.id),
            &strings(&[LAB_ACCESS]),
        )
        .await
        .unwrap();
    assert_eq!(lab_share.server_name, "lab");
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM shares", None).await, 3);

    assert_eq!(
        store
            .share_for(default.id, ShareTarget::User(pete.id))
            .await
            .unwrap(),
        Some(merged.clone())
    );
    assert_eq!(
        store
            .share_for(default.id, ShareTarget::Group(team.id))
            .await
            .unwrap()
            .map(|s| s.id),
        Some(to_team.id)
    );
    assert_eq!(
        store
            .share_for(default.id, ShareTarget::User(quin.id))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .share_for(lab.id, ShareTarget::Group(team.id))
            .await
            .unwrap(),
        None
    );

    // Listings: by owner (all servers or one), by user (direct and via groups), by group.
    let (all, total) = store.shares_of_owner(olga.id, None, 0, 10).await.unwrap();
    assert_eq!(
        (ids(&all), total),
        (vec![first.id, to_team.id, lab_share.id], 3)
    );
    let (second, total) = store.shares_of_owner(olga.id, None, 1, 1).await.unwrap();
    assert_eq!((ids(&second), total), (vec![to_team.id], 3));
    let (of_default, total) = store
        .shares_of_owner(olga.id, Some(default.id), 0, 10)
        .await
        .unwrap();
    assert_eq!((ids(&of_default), total), (vec![first.id, to_team.id], 2));
    assert_eq!(
        store.shares_of_owner(pete.id, None, 0, 10).await.unwrap().1,
        0
    );
    let (for_pete, total) = store.shares_for_user(pete.id, 0, 10).await.unwrap();
    assert_eq!((ids(&for_pete), total), (vec![first.id, lab_share.id], 2));
    let (for_quin, total) = store.shares_for_user(quin.id, 0, 10).await.unwrap();
    assert_eq!(
        (ids(&for_quin), total),
        (vec![to_team.id], 1),
        "through the group"
    );
    let (for_team, total) = store.shares_for_group(team.id, 0, 10).await.unwrap();
    assert_eq!((ids(&for_team), total), (vec![to_team.id], 1));

    // RBAC: every share's scopes, expired ones left out.
    assert_eq!(
        store.share_scopes_for_user(pete.id).await.unwrap().scopes,
        [DEFAULT_ACCESS, LAB_ACCESS, DEFAULT_READ]
    );
    assert_eq!(
        store.share_scopes_for_user(quin.id).await.unwrap().scopes,
        [DEFAULT_ACCESS]
    );
    assert!(
        store
            .share_scopes_for_user(olga.id)
            .await
            .unwrap()
            .scopes
            .is_empty()
    );
    let past = ferrohub_core::time::to_db(&(db_now() - TimeDelta::minutes(1)));
    sqlx::query(sql(
        &raw,
        "UPDATE shares SET expires_at = CAST($1 AS TIMESTAMP) WHERE id = $2",
    ))
    .bind(&past)
    .bind(lab_share.id)
    .execute(&raw)
    .await
    .unwrap();
    assert_eq!(
        store.share_scopes_for_user(pete.id).await.unwrap().scopes,
        [DEFAULT_ACCESS, DEFAULT_READ],
        "expired share grants nothing"
    );
    let (listed, _) = store.shares_for_user(pete.id, 0, 10).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|s| s.id == lab_share.id && s.expires_at.is_some())
    );

    // Partial revocation and deletion.
    store
        .set_share_scopes(first.id, &strings(&[DEFAULT_READ, DEFAULT_READ]))
        .await
        .unwrap();
    assert_eq!(
        store
            .share_for(default.id, ShareTarget::User(pete.id))
            .await
            .unwrap()
            .unwrap()
            .scopes,
        [DEFAULT_READ]
    );
    assert!(store.delete_share(first.id).await.unwrap());
    assert!(!store.delete_share(first.id).await.unwrap());
    assert_eq!(store.delete_shares_of_spawner(lab.id).await.unwrap(), 1);
    assert_eq!(store.shares_for_user(pete.id, 0, 10).await.unwrap().1, 0);

    share_codes(&store, &raw, olga.id, default.id, lab.id).await;

    // Deleting a group takes its shares along.
    assert!(store.delete_group(team.id).await.unwrap());
    assert_eq!(store.shares_for_user(quin.id, 0, 10).await.unwrap().1, 0);
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM shares", None).await, 0);
    raw.close().await;
    store.close().await;
}

async fn share_codes(store: &Store, raw: &AnyPool, olga: i64, default: i64, lab: i64) {
    let expiry = db_now() + TimeDelta::hours(1);
    let before = db_now();
    let (record, code) = store
        .create_share_code(olga, default, &strings(&[DEFAULT_ACCESS]), Some(expiry))
        .await
        .unwrap();
    assert_eq!(code.len(), 43, "{code}");
    assert!(
        code.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{code}"
    );
    assert_eq!((record.owner_id, record.spawner_id), (olga, default));
    assert_eq!(record.scopes, [DEFAULT_ACCESS]);
    assert_eq!(record.expires_at, Some(expiry));
    assert_eq!((record.exchange_count, record.last_exchanged_at), (0, None));
    assert!(record.created_at >= before);

    // Stored as a salted hash and a 4-character prefix only.
    let row = sqlx::query(sql(
        raw,
        "SELECT hashed, prefix FROM share_codes WHERE id = $1",
    ))
    .bind(record.id)
    .fetch_one(raw)
    .await
    .unwrap();
    let hashed: String = row.try_get("hashed").unwrap();
    let prefix: String = row.try_get("prefix").unwrap();
    assert!(
        hashed.starts_with("sha512:1:") && !hashed.contains(&code),
        "{hashed}"
    );
    assert_eq!(prefix, code[..4]);

    assert_eq!(
        store.find_share_code(&code).await.unwrap(),
        Some(record.clone())
    );
    let same_prefix = format!(
        "{}{}",
        &code[..4],
        &code[4..].chars().rev().collect::<String>()
    );
    assert_eq!(store.find_share_code(&same_prefix).await.unwrap(), None);
    assert_eq!(store.find_share_code(&code[..3]).await.unwrap(), None);

    store.record_share_code_exchange(record.id).await.unwrap();
    store.record_share_code_exchange(record.id).await.unwrap();
    let exchanged = store.find_share_code(&code).await.unwrap().unwrap();
    assert_eq!(exchanged.exchange_count, 2);
    assert!(exchanged.last_exchanged_at.is_some_and(|t| t >= before));

    let (expired, expired_code) = store
        .create_share_code(
            olga,
            default,
            &strings(&[DEFAULT_ACCESS]),
            Some(db_now() - TimeDelta::seconds(1)),
        )
        .await
        .unwrap();
    assert_eq!(
        store.find_share_code(&expired_code).await.unwrap(),
        None,
        "expired"
    );
    let (forever, forever_code) = store
        .create_share_code(olga, lab, &strings(&[LAB_ACCESS]), None)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_share_code(&forever_code)
            .await
            .unwrap()
            .map(|c| c.id),
        Some(forever.id)
    );

    let code_ids = |codes: Vec<ferrohub_store::ShareCodeRecord>| {
        codes.into_iter().map(|c| c.id).collect::<Vec<_>>()
    };
    let (all, total) = store.share_codes_of(olga, None, 0, 10).await.unwrap();
    assert_eq!(
        (code_ids(all), total),
        (vec![record.id, expired.id, forever.id], 3)
    );
    let (page, total) = store
        .share_codes_of(olga, Some(default), 1, 1)
        .await
        .unwrap();
    assert_eq!((code_ids(page), total), (vec![expired.id], 2));

    assert_eq!(store.delete_expired_share_codes().await.unwrap(), 1);
    assert!(store.delete_share_code(record.id).await.unwrap());
    assert!(!store.delete_share_code(record.id).await.unwrap());
    assert_eq!(store.find_share_code(&code).await.unwrap(), None);
    assert_eq!(
        store.delete_share_codes_of_spawner(default).await.unwrap(),
        0
    );

    // Removing a server for good takes its codes and shares along.
    store
        .upsert_share(olga, lab, ShareTarget::User(olga), &strings(&[LAB_ACCESS]))
        .await
        .unwrap();
    assert!(store.delete_spawner(lab).await.unwrap());
    assert_eq!(store.share_codes_of(olga, None, 0, 10).await.unwrap().1, 0);
    assert_eq!(store.find_share_code(&forever_code).await.unwrap(), None);
    assert_eq!(
        store
            .shares_of_owner(olga, Some(lab), 0, 10)
            .await
            .unwrap()
            .1,
        0
    );
    assert_eq!(
        store.shares_of_owner(olga, None, 0, 10).await.unwrap().1,
        1,
        "the group share of the default server is left"
    );
}

/// Deleting a user removes their tokens, shares (theirs and to them), share
/// codes, group memberships and role grants; others' are untouched.
pub async fn deleting_a_user_cascades(db: &TestDb) {
    let store = db.store().await;
    store.prepare().await.unwrap();
    let raw = db.raw().await;
    let vic = store.create_user("vic", false).await.unwrap();
    let wes = store.create_user("wes", false).await.unwrap();
    let group = store.create_group("pals", &json!({})).await.unwrap();
    store
        .add_group_members(group.id, &[vic.id, wes.id])
        .await
        .unwrap();
    let role = store
        .upsert_role("user", "", &strings(&["self"]))
        .await
        .unwrap();
    store.grant_role_to_all_users(role.id).await.unwrap();
    let mut secrets = Vec::new();
    for user in [vic.id, wes.id] {
        let secret = token::new_token();
        store
            .create_token(&ferrohub_store::NewToken {
                token: &secret,
                rounds: token::GENERATED_TOKEN_ROUNDS,
                owner: TokenOwner::User(user),
                client_id: ferrohub_store::BUILTIN_CLIENT,
                session_id: None,
                scopes: &[],
                note: None,
                expires_at: None,
            })
            .await
            .unwrap();
        secrets.push(secret);
    }
    let vic_server = store.spawner(vic.id, "").await.unwrap().unwrap();
    let wes_server = store.spawner(wes.id, "").await.unwrap().unwrap();
    let scopes = strings(&["access:servers"]);
    store
        .upsert_share(vic.id, vic_server.id, ShareTarget::User(wes.id), &scopes)
        .await
        .unwrap();
    store
        .upsert_share(wes.id, wes_server.id, ShareTarget::User(vic.id), &scopes)
        .await
        .unwrap();
    let kept = store
        .upsert_share(wes.id, wes_server.id, ShareTarget::Group(group.id), &scopes)
        .await
        .unwrap();
    store
        .create_share_code(vic.id, vic_server.id, &scopes, None)
        .await
        .unwrap();
    let (wes_code, _) = store
        .create_share_code(wes.id, wes_server.id, &scopes, None)
        .await
        .unwrap();

    assert!(store.delete_user(vic.id).await.unwrap());
    for sql in [
        "SELECT COUNT(*) FROM api_tokens WHERE user_id = $1",
        "SELECT COUNT(*) FROM shares WHERE user_id = $1 OR owner_id = $1",
        "SELECT COUNT(*) FROM share_codes WHERE owner_id = $1",
        "SELECT COUNT(*) FROM user_group_map WHERE user_id = $1",
        "SELECT COUNT(*) FROM user_role_map WHERE user_id = $1",
        "SELECT COUNT(*) FROM spawners WHERE user_id = $1",
    ] {
        assert_eq!(count(&raw, sql, Some(vic.id)).await, 0, "{sql}");
    }
    assert_eq!(store.find_token(&secrets[0]).await.unwrap(), None);
    assert!(store.find_token(&secrets[1]).await.unwrap().is_some());
    assert_eq!(store.group_member_names(group.id).await.unwrap(), ["wes"]);
    assert_eq!(
        store
            .roles_of(RoleHolder::User(wes.id))
            .await
            .unwrap()
            .len(),
        1
    );
    let (left, total) = store.shares_of_owner(wes.id, None, 0, 10).await.unwrap();
    assert_eq!(
        (ids(&left), total),
        (vec![kept.id], 1),
        "only the group share is left"
    );
    assert_eq!(store.shares_for_user(wes.id, 0, 10).await.unwrap().1, 1);
    let (codes, _) = store.share_codes_of(wes.id, None, 0, 10).await.unwrap();
    assert_eq!(
        codes.into_iter().map(|c| c.id).collect::<Vec<_>>(),
        [wes_code.id]
    );
    raw.close().await;
    store.close().await;
}

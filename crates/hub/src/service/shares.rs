//! Sharing a server: grants to users and groups, what a user or group has
//! been granted, share codes and accepting them. Shares are bound to the
//! server's and recipient's ids, and their scopes are always filtered to the
//! one server (`!server=owner/name`), so a share never reaches further than
//! the server it was made for.

use ferrohub_rbac::scopes;
use ferrohub_store::{ShareCodeRecord, ShareRecord, ShareTarget, SpawnerRecord, UserRecord};

use crate::access::Identity;
use crate::capability::{
    LeaveGroupShares, LeaveUserShares, ManageShares, OnGroup, OnServer, OnUser, ReadGroupShares,
    ReadShares, ReadUserShares, ShareWith,
};
use crate::error::{Denied, HubError};
use crate::state::AppState;

/// Share codes live between one minute and one year; a day unless asked.
pub(crate) const CODE_MIN_SECS: i64 = 60;
/// The longest a share code lives: one year.
pub(crate) const CODE_MAX_SECS: i64 = 525_600 * 60;
/// A share code's lifetime unless asked otherwise: one day.
pub(crate) const CODE_DEFAULT_SECS: i64 = 86_400;

/// One page of results and how many there are in all.
pub(crate) type Paged<T> = (Vec<T>, i64);

/// Which share codes of a server to delete.
#[derive(Debug)]
pub(crate) enum CodeSelector<'a> {
    /// The code with this secret.
    Code(&'a str),
    /// The code with this API id (`sc_N`).
    Id(&'a str),
    /// Every code of the server.
    All,
}

/// A share code that a user may accept, with the server it opens.
#[derive(Debug)]
pub(crate) struct Invitation {
    /// The code.
    pub code: ShareCodeRecord,
    /// The server's owner.
    pub owner: UserRecord,
    /// The server.
    pub spawner: SpawnerRecord,
}

/// The server `server` of `owner`, or 404.
async fn find_server(
    state: &AppState,
    owner: &str,
    server: &str,
) -> Result<(UserRecord, SpawnerRecord), HubError> {
    let not_found = || HubError::NotFound(format!("No such server: {owner}/{server}"));
    let user = state
        .store
        .user_by_name(owner)
        .await?
        .ok_or_else(not_found)?;
    let spawner = state
        .store
        .spawner(user.id, server)
        .await?
        .ok_or_else(not_found)?;
    Ok((user, spawner))
}

/// Requested scopes, each restricted to this server (`!server=owner/name`,
/// the only filter allowed); none means access to the server.
pub(crate) fn scoped_to_server(
    state: &AppState,
    requested: Option<Vec<String>>,
    owner: &str,
    server: &str,
) -> Result<Vec<String>, HubError> {
    let filter = format!("server={owner}/{server}");
    let requested = requested.unwrap_or_default();
    if requested.is_empty() {
        return Ok(vec![format!(
            "{}!{filter}",
            scopes::ACCESS_SERVERS.as_str()
        )]);
    }
    let mut out = Vec::new();
    for scope in requested {
        ferrohub_rbac::validate(&scope, &state.custom_scopes)
            .map_err(|e| HubError::Invalid(e.to_string()))?;
        match scope.split_once('!') {
            Some((_, f)) if f == filter => out.push(scope.clone()),
            Some((_, f)) => {
                return Err(HubError::Invalid(format!(
                    "!{f} not allowed on share {owner}/{server}, only !{filter}"
                )));
            }
            None => out.push(format!("{scope}!{filter}")),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Shares granted to the user, directly or through groups.
pub(crate) async fn list_for_user(
    state: &AppState,
    may: &OnUser<ReadUserShares>,
    offset: i64,
    limit: i64,
) -> Result<Paged<ShareRecord>, HubError> {
    let user = super::users::find(state, may.name()).await?;
    Ok(state.store.shares_for_user(user.id, offset, limit).await?)
}

/// The share of `owner/server` granted to the user itself.
async fn user_share(
    state: &AppState,
    name: &str,
    owner: &str,
    server: &str,
) -> Result<ShareRecord, HubError> {
    let not_found =
        || HubError::NotFound(format!("No such share for user {name} on {owner}/{server}"));
    let user = state
        .store
        .user_by_name(name)
        .await?
        .ok_or_else(not_found)?;
    let Ok((_, spawner)) = find_server(state, owner, server).await else {
        return Err(not_found());
    };
    state
        .store
        .share_for(spawner.id, ShareTarget::User(user.id))
        .await?
        .ok_or_else(not_found)
}

/// The share of `owner/server` granted to the user.
pub(crate) async fn get_for_user(
    state: &AppState,
    may: &OnUser<ReadUserShares>,
    owner: &str,
    server: &str,
) -> Result<ShareRecord, HubError> {
    user_share(state, may.name(), owner, server).await
}

/// The user leaves the share of `owner/server`.
pub(crate) async fn leave_for_user(
    state: &AppState,
    may: &OnUser<LeaveUserShares>,
    owner: &str,
    server: &str,
) -> Result<(), HubError> {
    let share = user_share(state, may.name(), owner, server).await?;
    state.store.delete_share(share.id).await?;
    Ok(())
}

/// Shares granted to the group.
pub(crate) async fn list_for_group(
    state: &AppState,
    may: &OnGroup<ReadGroupShares>,
    offset: i64,
    limit: i64,
) -> Result<Paged<ShareRecord>, HubError> {
    let group = super::groups::find(state, may.name()).await?;
    Ok(state
        .store
        .shares_for_group(group.id, offset, limit)
        .await?)
}

/// The share of `owner/server` granted to the group.
async fn group_share(
    state: &AppState,
    name: &str,
    owner: &str,
    server: &str,
) -> Result<ShareRecord, HubError> {
    let group = super::groups::find(state, name).await?;
    let not_found = || {
        HubError::NotFound(format!(
            "No such share for group {name} on {owner}/{server}"
        ))
    };
    let Ok((_, spawner)) = find_server(state, owner, server).await else {
        return Err(not_found());
    };
    state
        .store
        .share_for(spawner.id, ShareTarget::Group(group.id))
        .await?
        .ok_or_else(not_found)
}

/// The share of `owner/server` granted to the group.
pub(crate) async fn get_for_group(
    state: &AppState,
    may: &OnGroup<ReadGroupShares>,
    owner: &str,
    server: &str,
) -> Result<ShareRecord, HubError> {
    group_share(state, may.name(), owner, server).await
}

/// The group leaves the share of `owner/server`.
pub(crate) async fn leave_for_group(
    state: &AppState,
    may: &OnGroup<LeaveGroupShares>,
    owner: &str,
    server: &str,
) -> Result<(), HubError> {
    let share = group_share(state, may.name(), owner, server).await?;
    state.store.delete_share(share.id).await?;
    Ok(())
}

/// Every share of the user's servers.
pub(crate) async fn list_of_owner(
    state: &AppState,
    may: &OnUser<ReadShares>,
    offset: i64,
    limit: i64,
) -> Result<Paged<ShareRecord>, HubError> {
    let user = super::users::find(state, may.name()).await?;
    Ok(state
        .store
        .shares_of_owner(user.id, None, offset, limit)
        .await?)
}

/// Every share of one server.
pub(crate) async fn list_of_server(
    state: &AppState,
    may: &OnServer<ReadShares>,
    offset: i64,
    limit: i64,
) -> Result<Paged<ShareRecord>, HubError> {
    let (user, spawner) = find_server(state, may.owner(), may.server()).await?;
    Ok(state
        .store
        .shares_of_owner(user.id, Some(spawner.id), offset, limit)
        .await?)
}

/// The refusal when the caller does not hold a scope it tries to share.
fn not_grantable(scope: &str) -> HubError {
    Denied::Forbidden(format!(
        "Do not have permission to grant share with scope {scope}"
    ))
    .into()
}

/// Grants (adds to) a user's or group's access to the server. The caller
/// must hold every scope it shares and be able to see the recipient's name;
/// the recipient must exist.
pub(crate) async fn grant(
    state: &AppState,
    who: &Identity,
    may: &OnServer<ManageShares>,
    with: ShareWith,
    requested: Option<Vec<String>>,
) -> Result<ShareRecord, HubError> {
    let scopes = scoped_to_server(state, requested, may.owner(), may.server())?;
    let (_, spawner) = find_server(state, may.owner(), may.server()).await?;
    let scopes = who.held_scopes(state, scopes, not_grantable).await?;
    let recipient = who.share_recipient(state, with).await?;
    let target = match recipient.with() {
        ShareWith::User(name) => {
            let user = state
                .store
                .user_by_name(name)
                .await?
                .ok_or_else(|| HubError::Invalid(format!("No such user: {name}")))?;
            ShareTarget::User(user.id)
        }
        ShareWith::Group(name) => {
            let group = state
                .store
                .group_by_name(name)
                .await?
                .ok_or_else(|| HubError::Invalid(format!("No such group: {name}")))?;
            ShareTarget::Group(group.id)
        }
    };
    Ok(state
        .store
        .upsert_share(spawner.user_id, spawner.id, target, scopes.scopes())
        .await?)
}

/// Revokes some scopes (`requested`), or all (`None`), of one share; answers
/// what remains, `None` when nothing does (or there was no such share).
pub(crate) async fn revoke(
    state: &AppState,
    may: &OnServer<ManageShares>,
    with: &ShareWith,
    requested: Option<Vec<String>>,
) -> Result<Option<ShareRecord>, HubError> {
    let revoke_all = requested.is_none();
    let scopes = scoped_to_server(state, requested, may.owner(), may.server())?;
    let (_, spawner) = find_server(state, may.owner(), may.server()).await?;
    let target = match with {
        ShareWith::User(name) => match state.store.user_by_name(name).await? {
            Some(user) => ShareTarget::User(user.id),
            None => return Ok(None),
        },
        ShareWith::Group(name) => match state.store.group_by_name(name).await? {
            Some(group) => ShareTarget::Group(group.id),
            None => return Ok(None),
        },
    };
    let Some(share) = state.store.share_for(spawner.id, target).await? else {
        return Ok(None);
    };
    let remaining: Vec<String> = if revoke_all {
        Vec::new()
    } else {
        share
            .scopes
            .iter()
            .filter(|s| !scopes.contains(s))
            .cloned()
            .collect()
    };
    if remaining.is_empty() {
        state.store.delete_share(share.id).await?;
        return Ok(None);
    }
    state.store.set_share_scopes(share.id, &remaining).await?;
    let share = state
        .store
        .share_for(spawner.id, target)
        .await?
        .ok_or_else(|| HubError::Internal("share vanished".to_owned()))?;
    Ok(Some(share))
}

/// Revokes every share of the server; answers how many there were.
pub(crate) async fn revoke_all(
    state: &AppState,
    may: &OnServer<ManageShares>,
) -> Result<u64, HubError> {
    let (_, spawner) = find_server(state, may.owner(), may.server()).await?;
    Ok(state.store.delete_shares_of_spawner(spawner.id).await?)
}

/// Share codes with the name of the server each opens.
async fn codes_with_servers(
    state: &AppState,
    user: &UserRecord,
    spawner: Option<&SpawnerRecord>,
    offset: i64,
    limit: i64,
) -> Result<Paged<(ShareCodeRecord, String)>, HubError> {
    let (codes, total) = state
        .store
        .share_codes_of(user.id, spawner.map(|s| s.id), offset, limit)
        .await?;
    let spawners = state.store.spawners_of(user.id).await?;
    let named = codes
        .into_iter()
        .map(|code| {
            let server = spawners
                .iter()
                .find(|s| s.id == code.spawner_id)
                .map_or_else(String::new, |s| s.name.clone());
            (code, server)
        })
        .collect();
    Ok((named, total))
}

/// The share codes of all the user's servers.
pub(crate) async fn codes_of_owner(
    state: &AppState,
    may: &OnUser<ReadShares>,
    offset: i64,
    limit: i64,
) -> Result<Paged<(ShareCodeRecord, String)>, HubError> {
    let user = super::users::find(state, may.name()).await?;
    codes_with_servers(state, &user, None, offset, limit).await
}

/// The share codes of one server.
pub(crate) async fn codes_of_server(
    state: &AppState,
    may: &OnServer<ReadShares>,
    offset: i64,
    limit: i64,
) -> Result<Paged<(ShareCodeRecord, String)>, HubError> {
    let (user, spawner) = find_server(state, may.owner(), may.server()).await?;
    codes_with_servers(state, &user, Some(&spawner), offset, limit).await
}

/// A new share code for the server (its secret, shown once), living
/// `expires_in` seconds; the caller must hold every scope it shares.
pub(crate) async fn create_code(
    state: &AppState,
    who: &Identity,
    may: &OnServer<ManageShares>,
    requested: Option<Vec<String>>,
    expires_in: i64,
) -> Result<(ShareCodeRecord, String), HubError> {
    if !(CODE_MIN_SECS..=CODE_MAX_SECS).contains(&expires_in) {
        return Err(HubError::Invalid(format!(
            "expires_in must be an integer from {CODE_MIN_SECS} to {CODE_MAX_SECS} seconds"
        )));
    }
    let scopes = scoped_to_server(state, requested, may.owner(), may.server())?;
    let scopes = who.held_scopes(state, scopes, not_grantable).await?;
    let (user, spawner) = find_server(state, may.owner(), may.server()).await?;
    let expires_at = ferrohub_core::time::now() + chrono::Duration::seconds(expires_in);
    Ok(state
        .store
        .create_share_code(user.id, spawner.id, scopes.scopes(), Some(expires_at))
        .await?)
}

/// Deletes share codes of the server: one by secret or id, or all.
pub(crate) async fn delete_codes(
    state: &AppState,
    may: &OnServer<ManageShares>,
    which: CodeSelector<'_>,
) -> Result<u64, HubError> {
    let (_, spawner) = find_server(state, may.owner(), may.server()).await?;
    match which {
        CodeSelector::Code(code) => {
            let found = state
                .store
                .find_share_code(code)
                .await?
                .filter(|c| c.spawner_id == spawner.id)
                .ok_or_else(|| HubError::NotFound("No matching code found".to_owned()))?;
            state.store.delete_share_code(found.id).await?;
            Ok(1)
        }
        CodeSelector::Id(id) => {
            let not_found = || HubError::NotFound(format!("No code found matching id={id}"));
            let number: i64 = id
                .strip_prefix("sc_")
                .and_then(|n| n.parse().ok())
                .ok_or_else(not_found)?;
            let (codes, _) = state
                .store
                .share_codes_of(spawner.user_id, Some(spawner.id), 0, i64::MAX)
                .await?;
            if !codes.iter().any(|c| c.id == number) {
                return Err(not_found());
            }
            state.store.delete_share_code(number).await?;
            Ok(1)
        }
        CodeSelector::All => Ok(state
            .store
            .delete_share_codes_of_spawner(spawner.id)
            .await?),
    }
}

/// The unexpired share code `code`, which `user` may accept: 404 when it is
/// unknown or expired, 403 when it is the user's own.
pub(crate) async fn invitation(
    state: &AppState,
    user: &UserRecord,
    code: &str,
) -> Result<Invitation, HubError> {
    let not_found = || HubError::NotFound("Share not found or expired".to_owned());
    let code = state
        .store
        .find_share_code(code)
        .await?
        .ok_or_else(not_found)?;
    if code.owner_id == user.id {
        return Err(HubError::Forbidden(
            "You can't share with yourself!".to_owned(),
        ));
    }
    let owner = state
        .store
        .user_by_id(code.owner_id)
        .await?
        .ok_or_else(not_found)?;
    let spawner = state
        .store
        .spawner_by_id(code.spawner_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Invitation {
        code,
        owner,
        spawner,
    })
}

/// Exchanges an invitation for a share of `user`. Every exchange is counted,
/// even one that changes nothing, as upstream does.
pub(crate) async fn accept(
    state: &AppState,
    user: &UserRecord,
    invite: &Invitation,
) -> Result<ShareRecord, HubError> {
    let share = state
        .store
        .upsert_share(
            invite.owner.id,
            invite.spawner.id,
            ShareTarget::User(user.id),
            &invite.code.scopes,
        )
        .await?;
    state
        .store
        .record_share_code_exchange(invite.code.id)
        .await?;
    Ok(share)
}

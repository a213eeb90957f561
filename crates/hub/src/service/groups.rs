//! Groups: create, read, delete, members and properties. Group names end up
//! in URLs and scope filters (`!group=`), so the name rule lives here.

use ferrohub_store::GroupRecord;
use serde_json::{Value, json};

use crate::capability::{
    AdminGroups, DeleteGroup, EditGroup, GroupListing, OnGroup, OnHub, ReadGroup,
};
use crate::error::HubError;
use crate::state::AppState;

/// Refuses a group name that would break URLs or scope filters.
pub(crate) fn check_name(name: &str) -> Result<(), HubError> {
    if name.is_empty()
        || name.len() > 255
        || name.contains('/')
        || name.contains('!')
        || name.trim() != name
        || name.chars().any(char::is_control)
    {
        return Err(HubError::Invalid(format!(
            "Invalid group name {name:?}: 1-255 bytes, no '/', '!', control characters or surrounding spaces"
        )));
    }
    Ok(())
}

/// The group called `name`, or 404.
pub(crate) async fn find(state: &AppState, name: &str) -> Result<GroupRecord, HubError> {
    state
        .store
        .group_by_name(name)
        .await?
        .ok_or_else(|| HubError::NotFound(format!("No such group: {name}")))
}

/// Upstream's `_usernames_to_users`: normalized names, every one must exist (else 400).
async fn user_ids(state: &AppState, names: &[String]) -> Result<Vec<i64>, HubError> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let normalized = state.auth.normalize_username(name);
        let user = state
            .store
            .user_by_name(&normalized)
            .await?
            .ok_or_else(|| HubError::Invalid(format!("No such user: {normalized}")))?;
        ids.push(user.id);
    }
    Ok(ids)
}

/// Refuses an invalid or taken name.
async fn check_new(state: &AppState, name: &str) -> Result<(), HubError> {
    check_name(name)?;
    if state.store.group_by_name(name).await?.is_some() {
        return Err(HubError::Conflict(format!("Group {name} already exists")));
    }
    Ok(())
}

/// Creates one group with `users` as members.
async fn create_checked(
    state: &AppState,
    name: &str,
    users: &[String],
) -> Result<GroupRecord, HubError> {
    check_new(state, name).await?;
    let ids = user_ids(state, users).await?;
    let group = state.store.create_group(name, &json!({})).await?;
    state.store.add_group_members(group.id, &ids).await?;
    Ok(group)
}

/// One page of the groups `listing` shows, and how many there are in all.
pub(crate) async fn list(
    state: &AppState,
    listing: &GroupListing,
    offset: i64,
    limit: i64,
) -> Result<(Vec<GroupRecord>, i64), HubError> {
    Ok(state
        .store
        .list_groups_page(listing.visible(), offset, limit)
        .await?)
}

/// Creates several groups, each with `users` as members; every name and
/// user is checked before the first group is made.
pub(crate) async fn create_many(
    state: &AppState,
    _may: &OnHub<AdminGroups>,
    names: &[String],
    users: &[String],
) -> Result<Vec<GroupRecord>, HubError> {
    for name in names {
        check_new(state, name).await?;
    }
    user_ids(state, users).await?;
    let mut groups = Vec::with_capacity(names.len());
    for name in names {
        groups.push(create_checked(state, name, users).await?);
    }
    Ok(groups)
}

/// Creates the group `may` names, with `users` as members.
pub(crate) async fn create(
    state: &AppState,
    may: &OnGroup<AdminGroups>,
    users: &[String],
) -> Result<GroupRecord, HubError> {
    create_checked(state, may.name(), users).await
}

/// The group `may` names.
pub(crate) async fn get(
    state: &AppState,
    may: &OnGroup<ReadGroup>,
) -> Result<GroupRecord, HubError> {
    find(state, may.name()).await
}

/// Deletes the group `may` names.
pub(crate) async fn delete(state: &AppState, may: &OnGroup<DeleteGroup>) -> Result<(), HubError> {
    let group = find(state, may.name()).await?;
    state.store.delete_group(group.id).await?;
    Ok(())
}

/// Adds `users` (who must all exist) to the group; answers the group.
pub(crate) async fn add_members(
    state: &AppState,
    may: &OnGroup<EditGroup>,
    users: &[String],
) -> Result<GroupRecord, HubError> {
    let group = find(state, may.name()).await?;
    let ids = user_ids(state, users).await?;
    state.store.add_group_members(group.id, &ids).await?;
    Ok(group)
}

/// Removes `users` (who must all exist) from the group; answers the group.
pub(crate) async fn remove_members(
    state: &AppState,
    may: &OnGroup<EditGroup>,
    users: &[String],
) -> Result<GroupRecord, HubError> {
    let group = find(state, may.name()).await?;
    let ids = user_ids(state, users).await?;
    state.store.remove_group_members(group.id, &ids).await?;
    Ok(group)
}

/// Replaces the group's free-form properties; answers the group as stored.
pub(crate) async fn set_properties(
    state: &AppState,
    may: &OnGroup<EditGroup>,
    properties: &Value,
) -> Result<GroupRecord, HubError> {
    let group = find(state, may.name()).await?;
    state
        .store
        .set_group_properties(group.id, properties)
        .await?;
    find(state, may.name()).await
}

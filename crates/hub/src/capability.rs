//! Capabilities: small values that prove a permission check passed.
//!
//! Each can only be built here, by asking an [`Identity`], and the service
//! operations that need a permission take the capability as an argument. So
//! an operation cannot be reached without its check, and a missing check is a
//! compile error rather than a hole (the `PATCH /users` escalation was a
//! handler that checked `admin:users` and then applied `roles` and `groups`,
//! which that scope does not cover).
//!
//! This file holds the user-administration capabilities (the rules of
//! `PATCH /users`); `scoped` the one-scope-on-one-resource ones
//! (`OnUser<P>`, `OnGroup<P>`, …, upstream's `needs_scope`) and the
//! post-filtered listings; `grants` those with rules of their own (tokens,
//! shares, OAuth, admin services). A refusal is a [`Denied`], which knows
//! whether upstream answers 404 or 403.

use ferrohub_rbac::scopes;
use std::collections::BTreeSet;

mod servers;

pub(crate) use servers::{ReadServer, ServerControl, StartServer, StopServer};

use ferrohub_rbac::{Grant, Resource};
use ferrohub_store::UserRecord;

use crate::access::{Identity, Principal, Target};
use crate::error::{Denied, HubError};
use crate::state::AppState;

mod grants;
mod scoped;

pub(crate) use grants::{ClientAccess, ShareWith, TokenIssuer};
pub(crate) use scoped::{
    AdminGroups, AdminServices, AdminUi, AdminUsers, ControlServers, DeleteGroup, DeleteUser,
    EditGroup, GroupListing, LeaveGroupShares, LeaveUserShares, ManageProxy, ManageShares,
    ManageTokens, OnGroup, OnHub, OnServer, OnService, OnUser, ReadAuthState, ReadGroup,
    ReadGroupShares, ReadHub, ReadService, ReadShares, ReadTokens, ReadUser, ReadUserShares,
    ServiceListing, Shutdown, UserActivity, UserListing,
};

/// Proof that the caller holds `admin:users` on one existing user.
#[derive(Debug)]
pub(crate) struct UserAdmin {
    user: UserRecord,
    groups: Vec<String>,
}

impl UserAdmin {
    /// The user the caller may administer.
    #[must_use]
    pub(crate) fn user(&self) -> &UserRecord {
        &self.user
    }

    /// The user's groups when the check ran.
    #[must_use]
    pub(crate) fn groups(&self) -> &[String] {
        &self.groups
    }
}

/// Proof that the caller is a full administrator: an admin whose credential
/// carries unfiltered `admin:users` (an admin's token narrowed to some users
/// is not one). Only such a caller grants roles or the admin flag.
#[derive(Debug)]
pub(crate) struct HubAdmin(());

/// Proof that the caller may rename a user to one name: `admin:users` on the
/// user under the new name too (with the user's own groups), so that a rename
/// never moves a user into grants the caller does not control.
#[derive(Debug)]
pub(crate) struct Rename {
    user_id: i64,
    new_name: String,
}

impl Rename {
    /// The id of the user being renamed.
    #[must_use]
    pub(crate) fn user_id(&self) -> i64 {
        self.user_id
    }

    /// The new (normalized) name.
    #[must_use]
    pub(crate) fn new_name(&self) -> &str {
        &self.new_name
    }
}

/// Proof that the caller holds the `groups` scope on every group a change of
/// one user's memberships adds or removes.
#[derive(Debug)]
pub(crate) struct GroupMembership {
    user_id: i64,
    wanted: Vec<String>,
}

impl GroupMembership {
    /// The user whose groups change.
    #[must_use]
    pub(crate) fn user_id(&self) -> i64 {
        self.user_id
    }

    /// Every group the user is to be in afterwards.
    #[must_use]
    pub(crate) fn wanted(&self) -> &[String] {
        &self.wanted
    }
}

impl Identity {
    /// Whether the owner of the credential is an admin user or admin service.
    #[must_use]
    pub(crate) fn owner_is_admin(&self) -> bool {
        match &self.principal {
            Principal::User(user) => user.admin,
            Principal::Service(service) => service.admin,
        }
    }

    /// `admin:users` on the user called `name` (404 if missing or hidden, 403 if not allowed).
    pub(crate) async fn user_admin(
        &self,
        state: &AppState,
        name: &str,
    ) -> Result<UserAdmin, HubError> {
        self.demand(state, &[scopes::ADMIN_USERS], Target::User(name))
            .await?;
        let user = state
            .store
            .user_by_name(name)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("No such user: {name}")))?;
        let groups = state.store.group_names_of_user(user.id).await?;
        Ok(UserAdmin { user, groups })
    }

    /// [`HubAdmin`], or 403 with `why`.
    pub(crate) fn hub_admin(&self, why: &str) -> Result<HubAdmin, HubError> {
        let unfiltered = matches!(
            self.scopes.grant(scopes::ADMIN_USERS.as_str()),
            Some(Grant::All)
        );
        if self.owner_is_admin() && unfiltered {
            Ok(HubAdmin(()))
        } else {
            Err(Denied::Forbidden(why.to_owned()).into())
        }
    }

    /// [`Rename`] of `admin`'s user to `new_name` (already normalized and validated).
    pub(crate) fn rename(&self, admin: &UserAdmin, new_name: &str) -> Result<Rename, HubError> {
        let groups = admin.groups();
        let resource = Resource::User {
            name: new_name,
            groups,
        };
        if !self.scopes.allows(scopes::ADMIN_USERS.as_str(), &resource) {
            return Err(Denied::Forbidden(format!(
                "Renaming {} to {new_name} needs admin:users on {new_name} as well",
                admin.user().name
            ))
            .into());
        }
        Ok(Rename {
            user_id: admin.user().id,
            new_name: new_name.to_owned(),
        })
    }

    /// [`GroupMembership`] putting `admin`'s user in exactly `wanted`: every
    /// group added or removed needs the `groups` scope on it.
    pub(crate) async fn group_membership(
        &self,
        state: &AppState,
        admin: &UserAdmin,
        wanted: &[String],
    ) -> Result<GroupMembership, HubError> {
        let current: BTreeSet<&str> = admin.groups().iter().map(String::as_str).collect();
        let wanted_set: BTreeSet<&str> = wanted.iter().map(String::as_str).collect();
        for group in current.symmetric_difference(&wanted_set) {
            if !self
                .allows(state, scopes::GROUPS, Target::Group(group))
                .await?
            {
                return Err(Denied::Forbidden(format!(
                    "Changing membership of group {group} needs the groups scope on it"
                ))
                .into());
            }
        }
        Ok(GroupMembership {
            user_id: admin.user().id,
            wanted: wanted_set.into_iter().map(str::to_owned).collect(),
        })
    }
}

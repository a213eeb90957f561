//! Capabilities of one permission on one resource, as upstream's
//! `@needs_scope` checks them: [`OnUser`], [`OnGroup`], [`OnServer`],
//! [`OnService`] and [`OnHub`], each parametrised by a [`Permission`] marker
//! naming the scopes that grant it, plus the listings that upstream
//! post-filters ([`GroupListing`], [`ServiceListing`], [`UserListing`]).

use std::collections::BTreeSet;
use std::marker::PhantomData;

use ferrohub_rbac::{Grant, ScopeName, scopes};
use ferrohub_store::Visibility;

use crate::access::{Identity, Target};
use crate::error::{Denied, HubError};
use crate::state::AppState;

/// A permission that a scope check proves: the scopes that grant it, any one
/// of them being enough (the arguments of upstream's `needs_scope`). Sealed:
/// the permissions are the ones below.
pub(crate) trait Permission: sealed::Sealed {
    /// The scopes, any of which grants the permission.
    const SCOPES: &'static [ScopeName];
}

mod sealed {
    /// Keeps [`super::Permission`] to the markers of this module.
    pub(crate) trait Sealed {}
}

/// Declares permission markers: uninhabited types naming what a capability proves.
macro_rules! permissions {
    ($($(#[$doc:meta])* $name:ident = [$($scope:ident),+];)+) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub(crate) enum $name {}
        impl sealed::Sealed for $name {}
        impl Permission for $name {
            const SCOPES: &'static [ScopeName] = &[$(scopes::$scope),+];
        }
    )+};
}

permissions! {
    /// Reading a user (`GET /users/{name}`): any scope that shows part of the model.
    ReadUser = [READ_USERS, READ_USERS_NAME, READ_SERVERS, READ_USERS_GROUPS, READ_USERS_ACTIVITY, READ_ROLES_USERS];
    /// Creating users (`admin:users`).
    AdminUsers = [ADMIN_USERS];
    /// Reading a user's `auth_state` (`admin:auth_state`).
    ReadAuthState = [ADMIN_AUTH_STATE];
    /// Deleting a user.
    DeleteUser = [DELETE_USERS];
    /// Reporting a user's activity (what single-user servers do).
    UserActivity = [USERS_ACTIVITY];
    /// Reading a group (`GET /groups/{group}`).
    ReadGroup = [READ_GROUPS, READ_GROUPS_NAME, READ_ROLES_GROUPS];
    /// Creating groups.
    AdminGroups = [ADMIN_GROUPS];
    /// Deleting a group.
    DeleteGroup = [DELETE_GROUPS];
    /// Changing a group's members and properties.
    EditGroup = [GROUPS];
    /// Reading a user's API tokens.
    ReadTokens = [READ_TOKENS];
    /// Creating and revoking a user's API tokens.
    ManageTokens = [TOKENS];
    /// Reading what has been shared with a user.
    ReadUserShares = [READ_USERS_SHARES];
    /// Leaving a share granted to a user.
    LeaveUserShares = [USERS_SHARES];
    /// Reading what has been shared with a group.
    ReadGroupShares = [READ_GROUPS_SHARES];
    /// Leaving a share granted to a group.
    LeaveGroupShares = [GROUPS_SHARES];
    /// Reading the shares and share codes of a user's servers.
    ReadShares = [READ_SHARES];
    /// Granting and revoking shares and share codes of a server.
    ManageShares = [SHARES];
    /// Reading a service.
    ReadService = [READ_SERVICES, READ_SERVICES_NAME, READ_ROLES_SERVICES];
    /// Adding and removing runtime services.
    AdminServices = [ADMIN_SERVICES];
    /// Reading the hub's information (`GET /info`).
    ReadHub = [READ_HUB];
    /// Shutting the hub down.
    Shutdown = [SHUTDOWN];
    /// Reading and changing the proxy's routes and settings.
    ManageProxy = [PROXY];
    /// Every server right on a user's servers (`servers`).
    ControlServers = [SERVERS];
    /// Opening the admin page (`admin-ui`, as upstream's `AdminHandler`); what
    /// the page may then do is checked by the REST API it calls.
    AdminUi = [ADMIN_UI];
}

/// Proof of permission `P` on the user named in the request (who need not exist yet).
#[derive(Debug)]
pub(crate) struct OnUser<P> {
    name: String,
    permission: PhantomData<fn() -> P>,
}

impl<P> OnUser<P> {
    /// The user's name, as checked.
    #[must_use]
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// Proof of permission `P` on the group named in the request.
#[derive(Debug)]
pub(crate) struct OnGroup<P> {
    name: String,
    permission: PhantomData<fn() -> P>,
}

impl<P> OnGroup<P> {
    /// The group's name, as checked.
    #[must_use]
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// Proof of permission `P` on one server (`""` is the default server).
#[derive(Debug)]
pub(crate) struct OnServer<P> {
    owner: String,
    server: String,
    permission: PhantomData<fn() -> P>,
}

impl<P> OnServer<P> {
    /// The server's owner.
    #[must_use]
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// The server's name.
    #[must_use]
    pub(crate) fn server(&self) -> &str {
        &self.server
    }
}

/// Proof of permission `P` on the service named in the request.
#[derive(Debug)]
pub(crate) struct OnService<P> {
    name: String,
    permission: PhantomData<fn() -> P>,
}

impl<P> OnService<P> {
    /// The service's name, as checked.
    #[must_use]
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// Proof of permission `P` on the whole hub (the scope held unfiltered).
#[derive(Debug)]
pub(crate) struct OnHub<P> {
    permission: PhantomData<fn() -> P>,
}

/// Proof that the caller may list groups: `list:groups` in some form, and
/// which groups it shows (`None`: all).
#[derive(Debug)]
pub(crate) struct GroupListing {
    visible: Option<BTreeSet<String>>,
}

impl GroupListing {
    /// The groups the caller may list; `None` means every group.
    #[must_use]
    pub(crate) fn visible(&self) -> Option<&BTreeSet<String>> {
        self.visible.as_ref()
    }
}

/// Proof that the caller may list services, and which ones.
#[derive(Debug)]
pub(crate) struct ServiceListing {
    grant: Grant,
}

impl ServiceListing {
    /// Whether the listing shows the service called `name`.
    #[must_use]
    pub(crate) fn shows(&self, name: &str) -> bool {
        match &self.grant {
            Grant::All => true,
            Grant::Filtered(filters) => filters.services.contains(name),
        }
    }
}

/// Proof that the caller may list users: `list:users` in some form, and
/// which users it shows (`None`: all).
#[derive(Debug)]
pub(crate) struct UserListing {
    visible: Option<Visibility>,
}

impl UserListing {
    /// The users the caller may list, by name and group; `None` means all.
    #[must_use]
    pub(crate) fn visible(&self) -> Option<&Visibility> {
        self.visible.as_ref()
    }
}

impl Identity {
    /// Upstream's `needs_scope` as a capability check: passes if any of
    /// `wanted` covers `target`; else hidden (404) when one of them is held
    /// for other resources, so existence does not leak, or 403 naming them.
    pub(super) async fn demand(
        &self,
        state: &AppState,
        wanted: &[ScopeName],
        target: Target<'_>,
    ) -> Result<(), HubError> {
        for scope in wanted {
            if self.allows(state, *scope, target).await? {
                return Ok(());
            }
        }
        let filtered = !matches!(target, Target::Hub);
        if filtered && wanted.iter().any(|s| self.scopes.holds(s.as_str())) {
            return Err(Denied::Hidden.into());
        }
        Err(Denied::Forbidden(crate::access::forbidden(wanted).message).into())
    }

    /// [`OnUser`]: permission `P` on the user called `name`.
    pub(crate) async fn on_user<P: Permission>(
        &self,
        state: &AppState,
        name: &str,
    ) -> Result<OnUser<P>, HubError> {
        self.demand(state, P::SCOPES, Target::User(name)).await?;
        Ok(OnUser {
            name: name.to_owned(),
            permission: PhantomData,
        })
    }

    /// [`OnGroup`]: permission `P` on the group called `name`.
    pub(crate) async fn on_group<P: Permission>(
        &self,
        state: &AppState,
        name: &str,
    ) -> Result<OnGroup<P>, HubError> {
        self.demand(state, P::SCOPES, Target::Group(name)).await?;
        Ok(OnGroup {
            name: name.to_owned(),
            permission: PhantomData,
        })
    }

    /// [`OnServer`]: permission `P` on server `server` of `owner`.
    pub(crate) async fn on_server<P: Permission>(
        &self,
        state: &AppState,
        owner: &str,
        server: &str,
    ) -> Result<OnServer<P>, HubError> {
        self.demand(state, P::SCOPES, Target::Server(owner, server))
            .await?;
        Ok(OnServer {
            owner: owner.to_owned(),
            server: server.to_owned(),
            permission: PhantomData,
        })
    }

    /// [`OnService`]: permission `P` on the service called `name`.
    pub(crate) async fn on_service<P: Permission>(
        &self,
        state: &AppState,
        name: &str,
    ) -> Result<OnService<P>, HubError> {
        self.demand(state, P::SCOPES, Target::Service(name)).await?;
        Ok(OnService {
            name: name.to_owned(),
            permission: PhantomData,
        })
    }

    /// [`OnHub`]: permission `P` on the whole hub (an unfiltered scope).
    pub(crate) async fn on_hub<P: Permission>(
        &self,
        state: &AppState,
    ) -> Result<OnHub<P>, HubError> {
        self.demand(state, P::SCOPES, Target::Hub).await?;
        Ok(OnHub {
            permission: PhantomData,
        })
    }

    /// The check of upstream's post-filtered lists: one of `wanted` held in
    /// any form is enough to ask; the list then shows only what it covers.
    fn holds_any(&self, wanted: &[ScopeName]) -> Result<(), HubError> {
        self.require_any_form(wanted)
            .map_err(|refused| Denied::Forbidden(refused.message).into())
    }

    /// [`GroupListing`]: `list:groups`, unfiltered or filtered by group only.
    pub(crate) fn group_listing(&self) -> Result<GroupListing, HubError> {
        self.holds_any(&[scopes::LIST_GROUPS])?;
        let visible = match self.scopes.grant(scopes::LIST_GROUPS.as_str()) {
            Some(Grant::Filtered(f)) => {
                if !f.users.is_empty() || !f.servers.is_empty() || !f.services.is_empty() {
                    return Err(Denied::Forbidden(format!(
                        "{} may only be filtered by group",
                        scopes::LIST_GROUPS.as_str()
                    ))
                    .into());
                }
                Some(f.groups.clone())
            }
            _ => None,
        };
        Ok(GroupListing { visible })
    }

    /// [`ServiceListing`]: `list:services` in any form.
    pub(crate) fn service_listing(&self) -> Result<ServiceListing, HubError> {
        self.holds_any(&[scopes::LIST_SERVICES])?;
        let grant = self
            .scopes
            .grant(scopes::LIST_SERVICES.as_str())
            .cloned()
            .unwrap_or(Grant::All);
        Ok(ServiceListing { grant })
    }

    /// [`UserListing`]: `list:users`, unfiltered or filtered by user or group.
    pub(crate) fn user_listing(&self) -> Result<UserListing, HubError> {
        self.holds_any(&[scopes::LIST_USERS])?;
        let visible = match self.scopes.grant(scopes::LIST_USERS.as_str()) {
            Some(Grant::Filtered(f)) => {
                if !f.servers.is_empty() || !f.services.is_empty() {
                    return Err(Denied::Forbidden(format!(
                        "{} may only be filtered by user or group",
                        scopes::LIST_USERS.as_str()
                    ))
                    .into());
                }
                Some(Visibility {
                    users: f.users.clone(),
                    groups: f.groups.clone(),
                })
            }
            _ => None,
        };
        Ok(UserListing { visible })
    }
}

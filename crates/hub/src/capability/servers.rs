//! Capabilities over one user's server: start (`start:servers`), stop and
//! remove (`delete:servers`), read (`read:servers`) for the API, and
//! [`ServerControl`] (`servers`, both start and stop) for the pages, as
//! upstream's `@needs_scope`. The server operations in
//! `crate::service::servers` take them as arguments.

use ferrohub_rbac::{ScopeName, scopes};
use ferrohub_store::UserRecord;

use crate::access::{Identity, Target};
use crate::error::HubError;
use crate::state::AppState;

/// The server a capability is about: an existing user and a server name
/// (`""` for the default server; a named one may not exist yet).
#[derive(Debug, Clone)]
struct ServerRef {
    user: UserRecord,
    server: String,
    /// Whether the caller is the server's owner (not an admin or a service):
    /// `Authenticator.refresh_pre_stop` refuses only the owner's own stop.
    by_owner: bool,
}

macro_rules! server_capability {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub(crate) struct $name(ServerRef);

        impl $name {
            /// The server's owner.
            #[must_use]
            pub(crate) fn user(&self) -> &UserRecord {
                &self.0.user
            }

            /// The server's name (`""` for the default server).
            #[must_use]
            pub(crate) fn server(&self) -> &str {
                &self.0.server
            }
        }
    };
}

server_capability!(
    /// Proof that the caller may start (and create or change, while stopped)
    /// one user's server: `start:servers` on it.
    StartServer
);
server_capability!(
    /// Proof that the caller may stop one user's server, and remove it if it
    /// is a named one: `delete:servers` on it.
    StopServer
);
server_capability!(
    /// Proof that the caller may read one user's server and follow its
    /// spawn progress: `read:servers` on it.
    ReadServer
);
server_capability!(
    /// Proof that the caller holds the whole `servers` scope on one user's
    /// server, as the pages that start and stop servers require (upstream's
    /// `@needs_scope("servers")`); it covers starting and stopping.
    ServerControl
);

impl StopServer {
    /// Whether the caller is the server's owner (not an admin or a service).
    #[must_use]
    pub(crate) fn by_owner(&self) -> bool {
        self.0.by_owner
    }
}

impl ServerControl {
    /// `servers` includes `start:servers`.
    #[must_use]
    pub(crate) fn start(&self) -> StartServer {
        StartServer(self.0.clone())
    }

    /// `servers` includes `delete:servers`.
    #[must_use]
    pub(crate) fn stop(&self) -> StopServer {
        StopServer(self.0.clone())
    }
}

impl Identity {
    /// `scope` on `name`'s server `server` (404 if hidden, 403 if not
    /// allowed), then the user (404 if missing).
    async fn server_ref(
        &self,
        state: &AppState,
        scope: ScopeName,
        name: &str,
        server: &str,
    ) -> Result<ServerRef, HubError> {
        self.require(state, &[scope], Target::Server(name, server))
            .await?;
        let user = state
            .store
            .user_by_name(name)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("No such user: {name}")))?;
        let by_owner = self.user().is_some_and(|me| me.id == user.id);
        Ok(ServerRef {
            user,
            server: server.to_owned(),
            by_owner,
        })
    }

    /// [`StartServer`] on `name`'s server `server`.
    pub(crate) async fn start_server(
        &self,
        state: &AppState,
        name: &str,
        server: &str,
    ) -> Result<StartServer, HubError> {
        self.server_ref(state, scopes::START_SERVERS, name, server)
            .await
            .map(StartServer)
    }

    /// [`StopServer`] on `name`'s server `server`.
    pub(crate) async fn stop_server(
        &self,
        state: &AppState,
        name: &str,
        server: &str,
    ) -> Result<StopServer, HubError> {
        self.server_ref(state, scopes::DELETE_SERVERS, name, server)
            .await
            .map(StopServer)
    }

    /// [`ReadServer`] on `name`'s server `server`.
    pub(crate) async fn read_server(
        &self,
        state: &AppState,
        name: &str,
        server: &str,
    ) -> Result<ReadServer, HubError> {
        self.server_ref(state, scopes::READ_SERVERS, name, server)
            .await
            .map(ReadServer)
    }

    /// [`ServerControl`] on the server `server` of the user `name`, or of the
    /// caller's own user when `name` is `None` or the caller's name. For one's
    /// own server a missing scope is 403 with a reason; for another user's,
    /// a missing user and a missing scope are the same 404, so the pages
    /// reveal no accounts.
    pub(crate) async fn server_control(
        &self,
        state: &AppState,
        name: Option<&str>,
        server: &str,
    ) -> Result<ServerControl, HubError> {
        let me = self.user();
        let own = match name {
            None => me,
            Some(name) => me.filter(|u| u.name == name),
        };
        if let Some(me) = own {
            let target = Target::Server(&me.name, server);
            if !self.allows(state, scopes::SERVERS, target).await? {
                return Err(HubError::Forbidden(
                    "You are not allowed to start or stop servers on this hub \
                     (the servers scope is missing)."
                        .to_owned(),
                ));
            }
            return Ok(ServerControl(ServerRef {
                user: me.clone(),
                server: server.to_owned(),
                by_owner: true,
            }));
        }
        let not_found =
            || HubError::NotFound("No access to resources or resources not found".to_owned());
        let name = name.ok_or_else(not_found)?;
        let user = state
            .store
            .user_by_name(name)
            .await?
            .ok_or_else(not_found)?;
        if !self
            .allows(state, scopes::SERVERS, Target::Server(&user.name, server))
            .await?
        {
            return Err(not_found());
        }
        Ok(ServerControl(ServerRef {
            user,
            server: server.to_owned(),
            by_owner: false,
        }))
    }
}

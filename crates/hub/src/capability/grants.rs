//! Capabilities that are more than one scope on one resource: issuing a
//! user's tokens (which hides whether the user exists), passing one's own
//! scopes on (shares, service OAuth clients), naming a share's recipient,
//! letting an OAuth client act for a user, creating admin services.

use ferrohub_rbac::scopes;
use ferrohub_store::{OAuthClient, UserRecord};

use crate::access::{Identity, Principal, Target};
use crate::error::{Denied, HubError};
use crate::state::AppState;

/// Proof that the caller may create and revoke API tokens of an existing user
/// (`tokens` on them), with the user.
#[derive(Debug)]
pub(crate) struct TokenIssuer {
    user: UserRecord,
}

impl TokenIssuer {
    /// The user whose tokens the caller manages.
    #[must_use]
    pub(crate) fn user(&self) -> &UserRecord {
        &self.user
    }
}

/// Proof that the caller holds every scope of a list itself (so it may pass
/// them on: in a share, or as a service's OAuth client scopes).
#[derive(Debug)]
pub(crate) struct HeldScopes(Vec<String>);

impl HeldScopes {
    /// The scopes.
    #[must_use]
    pub(crate) fn scopes(&self) -> &[String] {
        &self.0
    }
}

/// Whom a share is granted to.
#[derive(Debug, Clone)]
pub(crate) enum ShareWith {
    /// A user, by name.
    User(String),
    /// A group, by name.
    Group(String),
}

/// Proof that the caller may name the recipient of a share (upstream asks for
/// `read:users:name` or `read:groups:name` on it).
#[derive(Debug)]
pub(crate) struct Recipient(ShareWith);

impl Recipient {
    /// Who receives the share.
    #[must_use]
    pub(crate) fn with(&self) -> &ShareWith {
        &self.0
    }
}

/// Proof that a signed-in user may let an OAuth client act for them: the
/// client's access scope (its server or service) is covered, and the scopes
/// to grant are narrowed to those the user holds.
#[derive(Debug)]
pub(crate) struct ClientAccess {
    user: UserRecord,
    granted: Vec<String>,
}

impl ClientAccess {
    /// The user authorizing the client.
    #[must_use]
    pub(crate) fn user(&self) -> &UserRecord {
        &self.user
    }

    /// The scopes the client may get.
    #[must_use]
    pub(crate) fn granted(&self) -> &[String] {
        &self.granted
    }

    /// Keeps only the granted scopes `keep` accepts (the confirmation form's choice).
    pub(crate) fn narrow(&mut self, keep: impl Fn(&str) -> bool) {
        self.granted.retain(|s| keep(s));
    }
}

/// Proof that the caller may create an admin service: only an admin user may.
#[derive(Debug)]
pub(crate) struct AdminServiceGrant(());

impl Identity {
    /// [`TokenIssuer`] for the user called `name`. As upstream, a missing
    /// user and a missing permission get the same 403, so that token requests
    /// do not reveal which users exist.
    pub(crate) async fn token_issuer(
        &self,
        state: &AppState,
        name: &str,
    ) -> Result<TokenIssuer, HubError> {
        let allowed = self
            .allows(state, scopes::TOKENS, Target::User(name))
            .await?;
        match state.store.user_by_name(name).await? {
            Some(user) if allowed => Ok(TokenIssuer { user }),
            _ => Err(Denied::Forbidden(format!(
                "{} {name} not found or no permissions to generate tokens",
                if self.kind() == "user" {
                    "User"
                } else {
                    "Service"
                }
            ))
            .into()),
        }
    }

    /// [`HeldScopes`]: every one of `wanted` (full scope strings, filters
    /// included) is granted to the caller; else `refuse` names the first that is not.
    pub(crate) async fn held_scopes(
        &self,
        state: &AppState,
        wanted: Vec<String>,
        refuse: impl Fn(&str) -> HubError,
    ) -> Result<HeldScopes, HubError> {
        for scope in &wanted {
            if !self.allows_str(state, scope).await? {
                return Err(refuse(scope));
            }
        }
        Ok(HeldScopes(wanted))
    }

    /// [`Recipient`]: the caller may see the user's or group's name.
    pub(crate) async fn share_recipient(
        &self,
        state: &AppState,
        with: ShareWith,
    ) -> Result<Recipient, HubError> {
        let (scope, target, what) = match &with {
            ShareWith::User(name) => (scopes::READ_USERS_NAME, Target::User(name), "users"),
            ShareWith::Group(name) => (scopes::READ_GROUPS_NAME, Target::Group(name), "groups"),
        };
        if !self.allows(state, scope, target).await? {
            return Err(Denied::Forbidden(format!(
                "Need scope '{}' to share with {what} by name",
                scope.as_str()
            ))
            .into());
        }
        Ok(Recipient(with))
    }

    /// [`AdminServiceGrant`]: only an admin user creates admin services.
    pub(crate) fn admin_service_grant(&self) -> Result<AdminServiceGrant, HubError> {
        if matches!(&self.principal, Principal::User(u) if u.admin) {
            Ok(AdminServiceGrant(()))
        } else {
            Err(Denied::Forbidden("Only admins can create admin services".to_owned()).into())
        }
    }

    /// The signed-in user who may authorize OAuth clients (services cannot).
    pub(crate) fn oauth_user(&self) -> Result<&UserRecord, HubError> {
        self.user().ok_or_else(|| {
            Denied::Forbidden("Only users can authorize OAuth clients.".to_owned()).into()
        })
    }

    /// [`ClientAccess`] for `client`: the user must be allowed the client's
    /// access scope (`access:servers!server=…` or `access:services!service=…`);
    /// of `requested`, only the scopes the user holds are granted, plus that
    /// access scope.
    pub(crate) async fn client_access(
        &self,
        state: &AppState,
        client: &OAuthClient,
        requested: Vec<String>,
    ) -> Result<ClientAccess, HubError> {
        let user = self.oauth_user()?.clone();
        // The access scope the hub registered for the client's server or service.
        let access = client
            .allowed_scopes
            .iter()
            .find(|s| s.starts_with("access:"));
        if let Some(scope) = access
            && !self.allows_str(state, scope).await?
        {
            return Err(Denied::Forbidden(format!(
                "User {} is not allowed to access {}.",
                user.name, client.description
            ))
            .into());
        }
        let mut granted = Vec::new();
        for scope in requested {
            if self.allows_str(state, &scope).await? {
                granted.push(scope);
            }
        }
        granted.extend(access.cloned());
        granted.sort();
        granted.dedup();
        Ok(ClientAccess { user, granted })
    }
}

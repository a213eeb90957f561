//! Who may do what. A caller's effective scopes come from its roles (directly
//! and through its groups), the shares granted to it, and — for tokens — the
//! token's own scopes intersected with all that (upstream's `get_scopes_for`).
//! Handlers then ask [`Identity::require`], upstream's `needs_scope`.

use std::collections::{BTreeMap, BTreeSet};

use ferrohub_core::time::Timestamp;
use ferrohub_rbac::{ExpandContext, Grant, Membership, Owner, ParsedScopes, Resource, ScopeName};
use ferrohub_store::{ServiceRecord, TokenOwner, TokenRecord, UserRecord};

use crate::error::ApiError;
use crate::state::AppState;

pub(crate) use crate::principal::{Identity, Principal};

/// What a scope check is about, as named in the request URL.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// Nothing in particular (`/info`, `/proxy`, list endpoints).
    Hub,
    /// A user by name.
    User(&'a str),
    /// A user's server (`""` = default).
    Server(&'a str, &'a str),
    /// A group by name.
    Group(&'a str),
    /// A service by name.
    Service(&'a str),
}

impl Identity {
    /// The user behind the credential, unless it is a service.
    #[must_use]
    pub(crate) fn user(&self) -> Option<&UserRecord> {
        match &self.principal {
            Principal::User(user) => Some(user),
            Principal::Service(_) => None,
        }
    }

    /// The owner's name.
    #[must_use]
    pub(crate) fn name(&self) -> &str {
        match &self.principal {
            Principal::User(user) => &user.name,
            Principal::Service(service) => &service.name,
        }
    }

    /// `"user"` or `"service"`, as in upstream's log lines and notes.
    #[must_use]
    pub(crate) fn kind(&self) -> &'static str {
        match self.principal {
            Principal::User(_) => "user",
            Principal::Service(_) => "service",
        }
    }

    /// Whether the request came with the login cookie (then XSRF rules apply).
    #[must_use]
    pub(crate) fn via_cookie(&self) -> bool {
        self.token.is_none()
    }

    /// Whether `scope` is granted for `target` (group membership read from the database
    /// only when a group-filtered grant needs it).
    pub(crate) async fn allows(
        &self,
        state: &AppState,
        scope: ScopeName,
        target: Target<'_>,
    ) -> Result<bool, ApiError> {
        self.allows_base(state, scope.as_str(), target).await
    }

    /// [`Identity::allows`] for a scope named at run time (custom scopes, parsed strings).
    async fn allows_base(
        &self,
        state: &AppState,
        scope: &str,
        target: Target<'_>,
    ) -> Result<bool, ApiError> {
        let Some(grant) = self.scopes.grant(scope) else {
            return Ok(false);
        };
        let needs_groups = matches!(grant, Grant::Filtered(f) if !f.groups.is_empty());
        let groups = match target {
            Target::User(user) | Target::Server(user, _) if needs_groups => {
                groups_of(state, user).await?
            }
            _ => Vec::new(),
        };
        let resource = match target {
            Target::Hub => return Ok(matches!(grant, Grant::All)),
            Target::User(name) => Resource::User {
                name,
                groups: &groups,
            },
            Target::Server(user, server) => Resource::Server {
                user,
                server,
                groups: &groups,
            },
            Target::Group(name) => Resource::Group { name },
            Target::Service(name) => Resource::Service { name },
        };
        Ok(self.scopes.allows(scope, &resource))
    }

    /// Whether a full scope string (`access:servers!server=alice/`) is granted.
    pub(crate) async fn allows_str(&self, state: &AppState, scope: &str) -> Result<bool, ApiError> {
        let Ok(parsed) = scope.parse::<ferrohub_rbac::Scope>() else {
            return Ok(false);
        };
        let target = match &parsed.filter {
            None => Target::Hub,
            Some(ferrohub_rbac::Filter::User(name)) => Target::User(name),
            Some(ferrohub_rbac::Filter::Server { user, server }) => Target::Server(user, server),
            Some(ferrohub_rbac::Filter::Group(name)) => Target::Group(name),
            Some(ferrohub_rbac::Filter::Service(name)) => Target::Service(name),
        };
        self.allows_base(state, &parsed.base, target).await
    }

    /// Upstream's `needs_scope`: passes if any of `scopes` is granted for `target`.
    /// Otherwise 404 when the caller holds one of them for other resources (so
    /// existence does not leak), else 403 naming the scopes.
    pub(crate) async fn require(
        &self,
        state: &AppState,
        scopes: &[ScopeName],
        target: Target<'_>,
    ) -> Result<(), ApiError> {
        for scope in scopes {
            if self.allows(state, *scope, target).await? {
                return Ok(());
            }
        }
        let filtered = !matches!(target, Target::Hub);
        if filtered && scopes.iter().any(|s| self.scopes.holds(s.as_str())) {
            return Err(ApiError::not_found(
                "No access to resources or resources not found",
            ));
        }
        Err(forbidden(scopes))
    }

    /// For list endpoints ("post-filter"): passes if any of `scopes` is held in any form.
    pub(crate) fn require_any_form(&self, scopes: &[ScopeName]) -> Result<(), ApiError> {
        if scopes.iter().any(|s| self.scopes.holds(s.as_str())) {
            Ok(())
        } else {
            Err(forbidden(scopes))
        }
    }
}

/// Upstream's 403 text for a missing scope.
#[must_use]
pub(crate) fn forbidden(scopes: &[ScopeName]) -> ApiError {
    let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    ApiError::forbidden(format!(
        "Action is not authorized with current scopes; requires any of [{}]",
        names.join(", ")
    ))
}

/// Group names of a user by name (empty if the user does not exist).
pub(crate) async fn groups_of(state: &AppState, user: &str) -> Result<Vec<String>, ApiError> {
    Ok(match state.store.user_by_name(user).await? {
        Some(record) => state.store.group_names_of_user(record.id).await?,
        None => Vec::new(),
    })
}

/// Expands stored scope strings for an owner, skipping (and logging) any that no
/// longer parse, so one bad role cannot lock everybody out.
fn expand_lenient(state: &AppState, scopes: &[String], cx: &ExpandContext<'_>) -> ParsedScopes {
    match ferrohub_rbac::expand(scopes, cx) {
        Ok(parsed) => parsed,
        Err(_) => {
            let valid: Vec<&String> = scopes
                .iter()
                .filter(|s| {
                    let ok = ferrohub_rbac::validate(s, &state.custom_scopes).is_ok();
                    if !ok {
                        tracing::warn!("ignoring invalid stored scope {s:?}");
                    }
                    ok
                })
                .collect();
            ferrohub_rbac::expand(&valid, cx).unwrap_or_default()
        }
    }
}

/// A user's own scopes: roles (direct and via groups) and shares.
pub(crate) async fn user_scopes(
    state: &AppState,
    user: &UserRecord,
) -> Result<ParsedScopes, ApiError> {
    Ok(user_scopes_until(state, user).await?.0)
}

/// [`user_scopes`], and when the first share behind them expires.
pub(crate) async fn user_scopes_until(
    state: &AppState,
    user: &UserRecord,
) -> Result<(ParsedScopes, Option<Timestamp>), ApiError> {
    let mut raw = state.store.user_role_scopes(user.id).await?;
    let shares = state.store.share_scopes_for_user(user.id).await?;
    raw.extend(shares.scopes);
    let cx = ExpandContext {
        owner: Owner::User { name: &user.name },
        client_server: None,
        client_service: None,
        custom: &state.custom_scopes,
    };
    let mut scopes = expand_lenient(state, &raw, &cx);
    scopes = scopes.union(&ferrohub_rbac::identify_scopes(&cx.owner));
    Ok((scopes, shares.next_expiry))
}

/// A service's own scopes: its roles.
pub(crate) async fn service_scopes(
    state: &AppState,
    service: &ServiceRecord,
) -> Result<ParsedScopes, ApiError> {
    let raw = state.store.service_role_scopes(service.id).await?;
    let cx = ExpandContext {
        owner: Owner::Service {
            name: &service.name,
        },
        client_server: None,
        client_service: None,
        custom: &state.custom_scopes,
    };
    Ok(expand_lenient(state, &raw, &cx).union(&ferrohub_rbac::identify_scopes(&cx.owner)))
}

/// Group memberships preloaded for the users a scope intersection mentions.
struct PreloadedGroups(BTreeMap<String, Vec<String>>);

impl Membership for PreloadedGroups {
    fn groups_of(&self, user: &str) -> Vec<String> {
        self.0.get(user).cloned().unwrap_or_default()
    }
}

/// Loads the groups of every user named in `a`'s or `b`'s filters, if either uses group filters.
async fn membership_for(
    state: &AppState,
    a: &ParsedScopes,
    b: &ParsedScopes,
) -> Result<PreloadedGroups, ApiError> {
    let mut uses_groups = false;
    let mut users = BTreeSet::new();
    for parsed in [a, b] {
        for (_, grant) in parsed.iter() {
            if let Grant::Filtered(filters) = grant {
                uses_groups |= !filters.groups.is_empty();
                users.extend(filters.users.iter().cloned());
                users.extend(
                    filters
                        .servers
                        .iter()
                        .map(|s| s.split_once('/').map_or(s.as_str(), |(u, _)| u).to_owned()),
                );
            }
        }
    }
    let mut map = BTreeMap::new();
    if uses_groups {
        for user in users {
            let groups = groups_of(state, &user).await?;
            map.insert(user, groups);
        }
    }
    Ok(PreloadedGroups(map))
}

/// The scope strings of `requested` that `held` does not cover (empty when all are
/// covered), resolving group filters against the database.
pub(crate) async fn excess(
    state: &AppState,
    requested: &ParsedScopes,
    held: &ParsedScopes,
) -> Result<Vec<String>, ApiError> {
    let membership = membership_for(state, requested, held).await?;
    Ok(held.excess(requested, &membership))
}

/// The effective scopes of a token: its own scopes (plus the access scope of the
/// OAuth client that issued it) within its owner's current scopes, so that
/// revoking a role narrows existing tokens at once.
pub(crate) async fn token_scopes(
    state: &AppState,
    token: &TokenRecord,
    principal: &Principal,
) -> Result<ParsedScopes, ApiError> {
    Ok(token_scopes_until(state, token, principal).await?.0)
}

/// [`token_scopes`], and when the first share behind the owner's scopes expires.
pub(crate) async fn token_scopes_until(
    state: &AppState,
    token: &TokenRecord,
    principal: &Principal,
) -> Result<(ParsedScopes, Option<Timestamp>), ApiError> {
    let ((owner_scopes, shares_expire), owner) = match principal {
        Principal::User(user) => (
            user_scopes_until(state, user).await?,
            Owner::User { name: &user.name },
        ),
        Principal::Service(service) => (
            (service_scopes(state, service).await?, None),
            Owner::Service {
                name: &service.name,
            },
        ),
    };
    if token.scopes.iter().any(|s| s == "inherit") {
        return Ok((owner_scopes, shares_expire));
    }
    let client = OAuthClientKind::of(state, &token.client_id).await?;
    let cx = ExpandContext {
        owner,
        client_server: client
            .server
            .as_ref()
            .map(|(u, s)| (u.as_str(), s.as_str())),
        client_service: client.service.as_deref(),
        custom: &state.custom_scopes,
    };
    let mut own = expand_lenient(state, &token.scopes, &cx);
    own = own.union(&ferrohub_rbac::identify_scopes(&cx.owner));
    if let Some(access) = client.access_scope() {
        let access = ferrohub_rbac::expand(&[access], &cx).unwrap_or_default();
        own = own.union(&access);
    }
    let membership = membership_for(state, &own, &owner_scopes).await?;
    let scopes = own
        .intersect(&owner_scopes, &membership)
        .union(&ferrohub_rbac::identify_scopes(&cx.owner));
    Ok((scopes, shares_expire))
}

/// What an OAuth client id belongs to: a user's server or a service.
#[derive(Debug, Default)]
struct OAuthClientKind {
    server: Option<(String, String)>,
    service: Option<String>,
}

impl OAuthClientKind {
    async fn of(state: &AppState, client_id: &str) -> Result<Self, ApiError> {
        if client_id == ferrohub_store::BUILTIN_CLIENT || client_id.is_empty() {
            return Ok(Self::default());
        }
        if let Some(spawner) = state.store.spawner_by_oauth_client(client_id).await? {
            return Ok(Self {
                server: Some(spawner),
                service: None,
            });
        }
        let service = state
            .store
            .list_services()
            .await?
            .into_iter()
            .find(|s| s.oauth_client_id.as_deref() == Some(client_id))
            .map(|s| s.name);
        Ok(Self {
            server: None,
            service,
        })
    }

    fn access_scope(&self) -> Option<String> {
        if let Some((user, server)) = &self.server {
            return Some(ferrohub_rbac::access_scope_for_server(user, server));
        }
        self.service
            .as_deref()
            .map(ferrohub_rbac::access_scope_for_service)
    }
}

/// Resolves a token's owner.
pub(crate) async fn token_principal(
    state: &AppState,
    token: &TokenRecord,
) -> Result<Option<Principal>, ApiError> {
    Ok(match token.owner {
        TokenOwner::User(id) => state.store.user_by_id(id).await?.map(Principal::User),
        TokenOwner::Service(id) => state
            .store
            .service_by_id(id)
            .await?
            .map(|s| Principal::Service(Box::new(s))),
    })
}

//! JupyterHub 6.1.1's role-based access control as pure, synchronous logic.
//!
//! The model, in upstream's terms:
//!
//! * A **scope** is a permission name (`read:users`, `servers`, …; see [`all_scope_names`]),
//!   optionally restricted by one **filter** to a resource: `!user=alice`,
//!   `!server=alice/gpu` (`alice/` is the default server), `!group=g` or `!service=s`.
//!   Role definitions may also use the bare `!user`, `!service`, `!server`, and the metascopes
//!   `self` (a user's own resources) and `inherit` (whatever the owner has).
//! * A **role** bundles raw scopes; the default roles are [`default_roles`].
//! * **Expansion** ([`expand`]) turns raw scopes into every implied scope (holding `users`
//!   implies `read:users`, which implies `read:users:name`, …), resolving `self` and bare filters
//!   for an [`Owner`] and copying filters onto subscopes. The result is a [`ParsedScopes`]:
//!   base scope → unfiltered or a set of filter values.
//! * **Checks** ([`ParsedScopes::allows`]) ask whether a base scope covers a [`Resource`];
//!   user filters cover the user's servers, group filters cover members and their servers.
//! * A token's effective scopes are its expanded scopes **intersected**
//!   ([`ParsedScopes::intersect`]) with its owner's current ones, plus [`identify_scopes`];
//!   group membership is asked of the caller through [`Membership`].
//!
//! Nothing here touches a database or does I/O; the hub supplies names and memberships.
//!
//! ```
//! use ferrohub_rbac::{CustomScopes, ExpandContext, NoGroups, Owner, Resource, expand};
//!
//! let cx = ExpandContext::new(Owner::User { name: "alice" }, CustomScopes::none());
//! let owner = expand(&["self"], &cx)?;
//! let own = Resource::Server { user: "alice", server: "", groups: &[] };
//! let other = Resource::Server { user: "bob", server: "", groups: &[] };
//! assert!(owner.allows("servers", &own));
//! assert!(!owner.allows("servers", &other));
//!
//! // a token never exceeds its owner
//! let token = expand(&["read:users:name!user=alice", "servers!user=bob"], &cx)?;
//! assert_eq!(
//!     token.intersect(&owner, &NoGroups).to_strings(),
//!     ["read:users:name!user=alice"]
//! );
//! # Ok::<(), ferrohub_rbac::ScopeError>(())
//! ```

#![warn(missing_docs)]

mod catalogue;
mod custom;
mod error;
mod expand;
mod oauth;
mod parsed;
mod roles;
mod scope;
pub mod scopes;

pub use catalogue::{all_scope_names, description, is_builtin, is_known, subscopes};
pub use custom::{CustomScopeDef, CustomScopes, is_valid_custom_scope_name};
pub use error::ScopeError;
pub use expand::{
    ExpandContext, IDENTIFY_SCOPES_RAW, Owner, access_scope_for_server, access_scope_for_service,
    apply_share_filter, expand, has_inherit, identify_scopes, without_inherit,
};
pub use oauth::{ResolvedScopes, ScopeDescription, describe_raw_scopes, resolve_requested_scopes};
pub use parsed::{Filters, Grant, Membership, NoGroups, ParsedScopes, Resource};
pub use roles::{
    ADMIN_DESCRIPTION, ADMIN_SCOPES, DEFAULT_ROLE_NAMES, RoleSpec, check_admin_override,
    default_roles, is_default_role, validate_role_name,
};
pub use scope::{Filter, FilterKind, RawFilter, RawScope, Scope, validate, validate_all};
pub use scopes::ScopeName;

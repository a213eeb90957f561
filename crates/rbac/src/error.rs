//! The one error type of this crate.

/// Why a scope, a custom-scope definition, a role name or a share request was rejected.
///
/// Messages follow upstream JupyterHub's wording where it has one, so that API clients and
/// operators see familiar text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// The base scope is neither a built-in nor a defined custom scope.
    #[error("Scope '{scope}' does not exist")]
    NotFound {
        /// The full scope string as given.
        scope: String,
    },
    /// The draft name `all` was used; it has been called `inherit` since JupyterHub 2.0.
    #[error("Draft scope 'all' is now called 'inherit'")]
    AllRenamed,
    /// The filter kind after `!` is not `user`, `server`, `group` or `service`
    /// (or is a bare `!group`, which has nothing to resolve against).
    #[error("Scope filter '!{filter}' in scope '{scope}' does not exist")]
    UnknownFilter {
        /// The full scope string as given.
        scope: String,
        /// The text after `!`.
        filter: String,
    },
    /// Nothing follows `!`; upstream would silently grant the scope unfiltered, which is never
    /// what the author meant.
    #[error("Empty filter in scope '{scope}'")]
    EmptyFilter {
        /// The full scope string as given.
        scope: String,
    },
    /// A filter such as `!user=` has an empty value.
    #[error("Empty string is not a valid filter: {scope}")]
    EmptyFilterValue {
        /// The full scope string as given.
        scope: String,
    },
    /// A `!server=` filter is not of the form `<user>/<server>` with a non-empty user.
    #[error("Server filter in scope '{scope}' must look like '!server=<user>/<server>'")]
    MalformedServerFilter {
        /// The full scope string as given.
        scope: String,
    },
    /// A bare filter (`!user`, `!service`, `!server`) where only resolved filters are allowed,
    /// e.g. when parsing already expanded scopes.
    #[error("Unexpanded scope filter in '{scope}' not allowed here; use expanded scopes")]
    BareFilter {
        /// The full scope string as given.
        scope: String,
    },
    /// A filter on `self`, `inherit` or `(no_scope)`, which stand for sets of permissions rather
    /// than for permissions on a resource.
    #[error("Scope '{scope}' cannot carry a filter")]
    FilterOnMetascope {
        /// The full scope string as given.
        scope: String,
    },
    /// `inherit` reached [`expand`](crate::expand); the caller must substitute the owner's scopes.
    #[error("Scope 'inherit' must be resolved to the owner's scopes before expansion")]
    Inherit,
    /// A custom scope name does not match `^custom:[a-z0-9][a-z0-9_\-\*:]+[a-z0-9_\*]$`.
    #[error(
        "Invalid scope name: '{name}'. Custom scopes must start with `custom:` and contain only \
         lowercase ascii letters, numbers, hyphen, underscore, colon, and asterisk (-_:*). \
         The part after `custom:` must start with a letter or number. \
         Scopes may not end with a hyphen or colon."
    )]
    InvalidCustomScopeName {
        /// The rejected name.
        name: String,
    },
    /// A custom scope has an empty description (it is shown on the OAuth consent page).
    #[error("scope {name} missing key 'description'")]
    MissingDescription {
        /// The custom scope's name.
        name: String,
    },
    /// A custom scope lists a built-in scope as subscope.
    #[error(
        "non-custom subscope {subscope} in {scope} is not allowed. Custom scopes may only have \
         custom subscopes. Roles should be used to assign multiple scopes together."
    )]
    NonCustomSubscope {
        /// The custom scope being defined.
        scope: String,
        /// The offending subscope.
        subscope: String,
    },
    /// A custom scope lists a subscope that is not defined.
    #[error("subscope {subscope} in {scope} not found. All scopes must be defined.")]
    UnknownSubscope {
        /// The custom scope being defined.
        scope: String,
        /// The missing subscope.
        subscope: String,
    },
    /// The same custom scope was defined twice with different definitions.
    #[error("Cannot redefine scope {name}")]
    Redefined {
        /// The custom scope's name.
        name: String,
    },
    /// A role name does not match `^[a-z][a-z0-9\-_~\.]{1,253}[a-z0-9]$`.
    #[error(
        "Invalid role name: '{name}'. Role names must:\n \
         - be 3-255 characters\n \
         - contain only lowercase ascii letters, numbers, and URL unreserved special characters '-.~_'\n \
         - start with a letter\n \
         - end with letter or number\n"
    )]
    InvalidRoleName {
        /// The rejected name.
        name: String,
    },
    /// Configuration tried to change the `admin` role's description or scopes.
    #[error("Cannot override admin role admin.{key} = {value}")]
    AdminRoleOverride {
        /// `description` or `scopes`.
        key: &'static str,
        /// The attempted value, for the message.
        value: String,
    },
    /// A share request carried a filter other than the shared server's.
    #[error("!{filter} not allowed on sharing {scope}, only !{allowed}")]
    ShareFilter {
        /// The full scope string as given.
        scope: String,
        /// The rejected filter (text after `!`).
        filter: String,
        /// The only filter allowed, `server=<user>/<server>`.
        allowed: String,
    },
}

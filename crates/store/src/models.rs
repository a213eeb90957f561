//! Plain records returned by the store; no database types leak out.

use ferrohub_core::time::Timestamp;

/// A row of `users`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    /// Primary key.
    pub id: i64,
    /// Normalized user name.
    pub name: String,
    /// Admin flag.
    pub admin: bool,
    /// When the user was created.
    pub created: Option<Timestamp>,
    /// Last activity seen (requests, servers).
    pub last_activity: Option<Timestamp>,
    /// Random id bound into login cookies; changing it logs the user out everywhere.
    pub cookie_id: String,
    /// What the authenticator said about the user (`users.user_info`); shown in
    /// the 6.0 user model, `None` when never set.
    pub user_info: Option<serde_json::Value>,
}

/// Where a running server listens (a row of `servers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddress {
    /// `http` or `https`.
    pub proto: String,
    /// Address.
    pub ip: String,
    /// Port.
    pub port: u16,
    /// The server's URL prefix, e.g. `/user/alice/`.
    pub base_url: String,
}

impl ServerAddress {
    /// `proto://ip:port`, the proxy target.
    #[must_use]
    pub fn host_url(&self) -> String {
        if self.ip.contains(':') {
            format!("{}://[{}]:{}", self.proto, self.ip, self.port)
        } else {
            format!("{}://{}:{}", self.proto, self.ip, self.port)
        }
    }
}

/// A row of `spawners` joined with its `servers` row, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct SpawnerRecord {
    /// Primary key.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// Server name, `""` for the default server.
    pub name: String,
    /// Human-readable name shown in the UI and the server model (NULL reads as `""`).
    pub display_name: String,
    /// Options of the last spawn, reused when a start request brings none (NULL reads as `{}`).
    pub user_options: serde_json::Value,
    /// The spawner's persisted state (`{"pid": N}` for processes).
    pub state: serde_json::Value,
    /// When the current server was started.
    pub started: Option<Timestamp>,
    /// Last activity.
    pub last_activity: Option<Timestamp>,
    /// The OAuth client of the running server.
    pub oauth_client_id: Option<String>,
    /// Where the server listens, when one is running (or starting).
    pub server: Option<ServerAddress>,
}

/// Who owns a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOwner {
    /// A user (by id).
    User(i64),
    /// A service (by id).
    Service(i64),
}

/// A row of `api_tokens` (never the token itself: only its hash is stored).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// Primary key; the API shows it as `"a<id>"`.
    pub id: i64,
    /// Owner.
    pub owner: TokenOwner,
    /// OAuth client that issued it (`jupyterhub` for API tokens).
    pub client_id: String,
    /// Browser session the token belongs to (OAuth tokens).
    pub session_id: Option<String>,
    /// Scopes the token was issued with.
    pub scopes: Vec<String>,
    /// Free-text note.
    pub note: Option<String>,
    /// Creation time.
    pub created: Option<Timestamp>,
    /// Expiry, if any.
    pub expires_at: Option<Timestamp>,
    /// Last use.
    pub last_activity: Option<Timestamp>,
}

/// A row of `oauth_clients`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// `jupyterhub-user-alice`, `service-x`, ...
    pub identifier: String,
    /// Human description.
    pub description: String,
    /// Hashed secret; empty means the client cannot use OAuth.
    pub secret: String,
    /// The only redirect URI accepted, compared exactly.
    pub redirect_uri: String,
    /// Scopes the client may request.
    pub allowed_scopes: Vec<String>,
}

/// A row of `oauth_codes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthCode {
    /// The client the code was issued to.
    pub client_id: String,
    /// The code itself (single use).
    pub code: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Redirect URI of the authorize request.
    pub redirect_uri: String,
    /// Browser session id at authorize time.
    pub session_id: Option<String>,
    /// The user who authorized.
    pub user_id: i64,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// PKCE challenge, if given.
    pub code_challenge: Option<String>,
    /// PKCE method (`S256` or `plain`).
    pub code_challenge_method: Option<String>,
}

/// A row of `groups`: a named set of users that can hold roles and shares.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    /// Primary key.
    pub id: i64,
    /// Unique group name.
    pub name: String,
    /// Free-form JSON object set through `PUT /groups/{name}/properties` (NULL reads as `{}`).
    pub properties: serde_json::Value,
}

/// A row of `roles`: a named bundle of scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    /// Primary key.
    pub id: i64,
    /// Unique role name.
    pub name: String,
    /// What the role is for, if described.
    pub description: Option<String>,
    /// The (unexpanded) scopes the role grants, as configured.
    pub scopes: Vec<String>,
    /// Whether the authenticator manages the role (`manage_roles`), so config sync leaves it alone.
    pub managed_by_auth: bool,
}

/// Who can hold a role; the id is that entity's primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleHolder {
    /// A user.
    User(i64),
    /// A group (its members inherit the role's scopes).
    Group(i64),
    /// A service.
    Service(i64),
}

/// The kind of role holder, for operations over a whole kind of membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleKind {
    /// Users (`user_role_map`).
    User,
    /// Groups (`group_role_map`).
    Group,
    /// Services (`service_role_map`).
    Service,
}

impl RoleHolder {
    /// The holder's kind, to pick its mapping table.
    #[must_use]
    pub fn kind(self) -> RoleKind {
        match self {
            Self::User(_) => RoleKind::User,
            Self::Group(_) => RoleKind::Group,
            Self::Service(_) => RoleKind::Service,
        }
    }

    /// The holder's primary key.
    #[must_use]
    pub fn id(self) -> i64 {
        match self {
            Self::User(id) | Self::Group(id) | Self::Service(id) => id,
        }
    }
}

/// Everyone holding a role, by kind; ids sorted ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMembers {
    /// User ids.
    pub users: Vec<i64>,
    /// Group ids.
    pub groups: Vec<i64>,
    /// Service ids.
    pub services: Vec<i64>,
}

/// A row of `services` joined with its `servers` row, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRecord {
    /// Primary key.
    pub id: i64,
    /// Unique service name.
    pub name: String,
    /// Deprecated admin flag (grants the admin role).
    pub admin: bool,
    /// Where the service listens, if it is proxied.
    pub url: Option<String>,
    /// Scopes the service's OAuth client may request.
    pub oauth_client_allowed_scopes: Vec<String>,
    /// Free-form JSON shown in the service model (NULL reads as `{}`).
    pub info: serde_json::Value,
    /// Whether the home page lists the service.
    pub display: bool,
    /// Skip the OAuth confirmation page for this service.
    pub oauth_no_confirm: bool,
    /// Command of a managed service (empty for external ones).
    pub command: Vec<String>,
    /// Working directory of a managed service.
    pub cwd: Option<String>,
    /// Extra environment of a managed service (NULL reads as `{}`).
    pub environment: serde_json::Value,
    /// System user a managed service runs as.
    pub user: Option<String>,
    /// Seconds to wait for the service to come up.
    pub timeout: i64,
    /// Defined in the configuration (not deletable at runtime) rather than through the API.
    pub from_config: bool,
    /// Process id of a running managed service.
    pub pid: Option<i64>,
    /// The service's OAuth client, if it takes part in OAuth.
    pub oauth_client_id: Option<String>,
    /// The proxy target, when the service has a url.
    pub server: Option<ServerAddress>,
}

/// Who a share grants access to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShareTarget {
    /// A user (by id).
    User(i64),
    /// A group (by id): every member gets the share.
    Group(i64),
}

/// A row of `shares`, joined with the names the API shows, so listing needs no extra queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRecord {
    /// Primary key.
    pub id: i64,
    /// When the share was first granted.
    pub created_at: Timestamp,
    /// Scopes granted (sorted, distinct), e.g. `access:servers!server=alice/`.
    pub scopes: Vec<String>,
    /// Expiry, if any; expired shares grant nothing.
    pub expires_at: Option<Timestamp>,
    /// The server owner's user id.
    pub owner_id: i64,
    /// The server owner's name.
    pub owner_name: String,
    /// The shared server's spawner row.
    pub spawner_id: i64,
    /// The shared server's name (`""` for the default server).
    pub server_name: String,
    /// The user shared with (id, name), for user shares.
    pub user: Option<(i64, String)>,
    /// The group shared with (id, name), for group shares.
    pub group: Option<(i64, String)>,
}

/// A row of `share_codes` (never the code itself: only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareCodeRecord {
    /// Primary key; the API shows it as `"sc_<id>"`.
    pub id: i64,
    /// The server owner's user id.
    pub owner_id: i64,
    /// The shared server's spawner row.
    pub spawner_id: i64,
    /// Scopes a user accepting the code is granted.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Expiry; expired codes are never found.
    pub expires_at: Option<Timestamp>,
    /// How many times the code was accepted.
    pub exchange_count: i64,
    /// When the code was last accepted.
    pub last_exchanged_at: Option<Timestamp>,
}

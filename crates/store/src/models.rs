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

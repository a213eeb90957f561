//! The hub's operations, between the HTTP handlers and the store. Each takes
//! the capabilities (`crate::capability`) its permission needs, owns the rules
//! of its domain, and fails with one [`HubError`](crate::error::HubError).

pub(crate) mod auth_refresh;
pub(crate) mod groups;
pub(crate) mod logins;
pub(crate) mod oauth;
pub(crate) mod servers;
pub(crate) mod services;
pub(crate) mod shares;
pub(crate) mod tokens;
pub(crate) mod users;

//! The hub's operations, between the HTTP handlers and the store. Each takes
//! the capabilities (`crate::capability`) its permission needs, owns the rules
//! of its domain, and fails with one [`HubError`](crate::error::HubError).

pub mod groups;
pub mod oauth;
pub mod servers;
pub mod services;
pub mod shares;
pub mod tokens;
pub mod users;

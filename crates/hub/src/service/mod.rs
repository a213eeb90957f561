//! The hub's operations, between the HTTP handlers and the store. Each takes
//! the capabilities (`crate::capability`) its permission needs, owns the rules
//! of its domain, and fails with one [`HubError`](crate::error::HubError).

pub mod servers;
pub mod users;

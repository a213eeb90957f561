//! Scenarios run against every back end; each takes a fresh, empty database.

pub mod basics;
pub mod groups_roles;
pub mod listing;
pub mod servers;
pub mod services;
pub mod sharing;
pub mod upstream;
pub mod versions;

//! Scenarios run against every back end; each takes a fresh, empty database.
#![allow(
    unreachable_pub,
    reason = "test support: `pub` is what the test files that include it see"
)]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

pub mod basics;
pub mod groups_roles;
pub mod listing;
pub mod servers;
pub mod services;
pub mod sharing;
pub mod upstream;
pub mod versions;

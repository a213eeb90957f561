//! Scenarios run against every back end; each takes a fresh, empty database.

pub mod basics;
pub mod upstream;
pub mod versions;

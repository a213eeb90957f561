//! The conformance suite's harness and scenarios; see `chp_conformance.rs`.
#![allow(
    unreachable_pub,
    reason = "test support: `pub` is what the test files that include it see"
)]

pub mod api;
pub mod backends;
pub mod errors;
pub mod flags;
pub mod forwarding;
pub mod harness;
pub mod metrics;
pub mod process;
pub mod raw;
pub mod routing;
pub mod tls;
pub mod unix;
pub mod websocket;

pub(crate) use super::support;

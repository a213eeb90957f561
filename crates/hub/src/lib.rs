//! The ferrohub hub: REST API, browser pages, the OAuth provider for
//! single-user servers, server orchestration and proxy control.
//!
//! Invariant: handlers are thin (identify, authorize, call a service
//! function, render); SQL lives in `ferrohub-store`, process control in
//! `ferrohub-spawn`, credential checks in `ferrohub-auth`.

mod access;
mod api;
mod app;
mod assets;
mod capability;
mod client_addr;
mod cookies;
mod credential_cache;
mod error;
mod http_client;
mod identity;
mod metrics;
mod models;
mod pages;
mod principal;
mod proxy;
mod redirect;
mod refresh_times;
mod roles;
mod runtime;
mod secret;
mod service;
mod services;
mod spawners;
mod state;
mod templates;
#[cfg(feature = "testing")]
pub mod testing;
mod urls;
mod validate;
mod xsrf;

pub use app::{Hub, StartError};
pub use urls::HubUrls;
pub use validate::check_config;

//! Domain logic that every other ferrohub crate shares and that needs no I/O:
//! user-name rules, API token generation and hashing, timestamps in
//! JupyterHub's formats, URL quoting, and the Fernet encryption of `auth_state`.
//!
//! Invariant: no tokio, no HTTP, no SQL here, so all of it is unit-tested fast.

pub mod crypt;
pub mod names;
pub mod server_names;
pub mod subdomain;
pub mod time;
pub mod token;
pub mod url;

/// The JupyterHub version whose protocol ferrohub speaks; clients compare it.
pub const JUPYTERHUB_VERSION: &str = "6.1.1";

//! Resolved credentials, kept briefly so that an accepted token or login
//! cookie costs no database round trip on the next request.
//!
//! Resolving a credential (owner, roles, groups, shares, OAuth client) takes
//! several queries; a notebook server or a script sends many requests with
//! the same one. An entry is used only while
//! - the store's generation is the one it was resolved at: every write that
//!   can change what a credential may do (revoking it, roles, groups, shares,
//!   renames, deletions) advances the generation, so revocation takes effect
//!   on the very next request (`ferrohub_store::Store::generation`);
//! - the token has not expired and no share behind its scopes has expired;
//! - it is younger than [`MAX_AGE`], a backstop for anything time-based.
//!
//! Keys are SHA-256 digests of tokens (the cache never holds a token in
//! clear) or a login cookie's user `cookie_id`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrohub_core::time::Timestamp;
use sha2::{Digest, Sha256};

use crate::principal::Identity;

/// The longest an entry is trusted.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(60);
/// Entries kept at most; the cache is emptied when full (a cheap bound that
/// only costs a re-resolution).
const MAX_ENTRIES: usize = 10_000;

/// What a cached identity was resolved from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum CredentialKey {
    /// An API or OAuth token, by the SHA-256 of its text.
    Token([u8; 32]),
    /// A login cookie, by the user's `cookie_id` it carries.
    Cookie(String),
}

impl CredentialKey {
    /// The key of a presented token.
    #[must_use]
    pub(crate) fn token(token: &str) -> Self {
        Self::Token(Sha256::digest(token.as_bytes()).into())
    }
}

#[derive(Debug)]
struct Entry {
    generation: u64,
    valid_until: Instant,
    identity: Identity,
}

/// The cache; one per hub.
#[derive(Debug, Default)]
pub(crate) struct CredentialCache {
    entries: Mutex<HashMap<CredentialKey, Entry>>,
}

impl CredentialCache {
    /// The identity cached for `key`, if it is still valid at `generation`.
    pub(crate) fn get(&self, key: &CredentialKey, generation: u64) -> Option<Identity> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = entries.get(key)?;
        if entry.generation == generation && Instant::now() < entry.valid_until {
            return Some(entry.identity.clone());
        }
        entries.remove(key);
        None
    }

    /// Replaces the identity of an existing entry (same validity), for
    /// activity times the request just wrote.
    pub(crate) fn refresh(&self, key: &CredentialKey, identity: Identity) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = entries.get_mut(key) {
            entry.identity = identity;
        }
    }

    /// Caches `identity`, resolved at `generation`, until `expires` (the
    /// earliest of the token's and its shares' expiry) or [`MAX_AGE`].
    pub(crate) fn put(
        &self,
        key: CredentialKey,
        generation: u64,
        identity: Identity,
        expires: Option<Timestamp>,
    ) {
        let mut valid_for = MAX_AGE;
        if let Some(expires) = expires {
            let left = (expires - ferrohub_core::time::now())
                .to_std()
                .unwrap_or(Duration::ZERO);
            valid_for = valid_for.min(left);
        }
        if valid_for.is_zero() {
            return;
        }
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                generation,
                valid_until: Instant::now() + valid_for,
                identity,
            },
        );
    }
}

/// The earlier of two optional instants (`None` = never).
#[must_use]
pub(crate) fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

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
//!
//! Beside credentials it keeps each user's [`UserRelations`] (groups, roles,
//! servers: what a user model shows besides the user row), so that
//! `GET /user`, the question every single-user server and service asks with
//! its token, costs no query either. Those are keyed by a [`Stamp`], both of
//! the store's counters: the generation (groups, roles, servers started or
//! stopped) and the activity generation (a server's `last_activity`).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use std::sync::Arc;

use ferrohub_core::time::Timestamp;
use ferrohub_store::{SpawnerRecord, Store};
use sha2::{Digest, Sha256};

use crate::principal::Identity;

/// The longest an entry is trusted.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(60);
/// Credentials kept at most. When full, entries that can no longer be used
/// (older generation, expired) are dropped, and if that frees nothing the
/// cache is emptied (a cheap bound that only costs re-resolutions).
const MAX_ENTRIES: usize = 10_000;
/// Users' relations kept at most, dropped the same way. Fewer than
/// credentials: every user created or listed passes through here, and
/// `GET /user` of the users active right now is what it is for.
const MAX_RELATIONS: usize = 2_000;

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

/// The store's two counters at one moment: a view read from the store at
/// this stamp is still what the store holds while neither has moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    generation: u64,
    activity: u64,
}

impl Stamp {
    /// The stamp now; read it *before* reading the view it will tag, so a
    /// write that lands meanwhile makes the view stale rather than current.
    #[must_use]
    pub(crate) fn of(store: &Store) -> Self {
        Self {
            generation: store.generation(),
            activity: store.activity_generation(),
        }
    }
}

/// A user's groups, roles and servers as read from the store: what the user
/// model shows besides the user row (shared by every request that shows it).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct UserRelations {
    /// Group names, sorted.
    pub groups: Vec<String>,
    /// Role names, sorted.
    pub roles: Vec<String>,
    /// Spawners (servers), sorted by name.
    pub spawners: Vec<SpawnerRecord>,
}

#[derive(Debug)]
struct RelationsEntry {
    stamp: Stamp,
    valid_until: Instant,
    relations: Arc<UserRelations>,
}

/// The cache; one per hub.
#[derive(Debug, Default)]
pub(crate) struct CredentialCache {
    entries: Mutex<HashMap<CredentialKey, Entry>>,
    relations: Mutex<HashMap<i64, RelationsEntry>>,
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
            let now = Instant::now();
            entries.retain(|_, e| e.generation == generation && now < e.valid_until);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
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

impl CredentialCache {
    /// The relations cached for a user, if read at `stamp` (and younger than
    /// [`MAX_AGE`]).
    pub(crate) fn relations(&self, user_id: i64, stamp: Stamp) -> Option<Arc<UserRelations>> {
        let mut entries = self
            .relations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(&user_id)?;
        if entry.stamp == stamp && Instant::now() < entry.valid_until {
            return Some(Arc::clone(&entry.relations));
        }
        entries.remove(&user_id);
        None
    }

    /// Caches a user's relations, read from the store at `stamp`.
    pub(crate) fn put_relations(&self, user_id: i64, stamp: Stamp, relations: Arc<UserRelations>) {
        let mut entries = self
            .relations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_RELATIONS && !entries.contains_key(&user_id) {
            let now = Instant::now();
            entries.retain(|_, e| e.stamp == stamp && now < e.valid_until);
            if entries.len() >= MAX_RELATIONS {
                entries.clear();
            }
        }
        entries.insert(
            user_id,
            RelationsEntry {
                stamp,
                valid_until: Instant::now() + MAX_AGE,
                relations,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(generation: u64, activity: u64) -> Stamp {
        Stamp {
            generation,
            activity,
        }
    }

    fn relations(group: &str) -> Arc<UserRelations> {
        Arc::new(UserRelations {
            groups: vec![group.to_owned()],
            ..UserRelations::default()
        })
    }

    #[test]
    fn relations_are_used_only_at_their_stamp() {
        let cache = CredentialCache::default();
        cache.put_relations(1, stamp(5, 7), relations("a"));
        assert_eq!(cache.relations(1, stamp(5, 7)), Some(relations("a")));
        assert_eq!(cache.relations(1, stamp(6, 7)), None, "a write");
        cache.put_relations(1, stamp(5, 7), relations("a"));
        assert_eq!(cache.relations(1, stamp(5, 8)), None, "an activity write");
        assert_eq!(cache.relations(1, stamp(5, 7)), None, "dropped when stale");
    }

    #[test]
    fn a_full_cache_drops_stale_relations_first() {
        let cache = CredentialCache::default();
        let old = stamp(1, 1);
        let current = stamp(2, 1);
        for id in 0..10 {
            cache.put_relations(id, current, relations("kept"));
        }
        let stale = i64::try_from(MAX_RELATIONS).unwrap();
        for id in 10..stale {
            cache.put_relations(id, old, relations("stale"));
        }
        cache.put_relations(stale, current, relations("new"));
        let held = cache.relations.lock().unwrap().len();
        assert_eq!(held, 11, "the stale ones went, the current ones stayed");
        assert_eq!(cache.relations(3, current), Some(relations("kept")));
        assert_eq!(cache.relations(stale, current), Some(relations("new")));
    }
}

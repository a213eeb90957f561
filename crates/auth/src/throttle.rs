//! [`LoginThrottle`]: backoff after failed logins, per user name and per client
//! address, for every password authenticator (PAM, dummy, later LDAP).
//!
//! Upstream has none; a guesser is only slowed by `pam_faildelay`, and hundreds of
//! guesses in parallel are not slowed at all. The rules (numbers from
//! `[Authenticator]`, defaults in brackets):
//! - after `login_failures_per_user` [5] failed logins in a row for one user name,
//!   further attempts for that name are refused without asking the back end for
//!   `login_backoff_initial_seconds` [1], doubling with each further failure up to
//!   `login_backoff_max_seconds` [300];
//! - at most one login per user name is checked at a time; a second one arriving
//!   meanwhile is refused (so 50 parallel guesses for one name cost one back-end
//!   call, not 50);
//! - the same backoff per client address after `login_failures_per_address` [100]
//!   failures in a row. Much higher than per name, because a university behind one
//!   NAT address logs everyone in from that address: 100 failures with no success
//!   in between does not happen there by mistyping, while one client trying many
//!   names (each with its 5 tries) is stopped. IPv6 clients count per /64, the
//!   block one subscriber usually holds;
//! - a successful login clears the record of its name and of its address; a
//!   record with no failure for [`FORGET_AFTER`] after its delay ended is
//!   forgotten. Refusals by the throttle itself are not failures;
//! - names are counted whether or not such a user exists, and every refusal looks
//!   the same, so the throttle tells nobody which names exist. Names are kept only
//!   as SHA-256 digests of the normalized name.
//!
//! Memory is bounded: each table holds at most [`MAX_TRACKED`] records (the
//! stalest is dropped first), and records are only made by failures, which the
//! back end's own slowness (2-3.5 s per wrong PAM password) rate-limits.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ferrohub_config::AuthenticatorConfig;
use sha2::{Digest, Sha256};

/// A record quiet this long after its last delay ended is forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);

/// Most records per table (names, addresses): about 5 MiB at most.
pub const MAX_TRACKED: usize = 65_536;

/// The `Retry-After` of a refusal that is not a backoff (another login for the
/// same name in progress, back end saturated).
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Whole seconds for a `Retry-After` header: rounded up, and never 0 ("now"
/// would invite a retry loop).
#[must_use]
pub fn retry_after_secs(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// The numbers of the backoff (`[Authenticator]`, ferrohub-only options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleSettings {
    /// Failures in a row for one name before backoff; 0 disables the per-name rules.
    pub failures_per_user: u32,
    /// Failures in a row from one address before backoff; 0 disables it.
    pub failures_per_address: u32,
    /// The first delay.
    pub initial_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

impl ThrottleSettings {
    /// Reads `login_failures_per_user`, `login_failures_per_address`,
    /// `login_backoff_initial_seconds` and `login_backoff_max_seconds` (validated
    /// by the config crate: positive, at most a day).
    #[must_use]
    pub fn from_config(config: &AuthenticatorConfig) -> Self {
        let seconds = |s: f64| Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO);
        Self {
            failures_per_user: config.login_failures_per_user,
            failures_per_address: config.login_failures_per_address,
            initial_delay: seconds(config.login_backoff_initial_seconds),
            max_delay: seconds(config.login_backoff_max_seconds),
        }
    }

    /// The delay after `failures` failures in a row, with `threshold` free ones.
    fn delay(&self, failures: u32, threshold: u32) -> Duration {
        let doublings = failures.saturating_sub(threshold).min(63);
        let factor = 1_u64 << doublings;
        u32::try_from(factor)
            .ok()
            .and_then(|f| self.initial_delay.checked_mul(f))
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self::from_config(&AuthenticatorConfig::default())
    }
}

/// A login refused by the throttle, before the back end was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// When trying again may succeed (for `Retry-After`).
    pub retry_after: Duration,
}

/// The backoff state of one hub; shared by all requests.
#[derive(Debug)]
pub struct LoginThrottle {
    settings: ThrottleSettings,
    books: Mutex<Books>,
}

/// The digest of a normalized user name.
type NameKey = [u8; 32];

#[derive(Debug, Default)]
struct Books {
    names: Ledger<NameKey>,
    addresses: Ledger<IpAddr>,
    /// Names with a login being checked right now.
    in_flight: HashSet<NameKey>,
}

impl LoginThrottle {
    /// A throttle with no history.
    #[must_use]
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            settings,
            books: Mutex::default(),
        }
    }

    /// Asks to check a password for `name` (normalized) from `client`. The
    /// returned [`Attempt`] must be told how it ended; dropping it untold (a back
    /// end error, a policy refusal after a right password) counts as neither.
    pub fn admit(&self, name: &str, client: Option<IpAddr>) -> Result<Attempt<'_>, Throttled> {
        self.admit_at(name, client, Instant::now())
    }

    fn admit_at(
        &self,
        name: &str,
        client: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt<'_>, Throttled> {
        let name = name_key(name);
        let client = client.map(address_key);
        let mut books = self.books();
        let per_user = self.settings.failures_per_user > 0;
        let waits = [
            per_user
                .then(|| books.names.blocked_for(&name, now))
                .flatten(),
            client
                .filter(|_| self.settings.failures_per_address > 0)
                .and_then(|addr| books.addresses.blocked_for(&addr, now)),
        ];
        if let Some(retry_after) = waits.into_iter().flatten().max() {
            return Err(Throttled { retry_after });
        }
        if per_user && !books.in_flight.insert(name) {
            return Err(Throttled {
                retry_after: BUSY_RETRY_AFTER,
            });
        }
        Ok(Attempt {
            throttle: self,
            name: per_user.then_some(name),
            client,
        })
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        // The books hold plain counters; a panic mid-update leaves them usable.
        self.books.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn failed_at(&self, name: Option<NameKey>, client: Option<IpAddr>, now: Instant) {
        let settings = self.settings;
        let mut books = self.books();
        if let Some(name) = name {
            let threshold = settings.failures_per_user;
            if let Some(delay) = books.names.fail(name, now, threshold, &settings) {
                tracing::warn!(
                    "{threshold} or more failed logins in a row for one user name: \
                     refusing that name for {} s",
                    delay.as_secs_f64()
                );
            }
        }
        let threshold = settings.failures_per_address;
        if let Some(addr) = client.filter(|_| threshold > 0)
            && let Some(delay) = books.addresses.fail(addr, now, threshold, &settings)
        {
            tracing::warn!(
                "{threshold} or more failed logins in a row from {addr}: \
                 refusing it for {} s",
                delay.as_secs_f64()
            );
        }
    }

    fn succeeded(&self, name: Option<NameKey>, client: Option<IpAddr>) {
        let mut books = self.books();
        if let Some(name) = name {
            books.names.clear(&name);
        }
        if let Some(addr) = client {
            books.addresses.clear(&addr);
        }
    }
}

/// A login admitted by [`LoginThrottle::admit`]; holds the name's one in-flight
/// slot until dropped.
#[derive(Debug)]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    /// `None` when per-name rules are off.
    name: Option<NameKey>,
    client: Option<IpAddr>,
}

impl Attempt<'_> {
    /// The credentials were wrong: counts against the name and the address.
    pub fn failed(self) {
        self.failed_at(Instant::now());
    }

    fn failed_at(self, now: Instant) {
        self.throttle.failed_at(self.name, self.client, now);
    }

    /// The credentials were right: clears the name's and the address's record.
    pub fn succeeded(self) {
        self.throttle.succeeded(self.name, self.client);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if let Some(name) = &self.name {
            self.throttle.books().in_flight.remove(name);
        }
    }
}

/// Failures in a row of one name or address.
#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    /// The end of the current delay; the last failure when there is none.
    blocked_until: Instant,
}

impl Record {
    fn is_stale(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.blocked_until) >= FORGET_AFTER
    }
}

/// One table of records, bounded by [`MAX_TRACKED`].
#[derive(Debug)]
struct Ledger<K> {
    records: HashMap<K, Record>,
}

impl<K> Default for Ledger<K> {
    fn default() -> Self {
        Self {
            records: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Copy> Ledger<K> {
    /// How long `key` is still refused, if it is.
    fn blocked_for(&mut self, key: &K, now: Instant) -> Option<Duration> {
        let record = self.records.get(key)?;
        if record.is_stale(now) {
            self.records.remove(key);
            return None;
        }
        let left = record.blocked_until.saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }

    /// Counts a failure; returns the delay it starts, if any.
    fn fail(
        &mut self,
        key: K,
        now: Instant,
        threshold: u32,
        settings: &ThrottleSettings,
    ) -> Option<Duration> {
        if !self.records.contains_key(&key) {
            self.make_room(now);
        }
        let record = self.records.entry(key).or_insert(Record {
            failures: 0,
            blocked_until: now,
        });
        if record.is_stale(now) {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.blocked_until = record.blocked_until.max(now);
        if record.failures < threshold {
            return None;
        }
        let delay = settings.delay(record.failures, threshold);
        record.blocked_until = now + delay;
        Some(delay)
    }

    fn clear(&mut self, key: &K) {
        self.records.remove(key);
    }

    /// Keeps the table under [`MAX_TRACKED`]: drops stale records, then the one
    /// whose delay ended longest ago.
    fn make_room(&mut self, now: Instant) {
        if self.records.len() < MAX_TRACKED {
            return;
        }
        self.records.retain(|_, record| !record.is_stale(now));
        while self.records.len() >= MAX_TRACKED {
            let Some(stalest) = self
                .records
                .iter()
                .min_by_key(|(_, record)| record.blocked_until)
                .map(|(key, _)| *key)
            else {
                return;
            };
            self.records.remove(&stalest);
        }
    }
}

fn name_key(name: &str) -> NameKey {
    Sha256::digest(name.as_bytes()).into()
}

/// The address a client is counted under: IPv4 as is (also when written as
/// IPv4-mapped IPv6), IPv6 by its /64 prefix.
fn address_key(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(prefix.into())
        }
    }
}

#[cfg(test)]
mod tests;

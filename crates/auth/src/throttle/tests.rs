//! The backoff rules on a clock the tests move by hand.

use super::*;

const SEC: Duration = Duration::from_secs(1);

fn throttle(per_user: u32, per_address: u32) -> LoginThrottle {
    LoginThrottle::new(ThrottleSettings {
        failures_per_user: per_user,
        failures_per_address: per_address,
        initial_delay: SEC,
        max_delay: 8 * SEC,
    })
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

/// One failed login for `name` from `client` at `now`; panics if refused.
fn fail(t: &LoginThrottle, name: &str, client: Option<IpAddr>, now: Instant) {
    t.admit_at(name, client, now)
        .expect("admitted")
        .failed_at(now);
}

fn refused(t: &LoginThrottle, name: &str, client: Option<IpAddr>, now: Instant) -> Duration {
    t.admit_at(name, client, now)
        .expect_err("should be refused")
        .retry_after
}

#[test]
fn the_delay_doubles_from_the_threshold_up_to_the_cap() {
    let t = throttle(3, 0);
    let s = t.settings;
    let delays: Vec<u64> = (3..10).map(|f| s.delay(f, 3).as_secs()).collect();
    assert_eq!(delays, [1, 2, 4, 8, 8, 8, 8]);
    assert_eq!(s.delay(u32::MAX, 3), 8 * SEC);
}

#[test]
fn a_name_is_refused_after_n_failures_for_a_growing_delay() {
    let t = throttle(3, 0);
    let start = Instant::now();
    for _ in 0..2 {
        fail(&t, "alice", None, start);
        assert!(t.admit_at("alice", None, start).is_ok());
    }
    fail(&t, "alice", None, start);
    // The third failure starts a 1 s delay.
    assert_eq!(refused(&t, "alice", None, start), SEC);
    assert_eq!(refused(&t, "alice", None, start + SEC / 2), SEC / 2);
    // After it, one more try; failing it doubles the delay.
    let later = start + SEC;
    fail(&t, "alice", None, later);
    assert_eq!(refused(&t, "alice", None, later), 2 * SEC);
    let later = later + 2 * SEC;
    fail(&t, "alice", None, later);
    assert_eq!(refused(&t, "alice", None, later), 4 * SEC);
}

#[test]
fn refusals_do_not_count_as_failures() {
    let t = throttle(2, 0);
    let start = Instant::now();
    fail(&t, "alice", None, start);
    fail(&t, "alice", None, start);
    for _ in 0..100 {
        refused(&t, "alice", None, start);
    }
    // Still the first delay: 100 refused guesses did not make it longer.
    assert!(t.admit_at("alice", None, start + SEC).is_ok());
}

#[test]
fn other_names_are_not_affected() {
    let t = throttle(2, 0);
    let now = Instant::now();
    fail(&t, "alice", None, now);
    fail(&t, "alice", None, now);
    refused(&t, "alice", None, now);
    assert!(t.admit_at("bob", None, now).is_ok());
}

#[test]
fn success_clears_the_record() {
    let t = throttle(3, 0);
    let now = Instant::now();
    fail(&t, "alice", None, now);
    fail(&t, "alice", None, now);
    t.admit_at("alice", None, now).unwrap().succeeded();
    // Two more failures are free again.
    fail(&t, "alice", None, now);
    fail(&t, "alice", None, now);
    assert!(t.admit_at("alice", None, now).is_ok());
}

#[test]
fn an_attempt_dropped_untold_counts_as_nothing() {
    let t = throttle(1, 1);
    let now = Instant::now();
    drop(t.admit_at("alice", ip("10.0.0.1"), now).unwrap());
    drop(t.admit_at("alice", ip("10.0.0.1"), now).unwrap());
    assert!(t.admit_at("alice", ip("10.0.0.1"), now).is_ok());
}

#[test]
fn one_login_per_name_at_a_time() {
    let t = throttle(5, 0);
    let now = Instant::now();
    let first = t.admit_at("alice", None, now).unwrap();
    assert_eq!(refused(&t, "alice", None, now), BUSY_RETRY_AFTER);
    assert!(t.admit_at("bob", None, now).is_ok());
    drop(first);
    assert!(t.admit_at("alice", None, now).is_ok());
}

#[test]
fn per_user_off_means_no_name_rules_at_all() {
    let t = throttle(0, 0);
    let now = Instant::now();
    let _first = t.admit_at("alice", None, now).unwrap();
    for _ in 0..10 {
        fail(&t, "alice", None, now);
    }
    assert!(t.admit_at("alice", None, now).is_ok());
}

#[test]
fn an_address_is_refused_after_its_own_threshold_for_every_name() {
    let t = throttle(3, 4);
    let now = Instant::now();
    let nat = ip("192.0.2.7");
    for i in 0..4 {
        fail(&t, &format!("user{i}"), nat, now);
    }
    assert_eq!(refused(&t, "someone-else", nat, now), SEC);
    // Another address, and the same names from it, are fine.
    assert!(t.admit_at("someone-else", ip("192.0.2.8"), now).is_ok());
    assert!(t.admit_at("user0", ip("192.0.2.8"), now).is_ok());
}

#[test]
fn a_success_from_the_address_clears_its_record() {
    let t = throttle(0, 3);
    let now = Instant::now();
    let nat = ip("192.0.2.7");
    fail(&t, "a", nat, now);
    fail(&t, "b", nat, now);
    t.admit_at("c", nat, now).unwrap().succeeded();
    fail(&t, "d", nat, now);
    fail(&t, "e", nat, now);
    assert!(t.admit_at("f", nat, now).is_ok());
}

#[test]
fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
    let t = throttle(0, 2);
    let now = Instant::now();
    fail(&t, "a", ip("2001:db8:1:2::1"), now);
    fail(&t, "b", ip("2001:db8:1:2:ffff::9"), now);
    refused(&t, "c", ip("2001:db8:1:2::abcd"), now);
    assert!(t.admit_at("c", ip("2001:db8:1:3::1"), now).is_ok());

    fail(&t, "a", ip("::ffff:198.51.100.1"), now);
    fail(&t, "b", ip("198.51.100.1"), now);
    refused(&t, "c", ip("198.51.100.1"), now);
}

#[test]
fn a_quiet_record_is_forgotten() {
    let t = throttle(2, 0);
    let start = Instant::now();
    fail(&t, "alice", None, start);
    fail(&t, "alice", None, start);
    // The delay ends after 1 s; FORGET_AFTER later the count starts over.
    let later = start + SEC + FORGET_AFTER;
    fail(&t, "alice", None, later);
    assert!(t.admit_at("alice", None, later).is_ok());
}

#[test]
fn names_are_kept_as_digests_only() {
    let t = throttle(1, 0);
    let now = Instant::now();
    fail(&t, "secret-name", None, now);
    let books = format!("{:?}", t.books());
    assert!(!books.contains("secret-name"), "{books}");
}

#[test]
fn the_tables_stay_bounded() {
    let t = throttle(1, 0);
    let now = Instant::now();
    for i in 0..MAX_TRACKED + 10 {
        fail(
            &t,
            &format!("user{i}"),
            None,
            now + Duration::from_millis(i as u64),
        );
    }
    assert!(t.books().names.records.len() <= MAX_TRACKED);
    // The newest names are the ones kept.
    let last = format!("user{}", MAX_TRACKED + 9);
    let at = now + Duration::from_millis((MAX_TRACKED + 9) as u64);
    assert_eq!(refused(&t, &last, None, at), SEC);
}

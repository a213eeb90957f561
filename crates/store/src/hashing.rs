//! Hashing and checking secrets without stalling the async workers.
//!
//! A user-chosen secret (a configured token, an OAuth client secret) is hashed
//! with 16,384 rounds of SHA-512: up to 4 MiB of hashing for the longest one
//! accepted ([`token::MAX_SECRET_LEN`]), several milliseconds each. Done on a
//! tokio worker, a burst of wrong client secrets would hold up every other
//! request; so such hashes run on the blocking pool, and at most half the CPUs
//! (at least one) run them at once, so a flood of them cannot crowd the
//! workers out of the CPU either (it queues; the rest of the hub answers).
//! One-round hashes (generated tokens, share codes) cost about a microsecond
//! for a capped secret and stay inline: a thread hand-off would cost more.

use std::sync::LazyLock;

use ferrohub_core::token;
use tokio::sync::Semaphore;

/// Hashes of at most this many rounds run inline.
const INLINE_ROUNDS: u32 = token::GENERATED_TOKEN_ROUNDS;

/// Bounds the expensive hashes running at once, process-wide: it budgets the
/// machine's CPUs, which are process-wide too.
static EXPENSIVE: LazyLock<Semaphore> = LazyLock::new(|| {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    Semaphore::new((cpus / 2).max(1))
});

/// Runs `work` on the blocking pool under the [`EXPENSIVE`] budget; `None` if
/// it could not finish (the runtime is shutting down).
async fn off_the_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    // The semaphore is never closed; without a permit the work would still be
    // off the workers, so an error here is no reason to refuse it.
    let _permit = EXPENSIVE.acquire().await.ok();
    tokio::task::spawn_blocking(work).await.ok()
}

/// Hashes `secret` for storage (upstream's format); expensive hashes run off
/// the async workers. `None` only while the runtime shuts down.
pub async fn hash_secret(secret: &str, rounds: u32) -> Option<String> {
    if rounds <= INLINE_ROUNDS {
        return Some(token::hash_token(secret, rounds));
    }
    let secret = secret.to_owned();
    off_the_workers(move || token::hash_token(&secret, rounds)).await
}

/// Checks a presented secret against a stored hash, as [`token::verify_token`]
/// (over-long secrets never match and are not hashed); expensive hashes run
/// off the async workers.
pub async fn verify_secret(hashed: &str, secret: &str) -> bool {
    if !token::within_length_cap(secret) {
        return false;
    }
    match token::hash_rounds(hashed) {
        None => false,
        Some(rounds) if rounds <= INLINE_ROUNDS => token::verify_token(hashed, secret),
        Some(_) => {
            let (hashed, secret) = (hashed.to_owned(), secret.to_owned());
            off_the_workers(move || token::verify_token(&hashed, &secret))
                .await
                .unwrap_or(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_round_trip_inline_and_off_the_workers() {
        for rounds in [
            token::GENERATED_TOKEN_ROUNDS,
            token::USER_PROVIDED_TOKEN_ROUNDS,
        ] {
            let hashed = hash_secret("a-secret-token", rounds).await.unwrap();
            assert_eq!(token::hash_rounds(&hashed), Some(rounds));
            assert!(verify_secret(&hashed, "a-secret-token").await);
            assert!(!verify_secret(&hashed, "a-secret-tokem").await);
        }
        assert!(!verify_secret("garbage", "a-secret-token").await);
    }

    #[tokio::test]
    async fn over_long_secrets_are_refused_unhashed() {
        let hashed = hash_secret("x", token::USER_PROVIDED_TOKEN_ROUNDS)
            .await
            .unwrap();
        // 1 MiB at 16,384 rounds would be 16 GiB of SHA-512: this returns at once.
        let started = std::time::Instant::now();
        assert!(!verify_secret(&hashed, &"x".repeat(1 << 20)).await);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}

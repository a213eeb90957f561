//! API tokens: generation and upstream's salted SHA-512 hash format, so a
//! token is never stored in clear and upstream databases stay readable.

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// Hash rounds for tokens the hub generates (they are random, one round is enough).
pub const GENERATED_TOKEN_ROUNDS: u32 = 1;
/// Hash rounds for user-chosen secrets (config tokens, OAuth client secrets).
pub const USER_PROVIDED_TOKEN_ROUNDS: u32 = 16384;
/// How many leading characters of a token are stored in clear for look-up.
pub const PREFIX_LEN: usize = 4;
/// The longest secret, in bytes, the hub hashes or compares: API tokens,
/// OAuth client secrets, codes and PKCE verifiers, share codes. Hashing cost
/// grows with the length (times 16,384 rounds for user-chosen secrets), so a
/// longer one presented by a client is refused unread, as any invalid
/// credential. Upstream's generated tokens are at most 64 characters; 255
/// leaves room for any token a person or tool chooses, and configured tokens
/// (`JupyterHub.api_tokens`, a service's `api_token`) are held to it at load.
pub const MAX_SECRET_LEN: usize = 255;

/// Random bytes from the OS; panics only if the OS has no randomness at all.
#[must_use]
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system provides randomness");
    buf
}

/// A new API token: 32 lowercase hex characters, as upstream's `uuid4().hex`.
#[must_use]
pub fn new_token() -> String {
    hex::encode(random_bytes::<16>())
}

/// A random alphanumeric string (OAuth codes and access tokens use 30 chars).
#[must_use]
pub fn random_alphanumeric(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in random_bytes::<64>() {
            // 62 * 4 = 248: reject the top values to keep the choice uniform.
            if byte < 248 && out.len() < len {
                out.push(ALPHABET[usize::from(byte % 62)] as char);
            }
        }
    }
    out
}

/// The look-up prefix stored beside the hash.
#[must_use]
pub fn token_prefix(token: &str) -> &str {
    let end = token
        .char_indices()
        .nth(PREFIX_LEN)
        .map_or(token.len(), |(i, _)| i);
    &token[..end]
}

/// Whether a presented secret is short enough to be checked at all (see [`MAX_SECRET_LEN`]).
#[must_use]
pub fn within_length_cap(secret: &str) -> bool {
    secret.len() <= MAX_SECRET_LEN
}

/// The rounds a stored hash asks for, so callers can keep expensive checks
/// off latency-sensitive threads; `None` for anything not in upstream's format.
#[must_use]
pub fn hash_rounds(hashed: &str) -> Option<u32> {
    let mut parts = hashed.splitn(4, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("sha512"), Some(rounds), Some(_), Some(_)) => rounds.parse().ok(),
        _ => None,
    }
}

/// Hashes a token as `sha512:<rounds>:<salt hex>:<digest hex>` (upstream's format):
/// one SHA-512 over the salt text followed by the token `rounds` times.
#[must_use]
pub fn hash_token(token: &str, rounds: u32) -> String {
    let salt = hex::encode(random_bytes::<8>());
    hash_with_salt(token, rounds, &salt)
}

fn hash_with_salt(token: &str, rounds: u32, salt: &str) -> String {
    format!("sha512:{rounds}:{salt}:{}", digest(token, rounds, salt))
}

fn digest(token: &str, rounds: u32, salt: &str) -> String {
    let mut hasher = Sha512::new();
    hasher.update(salt.as_bytes());
    for _ in 0..rounds {
        hasher.update(token.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Checks a token against a stored hash in constant time; malformed hashes
/// never match, nor does a token over [`MAX_SECRET_LEN`] (it is not hashed).
#[must_use]
pub fn verify_token(hashed: &str, token: &str) -> bool {
    if !within_length_cap(token) {
        return false;
    }
    let mut parts = hashed.splitn(4, ':');
    let (Some("sha512"), Some(rounds), Some(salt), Some(expected)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(rounds) = rounds.parse::<u32>() else {
        return false;
    };
    if rounds == 0 || rounds > 1_000_000 {
        return false;
    }
    let actual = digest(token, rounds, salt);
    actual.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_tokens_are_32_hex_and_distinct() {
        let a = new_token();
        assert_eq!(a.len(), 32);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, new_token());
    }

    #[test]
    fn hash_round_trips_and_rejects_others() {
        for rounds in [GENERATED_TOKEN_ROUNDS, 3] {
            let hashed = hash_token("secret-token", rounds);
            assert!(hashed.starts_with(&format!("sha512:{rounds}:")));
            assert!(verify_token(&hashed, "secret-token"));
            assert!(!verify_token(&hashed, "secret-tokem"));
            assert!(!verify_token(&hashed, ""));
        }
        assert!(!verify_token("garbage", "x"));
        assert!(!verify_token("sha512:0:ab:cd", "x"));
    }

    #[test]
    fn matches_upstream_construction() {
        // Python: hashlib.sha512(b"ab" + b"tok" * 2).hexdigest()
        let expected = "sha512:2:ab:ae24a7fa4b803e4d8cc0e692df34272158936fbb3c87df19c18ac959b10bf3b14c6ed467547c66ce1e38617a46cc97b99fed156df8bede5e0f055a47389fb28b";
        assert_eq!(hash_with_salt("tok", 2, "ab"), expected);
        assert!(verify_token(expected, "tok"));
    }

    #[test]
    fn over_long_secrets_never_match() {
        let longest = "k".repeat(MAX_SECRET_LEN);
        let hashed = hash_token(&longest, 2);
        assert!(within_length_cap(&longest));
        assert!(verify_token(&hashed, &longest));
        let longer = format!("{longest}k");
        assert!(!within_length_cap(&longer));
        // Even a hash made of the longer secret (never stored by the hub) does not match it.
        assert!(!verify_token(&hash_token(&longer, 1), &longer));
    }

    #[test]
    fn rounds_are_read_from_the_hash() {
        assert_eq!(
            hash_rounds(&hash_token("t", GENERATED_TOKEN_ROUNDS)),
            Some(1)
        );
        assert_eq!(hash_rounds(&hash_token("t", 7)), Some(7));
        assert_eq!(hash_rounds("sha512:x:ab:cd"), None);
        assert_eq!(hash_rounds("md5:1:ab:cd"), None);
        assert_eq!(hash_rounds(""), None);
    }

    #[test]
    fn prefix_is_four_chars() {
        assert_eq!(token_prefix("abcdef"), "abcd");
        assert_eq!(token_prefix("ab"), "ab");
    }

    #[test]
    fn alphanumeric_has_requested_length() {
        let code = random_alphanumeric(30);
        assert_eq!(code.len(), 30);
        assert!(code.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}

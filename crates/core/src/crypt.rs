//! `auth_state` encryption in upstream's format, so a database written by
//! JupyterHub is read by ferrohub and the other way round: Fernet tokens
//! (version 0x80, AES-128-CBC with PKCS#7 padding, HMAC-SHA256, base64url;
//! <https://github.com/fernet/spec>) under the keys of `JUPYTERHUB_CRYPT_KEY`
//! (upstream's `jupyterhub.crypto.CryptKeeper`, which uses `cryptography`'s
//! `MultiFernet`: the first key encrypts, any key decrypts, for rotation).

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The environment variable upstream reads its keys from.
pub const KEY_ENV: &str = "JUPYTERHUB_CRYPT_KEY";

/// The only Fernet version.
const VERSION: u8 = 0x80;
/// Version, timestamp, IV.
const HEADER_LEN: usize = 1 + 8 + 16;
/// HMAC-SHA256.
const MAC_LEN: usize = 32;
/// How far in the future a timestamp may be when a TTL is checked
/// (`cryptography`'s `_MAX_CLOCK_SKEW`).
const MAX_CLOCK_SKEW: u64 = 60;

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// A key from `JUPYTERHUB_CRYPT_KEY` that is not 32 bytes, raw, hex or base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Upstream's `_validate_key` message (it names no key material).
    #[error("Encryption keys must be 32 bytes, hex or base64-encoded.")]
    BadKey,
    /// No key at all (upstream's `NoEncryptionKeys`).
    #[error("Encryption keys must be specified in {KEY_ENV} env")]
    NoKeys,
}

/// A token that no key opens, or that is malformed (`cryptography`'s
/// `InvalidToken`: deliberately one case, so a caller learns nothing about
/// which check failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid or undecryptable auth_state token")]
pub struct InvalidToken;

/// One 32-byte Fernet key: signing key (first half) and encryption key.
#[derive(Clone)]
pub struct FernetKey {
    signing: [u8; 16],
    encryption: [u8; 16],
}

impl std::fmt::Debug for FernetKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material never reaches a log.
        f.write_str("FernetKey(..)")
    }
}

impl FernetKey {
    /// The key from its 32 raw bytes.
    #[must_use]
    pub fn from_bytes(raw: &[u8; 32]) -> Self {
        let mut signing = [0u8; 16];
        let mut encryption = [0u8; 16];
        signing.copy_from_slice(&raw[..16]);
        encryption.copy_from_slice(&raw[16..]);
        Self {
            signing,
            encryption,
        }
    }

    /// One key as upstream's `_validate_key` accepts it: 44 characters are
    /// base64 (urlsafe or standard, as Python's lenient decoder), 64 are hex,
    /// 32 are the raw bytes; anything else is refused.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        if !text.is_ascii() {
            return Err(KeyError::BadKey);
        }
        let raw: Vec<u8> = match text.len() {
            44 => decode_base64_lenient(text).ok_or(KeyError::BadKey)?,
            64 => hex::decode(text).map_err(|_| KeyError::BadKey)?,
            _ => text.as_bytes().to_vec(),
        };
        let raw: [u8; 32] = raw.try_into().map_err(|_| KeyError::BadKey)?;
        Ok(Self::from_bytes(&raw))
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.signing).expect("HMAC takes any key length")
    }

    /// A token for `message` at `timestamp` (seconds since 1970) with `iv`;
    /// [`FernetKey::encrypt`] picks both. Separate so the spec's vectors can
    /// be checked.
    #[must_use]
    pub fn encrypt_at(&self, message: &[u8], timestamp: u64, iv: &[u8; 16]) -> String {
        let ciphertext = Aes128CbcEnc::new(&self.encryption.into(), &(*iv).into())
            .encrypt_padded_vec::<Pkcs7>(message);
        let mut token = Vec::with_capacity(HEADER_LEN + ciphertext.len() + MAC_LEN);
        token.push(VERSION);
        token.extend_from_slice(&timestamp.to_be_bytes());
        token.extend_from_slice(iv);
        token.extend_from_slice(&ciphertext);
        let mut mac = self.mac();
        mac.update(&token);
        token.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE.encode(token)
    }

    /// A token for `message`, now, with a random IV.
    #[must_use]
    pub fn encrypt(&self, message: &[u8]) -> String {
        let mut iv = [0u8; 16];
        getrandom::fill(&mut iv).expect("the operating system provides randomness");
        self.encrypt_at(message, now_seconds(), &iv)
    }

    /// The message of `token`. With `ttl` (seconds) the token must be no
    /// older than that and at most a minute in the future, as of `now`;
    /// without, its age is not checked (upstream passes none).
    pub fn decrypt_at(
        &self,
        token: &[u8],
        ttl: Option<u64>,
        now: u64,
    ) -> Result<Vec<u8>, InvalidToken> {
        let data = decode_token(token)?;
        if data.len() < HEADER_LEN + MAC_LEN || data[0] != VERSION {
            return Err(InvalidToken);
        }
        let (signed, tag) = data.split_at(data.len() - MAC_LEN);
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&signed[1..9]);
        let timestamp = u64::from_be_bytes(stamp);
        if let Some(ttl) = ttl {
            if timestamp.saturating_add(ttl) < now {
                return Err(InvalidToken);
            }
            if now.saturating_add(MAX_CLOCK_SKEW) < timestamp {
                return Err(InvalidToken);
            }
        }
        let mut mac = self.mac();
        mac.update(signed);
        mac.verify_slice(tag).map_err(|_| InvalidToken)?;
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&signed[9..HEADER_LEN]);
        let ciphertext = &signed[HEADER_LEN..];
        if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
            return Err(InvalidToken);
        }
        Aes128CbcDec::new(&self.encryption.into(), &iv.into())
            .decrypt_padded_vec::<Pkcs7>(ciphertext)
            .map_err(|_| InvalidToken)
    }
}

/// Several keys (`MultiFernet`): the first encrypts, each is tried in turn to
/// decrypt, so a key can be rotated by putting the new one first.
#[derive(Debug, Clone)]
pub struct CryptKeeper {
    keys: Vec<FernetKey>,
}

/// What [`CryptKeeper::decrypt`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// The message.
    pub message: Vec<u8>,
    /// Whether a key other than the first opened it: the value should be
    /// written again under the first key (upstream re-encrypts on read).
    pub stale_key: bool,
}

impl CryptKeeper {
    /// Keys as `JUPYTERHUB_CRYPT_KEY` holds them: `;`-separated, blank items
    /// skipped (each other item is taken as written, as upstream); at least one.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let keys = text
            .split(';')
            .filter(|item| !item.trim().is_empty())
            .map(FernetKey::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys)
    }

    /// A keeper over `keys` (the first encrypts); `NoKeys` if there are none.
    pub fn new(keys: Vec<FernetKey>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::NoKeys);
        }
        Ok(Self { keys })
    }

    /// How many keys there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Never true (a keeper has at least one key); for clippy's `len` rule.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// A token for `message` under the first key.
    #[must_use]
    pub fn encrypt(&self, message: &[u8]) -> String {
        self.keys[0].encrypt(message)
    }

    /// The message of `token` under whichever key opens it (no age check).
    pub fn decrypt(&self, token: &[u8]) -> Result<Decrypted, InvalidToken> {
        let now = now_seconds();
        self.keys
            .iter()
            .enumerate()
            .find_map(|(i, key)| {
                key.decrypt_at(token, None, now)
                    .ok()
                    .map(|message| Decrypted {
                        message,
                        stale_key: i > 0,
                    })
            })
            .ok_or(InvalidToken)
    }
}

fn now_seconds() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// A token's bytes: base64url with or without padding (what Python writes
/// and stores is padded).
fn decode_token(token: &[u8]) -> Result<Vec<u8>, InvalidToken> {
    let trimmed = token
        .strip_suffix(b"==")
        .or_else(|| token.strip_suffix(b"="))
        .unwrap_or(token);
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .map_err(|_| InvalidToken)
}

/// Python's `base64.urlsafe_b64decode`: `-_` or `+/`, characters outside
/// the alphabet dropped, padding required.
fn decode_base64_lenient(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    STANDARD.decode(cleaned).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The vectors of the Fernet spec (github.com/fernet/spec: generate.json,
    // verify.json, invalid.json): one secret, 1985-10-26T01:20:00-07:00.
    const SECRET: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
    const SPEC_TOKEN: &str = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";
    /// 1985-10-26T08:20:00Z.
    const SPEC_NOW: u64 = 499_162_800;

    fn spec_key() -> FernetKey {
        FernetKey::parse(SECRET).unwrap()
    }

    #[test]
    fn generates_the_spec_token() {
        let iv: [u8; 16] = std::array::from_fn(|i| u8::try_from(i).unwrap());
        assert_eq!(spec_key().encrypt_at(b"hello", SPEC_NOW, &iv), SPEC_TOKEN);
    }

    #[test]
    fn verifies_the_spec_token() {
        let message = spec_key()
            .decrypt_at(SPEC_TOKEN.as_bytes(), Some(60), SPEC_NOW + 1)
            .unwrap();
        assert_eq!(message, b"hello");
    }

    #[test]
    fn refuses_the_spec_invalid_tokens() {
        let now = SPEC_NOW + 1;
        let cases = [
            (
                "incorrect mac",
                "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykQUFBQUFBQUFBQQ==",
                now,
            ),
            (
                "too short",
                "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPA==",
                now,
            ),
            (
                "invalid base64",
                "%%%%%%%%%%%%%AECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==",
                now,
            ),
            (
                "payload size not multiple of block size",
                "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPOm73QeoCk9uGib28Xe5vz6oxq5nmxbx_v7mrfyudzUm",
                now,
            ),
            (
                "payload padding error",
                "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0ODz4LEpdELGQAad7aNEHbf-JkLPIpuiYRLQ3RtXatOYREu2FWke6CnJNYIbkuKNqOhw==",
                now,
            ),
            (
                "far-future TS (unacceptable clock skew)",
                "gAAAAAAdwStRAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAnja1xKYyhd-Y6mSkTOyTGJmw2Xc2a6kBd-iX9b_qXQcw==",
                now,
            ),
            (
                "expired TTL",
                "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==",
                SPEC_NOW + 91,
            ),
            (
                "incorrect IV (causes padding error)",
                "gAAAAAAdwJ6xBQECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAkLhFLHpGtDBRLRTZeUfWgHSv49TF2AUEZ1TIvcZjK1zQ==",
                now,
            ),
        ];
        for (what, token, now) in cases {
            assert_eq!(
                spec_key().decrypt_at(token.as_bytes(), Some(60), now),
                Err(InvalidToken),
                "{what}"
            );
        }
    }

    #[test]
    fn the_expired_spec_token_is_otherwise_valid() {
        // Without a TTL (as upstream decrypts auth_state) age does not matter;
        // this vector's message is empty.
        let token = "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==";
        assert_eq!(
            spec_key().decrypt_at(token.as_bytes(), None, SPEC_NOW + 1_000_000),
            Ok(Vec::new())
        );
    }

    #[test]
    fn keys_parse_as_upstream_does() {
        let raw = [7u8; 32];
        let hex_key = hex::encode(raw);
        let b64 = URL_SAFE.encode(raw);
        let std_b64 = STANDARD.encode([0xfbu8; 32]);
        let url_b64 = URL_SAFE.encode([0xfbu8; 32]);
        assert!(std_b64.contains('+') || std_b64.contains('/'));
        let message = b"{\"a\": 1}";
        let token = FernetKey::parse(&b64).unwrap().encrypt(message);
        for same in [hex_key.as_str(), &hex_key.to_uppercase(), &b64] {
            let key = FernetKey::parse(same).unwrap();
            assert_eq!(key.decrypt_at(token.as_bytes(), None, 0).unwrap(), message);
        }
        let token = FernetKey::parse(&url_b64).unwrap().encrypt(message);
        assert_eq!(
            FernetKey::parse(&std_b64)
                .unwrap()
                .decrypt_at(token.as_bytes(), None, 0)
                .unwrap(),
            message
        );
        assert!(FernetKey::parse("0123456789abcdef0123456789abcdef").is_ok());
        for bad in [
            "",
            "short",
            &b64[..43],
            &format!("{b64}="),
            &hex_key[..63],
            &format!("{}zz", &hex_key[..62]),
            "a".repeat(44).as_str(),
            "é".repeat(16).as_str(),
        ] {
            assert_eq!(
                FernetKey::parse(bad).unwrap_err(),
                KeyError::BadKey,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn keeper_lists_skip_blank_items_and_need_one_key() {
        let a = URL_SAFE.encode([1u8; 32]);
        let b = hex::encode([2u8; 32]);
        assert_eq!(CryptKeeper::parse(&format!("{a};;{b}; ")).unwrap().len(), 2);
        assert_eq!(CryptKeeper::parse(" ; ").unwrap_err(), KeyError::NoKeys);
        assert_eq!(CryptKeeper::parse("").unwrap_err(), KeyError::NoKeys);
        assert_eq!(
            CryptKeeper::parse(&format!("{a}; {b}")).unwrap_err(),
            KeyError::BadKey,
            "a key is taken as written, spaces and all"
        );
    }

    #[test]
    fn rotation_encrypts_with_the_first_key_and_reads_with_any() {
        let old = URL_SAFE.encode([1u8; 32]);
        let new = URL_SAFE.encode([2u8; 32]);
        let before = CryptKeeper::parse(&old).unwrap();
        let after = CryptKeeper::parse(&format!("{new};{old}")).unwrap();
        let old_token = before.encrypt(b"secret");
        let read = after.decrypt(old_token.as_bytes()).unwrap();
        assert_eq!(read.message, b"secret");
        assert!(read.stale_key);
        let new_token = after.encrypt(b"secret");
        assert!(!after.decrypt(new_token.as_bytes()).unwrap().stale_key);
        assert_eq!(before.decrypt(new_token.as_bytes()), Err(InvalidToken));
        let only_new = CryptKeeper::parse(&new).unwrap();
        assert_eq!(only_new.decrypt(old_token.as_bytes()), Err(InvalidToken));
    }

    #[test]
    fn tokens_differ_each_time_and_hide_the_key() {
        let keeper = CryptKeeper::parse(&URL_SAFE.encode([9u8; 32])).unwrap();
        assert_ne!(keeper.encrypt(b"x"), keeper.encrypt(b"x"));
        assert_eq!(
            format!("{:?}", keeper),
            "CryptKeeper { keys: [FernetKey(..)] }"
        );
    }
}

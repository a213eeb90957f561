//! `auth_state`: what an authenticator returned about a user's login,
//! stored in `users.encrypted_auth_state` as upstream's `CryptKeeper` writes
//! it (JSON text in a Fernet token under the first key of
//! `JUPYTERHUB_CRYPT_KEY`), so either hub reads what the other wrote.
//! Read back with any of the keys; a value opened by an older key is written
//! again under the first one (key rotation, as upstream's `get_auth_state`).

use std::collections::BTreeMap;

use ferrohub_config::Config;
use ferrohub_core::crypt::{CryptKeeper, KEY_ENV, KeyError};
use ferrohub_store::StoreError;
use serde_json::Value;

use super::Runtime;

/// `auth_state` encryption is not available: upstream's start-up refusal,
/// one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("auth_state is enabled, but encryption is not available: {0}")]
pub(crate) struct EncryptionUnavailable(#[source] pub(crate) KeyError);

/// Why `auth_state` could not be stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthStateError {
    /// No (valid) key in `JUPYTERHUB_CRYPT_KEY`, so nothing can be encrypted.
    #[error("auth_state cannot be stored: {0}")]
    NoKeys(#[source] KeyError),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The keys the hub encrypts with, from `JUPYTERHUB_CRYPT_KEY` as `var`
/// reads it. With `Authenticator.enable_auth_state` a missing or bad key
/// stops the hub; without, there may be no keeper (then `auth_state` can
/// only be cleared) and a bad key is a warning.
pub(crate) fn keeper_from(
    config: &Config,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<CryptKeeper>, EncryptionUnavailable> {
    let parsed = var(KEY_ENV).map_or(Err(KeyError::NoKeys), |keys| CryptKeeper::parse(&keys));
    match parsed {
        Ok(keeper) => Ok(Some(keeper)),
        Err(e) if config.authenticator.enable_auth_state => Err(EncryptionUnavailable(e)),
        Err(KeyError::NoKeys) => Ok(None),
        Err(e) => {
            tracing::warn!("{KEY_ENV} is ignored: {e}");
            Ok(None)
        }
    }
}

/// The user's `auth_state`, decrypted; `None` if unset. A value no key
/// opens, or that is no JSON, is logged and read as `None` (as upstream).
pub(crate) async fn load(rt: &Runtime, user_id: i64) -> Result<Option<Value>, StoreError> {
    let Some(token) = rt.store.encrypted_auth_state(user_id).await? else {
        return Ok(None);
    };
    let Some(keeper) = rt.crypt.as_deref() else {
        tracing::warn!(
            user_id,
            "Failed to retrieve encrypted auth_state: no keys in {KEY_ENV}"
        );
        return Ok(None);
    };
    let opened = match keeper.decrypt(&token) {
        Ok(opened) => opened,
        Err(e) => {
            tracing::warn!(user_id, "Failed to retrieve encrypted auth_state: {e}");
            return Ok(None);
        }
    };
    let value: Value = match serde_json::from_slice(&opened.message) {
        Ok(value) => value,
        Err(e) => {
            tracing::warn!(user_id, "Failed to retrieve encrypted auth_state: {e}");
            return Ok(None);
        }
    };
    if opened.stale_key && !value.is_null() {
        let token =
            keeper.encrypt(&serde_json::to_vec(&value).expect("a JSON value always serializes"));
        rt.store
            .set_encrypted_auth_state(user_id, Some(token.as_bytes()))
            .await?;
        tracing::info!(user_id, "auth_state re-encrypted with the first key");
    }
    Ok(Some(value))
}

/// Stores `auth_state` encrypted under the first key, or clears it (`None`,
/// which needs no key).
pub(crate) async fn save(
    rt: &Runtime,
    user_id: i64,
    auth_state: Option<&Value>,
) -> Result<(), AuthStateError> {
    let Some(value) = auth_state else {
        rt.store.set_encrypted_auth_state(user_id, None).await?;
        return Ok(());
    };
    let keeper = rt
        .crypt
        .as_deref()
        .ok_or(AuthStateError::NoKeys(KeyError::NoKeys))?;
    let text = serde_json::to_vec(value).expect("a JSON value always serializes");
    let token = keeper.encrypt(&text);
    rt.store
        .set_encrypted_auth_state(user_id, Some(token.as_bytes()))
        .await?;
    Ok(())
}

/// `Spawner.auth_state_env` applied to `auth_state`: each variable gets its
/// field (a dotted path into nested objects); missing fields and `null` set
/// nothing, strings are passed as they are, other values as JSON text.
pub(crate) fn environment(
    fields: &BTreeMap<String, String>,
    auth_state: &Value,
) -> BTreeMap<String, String> {
    fields
        .iter()
        .filter_map(|(variable, path)| {
            let found = path
                .split('.')
                .try_fold(auth_state, |value, key| value.get(key))?;
            let text = match found {
                Value::Null => return None,
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            Some((variable.clone(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

    fn config(enabled: bool) -> Config {
        let mut config = Config::default();
        config.authenticator.enable_auth_state = enabled;
        config
    }

    #[test]
    fn enabled_without_a_valid_key_is_refused_with_upstreams_message() {
        let none = keeper_from(&config(true), |_| None).unwrap_err();
        assert_eq!(
            none.to_string(),
            "auth_state is enabled, but encryption is not available: \
             Encryption keys must be specified in JUPYTERHUB_CRYPT_KEY env"
        );
        let bad = keeper_from(&config(true), |_| Some("not-a-key".into())).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "auth_state is enabled, but encryption is not available: \
             Encryption keys must be 32 bytes, hex or base64-encoded."
        );
        assert!(keeper_from(&config(true), |_| Some(" ; ".into())).is_err());
        assert!(
            keeper_from(&config(true), |_| Some(KEY.into()))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn disabled_a_missing_or_bad_key_only_means_no_keeper() {
        assert!(keeper_from(&config(false), |_| None).unwrap().is_none());
        assert!(
            keeper_from(&config(false), |_| Some("bad".into()))
                .unwrap()
                .is_none()
        );
        assert!(
            keeper_from(&config(false), |_| Some(KEY.into()))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn environment_takes_fields_and_dotted_paths() {
        let state = json!({
            "access_token": "t0k",
            "oauth_user": {"email": "a@example.org", "id": 7, "groups": ["x"]},
            "empty": null,
        });
        let fields = BTreeMap::from([
            ("ACCESS_TOKEN".to_owned(), "access_token".to_owned()),
            ("EMAIL".to_owned(), "oauth_user.email".to_owned()),
            ("UID".to_owned(), "oauth_user.id".to_owned()),
            ("GROUPS".to_owned(), "oauth_user.groups".to_owned()),
            ("MISSING".to_owned(), "oauth_user.nope".to_owned()),
            ("TOO_DEEP".to_owned(), "access_token.more".to_owned()),
            ("EMPTY".to_owned(), "empty".to_owned()),
        ]);
        let env = environment(&fields, &state);
        assert_eq!(
            env,
            BTreeMap::from([
                ("ACCESS_TOKEN".to_owned(), "t0k".to_owned()),
                ("EMAIL".to_owned(), "a@example.org".to_owned()),
                ("UID".to_owned(), "7".to_owned()),
                ("GROUPS".to_owned(), "[\"x\"]".to_owned()),
            ])
        );
    }
}

//! ID-token checks (OpenID Connect Core §3.1.3.7): the signature against
//! the provider's published keys (asymmetric algorithms only: never `none`
//! or a shared-secret HMAC, which would let anyone holding the client
//! secret forge one), `iss`, `aud` containing our client id, `exp` not
//! passed (60 s leeway for clock skew), and the login's `nonce`.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Clock skew tolerated on `exp`.
const LEEWAY_SECS: u64 = 60;

/// The signature algorithms accepted (public-key ones).
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why an ID token was refused (for the log).
#[derive(Debug, thiserror::Error)]
pub(crate) enum IdTokenError {
    /// Not a JWT, or a part does not decode.
    #[error("malformed: {0}")]
    Malformed(String),
    /// An algorithm we do not accept (`none`, `HS256`, ...).
    #[error("algorithm {0:?} not accepted")]
    Algorithm(Algorithm),
    /// No key in the provider's set fits the token.
    #[error("no key {0:?} in the provider's key set")]
    NoKey(Option<String>),
    /// Signature or a standard claim failed.
    #[error("{0}")]
    Invalid(String),
    /// The nonce is not the one this login sent.
    #[error("nonce does not match the login's")]
    Nonce,
}

/// Verifies `token` fully; the claims on success.
pub(crate) fn verify(
    token: &str,
    keys: &JwkSet,
    issuer: &str,
    client_id: &str,
    nonce: Option<&str>,
) -> Result<Value, IdTokenError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| IdTokenError::Malformed(e.to_string()))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(IdTokenError::Algorithm(header.alg));
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        // Without a key id, the one key of the set (if it is one).
        None => match keys.keys.as_slice() {
            [only] => Some(only),
            _ => None,
        },
    }
    .ok_or_else(|| IdTokenError::NoKey(header.kid.clone()))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| IdTokenError::Invalid(e.to_string()))?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_exp = true;
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|e| IdTokenError::Invalid(e.to_string()))?;
    if let Some(nonce) = nonce
        && data.claims.get("nonce").and_then(Value::as_str) != Some(nonce)
    {
        return Err(IdTokenError::Nonce);
    }
    Ok(data.claims)
}

/// Upstream's check when the provider's keys are unknown (no issuer
/// configured): the token came straight from the token endpoint, so only
/// `aud` and `exp` are checked (OIDC Core §3.1.3.7 allows skipping the
/// signature for a token received directly over TLS).
pub(crate) fn unverified(token: &str, client_id: &str) -> Result<Value, IdTokenError> {
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|e| IdTokenError::Malformed(e.to_string()))?;
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err(IdTokenError::Invalid("InvalidAudience".into()));
    }
    let now = jsonwebtoken::get_current_timestamp();
    match claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if exp + LEEWAY_SECS >= now => Ok(claims),
        Some(_) => Err(IdTokenError::Invalid("ExpiredSignature".into())),
        None => Err(IdTokenError::Invalid("no exp claim".into())),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    use super::*;

    fn token(header: &Value, claims: &Value) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.c2ln", part(header), part(claims))
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    #[test]
    fn shared_secret_algorithms_are_refused_before_any_key_is_looked_at() {
        let t = token(
            &json!({"alg": "HS256", "typ": "JWT"}),
            &json!({"aud": "hub", "exp": now() + 60}),
        );
        let keys = JwkSet { keys: Vec::new() };
        let e = verify(&t, &keys, "https://idp", "hub", None).unwrap_err();
        assert!(
            matches!(e, IdTokenError::Algorithm(Algorithm::HS256)),
            "{e}"
        );
        let none = token(&json!({"alg": "none"}), &json!({"aud": "hub"}));
        assert!(matches!(
            verify(&none, &keys, "https://idp", "hub", None),
            Err(IdTokenError::Malformed(_))
        ));
    }

    #[test]
    fn without_keys_audience_and_expiry_are_still_checked() {
        let header = json!({"alg": "RS256"});
        let good = token(&header, &json!({"aud": ["x", "hub"], "exp": now() + 60}));
        assert!(unverified(&good, "hub").is_ok());
        let other = token(&header, &json!({"aud": "someone-else", "exp": now() + 60}));
        assert!(unverified(&other, "hub").is_err());
        let expired = token(&header, &json!({"aud": "hub", "exp": now() - 3600}));
        assert!(unverified(&expired, "hub").is_err());
        let no_exp = token(&header, &json!({"aud": "hub"}));
        assert!(unverified(&no_exp, "hub").is_err());
    }
}

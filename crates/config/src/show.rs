//! `ferrohub --show-config`: the effective configuration, as upstream's
//! `jupyterhub --show-config` shows it (only what differs from the defaults,
//! classes and options sorted), in TOML (or JSON for `--show-config-json`),
//! secrets masked. The same configuration gives the same text whether it came
//! from a `ferrohub.toml` or a `jupyterhub_config.py`, so the two can be
//! compared, and the TOML is a starting point for moving to `ferrohub.toml`.

use toml::{Table, Value};

use crate::Config;

/// What a masked secret is shown as.
pub const MASK: &str = "********";

/// The configuration could not be printed (not expected: every option is
/// plain data).
#[derive(Debug, thiserror::Error)]
pub enum ShowConfigError {
    /// The configuration did not turn into a TOML table.
    #[error("cannot print the configuration as TOML: {0}")]
    Toml(String),
    /// The table did not turn into JSON.
    #[error("cannot print the configuration as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The options of `config` that differ from a configuration loaded from
/// nothing, secrets masked.
pub(crate) fn effective_options(config: &Config) -> Result<Table, ShowConfigError> {
    let baseline = crate::load(None, &[]).unwrap_or_default();
    let to_table =
        |c: &Config| Table::try_from(c).map_err(|e| ShowConfigError::Toml(e.to_string()));
    let effective = to_table(config)?;
    let defaults = to_table(&baseline)?;
    let mut out = Table::new();
    for (class, section) in effective {
        let Value::Table(section) = section else {
            continue;
        };
        let default_section = defaults.get(&class).and_then(Value::as_table);
        let mut changed = Table::new();
        for (name, value) in section {
            if default_section.and_then(|d| d.get(&name)) != Some(&value) {
                let value = strip_item_defaults(&class, &name, value);
                let masked = mask(&name, value);
                changed.insert(name, masked);
            }
        }
        if !changed.is_empty() {
            out.insert(class, Value::Table(changed));
        }
    }
    Ok(out)
}

/// Leaves out the keys of a service or role that are at their defaults, as
/// a file would not write them.
fn strip_item_defaults(class: &str, name: &str, value: Value) -> Value {
    let default = match (class, name) {
        ("JupyterHub", "services") => Table::try_from(crate::ServiceConfig::default()),
        ("JupyterHub", "load_roles") => Table::try_from(crate::RoleConfig::default()),
        _ => return value,
    };
    let (Ok(default), Value::Array(items)) = (default, value.clone()) else {
        return value;
    };
    Value::Array(
        items
            .into_iter()
            .map(|item| match item {
                Value::Table(t) => Value::Table(
                    t.into_iter()
                        .filter(|(k, v)| default.get(k) != Some(v))
                        .collect(),
                ),
                other => other,
            })
            .collect(),
    )
}

/// `--show-config`: the non-default options as TOML, after a comment line.
pub fn show_config_toml(config: &Config) -> Result<String, ShowConfigError> {
    let options = effective_options(config)?;
    let body = toml::to_string(&options).map_err(|e| ShowConfigError::Toml(e.to_string()))?;
    Ok(format!(
        "# ferrohub --show-config: options that differ from the defaults; secrets are shown as \"{MASK}\"\n{body}"
    ))
}

/// `--show-config-json`: the same as JSON, keys sorted, indented by one
/// space (upstream's `json.dump(indent=1, sort_keys=True)`).
pub fn show_config_json(config: &Config) -> Result<String, ShowConfigError> {
    let options = effective_options(config)?;
    let value = serde_json::to_value(&options)?;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&value, &mut serializer)?;
    let mut text = String::from_utf8_lossy(&out).into_owned();
    text.push('\n');
    Ok(text)
}

/// Whether an option called `name` holds a secret: its value is masked.
fn is_secret_option(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    // A file or path that holds a secret is not one itself.
    if name.ends_with("_file") || name.ends_with("_path") || name.ends_with("_env") {
        return false;
    }
    [
        "secret",
        "password",
        "passwd",
        "token",
        "crypt_key",
        "api_key",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// Whether an environment variable called `name` likely holds a secret.
fn is_secret_variable(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    ["SECRET", "PASSWORD", "PASSWD", "TOKEN", "KEY", "CREDENTIAL"]
        .iter()
        .any(|word| name.contains(word))
}

/// Masks the secrets in option `name`'s value.
fn mask(name: &str, value: Value) -> Value {
    match value {
        // `JupyterHub.api_tokens`: the keys are the tokens.
        Value::Table(table) if name == "api_tokens" => Value::Table(
            table
                .into_iter()
                .enumerate()
                .map(|(i, (_, user))| (format!("{MASK}{}", i + 1), user))
                .collect(),
        ),
        Value::Table(table) if name == "environment" => Value::Table(
            table
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(_) if is_secret_variable(&k) => {
                            Value::String(MASK.to_owned())
                        }
                        Value::String(s) => Value::String(mask_url(&s)),
                        other => other,
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Table(table) => Value::Table(
            table
                .into_iter()
                .map(|(k, v)| {
                    let v = mask(&k, v);
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| mask(name, v)).collect()),
        // An empty secret is "not set" (e.g. generated at start-up): say so.
        Value::String(s) if is_secret_option(name) && !s.is_empty() => {
            Value::String(MASK.to_owned())
        }
        Value::String(s) => Value::String(mask_url(&s)),
        other => other,
    }
}

/// The password of a URL's user information (`postgresql://u:pw@host/db`).
fn mask_url(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_owned();
    };
    let rest = &text[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return text.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return text.to_owned();
    };
    format!(
        "{}{}:{MASK}{}",
        &text[..scheme_end + 3],
        &authority[..colon],
        &rest[at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_by_name() {
        let mut config = Config::default();
        config.proxy.auth_token = "proxy-secret".into();
        config.jupyterhub.db_url = "postgresql://hub:pw@db.example/hub".into();
        config
            .jupyterhub
            .api_tokens
            .insert("abcdef0123456789".into(), "alice".into());
        config
            .spawner
            .environment
            .insert("GITHUB_TOKEN".into(), "ghp_x".into());
        config
            .spawner
            .environment
            .insert("LANGUAGE".into(), "en".into());
        let text = show_config_toml(&config).unwrap();
        for secret in ["proxy-secret", ":pw@", "abcdef0123456789", "ghp_x"] {
            assert!(!text.contains(secret), "{secret} shown in\n{text}");
        }
        assert!(
            text.contains("postgresql://hub:********@db.example/hub"),
            "{text}"
        );
        assert!(text.contains("LANGUAGE = \"en\""), "{text}");
        assert!(text.contains("alice"), "{text}");
        // Options left at their defaults are not shown.
        assert!(!text.contains("hub_port"), "{text}");
    }

    #[test]
    fn names_of_files_are_not_secrets() {
        assert!(!is_secret_option("cookie_secret_file"));
        assert!(is_secret_option("client_secret"));
        assert!(is_secret_option("lookup_dn_search_password"));
        assert!(is_secret_option("api_token"));
        assert_eq!(mask_url("http://example.org/x"), "http://example.org/x");
        assert_eq!(mask_url("ldap://u@h"), "ldap://u@h");
    }

    #[test]
    fn json_is_sorted_and_indented_by_one() {
        let mut config = Config::default();
        config.jupyterhub.hub_port = 9000;
        let json = show_config_json(&config).unwrap();
        assert_eq!(json, "{\n \"JupyterHub\": {\n  \"hub_port\": 9000\n }\n}\n");
    }
}

//! The list of configurable classes and their option names, read from the structs
//! themselves so that it can never drift from them: validation, suggestions and
//! `generate_config` all walk this list.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

use crate::ldap::LdapAuthenticatorConfig;
use crate::model::{
    AuthenticatorConfig, DummyAuthenticatorConfig, JupyterHubConfig, LocalAuthenticatorConfig,
    LocalProcessSpawnerConfig, PamAuthenticatorConfig, ProxyConfig,
    SharedPasswordAuthenticatorConfig, SimpleLocalProcessSpawnerConfig, SpawnerConfig,
};

/// One configurable class: its TOML section name and how to inspect its struct.
pub(crate) struct Class {
    /// The section name, upstream's class name (`Spawner`).
    pub name: &'static str,
    /// The option names, in declaration order.
    pub options: fn() -> &'static [&'static str],
    /// Deserializes one option's value alone, so a type error names that option.
    pub check: fn(&str, &toml::Value) -> Result<(), toml::de::Error>,
}

/// Every class, in the order of [`crate::Config`]'s fields.
pub(crate) const CLASSES: &[Class] = &[
    class::<JupyterHubConfig>("JupyterHub"),
    class::<ProxyConfig>("ConfigurableHTTPProxy"),
    class::<AuthenticatorConfig>("Authenticator"),
    class::<DummyAuthenticatorConfig>("DummyAuthenticator"),
    class::<LocalAuthenticatorConfig>("LocalAuthenticator"),
    class::<PamAuthenticatorConfig>("PAMAuthenticator"),
    class::<SharedPasswordAuthenticatorConfig>("SharedPasswordAuthenticator"),
    class::<crate::oauth::OAuthenticatorConfig>("OAuthenticator"),
    class::<crate::oauth::GenericOAuthenticatorConfig>("GenericOAuthenticator"),
    class::<crate::oauth::GitHubOAuthenticatorConfig>("GitHubOAuthenticator"),
    class::<crate::oauth::GitLabOAuthenticatorConfig>("GitLabOAuthenticator"),
    class::<crate::oauth::GoogleOAuthenticatorConfig>("GoogleOAuthenticator"),
    class::<crate::oauth::AzureAdOAuthenticatorConfig>("AzureAdOAuthenticator"),
    class::<LdapAuthenticatorConfig>("LDAPAuthenticator"),
    class::<SpawnerConfig>("Spawner"),
    class::<LocalProcessSpawnerConfig>("LocalProcessSpawner"),
    class::<SimpleLocalProcessSpawnerConfig>("SimpleLocalProcessSpawner"),
    class::<crate::slurm::SlurmSpawnerConfig>("SlurmSpawner"),
    class::<crate::docker::DockerSpawnerConfig>("DockerSpawner"),
    class::<crate::systemd::SystemdSpawnerConfig>("SystemdSpawner"),
    class::<crate::sudo::SudoSpawnerConfig>("SudoSpawner"),
];

const fn class<T: DeserializeOwned>(name: &'static str) -> Class {
    Class {
        name,
        options: field_names::<T>,
        check: check_option::<T>,
    }
}

/// The class called `name`, if any.
pub(crate) fn find_class(name: &str) -> Option<&'static Class> {
    CLASSES.iter().find(|c| c.name == name)
}

impl Class {
    /// Whether this class has an option called `name`.
    pub(crate) fn has(&self, name: &str) -> bool {
        (self.options)().contains(&name)
    }
}

fn check_option<T: DeserializeOwned>(
    name: &str,
    value: &toml::Value,
) -> Result<(), toml::de::Error> {
    let mut table = toml::Table::new();
    table.insert(name.to_owned(), value.clone());
    toml::Value::Table(table).try_into::<T>().map(drop)
}

/// The field names serde knows for struct `T` (after renames), in declaration
/// order. Serde's derived `Deserialize` hands them to `deserialize_struct`; the
/// probe below captures them there and stops.
pub(crate) fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    match T::deserialize(FieldProbe) {
        Err(Captured(fields)) => fields,
        Ok(_) => &[],
    }
}

struct FieldProbe;

/// The "error" that carries the captured field names out of the probe.
#[derive(Debug)]
struct Captured(&'static [&'static str]);

impl fmt::Display for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fields {:?}", self.0)
    }
}

impl std::error::Error for Captured {}

impl de::Error for Captured {
    fn custom<M: fmt::Display>(_msg: M) -> Self {
        Self(&[])
    }
}

impl<'de> Deserializer<'de> for FieldProbe {
    type Error = Captured;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Captured> {
        Err(Captured(&[]))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Captured> {
        Err(Captured(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn classes_match_the_config_sections_in_order() {
        let names: Vec<_> = CLASSES.iter().map(|c| c.name).collect();
        assert_eq!(names, field_names::<Config>());
    }

    #[test]
    fn field_names_include_options_without_a_default_value() {
        let auth = find_class("Authenticator").unwrap();
        assert!(auth.has("allow_all"));
        assert!(auth.has("allow_existing_users"));
        assert!(!auth.has("allow_everyone"));
        assert_eq!((find_class("Spawner").unwrap().options)()[0], "cmd");
    }

    #[test]
    fn check_option_rejects_a_wrong_type() {
        let spawner = find_class("Spawner").unwrap();
        assert!((spawner.check)("start_timeout", &toml::Value::Integer(5)).is_ok());
        assert!((spawner.check)("start_timeout", &toml::Value::String("x".into())).is_err());
    }
}

//! `Spawner.profile_list` (as KubeSpawner's, written in TOML) and the memory
//! sizes of `Spawner.mem_limit`/`mem_guarantee`.
//!
//! A profile is a choice offered on the spawn page: a display name, a slug
//! (what `user_options["profile"]` holds), a description, whether it is the
//! default, and `spawner_override` (KubeSpawner's `kubespawner_override` is
//! accepted as an alias): the `[Spawner]` settings that this profile changes.
//! Only settings the local spawners honour may be overridden, so a profile
//! can never silently do nothing; anything else is refused at load with the
//! profile and key named.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The `[Spawner]` settings a profile may override, in the order help lists them.
pub const OVERRIDABLE: [&str; 8] = [
    "cmd",
    "args",
    "environment",
    "default_url",
    "mem_limit",
    "cpu_limit",
    "mem_guarantee",
    "cpu_guarantee",
];

/// A number of bytes, written as an integer or as upstream's
/// `ByteSpecification` string (`"512M"`, `"1.5G"`; K, M, G, T are powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ByteSpelling", into = "u64")]
pub struct ByteSize(pub u64);

/// How a size may be written in TOML.
#[derive(Deserialize)]
#[serde(untagged)]
enum ByteSpelling {
    Integer(u64),
    Text(String),
}

/// A size string that is neither a number nor a number with K, M, G or T.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0:?} is not a valid memory specification: write an integer number of bytes or a number with suffix K, M, G or T"
)]
pub struct BadByteSize(String);

impl TryFrom<ByteSpelling> for ByteSize {
    type Error = BadByteSize;

    fn try_from(spelling: ByteSpelling) -> Result<Self, BadByteSize> {
        match spelling {
            ByteSpelling::Integer(bytes) => Ok(Self(bytes)),
            ByteSpelling::Text(text) => text.parse(),
        }
    }
}

impl std::str::FromStr for ByteSize {
    type Err = BadByteSize;

    /// Upstream's rule: a plain integer is bytes; otherwise the last
    /// character is the unit and the rest a (possibly fractional) number,
    /// truncated to whole bytes.
    fn from_str(text: &str) -> Result<Self, BadByteSize> {
        let bad = || BadByteSize(text.to_owned());
        let trimmed = text.trim();
        if let Ok(bytes) = trimmed.parse::<u64>() {
            return Ok(Self(bytes));
        }
        let mut chars = trimmed.chars();
        let unit = chars.next_back().ok_or_else(bad)?;
        let factor: u64 = match unit {
            'K' => 1 << 10,
            'M' => 1 << 20,
            'G' => 1 << 30,
            'T' => 1 << 40,
            _ => return Err(bad()),
        };
        let number: f64 = chars.as_str().trim().parse().map_err(|_| bad())?;
        // The precision lost in the product is below a byte for any real memory size.
        #[allow(clippy::cast_precision_loss, reason = "factor is at most 2^40")]
        let bytes = number * factor as f64;
        if !(0.0..1.8e19).contains(&bytes) {
            return Err(bad());
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked finite, non-negative and below u64::MAX above; truncation is upstream's int()"
        )]
        Ok(Self(bytes as u64))
    }
}

impl From<ByteSize> for u64 {
    fn from(size: ByteSize) -> Self {
        size.0
    }
}

/// What one profile changes in `[Spawner]`; unset fields keep the base
/// setting. `environment` is merged into the base one (the profile's values
/// win), as KubeSpawner merges dictionaries; the other fields replace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpawnerOverride {
    /// Replaces `Spawner.cmd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Replaces `Spawner.args`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Merged over `Spawner.environment`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<BTreeMap<String, String>>,
    /// Replaces `Spawner.default_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_url: Option<String>,
    /// Replaces `Spawner.mem_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<ByteSize>,
    /// Replaces `Spawner.cpu_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<f64>,
    /// Replaces `Spawner.mem_guarantee`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_guarantee: Option<ByteSize>,
    /// Replaces `Spawner.cpu_guarantee`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_guarantee: Option<f64>,
}

/// One entry of `Spawner.profile_list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawProfile", into = "RawProfile")]
pub struct Profile {
    /// What the spawn page shows as the choice's label.
    pub display_name: String,
    /// The value of `user_options["profile"]`; derived from `display_name`
    /// when not written (lowercase letters and digits, other runs as `-`).
    pub slug: String,
    /// Shown under the label; plain text.
    pub description: String,
    /// Chosen when a start names no profile (the first such; else the first profile).
    pub default: bool,
    /// The settings this profile changes.
    pub spawner_override: SpawnerOverride,
}

/// A profile as written, before its override keys are checked.
#[derive(Serialize, Deserialize)]
struct RawProfile {
    #[serde(default)]
    display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slug: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    default: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spawner_override: Option<toml::Table>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kubespawner_override: Option<toml::Table>,
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

/// Why a profile was refused; the text names the profile and the key.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// No display name (it is the label users choose by).
    #[error("a profile has no display_name")]
    NoDisplayName,
    /// A key a profile does not have.
    #[error(
        "profile {profile:?} has unknown key {key:?}; a profile has display_name, slug, description, default and spawner_override (or kubespawner_override)"
    )]
    UnknownKey {
        /// The profile's display name.
        profile: String,
        /// The key as written.
        key: String,
    },
    /// Both spellings of the override table.
    #[error("profile {0:?} has both spawner_override and kubespawner_override; write one")]
    TwoOverrides(String),
    /// An override of a setting the local spawners do not honour.
    #[error("profile {profile:?} overrides {key:?}, which ferrohub's spawners do not support; a profile may override {}", OVERRIDABLE.join(", "))]
    UnsupportedOverride {
        /// The profile's display name.
        profile: String,
        /// The key as written.
        key: String,
    },
    /// An override value of the wrong type.
    #[error("profile {profile:?}, spawner_override.{key}: {problem}")]
    BadOverride {
        /// The profile's display name.
        profile: String,
        /// The key.
        key: String,
        /// What is wrong.
        problem: String,
    },
    /// The slug (written or derived) is empty.
    #[error("profile {0:?} has an empty slug; write a slug of letters, digits and '-'")]
    EmptySlug(String),
}

impl TryFrom<RawProfile> for Profile {
    type Error = ProfileError;

    fn try_from(raw: RawProfile) -> Result<Self, ProfileError> {
        if raw.display_name.trim().is_empty() {
            return Err(ProfileError::NoDisplayName);
        }
        let profile = raw.display_name;
        if let Some(key) = raw.other.keys().next() {
            return Err(ProfileError::UnknownKey {
                profile,
                key: key.clone(),
            });
        }
        let table = match (raw.spawner_override, raw.kubespawner_override) {
            (Some(_), Some(_)) => return Err(ProfileError::TwoOverrides(profile)),
            (Some(table), None) | (None, Some(table)) => table,
            (None, None) => toml::Table::new(),
        };
        let spawner_override = parse_override(&profile, table)?;
        let slug = raw.slug.unwrap_or_else(|| slugify(&profile));
        if slug.is_empty() {
            return Err(ProfileError::EmptySlug(profile));
        }
        Ok(Self {
            display_name: profile,
            slug,
            description: raw.description,
            default: raw.default,
            spawner_override,
        })
    }
}

impl From<Profile> for RawProfile {
    fn from(profile: Profile) -> Self {
        let table = toml::Table::try_from(&profile.spawner_override).unwrap_or_default();
        Self {
            display_name: profile.display_name,
            slug: Some(profile.slug),
            description: profile.description,
            default: profile.default,
            spawner_override: (!table.is_empty()).then_some(table),
            kubespawner_override: None,
            other: BTreeMap::new(),
        }
    }
}

/// Checks each key on its own, so an error names it.
fn parse_override(profile: &str, table: toml::Table) -> Result<SpawnerOverride, ProfileError> {
    for (key, value) in &table {
        if !OVERRIDABLE.contains(&key.as_str()) {
            return Err(ProfileError::UnsupportedOverride {
                profile: profile.to_owned(),
                key: key.clone(),
            });
        }
        let mut single = toml::Table::new();
        single.insert(key.clone(), value.clone());
        toml::Value::Table(single)
            .try_into::<SpawnerOverride>()
            .map_err(|e| ProfileError::BadOverride {
                profile: profile.to_owned(),
                key: key.clone(),
                problem: crate::load::describe_type_error(&crate::load::one_line(e.message())),
            })?;
    }
    let parsed = toml::Value::Table(table)
        .try_into::<SpawnerOverride>()
        .map_err(|e| ProfileError::BadOverride {
            profile: profile.to_owned(),
            key: String::new(),
            problem: e.message().to_owned(),
        })?;
    if parsed.cmd.as_ref().is_some_and(Vec::is_empty) {
        return Err(ProfileError::BadOverride {
            profile: profile.to_owned(),
            key: "cmd".to_owned(),
            problem: "must not be empty: it is the command that starts the server".to_owned(),
        });
    }
    Ok(parsed)
}

/// KubeSpawner's slug of a display name (python-slugify for ASCII text):
/// lowercase, every run of other characters than `a-z0-9` becomes one `-`,
/// no `-` at either end. Non-ASCII letters count as "other" (python-slugify
/// would transliterate them; write a `slug` to choose).
#[must_use]
pub fn slugify(display_name: &str) -> String {
    let mut slug = String::with_capacity(display_name.len());
    for c in display_name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

/// A `user_options["profile"]` that names no profile of the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct UnknownProfile {
    /// The slug asked for.
    pub asked: String,
    /// The slugs there are.
    pub choices: Vec<String>,
}

impl fmt::Display for UnknownProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // KubeSpawner's wording.
        write!(
            f,
            "No such profile: {}. Options available: {}",
            self.asked,
            self.choices.join(", ")
        )
    }
}

/// The profile a start uses: the one `slug` names, or with `None` the
/// default one (the first marked default, else the first). `Ok(None)` when
/// there is no profile list.
pub fn choose_profile<'a>(
    profiles: &'a [Profile],
    slug: Option<&str>,
) -> Result<Option<&'a Profile>, UnknownProfile> {
    match slug {
        None => Ok(profiles
            .iter()
            .find(|p| p.default)
            .or_else(|| profiles.first())),
        Some(slug) => profiles
            .iter()
            .find(|p| p.slug == slug)
            .map(Some)
            .ok_or_else(|| UnknownProfile {
                asked: slug.to_owned(),
                choices: profiles.iter().map(|p| p.slug.clone()).collect(),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profiles(text: &str) -> Result<Vec<Profile>, String> {
        #[derive(Deserialize)]
        struct Holder {
            profile_list: Vec<Profile>,
        }
        toml::from_str::<Holder>(text)
            .map(|h| h.profile_list)
            .map_err(|e| e.message().to_owned())
    }

    #[test]
    fn slugs_follow_kubespawner() {
        assert_eq!(slugify("GPU Server (big)"), "gpu-server-big");
        assert_eq!(slugify("  Small -- CPU  "), "small-cpu");
        assert_eq!(slugify("Mike's box"), "mike-s-box");
        assert_eq!(slugify("Données"), "donn-es");
        assert_eq!(slugify("***"), "");
    }

    #[test]
    fn profiles_parse_with_both_override_spellings() {
        let list = profiles(
            r#"
            [[profile_list]]
            display_name = "Small CPU"
            description = "One core"
            spawner_override = { environment = { SIZE = "small" }, mem_limit = "512M", cpu_limit = 1 }

            [[profile_list]]
            display_name = "Big GPU"
            slug = "gpu"
            default = true
            kubespawner_override = { default_url = "/lab/tree/README.md", args = ["--debug"] }
            "#,
        )
        .unwrap();
        assert_eq!(list[0].slug, "small-cpu");
        assert_eq!(list[0].description, "One core");
        let small = &list[0].spawner_override;
        assert_eq!(small.environment.as_ref().unwrap()["SIZE"], "small");
        assert_eq!(small.mem_limit, Some(ByteSize(512 << 20)));
        assert_eq!(small.cpu_limit, Some(1.0));
        assert_eq!(list[1].slug, "gpu");
        assert!(list[1].default);
        let gpu = &list[1].spawner_override;
        assert_eq!(gpu.default_url.as_deref(), Some("/lab/tree/README.md"));
        assert_eq!(gpu.args.as_deref(), Some(&["--debug".to_owned()][..]));
        assert_eq!(gpu.cmd, None);
    }

    #[test]
    fn unsupported_overrides_name_the_profile_and_key() {
        let error = profiles(
            r#"
            [[profile_list]]
            display_name = "Datascience"
            kubespawner_override = { image = "jupyter/datascience-notebook" }
            "#,
        )
        .unwrap_err();
        assert!(error.contains("\"Datascience\""), "{error}");
        assert!(error.contains("\"image\""), "{error}");
        assert!(error.contains("cmd, args, environment"), "{error}");
    }

    #[test]
    fn bad_profiles_are_refused_with_a_reason() {
        let cases = [
            ("[[profile_list]]\ndescription = \"x\"", "no display_name"),
            (
                "[[profile_list]]\ndisplay_name = \"A\"\nimage = \"x\"",
                "unknown key \"image\"",
            ),
            (
                "[[profile_list]]\ndisplay_name = \"A\"\nspawner_override = {}\nkubespawner_override = {}",
                "both",
            ),
            (
                "[[profile_list]]\ndisplay_name = \"A\"\nspawner_override = { cpu_limit = \"lots\" }",
                "spawner_override.cpu_limit: expected a number",
            ),
            (
                "[[profile_list]]\ndisplay_name = \"A\"\nspawner_override = { mem_limit = \"5X\" }",
                "not a valid memory specification",
            ),
            (
                "[[profile_list]]\ndisplay_name = \"A\"\nspawner_override = { cmd = [] }",
                "spawner_override.cmd: must not be empty",
            ),
            ("[[profile_list]]\ndisplay_name = \"!!\"", "empty slug"),
        ];
        for (text, expected) in cases {
            let error = profiles(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn byte_sizes_follow_upstreams_byte_specification() {
        assert_eq!("1024".parse::<ByteSize>().unwrap(), ByteSize(1024));
        assert_eq!("1K".parse::<ByteSize>().unwrap(), ByteSize(1024));
        assert_eq!("1.5G".parse::<ByteSize>().unwrap(), ByteSize(3 << 29));
        assert_eq!("2T".parse::<ByteSize>().unwrap(), ByteSize(2 << 40));
        for bad in ["", "G", "1g", "1.5", "-1M", "1e30T"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_default_profile_is_the_first_marked_else_the_first() {
        let list = profiles(
            "[[profile_list]]\ndisplay_name = \"A\"\n[[profile_list]]\ndisplay_name = \"B\"\ndefault = true",
        )
        .unwrap();
        assert_eq!(choose_profile(&list, None).unwrap().unwrap().slug, "b");
        assert_eq!(choose_profile(&list[..1], None).unwrap().unwrap().slug, "a");
        assert_eq!(choose_profile(&list, Some("a")).unwrap().unwrap().slug, "a");
        assert_eq!(choose_profile(&[], None).unwrap(), None);
        let error = choose_profile(&list, Some("c")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "No such profile: c. Options available: a, b"
        );
    }

    #[test]
    fn profiles_serialize_to_what_loads_back() {
        let list = profiles(
            "[[profile_list]]\ndisplay_name = \"A B\"\nspawner_override = { mem_limit = \"1K\", environment = { X = \"1\" } }",
        )
        .unwrap();
        #[derive(Serialize)]
        struct Holder<'a> {
            profile_list: &'a [Profile],
        }
        let text = toml::to_string(&Holder {
            profile_list: &list,
        })
        .unwrap();
        assert_eq!(profiles(&text).unwrap(), list);
    }
}

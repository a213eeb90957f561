//! Configuration: one struct per configurable class, named as upstream
//! (`[JupyterHub] bind_url`, `[Spawner] cmd`, ...), loaded from a TOML file and
//! `--Class.trait=value` command-line overrides by [`load`].
//!
//! Invariant: the only crate that knows where a setting came from; every other
//! crate receives a validated [`Config`].
//!
//! Modules: `model` (the structs and upstream's defaults), `load` (file +
//! overrides + checks), `schema` (class and option names, read from the structs),
//! `help` (one help line per option), `generate` (`--generate-config`),
//! `oauth` (OAuthenticator's sections, layered as traitlets does),
//! `bind_url` (listen URLs), `ldap` (`[LDAPAuthenticator]`), `slurm`
//! (`[SlurmSpawner]`), `docker` (`[DockerSpawner]`), `systemd`
//! (`[SystemdSpawner]`), `sudo` (`[SudoSpawner]`), `profiles`
//! (`Spawner.profile_list`, memory sizes), `python` (upstream's
//! `jupyterhub_config.py`, read without Python), `show` (`--show-config`),
//! `error`.

#![warn(missing_docs)]

mod addresses;
mod bind_url;
mod credentials;
mod docker;
mod error;
mod generate;
mod help;
mod ldap;
mod load;
mod model;
mod oauth;
mod profiles;
mod python;
mod schema;
mod show;
mod slurm;
mod sudo;
mod systemd;

pub use addresses::{NotASocket, unix_socket};
pub use bind_url::{BindUrl, InvalidUrl};
pub use docker::{
    AllowedImages, DEFAULT_DOCKER_IMAGE, DockerSpawnerConfig, ExtraCreateKwargs, ExtraHostConfig,
    MountKind, MountSpec, PullPolicy, Ulimit, VolumeBind, VolumeTable,
};
pub use error::{ConfigError, Origin};
pub use generate::generate_config;
pub use ldap::{
    CertValidation, DEFAULT_GROUP_SEARCH_FILTER, LdapAuthenticatorConfig, TlsKwargs, TlsStrategy,
};
pub use load::{file_requests_show_config, load};
pub use model::{
    AuthenticatorConfig, Config, CustomScopeConfig, DummyAuthenticatorConfig, JupyterHubConfig,
    LocalAuthenticatorConfig, LocalProcessSpawnerConfig, MAX_COOKIE_MAX_AGE_DAYS,
    PamAuthenticatorConfig, ProxyConfig, RoleConfig, ServiceConfig,
    SharedPasswordAuthenticatorConfig, SimpleLocalProcessSpawnerConfig, SpawnerConfig,
};
pub use oauth::{
    AzureAdOAuthenticatorConfig, GenericOAuthenticatorConfig, GitHubOAuthenticatorConfig,
    GitLabOAuthenticatorConfig, GoogleOAuthenticatorConfig, OAuthClass, OAuthSettings,
    OAuthenticatorConfig,
};
pub use profiles::{
    BadByteSize, ByteSize, OVERRIDABLE, Profile, ProfileError, SpawnerOverride, UnknownProfile,
    choose_profile, slugify,
};
pub use show::{MASK, ShowConfigError, show_config_json, show_config_toml};
pub use slurm::{DEFAULT_SLURM_BATCH_SCRIPT, SlurmSpawnerConfig};
pub use sudo::SudoSpawnerConfig;
pub use systemd::{DEFAULT_SYSTEMD_UNIT_NAME_TEMPLATE, PropertyValue, SystemdSpawnerConfig};

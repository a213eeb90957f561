//! Checks of configured credentials, run at load before anything is written:
//! tokens no longer than the hub will ever check, and services' OAuth client
//! ids that claim nobody else's (issue 11, holes 1 and 10).
//!
//! A service's OAuth client row holds the secret and redirect URI codes are
//! sent to; if two services shared an id, or a service took the id of a
//! user's server or of the hub itself, one would receive the other's users'
//! codes. Upstream checks only the `service-` prefix; we also refuse duplicates.

use std::collections::BTreeMap;

use ferrohub_core::token::MAX_SECRET_LEN;

use crate::{JupyterHubConfig, ServiceConfig};

/// What upstream requires every service client id to start with.
const SERVICE_PREFIX: &str = "service-";
/// The hub's own client id (`ferrohub_store::BUILTIN_CLIENT`).
const HUB_CLIENT: &str = "jupyterhub";
/// How users' servers' client ids start (`jupyterhub-user-<name>[-<server>]`).
const SERVER_PREFIX: &str = "jupyterhub-user-";

/// A refused setting: the `JupyterHub` option it is in and what is wrong.
/// The text never contains a token.
pub(crate) struct Refusal {
    /// `api_tokens` or `services`.
    pub(crate) option: &'static str,
    /// One line saying what to fix.
    pub(crate) problem: String,
}

/// The OAuth client id a service registers: its `oauth_client_id`, else
/// `service-<name>` (as the hub computes it at registration).
fn client_id(spec: &ServiceConfig) -> String {
    if spec.oauth_client_id.is_empty() {
        format!("{SERVICE_PREFIX}{}", spec.name)
    } else {
        spec.oauth_client_id.clone()
    }
}

/// The shortest token `api_tokens` accepts, as upstream's `APIToken.new`.
const MIN_CONFIGURED_TOKEN_LEN: usize = 8;

/// Checks `api_tokens` and each service's `api_token` and `oauth_client_id`.
pub(crate) fn check(hub: &JupyterHubConfig) -> Result<(), Refusal> {
    let too_long = |what: String| {
        format!("{what} is longer than {MAX_SECRET_LEN} bytes, the most a token may have")
    };
    for (token, user) in &hub.api_tokens {
        if token.len() > MAX_SECRET_LEN {
            return Err(Refusal {
                option: "api_tokens",
                problem: too_long(format!("the token of user {user:?}")),
            });
        }
        // Upstream refuses these too ("Tokens must be at least 8 characters").
        if token.len() < MIN_CONFIGURED_TOKEN_LEN {
            return Err(Refusal {
                option: "api_tokens",
                problem: format!(
                    "the token of user {user:?} is shorter than {MIN_CONFIGURED_TOKEN_LEN} characters"
                ),
            });
        }
    }
    let services = |problem: String| Refusal {
        option: "services",
        problem,
    };
    let mut claimed: BTreeMap<String, &str> = BTreeMap::new();
    for spec in &hub.services {
        let name = &spec.name;
        if spec.api_token.len() > MAX_SECRET_LEN {
            return Err(services(too_long(format!("service {name:?}: api_token"))));
        }
        let id = client_id(spec);
        let claim = |owner: &str| {
            services(format!(
                "service {name:?}: oauth_client_id {id:?} is {owner}; service client ids start with {SERVICE_PREFIX:?}"
            ))
        };
        if id == HUB_CLIENT {
            return Err(claim("the hub's own OAuth client"));
        }
        if id.starts_with(SERVER_PREFIX) {
            return Err(claim("the form of users' servers' OAuth clients"));
        }
        if !id.starts_with(SERVICE_PREFIX) {
            return Err(claim("not a service's"));
        }
        if let Some(first) = claimed.insert(id.clone(), name) {
            let problem = if first == name {
                format!("service {name:?} is defined more than once")
            } else {
                format!(
                    "services {first:?} and {name:?} both claim oauth_client_id {id:?} (the default is \"service-<name>\")"
                )
            };
            return Err(services(problem));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, oauth_client_id: &str) -> ServiceConfig {
        ServiceConfig {
            name: name.to_owned(),
            oauth_client_id: oauth_client_id.to_owned(),
            ..ServiceConfig::default()
        }
    }

    fn refusal(services: Vec<ServiceConfig>) -> Option<String> {
        let hub = JupyterHubConfig {
            services,
            ..JupyterHubConfig::default()
        };
        check(&hub)
            .err()
            .map(|r| format!("{}: {}", r.option, r.problem))
    }

    #[test]
    fn distinct_service_client_ids_pass() {
        assert_eq!(
            refusal(vec![service("a", ""), service("b", "service-bee")]),
            None
        );
    }

    #[test]
    fn shared_or_foreign_client_ids_are_refused() {
        let cases = [
            (
                vec![service("a", "service-x"), service("b", "service-x")],
                "both claim",
            ),
            (
                vec![service("b", ""), service("a", "service-b")],
                "both claim",
            ),
            (vec![service("a", ""), service("a", "")], "more than once"),
            (vec![service("a", "jupyterhub")], "the hub's own"),
            (
                vec![service("a", "jupyterhub-user-alice")],
                "users' servers",
            ),
            (vec![service("a", "other-a")], "not a service's"),
        ];
        for (services, expected) in cases {
            let problem = refusal(services.clone()).unwrap_or_default();
            assert!(problem.contains(expected), "{services:?}: {problem}");
        }
    }

    #[test]
    fn over_long_tokens_are_refused_without_showing_them() {
        let long = "t".repeat(MAX_SECRET_LEN + 1);
        let mut hub = JupyterHubConfig::default();
        hub.api_tokens.insert(long.clone(), "alice".to_owned());
        let refused = check(&hub).err().unwrap();
        assert_eq!(refused.option, "api_tokens");
        assert!(!refused.problem.contains(&long));

        let mut hub = JupyterHubConfig::default();
        hub.services.push(ServiceConfig {
            api_token: long.clone(),
            ..service("a", "")
        });
        let refused = check(&hub).err().unwrap();
        assert_eq!(refused.option, "services");
        assert!(refused.problem.contains("255"), "{}", refused.problem);
        assert!(!refused.problem.contains(&long));

        let mut hub = JupyterHubConfig::default();
        hub.api_tokens
            .insert("t".repeat(MAX_SECRET_LEN), "alice".to_owned());
        assert!(check(&hub).is_ok());
    }
}

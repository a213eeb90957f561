//! Where a browser goes when it did not say (upstream's `get_next_url`):
//! a validated `?next=` first, then `JupyterHub.default_url`, then, with
//! `redirect_to_server`, the user's own server (or the spawn page when it is
//! not active), else the home page. A default (not a `?next=`) keeps the
//! request's other query parameters, as upstream, so `/hub/?x=1` keeps `x`.

/// What decides the place, gathered by the handler.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NextUrlInputs<'a> {
    /// The hub's base URL (`/hub/`).
    pub hub: &'a str,
    /// The request's `next` after the safe-redirect check (`None`: absent or refused).
    pub next_param: Option<&'a str>,
    /// `JupyterHub.default_url` (empty: unset).
    pub default_url: &'a str,
    /// `JupyterHub.redirect_to_server`.
    pub redirect_to_server: bool,
    /// For a signed-in user: their default server's URL and whether it is
    /// active (starting, running or stopping, upstream's `spawner.active`).
    pub user_server: Option<(&'a str, bool)>,
    /// The request's raw query string, for the parameters a default keeps.
    pub request_query: Option<&'a str>,
}

/// Upstream's `get_next_url`, as a pure function of its inputs.
pub(crate) fn choose(inputs: &NextUrlInputs<'_>) -> String {
    if let Some(next) = inputs.next_param.filter(|n| !n.is_empty()) {
        return next.to_owned();
    }
    let url = if !inputs.default_url.is_empty() {
        inputs.default_url.to_owned()
    } else {
        match inputs.user_server {
            Some((server_url, active)) if inputs.redirect_to_server => {
                if active {
                    server_url.to_owned()
                } else {
                    format!("{}spawn", inputs.hub)
                }
            }
            _ => format!("{}home", inputs.hub),
        }
    };
    append_query(&url, inputs.request_query.unwrap_or_default())
}

/// Adds the request's query parameters to `url`, except `next` and `_xsrf`
/// (which would loop or leak) and those without a value (Python's
/// `parse_qsl` drops them), keeping their encoding.
pub(crate) fn append_query(url: &str, query: &str) -> String {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            !value.is_empty() && key != "next" && key != "_xsrf"
        })
        .collect();
    if kept.is_empty() {
        return url.to_owned();
    }
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}{}", kept.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> NextUrlInputs<'static> {
        NextUrlInputs {
            hub: "/hub/",
            next_param: None,
            default_url: "",
            redirect_to_server: true,
            user_server: Some(("/user/ann/", false)),
            request_query: None,
        }
    }

    #[test]
    fn next_parameter_wins_over_everything() {
        let chosen = choose(&NextUrlInputs {
            next_param: Some("/hub/token"),
            default_url: "/hub/home",
            request_query: Some("next=%2Fhub%2Ftoken&x=1"),
            ..inputs()
        });
        assert_eq!(chosen, "/hub/token");
    }

    #[test]
    fn default_url_beats_redirect_to_server() {
        let chosen = choose(&NextUrlInputs {
            default_url: "/hub/token",
            user_server: Some(("/user/ann/", true)),
            ..inputs()
        });
        assert_eq!(chosen, "/hub/token");
    }

    #[test]
    fn redirect_to_server_sends_to_the_server_or_the_spawn_page() {
        assert_eq!(choose(&inputs()), "/hub/spawn");
        let active = NextUrlInputs {
            user_server: Some(("/user/ann/", true)),
            ..inputs()
        };
        assert_eq!(choose(&active), "/user/ann/");
        let off = NextUrlInputs {
            redirect_to_server: false,
            ..active
        };
        assert_eq!(choose(&off), "/hub/home");
        let anonymous = NextUrlInputs {
            user_server: None,
            ..inputs()
        };
        assert_eq!(choose(&anonymous), "/hub/home");
    }

    #[test]
    fn a_default_keeps_other_query_parameters() {
        let chosen = choose(&NextUrlInputs {
            default_url: "/hub/home?tab=a",
            request_query: Some("next=&_xsrf=t&x=1&empty=&y=a%20b"),
            ..inputs()
        });
        assert_eq!(chosen, "/hub/home?tab=a&x=1&y=a%20b");
        assert_eq!(append_query("/hub/spawn", "next=%2F"), "/hub/spawn");
        assert_eq!(append_query("/hub/spawn", ""), "/hub/spawn");
    }
}

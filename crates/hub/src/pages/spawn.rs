//! The spawn page (upstream's `SpawnHandler`): without `Spawner.options_form`
//! or `Spawner.profile_list` a GET starts the server at once; with one it
//! shows `spawn.html` ("Server Options") and the form's POST starts the
//! server with `user_options` built from the submitted fields. `opt-*` query
//! arguments start at once with those options, form or not.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{OriginalUri, Query, State};
use axum::response::{Html, IntoResponse, Response};
use ferrohub_config::SpawnerConfig;
use http::{HeaderMap, StatusCode, Uri};
use minijinja::context;
use serde_json::{Map, Value};

use super::{PageUser, ServerPath, check_xsrf, page_user, to_login, with_cookies, xsrf_for};
use crate::capability::ServerControl;
use crate::error::{HubError, PageError};
use crate::service::servers::{self as service, FormStart, PageStart};
use crate::state::AppState;

/// A form's or query's fields in order, repeated names kept.
type Fields = Vec<(String, String)>;

/// Hidden field of `spawn.html` telling its POST from the home page's start
/// button, which posts only `_xsrf` (that one is sent to the form instead).
const FORM_MARKER: &str = "_spawn_form";

/// `GET {hub}spawn`: one's default server.
pub(super) async fn spawn_get(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    show_or_start(&state, &uri, &headers, query, None, "").await
}

/// `GET {hub}spawn/{name}[/{server}]`: one's named server, or (with the
/// `servers` scope) another user's server.
pub(super) async fn spawn_get_for(
    State(state): State<AppState>,
    path: ServerPath,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    show_or_start(
        &state,
        &uri,
        &headers,
        query,
        Some(&path.user),
        &path.server,
    )
    .await
}

/// `POST {hub}spawn`: the options form, or the home page's start button.
pub(super) async fn spawn_post(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<Fields>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    submit(&state, &uri, &headers, &query, form, None, "").await
}

/// `POST {hub}spawn/{name}[/{server}]`.
pub(super) async fn spawn_post_for(
    State(state): State<AppState>,
    path: ServerPath,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<Fields>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    submit(
        &state,
        &uri,
        &headers,
        &query,
        form,
        Some(&path.user),
        &path.server,
    )
    .await
}

async fn show_or_start(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    query: Fields,
    name: Option<&str>,
    server: &str,
) -> Result<Response, PageError> {
    let Some(who) = page_user(state, headers).await? else {
        return Ok(to_login(state, uri));
    };
    let control = who.identity.server_control(state, name, server).await?;
    let next = next_of(state, headers, &query);
    let query_options = options_from_query(query)?;
    let spawner = &state.config.spawner;
    let mut error = None;
    if !query_options.is_empty() {
        let options = options_from_fields(spawner, query_options);
        match start(state, &control, Some(options), next.clone()).await {
            Err(HubError::Invalid(message)) if spawner.has_options_form() => {
                error = Some(message);
            }
            other => return Ok(other?),
        }
    }
    if !spawner.has_options_form() {
        return Ok(start(state, &control, None, next).await?);
    }
    match service::before_form(state, &control).await? {
        FormStart::Running => Ok(crate::redirect::found(
            &next.unwrap_or_else(|| server_url(state, &control)),
        )),
        FormStart::Pending => Ok(crate::redirect::found(&pending_url(state, &control, next))),
        FormStart::Form => {
            let refused = error.is_some();
            let mut page = render_form(state, uri, headers, &who, &control, error);
            if refused {
                *page.status_mut() = StatusCode::BAD_REQUEST;
            }
            Ok(page)
        }
    }
}

async fn submit(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    query: &Fields,
    mut form: Fields,
    name: Option<&str>,
    server: &str,
) -> Result<Response, PageError> {
    let Some(who) = page_user(state, headers).await? else {
        return Ok(to_login(state, uri));
    };
    let xsrf = take_field(&mut form, "_xsrf").unwrap_or_default();
    check_xsrf(state, headers, Some(&who.identity), &xsrf)?;
    let from_form = take_field(&mut form, FORM_MARKER).is_some();
    let control = who.identity.server_control(state, name, server).await?;
    let next = next_of(state, headers, query);
    let spawner = &state.config.spawner;
    if !spawner.has_options_form() {
        return Ok(start(state, &control, None, next).await?);
    }
    if !from_form {
        // The home page's start button: the options come from the form.
        return Ok(crate::redirect::found(&uri.to_string()));
    }
    let options = options_from_fields(spawner, group(form));
    match start(state, &control, Some(options), next).await {
        Err(HubError::Invalid(message)) => {
            let mut page = render_form(state, uri, headers, &who, &control, Some(message));
            *page.status_mut() = StatusCode::BAD_REQUEST;
            Ok(page)
        }
        other => Ok(other?),
    }
}

/// Starts the server and sends the browser on: to `next` or the server when
/// it is ready within a second, else to the pending page.
async fn start(
    state: &AppState,
    control: &ServerControl,
    user_options: Option<Map<String, Value>>,
    next: Option<String>,
) -> Result<Response, HubError> {
    let wait = std::time::Duration::from_secs(1);
    match service::start_from_page(state, &control.start(), user_options, wait).await? {
        PageStart::Running | PageStart::Ready => Ok(crate::redirect::found(
            &next.unwrap_or_else(|| server_url(state, control)),
        )),
        PageStart::Pending => Ok(crate::redirect::found(&pending_url(state, control, next))),
    }
}

fn server_url(state: &AppState, control: &ServerControl) -> String {
    state
        .urls
        .server_url(&control.user().name, control.server())
}

/// `{hub}spawn-pending/<user>[/<server>]`, keeping `next`.
fn pending_url(state: &AppState, control: &ServerControl, next: Option<String>) -> String {
    let mut path = format!(
        "{}spawn-pending/{}",
        state.urls.hub,
        ferrohub_core::url::quote_name(&control.user().name)
    );
    if !control.server().is_empty() {
        path = format!(
            "{path}/{}",
            ferrohub_core::url::quote_name(control.server())
        );
    }
    if let Some(next) = next {
        path = format!("{path}?next={}", ferrohub_core::url::quote_query(&next));
    }
    path
}

fn render_form(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    who: &PageUser,
    control: &ServerControl,
    error: Option<String>,
) -> Response {
    let spawner = &state.config.spawner;
    let default = ferrohub_config::choose_profile(&spawner.profile_list, None)
        .ok()
        .flatten()
        .map(|p| p.slug.as_str());
    let profiles: Vec<_> = spawner
        .profile_list
        .iter()
        .map(|p| {
            context! {
                slug => &p.slug,
                display_name => &p.display_name,
                description => &p.description,
                checked => Some(p.slug.as_str()) == default,
            }
        })
        .collect();
    let (xsrf, cookie) = xsrf_for(state, headers, Some(&who.identity));
    let url = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let html = state.templates.render(
        "spawn.html",
        context! {
            hub => &state.urls.hub,
            user => &who.user.name,
            for_user => &control.user().name,
            url => url,
            xsrf => xsrf,
            error_message => error,
            profiles => profiles,
            spawner_options_form => &spawner.options_form,
        },
    );
    with_cookies(Html(html).into_response(), cookie)
}

/// `next`, if it is a safe local URL.
fn next_of(state: &AppState, headers: &HeaderMap, fields: &Fields) -> Option<String> {
    fields
        .iter()
        .find(|(key, _)| key == "next")
        .and_then(|(_, next)| state.urls.safe_next(next, headers))
}

/// Removes every `name` field; the first value.
fn take_field(fields: &mut Fields, name: &str) -> Option<String> {
    let mut first = None;
    fields.retain(|(key, value)| {
        if key == name {
            first.get_or_insert_with(|| value.clone());
            false
        } else {
            true
        }
    });
    first
}

/// Fields grouped by name, values in order (Tornado's `arguments`).
fn group(fields: Fields) -> BTreeMap<String, Vec<String>> {
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in fields {
        grouped.entry(key).or_default().push(value);
    }
    grouped
}

/// Upstream's `_get_user_options`: the query's options without `next` and
/// `display_name`; when any name has the `opt-` prefix, only those count
/// (prefix removed), else the unprefixed names do (the older style).
fn options_from_query(query: Fields) -> Result<BTreeMap<String, Vec<String>>, PageError> {
    let mut prefixed = BTreeMap::new();
    let mut plain = BTreeMap::new();
    for (key, values) in group(query) {
        if key == "next" || key == "display_name" {
            continue;
        }
        if let Some(name) = key.strip_prefix("opt-") {
            if name.is_empty() {
                return Err(PageError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("Invalid user-option name {key}"),
                ));
            }
            prefixed.insert(name.to_owned(), values);
        } else {
            plain.insert(key, values);
        }
    }
    if !prefixed.is_empty() {
        if !plain.is_empty() {
            tracing::warn!(
                "found a mix of opt- prefixed and unprefixed user options; ignoring the unprefixed ones"
            );
        }
        return Ok(prefixed);
    }
    if !plain.is_empty() {
        tracing::warn!(
            "user options should be prefixed with opt- to avoid conflicts with hub parameters"
        );
    }
    Ok(plain)
}

/// `user_options` from form or query fields: with a profile list, KubeSpawner's
/// `{"profile": slug}` (the first `profile` value); otherwise upstream's
/// passthrough, every field a list of strings.
fn options_from_fields(
    spawner: &SpawnerConfig,
    fields: BTreeMap<String, Vec<String>>,
) -> Map<String, Value> {
    let mut options = Map::new();
    if spawner.profile_list.is_empty() {
        for (key, values) in fields {
            options.insert(
                key,
                Value::Array(values.into_iter().map(Value::String).collect()),
            );
        }
    } else if let Some(slug) = fields.get("profile").and_then(|v| v.first()) {
        options.insert("profile".to_owned(), Value::String(slug.clone()));
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn prefixed_query_options_win_over_plain_ones() {
        let query = fields(&[
            ("next", "/x"),
            ("opt-profile", "gpu"),
            ("colour", "red"),
            ("opt-tag", "a"),
            ("opt-tag", "b"),
        ]);
        let options = options_from_query(query).unwrap();
        assert_eq!(options.len(), 2);
        assert_eq!(options["profile"], ["gpu"]);
        assert_eq!(options["tag"], ["a", "b"]);
        let plain =
            options_from_query(fields(&[("colour", "red"), ("display_name", "x")])).unwrap();
        assert_eq!(plain.keys().collect::<Vec<_>>(), ["colour"]);
        let error = options_from_query(fields(&[("opt-", "x")])).unwrap_err();
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn form_fields_become_lists_or_a_profile() {
        let grouped = group(fields(&[("key", "v"), ("letter", "A"), ("letter", "B")]));
        let passthrough = options_from_fields(&SpawnerConfig::default(), grouped.clone());
        assert_eq!(
            Value::Object(passthrough),
            serde_json::json!({"key": ["v"], "letter": ["A", "B"]})
        );
        let with_profiles = ferrohub_config::Config {
            spawner: SpawnerConfig {
                profile_list: vec![ferrohub_config::Profile {
                    display_name: "GPU".into(),
                    slug: "gpu".into(),
                    description: String::new(),
                    default: false,
                    spawner_override: Default::default(),
                }],
                ..SpawnerConfig::default()
            },
            ..Default::default()
        };
        let chosen = options_from_fields(
            &with_profiles.spawner,
            group(fields(&[("profile", "gpu"), ("profile", "x")])),
        );
        assert_eq!(Value::Object(chosen), serde_json::json!({"profile": "gpu"}));
        let none = options_from_fields(&with_profiles.spawner, grouped);
        assert!(none.is_empty());
    }
}

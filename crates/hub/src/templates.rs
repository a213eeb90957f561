//! Server-rendered pages (minijinja): templates built into the binary, which
//! `JupyterHub.template_paths` may replace one file at a time.
//!
//! Lookup follows upstream's Jinja loader: a name is looked up in each
//! `template_paths` directory in order, then among the built-in templates;
//! `templates/<name>` always means the built-in one, so an override of
//! `page.html` can `{% extends "templates/page.html" %}` and change only some
//! blocks. `template_vars` are globals of every page, and `static_url(path)`
//! links a built-in asset with its cache-busting version.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use minijinja::{Environment, Value};

#[cfg(doc)]
use crate::assets::Assets;

/// The built-in templates, by name.
const BUILT_IN: &[(&str, &str)] = &[
    ("page.html", include_str!("templates/page.html")),
    ("login.html", include_str!("templates/login.html")),
    ("logout.html", include_str!("templates/logout.html")),
    ("home.html", include_str!("templates/home.html")),
    ("token.html", include_str!("templates/token.html")),
    ("spawn.html", include_str!("templates/spawn.html")),
    ("admin.html", include_str!("templates/admin.html")),
    (
        "spawn_pending.html",
        include_str!("templates/spawn_pending.html"),
    ),
    (
        "stop_pending.html",
        include_str!("templates/stop_pending.html"),
    ),
    (
        "not_running.html",
        include_str!("templates/not_running.html"),
    ),
    ("error.html", include_str!("templates/error.html")),
    ("oauth.html", include_str!("templates/oauth.html")),
    (
        "accept_share.html",
        include_str!("templates/accept_share.html"),
    ),
];

/// Why the configured templates cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A `template_paths` entry is not a readable directory.
    #[error("JupyterHub.template_paths: {path} is not a readable directory: {source}")]
    Directory {
        /// The configured directory.
        path: String,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },
    /// A template (built-in or overriding) does not compile.
    #[error("template {name}: {source}")]
    Syntax {
        /// The template's name.
        name: String,
        /// Minijinja's description, with the line.
        #[source]
        source: minijinja::Error,
    },
    /// A `template_vars` value cannot be handed to templates.
    #[error("JupyterHub.template_vars.{name}: {message}")]
    Variable {
        /// The variable.
        name: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The compiled page templates.
pub(crate) struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The templates of a hub: `paths` searched before the built-in ones,
    /// `vars` as globals, and `static_url` linking assets under `hub` (with
    /// the versioned `asset_urls` of the built-in ones, [`Assets::urls`]).
    /// Every template that can be found is compiled here, so a syntax error
    /// in an override stops start-up with its file and line.
    pub(crate) fn new(
        paths: &[String],
        vars: &std::collections::BTreeMap<String, serde_json::Value>,
        hub: &str,
        asset_urls: HashMap<String, String>,
    ) -> Result<Self, TemplateError> {
        let dirs: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        let mut names: Vec<String> = BUILT_IN.iter().map(|(n, _)| (*n).to_owned()).collect();
        for (dir, path) in dirs.iter().zip(paths) {
            let entries = std::fs::read_dir(dir).map_err(|source| TemplateError::Directory {
                path: path.clone(),
                source,
            })?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let is_file = entry.file_type().is_ok_and(|t| t.is_file());
                if is_file && name.ends_with(".html") && !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        let mut env = Environment::new();
        let search = dirs.clone();
        env.set_loader(move |name| load(&search, name));
        for (name, value) in vars {
            if value.is_null() {
                return Err(TemplateError::Variable {
                    name: name.clone(),
                    message: "null is not a value".into(),
                });
            }
            env.add_global(name.clone(), Value::from(minijinja::value::Serde(value)));
        }
        let hub = hub.to_owned();
        env.add_function("static_url", move |path: String| -> String {
            let key = path.trim_start_matches('/');
            asset_urls
                .get(key)
                .cloned()
                .unwrap_or_else(|| format!("{hub}static/{key}"))
        });
        for name in &names {
            env.get_template(name)
                .map_err(|source| TemplateError::Syntax {
                    name: name.clone(),
                    source,
                })?;
        }
        Ok(Self { env })
    }

    /// Renders template text that is not a page, such as an authenticator's
    /// `custom_html` (upstream renders it with the login form's variables);
    /// a rendering bug is logged and gives an empty string.
    #[must_use]
    pub(crate) fn render_str(&self, source: &str, ctx: Value) -> String {
        self.env.render_str(source, ctx).unwrap_or_else(|e| {
            tracing::error!("authenticator custom_html: {e:#}");
            String::new()
        })
    }

    /// Renders a template; a rendering bug becomes a plain error page.
    #[must_use]
    pub(crate) fn render(&self, name: &str, ctx: Value) -> String {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .unwrap_or_else(|e| {
                tracing::error!("template {name}: {e:#}");
                plain_error_page(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "The page could not be rendered.",
                )
            })
    }
}

/// The source of template `name`: from the first of `dirs` that has it,
/// else built in; `templates/<name>` is always the built-in one.
fn load(dirs: &[PathBuf], name: &str) -> Result<Option<String>, minijinja::Error> {
    if let Some(built_in) = name.strip_prefix("templates/") {
        return Ok(built_in_source(built_in));
    }
    let relative = Path::new(name);
    let safe = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if safe {
        for dir in dirs {
            let path = dir.join(relative);
            match std::fs::read_to_string(&path) {
                Ok(source) => return Ok(Some(source)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("cannot read {}: {e}", path.display()),
                    ));
                }
            }
        }
    }
    Ok(built_in_source(name))
}

fn built_in_source(name: &str) -> Option<String> {
    BUILT_IN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, source)| (*source).to_owned())
}

/// A minimal error page that needs no template.
#[must_use]
pub(crate) fn plain_error_page(status: http::StatusCode, message: &str) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code}</title></head>\
         <body><h1>{code} {reason}</h1><p>{msg}</p></body></html>",
        code = status.as_u16(),
        reason = status.canonical_reason().unwrap_or(""),
        msg = escape(message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, source) in files {
            std::fs::write(dir.path().join(name), source).unwrap();
        }
        dir
    }

    #[test]
    fn an_override_replaces_a_page_and_may_extend_the_built_in_one() {
        let dir = dir_with(&[
            (
                "login.html",
                "{% extends \"page.html\" %}{% block main %}custom login {{ motd }}{% endblock %}",
            ),
            (
                "page.html",
                "{% extends \"templates/page.html\" %}{% block footer %}site footer{% endblock %}",
            ),
        ]);
        let vars = [("motd".to_owned(), serde_json::json!("hello"))].into();
        let templates = Templates::new(
            &[dir.path().display().to_string()],
            &vars,
            "/hub/",
            HashMap::new(),
        )
        .unwrap();
        let html = templates.render("login.html", minijinja::context! { hub => "/hub/" });
        assert!(html.contains("custom login hello"), "{html}");
        assert!(html.contains("site footer"), "{html}");
        assert!(html.contains("<!DOCTYPE html>"), "{html}");
        let home = templates.render(
            "error.html",
            minijinja::context! { hub => "/hub/", status => 404 },
        );
        assert!(
            home.contains("site footer"),
            "built-in pages use the overridden base: {home}"
        );
    }

    /// `announcement_login` / `announcement_logout` (template_vars) replace
    /// `announcement` on their page only, as upstream's templates do.
    #[test]
    fn page_specific_announcements_replace_the_general_one() {
        let vars = [
            ("announcement".to_owned(), serde_json::json!("General news")),
            (
                "announcement_login".to_owned(),
                serde_json::json!("Login <b>news</b>"),
            ),
        ]
        .into();
        let templates = Templates::new(&[], &vars, "/hub/", HashMap::new()).unwrap();
        let ctx = || minijinja::context! { hub => "/hub/", authenticator_login_url => "/hub/login?next=" };
        let login = templates.render("login.html", ctx());
        assert!(login.contains("Login <b>news</b>"), "{login}");
        assert!(!login.contains("General news"), "{login}");
        let logout = templates.render("logout.html", ctx());
        assert!(logout.contains("General news"), "{logout}");
        assert!(logout.contains("Successfully logged out."), "{logout}");
        let service = templates.render(
            "login.html",
            minijinja::context! { hub => "/hub/", login_service => "GitHub", authenticator_login_url => "/hub/oauth_login?next=" },
        );
        assert!(service.contains("Sign in with GitHub"), "{service}");
        assert!(!service.contains("password_input"), "{service}");
    }

    #[test]
    fn a_syntax_error_in_an_override_is_reported_with_its_name() {
        let dir = dir_with(&[("home.html", "{% block main %}unclosed")]);
        let Err(error) = Templates::new(
            &[dir.path().display().to_string()],
            &Default::default(),
            "/hub/",
            HashMap::new(),
        ) else {
            panic!("a broken override must be refused");
        };
        assert!(
            error.to_string().starts_with("template home.html:"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_directory_is_reported() {
        let Err(error) = Templates::new(
            &["/nonexistent/templates".into()],
            &Default::default(),
            "/hub/",
            HashMap::new(),
        ) else {
            panic!("a missing directory must be refused");
        };
        assert!(
            error.to_string().contains("/nonexistent/templates"),
            "{error}"
        );
    }

    #[test]
    fn names_cannot_leave_the_template_directories() {
        let dir = dir_with(&[]);
        assert_eq!(
            load(&[dir.path().to_owned()], "../../etc/passwd").unwrap(),
            None
        );
    }
}

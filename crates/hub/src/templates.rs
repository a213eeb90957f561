//! Server-rendered pages (minijinja), with templates built into the binary.

use minijinja::{Environment, Value};

/// The compiled page templates.
pub(crate) struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        for (name, source) in [
            ("page.html", include_str!("templates/page.html")),
            ("login.html", include_str!("templates/login.html")),
            ("home.html", include_str!("templates/home.html")),
            ("token.html", include_str!("templates/token.html")),
            (
                "spawn_pending.html",
                include_str!("templates/spawn_pending.html"),
            ),
            ("error.html", include_str!("templates/error.html")),
            ("oauth.html", include_str!("templates/oauth.html")),
            (
                "accept_share.html",
                include_str!("templates/accept_share.html"),
            ),
        ] {
            env.add_template(name, source)
                .expect("built-in templates are valid");
        }
        Self { env }
    }
}

impl Templates {
    /// Renders a template; a rendering bug becomes a plain error page.
    #[must_use]
    pub(crate) fn render(&self, name: &str, ctx: Value) -> String {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .unwrap_or_else(|e| {
                tracing::error!("template {name}: {e}");
                plain_error_page(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "The page could not be rendered.",
                )
            })
    }
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

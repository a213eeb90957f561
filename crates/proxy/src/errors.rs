//! Pages for errors the proxy itself produces (404 no route, 503 target
//! down, 500 unusable route), rendered as configurable-http-proxy does: from
//! `--error-target` (the hub's `/hub/error/<code>`), else from `--error-path`
//! or the built-in pages, else a plain reason phrase.

use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderValue, Request, Response, StatusCode, header};

use crate::body::{Body, boxed, empty, full};
use crate::connect::UpstreamClient;
use crate::target::target_uri;

/// How long the error server may take to answer before we fall back.
const ERROR_TARGET_TIMEOUT: Duration = Duration::from_secs(10);

/// Where error pages come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// `GET <base><code>?url=<original>`; `base` ends with `/`.
    Target(String),
    /// `<dir>/<code>.html`, else `<dir>/error.html`.
    Dir(PathBuf),
    /// Our own copies of CHP's default pages.
    BuiltIn,
}

/// Renders error responses for the data path.
pub struct ErrorPages {
    source: Source,
    client: UpstreamClient,
}

impl ErrorPages {
    /// Pages from `error_target` or `error_path` (at most one is set), else built in.
    #[must_use]
    pub fn new(
        error_target: Option<&str>,
        error_path: Option<PathBuf>,
        client: UpstreamClient,
    ) -> Self {
        let source = match (error_target, error_path) {
            (Some(target), _) if target.ends_with('/') => Source::Target(target.to_owned()),
            (Some(target), _) => Source::Target(format!("{target}/")),
            (None, Some(dir)) => Source::Dir(dir),
            (None, None) => Source::BuiltIn,
        };
        Self { source, client }
    }

    /// The response for `status` on a request whose original URL was `url`.
    pub async fn render(&self, status: StatusCode, url: &str) -> Response<Body> {
        let page = match &self.source {
            Source::Target(base) => self.fetch(base, status, url).await,
            Source::Dir(dir) => from_dir(dir, status).await,
            Source::BuiltIn => Some(html_page(status, built_in(status).into_bytes())),
        };
        page.unwrap_or_else(|| plain(status))
    }

    /// Asks the error server; its body, content type and encoding are
    /// relayed under our status code. `None` if it cannot be reached.
    async fn fetch(&self, base: &str, status: StatusCode, url: &str) -> Option<Response<Body>> {
        let location = error_target_url(base, status, url);
        tracing::debug!("Requesting custom error page: {location}");
        let uri = target_uri(&location).ok()?;
        let request = Request::get(uri).body(empty()).ok()?;
        let answer = tokio::time::timeout(ERROR_TARGET_TIMEOUT, self.client.request(request)).await;
        let upstream = match answer {
            Ok(Ok(upstream)) => upstream,
            Ok(Err(e)) => {
                tracing::error!("Failed to get custom error page: {e}");
                return None;
            }
            Err(_) => {
                tracing::error!("Failed to get custom error page: no answer from {location}");
                return None;
            }
        };
        let (parts, body) = upstream.into_parts();
        let mut response = Response::new(boxed(body));
        *response.status_mut() = status;
        for name in [header::CONTENT_TYPE, header::CONTENT_ENCODING] {
            if let Some(value) = parts.headers.get(&name) {
                response.headers_mut().insert(name, value.clone());
            }
        }
        Some(response)
    }
}

/// `<base><code>?url=<original url, form-encoded>`, keeping any query the
/// error target already has.
fn error_target_url(base: &str, status: StatusCode, url: &str) -> String {
    let (path, query) = base
        .split_once('?')
        .map_or((base, None), |(p, q)| (p, Some(q)));
    let path = if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    };
    let param = format!("url={}", form_encode(url));
    let query = query.map_or(param.clone(), |q| format!("{q}&{param}"));
    format!("{path}{}?{query}", status.as_u16())
}

/// `application/x-www-form-urlencoded` encoding of one value, as the
/// browser's `URLSearchParams` (and so CHP) produces it.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
        }
    }
    out
}

async fn from_dir(dir: &std::path::Path, status: StatusCode) -> Option<Response<Body>> {
    for name in [format!("{}.html", status.as_u16()), "error.html".to_owned()] {
        let file = dir.join(&name);
        match tokio::fs::read(&file).await {
            Ok(html) => return Some(html_page(status, html)),
            Err(e) => tracing::debug!("No error file {}: {e}", file.display()),
        }
    }
    tracing::error!("No error file in {}", dir.display());
    None
}

fn html_page(status: StatusCode, html: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(full(html));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

/// The last resort: the status code with its reason phrase as text.
fn plain(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(full(status.canonical_reason().unwrap_or("Error")));
    *response.status_mut() = status;
    response
}

/// The default pages (same titles and messages as CHP's `lib/error/`).
fn built_in(status: StatusCode) -> String {
    let (title, message) = match status.as_u16() {
        404 => ("404: Not Found", "No service is registered at this URL"),
        503 => (
            "503: Proxy Target Missing",
            "The upstream service is unavailable",
        ),
        _ => ("Proxy Error", "The proxy could not handle this request"),
    };
    format!(
        "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\" />\n    \
         <title>{title}</title>\n  </head>\n  <body>\n    <h1>{title}</h1>\n    \
         <p>{message}</p>\n    <hr />\n    <p>ferrohub-proxy</p>\n  </body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_target_urls_match_chp() {
        assert_eq!(
            error_target_url(
                "http://hub/hub/error/",
                StatusCode::NOT_FOUND,
                "/nope/x?a=b"
            ),
            "http://hub/hub/error/404?url=%2Fnope%2Fx%3Fa%3Db"
        );
        assert_eq!(
            error_target_url("http://h/err?k=v", StatusCode::SERVICE_UNAVAILABLE, "/a b~"),
            "http://h/err/503?k=v&url=%2Fa+b%7E"
        );
    }

    #[test]
    fn built_in_pages_have_chp_titles() {
        assert!(built_in(StatusCode::NOT_FOUND).contains("404: Not Found"));
        assert!(built_in(StatusCode::SERVICE_UNAVAILABLE).contains("503: Proxy Target Missing"));
        assert!(built_in(StatusCode::INTERNAL_SERVER_ERROR).contains("Proxy Error"));
    }
}

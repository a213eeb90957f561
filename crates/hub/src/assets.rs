//! Static files built into the binary (stylesheet, scripts, icons), served
//! under `{hub}static/` with cache-busting, and the logo at `{hub}logo`.
//!
//! Every asset is compiled in, so a page never fetches anything from the
//! network at run time. Templates link assets through `static_url(path)`,
//! which appends `?v=<content hash>`: a versioned URL may be cached for a
//! year, and a new build changes the hash, so browsers never run a stale
//! script against a new hub.

use std::collections::HashMap;
use std::path::Path;

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};

/// The built-in assets: path under `{hub}static/`, and content.
const BUILT_IN: &[(&str, &[u8])] = &[
    ("style.css", include_bytes!("static/style.css")),
    ("favicon.svg", include_bytes!("static/favicon.svg")),
    ("logo.svg", include_bytes!("static/logo.svg")),
    ("admin.js", include_bytes!("static/admin.js")),
    (
        "spawn_pending.js",
        include_bytes!("static/spawn_pending.js"),
    ),
    ("stop_pending.js", include_bytes!("static/stop_pending.js")),
    ("not_running.js", include_bytes!("static/not_running.js")),
    ("home.js", include_bytes!("static/home.js")),
];

/// One served file: its bytes, type and content hash.
pub(crate) struct Asset {
    bytes: Vec<u8>,
    content_type: &'static str,
    /// First 16 hex digits of the SHA-256 of `bytes`: the `?v=` and the ETag.
    pub(crate) version: String,
}

impl Asset {
    fn new(path: &str, bytes: Vec<u8>) -> Self {
        let digest = Sha256::digest(&bytes);
        let version = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Self {
            bytes,
            content_type: content_type(path),
            version,
        }
    }

    /// The file as a response; `versioned` (the URL carried the current
    /// `?v=`) lets browsers keep it for a year without asking again.
    pub(crate) fn respond(&self, versioned: bool, request: &HeaderMap) -> Response {
        let etag = format!("\"{}\"", self.version);
        let cache = if versioned {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, value);
        }
        let unchanged = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|given| given.split(',').any(|tag| tag.trim() == etag));
        if unchanged {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        (headers, self.bytes.clone()).into_response()
    }
}

/// The content type of a file, from its extension.
fn content_type(path: &str) -> &'static str {
    let extension = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match extension.as_str() {
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

/// Why the configured logo cannot be served.
#[derive(Debug, thiserror::Error)]
#[error("JupyterHub.logo_file {path}: {source}")]
pub struct LogoError {
    path: String,
    #[source]
    source: std::io::Error,
}

/// The static files and the logo, ready to serve.
pub(crate) struct Assets {
    files: HashMap<&'static str, Asset>,
    logo: Asset,
}

impl Assets {
    /// The built-in files, and `logo_file` (read once, at start-up, so a
    /// missing file stops the hub with its name instead of a broken image)
    /// or the built-in logo when it is empty.
    pub(crate) fn load(logo_file: &str) -> Result<Self, LogoError> {
        let files: HashMap<&'static str, Asset> = BUILT_IN
            .iter()
            .map(|(path, bytes)| (*path, Asset::new(path, bytes.to_vec())))
            .collect();
        let logo = if logo_file.is_empty() {
            Asset::new("logo.svg", include_bytes!("static/logo.svg").to_vec())
        } else {
            let bytes = std::fs::read(logo_file).map_err(|source| LogoError {
                path: logo_file.to_owned(),
                source,
            })?;
            Asset::new(logo_file, bytes)
        };
        Ok(Self { files, logo })
    }

    /// The built-in file at `path` under `{hub}static/`.
    pub(crate) fn file(&self, path: &str) -> Option<&Asset> {
        self.files.get(path)
    }

    /// The configured logo, or the built-in one.
    pub(crate) fn logo(&self) -> &Asset {
        &self.logo
    }

    /// `{hub}static/<path>?v=<hash>` of every built-in file, by path, for
    /// the templates' `static_url`.
    pub(crate) fn urls(&self, hub: &str) -> HashMap<String, String> {
        self.files
            .iter()
            .map(|(path, asset)| {
                let url = format!("{hub}static/{path}?v={}", asset.version);
                ((*path).to_owned(), url)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_the_content() {
        let a = Asset::new("a.css", b"body{}".to_vec());
        let b = Asset::new("b.css", b"body{ }".to_vec());
        assert_eq!(a.version.len(), 16);
        assert_ne!(a.version, b.version);
        assert_eq!(a.content_type, "text/css; charset=utf-8");
    }

    #[test]
    fn a_missing_logo_is_named() {
        let Err(error) = Assets::load("/nonexistent/logo.png") else {
            panic!("a missing logo must be refused");
        };
        assert!(
            error.to_string().contains("/nonexistent/logo.png"),
            "{error}"
        );
    }
}

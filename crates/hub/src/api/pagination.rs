//! Upstream's list pagination: `offset`/`limit` query arguments, and the
//! `{"items", "_pagination"}` envelope for clients that send
//! `Accept: application/jupyterhub-pagination+json`. Clients that do not get a
//! bare list of at most `api_page_max_limit` items, as upstream, so old scripts
//! keep working.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use http::header::{ACCEPT, HOST};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// The media type that asks for the paginated envelope.
pub(super) const PAGINATION_MEDIA_TYPE: &str = "application/jupyterhub-pagination+json";

/// One requested page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Page {
    /// Items to skip.
    pub offset: i64,
    /// Items to return.
    pub limit: i64,
    /// Whether the client asked for the envelope.
    pub envelope: bool,
}

/// Whether the `Accept` header lists the pagination media type.
fn accepts_pagination(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(PAGINATION_MEDIA_TYPE))
}

/// Parses an integer the way Python's `int()` does for query strings.
fn python_int(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    // Python ints have no bounds: saturate instead of refusing huge numbers.
    match digits.replace('_', "").parse::<i64>() {
        Ok(n) => Some(n),
        Err(e) => match e.kind() {
            std::num::IntErrorKind::PosOverflow => Some(i64::MAX),
            std::num::IntErrorKind::NegOverflow => Some(i64::MIN),
            _ => None,
        },
    }
}

impl Page {
    /// Reads `offset` and `limit` from the query; the default limit is
    /// `api_page_default_limit` for paginating clients, `api_page_max_limit` otherwise.
    pub(super) fn from_request(
        state: &AppState,
        query: &[(String, String)],
        headers: &HeaderMap,
    ) -> Result<Self, ApiError> {
        let max = i64::from(state.config.jupyterhub.api_page_max_limit.max(1));
        let envelope = accepts_pagination(headers);
        let default = if envelope {
            i64::from(state.config.jupyterhub.api_page_default_limit)
        } else {
            max
        };
        let arg = |name: &str| query.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
        let invalid =
            || ApiError::bad_request("Invalid argument type, offset and limit must be integers");
        let offset = match arg("offset") {
            Some(v) => python_int(v).ok_or_else(invalid)?.saturating_abs(),
            None => 0,
        };
        let limit = match arg("limit") {
            Some(v) => python_int(v).ok_or_else(invalid)?.saturating_abs(),
            None => default,
        };
        Ok(Self {
            offset,
            limit: limit.clamp(1, max),
            envelope,
        })
    }

    /// The response for one page of `items` out of `total`: the envelope with an
    /// absolute `next` URL when asked for, else the bare list.
    pub(super) fn respond(
        &self,
        items: Vec<Value>,
        total: i64,
        headers: &HeaderMap,
        uri: &http::Uri,
        scheme: &str,
    ) -> Response {
        if !self.envelope {
            return Json(Value::Array(items)).into_response();
        }
        Json(self.envelope(Value::Array(items), total, headers, uri, scheme)).into_response()
    }

    /// [`Page::respond`] for items that serialize themselves, so that a long
    /// page is written straight to the response without a JSON tree per item
    /// (the user list).
    pub(super) fn respond_with<T: Serialize>(
        &self,
        items: &[T],
        total: i64,
        headers: &HeaderMap,
        uri: &http::Uri,
        scheme: &str,
    ) -> Response {
        if !self.envelope {
            return Json(items).into_response();
        }
        Json(Envelope {
            pagination: self.pagination(total, headers, uri, scheme),
            items,
        })
        .into_response()
    }

    /// The `{"items", "_pagination"}` value around `items` (a list, or a dict for `/proxy`).
    pub(super) fn envelope(
        &self,
        items: Value,
        total: i64,
        headers: &HeaderMap,
        uri: &http::Uri,
        scheme: &str,
    ) -> Value {
        // `items` is moved in, not copied as `json!` would copy it.
        let mut envelope = serde_json::Map::with_capacity(2);
        envelope.insert("items".to_owned(), items);
        envelope.insert(
            "_pagination".to_owned(),
            self.pagination(total, headers, uri, scheme),
        );
        Value::Object(envelope)
    }

    /// The `_pagination` part of the envelope.
    fn pagination(&self, total: i64, headers: &HeaderMap, uri: &http::Uri, scheme: &str) -> Value {
        let next_offset = self.offset.saturating_add(self.limit);
        let next = (next_offset < total).then(|| {
            json!({
                "offset": next_offset,
                "limit": self.limit,
                "url": next_url(headers, uri, scheme, next_offset, self.limit),
            })
        });
        json!({
            "offset": self.offset,
            "limit": self.limit,
            "total": total,
            "next": next,
        })
    }
}

/// The envelope of [`Page::respond_with`]; fields in the order a JSON object
/// of the same envelope is written.
#[derive(Serialize)]
struct Envelope<'a, T> {
    #[serde(rename = "_pagination")]
    pagination: Value,
    items: &'a [T],
}

/// The request's own absolute URL with `offset` and `limit` replaced (kept in
/// place when present, appended otherwise), as upstream builds it.
fn next_url(headers: &HeaderMap, uri: &http::Uri, scheme: &str, offset: i64, limit: i64) -> String {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let mut pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    for (name, value) in [("offset", offset), ("limit", limit)] {
        match pairs.iter().position(|(k, _)| k == name) {
            Some(first) => {
                pairs[first].1 = value.to_string();
                let mut index = 0;
                pairs.retain(|(k, _)| {
                    index += 1;
                    k != name || index - 1 == first
                });
            }
            None => pairs.push((name.to_owned(), value.to_string())),
        }
    }
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    format!("{scheme}://{host}{}?{query}", uri.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_url_replaces_offset_and_limit_in_place() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, "127.0.0.1:8000".parse().unwrap());
        let uri: http::Uri = "/hub/api/users?limit=2&sort=-name".parse().unwrap();
        assert_eq!(
            next_url(&headers, &uri, "http", 2, 2),
            "http://127.0.0.1:8000/hub/api/users?limit=2&sort=-name&offset=2"
        );
        let uri: http::Uri = "/hub/api/users?offset=0&offset=9&x=%C3%A9".parse().unwrap();
        assert_eq!(
            next_url(&headers, &uri, "https", 50, 50),
            "https://127.0.0.1:8000/hub/api/users?offset=50&x=%C3%A9&limit=50"
        );
    }

    #[test]
    fn python_int_accepts_what_int_accepts() {
        assert_eq!(python_int(" 12 "), Some(12));
        assert_eq!(python_int("+3"), Some(3));
        assert_eq!(python_int("-4"), Some(-4));
        assert_eq!(python_int("1_000"), Some(1000));
        assert_eq!(python_int("99999999999999999999"), Some(i64::MAX));
        assert_eq!(python_int("-99999999999999999999"), Some(i64::MIN));
        for bad in ["", "x", "1.5", "_1", "1__0", "0x10"] {
            assert_eq!(python_int(bad), None, "{bad}");
        }
    }
}

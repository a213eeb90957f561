//! `--redirect-port`: a plain-HTTP listener that sends every request to the
//! HTTPS proxy with `301 Location: https://<host>[:<port>]<url>`, as CHP's
//! redirect server does (the port is `--redirect-to`, else the public port,
//! and left out when it is 443).

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};

use crate::body::{Body, empty, full};

/// The redirect for `req` to HTTPS on `port`; 400 with CHP's explanation
/// when the request has no `Host` to redirect to.
pub fn redirect<B>(req: &Request<B>, port: u16) -> Response<Body> {
    let url = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty());
    let location = host.map(|host| {
        let name = host_name(host);
        if port == 443 {
            format!("https://{name}{url}")
        } else {
            format!("https://{name}:{port}{url}")
        }
    });
    match location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        Some(location) => {
            let mut response = Response::new(empty());
            *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
            response.headers_mut().insert(header::LOCATION, location);
            response
        }
        None => {
            let mut response = Response::new(full(format!(
                "This server is HTTPS-only on port {port}, but an HTTP request was made and \
                 the host could not be determined from the request."
            )));
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response
        }
    }
}

/// A `Host` value without its port (`[::1]:80` → `[::1]`). CHP splits at the
/// first `:`, which breaks IPv6 literals; this keeps them whole.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.split(':').next().unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(host: Option<&str>, url: &str, port: u16) -> (StatusCode, String) {
        let mut req = Request::get(url);
        if let Some(host) = host {
            req = req.header("host", host);
        }
        let response = redirect(&req.body(()).unwrap(), port);
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (response.status(), location)
    }

    #[test]
    fn redirects_like_chp() {
        assert_eq!(
            location(Some("hub.example:80"), "/user/a?x=1", 8443),
            (
                StatusCode::MOVED_PERMANENTLY,
                "https://hub.example:8443/user/a?x=1".to_owned()
            )
        );
        assert_eq!(
            location(Some("hub.example"), "/", 443).1,
            "https://hub.example/"
        );
        assert_eq!(
            location(Some("[::1]:8080"), "/x", 8443).1,
            "https://[::1]:8443/x"
        );
        let (status, location) = location(None, "/x", 8443);
        assert_eq!((status, location.as_str()), (StatusCode::BAD_REQUEST, ""));
    }
}

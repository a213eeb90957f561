//! Error pages: fetched from `--error-target`, read from `--error-path`, or built in.

use http::{Response, StatusCode, header};
use http_body_util::BodyExt;

use crate::body::{Body, full};
use crate::forward::Forwarder;

/// The page for a proxy-generated error.
pub async fn page(forwarder: &Forwarder, status: StatusCode, original_url: &str) -> Response<Body> {
    let options = &forwarder.options;
    if let Some(target) = &options.error_target {
        let url = format!(
            "{}/{}?url={}",
            target.trim_end_matches('/'),
            status.as_u16(),
            percent_encoding::utf8_percent_encode(original_url, percent_encoding::NON_ALPHANUMERIC)
        );
        if let Some(body) = fetch(forwarder, &url).await {
            return html(status, body);
        }
    }
    if let Some(dir) = &options.error_path {
        for name in [format!("{}.html", status.as_u16()), "error.html".to_owned()] {
            if let Ok(body) = tokio::fs::read(dir.join(name)).await {
                return html(status, body);
            }
        }
    }
    let reason = status.canonical_reason().unwrap_or("Error");
    let text = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{code} {reason}</title></head>\
         <body><h1>{code}</h1><p>{reason}</p></body></html>\n",
        code = status.as_u16()
    );
    html(status, text.into_bytes())
}

async fn fetch(forwarder: &Forwarder, url: &str) -> Option<Vec<u8>> {
    let request = http::Request::get(url).body(crate::body::empty()).ok()?;
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        forwarder.client.request(request),
    )
    .await
    .ok()?
    .ok()?;
    let bytes = response.into_body().collect().await.ok()?.to_bytes();
    Some(bytes.to_vec())
}

fn html(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html"),
    );
    response
}

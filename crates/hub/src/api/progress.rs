//! `GET /users/{name}/server/progress` (and named servers): the spawn's
//! progress as a `text/event-stream`, the way JupyterLab's and the hub's
//! pending pages follow a starting server.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::ApiError;
use crate::servers::Phase;
use crate::state::AppState;

/// Upstream writes a blank line this often so idle proxies keep the stream open.
const KEEPALIVE: Duration = Duration::from_secs(8);

/// The log name upstream uses in messages: `alice`, or `alice:gpu` for a named server.
#[must_use]
pub fn log_name(user: &str, server: &str) -> String {
    if server.is_empty() {
        user.to_owned()
    } else {
        format!("{user}:{server}")
    }
}

fn ready_event(url: &str) -> Value {
    let escaped = html_escape(url);
    json!({
        "progress": 100,
        "ready": true,
        "message": format!("Server ready at {url}"),
        "html_message": format!("Server ready at <a href=\"{escaped}\">{escaped}</a>"),
        "url": url,
    })
}

fn failed_event(reason: &str) -> Value {
    json!({"progress": 100, "failed": true, "message": format!("Spawn failed: {reason}")})
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn frame(event: &Value) -> Bytes {
    Bytes::from(format!("data: {event}\n\n"))
}

/// Streams the progress of `user`'s server `server` (already authorized and known to exist).
pub fn stream(state: &AppState, user: &str, server: &str) -> Result<Response, ApiError> {
    let url = state.urls.server_prefix(user, server);
    let phase = state.servers.phase(user, server);
    let first: Vec<Value> = match &phase {
        Phase::Ready => vec![ready_event(&url)],
        Phase::Failed(reason) => vec![failed_event(reason)],
        Phase::Spawning => vec![
            json!({"progress": 0, "message": "Server requested"}),
            json!({"progress": 50, "message": "Spawning server..."}),
        ],
        Phase::Stopped | Phase::Stopping => {
            return Err(ApiError::bad_request(format!(
                "{} is not starting...",
                log_name(user, server)
            )));
        }
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(8);
    let state = state.clone();
    let (user, server) = (user.to_owned(), server.to_owned());
    tokio::spawn(async move {
        for event in &first {
            if tx.send(Ok(frame(event))).await.is_err() {
                return;
            }
        }
        if phase != Phase::Spawning {
            return;
        }
        let last = loop {
            let settled = state.servers.wait_settled(&user, &server, KEEPALIVE).await;
            if settled.pending().is_none() {
                break settled;
            }
            if tx.send(Ok(Bytes::from_static(b"\n\n"))).await.is_err() {
                return;
            }
        };
        let event = match last {
            Phase::Ready => ready_event(&url),
            Phase::Failed(reason) => failed_event(&reason),
            _ => json!({"progress": 100, "failed": true, "message": "Spawn cancelled"}),
        };
        let _ = tx.send(Ok(frame(&event))).await;
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "text/event-stream")
        .header(http::header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .map_err(|e| ApiError::internal(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_match_upstream() {
        assert_eq!(
            ready_event("/user/alice/"),
            json!({"progress": 100, "ready": true, "message": "Server ready at /user/alice/",
                   "html_message": "Server ready at <a href=\"/user/alice/\">/user/alice/</a>",
                   "url": "/user/alice/"})
        );
        assert_eq!(failed_event("boom")["message"], "Spawn failed: boom");
        assert_eq!(log_name("alice", ""), "alice");
        assert_eq!(log_name("alice", "gpu"), "alice:gpu");
    }
}

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
use crate::runtime::Phase;
use crate::runtime::registry::ProgressEvent;
use crate::service::servers::Progress;

/// Upstream writes a blank line this often so idle proxies keep the stream open.
const KEEPALIVE: Duration = Duration::from_secs(8);

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

fn step_event(event: &ProgressEvent) -> Value {
    json!({"progress": event.progress, "message": event.message})
}

/// Streams a spawn's progress (the caller's `read:servers` was checked by
/// [`crate::service::servers::progress`], which also refused a server not
/// starting): every step of the spawn so far, each new one as it happens,
/// then the ready or failed event.
pub(super) fn stream(progress: Progress) -> Result<Response, ApiError> {
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(16);
    tokio::spawn(async move {
        let send = |event: &Value| tx.send(Ok(frame(event)));
        match progress.phase() {
            Phase::Ready => {
                // The client may have gone; nothing is left to tell it then.
                let _ignored = send(&ready_event(progress.url())).await;
                return;
            }
            Phase::Failed(reason) => {
                let _ignored = send(&failed_event(reason)).await;
                return;
            }
            _ => {}
        }
        let mut log = progress.events();
        let mut sent = 0;
        let last = loop {
            let events = log.borrow_and_update().clone();
            for event in events.iter().skip(sent) {
                if send(&step_event(event)).await.is_err() {
                    return;
                }
            }
            sent = events.len();
            tokio::select! {
                changed = log.changed() => {
                    if changed.is_err() {
                        // The log was dropped (server removed): wait for the phase alone.
                        break progress.settled(Duration::MAX).await;
                    }
                }
                settled = progress.settled(KEEPALIVE) => {
                    if settled.pending().is_none() {
                        break settled;
                    }
                    if tx.send(Ok(Bytes::from_static(b"\n\n"))).await.is_err() {
                        return;
                    }
                }
            }
        };
        let event = match last {
            Phase::Ready => ready_event(progress.url()),
            Phase::Failed(reason) => failed_event(&reason),
            _ => json!({"progress": 100, "failed": true, "message": "Spawn cancelled"}),
        };
        if send(&event).await.is_err() {
            tracing::debug!("progress stream closed before its last event");
        }
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
    }
}

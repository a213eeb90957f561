//! The one body type every response and upstream request uses, so the
//! forwarding engine can stream any mix of bodies (client, target, static
//! pages) without buffering them.

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};

/// Any error a body can fail with; boxed because bodies come from hyper, from
/// our timeouts and from files alike.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A streaming body, boxed. "Unsync" because hyper's incoming bodies need not
/// be `Sync` and nothing here shares a body between threads.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// Boxes any body into [`Body`].
pub fn boxed<B>(body: B) -> Body
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed_unsync()
}

/// A body holding these bytes (error pages, API answers).
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

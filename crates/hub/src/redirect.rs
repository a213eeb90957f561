//! Redirect responses with upstream's status codes (302 Found; axum's
//! `Redirect::to` answers 303).

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

/// `302 Found` to `location`.
#[must_use]
pub(crate) fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

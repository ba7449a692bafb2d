//! HTTP middleware in front of Socket.IO: the rate at which new sessions
//! are admitted, and the copy of the request head Socket.IO keeps.

use axum::extract::OriginalUri;
use axum::http::{HeaderValue, Uri};
use socketioxide::socket::Sid;

use crate::app::App;
use crate::http_error::ApiError;

/// Where Socket.IO answers (its default path).
const SOCKET_IO_PATH: &str = "/socket.io/";

/// A request to the Socket.IO path without a session id opens a session.
/// New sessions are admitted at the node's rate: a reconnect storm is
/// answered 429 with `Retry-After`, and socket.io-client's backoff spreads
/// the retries out, instead of every client landing at once.
pub(crate) async fn admit_session(
    axum::extract::State(app): axum::extract::State<App>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let uri = request.uri();
    // Both the polling handshake and the websocket upgrade are GETs; a
    // CORS preflight opens nothing. Socket.IO takes a sid it cannot parse
    // for none and opens a session, so only a well-formed sid marks a
    // request of an open session.
    let opens = request.method() == axum::http::Method::GET
        && uri.path().starts_with(SOCKET_IO_PATH)
        && !uri.query().is_some_and(|query| {
            query.split('&').any(|pair| {
                pair.strip_prefix("sid=")
                    .is_some_and(|sid| sid.parse::<Sid>().is_ok())
            })
        });
    if opens && let Err(limited) = app.limits.open_session() {
        return axum::response::IntoResponse::into_response(ApiError::from(limited));
    }
    next.run(request).await
}

/// Socket.IO keeps the request that opened a session for the session's
/// life. Hyper parses header values and the URI (and axum's `OriginalUri`) as
/// slices of the connection's read buffer, so a kept request would pin that
/// whole 16 KiB buffer per socket; a copy of the head lets it go. Other
/// requests pass untouched.
pub(crate) fn detach_head(request: axum::extract::Request) -> axum::extract::Request {
    if !request.uri().path().starts_with(SOCKET_IO_PATH) {
        return request;
    }
    let (mut parts, body) = request.into_parts();
    parts.headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let copy = HeaderValue::from_bytes(value.as_bytes()).map(|mut copy| {
                copy.set_sensitive(value.is_sensitive());
                copy
            });
            (name.clone(), copy.unwrap_or_else(|_| value.clone()))
        })
        .collect();
    let copy = |uri: &Uri| uri.to_string().parse().unwrap_or_else(|_| uri.clone());
    parts.uri = copy(&parts.uri);
    if let Some(OriginalUri(original)) = parts.extensions.get_mut() {
        *original = copy(original);
    }
    axum::extract::Request::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, Bytes};
    use axum::extract::OriginalUri;
    use axum::http::{HeaderValue, Request, Uri};

    use super::detach_head;

    #[test]
    fn a_socket_io_request_keeps_no_slice_of_the_buffer_it_was_parsed_from() {
        // As hyper parses a request: every part a slice of one read buffer.
        let buffer = Bytes::from_static(b"/socket.io/?EIO=4&transport=websocketcustomer-7");
        let uri = Uri::from_maybe_shared(buffer.slice(..37)).unwrap();
        let customer = HeaderValue::from_maybe_shared(buffer.slice(37..)).unwrap();
        let mut request = Request::builder()
            .uri(uri.clone())
            .header("x-customer-id", customer)
            .body(Body::empty())
            .unwrap();
        request.extensions_mut().insert(OriginalUri(uri));
        let in_buffer = |part: &[u8]| buffer.as_ptr_range().contains(&part.as_ptr());
        assert!(
            in_buffer(request.uri().path().as_bytes()),
            "the test's premise"
        );

        let detached = detach_head(request);
        let original = &detached.extensions().get::<OriginalUri>().unwrap().0;
        for part in [
            detached.uri().path().as_bytes(),
            original.path().as_bytes(),
            detached.headers()["x-customer-id"].as_bytes(),
        ] {
            assert!(!in_buffer(part), "{:?} still points into the buffer", part);
        }
        assert_eq!(detached.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(original, "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(detached.headers()["x-customer-id"], "customer-7");
    }
}

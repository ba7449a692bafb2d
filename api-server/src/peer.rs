//! Where a request came from, as the HTTP API and the live channel both
//! read it for the per-address limits.

/// The peer address axum's connect info recorded in a request's extensions;
/// Socket.IO reads it from the request that opened the session.
pub fn peer_address(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

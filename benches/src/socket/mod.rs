//! A Socket.IO client (protocol v5 over Engine.IO v4) on websocket or HTTP
//! long-polling, shared by `flashload` and the api-server's tests. It is
//! made for thousands of watchers in one process: one task per client, no
//! background threads, one HTTP connection pool shared by the polling
//! clients.
//!
//! It does what a watching browser does: connect to namespace `/` (with an
//! `auth` payload if asked), emit with an ack, receive events, answer
//! pings. For hostile-input tests it also sends raw text and binary frames
//! and hands over every ack, refusal and close as it comes. (The maintained
//! Rust client, `rust_socketio` 0.6, received nothing from the server over
//! its websocket-only transport, so it could not measure the fan-out.)
//!
//! - `packet.rs`: reading and writing the packets;
//! - `link.rs`: the websocket and long-polling transports.

mod link;
mod packet;

pub use packet::{Event, Received};

use std::collections::VecDeque;
use std::fmt::Display;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use link::Link;
use packet::Packet;

/// How long [`SocketClient::watching`] waits for its watch's ack, and a
/// bound for callers of [`SocketClient::emit_with_ack_within`] to share: far
/// longer than a healthy server takes, short enough that a stuck one fails
/// a test rather than hangs it.
pub const ACK_LIMIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("websocket: {0}")]
    Websocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("polling: {0}")]
    Http(#[from] reqwest::Error),
    #[error("unexpected packet {0:?}")]
    Protocol(String),
    /// The server answered the connect with `connect_error` and this data
    /// (`{"message": …}` from this project's server).
    #[error("the server refused the socket: {0}")]
    Refused(Value),
    #[error("no ack to {event:?} within {limit:?}")]
    NoAck { event: String, limit: Duration },
    #[error("the server closed the connection")]
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Websocket,
    Polling,
}

pub struct SocketClient {
    link: Link,
    next_ack: u64,
    /// What arrived while waiting for an ack, oldest first.
    pending: VecDeque<Received>,
}

impl SocketClient {
    /// Opens a session at `http_addr` (`HOST:PORT`) and joins namespace `/`.
    /// `http` is shared by all polling clients.
    pub async fn connect(
        http_addr: &str,
        transport: Transport,
        http: &reqwest::Client,
    ) -> Result<Self, SocketError> {
        Self::connect_with_auth(http_addr, transport, None, http).await
    }

    /// [`connect`](Self::connect), presenting `auth` to namespace `/` as a
    /// browser's `io(url, { auth })` does. A refusal is
    /// [`SocketError::Refused`].
    pub async fn connect_with_auth(
        http_addr: impl Display,
        transport: Transport,
        auth: Option<&Value>,
        http: &reqwest::Client,
    ) -> Result<Self, SocketError> {
        let link = match transport {
            Transport::Websocket => Link::websocket(http_addr).await?,
            Transport::Polling => Link::polling(http_addr, http).await?,
        };
        Self::join(link, auth).await
    }

    /// A websocket session at `http_addr` (`HOST:PORT`) joined to namespace
    /// `/` with `auth`; it needs no HTTP pool.
    pub async fn websocket(
        http_addr: impl Display,
        auth: Option<&Value>,
    ) -> Result<Self, SocketError> {
        Self::join(Link::websocket(http_addr).await?, auth).await
    }

    /// A websocket session without `auth` that watches `sku`, its watch
    /// acknowledged with a snapshot within [`ACK_LIMIT`].
    pub async fn watching(http_addr: impl Display, sku: &str) -> Result<Self, SocketError> {
        let mut socket = Self::websocket(http_addr, None).await?;
        let ack = socket
            .emit_with_ack_within("watch", watch_request(sku), ACK_LIMIT)
            .await?;
        snapshot_version(&ack)?;
        Ok(socket)
    }

    /// Emits `event` with `data` and waits for the server's ack (its first
    /// argument).
    pub async fn emit_with_ack(&mut self, event: &str, data: Value) -> Result<Value, SocketError> {
        self.ack(event, data, None).await
    }

    /// [`emit_with_ack`](Self::emit_with_ack), giving up with
    /// [`SocketError::NoAck`] after `limit`.
    pub async fn emit_with_ack_within(
        &mut self,
        event: &str,
        data: Value,
        limit: Duration,
    ) -> Result<Value, SocketError> {
        self.ack(event, data, Some(limit)).await
    }

    /// Watches `sku`; returns the version of the snapshot the ack carries.
    pub async fn watch(&mut self, sku: &str) -> Result<u64, SocketError> {
        let ack = self.emit_with_ack("watch", watch_request(sku)).await?;
        snapshot_version(&ack)
    }

    /// The next event the server emits; acks and refusals are passed over.
    pub async fn next_event(&mut self) -> Result<Event, SocketError> {
        while let Some(received) = self.pending.pop_front() {
            if let Received::Event(event) = received {
                return Ok(event);
            }
        }
        loop {
            match self.receive_until(None).await? {
                Some(Received::Event(event)) => return Ok(event),
                Some(Received::Closed) => return Err(SocketError::Closed),
                _ => {}
            }
        }
    }

    /// Whatever the server sends next, or `None` if nothing comes within
    /// `limit`. A connection that failed reads as [`Received::Closed`]: to
    /// a caller waiting on it, it is as over as a closed one.
    pub async fn next_within(&mut self, limit: Duration) -> Option<Received> {
        if let Some(received) = self.pending.pop_front() {
            return Some(received);
        }
        self.receive_until(Some(Instant::now() + limit))
            .await
            .unwrap_or(Some(Received::Closed))
    }

    /// Whether the server closes the socket within `limit`; what comes
    /// first is passed over.
    pub async fn closed_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while let Some(received) = self
            .next_within(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            if received == Received::Closed {
                return true;
            }
        }
        false
    }

    /// Sends `text` as it is: one websocket text frame, or one polling
    /// POST's body.
    pub async fn send_raw(&mut self, text: &str) -> Result<(), SocketError> {
        self.link.send_text(text).await
    }

    /// Sends `bytes` as they are: one websocket binary frame, or one polling
    /// POST's body.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), SocketError> {
        self.link.send_binary(bytes).await
    }

    /// Reads the session's open packet and connects to namespace `/`.
    async fn join(link: Link, auth: Option<&Value>) -> Result<Self, SocketError> {
        let mut client = Self {
            link,
            next_ack: 0,
            pending: VecDeque::new(),
        };
        let open = client.handshake_packet().await?;
        match packet::parse(&open) {
            Packet::Open => {}
            Packet::Received(Received::Closed) => return Err(SocketError::Closed),
            _ => return Err(SocketError::Protocol(open)),
        }
        client.link.send_text(&packet::connect(auth)).await?;
        let answer = client.handshake_packet().await?;
        match packet::parse(&answer) {
            Packet::Connected => Ok(client),
            Packet::Received(Received::ConnectError(_, data)) => Err(SocketError::Refused(data)),
            Packet::Received(Received::Closed) => Err(SocketError::Closed),
            _ => Err(SocketError::Protocol(answer)),
        }
    }

    /// The next packet of the handshake; pings are answered and noops
    /// passed over on the way.
    async fn handshake_packet(&mut self) -> Result<String, SocketError> {
        loop {
            let packet = self.link.read().await?;
            match packet::parse(&packet) {
                Packet::Ping => self.link.send_text(packet::PONG).await?,
                Packet::Noop => {}
                _ => return Ok(packet),
            }
        }
    }

    async fn ack(
        &mut self,
        event: &str,
        data: Value,
        limit: Option<Duration>,
    ) -> Result<Value, SocketError> {
        let id = self.next_ack;
        self.next_ack += 1;
        self.link
            .send_text(&packet::event_with_ack(id, event, data))
            .await?;
        let deadline = limit.map(|limit| Instant::now() + limit);
        loop {
            match self.receive_until(deadline).await? {
                Some(Received::Ack(answered, data)) if answered == id => return Ok(data),
                Some(Received::Closed) => return Err(SocketError::Closed),
                Some(other) => self.pending.push_back(other),
                None => {
                    return Err(SocketError::NoAck {
                        event: event.to_owned(),
                        limit: limit.unwrap_or_default(),
                    });
                }
            }
        }
    }

    /// The next thing a caller acts on, pings answered on the way; `None`
    /// once `deadline` passes. Only the read waits under the deadline, so a
    /// pong is never cut off halfway.
    async fn receive_until(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<Received>, SocketError> {
        loop {
            let read = match deadline {
                None => self.link.read().await,
                Some(deadline) => match tokio::time::timeout_at(deadline, self.link.read()).await {
                    Ok(read) => read,
                    Err(_) => return Ok(None),
                },
            };
            let packet = match read {
                Ok(packet) => packet,
                Err(SocketError::Closed) => return Ok(Some(Received::Closed)),
                Err(e) => return Err(e),
            };
            match packet::parse(&packet) {
                Packet::Ping => self.link.send_text(packet::PONG).await?,
                Packet::Received(received) => return Ok(Some(received)),
                Packet::Open | Packet::Noop | Packet::Connected | Packet::Unknown => {}
            }
        }
    }
}

fn watch_request(sku: &str) -> Value {
    serde_json::json!({ "sku": sku })
}

/// The version of the snapshot a successful watch's ack carries.
fn snapshot_version(ack: &Value) -> Result<u64, SocketError> {
    ack["version"]
        .as_u64()
        .ok_or_else(|| SocketError::Protocol(ack.to_string()))
}

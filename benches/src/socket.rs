//! A Socket.IO client (protocol v5 over Engine.IO v4) on websocket or
//! HTTP long-polling, made for thousands of watchers in one process: one
//! task per client, no background threads, shared HTTP connection pool.
//!
//! It does what a watching browser does and no more: connect to namespace
//! `/`, emit with an ack, receive events, answer pings. (The maintained Rust
//! client, `rust_socketio` 0.6, received nothing from the server over its
//! websocket-only transport, so it could not measure the fan-out.)

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Engine.IO v4 separates packets in one polling payload with this byte.
const RECORD_SEPARATOR: char = '\u{1e}';
/// Longer than the server's ping interval, so a long poll is never cut short.
const POLL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("websocket: {0}")]
    Websocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("polling: {0}")]
    Http(#[from] reqwest::Error),
    #[error("unexpected packet {0:?}")]
    Protocol(String),
    #[error("the server closed the connection")]
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Websocket,
    Polling,
}

/// An event the server emitted.
#[derive(Clone, Debug)]
pub struct Event {
    pub name: String,
    pub data: Value,
    /// Size of the Socket.IO packet on the wire.
    pub bytes: usize,
}

enum Link {
    Websocket(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
    Polling {
        http: reqwest::Client,
        url: String,
        /// Packets of the last poll not handed out yet.
        queued: VecDeque<String>,
    },
}

/// tungstenite zero-fills its whole read buffer (128 KiB by default) before
/// every read; with thousands of clients each reading a small event at a
/// time, that alone took a quarter of the load generator's CPU. Events are
/// far smaller than this.
fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096)
}

pub struct SocketClient {
    link: Link,
    next_ack: u64,
    /// Events that arrived while waiting for an ack.
    early: VecDeque<Event>,
}

impl SocketClient {
    /// Opens a session at `http_addr` (`HOST:PORT`) and joins namespace `/`.
    /// `http` is shared by all polling clients.
    pub async fn connect(
        http_addr: &str,
        transport: Transport,
        http: &reqwest::Client,
    ) -> Result<Self, SocketError> {
        let link = match transport {
            Transport::Websocket => {
                let url = format!("ws://{http_addr}/socket.io/?EIO=4&transport=websocket");
                let (ws, _) =
                    tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), false)
                        .await?;
                Link::Websocket(Box::new(ws))
            }
            Transport::Polling => {
                let base = format!("http://{http_addr}/socket.io/?EIO=4&transport=polling");
                let open = poll(http, &base).await?;
                let sid = open
                    .strip_prefix('0')
                    .and_then(|json| serde_json::from_str::<Value>(json).ok())
                    .and_then(|v| v["sid"].as_str().map(str::to_owned))
                    .ok_or_else(|| SocketError::Protocol(open.clone()))?;
                Link::Polling {
                    http: http.clone(),
                    url: format!("{base}&sid={sid}"),
                    queued: VecDeque::new(),
                }
            }
        };
        let mut client = Self {
            link,
            next_ack: 0,
            early: VecDeque::new(),
        };
        if transport == Transport::Websocket {
            let open = client.receive().await?;
            if !open.starts_with('0') {
                return Err(SocketError::Protocol(open));
            }
        }
        client.send("40").await?;
        let connected = client.receive().await?;
        if !connected.starts_with("40") {
            return Err(SocketError::Protocol(connected));
        }
        Ok(client)
    }

    /// Emits `event` with `data` and waits for the server's ack.
    pub async fn emit_with_ack(&mut self, event: &str, data: Value) -> Result<Value, SocketError> {
        let id = self.next_ack;
        self.next_ack += 1;
        let packet = format!("42{id}{}", Value::from(vec![Value::from(event), data]));
        self.send(&packet).await?;
        let prefix = format!("43{id}");
        loop {
            let packet = self.receive().await?;
            if let Some(args) = packet.strip_prefix(&prefix) {
                let mut args: Vec<Value> = serde_json::from_str(args)
                    .map_err(|_| SocketError::Protocol(packet.clone()))?;
                return Ok(if args.is_empty() {
                    Value::Null
                } else {
                    args.swap_remove(0)
                });
            }
            if let Some(event) = parse_event(&packet) {
                self.early.push_back(event);
            }
        }
    }

    /// Watches `sku`; returns the version of the snapshot the ack carries.
    pub async fn watch(&mut self, sku: &str) -> Result<u64, SocketError> {
        let ack = self
            .emit_with_ack("watch", serde_json::json!({ "sku": sku }))
            .await?;
        ack["version"]
            .as_u64()
            .ok_or_else(|| SocketError::Protocol(ack.to_string()))
    }

    /// The next event the server emits.
    pub async fn next_event(&mut self) -> Result<Event, SocketError> {
        if let Some(event) = self.early.pop_front() {
            return Ok(event);
        }
        loop {
            let packet = self.receive().await?;
            if let Some(event) = parse_event(&packet) {
                return Ok(event);
            }
            if packet.starts_with('1') || packet.starts_with("41") {
                return Err(SocketError::Closed);
            }
        }
    }

    async fn send(&mut self, packet: &str) -> Result<(), SocketError> {
        match &mut self.link {
            Link::Websocket(ws) => ws.send(Message::text(packet)).await?,
            Link::Polling { http, url, .. } => {
                http.post(url.as_str())
                    .body(packet.to_owned())
                    .send()
                    .await?
                    .error_for_status()?;
            }
        }
        Ok(())
    }

    /// The next Engine.IO packet that is not a ping (pings are answered here).
    async fn receive(&mut self) -> Result<String, SocketError> {
        loop {
            let packet = match &mut self.link {
                Link::Websocket(ws) => match ws.next().await {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Close(_))) | None => return Err(SocketError::Closed),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e.into()),
                },
                Link::Polling { http, url, queued } => match queued.pop_front() {
                    Some(packet) => packet,
                    None => {
                        let payload = poll(http, url).await?;
                        queued.extend(payload.split(RECORD_SEPARATOR).map(str::to_owned));
                        continue;
                    }
                },
            };
            match packet.as_str() {
                "2" => self.send("3").await?,
                "1" => return Err(SocketError::Closed),
                "6" | "" => {}
                _ => return Ok(packet),
            }
        }
    }
}

/// One long-polling GET: whatever the server has queued, or a wait for it.
async fn poll(http: &reqwest::Client, url: &str) -> Result<String, SocketError> {
    Ok(http
        .get(url)
        .timeout(POLL_TIMEOUT)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?)
}

/// `42["name", data]` as an event.
fn parse_event(packet: &str) -> Option<Event> {
    let args = packet.strip_prefix("42")?;
    let mut args: Vec<Value> = serde_json::from_str(args).ok()?;
    if args.is_empty() {
        return None;
    }
    let data = if args.len() > 1 {
        args.swap_remove(1)
    } else {
        Value::Null
    };
    Some(Event {
        name: args[0].as_str()?.to_owned(),
        data,
        bytes: packet.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_from_their_packets() {
        let event = parse_event(r#"42["stock",{"sku":"A","version":3}]"#).unwrap();
        assert_eq!(event.name, "stock");
        assert_eq!(event.data["version"], 3);
        assert_eq!(event.bytes, 35);
        assert!(parse_event(r#"430[{"ok":true}]"#).is_none());
        assert!(parse_event("42not json").is_none());
    }
}

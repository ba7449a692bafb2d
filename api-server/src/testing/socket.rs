//! A small Socket.IO client (Engine.IO v4 over websocket, protocol v5) for
//! tests that need many sockets or hand-made packets. Browsers' behaviour is
//! tested with the official JavaScript client; this one is for load and
//! hostile input.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// What the server sent that a test may care about.
#[derive(Clone, Debug, PartialEq)]
pub enum Received {
    /// `42["name", data]`
    Event(String, Value),
    /// `43<id>[data]`
    Ack(u64, Value),
    /// `44[/namespace,]{data}`: a namespace refused to connect the socket.
    ConnectError(String, Value),
    /// The server closed the socket.
    Closed,
}

pub struct SocketClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_ack: u64,
    /// Events that arrived while waiting for an ack, oldest first.
    pending: std::collections::VecDeque<Received>,
}

impl SocketClient {
    /// Opens a websocket session and connects to namespace `/` with `auth`.
    pub async fn connect(addr: SocketAddr, auth: Option<Value>) -> Result<Self, String> {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| e.to_string())?;
        let mut client = Self {
            ws,
            next_ack: 0,
            pending: Default::default(),
        };
        let open = client
            .read_text()
            .await
            .ok_or("closed before the open packet")?;
        if !open.starts_with('0') {
            return Err(format!("expected an open packet, got {open}"));
        }
        let connect = match auth {
            Some(auth) => format!("40{auth}"),
            None => "40".to_owned(),
        };
        client.send_raw(&connect).await?;
        let answer = client
            .read_text()
            .await
            .ok_or("closed before the connect answer")?;
        if !answer.starts_with("40") {
            return Err(format!("namespace connect refused: {answer}"));
        }
        Ok(client)
    }

    /// A socket connected without auth that watches `sku` (its watch was
    /// acknowledged).
    pub async fn watching(addr: SocketAddr, sku: &str) -> Self {
        let mut socket = Self::connect(addr, None).await.unwrap();
        socket
            .emit_with_ack("watch", &serde_json::json!({ "sku": sku }))
            .await
            .unwrap();
        socket
    }

    /// Sends one text frame as it is.
    pub async fn send_raw(&mut self, text: &str) -> Result<(), String> {
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| e.to_string())
    }

    /// Sends a binary frame as it is.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        self.ws
            .send(Message::binary(bytes))
            .await
            .map_err(|e| e.to_string())
    }

    /// Emits `event` with `data` and waits (up to 5 s) for its ack.
    pub async fn emit_with_ack(&mut self, event: &str, data: &Value) -> Option<Value> {
        let id = self.next_ack;
        self.next_ack += 1;
        let packet = format!("42{id}{}", Value::Array(vec![event.into(), data.clone()]));
        self.send_raw(&packet).await.ok()?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let received = tokio::time::timeout_at(deadline, self.read()).await.ok()?;
            match received {
                Received::Ack(ack, data) if ack == id => return Some(data),
                Received::Closed => return None,
                other => self.pending.push_back(other),
            }
        }
    }

    /// The next event, or `None` after `timeout` without one.
    pub async fn next(&mut self, timeout: Duration) -> Option<Received> {
        if let Some(received) = self.pending.pop_front() {
            return Some(received);
        }
        tokio::time::timeout(timeout, self.read()).await.ok()
    }

    /// Whether the server closes the socket within `limit`; events that come
    /// first are passed over.
    pub async fn closed_within(&mut self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while let Some(received) = self
            .next(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            if received == Received::Closed {
                return true;
            }
        }
        false
    }

    async fn read(&mut self) -> Received {
        loop {
            let Some(text) = self.read_text().await else {
                return Received::Closed;
            };
            if let Some(received) = parse(&text) {
                return received;
            }
        }
    }

    /// The next text frame, answering pings on the way.
    async fn read_text(&mut self) -> Option<String> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(text)) if text.as_str() == "2" => {
                    self.send_raw("3").await.ok()?;
                }
                Ok(Message::Text(text)) => return Some(text.as_str().to_owned()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}

fn parse(text: &str) -> Option<Received> {
    if text.starts_with("41") || text.starts_with('1') {
        return Some(Received::Closed);
    }
    if let Some(rest) = text.strip_prefix("42") {
        let Value::Array(mut parts) = serde_json::from_str(rest).ok()? else {
            return None;
        };
        let data = if parts.len() > 1 {
            parts.remove(1)
        } else {
            Value::Null
        };
        return Some(Received::Event(parts.first()?.as_str()?.to_owned(), data));
    }
    if let Some(rest) = text.strip_prefix("44") {
        let (namespace, data) = if rest.starts_with('/') {
            rest.split_once(',')?
        } else {
            ("/", rest)
        };
        return Some(Received::ConnectError(
            namespace.to_owned(),
            serde_json::from_str(data).ok()?,
        ));
    }
    if let Some(rest) = text.strip_prefix("43") {
        let split = rest.find('[')?;
        let id = rest[..split].parse().ok()?;
        let Value::Array(mut parts) = serde_json::from_str(&rest[split..]).ok()? else {
            return None;
        };
        return Some(Received::Ack(
            id,
            if parts.is_empty() {
                Value::Null
            } else {
                parts.remove(0)
            },
        ));
    }
    None
}

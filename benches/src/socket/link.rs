//! The two ways an Engine.IO session travels: one websocket, or HTTP
//! long-polling over a connection pool all polling clients share. Reading
//! the next packet is cancel-safe on both, so a caller may wait for it
//! under a timeout and lose nothing.

use std::collections::VecDeque;
use std::fmt::Display;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::SocketError;
use super::packet;

/// Longer than the server's ping interval, so a long poll is never cut short.
const POLL_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) enum Link {
    Websocket(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
    Polling(Polling),
}

pub(super) struct Polling {
    http: reqwest::Client,
    /// The session's URL, its id included.
    url: String,
    /// Packets of the last poll not handed out yet.
    queued: VecDeque<String>,
    /// A poll a timed-out read left waiting: its answer may already be on
    /// its way, and the server sends nothing twice.
    in_flight: Option<BoxFuture<'static, Result<String, reqwest::Error>>>,
}

/// tungstenite zero-fills its whole read buffer (128 KiB by default) before
/// every read; with thousands of clients each reading a small event at a
/// time, that alone took a quarter of the load generator's CPU. Events are
/// far smaller than this, and larger ones still arrive whole.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096)
}

impl Link {
    /// Opens a session over a websocket at `http_addr` (`HOST:PORT`).
    pub(super) async fn websocket(http_addr: impl Display) -> Result<Self, SocketError> {
        let url = format!("ws://{http_addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) =
            tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), false).await?;
        Ok(Self::Websocket(Box::new(ws)))
    }

    /// Opens a long-polling session at `http_addr` (`HOST:PORT`) on `http`'s
    /// pool. The open packet is read first, as over a websocket.
    pub(super) async fn polling(
        http_addr: impl Display,
        http: &reqwest::Client,
    ) -> Result<Self, SocketError> {
        let base = format!("http://{http_addr}/socket.io/?EIO=4&transport=polling");
        let open = poll(http.clone(), base.clone()).await?;
        let sid = packet::session_id(&open).ok_or_else(|| SocketError::Protocol(open.clone()))?;
        Ok(Self::Polling(Polling {
            http: http.clone(),
            url: format!("{base}&sid={sid}"),
            queued: VecDeque::from([open]),
            in_flight: None,
        }))
    }

    /// Sends `text` as it is: one text frame, or one POST's body (which may
    /// hold several packets, separated as a polling payload is).
    pub(super) async fn send_text(&mut self, text: &str) -> Result<(), SocketError> {
        match self {
            Self::Websocket(ws) => ws.send(Message::text(text)).await?,
            Self::Polling(polling) => post(&polling.http, &polling.url, text.to_owned()).await?,
        }
        Ok(())
    }

    /// Sends `bytes` as they are: one binary frame, or one POST's body.
    pub(super) async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), SocketError> {
        match self {
            Self::Websocket(ws) => ws.send(Message::binary(bytes)).await?,
            Self::Polling(polling) => post(&polling.http, &polling.url, bytes).await?,
        }
        Ok(())
    }

    /// The next Engine.IO packet; [`SocketError::Closed`] once the websocket
    /// is closed. Binary frames are passed over: the server sends none.
    pub(super) async fn read(&mut self) -> Result<String, SocketError> {
        match self {
            Self::Websocket(ws) => loop {
                match ws.next().await {
                    Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
                    Some(Ok(Message::Close(_))) | None => return Err(SocketError::Closed),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                }
            },
            Self::Polling(polling) => polling.read().await,
        }
    }
}

impl Polling {
    async fn read(&mut self) -> Result<String, SocketError> {
        loop {
            if let Some(packet) = self.queued.pop_front() {
                return Ok(packet);
            }
            let in_flight = self
                .in_flight
                .get_or_insert_with(|| Box::pin(poll(self.http.clone(), self.url.clone())));
            let payload = in_flight.await;
            self.in_flight = None;
            self.queued
                .extend(packet::split_payload(&payload?).map(str::to_owned));
        }
    }
}

/// One POST of packets to the session at `url`. (Not a method of
/// [`Polling`]: a poll left in flight makes it `!Sync`, so a future holding
/// `&Polling` could not move between threads.)
async fn post(
    http: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
) -> Result<(), reqwest::Error> {
    http.post(url).body(body).send().await?.error_for_status()?;
    Ok(())
}

/// One long-polling GET: whatever the server has queued, or a wait for it.
async fn poll(http: reqwest::Client, url: String) -> Result<String, reqwest::Error> {
    http.get(url)
        .timeout(POLL_TIMEOUT)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await
}

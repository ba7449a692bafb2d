//! One socket's life on the node: what it may do once connected, what it
//! watches, and what it gives back when it goes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reservation_core::{CustomerId, Sku, StockEvent};
use serde::{Deserialize, Serialize};
use serde_json::json;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::socket::Sid;

use super::LiveOptions;
use super::fanout::Fanout;
use super::relays::Relays;
use crate::app::App;
use crate::identity::SocketAuth;
use crate::limits::SocketPermit;
use crate::peer::peer_address;

/// Socket.IO connects a socket right after its connect middleware, with no
/// wait in between; one not connected this long after never will be.
const CONNECT_GRACE: Duration = Duration::from_secs(1);

/// Why a connection is refused; the client gets it as `connect_error`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct Refused(String);

#[derive(Deserialize)]
struct WatchRequest {
    sku: String,
}

/// A refused watch or unwatch is answered `{"error": {"code", "message"}}`,
/// the shape of the HTTP API's errors.
#[derive(Serialize)]
struct ErrorAck {
    error: ErrorBody,
}

#[derive(Serialize)]
struct ErrorBody {
    code: &'static str,
    message: String,
}

fn closing() -> ErrorAck {
    error_ack("UNAVAILABLE", "the socket is closing")
}

fn error_ack(code: &'static str, message: impl Into<String>) -> ErrorAck {
    ErrorAck {
        error: ErrorBody {
            code,
            message: message.into(),
        },
    }
}

#[derive(Default)]
struct SocketState {
    watched: HashSet<Sku>,
    /// Socket.IO runs each event on a task of its own; a socket's watches
    /// and unwatches take this in turn, so that a flood of them cannot
    /// interleave a watch's subscribe with an unwatch of the same product.
    turn: Arc<tokio::sync::Mutex<()>>,
    customer: Option<CustomerId>,
    /// Counts the socket against the node's and its address's caps until
    /// the state is dropped at disconnect.
    _permit: Option<SocketPermit>,
}

/// The live channel of the node: its sockets' state and the relays they need.
pub(super) struct Live {
    app: App,
    fanout: Fanout,
    options: LiveOptions,
    relays: Relays,
    sockets: Mutex<HashMap<Sid, SocketState>>,
}

impl Live {
    pub(super) fn new(app: App, options: LiveOptions, fanout: Fanout) -> Self {
        Self {
            relays: Relays::new(app.clone(), fanout.clone(), options.interval),
            app,
            fanout,
            options,
            sockets: Mutex::new(HashMap::new()),
        }
    }

    /// Sets a connecting socket up: its place under the caps, its customer's
    /// room, its handlers. Refused, the client gets `connect_error`.
    pub(super) async fn connecting(
        self: Arc<Self>,
        socket: SocketRef,
        auth: Option<SocketAuth>,
    ) -> Result<(), Refused> {
        let address = peer_address(&socket.req_parts().extensions);
        let permit = self
            .app
            .limits
            .hold_socket(address)
            .map_err(|limited| Refused(limited.to_string()))?;
        let named =
            self.app
                .identity
                .identify(&socket.req_parts().headers, auth, self.app.engine.now_ms());
        let customer = named.transpose().map_err(|e| Refused(e.to_string()))?;
        if let Some(customer) = &customer {
            self.relays
                .retain_customer(customer, &socket)
                .await
                .map_err(|e| Refused(format!("hold events are unavailable: {e}")))?;
        }
        self.app.metrics.sockets.inc();
        self.sockets.lock().expect("sockets lock").insert(
            socket.id,
            SocketState {
                customer: customer.clone(),
                _permit: Some(permit),
                ..SocketState::default()
            },
        );
        let live = self.clone();
        socket.on(
            "watch",
            move |socket: SocketRef, TryData(request): TryData<WatchRequest>, ack: AckSender| {
                let live = live.clone();
                async move {
                    let answer = match live.turn_of(&socket) {
                        Some(turn) => {
                            let _turn = turn.lock().await;
                            live.watch(&socket, request.map(|r| r.sku)).await
                        }
                        None => Err(closing()),
                    };
                    let _ = match answer {
                        Ok(snapshot) => ack.send(&snapshot),
                        Err(error) => ack.send(&error),
                    };
                }
            },
        );
        let live = self.clone();
        socket.on(
            "unwatch",
            move |socket: SocketRef, TryData(request): TryData<WatchRequest>, ack: AckSender| {
                let live = live.clone();
                async move {
                    let answer = match request.map(|r| Sku::new(r.sku)) {
                        Ok(Ok(sku)) => {
                            if let Some(turn) = live.turn_of(&socket) {
                                let _turn = turn.lock().await;
                                live.unwatch(&socket, &sku);
                            }
                            json!({ "ok": true })
                        }
                        _ => json!(error_ack(
                            "INVALID_ARGUMENT",
                            "unwatch takes {\"sku\": \"SKU\"}"
                        )),
                    };
                    let _ = ack.send(&answer);
                }
            },
        );
        let live = self.clone();
        socket.on_disconnect(move |socket: SocketRef| {
            let live = live.clone();
            async move { live.disconnected(&socket) }
        });
        // A session that ends before Socket.IO has connected its socket (a
        // malformed packet right behind the connect) gets no disconnect
        // event, and would keep its state and its place under the caps.
        tokio::spawn(async move {
            tokio::time::sleep(CONNECT_GRACE).await;
            if !socket.connected() {
                self.disconnected(&socket);
            }
        });
        Ok(())
    }

    async fn watch(
        &self,
        socket: &SocketRef,
        request: Result<String, impl std::fmt::Display>,
    ) -> Result<StockEvent, ErrorAck> {
        let raw =
            request.map_err(|_| error_ack("INVALID_ARGUMENT", "watch takes {\"sku\": \"SKU\"}"))?;
        let sku = Sku::new(raw).map_err(|e| error_ack(e.reason(), e.to_string()))?;
        let added = !self.check_watch(socket, &sku)?;
        if added {
            // In the room first, then read: a change landing in between
            // reaches the socket as an event and shows in the snapshot, and
            // the client keeps the higher version. Read first, a change
            // landing before would reach the room without this socket, and
            // when it was the product's last change the shopper would keep
            // a stale count.
            //
            // The socket joins the relay before its state names the
            // product, so that a disconnect meanwhile releases only what was
            // joined. The socket's own watches and unwatches wait for their
            // turn, so its disconnect is all that can have come meanwhile.
            self.relays
                .retain_product(&sku, socket)
                .await
                .map_err(|e| error_ack(e.reason(), e.to_string()))?;
            if !self.claim(socket, &sku) {
                self.relays.release_product(&sku, socket.id);
                return Err(closing());
            }
        }
        match self.app.call("watch", self.app.engine.product(&sku)).await {
            Ok(product) => {
                #[cfg(feature = "testing")]
                if let Some(gate) = &self.options.after_snapshot {
                    gate.pass(&sku).await;
                }
                Ok(product.stock)
            }
            Err(e) => {
                if added && self.forget(socket, &sku) {
                    self.relays.release_product(&sku, socket.id);
                }
                Err(error_ack(e.reason(), e.to_string()))
            }
        }
    }

    /// Whether the socket already watches `sku`; refused when the socket is
    /// gone or a new product would pass its watch limit.
    fn check_watch(&self, socket: &SocketRef, sku: &Sku) -> Result<bool, ErrorAck> {
        let sockets = self.sockets.lock().expect("sockets lock");
        let state = sockets.get(&socket.id).ok_or_else(closing)?;
        if state.watched.contains(sku) {
            return Ok(true);
        }
        if state.watched.len() >= self.options.max_watched {
            return Err(error_ack(
                "WATCH_LIMIT",
                format!(
                    "a socket may watch at most {} products",
                    self.options.max_watched
                ),
            ));
        }
        Ok(false)
    }

    /// Records that the socket watches `sku`; false when it is gone.
    fn claim(&self, socket: &SocketRef, sku: &Sku) -> bool {
        self.sockets
            .lock()
            .expect("sockets lock")
            .get_mut(&socket.id)
            .is_some_and(|state| state.watched.insert(sku.clone()))
    }

    fn turn_of(&self, socket: &SocketRef) -> Option<Arc<tokio::sync::Mutex<()>>> {
        self.sockets
            .lock()
            .expect("sockets lock")
            .get(&socket.id)
            .map(|state| state.turn.clone())
    }

    fn unwatch(&self, socket: &SocketRef, sku: &Sku) {
        if self.forget(socket, sku) {
            self.relays.release_product(sku, socket.id);
        }
    }

    /// Removes `sku` from the socket's watch list; true when it was there.
    fn forget(&self, socket: &SocketRef, sku: &Sku) -> bool {
        self.sockets
            .lock()
            .expect("sockets lock")
            .get_mut(&socket.id)
            .is_some_and(|state| state.watched.remove(sku))
    }

    fn disconnected(&self, socket: &SocketRef) {
        let Some(state) = self
            .sockets
            .lock()
            .expect("sockets lock")
            .remove(&socket.id)
        else {
            return;
        };
        self.app.metrics.sockets.dec();
        self.fanout.forget(&socket.id);
        for sku in &state.watched {
            self.relays.release_product(sku, socket.id);
        }
        if let Some(customer) = &state.customer {
            self.relays.release_customer(customer, socket.id);
        }
    }
}

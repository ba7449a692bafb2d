//! Emits to the node's sockets, and disconnects the ones that cannot keep up.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use socketioxide::socket::Sid;

use super::relays::Room;
use crate::app::App;

/// Sends to the node's sockets, and deals with the ones that cannot keep up.
#[derive(Clone)]
pub(super) struct Fanout {
    app: App,
    /// Sockets found with a full send buffer, until they are gone.
    stalled: Arc<Mutex<HashSet<Sid>>>,
}

impl Fanout {
    pub(super) fn new(app: App) -> Self {
        Self {
            app,
            stalled: Arc::default(),
        }
    }

    /// Emits to every socket of a room; a socket whose send buffer is full
    /// is counted once and disconnected.
    ///
    /// The data is serialized once for the room: each socket's packet only
    /// copies those bytes, where serializing per socket spent as much again
    /// on formatting every field for every watcher.
    pub(super) fn emit<T: Serialize>(&self, room: &Room, event: &str, data: &T) {
        let data = match serde_json::value::to_raw_value(data) {
            Ok(data) => data,
            Err(e) => {
                tracing::error!(event, error = %e, "an event could not be serialized");
                return;
            }
        };
        // Disconnected once the room is let go: a disconnect releases the
        // socket's watches, which takes the room's lock.
        let full: Vec<_> = room
            .read()
            .expect("room lock")
            .values()
            .filter(|socket| {
                matches!(
                    socket.emit(event, &*data),
                    Err(socketioxide::SendError::Socket(
                        socketioxide::SocketError::InternalChannelFull
                    ))
                )
            })
            .cloned()
            .collect();
        for socket in full {
            if self.stalled.lock().expect("stalled lock").insert(socket.id) {
                tracing::info!(sid = %socket.id, "disconnecting a socket that cannot keep up");
                self.app.metrics.slow_disconnects.inc();
            }
            let _ = socket.disconnect();
        }
    }

    /// Forgets a socket that is gone.
    pub(super) fn forget(&self, sid: &Sid) {
        self.stalled.lock().expect("stalled lock").remove(sid);
    }
}

//! Emits to the node's sockets, and disconnects the ones that cannot keep up.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::socket::Sid;

use crate::app::App;

/// Sends to the node's sockets, and deals with the ones that cannot keep up.
#[derive(Clone)]
pub(super) struct Fanout {
    io: SocketIo,
    app: App,
    /// Sockets found with a full send buffer, until they are gone.
    stalled: Arc<Mutex<HashSet<Sid>>>,
}

impl Fanout {
    pub(super) fn new(io: SocketIo, app: App) -> Self {
        Self {
            io,
            app,
            stalled: Arc::default(),
        }
    }

    /// Emits to every socket of a room on this node; a socket whose send
    /// buffer is full is counted once and disconnected.
    pub(super) fn emit<T: Serialize>(&self, room: &str, event: &str, data: &T) {
        for socket in self.io.to(room.to_owned()).sockets() {
            if let Err(socketioxide::SendError::Socket(
                socketioxide::SocketError::InternalChannelFull,
            )) = socket.emit(event, data)
            {
                if self.stalled.lock().expect("stalled lock").insert(socket.id) {
                    tracing::info!(sid = %socket.id, "disconnecting a socket that cannot keep up");
                    self.app.metrics.slow_disconnects.inc();
                }
                let _ = socket.disconnect();
            }
        }
    }

    /// Forgets a socket that is gone.
    pub(super) fn forget(&self, sid: &Sid) {
        self.stalled.lock().expect("stalled lock").remove(sid);
    }
}

//! A gate that stops a server's Socket.IO watches at one point, so a spec
//! can land a change exactly there and see what the watcher ends up with.

use reservation_core::Sku;
use tokio::sync::{mpsc, oneshot};

/// Stops every watch after it has read its product's snapshot and before it
/// answers, until the spec lets it go. Set it as
/// [`LiveOptions::after_snapshot`](crate::LiveOptions).
#[derive(Clone, Debug)]
pub struct WatchGate {
    arrivals: mpsc::UnboundedSender<StoppedWatch>,
}

/// A watch waiting at the gate; it goes on when this is let go or dropped.
#[derive(Debug)]
pub struct StoppedWatch {
    pub sku: Sku,
    go: oneshot::Sender<()>,
}

impl WatchGate {
    /// The gate, and where the watches it stops arrive.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<StoppedWatch>) {
        let (arrivals, stopped) = mpsc::unbounded_channel();
        (Self { arrivals }, stopped)
    }

    /// Waits until the spec lets this watch go (at once when the spec has
    /// stopped listening).
    pub(crate) async fn pass(&self, sku: &Sku) {
        let (go, gone) = oneshot::channel();
        let stopped = StoppedWatch {
            sku: sku.clone(),
            go,
        };
        if self.arrivals.send(stopped).is_ok() {
            let _ = gone.await;
        }
    }
}

impl StoppedWatch {
    pub fn go(self) {
        let _ = self.go.send(());
    }
}

//! When a process of the engine should stop: Ctrl-C, or SIGTERM (what
//! service managers and container runtimes send). Both binaries stop the
//! same way: stop taking work, finish what is in hand, exit 0. The
//! api-server also tells the clients that would stay forever (streams,
//! sockets) to go, and exits within its grace whatever they do.

use std::future::Future;

/// Takes over Ctrl-C and SIGTERM now, and resolves at the first of them.
///
/// Call it before the process says it is ready: a signal that arrives
/// between "ready" and the handler would otherwise kill it on the spot.
/// Needs a Tokio runtime.
pub fn signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).expect("install the SIGINT handler");
        let mut terminate = signal(SignalKind::terminate()).expect("install the SIGTERM handler");
        async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

//! The stock feed's connection task on a single Redis node: one pub/sub
//! connection for every channel, made again (and every watched channel
//! subscribed again) whenever it drops or Redis stops answering it.

use std::sync::Weak;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{
    Control, Engine, Error, Inner, RECONNECT_DELAY, dispatch, fail_waiting, send_fresh_snapshots,
    watched_subjects,
};

/// How long the single-node feed waits on Redis. A pub/sub connection has
/// no response timeout of its own, and a stalled server must not leave a
/// watcher waiting for its subscription forever.
#[derive(Clone, Copy)]
pub(super) struct Timeouts {
    pub(super) connect: Duration,
    pub(super) answer: Duration,
}

/// `call`'s outcome, or a timeout error once `limit` has passed.
async fn within<T>(
    limit: Duration,
    call: impl Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
        Err(redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("Redis did not answer the stock feed within {limit:?}"),
        )))
    })
}

/// The single-node connection task: (re)connects, keeps the subscriptions in step with
/// the watched products, and hands each event to its product's watchers.
/// A (un)subscribe Redis does not answer in time ends the connection: the
/// next one subscribes to exactly what is watched then.
pub(super) async fn run_single(
    client: redis::Client,
    timeouts: Timeouts,
    engine: Engine,
    inner: Weak<Inner>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let mut reconnecting = false;
    loop {
        let pubsub = match within(timeouts.connect, client.get_async_pubsub()).await {
            Ok(pubsub) => pubsub,
            Err(e) => {
                tracing::warn!(error = %e, "stock feed cannot connect to Redis; retrying");
                fail_waiting(&mut control, &e);
                if inner.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        let Some(watched) = inner.upgrade().map(|i| watched_subjects(&i)) else {
            return;
        };
        let mut resubscribed = true;
        for subject in &watched {
            resubscribed &= within(timeouts.answer, sink.subscribe(subject.channel()))
                .await
                .is_ok();
        }
        if !resubscribed {
            continue;
        }
        if reconnecting {
            tracing::info!(channels = watched.len(), "feed reconnected");
            send_fresh_snapshots(&engine, &inner, &watched).await;
        }
        reconnecting = true;

        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else {
                        tracing::warn!("stock feed lost its Redis connection; reconnecting");
                        break;
                    };
                    let Some(inner) = inner.upgrade() else {
                        return;
                    };
                    dispatch(&inner, message.get_channel_name(), message.get_payload_bytes());
                }
                command = control.recv() => match command {
                    Some(Control::Subscribe(subject, ack)) => {
                        let result = within(timeouts.answer, sink.subscribe(subject.channel()))
                            .await
                            .map_err(Error::from_redis);
                        let failed = result.is_err();
                        let _ = ack.send(result);
                        if failed {
                            break;
                        }
                    }
                    Some(Control::Unsubscribe(subject)) => {
                        if within(timeouts.answer, sink.unsubscribe(subject.channel())).await.is_err() {
                            break;
                        }
                    }
                    None => return,
                },
            }
        }
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

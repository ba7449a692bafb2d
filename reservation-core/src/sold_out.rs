//! The sold-out fast path: once a product is known to be sold out, a node
//! answers its reserves "out of stock" without a Redis round trip, until
//! units may have come back.
//!
//! When Redis answers a reserve "out of stock" with nothing available, the
//! node starts tracking the product: it subscribes to its stock events, then
//! reads it as sold out together with every `request_id` that ever made one of
//! its holds, its sale window and each customer's units
//! ([`Engine::sold_out`]). From then on a reserve is answered locally, with
//! exactly what the reserve script would answer (sale closed, the customer's
//! limit, or out of stock, in that order), unless
//! - its quantity is over the per-call maximum (the engine refuses it),
//! - its `request_id` made a hold (a retry must get its first answer back),
//! - the earliest deadline of a HELD hold is near (a reserve would reclaim
//!   its units; no event says so), or
//! - a stock event shows any change but a purchase (held to sold): units
//!   back, new settings, or a version skipped (events were missed).
//!
//! Changes made through this node (restock, cancel) end the tracking at once,
//! before their callers get their answer, so a node never answers "sold out"
//! after it gave units back itself. Every second the tracking re-reads the
//! product's version, which bounds the damage of an event lost in a
//! reconnect.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::{Engine, SoldOut, StockView};
use crate::error::{Error, Result};
use crate::feed::StockFeed;
use crate::types::{Reservation, ReserveRequest, Sku};

/// How long before a HELD hold's deadline the fast path stops: nodes' clocks
/// differ, and a node whose clock is ahead may reclaim the units that early.
const CLOCK_MARGIN_MS: i64 = 1_000;
/// How often a tracked product's version is read again.
const RECHECK: Duration = Duration::from_secs(1);
/// After a read that could not settle the product (it changed meanwhile, or
/// Redis failed), how long before the next try: a product busy with
/// purchases must not be rescanned back to back.
const RETRY_AFTER: Duration = Duration::from_millis(100);

enum Mark {
    /// Subscribing and reading; reserves still go to Redis.
    Checking { generation: u64 },
    SoldOut {
        generation: u64,
        sold_out: Arc<SoldOut>,
    },
}

impl Mark {
    fn generation(&self) -> u64 {
        match self {
            Mark::Checking { generation } | Mark::SoldOut { generation, .. } => *generation,
        }
    }
}

/// The products this node knows to be sold out.
pub struct SoldOutProducts {
    engine: Engine,
    feed: StockFeed,
    marks: Mutex<HashMap<Sku, Mark>>,
    generations: AtomicU64,
    answered: AtomicU64,
}

impl SoldOutProducts {
    pub fn new(engine: Engine, feed: StockFeed) -> Arc<Self> {
        Arc::new(Self {
            engine,
            feed,
            marks: Mutex::new(HashMap::new()),
            generations: AtomicU64::new(0),
            answered: AtomicU64::new(0),
        })
    }

    /// The answer to `request` without Redis, when there is one: the one
    /// the reserve script would give.
    pub fn answer(&self, request: &ReserveRequest) -> Option<Error> {
        let quantity = request.quantity.get();
        if quantity > self.engine.config().max_quantity_per_reserve {
            return None;
        }
        let now = self.engine.now_ms();
        let marks = self.marks();
        let Some(Mark::SoldOut { sold_out, .. }) = marks.get(&request.sku) else {
            return None;
        };
        if !still_sold_out(sold_out, now)
            || sold_out.request_ids.contains(request.request_id.as_str())
        {
            return None;
        }
        let sku = request.sku.clone();
        let product = &sold_out.view;
        let owned = sold_out
            .customer_units
            .get(request.customer_id.as_str())
            .copied()
            .unwrap_or(0);
        let limit = product.per_customer_limit;
        let answer = if now < product.sale_starts_at_ms
            || (product.sale_ends_at_ms > 0 && now >= product.sale_ends_at_ms)
        {
            Error::SaleClosed {
                sku,
                starts_at_ms: Some(product.sale_starts_at_ms).filter(|&ms| ms > 0),
                ends_at_ms: Some(product.sale_ends_at_ms).filter(|&ms| ms > 0),
            }
        } else if limit > 0 && owned + i64::from(quantity) > i64::from(limit) {
            Error::CustomerLimit {
                sku,
                customer: request.customer_id.clone(),
                limit,
                owned,
            }
        } else {
            Error::OutOfStock {
                sku,
                requested: i64::from(quantity),
                available: 0,
            }
        };
        self.answered.fetch_add(1, Ordering::Relaxed);
        Some(answer)
    }

    /// Learns from Redis's answer to a reserve of `sku`.
    pub fn observe(self: &Arc<Self>, sku: &Sku, answer: &Result<Reservation>) {
        match answer {
            Err(Error::OutOfStock { available: 0, .. }) => {
                let now = self.engine.now_ms();
                let mut marks = self.marks();
                let tracked = match marks.get(sku) {
                    Some(Mark::Checking { .. }) => true,
                    Some(Mark::SoldOut { sold_out, .. }) => still_sold_out(sold_out, now),
                    None => false,
                };
                if tracked {
                    return;
                }
                let generation = self.generations.fetch_add(1, Ordering::Relaxed);
                marks.insert(sku.clone(), Mark::Checking { generation });
                tokio::spawn(self.clone().track(sku.clone(), generation));
            }
            // A new hold: units were there after all.
            Ok(reservation) if !reservation.replayed => self.forget(sku),
            _ => {}
        }
    }

    /// Units of `sku` may be available again (this node gave them back).
    pub fn forget(&self, sku: &Sku) {
        self.marks().remove(sku);
    }

    /// Reserves answered without Redis so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    fn marks(&self) -> std::sync::MutexGuard<'_, HashMap<Sku, Mark>> {
        self.marks.lock().expect("the marks lock is never poisoned")
    }

    /// Ends `generation`'s mark, unless a newer one replaced it.
    fn end(&self, sku: &Sku, generation: u64) {
        let mut marks = self.marks();
        if marks.get(sku).is_some_and(|m| m.generation() == generation) {
            marks.remove(sku);
        }
    }

    async fn track(self: Arc<Self>, sku: Sku, generation: u64) {
        // Subscribe first: any change after the read below shows up as an event.
        let read = async {
            let watch = self.feed.watch(&sku).await?;
            Ok::<_, Error>((watch, self.engine.sold_out(&sku).await?))
        };
        let (mut watch, sold_out) = match read.await {
            Ok((watch, Some(sold_out))) => (watch, Arc::new(sold_out)),
            Ok((_, None)) | Err(_) => {
                // Reserves still go to Redis meanwhile: `Checking` answers nothing.
                tokio::time::sleep(RETRY_AFTER).await;
                return self.end(&sku, generation);
            }
        };
        let mut seen = sold_out.view;
        {
            let mut marks = self.marks();
            match marks.get_mut(&sku) {
                Some(mark @ Mark::Checking { .. }) if mark.generation() == generation => {
                    *mark = Mark::SoldOut {
                        generation,
                        sold_out: sold_out.clone(),
                    };
                }
                // Forgotten meanwhile: units came back through this node.
                _ => return,
            }
        }
        loop {
            let still_ours = self
                .marks()
                .get(&sku)
                .is_some_and(|m| m.generation() == generation);
            if !still_ours || !still_sold_out(&sold_out, self.engine.now_ms()) {
                break;
            }
            tokio::select! {
                event = watch.next() => match event {
                    Some(e) if e.version <= seen.version => {}
                    // A purchase: held to sold, nothing else can have changed.
                    Some(e) if e.version == seen.version + 1
                        && e.available == 0
                        && e.held < seen.held
                        && e.sold > seen.sold =>
                    {
                        seen.version = e.version;
                        seen.held = e.held;
                        seen.sold = e.sold;
                    }
                    // Units back, new settings, or events missed.
                    _ => break,
                },
                _ = tokio::time::sleep(RECHECK) => match self.engine.stock_view(&sku).await {
                    Ok(now) if same_stock(&now, &seen) => {}
                    _ => break,
                },
            }
        }
        self.end(&sku, generation);
    }
}

/// No version since `seen` could have made a hold.
fn same_stock(now: &StockView, seen: &StockView) -> bool {
    now.version == seen.version && now.available == 0
}

fn still_sold_out(sold_out: &SoldOut, now_ms: i64) -> bool {
    sold_out
        .view
        .earliest_deadline_ms
        .is_none_or(|deadline| now_ms < deadline - CLOCK_MARGIN_MS)
}

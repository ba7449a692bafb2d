//! `InventoryService`: products and their stock, for merchants' back-ends.

use std::collections::HashMap;
use std::pin::Pin;

use flashsale_proto::v1 as pb;
use flashsale_proto::v1::inventory_service_server::InventoryService;
use futures_util::{Stream, StreamExt, future, stream};
use reservation_core::{Error, NewProduct, ProductUpdate, RequestId, Sku};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::convert::{self, millis};
use super::status::to_status;
use crate::app::App;
use crate::metrics::Open;

/// Hold length of a product created without one.
const DEFAULT_HOLD_SECONDS: u32 = 600;
const DEFAULT_PAGE_SIZE: usize = 100;
/// Most SKUs one WatchStock call may follow.
pub const MAX_WATCHED_SKUS: usize = 100;
/// How a `WatchStock` stream ends when its node shuts down (`UNAVAILABLE`,
/// which clients retry).
pub const SHUTTING_DOWN: &str = "the server is shutting down; reconnect to another node";

pub struct InventoryApi {
    app: App,
}

impl InventoryApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

type Answer<T> = Result<Response<T>, Status>;

fn invalid(field: &'static str, reason: &str) -> Status {
    to_status(Error::InvalidArgument {
        field,
        reason: reason.to_owned(),
    })
}

/// A sale-window bound of an update: leave it, set it, or clear it.
fn bound_change(
    field: &'static str,
    set: Option<&prost_types::Timestamp>,
    clear: bool,
) -> Result<Option<Option<i64>>, Status> {
    match (set, clear) {
        (Some(_), true) => Err(invalid(field, "cannot be both set and cleared")),
        (Some(ts), false) => Ok(Some(Some(millis(field, ts).map_err(to_status)?))),
        (None, true) => Ok(Some(None)),
        (None, false) => Ok(None),
    }
}

#[tonic::async_trait]
impl InventoryService for InventoryApi {
    async fn create_product(
        &self,
        request: Request<pb::CreateProductRequest>,
    ) -> Answer<pb::Product> {
        let r = request.into_inner();
        let new = NewProduct {
            sku: Sku::new(r.sku).map_err(to_status)?,
            name: r.name,
            price_cents: r.price_cents,
            total: r.total,
            per_customer_limit: r.per_customer_limit,
            hold_seconds: if r.hold_seconds == 0 {
                DEFAULT_HOLD_SECONDS
            } else {
                r.hold_seconds
            },
            sale_starts_at_ms: r
                .sale_starts_at
                .as_ref()
                .map(|ts| millis("sale_starts_at", ts))
                .transpose()
                .map_err(to_status)?,
            sale_ends_at_ms: r
                .sale_ends_at
                .as_ref()
                .map(|ts| millis("sale_ends_at", ts))
                .transpose()
                .map_err(to_status)?,
        };
        let product = self
            .app
            .call("create_product", self.app.engine.create_product(&new))
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::product(product)))
    }

    async fn update_product(
        &self,
        request: Request<pb::UpdateProductRequest>,
    ) -> Answer<pb::Product> {
        let r = request.into_inner();
        let sku = Sku::new(r.sku).map_err(to_status)?;
        let update = ProductUpdate {
            name: r.name,
            price_cents: r.price_cents,
            per_customer_limit: r.per_customer_limit,
            hold_seconds: r.hold_seconds,
            sale_starts_at_ms: bound_change(
                "sale_starts_at",
                r.sale_starts_at.as_ref(),
                r.clear_sale_starts_at,
            )?,
            sale_ends_at_ms: bound_change(
                "sale_ends_at",
                r.sale_ends_at.as_ref(),
                r.clear_sale_ends_at,
            )?,
            paused: r.paused,
        };
        let product = self
            .app
            .call(
                "update_product",
                self.app.engine.update_product(&sku, &update),
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::product(product)))
    }

    async fn restock(&self, request: Request<pb::RestockRequest>) -> Answer<pb::Product> {
        let r = request.into_inner();
        let sku = Sku::new(r.sku).map_err(to_status)?;
        let request_id = (!r.request_id.is_empty())
            .then(|| RequestId::new(r.request_id))
            .transpose()
            .map_err(to_status)?;
        let product = self
            .app
            .call(
                "restock",
                self.app
                    .engine
                    .restock_with_id(&sku, r.delta, request_id.as_ref()),
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::product(product)))
    }

    async fn get_product(&self, request: Request<pb::GetProductRequest>) -> Answer<pb::Product> {
        let sku = Sku::new(request.into_inner().sku).map_err(to_status)?;
        let product = self
            .app
            .call("get_product", self.app.engine.product(&sku))
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::product(product)))
    }

    async fn list_products(
        &self,
        request: Request<pb::ListProductsRequest>,
    ) -> Answer<pb::ListProductsResponse> {
        let r = request.into_inner();
        // The page token is the last SKU of the previous page.
        let after = if r.page_token.is_empty() {
            None
        } else {
            Some(
                Sku::new(r.page_token)
                    .map_err(|_| invalid("page_token", "is not a token this API gave"))?,
            )
        };
        let size = match r.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => n as usize,
        };
        let page = self
            .app
            .call(
                "list_products",
                self.app.engine.list_products(after.as_ref(), size),
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListProductsResponse {
            products: page.products.into_iter().map(convert::product).collect(),
            next_page_token: page
                .next_after
                .map(|sku| sku.to_string())
                .unwrap_or_default(),
        }))
    }

    async fn audit_product(
        &self,
        request: Request<pb::AuditProductRequest>,
    ) -> Answer<pb::ProductAudit> {
        let sku = Sku::new(request.into_inner().sku).map_err(to_status)?;
        let report = self
            .app
            .call("audit_product", self.app.engine.audit(&sku))
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::audit(report)))
    }

    type WatchStockStream = Pin<Box<dyn Stream<Item = Result<pb::StockEvent, Status>> + Send>>;

    async fn watch_stock(
        &self,
        request: Request<pb::WatchStockRequest>,
    ) -> Answer<Self::WatchStockStream> {
        let mut skus = request
            .into_inner()
            .skus
            .into_iter()
            .map(Sku::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(to_status)?;
        skus.sort();
        skus.dedup();
        if skus.is_empty() || skus.len() > MAX_WATCHED_SKUS {
            return Err(invalid(
                "skus",
                &format!("must name 1 to {MAX_WATCHED_SKUS} products"),
            ));
        }

        // Subscribe first, then read the snapshots: a change in between shows
        // up in both, and the version filter below drops the duplicate.
        let mut watches = Vec::with_capacity(skus.len());
        let mut snapshots = Vec::with_capacity(skus.len());
        for sku in &skus {
            watches.push(self.app.feed.watch(sku).await.map_err(to_status)?);
            snapshots.push(self.app.engine.product(sku).await.map_err(to_status)?.stock);
        }

        let mut newest: HashMap<Sku, u64> = snapshots
            .iter()
            .map(|s| (s.sku.clone(), s.version))
            .collect();
        let changes = stream::select_all(watches.into_iter().map(|watch| {
            stream::unfold(watch, |mut watch| async move {
                watch.next().await.map(|event| (event, watch))
            })
            .boxed()
        }))
        .filter(move |event| {
            let newer = newest
                .get(&event.sku)
                .is_none_or(|&seen| event.version > seen);
            if newer {
                newest.insert(event.sku.clone(), event.version);
            }
            future::ready(newer)
        });
        // When the client goes away tonic drops the stream, and with it the
        // watches: the node unsubscribes from products nobody watches any more.
        let events = stream::iter(snapshots)
            .chain(changes)
            .map(|snapshot| Ok(convert::stock_event(snapshot)))
            .boxed();
        let open = self.app.metrics.watch_stream();
        Ok(Response::new(Box::pin(until_draining(
            events,
            self.app.draining.clone(),
            open,
        ))))
    }
}

/// `events` until the node starts to shut down, then `UNAVAILABLE` and the
/// end. A stream otherwise lasts as long as its client, and the server's
/// graceful shutdown waits for every stream: one open watcher would hold the
/// process up until it was killed. `open` counts the stream while it lasts.
fn until_draining<T: Send + 'static>(
    events: stream::BoxStream<'static, Result<T, Status>>,
    draining: CancellationToken,
    open: Open,
) -> impl Stream<Item = Result<T, Status>> + Send {
    stream::unfold(Some((events, draining, open)), |state| async move {
        let (mut events, draining, open) = state?;
        tokio::select! {
            // A stream that always has an event ready still ends.
            biased;
            () = draining.cancelled() => Some((Err(Status::unavailable(SHUTTING_DOWN)), None)),
            event = events.next() => event.map(|event| (event, Some((events, draining, open)))),
        }
    })
}

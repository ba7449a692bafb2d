//! Product calls: create, change settings, restock, read, list.

use std::collections::HashMap;

use futures_util::future::try_join_all;

use super::Engine;
use crate::error::{Error, Result};
use crate::keys::{CATALOG, ProductKeys, RequestKind};
use crate::scripts::SCRIPTS;
use crate::types::{NewProduct, Product, ProductUpdate, RequestId, Sku, StockSnapshot};

/// A page of products in SKU order.
#[derive(Clone, Debug)]
pub struct ProductPage {
    pub products: Vec<Product>,
    /// The SKU to pass as `after` for the next page; `None` on the last page.
    pub next_after: Option<Sku>,
}

impl Engine {
    /// Creates a product with all its stock available, then lists it in the
    /// catalog. The catalog is a separate key (on Redis Cluster it cannot share
    /// the product's slot); creating an existing product lists it again, so a
    /// crash between the two calls is mended by retrying the create.
    pub async fn create_product(&self, new: &NewProduct) -> Result<Product> {
        new.validate()?;
        let keys = ProductKeys::new(&new.sku);
        let mut call = self.product_call(&SCRIPTS.create_product, &keys);
        call.arg(&new.name)
            .arg(new.price_cents)
            .arg(new.total)
            .arg(new.per_customer_limit)
            .arg(new.hold_seconds)
            .arg(new.sale_starts_at_ms.unwrap_or(0))
            .arg(new.sale_ends_at_ms.unwrap_or(0))
            .arg(new_salt());
        let reply = self.run(&call).await?;
        self.list_in_catalog(&new.sku).await?;
        match reply.outcome() {
            "OK" => self.product(&new.sku).await,
            "PRODUCT_EXISTS" => Err(Error::ProductExists(new.sku.clone())),
            _ => Err(reply.unexpected_outcome()),
        }
    }

    async fn list_in_catalog(&self, sku: &Sku) -> Result<()> {
        self.redis
            .query(redis::cmd("ZADD").arg(CATALOG).arg(0).arg(sku.as_str()))
            .await
    }

    /// Changes a product's settings. Stock is changed only by [`Engine::restock`].
    /// A product counts each customer's units from its first per-customer
    /// limit on, so that limit must come before its first reserve (at
    /// creation, say); once counting, it may change freely.
    ///
    /// One script call that writes only the fields `update` sets, so two
    /// updates of different fields (a pause, a new opening time) never undo
    /// each other, however they interleave.
    pub async fn update_product(&self, sku: &Sku, update: &ProductUpdate) -> Result<Product> {
        update.validate()?;
        let keys = ProductKeys::new(sku);
        let mut call = self.product_call(&SCRIPTS.update_product, &keys);
        let mut set = |field: &str, value: String| {
            call.arg(field).arg(value);
        };
        if let Some(name) = &update.name {
            set("name", name.clone());
        }
        if let Some(price) = update.price_cents {
            set("price_cents", price.to_string());
        }
        if let Some(limit) = update.per_customer_limit {
            set("per_customer_limit", limit.to_string());
        }
        if let Some(hold_seconds) = update.hold_seconds {
            set("hold_seconds", hold_seconds.to_string());
        }
        if let Some(starts) = update.sale_starts_at_ms {
            set("sale_starts_at", starts.unwrap_or(0).to_string());
        }
        if let Some(ends) = update.sale_ends_at_ms {
            set("sale_ends_at", ends.unwrap_or(0).to_string());
        }
        if let Some(paused) = update.paused {
            set("paused", u8::from(paused).to_string());
        }
        let reply = self.run(&call).await?;
        match reply.outcome() {
            "OK" => self.product(sku).await,
            "NOT_FOUND" => Err(Error::ProductNotFound(sku.clone())),
            "WINDOW_INVERTED" => Err(Error::InvalidArgument {
                field: "sale_ends_at",
                reason: "must be after sale_starts_at".into(),
            }),
            "LIMIT_TOO_LATE" => Err(Error::InvalidArgument {
                field: "per_customer_limit",
                reason: format!(
                    "{sku} has granted {} units without a per-customer limit, and those were \
                     not counted per customer; a product's first limit must be set before \
                     its first reserve",
                    reply.int(1)?
                ),
            }),
            _ => Err(reply.unexpected_outcome()),
        }
    }

    /// Adds `delta` units (or removes them, when negative) to both total and
    /// available. Removing more than is available is refused: the total never
    /// drops below what is held and sold. Not safe to retry: see
    /// [`Engine::restock_with_id`].
    pub async fn restock(&self, sku: &Sku, delta: i64) -> Result<Product> {
        self.restock_with_id(sku, delta, None).await
    }

    /// [`Engine::restock`], done at most once per `request_id` within the
    /// retention: the same id with the same delta again adds nothing and
    /// answers the product as it is now; with another delta it is
    /// [`Error::IdempotencyMismatch`]. A refused restock is not remembered.
    /// Without an id, every call adds.
    pub async fn restock_with_id(
        &self,
        sku: &Sku,
        delta: i64,
        request_id: Option<&RequestId>,
    ) -> Result<Product> {
        if delta == 0 {
            return Err(Error::InvalidArgument {
                field: "delta",
                reason: "must not be zero".into(),
            });
        }
        let key = match request_id {
            Some(id) => {
                self.request_hold_key(sku, RequestKind::Restock, id.as_str())
                    .await?
            }
            None => String::new(),
        };
        let keys = ProductKeys::new(sku);
        let mut call = self.product_call(&SCRIPTS.restock, &keys);
        call.arg(delta)
            .arg(self.config.reclaim_batch)
            .arg(key)
            .arg(request_id.map_or("", RequestId::as_str));
        let reply = self.run(&call).await?;
        match (reply.outcome(), request_id) {
            ("OK" | "REPLAY", _) => self.product(sku).await,
            ("IDEMPOTENCY_MISMATCH", Some(id)) => Err(Error::IdempotencyMismatch {
                request_id: id.clone(),
            }),
            ("KEY_COLLISION", Some(id)) => Err(Error::Internal(format!(
                "restock request_id {id} of {sku} shares its key with another request; \
                 send it with another request_id"
            ))),
            ("OUT_OF_STOCK", _) => Err(Error::OutOfStock {
                sku: sku.clone(),
                requested: -delta,
                available: reply.int(1)?,
            }),
            ("NOT_FOUND", _) => Err(Error::ProductNotFound(sku.clone())),
            _ => Err(reply.unexpected_outcome()),
        }
    }

    /// A product with its stock, read in one consistent view.
    pub async fn product(&self, sku: &Sku) -> Result<Product> {
        let keys = ProductKeys::new(sku);
        let mut call = SCRIPTS.snapshot.prepare_invoke();
        call.key(&keys.product);
        let fields: HashMap<String, String> =
            redis::from_redis_value(self.redis.invoke(&call).await?)
                .map_err(|e| Error::Internal(e.to_string()))?;
        if fields.is_empty() {
            return Err(Error::ProductNotFound(sku.clone()));
        }
        product_from_fields(sku, &fields)
    }

    /// Up to `limit` products in SKU order, starting after `after`.
    pub async fn list_products(&self, after: Option<&Sku>, limit: usize) -> Result<ProductPage> {
        let limit = limit.clamp(1, 1000);
        let skus = self.list_skus(after, limit).await?;
        let products = try_join_all(skus.iter().map(|sku| self.product(sku))).await?;
        let next_after = (products.len() == limit).then(|| skus[limit - 1].clone());
        Ok(ProductPage {
            products,
            next_after,
        })
    }

    /// Up to `limit` SKUs of the catalog in order, starting after `after`.
    pub(super) async fn list_skus(&self, after: Option<&Sku>, limit: usize) -> Result<Vec<Sku>> {
        let start = after.map_or_else(|| "-".to_owned(), |sku| format!("({sku}"));
        let skus: Vec<String> = self
            .redis
            .query(
                redis::cmd("ZRANGE")
                    .arg(CATALOG)
                    .arg(start)
                    .arg("+")
                    .arg("BYLEX")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit),
            )
            .await?;
        skus.into_iter().map(Sku::new).collect()
    }
}

/// A fresh salt for a product's hold keys: 80 random bits (a ULID's), so
/// that no one can tell a hold's id from its request id.
pub(super) fn new_salt() -> String {
    ulid::Ulid::new().to_string()
}

fn product_from_fields(sku: &Sku, fields: &HashMap<String, String>) -> Result<Product> {
    let int = |name: &str| -> Result<i64> {
        fields
            .get(name)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::Internal(format!("product {sku}: field {name} is missing")))
    };
    let bound = |name: &str| int(name).map(|ms| (ms > 0).then_some(ms));
    Ok(Product {
        sku: sku.clone(),
        name: fields.get("name").cloned().unwrap_or_default(),
        price_cents: int("price_cents")?,
        per_customer_limit: int("per_customer_limit")? as u32,
        hold_seconds: int("hold_seconds")? as u32,
        sale_starts_at_ms: bound("sale_starts_at")?,
        sale_ends_at_ms: bound("sale_ends_at")?,
        stock: StockSnapshot {
            sku: sku.clone(),
            available: int("available")?,
            held: int("held")?,
            sold: int("sold")?,
            total: int("total")?,
            version: int("version")? as u64,
            at_ms: int("updated_at")?,
            paused: fields.get("paused").is_some_and(|v| v == "1"),
        },
    })
}

//! The merchant's gRPC clients, authenticated with a bearer token and spread
//! over several HTTP/2 connections (one connection multiplexes its calls over
//! one TCP stream, which would make the client the bottleneck).

use std::time::Duration;

use anyhow::{Context, Result};
use flashsale_proto::v1 as pb;
use pb::inventory_service_client::InventoryServiceClient;
use pb::reservation_service_client::ReservationServiceClient;
use tonic::transport::Endpoint;

pub use flashsale_proto::{Bearer, Inventory, Reservations};

/// Clients for one server, one pair per connection.
#[derive(Clone)]
pub struct Merchant {
    pub inventory: Vec<Inventory>,
    pub reservations: Vec<Reservations>,
}

impl Merchant {
    /// Opens `connections` connections to `target` (`HOST:PORT`).
    pub async fn connect(target: &str, token: Option<&str>, connections: usize) -> Result<Self> {
        let bearer = Bearer::new(token).context("the token is not valid in a header")?;
        let endpoint = Endpoint::from_shared(format!("http://{target}"))
            .with_context(|| format!("--target {target} is not HOST:PORT"))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        let mut merchant = Merchant {
            inventory: Vec::new(),
            reservations: Vec::new(),
        };
        for _ in 0..connections.max(1) {
            let channel = endpoint
                .connect()
                .await
                .with_context(|| format!("cannot reach the gRPC server at {target}"))?;
            merchant
                .inventory
                .push(InventoryServiceClient::with_interceptor(
                    channel.clone(),
                    bearer.clone(),
                ));
            merchant
                .reservations
                .push(ReservationServiceClient::with_interceptor(
                    channel,
                    bearer.clone(),
                ));
        }
        Ok(merchant)
    }

    /// The clients of connection `n` (wrapping around).
    pub fn reservations(&self, n: usize) -> Reservations {
        self.reservations[n % self.reservations.len()].clone()
    }

    pub fn inventory(&self) -> Inventory {
        self.inventory[0].clone()
    }

    pub async fn product(&self, sku: &str) -> Result<pb::Product> {
        Ok(self
            .inventory()
            .get_product(pb::GetProductRequest { sku: sku.into() })
            .await
            .with_context(|| format!("reading product {sku}"))?
            .into_inner())
    }

    pub async fn audit(&self, sku: &str) -> Result<pb::ProductAudit> {
        Ok(self
            .inventory()
            .audit_product(pb::AuditProductRequest { sku: sku.into() })
            .await
            .with_context(|| format!("auditing product {sku}"))?
            .into_inner())
    }

    /// Creates `sku` with `stock` units and no sale window.
    pub async fn create(
        &self,
        sku: &str,
        stock: i64,
        per_customer_limit: u32,
        hold_seconds: u32,
    ) -> Result<pb::Product> {
        Ok(self
            .inventory()
            .create_product(pb::CreateProductRequest {
                sku: sku.into(),
                name: format!("flashload {sku}"),
                price_cents: 100,
                total: stock,
                per_customer_limit,
                hold_seconds,
                sale_starts_at: None,
                sale_ends_at: None,
            })
            .await
            .with_context(|| format!("creating product {sku}"))?
            .into_inner())
    }
}

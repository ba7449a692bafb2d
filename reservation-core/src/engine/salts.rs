//! Each product's salt, read from Redis once per process and kept: hold keys
//! are made from it on this side ([`keys::request_hold_key`]), so Redis does
//! not hash every reserve. A salt is written when its product is created and
//! never changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Engine;
use crate::error::Result;
use crate::keys::{self, ProductKeys, RequestKind};
use crate::types::Sku;

/// The salts read so far, shared by an engine's clones.
#[derive(Clone, Default)]
pub(super) struct Salts(Arc<Mutex<HashMap<Sku, Arc<str>>>>);

/// What a script is told when there is no product, so no salt: it answers
/// "not found" before it looks at a key.
const NO_PRODUCT: &str = "-";

impl Engine {
    /// The key of the hold `request_id` makes on `sku`; [`NO_PRODUCT`] when
    /// the product does not exist.
    pub(super) async fn request_hold_key(
        &self,
        sku: &Sku,
        kind: RequestKind,
        request_id: &str,
    ) -> Result<String> {
        Ok(match self.salt(sku).await? {
            Some(salt) => keys::request_hold_key(&salt, kind, request_id),
            None => NO_PRODUCT.to_owned(),
        })
    }

    /// `sku`'s salt, or `None` when there is no such product.
    pub(super) async fn salt(&self, sku: &Sku) -> Result<Option<Arc<str>>> {
        if let Some(salt) = self.salts.0.lock().expect("salts lock").get(sku) {
            return Ok(Some(salt.clone()));
        }
        let salt: Option<String> = self
            .redis
            .query(
                redis::cmd("HGET")
                    .arg(ProductKeys::new(sku).product)
                    .arg("salt"),
            )
            .await?;
        let salt: Option<Arc<str>> = salt.map(Into::into);
        if let Some(salt) = &salt {
            self.salts
                .0
                .lock()
                .expect("salts lock")
                .insert(sku.clone(), salt.clone());
        }
        Ok(salt)
    }
}

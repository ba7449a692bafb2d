//! What every command sets up before it offers load: a name for the run and
//! the products it uses.

use anyhow::{Result, bail};

use crate::cli::ProductArgs;
use crate::merchant::Merchant;
use crate::reserve::Target;

/// A name for this run's products and request ids, unlikely to repeat.
pub fn run_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// The products of a run: fresh ones (`--setup`) or the ones named.
pub async fn products(
    merchant: &Merchant,
    args: &ProductArgs,
    run_id: &str,
    per_customer_limit: u32,
    hold_seconds: u32,
) -> Result<Target> {
    if args.setup {
        if args.skus == 0 {
            bail!("--skus must be at least 1");
        }
        let mut at_start = Vec::with_capacity(args.skus);
        for n in 0..args.skus {
            let sku = format!("{}-{run_id}-{n}", args.prefix);
            at_start.push(
                merchant
                    .create(&sku, args.stock, per_customer_limit, hold_seconds)
                    .await?,
            );
        }
        return Ok(Target::new(at_start, true));
    }
    if args.existing.is_empty() {
        bail!("say which products to use: --setup to create them, or --sku NAME for existing ones");
    }
    let mut at_start = Vec::with_capacity(args.existing.len());
    for sku in &args.existing {
        at_start.push(merchant.product(sku).await?);
    }
    Ok(Target::new(at_start, false))
}

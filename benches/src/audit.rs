//! `flashload audit`: one product's books as the server's `AuditProduct`
//! finds them, printed as JSON, for scripts that check a run's end.

use anyhow::Result;

use crate::cli::AuditArgs;
use crate::merchant::Merchant;

/// Prints the audit; `Ok(false)` when it found a problem.
pub async fn run(args: AuditArgs) -> Result<bool> {
    let merchant = Merchant::connect(&args.server.target, args.server.token.as_deref(), 1).await?;
    let a = merchant.audit(&args.sku).await?;
    let clean = a.problems.is_empty();
    println!(
        "{}",
        serde_json::json!({
            "sku": a.sku, "total": a.total, "available": a.available, "held": a.held,
            "sold": a.sold, "reserved": a.reserved, "cancelled": a.cancelled,
            "expired": a.expired, "released": a.released, "holds": a.holds,
            "live_holds": a.live_holds, "settled": a.settled, "problems": a.problems,
        })
    );
    Ok(clean)
}

//! The Lua scripts, compiled into the binary from `scripts/*.lua`.
//!
//! Every state-changing script gets `scripts/lib.lua` prepended: the shared
//! KEYS/ARGV layout and helpers; the reserve scripts also get
//! `reserving.lua` (deciding and granting one request), the cart scripts
//! `carts.lua` (their layout). `redis::Script` runs a script by its SHA1 and
//! loads it when Redis answers NOSCRIPT (after a restart or `SCRIPT FLUSH`).

use std::sync::LazyLock;

use redis::Script;

/// A state-changing script: `scripts/lib.lua`, then the shared parts it
/// needs, then its own file, as one chunk (so the parts share lib.lua's
/// locals).
macro_rules! product_source {
    ($($file:literal),+) => {
        concat!(
            include_str!("../scripts/lib.lua"),
            $("\n", include_str!(concat!("../scripts/", $file))),+
        )
    };
}

macro_rules! product_script {
    ($($file:literal),+) => {
        Script::new(product_source!($($file),+))
    };
}

/// The reserve script as Redis runs it, for loading it by hand (see
/// `Engine::raw_reserve_command`).
pub(crate) const RESERVE_SOURCE: &str = product_source!("reserving.lua", "reserve.lua");

pub(crate) struct Scripts {
    pub create_product: Script,
    pub update_product: Script,
    pub restock: Script,
    pub reserve: Script,
    pub reserve_cart: Script,
    pub undo_cart: Script,
    pub confirm: Script,
    pub cancel: Script,
    pub expire_due: Script,
    pub finalize_purchase: Script,
    pub release: Script,
    pub requeue_stranded: Script,
    pub snapshot: Script,
    pub audit: Script,
    pub sold_out: Script,
}

pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    create_product: product_script!("create_product.lua"),
    update_product: product_script!("update_product.lua"),
    restock: product_script!("restock.lua"),
    reserve: Script::new(RESERVE_SOURCE),
    reserve_cart: product_script!("reserving.lua", "carts.lua", "reserve_cart.lua"),
    undo_cart: product_script!("carts.lua", "undo_cart.lua"),
    confirm: product_script!("confirm.lua"),
    cancel: product_script!("cancel.lua"),
    expire_due: product_script!("expire_due.lua"),
    finalize_purchase: product_script!("finalize_purchase.lua"),
    release: product_script!("release.lua"),
    requeue_stranded: product_script!("requeue_stranded.lua"),
    snapshot: Script::new(include_str!("../scripts/snapshot.lua")),
    audit: Script::new(include_str!("../scripts/audit.lua")),
    sold_out: Script::new(include_str!("../scripts/sold_out.lua")),
});

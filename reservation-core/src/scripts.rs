//! The Lua scripts, compiled into the binary from `scripts/*.lua`.
//!
//! Every state-changing script gets the shared prelude prepended:
//! `scripts/lib.lua` (the KEYS/ARGV layout, products and hold records),
//! `customer_fields.lua` and `ending.lua` (ending and expiring holds,
//! committing a change); then the shared parts it needs:
//! `reserving.lua` (deciding and granting one request), `carts.lua` (the
//! cart scripts' layout), `holding.lua` (the scripts that move one hold).
//! The web push scripts (`push_*.lua`) stand alone: they touch only push
//! keys (and read whether a product exists).
//! `redis::Script` runs a script by its SHA1 and loads it when Redis answers
//! NOSCRIPT (after a restart or `SCRIPT FLUSH`).

use std::sync::LazyLock;

use redis::Script;

/// A state-changing script: the prelude (`scripts/lib.lua`,
/// `customer_fields.lua`, `ending.lua`), then the shared parts it needs, then
/// its own file, as one chunk (so the parts share the prelude's locals).
macro_rules! product_source {
    ($($file:literal),+) => {
        concat!(
            include_str!("../scripts/lib.lua"),
            "\n",
            include_str!("../scripts/customer_fields.lua"),
            "\n",
            include_str!("../scripts/ending.lua"),
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
    pub finalize_purchase: Script,
    pub release: Script,
    pub sweep_product: Script,
    pub upgrade_holds: Script,
    pub snapshot: Script,
    pub read_hold: Script,
    pub customer_holds: Script,
    pub forget_shopper_products: Script,
    pub forget_idle_consumers: Script,
    pub announce_availability: Script,
    pub keep_pending: Script,
    pub audit_counters: Script,
    pub earliest_deadline: Script,
    pub take_lease: Script,
    pub give_up_lease: Script,
    pub push_subscribe_shopper: Script,
    pub push_subscribe_product: Script,
    pub push_unsubscribe: Script,
    pub push_start_round: Script,
    pub push_observe_availability: Script,
    pub push_round_batch: Script,
    pub push_advance_round: Script,
    pub push_claim: Script,
}

pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    create_product: product_script!("create_product.lua"),
    update_product: product_script!("update_product.lua"),
    restock: product_script!("restock.lua"),
    reserve: Script::new(RESERVE_SOURCE),
    reserve_cart: product_script!("reserving.lua", "carts.lua", "reserve_cart.lua"),
    undo_cart: product_script!("reserving.lua", "carts.lua", "undo_cart.lua"),
    confirm: product_script!("holding.lua", "confirm.lua"),
    cancel: product_script!("holding.lua", "cancel.lua"),
    finalize_purchase: product_script!("holding.lua", "finalize_purchase.lua"),
    release: product_script!("holding.lua", "release.lua"),
    sweep_product: product_script!("sweep_product.lua"),
    upgrade_holds: product_script!("upgrade_holds.lua"),
    snapshot: Script::new(include_str!("../scripts/snapshot.lua")),
    read_hold: Script::new(include_str!("../scripts/read_hold.lua")),
    customer_holds: Script::new(include_str!("../scripts/customer_holds.lua")),
    forget_shopper_products: Script::new(include_str!("../scripts/forget_shopper_products.lua")),
    forget_idle_consumers: Script::new(include_str!("../scripts/forget_idle_consumers.lua")),
    announce_availability: Script::new(include_str!("../scripts/announce_availability.lua")),
    keep_pending: Script::new(include_str!("../scripts/keep_pending.lua")),
    audit_counters: Script::new(include_str!("../scripts/audit_counters.lua")),
    earliest_deadline: Script::new(include_str!("../scripts/earliest_deadline.lua")),
    take_lease: Script::new(include_str!("../scripts/take_lease.lua")),
    give_up_lease: Script::new(include_str!("../scripts/give_up_lease.lua")),
    push_subscribe_shopper: Script::new(include_str!("../scripts/push_subscribe_shopper.lua")),
    push_subscribe_product: Script::new(include_str!("../scripts/push_subscribe_product.lua")),
    push_unsubscribe: Script::new(include_str!("../scripts/push_unsubscribe.lua")),
    push_start_round: Script::new(include_str!("../scripts/push_start_round.lua")),
    push_observe_availability: Script::new(include_str!(
        "../scripts/push_observe_availability.lua"
    )),
    push_round_batch: Script::new(include_str!("../scripts/push_round_batch.lua")),
    push_advance_round: Script::new(include_str!("../scripts/push_advance_round.lua")),
    push_claim: Script::new(include_str!("../scripts/push_claim.lua")),
});

/// Every script's name and SHA1, as `SLOWLOG` and `SCRIPT EXISTS` name
/// them: for telling which of the engine's scripts a slow call was.
pub fn script_hashes() -> Vec<(&'static str, &'static str)> {
    let s = &*SCRIPTS;
    [
        ("create_product", &s.create_product),
        ("update_product", &s.update_product),
        ("restock", &s.restock),
        ("reserve", &s.reserve),
        ("reserve_cart", &s.reserve_cart),
        ("undo_cart", &s.undo_cart),
        ("confirm", &s.confirm),
        ("cancel", &s.cancel),
        ("finalize_purchase", &s.finalize_purchase),
        ("release", &s.release),
        ("sweep_product", &s.sweep_product),
        ("upgrade_holds", &s.upgrade_holds),
        ("snapshot", &s.snapshot),
        ("read_hold", &s.read_hold),
        ("customer_holds", &s.customer_holds),
        ("forget_shopper_products", &s.forget_shopper_products),
        ("forget_idle_consumers", &s.forget_idle_consumers),
        ("announce_availability", &s.announce_availability),
        ("keep_pending", &s.keep_pending),
        ("audit_counters", &s.audit_counters),
        ("earliest_deadline", &s.earliest_deadline),
        ("take_lease", &s.take_lease),
        ("give_up_lease", &s.give_up_lease),
        ("push_subscribe_shopper", &s.push_subscribe_shopper),
        ("push_subscribe_product", &s.push_subscribe_product),
        ("push_unsubscribe", &s.push_unsubscribe),
        ("push_start_round", &s.push_start_round),
        ("push_observe_availability", &s.push_observe_availability),
        ("push_round_batch", &s.push_round_batch),
        ("push_advance_round", &s.push_advance_round),
        ("push_claim", &s.push_claim),
    ]
    .into_iter()
    .map(|(name, script)| (name, script.get_hash()))
    .collect()
}

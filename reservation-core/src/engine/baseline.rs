//! The reserve script as one raw Redis command, so that what Redis alone can
//! do on the reserve path can be measured with `redis-benchmark`: the same
//! script, keys and arguments the engine sends, minus everything the engine
//! and the servers add around it. Load tests report their rates against it.

use super::Engine;
use crate::keys::{CUSTOMER_CHANNEL_PREFIX, ProductKeys};
use crate::scripts::{RESERVE_SOURCE, SCRIPTS};
use crate::types::Sku;

/// `redis-benchmark` puts a fresh random number in place of each occurrence.
const RANDOM: &str = "__rand_int__";

/// A reserve of one unit, ready for `redis-benchmark`.
#[derive(Clone, Debug)]
pub struct RawReserveCommand {
    /// The script's source, for `SCRIPT LOAD` before the run.
    pub script: &'static str,
    /// `EVALSHA`, its SHA, the key count, the keys and the arguments. The
    /// hold key, customer and request id carry `__rand_int__` placeholders,
    /// so every call is a new request of some customer.
    pub args: Vec<String>,
}

impl Engine {
    /// The reserve of one unit of `sku` the engine would send now, as one
    /// `EVALSHA` command line with `redis-benchmark` placeholders.
    pub fn raw_reserve_command(&self, sku: &Sku) -> RawReserveCommand {
        let keys = ProductKeys::new(sku);
        let now = self.clock.now_ms();
        let retention = self.config.retention;
        let script_keys = keys.script_keys(retention.period(now));
        let mut args = vec![
            "EVALSHA".to_owned(),
            SCRIPTS.reserve.get_hash().to_owned(),
            script_keys.len().to_string(),
        ];
        args.extend(script_keys);
        args.extend([
            sku.to_string(),
            now.to_string(),
            self.publish_command().to_owned(),
            keys.stock_channel.clone(),
            CUSTOMER_CHANNEL_PREFIX.to_owned(),
            retention.ended_ttl_ms(now).to_string(),
            self.config.reclaim_batch.to_string(),
            // One request: hold key, customer, quantity, request id. The
            // key stands in for the engine's hash of the request id, which
            // redis-benchmark cannot compute: 24 random digits where the
            // engine has 20 hex ones. Two placeholders each: one gives only
            // about 2^31 distinct values, and a repeat would be a replay.
            format!("{RANDOM}{RANDOM}"),
            format!("bench-{RANDOM}{RANDOM}"),
            "1".to_owned(),
            format!("bench-{RANDOM}{RANDOM}"),
        ]);
        RawReserveCommand {
            script: RESERVE_SOURCE,
            args,
        }
    }
}

//! The Redis key schema. Every key and channel name the engine uses is built
//! here and nowhere else.
//!
//! All keys of one product carry the hash tag `{SKU}`, so on Redis Cluster
//! they share one slot and each script runs on one shard. The SKU alphabet has
//! no braces, so the tag can never be broken by a product's name.

use crate::types::{CustomerId, ReservationId, Sku};

const PREFIX: &str = "fs";

/// Sorted set of every product's SKU (all scores 0, so it pages by name).
/// It lives outside any product's slot; see `Engine::create_product`.
pub const CATALOG: &str = "fs:catalog";

/// The number of partitions every process of a deployment was started with
/// (see [`Partitions`]); the first process records it, the others check it.
pub const PARTITION_COUNT: &str = "fs:partitions";

/// The consumer group of the purchase workers on each partition's
/// [`PartitionKeys::purchases`] stream.
pub const PURCHASE_GROUP: &str = "purchase-workers";

/// Stream of purchase jobs that failed for good (their holds were released).
pub const DEAD_PURCHASES: &str = "fs:purchases:dead";

/// Consumer group through which purchase workers deliver the event webhooks
/// of the orders and dead-letter streams.
pub const WEBHOOK_GROUP: &str = "webhooks";

/// Stream of event webhooks that could not be delivered, with why.
pub const DEAD_WEBHOOKS: &str = "fs:webhooks:dead";

/// Hash: the layout of the deployment's keys (`version`) and the settings
/// every process must share (`retention_ms`). See `Engine::connect`.
pub const LAYOUT: &str = "fs:layout";

/// Sorted set: each running sweeper → when its registration lapses (ms), so
/// sweepers can count each other and share the partitions.
pub const SWEEPERS: &str = "fs:sweepers";

/// Prefix of the customer channels that carry hold events.
pub const CUSTOMER_CHANNEL_PREFIX: &str = "fs:customer:";

/// How the purchase and order streams and the sweep index are split.
///
/// One stream or one index for the whole deployment would pin all purchase
/// traffic, or every sweeper's reads, to the one Redis Cluster shard that
/// holds it. Each partition has its own keys under its own hash tag
/// (`{part-N}`), so partitions spread over the shards. A purchase job goes to
/// the partition of its reservation (so even one hot product's purchases
/// spread out), a product to the partition of its SKU in the sweep index.
/// The hash is Redis Cluster's own (CRC16), stable across processes and
/// versions: every process of a deployment must use the same count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partitions(u16);

impl Partitions {
    /// The most partitions a deployment may have.
    pub const MAX: u16 = 1024;

    /// `None` unless `1 <= count <= MAX`.
    pub fn new(count: u16) -> Option<Self> {
        (1..=Self::MAX).contains(&count).then_some(Self(count))
    }

    pub fn count(self) -> u16 {
        self.0
    }

    /// Every partition's keys.
    pub fn all(self) -> impl Iterator<Item = PartitionKeys> {
        (0..self.0).map(PartitionKeys::new)
    }

    /// The partition whose stream carries the purchase job of `reservation`.
    pub fn of_reservation(self, reservation: &ReservationId) -> PartitionKeys {
        self.of(&reservation.to_string())
    }

    /// The partition whose sweep index lists `sku`.
    pub fn of_product(self, sku: &Sku) -> PartitionKeys {
        self.of(sku.as_str())
    }

    fn of(self, name: &str) -> PartitionKeys {
        PartitionKeys::new(cluster_hash(name) % self.0)
    }
}

impl std::str::FromStr for Partitions {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse()
            .ok()
            .and_then(Self::new)
            .ok_or_else(|| format!("a partition count is 1 to {}, not {s:?}", Self::MAX))
    }
}

impl std::fmt::Display for Partitions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Default for Partitions {
    /// Four: enough to spread over a three-shard Cluster.
    fn default() -> Self {
        Self(4)
    }
}

/// Redis Cluster's key hash (CRC16/XMODEM), before it is taken modulo the
/// 16384 slots.
fn cluster_hash(text: &str) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(text.as_bytes())
}

/// The keys of one partition (see [`Partitions`]), all under its hash tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionKeys {
    pub index: u16,
    /// Stream of purchase jobs (one per confirmed hold), read by purchase
    /// workers through the [`PURCHASE_GROUP`] consumer group.
    pub purchases: String,
    /// Stream of finished orders, for downstream systems' own consumer groups.
    pub orders: String,
    /// Sorted set: SKU → the earliest deadline of the product's live holds,
    /// for the products of this partition that have any. The sweepers' work
    /// list: a pass reads only the products due, never the keyspace.
    pub sweep_index: String,
    /// String: the sweeper that owns this partition, with a lease (PX) that
    /// it renews while it runs; another takes it over when it lapses.
    pub sweep_lease: String,
    /// Set of SKUs with active holds: layout 1's sweep index, read and
    /// removed by the layout upgrade.
    pub legacy_active_products: String,
}

impl PartitionKeys {
    pub fn new(index: u16) -> Self {
        let key = |kind: &str| format!("{PREFIX}:{kind}:{{part-{index}}}");
        Self {
            index,
            purchases: key("purchases"),
            orders: key("orders"),
            sweep_index: key("sweep"),
            sweep_lease: key("sweep-lease"),
            legacy_active_products: key("active-products"),
        }
    }
}

/// How long the record of an ended hold is kept, and with it its request id:
/// a retry within it gets the first answer, and `GetReservation` finds the
/// hold. Ended holds are kept in one hash per period of this length (under
/// the product's tag) and read for two periods, the current and the one
/// before, so each record is kept at least this long and at most twice
/// that. The first call on the product in the period after those two
/// unlinks the hash (Redis frees it in the background); one no call reaches
/// expires by itself a period later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Retention(std::time::Duration);

impl Retention {
    /// A day: what a request id is promised.
    pub const DEFAULT: Self = Self(std::time::Duration::from_secs(24 * 3600));

    /// `None` below a second.
    pub fn new(length: std::time::Duration) -> Option<Self> {
        (length >= std::time::Duration::from_secs(1)).then_some(Self(length))
    }

    pub fn duration(self) -> std::time::Duration {
        self.0
    }

    pub fn as_millis(self) -> i64 {
        self.0.as_millis() as i64
    }

    /// The period `now_ms` falls in: the ended hash a hold ending now goes to.
    pub fn period(self, now_ms: i64) -> i64 {
        now_ms.div_euclid(self.as_millis())
    }

    /// How long (ms) the current period's hash lives from `now_ms`, unless
    /// a call unlinks it first: to the end of the second period after it.
    pub fn ended_ttl_ms(self, now_ms: i64) -> i64 {
        (self.period(now_ms) + 3) * self.as_millis() - now_ms
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The keys and channel of one product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductKeys {
    pub sku: Sku,
    /// Hash: settings, the counters `total`, `available`, `held`, `sold`,
    /// `version`, and the tallies of granted and ended units.
    pub product: String,
    /// Hash: hold key → hold record, for live (HELD and CONFIRMED) holds.
    pub holds: String,
    /// Sorted set: due entry (the keys of the holds one call made) → their
    /// deadline, for HELD holds.
    pub due: String,
    /// Hash: customer id → units in active and purchased holds.
    pub customers: String,
    /// Sorted set: hold key → purchase deadline, for CONFIRMED holds.
    pub purchase_due: String,
    /// Hash: customer id → the tokens of their live holds of the product,
    /// space-separated.
    pub holders: String,
    /// Hash: what the shop was last told of the product's availability
    /// (`in_stock`: 1 or 0, `changes`: how many changes it was told of), for
    /// the `product.sold_out` and `product.back_in_stock` webhooks.
    pub announced: String,
    /// Pub/sub channel of the product's stock events.
    pub stock_channel: String,
}

impl ProductKeys {
    pub fn new(sku: &Sku) -> Self {
        let key = |kind: &str| format!("{PREFIX}:{kind}:{{{sku}}}");
        Self {
            sku: sku.clone(),
            product: key("product"),
            holds: key("holds"),
            due: key("due"),
            customers: key("customers"),
            purchase_due: key("purchase-due"),
            holders: key("holders"),
            announced: key("announced"),
            stock_channel: key("stock"),
        }
    }

    /// Hash: hold key → record of the holds that ended in retention period
    /// `period` (see [`Retention`]); it expires by itself.
    pub fn ended(&self, period: i64) -> String {
        format!("{PREFIX}:ended:{{{}}}:{period}", self.sku)
    }

    /// The nine keys every state-changing script takes, in script order
    /// (see `scripts/lib.lua`), for a call made in retention period `period`.
    pub fn script_keys(&self, period: i64) -> [String; 9] {
        [
            self.product.clone(),
            self.holds.clone(),
            self.due.clone(),
            self.customers.clone(),
            self.purchase_due.clone(),
            self.ended(period),
            self.ended(period - 1),
            self.ended(period - 2),
            self.holders.clone(),
        ]
    }

    /// Layout 1's record of one reserve request, read by the layout upgrade.
    pub fn legacy_request(&self, request_id: &str) -> String {
        format!("{PREFIX}:request:{{{}}}:{request_id}", self.sku)
    }

    /// Layout 1's record of a cart request's line, read by the layout upgrade.
    pub fn legacy_cart_request(&self, request_id: &str) -> String {
        format!("{PREFIX}:cart-request:{{{}}}:{request_id}", self.sku)
    }

    /// The Redis Cluster slot of every key of the product: CRC16 of its hash
    /// tag, the SKU.
    pub fn slot(&self) -> u16 {
        cluster_hash(self.sku.as_str()) % 16384
    }
}

/// Where a hold is stored, from its reservation id: the hold's key within
/// the product, and the creation time its token carries. A token of this
/// layout is ten base-32 digits of its creation time (in ms, as a ULID
/// starts) and its 20-hex-digit key; a token of layout 1 is a 26-character
/// ULID and is its own key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldKey<'a> {
    pub key: &'a str,
    /// `None` for a layout 1 token.
    pub created_at_ms: Option<i64>,
}

impl<'a> HoldKey<'a> {
    pub fn of(id: &'a ReservationId) -> Self {
        let token = id.token();
        match (token.len(), token.get(..10).and_then(decode_time)) {
            (30, Some(created_at_ms)) => Self {
                key: &token[10..],
                created_at_ms: Some(created_at_ms),
            },
            _ => Self {
                key: token,
                created_at_ms: None,
            },
        }
    }
}

/// What kind of request made a record: a reserve's, a cart line's and a
/// restock's request ids live apart, so none answers for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Reserve,
    CartLine,
    /// Makes no hold: its record is kept in the ended hashes for the
    /// retention, as an ended hold's is (see `scripts/restock.lua`).
    Restock,
}

/// The key of the hold a request makes, within its product (for a restock,
/// the key of its record): the first 20 hex digits of SHA-1 over the
/// product's salt, the request's kind and its id. So a request finds its
/// hold with no index of its own, and nobody without the salt can tell a
/// hold's id from its request id.
pub fn request_hold_key(salt: &str, kind: RequestKind, request_id: &str) -> String {
    let kind = match kind {
        RequestKind::Reserve => 'r',
        RequestKind::CartLine => 'c',
        RequestKind::Restock => 's',
    };
    let mut digest = sha1_smol::Sha1::from(format!("{salt}|{kind}|{request_id}"))
        .digest()
        .to_string();
    digest.truncate(20);
    digest
}

/// When a reservation id's token says its hold was made, for either layout
/// (a ULID starts with its time too); `None` when it carries no time.
pub fn created_at_ms(id: &ReservationId) -> Option<i64> {
    id.token().get(..10).and_then(decode_time)
}

/// Ten digits of Crockford's base 32, either case: a time in ms.
fn decode_time(digits: &str) -> Option<i64> {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    digits.bytes().try_fold(0i64, |ms, b| {
        let digit = ALPHABET.iter().position(|&a| a == b.to_ascii_lowercase())?;
        Some(ms * 32 + digit as i64)
    })
}

/// Sorted set: sku → when a reserve of the customer's last noted it (ms),
/// for every product the customer may hold live holds of; see
/// `Engine::customer_holds`. Under the customer's own hash tag: a
/// customer's holds span products, and so slots.
pub fn shopper_products(customer: &CustomerId) -> String {
    format!("{PREFIX}:shopper:{{{customer}}}")
}

/// The channel of one customer's hold events.
pub fn customer_channel(customer: &CustomerId) -> String {
    format!("{CUSTOMER_CHANNEL_PREFIX}{customer}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_product_carries_its_hash_tag() {
        let sku = Sku::new("TEE-1").unwrap();
        let keys = ProductKeys::new(&sku);
        for key in keys
            .script_keys(7)
            .iter()
            .map(String::as_str)
            .chain([keys.stock_channel.as_str(), &keys.legacy_request("r-1")])
        {
            assert!(key.contains("{TEE-1}"), "{key}");
            assert_eq!(key.matches('{').count(), 1, "{key}");
        }
        assert_eq!(keys.stock_channel, "fs:stock:{TEE-1}");
    }

    #[test]
    fn partitions_are_stable_and_each_key_of_one_carries_its_tag() {
        let partitions = Partitions::new(4).unwrap();
        let sku = Sku::new("TEE-1").unwrap();
        assert_eq!(partitions.of_product(&sku), partitions.of_product(&sku));
        for keys in partitions.all() {
            let tag = format!("{{part-{}}}", keys.index);
            for key in [
                &keys.purchases,
                &keys.orders,
                &keys.sweep_index,
                &keys.sweep_lease,
            ] {
                assert!(key.ends_with(&tag), "{key}");
            }
        }
        // Redis Cluster's CRC16 of "TEE-1", modulo 4.
        assert_eq!(partitions.of_product(&sku).index, 0xEE78 % 4);
        assert_eq!("8".parse(), Ok(Partitions::new(8).unwrap()));
        assert!("0".parse::<Partitions>().is_err());
        assert_eq!(Partitions::new(0), None);
        assert_eq!(Partitions::new(Partitions::MAX + 1), None);
    }

    #[test]
    fn a_reservation_id_leads_to_its_holds_key_in_either_layout() {
        let sku = Sku::new("TEE-1").unwrap();
        // This layout: ten digits of time, then the key.
        let id: ReservationId = "TEE-1~01hf7yat00a3f9c2e7b1d04f6a8c9e".parse().unwrap();
        let found = HoldKey::of(&id);
        assert_eq!(found.key, "a3f9c2e7b1d04f6a8c9e");
        assert_eq!(found.created_at_ms, Some(1_700_000_000_000));
        assert_eq!(created_at_ms(&id), Some(1_700_000_000_000));
        // Layout 1: a ULID, its own key.
        let legacy = ReservationId::from_parts(&sku, "01HF7YAT00ABCDEFGHJKMNPQRS").unwrap();
        let found = HoldKey::of(&legacy);
        assert_eq!(found.key, "01HF7YAT00ABCDEFGHJKMNPQRS");
        assert_eq!(found.created_at_ms, None);
        assert_eq!(created_at_ms(&legacy), Some(1_700_000_000_000));
    }

    #[test]
    fn a_request_finds_its_hold_by_a_salted_key_of_its_own_kind() {
        let key = request_hold_key("SALT", RequestKind::Reserve, "r-1");
        assert_eq!(key.len(), 20);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(key, request_hold_key("SALT", RequestKind::Reserve, "r-1"));
        assert_ne!(key, request_hold_key("SALT", RequestKind::CartLine, "r-1"));
        assert_ne!(key, request_hold_key("SALT", RequestKind::Restock, "r-1"));
        assert_ne!(key, request_hold_key("PEPPER", RequestKind::Reserve, "r-1"));
    }

    #[test]
    fn an_ended_hash_lives_at_most_to_the_end_of_the_second_period_after_its_own() {
        let day = Retention::DEFAULT;
        let ms = day.as_millis();
        assert_eq!(day.period(10 * ms + 5), 10);
        assert_eq!(day.ended_ttl_ms(10 * ms + 5), 3 * ms - 5);
        assert_eq!(Retention::new(std::time::Duration::from_millis(999)), None);
    }
}

//! The retention of ended holds: how long a hold's record, and with it its
//! request id, is kept, and which period's ended hash a hold ending now goes
//! to.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_hash_lives_at_most_to_the_end_of_the_second_period_after_its_own() {
        let day = Retention::DEFAULT;
        let ms = day.as_millis();
        assert_eq!(day.period(10 * ms + 5), 10);
        assert_eq!(day.ended_ttl_ms(10 * ms + 5), 3 * ms - 5);
        assert_eq!(Retention::new(std::time::Duration::from_millis(999)), None);
    }
}

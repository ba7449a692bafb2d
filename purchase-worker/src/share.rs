//! Which sweep partitions this worker sweeps. The running workers divide
//! the partitions among themselves, so each due hold is visited by one
//! worker and a second worker halves each one's share instead of doubling
//! the load on Redis.
//!
//! Every worker registers itself with a lease and so knows how many run;
//! its share is the partition count divided by that, rounded up. It holds
//! a partition through the partition's own lease (one holder at a time,
//! taken only when free), renews what it holds, gives up what exceeds its
//! share (a new worker's share is then free for it), and takes free ones
//! until it has its share. It starts looking at a place of its own among
//! the partitions, so workers starting together do not all try the same
//! ones. A worker that dies stops renewing: its leases lapse and the others
//! take its partitions over; one that stops cleanly gives them up at once.

use std::time::Duration;

use reservation_core::keys::PartitionKeys;
use reservation_core::{Engine, Result};

pub struct PartitionShare {
    engine: Engine,
    /// This process, as the leases name it: unique even where two workers
    /// share a name (as every process is PID 1 in its container).
    holder: String,
    lease: Duration,
    held: Vec<PartitionKeys>,
}

impl PartitionShare {
    pub fn new(engine: Engine, worker: &str, lease: Duration) -> Self {
        Self {
            engine,
            holder: format!("{worker}#{}", ulid::Ulid::new()),
            lease,
            held: Vec::new(),
        }
    }

    /// The partitions held, as of the last [`PartitionShare::refresh`].
    pub fn held(&self) -> &[PartitionKeys] {
        &self.held
    }

    /// This worker's name in the leases.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Renews this worker's registration and leases, and takes or gives up
    /// partitions toward its share. Returns the partitions it holds.
    pub async fn refresh(&mut self) -> Result<&[PartitionKeys]> {
        let running = self
            .engine
            .register_sweeper(&self.holder, self.lease)
            .await?
            .running
            .max(1);
        let all: Vec<PartitionKeys> = self.engine.config().partitions.all().collect();
        let share = all.len().div_ceil(running);

        let mut held = Vec::new();
        for partition in std::mem::take(&mut self.held) {
            if held.len() < share
                && self
                    .engine
                    .hold_partition(&partition, &self.holder, self.lease)
                    .await?
            {
                held.push(partition);
            } else {
                self.engine
                    .give_up_partition(&partition, &self.holder)
                    .await?;
            }
        }
        let start = self.start(all.len());
        for offset in 0..all.len() {
            if held.len() >= share {
                break;
            }
            let partition = &all[(start + offset) % all.len()];
            if held.contains(partition) {
                continue;
            }
            if self
                .engine
                .hold_partition(partition, &self.holder, self.lease)
                .await?
            {
                held.push(partition.clone());
            }
        }
        held.sort_by_key(|partition| partition.index);
        self.held = held;
        Ok(&self.held)
    }

    /// Gives up every lease and the registration: this worker is stopping.
    pub async fn leave(&mut self) -> Result<()> {
        for partition in std::mem::take(&mut self.held) {
            self.engine
                .give_up_partition(&partition, &self.holder)
                .await?;
        }
        self.engine.unregister_sweeper(&self.holder).await
    }

    /// Where this worker starts looking among `count` partitions.
    fn start(&self, count: usize) -> usize {
        let hash = self
            .holder
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
        hash % count
    }
}

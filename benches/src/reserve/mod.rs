//! `flashload reserve`: shoppers hammering the reserve path over gRPC, then a
//! check of the books.
//!
//! Two load models. Closed loop: `concurrency` shoppers, each sending its
//! next reserve when the last is answered; the server's speed sets the rate.
//! Open loop: sends leave on a schedule whatever the server does, as real
//! shoppers would, and latency is measured from when each send was *due*, so
//! a stall is charged to every call it delayed (coordinated omission
//! corrected); the figure from the actual send is reported beside it.
//!
//! This module holds the run's public API; `engine` offers the load,
//! `shopper` makes each call, `recorder` tallies and summarises them,
//! `checks` judges the books, `report` holds what comes out and `command`
//! wires it to the command line.

use std::time::Duration;

use flashsale_proto::v1 as pb;

use crate::merchant::Merchant;
use crate::profile::RateProfile;
use crate::traffic::Traffic;

mod checks;
mod command;
mod engine;
mod recorder;
mod report;
mod shopper;

pub use command::run;
pub use report::{FollowUpReport, LatencyReport, ProductTally, ReserveReport, Sends, ServerBooks};

/// How the load is offered.
#[derive(Clone, Debug)]
pub enum LoadModel {
    Closed {
        concurrency: usize,
    },
    Open {
        profile: RateProfile,
        /// Sends beyond this many unanswered calls are dropped (and counted).
        max_in_flight: usize,
    },
}

/// The products a run reserves, and whether it made them.
#[derive(Clone, Debug)]
pub struct Target {
    pub skus: Vec<String>,
    /// True when this run created them, so nobody else writes to them and
    /// the server's counters must match the run's own tally exactly.
    pub created: bool,
    /// Each product as the run found (or made) it.
    pub at_start: Vec<pb::Product>,
}

impl Target {
    pub fn new(at_start: Vec<pb::Product>, created: bool) -> Self {
        Self {
            skus: at_start.iter().map(|p| p.sku.clone()).collect(),
            created,
            at_start,
        }
    }
}

pub struct ReserveRun {
    pub merchant: Merchant,
    pub target: Target,
    pub traffic: Traffic,
    pub model: LoadModel,
    pub duration: Duration,
    /// Load offered before `duration`, the same way, but not measured: the
    /// first calls pay for new connections and script loading.
    pub warmup: Duration,
    /// Longest a call may take before it counts as a deadline failure.
    pub timeout: Duration,
}

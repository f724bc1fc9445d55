//! `leasehold-core`: leader leases for Raft that never serve a stale read
//! because a clock, a pause or a protocol corner lied.
//!
//! The core is `no_std`, allocation-free and sans-IO: it never reads a clock
//! itself. The caller owns time and hands it [`Instant`]s read from a
//! [`Clock`] implemented by one of the HAL crates (`leasehold-hal-linux`,
//! `leasehold-hal-darwin`, `leasehold-hal-fallback`, `leasehold-hal-embedded`).
//!
//! ```
//! use core::time::Duration;
//! use leasehold_core::{Clock, Instant, ManualClock};
//!
//! let clock = ManualClock::new(Instant::from_nanos(1_000).unwrap());
//! let start = clock.now()?;
//! clock.advance(Duration::from_millis(5));
//! let elapsed = clock.now()?.checked_duration_since(start);
//! assert_eq!(elapsed, Some(Duration::from_millis(5)));
//! # Ok::<(), leasehold_core::ClockError>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
mod config;
mod driver;
mod instant;
mod lease;
mod manual;
mod quorum;
mod read;
mod stamp;
mod sync;

pub use clock::{Clock, ClockError, ClockInfo};
pub use config::{ConfigError, LeaseConfig};
pub use driver::{
    Cause, Counters, Extensions, Invalidations, LeaseDriver, NodeState, OwnTermEntry, Safeguards,
    Tag, VoteDecision,
};
pub use instant::Instant;
pub use lease::{Extension, Lease};
pub use manual::ManualClock;
pub use quorum::{QuorumTracker, TrackerError};
pub use read::{
    finish_round, plan_read, read_local, LeadershipLoss, QuorumNeeded, ReadPlan, RoundOutcome,
};
pub use stamp::Stamp;

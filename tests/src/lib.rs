//! `leasehold-sim`: a deterministic fault simulation of raft-rs clusters
//! whose leaders serve lease reads through leasehold, with a stale-read
//! checker, a linearizability checker and a lease-overlap checker.
//!
//! - [`glue`]: the raft-rs ↔ leasehold glue a user can lift into a node.
//! - [`sim`]: the discrete-event simulation (virtual time, clocks, network, faults).
//! - [`check`]: the checkers.
//! - [`scenario`]: the correct configurations and the negative controls.

pub mod check;
pub mod clock;
pub mod glue;
pub mod rng;
pub mod scenario;
pub mod sim;

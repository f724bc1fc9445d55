//! `leasehold-sim`: a deterministic fault simulation of raft-rs clusters
//! whose nodes serve lease reads through `leasehold-raft`, with a stale-read
//! checker, a linearizability checker and a lease-overlap checker. Split the
//! way Jepsen splits a test:
//!
//! - [`network`]: cuts, loss, duplication and a heavy-tailed delay;
//! - [`node`]: the node loop (raft-rs `RawNode` + `leasehold-raft`, durable
//!   [`storage`], asynchronous apply, snapshots, restarts);
//! - [`client`]: the workload;
//! - [`nemesis`]: the random, overlapping fault schedule;
//! - [`check`], [`overlap`] and [`premise`]: the checkers; [`history`]:
//!   histories as JSON;
//! - [`sim`]: the event queue tying them together; [`scenario`]: the table's
//!   rows; [`explore`]: random configurations until a checker fires.

pub mod check;
pub mod client;
pub mod clock;
pub mod explore;
pub mod history;
pub mod nemesis;
pub mod network;
pub mod node;
pub mod overlap;
pub mod premise;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod storage;
pub mod transport;

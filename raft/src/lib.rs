//! `leasehold-raft`: lease reads on a raft-rs 0.7 `RawNode` that are never
//! stale because a clock, a pause or a protocol corner lied.
//!
//! [`RaftLease`] maps a `RawNode`'s state and `eraftpb` messages onto
//! leasehold-core's sans-IO [`LeaseDriver`](leasehold_core::LeaseDriver):
//! which stamp a response is credited with (through a [`Tag`] sent beside
//! each message), what invalidates, which votes are dropped, when a read may
//! be served locally. [`lease_config`] derives the lease from the
//! `raft::Config` the node runs with, so that a misconfiguration (no
//! check-quorum, `LeaseBased` reads, a timing that leaves no lease) is an
//! error at start-up.
//!
//! # Example
//!
//! Three nodes in one thread, messages passed by hand. A node that starts
//! refuses votes for one election timeout (it may have acknowledged a
//! leader just before it went down), so the nodes tick that long first;
//! then node 1 campaigns, wins, and serves a read under its lease.
//!
//! ```
//! use std::collections::VecDeque;
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use leasehold_core::{Clock, Instant, Lease, ManualClock, Tag};
//! use leasehold_raft::{RaftLease, Timing};
//! use raft::{eraftpb::Message, storage::MemStorage, Config, RawNode};
//!
//! // Time passes by hand here. A real node passes a clock that counts
//! // suspend as the lease clock and std's as the tick clock.
//! let clock = ManualClock::new(Instant::from_nanos(1_000_000).unwrap());
//! let tick = Duration::from_millis(100);
//! let timing = Timing {
//!     tick,
//!     lease_clock: clock.info(),
//!     tick_drift_ppm: 1_000,
//!     margin: Duration::from_millis(5),
//!     machine_never_suspends: false,
//! };
//! let logger = slog::Logger::root(slog::Discard, slog::o!());
//! let mut nodes = Vec::new();
//! for id in 1..=3 {
//!     let cfg = Config {
//!         id,
//!         election_tick: 10, // the vote refusal the lease is derived from
//!         min_election_tick: 15, // campaigns wait longer; the lease does not change
//!         max_election_tick: 30,
//!         heartbeat_tick: 3,
//!         check_quorum: true,
//!         ..Default::default()
//!     };
//!     let storage = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
//!     let node = RawNode::new(&cfg, storage, &logger)?;
//!     let lease = RaftLease::new(&cfg, &timing, Arc::new(Lease::new()))?;
//!     nodes.push((node, lease));
//! }
//! for _ in 0..=10 {
//!     for (node, lease) in nodes.iter_mut() {
//!         lease.tick_if_due(node, &clock, &clock); // the first call starts the schedule
//!     }
//!     clock.advance(tick);
//! }
//! nodes[0].0.campaign()?;
//! let mut wire: VecDeque<(Message, Option<Tag>)> = VecDeque::new();
//! for _ in 0..20 {
//!     for (node, lease) in nodes.iter_mut() {
//!         lease.observe(node);
//!         if !node.has_ready() { continue; }
//!         let mut ready = node.ready();
//!         let store = node.store().clone();
//!         store.wl().append(ready.entries())?;
//!         if let Some(hs) = ready.hs() { store.wl().set_hardstate(hs.clone()); }
//!         let now = clock.now();
//!         for m in ready.take_messages().into_iter().chain(ready.take_persisted_messages()) {
//!             let tag = lease.tag(&m, now);
//!             wire.push_back((m, tag));
//!         }
//!         let mut light = node.advance(ready);
//!         if let Some(c) = light.commit_index() { store.wl().mut_hard_state().set_commit(c); }
//!         for m in light.take_messages() {
//!             let tag = lease.tag(&m, now);
//!             wire.push_back((m, tag));
//!         }
//!         // (apply light.committed_entries() to your state machine here)
//!         node.advance_apply();
//!         lease.observe(node);
//!     }
//!     while let Some((m, tag)) = wire.pop_front() {
//!         let (node, lease) = &mut nodes[m.to as usize - 1];
//!         lease.step(node, m, tag)?;
//!     }
//! }
//! let (_, leader) = &mut nodes[0];
//! assert_eq!(leader.read(&clock, || "local state"), Ok("local state"));
//! assert_eq!(leader.counters().reads_local, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod node;
mod setup;
mod ticker;

pub use leasehold_core::Tag;
pub use node::{RaftLease, ReadIndexError};
pub use setup::{lease_config, SetupError, Timing};

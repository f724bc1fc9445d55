//! `leasehold-jepsen`: leasehold-raft on real processes, real clocks and
//! real sockets, tested the way Jepsen tests a database.
//!
//! Two programs share this crate:
//!
//! - `leasehold-jepsen-node`: a raft-rs node serving one register
//!   ([`node`]), over a TCP transport ([`transport`], [`frame`]) with a
//!   durable log ([`storage`]) and a line-based client port ([`protocol`]).
//! - `leasehold-jepsen`: the harness. It starts 3 or 5 nodes on loopback
//!   behind its own proxies ([`proxy`]) and processes ([`cluster`]), runs
//!   clients ([`client`]) while a nemesis ([`nemesis`]) injects faults, then
//!   checks every history with the project's checkers and writes it as JSON
//!   ([`checker`]), and prints a table ([`table`]) of the rows in
//!   [`scenario`].

pub mod checker;
pub mod client;
pub mod cluster;
pub mod frame;
pub mod nemesis;
pub mod node;
pub mod probe;
pub mod protocol;
pub mod proxy;
pub mod run;
pub mod scenario;
pub mod storage;
pub mod table;
pub mod transport;

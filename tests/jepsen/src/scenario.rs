//! The table's rows: which cluster, which read mode, which faults, and
//! what the checkers must say.

use crate::nemesis::Fault;
use crate::node::ReadMode;

/// What a row must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No stale read and a linearizable history.
    Clean,
    /// A checker fires (a negative control).
    Caught,
}

/// One row.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name in the table.
    pub name: &'static str,
    /// Cluster size.
    pub nodes: usize,
    /// Read mode of every node.
    pub mode: ReadMode,
    /// Faults and weights.
    pub faults: Vec<(Fault, u32)>,
    /// Expected verdict.
    pub expect: Expect,
    /// Fault phase, seconds (full run, quick run).
    pub secs: (u64, u64),
}

fn all_faults() -> Vec<(Fault, u32)> {
    vec![
        (Fault::PauseLeader, 4),
        (Fault::PauseFollower, 2),
        (Fault::KillRestart, 3),
        (Fault::IsolateLeader, 2),
        (Fault::OneWayFromLeader, 1),
        (Fault::OneWayToLeader, 1),
        (Fault::Split, 1),
        (Fault::Transfer, 3),
        (Fault::ClockWithinBound, 2),
        (Fault::Garbage, 2),
    ]
}

/// Every row, in table order.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "leasehold 3n, all faults",
            nodes: 3,
            mode: ReadMode::Leasehold,
            faults: all_faults(),
            expect: Expect::Clean,
            secs: (60, 14),
        },
        Scenario {
            name: "leasehold 5n, all faults",
            nodes: 5,
            mode: ReadMode::Leasehold,
            faults: all_faults(),
            expect: Expect::Clean,
            secs: (45, 12),
        },
        Scenario {
            name: "leasehold 3n, leader pauses",
            nodes: 3,
            mode: ReadMode::Leasehold,
            faults: vec![(Fault::PauseLeader, 1)],
            expect: Expect::Clean,
            secs: (30, 10),
        },
        Scenario {
            name: "leasehold 3n, clock x0.2 (beyond bound)",
            nodes: 3,
            mode: ReadMode::Leasehold,
            faults: vec![(Fault::SlowLeaderClock, 1)],
            expect: Expect::Caught,
            secs: (30, 14),
        },
        Scenario {
            name: "raft-rs LeaseBased 3n, leader pauses",
            nodes: 3,
            mode: ReadMode::RaftLeaseBased,
            faults: vec![(Fault::PauseLeader, 1)],
            expect: Expect::Caught,
            // Each pause gives a stale read only if the deposed leader answers
            // a bound client before it hears from its successor: a race, so
            // the short run gets more pauses than the others.
            secs: (30, 16),
        },
    ]
}

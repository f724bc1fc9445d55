//! The scenarios of the table: correct configurations, which must show no
//! stale read and no lease overlap, and negative controls, each of which the
//! checkers must catch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use leasehold_core::{ConfigError, LeaseConfig};

use crate::check::{linearizable, stale_reads, Kind, Lin, Via};
use crate::glue::GlueOptions;
use crate::sim::{Attack, ReadMode, Sim, SimConfig};

/// Raft tick of every scenario.
pub const TICK: Duration = Duration::from_millis(10);
/// raft-rs `election_tick` of every scenario.
pub const ELECTION_TICKS: usize = 10;
/// The drift bound the correct configurations are built for.
pub const DRIFT_PPM: u32 = 10_000;
/// Safety margin of the correct configurations.
pub const MARGIN: Duration = Duration::from_millis(2);
/// Search budget of the linearizability checker per history.
pub const LIN_BUDGET: usize = 200_000;

/// The lease duration leasehold derives for the scenarios' raft timing.
pub fn correct_lease() -> Duration {
    lease_config()
        .lease_duration()
        .expect("the correct configuration is valid")
}

fn lease_config() -> LeaseConfig {
    LeaseConfig::new(TICK, ELECTION_TICKS)
        .max_drift_ppm(DRIFT_PPM)
        .clock_resolution(Duration::from_nanos(1))
        .margin(MARGIN)
        .check_quorum(true)
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name.
    pub name: &'static str,
    /// `true` for a correct configuration (must be clean), `false` for a
    /// negative control (must be caught).
    pub correct: bool,
    /// The simulation configuration.
    pub cfg: SimConfig,
}

fn base(nodes: usize, attacks: Vec<Attack>) -> SimConfig {
    SimConfig {
        nodes,
        tick: TICK,
        election_ticks: ELECTION_TICKS,
        heartbeat_ticks: 2,
        check_quorum: true,
        pre_vote: false,
        read_mode: ReadMode::Leasehold {
            lease: correct_lease(),
        },
        glue: GlueOptions::default(),
        configured_drift_ppm: DRIFT_PPM,
        actual_drift_ppm: DRIFT_PPM,
        clock_counts_suspend: true,
        reuse_last_good: false,
        attacks,
        duration: Duration::from_secs(10),
        clients: 4,
        loss: 0.01,
        dup: 0.01,
        latency: (200_000, 3_000_000),
    }
}

/// Every fault script.
pub fn all_attacks() -> Vec<Attack> {
    vec![
        Attack::IsolateLeader,
        Attack::DeafenLeader,
        Attack::SuspendLeader,
        Attack::PauseNode,
        Attack::CrashRestart,
        Attack::TransferDeaf,
        Attack::ClockFailIsolate,
        Attack::RestartVote,
        Attack::SplitFollower,
        Attack::NetworkChaos,
        Attack::Membership,
    ]
}

/// All scenarios, correct ones first.
pub fn all() -> Vec<Scenario> {
    let lease = |d: Duration| ReadMode::Leasehold { lease: d };
    let et = TICK * ELECTION_TICKS as u32;
    let isolate = vec![Attack::IsolateLeader, Attack::DeafenLeader];
    let mut v = vec![
        Scenario {
            name: "correct 3 nodes, all faults",
            correct: true,
            cfg: base(3, all_attacks()),
        },
        Scenario {
            name: "correct 5 nodes, all faults",
            correct: true,
            cfg: base(5, all_attacks()),
        },
    ];
    // The correct configuration under exactly the fault scripts the negative
    // controls below use: the same schedules, clean.
    for (name, attacks) in [
        ("correct 3n: leader isolations", isolate.clone()),
        ("correct 3n: suspends", vec![Attack::SuspendLeader]),
        ("correct 3n: clock failures", vec![Attack::ClockFailIsolate]),
        ("correct 3n: deaf transfers", vec![Attack::TransferDeaf]),
        ("correct 3n: restart votes", vec![Attack::RestartVote]),
        ("correct 3n: split follower", vec![Attack::SplitFollower]),
    ] {
        v.push(Scenario {
            name,
            correct: true,
            cfg: base(3, attacks),
        });
    }
    let mut neg = |name: &'static str, f: &dyn Fn(&mut SimConfig)| {
        let mut cfg = base(3, isolate.clone());
        f(&mut cfg);
        v.push(Scenario {
            name,
            correct: false,
            cfg,
        });
    };
    neg("lease = election timeout", &|c| c.read_mode = lease(et));
    neg("lease = 2x election timeout", &|c| {
        c.read_mode = lease(et * 2)
    });
    neg("clock stops in suspend", &|c| {
        c.clock_counts_suspend = false;
        c.attacks = vec![Attack::SuspendLeader];
    });
    neg("drift 20x above bound", &|c| {
        c.actual_drift_ppm = DRIFT_PPM * 20;
    });
    neg("failed clock read reused", &|c| {
        c.reuse_last_good = true;
        c.attacks = vec![Attack::ClockFailIsolate];
    });
    neg("no invalidate on transfer", &|c| {
        c.glue.invalidate_on_transfer = false;
        c.attacks = vec![Attack::TransferDeaf];
    });
    neg("no restart guard", &|c| {
        c.glue.restart_guard = false;
        c.attacks = vec![Attack::RestartVote];
    });
    neg("check-quorum off", &|c| {
        // LeaseConfig refuses this configuration; the control forces the
        // duration it would have derived with check-quorum on.
        assert_eq!(
            lease_config().check_quorum(false).lease_duration(),
            Err(ConfigError::CheckQuorumOff)
        );
        c.check_quorum = false;
        c.attacks = vec![Attack::SplitFollower];
    });
    neg("raft-rs LeaseBased read", &|c| {
        c.read_mode = ReadMode::RaftLeaseBased;
    });
    v
}

/// What one seed produced.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeedResult {
    /// Reads served under the lease.
    pub lease_reads: u64,
    /// Reads served through ReadIndex.
    pub quorum_reads: u64,
    /// Acknowledged writes.
    pub writes: u64,
    /// Stale reads found.
    pub stale: u64,
    /// Lease overlap, true nanoseconds.
    pub overlap_ns: u64,
    /// Linearizability verdict of the whole history.
    pub lin: Option<Lin>,
    /// Diverging applied logs (must be 0 whatever the configuration).
    pub divergence: u64,
    /// Hash of the event log.
    pub hash: u64,
    /// Processed events.
    pub events: u64,
    /// Membership changes committed.
    pub conf_changes: u64,
}

/// Runs one seed of a configuration and checks its history.
pub fn run_seed(cfg: &SimConfig, seed: u64) -> SeedResult {
    let r = Sim::new(cfg.clone(), seed).run();
    let mut s = SeedResult {
        overlap_ns: r.overlap_ns,
        divergence: r.divergence,
        hash: r.hash,
        events: r.events,
        conf_changes: r.conf_changes,
        ..Default::default()
    };
    for o in &r.ops {
        if o.complete.is_none() {
            continue;
        }
        match (o.kind, o.via) {
            (Kind::Read, Via::Lease) => s.lease_reads += 1,
            (Kind::Read, _) => s.quorum_reads += 1,
            (Kind::Write, _) => s.writes += 1,
        }
    }
    s.stale = stale_reads(&r.ops).len() as u64;
    s.lin = Some(linearizable(&r.ops, LIN_BUDGET));
    s
}

/// Totals of a scenario over its seeds.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Seeds run.
    pub seeds: u64,
    /// Reads served under the lease.
    pub lease_reads: u64,
    /// Reads served through ReadIndex.
    pub quorum_reads: u64,
    /// Acknowledged writes.
    pub writes: u64,
    /// Stale reads.
    pub stale: u64,
    /// Seeds with at least one stale read.
    pub stale_seeds: u64,
    /// Total lease overlap, true nanoseconds.
    pub overlap_ns: u64,
    /// Seeds with overlap.
    pub overlap_seeds: u64,
    /// Histories found linearizable.
    pub lin_ok: u64,
    /// Histories found not linearizable.
    pub lin_violation: u64,
    /// Histories beyond the search budget.
    pub lin_unknown: u64,
    /// Diverging applied logs.
    pub divergence: u64,
    /// Membership changes committed.
    pub conf_changes: u64,
    /// The first seed that showed a stale read or an overlap.
    pub first_bad_seed: Option<u64>,
}

impl Summary {
    /// Whether the checkers found anything.
    pub fn caught(&self) -> bool {
        self.stale > 0 || self.overlap_ns > 0 || self.lin_violation > 0
    }

    /// Share of reads served locally.
    pub fn availability(&self) -> f64 {
        let all = self.lease_reads + self.quorum_reads;
        if all == 0 {
            0.0
        } else {
            self.lease_reads as f64 / all as f64
        }
    }

    /// Whether the row is as expected (clean if correct, caught otherwise).
    pub fn as_expected(&self, correct: bool) -> bool {
        if correct {
            !self.caught() && self.divergence == 0
        } else {
            self.caught()
        }
    }
}

/// Runs `seeds` of a scenario on `threads` threads; `progress(done)` is
/// called after each seed. The summary does not depend on `threads`.
pub fn run_scenario(
    s: &Scenario,
    seeds: std::ops::Range<u64>,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Summary {
    let list: Vec<u64> = seeds.collect();
    let results: Mutex<Vec<Option<SeedResult>>> = Mutex::new(vec![None; list.len()]);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = list.get(k) else { break };
                let r = run_seed(&s.cfg, seed);
                results.lock().expect("no panics")[k] = Some(r);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            });
        }
    });
    let mut sum = Summary::default();
    for (seed, r) in list.iter().zip(results.into_inner().expect("no panics")) {
        let r = r.expect("every seed ran");
        sum.seeds += 1;
        sum.lease_reads += r.lease_reads;
        sum.quorum_reads += r.quorum_reads;
        sum.writes += r.writes;
        sum.stale += r.stale;
        sum.overlap_ns += r.overlap_ns;
        sum.divergence += r.divergence;
        sum.conf_changes += r.conf_changes;
        if r.stale > 0 {
            sum.stale_seeds += 1;
        }
        if r.overlap_ns > 0 {
            sum.overlap_seeds += 1;
        }
        match r.lin {
            Some(Lin::Ok) => sum.lin_ok += 1,
            Some(Lin::Violation) => sum.lin_violation += 1,
            _ => sum.lin_unknown += 1,
        }
        if (r.stale > 0 || r.overlap_ns > 0) && sum.first_bad_seed.is_none() {
            sum.first_bad_seed = Some(*seed);
        }
    }
    sum
}

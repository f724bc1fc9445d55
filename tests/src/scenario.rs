//! The rows of the table: correct configurations, which must show no stale
//! read, no lease overlap and linearizable histories, and negative controls
//! (exactly one safety check or one timing assumption broken), each of
//! which the checkers must catch. Every row runs the same random nemesis:
//! no row has a fault script written for the hole its control opens.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use leasehold_core::{OwnTermEntry, Safeguards};

use crate::check::{linearizable, stale_reads, Kind, Lin, Via};
use crate::nemesis::NemesisConfig;
use crate::network::NetConfig;
use crate::sim::{ApplyConfig, LeaseTiming, Pick, ReadMode, RunResult, Sim, SimConfig};

/// Raft tick of every scenario.
pub const TICK: Duration = Duration::from_millis(10);
/// raft-rs `election_tick` of every scenario.
pub const ELECTION_TICKS: usize = 10;
/// The drift bound the correct configurations are built for (lease clock
/// and tick timers).
pub const DRIFT_PPM: u32 = 10_000;
/// Search budget of the linearizability checker per history.
pub const LIN_BUDGET: usize = 200_000;
/// raft-rs `heartbeat_tick` values drawn per seed.
pub const HEARTBEAT_TICKS: &[usize] = &[1, 2, 3, 5];
/// Write shares (percent of operations) drawn per seed.
pub const WRITE_PCT: &[u32] = &[2, 10, 35];
/// Shares of time (percent) the workload only reads, drawn per seed.
pub const READ_ONLY_PCT: &[u32] = &[0, 50, 80];
/// `min_election_tick` values drawn per seed (0: `election_tick`).
pub const MIN_ELECTION_TICKS: &[usize] = &[0, 13, 20];

/// The lease `leasehold-raft` derives for the scenarios (tick, election_tick,
/// drift bound, 2 ms margin, 1 ns clock resolution).
pub fn correct_lease() -> Duration {
    leasehold_core::LeaseConfig::new(TICK, ELECTION_TICKS)
        .max_drift_ppm(DRIFT_PPM)
        .clock_resolution(Duration::from_nanos(1))
        .margin(Duration::from_millis(2))
        .check_quorum(true)
        .lease_duration()
        .expect("the scenarios' timing is valid")
}

/// What a row must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No stale read, no overlap, no broken premise, every history
    /// linearizable, no divergence.
    Clean,
    /// A checker catches it from random faults.
    Caught,
    /// Its race needs several faults to line up inside one lease, which the
    /// random faults reach too rarely to rely on (or, for two rows, no
    /// state-machine history can show it; see the README); the named
    /// deterministic test reproduces what the check prevents. The row still
    /// runs, and counts what it finds.
    Scripted(&'static str),
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name.
    pub name: &'static str,
    /// What it must show.
    pub expect: Expect,
    /// What is switched off or broken (controls), for the README.
    pub what: &'static str,
    /// The simulation configuration.
    pub cfg: SimConfig,
}

/// The configuration every row starts from: the correct one, under every
/// kind of fault.
pub fn base(nodes: usize) -> SimConfig {
    SimConfig {
        nodes,
        spares: 3,
        tick: TICK,
        election_ticks: ELECTION_TICKS,
        heartbeat_ticks: Pick::Any(HEARTBEAT_TICKS),
        min_election_ticks: Pick::Any(MIN_ELECTION_TICKS),
        check_quorum: true,
        pre_vote: Pick::Any(&[false, true]),
        read_mode: ReadMode::Leasehold,
        lease_timing: LeaseTiming::Derived,
        safeguards: Safeguards::ALL,
        configured_drift_ppm: DRIFT_PPM,
        actual_drift_ppm: DRIFT_PPM,
        clock_counts_suspend: true,
        reuse_last_good: false,
        net: NetConfig {
            latency: (200_000, 3_000_000),
            hold: 0.02,
            hold_for: (20_000_000, 2_000_000_000),
            loss: 0.01,
            dup: 0.02,
            keep_for_down: 1.0,
        },
        nemesis: NemesisConfig::all(Duration::from_millis(300)),
        apply: ApplyConfig {
            lag_prob: 0.3,
            max_lag: Duration::from_millis(50),
        },
        snapshot_every: (20, 200),
        duration: Duration::from_secs(10),
        clients: 4,
        write_ratio: Pick::Any(WRITE_PCT),
        read_only_share: Pick::Any(READ_ONLY_PCT),
    }
}

/// All rows, correct ones first.
pub fn all() -> Vec<Scenario> {
    let mut v = Vec::new();
    let mut row = |name, expect, what, f: &dyn Fn(&mut SimConfig)| {
        let mut cfg = base(3);
        cfg.nemesis.swarm = expect != Expect::Clean;
        f(&mut cfg);
        v.push(Scenario {
            name,
            expect,
            what,
            cfg,
        });
    };
    use Expect::*;
    row("correct 3 nodes", Clean, "", &|_| {});
    row("correct 3n, swarm faults", Clean, "", &|c| {
        c.nemesis.swarm = true
    });
    row("correct 5n, swarm faults", Clean, "", &|c| {
        c.nodes = 5;
        c.nemesis.swarm = true;
    });
    row("correct 5 nodes", Clean, "", &|c| c.nodes = 5);
    row("correct 3n, pre-vote off", Clean, "", &|c| {
        c.pre_vote = Pick::Fixed(false)
    });
    row("correct 3n, pre-vote on", Clean, "", &|c| {
        c.pre_vote = Pick::Fixed(true)
    });
    let guard = |f: fn(&mut Safeguards)| {
        move |c: &mut SimConfig| {
            let mut s = Safeguards::ALL;
            f(&mut s);
            c.safeguards = s;
        }
    };
    row(
        "ack credits newest request",
        Caught,
        "an ack is credited with the stamp of the newest request sent to that peer, not of the request its tag names (invariant 4)",
        &guard(|s| s.credit_echoed_request = false),
    );
    row(
        "tags reused across restarts",
        Caught,
        "hole 4: tags are bare sequence numbers restarting at 1 with every incarnation, and followers echo any request they stepped (invariant 17)",
        &guard(|s| s.unique_tags = false),
    );
    row(
        "learner acks count",
        Caught,
        "the tracker is given learners as voters (invariant 8)",
        &guard(|s| s.voters_only = false),
    );
    row(
        "transfer keeps the lease",
        Caught,
        "MsgTimeoutNow does not suspend the lease (invariant 14)",
        &guard(|s| s.transfer_suspends = false),
    );
    row(
        "suspension ends with transfer",
        Caught,
        "hole 1: the suspension lifts after one election timeout, when raft-rs abandons the transfer",
        &guard(|s| s.suspension_lasts_the_term = false),
    );
    row(
        "no vote guard, pre-vote off",
        Scripted("sim::scripted::vote_guard_a_follower_forgets_its_leader"),
        "hole 2: no vote guard after accepted leader messages; only raft-rs's in_lease rule (pre-vote off)",
        &|c| {
            guard(|s| s.vote_guard = false)(c);
            c.pre_vote = Pick::Fixed(false);
        },
    );
    row(
        "no vote guard, pre-vote on",
        Scripted("sim::scripted::vote_guard_a_follower_forgets_its_leader"),
        "hole 2 with pre-vote on",
        &|c| {
            guard(|s| s.vote_guard = false)(c);
            c.pre_vote = Pick::Fixed(true);
        },
    );
    row(
        "no restart guard",
        Caught,
        "the vote guard is not armed when a node starts (invariant 15)",
        &guard(|s| s.restart_guard = false),
    );
    row(
        "own term committed, not applied",
        Caught,
        "hole 3: a leader extends once an entry of its term is committed, before it is applied (invariant 16)",
        &guard(|s| s.own_term_entry = OwnTermEntry::Committed),
    );
    row(
        "no own-term entry needed",
        Caught,
        "a new leader extends before any entry of its term is committed or applied",
        &guard(|s| s.own_term_entry = OwnTermEntry::NotRequired),
    );
    row(
        "no validation after read",
        Scripted("driver::tests::reads_are_validated_after_the_snapshot"),
        "a local read is checked before its snapshot only (invariant 12)",
        &guard(|s| s.validate_after_read = false),
    );
    row(
        "clock errors kept",
        Caught,
        "a failed clock read fails the operation but keeps the lease (invariant 1)",
        &guard(|s| s.clock_error_invalidates = false),
    );
    row(
        "no step-down invalidation",
        Caught,
        "leaving the leader role or the term keeps the lease (invariant 9)",
        &guard(|s| s.step_down_invalidates = false),
    );
    row(
        "lease 1.25x too long",
        Caught,
        "the lease is derived from a tick 1.25 times too long (invariant 10)",
        &|c| c.lease_timing = LeaseTiming::Scaled { num: 5, den: 4 },
    );
    row(
        "lease 2x too long",
        Caught,
        "the lease is derived from a tick twice too long",
        &|c| c.lease_timing = LeaseTiming::Scaled { num: 2, den: 1 },
    );
    row(
        "lease from min_election_tick",
        Caught,
        "item 5: lease and vote guard from min_election_tick (20) instead of election_tick (10), raft-rs's in_lease rule only",
        &|c| {
            c.lease_timing = LeaseTiming::FromMinElectionTick;
            c.min_election_ticks = Pick::Fixed(20);
            guard(|s| s.vote_guard = false)(c);
        },
    );
    row(
        "clock stops in suspend",
        Caught,
        "the lease clock does not count suspend (CLOCK_MONOTONIC_RAW on Linux)",
        &|c| c.clock_counts_suspend = false,
    );
    row(
        "drift 20x above bound",
        Caught,
        "clocks and tick timers drift 20 times the configured bound (invariant 18)",
        &|c| c.actual_drift_ppm = DRIFT_PPM * 20,
    );
    row(
        "failed clock read reused",
        Caught,
        "a clock wrapper turns a failed read into the last good value (invariant 1)",
        &|c| c.reuse_last_good = true,
    );
    row(
        "check-quorum off",
        Scripted("config::tests::every_error (refused at start-up)"),
        "raft-rs runs without check-quorum (LeaseConfig refuses it; the lease is derived as if on)",
        &|c| c.check_quorum = false,
    );
    row(
        "raft-rs LeaseBased read",
        Caught,
        "raft-rs's own ReadOnlyOption::LeaseBased (no clock; being leader counts as holding the lease)",
        &|c| c.read_mode = ReadMode::RaftLeaseBased,
    );
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
    /// Faults injected.
    pub faults: u64,
    /// Snapshots installed.
    pub snapshots: u64,
    /// Broken lease premises.
    pub broken_promises: u64,
}

impl SeedResult {
    /// Whether a checker found something.
    pub fn bad(&self) -> bool {
        self.stale > 0
            || self.overlap_ns > 0
            || self.lin == Some(Lin::Violation)
            || self.divergence > 0
            || self.broken_promises > 0
    }
}

/// Runs one seed and returns the raw result (for histories and replays).
pub fn run_raw(cfg: &SimConfig, seed: u64) -> RunResult {
    Sim::new(cfg.clone(), seed).run()
}

/// Checks a run's history.
pub fn check(r: &RunResult) -> SeedResult {
    let mut s = SeedResult {
        overlap_ns: r.overlap_ns,
        divergence: r.divergence,
        hash: r.hash,
        events: r.events,
        conf_changes: r.conf_changes,
        faults: r.faults,
        snapshots: r.snapshots_installed,
        broken_promises: r.broken_promises,
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

/// Runs one seed of a configuration and checks its history.
pub fn run_seed(cfg: &SimConfig, seed: u64) -> SeedResult {
    check(&run_raw(cfg, seed))
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
    /// Faults injected.
    pub faults: u64,
    /// Snapshots installed.
    pub snapshots: u64,
    /// Broken lease premises.
    pub broken_promises: u64,
    /// Seeds with a broken premise.
    pub broken_seeds: u64,
    /// Seeds in which a checker found something.
    pub bad_seeds: u64,
    /// The first seed in which a checker found something.
    pub first_bad_seed: Option<u64>,
}

impl Summary {
    /// Whether the checkers found anything.
    pub fn caught(&self) -> bool {
        self.stale > 0 || self.overlap_ns > 0 || self.lin_violation > 0 || self.broken_promises > 0
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

    /// Whether the row is as expected.
    pub fn as_expected(&self, expect: Expect) -> bool {
        match expect {
            Expect::Clean => !self.caught() && self.divergence == 0,
            Expect::Caught => self.caught(),
            Expect::Scripted(_) => true,
        }
    }

    fn add(&mut self, seed: u64, r: &SeedResult) {
        self.seeds += 1;
        self.lease_reads += r.lease_reads;
        self.quorum_reads += r.quorum_reads;
        self.writes += r.writes;
        self.stale += r.stale;
        self.overlap_ns += r.overlap_ns;
        self.divergence += r.divergence;
        self.conf_changes += r.conf_changes;
        self.faults += r.faults;
        self.snapshots += r.snapshots;
        self.broken_promises += r.broken_promises;
        if r.broken_promises > 0 {
            self.broken_seeds += 1;
        }
        if r.stale > 0 {
            self.stale_seeds += 1;
        }
        if r.overlap_ns > 0 {
            self.overlap_seeds += 1;
        }
        match r.lin {
            Some(Lin::Ok) => self.lin_ok += 1,
            Some(Lin::Violation) => self.lin_violation += 1,
            _ => self.lin_unknown += 1,
        }
        if r.bad() {
            self.bad_seeds += 1;
            if self.first_bad_seed.is_none() {
                self.first_bad_seed = Some(seed);
            }
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
        sum.add(*seed, &r.expect("every seed ran"));
    }
    sum
}

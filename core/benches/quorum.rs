//! `QuorumTracker::record_ack` against the classic tracker, in the same run.
//!
//! The classic tracker (what most Raft lease implementations do) keeps a
//! `HashMap` of peer to ack instant and, on every ack, collects the values
//! into a fresh `Vec`, sorts it and picks the quorum element. Both sides see
//! the same workload: voters ack round-robin with ever later stamps, so
//! every ack can move the quorum and no side can skip its selection.
//!
//! Run with `cargo bench -p leasehold-core --bench quorum`; the ratios are
//! printed at the end (throughput form: baseline time / subject time).
//!
//! The comparison of the tracker's `heapless::Vec` storage with the fixed
//! arrays it replaced (docs/benchmarks.md, issue 10) ran with a bench-only
//! copy of the array tracker, removed once the decision was made; it is in
//! the history at commit e10e4e1 (`core/benches/quorum_arrays/`).

use std::collections::HashMap;
use std::hint::black_box;

use benchkit::Ratio;
use criterion::Criterion;
use leasehold_core::{Instant, QuorumTracker, Stamp};

/// The baseline: per ack, a HashMap insert, an allocation, a sort and a pick.
struct ClassicTracker {
    acks: HashMap<u64, Instant>,
    voters: usize,
}

impl ClassicTracker {
    fn record_ack(&mut self, peer: u64, at: Instant) -> Option<Instant> {
        self.acks.insert(peer, at);
        let mut acked: Vec<Instant> = self.acks.values().copied().collect();
        acked.sort_unstable();
        let majority = self.voters / 2 + 1;
        // Ascending order: the majority-th largest sits at len - majority.
        let index = acked.len().checked_sub(majority)?;
        acked.get(index).copied()
    }
}

/// Round-robin voter ids and ever later stamps, identical for both sides.
struct Workload {
    ids: Vec<u64>,
    next: usize,
    now: u64,
}

impl Workload {
    fn new(voters: usize) -> Workload {
        // Spread-out ids, as raft-rs assigns them, not 0..n.
        let ids = (1..=voters as u64).map(|i| i * 7919).collect();
        Workload {
            ids,
            next: 0,
            now: 1,
        }
    }

    #[inline]
    fn step(&mut self) -> (u64, Instant) {
        self.now += 1;
        // A compare instead of `%`: the shared harness cost stays small.
        self.next += 1;
        if self.next == self.ids.len() {
            self.next = 0;
        }
        let peer = self.ids.get(self.next).copied().unwrap_or_default();
        (
            peer,
            Instant::from_nanos(self.now).expect("now starts at 2"),
        )
    }
}

fn group<const N: usize>(c: &mut Criterion, name: &'static str, voters: usize) {
    let mut g = c.benchmark_group(name);

    g.bench_function("classic", |b| {
        let mut w = Workload::new(voters);
        let mut t = ClassicTracker {
            acks: HashMap::new(),
            voters,
        };
        for _ in 0..voters {
            let (peer, at) = w.step();
            t.record_ack(peer, at);
        }
        b.iter(|| {
            let (peer, at) = w.step();
            black_box(t.record_ack(black_box(peer), black_box(at)))
        });
    });

    g.bench_function("tracker", |b| {
        let mut w = Workload::new(voters);
        let mut t = QuorumTracker::<N>::new(w.ids[0]);
        t.set_membership(&w.ids, &[]).expect("voters fit in N");
        for _ in 0..voters {
            let (peer, at) = w.step();
            t.record_ack(peer, Stamp::new(at, 0))
                .expect("peer is a voter");
        }
        b.iter(|| {
            let (peer, at) = w.step();
            black_box(t.record_ack(black_box(peer), black_box(Stamp::new(at, 0))))
        });
    });

    g.finish();
}

const GROUPS: [&str; 4] = [
    "record_ack_3_voters",
    "record_ack_5_voters",
    "record_ack_7_voters",
    "record_ack_64_voters",
];

fn main() {
    let tmp = env!("CARGO_TARGET_TMPDIR");
    let mut c = benchkit::criterion(tmp);
    group::<8>(&mut c, GROUPS[0], 3);
    group::<8>(&mut c, GROUPS[1], 5);
    group::<8>(&mut c, GROUPS[2], 7);
    group::<64>(&mut c, GROUPS[3], 64);
    c.final_summary();

    // `cargo test --benches` runs each function once and writes no new
    // estimates; benchkit would then print the previous run's ratios as if
    // they were this run's. Only `cargo bench` passes `--bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("test mode: no ratios (run `cargo bench` to measure)");
        return;
    }

    // The target is >= 3x at 5 voters; the same bar is shown for the others.
    let ratios = GROUPS.map(|group| Ratio {
        group,
        subject: "tracker",
        baseline: "classic",
        target: 3.0,
        higher_is_better: true,
    });
    benchkit::report(tmp, &ratios);

    // Linear growth: time per ack against the voter count, and the cost of
    // each voter added beyond the 3-voter case (flat means linear).
    println!("\n== tracker time per ack by voter count ==");
    let base = benchkit::median_ns(tmp, GROUPS[0], "tracker");
    for (group, voters) in GROUPS.iter().zip([3u32, 5, 7, 64]) {
        let Some(ns) = benchkit::median_ns(tmp, group, "tracker") else {
            println!("{voters:>3} voters: not measured in this run");
            continue;
        };
        match base.filter(|_| voters > 3) {
            Some(b) => println!(
                "{voters:>3} voters: {ns:8.2} ns/ack, {:5.2} ns per voter beyond 3",
                (ns - b) / f64::from(voters - 3)
            ),
            None => println!("{voters:>3} voters: {ns:8.2} ns/ack"),
        }
    }
}

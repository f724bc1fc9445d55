//! `QuorumTracker::record_ack` against the classic tracker, and against the
//! tracker's former fixed-array storage, in the same run.
//!
//! The classic tracker (what most Raft lease implementations do) keeps a
//! `HashMap` of peer to ack instant and, on every ack, collects the values
//! into a fresh `Vec`, sorts it and picks the quorum element. The array
//! tracker (`quorum_arrays/mod.rs`, bench-only) is `QuorumTracker` as it was
//! before its storage moved to `heapless::Vec`: same logic, fixed arrays plus
//! a length. All sides see the same workload: voters ack round-robin with
//! ever later stamps, so every ack can move the quorum and no side can skip
//! its selection.
//!
//! Run with `cargo bench -p leasehold-core --bench quorum`; the ratios are
//! printed at the end (against classic: throughput form, baseline time /
//! subject time; against arrays: time form, subject time / baseline time).

mod quorum_arrays;

use std::collections::HashMap;
use std::hint::black_box;

use benchkit::Ratio;
use criterion::Criterion;
use leasehold_core::{Instant, QuorumTracker, Stamp};
use quorum_arrays::ArrayTracker;

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

    g.bench_function("arrays", |b| {
        let mut w = Workload::new(voters);
        let mut t = ArrayTracker::<N>::new(w.ids[0]);
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

/// A small xorshift generator: the same script on every run, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    /// Distinct ids from `1..=pool`, up to `max` of them (possibly none).
    fn ids(&mut self, pool: u64, max: u64) -> Vec<u64> {
        let mut ids: Vec<u64> = Vec::new();
        for _ in 0..self.below(max + 1) {
            let id = 1 + self.below(pool);
            // Now and then a repeat, to exercise DuplicatePeer.
            if !ids.contains(&id) || self.below(16) == 0 {
                ids.push(id);
            }
        }
        ids
    }
}

/// The array tracker is a faithful "before": over a pseudo-random script of
/// memberships (joint ones, oversized and invalid ones included), acks of
/// several generations and resets, it answers exactly as `QuorumTracker`.
fn check_same_answers<const N: usize>(seed: u64) {
    let pool = N as u64 + 2;
    let mut rng = Rng(seed);
    let mut subject = QuorumTracker::<N>::new(1);
    let mut baseline = ArrayTracker::<N>::new(1);
    let mut now = 1;
    // Steps that ended with a quorum, outside and inside joint consensus.
    let mut with_quorum = [0u32; 2];
    for step in 0..20_000 {
        // Rare enough that even 64 voters gather majorities in between.
        match rng.below(16 * N as u64) {
            0 => {
                let voters = rng.ids(pool, N as u64 + 1);
                let outgoing = if rng.below(2) == 0 {
                    Vec::new()
                } else {
                    rng.ids(pool, N as u64)
                };
                assert_eq!(
                    subject.set_membership(&voters, &outgoing),
                    baseline.set_membership(&voters, &outgoing),
                    "step {step}: set_membership({voters:?}, {outgoing:?})"
                );
            }
            1 => {
                let floor = subject.generation_floor() + rng.below(2);
                subject.reset(floor);
                baseline.reset(floor);
            }
            _ => {
                let peer = 1 + rng.below(pool);
                now += rng.below(5);
                // Mostly the current generation, now and then an older or a newer one.
                let generation = match rng.below(4 * N as u64) {
                    0 => subject.generation_floor().saturating_sub(1),
                    1 => subject.generation_floor() + 1,
                    _ => subject.generation_floor(),
                };
                let at = Instant::from_nanos(now.max(1) + rng.below(4)).expect("not zero");
                let stamp = Stamp::new(at, generation);
                assert_eq!(
                    subject.record_ack(peer, stamp),
                    baseline.record_ack(peer, stamp),
                    "step {step}: record_ack({peer}, {stamp:?})"
                );
            }
        }
        assert_eq!(
            subject.quorum_stamp(),
            baseline.quorum_stamp(),
            "step {step}"
        );
        if subject.quorum_stamp().is_some() {
            with_quorum[usize::from(subject.is_joint())] += 1;
        }
        assert_eq!(subject.generation_floor(), baseline.generation_floor());
        assert_eq!(subject.is_joint(), baseline.is_joint());
        assert_eq!(subject.self_id(), baseline.self_id());
        for peer in 1..=pool {
            assert_eq!(
                subject.is_voter(peer),
                baseline.is_voter(peer),
                "step {step}"
            );
            assert_eq!(subject.ack(peer), baseline.ack(peer), "step {step}");
        }
    }
    // Not vacuous: quorums were reached, in and out of joint consensus.
    assert!(
        with_quorum.iter().all(|&steps| steps >= 1_000),
        "N={N}: too few steps with a quorum: {with_quorum:?}"
    );
}

fn main() {
    check_same_answers::<3>(0x9e37_79b9_7f4a_7c15);
    check_same_answers::<8>(0x2545_f491_4f6c_dd1d);
    check_same_answers::<64>(0xd1b5_4a32_d192_ed03);

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

    // Issue 10: the heapless storage must cost nothing measurable against
    // the fixed arrays it replaced (time ratio, lower is better).
    let storage = GROUPS.map(|group| Ratio {
        group,
        subject: "tracker",
        baseline: "arrays",
        target: 1.0,
        higher_is_better: false,
    });
    benchkit::report(tmp, &storage);

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

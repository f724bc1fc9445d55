//! The CI subset of the simulation table: every correct configuration is
//! clean, every negative control is caught, and a run is a pure function of
//! its seed.

use leasehold_sim::scenario::{self, run_scenario, run_seed, Expect};

const SEEDS: u64 = 12;

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn same_seed_same_history() {
    for s in scenario::all().iter().take(2) {
        for seed in [0, 7] {
            let a = run_seed(&s.cfg, seed);
            let b = run_seed(&s.cfg, seed);
            assert_eq!(
                a.hash, b.hash,
                "{}: seed {seed} is not deterministic",
                s.name
            );
            assert_eq!(a.events, b.events);
            assert_eq!(a.lease_reads, b.lease_reads);
        }
        assert_ne!(run_seed(&s.cfg, 1).hash, run_seed(&s.cfg, 2).hash);
    }
}

#[test]
fn the_summary_does_not_depend_on_threads() {
    let s = &scenario::all()[0];
    let one = run_scenario(s, 0..3, 1, &|_| {});
    let two = run_scenario(s, 0..3, 2, &|_| {});
    assert_eq!(format!("{one:?}"), format!("{two:?}"));
}

#[test]
fn correct_configurations_are_clean() {
    for s in scenario::all().iter().filter(|s| s.expect == Expect::Clean) {
        let sum = run_scenario(s, 0..SEEDS, threads(), &|_| {});
        assert_eq!(sum.seeds, SEEDS);
        assert_eq!(sum.stale, 0, "{}: stale reads {sum:?}", s.name);
        assert_eq!(sum.overlap_ns, 0, "{}: lease overlap {sum:?}", s.name);
        assert_eq!(sum.lin_violation, 0, "{}: not linearizable {sum:?}", s.name);
        assert_eq!(sum.divergence, 0, "{}: logs diverged {sum:?}", s.name);
        assert!(sum.lease_reads > 0, "{}: no lease read was served", s.name);
        assert!(sum.quorum_reads > 0, "{}: no ReadIndex read", s.name);
        assert!(sum.conf_changes > 0, "{}: no membership change", s.name);
        assert!(sum.snapshots > 0, "{}: no snapshot installed", s.name);
    }
}

//! The lease protocol's interleavings under loom: every interleaving with up
//! to three preemptions per execution (loom's preemption bound; set
//! `LOOM_MAX_PREEMPTIONS` to widen it).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p leasehold-core --release --test loom_lease`
//!
//! `Lease` is built on `AtomicU64` only, so loom checks the very code that
//! ships (with loom's atomics swapped in), not a model of it. With
//! `--cfg leasehold_split` as well, each word is the split word of targets
//! without 64-bit atomics (two 32-bit halves and a sequence number, written
//! under a lock, read without one), built on loom's atomics in turn:
//! `RUSTFLAGS="--cfg loom --cfg leasehold_split" CARGO_TARGET_DIR=target/loom-split cargo test -p leasehold-core --release --test loom_lease`
#![cfg(loom)]

use core::time::Duration;
use std::sync::Arc;

use leasehold_core::{Extension, Instant, Lease, Stamp};
use loom::thread;

const D: Duration = Duration::from_nanos(100);

fn t(n: u64) -> Instant {
    Instant::from_nanos(n).unwrap()
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

/// Two extenders with stamps from before an invalidation, one invalidator and
/// a reader: the lease never comes back to life, a reader that sees the new
/// generation never sees an old expiry, and expiry never moves backwards
/// within a generation.
#[test]
fn no_resurrection_two_extenders_one_invalidator_one_reader() {
    model(|| {
        let lease = Arc::new(Lease::new());
        assert_eq!(lease.extend(lease.stamp(t(10)), D), Extension::Extended);
        let extenders: Vec<_> = [20, 30]
            .into_iter()
            .map(|n| {
                let lease = lease.clone();
                thread::spawn(move || lease.extend(Stamp::new(t(n), 0), D))
            })
            .collect();
        let invalidator = {
            let lease = lease.clone();
            thread::spawn(move || lease.invalidate())
        };

        // Reader.
        let g1 = lease.generation();
        let e1 = lease.expiry();
        if g1 >= 1 {
            assert_eq!(e1, None, "new generation seen together with an old expiry");
        }
        let g2 = lease.generation();
        let e2 = lease.expiry();
        if let (Some(a), Some(b)) = (e1, e2) {
            assert!(b >= a, "expiry moved backwards: {a:?} then {b:?}");
        }
        if g2 >= 1 {
            // Every stamp here is from before the invalidation: once the
            // reader has seen its generation, no expiry is left to see.
            assert_eq!(e2, None, "lease resurrected after the new generation");
        }
        // Once the reader has seen the lease gone, it stays gone: with native
        // words only the invalidation does that here. (Split words also read
        // as no lease when a load meets a write, failing closed, so there a
        // later load may see a lease that never went.)
        #[cfg(not(leasehold_split))]
        if e1.is_none() {
            assert_eq!(e2, None, "lease resurrected");
        }

        invalidator.join().unwrap();
        for e in extenders {
            // Any outcome but Overflow is possible, depending on the order.
            assert_ne!(e.join().unwrap(), Extension::Overflow);
        }
        assert_eq!(lease.generation(), 1);
        assert_eq!(
            lease.expiry(),
            None,
            "an old stamp outlived the invalidation"
        );
    });
}

/// An invalidation followed by a fresh extension, racing a stale extender:
/// the final lease is the fresh one or none, never the stale one.
#[test]
fn fresh_extension_after_invalidate_beats_a_stale_extender() {
    model(|| {
        let lease = Arc::new(Lease::new());
        let stale = {
            let lease = lease.clone();
            thread::spawn(move || lease.extend(Stamp::new(t(50), 0), D))
        };
        let fresh = {
            let lease = lease.clone();
            thread::spawn(move || {
                lease.invalidate();
                let s = lease.stamp(t(40));
                (s, lease.extend(s, D))
            })
        };

        let g = lease.generation();
        let e = lease.expiry();
        if g >= 1 {
            assert_ne!(e, Some(t(150)), "new generation with the stale expiry");
        }

        // Either outcome is possible; what matters is the final state below.
        let _ = stale.join().unwrap();
        let (s, r) = fresh.join().unwrap();
        assert_eq!(lease.generation(), 1);
        match r {
            Extension::Extended => {
                assert_eq!(s.generation(), 1);
                assert_eq!(lease.expiry(), Some(t(140)));
            }
            Extension::StaleGeneration => assert_eq!(lease.expiry(), None),
            other => panic!("unexpected {other:?}"),
        }
    });
}

/// Two invalidations and an extender: both invalidations take effect (the
/// generation moves at least once past every stamp taken before them).
#[test]
fn concurrent_invalidations_merge_but_never_get_lost() {
    model(|| {
        let lease = Arc::new(Lease::new());
        let before = lease.stamp(t(10));
        let ext = {
            let lease = lease.clone();
            thread::spawn(move || lease.extend(before, D))
        };
        let inv = {
            let lease = lease.clone();
            thread::spawn(move || lease.invalidate())
        };
        lease.invalidate();
        assert_eq!(lease.expiry(), None);
        inv.join().unwrap();
        let _ = ext.join().unwrap();
        assert!(lease.generation() >= 1);
        assert_eq!(lease.expiry(), None);
        assert_eq!(lease.extend(before, D), Extension::StaleGeneration);
    });
}

/// Every context may finish a pending invalidation (issue 9, 7b), so several
/// may try to apply the same one: two invalidators and a stale extender race,
/// and the generation ends exactly at the largest generation an invalidation
/// promised (two appliers bumping it for one request would overshoot), with
/// nothing left pending (a fresh stamp extends at once).
#[test]
fn helpers_apply_each_pending_invalidation_once() {
    model(|| {
        let lease = Arc::new(Lease::new());
        assert_eq!(lease.extend(lease.stamp(t(10)), D), Extension::Extended);
        let invalidators: Vec<_> = (0..2)
            .map(|_| {
                let lease = lease.clone();
                thread::spawn(move || lease.invalidate())
            })
            .collect();
        let stale = lease.extend(Stamp::new(t(20), 0), D);
        let promised: Vec<u64> = invalidators
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let max = promised.iter().copied().max().unwrap();
        assert_ne!(stale, Extension::Overflow);
        assert_eq!(lease.generation(), max, "promises {promised:?}");
        assert_eq!(lease.expiry(), None);
        let fresh = lease.stamp(t(30));
        assert_eq!(fresh.generation(), max);
        assert_eq!(lease.extend(fresh, D), Extension::Extended, "left pending");
    });
}

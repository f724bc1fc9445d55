//! `QuorumTracker` never allocates: a counting global allocator watches
//! `record_ack`, `quorum_stamp`, `set_membership` and `reset`, including
//! their error paths.
//!
//! This file holds a single test so that no other test thread allocates
//! while it counts; the counter is also per thread, for the same reason.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use leasehold_core::{Instant, QuorumTracker, Stamp, TrackerError};

struct Counting;

thread_local! {
    // const-initialised and without Drop: touching it never allocates.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Runs `f` and returns how many allocations it made on this thread.
fn count(f: impl FnOnce()) -> usize {
    let before = allocations();
    f();
    allocations() - before
}

#[test]
fn tracker_operations_do_not_allocate() {
    // The counter works: a Vec allocates.
    assert!(count(|| drop(black_box(vec![1u8; 16]))) >= 1);

    let stamp = |ns: u64, g: u64| Stamp::new(Instant::from_nanos(ns).unwrap(), g);
    let five: [u64; 5] = [1, 2, 3, 4, 5];
    let joint_in: [u64; 5] = [3, 4, 5, 6, 7];
    let too_many: Vec<u64> = (100..200).collect();
    let dup: [u64; 3] = [1, 2, 1];

    let mut small = QuorumTracker::<8>::new(1);
    let mut large = QuorumTracker::<64>::new(1);
    let n = count(|| {
        small.set_membership(black_box(&five), &[]).unwrap();
        let mut quorums = 0;
        for round in 0..100u64 {
            for &p in &five {
                if small
                    .record_ack(p, stamp(round * 10 + p, 0))
                    .unwrap()
                    .is_some()
                {
                    quorums += 1;
                }
                black_box(small.quorum_stamp());
            }
        }
        assert!(quorums > 0);
        // Joint consensus, then leaving it.
        small.set_membership(black_box(&joint_in), &five).unwrap();
        for &p in &joint_in {
            black_box(small.record_ack(p, stamp(5_000 + p, 0)).unwrap());
        }
        assert!(small.quorum_stamp().is_some());
        small.set_membership(black_box(&joint_in), &[]).unwrap();
        // Error paths.
        assert_eq!(
            small.record_ack(99, stamp(1, 0)),
            Err(TrackerError::UnknownPeer { peer: 99 })
        );
        assert!(small.set_membership(black_box(&too_many), &[]).is_err());
        assert!(small.set_membership(black_box(&dup), &[]).is_err());
        assert!(small.set_membership(&[], &five).is_err());
        // Ignored and generation-raising acks, reset, single voter.
        black_box(small.record_ack(3, stamp(1, 0)).unwrap());
        black_box(small.record_ack(3, stamp(1, 1)).unwrap());
        small.reset(2);
        black_box(small.record_ack(3, stamp(9_999, 1)).unwrap());
        small.set_membership(&[1], &[]).unwrap();
        assert!(small.record_ack(1, stamp(10_000, 2)).unwrap().is_some());

        // 64 voters at N = 64.
        large
            .set_membership(black_box(&too_many[..64]), &[])
            .unwrap();
        for round in 0..10u64 {
            for &p in &too_many[..64] {
                black_box(large.record_ack(p, stamp(round * 1_000 + p, 0)).unwrap());
            }
        }
        assert!(large.quorum_stamp().is_some());
    });
    assert_eq!(n, 0, "tracker operations allocated {n} times");
}

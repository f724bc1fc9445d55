//! The tracker driven the way a Raft leader drives it, with the real `Lease`:
//! stamps taken when requests are sent, the quorum stamp extending the lease,
//! and a step-down that no late ack can undo.

use core::time::Duration;

use leasehold_core::{Extension, Instant, Lease, QuorumTracker};

const LEASE: Duration = Duration::from_millis(50);

fn ms(n: u64) -> Instant {
    Instant::from_nanos(n * 1_000_000).unwrap()
}

#[test]
fn late_ack_after_step_down_neither_refills_nor_extends() {
    let lease = Lease::new();
    let mut tracker = QuorumTracker::<8>::new(1);
    tracker.set_membership(&[1, 2, 3], &[]).unwrap();

    // Heartbeat sent at 100 ms: the leader stamps it and counts itself.
    let hb = lease.stamp(ms(100));
    assert_eq!(tracker.record_ack(1, hb), Ok(None));
    // Peer 2 answers at 130 ms; the ack carries the send stamp, not 130.
    let quorum = tracker
        .record_ack(2, hb)
        .unwrap()
        .expect("{1, 2} is a majority");
    assert_eq!(quorum, hb);
    assert_eq!(lease.extend(quorum, LEASE), Extension::Extended);
    assert!(lease.is_valid(ms(149)));
    assert!(!lease.is_valid(ms(150)));

    // Step-down: invalidate, then reset the tracker to the new generation.
    tracker.reset(lease.invalidate());
    assert!(!lease.is_valid(ms(131)));

    // Peer 3's answer to the old heartbeat arrives late.
    assert_eq!(tracker.record_ack(3, hb), Ok(None));
    assert_eq!(tracker.record_ack(2, hb), Ok(None));
    assert_eq!(tracker.quorum_stamp(), None);
    // Even a driver that extended from the raw stamp would be refused.
    assert_eq!(lease.extend(hb, LEASE), Extension::StaleGeneration);

    // Leader again: fresh stamps of the new generation form a quorum.
    let hb2 = lease.stamp(ms(200));
    tracker.record_ack(1, hb2).unwrap();
    let quorum = tracker
        .record_ack(3, hb2)
        .unwrap()
        .expect("{1, 3} is a majority");
    assert_eq!(quorum.generation(), lease.generation());
    assert_eq!(lease.extend(quorum, LEASE), Extension::Extended);
    assert!(lease.is_valid(ms(249)));
}

#[test]
fn missed_reset_is_caught_by_the_first_new_generation_ack() {
    let lease = Lease::new();
    let mut tracker = QuorumTracker::<8>::new(1);
    tracker.set_membership(&[1, 2, 3], &[]).unwrap();
    let old = lease.stamp(ms(100));
    tracker.record_ack(2, old).unwrap();
    tracker.record_ack(3, old).unwrap();

    // The driver invalidates but forgets tracker.reset().
    lease.invalidate();
    let new = lease.stamp(ms(200));
    // The leader's own new-generation stamp drops the old acks instead of
    // counting them towards a quorum of the new generation.
    assert_eq!(tracker.record_ack(1, new), Ok(None));
    assert_eq!(tracker.quorum_stamp(), None);
    assert_eq!(tracker.generation_floor(), lease.generation());
    assert_eq!(tracker.record_ack(3, old), Ok(None));
    assert_eq!(tracker.quorum_stamp(), None);
}

#[test]
fn the_tracker_reports_its_id_and_capacity() {
    let t = QuorumTracker::<8>::new(3);
    assert_eq!(t.self_id(), 3);
    assert_eq!(t.capacity(), 8);
    assert_eq!(QuorumTracker::<2>::new(9).capacity(), 2);
}

//! QuorumTracker on the target: majorities, joint consensus, errors that
//! leave the tracker unchanged, reset, and the lease extended from the
//! quorum stamp.
#![no_std]
#![no_main]

use core::time::Duration;

use leasehold_core::{Extension, Instant, Lease, QuorumTracker, Stamp, TrackerError};
use leasehold_on_target::{check, entry, pass};

fn s(ns: u64, generation: u64) -> Stamp {
    match Instant::from_nanos(ns) {
        Some(t) => Stamp::new(t, generation),
        None => panic!("zero instant"),
    }
}

#[entry]
fn main() -> ! {
    let mut t: QuorumTracker<7> = QuorumTracker::new(1);
    check!(t.record_ack(1, s(10, 0)) == Err(TrackerError::UnknownPeer { peer: 1 }));
    check!(t.set_membership(&[1, 2, 3], &[]).is_ok());
    check!(t.quorum_stamp().is_none());
    check!(t.record_ack(1, s(100, 0)) == Ok(None)); // 1 of 3
    check!(t.record_ack(2, s(90, 0)) == Ok(Some(s(90, 0)))); // majority: oldest of the freshest two
    check!(t.record_ack(3, s(95, 0)) == Ok(Some(s(95, 0))));
    check!(t.quorum_stamp() == Some(s(95, 0)));
    check!(t.record_ack(9, s(200, 0)) == Err(TrackerError::UnknownPeer { peer: 9 }));
    check!(t.set_membership(&[1, 2, 2], &[]) == Err(TrackerError::DuplicatePeer { peer: 2 }));
    check!(t.set_membership(&[], &[]) == Err(TrackerError::EmptyVoterSet));
    check!(
        t.set_membership(&[1, 2, 3, 4, 5, 6, 7, 8], &[])
            == Err(TrackerError::TooManyPeers { capacity: 7 })
    );
    check!(
        t.quorum_stamp() == Some(s(95, 0)),
        "errors leave the tracker unchanged"
    );

    // Joint consensus {1,2,3} -> {3,4,5}: both majorities are needed.
    check!(t.set_membership(&[3, 4, 5], &[1, 2, 3]).is_ok());
    check!(t.is_joint());
    let _ = t.record_ack(1, s(300, 0));
    let _ = t.record_ack(2, s(300, 0));
    let _ = t.record_ack(3, s(300, 0));
    check!(
        t.quorum_stamp()
            .is_none_or(|q| q.instant().as_nanos() < 300),
        "outgoing alone is not enough"
    );
    let _ = t.record_ack(4, s(310, 0));
    check!(t.quorum_stamp().map(|q| q.instant().as_nanos()) == Some(300));

    // Reset: acks stamped before the new generation floor never count.
    t.reset(1);
    check!(t.quorum_stamp().is_none());
    for peer in [1, 2, 3, 4, 5] {
        let _ = t.record_ack(peer, s(400, 0));
    }
    check!(t.quorum_stamp().is_none(), "old-generation acks ignored");
    for peer in [3, 4, 1, 2] {
        let _ = t.record_ack(peer, s(500, 1));
    }
    check!(t.quorum_stamp() == Some(s(500, 1)));

    // The quorum stamp extends a lease of that generation only.
    let lease = Lease::new();
    lease.invalidate(); // generation 1
    let q = t.quorum_stamp();
    check!(q.map(|q| lease.extend(q, Duration::from_micros(10))) == Some(Extension::Extended));
    lease.invalidate();
    check!(
        q.map(|q| lease.extend(q, Duration::from_micros(20))) == Some(Extension::StaleGeneration)
    );
    pass("quorum")
}

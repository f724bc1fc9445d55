//! Unit tests of the driver: each decision, and each guard shown by the
//! failure it prevents.

use super::*;
use crate::ManualClock;

const E: usize = 10;

fn config() -> LeaseConfig {
    LeaseConfig::new(Duration::from_millis(10), E)
        .max_drift_ppm(0)
        .clock_resolution(Duration::ZERO)
        .check_quorum(true)
}

/// 90 ms with the config above.
const LEASE: Duration = Duration::from_millis(90);

fn at(ms: u64) -> Instant {
    Instant::from_nanos(ms * 1_000_000).unwrap()
}

type Driver<'a> = LeaseDriver<&'a Lease, 8, 4>;

fn driver(id: u64, lease: &Lease) -> Driver<'_> {
    let mut d = Driver::new(id, lease, &config()).unwrap();
    d.set_membership(&[1, 2, 3], &[]).unwrap();
    d
}

fn leader_state(term: u64) -> NodeState {
    NodeState {
        term,
        leader: true,
        own_term_entry_applied: true,
    }
}

/// A new leader that has not yet applied an entry of its term.
fn unapplied_leader_state(term: u64) -> NodeState {
    NodeState {
        own_term_entry_applied: false,
        ..leader_state(term)
    }
}

fn follower_state(term: u64) -> NodeState {
    NodeState {
        term,
        leader: false,
        own_term_entry_applied: false,
    }
}

/// Node 1 leading term 5 with its entry applied.
fn leader(lease: &Lease) -> Driver<'_> {
    let mut d = driver(1, lease);
    d.observe(leader_state(5));
    d
}

/// One heartbeat round to `peer` sent at `sent_ms`, acknowledged.
fn round(d: &mut Driver<'_>, peer: u64, sent_ms: u64) -> Option<Extension> {
    let tag = d.tag_request(peer, Ok(at(sent_ms)));
    d.on_response(peer, tag)
}

#[test]
fn starts_without_a_lease_and_with_the_guard_armed() {
    let lease = Lease::new();
    assert_eq!(lease.extend(lease.stamp(at(1)), LEASE), Extension::Extended);
    let mut d = driver(2, &lease);
    assert!(
        !lease.is_valid(at(2)),
        "a restart invalidates the lease it is given"
    );
    assert_eq!(lease.generation(), 1);
    for _ in 0..E {
        assert_eq!(d.on_vote_request(false), VoteDecision::Drop);
        d.on_tick(Ok(at(3)));
    }
    assert_eq!(d.on_vote_request(false), VoteDecision::Step);
    assert_eq!(d.counters().votes_dropped, E as u64);
}

#[test]
fn a_bad_config_is_an_error() {
    let lease = Lease::new();
    let r = Driver::new(1, &lease, &config().check_quorum(false));
    assert_eq!(r.err(), Some(ConfigError::CheckQuorumOff));
}

#[test]
fn an_ack_extends_from_the_stamp_of_the_request_it_echoes() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    let first = d.tag_request(2, Ok(at(100)));
    let second = d.tag_request(2, Ok(at(150)));
    // The response to the older request arrives last; it credits 100, not
    // the newer request's 150 nor the arrival time.
    assert_eq!(d.on_response(2, first), Some(Extension::Extended));
    assert_eq!(lease.expiry(), at(100).checked_add(LEASE));
    assert_eq!(d.on_response(2, second), Some(Extension::Extended));
    assert_eq!(lease.expiry(), at(150).checked_add(LEASE));
    assert_eq!(d.counters().extensions.extended, 2);
}

#[test]
fn tags_of_another_term_peer_or_age_credit_nothing() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    let tag = d.tag_request(2, Ok(at(100))).unwrap();
    assert_eq!(tag.term(), 5);
    // Sent to 2, echoed by 3.
    assert_eq!(d.on_response(3, Some(tag)), None);
    // Same sequence number, another term.
    assert_eq!(d.on_response(2, Some(Tag::new(4, tag.seq()))), None);
    assert_eq!(d.on_response(2, Some(Tag::new(6, tag.seq()))), None);
    // Never sent.
    assert_eq!(d.on_response(2, Some(Tag::new(5, tag.seq() + 7))), None);
    assert_eq!(d.on_response(2, None), None);
    assert_eq!(lease.expiry(), None);
    assert_eq!(d.counters().acks_ignored, 4);
    // Forgotten: the table holds 4; five more sends push the first out.
    for n in 0..5 {
        let _ = d.tag_request(3, Ok(at(101 + n)));
    }
    assert_eq!(d.in_flight(), 4);
    assert_eq!(d.on_response(2, Some(tag)), None);
    assert_eq!(lease.expiry(), None, "a full table costs extensions only");
}

// Hole 4: a restarted leader numbers its requests from 1 again; a response
// to the previous incarnation's request must not be credited with the stamp
// of the new incarnation's request of the same number.
#[test]
fn a_previous_incarnations_tags_never_match() {
    let lease = Lease::new();
    let old_tag = {
        let mut before = leader(&lease);
        before.tag_request(2, Ok(at(100))).unwrap()
    };
    // Restart; the node leads a later term (a node leads a term at most once).
    let mut after = driver(1, &lease);
    after.observe(leader_state(7));
    let new_tag = after.tag_request(2, Ok(at(500))).unwrap();
    assert_eq!(new_tag.seq(), old_tag.seq(), "numbering restarted");
    assert_ne!(new_tag, old_tag);
    assert_eq!(after.on_response(2, Some(old_tag)), None);
    assert_eq!(lease.expiry(), None);
    assert_eq!(
        after.on_response(2, Some(new_tag)),
        Some(Extension::Extended)
    );
}

#[test]
fn a_follower_echoes_the_newest_request_it_accepted_to_that_leader() {
    let lease = Lease::new();
    let mut f = driver(2, &lease);
    f.observe(follower_state(5));
    // A request it did not accept (an older term) is never echoed.
    f.on_leader_message(1, Some(Tag::new(4, 9)), false);
    assert_eq!(f.tag_response(1), None);
    f.on_leader_message(1, Some(Tag::new(5, 3)), true);
    f.on_leader_message(1, Some(Tag::new(5, 2)), true); // a late duplicate
    assert_eq!(f.tag_response(1), Some(Tag::new(5, 3)));
    assert_eq!(f.tag_response(3), None, "only to the leader it came from");
    f.on_leader_message(3, Some(Tag::new(6, 1)), true);
    assert_eq!(f.tag_response(1), None);
    assert_eq!(f.tag_response(3), Some(Tag::new(6, 1)));
}

// Hole 2: a follower that adopts a higher term from a stray response forgets
// its leader in raft-rs and would vote at once; the guard does not forget.
#[test]
fn the_vote_guard_outlives_a_term_change() {
    let lease = Lease::new();
    let mut f = driver(2, &lease);
    for _ in 0..E {
        f.on_tick(Ok(at(1)));
    }
    assert_eq!(
        f.on_vote_request(false),
        VoteDecision::Step,
        "start guard over"
    );
    f.observe(follower_state(5));
    f.on_leader_message(1, None, true); // even untagged (leader's clock failed)
    f.on_tick(Ok(at(2)));
    f.observe(follower_state(9)); // a response of term 9 made it adopt term 9
    for _ in 1..E {
        assert_eq!(f.on_vote_request(false), VoteDecision::Drop);
        // A transfer campaign passes: its leader suspended the lease.
        assert_eq!(f.on_vote_request(true), VoteDecision::Step);
        f.on_tick(Ok(at(3)));
    }
    assert_eq!(f.on_vote_request(false), VoteDecision::Step);
    // A message it did not accept does not arm it.
    f.on_leader_message(1, None, false);
    assert_eq!(f.on_vote_request(false), VoteDecision::Step);
}

// Hole 1: raft-rs abandons a transfer after an election timeout, but the
// MsgTimeoutNow may still arrive later in the term.
#[test]
fn a_transfer_suspends_the_lease_until_the_term_ends() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    assert_eq!(round(&mut d, 2, 100), Some(Extension::Extended));
    d.on_timeout_now_sent();
    assert!(!lease.is_valid(at(101)));
    assert!(d.is_suspended());
    // Long after raft-rs gave up on the transfer, in the same term:
    for n in 0..3 * E as u64 {
        d.on_tick(Ok(at(110 + n)));
        assert_eq!(round(&mut d, 2, 110 + n), None);
        assert!(!lease.is_valid(at(110 + n)));
    }
    assert!(d.counters().extensions_withheld > 0);
    assert_eq!(d.counters().invalidations.transfer, 1);
    // A new term (here: the node leads again) lifts it.
    d.observe(follower_state(6));
    d.observe(leader_state(7));
    assert!(!d.is_suspended());
    assert_eq!(round(&mut d, 2, 400), Some(Extension::Extended));
}

// Hole 3: with asynchronous apply a new leader may have committed an entry of
// its term long before it applied the previous leader's writes.
#[test]
fn nothing_extends_before_an_entry_of_the_term_is_applied() {
    let lease = Lease::new();
    let mut d = driver(1, &lease);
    d.observe(unapplied_leader_state(5));
    assert_eq!(round(&mut d, 2, 100), None);
    assert_eq!(lease.expiry(), None);
    let clock = ManualClock::new(at(101));
    assert!(d.read_local(&clock, || 1).is_err());
    // Applied: the quorum confirmed before extends at once.
    d.observe(leader_state(5));
    assert_eq!(lease.expiry(), at(100).checked_add(LEASE));
    assert_eq!(d.read_local(&clock, || 1), Ok(1));
}

#[test]
fn leaving_the_role_or_the_term_invalidates_and_forgets_requests() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    let tag = d.tag_request(2, Ok(at(100)));
    assert_eq!(d.on_response(2, tag), Some(Extension::Extended));
    let late = d.tag_request(2, Ok(at(110)));
    d.observe(follower_state(5));
    assert!(!lease.is_valid(at(111)));
    assert_eq!(d.counters().invalidations.role, 1);
    // Leading again, in a later term: the old request's response is useless.
    d.observe(leader_state(6));
    assert_eq!(d.on_response(2, late), None);
    assert_eq!(lease.expiry(), None);
    // Observations coarser than the role changes: leader in 6, then in 8.
    assert_eq!(round(&mut d, 2, 200), Some(Extension::Extended));
    d.observe(leader_state(8));
    assert!(!lease.is_valid(at(201)));
    assert_eq!(d.counters().invalidations.term, 1);
    // A follower's term changes invalidate (nothing was valid) uncounted.
    let lease2 = Lease::new();
    let mut f = driver(2, &lease2);
    f.observe(follower_state(3));
    f.observe(follower_state(4));
    assert_eq!(f.counters().invalidations, Invalidations::default());
}

#[test]
fn a_failed_clock_read_invalidates() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    assert_eq!(round(&mut d, 2, 100), Some(Extension::Extended));
    d.on_tick(Err(ClockError::Injected));
    assert!(!lease.is_valid(at(101)));
    assert_eq!(round(&mut d, 2, 110), Some(Extension::Extended));
    assert_eq!(d.tag_request(2, Err(ClockError::Injected)), None);
    assert!(!lease.is_valid(at(111)));
    assert_eq!(round(&mut d, 2, 120), Some(Extension::Extended));
    let clock = ManualClock::new(at(121));
    clock.fail_with(ClockError::Injected);
    assert!(d.read_local(&clock, || 1).is_err());
    assert!(!lease.is_valid(at(121)));
    assert_eq!(d.counters().invalidations.clock, 3);
}

// Item 7a: a lone voter sends nothing, so it must confirm itself.
#[test]
fn a_lone_voter_confirms_itself_on_tick() {
    let lease = Lease::new();
    let mut d = Driver::new(1, &lease, &config()).unwrap();
    d.set_membership(&[1], &[]).unwrap();
    d.observe(leader_state(2));
    d.on_tick(Ok(at(100)));
    assert_eq!(lease.expiry(), at(100).checked_add(LEASE));
    d.on_tick(Ok(at(110)));
    assert_eq!(lease.expiry(), at(110).checked_add(LEASE));
    // With three voters its own tick is no majority.
    let lease3 = Lease::new();
    let mut d3 = leader(&lease3);
    d3.on_tick(Ok(at(100)));
    assert_eq!(lease3.expiry(), None);
}

#[test]
fn acks_of_non_voters_never_count() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    // 4 is a learner (not in the voter set): its ack is ignored.
    assert_eq!(round(&mut d, 4, 100), None);
    assert_eq!(lease.expiry(), None);
    assert_eq!(round(&mut d, 2, 100), Some(Extension::Extended));
}

#[test]
fn a_membership_the_tracker_cannot_hold_invalidates_until_a_valid_one() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    assert_eq!(round(&mut d, 2, 100), Some(Extension::Extended));
    let too_many = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    assert_eq!(
        d.set_membership(&too_many, &[]),
        Err(TrackerError::TooManyPeers { capacity: 8 })
    );
    assert!(!lease.is_valid(at(101)));
    assert_eq!(round(&mut d, 2, 110), None);
    assert_eq!(d.counters().invalidations.membership, 1);
    assert_eq!(d.set_membership(&[], &[]), Err(TrackerError::EmptyVoterSet));
    d.set_membership(&[1, 2, 3, 4], &[]).unwrap();
    assert_eq!(round(&mut d, 2, 120), None, "2 of 4 is no majority");
    assert_eq!(round(&mut d, 3, 121), Some(Extension::Extended));
}

#[test]
fn reads_are_validated_after_the_snapshot() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    assert_eq!(round(&mut d, 2, 100), Some(Extension::Extended));
    let clock = ManualClock::new(at(150));
    // The snapshot takes long enough for the lease to expire under it.
    let r = d.read_local(&clock, || clock.advance(Duration::from_millis(50)));
    assert!(r.is_err());
    assert_eq!(d.counters().reads_local, 0);
    assert_eq!(d.counters().lease_misses, 1);
    clock.set(at(150));
    assert_eq!(d.read_local(&clock, || 7), Ok(7));
    assert_eq!(d.counters().reads_local, 1);
}

#[derive(Debug)]
enum RoundError {
    NotLeader,
    Timeout,
}

impl LeadershipLoss for RoundError {
    fn is_leadership_loss(&self) -> bool {
        matches!(self, RoundError::NotLeader)
    }
}

#[test]
fn read_index_rounds_extend_when_allowed() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    let clock = ManualClock::new(at(100));
    let stamp = d.read_local(&clock, || ()).unwrap_err().stamp;
    let ok: Result<(), RoundError> = Ok(());
    assert_eq!(
        d.finish_read_index(stamp, &ok),
        RoundOutcome::Extension(Extension::Extended)
    );
    assert_eq!(lease.expiry(), at(100).checked_add(LEASE));
    assert_eq!(d.finish_read_index(None, &ok), RoundOutcome::NoStamp);
    let timeout: Result<(), RoundError> = Err(RoundError::Timeout);
    assert_eq!(
        d.finish_read_index(stamp, &timeout),
        RoundOutcome::Unchanged
    );
    assert!(lease.is_valid(at(101)));
    d.on_timeout_now_sent();
    let fresh = Some(lease.stamp(at(120)));
    assert_eq!(d.finish_read_index(fresh, &ok), RoundOutcome::Withheld);
    let lost: Result<(), RoundError> = Err(RoundError::NotLeader);
    assert!(matches!(
        d.finish_read_index(fresh, &lost),
        RoundOutcome::Invalidated { .. }
    ));
    assert_eq!(d.counters().reads_quorum, 3);
    assert_eq!(d.counters().invalidations.role, 1);
}

#[test]
fn tagging_stops_instead_of_wrapping() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    d.next_seq = u64::MAX;
    assert_eq!(d.tag_request(2, Ok(at(1))), None);
    assert_eq!(d.tag_request(2, Ok(at(2))), None);
    assert!(d.inflight.len() == 0);
}

#[test]
fn non_leaders_neither_tag_nor_credit() {
    let lease = Lease::new();
    let mut d = driver(1, &lease);
    d.observe(follower_state(5));
    assert_eq!(d.tag_request(2, Ok(at(1))), None);
    assert_eq!(d.on_response(2, Some(Tag::new(5, 1))), None);
    d.on_tick(Err(ClockError::Injected)); // a follower's failed tick is harmless
    assert_eq!(d.counters().invalidations, Invalidations::default());
}

#[test]
fn getters_report_the_state_the_driver_acts_on() {
    let lease = Lease::new();
    let mut d = Driver::new(7, &lease, &config()).unwrap();
    d.set_membership(&[7, 2, 3], &[]).unwrap();
    assert_eq!(d.id(), 7);
    assert_eq!((d.term(), d.is_leader()), (0, false));
    assert_eq!(d.lease_duration(), LEASE);
    assert_eq!(d.election_ticks(), E);
    assert!(d.guarding_votes(), "a started driver guards votes");
    for _ in 0..E {
        d.on_tick(Ok(at(1)));
    }
    assert!(!d.guarding_votes());
    d.observe(leader_state(4));
    assert_eq!((d.term(), d.is_leader()), (4, true));
    assert_eq!(d.lease_term(), 0, "no extension yet");
    assert_eq!(round(&mut d, 2, 100), Some(Extension::Extended));
    assert_eq!(d.lease_term(), 4, "the term the lease vouches for");
    // A later term's lease is that term's.
    d.observe(follower_state(5));
    d.observe(leader_state(6));
    assert_eq!(d.lease_term(), 4, "not extended in term 6 yet");
    assert_eq!(round(&mut d, 3, 200), Some(Extension::Extended));
    assert_eq!(d.lease_term(), 6);
    assert_eq!(d.tracker().self_id(), 7);
}

// Observing the same applied state again must not try to extend again
// (every observation would otherwise count a NotLonger).
#[test]
fn observing_again_does_not_extend_again() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    assert_eq!(round(&mut d, 2, 100), Some(Extension::Extended));
    for _ in 0..5 {
        d.observe(leader_state(5));
    }
    assert_eq!(d.counters().extensions.not_longer, 0);
    assert_eq!(d.counters().extensions.extended, 1);
}

// Review: the driver invalidates on a failed clock read only when *it*
// reads the clock (tick, tag, its own read_local). Its docs invite readers
// on other threads to use `Lease` and `crate::read_local` directly; a
// failure such a reader meets returns `Err` and leaves the lease as it is.
// A clock that stands still while it fails and runs on from where it
// stopped (the simulation's `SimClock::fail(freeze)`: "a stopped timer
// reporting not started") then keeps the lease valid for as long as it
// failed, in true time: the followers' promises run out first.
//
// True time = the clock's reading until 110; the clock fails from true 110
// to 150 and reads 110 again at true 150 (40 behind from then on). The
// driver's next tick (true 155, reading 115) succeeds, so nothing ever
// invalidates, and the lease extended at 100 (expiry 190 by the clock) is
// valid until true 230.
#[test]
fn a_clock_failure_seen_by_a_reader_thread_ends_the_lease() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    assert_eq!(round(&mut d, 2, 100), Some(Extension::Extended));
    let clock = ManualClock::new(at(110));
    clock.fail_with(ClockError::Injected);
    // Another thread's read meets the failure.
    assert_eq!(
        crate::read_local(d.lease(), &clock, || 1),
        Err(QuorumNeeded { stamp: None })
    );
    clock.recover(); // true 150, still reading 110
    clock.set(at(115)); // true 155
    d.on_tick(clock.now());
    clock.set(at(185)); // true 225: 125 ms after the stamp, the lease is 90
    assert!(
        crate::read_local(d.lease(), &clock, || 1).is_err(),
        "a lease read at true 225 from a lease stamped at 100 (90 ms lease): the \
         clock failure a reader met did not end the lease"
    );
}

// Review finding 1: a leader that applied its own removal keeps leading in
// raft-rs 0.7, which answers its ReadIndex rounds without a quorum once a
// single voter is left. Such a round must not extend the lease.
#[test]
fn a_read_index_round_of_a_leader_outside_its_voters_extends_nothing() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    d.set_membership(&[2], &[]).unwrap();
    let clock = ManualClock::new(at(100));
    let stamp = d.read_local(&clock, || ()).unwrap_err().stamp;
    let ok: Result<(), RoundError> = Ok(());
    assert_eq!(d.finish_read_index(stamp, &ok), RoundOutcome::Withheld);
    assert_eq!(lease.expiry(), None);
    // The remaining voter's acks still extend (its promise is real).
    assert_eq!(round(&mut d, 2, 110), Some(Extension::Extended));
}

// First reading fine, second fails: the production driver ends the lease,
// resets the tracker to the lease's generation, counts one clock
// invalidation, and a late ack of a pre-failure request extends nothing.
#[test]
fn a_clock_failure_after_the_snapshot_ends_the_lease_and_resets_the_tracker() {
    let lease = Lease::new();
    let mut d = leader(&lease);
    let pre = d.tag_request(3, Ok(at(99)));
    assert_eq!(round(&mut d, 2, 100), Some(Extension::Extended));
    let clock = ManualClock::new(at(120));
    let r = d.read_local(&clock, || clock.fail_with(ClockError::Injected));
    assert_eq!(r, Err(QuorumNeeded { stamp: None }));
    assert_eq!(lease.expiry(), None);
    assert_eq!(d.tracker().generation_floor(), lease.generation());
    assert_eq!(d.tracker().quorum_stamp(), None);
    assert_eq!(d.counters().invalidations.clock, 1);
    assert_eq!(d.counters().lease_misses, 1);
    assert_eq!(d.on_response(3, pre), None);
    assert_eq!(lease.expiry(), None);
    clock.recover();
    assert!(d.read_local(&clock, || ()).is_err());
    assert_eq!(round(&mut d, 2, 130), Some(Extension::Extended));
}

// A reader thread's free read_local ends the lease without resetting the
// driver's tracker: the tracker's old-generation quorum and late acks of
// old requests still extend nothing (generation gate), and fresh rounds do.
#[test]
fn a_reader_threads_invalidation_leaves_no_stale_quorum_to_extend_from() {
    let lease = Lease::new();
    let mut d = driver(1, &lease);
    d.observe(unapplied_leader_state(5));
    let t2 = d.tag_request(2, Ok(at(100)));
    let t3 = d.tag_request(3, Ok(at(101)));
    assert_eq!(d.on_response(2, t2), None, "withheld: no own-term entry");
    let g = lease.generation();
    let clock = ManualClock::new(at(105));
    clock.fail_with(ClockError::Os(5));
    assert_eq!(
        crate::read_local(d.lease(), &clock, || 1),
        Err(QuorumNeeded { stamp: None })
    );
    assert_eq!(lease.generation(), g + 1);
    assert_eq!(
        d.tracker().generation_floor(),
        g,
        "tracker not reset by a reader"
    );
    assert!(d.tracker().quorum_stamp().is_some());
    // Own-term entry applied: observe extends from the stale quorum: refused.
    d.observe(leader_state(5));
    assert_eq!(lease.expiry(), None);
    assert_eq!(d.counters().extensions.stale_generation, 1);
    // A late ack of a pre-failure request: refused.
    let _ = d.on_response(3, t3);
    assert_eq!(lease.expiry(), None);
    // A round in the new generation extends.
    clock.recover();
    assert_eq!(round(&mut d, 2, 140), Some(Extension::Extended));
    assert_eq!(lease.expiry(), at(140).checked_add(LEASE));
}

#[cfg(feature = "negative-controls")]
#[test]
fn the_clock_error_control_switches_off_both_invalidations() {
    // "clock errors kept": neither the read path nor the driver invalidates.
    let lease = Lease::new();
    let mut d = leader(&lease).with_safeguards(Safeguards {
        clock_error_invalidates: false,
        ..Safeguards::ALL
    });
    assert_eq!(round(&mut d, 2, 100), Some(Extension::Extended));
    let clock = ManualClock::new(at(120));
    clock.fail_with(ClockError::Injected);
    assert_eq!(
        d.read_local(&clock, || 1),
        Err(QuorumNeeded { stamp: None })
    );
    assert_eq!(lease.expiry(), at(100).checked_add(LEASE));
    // validate_after_read off, clock_error_invalidates on: a first-reading
    // failure still invalidates (as before dba81f1).
    let lease = Lease::new();
    let mut d = leader(&lease).with_safeguards(Safeguards {
        validate_after_read: false,
        ..Safeguards::ALL
    });
    assert_eq!(round(&mut d, 2, 100), Some(Extension::Extended));
    assert_eq!(
        d.read_local(&clock, || 1),
        Err(QuorumNeeded { stamp: None })
    );
    assert_eq!(lease.expiry(), None);
    assert_eq!(d.counters().invalidations.clock, 1);
}

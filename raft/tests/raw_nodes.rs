//! `RaftLease` on real raft-rs `RawNode`s driven by hand: the decisions the
//! raft-rs mapping makes (which entry of its term a new leader needs, which
//! votes are dropped, what a transfer does) checked against raft-rs itself.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use leasehold_core::RoundOutcome;
use leasehold_core::{Clock, ClockInfo, Instant, Lease, ManualClock, Tag};
use leasehold_raft::{RaftLease, ReadIndexError, Timing};
use raft::eraftpb::{Message, MessageType};
use raft::storage::MemStorage;
use raft::{Config, RawNode, StateRole};

struct Cluster {
    nodes: Vec<(RawNode<MemStorage>, RaftLease<Arc<Lease>>)>,
    wire: VecDeque<(Message, Option<Tag>)>,
    clock: ManualClock,
    /// Apply committed entries at once (false: only `advance_append`; the
    /// state machine lags until `apply_all`).
    apply: bool,
    /// Messages of these types are dropped.
    drop: Vec<MessageType>,
}

fn timing() -> Timing {
    Timing {
        tick: Duration::from_millis(10),
        lease_clock: ClockInfo {
            name: "manual",
            resolution: Duration::from_nanos(1),
            max_drift_ppm: 0,
            counts_suspend: Some(true),
            slewed: Some(false),
        },
        tick_drift_ppm: 0,
        margin: Duration::ZERO,
        machine_never_suspends: false,
    }
}

impl Cluster {
    fn new() -> Cluster {
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let nodes = (1..=3)
            .map(|id| {
                let cfg = Config {
                    id,
                    election_tick: 10,
                    min_election_tick: 15,
                    max_election_tick: 30,
                    heartbeat_tick: 2,
                    check_quorum: true,
                    ..Default::default()
                };
                let storage = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
                let node = RawNode::new(&cfg, storage, &logger).unwrap();
                let lease = RaftLease::new(&cfg, &timing(), Arc::new(Lease::new())).unwrap();
                (node, lease)
            })
            .collect();
        Cluster {
            nodes,
            wire: VecDeque::new(),
            clock: ManualClock::new(Instant::from_nanos(1_000_000_000).unwrap()),
            apply: true,
            drop: Vec::new(),
        }
    }

    fn tick_all(&mut self, n: usize) {
        for _ in 0..n {
            self.clock.advance(Duration::from_millis(10));
            for (node, lease) in &mut self.nodes {
                lease.tick(node, self.clock.now());
            }
            self.pump();
        }
    }

    /// Handles every Ready and delivers every message until quiet.
    fn pump(&mut self) {
        for _ in 0..50 {
            let now = self.clock.now();
            for (node, lease) in &mut self.nodes {
                lease.observe(node);
                if !node.has_ready() {
                    continue;
                }
                let mut rd = node.ready();
                let store = node.store().clone();
                store.wl().append(rd.entries()).unwrap();
                if let Some(hs) = rd.hs() {
                    store.wl().set_hardstate(hs.clone());
                }
                for m in rd
                    .take_messages()
                    .into_iter()
                    .chain(rd.take_persisted_messages())
                {
                    let tag = lease.tag(&m, now);
                    self.wire.push_back((m, tag));
                }
                let mut light = node.advance_append(rd);
                if let Some(c) = light.commit_index() {
                    store.wl().mut_hard_state().set_commit(c);
                }
                for m in light.take_messages() {
                    let tag = lease.tag(&m, now);
                    self.wire.push_back((m, tag));
                }
                if self.apply {
                    node.advance_apply();
                }
                lease.observe(node);
            }
            if self.wire.is_empty() {
                return;
            }
            while let Some((m, tag)) = self.wire.pop_front() {
                if self.drop.contains(&m.get_msg_type()) {
                    continue;
                }
                let (node, lease) = &mut self.nodes[m.to as usize - 1];
                let _ = lease.step(node, m, tag);
            }
        }
    }

    fn apply_all(&mut self) {
        for (node, lease) in &mut self.nodes {
            node.advance_apply();
            lease.observe(node);
        }
    }

    fn leader(&self) -> Option<usize> {
        self.nodes
            .iter()
            .position(|(n, _)| n.raft.state == StateRole::Leader)
    }

    fn read(&mut self, i: usize) -> bool {
        let clock = &self.clock;
        self.nodes[i].1.read(clock, || ()).is_ok()
    }
}

/// Node 1 wins an election (after the start guard) and the cluster settles.
fn elected(apply: bool) -> Cluster {
    let mut c = Cluster::new();
    c.apply = apply;
    c.tick_all(10);
    c.nodes[0].0.campaign().unwrap();
    c.pump();
    c.tick_all(2);
    assert_eq!(c.leader(), Some(0));
    c
}

// Hole 3: with asynchronous apply a new leader commits an entry of its term
// long before its state machine has applied what the previous leader
// acknowledged; raft-rs's `commit_to_current_term` is already true then.
#[test]
fn a_new_leader_lease_reads_only_after_applying_an_entry_of_its_term() {
    let mut c = elected(false);
    let leader = &c.nodes[0].0;
    assert!(
        leader.raft.commit_to_current_term(),
        "committed, not applied"
    );
    assert!(!leader.raft.apply_to_current_term());
    c.tick_all(2);
    assert!(
        !c.read(0),
        "a lease read before the entry of the term is applied"
    );
    c.apply_all();
    c.tick_all(2);
    assert!(c.read(0));
    assert!(c.nodes[0].1.counters().extensions_withheld > 0);
}

// The vote guard: a follower that acknowledged the leader drops a vote
// request (pre-vote or vote) inside the lease; raft-rs alone would too
// here, but the guard does not depend on raft-rs knowing its leader.
#[test]
fn followers_drop_votes_inside_the_lease() {
    let mut c = elected(true);
    c.tick_all(2);
    assert!(c.read(0));
    let term = c.nodes[1].0.raft.term;
    let mut vote = Message::default();
    vote.set_msg_type(MessageType::MsgRequestVote);
    vote.from = 3;
    vote.to = 2;
    vote.term = term + 1;
    vote.log_term = term;
    vote.index = c.nodes[2].0.raft.raft_log.last_index();
    let (node, lease) = &mut c.nodes[1];
    lease.step(node, vote, None).unwrap();
    assert_eq!(node.raft.term, term, "the request was dropped unseen");
    assert_eq!(lease.counters().votes_dropped, 1);
}

// Hole 1: a transfer whose MsgTimeoutNow left suspends the lease for the
// rest of the term, also after raft-rs gives the transfer up.
#[test]
fn a_transfer_suspends_the_lease_for_the_rest_of_the_term() {
    let mut c = elected(true);
    c.tick_all(2);
    assert!(c.read(0));
    c.drop.push(MessageType::MsgTimeoutNow); // lost, or held somewhere
    c.nodes[0].0.transfer_leader(2);
    c.pump();
    assert!(!c.read(0));
    c.tick_all(30); // raft-rs abandons the transfer after an election timeout
    assert!(c.nodes[0].0.raft.lead_transferee.is_none());
    assert_eq!(c.leader(), Some(0));
    assert!(!c.read(0), "suspended until the term ends");
    assert_eq!(c.nodes[0].1.counters().invalidations.transfer, 1);
}

// A ReadIndex round that ends because the node lost leadership ends the
// lease; one that timed out leaves it alone.
#[test]
fn only_a_leadership_loss_ends_the_lease() {
    let mut c = elected(true);
    c.tick_all(2);
    assert!(c.read(0));
    let stamp = c.nodes[0].1.read(&c.clock, || ()).err().map(|n| n.stamp);
    assert_eq!(stamp, None, "the lease covered the read");
    let lease = &mut c.nodes[0].1;
    let timeout: Result<(), ReadIndexError> = Err(ReadIndexError::Timeout);
    assert_eq!(
        lease.finish_read_index(None, &timeout),
        RoundOutcome::Unchanged
    );
    assert!(c.read(0));
    let lease = &mut c.nodes[0].1;
    let lost: Result<(), ReadIndexError> = Err(ReadIndexError::NotLeader);
    assert!(matches!(
        lease.finish_read_index(None, &lost),
        RoundOutcome::Invalidated { .. }
    ));
    assert!(!c.read(0));
}

// More voters than the tracker holds: the lease is withheld and the error
// is kept for the node to report.
#[test]
fn a_membership_the_tracker_cannot_hold_is_reported() {
    let logger = slog::Logger::root(slog::Discard, slog::o!());
    let cfg = Config {
        id: 1,
        election_tick: 10,
        heartbeat_tick: 2,
        check_quorum: true,
        ..Default::default()
    };
    let voters: Vec<u64> = (1..=20).collect();
    let storage = MemStorage::new_with_conf_state((voters, vec![]));
    let node = RawNode::new(&cfg, storage, &logger).unwrap();
    let mut lease = RaftLease::new(&cfg, &timing(), Arc::new(Lease::new())).unwrap();
    lease.observe(&node);
    assert_eq!(
        lease.membership_error(),
        Some(leasehold_core::TrackerError::TooManyPeers { capacity: 16 })
    );
}

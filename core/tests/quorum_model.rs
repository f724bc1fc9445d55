//! `QuorumTracker` against a plain reference model, over random sequences of
//! `set_membership` / `record_ack` / `reset`, including invalid inputs.
//!
//! The model is written for obviousness, not speed: `Vec`s and a `BTreeMap`,
//! a full sort on every query, and acks of old generations are kept in the
//! map and filtered out when read (the tracker drops them eagerly), so the
//! two do not share a mechanism for the generation rule.

use std::collections::BTreeMap;

use leasehold_core::{Instant, QuorumTracker, Stamp, TrackerError};
use proptest::prelude::*;
use proptest::sample::subsequence;

/// Peer ids used by the generators; `UNKNOWN` is never put in a membership.
const IDS: u64 = 10;
const UNKNOWN: u64 = IDS;

#[derive(Debug, Clone)]
struct Model {
    capacity: usize,
    voters: Vec<u64>,
    outgoing: Vec<u64>,
    /// Every peer of `voters` and `outgoing`, once.
    members: Vec<u64>,
    /// Last ack recorded per peer, whatever its generation.
    acks: BTreeMap<u64, Stamp>,
    floor: u64,
    /// The quorum as last reported, to decide what `record_ack` returns.
    quorum: Option<Stamp>,
}

impl Model {
    fn new(capacity: usize) -> Model {
        Model {
            capacity,
            voters: Vec::new(),
            outgoing: Vec::new(),
            members: Vec::new(),
            acks: BTreeMap::new(),
            floor: 0,
            quorum: None,
        }
    }

    /// The ack of `peer` that counts: a member's, of the current generation.
    fn ack(&self, peer: u64) -> Option<Stamp> {
        if !self.members.contains(&peer) {
            return None;
        }
        self.acks
            .get(&peer)
            .copied()
            .filter(|s| s.generation() == self.floor)
    }

    fn set_quorum(&self, set: &[u64]) -> Option<Instant> {
        let mut acked: Vec<Instant> = set
            .iter()
            .filter_map(|&p| self.ack(p))
            .map(Stamp::instant)
            .collect();
        acked.sort_by(|a, b| b.cmp(a)); // freshest first
        let majority = set.len() / 2 + 1;
        // The oldest of the freshest majority.
        if set.is_empty() || acked.len() < majority {
            None
        } else {
            Some(acked[majority - 1])
        }
    }

    fn compute_quorum(&self) -> Option<Stamp> {
        let mut q = self.set_quorum(&self.voters)?;
        if !self.outgoing.is_empty() {
            q = q.min(self.set_quorum(&self.outgoing)?);
        }
        Some(Stamp::new(q, self.floor))
    }

    fn set_membership(&mut self, voters: &[u64], outgoing: &[u64]) -> Result<(), TrackerError> {
        if voters.is_empty() {
            return Err(TrackerError::EmptyVoterSet);
        }
        // First offending id in the order given, voters then outgoing.
        let mut distinct: Vec<u64> = Vec::new();
        for list in [voters, outgoing] {
            for (i, p) in list.iter().enumerate() {
                if list[..i].contains(p) {
                    return Err(TrackerError::DuplicatePeer { peer: *p });
                }
                if !distinct.contains(p) {
                    if distinct.len() == self.capacity {
                        return Err(TrackerError::TooManyPeers {
                            capacity: self.capacity,
                        });
                    }
                    distinct.push(*p);
                }
            }
        }
        self.voters = voters.to_vec();
        self.outgoing = outgoing.to_vec();
        self.acks.retain(|p, _| distinct.contains(p));
        self.members = distinct;
        if outgoing.is_empty() && voters.len() == 1 {
            // Installing a single-voter configuration starts from nothing.
            self.acks.clear();
        }
        self.quorum = self.compute_quorum();
        Ok(())
    }

    fn record_ack(&mut self, peer: u64, stamp: Stamp) -> Result<Option<Stamp>, TrackerError> {
        if !self.members.contains(&peer) {
            return Err(TrackerError::UnknownPeer { peer });
        }
        if stamp.generation() < self.floor {
            return Ok(None);
        }
        self.floor = stamp.generation();
        if let Some(old) = self.acks.get(&peer) {
            if old.generation() == stamp.generation() && old.instant() >= stamp.instant() {
                return Ok(None);
            }
        }
        self.acks.insert(peer, stamp);
        let before = self.quorum;
        self.quorum = self.compute_quorum();
        // "Advanced": later in (generation, instant) order; None is lowest.
        let key = |q: Option<Stamp>| q.map(|s| (s.generation(), s.instant()));
        Ok(self.quorum.filter(|_| key(self.quorum) > key(before)))
    }

    fn reset(&mut self, min_generation: u64) {
        self.floor = self.floor.max(min_generation);
        self.acks.clear();
        self.quorum = None;
    }
}

/// A generation relative to the model's floor at the time the op runs, so
/// that sequences keep hitting the interesting cases.
#[derive(Debug, Clone, Copy)]
enum Gen {
    Older,
    Same,
    Newer,
}

impl Gen {
    fn resolve(self, floor: u64) -> u64 {
        match self {
            Gen::Older => floor.saturating_sub(1),
            Gen::Same => floor,
            Gen::Newer => floor + 1,
        }
    }
}

/// Which peer acks: mostly a current member (so that quorums form), else
/// any id, which is often outside the membership.
#[derive(Debug, Clone, Copy)]
enum Peer {
    Member(usize),
    Raw(u64),
}

impl Peer {
    fn resolve(self, members: &[u64]) -> u64 {
        match self {
            Peer::Member(i) if !members.is_empty() => members[i % members.len()],
            Peer::Member(i) => i as u64,
            Peer::Raw(p) => p,
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    SetMembership(Vec<u64>, Vec<u64>),
    Ack(Peer, u64, Gen),
    Reset(Gen),
}

fn gen() -> impl Strategy<Value = Gen> {
    prop_oneof![1 => Just(Gen::Older), 18 => Just(Gen::Same), 1 => Just(Gen::Newer)]
}

/// Mostly valid voter lists (distinct ids), sometimes raw ones with
/// duplicates, too many peers or nothing at all.
fn voter_list(min: usize) -> impl Strategy<Value = Vec<u64>> {
    let ids: Vec<u64> = (0..IDS).collect();
    prop_oneof![
        6 => subsequence(ids, min..=5).prop_shuffle(),
        1 => prop::collection::vec(0..IDS, 0..=9),
    ]
}

fn peer() -> impl Strategy<Value = Peer> {
    prop_oneof![
        4 => (0..16usize).prop_map(Peer::Member),
        // UNKNOWN (= IDS) is in range: an ack from a peer never in any membership.
        1 => (0..=UNKNOWN).prop_map(Peer::Raw),
    ]
}

/// A sequence that starts from some membership (valid or not) and then
/// mixes all operations.
fn ops() -> impl Strategy<Value = Vec<Op>> {
    (voter_list(1), prop::collection::vec(op(), 1..40)).prop_map(|(first, mut rest)| {
        rest.insert(0, Op::SetMembership(first, Vec::new()));
        rest
    })
}

fn op() -> impl Strategy<Value = Op> {
    let outgoing = prop_oneof![2 => Just(Vec::new()), 1 => voter_list(1)];
    prop_oneof![
        2 => (voter_list(1), outgoing).prop_map(|(v, o)| Op::SetMembership(v, o)),
        16 => (peer(), 1..40u64, gen()).prop_map(|(p, t, g)| Op::Ack(p, t, g)),
        1 => gen().prop_map(Op::Reset),
    ]
}

fn check<const N: usize>(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut t = QuorumTracker::<N>::new(0);
    let mut m = Model::new(N);
    for op in ops {
        let before = t.clone();
        match op {
            Op::SetMembership(v, o) => {
                let got = t.set_membership(v, o);
                prop_assert_eq!(got, m.set_membership(v, o), "{:?}", op);
                if got.is_err() {
                    prop_assert_eq!(&t, &before, "error changed the tracker");
                }
            }
            Op::Ack(p, ns, g) => {
                let p = &p.resolve(&m.members);
                let stamp = Stamp::new(Instant::from_nanos(*ns).unwrap(), g.resolve(m.floor));
                let got = t.record_ack(*p, stamp);
                prop_assert_eq!(got, m.record_ack(*p, stamp), "{:?}", op);
                if got.is_err() {
                    prop_assert_eq!(&t, &before, "error changed the tracker");
                }
                // Within a generation the quorum never moves backwards.
                if let (Some(old), Some(new)) = (before.quorum_stamp(), t.quorum_stamp()) {
                    if old.generation() == new.generation() {
                        prop_assert!(new.instant() >= old.instant());
                    }
                }
            }
            Op::Reset(g) => {
                let g = g.resolve(m.floor);
                t.reset(g);
                m.reset(g);
            }
        }
        prop_assert_eq!(t.quorum_stamp(), m.compute_quorum(), "after {:?}", op);
        prop_assert_eq!(t.generation_floor(), m.floor);
        prop_assert_eq!(t.is_joint(), !m.outgoing.is_empty());
        for p in 0..=UNKNOWN {
            prop_assert_eq!(t.is_voter(p), m.members.contains(&p));
            prop_assert_eq!(t.ack(p), m.ack(p), "ack of {} after {:?}", p, op);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// N = 7 with 10 ids: memberships fit, overflow, and shrink and regrow.
    #[test]
    fn tracker_matches_model(ops in ops()) {
        check::<7>(&ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// A tight capacity, where most joint configurations overflow.
    #[test]
    fn tracker_matches_model_at_capacity_3(ops in ops()) {
        check::<3>(&ops)?;
    }
}

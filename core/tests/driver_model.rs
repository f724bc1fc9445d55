//! The lease driver against a plain reference model: random sequences of
//! Raft events (role and term changes, applied entries, membership changes,
//! sends, responses with valid, stale, forged and misdirected tags, ticks,
//! clock failures, transfers) must leave the driver's lease exactly where
//! the model, written with std collections and no cleverness, says.

use core::time::Duration;
use std::collections::BTreeMap;

use leasehold_core::{
    ClockError, Instant, Lease, LeaseConfig, LeaseDriver, NodeState, Tag, TrackerError,
};
use proptest::prelude::*;

const ID: u64 = 1;
const INFLIGHT: usize = 8;
const PEERS: usize = 4;
const LEASE: Duration = Duration::from_millis(90);

#[derive(Debug, Clone)]
enum Ev {
    Observe {
        leader: bool,
        term: u64,
        applied: bool,
    },
    Membership(Vec<u64>),
    Send {
        to: u64,
        dt: u64,
        clock_ok: bool,
    },
    Respond {
        from: u64,
        which: usize,
        forge: u8,
    },
    Tick {
        dt: u64,
        clock_ok: bool,
    },
    TimeoutNow,
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        2 => (any::<bool>(), 1..4u64, any::<bool>())
            .prop_map(|(leader, term, applied)| Ev::Observe { leader, term, applied }),
        1 => proptest::collection::vec(1..7u64, 0..6).prop_map(Ev::Membership),
        6 => (1..6u64, 0..30u64, proptest::bool::weighted(0.95))
            .prop_map(|(to, dt, clock_ok)| Ev::Send { to, dt, clock_ok }),
        8 => (1..6u64, 0..16usize, 0..6u8).prop_map(|(from, which, forge)| Ev::Respond { from, which, forge }),
        2 => (0..30u64, proptest::bool::weighted(0.95))
            .prop_map(|(dt, clock_ok)| Ev::Tick { dt, clock_ok }),
        1 => Just(Ev::TimeoutNow),
    ]
}

/// The reference: what the lease must be, computed the obvious way.
#[derive(Debug, Default)]
struct Model {
    leader: bool,
    term: u64,
    applied: bool,
    suspended: bool,
    /// The last membership installed; acks keep being recorded against it
    /// after a membership the driver cannot hold (they are genuine acks),
    /// but nothing extends until a valid one is installed.
    voters: Vec<u64>,
    membership_ok: bool,
    gen: u64,
    expiry: Option<u64>,
    acks: BTreeMap<u64, u64>,
    /// (seq, to, instant, generation when sent)
    sent: Vec<(u64, u64, u64, u64)>,
    next_seq: u64,
    now: u64,
}

impl Model {
    fn invalidate(&mut self) {
        self.gen += 1;
        self.expiry = None;
        self.acks.clear();
    }

    fn quorum(&self) -> Option<u64> {
        let v = &self.voters;
        if v.is_empty() {
            return None;
        }
        let mut acks: Vec<u64> = v
            .iter()
            .map(|p| self.acks.get(p).copied().unwrap_or(0))
            .collect();
        acks.sort_unstable_by(|a, b| b.cmp(a));
        let q = acks[v.len() / 2];
        (q > 0).then_some(q)
    }

    fn try_extend(&mut self, q: u64) {
        if !(self.leader && self.membership_ok && self.applied && !self.suspended) {
            return;
        }
        let new = q + LEASE.as_nanos() as u64;
        if self.expiry.is_none_or(|e| new > e) {
            self.expiry = Some(new);
        }
    }

    fn ack(&mut self, peer: u64, instant: u64, generation: u64) {
        if !self.voters.contains(&peer) || generation < self.gen {
            return;
        }
        if self.acks.get(&peer).is_some_and(|&a| a >= instant) {
            return;
        }
        let before = self.quorum();
        self.acks.insert(peer, instant);
        let after = self.quorum();
        if after != before {
            if let Some(q) = after {
                self.try_extend(q);
            }
        }
    }

    fn apply(&mut self, e: &Ev) -> Option<Tag> {
        match *e {
            Ev::Observe {
                leader,
                term,
                applied,
            } => {
                if (leader, term) != (self.leader, self.term) {
                    self.leader = leader;
                    self.term = term;
                    self.applied = false;
                    self.suspended = false;
                    self.sent.clear();
                    self.invalidate();
                }
                let newly = applied && !self.applied;
                self.applied = applied;
                if newly {
                    if let Some(q) = self.quorum() {
                        self.try_extend(q);
                    }
                }
                None
            }
            Ev::Membership(ref v) => {
                let mut sorted = v.clone();
                sorted.sort_unstable();
                sorted.dedup();
                if v.is_empty() || sorted.len() != v.len() || v.len() > PEERS {
                    self.membership_ok = false;
                    self.invalidate();
                    return None;
                }
                if v.len() == 1 {
                    self.acks.clear();
                } else {
                    self.acks.retain(|p, _| v.contains(p));
                }
                self.voters = v.clone();
                self.membership_ok = true;
                if let Some(q) = self.quorum() {
                    self.try_extend(q);
                }
                None
            }
            Ev::Send { to, dt, clock_ok } => {
                self.now += dt;
                if !self.leader {
                    return None;
                }
                if !clock_ok {
                    self.invalidate();
                    return None;
                }
                self.next_seq += 1;
                let seq = self.next_seq;
                if self.sent.len() == INFLIGHT {
                    self.sent.remove(0);
                }
                let (now, generation) = (ns(self.now), self.gen);
                self.sent.push((seq, to, now, generation));
                self.ack(ID, now, generation);
                Some(Tag::new(self.term, seq))
            }
            Ev::Respond { .. } | Ev::TimeoutNow => unreachable!("handled with the tag"),
            Ev::Tick { dt, clock_ok } => {
                self.now += dt;
                if self.leader {
                    if clock_ok {
                        let (now, generation) = (ns(self.now), self.gen);
                        self.ack(ID, now, generation);
                    } else {
                        self.invalidate();
                    }
                }
                None
            }
        }
    }

    fn respond(&mut self, from: u64, tag: Tag) {
        if !self.leader || tag.term() != self.term {
            return;
        }
        let Some(&(_, to, instant, generation)) = self.sent.iter().find(|s| s.0 == tag.seq())
        else {
            return;
        };
        if to == from {
            self.ack(from, instant, generation);
        }
    }
}

fn config() -> LeaseConfig {
    LeaseConfig::new(Duration::from_millis(10), 10)
        .max_drift_ppm(0)
        .clock_resolution(Duration::ZERO)
        .check_quorum(true)
}

/// Model time is in milliseconds; instants are 1 ns past them (never zero).
fn ns(ms: u64) -> u64 {
    1 + ms * 1_000_000
}

fn at(ms: u64) -> Result<Instant, ClockError> {
    Instant::from_nanos(ns(ms)).ok_or(ClockError::OutOfRange)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn the_driver_agrees_with_the_model(events in proptest::collection::vec(ev(), 1..120)) {
        let lease = Lease::new();
        let mut d = LeaseDriver::<&Lease, PEERS, INFLIGHT>::new(ID, &lease, &config()).unwrap();
        let mut m = Model { gen: lease.generation(), ..Model::default() };
        // Time in the model is in ms; the driver's instants are offset by 1 ns.
        let mut tags: Vec<(Tag, u64)> = Vec::new();
        for e in &events {
            match *e {
                Ev::Observe { leader, term, applied } => {
                    m.apply(e);
                    d.observe(NodeState { term, leader, own_term_entry_applied: applied });
                }
                Ev::Membership(ref v) => {
                    m.apply(e);
                    let r = d.set_membership(v, &[]);
                    prop_assert_eq!(r.is_ok(), m.membership_ok, "{:?}", r);
                    if let Err(err) = r {
                        let typed = matches!(
                            err,
                            TrackerError::EmptyVoterSet
                                | TrackerError::DuplicatePeer { .. }
                                | TrackerError::TooManyPeers { .. }
                        );
                        prop_assert!(typed, "{:?}", err);
                    }
                }
                Ev::Send { to, clock_ok, .. } => {
                    let want = m.apply(e);
                    let now = if clock_ok { at(m.now) } else { Err(ClockError::Injected) };
                    let got = d.tag_request(to, now);
                    prop_assert_eq!(got, want);
                    if let Some(t) = got {
                        tags.push((t, to));
                    }
                }
                Ev::Respond { from, which, forge } => {
                    if tags.is_empty() {
                        continue;
                    }
                    let (t, to) = tags[which % tags.len()];
                    // Valid, misdirected, another term, an unknown number, or a stale one.
                    let (from, tag) = match forge {
                        0 | 1 => (to, t),
                        2 => (from, t),
                        3 => (to, Tag::new(t.term() + 1, t.seq())),
                        4 => (to, Tag::new(t.term(), t.seq() + 1000)),
                        _ => (from, Tag::new(t.term(), t.seq().saturating_sub(1))),
                    };
                    m.respond(from, tag);
                    let _ = d.on_response(from, Some(tag));
                }
                Ev::Tick { clock_ok, .. } => {
                    m.apply(e);
                    let now = if clock_ok { at(m.now) } else { Err(ClockError::Injected) };
                    d.on_tick(now);
                }
                Ev::TimeoutNow => {
                    m.suspended = true;
                    m.invalidate();
                    d.on_timeout_now_sent();
                }
            }
            prop_assert_eq!(lease.expiry().map(|i| i.as_nanos()), m.expiry, "after {:?}", e);
            prop_assert_eq!(lease.generation(), m.gen, "after {:?}", e);
        }
    }
}

//! A follower's loop stalls while a heartbeat and a vote request wait in
//! its socket (found by review). A loop that then fires the ticks it
//! missed, after stepping the heartbeat the leader's lease rests on, counts
//! time from before that heartbeat against its promise: with ten of them
//! the follower votes with no time passed, the candidate wins and commits,
//! and the old leader serves a stale lease read. Paced by `Ticker`, the
//! resumed loop fires one tick and the vote is refused.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use leasehold_core::{Clock, Instant, Lease, ManualClock, Tag};
use leasehold_raft::{RaftLease, Ticker, Timing};
use raft::eraftpb::{EntryType, Message};
use raft::storage::MemStorage;
use raft::{Config, RawNode, StateRole};

const TICK: Duration = Duration::from_millis(10);
const E: usize = 10;

struct Node {
    raw: RawNode<MemStorage>,
    lease: RaftLease<Arc<Lease>>,
    value: u64,
}

struct Cluster {
    clock: ManualClock,
    nodes: BTreeMap<u64, Node>,
    wire: Vec<(Message, Option<Tag>)>,
    cut: HashSet<(u64, u64)>,
    /// Nodes whose loop is stalled: not ticked, their inbox fills up.
    paused: HashSet<u64>,
    inbox: BTreeMap<u64, Vec<(Message, Option<Tag>)>>,
}

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

impl Cluster {
    fn new(voters: &[u64]) -> Cluster {
        let clock = ManualClock::new(Instant::from_nanos(1_000_000_000).unwrap());
        let timing = Timing {
            tick: TICK,
            lease_clock: clock.info(),
            tick_drift_ppm: 0,
            margin: Duration::from_millis(1),
            machine_never_suspends: true,
        };
        let mut nodes = BTreeMap::new();
        for &id in voters {
            let cfg = Config {
                id,
                election_tick: E,
                heartbeat_tick: 2,
                check_quorum: true,
                ..Default::default()
            };
            let storage = MemStorage::new_with_conf_state((voters.to_vec(), vec![]));
            let raw = RawNode::new(&cfg, storage, &logger()).unwrap();
            let lease = RaftLease::new(&cfg, &timing, Arc::new(Lease::new())).unwrap();
            nodes.insert(
                id,
                Node {
                    raw,
                    lease,
                    value: 0,
                },
            );
        }
        Cluster {
            clock,
            nodes,
            wire: Vec::new(),
            cut: HashSet::new(),
            paused: HashSet::new(),
            inbox: BTreeMap::new(),
        }
    }

    fn node(&mut self, id: u64) -> &mut Node {
        self.nodes.get_mut(&id).unwrap()
    }

    fn ready(&mut self, id: u64) {
        loop {
            let now = self.clock.now();
            let n = self.nodes.get_mut(&id).unwrap();
            n.lease.observe(&n.raw);
            if !n.raw.has_ready() {
                break;
            }
            let mut rd = n.raw.ready();
            let store = n.raw.store().clone();
            store.wl().append(rd.entries()).unwrap();
            if let Some(hs) = rd.hs() {
                store.wl().set_hardstate(hs.clone());
            }
            let mut out = rd.take_messages();
            out.extend(rd.take_persisted_messages());
            let mut committed = rd.take_committed_entries();
            let mut light = n.raw.advance_append(rd);
            if let Some(c) = light.commit_index() {
                store.wl().mut_hard_state().set_commit(c);
            }
            out.extend(light.take_messages());
            committed.extend(light.take_committed_entries());
            for m in out {
                let tag = n.lease.tag(&m, now);
                self.wire.push((m, tag));
            }
            let mut last = None;
            for e in committed {
                last = Some(e.index);
                if e.get_entry_type() == EntryType::EntryNormal && e.data.len() == 8 {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&e.data);
                    n.value = u64::from_le_bytes(b);
                }
            }
            if let Some(i) = last {
                n.raw.advance_apply_to(i);
            }
        }
    }

    fn deliver_all(&mut self) {
        for _ in 0..100 {
            let ids: Vec<u64> = self.nodes.keys().copied().collect();
            for id in ids {
                if !self.paused.contains(&id) {
                    self.ready(id);
                }
            }
            if self.wire.is_empty() {
                return;
            }
            for (m, tag) in std::mem::take(&mut self.wire) {
                if self.cut.contains(&(m.from, m.to)) {
                    continue;
                }
                if self.paused.contains(&m.to) {
                    self.inbox.entry(m.to).or_default().push((m, tag));
                    continue;
                }
                let n = self.node(m.to);
                let _ = n.lease.step(&mut n.raw, m, tag);
            }
        }
        panic!("the cluster did not settle");
    }

    fn tick(&mut self) {
        self.clock.advance(TICK);
        let now = self.clock.now();
        for (id, n) in self.nodes.iter_mut() {
            if !self.paused.contains(id) {
                n.lease.tick(&mut n.raw, now);
            }
        }
        self.deliver_all();
    }

    fn pin_timeouts(&mut self) {
        for n in self.nodes.values_mut() {
            n.raw.raft.set_randomized_election_timeout(2 * E - 1);
        }
    }

    fn is_leader(&self, id: u64) -> bool {
        self.nodes[&id].raw.raft.state == StateRole::Leader
    }
}

#[test]
fn a_stalled_loop_paced_by_ticker_refuses_the_vote_that_waited_behind_a_heartbeat() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.pin_timeouts();
    for _ in 0..E {
        c.tick();
    }
    c.node(1).raw.campaign().unwrap();
    c.deliver_all();
    assert!(c.is_leader(1));
    c.pin_timeouts();
    c.node(1)
        .raw
        .propose(vec![], 7u64.to_le_bytes().to_vec())
        .unwrap();
    c.deliver_all();
    // Align with node 1's check-quorum: just after a check, one more
    // heartbeat round, so that the stall below straddles exactly one check
    // that node 2 already passed.
    while c.nodes[&1].raw.raft.election_elapsed != 0 {
        c.tick();
    }
    c.tick();
    c.tick();
    assert!(c.is_leader(1));
    assert!(c.nodes.values().all(|n| n.value == 7));

    // Node 3 loses node 1 (both ways); node 2's loop stalls for 15 ticks.
    c.cut.insert((1, 3));
    c.cut.insert((3, 1));
    c.paused.insert(2);
    c.pin_timeouts();
    for _ in 0..15 {
        c.tick();
    }
    assert!(c.is_leader(1), "node 1 passed its check-quorum");
    // Node 3 has heard from no leader for 15 > E ticks: its guard is down
    // and it campaigns (as its election timer would a little later); the
    // vote request joins the heartbeats waiting for node 2.
    c.node(3).raw.campaign().unwrap();
    c.deliver_all();

    // Node 2 resumes. Its socket is ready first: the queued heartbeats
    // (the newest stamped one tick ago) are accepted and acknowledged, and
    // node 1 extends its lease from them.
    c.paused.remove(&2);
    let queued = c.inbox.remove(&2).unwrap_or_default();
    let (votes, leader_msgs): (Vec<_>, Vec<_>) = queued.into_iter().partition(|(m, _)| m.from == 3);
    assert!(!votes.is_empty() && !leader_msgs.is_empty());
    for (m, tag) in leader_msgs {
        let n = c.node(2);
        let _ = n.lease.step(&mut n.raw, m, tag);
    }
    c.deliver_all();
    let t = c.clock.now().unwrap();
    assert!(c.nodes[&1].lease.lease().is_valid(t));
    // From here on node 2's messages to node 1 are delayed.
    c.cut.insert((2, 1));
    // Then its loop polls its ticker, which last fired before the stall,
    // over and over with no time passing: a burst of missed ticks would
    // open the guard; the ticker fires one.
    let start = std::time::Instant::now();
    let mut ticker = Ticker::new(TICK, start);
    let resumed = start + 16 * TICK;
    let mut fired = 0;
    for _ in 0..E {
        if ticker.poll(resumed) {
            fired += 1;
            let now = c.clock.now();
            let n = c.node(2);
            n.lease.tick(&mut n.raw, now);
        }
    }
    // Then the vote request that waited behind the heartbeats.
    for (m, tag) in votes {
        let n = c.node(2);
        let _ = n.lease.step(&mut n.raw, m, tag);
    }
    c.deliver_all();
    assert!(
        !c.is_leader(3),
        "node 2 voted for node 3 with no time passed since the heartbeat"
    );
    assert_eq!(c.nodes[&2].lease.counters().votes_dropped, 1);
    assert_eq!(fired, 1, "one tick after the stall");
    // A client reads at node 1, under the lease node 2's ack extended: 7 is
    // the newest committed value.
    let clock = &c.clock;
    let n = c.nodes.get_mut(&1).unwrap();
    let value = n.value;
    assert_eq!(n.lease.read(clock, || value), Ok(7));
}

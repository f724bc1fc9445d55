//! Adversarial review: real raft-rs 0.7 `RawNode`s driven by hand through
//! `RaftLease`, one scenario per suspected hole. Each test states what a
//! correct integration must guarantee; a failure is a stale read (or a
//! lease that outlives the promises it rests on).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use leasehold_core::{Clock, Instant, Lease, ManualClock, RoundOutcome, Stamp, Tag};
use leasehold_raft::{RaftLease, ReadIndexError, Timing};
use raft::eraftpb::{ConfChange, ConfChangeType, EntryType, Message, MessageType};
use raft::storage::MemStorage;
use raft::{Config, RawNode, StateRole};

const TICK: Duration = Duration::from_millis(10);
const E: usize = 10;

struct Node {
    raw: RawNode<MemStorage>,
    lease: RaftLease<Arc<Lease>>,
    /// The register the state machine holds: (value, log index it came from).
    value: u64,
    version: u64,
    /// ReadIndex rounds in flight: ctx -> stamp; and those whose read state
    /// arrived, waiting for apply: (ctx, index, stamp).
    reads: BTreeMap<u64, Option<Stamp>>,
    ready_reads: Vec<(u64, u64, Option<Stamp>)>,
    /// ReadIndex rounds finished: ctx -> (value, version) served.
    done_reads: BTreeMap<u64, (u64, u64)>,
}

/// Which messages the network holds back.
type Hold = Box<dyn Fn(&Message) -> bool>;

struct Cluster {
    clock: ManualClock,
    nodes: BTreeMap<u64, Node>,
    wire: Vec<(Message, Option<Tag>)>,
    /// Directed links that drop everything.
    cut: HashSet<(u64, u64)>,
    /// Conf changes proposed, by their context (applied when committed).
    conf_changes: BTreeMap<Vec<u8>, ConfChange>,
    next_ctx: u64,
    /// Nodes whose loop is stalled: not ticked, no Ready handled, their
    /// inbox fills up.
    paused: HashSet<u64>,
    inbox: BTreeMap<u64, Vec<(Message, Option<Tag>)>>,
    /// Messages matching any of these (on uncut links) are held back in
    /// `held`, in order, until `release` delivers them.
    hold: Vec<Hold>,
    held: Vec<(Message, Option<Tag>)>,
    /// Nodes whose loop paces its own ticks (`tick_if_due` every
    /// `substep`, on the manual clock), not by the cluster's grid of whole
    /// ticks; and the ticks they fired.
    own: BTreeSet<u64>,
    own_ticks: u64,
    substeps: u64,
}

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

fn raft_config(id: u64) -> Config {
    Config {
        id,
        election_tick: E,
        heartbeat_tick: 2,
        check_quorum: true,
        ..Default::default()
    }
}

impl Cluster {
    fn new(voters: &[u64]) -> Cluster {
        Cluster::build(voters, false)
    }

    /// The same cluster with raft-rs's pre-vote on in every node.
    fn with_pre_vote(voters: &[u64]) -> Cluster {
        Cluster::build(voters, true)
    }

    fn build(voters: &[u64], pre_vote: bool) -> Cluster {
        let clock = ManualClock::new(Instant::from_nanos(1_000_000_000).unwrap());
        let timing = Timing {
            tick: TICK,
            lease_clock: clock.info(),
            tick_drift_ppm: 0,
            margin: Duration::from_millis(1),
            machine_never_suspends: false,
        };
        let mut nodes = BTreeMap::new();
        for &id in voters {
            let cfg = Config {
                pre_vote,
                ..raft_config(id)
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
                    version: 0,
                    reads: BTreeMap::new(),
                    ready_reads: Vec::new(),
                    done_reads: BTreeMap::new(),
                },
            );
        }
        Cluster {
            nodes,
            wire: Vec::new(),
            cut: HashSet::new(),
            conf_changes: BTreeMap::new(),
            next_ctx: 1,
            paused: HashSet::new(),
            inbox: BTreeMap::new(),
            hold: Vec::new(),
            held: Vec::new(),
            own: BTreeSet::new(),
            own_ticks: 0,
            substeps: 0,
            clock,
        }
    }

    fn node(&mut self, id: u64) -> &mut Node {
        self.nodes.get_mut(&id).unwrap()
    }

    fn is_leader(&self, id: u64) -> bool {
        self.nodes[&id].raw.raft.state == StateRole::Leader
    }

    /// Handles every Ready of node `id` (persist, send, apply, read states).
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
            if !rd.snapshot().is_empty() {
                store.wl().apply_snapshot(rd.snapshot().clone()).unwrap();
            }
            store.wl().append(rd.entries()).unwrap();
            if let Some(hs) = rd.hs() {
                store.wl().set_hardstate(hs.clone());
            }
            let mut out = rd.take_messages();
            out.extend(rd.take_persisted_messages());
            let mut committed = rd.take_committed_entries();
            let read_states = rd.take_read_states();
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
            for rs in read_states {
                let mut b = [0u8; 8];
                b.copy_from_slice(&rs.request_ctx);
                let ctx = u64::from_le_bytes(b);
                if let Some(stamp) = n.reads.remove(&ctx) {
                    n.ready_reads.push((ctx, rs.index, stamp));
                }
            }
            let mut last = None;
            for e in committed {
                last = Some(e.index);
                match e.get_entry_type() {
                    EntryType::EntryNormal if e.data.len() == 8 => {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&e.data);
                        n.value = u64::from_le_bytes(b);
                        n.version = e.index;
                    }
                    EntryType::EntryConfChange => {
                        let cc = self.conf_changes[&e.context.to_vec()].clone();
                        let cs = n.raw.apply_conf_change(&cc).unwrap();
                        store.wl().set_conf_state(cs);
                    }
                    _ => {}
                }
            }
            if let Some(i) = last {
                n.raw.advance_apply_to(i);
            }
            let applied = n.raw.raft.raft_log.applied;
            let (value, version) = (n.value, n.version);
            let mut finished = Vec::new();
            n.ready_reads.retain(|&(ctx, idx, stamp)| {
                if applied >= idx {
                    finished.push((ctx, stamp));
                    false
                } else {
                    true
                }
            });
            for (ctx, stamp) in finished {
                let _: RoundOutcome = n
                    .lease
                    .finish_read_index(stamp, &Ok::<(), ReadIndexError>(()));
                n.done_reads.insert(ctx, (value, version));
            }
        }
    }

    /// Delivers everything on the wire (and what it provokes) over uncut links.
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
            let wire = std::mem::take(&mut self.wire);
            for (m, tag) in wire {
                if self.cut.contains(&(m.from, m.to)) || !self.nodes.contains_key(&m.to) {
                    continue;
                }
                if self.hold.iter().any(|h| h(&m)) {
                    self.held.push((m, tag));
                    continue;
                }
                if self.paused.contains(&m.to) {
                    self.inbox.entry(m.to).or_default().push((m, tag));
                    continue;
                }
                let to = m.to;
                let n = self.node(to);
                let _ = n.lease.step(&mut n.raw, m, tag);
            }
        }
        panic!("the cluster did not settle");
    }

    /// Delivers the held messages that `pick` selects, in the order they
    /// were sent (whatever is cut or held now), and what they provoke;
    /// returns how many.
    fn release(&mut self, pick: impl Fn(&Message) -> bool) -> usize {
        let (out, keep) = std::mem::take(&mut self.held)
            .into_iter()
            .partition::<Vec<_>, _>(|(m, _)| pick(m));
        self.held = keep;
        for (m, tag) in &out {
            let n = self.node(m.to);
            let _ = n.lease.step(&mut n.raw, m.clone(), *tag);
        }
        self.deliver_all();
        out.len()
    }

    /// One tick of every node (the clock advances one tick first).
    fn tick(&mut self) {
        self.clock.advance(TICK);
        let now = self.clock.now();
        for (id, n) in self.nodes.iter_mut() {
            if !self.paused.contains(id) && !self.own.contains(id) {
                n.lease.tick(&mut n.raw, now);
            }
        }
        self.deliver_all();
    }

    /// Half a millisecond passes: grid nodes tick on every 20th, nodes
    /// that pace their own ticks call tick_if_due (unless their loop is stalled).
    fn substep(&mut self) {
        self.clock.advance(TICK / 20);
        self.substeps += 1;
        let grid = self.substeps.is_multiple_of(20);
        let now = self.clock.now();
        for (id, n) in self.nodes.iter_mut() {
            if self.paused.contains(id) {
                continue;
            }
            if self.own.contains(id) {
                let fired = n.lease.tick_if_due(&mut n.raw, &self.clock, &self.clock);
                self.own_ticks += u64::from(fired);
            } else if grid {
                let _: bool = n.lease.tick(&mut n.raw, now);
            }
        }
        self.deliver_all();
    }

    /// raft-rs draws each timeout from [E, 2E): one of exactly E ticks
    /// would let another node campaign first while a test waits.
    fn pin_timeouts(&mut self) {
        for n in self.nodes.values_mut() {
            n.raw.raft.set_randomized_election_timeout(2 * E - 1);
        }
    }

    fn elect(&mut self, id: u64) {
        self.pin_timeouts();
        // Past the restart guard of every node.
        for _ in 0..E {
            self.tick();
        }
        self.node(id).raw.campaign().unwrap();
        self.deliver_all();
        assert!(self.is_leader(id));
        // A few heartbeat rounds: the lease is confirmed.
        for _ in 0..3 {
            self.tick();
        }
    }

    fn write(&mut self, id: u64, value: u64) {
        self.node(id)
            .raw
            .propose(vec![], value.to_le_bytes().to_vec())
            .unwrap();
        self.deliver_all();
    }

    fn conf_change(&mut self, id: u64, cc: ConfChange) {
        let ctx = format!("cc{}", self.conf_changes.len()).into_bytes();
        self.conf_changes.insert(ctx.clone(), cc.clone());
        self.node(id).raw.propose_conf_change(ctx, cc).unwrap();
        self.deliver_all();
    }

    /// A client read at node `id`: `Ok` if served under the lease, else the
    /// ReadIndex round is started and its ctx returned.
    fn read(&mut self, id: u64) -> Result<(u64, u64), u64> {
        let clock = &self.clock;
        let n = self.nodes.get_mut(&id).unwrap();
        let (value, version) = (n.value, n.version);
        match n.lease.read(clock, || (value, version)) {
            Ok(v) => Ok(v),
            Err(need) => {
                let ctx = self.next_ctx;
                self.next_ctx += 1;
                n.reads.insert(ctx, need.stamp);
                n.raw.read_index(ctx.to_le_bytes().to_vec());
                self.deliver_all();
                Err(ctx)
            }
        }
    }
}

fn remove(id: u64) -> ConfChange {
    let mut cc = ConfChange::default();
    cc.set_change_type(ConfChangeType::RemoveNode);
    cc.node_id = id;
    cc
}

// A leader that applied its own removal stays leader in raft-rs 0.7
// (`post_conf_change` returns early for a removed leader), and the driver
// is written to keep a lease from the remaining voters' acks ("outside the
// membership (it removed itself) its ack is refused and only the others
// count"). But raft-rs answers its ReadIndex rounds at once whenever the
// configuration has a single voter (`ProgressTracker::is_singleton` looks at
// the config, not at whether that voter is the leader), so with voters
// {1, 2} -> {2} the removed leader 1 confirms every ReadIndex round by
// itself, and `finish_read_index` extends the lease from it.
//
// Cut 1 from 2 just before 1's check-quorum (so 1 survives one more check).
// Node 2, the only voter, campaigns when its election timeout (and vote
// guard) runs out, wins alone, and commits a write. In the tick before 1's
// next check-quorum, a client reads at 1: the lease from 2's acks has
// expired, the ReadIndex round "succeeds" without asking 2, the lease is
// extended from it, and 1 serves lease reads of the value 2 overwrote.
//
// Invariants 8 (only voters' acks count) and 11 (only committed/confirmed
// rounds extend): the extension rests on nobody's promise.
#[test]
fn a_removed_leader_extends_its_lease_from_a_read_index_nobody_confirmed() {
    let mut c = Cluster::new(&[1, 2]);
    c.elect(1);
    c.write(1, 7);
    c.conf_change(1, remove(1));
    assert!(c.is_leader(1), "raft-rs keeps a removed leader leading");
    assert_eq!(c.nodes[&2].raw.raft.prs().conf().voters().ids().len(), 1);
    // Run until 1 is one tick before its next check-quorum, then cut.
    while c.nodes[&1].raw.raft.election_elapsed != E - 1 {
        c.tick();
    }
    c.cut.insert((1, 2));
    c.cut.insert((2, 1));
    // Node 2 times out after exactly election_tick ticks (the fastest raft-rs allows).
    c.node(2).raw.raft.set_randomized_election_timeout(E);
    let mut ticks = 0;
    while !c.is_leader(2) {
        c.tick();
        ticks += 1;
        assert!(ticks <= E + 1, "node 2 did not take over");
    }
    assert!(
        c.is_leader(1),
        "1 has not noticed yet (its check-quorum is due next tick)"
    );
    // The new leader commits a write; the client has its ack.
    c.write(2, 8);
    assert_eq!(
        c.nodes[&2].value, 8,
        "the write of 8 is committed and applied"
    );
    let t1 = c.nodes[&1].raw.raft.term;
    let t2 = c.nodes[&2].raw.raft.term;
    assert!(t2 > t1);
    // A client now reads at the old leader.
    // The lease from 2's acks (all sent before the cut) has lapsed.
    let ctx = c.read(1).expect_err("no lease from 2's old acks");
    // raft-rs released the round at once, without asking node 2: that much
    // is raft-rs's own ReadIndex problem. What must not happen is that the
    // lease now vouches for more reads.
    assert_eq!(c.nodes[&1].done_reads.get(&ctx), Some(&(7, 2)));
    let second = c.read(1);
    assert!(
        second.is_err(),
        "the removed leader serves lease reads of {second:?} after node 2 \
         (term {t2}) committed 8: its lease was extended from a ReadIndex round \
         that no voter confirmed"
    );
}

// DESIGN.md's first reason to exist: "on Linux both [CLOCK_MONOTONIC] and
// CLOCK_MONOTONIC_RAW stop while the machine is suspended, so a resumed
// leader thinks its lease is still fresh", and the simulation's control row
// "clock stops in suspend" shows the stale reads that follow. Issue 10 asks
// that `leasehold-raft` turn a misconfiguration into "a typed error at
// start-up, not a silent unsafe lease". But `lease_config` takes only the
// drift bound and resolution from `Timing::lease_clock`: a clock whose own
// `ClockInfo` says it stops in suspend (std's `Instant` on Linux and macOS,
// `FallbackClock` there, `RawClock`), or does not know (`None`), yields a
// lease without complaint. The crate's own doc example builds its lease on
// `FallbackClock`.
#[test]
fn a_lease_clock_that_stops_in_suspend_is_refused_at_start_up() {
    let raft = raft_config(1);
    for counts_suspend in [Some(false), None] {
        let timing = Timing {
            tick: TICK,
            lease_clock: leasehold_core::ClockInfo {
                name: "CLOCK_MONOTONIC",
                resolution: Duration::from_nanos(1),
                max_drift_ppm: 500,
                counts_suspend,
                slewed: Some(true),
            },
            tick_drift_ppm: 500,
            margin: Duration::from_millis(1),
            machine_never_suspends: false,
        };
        let got = leasehold_raft::lease_config(&raft, &timing).and_then(|c| {
            c.lease_duration()
                .map_err(leasehold_raft::SetupError::Lease)
        });
        assert!(
            got.is_err(),
            "counts_suspend {counts_suspend:?}: a lease of {got:?} on a clock that \
             may stop while the machine sleeps"
        );
    }
}

// After the review's fix: the node loop can tell that a removed leader's
// ReadIndex answer is unconfirmed, while a leader in its voter set's is.
#[test]
fn a_removed_leaders_read_index_is_not_confirmed() {
    let mut c = Cluster::new(&[1, 2]);
    c.elect(1);
    {
        let n = &c.nodes[&1];
        assert!(n.lease.read_index_confirmed(&n.raw));
    }
    c.conf_change(1, remove(1));
    assert!(c.is_leader(1));
    let n = &c.nodes[&1];
    assert!(!n.lease.read_index_confirmed(&n.raw));
    assert!(n.lease.membership_error().is_none());
}

// A follower's loop stalls while a heartbeat and a vote request wait in
// its socket (found by review). A loop that then fires the ticks it
// missed, after stepping the heartbeat the leader's lease rests on, counts
// time from before that heartbeat against its promise: with ten of them
// the follower votes with no time passed, the candidate wins and commits,
// and the old leader serves a stale lease read. Paced by `tick_if_due`, the
// resumed loop fires one tick and the vote is refused.
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
    // Its loop paces its own ticks; the schedule starts before the stall.
    {
        let n = c.nodes.get_mut(&2).unwrap();
        assert!(!n.lease.tick_if_due(&mut n.raw, &c.clock, &c.clock));
    }
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
    // Then its loop calls tick_if_due, whose schedule started before the stall,
    // over and over with no time passing: a burst of missed ticks would
    // open the guard; it fires one.
    let mut fired = 0;
    for _ in 0..E {
        let n = c.nodes.get_mut(&2).unwrap();
        fired += u32::from(n.lease.tick_if_due(&mut n.raw, &c.clock, &c.clock));
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
    assert_eq!(c.read(1).map(|(value, _)| value), Ok(7));
}

// Found by review: a follower's loop, paced by `tick_if_due`, wakes 9 ms late for
// a tick (a short stall, or recv_timeout returning a message after its
// deadline), steps a heartbeat that waited, and only then polls its
// ticker. A ticker that kept the cadence fired the overdue tick and the
// next one within a millisecond, so the tenth tick after the heartbeat
// (which opens the vote guard and raft-rs's in_lease) came 81 ms after it,
// inside the leader's lease from that ack: a candidate cut off from the
// leader won with that follower's vote, committed 8, and the old leader
// served 7. With every tick a whole tick after the previous one the vote is
// refused for the whole lease.
#[test]
fn a_tick_overdue_when_a_heartbeat_is_stepped_leaves_the_vote_guard_shut_for_the_lease() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    c.pin_timeouts();
    c.write(1, 7);
    c.tick();
    assert!(c.nodes.values().all(|n| n.value == 7));
    c.substeps = 0;
    // Node 3 loses node 1 (both ways). Node 2's loop is paced by its own
    // ticker, due 2 ms after each grid point.
    c.cut.insert((1, 3));
    c.cut.insert((3, 1));
    (0..4).for_each(|_| c.substep());
    {
        let n = c.nodes.get_mut(&2).unwrap();
        assert!(
            !n.lease.tick_if_due(&mut n.raw, &c.clock, &c.clock),
            "starts"
        );
    }
    c.own.insert(2);
    (0..16).for_each(|_| c.substep());
    let grid_tick = |c: &mut Cluster| (0..20).for_each(|_| c.substep());
    // A grid point after which node 1's next tick sends a heartbeat.
    while c.nodes[&1].raw.raft.heartbeat_elapsed() != 1 {
        grid_tick(&mut c);
    }
    // Node 2's loop stalls from just before its tick at G - 8 ms until
    // G + 1 ms; node 1 sends the heartbeat at G.
    c.substep();
    c.substep();
    c.paused.insert(2);
    for _ in 0..18 {
        c.substep();
    }
    let g = c.clock.now().unwrap();
    c.substep();
    c.substep();
    c.paused.remove(&2);
    // Its socket is ready first: the heartbeat is stepped and acked, and
    // node 1 extends its lease from the stamp taken at G.
    for (m, tag) in c.inbox.remove(&2).unwrap_or_default() {
        let n = c.node(2);
        let _ = n.lease.step(&mut n.raw, m, tag);
    }
    c.deliver_all();
    let expiry = c.nodes[&1].lease.lease().expiry().unwrap();
    assert!(expiry.saturating_duration_since(g) > Duration::from_millis(84));
    // From here nodes 1 and 2 hear nothing from each other (delayed).
    c.cut.insert((1, 2));
    c.cut.insert((2, 1));
    c.own_ticks = 0;
    let before_end = expiry.checked_sub(Duration::from_millis(1)).unwrap();
    while c.own_ticks < E as u64 && c.clock.now().unwrap() < before_end {
        c.substep();
    }
    // Node 3 (no leader for about 100 ms) campaigns now.
    c.node(3).raw.campaign().unwrap();
    c.deliver_all();
    assert!(
        !c.is_leader(3),
        "node 2 voted inside the lease its ack extended"
    );
    c.substep();
    assert!(c.clock.now().unwrap() < expiry);
    assert!(c.is_leader(1));
    assert_eq!(c.read(1).map(|(value, _)| value), Ok(7));
}

// With pre-vote on, raft-rs still lets a follower inside a lease forget its
// leader: a *rejected* `MsgRequestPreVoteResponse` of a higher term makes it
// `become_follower(term, INVALID_ID)` (only a granted one leaves the term
// alone), and with no leader known its `in_lease` check no longer refuses
// pre-votes or votes. The rejection can be the late answer to a pre-vote
// the follower sent before the current leader was even elected.
//
// Nodes 1 (L), 2 (F), 3 (Y), pre-vote on, term 0. F's timer fires first:
// its pre-votes for term 1 are held in the network. L pre-campaigns and
// wins term 1 with F's and Y's votes; L's messages to F are held too, so
// F knows no leader. Y accepts L's appends, and L commits 7 with Y. Then
// L and Y lose each other. Y's timer fires: F grants its pre-vote for term
// 2 (no leader known), Y campaigns at 2; before its vote request reaches
// F, L's held appends do: F is in lease and ignores it. L's heartbeats
// flow, F acks, L's lease rests on F's promise. Just before Y's timer
// fires again, F's old pre-vote request for term 1 reaches Y, which
// rejects it at term 2: F adopts term 2 with no leader, inside the lease
// its ack extended (and is cut from L from then on, so that L does not
// hear term 2). One tick later Y pre-campaigns for term 3; without the
// vote guard F grants it and the vote, Y wins and commits 8, and L, 10 ms
// after the heartbeat whose ack extended its 89 ms lease, serves 7 from
// it. The vote guard, armed by that heartbeat at F, drops the pre-vote.
//
// Invariant 15: a follower's promise must not depend on raft-rs knowing
// its leader, pre-vote or not.
#[test]
fn a_late_pre_vote_rejection_makes_a_follower_forget_its_leader_and_the_vote_guard_holds() {
    const L: u64 = 1;
    const F: u64 = 2;
    const Y: u64 = 3;
    let mut c = Cluster::with_pre_vote(&[L, F, Y]);
    let pin = |c: &mut Cluster, id: u64, t: usize| {
        c.node(id).raw.raft.set_randomized_election_timeout(t);
    };
    // Timers: F fires at tick E (past every restart guard), L one tick
    // later, Y not before it has heard of a leader.
    pin(&mut c, F, E);
    pin(&mut c, L, E + 1);
    pin(&mut c, Y, 2 * E - 1);
    // F's pre-votes are held.
    c.hold.push(Box::new(|m: &Message| {
        m.from == F && m.get_msg_type() == MessageType::MsgRequestPreVote
    }));
    for _ in 0..E {
        c.tick();
    }
    assert_eq!(c.nodes[&F].raw.raft.state, StateRole::PreCandidate);
    assert_eq!(c.held.len(), 2, "F's pre-votes to L and Y are held");
    // And L's appends and heartbeats to F.
    c.hold.push(Box::new(|m: &Message| {
        m.from == L
            && m.to == F
            && matches!(
                m.get_msg_type(),
                MessageType::MsgAppend | MessageType::MsgHeartbeat
            )
    }));
    c.tick();
    assert!(c.is_leader(L));
    let t = c.nodes[&L].raw.raft.term;
    assert_eq!(t, 1);
    assert_eq!(c.nodes[&F].raw.raft.vote, L, "F voted for L");
    assert_eq!(c.nodes[&F].raw.raft.leader_id, raft::INVALID_ID);
    assert_eq!(c.nodes[&Y].raw.raft.leader_id, L);
    // L commits 7 with Y; then L and Y lose each other.
    c.write(L, 7);
    assert_eq!((c.nodes[&L].value, c.nodes[&Y].value), (7, 7));
    assert_eq!(c.nodes[&F].value, 0);
    c.cut.insert((L, Y));
    c.cut.insert((Y, L));
    pin(&mut c, F, 2 * E - 1);
    pin(&mut c, Y, E);
    // Y's vote requests to F are held too.
    c.hold.push(Box::new(|m: &Message| {
        m.from == Y && m.get_msg_type() == MessageType::MsgRequestVote
    }));
    for _ in 0..E {
        c.tick();
    }
    // F (no leader known) granted Y's pre-vote: Y campaigns at term 2.
    assert_eq!(c.nodes[&Y].raw.raft.state, StateRole::Candidate);
    assert_eq!(c.nodes[&Y].raw.raft.term, t + 1);
    assert!(c.is_leader(L), "L passed its check-quorum on Y's acks");
    pin(&mut c, Y, E);
    // L's held messages reach F first: F follows L (in lease), then
    // ignores Y's vote request.
    c.hold.clear();
    assert!(c.release(|m| m.from == L && m.to == F) > 0);
    assert_eq!(c.nodes[&F].raw.raft.leader_id, L);
    assert_eq!(c.nodes[&F].value, 7);
    assert_eq!(c.release(|m| m.from == Y && m.to == F), 1);
    assert_eq!(c.nodes[&F].raw.raft.term, t);
    // L heartbeats F until one tick before Y's timer fires again.
    while c.nodes[&Y].raw.raft.election_elapsed < E - 1 {
        c.tick();
    }
    assert!(c.is_leader(L));
    assert_eq!(c.nodes[&Y].raw.raft.state, StateRole::Candidate);
    let now = c.clock.now().unwrap();
    assert!(
        c.nodes[&L].lease.lease().is_valid(now),
        "lease from F's acks"
    );
    // F's pre-vote for term 1 arrives at Y (term 2), rejected at term 2.
    c.cut.insert((L, F));
    c.cut.insert((F, L));
    assert_eq!(c.release(|m| m.to == Y), 1);
    let f = &c.nodes[&F].raw.raft;
    assert_eq!(
        (f.term, f.leader_id),
        (t + 1, raft::INVALID_ID),
        "F forgot L inside the lease its ack extended"
    );
    pin(&mut c, F, 2 * E - 1);
    let guarding = c.nodes[&F].lease.driver().guarding_votes();
    // Y's timer fires: it pre-campaigns for term 3. A new leader commits 8.
    c.tick();
    if c.is_leader(Y) {
        c.write(Y, 8);
    }
    let newest = c.nodes.values().max_by_key(|n| n.version).unwrap().value;
    let now = c.clock.now().unwrap();
    assert!(c.is_leader(L));
    let served = c.read(L).map(|(value, _)| value);
    assert!(
        served.is_err() || served == Ok(newest),
        "L served {served:?} from its lease while Y (term {}) committed {newest}",
        c.nodes[&Y].raw.raft.term
    );
    assert_eq!(served, Ok(7), "L's lease is still valid at {now:?}");
    assert!(!c.is_leader(Y));
    assert!(
        guarding,
        "F accepted L's heartbeat less than an election timeout ago"
    );
    // The guard dropped Y's vote request for term 2 (raft-rs's own
    // in_lease would have ignored it) and its pre-vote for term 3.
    assert_eq!(c.nodes[&F].lease.counters().votes_dropped, 2);
}

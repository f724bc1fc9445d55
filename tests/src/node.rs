//! The node loop: one raft-rs `RawNode` per node, driven through
//! `leasehold-raft` the way a real node drives it: messages stepped with
//! their tags, ticks, the Ready loop with durable storage, asynchronous
//! apply that lags commit, log compaction and snapshots, ReadIndex reads,
//! crashes and restarts from durable state.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use leasehold_core::{ClockInfo, Lease, RoundOutcome, Stamp, Tag};
use leasehold_raft::{RaftLease, ReadIndexError, Timing};
use protobuf::Message as _;
use raft::eraftpb::{ConfChangeV2, ConfState, Entry, EntryType, Message, MessageType, Snapshot};
use raft::{Config, RawNode, ReadOnlyOption, SnapshotStatus, StateRole};

use crate::check::Via;
use crate::client::Reply;
use crate::clock::SimClock;
use crate::overlap::LeaseView;
use crate::rng::Rng;
use crate::sim::{Envelope, Ev, LeaseTiming, ReadMode, Sim, SimConfig, MS};
use crate::storage::SimStorage;

/// The lease type of a simulated node.
pub type NodeLease = RaftLease<Rc<Lease>>;

/// Whether a node's process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Down {
    /// Running.
    Up,
    /// The process is stopped (SIGSTOP, a GC pause); its clock keeps counting.
    Paused,
    /// The machine is suspended; its clock stops unless it counts suspend.
    Suspended,
    /// Not running (crashed, never started, or removed).
    Crashed,
}

/// One node: durable storage that survives crashes, and everything else,
/// which does not.
pub struct SimNode {
    pub(crate) id: u64,
    pub(crate) raw: Option<RawNode<SimStorage>>,
    pub(crate) lease: Option<NodeLease>,
    pub(crate) storage: SimStorage,
    pub(crate) clock: SimClock,
    pub(crate) down: Down,
    /// Started at least once (spares start when the nemesis adds them).
    pub(crate) started: bool,
    /// Applied its own removal: gone for good.
    pub(crate) removed: bool,
    /// Events that arrived while paused or suspended.
    pub(crate) deferred: Vec<Ev>,
    /// Tick chain generation (changes on crash, restart, pause, resume).
    pub(crate) gen: u64,
    /// Process incarnation (changes on crash and restart).
    pub(crate) incarnation: u64,
    /// Identifies the current pause or suspend.
    pub(crate) pause_id: u64,
    pub(crate) rng: Rng,
    last_role: (StateRole, u64),
    // The state machine (a register) and what goes with it: volatile.
    pub(crate) value: u64,
    pub(crate) version: u64,
    applied_conf: ConfState,
    apply_queue: VecDeque<(u64, Entry)>,
    last_due: u64,
    pub(crate) slow_apply: u32,
    snapshot_every: u64,
    pub(crate) pending_writes: BTreeSet<u64>,
    pub(crate) pending_reads: BTreeMap<u64, (usize, Option<Stamp>)>,
    waiting_reads: Vec<(usize, u64, Option<Stamp>)>,
    /// For the checkers, never seen by the node: the true time of each
    /// clock reading its sends were stamped with.
    pub(crate) stamped: BTreeMap<u64, u64>,
}

pub(crate) fn encode_state(value: u64, version: u64) -> Vec<u8> {
    let mut d = value.to_le_bytes().to_vec();
    d.extend_from_slice(&version.to_le_bytes());
    d
}

fn decode_state(d: &[u8]) -> (u64, u64) {
    if d.len() != 16 {
        return (0, 0);
    }
    let v = u64::from_le_bytes(d[..8].try_into().expect("8 bytes"));
    let ver = u64::from_le_bytes(d[8..].try_into().expect("8 bytes"));
    (v, ver)
}

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

impl SimNode {
    pub(crate) fn new(
        i: usize,
        cfg: &SimConfig,
        voters: &[u64],
        now: Rc<Cell<u64>>,
        mut rng: Rng,
    ) -> SimNode {
        let max = i64::from(cfg.actual_drift_ppm);
        let ppm = match rng.range(0, 4) {
            0 => max,
            1 => -max,
            _ => rng.range(0, 2 * max as u64 + 1) as i64 - max,
        };
        let start = 1_000_000_000 + rng.range(0, 1_000_000_000_000);
        let clock = SimClock::new(
            now,
            start,
            ppm,
            cfg.configured_drift_ppm,
            cfg.clock_counts_suspend,
            cfg.reuse_last_good,
        );
        let snapshot_every = rng.range(cfg.snapshot_every.0, cfg.snapshot_every.1);
        SimNode {
            id: i as u64 + 1,
            raw: None,
            lease: None,
            storage: SimStorage::new(voters, encode_state(0, 0)),
            clock,
            down: Down::Crashed,
            started: false,
            removed: false,
            deferred: Vec::new(),
            gen: 0,
            incarnation: 0,
            pause_id: 0,
            rng,
            last_role: (StateRole::Follower, u64::MAX),
            value: 0,
            version: 0,
            applied_conf: ConfState::default(),
            apply_queue: VecDeque::new(),
            last_due: 0,
            slow_apply: 0,
            snapshot_every,
            pending_writes: BTreeSet::new(),
            pending_reads: BTreeMap::new(),
            waiting_reads: Vec::new(),
            stamped: BTreeMap::new(),
        }
    }

    /// What the overlap checker sees of this node now.
    pub(crate) fn lease_view(&self, mode: ReadMode) -> LeaseView {
        let mut v = LeaseView::default();
        let Some(raw) = self.raw.as_ref() else {
            return v;
        };
        if self.down == Down::Crashed {
            return v;
        }
        let leader = raw.raft.state == StateRole::Leader;
        if leader {
            v.leader_term = Some(raw.raft.term);
        }
        match mode {
            ReadMode::RaftLeaseBased => {
                if leader {
                    v.holds = true;
                    v.term = raw.raft.term;
                    v.until = u64::MAX;
                }
            }
            ReadMode::Leasehold => {
                let Some(lease) = self.lease.as_ref() else {
                    return v;
                };
                if let (Ok(now), Some(exp)) = (self.clock.peek(), lease.lease().expiry()) {
                    if now < exp.as_nanos() {
                        v.holds = true;
                        v.term = lease.driver().lease_term();
                        v.until = self.clock.true_time_of(exp.as_nanos()).unwrap_or(u64::MAX);
                    }
                }
            }
        }
        v
    }

    fn is_leader(&self) -> bool {
        self.raw
            .as_ref()
            .is_some_and(|r| r.raft.state == StateRole::Leader)
    }

    fn reset_volatile(&mut self) {
        self.deferred.clear();
        self.apply_queue.clear();
        self.last_due = 0;
        self.pending_writes.clear();
        self.pending_reads.clear();
        self.waiting_reads.clear();
        self.last_role = (StateRole::Follower, u64::MAX);
    }

    fn restore_snapshot(&mut self, snap: &Snapshot) {
        let (value, version) = decode_state(snap.get_data());
        self.value = value;
        self.version = version;
        self.applied_conf = snap.get_metadata().get_conf_state().clone();
        self.apply_queue.clear();
    }
}

impl Sim {
    fn raft_config(&self, id: u64, applied: u64) -> Config {
        Config {
            id,
            election_tick: self.cfg.election_ticks,
            heartbeat_tick: self.heartbeat_ticks,
            min_election_tick: self.min_election_ticks,
            max_election_tick: 2 * self.min_election_ticks,
            check_quorum: self.cfg.check_quorum,
            pre_vote: self.pre_vote,
            applied,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            read_only_option: match self.cfg.read_mode {
                ReadMode::Leasehold => ReadOnlyOption::Safe,
                ReadMode::RaftLeaseBased => ReadOnlyOption::LeaseBased,
            },
            ..Default::default()
        }
    }

    /// The lease of a node (re)starting with `raft`: derived by
    /// leasehold-raft, except where a negative control configures it wrong.
    fn new_lease(&self, raft: &Config, info: ClockInfo) -> Option<NodeLease> {
        if self.cfg.read_mode != ReadMode::Leasehold {
            return None;
        }
        let mut lease_raft = raft.clone();
        // The check-quorum control runs raft-rs without it but derives the
        // lease as if it were on (leasehold-raft refuses otherwise).
        lease_raft.check_quorum = true;
        let mut tick = self.cfg.tick;
        match self.cfg.lease_timing {
            LeaseTiming::Derived => {}
            LeaseTiming::Scaled { num, den } => tick = tick * num / den,
            LeaseTiming::FromMinElectionTick => {
                lease_raft.election_tick = self.min_election_ticks;
                lease_raft.heartbeat_tick = self.heartbeat_ticks.min(lease_raft.election_tick - 1);
            }
        }
        let timing = Timing {
            tick,
            lease_clock: info,
            tick_drift_ppm: self.cfg.configured_drift_ppm,
            margin: Duration::from_millis(2),
            // The "clock stops in suspend" control is a user who promised
            // that the machine never sleeps, and was wrong.
            machine_never_suspends: !self.cfg.clock_counts_suspend,
        };
        let lease = RaftLease::new(&lease_raft, &timing, Rc::new(Lease::new()))
            .expect("the simulated configurations are valid");
        Some(lease.with_safeguards(self.cfg.safeguards))
    }

    /// Starts node `i` from its durable state (first start or restart).
    pub(crate) fn start_node(&mut self, i: usize) {
        let snap = self.nodes[i].storage.snapshot_now();
        let applied = snap.get_metadata().index;
        let id = self.nodes[i].id;
        let cfg = self.raft_config(id, applied);
        let raw = RawNode::new(&cfg, self.nodes[i].storage.clone(), &logger())
            .expect("raft config is valid");
        let lease = self.new_lease(&cfg, self.nodes[i].clock_info());
        let node = &mut self.nodes[i];
        node.raw = Some(raw);
        node.lease = lease;
        node.down = Down::Up;
        node.started = true;
        node.incarnation += 1;
        node.gen += 1;
        node.reset_volatile();
        node.restore_snapshot(&snap);
        self.trace(format_args!("node {id} starts at applied {applied}"));
        self.after(i);
        self.schedule_tick(i);
    }

    pub(crate) fn crash(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        if n.raw.is_none() {
            return;
        }
        n.clock.resume();
        n.raw = None;
        n.lease = None;
        n.down = Down::Crashed;
        n.gen += 1;
        n.incarnation += 1;
        n.reset_volatile();
    }

    /// A node that applied its own removal is destroyed, as TiKV destroys a
    /// removed peer (raft-rs 0.7 panics if a removed leader keeps going).
    fn destroy(&mut self, i: usize) {
        let id = self.nodes[i].id;
        self.trace(format_args!("node {id} removed"));
        self.crash(i);
        self.nodes[i].removed = true;
        self.forget_links_to(i);
    }

    pub(crate) fn schedule_tick(&mut self, i: usize) {
        // The tick timer runs on the node's oscillator, at the clock's drift.
        let ppm = self.nodes[i].clock.ppm();
        let tick = self.cfg.tick.as_nanos() as i128;
        let dt = (tick * 1_000_000 / (1_000_000 + i128::from(ppm))) as u64;
        let gen = self.nodes[i].gen;
        self.push_in(dt, Ev::Tick { node: i, gen });
    }

    pub(crate) fn on_tick(&mut self, i: usize, gen: u64) {
        let node = &mut self.nodes[i];
        if node.gen != gen || node.down != Down::Up {
            return; // the chain restarts on resume or restart
        }
        let Some(raw) = node.raw.as_mut() else { return };
        match node.lease.as_mut() {
            Some(lease) => {
                let now = leasehold_core::Clock::now(&node.clock);
                lease.tick(raw, now);
            }
            None => {
                raw.tick();
            }
        }
        self.after(i);
        self.schedule_tick(i);
    }

    pub(crate) fn on_deliver(&mut self, to: usize, env: Envelope) {
        if env.msg.get_msg_type() == MessageType::MsgSnapshot {
            let ok = self.nodes[to].down != Down::Crashed;
            self.report_snapshot(env.from, env.from_gen, env.msg.to, ok);
        }
        if let Some(env) = self.through_transport(to, env) {
            self.deliver_now(to, env);
        }
    }

    /// Node `to` gets a message now (a paused one later, a crashed one never).
    pub(crate) fn deliver_now(&mut self, to: usize, env: Envelope) {
        match self.nodes[to].down {
            Down::Crashed => {}
            Down::Paused | Down::Suspended => self.nodes[to].deferred.push(Ev::Deliver { to, env }),
            Down::Up => {
                #[cfg(test)]
                self.delivered
                    .push((self.now.get(), to, env.from, env.from_gen, env.tag));
                let Envelope {
                    from,
                    msg,
                    tag,
                    sent,
                    ..
                } = env;
                let vote = matches!(
                    msg.get_msg_type(),
                    MessageType::MsgRequestVote | MessageType::MsgRequestPreVote
                );
                if vote {
                    // A vote is where a lease's premise is decided.
                    if msg.get_msg_type() == MessageType::MsgRequestVote {
                        let now = self.now.get();
                        self.premises.request(to, from, msg.term, now);
                    }
                    self.react(to, Some(from));
                }
                let leader_message = matches!(
                    msg.get_msg_type(),
                    MessageType::MsgAppend | MessageType::MsgHeartbeat | MessageType::MsgSnapshot
                );
                let (from_id, term) = (msg.from, msg.term);
                let node = &mut self.nodes[to];
                let Some(raw) = node.raw.as_mut() else { return };
                let _ = match node.lease.as_mut() {
                    Some(lease) => lease.step(raw, *msg, tag),
                    None => raw.step(*msg),
                };
                if leader_message && raw.raft.term == term && raw.raft.leader_id == from_id {
                    // raft-rs reset the follower's election timer: the
                    // promise behind an ack is at least this fresh.
                    let t = self.accepted.entry((to, from, term)).or_insert(0);
                    *t = (*t).max(sent);
                }
                self.after(to);
            }
        }
    }

    fn report_snapshot(&mut self, leader: usize, incarnation: u64, to: u64, ok: bool) {
        let n = &mut self.nodes[leader];
        if n.incarnation != incarnation || n.down != Down::Up {
            return;
        }
        let Some(raw) = n.raw.as_mut() else { return };
        let status = if ok {
            SnapshotStatus::Finish
        } else {
            SnapshotStatus::Failure
        };
        raw.report_snapshot(to, status);
        self.after(leader);
    }

    /// After any interaction with node `i`: fix raft-rs's randomized
    /// election timeout to the seed, observe, and handle every Ready.
    pub(crate) fn after(&mut self, i: usize) {
        loop {
            let min = self.min_election_ticks as u64;
            let node = &mut self.nodes[i];
            let Some(raw) = node.raw.as_mut() else { return };
            let role = (raw.raft.state, raw.raft.term);
            if role != node.last_role {
                // raft-rs draws this from thread_rng on every reset; redraw from the seed.
                let t = node.rng.range(min, 2 * min) as usize;
                raw.raft.set_randomized_election_timeout(t);
                if node.last_role.0 == StateRole::Leader {
                    // Lost leadership: raft-rs drops pending ReadIndex rounds.
                    let reads = std::mem::take(&mut node.pending_reads);
                    if let Some(lease) = node.lease.as_mut() {
                        for (_, (_, stamp)) in reads {
                            let _: RoundOutcome =
                                lease.finish_read_index(stamp, &Err(ReadIndexError::NotLeader));
                        }
                    }
                    node.waiting_reads.clear();
                }
                node.last_role = role;
                let id = node.id;
                self.trace(format_args!("node {id} is {:?} in term {}", role.0, role.1));
                if role.0 == StateRole::Candidate {
                    // A campaign is a vote for itself.
                    self.premises.vote(i, i, role.1);
                }
                self.react(i, None);
                continue;
            }
            if let Some(lease) = node.lease.as_mut() {
                lease.observe(raw);
            }
            if !raw.has_ready() {
                return;
            }
            let mut rd = raw.ready();
            let storage = node.storage.clone();
            let mut out: Vec<Message> = rd.take_messages();
            let mut snapshot = None;
            if !rd.snapshot().is_empty() {
                let snap = rd.snapshot().clone();
                storage.apply_snapshot(&snap);
                snapshot = Some(snap);
            }
            if !rd.entries().is_empty() {
                storage.append(rd.entries());
            }
            if let Some(hs) = rd.hs() {
                storage.set_hard_state(hs);
            }
            out.extend(rd.take_persisted_messages());
            let mut committed = rd.take_committed_entries();
            let read_states = rd.take_read_states();
            let mut light = raw.advance_append(rd);
            if let Some(c) = light.commit_index() {
                storage.set_commit(c);
            }
            out.extend(light.take_messages());
            committed.extend(light.take_committed_entries());
            if let Some(snap) = &snapshot {
                raw.advance_apply_to(snap.get_metadata().index);
                self.snapshots_installed += 1;
            }
            let node = &mut self.nodes[i];
            if let Some(snap) = &snapshot {
                node.restore_snapshot(snap);
            }
            for rs in read_states {
                let mut b = [0u8; 8];
                if rs.request_ctx.len() == 8 {
                    b.copy_from_slice(&rs.request_ctx);
                }
                let ctx = u64::from_le_bytes(b);
                if let Some((op, stamp)) = node.pending_reads.remove(&ctx) {
                    node.waiting_reads.push((op, rs.index, stamp));
                }
            }
            if let (Some(lease), Some(raw)) = (node.lease.as_mut(), node.raw.as_ref()) {
                lease.observe(raw);
            }
            self.enqueue_apply(i, committed);
            self.send(i, out);
            self.finish_reads(i);
        }
    }

    fn enqueue_apply(&mut self, i: usize, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        let now = self.now();
        let (p, max) = {
            let a = self.cfg.apply;
            let slow = self.nodes[i].slow_apply;
            if slow > 0 {
                (1.0, u64::from(slow) * MS)
            } else {
                (a.lag_prob, a.max_lag.as_nanos() as u64)
            }
        };
        let node = &mut self.nodes[i];
        let lag = if max > 50_000 && node.rng.chance(p) {
            node.rng.log_range(50_000, max)
        } else {
            0
        };
        let due = (now + lag).max(node.last_due);
        node.last_due = due;
        for e in entries {
            node.apply_queue.push_back((due, e));
        }
        let inc = node.incarnation;
        self.push(due, Ev::Apply { node: i, gen: inc });
    }

    pub(crate) fn on_apply(&mut self, i: usize, incarnation: u64) {
        let now = self.now();
        match self.nodes[i].down {
            Down::Crashed => return,
            Down::Paused | Down::Suspended => {
                self.nodes[i].deferred.push(Ev::Apply {
                    node: i,
                    gen: incarnation,
                });
                return;
            }
            Down::Up => {}
        }
        if self.nodes[i].incarnation != incarnation {
            return;
        }
        let mut last = None;
        while let Some(&(due, _)) = self.nodes[i].apply_queue.front() {
            if due > now {
                break;
            }
            let (_, e) = self.nodes[i].apply_queue.pop_front().expect("front");
            let index = e.index;
            if self.apply_entry(i, e) {
                self.destroy(i);
                return;
            }
            last = Some(index);
        }
        let Some(applied) = last else { return };
        let node = &mut self.nodes[i];
        let Some(raw) = node.raw.as_mut() else { return };
        raw.advance_apply_to(applied);
        if applied >= node.storage.snapshot_index() + node.snapshot_every {
            node.storage.compact(
                applied,
                node.applied_conf.clone(),
                encode_state(node.value, node.version),
            );
            let (lo, hi) = self.cfg.snapshot_every;
            node.snapshot_every = node.rng.range(lo, hi);
        }
        self.finish_reads(i);
        self.after(i);
    }

    /// Applies one committed entry; `true` if the node applied its own removal.
    fn apply_entry(&mut self, i: usize, e: Entry) -> bool {
        match e.get_entry_type() {
            EntryType::EntryNormal => {
                if e.data.len() != 16 {
                    return false; // a leader's empty entry
                }
                let op = u64::from_le_bytes(e.data[..8].try_into().expect("8"));
                let value = u64::from_le_bytes(e.data[8..].try_into().expect("8"));
                match self.committed.get(&e.index) {
                    Some(&v) if v != value => self.divergence += 1,
                    Some(_) => {}
                    None => {
                        self.committed.insert(e.index, value);
                    }
                }
                let node = &mut self.nodes[i];
                node.value = value;
                node.version = e.index;
                if node.pending_writes.remove(&op) {
                    self.reply(
                        op as usize,
                        Reply::Ok {
                            value,
                            version: e.index,
                            via: Via::None,
                        },
                    );
                }
                false
            }
            EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                self.conf_committed.insert(e.index);
                let node = &mut self.nodes[i];
                let Some(raw) = node.raw.as_mut() else {
                    return false;
                };
                let cs = if e.get_entry_type() == EntryType::EntryConfChange {
                    let mut cc = raft::eraftpb::ConfChange::default();
                    cc.merge_from_bytes(&e.data).expect("conf change");
                    raw.apply_conf_change(&cc)
                } else {
                    let mut cc = ConfChangeV2::default();
                    cc.merge_from_bytes(&e.data).expect("conf change");
                    raw.apply_conf_change(&cc)
                };
                match cs {
                    Ok(cs) => {
                        let id = node.id;
                        let gone = ![
                            &cs.voters,
                            &cs.voters_outgoing,
                            &cs.learners,
                            &cs.learners_next,
                        ]
                        .iter()
                        .any(|set| set.contains(&id));
                        node.applied_conf = cs;
                        gone
                    }
                    Err(_) => false,
                }
            }
        }
    }

    fn send(&mut self, i: usize, msgs: Vec<Message>) {
        if msgs.is_empty() {
            return;
        }
        let now_t = self.now();
        let node = &mut self.nodes[i];
        let now = leasehold_core::Clock::now(&node.clock);
        if let Ok(local) = now {
            // For the checkers: the true time behind a stamp (the earliest,
            // should a clock stand still or repeat a reading).
            // Kept for the whole run: a stamp the premise checker cannot
            // find is flagged, so none may be dropped.
            node.stamped.entry(local.as_nanos()).or_insert(now_t);
        }
        let inc = node.incarnation;
        let tags: Vec<Option<Tag>> = msgs
            .iter()
            .map(|m| node.lease.as_mut().and_then(|l| l.tag(m, now)))
            .collect();
        let mut failed_snapshots = Vec::new();
        let mut timeout_now = Vec::new();
        let mut vote_requests = Vec::new();
        for (msg, tag) in msgs.into_iter().zip(tags) {
            let to = (msg.to - 1) as usize;
            if to >= self.nodes.len() {
                continue;
            }
            let times = self.net.deliveries(&mut self.rng, i, to, now_t);
            if times.is_empty() && msg.get_msg_type() == MessageType::MsgSnapshot {
                failed_snapshots.push(msg.to);
            }
            if msg.get_msg_type() == MessageType::MsgTimeoutNow {
                timeout_now.push(to);
            }
            if matches!(
                msg.get_msg_type(),
                MessageType::MsgRequestVote | MessageType::MsgRequestPreVote
            ) {
                if let Some(&first) = times.iter().min() {
                    vote_requests.push((to, first));
                }
            }
            if msg.get_msg_type() == MessageType::MsgRequestVoteResponse && !msg.reject {
                self.trace(format_args!(
                    "node {} votes for {} in term {}",
                    i + 1,
                    to + 1,
                    msg.term
                ));
                self.premises.vote(i, to, msg.term);
            }
            for t in times {
                let env = Envelope {
                    from: i,
                    from_gen: inc,
                    msg: Box::new(msg.clone()),
                    tag,
                    sent: now_t,
                };
                self.push(t, Ev::Deliver { to, env });
            }
        }
        for (to, arrival) in vote_requests {
            self.crash_in_flight(to, arrival);
        }
        for to in failed_snapshots {
            self.report_snapshot(i, inc, to, false);
        }
        for to in timeout_now {
            self.react(i, Some(to));
        }
    }

    fn finish_reads(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let applied = node.raw.as_ref().map_or(0, |r| r.raft.raft_log.applied);
        if node.waiting_reads.is_empty() {
            return;
        }
        let leader = node.is_leader()
            && match (node.lease.as_ref(), node.raw.as_ref()) {
                (Some(l), Some(r)) => l.read_index_confirmed(r),
                _ => true,
            };
        let mut done = Vec::new();
        node.waiting_reads.retain(|&(op, idx, stamp)| {
            if applied >= idx {
                done.push((op, stamp));
                false
            } else {
                true
            }
        });
        for (op, stamp) in done {
            let node = &mut self.nodes[i];
            if !leader {
                continue;
            }
            if let Some(lease) = node.lease.as_mut() {
                let _: RoundOutcome = lease.finish_read_index(stamp, &Ok::<(), ReadIndexError>(()));
            }
            let (value, version) = (node.value, node.version);
            self.reply(
                op,
                Reply::Ok {
                    value,
                    version,
                    via: Via::Quorum,
                },
            );
        }
    }

    /// Starts a ReadIndex round on leader `i` for client op `op`.
    pub(crate) fn read_index(&mut self, i: usize, op: usize, stamp: Option<Stamp>) {
        let ctx = self.next_ctx;
        self.next_ctx += 1;
        let node = &mut self.nodes[i];
        node.pending_reads.insert(ctx, (op, stamp));
        let inc = node.incarnation;
        if let Some(raw) = node.raw.as_mut() {
            raw.read_index(ctx.to_le_bytes().to_vec());
        }
        self.push_in(
            250 * MS,
            Ev::ReadTimeout {
                node: i,
                gen: inc,
                ctx,
            },
        );
        self.after(i);
    }

    pub(crate) fn read_timeout(&mut self, i: usize, incarnation: u64, ctx: u64) {
        let node = &mut self.nodes[i];
        if node.incarnation != incarnation {
            return;
        }
        if matches!(node.down, Down::Paused | Down::Suspended) {
            node.deferred.push(Ev::ReadTimeout {
                node: i,
                gen: incarnation,
                ctx,
            });
            return;
        }
        if let Some((_, stamp)) = node.pending_reads.remove(&ctx) {
            if let Some(lease) = node.lease.as_mut() {
                let _: RoundOutcome = lease.finish_read_index(stamp, &Err(ReadIndexError::Timeout));
            }
        }
    }
}

impl SimNode {
    fn clock_info(&self) -> ClockInfo {
        leasehold_core::Clock::info(&self.clock)
    }
}

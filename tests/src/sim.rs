//! The deterministic simulation: raft-rs nodes, clients, a network and a
//! fault injector in virtual time, driven by one discrete-event queue keyed
//! by (time, sequence number). Single-threaded; every random choice comes
//! from the seed.

use std::cell::Cell;
use std::cmp::Ordering as CmpOrdering;
use std::collections::{BTreeMap, BinaryHeap};
use std::rc::Rc;
use std::time::Duration;

use leasehold_core::{Clock, RoundOutcome, Stamp};
use protobuf::Message as _;
use raft::eraftpb::{ConfChange, ConfChangeV2, Entry, EntryType, Message};
use raft::storage::MemStorage;
use raft::{Config, RawNode, ReadOnlyOption, StateRole};

use crate::check::{Kind, Op, Via};
use crate::clock::SimClock;
use crate::glue::{GlueOptions, LeaseGlue, ReadIndexError};
use crate::rng::Rng;

const MS: u64 = 1_000_000;

/// How reads are made safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// leasehold: lease reads through the glue, ReadIndex (Safe) otherwise.
    Leasehold {
        /// The lease duration in use.
        lease: Duration,
    },
    /// raft-rs's own `ReadOnlyOption::LeaseBased` ReadIndex, no clock.
    RaftLeaseBased,
}

/// A fault script, expanded when it fires (targets are picked then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// Cut the leader off from every peer, both ways.
    IsolateLeader,
    /// The leader hears nobody (one-way: it can still send).
    DeafenLeader,
    /// Suspend the leader (its clock stops iff the clock does not count suspend).
    SuspendLeader,
    /// Pause a random node's process (its clock keeps counting).
    PauseNode,
    /// Crash a random node and restart it.
    CrashRestart,
    /// Transfer leadership while nobody can reach the old leader.
    TransferDeaf,
    /// The leader's clock fails and the leader is isolated.
    ClockFailIsolate,
    /// Partition a follower B away from the leader only, restart the other
    /// follower A and isolate the leader: A may vote for B at once.
    RestartVote,
    /// Partition a follower B from the leader only, with writes paused so
    /// that B's log stays current: B campaigns inside the leader's lease.
    SplitFollower,
    /// Random message loss bursts and one-way cuts between random nodes.
    NetworkChaos,
    /// Joint consensus (once per run): add the spare node as a voter and,
    /// half of the time, remove a follower in the same step; leave the
    /// joint configuration shortly after.
    Membership,
}

/// Everything a run depends on besides the seed.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of raft nodes.
    pub nodes: usize,
    /// Raft tick.
    pub tick: Duration,
    /// raft-rs `election_tick`.
    pub election_ticks: usize,
    /// raft-rs `heartbeat_tick`.
    pub heartbeat_ticks: usize,
    /// raft-rs `check_quorum`.
    pub check_quorum: bool,
    /// raft-rs `pre_vote`.
    pub pre_vote: bool,
    /// Read path.
    pub read_mode: ReadMode,
    /// Glue switches (only the negative controls turn them off).
    pub glue: GlueOptions,
    /// Drift bound the lease was configured with (ppm).
    pub configured_drift_ppm: u32,
    /// Largest actual drift of a node's clock (ppm); each node draws in
    /// `-max..=max`, often at the extremes.
    pub actual_drift_ppm: u32,
    /// Whether clocks keep counting through a suspend.
    pub clock_counts_suspend: bool,
    /// Negative control: a failed clock read returns the last good value.
    pub reuse_last_good: bool,
    /// Fault scripts to draw from.
    pub attacks: Vec<Attack>,
    /// Virtual duration of a run.
    pub duration: Duration,
    /// Number of closed-loop clients.
    pub clients: usize,
    /// Background message loss probability.
    pub loss: f64,
    /// Background message duplication probability.
    pub dup: f64,
    /// One-way network latency range, nanoseconds.
    pub latency: (u64, u64),
}

/// What one run produced.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// Client operations.
    pub ops: Vec<Op>,
    /// True nanoseconds during which a node held a valid lease while another
    /// node was leader of a higher term.
    pub overlap_ns: u64,
    /// Hash of the processed event log.
    pub hash: u64,
    /// Number of processed events.
    pub events: u64,
    /// Nodes applying different values at the same index (must be 0).
    pub divergence: u64,
    /// Distinct membership changes committed (entering and leaving a joint
    /// configuration count separately).
    pub conf_changes: u64,
}

#[derive(Debug, Clone)]
enum Ev {
    Tick(usize, u64),
    Deliver {
        to: usize,
        msg: Message,
        tag: Option<u64>,
    },
    ClientArrive {
        node: usize,
        op: usize,
    },
    ClientReply {
        op: usize,
        ok: bool,
        value: u64,
        version: u64,
        via: Via,
    },
    ClientNext(usize),
    ClientTimeout(usize),
    Attack(Attack),
    Fault(Fault),
    ReadTimeout {
        node: usize,
        ctx: u64,
    },
}

#[derive(Debug, Clone)]
enum Fault {
    Cut(usize, usize),
    HealAll,
    Suspend(usize, u64),
    Pause(usize, u64),
    Resume(usize),
    Crash(usize),
    Restart(usize),
    Transfer(usize, usize),
    ClockFail(usize),
    ClockRecover(usize),
    ResumeWrites,
    Loss(f64),
    LeaveJoint(u32),
}

struct Queued {
    time: u64,
    seq: u64,
    ev: Ev,
}
impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> CmpOrdering {
        (o.time, o.seq).cmp(&(self.time, self.seq))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Down {
    Up,
    Paused,
    Suspended,
    Crashed,
}

struct Node {
    id: u64,
    raw: Option<RawNode<MemStorage>>,
    storage: MemStorage,
    glue: LeaseGlue,
    clock: SimClock,
    down: Down,
    deferred: Vec<Ev>,
    tick_gen: u64,
    rng: Rng,
    last_role: (StateRole, u64),
    // state machine (volatile)
    value: u64,
    version: u64,
    pending_writes: BTreeMap<u64, usize>,
    pending_reads: BTreeMap<u64, (usize, Option<Stamp>)>,
    waiting_reads: Vec<(usize, u64, Option<Stamp>)>,
}

#[derive(Debug, Clone, Copy, Default)]
struct LeaseView {
    holds: bool,
    term: u64,
    until: u64,
    leader_term: Option<u64>,
}

/// One simulation run.
pub struct Sim {
    cfg: SimConfig,
    now: Rc<Cell<u64>>,
    queue: BinaryHeap<Queued>,
    seq: u64,
    rng: Rng,
    nodes: Vec<Node>,
    cut: Vec<Vec<bool>>,
    loss: f64,
    ops: Vec<Op>,
    client_busy: Vec<Option<usize>>,
    client_hint: Vec<usize>,
    writes_paused: bool,
    next_value: u64,
    next_ctx: u64,
    committed: BTreeMap<u64, u64>,
    conf_committed: BTreeMap<u64, ()>,
    divergence: u64,
    hash: u64,
    events: u64,
    overlap: u64,
    view: Vec<LeaseView>,
    last_t: u64,
    lease: Duration,
    members: Vec<u64>,
}

fn fnv(h: &mut u64, v: u64) {
    for b in v.to_le_bytes() {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x100_0000_01b3);
    }
}

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

impl Sim {
    /// A fresh cluster for `seed`.
    pub fn new(cfg: SimConfig, seed: u64) -> Sim {
        let mut rng = Rng::new(seed);
        let now = Rc::new(Cell::new(0));
        let n = cfg.nodes;
        let lease = match cfg.read_mode {
            ReadMode::Leasehold { lease } => lease,
            ReadMode::RaftLeaseBased => Duration::ZERO,
        };
        let members: Vec<u64> = (1..=n as u64).collect();
        let mut nodes = Vec::new();
        // one spare id per run for membership changes
        for id in 1..=(n as u64 + 1) {
            let mut nrng = rng.fork(id);
            let max = i64::from(cfg.actual_drift_ppm);
            let ppm = match nrng.range(0, 4) {
                0 => max,
                1 => -max,
                _ => nrng.range(0, 2 * max as u64 + 1) as i64 - max,
            };
            let start = 1_000_000_000 + nrng.range(0, 1_000_000_000_000);
            let clock = SimClock::new(
                now.clone(),
                start,
                ppm,
                cfg.configured_drift_ppm,
                cfg.clock_counts_suspend,
                cfg.reuse_last_good,
            );
            let storage = MemStorage::new_with_conf_state((members.clone(), vec![]));
            let spare = id > n as u64;
            nodes.push(Node {
                id,
                raw: None,
                storage: if spare { MemStorage::new() } else { storage },
                glue: LeaseGlue::new(id, lease, cfg.glue),
                clock,
                down: if spare { Down::Crashed } else { Down::Up },
                deferred: Vec::new(),
                tick_gen: 0,
                rng: nrng,
                last_role: (StateRole::Follower, 0),
                value: 0,
                version: 0,
                pending_writes: BTreeMap::new(),
                pending_reads: BTreeMap::new(),
                waiting_reads: Vec::new(),
            });
        }
        let total = nodes.len();
        let clients = cfg.clients;
        let mut sim = Sim {
            loss: cfg.loss,
            cfg,
            now,
            queue: BinaryHeap::new(),
            seq: 0,
            rng,
            nodes,
            cut: vec![vec![false; total]; total],
            ops: Vec::new(),
            client_busy: vec![None; clients],
            client_hint: vec![0; clients],
            writes_paused: false,
            next_value: 1,
            next_ctx: 1,
            committed: BTreeMap::new(),
            conf_committed: BTreeMap::new(),
            divergence: 0,
            hash: 0xcbf2_9ce4_8422_2325,
            events: 0,
            overlap: 0,
            view: vec![LeaseView::default(); total],
            last_t: 0,
            lease,
            members,
        };
        for i in 0..n {
            sim.start_node(i, false);
        }
        for c in 0..clients {
            let t = sim.rng.range(50 * MS, 100 * MS);
            sim.push(t, Ev::ClientNext(c));
        }
        // fault scripts, one after another
        if !sim.cfg.attacks.is_empty() {
            let end = sim.cfg.duration.as_nanos() as u64;
            let mut t = 500 * MS + sim.rng.range(0, 200 * MS);
            while t + 500 * MS < end {
                let a = sim.cfg.attacks[sim.rng.pick(sim.cfg.attacks.len())];
                sim.push(t, Ev::Attack(a));
                t += 500 * MS + sim.rng.range(0, 300 * MS);
            }
        }
        sim
    }

    fn raft_config(&self, id: u64, applied: u64) -> Config {
        Config {
            id,
            election_tick: self.cfg.election_ticks,
            heartbeat_tick: self.cfg.heartbeat_ticks,
            check_quorum: self.cfg.check_quorum,
            pre_vote: self.cfg.pre_vote,
            applied,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            read_only_option: match self.cfg.read_mode {
                ReadMode::Leasehold { .. } => ReadOnlyOption::Safe,
                ReadMode::RaftLeaseBased => ReadOnlyOption::LeaseBased,
            },
            ..Default::default()
        }
    }

    fn start_node(&mut self, i: usize, restarted: bool) {
        let id = self.nodes[i].id;
        let cfg = self.raft_config(id, 0);
        let raw = RawNode::new(&cfg, self.nodes[i].storage.clone(), &logger())
            .expect("raft config is valid");
        let node = &mut self.nodes[i];
        node.raw = Some(raw);
        node.glue = if restarted {
            LeaseGlue::restarted(id, self.lease, self.cfg.election_ticks, self.cfg.glue)
        } else {
            LeaseGlue::new(id, self.lease, self.cfg.glue)
        };
        node.down = Down::Up;
        node.deferred.clear();
        node.value = 0;
        node.version = 0;
        node.pending_writes.clear();
        node.pending_reads.clear();
        node.waiting_reads.clear();
        node.last_role = (StateRole::Follower, u64::MAX);
        node.tick_gen += 1;
        self.after(i);
        self.schedule_tick(i);
    }

    fn schedule_tick(&mut self, i: usize) {
        let ppm = self.nodes[i].clock.ppm();
        let tick = self.cfg.tick.as_nanos() as i128;
        let dt = (tick * 1_000_000 / (1_000_000 + i128::from(ppm))) as u64;
        let g = self.nodes[i].tick_gen;
        let t = self.now() + dt;
        self.push(t, Ev::Tick(i, g));
    }

    fn now(&self) -> u64 {
        self.now.get()
    }

    fn push(&mut self, time: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Queued {
            time,
            seq: self.seq,
            ev,
        });
    }

    /// Runs to the end and returns what the checkers need.
    pub fn run(mut self) -> RunResult {
        let end = self.cfg.duration.as_nanos() as u64;
        while let Some(q) = self.queue.pop() {
            if q.time > end {
                break;
            }
            self.account(q.time);
            self.now.set(q.time);
            self.events += 1;
            fnv(&mut self.hash, q.time);
            fnv(&mut self.hash, q.seq);
            self.handle(q.ev);
            self.refresh_view();
        }
        self.account(end);
        // ops still in flight never completed
        RunResult {
            ops: self.ops,
            overlap_ns: self.overlap,
            hash: self.hash,
            events: self.events,
            divergence: self.divergence,
            conf_changes: self.conf_committed.len() as u64,
        }
    }

    // ---------------------------------------------------------------- overlap

    fn account(&mut self, t: u64) {
        let from = self.last_t;
        if t <= from {
            return;
        }
        let mut best = from;
        for (i, v) in self.view.iter().enumerate() {
            if !v.holds {
                continue;
            }
            let higher = self
                .view
                .iter()
                .enumerate()
                .any(|(j, w)| j != i && w.leader_term.is_some_and(|lt| lt > v.term));
            if higher {
                best = best.max(v.until.min(t));
            }
        }
        self.overlap += best - from;
        self.last_t = t;
    }

    fn refresh_view(&mut self) {
        for i in 0..self.nodes.len() {
            let node = &self.nodes[i];
            let mut v = LeaseView::default();
            if let (Some(raw), false) = (&node.raw, node.down == Down::Crashed) {
                if raw.raft.state == StateRole::Leader {
                    v.leader_term = Some(raw.raft.term);
                }
                match self.cfg.read_mode {
                    ReadMode::RaftLeaseBased => {
                        if raw.raft.state == StateRole::Leader {
                            v.holds = true;
                            v.term = raw.raft.term;
                            v.until = u64::MAX;
                        }
                    }
                    ReadMode::Leasehold { .. } => {
                        if let (Ok(now), Some(exp)) =
                            (node.clock.peek(), node.glue.lease().expiry())
                        {
                            if now < exp.as_nanos() {
                                v.holds = true;
                                v.term = node.glue.term();
                                v.until =
                                    node.clock.true_time_of(exp.as_nanos()).unwrap_or(u64::MAX);
                            }
                        }
                    }
                }
            }
            self.view[i] = v;
        }
    }

    // ---------------------------------------------------------------- events

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Tick(i, g) => {
                fnv(&mut self.hash, 1);
                if self.nodes[i].tick_gen != g || self.nodes[i].down == Down::Crashed {
                    return;
                }
                if self.nodes[i].down != Down::Up {
                    return; // the tick chain restarts on resume
                }
                if let Some(raw) = self.nodes[i].raw.as_mut() {
                    raw.tick();
                }
                self.nodes[i].glue.on_tick();
                self.after(i);
                self.schedule_tick(i);
            }
            Ev::Deliver { to, msg, tag } => {
                fnv(&mut self.hash, 2);
                fnv(&mut self.hash, to as u64);
                fnv(&mut self.hash, msg.get_msg_type() as u64);
                fnv(&mut self.hash, msg.term);
                fnv(&mut self.hash, msg.index);
                match self.nodes[to].down {
                    Down::Crashed => {}
                    Down::Paused | Down::Suspended => {
                        self.nodes[to].deferred.push(Ev::Deliver { to, msg, tag })
                    }
                    Down::Up => {
                        let node = &mut self.nodes[to];
                        let Some(raw) = node.raw.as_mut() else { return };
                        if !node.glue.accept_incoming(&msg, tag) {
                            return;
                        }
                        let _ = raw.step(msg);
                        self.after(to);
                    }
                }
            }
            Ev::ClientArrive { node, op } => {
                fnv(&mut self.hash, 3);
                match self.nodes[node].down {
                    Down::Crashed => {}
                    Down::Paused | Down::Suspended => self.nodes[node]
                        .deferred
                        .push(Ev::ClientArrive { node, op }),
                    Down::Up => self.client_request(node, op),
                }
            }
            Ev::ClientReply {
                op,
                ok,
                value,
                version,
                via,
            } => {
                fnv(&mut self.hash, 4);
                fnv(&mut self.hash, value);
                let c = self.ops[op].client;
                if self.client_busy[c] != Some(op) {
                    return; // late: the client gave up already
                }
                self.client_busy[c] = None;
                let t = self.now();
                let o = &mut self.ops[op];
                if ok {
                    o.complete = Some(t);
                    o.value = value;
                    o.version = version;
                    o.via = via;
                } else {
                    o.refused = true;
                    // a refusal carries the refusing node's idea of the leader
                    self.client_hint[c] = match value as usize {
                        id if id >= 1 && id <= self.nodes.len() => id - 1,
                        _ => self.random_member(),
                    };
                }
                let think = self.rng.range(MS, 5 * MS);
                self.push(t + think, Ev::ClientNext(c));
            }
            Ev::ClientTimeout(op) => {
                fnv(&mut self.hash, 5);
                let c = self.ops[op].client;
                if self.client_busy[c] == Some(op) {
                    self.client_busy[c] = None;
                    self.client_hint[c] = self.random_member();
                    let t = self.now() + self.rng.range(MS, 5 * MS);
                    self.push(t, Ev::ClientNext(c));
                }
            }
            Ev::ClientNext(c) => {
                fnv(&mut self.hash, 6);
                self.client_issue(c);
            }
            Ev::Attack(a) => {
                fnv(&mut self.hash, 7);
                self.attack(a);
            }
            Ev::Fault(f) => {
                fnv(&mut self.hash, 8);
                self.fault(f);
            }
            Ev::ReadTimeout { node, ctx } => {
                let n = &mut self.nodes[node];
                if let Some((_, stamp)) = n.pending_reads.remove(&ctx) {
                    let _ = n
                        .glue
                        .finish_read_index(stamp, &Err(ReadIndexError::Timeout));
                }
            }
        }
    }

    // ---------------------------------------------------------------- clients

    fn client_issue(&mut self, c: usize) {
        if self.client_busy[c].is_some() {
            return;
        }
        let write = !self.writes_paused && self.rng.chance(0.35);
        let node = if self.rng.chance(0.7) {
            self.client_hint[c]
        } else {
            self.random_member()
        };
        let value = if write {
            self.next_value += 1;
            self.next_value
        } else {
            0
        };
        let op = self.ops.len();
        self.ops.push(Op {
            client: c,
            kind: if write { Kind::Write } else { Kind::Read },
            invoke: self.now(),
            complete: None,
            value,
            version: 0,
            via: Via::None,
            refused: false,
        });
        self.client_busy[c] = Some(op);
        self.client_hint[c] = node;
        let t = self.now() + self.rng.range(MS / 10, MS / 2);
        self.push(t, Ev::ClientArrive { node, op });
        let t = self.now() + 150 * MS;
        self.push(t, Ev::ClientTimeout(op));
    }

    fn reply(&mut self, op: usize, ok: bool, value: u64, version: u64, via: Via) {
        let t = self.now() + self.rng.range(MS / 10, MS / 2);
        self.push(
            t,
            Ev::ClientReply {
                op,
                ok,
                value,
                version,
                via,
            },
        );
    }

    fn client_request(&mut self, i: usize, op: usize) {
        let (is_leader, hint) = self.nodes[i].raw.as_ref().map_or((false, 0), |r| {
            (r.raft.state == StateRole::Leader, r.raft.leader_id)
        });
        if !is_leader {
            self.reply(op, false, hint, 0, Via::None);
            return;
        }
        match self.ops[op].kind {
            Kind::Write => {
                let mut data = Vec::with_capacity(16);
                data.extend_from_slice(&(op as u64).to_le_bytes());
                data.extend_from_slice(&self.ops[op].value.to_le_bytes());
                let node = &mut self.nodes[i];
                let raw = node.raw.as_mut().expect("leader is up");
                if raw.propose(vec![], data).is_ok() {
                    node.pending_writes.insert(op as u64, op);
                    self.after(i);
                } else {
                    self.reply(op, false, 0, 0, Via::None);
                }
            }
            Kind::Read => {
                let node = &mut self.nodes[i];
                let stamp = match self.cfg.read_mode {
                    ReadMode::RaftLeaseBased => None,
                    ReadMode::Leasehold { .. } => {
                        let raw = node.raw.as_ref().expect("leader is up");
                        let (value, version) = (node.value, node.version);
                        match node.glue.read_local(raw, &node.clock, || (value, version)) {
                            Ok((v, ver)) => {
                                self.reply(op, true, v, ver, Via::Lease);
                                return;
                            }
                            Err(need) => need.stamp,
                        }
                    }
                };
                let ctx = self.next_ctx;
                self.next_ctx += 1;
                let node = &mut self.nodes[i];
                node.pending_reads.insert(ctx, (op, stamp));
                node.raw
                    .as_mut()
                    .expect("leader is up")
                    .read_index(ctx.to_le_bytes().to_vec());
                let t = self.now() + 250 * MS;
                self.push(t, Ev::ReadTimeout { node: i, ctx });
                self.after(i);
            }
        }
    }

    // ---------------------------------------------------------------- raft

    /// After any interaction with node `i`: fix raft-rs's randomized election
    /// timeout to the seed, observe, handle every Ready.
    fn after(&mut self, i: usize) {
        loop {
            let node = &mut self.nodes[i];
            let Some(raw) = node.raw.as_mut() else { return };
            let role = (raw.raft.state, raw.raft.term);
            if role != node.last_role {
                // raft-rs draws this from thread_rng on every reset; redraw from the seed.
                let et = self.cfg.election_ticks as u64;
                let t = node.rng.range(et, 2 * et) as usize;
                raw.raft.set_randomized_election_timeout(t);
                if node.last_role.0 == StateRole::Leader {
                    // lost leadership: drop pending reads (raft-rs drops them too)
                    let reads = std::mem::take(&mut node.pending_reads);
                    for (_, (_, stamp)) in reads {
                        let _ = node
                            .glue
                            .finish_read_index(stamp, &Err(ReadIndexError::NotLeader));
                    }
                    node.waiting_reads.clear();
                }
                node.last_role = role;
            }
            node.glue.observe(raw);
            if !raw.has_ready() {
                return;
            }
            let mut rd = raw.ready();
            let mut out: Vec<Message> = rd.take_messages();
            let committed = rd.take_committed_entries();
            let storage = node.storage.clone();
            if !rd.entries().is_empty() {
                storage.wl().append(rd.entries()).expect("append");
            }
            if let Some(hs) = rd.hs() {
                storage.wl().set_hardstate(hs.clone());
            }
            out.extend(rd.take_persisted_messages());
            let read_states = rd.take_read_states();
            if self.apply(i, committed) {
                self.destroy(i);
                return;
            }
            let node = &mut self.nodes[i];
            let raw = node.raw.as_mut().expect("up");
            let mut light = raw.advance(rd);
            if let Some(c) = light.commit_index() {
                storage.wl().mut_hard_state().set_commit(c);
            }
            out.extend(light.take_messages());
            let committed = light.take_committed_entries();
            if self.apply(i, committed) {
                self.destroy(i);
                return;
            }
            let node = &mut self.nodes[i];
            let raw = node.raw.as_mut().expect("up");
            raw.advance_apply();
            node.glue.observe(raw);
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
            self.finish_reads(i);
            self.send(i, out);
        }
    }

    fn finish_reads(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let applied = node.raw.as_ref().map_or(0, |r| r.raft.raft_log.applied);
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
            let leader = node
                .raw
                .as_ref()
                .is_some_and(|r| r.raft.state == StateRole::Leader);
            if !leader {
                continue;
            }
            if let ReadMode::Leasehold { .. } = self.cfg.read_mode {
                let _: RoundOutcome = node.glue.finish_read_index(stamp, &Ok(()));
            }
            let (v, ver) = (node.value, node.version);
            self.reply(op, true, v, ver, Via::Quorum);
        }
    }

    /// A node that applied its own removal is destroyed, as TiKV destroys a
    /// removed peer (raft-rs 0.7 panics if a removed leader keeps going).
    fn destroy(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.raw = None;
        n.down = Down::Crashed;
        n.deferred.clear();
        n.tick_gen += 1;
        let id = n.id;
        self.members.retain(|&m| m != id);
    }

    /// Applies committed entries; `true` if the node applied its own removal.
    fn apply(&mut self, i: usize, entries: Vec<Entry>) -> bool {
        let mut removed = false;
        for e in entries {
            match e.get_entry_type() {
                EntryType::EntryNormal => {
                    if e.data.len() == 16 {
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
                        if node.pending_writes.remove(&op).is_some() {
                            let idx = e.index;
                            self.reply(op as usize, true, value, idx, Via::None);
                            self.ops[op as usize].version = idx;
                        }
                    }
                }
                EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                    self.conf_committed.insert(e.index, ());
                    let node = &mut self.nodes[i];
                    let raw = node.raw.as_mut().expect("up");
                    let cs = if e.get_entry_type() == EntryType::EntryConfChange {
                        let mut cc = ConfChange::default();
                        cc.merge_from_bytes(&e.data).expect("conf change");
                        raw.apply_conf_change(&cc)
                    } else {
                        let mut cc = ConfChangeV2::default();
                        cc.merge_from_bytes(&e.data).expect("conf change");
                        raw.apply_conf_change(&cc)
                    };
                    if let Ok(cs) = cs {
                        let id = node.id;
                        removed = ![&cs.voters, &cs.voters_outgoing, &cs.learners]
                            .iter()
                            .any(|set| set.contains(&id));
                        node.storage.wl().set_conf_state(cs);
                        if removed {
                            return true;
                        }
                    }
                }
            }
        }
        removed
    }

    fn send(&mut self, i: usize, msgs: Vec<Message>) {
        if msgs.is_empty() {
            return;
        }
        let node = &mut self.nodes[i];
        let now = node.clock.now();
        let tags = node.glue.tag_outgoing(&msgs, now);
        for (msg, tag) in msgs.into_iter().zip(tags) {
            let to = (msg.to - 1) as usize;
            if to >= self.nodes.len() || self.cut[i][to] {
                continue;
            }
            if self.rng.chance(self.loss) {
                continue;
            }
            let copies = if self.rng.chance(self.cfg.dup) { 2 } else { 1 };
            for _ in 0..copies {
                let lat = self.rng.range(self.cfg.latency.0, self.cfg.latency.1);
                let t = self.now() + lat;
                self.push(
                    t,
                    Ev::Deliver {
                        to,
                        msg: msg.clone(),
                        tag,
                    },
                );
            }
        }
    }

    // ---------------------------------------------------------------- faults

    fn leader(&self) -> Option<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.down == Down::Up)
            .filter_map(|(i, n)| n.raw.as_ref().map(|r| (i, r)))
            .filter(|(_, r)| r.raft.state == StateRole::Leader)
            .max_by_key(|(_, r)| r.raft.term)
            .map(|(i, _)| i)
    }

    fn random_member(&mut self) -> usize {
        let k = self.rng.pick(self.members.len());
        (self.members[k] - 1) as usize
    }

    fn member_indices(&self) -> Vec<usize> {
        self.members.iter().map(|&id| (id - 1) as usize).collect()
    }

    fn at(&mut self, dt: u64, f: Fault) {
        let t = self.now() + dt;
        self.push(t, Ev::Fault(f));
    }

    fn isolate(&mut self, l: usize, both: bool) {
        for j in 0..self.nodes.len() {
            if j != l {
                self.cut[j][l] = true;
                if both {
                    self.cut[l][j] = true;
                }
            }
        }
    }

    fn attack(&mut self, a: Attack) {
        let Some(l) = self.leader() else { return };
        if std::env::var_os("SIM_TRACE").is_some() {
            eprintln!(
                "{:>8.1}ms attack {a:?} on leader {}",
                self.now() as f64 / 1e6,
                l + 1
            );
        }
        let members = self.member_indices();
        let others: Vec<usize> = members.iter().copied().filter(|&j| j != l).collect();
        let dur = self.rng.range(200 * MS, 450 * MS);
        match a {
            Attack::IsolateLeader => {
                self.isolate(l, true);
                self.at(dur, Fault::HealAll);
            }
            Attack::DeafenLeader => {
                self.isolate(l, false);
                self.at(dur, Fault::HealAll);
            }
            Attack::SuspendLeader => {
                self.fault(Fault::Suspend(l, dur));
            }
            Attack::PauseNode => {
                let j = if self.rng.chance(0.5) {
                    l
                } else {
                    members[self.rng.pick(members.len())]
                };
                let d = self.rng.range(20 * MS, 300 * MS);
                self.fault(Fault::Pause(j, d));
            }
            Attack::CrashRestart => {
                let j = members[self.rng.pick(members.len())];
                self.fault(Fault::Crash(j));
                let d = self.rng.range(MS, 200 * MS);
                self.at(d, Fault::Restart(j));
            }
            Attack::TransferDeaf => {
                let to = others[self.rng.pick(others.len())];
                self.isolate(l, false);
                self.fault(Fault::Transfer(l, to));
                self.at(dur, Fault::HealAll);
            }
            Attack::ClockFailIsolate => {
                self.fault(Fault::ClockFail(l));
                self.isolate(l, true);
                self.at(dur, Fault::HealAll);
                self.at(dur, Fault::ClockRecover(l));
            }
            Attack::RestartVote | Attack::SplitFollower => {
                // Writes pause so that B's log stays as current as A's.
                self.writes_paused = true;
                let b = others[self.rng.pick(others.len())];
                let a_nodes: Vec<usize> = others.iter().copied().filter(|&j| j != b).collect();
                self.cut[l][b] = true;
                self.cut[b][l] = true;
                // B times out and campaigns every 10..20 ticks; A refuses
                // while it hears from the leader.
                let wait = self.rng.range(150 * MS, 400 * MS);
                if a == Attack::RestartVote {
                    // Right after a heartbeat round, A restarts and the leader
                    // is cut off: the leader's lease still runs.
                    for &x in &a_nodes {
                        self.at(wait, Fault::Crash(x));
                        self.at(wait + MS / 2, Fault::Restart(x));
                        self.at(wait, Fault::Cut(l, x));
                        self.at(wait, Fault::Cut(x, l));
                    }
                }
                self.at(wait + 30 * MS, Fault::ResumeWrites);
                self.at(wait + 400 * MS, Fault::HealAll);
            }
            Attack::NetworkChaos => {
                let n = members.len();
                for _ in 0..self.rng.range(1, 4) {
                    let x = members[self.rng.pick(n)];
                    let y = members[self.rng.pick(n)];
                    if x != y {
                        self.cut[x][y] = true;
                    }
                }
                self.loss = self.rng.range(5, 30) as f64 / 100.0;
                self.at(dur, Fault::Loss(self.cfg.loss));
                self.at(dur, Fault::HealAll);
            }
            Attack::Membership => {
                let spare = self.nodes.len() - 1;
                if self.nodes[spare].raw.is_some() || self.members.len() != self.cfg.nodes {
                    return; // once per run
                }
                let remove = if self.rng.chance(0.5) {
                    Some(others[self.rng.pick(others.len())])
                } else {
                    None
                };
                self.join_spare(l, spare, remove);
            }
        }
    }

    /// Starts the spare node with the cluster's initial configuration (its
    /// log then replays every change) and proposes a joint change that adds
    /// it, and removes `remove` if given.
    fn join_spare(&mut self, l: usize, spare: usize, remove: Option<usize>) {
        use raft::eraftpb::{ConfChangeSingle, ConfChangeTransition, ConfChangeType};
        let spare_id = self.nodes[spare].id;
        let mut changes = Vec::new();
        let mut add = ConfChangeSingle::default();
        add.set_change_type(ConfChangeType::AddNode);
        add.node_id = spare_id;
        changes.push(add);
        if let Some(r) = remove {
            let mut rm = ConfChangeSingle::default();
            rm.set_change_type(ConfChangeType::RemoveNode);
            rm.node_id = self.nodes[r].id;
            changes.push(rm);
        }
        let mut cc = ConfChangeV2::default();
        cc.set_transition(ConfChangeTransition::Explicit);
        cc.set_changes(changes.into());
        let Some(raw) = self.nodes[l].raw.as_mut() else {
            return;
        };
        if raw.propose_conf_change(vec![], cc).is_err() {
            return;
        }
        self.after(l);
        let initial: Vec<u64> = (1..=self.cfg.nodes as u64).collect();
        self.nodes[spare].storage = MemStorage::new_with_conf_state((initial, vec![]));
        self.start_node(spare, false);
        self.members.push(spare_id);
        if let Some(r) = remove {
            let id = self.nodes[r].id;
            self.members.retain(|&m| m != id);
        }
        let dt = self.rng.range(50 * MS, 150 * MS);
        self.at(dt, Fault::LeaveJoint(10));
    }

    fn fault(&mut self, f: Fault) {
        match f {
            Fault::Cut(a, b) => self.cut[a][b] = true,
            Fault::HealAll => {
                for row in &mut self.cut {
                    row.fill(false);
                }
            }
            Fault::Suspend(i, d) => {
                if self.nodes[i].down != Down::Up {
                    return;
                }
                self.nodes[i].down = Down::Suspended;
                self.nodes[i].clock.suspend();
                self.at(d, Fault::Resume(i));
            }
            Fault::Pause(i, d) => {
                if self.nodes[i].down != Down::Up {
                    return;
                }
                self.nodes[i].down = Down::Paused;
                self.at(d, Fault::Resume(i));
            }
            Fault::Resume(i) => {
                let n = &mut self.nodes[i];
                if n.down != Down::Paused && n.down != Down::Suspended {
                    return;
                }
                n.clock.resume();
                n.down = Down::Up;
                n.tick_gen += 1;
                let deferred = std::mem::take(&mut n.deferred);
                // A resumed process finds its queues in an arbitrary order.
                let mut evs: Vec<(u64, Ev)> = deferred
                    .into_iter()
                    .map(|e| (self.rng.next_u64(), e))
                    .collect();
                evs.sort_by_key(|e| e.0);
                let base = self.now();
                for (k, (_, e)) in evs.into_iter().enumerate() {
                    self.push(base + 1 + k as u64 * 1_000, e);
                }
                self.schedule_tick(i);
            }
            Fault::Crash(i) => {
                let n = &mut self.nodes[i];
                if n.down == Down::Crashed || n.raw.is_none() {
                    return;
                }
                n.clock.resume();
                n.down = Down::Crashed;
                n.raw = None;
                n.deferred.clear();
                n.tick_gen += 1;
            }
            Fault::Restart(i) => {
                if self.nodes[i].down == Down::Crashed && self.members.contains(&self.nodes[i].id) {
                    self.start_node(i, true);
                }
            }
            Fault::Transfer(l, to) => {
                let to_id = self.nodes[to].id;
                let n = &mut self.nodes[l];
                if n.down != Down::Up {
                    return;
                }
                let Some(raw) = n.raw.as_mut() else { return };
                if raw.raft.state != StateRole::Leader {
                    return;
                }
                n.glue.on_transfer_requested();
                raw.transfer_leader(to_id);
                self.after(l);
            }
            Fault::ClockFail(i) => self.nodes[i].clock.fail(),
            Fault::ClockRecover(i) => self.nodes[i].clock.recover(),
            Fault::ResumeWrites => self.writes_paused = false,
            Fault::Loss(p) => self.loss = p,
            Fault::LeaveJoint(tries) => {
                let joint = |r: &RawNode<MemStorage>| {
                    !r.raft
                        .prs()
                        .conf()
                        .to_conf_state()
                        .voters_outgoing
                        .is_empty()
                };
                let done = match self.leader() {
                    Some(l) => {
                        let raw = self.nodes[l].raw.as_mut().expect("leader is up");
                        if joint(raw) && !raw.raft.has_pending_conf() {
                            let ok = raw
                                .propose_conf_change(vec![], ConfChangeV2::default())
                                .is_ok();
                            self.after(l);
                            ok
                        } else {
                            false
                        }
                    }
                    None => false,
                };
                if !done && tries > 0 {
                    self.at(50 * MS, Fault::LeaveJoint(tries - 1));
                }
            }
        }
    }
}

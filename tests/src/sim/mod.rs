//! The deterministic simulation's core: configuration, the discrete-event
//! queue keyed by (time, sequence number), and the dispatch of events to the
//! parts that handle them: the node loop (`node.rs`), the clients
//! (`client.rs`), the nemesis (`nemesis.rs`) and the overlap checker
//! (`overlap.rs`). Single-threaded; every random choice comes from the seed.

use std::cell::Cell;
use std::cmp::Ordering as CmpOrdering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::rc::Rc;
use std::time::Duration;

use leasehold_core::{Safeguards, Tag};
use raft::eraftpb::Message;

use crate::check::Op;
use crate::client::Client;
use crate::nemesis::{Fault, NemesisConfig};
use crate::network::{NetConfig, Network};
use crate::node::{Down, SimNode};
use crate::overlap::Overlap;
use crate::premise::{Ack, Premises};
use crate::rng::Rng;

pub(crate) const MS: u64 = 1_000_000;

/// How reads are made safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// leasehold: lease reads through `leasehold-raft`, ReadIndex (Safe)
    /// otherwise.
    Leasehold,
    /// raft-rs's own `ReadOnlyOption::LeaseBased` ReadIndex, no clock.
    RaftLeaseBased,
}

/// How the lease duration is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseTiming {
    /// Derived by `leasehold-raft` from the raft config the node runs with.
    Derived,
    /// Derived with a tick `num / den` times too long: a lease that long.
    Scaled {
        /// Numerator.
        num: u32,
        /// Denominator.
        den: u32,
    },
    /// Derived from `min_election_tick` as if it were the vote refusal.
    FromMinElectionTick,
}

/// A value fixed for a row, or drawn per seed from a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick<T: 'static> {
    /// Always this.
    Fixed(T),
    /// One of these, per seed.
    Any(&'static [T]),
}

impl<T: Copy> Pick<T> {
    pub(crate) fn draw(&self, rng: &mut Rng) -> T {
        match *self {
            Pick::Fixed(v) => v,
            Pick::Any(list) => list[rng.pick(list.len())],
        }
    }
}

/// Asynchronous apply: how far the state machine lags the commit index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApplyConfig {
    /// Probability that a batch of committed entries waits before it is
    /// applied (otherwise it is applied as soon as the node loop can).
    pub lag_prob: f64,
    /// The longest wait, log-uniform from 50 us.
    pub max_lag: Duration,
}

/// Everything a run depends on besides the seed.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Voters of the initial cluster.
    pub nodes: usize,
    /// Extra nodes the nemesis may add (as learners, then voters).
    pub spares: usize,
    /// Raft tick.
    pub tick: Duration,
    /// raft-rs `election_tick`.
    pub election_ticks: usize,
    /// raft-rs `heartbeat_tick`, drawn per seed.
    pub heartbeat_ticks: Pick<usize>,
    /// raft-rs `min_election_tick` (0: `election_tick`); `max` is twice it.
    pub min_election_ticks: Pick<usize>,
    /// raft-rs `check_quorum`.
    pub check_quorum: bool,
    /// raft-rs `pre_vote`.
    pub pre_vote: Pick<bool>,
    /// Read path.
    pub read_mode: ReadMode,
    /// Lease duration.
    pub lease_timing: LeaseTiming,
    /// Safety checks (only negative controls switch one off).
    pub safeguards: Safeguards,
    /// Drift bound the lease is configured with (ppm), for the lease clock
    /// and the tick timers.
    pub configured_drift_ppm: u32,
    /// Largest actual drift of a node's clock and ticks (ppm).
    pub actual_drift_ppm: u32,
    /// Whether clocks keep counting through a suspend.
    pub clock_counts_suspend: bool,
    /// Negative control: a failed clock read returns the last good value.
    pub reuse_last_good: bool,
    /// The network.
    pub net: NetConfig,
    /// The fault schedule.
    pub nemesis: NemesisConfig,
    /// Asynchronous apply.
    pub apply: ApplyConfig,
    /// A node compacts its log after this many applied entries (drawn per
    /// node and snapshot in the range).
    pub snapshot_every: (u64, u64),
    /// Virtual duration of a run.
    pub duration: Duration,
    /// Number of closed-loop clients.
    pub clients: usize,
    /// Share of client operations that are writes, drawn per seed.
    /// Lease reads exist for read-heavy workloads, and they are also the
    /// hostile ones: with few writes a node cut off from the leader keeps an
    /// up-to-date log, so elections can succeed while a lease may be live.
    pub write_ratio: Pick<u32>,
    /// Share of the time (percent, drawn per seed) the workload writes
    /// nothing at all: it alternates read-only spells with writing spells
    /// of random lengths, as bursty real workloads do.
    pub read_only_share: Pick<u32>,
}

/// What one run produced.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// Client operations.
    pub ops: Vec<Op>,
    /// True nanoseconds during which a node held a valid lease while another
    /// node led a higher term.
    pub overlap_ns: u64,
    /// Hash of the processed event log.
    pub hash: u64,
    /// Number of processed events.
    pub events: u64,
    /// Nodes applying different values at the same index (must be 0).
    pub divergence: u64,
    /// Distinct membership changes committed.
    pub conf_changes: u64,
    /// Faults the nemesis injected.
    pub faults: u64,
    /// Snapshots installed by followers (catching up after compaction).
    pub snapshots_installed: u64,
    /// Votes granted (or campaigns started) inside a lease the voter's ack
    /// extended: broken lease premises.
    pub broken_promises: u64,
    /// Vote requests that reached a voter bound by a promise.
    pub promise_tests: u64,
    /// The raft configuration drawn for this seed: pre-vote, min election ticks.
    pub raft_variant: (bool, usize),
}

/// One message on its way: the raft message, its sender (and the sender's
/// incarnation), the lease tag sent beside it, and, for the checkers only,
/// the true time it was sent.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub(crate) from: usize,
    pub(crate) from_gen: u64,
    // Boxed: a raft message is ten times the size of every other event.
    pub(crate) msg: Box<Message>,
    pub(crate) tag: Option<Tag>,
    pub(crate) sent: u64,
}

#[derive(Debug, Clone)]
pub(crate) enum Ev {
    Tick {
        node: usize,
        gen: u64,
    },
    Deliver {
        to: usize,
        env: Envelope,
    },
    Apply {
        node: usize,
        gen: u64,
    },
    ClientArrive {
        node: usize,
        op: usize,
    },
    ClientReply {
        op: usize,
        reply: crate::client::Reply,
    },
    ClientNext(usize),
    ClientTimeout(usize),
    ReadTimeout {
        node: usize,
        gen: u64,
        ctx: u64,
    },
    Fault(Fault),
    Nemesis,
    NemesisBurst {
        focus: (usize, usize),
    },
    EpisodeStep,
    Spell,
    /// A connection attempt of the reconnecting transport.
    Reconnect {
        from: usize,
        to: usize,
        gen: u64,
    },
    /// The next message of a reconnected link's queue.
    Drain {
        from: usize,
        to: usize,
        gen: u64,
    },
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

/// One simulation run.
pub struct Sim {
    pub(crate) cfg: SimConfig,
    /// The fault mix of this seed.
    pub(crate) nemesis: NemesisConfig,
    pub(crate) now: Rc<Cell<u64>>,
    queue: BinaryHeap<Queued>,
    seq: u64,
    pub(crate) rng: Rng,
    /// The reconnecting transport (see `NetConfig::keep_for_down`).
    pub(crate) transport: crate::transport::Transport,
    /// Every message handed to a running node: (time, to, from, sender's
    /// incarnation, tag).
    #[cfg(test)]
    pub(crate) delivered: Vec<(u64, usize, usize, u64, Option<Tag>)>,
    pub(crate) nodes: Vec<SimNode>,
    pub(crate) net: Network,
    pub(crate) ops: Vec<Op>,
    pub(crate) clients: Vec<Client>,
    pub(crate) next_value: u64,
    pub(crate) next_ctx: u64,
    /// Index to value of every applied normal entry (divergence check).
    pub(crate) committed: BTreeMap<u64, u64>,
    pub(crate) conf_committed: BTreeSet<u64>,
    pub(crate) divergence: u64,
    pub(crate) snapshots_installed: u64,
    pub(crate) faults: u64,
    /// Quiet periods under way (clients only read while any is).
    pub(crate) quiet: u32,
    /// Write share of this seed, percent.
    pub(crate) write_pct: u32,
    /// Read-only share of this seed's time, percent.
    pub(crate) read_only_pct: u32,
    /// Whether the workload is in a read-only spell.
    pub(crate) read_only: bool,
    /// No reactive fault before this time.
    pub(crate) react_after: u64,
    /// The two nodes a burst of faults is aimed at, while it injects one.
    pub(crate) focus: Option<(usize, usize)>,
    /// The fault episode under way (episode mode).
    pub(crate) episode: Option<crate::nemesis::Episode>,
    pub(crate) pre_vote: bool,
    pub(crate) min_election_ticks: usize,
    pub(crate) heartbeat_ticks: usize,
    hash: u64,
    events: u64,
    overlap: Overlap,
    pub(crate) premises: Premises,
    /// The newest leader message each follower accepted from each leader in
    /// each term (raft-rs reset its election timer): (follower, leader,
    /// term) -> true send time.
    pub(crate) accepted: BTreeMap<(usize, usize, u64), u64>,
    /// Each node's lease expiry and generation after the last event.
    last_lease: Vec<(Option<u64>, u64)>,
    pub(crate) trace: bool,
}

pub(crate) fn fnv(h: &mut u64, v: u64) {
    for b in v.to_le_bytes() {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x100_0000_01b3);
    }
}

impl Sim {
    /// A fresh cluster for `seed`.
    pub fn new(cfg: SimConfig, seed: u64) -> Sim {
        let mut rng = Rng::new(seed);
        let transport = crate::transport::Transport::new(seed, cfg.net.keep_for_down);
        let now = Rc::new(Cell::new(0));
        let pre_vote = cfg.pre_vote.draw(&mut rng);
        let nemesis = cfg.nemesis.for_seed(&mut rng);
        let write_pct = cfg.write_ratio.draw(&mut rng);
        let read_only_pct = cfg.read_only_share.draw(&mut rng);
        let min_election_ticks = match cfg.min_election_ticks.draw(&mut rng) {
            0 => cfg.election_ticks,
            n => n.max(cfg.election_ticks),
        };
        let heartbeat_ticks = cfg
            .heartbeat_ticks
            .draw(&mut rng)
            .min(cfg.election_ticks - 1);
        let total = cfg.nodes + cfg.spares;
        let voters: Vec<u64> = (1..=cfg.nodes as u64).collect();
        let nodes = (0..total)
            .map(|i| SimNode::new(i, &cfg, &voters, now.clone(), rng.fork(i as u64 + 1)))
            .collect();
        let clients = (0..cfg.clients).map(|_| Client::default()).collect();
        let mut sim = Sim {
            nemesis,
            net: Network::new(cfg.net, total),
            cfg,
            now,
            queue: BinaryHeap::new(),
            seq: 0,
            rng,
            transport,
            #[cfg(test)]
            delivered: Vec::new(),
            nodes,
            ops: Vec::new(),
            clients,
            next_value: 1,
            next_ctx: 1,
            committed: BTreeMap::new(),
            conf_committed: BTreeSet::new(),
            divergence: 0,
            snapshots_installed: 0,
            faults: 0,
            quiet: 0,
            write_pct,
            read_only_pct,
            read_only: false,
            react_after: 0,
            focus: None,
            episode: None,
            pre_vote,
            min_election_ticks,
            heartbeat_ticks,
            hash: 0xcbf2_9ce4_8422_2325,
            events: 0,
            overlap: Overlap::new(total),
            premises: Premises::default(),
            accepted: BTreeMap::new(),
            last_lease: vec![(None, 0); total],
            trace: std::env::var_os("SIM_TRACE").is_some(),
        };
        sim.trace(format_args!(
            "transport: {}",
            if sim.transport.enabled {
                "reconnecting (queues what a crashed node misses)"
            } else {
                "drops what a crashed node misses"
            }
        ));
        for i in 0..sim.cfg.nodes {
            sim.start_node(i);
        }
        for c in 0..sim.cfg.clients {
            let t = sim.rng.range(50 * MS, 100 * MS);
            sim.push(t, Ev::ClientNext(c));
        }
        sim.schedule_nemesis(300 * MS);
        sim.push(0, Ev::Spell);
        sim
    }

    pub(crate) fn now(&self) -> u64 {
        self.now.get()
    }

    pub(crate) fn push(&mut self, time: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Queued {
            time,
            seq: self.seq,
            ev,
        });
    }

    pub(crate) fn push_in(&mut self, dt: u64, ev: Ev) {
        let t = self.now() + dt;
        self.push(t, ev);
    }

    pub(crate) fn trace(&self, what: std::fmt::Arguments<'_>) {
        if self.trace {
            eprintln!("{:>9.3}ms {what}", self.now() as f64 / 1e6);
        }
    }

    /// Runs to the end and returns what the checkers need.
    pub fn run(mut self) -> RunResult {
        let end = self.cfg.duration.as_nanos() as u64;
        while let Some(q) = self.queue.pop() {
            if q.time > end {
                break;
            }
            self.overlap.account(q.time);
            self.now.set(q.time);
            self.events += 1;
            fnv(&mut self.hash, q.time);
            fnv(&mut self.hash, q.seq);
            self.handle(q.ev);
            self.refresh_overlap();
        }
        self.overlap.account(end);
        RunResult {
            ops: self.ops,
            overlap_ns: self.overlap.total_ns(),
            hash: self.hash,
            events: self.events,
            divergence: self.divergence,
            conf_changes: self.conf_committed.len() as u64,
            faults: self.faults,
            snapshots_installed: self.snapshots_installed,
            broken_promises: self.premises.violations(),
            promise_tests: self.premises.opportunities(),
            raft_variant: (self.pre_vote, self.min_election_ticks),
        }
    }

    fn refresh_overlap(&mut self) {
        let now = self.now();
        for i in 0..self.nodes.len() {
            let view = self.nodes[i].lease_view(self.cfg.read_mode);
            self.overlap.set(i, view);
            let node = &self.nodes[i];
            let Some(lease) = node.lease.as_ref() else {
                if self.last_lease[i].0.is_some() {
                    self.premises.ended(i, now);
                    self.last_lease[i] = (None, 0);
                }
                continue;
            };
            let cur = (
                lease.lease().expiry().map(|e| e.as_nanos()),
                lease.lease().generation(),
            );
            let prev = self.last_lease[i];
            if cur == prev {
                continue;
            }
            if cur.1 != prev.1 || cur.0.is_none() {
                self.premises.ended(i, now);
            }
            if let Some(exp) = cur.0 {
                if cur.0 > prev.0 || cur.1 != prev.1 {
                    // Extended: from the tracker's quorum, if its stamp plus
                    // the lease is the new expiry (a ReadIndex round extends
                    // from a quorum the tracker did not see).
                    let d = lease.driver();
                    let t = d.tracker();
                    if let Some(q) = t.quorum_stamp() {
                        let from_tracker = q
                            .instant()
                            .checked_add(d.lease_duration())
                            .is_some_and(|e| e.as_nanos() == exp);
                        let until = node.clock.true_time_of(exp).unwrap_or(u64::MAX);
                        // An expiry that has passed already is a late ack
                        // that makes no lease: nothing rests on it.
                        if from_tracker && until > now {
                            let term = d.lease_term();
                            let voters: Vec<usize> = (0..self.nodes.len())
                                .filter(|&j| {
                                    t.ack(self.nodes[j].id)
                                        .is_some_and(|a| a.instant() >= q.instant())
                                })
                                .collect();
                            self.premises.extended(i, term, &voters, until);
                            let acks: Vec<Ack> = voters
                                .iter()
                                .filter(|&&j| j != i)
                                .filter_map(|&j| {
                                    let stamp = t.ack(self.nodes[j].id)?.instant().as_nanos();
                                    Some(Ack {
                                        voter: j,
                                        sent: node.stamped.get(&stamp).copied(),
                                        accepted: self.accepted.get(&(j, i, term)).copied(),
                                    })
                                })
                                .collect();
                            if self.premises.check_acks(i, term, &acks, until) > 0 {
                                self.trace(format_args!(
                                    "broken lease premise: node {} extended term {term} to {until} on acks {acks:?}",
                                    i + 1
                                ));
                            }
                            if let Some(raw) = node.raw.as_ref() {
                                let cs = raw.raft.prs().conf().to_conf_state();
                                let ids: Vec<u64> =
                                    voters.iter().map(|&j| self.nodes[j].id).collect();
                                self.premises
                                    .check_quorum(&ids, &[&cs.voters, &cs.voters_outgoing]);
                            }
                        }
                    }
                }
            }
            self.last_lease[i] = cur;
        }
        if self.premises.settle(now) > 0 {
            self.trace(format_args!(
                "broken lease premise (a vote or campaign inside a promise)"
            ));
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Tick { node, gen } => {
                fnv(&mut self.hash, 1);
                self.on_tick(node, gen);
            }
            Ev::Deliver { to, env } => {
                fnv(&mut self.hash, 2);
                fnv(&mut self.hash, to as u64);
                fnv(&mut self.hash, env.msg.get_msg_type() as u64);
                fnv(&mut self.hash, env.msg.term);
                fnv(&mut self.hash, env.msg.index);
                self.on_deliver(to, env);
            }
            Ev::Apply { node, gen } => {
                fnv(&mut self.hash, 3);
                self.on_apply(node, gen);
            }
            Ev::ClientArrive { node, op } => {
                fnv(&mut self.hash, 4);
                match self.nodes[node].down {
                    Down::Crashed => {}
                    Down::Paused | Down::Suspended => self.nodes[node]
                        .deferred
                        .push(Ev::ClientArrive { node, op }),
                    Down::Up => self.client_request(node, op),
                }
            }
            Ev::ClientReply { op, reply } => {
                fnv(&mut self.hash, 5);
                self.client_reply(op, reply);
            }
            Ev::ClientTimeout(op) => {
                fnv(&mut self.hash, 6);
                self.client_timeout(op);
            }
            Ev::ClientNext(c) => {
                fnv(&mut self.hash, 7);
                self.client_issue(c);
            }
            Ev::ReadTimeout { node, gen, ctx } => {
                fnv(&mut self.hash, 8);
                self.read_timeout(node, gen, ctx);
            }
            Ev::Fault(f) => {
                fnv(&mut self.hash, 9);
                self.fault(f);
            }
            Ev::Nemesis => {
                fnv(&mut self.hash, 10);
                self.nemesis_step();
            }
            Ev::NemesisBurst { focus } => {
                fnv(&mut self.hash, 11);
                self.burst_step(focus);
            }
            Ev::EpisodeStep => {
                fnv(&mut self.hash, 12);
                self.episode_step();
            }
            Ev::Spell => {
                fnv(&mut self.hash, 13);
                self.next_spell();
            }
            Ev::Reconnect { from, to, gen } => {
                fnv(&mut self.hash, 14);
                self.on_reconnect(from, to, gen);
            }
            Ev::Drain { from, to, gen } => {
                fnv(&mut self.hash, 15);
                self.on_drain(from, to, gen);
            }
        }
    }

    /// Indices of the nodes in the configuration the cluster last committed
    /// (as the highest-term live leader sees it; otherwise every live node).
    pub(crate) fn members(&self) -> Vec<usize> {
        if let Some(l) = self.leader() {
            if let Some(raw) = self.nodes[l].raw.as_ref() {
                let cs = raw.raft.prs().conf().to_conf_state();
                let mut ids: Vec<u64> = cs
                    .voters
                    .iter()
                    .chain(&cs.voters_outgoing)
                    .chain(&cs.learners)
                    .chain(&cs.learners_next)
                    .copied()
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                return ids.into_iter().map(|id| (id - 1) as usize).collect();
            }
        }
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].raw.is_some() || self.nodes[i].down != Down::Crashed)
            .filter(|&i| self.nodes[i].started && !self.nodes[i].removed)
            .collect()
    }

    /// The live leader of the highest term, if any.
    pub(crate) fn leader(&self) -> Option<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.down == Down::Up)
            .filter_map(|(i, n)| n.raw.as_ref().map(|r| (i, r)))
            .filter(|(_, r)| r.raft.state == raft::StateRole::Leader)
            .max_by_key(|(_, r)| r.raft.term)
            .map(|(i, _)| i)
    }
}

#[cfg(test)]
mod reconnect;
#[cfg(test)]
mod scripted;
